#!/usr/bin/perl
# Expiration: relative, negative, absolute, 30-day boundary, touch/gat.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use McdTest;

my $server = new_server();
my $sock = $server->sock;

sub cmd { send_recv($sock, $_[0]) }
sub setx { my ($k, $exp, $v) = @_; $v //= "v"; cmd("set $k 0 $exp " . length($v) . "\r\n$v\r\n") }
sub present {
    my ($k) = @_;
    send_bytes($sock, "get $k\r\n");
    return defined read_value($sock);
}

# --- immediate expiry --------------------------------------------------------
is(setx("neg", -1), "STORED\r\n", "set with exptime -1 is STORED");
ok(!present("neg"), "negative exptime: expired at once");
is(cmd("add neg 0 0 1\r\nn\r\n"), "STORED\r\n", "add over an expired key succeeds");
mem_get_is($sock, "neg", "n");

my $now = int(time());
is(setx("past", $now - 3600), "STORED\r\n", "set with an absolute time in the past");
ok(!present("past"), "absolute past exptime: expired at once");
is(setx("old", 1_000_000_000), "STORED\r\n", "set with absolute time in 2001");
ok(!present("old"), "absolute 2001 exptime: expired");
is(setx("future", $now + 3600), "STORED\r\n", "set with an absolute time in the future");
ok(present("future"), "absolute future exptime: present");

# 30 days (2592000 s) is the largest relative time; above that it is absolute
is(setx("rel30", 2592000), "STORED\r\n");
ok(present("rel30"), "exptime 2592000 is relative (30 days ahead)");
is(setx("abs30", 2592001), "STORED\r\n");
ok(!present("abs30"), "exptime 2592001 is an absolute time in 1970: expired");

is(setx("n", -1, "5"), "STORED\r\n");
is(cmd("incr n 1\r\n"), "NOT_FOUND\r\n", "incr of an expired item: NOT_FOUND");
is(cmd("touch n 10\r\n"), "NOT_FOUND\r\n", "touch of an expired item: NOT_FOUND");
is(cmd("replace n 0 0 1\r\nx\r\n"), "NOT_STORED\r\n", "replace of an expired item: NOT_STORED");

# --- timed expiry (all clocks run in parallel) ------------------------------------
# memcached's clock ticks once a second, so an item with exptime N lives
# between N-1 and N+1 seconds. Poll instead of sleeping.
my $t0 = time();
is(setx("rel2", 2), "STORED\r\n", "set with exptime 2");
is(setx("rel1", 1), "STORED\r\n", "set with exptime 1");
is(setx("abs2", int($t0) + 3), "STORED\r\n", "set with an absolute time 3 s ahead");
is(setx("tlonger", 1), "STORED\r\n");
is(cmd("touch tlonger 100\r\n"), "TOUCHED\r\n", "touch extends an exptime-1 item");
is(setx("tshorter", 0), "STORED\r\n");
is(cmd("touch tshorter 1\r\n"), "TOUCHED\r\n", "touch gives a permanent item exptime 1");
is(setx("gatlonger", 1), "STORED\r\n");
send_bytes($sock, "gat 100 gatlonger\r\n");
ok(defined read_value($sock), "gat 100 returns the item");
is(setx("gatshorter", 0), "STORED\r\n");
send_bytes($sock, "gats 1 gatshorter\r\n");
ok(defined read_value($sock), "gats 1 returns the item");
is(setx("nettl", 1), "STORED\r\n");
is(setx("nettl", 0), "STORED\r\n", "re-set without exptime");

ok(present("rel2"), "exptime 2: present right after set");
ok(present("abs2"), "absolute time 3 s ahead: present right after set");

ok(wait_until(sub { !present("rel1") }, 4), "exptime 1: expires");
my $dt1 = time() - $t0;
ok(wait_until(sub { !present("rel2") }, 5), "exptime 2: expires");
my $dt2 = time() - $t0;
cmp_ok($dt2, '>=', 0.9, "exptime 2 lived at least ~1 s");
cmp_ok($dt2, '<=', 4, "exptime 2 gone within ~3 s");
ok(wait_until(sub { !present("tshorter") }, 3), "touch 1: permanent item expires");
ok(wait_until(sub { !present("gatshorter") }, 3), "gats 1: permanent item expires");
ok(wait_until(sub { !present("abs2") }, 5), "absolute time 3 s ahead: expires");
ok(present("tlonger"), "touch 100 kept the item past its old exptime");
ok(present("gatlonger"), "gat 100 kept the item past its old exptime");
ok(present("nettl"), "a re-set without exptime replaced the old exptime");
ok(present("future"), "absolute future item still there");
diag sprintf("exptime 1 expired after %.2fs, exptime 2 after %.2fs", $dt1, $dt2)
    if $ENV{TEST_VERBOSE};

# --- expired items are invisible to every command ---------------------------------
is(cmd("add rel2 0 0 1\r\na\r\n"), "STORED\r\n", "add over a timed-out key");
is(cmd("append rel1 0 0 1\r\na\r\n"), "NOT_STORED\r\n", "append to a timed-out key: NOT_STORED");
is(cmd("delete tshorter\r\n"), "NOT_FOUND\r\n", "delete of a timed-out key: NOT_FOUND");
is(cmd("cas abs2 0 0 1 1\r\na\r\n"), "NOT_FOUND\r\n", "cas of a timed-out key: NOT_FOUND");

done_testing();
