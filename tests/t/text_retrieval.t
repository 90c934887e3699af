#!/usr/bin/perl
# Retrieval commands: get/gets (multi-key), gat/gats, touch, key limits.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my $server = new_server();
my $sock = $server->sock;

sub cmd { send_recv($sock, $_[0]) }

# read every VALUE of a multi-get up to END: list of {key flags value cas}
sub read_multi {
    my ($s) = @_;
    my @vals;
    while (1) {
        my $l = read_line($s);
        die "EOF in multi-get\n" unless defined $l;
        last if $l eq "END\r\n";
        my ($k, $f, $n, $c) = $l =~ /^VALUE ([^ ]+) (\d+) (\d+)(?: (\d+))?\r\n\z/
            or die "bad multi-get line: $l";
        my $d = read_bytes($s, $n + 2);
        substr($d, -2) eq "\r\n" or die "value without \\r\\n";
        push @vals, { key => $k, flags => $f, value => substr($d, 0, $n), cas => $c };
    }
    return \@vals;
}

# --- missing keys ---------------------------------------------------------
is(cmd("get nothere\r\n"), "END\r\n", "get of a missing key: END");
is(cmd("gets nothere\r\n"), "END\r\n", "gets of a missing key: END");
is(cmd("get a b c d\r\n"), "END\r\n", "multi-get of missing keys: END only");

# --- multi-key get/gets ----------------------------------------------------
is(cmd("set k1 1 0 2\r\nv1\r\n"), "STORED\r\n");
is(cmd("set k2 2 0 2\r\nv2\r\n"), "STORED\r\n");
is(cmd("set k3 3 0 0\r\n\r\n"), "STORED\r\n");
send_bytes($sock, "get k1 missing k2 k3 k1\r\n");
my $vals = read_multi($sock);
is_deeply([map { [$_->{key}, $_->{flags}, $_->{value}] } @$vals],
    [[k1 => 1, 'v1'], [k2 => 2, 'v2'], [k3 => 3, ''], [k1 => 1, 'v1']],
    "multi-get: hits in request order, misses skipped, repeats repeated");
ok(!grep({ defined $_->{cas} } @$vals), "get does not report cas");

send_bytes($sock, "gets k1 k2 missing k3\r\n");
$vals = read_multi($sock);
is(scalar @$vals, 3, "gets returns the three hits");
ok(!grep({ !defined $_->{cas} || $_->{cas} !~ /^\d+$/ } @$vals), "gets reports a cas for every value");
my %cas = map { $_->{key} => $_->{cas} } @$vals;
is(scalar(keys %{{ reverse %cas }}), 3, "cas uniques differ between items");

send_bytes($sock, "get  k1   k2 \r\n");
$vals = read_multi($sock);
is_deeply([map { $_->{key} } @$vals], [qw(k1 k2)], "extra spaces between keys are ignored");

# many keys in one get
{
    my @keys = map { "mk$_" } 1 .. 100;
    send_bytes($sock, join('', map { "set $_ 0 0 " . length($_) . " noreply\r\n$_\r\n" } @keys));
    send_bytes($sock, "get " . join(' ', @keys) . "\r\n");
    $vals = read_multi($sock);
    is_deeply([map { $_->{value} } @$vals], \@keys, "get with 100 keys");
}

# --- key length -----------------------------------------------------------
{
    my $k250 = 'K' x 250;
    my $k251 = 'K' x 251;
    is(cmd("set $k250 0 0 3\r\nmax\r\n"), "STORED\r\n", "set of a 250-byte key");
    mem_get_is($sock, $k250, "max", "get of a 250-byte key");
    err_like(cmd("get $k251\r\n"), "CLIENT_ERROR bad command line format", "get of a 251-byte key");
    err_like(cmd("gets $k251\r\n"), "CLIENT_ERROR bad command line format", "gets of a 251-byte key");
    # memcached answers only the error when one key of a multi-get is too long
    err_like(cmd("get k1 $k251\r\n"), "CLIENT_ERROR bad command line format",
        "multi-get containing a 251-byte key: only the error");
    err_like(cmd("set $k251 0 0 1\r\n"), "CLIENT_ERROR bad command line format", "set of a 251-byte key");
    err_like(cmd("touch $k251 10\r\n"), "CLIENT_ERROR bad command line format", "touch of a 251-byte key");
    err_like(cmd("delete $k251\r\n"), "CLIENT_ERROR bad command line format", "delete of a 251-byte key");
    err_like(cmd("incr $k251 1\r\n"), "CLIENT_ERROR bad command line format", "incr of a 251-byte key");
    err_like(cmd("gat 0 $k251\r\n"), "CLIENT_ERROR bad command line format", "gat of a 251-byte key");
    like(cmd("version\r\n"), qr/^VERSION /, "connection usable after key errors");
}

# --- keys with control characters ------------------------------------------
# memcached's text protocol splits on spaces only: other control bytes are
# part of the key, and mcd does the same by default (memaslap relies on it).
# With -o strict_keys mcd refuses them with a coded CLIENT_ERROR and keeps
# the connection usable (tests/t/strict_keys.t).
{
    my $ck = "ctl\x01key\x7f";
    my $tk = "tab\tkey";
    {
        is(cmd("set $ck 0 0 3\r\nctl\r\n"), "STORED\r\n", "set of a key with control bytes");
        mem_get_is($sock, $ck, "ctl", "get of a key with control bytes");
        mem_get_is($sock, "ctl", undef, "the key is not split at control bytes");
        is(cmd("set $tk 0 0 1\r\nt\r\n"), "STORED\r\n", "set of a key with a tab");
        mem_get_is($sock, $tk, "t", "tab is part of the key");
        mem_get_is($sock, "tab", undef, "no key 'tab'");
        send_bytes($sock, "get $ck k1\r\n");
        $vals = read_multi($sock);
        is_deeply([map { $_->{key} } @$vals], [$ck, 'k1'], "multi-get with a control-byte key");
    }
}

# --- touch ------------------------------------------------------------------
is(cmd("touch k1 100\r\n"), "TOUCHED\r\n", "touch of an existing key");
is(cmd("touch nothere 100\r\n"), "NOT_FOUND\r\n", "touch of a missing key");
err_like(cmd("touch k1 abc\r\n"), "CLIENT_ERROR invalid exptime argument", "touch with a bad exptime");
err_like(cmd("touch k1\r\n"), "ERROR", "touch without an exptime");
send_bytes($sock, "touch k1 0 noreply\r\ntouch nothere 0 noreply\r\nversion\r\n");
like(read_line($sock), qr/^VERSION /, "touch noreply sends nothing");
mem_get_is($sock, "k1", { value => "v1", flags => 1 }, "touch keeps the value and flags");
is(cmd("touch k2 -1\r\n"), "TOUCHED\r\n", "touch with a negative exptime");
mem_get_is($sock, "k2", undef, "negative touch expires the item at once");
is(cmd("set k2 2 0 2\r\nv2\r\n"), "STORED\r\n");

# --- gat / gats ----------------------------------------------------------------
send_bytes($sock, "gat 100 k1 missing k2\r\n");
$vals = read_multi($sock);
is_deeply([map { [$_->{key}, $_->{flags}, $_->{value}, $_->{cas}] } @$vals],
    [[k1 => 1, 'v1', undef], [k2 => 2, 'v2', undef]], "gat returns values like get");
send_bytes($sock, "gats 100 k1 k2\r\n");
$vals = read_multi($sock);
is(scalar(grep { defined $_->{cas} } @$vals), 2, "gats returns cas uniques");
{
    my ($c1) = mem_gets($sock, "k1");
    is($vals->[0]{cas}, $c1, "gats cas equals gets cas");
    is(cmd("cas k1 1 0 3 $c1\r\nnew\r\n"), "STORED\r\n", "cas with the unique from gats");
}
is(cmd("gat 100 missing\r\n"), "END\r\n", "gat of a missing key");
err_like(cmd("gat abc k1\r\n"), "CLIENT_ERROR invalid exptime argument", "gat with a bad exptime");
err_like(cmd("gat k1\r\n"), "CLIENT_ERROR invalid exptime argument", "gat without an exptime");
err_like(cmd("gat\r\n"), "ERROR", "bare gat");
send_bytes($sock, "gat -1 k2\r\n");
$vals = read_multi($sock);
is_deeply([map { $_->{value} } @$vals], ['v2'], "gat -1 still returns the value");
mem_get_is($sock, "k2", undef, "gat -1 expired the item");

# --- a reply of more pieces than one sendmsg takes (IOV_MAX) ------------------------
{
    # each hit is a header and a value in separate pieces: 1500 hits are
    # about 3000, sent in several calls that must arrive whole and in order
    my @k = map { sprintf "iov%04d", $_ } 1 .. 1500;
    send_bytes($sock, join('', map { "set $_ 0 0 " . length("val-$_") . " noreply\r\nval-$_\r\n" } @k));
    send_bytes($sock, "get " . join(' ', @k) . "\r\n");
    my $got = read_multi($sock);
    is(scalar @$got, 1500, "1500-key multi-get: every value arrives");
    is_deeply([map { $_->{key} } @$got], \@k, "1500-key multi-get: in request order");
    is(scalar(grep { $_->{value} ne "val-$_->{key}" } @$got), 0, "1500-key multi-get: every value intact");
}

# --- malformed gets -----------------------------------------------------------------
err_like(cmd("get\r\n"), "ERROR", "get without a key");
err_like(cmd("gets\r\n"), "ERROR", "gets without a key");
err_like(cmd("GET k1\r\n"), "ERROR", "commands are case sensitive");
mem_get_is($sock, "k1", "new", "data intact");

done_testing();
