#!/usr/bin/perl
# Three mcd used directly by libmemcached's consistent hashing (ketama),
# from pylibmc and from the command-line tools: keys spread over all three,
# every round trip is correct, and once a server is stopped pylibmc
# (auto_eject) routes its keys to the other two.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my $PY = '/usr/bin/python3';
plan skip_all => "needs its own servers" if external();
plan skip_all => "$PY not found" unless -x $PY;
system($PY, '-c', 'import pylibmc') == 0
    or plan skip_all => "pylibmc is not installed for $PY (apt-get install python3-pylibmc)";

my @srv = map { new_server() } 1 .. 3;
my $list = join ',', map { "127.0.0.1:" . $_->port } @srv;
sub items { map { mem_stats($_->new_sock)->{curr_items} } @_ }

# The script runs in phases so the test can stop a server in between: it
# reads one command per line on stdin ("roundtrip", "failover") and prints
# PASS/FAIL lines, then "READY" when a phase is done.
my $script = <<'PY';
import signal, sys
import pylibmc
signal.alarm(60)        # a wall-clock bound; SIGALRM ends the script

servers = sys.argv[1].split(",")
c = pylibmc.Client(servers, behaviors={
    "ketama": True, "cas": True, "connect_timeout": 1000,
    "receive_timeout": 1000000, "send_timeout": 1000000,
    # eject a server after one failure and keep it out for 60 s (with
    # libmemcached 1.1.4, remove_failed alone does not rebuild the continuum)
    "auto_eject": True, "failure_limit": 1, "retry_timeout": 60})

def check(name, cond, detail=""):
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else ": " + repr(detail)), flush=True)

N = 1000
def roundtrip():
    check("flags say ketama", c.behaviors["ketama"] == 1, c.behaviors)
    check("set_multi of %d" % N, c.set_multi({"key%d" % i: b"val%d" % i for i in range(N)}) == [])
    got = c.get_multi(["key%d" % i for i in range(N)])
    check("get_multi of %d" % N, got == {"key%d" % i: b"val%d" % i for i in range(N)}, len(got))
    check("get", c.get("key7") == b"val7")
    v, cas = c.gets("key1")
    check("cas", c.cas("key1", b"new", cas) is True and c.cas("key1", b"old", cas) is False
          and c.get("key1") == b"new")
    c.set("n", b"10")
    check("incr/decr", c.incr("n", 5) == 15 and c.decr("n", 20) == 0)
    check("touch", c.touch("key2", 100) is True and c.touch("nokey", 100) is False)
    check("delete", c.delete("key3") is True and c.get("key3") is None
          and c.delete("key3") is False)

def failover():
    # the first failure takes the server off the continuum
    stored = 0
    for attempt in range(3):
        stored = 0
        for i in range(200):
            try:
                if c.set("after%d" % i, b"x"):
                    stored += 1
            except pylibmc.Error:
                pass
        if stored == 200:
            break
    check("after the failure every set succeeds", stored == 200, stored)
    got = c.get_multi(["after%d" % i for i in range(200)])
    check("every new key reads back", len(got) == 200, len(got))

for line in sys.stdin:
    {"roundtrip": roundtrip, "failover": failover}[line.strip()]()
    print("READY", flush=True)
PY

use IPC::Open2;
my $pid = open2(my $from, my $to, $PY, '-c', $script, $list);
$to->autoflush(1);
sub phase {
    my ($name) = @_;
    print $to "$name\n";
    while (defined(my $line = read_line($from, 60))) {
        chomp $line;
        return 1 if $line eq 'READY';
        if ($line =~ /^PASS (.*)$/) { pass("ketama $name: $1") }
        elsif ($line =~ /^FAIL (.*)$/) { fail("ketama $name: $1") }
        else { diag "python: $line" }
    }
    fail("ketama $name: the script ended early");
    return 0;
}

phase("roundtrip");
my @items = items(@srv);
my $sum = 0;
$sum += $_ for @items;
is($sum, 1001 - 1, "every key is on exactly one server (@items; one deleted, one counter)");
ok(!grep({ $_ < 50 } @items), "keys spread over all three servers (@items)");

# another client finds each key on exactly one server
SKIP: {
    skip "memccat not installed", 3 unless -x '/usr/bin/memccat';
    for my $k (qw(key7 key500 key999)) {
        my @found = grep {
            my ($st, $out) = run_bin(["--servers=127.0.0.1:" . $_->port, $k],
                                     bin => '/usr/bin/memccat');
            $st == 0 && $out eq "val" . substr($k, 3) . "\n";
        } @srv;
        is(scalar @found, 1, "memccat finds $k on exactly one server");
    }
}

$srv[1]->stop;
ok(!$srv[1]->alive, "server 2 stopped");
phase("failover");
my @after = items(@srv[0, 2]);
cmp_ok($after[0] + $after[1] - $items[0] - $items[2], '>=', 200,
       "the 200 new keys are on the remaining servers (@after)");

close $to;
waitpid($pid, 0);
is($?, 0, "the pylibmc script exited 0");
done_testing();
