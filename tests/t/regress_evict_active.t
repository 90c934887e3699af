#!/usr/bin/perl
# Regression (found by bench/ under memaslap): when every item at an LRU's
# tail had been read twice since its last bump (a read-heavy load), the
# evictor spent all its tries giving second chances and stores failed with
# "every eviction candidate is in use" (E2105) although nothing was in use.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;

my $srv = new_server('-m', '2');
my $s = $srv->sock;
my $v = 'a' x 1000;
my $n = 1500;      # about the 2 MB that -m 2 holds
send_bytes($s, join('', map { "set k$_ 0 0 1000 noreply\r\n$v\r\n" } 1 .. $n) . "version\r\n");
like(read_line($s), qr/^VERSION/, 'filled');
# read everything twice: every item becomes "active"
for (1 .. 2) {
    send_bytes($s, join('', map { "get k$_\r\n" } 1 .. $n) . "version\r\n");
    my $l;
    do { $l = read_line($s) } until !defined $l || $l =~ /^VERSION/;
}
my $refused = 0;
for my $i (1 .. 500) {
    my $r = send_recv($s, "set new$i 0 0 1000\r\n$v\r\n");
    $refused++ unless $r eq "STORED\r\n";
}
is($refused, 0, 'stores after a read-heavy phase all succeed by evicting');
my $st = mem_stats($s);
ok($st->{evictions} > 0, 'by evicting');
SKIP: {
    skip 'memcached moves active items out of the tail in the background', 1 if is_memcached();
    ok($st->{evicted_active} > 0, 'evicted_active counts the items evicted with their second chance spent');
}
done_testing();
