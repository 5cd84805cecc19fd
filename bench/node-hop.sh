#!/usr/bin/env bash
# Measures what a node adds per task (the hop to a worker process and back) and how long it takes
# to replace a killed worker. Runs a release node with a built-in broker on loopback, drives it
# with `zerotask bench`, kills workers (children of that node, by PID), and reads the node's own
# timings from `zerotask nodes --json`.
#   bench/node-hop.sh [TASKS] [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=${1:-5000}
kills=${2:-20}
Plugins/build.sh >/dev/null
swift build -c release --product zerotask >/dev/null
z=.build/release/zerotask
req=tcp://127.0.0.1:7655 pub=tcp://127.0.0.1:7656
$z node --broker builtin --workers 2 --request $req --publish $pub --log-level warning 2>/tmp/zt-node-hop.log &
node=$!
trap 'kill -TERM $node 2>/dev/null; wait $node 2>/dev/null || true' EXIT
for _ in $(seq 50); do $z methods --broker $req >/dev/null 2>&1 && break; sleep 0.2; done

echo "== one task in flight, $tasks tasks of math.add"
$z bench --broker $req --tasks "$tasks" --inflight 1
sleep 5.5   # the node reports its timings every 5 s
$z nodes --broker $req --json | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["status"]
print("node: dispatch to result p50 %s us, p99 %s us over the last 1024 tasks" % (s["task_p50_us"], s["task_p99_us"]))'

echo "== replacing killed workers ($kills kills, one every 0.3 s)"
for _ in $(seq "$kills"); do
  w=$(pgrep -P "$node" | head -1 || true)
  [ -n "$w" ] && kill -KILL "$w"
  sleep 0.3
done
sleep 5.5
$z nodes --broker $req --json | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["status"]
print("node: worker start to ready p50 %s ms, max %s ms, %s starts" % (s["worker_start_p50_ms"], s["worker_start_max_ms"], s["worker_starts"]))'
