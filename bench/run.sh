#!/bin/bash
# bench/run.sh - mcd against memcached 1.6 side by side (see bench/README.md).
#
#   bench/run.sh                 full run: 5 rounds of 10 s per workload
#   BENCH_QUICK=1 bench/run.sh   sanity run: 1 round of 3 s per workload
#
# Builds the memaslap key shim, raises the open-file limit for the
# 1000-connection workload, then hands over to bench/lib/bench.py, which
# starts and stops both servers itself (by pid, on 127.0.0.1 only).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in memcaslap python3 cc; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found (apt-get install libmemcached-tools python3 gcc)" >&2; exit 1; }
done
[ -x "${MCD_BIN:-mcd/mcd}" ] || { echo "bench: build mcd first (make)" >&2; exit 1; }

mkdir -p build/bench
if [ ! build/bench/keyfix.so -nt bench/lib/keyfix.c ]; then
    cc -O2 -Wall -Wextra -shared -fPIC -o build/bench/keyfix.so bench/lib/keyfix.c -ldl
fi

# 1000 memaslap connections plus the servers' own: ask for the hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    echo "bench: open-file limit $(ulimit -n) is below 4096; the 1000-connection workload may fail" >&2
fi

exec /usr/bin/python3 bench/lib/bench.py "$@"
