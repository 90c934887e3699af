#!/usr/bin/perl
# Hot keys: a key that dominates requests, and one that dominates bytes
# sent, come out on top of the sampled tables; sampling can be switched off.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;

plan skip_all => 'hot keys are mcd\'s' unless mcd_only() && !external();

my $path = "/tmp/mcd-hotkeys-$$.admin";
my $srv = new_server('-t', '2', '-o', "admin_socket=$path");
my @socks = ($srv->new_sock, $srv->new_sock);
set_ok($socks[0], 'big', 'x' x 20000);
set_ok($socks[0], 'hot', 'h');
set_ok($socks[0], "k$_", 'v') for 1 .. 200;
# hot: 16000 gets; big: 300 gets of 20 KB; 200 other keys 5 times each
for my $s (@socks) {
    send_bytes($s, ("get hot\r\n" x 8000) . ("get big\r\n" x 150)
                   . join('', map { "get k$_\r\n" x 5 } 1 .. 200) . "version\r\n");
}
for my $s (@socks) {
    my $l;
    do { $l = read_line($s) } until !defined $l || $l =~ /^VERSION/;
}
my $h = admin_request($path, 'hotkeys 5')->{data};
is($h->{sample_rate}, 64, 'sampled one in 64');
is($h->{by_requests}[0]{key}, 'hot', 'the most requested key is first');
my $est = $h->{by_requests}[0]{requests};
# a random 1 in 64: 250 samples expected, within 4 standard deviations
ok($est > 12000 && $est < 20000, "its request estimate is near 16000 ($est)");
is($h->{by_bytes}[0]{key}, 'big', 'the key with the most bytes sent is first by bytes');
ok(@{ $h->{by_requests} } <= 5, 'the limit is honoured');

is(admin_request($path, 'set hotkeys=0')->{data}{changed}{hotkeys}, 0, 'sampling switched off');
my $before = admin_request($path, 'hotkeys 1')->{data}{by_requests}[0]{requests};
send_bytes($socks[0], ("get hot\r\n" x 500) . "version\r\n");
my $l;
do { $l = read_line($socks[0]) } until !defined $l || $l =~ /^VERSION/;
my $after = admin_request($path, 'hotkeys 1')->{data};
is($after->{enabled}, JSON::PP::false, 'reported as off');
is($after->{by_requests}[0]{requests}, $before, 'no sampling while off');
is(admin_request($path, 'hotkeys x=1')->{error}{code}, 5002, 'bad argument: coded error');

my $doc = admin_doc_fields(repo_root() . '/man/mcd-admin.7');
my $have = json_paths($h, '');
my @undoc = grep { !exists $doc->{hotkeys}{$_} } sort keys %$have;
is_deeply(\@undoc, [], 'hotkeys: every field documented');
done_testing();
