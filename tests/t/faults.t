#!/usr/bin/perl
# Fault injection (-o fault=SITE:N): for each failure site a test can reach,
# the client gets the coded error (or the connection is closed, for sites
# no client can be told about), the site's counter moves, the server keeps
# serving, and nothing already stored is lost. Under `make asan` the
# sanitizer also proves nothing leaks on these error paths.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;

plan skip_all => 'fault injection is mcd\'s' unless mcd_only() && !external();

sub count {
    my ($srv, $code) = @_;
    my $sock = $srv->new_sock;
    my $st = mem_stats($sock, 'errors');
    my ($k) = grep { /^E$code:/ } keys %$st;
    return $k ? $st->{$k} : undef;
}

sub admin_count {
    my ($path, $code) = @_;
    my $r = admin_request($path, 'errors');
    my ($site) = grep { $_->{code} == $code } @{ $r->{data}{sites} };
    return $site ? $site->{count} : undef;
}

# --- a slab page the system refuses -----------------------------------------
SKIP: {
    skip 'slab pages are the slab engine\'s', 8 unless engine() eq 'slab';
    # the 1st page malloc works, the 2nd fails
    my $srv = new_server('-o', 'fault=ERR_SLAB_PAGE_MALLOC:2');
    my $s = $srv->sock;
    set_ok($s, "small$_", "v$_") for 1 .. 20;
    my $big = 'b' x 5000;   # another slab class: needs a new page
    err_like(send_recv($s, "set big 0 0 5000\r\n$big\r\n"),
             'SERVER_ERROR out of memory storing object', 'refused page: coded SERVER_ERROR');
    is(count($srv, 2120), 1, 'refused page: E2120 counted');
    is(count($srv, 2107), 1, 'refused page: E2107 answered and counted');
    mem_get_is($s, "small$_", "v$_", "refused page: small$_ kept") for (1, 20);
    set_ok($s, 'after', 'ok');   # stores in classes with memory still work
}

# --- the heap engine: malloc refuses an item -------------------------------
{
    my $srv = new_server('-o', 'engine=heap,fault=ERR_HEAP_ITEM_MALLOC:2');
    my $s = $srv->sock;
    set_ok($s, 'first', 'v1');
    err_like(send_recv($s, "set second 0 0 2\r\nv2\r\n"),
             'SERVER_ERROR out of memory storing object',
             'heap malloc refused: coded SERVER_ERROR');
    is(count($srv, 2210), 1, 'heap malloc refused: E2210 counted');
    is(count($srv, 2211), 1, 'heap malloc refused: E2211 answered and counted');
    mem_get_is($s, 'first', 'v1', 'heap malloc refused: earlier item kept');
    set_ok($s, 'third', 'v3');
}

# --- incr that needs a bigger item ----------------------------------------
{
    my $srv = new_server('-o', 'fault=ERR_NO_MEMORY_INCR:1');
    my $s = $srv->sock;
    set_ok($s, 'n', '9');
    err_like(send_recv($s, "incr n 1\r\n"), 'SERVER_ERROR out of memory in incr/decr',
             'incr growing the value: coded SERVER_ERROR');
    mem_get_is($s, 'n', '9', 'incr failure: the old value is unchanged');
    is(count($srv, 2111), 1, 'incr failure: E2111 counted');
    is(send_recv($s, "incr n 0\r\n"), "9\r\n", 'incr in place still works');
}

# --- the read buffer cannot grow ----------------------------------------
{
    my $srv = new_server('-o', 'fault=ERR_RBUF_MALLOC:1');
    my $s = $srv->sock;
    set_ok($s, 'keep', 'me');
    my $line = 'get ' . join(' ', map { "key$_" } 1 .. 4000) . "\r\n";   # > 16 KiB
    err_like(send_recv($s, $line), 'SERVER_ERROR out of memory reading request',
             'read buffer growth refused: coded SERVER_ERROR');
    ok(expect_eof($s), 'read buffer growth refused: the connection is closed');
    is(count($srv, 6005), 1, 'read buffer: E6005 counted');
    mem_get_is($srv->new_sock, 'keep', 'me', 'read buffer: stored data intact');
}

# --- no read buffer for a connection with input (every 2nd take fails) ------
{
    my $srv = new_server('-o', 'fault=ERR_RBUF_BLOCK:2');
    my $keeper;
    for (1 .. 10) {
        $keeper = eval { my $c = $srv->new_sock; (send_recv($c, "set kept 0 0 2\r\nok\r\n") // "") eq "STORED\r\n" ? $c : undef };
        last if $keeper;
    }
    ok($keeper, 'no read buffer: a connection that got one stores');
    my ($told, $served, $eof) = (0, 0, 0);
    # Clients stay open until all six have asked: a client's close is a read
    # event that takes a buffer too, and would shift which of the next
    # clients' takes fail (all six were served in about one run in eight).
    my @open;
    for (1 .. 6) {
        my $c = eval { $srv->new_sock } or next;
        push @open, $c;
        my $r = eval { send_recv($c, "version\r\n") } // '';
        if ($r =~ /^SERVER_ERROR out of memory reading request: no read buffer \[E6025\]/) {
            $told++;
            $eof++ if expect_eof($c);
        } elsif ($r =~ /^VERSION/) {
            $served++;
        }
    }
    close $_ for @open;
    ok($told >= 1, "no read buffer: $told of 6 clients told with E6025");
    is($eof, $told, 'no read buffer: each of them closed');
    ok($served >= 1, "no read buffer: $served of 6 served");
    my $n;
    for (1 .. 10) { $n = eval { count($srv, 6025) }; last if defined $n }
    ok(defined $n && $n >= $told, 'no read buffer: E6025 counted (' . ($n // 'n/a') . ')');
}

# --- no read buffer, but the client only hangs up: no error for that -------
{
    my $path = "/tmp/mcd-faults-rb-$$.admin";
    my $srv = new_server('-o', "fault=ERR_RBUF_BLOCK:1,admin_socket=$path");
    my $before = admin_count($path, 6025) // 0;
    my $closes = sub {
        scalar grep { $_->{what} eq 'client closed' }
            @{ admin_request($path, 'history conn')->{data}{events} };
    };
    my $was = $closes->();
    for (1 .. 5) {
        my $c = $srv->new_sock;
        close $c;
    }
    ok(wait_until(sub { $closes->() >= $was + 5 }, 10), 'hang-ups without a read buffer: closed as "client closed"');
    is(admin_count($path, 6025) // 0, $before, 'hang-ups without a read buffer: no E6025 for them');
}

# --- sites that refuse a whole connection ----------------------------------
# Every 2nd connection fails (the start-up probe's connections count too),
# so of several connections some must be closed at once and some serve.
sub try_conns {
    my ($srv, $n) = @_;
    my ($ok, $closed) = (0, 0);
    for (1 .. $n) {
        my $c = eval { $srv->new_sock } or next;
        my $r = eval { send_recv($c, "version\r\n") };
        if (defined $r && $r =~ /^VERSION/) { $ok++ } else { $closed++ }
        close $c;
    }
    return ($ok, $closed);
}

sub served_count {
    my ($srv, $code) = @_;
    for (1 .. 10) {
        my $v = eval { count($srv, $code) };
        return $v if defined $v;
    }
    return undef;
}

for my $case (['ERR_CONN_MALLOC', 6004, 'connection allocation'],
              ['ERR_THREAD_HANDOFF', 6007, 'hand-off to a worker'],
              ['ERR_EVENT_ADD', 6008, 'event registration']) {
    my ($site, $code, $what) = @$case;
    my $srv = new_server('-o', "fault=$site:2");
    my $keeper;
    for (1 .. 10) {
        $keeper = eval { my $c = $srv->new_sock; (send_recv($c, "set kept 0 0 2\r\nok\r\n") // "") eq "STORED\r\n" ? $c : undef };
        last if $keeper;
    }
    ok($keeper, "$what refused: a connection that got through stores");
    my ($ok, $closed) = try_conns($srv, 6);
    ok($closed >= 1, "$what refused: $closed of 6 connections closed at once");
    ok($ok >= 1, "$what refused: $ok of 6 connections served");
    my $n = served_count($srv, $code);
    ok(defined $n && $n >= $closed, "$what refused: E$code counted ($n)");
    mem_get_is($keeper, 'kept', 'ok', "$what refused: stored data intact");
}

# --- response memory cannot be allocated ----------------------------------
{
    my $path = "/tmp/mcd-faults-$$.admin";
    my $srv = new_server('-t', '1', '-o', "fault=ERR_WBUF_MALLOC:1,admin_socket=$path");
    my $s = $srv->sock;
    send_bytes($s, "set quiet 0 0 2 noreply\r\nok\r\nversion\r\n");
    ok(expect_eof($s), 'response memory refused: the connection is closed');
    is(admin_count($path, 6006), 1, 'response memory: E6006 counted (read on the admin socket)');
    my @items = admin_stream($path, 'items');
    ok((grep { ($_->{key} // '') eq 'quiet' } @items), 'response memory: the noreply store still landed');
}

# --- the hash table cannot grow -------------------------------------------
{
    my $srv = new_server('-o', 'hashpower=12,fault=ERR_HASH_EXPAND_MALLOC:1');
    my $s = $srv->sock;
    my $n = 7000;   # past 1.5 x 4096 buckets
    send_bytes($s, join('', map { "set k$_ 0 0 1 noreply\r\nx\r\n" } 1 .. $n) . "version\r\n");
    like(read_line($s), qr/^VERSION/, 'hash growth refused: stores went on');
    ok(wait_until(sub { (count($srv, 2121) // 0) >= 1 }, 5), 'hash growth: E2121 counted');
    my $st = mem_stats($s);
    is($st->{curr_items}, $n, 'hash growth refused: every item stored');
    is($st->{hash_power_level}, 12, 'hash growth refused: the table kept its size');
    mem_get_is($s, "k$_", 'x', "hash growth refused: k$_ readable") for (1, $n);
}

# --- a bad fault spec is refused at start ---------------------------------
{
    my ($rc, $out, $err) = run_bin(['-o', 'fault=NO_SUCH_SITE:1']);
    is($rc >> 8, 64, 'an unknown fault site exits 64');
    like($err, qr/names no error site/, 'and says why');
}

done_testing();
