#!/usr/bin/env bash
# Builds what is needed and runs the main job: a node with a built-in broker serving Plugins/.
set -euo pipefail
cd "$(dirname "$0")/.."
ZEROTASK_SKIP_PYTHON=1 scripts/install-deps.sh
if [ -x Plugins/build.sh ]; then Plugins/build.sh; fi
swift build -c release --product zerotask
exec .build/release/zerotask node --broker builtin --plugins Plugins "$@"
