#!/usr/bin/perl
# doctor on the server itself: allocations the system refuses, long hash
# chains, a stuck worker, a spinning thread, settings against a baseline,
# a report file as input, and page moves that starve a class and drop
# its items (slabs reassign).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 120;
use McdAdmin;
use McdDoctor;
use File::Temp qw(tempdir);
use JSON::PP;

plan skip_all => 'doctor reads mcd\'s admin socket' unless mcd_only() && !external();
plan skip_all => 'no mcadmin binary (make builds it)' unless -x mcadmin_bin();
my $dir = tempdir('doctor-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $json = JSON::PP->new->canonical;

# --- 4. allocation failures without evictions ------------------------------------------
SKIP: {
    skip 'slab pages are the slab engine\'s', 10 if engine() ne 'slab';
    my $sock = "/tmp/mcd-doctor-malloc-$$.admin";
    my $srv = new_server('-o', "admin_socket=$sock,fault=ERR_SLAB_PAGE_MALLOC:2");
    my $s = $srv->sock;
    # Values of many sizes: each class's first page is refused.
    my $stored = 0;
    $stored += store_many($s, ["v$_"], 'v' x (100 * 1.3 ** $_)) for 1 .. 20;
    cmp_ok($stored, '<', 20, 'malloc: some stores refused');
    my ($rc, $d, $out) = doctor($sock, '--interval', '0.2');
    is($rc, 1, 'malloc: exit 1');
    my $f = finding($d, 'alloc_failures');
    ok($f, 'malloc: alloc_failures found') or diag($out);
    like($f->{title}, qr/while the cache was below -m \(no evictions\)/, 'malloc: no evictions said');
    ok((grep { /^E2120 ERR_SLAB_PAGE_MALLOC: \d+ since start/ } @{ $f->{evidence} }), 'malloc: E2120');
    ok((grep { /^E2107 / } @{ $f->{evidence} }), 'malloc: E2107');
    ok((grep { $_ eq 'host_memory' } @{ $f->{advice} }), 'malloc: advice on host memory');

    # The same server as a report file (first and last samples).
    my $rep = "$dir/report.json";
    my ($rrc, undef, $err) = mca('-s', $sock, 'report', '--samples', '2', '--interval', '0.2',
                                 '--items', '0', '-o', $rep);
    is($rrc, 0, 'report written') or diag($err);
    ($rc, $d) = doctor(undef, $rep);
    is($d->{source}{mode}, 'report', 'report: read as a report');
    ok(finding($d, 'alloc_failures'), 'report: the recent failures still show');
}

# --- 8. long hash chains ----------------------------------------------------------------
{
    my $sock = "/tmp/mcd-doctor-hash-$$.admin";
    my $srv = new_server('-o', "admin_socket=$sock,hashpower=12,no_hashexpand");
    my $s = $srv->sock;
    is(store_many($s, [map { "h$_" } 1 .. 20000], 'h'), 20000, 'hash: 20000 items in 4096 buckets');
    my ($rc, $d, $out) = doctor($sock, '--interval', '0.2');
    my $f = finding($d, 'hash_chains');
    ok($f, 'hash: hash_chains found') or diag($out);
    cmp_ok($f->{subject}{load_factor}, '>', 4, 'hash: the load factor is named');
    ok((grep { /^hash: 4096 buckets \(power 12\), 20000 items/ } @{ $f->{evidence} }), 'hash: table evidence');
    ok((grep { /-o hashpower=15 fits/ } @{ $f->{evidence} }), 'hash: the power to use');
}

# --- 19. a stuck worker; a spinning thread ----------------------------------------------
{
    my $sock = "/tmp/mcd-doctor-stall-$$.admin";
    my $srv = new_server('-o', "admin_socket=$sock,fault=ERR_TEST_STALL:1");
    my $s = $srv->sock;
    # the worker sleeps 3 s on each (under valgrind, where sampling is
    # slower, three in a row keep it stuck long enough)
    my $stalls = McdTest::slow() > 1 ? 3 : 1;
    send_bytes($s, "get stalled\r\n" x $stalls);
    ok(wait_until(sub { admin_request($sock, 'threads')->{data}{stuck} > 0 }, 5),
       'stall: the worker is stuck');
    my ($rc, $d, $out) = doctor($sock, '--interval', '0.1');
    my $f = finding($d, 'stuck_thread');
    ok($f, 'stall: stuck_thread found') or diag($out);
    is($f->{subject}{thread}{name}, 'worker', 'stall: the worker is named');
    like($f->{title}, qr/busy \S+ with 'get'/, 'stall: with its command');
    is(read_line($s, 10), "END\r\n", 'stall: the command completes afterwards');
    read_line($s, 10) for 2 .. $stalls;

    # Spinning cannot be caused on purpose: an idle pair whose maintainer
    # thread gained CPU seconds stands in for it.
    my $a = capture($sock, "$dir/idle-a.json");
    my $b = capture($sock, "$dir/idle-b.json");
    my $doc = $json->decode(do { local (@ARGV, $/) = $b; <> });
    my $sec = $doc->{snapshot}{sections};
    $_->{cpu_secs} += 5 for grep { $_->{name} eq 'maintainer' } @{ $sec->{threads}{threads} };
    $sec->{$_}{time} += 5 for keys %$sec;
    open my $w, '>', $b or die $!;
    print $w $json->encode($doc);
    close $w;
    ($rc, $d, $out) = doctor(undef, $a, $b);
    $f = finding($d, 'spinning_thread');
    ok($f, 'spin: spinning_thread found') or diag($out);
    like($f->{title}, qr/^maintainer thread 0 uses \d+% of a CPU on an idle server/, 'spin: named');
}

# --- 20. settings against a baseline -------------------------------------------------------
{
    my $sock = "/tmp/mcd-doctor-base-$$.admin";
    my $srv = new_server('-c', '100', '-o', "admin_socket=$sock");
    my $base = capture($sock, "$dir/baseline.json");
    $srv->stop;
    $srv = new_server('-c', '200', '-m', '32', '-o', "admin_socket=$sock");
    my ($rc, $d, $out) = doctor($sock, '--interval', '0.1', '--baseline', $base);
    my $f = finding($d, 'settings_changed');
    ok($f, 'baseline: settings_changed found') or diag($out);
    my %changed = map { $_ => 1 } @{ $f->{subject}{settings} };
    ok($changed{maxconns} && $changed{maxbytes}, 'baseline: -c and -m are named');
    ok((grep { $_ eq 'maxconns: 100 -> 200' } @{ $f->{evidence} }), 'baseline: before -> after');
    ok(!$changed{growth_factor}, 'baseline: unchanged settings are not');
}

# --- 13, 15. page moves that starve a class and drop its items -----------------------
SKIP: {
    skip 'page moves are the slab engine\'s', 13 if engine() ne 'slab';
    my $sock = "/tmp/mcd-doctor-move-$$.admin";
    my $srv = new_server('-m', '8', '-o', "admin_socket=$sock");
    my $s = $srv->sock;
    my $slabs = admin_request($sock, 'slabs')->{data}{classes};
    skip 'needs slab automove data: this server gives no slabs classes[].pages_moved_in/out', 9
        unless grep { exists $_->{pages_moved_in} } @$slabs;
    # Small items fill memory; one class of larger items holds one page.
    my $n = 0;
    ok(wait_until(sub {
        store_many($s, [map { 'a' . $n++ } 1 .. 10000], 'x' x 100);
        return mem_stats($s)->{evictions} > 0;
    }, 30), 'page moves: small items fill memory');
    store_many($s, [map { "b$_" } 1 .. 100], 'y' x 1000);
    my @cls = grep { $_->{pages} > 0 } @{ admin_request($sock, 'slabs')->{data}{classes} };
    my ($small) = sort { $b->{pages} <=> $a->{pages} } @cls;
    my ($large) = grep { $_->{id} != $small->{id} } @cls;
    my $a = capture($sock, "$dir/move-a.json");
    # Take a full page from the evicting class: its live items are dropped.
    is(send_recv($s, "slabs reassign $small->{id} $large->{id}\r\n"), "OK\r\n", 'page moves: reassign');
    ok(wait_until(sub { mem_stats($s)->{slabs_moved} >= 1 }, 10), 'page moves: the page moved');
    store_many($s, [map { 'a' . $n++ } 1 .. 5000], 'x' x 100);
    my $b = capture($sock, "$dir/move-b.json");
    my ($rc, $d, $out) = doctor(undef, $a, $b);
    my $f = finding($d, 'pagemove_thrash');
    ok($f, 'page moves: pagemove_thrash found') or diag($out);
    is($f->{subject}{class}, $small->{id}, 'page moves: the starved class is named');
    like($f->{title}, qr/pages are taken from class \d+ \(\+0 in, \+1 out\) while it evicts/,
         'page moves: starving, not thrashing');
    my $g = finding($d, 'pagemove_loss');
    ok($g, 'page moves: pagemove_loss found') or diag($out);
    ok((grep { /slab_reassign_evictions_nomem \+[1-9]/ } @{ $g->{evidence} }),
       'page moves: the dropped items are counted');
    ok((grep { $_ eq 'automove' } @{ $g->{advice} }), 'page moves: advice on automove');
}
done_testing();
