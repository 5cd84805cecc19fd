#!/usr/bin/env bash
# The sandbox's cost, side by side in one run: two release nodes with built-in brokers serving
# the example plugins, one with the sandbox on (the default profile: memory cgroup, Landlock,
# seccomp, RLIMIT_CPU per task, subreaper sweep), one with node.sandbox: false. Interleaved
# rounds of `zerotask bench` (math.add, 1 and 200 in flight) against each, then worker start to
# ready, from `zerotask nodes --json`, after killing workers (children of each node, by PID).
#   bench/sandbox.sh [ROUNDS] [TASKS_AT_1] [TASKS_AT_200] [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} one=${2:-3000} many=${3:-40000} kills=${4:-20}
Plugins/build.sh >/dev/null
swift build -c release --product zerotask >/dev/null
z=.build/release/zerotask
declare -A req pid
start() {  # start NAME PORT SANDBOX
  req[$1]=tcp://127.0.0.1:$2
  ZEROTASK_NODE_SANDBOX=$3 $z node --broker builtin --workers 2 --request "${req[$1]}" \
    --publish tcp://127.0.0.1:$(($2 + 1)) --store memory --log-level warning 2>/tmp/zt-sandbox-bench-$1.log &
  pid[$1]=$!
}
start on 7855 true
start off 7865 false
trap 'kill -TERM ${pid[on]} ${pid[off]} 2>/dev/null; wait 2>/dev/null || true' EXIT
for n in on off; do
  for _ in $(seq 50); do $z methods --broker "${req[$n]}" >/dev/null 2>&1 && break; sleep 0.2; done
done
rate() { $z bench --broker "${req[$1]}" --tasks "$2" --inflight "$3" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs_per_second"])'; }
echo "round  sandbox  1-in-flight jobs/s  200-in-flight jobs/s"
for r in $(seq "$rounds"); do
  for n in on off; do
    printf "%5s  %7s  %18s  %20s\n" "$r" "$n" "$(rate $n "$one" 1)" "$(rate $n "$many" 200)"
  done
done
for n in on off; do
  for _ in $(seq "$kills"); do
    w=$(pgrep -P "${pid[$n]}" | head -1 || true)
    [ -n "$w" ] && kill -KILL "$w"
    sleep 0.3
  done
done
sleep 5.5   # nodes report their timings every 5 s
for n in on off; do
  $z nodes --broker "${req[$n]}" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["status"]
print("sandbox %s: worker start to ready p50 %s ms, max %s ms, %s starts" % (sys.argv[1], s["worker_start_p50_ms"], s["worker_start_max_ms"], s["worker_starts"]))' "$n"
done
