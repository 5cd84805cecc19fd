#!/usr/bin/env bash
# Replays the plugin attacks of issue 12 against a real node (built-in broker, loopback only)
# and checks that each is survived:
#   1. a truncated .so (head -c 7780 math.so): quarantined, the other plugins served, callers
#      told why, `zerotask plugins check` gives it a FAIL verdict (no crash);
#   2. a slow, non-atomic cp over a live plugin: the node never loses its workers, and serves
#      the plugin again once the copy is whole;
#   3. a plugin printing 2 MB with terminal escapes: the log gets a bounded part, escaped, and a
#      "suppressed N bytes" line.
# Bounded: every wait has a deadline; only the node started here is stopped, by its PID.
#   bench/attack-plugins.sh [ZEROTASK_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
z=${1:-}
if [ -z "$z" ]; then
  swift build --product zerotask >/dev/null
  z=.build/debug/zerotask
fi
work=$(mktemp -d /tmp/zt-attack-XXXXXX)
plugins=$work/plugins
log=$work/node.log
Plugins/build.sh "$plugins" >/dev/null
port=$((20000 + RANDOM % 20000))
req=tcp://127.0.0.1:$port pub=tcp://127.0.0.1:$((port + 1))
node=
cleanup() {
  if [ -n "$node" ]; then kill -TERM "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fails=0
check() {  # check WHAT COMMAND...: prints ok/FAIL
  local what=$1; shift
  if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; fails=$((fails + 1)); fi
}
eventually() {  # eventually SECONDS COMMAND...: true once COMMAND succeeds within SECONDS
  local until=$((SECONDS + $1)); shift
  while ((SECONDS < until)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
served() { $z methods --broker "$req" --json 2>/dev/null | python3 -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}
sys.exit(0 if m.get(sys.argv[1], {}).get("nodes") else 1)' "$1"; }

cp "$plugins/math.so" "$work/math.so.good"
head -c 7780 "$work/math.so.good" > "$plugins/math.so"

echo "== 1. truncated math.so at start"
set +e
$z plugins check "$plugins" > "$work/check.txt" 2>&1
status=$?
set -e
check "plugins check exits 1, not a crash (got $status)" test "$status" = 1
check "plugins check: FAIL verdict with the signal" grep -q "FAIL  $plugins/math.so: crashed while loading (signal SIGBUS)" "$work/check.txt"

$z node --broker builtin --request "$req" --publish "$pub" --store memory --plugins "$plugins" --workers 2 \
  --log-level info 2>"$log" &
node=$!
check "node serves text.upper" eventually 30 served text.upper
check "text.upper answers" test "$($z call --broker "$req" text.upper abc 2>&1)" = '"ABC"'
set +e
out=$($z call --broker "$req" math.add 2 3 2>&1)
status=$?
set -e
check "math.add refused with the reason (exit $status): $out" test "$status" = 69 -a -n "$(echo "$out" | grep 'quarantined.*SIGBUS')"
check "one quarantine line naming $plugins/math.so" test "$(grep -c "plugin quarantined: $plugins/math.so: crashed while loading (signal SIGBUS)" "$log")" = 1
check "no worker died loading plugins" test "$(grep -c 'died while loading plugins' "$log")" = 0

echo "== 2. slow non-atomic cp of the good math.so over the live one (1 KiB every 20 ms)"
size=$(stat -c %s "$work/math.so.good")
: > "$plugins/math.so"
for ((off = 0; off < size; off += 1024)); do
  dd if="$work/math.so.good" of="$plugins/math.so" bs=1024 skip=$((off / 1024)) seek=$((off / 1024)) count=1 conv=notrunc status=none
  sleep 0.02
done
check "math.add served once the copy is whole" eventually 30 served math.add
check "math.add answers" test "$($z call --broker "$req" math.add 2 3 2>&1)" = 5
check "text.upper still answers" test "$($z call --broker "$req" text.upper x 2>&1)" = '"X"'
check "no worker died loading plugins" test "$(grep -c 'died while loading plugins' "$log")" = 0
check "node still running" kill -0 "$node"

echo "== 3. a noisy plugin: 20,000 lines (2 MB) with terminal escapes"
cat > "$work/noisy.c" <<'C'
#include <stdio.h>
#include <stdint.h>
int64_t noisy(int64_t n) {
    for (int64_t i = 0; i < n; i++) printf("noise %06lld \x1b[2J\x1b[31mred\x1b[0m ........................................................................\n", (long long)i);
    fflush(stdout);
    return n;
}
C
cc -shared -fPIC -O1 -o "$plugins/noisy.so.tmp" "$work/noisy.c"
echo '{"abi": 1, "name": "noisy", "methods": [{"name": "noisy.spew", "symbol": "noisy", "params": [{"name": "n", "type": "int64"}], "returns": "int64"}]}' > "$plugins/noisy.json"
mv "$plugins/noisy.so.tmp" "$plugins/noisy.so"
check "noisy.spew served" eventually 30 served noisy.spew
before=$(stat -c %s "$log")
check "noisy.spew answers" test "$($z call --broker "$req" noisy.spew 20000 2>&1)" = 20000
check "a suppressed line" eventually 10 grep -q "suppressed .* bytes of plugin output" "$log"
grown=$(( $(stat -c %s "$log") - before ))
echo "      the log grew $grown bytes for 2,000,000 printed"
check "log growth bounded (< 300 KB)" test "$grown" -lt 300000
check "no raw escape character in the log" test "$(grep -c $'\x1b' "$log")" = 0

echo
if ((fails)); then echo "$fails check(s) failed; node log: $log"; trap - EXIT; exit 1; fi
echo "all plugin attacks survived"
