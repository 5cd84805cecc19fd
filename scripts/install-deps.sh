#!/usr/bin/env bash
# Installs what ZeroTask needs on Debian when it is missing: the C libraries it links against
# (libzmq, libffi, SQLite and libpq for the broker's stores, libsodium for the dashboard token,
# libyaml for the configuration file), a C compiler for the plugins, and pyzmq for the
# language-neutral wire test.
# Safe to run again: it only installs what is absent.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libzmq3-dev libffi-dev libsqlite3-dev libpq-dev libsodium-dev libyaml-dev pkg-config gcc; do
  have_pkg "$pkg" || need+=("$pkg")
done
# The tests start throwaway PostgreSQL servers; the main job does not need one.
if [ "${ZEROTASK_TEST_DEPS:-0}" = 1 ]; then
  # chromium: the dashboard's real-browser test (DashboardBrowserTests).
  for pkg in postgresql util-linux chromium; do
    have_pkg "$pkg" || need+=("$pkg")
  done
fi
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The tests make their own clusters: no default one started on port 5432.
  if [[ " ${need[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  apt-get update -qq
  apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${need[@]}" >/dev/null
fi

if [ "${ZEROTASK_SKIP_PYTHON:-0}" != 1 ] && ! python3 -c 'import zmq' 2>/dev/null; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "install-deps: installing python3-pip"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
  fi
  echo "install-deps: installing pyzmq from PyPI"
  python3 -m pip install -q pyzmq 2>/dev/null || python3 -m pip install -q --break-system-packages pyzmq
fi

# setuptools and wheel: the tests install the Python client (`pip install ./clients/python`) as a
# user would, without fetching build tools each time.
if [ "${ZEROTASK_SKIP_PYTHON:-0}" != 1 ] && ! python3 -c 'import setuptools, wheel' 2>/dev/null; then
  echo "install-deps: installing setuptools and wheel from PyPI"
  python3 -m pip install -q setuptools wheel 2>/dev/null || python3 -m pip install -q --break-system-packages setuptools wheel
fi
