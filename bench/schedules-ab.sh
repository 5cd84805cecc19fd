#!/usr/bin/env bash
# Schedules A/B (issue 17): 200-in-flight math.add jobs/s of one broker (SQLite store, one node
# with the example plugins) with no schedules and with 1,000 schedules, in interleaved rounds.
# The schedules tick every 60…1059 s (about 2 ticks a second in all, each one task of a method
# no node serves, so their tasks stay queued) and are added and removed in one batch between
# rounds. Besides jobs/s it prints the broker's CPU time per job, which a machine busy with other
# work disturbs less than throughput.
#   bench/schedules-ab.sh [--tasks N] [--rounds R] [--bin PATH]   (default: 20000, 3, .build/release/zerotask)
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=20000 rounds=3 bin=.build/release/zerotask port_base=47400
while (($#)); do
  case "$1" in
    --tasks) tasks=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "schedules-ab.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done
req=tcp://127.0.0.1:$((port_base + 1)) pub=tcp://127.0.0.1:$((port_base + 2))
dir=$(mktemp -d "${TMPDIR:-/tmp}/zt-sched-ab.XXXXXX")
pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  ((${#pids[@]})) && { kill -TERM "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; }
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT INT TERM
bash Plugins/build.sh "$dir/plugins" >/dev/null
"$bin" broker --store "sqlite:$dir/store.sqlite" --store-sync normal --request "$req" --publish "$pub" --http off >"$dir/broker.log" 2>&1 &
pids+=($!)
sleep 1
"$bin" node --broker "$req" --broker-publish "$pub" --plugins "$dir/plugins" --http off >"$dir/node.log" 2>&1 &
pids+=($!)
sleep 3

# One JSON-RPC batch of 1,000 admin_schedule_add (or _remove) over pyzmq.
batch() {
  python3 - "$req" "$1" <<'PY'
import json, sys, zmq
req, verb = sys.argv[1], sys.argv[2]
s = zmq.Context().socket(zmq.REQ); s.connect(req)
calls = []
for i in range(1000):
    p = {"name": f"s{i}", "method": "sched.none", "every": 60 + i} if verb == "add" else {"name": f"s{i}"}
    calls.append({"jsonrpc": "2.0", "method": f"zerotask.broker.admin_schedule_{verb}", "params": p, "id": i})
s.send(json.dumps(calls).encode())
bad = [r for r in json.loads(s.recv()) if "error" in r]
if bad: sys.exit(f"{verb}: {bad[0]}")
PY
}

broker_pid=${pids[0]}
# The broker's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat).
cpu() { awk '{ print $14 + $15 }' "/proc/$broker_pid/stat"; }
hz=$(getconf CLK_TCK)

# jobs/s, and the broker's CPU microseconds per job (less sensitive to a busy machine).
run() {
  local before after rate
  before=$(cpu)
  rate=$("$bin" bench --broker "$req" --publish "$pub" --tasks "$tasks" --inflight 200 --json \
    | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["jobs_per_second"]))')
  after=$(cpu)
  echo "$rate jobs/s, $(( (after - before) * 1000000 / hz / tasks )) us broker CPU/job"
}
run >/dev/null  # warm-up
for r in $(seq "$rounds"); do
  idle=$(run)
  batch add
  with=$(run)
  batch remove
  echo "round $r: idle $idle | 1,000 schedules $with"
done
