#!/usr/bin/env bash
# Worker start with and without the pids cgroup, side by side in one run: two nodes with
# built-in brokers serve the nodetest fixture (plugin-level `processes: 16`, so every worker
# gets a pids cgroup), one with ZEROTASK_TEST_SANDBOX_OFF=pids (the rest of the sandbox on in
# both). Workers are killed alternately on each node (children of each node, by PID), then the
# nodes' worker start to ready p50 and max are read from `zerotask nodes --json`.
#   bench/pids-start.sh [KILLS_PER_NODE] [ZEROTASK_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-200}
z=${2:-.build/release/zerotask}
[ -x "$z" ] || swift build -c release --product zerotask >/dev/null
plugins=$(mktemp -d /tmp/zt-pids-bench-XXXXXX)
cc -shared -fPIC -O1 -I Plugins/include -o "$plugins/nodetest.so" Tests/ZeroTaskNodeTests/Fixtures/nodetest.c
cp Tests/ZeroTaskNodeTests/Fixtures/nodetest.json "$plugins/"
declare -A req pid
start() {  # start NAME PORT OFF
  req[$1]=tcp://127.0.0.1:$2
  ZEROTASK_TEST_SANDBOX_OFF=$3 $z node --broker builtin --workers 2 --plugins "$plugins" --request "${req[$1]}" \
    --publish tcp://127.0.0.1:$(($2 + 1)) --store memory --log-level warning 2>/tmp/zt-pids-bench-$1.log &
  pid[$1]=$!
}
start on 7875 none
start off 7885 pids
trap 'kill -TERM ${pid[on]} ${pid[off]} 2>/dev/null; wait 2>/dev/null || true; rm -rf "$plugins"' EXIT
for n in on off; do
  for _ in $(seq 100); do $z methods --broker "${req[$n]}" 2>/dev/null | grep -q nt.add && break; sleep 0.2; done
done
for _ in $(seq "$kills"); do
  for n in on off; do
    w=$(pgrep -P "${pid[$n]}" | head -1 || true)
    [ -n "$w" ] && kill -KILL "$w"
  done
  sleep 0.15
done
sleep 6   # nodes report their timings every 5 s
for n in on off; do
  $z nodes --broker "${req[$n]}" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["status"]
print("pids cgroup %s: worker start to ready p50 %s ms, max %s ms, %s starts" % (sys.argv[1], s["worker_start_p50_ms"], s["worker_start_max_ms"], s["worker_starts"]))' "$n"
done
