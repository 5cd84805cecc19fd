#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the plugins, then `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -x Plugins/build.sh ]; then Plugins/build.sh; fi
swift build --build-tests
swift test --skip-build "$@"
