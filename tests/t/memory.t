#!/usr/bin/perl
# Memory accounting: every owner is counted, and connection buffers held by
# many clients show up as buffer bytes that track the growth of RSS.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;

plan skip_all => 'memory accounting is mcd\'s' unless mcd_only() && !external();
plan skip_all => 'sanitizer builds change RSS' if ($ENV{MCD_BIN} // '') =~ /-(asan|tsan)$/;

my $path = "/tmp/mcd-memory-$$.admin";
my $srv = new_server('-c', '2048', '-o', "admin_socket=$path");
my $s = $srv->sock;
set_ok($s, "k$_", 'v' x 100) for 1 .. 1000;

my $m0 = admin_request($path, 'memory')->{data};
ok($m0->{rss_bytes} > 0, 'memory: RSS read');
# a slab page at least; the heap engine counts the 1000 items' mallocs
ok($m0->{owners}{item_memory} >= (engine() eq 'slab' ? 1024 * 1024 : 1000 * 100),
   'memory: item memory counted');
ok($m0->{owners}{hash_table} > 0, 'memory: the hash table counted');
is($m0->{accounted_bytes}, $m0->{owners}{item_memory} + $m0->{owners}{hash_table}
   + $m0->{owners}{connections}{bytes} + $m0->{owners}{thread_caches}
   + $m0->{owners}{history} + $m0->{owners}{latency}, 'memory: owners add up');
my ($c1) = grep { $_->{id} == 1 } @{ $m0->{classes} };
ok($c1 && $c1->{headroom_bytes} > 0, 'memory: headroom per class');

# 100 clients each send most of a huge multi-get line and stop: each read
# buffer grows towards 1 MiB.
my @clients;
my $line = 'get ' . join(' ', map { sprintf 'key%06d', $_ } 1 .. 100000);  # ~1 MB
for (1 .. 100) {
    my $c = $srv->new_sock;
    send_bytes($c, substr($line, 0, 1_000_000));
    push @clients, $c;
}
my $m1;
wait_until(sub {
    $m1 = admin_request($path, 'memory')->{data};
    return $m1->{owners}{connections}{count} >= 100
        && $m1->{owners}{connections}{buffer_bytes} >= 100 * 1_000_000;
}, 15);
my $buf = $m1->{owners}{connections}{buffer_bytes} - $m0->{owners}{connections}{buffer_bytes};
my $rss = $m1->{rss_bytes} - $m0->{rss_bytes};
ok($buf >= 100 * 1_000_000, "memory: 100 large read buffers counted ($buf bytes)");
SKIP: {
    skip 'RSS under valgrind includes memcheck\'s shadow memory', 1 if under_valgrind();
    ok(abs($rss - $buf) <= 0.10 * $buf, "memory: RSS growth ($rss) within 10% of buffer bytes ($buf)");
}
ok($m1->{owners}{connections}{buffer_high_water} >= $m1->{owners}{connections}{buffer_bytes},
   'memory: high-water mark at least the current bytes');
my $top = $m1->{top_connections};
is(scalar @$top, 10, 'memory: the top 10 connections by bytes');
ok($top->[0]{read_buffer_bytes} >= 1_000_000, 'memory: the top connection holds its large buffer');

close $_ for @clients;
my $m2;
wait_until(sub {
    $m2 = admin_request($path, 'memory')->{data};
    return $m2->{owners}{connections}{count} <= 1;
}, 10);
ok($m2->{owners}{connections}{buffer_bytes} < 1024 * 1024, 'memory: buffers released when clients leave');
ok($m2->{owners}{connections}{buffer_high_water} >= $buf, 'memory: the high-water mark remembers');

my $doc = admin_doc_fields(repo_root() . '/man/mcd-admin.7');
my $have = json_paths($m1, '');
my @undoc = grep { !exists $doc->{memory}{$_} } sort keys %$have;
is_deeply(\@undoc, [], 'memory: every field documented');
done_testing();
