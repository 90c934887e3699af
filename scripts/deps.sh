#!/bin/sh
# Installs the Debian packages mcd needs to build and test, when run as
# root; otherwise names the missing ones and fails. Used by `make run` and
# `make test`, so a fresh Debian machine needs nothing else.
set -u
PKGS="gcc make pkg-config perl libevent-dev libjansson-dev libreadline-dev
libcmocka-dev memcached libmemcached-tools libcache-memcached-perl
libcache-memcached-fast-perl python3 python3-pymemcache python3-pylibmc
nutcracker socat clang curl prometheus libio-pty-perl"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "mcd: missing Debian packages:$missing" >&2
    echo "mcd: install them with: sudo apt-get install$missing" >&2
    exit 1
fi
echo "mcd: installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! apt-get install -y -q $missing; then
    apt-get update -q && apt-get install -y -q $missing || exit 1
fi
# Debian starts the packaged memcached as a service; tests start their own.
if command -v systemctl >/dev/null 2>&1; then
    systemctl stop memcached >/dev/null 2>&1 || true
    systemctl disable memcached >/dev/null 2>&1 || true
fi
exit 0
