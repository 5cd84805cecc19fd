#!/usr/bin/env bash
# CURVE A/B: `zerotask bench --tasks N --inflight K` through a standalone broker and a remote
# node (memory store, 2 workers, Plugins/), plain and with CURVE on every socket (client, node
# and broker keys from `zerotask keys generate`), in interleaved rounds so load from elsewhere
# on the machine hits both alike. Prints one JSON line per run, the medians and CURVE's share,
# and the CPU time each process spent per task (broker, node, bench client): unlike the rate,
# it hardly depends on what else the machine runs.
#
#   bench/curve-ab.sh [BINARY] [ROUNDS] [TASKS] [INFLIGHT]
#
# Loopback only; every process it starts is stopped by PID; each run is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
z=${1:-.build/release/zerotask} rounds=${2:-3} tasks=${3:-20000} inflight=${4:-200}
if [ -x Plugins/build.sh ]; then Plugins/build.sh >/dev/null; fi
keys=$(mktemp -d)
port=47710
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; pids=(); }
# The bench's own lines, progress left out (a failed task's example, a broker that went away).
trap 'cleanup; grep -v "done (" "$keys/bench.log" >&2 || true; rm -rf "$keys"' EXIT
"$z" keys generate broker --dir "$keys" >/dev/null
"$z" keys generate bench --dir "$keys/keys/clients" >/dev/null
"$z" keys generate node --dir "$keys/keys/nodes" >/dev/null

run() {  # plain|curve
  local mode=$1 broker_keys=() node_keys=() client_keys=()
  port=$((port + 2))
  local req="tcp://127.0.0.1:$port" pub="tcp://127.0.0.1:$((port + 1))"
  if [[ $mode == curve ]]; then
    broker_keys=(--secret-key "$keys/broker.key" --keys-dir "$keys/keys")
    node_keys=(--secret-key "$keys/keys/nodes/node.key" --broker-key "$keys/broker.pub")
    client_keys=(--secret-key "$keys/keys/clients/bench.key" --broker-key "$keys/broker.pub")
  fi
  "$z" broker --store memory --request "$req" --publish "$pub" "${broker_keys[@]}" >/dev/null 2>&1 &
  pids+=($!)
  "$z" node --broker "$req" --broker-publish "$pub" --workers 2 --plugins Plugins "${node_keys[@]}" >/dev/null 2>&1 &
  pids+=($!)
  sleep 2
  local out before after bench_cpu
  before=$(cpu "${pids[@]}")
  out=$(/usr/bin/time -f "%U %S" -o "$keys/time" timeout 300 "$z" bench --broker "$req" --tasks "$tasks" --inflight "$inflight" \
    --json "${client_keys[@]}" 2>>"$keys/bench.log" || true)
  after=$(cpu "${pids[@]}")
  # The last line: before it, time notes a non-zero exit status.
  bench_cpu=$(tail -n 1 "$keys/time" | awk '{ print $1 + $2 }')
  cleanup
  echo "{\"mode\":\"$mode\",\"run\":${out:-null},\"cpu_seconds\":{\"broker\":$(delta "$before" "$after" 1),\"node\":$(delta "$before" "$after" 2),\"bench\":$bench_cpu}}"
}
cpu() {  # PID…: each process's user+system CPU seconds so far, space-separated
  local p
  for p in "$@"; do awk '{ printf "%.2f ", ($14 + $15) / 100 }' "/proc/$p/stat"; done
}
delta() {  # BEFORE AFTER N: the Nth figure's growth
  awk -v n="$3" -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.2f", y[n] - x[n] }'
}
results=()
for ((r = 0; r < rounds; r++)); do
  results+=("$(run plain)")
  echo "${results[-1]}"
  results+=("$(run curve)")
  echo "${results[-1]}"
done
printf '%s\n' "${results[@]}" | python3 -c '
import json, sys, statistics
rows = [json.loads(l) for l in sys.stdin if l.strip()]
rates = {}
for mode in ("plain", "curve"):
    runs = [r["run"] for r in rows if r["mode"] == mode and isinstance(r["run"], dict)]
    if not runs: continue
    rates[mode] = statistics.median(r["jobs_per_second"] for r in runs)
    p50 = statistics.median(r["latency_ms"]["p50"] for r in runs)
    p99 = statistics.median(r["latency_ms"]["p99"] for r in runs)
    cpu = {k: statistics.median(r["cpu_seconds"][k] for r in rows if r["mode"] == mode and isinstance(r["run"], dict)) * 1e6 / runs[0]["tasks"]
           for k in ("broker", "node", "bench")}
    b, n, c = (cpu[k] for k in ("broker", "node", "bench"))
    print(f"{mode}: median of {len(runs)} runs: {rates[mode]:.0f} jobs/s, p50 {p50:.3f} ms, p99 {p99:.3f} ms; "
          f"CPU per task: broker {b:.1f} us, node {n:.1f} us, bench {c:.1f} us")
if len(rates) == 2:
    share = 100 * rates["curve"] / rates["plain"]
    print("curve/plain: %.0f %% of the plain rate" % share)
'
