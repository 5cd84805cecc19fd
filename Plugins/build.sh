#!/usr/bin/env bash
# Builds the example plugins: Plugins/src/NAME/*.c or *.swift -> NAME.so, beside NAME.json;
# Plugins/src/NAME/Cargo.toml (Rust) -> NAME.so when cargo is installed (skipped otherwise).
#   Plugins/build.sh            build into Plugins/
#   Plugins/build.sh OUTDIR     build into OUTDIR (manifests copied along), e.g. for tests
# Idempotent: a plugin is rebuilt only when a source or the SDK header is newer than its .so.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
CC="${CC:-cc}"
SWIFTC="${SWIFTC:-swiftc}"
CFLAGS="${CFLAGS:--O2 -Wall -Wextra}"

stale() {  # stale TARGET SOURCES...: true when TARGET is missing or older than any source
  local target=$1; shift
  [ -e "$target" ] || return 0
  local s
  for s in "$@" "$here/include/zerotask_plugin.h"; do [ "$s" -nt "$target" ] && return 0; done
  return 1
}

for dir in "$here"/src/*/; do
  name="$(basename "$dir")"
  so="$out/$name.so"
  shopt -s nullglob
  c_sources=("$dir"*.c)
  swift_sources=("$dir"*.swift)
  rust_sources=("$dir"src/*.rs)
  shopt -u nullglob
  if [ -e "$dir/Cargo.toml" ]; then
    if ! command -v cargo >/dev/null 2>&1; then
      echo "plugins: skipping $name (Rust; no cargo on PATH)"
    elif stale "$so" "$dir/Cargo.toml" "${rust_sources[@]}"; then
      echo "plugins: cargo $name"
      # Offline, std only; cargo names the library lib$name.so.
      cargo build --release --offline --quiet --manifest-path "$dir/Cargo.toml" --target-dir "$dir/target"
      cp -f "$dir/target/release/lib$name.so" "$so.tmp"
      mv -f "$so.tmp" "$so"
    fi
  elif ((${#c_sources[@]})); then
    if stale "$so" "${c_sources[@]}"; then
      echo "plugins: cc $name"
      "$CC" -shared -fPIC $CFLAGS -I "$here/include" -o "$so.tmp" "${c_sources[@]}" -lm
      mv -f "$so.tmp" "$so"   # rename, never overwrite in place: a running node may have it mapped
    fi
  elif ((${#swift_sources[@]})); then
    if stale "$so" "${swift_sources[@]}"; then
      echo "plugins: swiftc $name"
      "$SWIFTC" -emit-library -parse-as-library -O -module-name "$name" -o "$so.tmp" "${swift_sources[@]}"
      mv -f "$so.tmp" "$so"
    fi
  fi
  if [ "$out" != "$here" ] && [ -e "$here/$name.json" ]; then cp -f "$here/$name.json" "$out/$name.json"; fi
done
