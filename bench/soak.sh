#!/usr/bin/env bash
# Soak: a sustained mixed load for DURATION seconds against release binaries on loopback, with
# the resident memory of the broker, the node and each of its workers at the start, every
# INTERVAL seconds, and at the end (aim: flat).
#
#   bench/soak.sh [DURATION_S=300] [INTERVAL_S=30]
#
# Runs a `zerotask broker` on a fresh SQLite store, a `zerotask node` with 2 workers serving
# Plugins/, and bench/soak_load.py: one client keeping 32 tasks in flight — math.add (results
# checked), math.sleep of 1–20 ms, math.div by zero (must fail), and 5 s math.sleep cancelled
# within 0.2 s (queued or running); every task with result_ttl 10 s. Ends everything it started
# by PID. Environment: SOAK_PORT (request port, publish is +1; default 7755), SOAK_SCRATCH
# (the build's scratch path; default .build), SOAK_INFLIGHT (default 32), SOAK_BUILTIN=1 (one
# `zerotask node --broker builtin` with the SQLite store instead of a broker and a node: the
# broker then runs on the node's thread, and both memory figures are that one process),
# SOAK_POSTGRES=1 (the store a throwaway PostgreSQL cluster, bench/pg-cluster.sh; each sample
# adds the queue tables' dead tuples and size on disk).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-300}
interval=${2:-30}
port=${SOAK_PORT:-7755}
scratch=${SOAK_SCRATCH:-.build}
inflight=${SOAK_INFLIGHT:-32}
req=tcp://127.0.0.1:$port pub=tcp://127.0.0.1:$((port + 1))

Plugins/build.sh >/dev/null
swift build -c release --scratch-path "$scratch" --product zerotask >/dev/null
z=$scratch/release/zerotask
dir=$(mktemp -d /tmp/zt-soak.XXXXXX)

broker='' node='' load=''
cleanup() {
  for pid in $load $node $broker; do kill -TERM "$pid" 2>/dev/null || true; done
  # (with SOAK_BUILTIN, $node and $broker are the same process: killed and waited for once)
  for pid in $load $node $broker; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if declare -F pg_cleanup >/dev/null; then pg_cleanup; fi
  rm -rf "$dir"
}
trap cleanup EXIT
store="sqlite:$dir/soak.sqlite"
if [ "${SOAK_POSTGRES:-0}" = 1 ]; then
  source bench/pg-cluster.sh
  trap cleanup EXIT
  start_pg zt-soak
  psql -c "CREATE DATABASE zt"
  store="postgres://zerotask@127.0.0.1:$pgport/zt"
fi

if [ "${SOAK_BUILTIN:-0}" = 1 ]; then
  "$z" node --broker builtin --store "$store" --request "$req" --publish "$pub" --workers 2 \
    --plugins Plugins --log-level warning 2>"$dir/node.log" &
  node=$!
  broker=$node
else
  "$z" broker --store "$store" --request "$req" --publish "$pub" 2>"$dir/broker.log" &
  broker=$!
  "$z" node --broker "$req" --broker-publish "$pub" --workers 2 --plugins Plugins --log-level warning 2>"$dir/node.log" &
  node=$!
fi
for _ in $(seq 100); do "$z" methods --broker "$req" 2>/dev/null | grep -q math.sleep && break; sleep 0.2; done

kib() { awk '{ print $2 * 4 }' "/proc/$1/statm" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
sample() {
  local line="$1  broker $(mib "$(kib "$broker")") MiB  node $(mib "$(kib "$node")") MiB  workers"
  for w in $(pgrep -P "$node" | sort -n); do line+=" $w:$(mib "$(kib "$w")")"; done
  line+=" MiB  store $(du -sk "$dir" | awk '{ printf "%.1f", $1 / 1024 }') MiB"
  echo "soak memory: $line"
  if [ "${SOAK_POSTGRES:-0}" = 1 ]; then
    psql -d zt -t -A -F ' ' -c "SELECT relname, n_live_tup, n_dead_tup, pg_size_pretty(pg_total_relation_size(relid)),
      coalesce(to_char(last_autovacuum, 'HH24:MI:SS'), 'never') FROM pg_stat_user_tables
      WHERE relname IN ('zerotask_tasks', 'zerotask_results') ORDER BY relname" |
      sed "s/^/soak postgres: $1  (table live dead size last_autovacuum): /"
  fi
}

echo "soak: $duration s, samples every $interval s, broker pid $broker, node pid $node, files in $dir"
sample "t=0 s (idle)"
python3 bench/soak_load.py --broker "$req" --duration "$duration" --interval "$interval" --inflight "$inflight" &
load=$!
start=$SECONDS
next=$interval
while kill -0 "$load" 2>/dev/null; do
  sleep 1
  if (( SECONDS - start >= next )) && kill -0 "$load" 2>/dev/null; then
    sample "t=$((SECONDS - start)) s"
    next=$((next + interval))
  fi
  kill -0 "$broker" 2>/dev/null || { echo "soak: the broker died"; tail -20 "$dir/broker.log"; exit 1; }
  kill -0 "$node" 2>/dev/null || { echo "soak: the node died"; tail -20 "$dir/node.log"; exit 1; }
done
status=0
wait "$load" || status=$?
load=''
sample "t=$((SECONDS - start)) s (end)"
"$z" nodes --broker "$req" --json | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    s = n.get("status", {})
    print("soak node: %s finished %s, failed %s, crashes %s, timeouts %s, worker starts %s" % (
        n["node_id"], s.get("tasks_finished"), s.get("tasks_failed"), s.get("crashes"), s.get("timeouts"), s.get("worker_starts")))'
exit $status
