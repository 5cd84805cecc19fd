#!/usr/bin/env bash
# How soon a dead broker's tasks run again (issue 16's goal: within broker_timeout + 2 s).
#
#   bench/pg-failover.sh [ZEROTASK_BINARY] [TASKS] [BROKER_TIMEOUT]
#
# A throwaway cluster (bench/pg-cluster.sh). Broker A with its node runs TASKS `math.sleep`
# tasks of 30 s; then broker B with its own node starts on the same database, and A and its node
# are SIGKILLed together (a machine lost). Each task must start again on B's node: the time from
# the kill to its second start (`started`, read from B) is what is measured (the SIGKILL test in
# SharedQueueTests checks the results). Prints one JSON line. Loopback only; every process it starts is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/zerotask} tasks=${2:-20} timeout_s=${3:-10}
source bench/pg-cluster.sh
start_pg zt-pgfail
psql -c "CREATE DATABASE zt"
store="postgres://zerotask@127.0.0.1:$pgport/zt"
pa=$(free_port) pb=$(free_port)
broker() {  # NAME PORT: a broker and a node of its own with a worker per task
  "$bin" broker --request "tcp://127.0.0.1:$2" --publish "tcp://127.0.0.1:$(($2 + 1))" --http off --store "$store" \
    --broker-id "$1" --broker-timeout "$timeout_s" >"$dir/broker-$1.log" 2>&1 &
  pids+=($!)
  "$bin" node --broker "tcp://127.0.0.1:$2" --workers "$tasks" --plugins Plugins --http off --node-id "node-$1" \
    >"$dir/node-$1.log" 2>&1 &
  pids+=($!)
}
cli() { "$bin" "$1" --broker "tcp://127.0.0.1:$2" --client-id failover-bench "${@:3}"; }
broker a "$pa"
broker_a=${pids[0]} node_a=${pids[1]}
sleep 2
ids=()
for i in $(seq "$tasks"); do ids+=("$(cli submit "$pa" math.sleep 30000)"); done
running() {  # PORT: how many of the tasks are running, as that broker reads them
  local n=0
  for id in "${ids[@]}"; do cli status "$1" --json "$id" 2>/dev/null | grep -q '"state":"running"' && n=$((n + 1)); done
  echo $n
}
for _ in $(seq 60); do (($(running "$pa") == tasks)) && break; sleep 0.5; done
broker b "$pb"
sleep 2
killed=$(date +%s.%N)
kill -KILL "$node_a" "$broker_a"
{ wait "$node_a" "$broker_a"; } 2>/dev/null || true
pids=("${pids[@]:2}")
# Poll B until every task has started again (attempt 2) or a minute has passed.
deadline=$(($(date +%s) + 60))
declare -A restarted=()
while ((${#restarted[@]} < tasks && $(date +%s) < deadline)); do
  for id in "${ids[@]}"; do
    [[ -n ${restarted[$id]:-} ]] && continue
    info=$(cli status "$pb" --json "$id" 2>/dev/null || true)
    if grep -q '"attempts":2' <<<"$info" && grep -q '"state":"running"' <<<"$info"; then
      restarted[$id]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["started"])' "$info")
    fi
  done
  sleep 0.2
done
python3 - "$killed" "$timeout_s" "$tasks" "${restarted[@]}" <<'PY'
import json, statistics, sys
killed, timeout_s, tasks = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
after = sorted(float(s) - killed for s in sys.argv[4:])
print(json.dumps({"broker_timeout_s": timeout_s, "tasks": tasks, "ran_again": len(after),
    "seconds_from_kill_to_second_start": {"min": round(after[0], 3), "p50": round(statistics.median(after), 3),
        "max": round(after[-1], 3)} if after else None,
    "goal_s": timeout_s + 2, "met": bool(after) and len(after) == tasks and after[-1] <= timeout_s + 2}))
PY
