#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the plugins, then `swift test`
# (Swift Testing suites over real sockets, processes and compiled plugins, and a Python peer).
# Extra arguments go to `swift test`, e.g. scripts/test.sh --filter ZeroTaskNodeTests
set -euo pipefail
cd "$(dirname "$0")/.."
ZEROTASK_TEST_DEPS=1 scripts/install-deps.sh
Plugins/build.sh
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build "$@" 2>&1 | tee "$log" || status=$?
# One plain summary line at the end, whatever the runners printed before it.
summary=$(grep -E "Test run with [0-9]+ tests?" "$log" | tail -1 || true)
if [ -n "$summary" ]; then
  total=$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$summary")
  failed=$(grep -E "✘ Test .* failed after" "$log" | grep -vc "✘ Test run with" || true)
  echo "tests: $((total - failed)) passed, $failed failed"
fi
exit "$status"
