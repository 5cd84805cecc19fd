#!/usr/bin/env bash
# Hot path A/B: `zerotask bench --tasks N --inflight K` against `zerotask node --broker builtin`
# (memory store, 2 workers, Plugins/), for two zerotask binaries in interleaved rounds, so load
# from elsewhere on the machine hits both alike. Prints one JSON line per run and the medians.
#
#   bench/hotpath-ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [TASKS] [INFLIGHT]
#
# Loopback only, on ports from ZT_AB_PORT (default 47610) up, a fresh pair per run; every process
# it starts is stopped by PID; each run is bounded by `timeout`; a run that failed counts as null.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 rounds=${3:-3} tasks=${4:-20000} inflight=${5:-200}
port=${ZT_AB_PORT:-47610}
node_pid=
cleanup() { [[ -n $node_pid ]] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null; node_pid=; }
trap cleanup EXIT
run() {  # BINARY LABEL PORT
  local bin=$1 label=$2 port=$3
  "$bin" node --broker builtin --store memory --workers 2 --plugins Plugins \
    --request "tcp://127.0.0.1:$port" --publish "tcp://127.0.0.1:$((port + 1))" >/dev/null 2>&1 &
  node_pid=$!
  sleep 2
  local out
  out=$(timeout 300 "$bin" bench --broker "tcp://127.0.0.1:$port" --tasks "$tasks" --inflight "$inflight" --json || true)
  cleanup
  echo "{\"binary\":\"$label\",\"run\":${out:-null}}"
}
results=()
for ((r = 0; r < rounds; r++)); do
  results+=("$(run "$old" old $((port + 4 * r)))")
  echo "${results[-1]}"
  results+=("$(run "$new" new $((port + 4 * r + 2)))")
  echo "${results[-1]}"
done
printf '%s\n' "${results[@]}" | python3 -c '
import json, sys, statistics
rows = [json.loads(l) for l in sys.stdin if l.strip()]
for label in ("old", "new"):
    runs = [r["run"] for r in rows if r["binary"] == label and isinstance(r["run"], dict)]
    if not runs: continue
    rate = statistics.median(r["jobs_per_second"] for r in runs)
    p50 = statistics.median(r["latency_ms"]["p50"] for r in runs)
    p99 = statistics.median(r["latency_ms"]["p99"] for r in runs)
    print(f"{label}: median of {len(runs)} runs: {rate:.0f} jobs/s, p50 {p50:.3f} ms, p99 {p99:.3f} ms")
'
