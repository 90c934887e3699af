"""dump.py - the admin socket's item listing under load (issue: "dumping 1
million items: items per second, and data-path throughput during the dump
as a ratio of throughput without it").

One mcd with N items (default 1,000,000; BENCH_QUICK=1: 200,000). memaslap
loads it (text get/set 90/10, 100 B, 32 connections) for S seconds with no
dump, then again while a reader streams `items` from the admin socket over
and over; throughput with / without is the ratio, and items listed per
second of listing is the dump rate. Alternated over R rounds, medians.
"""
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench      # noqa: E402  (memaslap runner, settings)
import loader     # noqa: E402
from servers import Server  # noqa: E402

N = int(os.environ.get("BENCH_DUMP_ITEMS", "200000" if bench.QUICK else "1000000"))
SECS = 3 if bench.QUICK else 8
ROUNDS = 1 if bench.QUICK else 3


def dump_loop(path, stop, result):
    """Streams `items` until stop is set; counts items and seconds."""
    items = 0
    busy = 0.0
    while not stop.is_set():
        t0 = time.monotonic()
        a = socket.socket(socket.AF_UNIX)
        a.connect(path)
        a.sendall(b"items\n")
        buf = b""
        done = False
        while not done:
            chunk = a.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.startswith(b'{"summary"'):
                    done = True
                elif line.startswith(b'{"key'):
                    items += 1
            if stop.is_set():
                break
        a.close()
        busy += time.monotonic() - t0
    result["items"] = items
    result["secs"] = busy


def main():
    logdir = tempfile.mkdtemp(prefix="mcd-bench-dump-")
    path = "/tmp/mcd-bench-dump-%d.admin" % os.getpid()   # -u nobody must create it
    srv = Server("mcd", bench.MCD_BIN, bench.BASE_FLAGS + ["-o", "admin_socket=" + path], logdir)
    bench.live.append(srv)
    args = ["-T", "2", "-c", "32", "-X", "100"]
    quiet, loaded, rates = [], [], []
    try:
        errs = loader.fill(srv.port, N, 100)
        bench.say("dump bench: %d items stored (%d errors)" % (N, errs))
        for r in range(ROUNDS):
            order = (False, True) if r % 2 == 0 else (True, False)
            for with_dump in order:
                stop, res = threading.Event(), {}
                t = None
                if with_dump:
                    t = threading.Thread(target=dump_loop, args=(path, stop, res))
                    t.start()
                run = bench.timed_run(srv, args, SECS)
                if t:
                    stop.set()
                    t.join()
                if "err" in run:
                    bench.say("  round %d %s: %s" % (r + 1, "dump" if with_dump else "quiet", run["err"]))
                    continue
                (loaded if with_dump else quiet).append(run["ops_s"])
                if with_dump and res.get("secs"):
                    rates.append(res["items"] / res["secs"])
                bench.say("  round %d %-5s %8d ops/s%s" % (
                    r + 1, "dump" if with_dump else "quiet", run["ops_s"],
                    ("  dump %d items/s" % (res["items"] / res["secs"])) if with_dump and res.get("secs") else ""))
    finally:
        srv.stop()
        bench.live.remove(srv)
    if not quiet or not loaded:
        print("dump bench: no usable rounds")
        return 1
    q, l = statistics.median(quiet), statistics.median(loaded)
    print("| measure | value |\n|---|---:|")
    print("| items listed per second (admin `items`, %d items) | %d |" % (N, statistics.median(rates) if rates else 0))
    print("| data-path ops/s without a dump | %d |" % q)
    print("| data-path ops/s during dumps | %d |" % l)
    print("| ratio during / without (target above 0.9) | %.2f |" % (l / q))
    return 0


if __name__ == "__main__":
    sys.exit(main())
