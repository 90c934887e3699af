#!/usr/bin/python3
"""ir.py - what the per-command evidence costs, in instructions (make bench-ir).

CPU time on a shared two-core machine moves by a few percent from one run
to the next, which is as much as the tracking costs. Instructions executed
in user space do not: this runs mcd and mcd built with -DMCD_NO_TRACKING
under valgrind's cachegrind, drives the same requests into each over one
connection (request, reply, request...), and counts the worker
threads' instructions per operation. The measured phase is isolated by difference: each build runs
twice, with N and with 2N operations after the same start and warm-up, and
(Ir(2N) - Ir(N)) / N is the cost of one operation.

Tracking adds user-space work only (the syscalls per request are the same
in both builds, bench/results/overhead.md), so with u the share of the
server's CPU time spent in user space under the real load (memaslap, from
make bench-overhead), the CPU cost of tracking is about
    1 + u * (Ir_tracked / Ir_untracked - 1)
assuming both builds retire instructions at the same rate.

With IR_PEER set (make bench-ir-memcached), the second server is that
binary instead, Debian's memcached, and the report compares the two
servers' user-space instructions per operation: all threads (what the
CPU-per-operation figure of make bench counts; memcached's LRU maintainer
does per-operation work in its own thread) and the threads that answered
(those that called sendmsg; memcached's binary is stripped, so threads are
told apart by the libc calls they made).

Environment: MCD_BIN, NOTRACK_BIN, IR_PEER, IR_OPS (N, default 20000),
BENCH_OUT, IR_SHARES_FROM (the bench-overhead report to read u from).
"""
import os
import random
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import free_port, HOST  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MCD_BIN = os.environ.get("MCD_BIN", os.path.join(ROOT, "mcd", "mcd"))
NOTRACK_BIN = os.environ.get("NOTRACK_BIN", os.path.join(ROOT, "build-notrack", "mcd-notrack"))
PEER_BIN = os.environ.get("IR_PEER") or None
N = int(os.environ.get("IR_OPS", "20000"))
OUT = os.environ.get("BENCH_OUT", os.path.join(
    ROOT, "bench", "results", "ir-memcached.md" if PEER_BIN else "ir.md"))
KEYS = 1000
SHARES_FROM = os.environ.get("IR_SHARES_FROM",
                             os.path.join(ROOT, "bench", "results", "overhead.md"))
# u, the user-space share of server CPU under memaslap, per workload, from
# the utime/stime split of make bench-overhead (bench/results/overhead.md).
USER_SHARE = {}


def recv_until(s, end):
    buf = b""
    while not buf.endswith(end):
        chunk = s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buf += chunk
    return buf


def key(i):
    return b"key:%06d" % i


class Text:
    def __init__(self, s, size):
        self.s, self.val = s, b"v" * size

    def set(self, k):
        self.s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (k, len(self.val), self.val))
        recv_until(self.s, b"\r\n")

    def get(self, ks):
        self.s.sendall(b"get " + b" ".join(ks) + b"\r\n")
        recv_until(self.s, b"END\r\n")


class Binary:
    def __init__(self, s, size):
        self.s, self.val = s, b"v" * size

    def _req(self, op, k, extras=b"", val=b""):
        body = extras + k + val
        hdr = struct.pack(">BBHBBHIIQ", 0x80, op, len(k), len(extras), 0, 0, len(body), 0, 0)
        self.s.sendall(hdr + body)
        h = b""
        while len(h) < 24:
            h += self.s.recv(24 - len(h))
        blen = struct.unpack(">I", h[8:12])[0]
        rest = b""
        while len(rest) < blen:
            rest += self.s.recv(blen - len(rest))

    def set(self, k):
        self._req(0x01, k, struct.pack(">II", 0, 0), self.val)

    def get(self, ks):
        for k in ks:
            self._req(0x00, k)


WORKLOADS = [
    # name, protocol, value size, share of sets, keys per get
    ("text get/set 90/10, 100 B", Text, 100, 0.10, 1),
    ("binary get/set 90/10, 100 B", Binary, 100, 0.10, 1),
    ("text 10-key multiget 90/10, 100 B", Text, 100, 0.10, 10),
    ("text get/set 50/50, 1 KiB", Text, 1024, 0.50, 1),
]


def drive(port, proto, size, set_share, nkeys, ops):
    """Warm up (every key set), then `ops` operations; a fixed seed makes
    both builds and both lengths see the same sequence."""
    s = socket.create_connection((HOST, port), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = proto(s, size)
    for i in range(KEYS):
        c.set(key(i))
    rnd = random.Random(7)
    done = 0
    while done < ops:
        if rnd.random() < set_share:
            c.set(key(rnd.randrange(KEYS)))
            done += 1
        else:
            c.get([key(rnd.randrange(KEYS)) for _ in range(nkeys)])
            done += nkeys
    s.close()


def thread_ir(prefix):
    """Instructions per thread kind: callgrind writes one file per thread.
    Returns (workers, answering, total): workers are the threads that ran
    conn_event (mcd's), answering those that called sendmsg (either
    server's), total every thread. The listener and mcd's background
    threads (expiry, LRU, rebalancer, admin) run on timers, so their share
    depends on how long a run took, not on its work."""
    workers = answering = total = 0
    d = os.path.dirname(prefix)
    for name in os.listdir(d):
        if not name.startswith(os.path.basename(prefix) + "-"):
            continue
        with open(os.path.join(d, name)) as f:
            text = f.read()
        m = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if not m:
            continue
        n = int(m.group(1))
        total += n
        if "conn_event" in text:
            workers += n
        if "sendmsg" in text:
            answering += n
    if not total:
        raise RuntimeError("no thread output under " + prefix)
    return workers, answering, total


def run_once(binary, w, ops, tmp):
    out = os.path.join(tmp, "cg.%d" % time.monotonic_ns())
    port = free_port()
    # -c: memcached sets the open-file limit to exactly -c, and valgrind
    # refuses any hard limit but its own (1024 less the 12 it keeps)
    argv = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
            "--callgrind-out-file=" + out, binary, "-p", str(port), "-l", HOST,
            "-U", "0", "-t", "4", "-m", "1024", "-c", "1012"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
        os.chmod(tmp, 0o777)
    log = open(out + ".log", "w")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                               (1024, 1024)))
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if p.poll() is not None or time.time() > deadline:
                    raise RuntimeError("server under valgrind did not start: see " + out + ".log")
                time.sleep(0.2)
        drive(port, w[1], w[2], w[3], w[4], ops)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()
    return thread_ir(out)


def user_shares():
    """u per workload: the "mcd user share" column of the overhead report."""
    path = SHARES_FROM
    shares, col = {}, None
    try:
        with open(path) as f:
            for line in f:
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if "mcd user share" in cells:
                    col = cells.index("mcd user share")
                elif col is not None and len(cells) > col and cells[0].endswith(", 32 conns"):
                    try:
                        shares[cells[0][:-len(", 32 conns")]] = float(cells[col])
                    except ValueError:
                        pass
    except OSError:
        pass
    return shares


def per_op(binary, w, tmp):
    """(workers, answering, total) instructions per operation, by difference."""
    one = run_once(binary, w, N, tmp)
    two = run_once(binary, w, 2 * N, tmp)
    return tuple((b - a) / N for a, b in zip(one, two))


def main_peer():
    tmp = tempfile.mkdtemp(prefix="mcd-ir-")
    rows = []
    for w in WORKLOADS:
        m = per_op(MCD_BIN, w, tmp)
        p = per_op(PEER_BIN, w, tmp)
        print("  %-36s mcd %6.0f/%6.0f  peer %6.0f/%6.0f instructions/op (all/answering)"
              % (w[0], m[2], m[1], p[2], p[1]), file=sys.stderr, flush=True)
        rows.append((w[0], m[2], p[2], m[1], p[1]))
    L = ["# User-space instructions per operation: mcd against %s" % os.path.basename(PEER_BIN),
         "",
         "- date: %s; %d operations measured per run (by difference, see bench/lib/ir.py)"
         % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), N),
         "- valgrind callgrind; both servers `-t 4 -m 1024`; one connection, request "
         "then reply, the same fixed sequence to both", "",
         "| workload | mcd, all threads | %s, all threads | ratio | mcd, answering threads "
         "| %s, answering threads | ratio |" % ((os.path.basename(PEER_BIN),) * 2),
         "|---|---:|---:|---:|---:|---:|---:|"]
    for name, ma, pa, mw, pw in rows:
        L.append("| %s | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |"
                 % (name, ma, pa, ma / pa, mw, pw, mw / pw))
    L.append("")
    L.append("All threads is what make bench's CPU per operation counts; answering threads "
             "are those that called sendmsg (the workers). memcached's LRU maintainer "
             "thread does per-operation work (moving items between its LRU segments) "
             "outside the workers. User space is only part of either server's CPU "
             "time under load (see the user share column of bench/results/latest.md); "
             "the rest is the kernel's, per syscall and alike for both.")
    text = "\n".join(L) + "\n"
    print(text)
    with open(OUT, "w") as f:
        f.write(text)


def main():
    import shutil
    if not shutil.which("valgrind"):
        sys.exit("ir.py needs valgrind: apt-get install valgrind")
    for b in (MCD_BIN, PEER_BIN or NOTRACK_BIN):
        if not os.access(b, os.X_OK):
            sys.exit("ir.py: %s is not an executable (memcached: apt-get install memcached)" % b)
    if PEER_BIN:
        return main_peer()
    tmp = tempfile.mkdtemp(prefix="mcd-ir-")
    shares = user_shares()
    rows = []
    for w in WORKLOADS:
        per = {}
        for name, binary in (("tracked", MCD_BIN), ("untracked", NOTRACK_BIN)):
            per[name] = per_op(binary, w, tmp)[0]
            print("  %-36s %-9s %8.0f instructions/op" % (w[0], name, per[name]),
                  file=sys.stderr, flush=True)
        r = per["tracked"] / per["untracked"]
        u = shares.get(w[0])
        est = 1 + u * (r - 1) if u is not None else None
        rows.append((w[0], per["tracked"], per["untracked"], r, u, est))
    L = ["# Tracking overhead in instructions: mcd against mcd -DMCD_NO_TRACKING", "",
         "- date: %s; %d operations measured per run (by difference, see bench/lib/ir.py)"
         % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), N),
         "- valgrind callgrind, user-space instructions of the worker threads (those "
         "that ran conn_event); one connection, request then reply", "",
         "| workload | tracked instr/op | untracked instr/op | ratio | user share of CPU | "
         "CPU cost estimate |",
         "|---|---:|---:|---:|---:|---:|"]
    for name, a, b, r, u, est in rows:
        L.append("| %s | %.0f | %.0f | %.3f | %s | %s |" % (
            name, a, b, r, "%.2f" % u if u is not None else "n/a",
            "%.3f" % est if est is not None else "n/a"))
    L.append("")
    L.append("The estimate is 1 + u x (ratio - 1): the tracking's extra instructions "
             "are all in user space, and u (the user-space share of the server's CPU "
             "time under memaslap's 32-connection load) comes from the \"mcd user "
             "share\" column of %s." % os.path.relpath(SHARES_FROM, ROOT))
    text = "\n".join(L) + "\n"
    print(text)
    with open(OUT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
