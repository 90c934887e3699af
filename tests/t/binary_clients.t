#!/usr/bin/perl
# Real binary-protocol clients against the server: libmemcached's
# memccapable binary suite, and pylibmc in binary mode. Skips a client that
# is not installed rather than failing.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 120;

my $bin = server_bin();
my $srv = new_server();
my $port = $srv->port;
my $s;
for (1 .. 500) {
    $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") and last;
    select undef, undef, undef, 0.02;
}
ok($s, "server accepts connections") or BAIL_OUT("no server");
close $s;

SKIP: {
    skip "memccapable not installed", 2 unless -x "/usr/bin/memccapable";
    my $out = `/usr/bin/memccapable -h 127.0.0.1 -p $port -b -t 10 2>&1`;
    is($? >> 8, 0, "memccapable -b exits 0");
    like($out, qr/All tests passed/, "memccapable binary suite passes")
        or diag $out;
}

my $py = <<'EOF';
import sys, pylibmc
c = pylibmc.Client(["127.0.0.1:%s" % sys.argv[1]], binary=True,
                   behaviors={"cas": True})
def check(name, got, want):
    print("%s - %s" % ("ok" if got == want else "not ok", name))
    if got != want:
        print("# got %r want %r" % (got, want))
check("set", c.set("a", "1"), True)
check("get", c.get("a"), "1")
check("get miss", c.get("nope"), None)
c.set("b", b"\x00\xffbinary")
check("binary-safe value", c.get("b"), b"\x00\xffbinary")
check("get_multi", c.get_multi(["a", "b", "nope"]), {"a": "1", "b": b"\x00\xffbinary"})
check("set_multi", c.set_multi({"m1": "x", "m2": "y"}), [])
check("get_multi after set_multi", c.get_multi(["m1", "m2"]), {"m1": "x", "m2": "y"})
check("incr", c.incr("a", 5), 6)
check("decr", c.decr("a", 2), 4)
v, cas = c.gets("a")
check("gets", v, "4")
check("cas", c.cas("a", "9", cas), True)
check("stale cas", c.cas("a", "10", cas), False)
check("cas stored", c.get("a"), "9")
check("append", c.append("a", "x"), True)
check("prepend", c.prepend("a", "y"), True)
check("appended", c.get("a"), "y9x")
check("add existing", c.add("a", "z"), False)
check("replace", c.replace("a", "r"), True)
check("delete", c.delete("a"), True)
check("deleted", c.get("a"), None)
check("delete missing", c.delete("a"), False)
check("touch", c.touch("b", 100), True)
big = "v" * 200000
c.set("big", big)
check("large value", c.get("big"), big)
check("stats", "pid" in c.get_stats()[0][1], True)
EOF

SKIP: {
    my $have = system('/usr/bin/python3', '-c', 'import pylibmc') == 0;
    skip "pylibmc not installed for /usr/bin/python3", 1 unless $have;
    open my $fh, '-|', '/usr/bin/python3', '-c', $py, $port or die;
    my @lines = <$fh>;
    close $fh;
    is($? >> 8, 0, "pylibmc script exits 0") or diag @lines;
    for (@lines) {
        if (/^(not )?ok - (.*)$/) { ok(!$1, "pylibmc binary: $2") }
        elsif (/^#/) { diag $_ }
    }
}

my $st = $srv->stop;
ok(!$srv->was_killed, 'server exits on SIGTERM');
is(($st // 0) >> 8, 0, 'exit status 0') unless $srv->was_killed;
done_testing();
