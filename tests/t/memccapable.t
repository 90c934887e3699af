#!/usr/bin/perl
# libmemcached's memccapable conformance suite: ascii must pass in full;
# the binary suite must pass in full too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my $CAP;
for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/usr/local/bin') {
    if (-x "$dir/memccapable") { $CAP = "$dir/memccapable"; last }
}
plan skip_all => "memccapable not found (apt-get install libmemcached-tools)" unless $CAP;

# run memccapable with a wall-clock limit; returns (status, parsed results, raw)
sub capable {
    my ($server, $mode, $limit) = @_;
    my ($st, $out, $err) = run_bin(['-h', '127.0.0.1', '-p', $server->port, $mode, '-t', '5'],
                                   bin => $CAP, timeout => $limit);
    my @results;
    for my $line (split /\n/, "$out\n$err") {
        push @results, [$1, lc $2] if $line =~ /^(.*?)\s+\[(\w+)\]\s*$/;
    }
    return ($st, \@results, "$out$err");
}

# --- ascii ----------------------------------------------------------------------------
{
    my $server = new_server();
    my ($st, $res, $raw) = capable($server, '-a', 40);
    isnt($st, -1, "memccapable -a finished within 40 s");
    cmp_ok(scalar @$res, '>=', 27, "memccapable -a ran the ascii tests (" . scalar(@$res) . ")");
    my @bad = grep { $_->[1] ne 'pass' } @$res;
    ok(!@bad, "every ascii test passed")
        or diag "failed: " . join(', ', map { "$_->[0] [$_->[1]]" } @bad);
    ok(!grep({ $_->[0] !~ /^ascii / } @$res), "only ascii tests ran");
    is($st, 0, "memccapable -a exit status 0") or diag $raw;
    like($raw, qr/All tests passed/, "memccapable -a reports all tests passed");
    ok($server->alive, "server survived the ascii suite") unless $server->is_external;
}

# --- binary ------------------------------------------------------------------------------
{
    my $server = new_server();
    my ($st, $res, $raw) = capable($server, '-b', 30);
    isnt($st, -1, "memccapable -b finished within 30 s");
    cmp_ok(scalar @$res, ">=", 27, "memccapable -b ran the binary tests (" . scalar(@$res) . ")");
    my @bad = grep { $_->[1] ne 'pass' } @$res;
    ok(@$res && !@bad, "every binary test passed")
        or diag "failed: " . join(', ', map { "$_->[0] [$_->[1]]" } @bad);
    is($st, 0, "memccapable -b exit status 0");
    # whatever the binary suite did, the server must survive it
    ok($server->alive, "server survived the binary suite") unless $server->is_external;
    my $s = $server->new_sock;
    like(send_recv($s, "version\r\n"), qr/^VERSION /, "server still answers text commands after -b");
}

done_testing();
