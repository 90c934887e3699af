#!/usr/bin/perl
# delete, flush_all (incl. delay and -F), verbosity, version, quit
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my $server = new_server();
my $sock = $server->sock;

sub cmd { send_recv($sock, $_[0]) }
sub setv { my ($k, $v) = @_; cmd("set $k 0 0 " . length($v) . "\r\n$v\r\n") }

# --- delete -------------------------------------------------------------------
is(setv("d1", "x"), "STORED\r\n");
is(cmd("delete d1\r\n"), "DELETED\r\n", "delete of an existing key");
mem_get_is($sock, "d1", undef, "deleted key is gone");
is(cmd("delete d1\r\n"), "NOT_FOUND\r\n", "second delete: NOT_FOUND");
is(cmd("delete never\r\n"), "NOT_FOUND\r\n", "delete of a key never set");
is(setv("d2", "x"), "STORED\r\n");
send_bytes($sock, "delete d2 noreply\r\ndelete d2 noreply\r\nversion\r\n");
like(read_line($sock), qr/^VERSION /, "delete noreply sends nothing (hit and miss)");
mem_get_is($sock, "d2", undef, "noreply delete took effect");
is(setv("d3", "x"), "STORED\r\n");
is(cmd("delete d3 0\r\n"), "DELETED\r\n", "legacy 'delete key 0' is accepted");
err_like(cmd("delete d3 10\r\n"), "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
    "delete with a non-zero time is refused");
err_like(cmd("delete\r\n"), "ERROR", "delete without a key");
err_like(cmd("delete a b c d\r\n"), "ERROR", "delete with too many tokens");
is(setv("d4", "x"), "STORED\r\n");
is(cmd("add d4 0 0 1\r\ny\r\n"), "NOT_STORED\r\n");
is(cmd("delete d4\r\n"), "DELETED\r\n");
is(cmd("add d4 0 0 1\r\ny\r\n"), "STORED\r\n", "add works after delete");

# --- flush_all ----------------------------------------------------------------
is(setv("f$_", "v$_"), "STORED\r\n") for 1 .. 5;
is(cmd("flush_all\r\n"), "OK\r\n", "flush_all");
mem_get_is($sock, "f$_", undef, "f$_ gone after flush_all") for 1 .. 5;
is(setv("after", "yes"), "STORED\r\n", "set right after flush_all");
mem_get_is($sock, "after", "yes", "item set right after flush_all survives");
is(cmd("add f1 0 0 1\r\nz\r\n"), "STORED\r\n", "add of a flushed key succeeds");
is(cmd("flush_all 0\r\n"), "OK\r\n", "flush_all 0");
mem_get_is($sock, "f1", undef, "flush_all 0 flushes at once");
is(setv("nr", "x"), "STORED\r\n");
send_bytes($sock, "flush_all noreply\r\nversion\r\n");
like(read_line($sock), qr/^VERSION /, "flush_all noreply sends nothing");
mem_get_is($sock, "nr", undef, "flush_all noreply took effect");
err_like(cmd("flush_all abc\r\n"), "CLIENT_ERROR invalid exptime argument", "flush_all with a bad delay");

# flush_all with a delay: items stay until the delay passes
{
    is(setv("later", "x"), "STORED\r\n");
    # memcached's clock has 1 s ticks and it fires "flush_all N" after N-1
    # ticks, i.e. 1-2 s after "flush_all 3"; an exact server takes 3 s
    is(cmd("flush_all 3\r\n"), "OK\r\n", "flush_all 3");
    mem_get_is($sock, "later", "x", "item still there right after a delayed flush");
    my $t0 = Time::HiRes::time();
    my $gone = wait_until(sub {
        send_bytes($sock, "get later\r\n");
        !defined read_value($sock);
    }, 6);
    ok($gone, "item gone after the flush delay (within 6 s)");
    my $dt = Time::HiRes::time() - $t0;
    ok($dt >= 0.9, "not flushed much before the delay (after ${dt}s)");
    # memcached's flush deadline has 1 s granularity: an item stored in the
    # same second as the deadline may still be flushed, so poll
    ok(wait_until(sub {
        setv("later2", "y") eq "STORED\r\n" or return 0;
        send_bytes($sock, "get later2\r\n");
        my $v = read_value($sock);
        $v && $v->{value} eq "y";
    }, 3), "items stored after the delayed flush fired are kept");
}

# --- flush_all disabled with -F -------------------------------------------------
SKIP: {
    skip "needs its own server (MCD_ADDR set)", 9 if external();
    my $nf = new_server('-F');
    my $s = $nf->sock;
    is(send_recv($s, "set keep 0 0 1\r\nk\r\n"), "STORED\r\n");
    err_like(send_recv($s, "flush_all\r\n"), "CLIENT_ERROR flush_all not allowed", "-F: flush_all refused");
    err_like(send_recv($s, "flush_all 0\r\n"), "CLIENT_ERROR flush_all not allowed", "-F: flush_all 0 refused");
    send_bytes($s, "flush_all noreply\r\nversion\r\n");
    like(read_line($s), qr/^VERSION /, "-F: flush_all noreply refused silently");
    # binary Flush is refused with memcached's status, 0x20 (auth error)
    my $b = $nf->new_sock;
    send_bytes($b, pack('CCnCCnNNQ>', 0x80, 0x08, 0, 0, 0, 0, 0, 0, 0));
    my ($magic, $op, $status, $bodylen) = unpack('CCx4nN', read_bytes($b, 24));
    read_bytes($b, $bodylen) if $bodylen;
    is(sprintf('%02x %02x %04x', $magic, $op, $status), '81 08 0020', '-F: binary Flush refused, status 0x20');
    mem_get_is($s, "keep", "k", "-F: nothing was flushed");
    # counted as memcached counts: every text flush_all, refused or not
    is(mem_stats($s)->{cmd_flush}, 3, '-F: the three refused flush_all counted in cmd_flush');
    my $st = mem_stats($s, "settings");
    is($st->{flush_enabled}, "no", "-F: stats settings flush_enabled no");
    $nf->stop;
}

# --- verbosity / version ------------------------------------------------------
is(cmd("verbosity 1\r\n"), "OK\r\n", "verbosity 1");
is(cmd("verbosity 0\r\n"), "OK\r\n", "verbosity 0");
send_bytes($sock, "verbosity 1 noreply\r\nverbosity 0 noreply\r\nversion\r\n");
like(read_line($sock), qr/^VERSION /, "verbosity noreply sends nothing");
err_like(cmd("verbosity\r\n"), "ERROR", "verbosity without a level");
err_like(cmd("verbosity abc\r\n"), "CLIENT_ERROR bad command line format", "verbosity with a bad level");
like(cmd("version\r\n"), qr/^VERSION [0-9][0-9A-Za-z.\-_+]*\r\n\z/, "version");
like(cmd("version extra\r\n"), qr/^VERSION /, "version ignores extra tokens");

# --- quit ----------------------------------------------------------------------
{
    my $q = $server->new_sock;
    is(send_recv($q, "set q 0 0 1\r\nq\r\n"), "STORED\r\n");
    send_bytes($q, "quit\r\nget q\r\n");
    my ($eof, $data) = expect_eof($q, 5);
    ok($eof, "quit closes the connection");
    is($data, "", "nothing is answered after quit (pipelined get ignored)");
    mem_get_is($sock, "q", "q", "other connections unaffected");
}

done_testing();
