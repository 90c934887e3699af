"""loader.py - fill a server with N items over one pipelined connection.

Sets go out as "set <key> 0 0 <size> noreply" in batches from a writer
thread; the main thread reads whatever comes back (errors the server tells
even under noreply) so neither side can block the other. A final
"get <absent key>" fences the stream: when its END arrives, every set
before it has been executed.
"""
import socket
import threading

BATCH = 2000


def key(i):
    return b"bench:%010d" % i


def fill(port, n, size, host="127.0.0.1"):
    """Store n items of size bytes; returns the number of error lines seen."""
    value = b"v" * size
    s = socket.create_connection((host, port), timeout=120)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = b" 0 0 %d noreply\r\n" % size
    tail = value + b"\r\n"
    fence = b"get bench:fence:absent\r\n"

    def writer():
        for start in range(0, n, BATCH):
            parts = []
            for i in range(start, min(n, start + BATCH)):
                parts.append(b"set " + key(i) + head + tail)
            s.sendall(b"".join(parts))
        s.sendall(fence)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    errors = 0
    tail_bytes = b""
    while not tail_bytes.endswith(b"END\r\n"):
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        errors += chunk.count(b"ERROR")
        tail_bytes = (tail_bytes + chunk)[-16:]
    t.join()
    s.close()
    return errors
