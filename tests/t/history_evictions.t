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
use JSON::PP qw(decode_json);

plan skip_all => 'history is mcd\'s' unless mcd_only() && !external();
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

# the same events live: a watcher of evictions, expirations and connections
{
    my $w = admin_connect($path);
    print $w "watch eviction,expiration,conn\n";
    my $head = decode_json(McdAdmin::_line($w));
    is($head->{stream}, JSON::PP::true, 'watch eviction,expiration,conn: a stream header');
    # read events until want() has what it needs, or 15 s
    my $follow = sub {
        my ($want) = @_;
        my $deadline = time + 15;
        while (time < $deadline) {
            my $l = eval { McdAdmin::_line($w) } // return;
            my $ev = decode_json($l);
            return 1 if $ev->{kind} && $want->($ev);
        }
        return;
    };
    my $c = $srv->new_sock;
    my $port = $c->sockport;
    set_ok($c, 'watched', 'x', exptime => 1);
    close $c;
    my ($open, $close, $exp);
    $follow->(sub {
        my ($ev) = @_;
        $exp //= $ev if $ev->{kind} eq 'expiration' && ($ev->{key} // '') eq 'watched';
        if ($ev->{kind} eq 'conn' && $ev->{peer} eq "tcp:127.0.0.1:$port") {
            $open //= $ev if $ev->{what} eq 'open';
            $close //= $ev if $ev->{what} ne 'open';
        }
        return $open && $close && $exp;
    });
    ok($open && $open->{conn_id} > 0, 'watch: a connection opening, with its peer');
    is($close && $close->{what}, 'client closed', 'watch: and closing, with the reason');
    ok($exp && $exp->{class} > 0, 'watch: the item expiring, reclaimed in the background');

    # thousands of evictions: the watcher may lose some (it is told how
    # many), but sees evictions
    my $f = $srv->new_sock;
    send_bytes($f, join('', map { "set wv$_ 0 0 1000 noreply\r\n$v\r\n" } 1 .. 8000) . "version\r\n");
    like(read_line($f), qr/^VERSION/, 'stored past -m 4 again');
    my $evict;
    $follow->(sub {
        my ($ev) = @_;
        $evict //= $ev if $ev->{kind} eq 'eviction' && ($ev->{key} // '') =~ /^(ev|wv)\d+$/;
        return $evict;
    });
    ok($evict && $evict->{class} > 0 && defined $evict->{age_secs} && defined $evict->{fetched},
       'watch: an eviction with its key, class, age and whether it was fetched');
    print $w "stop\n";
    close $w;
}

# a manual page move
my $big = 'b' x 20000;
set_ok($s, "big$_", $big) for 1 .. 3;
my $st = mem_stats($s, 'slabs');
my ($src) = map { /^(\d+):total_pages$/ ? $1 : () } grep { /:total_pages$/ && $st->{$_} > 1 } keys %$st;
my ($dst) = map { /^(\d+):chunk_size$/ ? $1 : () } grep { /:chunk_size$/ && $st->{$_} > 20000 } keys %$st;
SKIP: {
    skip 'page moves are the slab engine\'s', 2 if engine() ne 'slab';
    skip 'no class with a spare page', 2 unless $src && $dst && $src != $dst;
    like(send_recv($s, "slabs reassign $src $dst\r\n"), qr/^OK/, 'slabs reassign');
    my $pm;
    wait_until(sub { $pm = admin_request($path, 'history pagemove')->{data}{events}; @$pm }, 10);
    is($pm->[0]{what} // '', 'slabs reassign', 'the page move is recorded with its reason');
}
done_testing();
