#!/usr/bin/perl
# memcached's LRU counters as mcd keeps them: lrutail_reflocked (tail items
# a store's eviction passed over because a client held them), direct_reclaims
# (items stores freed themselves), and the crawler_* and lru_crawler_*
# counters of the background expiry sweep; globally and per class in
# `stats items`.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 60;
use McdAdmin;
use Socket qw(SOL_SOCKET SO_RCVBUF);

plan skip_all => 'counts of mcd\'s own eviction and expiry sweep' if is_memcached();
plan skip_all => 'needs its own server (MCD_ADDR set)' if external();

sub class_of {
    my ($items, $field) = @_;
    my %by;
    for (keys %$items) { $by{$1} = $items->{$_} if /^items:(\d+):\Q$field\E$/ }
    return \%by;
}

# --- a held tail item is passed over, counted, and the store still succeeds ----
{
    my $path = "/tmp/mcd-lru-stats-$$.admin";
    my $srv = new_server('-m', '2', '-o', "admin_socket=$path");
    my $s = $srv->sock;
    my $v = 'a' x 1000;
    my $n = 2500;      # more than the 2 MB -m 2 holds, on either engine
    send_bytes($s, join('', map { "set k$_ 0 0 1000 noreply\r\n$v\r\n" } 1 .. $n) . "version\r\n");
    like(read_line($s), qr/^VERSION/, 'filled');
    # the oldest items left (filling evicted the first ones): the LRU tail
    my @tail;
    for my $i (1 .. $n) {
        my $r = send_recv($s, "mg k$i\r\n");
        push @tail, "k$i" if $r eq "HD\r\n";
        last if @tail == 4;
    }
    is(scalar @tail, 4, "the LRU tail: @tail");
    # held by a client that reads nothing: all references are taken before
    # any byte of the 40 MB reply is written (more than the loopback socket
    # buffers take), and stay while the rest waits unsent
    my $deaf = $srv->new_sock;
    setsockopt($deaf, SOL_SOCKET, SO_RCVBUF, 4096);
    send_bytes($deaf, 'get ' . join(' ', (@tail) x 10000) . "\r\n");
    ok(wait_until(sub {
        my ($c) = grep { $_->{held_refs} > 0 } @{ admin_request($path, 'conns')->{data}{connections} };
        return $c && $c->{held_refs} >= 4;
    }, 10 * McdTest::slow()), 'a client holds the tail items');
    my $before = mem_stats($s);
    my $refused = 0;
    for my $i (1 .. 20) {
        my $r = send_recv($s, "set new$i 0 0 1000\r\n$v\r\n");
        $refused++ unless $r eq "STORED\r\n";
    }
    my $after = mem_stats($s);
    is($refused, 0, 'stores succeed past the held tail items');
    cmp_ok($after->{evictions} - $before->{evictions}, '>=', 1, 'by evicting');
    cmp_ok($after->{lrutail_reflocked} - $before->{lrutail_reflocked}, '>=', 4,
           'lrutail_reflocked counts the held items passed over');
    cmp_ok($after->{direct_reclaims} - $before->{direct_reclaims}, '>=',
           $after->{evictions} - $before->{evictions}, 'direct_reclaims counts each eviction by a store');
    my $items = mem_stats($s, 'items');
    my $reflocked = class_of($items, 'lrutail_reflocked');
    my $total = 0;
    $total += $_ for values %$reflocked;
    is($total, $after->{lrutail_reflocked}, 'stats items: per-class lrutail_reflocked add up');
    for my $f (qw(evicted_active crawler_reclaimed crawler_items_checked direct_reclaims mem_requested)) {
        my $by = class_of($items, $f);
        ok(%$by && !(grep { !/^\d+$/ } values %$by), "stats items: every class has $f");
    }
    close $deaf;
    $srv->stop;
}

# --- the expiry sweep: started, items checked, the dead ones freed ----------------
{
    my $srv = new_server();
    my $s = $srv->sock;
    my $before = mem_stats($s);
    is($before->{lru_crawler_running}, 0, 'no sweep before anything can expire');
    send_bytes($s, join('', map { "set t$_ 0 1 1 noreply\r\nx\r\n" } 1 .. 50) . "version\r\n");
    like(read_line($s), qr/^VERSION/, '50 items with a 1-second TTL');
    my $st;
    ok(wait_until(sub {
        $st = mem_stats($s);
        return $st->{crawler_reclaimed} - $before->{crawler_reclaimed} >= 50;
    }, 10 * McdTest::slow()), 'the sweep freed all 50 once they expired')
        or diag explain $st;
    cmp_ok($st->{lru_crawler_starts}, '>', $before->{lru_crawler_starts}, 'lru_crawler_starts counted');
    cmp_ok($st->{crawler_items_checked} - $before->{crawler_items_checked}, '>=', 50,
           'crawler_items_checked counts them');
    is($st->{curr_items}, 0, 'curr_items fell to 0');
    is($st->{get_expired} - $before->{get_expired}, 0, 'no client met them: get_expired unchanged');
    $srv->stop;
}

done_testing();
