#!/usr/bin/perl
# mcadmin doctor on a healthy server under ordinary mixed traffic finds
# nothing (a false alarm is a defect), live and from a snapshot pair; and
# its command line: usage, cannot connect, --rules, text output.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 90;
use McdDoctor;
use File::Temp qw(tempdir);

plan skip_all => 'doctor reads mcd\'s admin socket' unless mcd_only() && !external();
plan skip_all => 'no mcadmin binary (make builds it)' unless -x mcadmin_bin();

my $dir = tempdir('doctor-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $sock = "/tmp/mcd-doctor-healthy-$$.admin";
my $srv = new_server('-D', ':', '-o', "admin_socket=$sock");

# Ordinary traffic: four prefixes read about evenly, mostly hits, some
# misses, sets of a few sizes with TTLs, deletes, incr, multi-gets of a few
# keys, several connections.
my @prefixes = qw(user sess page cfg);
my $c = $srv->sock;
for my $p (@prefixes) {
    is(store_many($c, [map { "$p:$_" } 1 .. 200], 'v' x 300, exptime => 3600), 200,
       "200 '$p:' items stored");
}
set_ok($c, 'counter', '0');
sub ordinary {
    my ($s, $round) = @_;
    for my $i (1 .. 50) {
        my $p = $prefixes[$i % 4];
        my $k = ($i * 7 + $round) % 220 + 1;     # ~10% misses
        drain_get($s, "get $p:$k");
        if ($i % 5 == 0) {
            my $v = 'x' x (100 + $i);
            send_bytes($s, "set $p:$k 0 600 " . length($v) . "\r\n$v\r\n");
            read_line($s);
        }
        if ($i % 10 == 0) {
            drain_get($s, "get $p:1 $p:2 $p:3 $p:4");
            send_bytes($s, "delete $p:" . ($k + 300) . "\r\nincr counter 1\r\n");
            read_line($s) for 1 .. 2;
        }
    }
}
my @kids = map {
    my $n = $_;
    background(sub { my $s = $srv->new_sock; ordinary($s, $_) for 1 .. 1_000_000 });
} 1 .. 3;

my $gets0 = mem_stats($c)->{cmd_get};
my ($rc, $d, $out, $err) = doctor($sock, '--interval', '1.5');
cmp_ok(mem_stats($c)->{cmd_get} - $gets0, '>', 1000, 'traffic ran during the samples');
is($rc, 0, 'healthy under ordinary traffic: exit 0') or diag($out, $err);
is_deeply(findings_named($d), [], 'healthy: no finding');
ok($d->{healthy}, 'healthy: says so');
is($d->{source}{samples}, 2, 'healthy: two samples');
cmp_ok($d->{source}{interval_secs}, '>=', 1.4, 'healthy: about --interval apart');
my %st = map { $_->{name} => $_->{status} } @{ $d->{rules} };
is($st{hot_prefix}, 'checked', 'healthy: the prefix rule ran (-D given)');
is($st{reference_leak}, 'checked', 'healthy: the leak rule ran');

# The same from a snapshot pair taken around the traffic.
my $a = capture($sock, "$dir/a.json");
sleep 1;
my $b = capture($sock, "$dir/b.json");
stop_background($_) for @kids;
($rc, $d, $out) = doctor(undef, $a, $b);
is($rc, 0, 'snapshot pair of ordinary traffic: exit 0') or diag($out);
is_deeply(findings_named($d), [], 'snapshot pair: no finding');
is($d->{source}{mode}, 'snapshot pair', 'snapshot pair: the mode is named');

# Text output.
my ($trc, $text) = mca('-s', $sock, 'doctor', '--interval', '0.2');
is($trc, 0, 'text: exit 0');
like($text, qr/No problem found\. \d+ rules checked/, 'text: says no problem found');
like($text, qr/settings_changed: a baseline/, 'text: names the rules it could not apply');

# Command line.
($trc) = mca('-s', $sock, 'doctor', '--interval', 'x');
is($trc, 2, 'a bad --interval is a usage error');
($trc) = mca('-s', $sock, 'doctor', 'a', 'b', 'c');
is($trc, 2, 'three files are a usage error');
($trc, undef, my $e) = mca('-s', "/tmp/no-such-mcd-$$.admin", 'doctor');
is($trc, 3, 'no server: exit 3');
($trc, undef, $e) = mca('doctor', "$dir/missing.json");
is($trc, 1, 'a missing file: exit 1');
like($e, qr/missing\.json/, 'a missing file is named');
($trc, $text) = mca('doctor', '--rules');
is($trc, 0, '--rules works without a server');
like($text, qr/^reference_leak\s/m, '--rules lists the rules');
done_testing();
