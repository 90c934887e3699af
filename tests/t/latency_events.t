#!/usr/bin/perl
# Latency events: background work (a hash table growth, expiry passes, a
# dump batch) is recorded by kind with its latest and longest occurrence.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;

plan skip_all => 'latency events are mcd\'s' unless mcd_only() && !external();
my $path = "/tmp/mcd-levents-$$.admin";
my $srv = new_server('-o', "admin_socket=$path,hashpower=12");
my $s = $srv->sock;
send_bytes($s, join('', map { "set k$_ 0 0 1 noreply\r\nx\r\n" } 1 .. 7000) . "version\r\n");
like(read_line($s), qr/^VERSION/, '7000 items: past 1.5 items per bucket of 4096');
my @items = admin_stream($path, 'items limit=10');
ok(@items > 2, 'an item listing ran');
my %by;
wait_until(sub {
    %by = map { $_->{event} => $_ } @{ admin_request($path, 'latency_events')->{data}{events} };
    return $by{hash_expand} && $by{expire_pass} && $by{dump_batch};
}, 10);
ok($by{hash_expand}, 'the hash table growth is recorded');
ok($by{expire_pass} && $by{expire_pass}{count} >= 1, 'expiry passes are recorded');
ok($by{dump_batch}, 'dump batches are recorded');
my $e = $by{hash_expand} // {};
ok(($e->{max_ms} // -1) >= ($e->{latest_ms} // 0), 'max at least the latest');
is(scalar @{ $e->{history} // [] }, $e->{count} // -1, 'history holds each occurrence (up to 16)');
SKIP: {
    skip 'hash growth progress is the slab engine\'s stats', 2 if engine() ne 'slab';
    my $st = admin_request($path, 'stats')->{data}{stats};
    ok($st->{hash_expansions_started} >= 1 && $st->{hash_expansions_finished} == $st->{hash_expansions_started},
       'hash growth progress: started and finished counted');
    is($st->{hash_expand_buckets_total}, 0, 'no growth under way now');
}
my $doc = admin_doc_fields(repo_root() . '/man/mcd-admin.7');
my $have = json_paths(admin_request($path, 'latency_events')->{data}, '');
my @undoc = grep { !exists $doc->{latency_events}{$_} } sort keys %$have;
is_deeply(\@undoc, [], 'latency_events: every field documented');
done_testing();
