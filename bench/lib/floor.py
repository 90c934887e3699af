#!/usr/bin/python3
"""floor.py - what the kernel alone costs per request (make bench-floor).

make bench measures server CPU per operation, and issue #9 asks for mcd at
0.85x memcached's. This measures how low that figure can go on this
machine at all: two servers that do nothing per request but read it and
send a fixed reply (bench/floor/floor_epoll.c with epoll, read and sendmsg,
as mcd and memcached do; bench/floor/floor_uring.c with io_uring, when
liburing is installed) run beside mcd and memcached under the same
closed-loop client (bench/floor/floor_client.c: "get k1234", a 128-byte
reply, the next request). mcd and memcached hold k1234 with a 102-byte
value, so all four put the same bytes on the wire.

Rounds alternate the servers (the order rotates each round), each run reads
the server's utime + stime from /proc/PID/stat, and the report gives the
median CPU per operation per server and the median of each round's ratio
to memcached (paired: the runs of a round are back to back).

Environment: MCD_BIN, MEMCACHED_BIN, FLOOR_DIR (the built floor programs),
FLOOR_ROUNDS (5), FLOOR_SECS (8), FLOOR_CONNS ("32 256"), BENCH_OUT.
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import HOST, Server  # noqa: E402

FLAGS = ["-t", "4", "-m", "1024", "-U", "0", "-c", "4096"]
VALUE = b"v" * 102


def seed(srv):
    """Store k1234 in a real server, as the client expects it."""
    with socket.create_connection((HOST, srv.port), timeout=10) as s:
        s.sendall(b"set k1234 0 0 %d\r\n%s\r\n" % (len(VALUE), VALUE))
        if not s.recv(100).startswith(b"STORED"):
            raise RuntimeError("%s did not store k1234" % srv.name)


def one_run(name, binary, flags, client, conns, secs, logdir):
    srv = Server(name, binary, flags, logdir)
    try:
        if name in ("mcd", "memcached"):
            seed(srv)
        c0 = srv.cpu_seconds()
        out = subprocess.run([client, str(srv.port), str(conns), "2", str(secs)],
                             capture_output=True, text=True, timeout=secs + 30)
        c1 = srv.cpu_seconds()
        if out.returncode != 0:
            raise RuntimeError("%s: client failed: %s" % (name, out.stderr.strip()))
        ops = int(out.stdout.strip())
        if ops < 1000:
            raise RuntimeError("%s: only %d replies" % (name, ops))
        return ops / secs, (c1 - c0) * 1e6 / ops
    finally:
        srv.stop()


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    floor_dir = os.environ.get("FLOOR_DIR", os.path.join(root, "build", "bench-floor"))
    client = os.path.join(floor_dir, "floor_client")
    servers = [("floor-epoll", os.path.join(floor_dir, "floor_epoll"), FLAGS)]
    uring = os.path.join(floor_dir, "floor_uring")
    if os.path.exists(uring):
        servers.append(("floor-uring", uring, FLAGS))
    else:
        print("floor: no floor_uring (liburing-dev missing): the io_uring floor is left out",
              file=sys.stderr)
    mcd = os.environ.get("MCD_BIN", os.path.join(root, "mcd", "mcd"))
    servers.append(("mcd", mcd, FLAGS + ["-o", "admin_socket=off"]))
    servers.append(("memcached", os.environ.get("MEMCACHED_BIN", "/usr/bin/memcached"), FLAGS))
    rounds = int(os.environ.get("FLOOR_ROUNDS", "5"))
    secs = int(os.environ.get("FLOOR_SECS", "8"))
    conn_sets = [int(x) for x in os.environ.get("FLOOR_CONNS", "32 256").split()]
    logdir = tempfile.mkdtemp(prefix="mcd-floor-")
    started = time.time()
    load0 = os.getloadavg()

    results = {}     # conns -> name -> [(ops, cpu)] per round
    for conns in conn_sets:
        res = results[conns] = {name: [] for name, _, _ in servers}
        for r in range(rounds):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for name, binary, flags in order:
                ops, cpu = one_run(name, binary, flags, client, conns, secs, logdir)
                res[name].append((ops, cpu))
                print("  %d conns, round %d %-12s %8.0f ops/s %6.2f us CPU/op" %
                      (conns, r + 1, name, ops, cpu), file=sys.stderr)

    lines = ["# The floor: what a server that does nothing costs per request", ""]
    lines.append("- date: %s UTC (took %.0f s)" % (
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)), time.time() - started))
    lines.append("- machine: %d CPUs, %s; load average %.2f %.2f %.2f at start" % (
        os.cpu_count(), os.uname().release, *load0))
    lines.append("- %d rounds of %d s per server, order rotating; medians. Client: "
                 "bench/floor/floor_client, 2 threads, closed loop, 11-byte request, "
                 "128-byte reply. Server flags: `%s`" % (rounds, secs, " ".join(FLAGS)))
    lines.append("")
    lines.append("| conns | server | ops/s | CPU µs/op | CPU/op vs memcached (paired) |")
    lines.append("|---:|---|---:|---:|---:|")
    for conns in conn_sets:
        res = results[conns]
        mc = [c for _, c in res["memcached"]]
        for name, _, _ in servers:
            ops = statistics.median(o for o, _ in res[name])
            cpu = statistics.median(c for _, c in res[name])
            paired = statistics.median(c / m for (_, c), m in zip(res[name], mc))
            lines.append("| %d | %s | %.0f | %.2f | %.2f |" % (conns, name, ops, cpu, paired))
    lines.append("")
    lines.append("floor-epoll and floor-uring parse, store and look up nothing: no "
                 "server that answers these requests with epoll (or io_uring) can use "
                 "less CPU per request than they do here.")
    report = "\n".join(lines) + "\n"
    out = os.environ.get("BENCH_OUT", os.path.join(root, "bench", "results", "floor.md"))
    with open(out, "w") as f:
        f.write(report)
    print(report)


if __name__ == "__main__":
    main()
