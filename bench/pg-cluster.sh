# Sourced by the PostgreSQL benchmarks: a throwaway cluster in a temp folder (initdb, 127.0.0.1
# on a free port, fsync on as in production, trust auth for user zerotask), the processes a
# script starts kept in `pids`, and one cleanup (`pg_cleanup`, run on exit) that stops them and
# the server by PID and removes the folder. After sourcing: $dir, $pgport, $pg_pid, free_port,
# psql (database postgres; -d to pick another), start_pg.
#
#   source bench/pg-cluster.sh; start_pg zt-mybench
#
# start_pg makes a temp folder for $dir unless $dir is set already (the cluster is $dir/data).
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
pg_pid=
dir=
stop_pids() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  pids=()
}
pg_cleanup() {
  stop_pids
  if [[ -n $pg_pid ]]; then kill -INT "$pg_pid" 2>/dev/null; wait "$pg_pid" 2>/dev/null || true; fi
  [[ -n $dir ]] && rm -rf "$dir"
}
trap pg_cleanup EXIT
psql() { "$pgbin/psql" -X -q -h 127.0.0.1 -p "$pgport" -U zerotask -d postgres "$@"; }
start_pg() {  # NAME: the temp folder's prefix
  [[ -n $dir ]] || dir=$(mktemp -d "/tmp/$1.XXXXXX")
  local as_pg=(env --)
  if [[ $(id -u) == 0 ]]; then as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --); chown postgres: "$dir"; fi
  pgport=$(free_port)
  "${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -U zerotask --auth=trust -E UTF8 --locale=C >/dev/null
  "${as_pg[@]}" "$pgbin/postgres" -D "$dir/data" -p "$pgport" -h 127.0.0.1 -k "$dir" \
    -c max_connections=100 -c shared_buffers=128MB >"$dir/pg.log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 60); do grep -q "ready to accept connections" "$dir/pg.log" && break; sleep 0.5; done
}
