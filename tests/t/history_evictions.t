#!/usr/bin/perl
# Evictions, expirations and page moves are recorded with their cause, so
# items that vanish can be explained after the fact.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;

plan skip_all => 'history is mcd\'s' unless mcd_only() && !external();
plan skip_all => 'slab engine only' if ($ENV{MCD_ENGINE} // 'slab') ne 'slab';
my $path = "/tmp/mcd-hev-$$.admin";
my $srv = new_server('-m', '4', '-o', "admin_socket=$path,slab_automove=0");
my $s = $srv->sock;
my $v = 'e' x 1000;
send_bytes($s, join('', map { "set ev$_ 0 0 1000 noreply\r\n$v\r\n" } 1 .. 8000) . "version\r\n");
like(read_line($s), qr/^VERSION/, 'stored past -m 4');
my $ev = admin_request($path, 'history eviction limit=5')->{data};
ok($ev->{recorded}{eviction} > 0, 'evictions recorded (' . $ev->{recorded}{eviction} . ')');
my $e = $ev->{events}[0];
is($e->{what}, 'lru tail', 'the cause');
like($e->{key}, qr/^ev\d+$/, 'the key');
ok($e->{class} > 0 && $e->{size} > 1000, 'the class and size');
is($e->{fetched}, JSON::PP::false, 'never fetched');

set_ok($s, 'short', 'x', exptime => 1);
my $exp;
wait_until(sub {
    $exp = admin_request($path, 'history expiration')->{data}{events};
    return grep { ($_->{key} // '') eq 'short' } @$exp;
}, 6);
my ($x) = grep { ($_->{key} // '') eq 'short' } @$exp;
is($x && $x->{what}, 'expired', 'an expiry reclaimed in the background is recorded');

# a manual page move
my $big = 'b' x 20000;
set_ok($s, "big$_", $big) for 1 .. 3;
my $st = mem_stats($s, 'slabs');
my ($src) = map { /^(\d+):total_pages$/ ? $1 : () } grep { /:total_pages$/ && $st->{$_} > 1 } keys %$st;
my ($dst) = map { /^(\d+):chunk_size$/ ? $1 : () } grep { /:chunk_size$/ && $st->{$_} > 20000 } keys %$st;
SKIP: {
    skip 'no class with a spare page', 2 unless $src && $dst && $src != $dst;
    like(send_recv($s, "slabs reassign $src $dst\r\n"), qr/^OK/, 'slabs reassign');
    my $pm;
    wait_until(sub { $pm = admin_request($path, 'history pagemove')->{data}{events}; @$pm }, 10);
    is($pm->[0]{what} // '', 'slabs reassign', 'the page move is recorded with its reason');
}
done_testing();
