#!/usr/bin/perl
# Thousands of idle connections: 2000 clients connect and stay idle; every
# one of them is still served, and so is a new client.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;

my $srv = new_server('-c', '4096');
my $port = $srv->port;
my $py = <<'PY';
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = min(hard, 4096)
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
port = int(sys.argv[1])
conns = []
for i in range(2000):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    conns.append(s)
ok = 0
for i, s in enumerate(conns):
    if i % 100 == 0:        # a sample of the idle ones, after all are open
        s.sendall(b"version\r\n")
        if s.recv(100).startswith(b"VERSION"):
            ok += 1
print("open", len(conns), "answered", ok)
n = socket.create_connection(("127.0.0.1", port), timeout=10)
n.sendall(b"set fresh 0 0 1\r\nx\r\nget fresh\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    buf += n.recv(100)
print("fresh", b"VALUE fresh 0 1" in buf)
PY
open my $fh, '-|', '/usr/bin/python3', '-c', $py, $port or die "python: $!";
my $out = do { local $/; <$fh> } // '';
close $fh;
like($out, qr/^open 2000 answered 20$/m, '2000 idle connections held, the sampled ones answer');
like($out, qr/^fresh True$/m, 'a new client is served beside them');
my $st = mem_stats($srv->sock);
ok($st->{total_connections} >= 2001, "the server saw them all ($st->{total_connections})");
done_testing();
