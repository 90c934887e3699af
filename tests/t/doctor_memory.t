#!/usr/bin/perl
# doctor on item memory: slab calcification (a class evicts while another
# holds spare pages), large stores failing while small classes have room,
# a cache too small for its working set, and write-only churn.
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

# --- 2. calcification, 10. large items ------------------------------------------
SKIP: {
    skip 'slab classes are the slab engine\'s', 9 if engine() ne 'slab';
    my $sock = "/tmp/mcd-doctor-calc-$$.admin";
    my $srv = new_server('-m', '8', '-o', "admin_socket=$sock");
    my $s = $srv->sock;
    my $med = 'm' x 2000;
    ok(store_many($s, [map { "med:$_" } 1 .. 300], $med) == 300, 'calc: medium items stored');
    # Small items until memory is full and the small class evicts.
    my $n = 0;
    ok(wait_until(sub {
        store_many($s, [map { 'small:' . $n++ } 1 .. 5000], 's' x 50);
        return mem_stats($s)->{evictions} > 0;
    }, 30), 'calc: small items fill memory');
    send_bytes($s, join('', map { "delete small:$_ noreply\r\n" } 0 .. $n - 1));
    ok(wait_until(sub { mem_stats($s)->{curr_items} <= 400 }, 10), 'calc: small items deleted');
    my $a = capture($sock, "$dir/calc-a.json");
    store_many($s, [map { "med2:$_" } 1 .. 2000], $med);
    my $b = capture($sock, "$dir/calc-b.json");

    my ($rc, $d, $out) = doctor(undef, $a, $b);
    is($rc, 1, 'calc: exit 1');
    my $f = finding($d, 'slab_calcification');
    ok($f, 'calc: slab_calcification found') or diag($out);
    my $slabs = admin_request($sock, 'slabs')->{data}{classes};
    my ($medc) = grep { $_->{items} > 0 && $_->{chunk_size} > 2000 && $_->{chunk_size} < 4000 } @$slabs;
    is($f->{subject}{class}, $medc->{id}, 'calc: the evicting class is named');
    ok((grep { /class \d+ \(\S+ B chunks\): \d+ of \d+ chunks free/ } @{ $f->{evidence} }),
       'calc: the classes holding spare chunks are evidence');
    is_deeply($f->{advice}, ['slab_move'], 'calc: advice is to move pages');
    ok(!finding($d, 'memory_too_small'), 'calc: not mistaken for a small cache');

    my ($trc, $text) = mca('doctor', $a, $b);
    like($text, qr/^1\. slab_calcification: class \d+ .* evicts/m, 'calc text: numbered finding');
}

# --- 10. large stores fail while small classes have room (-M: no evictions) -------
SKIP: {
    skip 'slab classes are the slab engine\'s', 6 if engine() ne 'slab';
    my $sock = "/tmp/mcd-doctor-large-$$.admin";
    my $srv = new_server('-m', '8', '-M', '-o', "admin_socket=$sock");
    my $s = $srv->sock;
    my $n = 0;
    ok(wait_until(sub {
        store_many($s, [map { 'small:' . $n++ } 1 .. 5000], 's' x 50);
        return mem_stats($s)->{store_no_memory} > 0;
    }, 30), 'large: small items fill memory');
    send_bytes($s, join('', map { "delete small:$_ noreply\r\n" } 0 .. $n - 1));
    ok(wait_until(sub { mem_stats($s)->{curr_items} == 0 }, 10), 'large: small items deleted');
    my $a = capture($sock, "$dir/large-a.json");
    my $big = 'L' x (200 * 1024);
    cmp_ok(store_many($s, [map { "large:$_" } 1 .. 20], $big), '<', 20,
           'large: some large stores refused');
    my $b = capture($sock, "$dir/large-b.json");
    my ($rc, $d, $out) = doctor(undef, $a, $b);
    my $g = finding($d, 'large_items_no_memory');
    ok($g, 'large: large_items_no_memory found') or diag($out);
    cmp_ok($g->{subject}{size}, '>=', 200 * 1024, 'large: the failing size is named');
    ok((grep { /^E210[4-6] / } @{ $g->{evidence} }), 'large: the error site is evidence');
    ok((grep { /class \d+ \(\S+ B chunks\)/ } @{ $g->{evidence} }),
       'large: the small classes with room are evidence');
    ok(!finding($d, 'slab_calcification'), 'large: no evictions, so no calcification');
}

# --- 7. memory too small for the working set --------------------------------------
{
    my $sock = "/tmp/mcd-doctor-small-$$.admin";
    my $srv = new_server('-m', '4', '-o', "admin_socket=$sock");
    my $s = $srv->sock;
    my $a = capture($sock, "$dir/small-a.json");
    # Every item is read right after it is stored, and read again later:
    # the working set (10 MiB) does not fit in 4 MiB.
    for my $round (1 .. 2) {
        for my $i (0 .. 99) {
            my @k = map { "ws:" . ($i * 100 + $_) } 1 .. 100;
            store_many($s, \@k, 'w' x 1000) if $round == 1;
            drain_get($s, "get @k");
        }
    }
    my $b = capture($sock, "$dir/small-b.json");
    my ($rc, $d, $out) = doctor(undef, $a, $b);
    is($rc, 1, 'small: exit 1');
    my $f = finding($d, 'memory_too_small');
    ok($f, 'small: memory_too_small found') or diag($out);
    cmp_ok($f->{subject}{evicted_time}, '<', 600, 'small: evicted soon after last use');
    ok((grep { /lru class \d+: \+\d+ evicted/ } @{ $f->{evidence} }), 'small: the LRU is evidence');
    is_deeply($f->{advice}, ['raise_m'], 'small: advice is -m');
    ok(!finding($d, 'write_only_churn'), 'small: the items were read, no write-only churn');
}

# --- 16. write-only churn ------------------------------------------------------------
{
    my $sock = "/tmp/mcd-doctor-wo-$$.admin";
    my $srv = new_server('-m', '4', '-o', "admin_socket=$sock");
    my $s = $srv->sock;
    my $a = capture($sock, "$dir/wo-a.json");
    store_many($s, [map { "log:$_" } 1 .. 12000], 'w' x 1000);
    my $b = capture($sock, "$dir/wo-b.json");
    my ($rc, $d, $out) = doctor(undef, $a, $b);
    my $f = finding($d, 'write_only_churn');
    ok($f, 'write-only: found') or diag($out);
    ok((grep { /evicted_unfetched \+\d+/ } @{ $f->{evidence} }), 'write-only: unfetched evictions');
    ok(!finding($d, 'memory_too_small'), 'write-only: not a small cache, nothing was read');
}
done_testing();
