#!/usr/bin/env bash
# ZeroTask on PostgreSQL against the SQLite default and against pgqueuer (PyPI) on the same
# PostgreSQL server, side by side in one run: `math.add` (a no-op job for pgqueuer) at 1 and 200
# in flight, and pgqueuer draining a backlog; then ZeroTask on a database with
# synchronous_commit off, to show what the WAL fsync costs. Prints one JSON line per run, and the
# queue tables' dead tuples and size right after the runs and after autovacuum's next pass.
#
#   bench/pg-compare.sh [ZEROTASK_BINARY] [TASKS]
#
# A throwaway cluster (initdb in a temp folder, 127.0.0.1 on a free port, fsync on as in
# production), a venv with pgqueuer and asyncpg in the same folder; loopback only; every process
# it starts is stopped by PID, each run bounded by `timeout`, the folder removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/zerotask} tasks=${2:-20000}
source bench/pg-cluster.sh
start_pg zt-pgcmp
psql -c "CREATE DATABASE zt" -c "CREATE DATABASE pgq"

python3 -m venv "$dir/venv" && "$dir/venv/bin/pip" install -q pgqueuer asyncpg
timeout 900 "$dir/venv/bin/python" bench/pgqueuer_bench.py "postgresql://zerotask@127.0.0.1:$pgport/pgq" \
  --jobs "$tasks" --inflight 1 200 --drain "$tasks" || echo '{"system":"pgqueuer","error":"failed, see above"}'

zerotask_run() {  # LABEL STORE…
  local label=$1; shift
  local port; port=$(free_port)
  "$bin" broker --request "tcp://127.0.0.1:$port" --publish "tcp://127.0.0.1:$((port + 1))" --http off "$@" \
    >"$dir/broker-$label.log" 2>&1 &
  pids+=($!)
  "$bin" node --broker "tcp://127.0.0.1:$port" --workers 2 --plugins Plugins >"$dir/node-$label.log" 2>&1 &
  pids+=($!)
  sleep 3
  for k in 1 200; do
    local n=$tasks; ((k == 1)) && n=$((tasks / 10))
    local out
    out=$(timeout 600 "$bin" bench --broker "tcp://127.0.0.1:$port" --tasks "$n" --inflight "$k" --json 2>/dev/null || true)
    echo "{\"system\":\"zerotask\",\"store\":\"$label\",\"inflight\":$k,\"run\":${out:-null}}"
  done
  stop_pids
}
two_brokers() {  # two brokers on one database, a node on each, a bench client on each at once
  local pa pb; pa=$(free_port); pb=$(free_port)
  psql -c "CREATE DATABASE zt2"
  for port in $pa $pb; do
    "$bin" broker --request "tcp://127.0.0.1:$port" --publish "tcp://127.0.0.1:$((port + 1))" --http off \
      --store "postgres://zerotask@127.0.0.1:$pgport/zt2" --broker-id "b$port" >"$dir/broker-two-$port.log" 2>&1 &
    pids+=($!)
    "$bin" node --broker "tcp://127.0.0.1:$port" --workers 2 --plugins Plugins >"$dir/node-two-$port.log" 2>&1 &
    pids+=($!)
  done
  sleep 3
  for k in 1 200; do
    local n=$((tasks / 2)); ((k == 1)) && n=$((tasks / 20))
    local start end
    start=$(date +%s.%N)
    timeout 600 "$bin" bench --broker "tcp://127.0.0.1:$pa" --tasks "$n" --inflight "$k" --json >"$dir/two-a.json" 2>/dev/null &
    local ba=$!
    timeout 600 "$bin" bench --broker "tcp://127.0.0.1:$pb" --tasks "$n" --inflight "$k" --json >"$dir/two-b.json" 2>/dev/null || true
    wait $ba || true
    end=$(date +%s.%N)
    for side in a b; do
      [[ -s $dir/two-$side.json ]] && continue
      echo null >"$dir/two-$side.json"
      echo "two brokers: the bench on $side gave nothing; its broker's log ends:" >&2
      tail -n 5 "$dir"/broker-two-*.log >&2 || true
    done
    echo "{\"system\":\"zerotask\",\"store\":\"postgres, two brokers\",\"inflight\":$k,\"total_jobs_per_s\":$(python3 -c "print(round(2*$n/($end-$start)))"),\"a\":$(cat "$dir/two-a.json"),\"b\":$(cat "$dir/two-b.json")}"
  done
  stop_pids
}
zerotask_run postgres --store "postgres://zerotask@127.0.0.1:$pgport/zt"
two_brokers
zerotask_run sqlite --store sqlite --data-dir "$dir/sqlite"
# What the WAL fsync costs: the same broker on a database with `synchronous_commit = off` (a
# commit returns before its WAL reaches the disk: an OS crash may lose the last commits, so not
# a setting to deploy; shown only to split the time between the disk and the rest).
psql -c "CREATE DATABASE ztasync" -c "ALTER DATABASE ztasync SET synchronous_commit = off"
zerotask_run "postgres, synchronous_commit off" --store "postgres://zerotask@127.0.0.1:$pgport/ztasync"
psql -d zt -t -A -c "SELECT relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables ORDER BY relname" |
  sed 's/^/dead tuples after the run (table|live|dead): /'
# Autovacuum looks every minute: wait for its first pass over the queue table after the runs
# (2 minutes at most), then the tables again, with their size on disk (indexes included).
ran=$(psql -d zt -t -A -c "SELECT now()")
for _ in $(seq 120); do
  [[ $(psql -d zt -t -A -c "SELECT coalesce(last_autovacuum > '$ran', false) FROM pg_stat_user_tables WHERE relname = 'zerotask_tasks'") == t ]] && break
  sleep 1
done
psql -d zt -t -A -c "SELECT relname, n_live_tup, n_dead_tup, pg_size_pretty(pg_total_relation_size(relid)), last_autovacuum IS NOT NULL
  FROM pg_stat_user_tables WHERE relname IN ('zerotask_tasks', 'zerotask_results') ORDER BY relname" |
  sed 's/^/after autovacuum (table|live|dead|size|vacuumed): /'
