#!/usr/bin/env bash
# ZeroTask against gearmand, side by side on loopback (issue 6): a trivial `add` job, jobs/s and
# p50/p99 latency at 1 and at K (default 200) jobs in flight, medians of interleaved rounds.
#
#   bench/compare.sh                 # full size: 5 rounds of 20,000 jobs per measurement
#   bench/compare.sh --quick         # 1 round of 2,000 jobs: checks the harness in ~30 s
#   bench/compare.sh --tasks N --rounds R --inflight K --no-sqlite --no-build
#                    --scratch-path DIR --gearmand-threads T --port-base P
#
# What it does:
#  - installs gearman-job-server and libgearman-dev from Debian when missing (apt-get update
#    first), and what ZeroTask itself needs (scripts/install-deps.sh);
#  - builds our C worker and client (bench/gearman/*.c) into bench/out/gearman/ (gitignored),
#    the example plugins, and a release `zerotask` (`swift build -c release --product zerotask`,
#    into .build unless --scratch-path says otherwise; --no-build uses what is there);
#  - starts gearmand (in-memory queue, -L 127.0.0.1, its own port, --threads 1: on these 2-core
#    machines 1 I/O thread measured best for gearmand — p50 at 1 in flight 0.11–0.13 ms against
#    0.17–0.21 ms with 2, and 26–32k jobs/s at 200 against 15–21k with 2 and 21–25k with 0) with
#    2 gm_worker processes; a ZeroTask node with a built-in broker, --workers 2, --store memory,
#    serving Plugins/ (math.add); and, unless --no-sqlite, a second one with the default SQLite
#    store (synchronous=FULL) in a temporary data directory. Each system gets a warm-up run;
#  - per round, in this order: gearmand K=1, ZeroTask K=1, ZeroTask/SQLite K=1, then the same
#    at K in flight. gearmand is driven by bench/gearman/gm_client, ZeroTask by
#    `zerotask bench --method math.add --tasks N --inflight K --json`. Both check every result;
#  - prints one table of medians over the rounds with the ratio ZeroTask/gearmand, and keeps
#    every raw JSON line in bench/out/compare-TIMESTAMP.jsonl;
#  - stops everything it started by PID (SIGTERM, then SIGKILL after 5 s), also on failure or
#    Ctrl-C; every benchmark run is bounded by `timeout`.
#
# The servers stay up for the whole run, as in real use: ZeroTask keeps finished results for
# result_ttl, so its brokers hold (rounds × 2 × N) results by the end; gearmand keeps none.
set -euo pipefail
cd "$(dirname "$0")/.."

tasks=20000 rounds=5 inflight=200 sqlite=1 build=1 scratch=.build gthreads=1 port_base=47300
while (($#)); do
  case "$1" in
    --tasks) tasks=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --inflight) inflight=$2; shift 2 ;;
    --quick) tasks=2000 rounds=1; shift ;;
    --no-sqlite) sqlite=0; shift ;;
    --no-build) build=0; shift ;;
    --scratch-path) scratch=$2; shift 2 ;;
    --gearmand-threads) gthreads=$2; shift 2 ;;
    --port-base) port_base=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done

out=bench/out
mkdir -p "$out/gearman"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw="$out/compare-$stamp.jsonl"
logdir=$(mktemp -d "${TMPDIR:-/tmp}/zt-compare.XXXXXX")
gport=$((port_base + 1))
zreq=tcp://127.0.0.1:$((port_base + 2)) zpub=tcp://127.0.0.1:$((port_base + 3))
sreq=tcp://127.0.0.1:$((port_base + 4)) spub=tcp://127.0.0.1:$((port_base + 5))

# ---- everything started is stopped by PID, whatever happens --------------------------------
pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
      local alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      ((alive)) || break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -rf "$logdir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- dependencies and builds ----------------------------------------------------------------
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
need=()
for pkg in gearman-job-server libgearman-dev gcc python3; do have_pkg "$pkg" || need+=("$pkg"); done
if ((${#need[@]})); then
  echo "compare.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
ZEROTASK_SKIP_PYTHON=1 scripts/install-deps.sh

gcc -O2 -Wall -Wextra -o "$out/gearman/gm_worker" bench/gearman/gm_worker.c -lgearman
gcc -O2 -Wall -Wextra -o "$out/gearman/gm_client" bench/gearman/gm_client.c -lgearman
Plugins/build.sh >/dev/null
if ((build)); then
  echo "compare.sh: swift build -c release --scratch-path $scratch --product zerotask"
  swift build -c release --scratch-path "$scratch" --product zerotask >/dev/null
fi
z="$scratch/release/zerotask"
[ -x "$z" ] || { echo "compare.sh: no $z (build it, or drop --no-build)" >&2; exit 1; }

for port in "$gport" $((port_base + 2)) $((port_base + 3)) $((port_base + 4)) $((port_base + 5)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "compare.sh: port $port is in use; choose others with --port-base" >&2
    exit 1
  fi
done

# ---- start the servers ----------------------------------------------------------------------
gearmand -L 127.0.0.1 -p "$gport" --threads "$gthreads" -q builtin \
  --log-file "$logdir/gearmand.log" --verbose ERROR &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$gport") 2>/dev/null && break; sleep 0.1; done
for _ in 1 2; do
  "$out/gearman/gm_worker" 127.0.0.1 "$gport" 2>>"$logdir/gm_worker.log" &
  pids+=($!)
done

"$z" node --broker builtin --workers 2 --store memory --request "$zreq" --publish "$zpub" \
  --plugins Plugins --log-level warning 2>"$logdir/node-memory.log" &
pids+=($!)
if ((sqlite)); then
  "$z" node --broker builtin --workers 2 --store sqlite --data-dir "$logdir/data" --request "$sreq" --publish "$spub" \
    --plugins Plugins --log-level warning 2>"$logdir/node-sqlite.log" &
  pids+=($!)
fi
# Ready when math.add is served.
wait_served() {
  for _ in $(seq 100); do
    "$z" methods --broker "$1" 2>/dev/null | grep -q 'math.add' && return 0
    sleep 0.2
  done
  echo "compare.sh: no node serves math.add at $1; log:" >&2
  cat "$logdir"/node-*.log >&2
  exit 1
}
wait_served "$zreq"
((sqlite)) && wait_served "$sreq"

# ---- measurements ---------------------------------------------------------------------------
# Generous bound per run: 20,000 jobs at 1 in flight take ~5–20 s here.
limit=$((60 + tasks / 100))
run() {  # run SYSTEM K N: appends one JSON line, tagged with the system, to $raw
  local system=$1 k=$2 n=$3 line
  case "$system" in
    gearmand) line=$(timeout "$limit" "$out/gearman/gm_client" 127.0.0.1 "$gport" "$n" "$k" 2>"$logdir/run.err") ;;
    zerotask) line=$(timeout "$limit" "$z" bench --broker "$zreq" --method math.add --tasks "$n" --inflight "$k" --json 2>"$logdir/run.err") ;;
    zerotask-sqlite) line=$(timeout "$limit" "$z" bench --broker "$sreq" --method math.add --tasks "$n" --inflight "$k" --json 2>"$logdir/run.err") ;;
  esac || {
    echo "compare.sh: $system at $k in flight failed (exit $?):" >&2
    grep -v '% *$\|done (' "$logdir/run.err" | tail -5 >&2
    exit 1
  }
  printf '{"system":"%s","round":%s,"data":%s}\n' "$system" "${round:-0}" "$line" >>"$raw"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("  %-16s K=%-4s %9.0f jobs/s  p50 %7.3f ms  p99 %7.3f ms" % (sys.argv[2], d["inflight"], d["jobs_per_second"], d["latency_ms"]["p50"], d["latency_ms"]["p99"]))' "$line" "$system"
}

systems=(gearmand zerotask)
((sqlite)) && systems+=(zerotask-sqlite)
echo "compare.sh: warm-up (not counted)"
round=0
for s in "${systems[@]}"; do run "$s" "$inflight" 2000 >/dev/null; done
: >"$raw"
for round in $(seq "$rounds"); do
  echo "round $round of $rounds ($tasks jobs per run)"
  for k in 1 "$inflight"; do
    for s in "${systems[@]}"; do run "$s" "$k" "$tasks"; done
  done
done

# ---- the table ------------------------------------------------------------------------------
python3 - "$raw" "$inflight" <<'EOF'
import json, statistics, sys
path, K = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(path) if l.strip()]
def med(system, k, key):
    vals = [(r["data"]["jobs_per_second"] if key == "rate" else r["data"]["latency_ms"][key])
            for r in rows if r["system"] == system and r["data"]["inflight"] == k]
    return statistics.median(vals) if vals else None
systems = [s for s in ("gearmand", "zerotask", "zerotask-sqlite") if any(r["system"] == s for r in rows)]
names = {"gearmand": "gearmand", "zerotask": "ZeroTask (memory)", "zerotask-sqlite": "ZeroTask (SQLite)"}
rounds = len({r["round"] for r in rows})
n = rows[0]["data"]["tasks"]
print()
print(f"Medians of {rounds} interleaved round(s), {n} jobs per run; ratio = ZeroTask / gearmand")
print()
head = "| measurement | gearmand |"
sep = "| --- | ---: |"
for s in systems[1:]:
    head += f" {names[s]} | ratio |"
    sep += " ---: | ---: |"
print(head)
print(sep)
for k in (1, K):
    for key, label, fmt in (("rate", "jobs/s", "{:,.0f}"), ("p50", "p50 ms", "{:.3f}"), ("p99", "p99 ms", "{:.3f}")):
        g = med("gearmand", k, key)
        line = f"| {k} in flight: {label} | {fmt.format(g)} |"
        for s in systems[1:]:
            v = med(s, k, key)
            line += f" {fmt.format(v)} | {v / g:.2f}× |"
        print(line)
print()
def verdict(ok): return "met" if ok else "NOT met"
g200, z200, g1p50, z1p50 = med("gearmand", K, "rate"), med("zerotask", K, "rate"), med("gearmand", 1, "p50"), med("zerotask", 1, "p50")
print(f"target: {K} in flight, ZeroTask >= 2x gearmand jobs/s: {z200 / g200:.2f}x -> {verdict(z200 >= 2 * g200)}")
print(f"target: 1 in flight, ZeroTask p50 <= gearmand p50: {z1p50:.3f} vs {g1p50:.3f} ms -> {verdict(z1p50 <= g1p50)}")
if "zerotask-sqlite" in systems:
    s200 = med("zerotask-sqlite", K, "rate")
    print(f"target: {K} in flight, ZeroTask on SQLite >= gearmand in memory jobs/s: {s200 / g200:.2f}x -> {verdict(s200 >= g200)}")
for s in systems[1:]:
    def per_round(k, key):
        out = []
        for rnd in sorted({r["round"] for r in rows}):
            g = [r["data"] for r in rows if r["round"] == rnd and r["system"] == "gearmand" and r["data"]["inflight"] == k]
            z = [r["data"] for r in rows if r["round"] == rnd and r["system"] == s and r["data"]["inflight"] == k]
            if g and z:
                get = (lambda d: d["jobs_per_second"]) if key == "rate" else (lambda d: d["latency_ms"][key])
                out.append(get(z[0]) / get(g[0]))
        return out
    a, b = per_round(K, "rate"), per_round(1, "p50")
    print(f"{names[s]} / gearmand within each round: jobs/s at {K} in flight {min(a):.2f}–{max(a):.2f}x, p50 at 1 in flight {min(b):.2f}–{max(b):.2f}x")
print(f"raw results: {path}")
EOF
