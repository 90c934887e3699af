#!/usr/bin/python3
"""bench.py - mcd against memcached, side by side, as ratios (bench/README.md).

For each workload both servers are started fresh with the same flags, then
loaded one after the other by memaslap, ROUNDS times, the first server
alternating each round. Per run: memaslap's ops/s and the server's own CPU
time (utime+stime from /proc/PID/stat) divided by memaslap's ops. Then one
shorter run per server counts its syscalls (perf tracepoints, or strace -c).
The memory checks fill fresh servers with a pipelined loader. Medians of
the rounds go to a Markdown report on stdout and in bench/results/latest.md.

Environment: BENCH_QUICK=1 (1 round of 3 s), BENCH_ROUNDS=N, BENCH_SET=more
(only the big multi-get of make bench-more), BENCH_ONLY=TEXT
(only the workloads whose name holds TEXT), MCD_BIN, MEMCACHED_BIN,
MEMASLAP_BIN, BENCH_KEYFIX (the LD_PRELOAD shim; empty to send memaslap's
raw keys), BENCH_OUT (report path).
"""
import atexit
import datetime
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loader                     # noqa: E402
from servers import Server, HOST  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ROUNDS = int(os.environ.get("BENCH_ROUNDS") or (1 if QUICK else 5))
MORE_KEYS = 600          # make bench-more: keys per multi-get
ONLY = os.environ.get("BENCH_ONLY", "")   # run only workloads whose name holds this
SECS = 3 if QUICK else 10
SYS_SECS = 2 if QUICK else 4
MCD_BIN = os.environ.get("MCD_BIN", os.path.join(ROOT, "mcd", "mcd"))
MEMCACHED_BIN = os.environ.get("MEMCACHED_BIN", "/usr/bin/memcached")
MEMASLAP = os.environ.get("MEMASLAP_BIN", shutil.which("memcaslap") or "memcaslap")
KEYFIX = os.environ.get("BENCH_KEYFIX", os.path.join(ROOT, "build", "bench", "keyfix.so"))
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "bench", "results", "latest.md"))
BASE_FLAGS = ["-t", "4", "-m", "1024", "-U", "0", "-c", "4096"]
MIN_OPS_PER_SEC = 1000     # below this a run counts as failed
SYSCALLS = ["read", "readv", "recvfrom", "recvmsg", "sendmsg", "sendto", "write", "writev",
            "epoll_wait", "epoll_pwait", "epoll_ctl", "futex", "accept4"]

live = []                  # servers to stop on any exit


def stop_all():
    while live:
        live.pop().stop()


def on_signal(signum, frame):
    stop_all()
    sys.exit(128 + signum)


class Workload:
    def __init__(self, name, args, flags=(), conns=32):
        self.name = name
        self.args = ["-T", "2", "-c", str(conns)] + list(args)
        self.flags = BASE_FLAGS + list(flags)


def workloads(cfgdir):
    cfg50 = os.path.join(cfgdir, "set50.cfg")
    with open(cfg50, "w") as f:
        # memaslap -F: key and value sizes (min max proportion), then
        # commands (0 = set, 1 = get, proportion).
        f.write("key\n64 64 1\nvalue\n1024 1024 1\ncmd\n0 0.5\n1 0.5\n")
    if os.environ.get("BENCH_SET") == "more":
        # make bench-more: replies of more than IOV_MAX pieces, where MSG_MORE
        # can let a call's last packet carry the next call's first bytes.
        return [
            Workload("text %d-key multiget 90/10, 100 B, 8 conns" % MORE_KEYS,
                     ["-X", "100", "-d", str(MORE_KEYS)], conns=8),
        ]
    return [
        Workload("text get/set 90/10, 100 B, 32 conns", ["-X", "100"]),
        Workload("binary get/set 90/10, 100 B, 32 conns", ["-X", "100", "-B"]),
        Workload("text 10-key multiget 90/10, 100 B, 32 conns", ["-X", "100", "-d", "10"]),
        Workload("text get/set 50/50, 1 KiB, 32 conns", ["-F", cfg50]),
        # 4 conns x 1k window x 520000 B = 2 GB of keys: -m 4096 keeps them
        # all, so both servers serve hits rather than evict at their own pace.
        Workload("text get/set 90/10, 520000 B, 4 conns",
                 ["-X", "520000", "-w", "1k"], flags=["-I", "2m", "-m", "4096"], conns=4),
        Workload("text get/set 90/10, 100 B, 1000 conns", ["-X", "100", "-w", "1k"],
                 conns=1000),
    ]


def memaslap(port, args, secs):
    """One memaslap run; returns (ops, error text or None)."""
    cmd = [MEMASLAP, "-s", "%s:%d" % (HOST, port), "-t", "%ds" % secs] + args
    env = dict(os.environ)
    if KEYFIX:
        env["LD_PRELOAD"] = KEYFIX
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, timeout=secs + 20,
                           text=True, errors="replace")
    except subprocess.TimeoutExpired:
        return 0, "memaslap timed out"
    out = p.stdout + p.stderr
    m = re.search(r"Run time: ([\d.]+)s Ops: (\d+) TPS: (\d+)", out)
    if p.returncode != 0 or not m:
        return 0, "memaslap rc %d: %s" % (p.returncode, out.strip()[-200:])
    ops = int(m.group(2))
    errs = re.findall(r"^<\d+ (\S*ERROR.*)$", out, re.M)
    if len(errs) > ops // 1000:
        common = max(set(errs), key=errs.count)
        return ops, "%d error replies in %d ops, most often '%s'" % (len(errs), ops, common)
    if ops / secs < MIN_OPS_PER_SEC:
        return ops, "only %d ops in %d s" % (ops, secs)
    return ops, None


def timed_run(srv, args, secs):
    """ops/s and server CPU µs/op of one run, or an error."""
    u0, s0 = srv.cpu_split()
    t0 = time.monotonic()
    ops, err = memaslap(srv.port, args, secs)
    wall = time.monotonic() - t0
    u1, s1 = srv.cpu_split()
    cpu = (u1 - u0) + (s1 - s0)
    if not srv.alive():
        err = "server died"
    if err:
        return {"err": err}
    return {"ops_s": ops / secs, "cpu_us": cpu * 1e6 / ops, "ops": ops, "wall": wall,
            "user_share": (u1 - u0) / cpu if cpu > 0 else 0.0}


def perf_works():
    try:
        p = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"],
                           capture_output=True, text=True, timeout=20)
        return p.returncode == 0 and "not supported" not in p.stderr
    except (OSError, subprocess.TimeoutExpired):
        return False


def count_syscalls(srv, args, use_perf):
    """Run memaslap once under a syscall counter: (total, {name: n}, ops)."""
    if use_perf:
        events = (["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + s for s in SYSCALLS] +
                  ["net:net_dev_xmit"])
        cmd = ["perf", "stat", "-x,", "-p", str(srv.pid), "-e", ",".join(events)]
    else:
        cmd = ["strace", "-c", "-f", "-q", "-p", str(srv.pid)]
    fd, path = tempfile.mkstemp(prefix="bench-sys-")
    os.close(fd)
    with open(path, "w") as errf:
        tracer = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf)
        time.sleep(1.0 if not use_perf else 0.3)   # let it attach every thread
        ops, err = memaslap(srv.port, args, SYS_SECS)
        tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(timeout=30)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait()
    with open(path) as f:
        text = f.read()
    os.unlink(path)
    if err:
        return None
    per = {}
    total = 0
    if use_perf:
        for line in text.splitlines():
            cols = line.split(",")
            if len(cols) < 3 or not cols[0].strip().isdigit():
                continue
            ev, n = cols[2], int(cols[0])
            if ev == "raw_syscalls:sys_enter":
                total = n
            elif ev == "net:net_dev_xmit":
                per["packets"] = n
            elif n:
                per[ev.replace("syscalls:sys_enter_", "")] = n
    else:
        for line in text.splitlines():
            cols = line.split()
            if len(cols) >= 5 and cols[0][0].isdigit() and cols[-1] != "total":
                per[cols[-1]] = int(cols[3])
            elif cols and cols[-1] == "total":
                total = int(cols[2])
    return total, per, ops


def run_workload(w, log):
    res = {"mcd": [], "memcached": [], "sys": {}}
    mcd = Server("mcd", RUN_BIN["mcd"], w.flags, log)
    live.append(mcd)
    mc = Server("memcached", RUN_BIN["memcached"], w.flags, log)
    live.append(mc)
    pair = [("mcd", mcd), ("memcached", mc)]
    try:
        for r in range(ROUNDS):
            order = pair if r % 2 == 0 else pair[::-1]
            for name, srv in order:
                if res[name] and "err" in res[name][-1]:
                    continue         # a server that failed once is not retried
                one = timed_run(srv, w.args, SECS)
                res[name].append(one)
                say("  round %d %-9s %s" % (r + 1, name, fmt_run(one)))
        for name, srv in pair:
            if not any("err" not in x for x in res[name]) or not srv.alive():
                continue
            got = count_syscalls(srv, w.args, USE_PERF)
            if got and got[2]:
                total, per, ops = got
                pk = per.pop("packets", None)
                res["sys"][name] = {"per_op": total / ops,
                                    "packets": pk / ops if pk is not None else None,
                                    "top": {k: v / ops for k, v in per.items()}}
                say("  syscalls  %-9s %.2f/op %s" % (name, total / ops, fmt_top(res["sys"][name]["top"])))
    finally:
        for srv in (mcd, mc):
            srv.stop()
            live.remove(srv)
    return res


def fmt_run(one):
    if "err" in one:
        return "error: " + one["err"]
    return "%9.0f ops/s %6.2f µs CPU/op" % (one["ops_s"], one["cpu_us"])


def fmt_top(top):
    items = sorted(top.items(), key=lambda kv: -kv[1])[:4]
    return " ".join("%s %.2f" % (k, v) for k, v in items)


def paired_ratio(res, key):
    """Median over rounds of each round's mcd/memcached ratio: the two runs of
    a round are back to back, so slow drifts in the machine's load cancel."""
    a, b = res["mcd"], res["memcached"]
    if len(a) < ROUNDS or len(b) < ROUNDS or any("err" in x for x in a + b):
        return None
    return statistics.median(x[key] / y[key] for x, y in zip(a, b) if y[key])


def median_of(runs, key):
    vals = [x[key] for x in runs if "err" not in x]
    if not vals or len(vals) < len(runs) or len(runs) < ROUNDS:
        return None                  # any failed round fails the workload
    return statistics.median(vals)


def memory_checks(log):
    """RSS per item at two sizes, and items kept under -m 64."""
    rows = []
    for size, n in ((100, 100000 if QUICK else 400000), (2048, 50000 if QUICK else 200000)):
        got = {}
        for name, binary in (("mcd", RUN_BIN["mcd"]), ("memcached", RUN_BIN["memcached"])):
            srv = Server(name, binary, BASE_FLAGS, log)
            live.append(srv)
            try:
                time.sleep(0.3)
                before = srv.rss_bytes()
                errs = loader.fill(srv.port, n, size)
                time.sleep(1.0)      # let a background hash-table grow finish
                after = srv.rss_bytes()
                items = int(srv.stats().get("curr_items", 0))
                got[name] = (after - before) / n if items == n and not errs else None
                say("  %d x %d B %-9s RSS %+d KiB, %d items, %d errors" %
                    (n, size, name, (after - before) // 1024, items, errs))
            finally:
                srv.stop()
                live.remove(srv)
        rows.append(("RSS bytes per item, %d x %d B values (lower is better)" % (n, size),
                     got["mcd"], got["memcached"]))
    n = 400000 if QUICK else 1500000
    got = {}
    for name, binary in (("mcd", RUN_BIN["mcd"]), ("memcached", RUN_BIN["memcached"])):
        srv = Server(name, binary, BASE_FLAGS + ["-m", "64"], log)
        live.append(srv)
        try:
            loader.fill(srv.port, n, 100)
            st = srv.stats()
            got[name] = int(st.get("curr_items", 0))
            say("  -m 64, %d x 100 B %-9s curr_items %s evictions %s" %
                (n, name, st.get("curr_items"), st.get("evictions")))
        finally:
            srv.stop()
            live.remove(srv)
    rows.append(("items kept under -m 64 after %d x 100 B sets (higher is better)" % n,
                 got["mcd"], got["memcached"]))
    return rows


def say(s):
    print(s, file=sys.stderr, flush=True)


def r2(a, b):
    return "%.2f" % (a / b) if a is not None and b else "n/a"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return model, os.cpu_count(), platform.release(), load


def version_of(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def report(results, mem, started, load_start):
    model, ncpu, kernel, load_end = machine()
    L = []
    L.append("# mcd vs memcached: side-by-side benchmark")
    L.append("")
    L.append("- date: %s (took %d s)" % (started.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
                                         (datetime.datetime.now().astimezone() - started).total_seconds()))
    L.append("- machine: %d CPUs (nproc), %s, Linux %s; load average %s at start, %s at end"
             % (ncpu, model, kernel, load_start, load_end))
    L.append("- mcd: `%s` (git %s); memcached: %s; load: %s"
             % (os.path.relpath(MCD_BIN, ROOT), git_rev(), version_of([MEMCACHED_BIN, "-V"]),
                version_of([MEMASLAP, "-V"]).replace("\t", " ")))
    L.append("- mode: %s: %d round(s) of %d s per server per workload, first server "
             "alternating; medians. Server flags: `%s` (plus `-u nobody` as root)"
             % ("quick" if QUICK else "full", ROUNDS, SECS, " ".join(BASE_FLAGS)))
    L.append("- key shim: %s" % ("memaslap runs with bench/lib/keyfix.so (its binary key "
                                 "prefixes made printable, same keys to both servers)"
                                 if KEYFIX else "off (memaslap's raw keys)"))
    L.append("- syscalls counted by %s over a separate %d s run per server"
             % ("perf stat tracepoints" if USE_PERF else "strace -c -f", SYS_SECS))
    L.append("")
    L.append("| workload | mcd ops/s | memcached ops/s | ratio | mcd CPU µs/op | "
             "memcached CPU µs/op | ratio | paired CPU ratio | syscalls/req ratio | mcd user share |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w, res in results:
        a_ops, b_ops = median_of(res["mcd"], "ops_s"), median_of(res["memcached"], "ops_s")
        a_cpu, b_cpu = median_of(res["mcd"], "cpu_us"), median_of(res["memcached"], "cpu_us")
        sa, sb = res["sys"].get("mcd"), res["sys"].get("memcached")
        err = "n/a (error)"
        pc = paired_ratio(res, "cpu_us")
        us = median_of(res["mcd"], "user_share")
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            w.name,
            "%.0f" % a_ops if a_ops is not None else err,
            "%.0f" % b_ops if b_ops is not None else err,
            r2(a_ops, b_ops),
            "%.2f" % a_cpu if a_cpu is not None else err,
            "%.2f" % b_cpu if b_cpu is not None else err,
            r2(a_cpu, b_cpu),
            "%.2f" % pc if pc is not None else "n/a",
            r2(sa["per_op"], sb["per_op"]) if sa and sb else "n/a",
            "%.2f" % us if us is not None else "n/a"))
    L.append("")
    L.append("Ratios are mcd / memcached. Throughput: higher is better; CPU and syscalls: "
             "lower is better. Multiget ops count keys, as memaslap does. The paired "
             "CPU ratio is the median of each round's own ratio (its two runs are "
             "back to back). User share: the part of mcd's CPU time spent in user "
             "space (utime / (utime + stime)).")
    L.append("")
    fails = [(w, name, x["err"]) for w, res in results for name in ("mcd", "memcached")
             for x in res[name] if "err" in x]
    if fails:
        L.append("## Failures")
        L.append("")
        for w, name, err in fails:
            L.append("- %s, %s: %s" % (w.name, name, err))
        L.append("")
    L.append("## Syscalls per request")
    L.append("")
    L.append("Packets: loopback transmissions (perf's net:net_dev_xmit) made in the "
             "server's own threads, per request.")
    L.append("")
    L.append("| workload | mcd /op | memcached /op | mcd breakdown | memcached breakdown | "
             "mcd packets/op | memcached packets/op |")
    L.append("|---|---:|---:|---|---|---:|---:|")

    def pk(x):
        return "%.3f" % x["packets"] if x and x.get("packets") is not None else "n/a"
    for w, res in results:
        sa, sb = res["sys"].get("mcd"), res["sys"].get("memcached")
        L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            w.name, "%.2f" % sa["per_op"] if sa else "n/a", "%.2f" % sb["per_op"] if sb else "n/a",
            fmt_top(sa["top"]) if sa else "", fmt_top(sb["top"]) if sb else "", pk(sa), pk(sb)))
    L.append("")
    L.append("## Memory")
    L.append("")
    L.append("| measure | mcd | memcached | ratio |")
    L.append("|---|---:|---:|---:|")
    for name, a, b in mem:
        L.append("| %s | %s | %s | %s |" % (name, "%.0f" % a if a is not None else "n/a (error)",
                                          "%.0f" % b if b is not None else "n/a (error)", r2(a, b)))
    L.append("")
    L.append("## Every run")
    L.append("")
    for w, res in results:
        for name in ("mcd", "memcached"):
            L.append("- %s, %s: %s" % (w.name, name, "; ".join(fmt_run(x).strip() for x in res[name])))
    L.append("")
    return "\n".join(L)


USE_PERF = False
RUN_BIN = {}               # private copies of both binaries, taken at the start


def main():
    global USE_PERF
    for path in (MCD_BIN, MEMCACHED_BIN):
        if not os.access(path, os.X_OK):
            sys.exit("bench: %s is not executable" % path)
    if KEYFIX and not os.path.exists(KEYFIX):
        sys.exit("bench: %s missing (bench/run.sh builds it)" % KEYFIX)
    atexit.register(stop_all)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    USE_PERF = perf_works()
    started = datetime.datetime.now().astimezone()
    load_start = machine()[3]
    tmp = tempfile.mkdtemp(prefix="mcd-bench-")
    # Run copies: a rebuild during the run must not change what is measured.
    for name, path in (("mcd", MCD_BIN), ("memcached", MEMCACHED_BIN)):
        RUN_BIN[name] = os.path.join(tmp, name + "-" + os.path.basename(path))
        shutil.copy2(path, RUN_BIN[name])
    results = []
    for w in workloads(tmp):
        if ONLY and ONLY not in w.name:
            continue
        say("== %s" % w.name)
        results.append((w, run_workload(w, tmp)))
    mem = []
    if not ONLY and not os.environ.get("BENCH_SET"):
        say("== memory")
        mem = memory_checks(tmp)
    text = report(results, mem, started, load_start)
    print(text)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    say("bench: report in %s; server logs in %s" % (OUT, tmp))


if __name__ == "__main__":
    main()
