#!/usr/bin/env bash
# Does holding many delayed tasks and schedules slow the broker's hot path? (issue 17) Two nodes
# with built-in brokers (memory store, --workers 2, Plugins/): one idle, one holding D delayed
# tasks (default 100,000 math.add tasks due in a day, submitted with the Python client's batches)
# and S schedules (default 1,000, every 60…60+S s, of a method no node serves); then
# interleaved rounds of `zerotask bench --method math.add --tasks N --inflight K` against each,
# and the medians side by side.
#
#   bench/delayed.sh [--delayed D] [--schedules S] [--tasks N] [--rounds R] [--inflight K] [--no-build] [--port-base P]
#
# Needs a release zerotask (built unless --no-build), the example plugins built (Plugins/build.sh),
# and python3 with pyzmq. Stops what it started by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

delayed=100000 schedules=1000 tasks=20000 rounds=5 inflight=200 build=1 port_base=47400
while (($#)); do
  case "$1" in
    --delayed) delayed=$2; shift 2 ;;
    --schedules) schedules=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --inflight) inflight=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --port-base) port_base=$2; shift 2 ;;
    *) echo "delayed.sh: unknown option $1" >&2; exit 64 ;;
  esac
done

if ((build)); then swift build -c release --product zerotask >/dev/null; fi
z=.build/release/zerotask
[ -x "$z" ] || { echo "delayed.sh: no $z" >&2; exit 1; }
ls Plugins/*.so >/dev/null 2>&1 || Plugins/build.sh >/dev/null

logdir=$(mktemp -d /tmp/zt-delayed-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

idle="tcp://127.0.0.1:$port_base" busy="tcp://127.0.0.1:$((port_base + 2))"
"$z" node --broker builtin --workers 2 --store memory --request "$idle" --publish "tcp://127.0.0.1:$((port_base + 1))" \
  --http off --plugins Plugins --log-level warning 2>"$logdir/idle.log" &
pids+=($!)
"$z" node --broker builtin --workers 2 --store memory --request "$busy" --publish "tcp://127.0.0.1:$((port_base + 3))" \
  --http off --plugins Plugins --log-level warning 2>"$logdir/busy.log" &
pids+=($!)
for b in "$idle" "$busy"; do
  for _ in $(seq 100); do "$z" methods --broker "$b" 2>/dev/null | grep -q 'math.add' && break; sleep 0.2; done
done

PYTHONPATH=clients/python python3 - "$busy" "$delayed" "$schedules" <<'PY'
import sys, zerotask
endpoint, n, schedules = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with zerotask.Client(endpoint, request_timeout=60) as c:
    out = c.submit_many({"method": "math.add", "params": [i, 1], "delay": 86400} for i in range(n))
    bad = [o for o in out if isinstance(o, Exception)]
    if bad:
        sys.exit(f"{len(bad)} delayed submissions failed, first: {bad[0]}")
    for i in range(schedules):
        c._rpc("admin_schedule_add", {"name": f"s{i}", "method": "sched.none", "every": 60 + i})
    stats = c._rpc("stats", [])
    listed = c._rpc("admin_schedule_list", {})
    listed = listed.get("schedules", listed) if isinstance(listed, dict) else listed
    print(f"busy broker: {stats['delayed']} delayed, {stats['queued']} queued, {len(listed)} schedules", file=sys.stderr)
PY

results="$logdir/results.jsonl"
for r in $(seq "$rounds"); do
  for which in idle busy; do
    endpoint=$idle; [ "$which" = busy ] && endpoint=$busy
    line=$(timeout 600 "$z" bench --broker "$endpoint" --method math.add --tasks "$tasks" --inflight "$inflight" --json 2>"$logdir/bench-$which-$r.err") || { echo "bench against $which broker failed in round $r: $(tail -3 "$logdir/bench-$which-$r.err")" >&2; exit 1; }
    echo "{\"broker\": \"$which\", \"round\": $r, \"run\": $line}" >>"$results"
  done
done

python3 - "$results" "$delayed" "$schedules" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(which, f):
    return statistics.median(f(r["run"]) for r in rows if r["broker"] == which)
cols = [("jobs/s", lambda r: r["jobs_per_second"]), ("p50 ms", lambda r: r["latency_ms"]["p50"]),
        ("p99 ms", lambda r: r["latency_ms"]["p99"])]
print(f"medians of {len(rows) // 2} interleaved rounds")
print("| broker | " + " | ".join(c for c, _ in cols) + " |")
print("| --- |" + " --- |" * len(cols))
for which, name in (("idle", "idle"), ("busy", f"holding {int(sys.argv[2]):,} delayed tasks and {int(sys.argv[3]):,} schedules")):
    print(f"| {name} | " + " | ".join(f"{med(which, f):.2f}" for _, f in cols) + " |")
errors = sum(r["run"]["errors"] for r in rows)
print(f"busy/idle jobs/s: {med('busy', cols[0][1]) / med('idle', cols[0][1]):.3f}; errors: {errors}")
PY
echo "raw runs: $results"
