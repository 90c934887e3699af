#!/usr/bin/perl
# Thousands of idle connections: 2000 clients connect, each sends one
# request, then all stay idle; every one of them is still served, and so is a
# new client. While they idle they hold no read buffer: those go back to the
# workers' pools between requests, so the admin socket's connection buffer
# bytes stay far below 2000 x 16 KiB.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;
use IPC::Open2;

my $path = "/tmp/mcd-idle-$$.admin";
my $srv = new_server('-c', '4096', '-o', "admin_socket=$path");
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
    s.sendall(b"version\r\n")
    if s.recv(100).startswith(b"VERSION"):
        ok += 1
print("open", len(conns), "answered", ok, flush=True)
sys.stdin.readline()        # idle until the test has read the memory figures
n = socket.create_connection(("127.0.0.1", port), timeout=10)
n.sendall(b"set fresh 0 0 1\r\nx\r\nget fresh\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    buf += n.recv(100)
print("fresh", b"VALUE fresh 0 1" in buf)
PY
my $pid = open2(my $from, my $to, '/usr/bin/python3', '-c', $py, $port) or die "python: $!";
my $first = <$from> // '';
like($first, qr/^open 2000 answered 2000$/, '2000 connections held, each answered once');
my $mem = admin_request($path, 'memory')->{data}{owners}{connections};
ok($mem->{count} >= 2000, "the admin socket sees them ($mem->{count})");
ok($mem->{buffer_bytes} < 1024 * 1024,
   "idle connections hold no read buffers ($mem->{buffer_bytes} buffer bytes for $mem->{count})");
my $per = int($mem->{bytes} / ($mem->{count} || 1));
ok($per < 4096, "an idle connection costs its structure only ($per bytes)");
ok($mem->{buffer_high_water} >= 16384, "buffers were in use while they were served ($mem->{buffer_high_water})");
print $to "\n";
close $to;
my $out = do { local $/; <$from> } // '';
waitpid $pid, 0;
like($out, qr/^fresh True$/m, 'a new client is served beside them');
my $st = mem_stats($srv->sock);
ok($st->{total_connections} >= 2001, "the server saw them all ($st->{total_connections})");
done_testing();
