"""servers.py - start, watch and stop the two servers under test.

Each server is started by this process on a free 127.0.0.1 port, checked to
be the process that owns the listening socket (another server on the same
port must never be measured by mistake), and stopped by its own pid.
"""
import os
import re
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"


def free_port():
    """A port nothing listens on right now (the server gets it next)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _listen_inodes(port):
    """Socket inodes listening on HOST:port, from /proc/net/tcp."""
    want = "0100007F:%04X" % port
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == want and cols[3] == "0A":   # 0A = LISTEN
                inodes.add(cols[9])
    return inodes


def _owns_socket(pid, inodes):
    fd_dir = "/proc/%d/fd" % pid
    try:
        for fd in os.listdir(fd_dir):
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", link)
            if m and m.group(1) in inodes:
                return True
    except OSError:
        pass
    return False


class Server:
    """One server process: name, argv, port, pid; stop() is idempotent."""

    def __init__(self, name, binary, flags, logdir):
        self.name = name
        self.port = free_port()
        argv = [binary, "-p", str(self.port), "-l", HOST] + flags
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        self.argv = argv
        self.log = open(os.path.join(logdir, "%s-%d.log" % (name, self.port)), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start (rc %s): %s" %
                                   (self.name, self.proc.returncode, " ".join(self.argv)))
            inodes = _listen_inodes(self.port)
            if inodes:
                if not _owns_socket(self.pid, inodes):
                    self.stop()
                    raise RuntimeError("port %d is held by another process" % self.port)
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not listen on %d" % (self.name, self.port))

    def alive(self):
        return self.proc.poll() is None

    def cpu_seconds(self):
        """utime + stime of every thread so far, from /proc/PID/stat."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK   # fields 14, 15

    def cpu_split(self):
        """(utime, stime) in seconds, every thread so far."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK

    def rss_bytes(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stats(self):
        """The 'stats' reply as a dict of strings."""
        out = {}
        with socket.create_connection((HOST, self.port), timeout=10) as s:
            s.sendall(b"stats\r\n")
            buf = b""
            while not buf.endswith(b"END\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        for line in buf.decode("latin-1").split("\r\n"):
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] == "STAT":
                out[parts[1]] = parts[2]
        return out

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
