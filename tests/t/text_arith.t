#!/usr/bin/perl
# incr / decr
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my $server = new_server();
my $sock = $server->sock;

sub cmd { send_recv($sock, $_[0]) }
sub setv { my ($k, $v, $f) = @_; $f //= 0;
           cmd("set $k $f 0 " . length($v) . "\r\n$v\r\n") }

# The number stored after incr/decr. memcached rewrites a shrinking number in
# place and pads it with trailing spaces to the old length ("10" decr 1 reads
# back as "9 "); either that or the bare number is accepted, nothing else.
sub num_is {
    my ($key, $want, $msg) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    send_bytes($sock, "get $key\r\n");
    my $v = read_value($sock);
    my $raw = $v ? $v->{value} : undef;
    my $ok = defined $raw && $raw =~ /\A(\d+) *\z/ && $1 eq $want;
    ok($ok, $msg // "$key reads back as $want") or diag "raw value: "
        . (defined $raw ? "'$raw'" : 'miss');
    return $raw;
}

is(setv("n", "1"), "STORED\r\n");
is(cmd("incr n 1\r\n"), "2\r\n", "incr by 1");
is(cmd("incr n 8\r\n"), "10\r\n", "incr by 8");
is(cmd("decr n 1\r\n"), "9\r\n", "decr by 1");
is(cmd("decr n 9\r\n"), "0\r\n", "decr to 0");
is(cmd("decr n 5\r\n"), "0\r\n", "decr floors at 0");
num_is("n", 0, "value 0 after floor");
is(cmd("incr n 0\r\n"), "0\r\n", "incr by 0");

# length change: "9" + 1 -> "10"
is(setv("len", "9", 42), "STORED\r\n");
is(cmd("incr len 1\r\n"), "10\r\n", "incr 9 -> 10");
mem_get_is($sock, "len", { value => "10", flags => 42 }, "get returns 10 (length grew) with flags kept");
is(cmd("incr len 99990\r\n"), "100000\r\n", "incr grows to 6 digits");
mem_get_is($sock, "len", "100000");
is(cmd("decr len 99999\r\n"), "1\r\n", "decr shrinks to 1 digit");
my $raw = num_is("len", 1, "shrunk number reads back as 1");
ok(length($raw) == 1 || length($raw) == 6, "shrunk value is '1' or padded to the old length");

# 64-bit wrap
is(setv("w", "18446744073709551615"), "STORED\r\n", "set 2**64-1");
is(cmd("incr w 1\r\n"), "0\r\n", "2**64-1 + 1 wraps to 0");
num_is("w", 0, "wrapped value reads back as 0");
is(setv("w", "18446744073709551614"), "STORED\r\n");
is(cmd("incr w 5\r\n"), "3\r\n", "2**64-2 + 5 wraps to 3");
is(setv("w", "5"), "STORED\r\n");
is(cmd("incr w 18446744073709551615\r\n"), "4\r\n", "incr by 2**64-1 wraps");
is(cmd("decr w 18446744073709551615\r\n"), "0\r\n", "decr by 2**64-1 floors at 0");
is(setv("w", "18446744073709551615"), "STORED\r\n");
is(cmd("decr w 1\r\n"), "18446744073709551614\r\n", "decr from 2**64-1");
is(setv("w", "000000000000000000005"), "STORED\r\n");
is(cmd("incr w 1\r\n"), "6\r\n", "leading zeros are parsed");

# non-numeric values
is(setv("s", "abc"), "STORED\r\n");
err_like(cmd("incr s 1\r\n"), "CLIENT_ERROR cannot increment or decrement non-numeric value",
    "incr of a non-numeric value");
err_like(cmd("decr s 1\r\n"), "CLIENT_ERROR cannot increment or decrement non-numeric value",
    "decr of a non-numeric value");
mem_get_is($sock, "s", "abc", "non-numeric value unchanged");
is(setv("s", "-12"), "STORED\r\n");
err_like(cmd("incr s 1\r\n"), "CLIENT_ERROR cannot increment or decrement non-numeric value",
    "incr of a negative number");
is(setv("s", ""), "STORED\r\n");
err_like(cmd("incr s 1\r\n"), "CLIENT_ERROR cannot increment or decrement non-numeric value",
    "incr of an empty value");
is(setv("s", "18446744073709551616"), "STORED\r\n");
err_like(cmd("incr s 1\r\n"), "CLIENT_ERROR cannot increment or decrement non-numeric value",
    "incr of a value above 2**64-1");

# invalid deltas
is(setv("d", "5"), "STORED\r\n");
for my $delta ("abc", "-1", "18446744073709551616", "0x1", "1.5") {
    err_like(cmd("incr d $delta\r\n"), "CLIENT_ERROR invalid numeric delta argument",
        "incr with delta '$delta'");
}
err_like(cmd("decr d abc\r\n"), "CLIENT_ERROR invalid numeric delta argument", "decr with delta 'abc'");
err_like(cmd("incr d\r\n"), "ERROR", "incr without a delta");
err_like(cmd("incr\r\n"), "ERROR", "bare incr");
num_is("d", 5, "bad deltas left the value");

# missing keys
is(cmd("incr nothere 1\r\n"), "NOT_FOUND\r\n", "incr of a missing key");
is(cmd("decr nothere 1\r\n"), "NOT_FOUND\r\n", "decr of a missing key");
mem_get_is($sock, "nothere", undef, "incr did not create the key");

# noreply
send_bytes($sock, "incr d 10 noreply\r\ndecr d 3 noreply\r\nincr nothere 1 noreply\r\n"
    . "incr s 1 noreply\r\nversion\r\n");
like(read_line($sock), qr/^VERSION /, "noreply incr/decr send nothing (also on errors)");
num_is("d", 12, "noreply incr/decr took effect");

# incr changes the cas unique
{
    my ($c1) = mem_gets($sock, "d");
    is(cmd("incr d 1\r\n"), "13\r\n");
    my ($c2) = mem_gets($sock, "d");
    isnt($c2, $c1, "incr changes the cas unique");
    is(cmd("cas d 0 0 2 $c1\r\n99\r\n"), "EXISTS\r\n", "cas with the pre-incr unique fails");
}

# many increments on one connection
{
    is(setv("many", "0"), "STORED\r\n");
    send_bytes($sock, "incr many 1\r\n" x 1000);
    my $last;
    $last = read_line($sock) for 1 .. 1000;
    is($last, "1000\r\n", "1000 pipelined incr");
}

# As memcached 1.6.18 (each also checked against it by differential.t):
# a number rewritten in place keeps its length, padded with spaces
{
    is(setv("pad", "100"), "STORED\r\n");
    is(cmd("decr pad 1\r\n"), "99\r\n", "decr to fewer digits");
    mem_get_is($sock, "pad", "99 ", "the value keeps its length, space-padded");
    is(cmd("incr pad 1\r\n"), "100\r\n", "incr of a padded number");
    mem_get_is($sock, "pad", "100", "back to three digits");
}
# a stored number is read as strtoull reads it; a delta may carry a '+'
{
    is(setv("lead", "  5"), "STORED\r\n");
    is(cmd("incr lead +1\r\n"), "6\r\n", "leading blanks in the value, '+' in the delta");
    is(setv("plus", "+5"), "STORED\r\n");
    is(cmd("incr plus 1\r\n"), "6\r\n", "a '+' in the value");
    is(setv("blank", "5 x"), "STORED\r\n");
    is(cmd("incr blank 1\r\n"), "6\r\n", "what follows a blank is ignored");
}
# noreply silences the error lines too
{
    send_bytes($sock, "incr lead noreply\r\ntouch lead noreply\r\ndelete lead 1 noreply\r\n");
    is(cmd("incr lead 1\r\n"), "7\r\n", "no error line answered to noreply commands");
}

done_testing();
