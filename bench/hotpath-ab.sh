#!/usr/bin/env bash
# Hot path A/B: `zerotask bench --tasks N --inflight K` against `zerotask node --broker builtin`
# (memory store, 2 workers, Plugins/), for two zerotask binaries in interleaved rounds, so load
# from elsewhere on the machine hits both alike, both with `--http off` (no metrics). Prints one
# JSON line per run and the medians.
#
#   bench/hotpath-ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [TASKS] [INFLIGHT]
#   bench/hotpath-ab.sh --metrics BINARY [ROUNDS] [TASKS] [INFLIGHT]
#
# With --metrics, one binary twice: "old" is the node with `--http off` (no metrics: the broker's
# observer is nil), "new" with `--http http://127.0.0.1:PORT` (every task counted and timed, a
# snapshot every 0.5 s), and the cost of metrics is printed from the two medians.
#
# Loopback only, on ports from ZT_AB_PORT (default 47610) up, a fresh pair per run; every process
# it starts is stopped by PID; each run is bounded by `timeout`; a run that failed counts as null.
set -euo pipefail
cd "$(dirname "$0")/.."
metrics=0
if [[ ${1:-} == --metrics ]]; then
  metrics=1
  shift
  set -- "$1" "$1" "${@:2}"
fi
old=$1 new=$2 rounds=${3:-3} tasks=${4:-20000} inflight=${5:-200}
port=${ZT_AB_PORT:-47610}
node_pid=
cleanup() { [[ -n $node_pid ]] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null; node_pid=; }
trap cleanup EXIT
run() {  # BINARY LABEL PORT
  local bin=$1 label=$2 port=$3 http=off
  # Metrics on for "new" in --metrics mode, on the port after the publish one.
  if ((metrics)) && [[ $label == new ]]; then http="http://127.0.0.1:$((port + 2))"; fi
  "$bin" node --broker builtin --store memory --workers 2 --plugins Plugins --http "$http" \
    --request "tcp://127.0.0.1:$port" --publish "tcp://127.0.0.1:$((port + 1))" >/dev/null 2>&1 &
  node_pid=$!
  sleep 2
  local out cpu0 cpu1
  # The node's own CPU (user + system, all its threads; its workers are other processes) over
  # the bench alone: far steadier than jobs/s on a machine others load.
  cpu0=$(cpu_ticks "$node_pid")
  out=$(timeout 300 "$bin" bench --broker "tcp://127.0.0.1:$port" --tasks "$tasks" --inflight "$inflight" --json || true)
  cpu1=$(cpu_ticks "$node_pid")
  cleanup
  local us=null
  [[ -n $cpu0 && -n $cpu1 ]] && us=$(awk -v d=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v n="$tasks" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
  echo "{\"binary\":\"$label\",\"node_cpu_us_per_task\":$us,\"run\":${out:-null}}"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || true; }
results=()
for ((r = 0; r < rounds; r++)); do
  results+=("$(run "$old" old $((port + 6 * r)))")
  echo "${results[-1]}"
  results+=("$(run "$new" new $((port + 6 * r + 3)))")
  echo "${results[-1]}"
done
printf '%s\n' "${results[@]}" | ZT_AB_METRICS=$metrics python3 -c '
import json, os, sys, statistics
rows = [json.loads(l) for l in sys.stdin if l.strip()]
metrics = os.environ.get("ZT_AB_METRICS") == "1"
rates = {}
for label in ("old", "new"):
    runs = [r["run"] for r in rows if r["binary"] == label and isinstance(r["run"], dict)]
    if not runs: continue
    rate = statistics.median(r["jobs_per_second"] for r in runs)
    p50 = statistics.median(r["latency_ms"]["p50"] for r in runs)
    p99 = statistics.median(r["latency_ms"]["p99"] for r in runs)
    cpus = [r["node_cpu_us_per_task"] for r in rows if r["binary"] == label and isinstance(r["node_cpu_us_per_task"], (int, float))]
    cpu = statistics.median(cpus) if cpus else float("nan")
    rates[label] = (rate, cpu)
    name = {"old": "metrics off", "new": "metrics on"}[label] if metrics else label
    shown = " / ".join(str(c) for c in cpus)
    print(f"{name}: median of {len(runs)} runs: {rate:.0f} jobs/s, p50 {p50:.3f} ms, p99 {p99:.3f} ms, node CPU {cpu:.1f} us/task ({shown})")
if metrics and len(rates) == 2:
    rate_cost = 100 * (1 - rates["new"][0] / rates["old"][0])
    cpu_cost = 100 * (rates["new"][1] / rates["old"][1] - 1)
    print(f"cost of metrics: {cpu_cost:.1f} % node CPU per task, {rate_cost:.1f} % jobs/s (negative: within noise)")
'
