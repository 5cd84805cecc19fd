#!/usr/bin/env bash
# Builds what is needed and runs the main job: a node with a built-in broker serving Plugins/.
set -euo pipefail
cd "$(dirname "$0")/.."
ZEROTASK_SKIP_PYTHON=1 scripts/install-deps.sh
if [ -x Plugins/build.sh ]; then Plugins/build.sh; fi
# One job more than cores: SwiftPM starts ready modules by name, so argument-parser (ready from the
# start) otherwise waits until every ZeroTask module is built and then holds up the executable
# (BENCHMARKS.md, "Build time": 186 s against 193 s on 2 cores).
swift build -c release --product zerotask --jobs $(($(nproc) + 1))
exec .build/release/zerotask node --broker builtin --plugins Plugins "$@"
