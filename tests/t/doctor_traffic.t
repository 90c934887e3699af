#!/usr/bin/perl
# doctor on what clients send: a flush_all that collapses the hit ratio and
# who sent it, stores too large (by prefix and peer), items expiring on
# arrival, one prefix taking most gets, giant multi-gets slowing gets.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 120;
use McdAdmin;
use McdDoctor;
use File::Temp qw(tempdir);

plan skip_all => 'doctor reads mcd\'s admin socket' unless mcd_only() && !external();
plan skip_all => 'no mcadmin binary (make builds it)' unless -x mcadmin_bin();
my $dir = tempdir('doctor-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $sock = "/tmp/mcd-doctor-traffic-$$.admin";
my $srv = new_server('-D', ':', '-o', "admin_socket=$sock");
my $s = $srv->sock;
my $n = 0;
sub pair {      # snapshot pair around $code; the decoded doctor document
    my ($code) = @_;
    $n++;
    my $a = capture($sock, "$dir/a$n.json");
    $code->();
    my $b = capture($sock, "$dir/b$n.json");
    my ($rc, $d, $out) = doctor(undef, $a, $b);
    return wantarray ? ($d, $out, $rc) : $d;
}

# --- 5. hit ratio collapse after a flush ------------------------------------------
my @keys = map { "page:$_" } 1 .. 200;
is(store_many($s, \@keys, 'p' x 100), 200, 'flush: items stored');
drain_get($s, "get @keys[$_ * 20 .. $_ * 20 + 19]") for 0 .. 9;
my $flusher = $srv->new_sock;
is(send_recv($flusher, "flush_all\r\n"), "OK\r\n", 'flush: flush_all sent');
my ($d, $out) = pair(sub { drain_get($s, "get @keys[$_ * 20 .. $_ * 20 + 19]") for 0 .. 9 });
my $f = finding($d, 'flush_collapse');
ok($f, 'flush: flush_collapse found') or diag($out);
is($f->{subject}{peer}, 'tcp:127.0.0.1:' . $flusher->sockport, 'flush: the sender\'s peer is named');
cmp_ok($f->{subject}{conn_id}, '>', 0, 'flush: with its connection id');
ok((grep { /hit ratio: 100\.0% before .* 0\.0% during/ } @{ $f->{evidence} }),
   'flush: the hit ratios before and during are evidence');
is_deeply($f->{advice}, ['flush'], 'flush: advice on flush_all');

# --- 11. stores too large ------------------------------------------------------------
($d, $out) = pair(sub {
    my $big = 'x' x (1024 * 1024 + 100);
    for my $i (1 .. 3) {
        send_bytes($s, "set img:$i 0 0 " . length($big) . "\r\n$big\r\n");
        err_like(read_line($s), 'SERVER_ERROR object too large for cache', "too large: img:$i refused");
    }
});
$f = finding($d, 'too_large');
ok($f, 'too large: found') or diag($out);
is_deeply($f->{subject}{prefixes}, ['img'], 'too large: the prefix is named');
is_deeply($f->{subject}{peers}, ['tcp:127.0.0.1:' . $s->sockport], 'too large: the peer is named');
ok((grep { /^history: 3 refused, prefix 'img' from tcp:/ } @{ $f->{evidence} }),
   'too large: the history is evidence');

# --- 14. items expiring on arrival ---------------------------------------------------
($d, $out) = pair(sub {
    store_many($s, [map { "tok:$_" } 1 .. 20], 't', exptime => time - 1000);
});
$f = finding($d, 'expired_on_arrival');
ok($f, 'expired on arrival: found') or diag($out);
like($f->{title}, qr/^20 stores \(100% of 20\)/, 'expired on arrival: counted');
ok((grep { /ttl_absolute \+20/ } @{ $f->{evidence} }), 'expired on arrival: absolute TTLs are evidence');

# --- 17. one prefix takes most gets ---------------------------------------------------
store_many($s, [map { "$_:1" } qw(hot a b c)], 'v');
($d, $out) = pair(sub {
    for my $i (1 .. 40) {
        drain_get($s, 'get' . join('', map { ' hot:1' } 1 .. 18) . ' a:1 b:1');
    }
    drain_get($s, "get c:1");
});
$f = finding($d, 'hot_prefix');
ok($f, 'hot prefix: found') or diag($out);
is($f->{subject}{prefix}, 'hot', 'hot prefix: named');
like($f->{title}, qr/takes (89|90)% of 801 gets/, 'hot prefix: its share');

# --- 17b. one key takes most gets (admin hotkeys) --------------------------------------
SKIP: {
    my $help = admin_request($sock, 'help')->{data}{commands};
    skip 'the server has no hotkeys command', 3 unless grep { $_->{name} eq 'hotkeys' } @$help;
    store_many($s, [map { "k$_" } 1 .. 100], 'v');
    my $kid = background(sub {
        my $c = $srv->new_sock;
        drain_get($c, 'get ' . join(' ', ('star') x 9, 'k' . int(rand(100) + 1))) for 1 .. 100;
    });
    store_many($s, ['star'], 'shiny');
    my ($rc, $dd, $o) = doctor($sock, '--interval', '1');
    stop_background($kid);
    my $h = finding($dd, 'hot_key');
    ok($h, 'hot key: found') or diag($o);
    is($h->{subject}{key}, 'star', 'hot key: named');
    like($h->{title}, qr/takes about (8\d|9\d|100)% of \d+ gets/, 'hot key: its share');
}

# --- 12. giant multi-gets slow every get -----------------------------------------------
# (its latency thresholds mean nothing under ThreadSanitizer's slowdown)
if (($ENV{MCD_BIN} // '') =~ /-tsan$/) {
    done_testing();
    exit 0;
}
# 20000 keys a get: its service time (whole line in memory to reply
# queued) stays well above the rule's 1 ms on a fast machine too
my @many = map { "mg:$_" } 1 .. 20000;
is(store_many($s, \@many, 'g' x 200), 20000, 'multiget: items stored');
my $kid = background(sub {
    my $c = $srv->new_sock;
    drain_get($c, "get @many");
});
# (under valgrind one giant get can outlast a second: sample further apart)
($d, $out) = (doctor($sock, '--interval', McdTest::slow() > 1 ? '3' : '1'))[1, 2];
stop_background($kid);
$f = finding($d, 'client_timeouts');
ok($f, 'multiget: client_timeouts found') or diag($out);
ok((grep { /multiget_over_100 \+\d+ \(100\.0% of/ } @{ $f->{evidence} }), 'multiget: the giant share is evidence');
ok((grep { /^latency get: mean \d+ us over \d+ calls in the interval/ } @{ $f->{evidence} }), 'multiget: get latency is evidence');
done_testing();
