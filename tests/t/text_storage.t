#!/usr/bin/perl
# Storage commands of the text protocol: set/add/replace/append/prepend/cas.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my $server = new_server();
my $sock = $server->sock;

sub cmd { send_recv($sock, $_[0]) }

# --- set / add / replace ---------------------------------------------------
is(cmd("set foo 0 0 3\r\nbar\r\n"), "STORED\r\n", "set");
mem_get_is($sock, "foo", "bar");
is(cmd("set foo 0 0 4\r\nbarr\r\n"), "STORED\r\n", "set overwrites");
mem_get_is($sock, "foo", "barr");
is(cmd("set empty 0 0 0\r\n\r\n"), "STORED\r\n", "set of an empty value");
mem_get_is($sock, "empty", "", "empty value comes back empty");

is(cmd("add foo 0 0 3\r\nnew\r\n"), "NOT_STORED\r\n", "add on existing key");
mem_get_is($sock, "foo", "barr", "add did not overwrite");
is(cmd("add addkey 0 0 3\r\nnew\r\n"), "STORED\r\n", "add on new key");
mem_get_is($sock, "addkey", "new");

is(cmd("replace nokey 0 0 1\r\nx\r\n"), "NOT_STORED\r\n", "replace on missing key");
mem_get_is($sock, "nokey", undef, "replace did not create the key");
is(cmd("replace foo 7 0 5\r\nhello\r\n"), "STORED\r\n", "replace on existing key");
mem_get_is($sock, "foo", { value => "hello", flags => 7 }, "replace changed value and flags");

# --- append / prepend --------------------------------------------------------
is(cmd("append nokey 0 0 1\r\nx\r\n"), "NOT_STORED\r\n", "append on missing key");
is(cmd("prepend nokey 0 0 1\r\nx\r\n"), "NOT_STORED\r\n", "prepend on missing key");
mem_get_is($sock, "nokey", undef, "append/prepend did not create the key");
is(cmd("set ap 5 0 3\r\nmid\r\n"), "STORED\r\n", "set for append");
is(cmd("append ap 9 0 4\r\n-end\r\n"), "STORED\r\n", "append");
is(cmd("prepend ap 9 0 6\r\nstart-\r\n"), "STORED\r\n", "prepend");
mem_get_is($sock, "ap", { value => "start-mid-end", flags => 5 },
    "append/prepend join data and keep the original flags");
is(cmd("append ap 0 0 0\r\n\r\n"), "STORED\r\n", "append of nothing");
mem_get_is($sock, "ap", "start-mid-end", "append of nothing changes nothing");

# --- cas -------------------------------------------------------------------
{
    my ($cas, $val) = mem_gets($sock, "foo");
    ok(defined $cas && $cas =~ /^\d+$/, "gets returns a numeric cas unique");
    is($val, "hello", "gets returns the value");
    is(cmd("cas foo 0 0 3 " . ($cas + 1000) . "\r\nbad\r\n"), "EXISTS\r\n", "cas with a wrong unique");
    mem_get_is($sock, "foo", "hello", "failed cas left the value");
    is(cmd("cas foo 3 0 3 $cas\r\nnew\r\n"), "STORED\r\n", "cas with the right unique");
    mem_get_is($sock, "foo", { value => "new", flags => 3 });
    is(cmd("cas foo 0 0 3 $cas\r\nold\r\n"), "EXISTS\r\n", "cas unique is single use");
    my ($cas2) = mem_gets($sock, "foo");
    isnt($cas2, $cas, "cas unique changed after a store");
    is(cmd("cas missingkey 0 0 1 $cas\r\nx\r\n"), "NOT_FOUND\r\n", "cas on a missing key");
    is(cmd("set foo 0 0 1\r\nz\r\n"), "STORED\r\n", "plain set");
    my ($cas3) = mem_gets($sock, "foo");
    isnt($cas3, $cas2, "set changes the cas unique");
    is(cmd("append foo 0 0 1\r\nz\r\n"), "STORED\r\n", "append");
    my ($cas4) = mem_gets($sock, "foo");
    isnt($cas4, $cas3, "append changes the cas unique");
}

# --- noreply on every storage command --------------------------------------
{
    my ($cas) = do { cmd("set nr 0 0 1\r\na\r\n"); mem_gets($sock, "nr") };
    send_bytes($sock,
          "set nr 0 0 1 noreply\r\nb\r\n"
        . "add nr 0 0 1 noreply\r\nX\r\n"            # fails silently
        . "add nr2 0 0 2 noreply\r\nn2\r\n"
        . "replace nr 0 0 1 noreply\r\nc\r\n"
        . "replace nokey 0 0 1 noreply\r\nX\r\n"     # fails silently
        . "append nr 0 0 1 noreply\r\nd\r\n"
        . "prepend nr 0 0 1 noreply\r\ne\r\n"
        . "append nokey 0 0 1 noreply\r\nX\r\n"      # fails silently
        . "cas nr 0 0 1 $cas noreply\r\nX\r\n"       # EXISTS silently
        . "cas nokey 0 0 1 1 noreply\r\nX\r\n"       # NOT_FOUND silently
        . "version\r\n");
    like(read_line($sock), qr/^VERSION \S+\r\n\z/, "noreply storage commands send nothing");
    mem_get_is($sock, "nr", "ecd", "noreply set/replace/append/prepend took effect");
    mem_get_is($sock, "nr2", "n2", "noreply add took effect");
    mem_get_is($sock, "nokey", undef, "failed noreply commands created nothing");
    my ($c2) = mem_gets($sock, "nr");
    send_bytes($sock, "cas nr 0 0 1 $c2 noreply\r\nf\r\nversion\r\n");
    like(read_line($sock), qr/^VERSION /, "noreply cas sends nothing");
    mem_get_is($sock, "nr", "f", "noreply cas took effect");
}

# --- flags --------------------------------------------------------------------
is(cmd("set fl 0 0 1\r\nx\r\n"), "STORED\r\n", "flags 0");
mem_get_is($sock, "fl", { value => "x", flags => 0 });
is(cmd("set fl 4294967295 0 1\r\nx\r\n"), "STORED\r\n", "flags 2**32-1");
mem_get_is($sock, "fl", { value => "x", flags => 4294967295 }, "flags 2**32-1 round trip");
{
    send_bytes($sock, "gets fl\r\n");
    my $v = read_value($sock);
    is($v->{flags}, 4294967295, "gets reports flags 2**32-1");
}
# negative flags: the command line is refused; the data line is not swallowed
# (memcached then answers ERROR for it as an unknown command)
err_like(cmd("set fl -1 0 1\r\nx\r\n"), "CLIENT_ERROR bad command line format", "negative flags");
err_like(read_line($sock), "ERROR", "data line after a refused command line is read as a command");
err_like(cmd("set fl 1x 0 1\r\n"), "CLIENT_ERROR bad command line format", "non-numeric flags");
mem_get_is($sock, "fl", { value => "x", flags => 4294967295 }, "refused sets left the item");
if (mcd_only()) {
    err_like(cmd("set fl 4294967296 0 1\r\n"), "CLIENT_ERROR bad command line format",
        "flags 2**32 are out of range");
    err_like(cmd("set fl 99999999999999999999 0 1\r\n"), "CLIENT_ERROR bad command line format",
        "flags beyond 64 bits are out of range");
} else {
    # memcached 1.6.18 parses flags as 64-bit and truncates to 32 bits
    is(cmd("set fl 4294967296 0 1\r\nx\r\n"), "STORED\r\n", "memcached: flags 2**32 accepted");
    mem_get_is($sock, "fl", { value => "x", flags => 0 }, "memcached: flags 2**32 truncated to 0");
    err_like(cmd("set fl 99999999999999999999 0 1\r\n"), "CLIENT_ERROR bad command line format",
        "flags beyond 64 bits are refused");
}

# --- binary values --------------------------------------------------------------
{
    my $all = join '', map { chr } 0 .. 255;
    is(cmd("set bin 0 0 256\r\n$all\r\n"), "STORED\r\n", "set with all 256 byte values");
    mem_get_is($sock, "bin", $all, "all 256 byte values round trip");
    my $tricky = "line1\r\nEND\r\nVALUE x 0 1\r\n\r\n\0\r";
    is(cmd("set tricky 0 0 " . length($tricky) . "\r\n$tricky\r\n"), "STORED\r\n",
        "set with embedded \\r\\n, END and NUL");
    mem_get_is($sock, "tricky", $tricky, "embedded protocol text round trips");
    my $big = join '', map { chr(($_ * 7 + 3) % 256) } 1 .. 100_000;
    is(cmd("set bigbin 0 0 " . length($big) . "\r\n$big\r\n"), "STORED\r\n", "100 KB binary value");
    mem_get_is($sock, "bigbin", $big, "100 KB binary value round trips");
}

# --- malformed storage commands ----------------------------------------------
err_like(cmd("set neg 0 0 -1\r\n"), "CLIENT_ERROR bad command line format", "negative length");
err_like(cmd("set neg 0 0 abc\r\n"), "CLIENT_ERROR bad command line format", "non-numeric length");
err_like(cmd("set neg 0 abc 1\r\n"), "CLIENT_ERROR bad command line format", "non-numeric exptime");
err_like(cmd("set neg 0 0 99999999999999999999\r\n"), "CLIENT_ERROR bad command line format",
    "length beyond 64 bits");
err_like(cmd("set neg\r\n"), "ERROR", "set with too few tokens");
err_like(cmd("set neg 0 0\r\n"), "ERROR", "set without a length");
err_like(cmd("cas neg 0 0 1\r\n"), "ERROR", "cas without a unique");
err_like(cmd("cas neg 0 0 1 abc\r\n"), "CLIENT_ERROR bad command line format", "non-numeric cas unique");
like(cmd("version\r\n"), qr/^VERSION /, "connection usable after malformed commands");
mem_get_is($sock, "neg", undef, "malformed commands stored nothing");

# bad data chunk: the data is longer than announced
is(cmd("set chunk 0 0 3\r\nold\r\n"), "STORED\r\n", "set before bad chunk");
err_like(cmd("set chunk 0 0 2\r\nabcdefgh\r\n"), "CLIENT_ERROR bad data chunk",
    "data longer than the length: bad data chunk");
sub resync {
    my ($what) = @_;
    send_bytes($sock, "version\r\n");
    my @junk;
    while (1) {
        my $l = read_line($sock);
        last if !defined $l || $l =~ /^VERSION /;
        push @junk, $l;
    }
    ok(!grep({ !/^ERROR( \[E\d+\])?\r\n\z/ } @junk) && @junk <= 3,
        "$what: only ERROR lines (at most 3) before resync") or diag explain \@junk;
}
resync("bad chunk");
mem_get_is($sock, "chunk", "old", "bad data chunk left the old value");
err_like(cmd("set chunk 0 0 1\r\nab\r\n"), "CLIENT_ERROR bad data chunk", "data one byte too long");
resync("bad chunk by one");
mem_get_is($sock, "chunk", "old", "still the old value");
# data shorter than announced: server waits for the rest
send_bytes($sock, "set short 0 0 11\r\nabc\r\n");
ok(!IO::Select->new($sock)->can_read(0.2), "no reply while the data is incomplete");
send_bytes($sock, "defg\r\n\r\n");
is(read_line($sock), "STORED\r\n", "short data followed by more bytes completes the value");
mem_get_is($sock, "short", "abc\r\ndefg\r\n", "value includes the \\r\\n that was data");

# --- size limits: default -I (1 MB) -------------------------------------------------
{
    my $max = 1024 * 1024;
    my $ok_len = $max - 100;
    is(cmd("set big 0 0 $ok_len\r\n" . ("b" x $ok_len) . "\r\n"), "STORED\r\n",
        "value of item_size_max - 100 bytes stores (default 1m)");
    mem_get_is($sock, "big", "b" x $ok_len, "and reads back");
    my $r = cmd("set big 0 0 " . ($max + 1) . "\r\n" . ("c" x ($max + 1)) . "\r\nget nonexistent\r\n");
    err_like($r, "SERVER_ERROR object too large for cache", "item_size_max + 1 refused (default 1m)");
    is(read_line($sock), "END\r\n", "the too-large data was swallowed, next command answered");
}

# --- size limits with a small -I --------------------------------------------------
SKIP: {
    skip "needs its own server (MCD_ADDR set)", 12 if external();
    my $limit = 1024;
    # memcached cannot run with -I below slab_chunk_max (512k) unless told
    my @args = is_memcached() ? ('-I', '1k', '-o', 'slab_chunk_max=512') : ('-I', '1k');
    my $small = new_server(@args);
    my $s = $small->sock;
    my $ok_len = $limit - 100;
    is(send_recv($s, "set k 0 0 $ok_len\r\n" . ("a" x $ok_len) . "\r\n"), "STORED\r\n",
        "-I 1k: value of 924 bytes stores");
    mem_get_is($s, "k", "a" x $ok_len, "-I 1k: and reads back");

    # exactly -I: memcached refuses it (its limit includes item overhead);
    # either answer is fine, but it must be one of the two and stay in sync
    my $r = send_recv($s, "set exact 0 0 $limit\r\n" . ("e" x $limit) . "\r\n");
    ok($r eq "STORED\r\n" || $r =~ /^SERVER_ERROR object too large for cache( \[E\d+\])?\r\n\z/,
        "-I 1k: value of exactly 1024 bytes: STORED or too large") or diag $r;

    $r = send_recv($s, "set k 0 0 " . ($limit + 1) . "\r\n" . ("x" x ($limit + 1))
        . "\r\nversion\r\n");
    err_like($r, "SERVER_ERROR object too large for cache", "-I 1k: 1025 bytes refused");
    like(read_line($s), qr/^VERSION /, "-I 1k: connection in sync after the refused set");
    # memcached also drops the old value when a set is refused as too large
    # (so stale data cannot linger); mcd must do the same
    mem_get_is($s, "k", undef, "-I 1k: refused set removed the old value");

    # the refused data is swallowed even when it arrives in pieces
    send_bytes($s, "set k2 0 0 5000\r\n");
    send_bytes($s, "y" x 2500);
    send_bytes($s, "y" x 2500);
    send_bytes($s, "\r\nset k3 0 0 2\r\nok\r\n");
    err_like(read_line($s), "SERVER_ERROR object too large for cache", "-I 1k: 5000 bytes refused");
    is(read_line($s), "STORED\r\n", "-I 1k: command after swallowed data is executed");
    mem_get_is($s, "k3", "ok");
    mem_get_is($s, "k2", undef, "-I 1k: nothing stored for the refused key");

    # appending past the limit is refused too
    is(send_recv($s, "set ap 0 0 600\r\n" . ("p" x 600) . "\r\n"), "STORED\r\n", "-I 1k: 600 bytes");
    my $ar = send_recv($s, "append ap 0 0 600\r\n" . ("q" x 600) . "\r\n");
    ok($ar =~ /^SERVER_ERROR out of memory storing object(:? [^\[]*)?( \[E\d+\])?\r\n\z/
       || $ar =~ /^SERVER_ERROR object too large for cache(:? [^\[]*)?( \[E\d+\])?\r\n\z/
       || $ar eq "NOT_STORED\r\n",
       "-I 1k: append past the limit is refused") or diag "got: $ar";
    $small->stop;
}

done_testing();
