#!/usr/bin/perl
# Load and faults: overload and misbehaving clients leave mcd serving with
# nothing lost and memory bounded (-m under churn: churn.t).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;
use IO::Socket::INET;

plan skip_all => 'these use mcd\'s admin socket' unless mcd_only() && !external();

sub errcount {
    my ($path, $code) = @_;
    my ($s) = grep { $_->{code} == $code } @{ admin_request($path, 'errors')->{data}{sites} };
    return $s ? $s->{count} : 0;
}

# --- maxconns: refused with the coded line, counted, served again after ---
{
    my $path = "/tmp/mcd-load-c-$$.admin";
    my $srv = new_server('-c', '10', '-o', "admin_socket=$path");
    my @held;
    my $refused = 0;
    for (1 .. 20) {
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $srv->port) or next;
        my $r = send_recv($c, "version\r\n") // '';
        if ($r =~ /^ERROR Too many open connections/) { $refused++; close $c } else { push @held, $c }
    }
    ok($refused >= 9, "maxconns: $refused of 20 refused with ERROR Too many open connections");
    ok(@held <= 10, 'maxconns: at most -c served');
    is(errcount($path, 6001), $refused, 'maxconns: every refusal counted at E6001');
    close $_ for @held;
    my $ok;
    wait_until(sub { my $c = eval { $srv->new_sock }; $ok = $c && (send_recv($c, "version\r\n") // '') =~ /^VERSION/; $ok }, 5);
    ok($ok, 'maxconns: served again once load drops');
}

# --- a client that sends requests but never reads --------------------------
{
    my $path = "/tmp/mcd-load-w-$$.admin";
    my $srv = new_server('-o', "admin_socket=$path,write_timeout=1");
    my $s = $srv->sock;
    set_ok($s, 'big', 'x' x 200_000);
    my $deaf = $srv->new_sock;
    setsockopt($deaf, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4096);
    $deaf->blocking(0);
    my $req = "get big\r\n" x 2000;    # 400 MB of replies if they were kept
    my $sent = 0;
    for (1 .. 200) {
        my $n = syswrite($deaf, $req);
        $sent += $n // 0;
        last if !defined $n;
    }
    my $mem = admin_request($path, 'memory')->{data};
    ok($mem->{owners}{connections}{buffer_bytes} < 8 * 1024 * 1024,
       'never-reading client: buffer memory stays bounded (' . $mem->{owners}{connections}{buffer_bytes} . ' bytes)');
    ok(wait_until(sub { errcount($path, 6017) >= 1 }, 10), 'never-reading client: closed with E6017');
    my $closes = admin_request($path, 'history conn')->{data}{events};
    ok((grep { $_->{what} eq 'client stopped reading' } @$closes), 'never-reading client: the close reason is recorded');
    my $locked = admin_request($path, 'locked')->{data};
    is(scalar @{ $locked->{items} }, 0, 'never-reading client: its item references were released');
    mem_get_is($s, 'big', 'x' x 200_000, 'never-reading client: data intact, others served');
}

# --- clients that go away mid-value and mid-response ------------------------
{
    my $path = "/tmp/mcd-load-d-$$.admin";
    my $srv = new_server('-o', "admin_socket=$path");
    my $s = $srv->sock;
    set_ok($s, 'keep', 'v');
    set_ok($s, 'big', 'y' x 500_000);
    for (1 .. 20) {
        my $c = $srv->new_sock;
        print $c "set half 0 0 100000\r\n" . ('z' x 5000);   # then gone
        close $c;
        my $d = $srv->new_sock;
        print $d "get big big big big\r\n";                    # gone before reading
        close $d;
    }
    my $ok = wait_until(sub { !@{ admin_request($path, 'locked')->{data}{items} } }, 5);
    ok($ok, 'disconnects: no reference left held');
    mem_get_is($s, 'keep', 'v', 'disconnects: stored data intact');
    mem_get_is($s, 'half', undef, 'disconnects: a half-sent value is not stored');
    is(mem_stats($s)->{curr_items}, 2, 'disconnects: item count unchanged');
}

# --- garbage on every port ------------------------------------------------
{
    my $path = "/tmp/mcd-load-g-$$.admin";
    my $srv = new_server('-o', "admin_socket=$path");
    my $s = $srv->sock;
    set_ok($s, 'keep', 'v');
    srand(42);
    for my $i (1 .. 30) {
        my $junk = join '', map { chr(int(rand(256))) } 1 .. 2000;
        $junk = "\x80" . $junk if $i % 3 == 0;     # binary-looking
        my $c = $srv->new_sock;
        print $c $junk;
        close $c;
        my $a = eval { admin_connect($path) };
        if ($a) { print $a $junk; close $a }
    }
    mem_get_is($s, 'keep', 'v', 'garbage: data intact');
    is(admin_request($path, 'stats')->{data}{stats}{curr_items}, 1, 'garbage: the admin socket still answers');
}

# --- an admin client that disconnects mid-dump ------------------------------
{
    my $path = "/tmp/mcd-load-a-$$.admin";
    my $srv = new_server('-o', "admin_socket=$path");
    my $s = $srv->sock;
    send_bytes($s, join('', map { "set k$_ 0 0 100 noreply\r\n" . ('v' x 100) . "\r\n" } 1 .. 20000) . "version\r\n");
    like(read_line($s), qr/^VERSION/, '20000 items stored');
    for (1 .. 5) {
        my $a = admin_connect($path);
        print $a "items values=1\n";
        sysread($a, my $buf, 100);
        close $a;
    }
    ok(wait_until(sub { !@{ admin_request($path, 'locked')->{data}{items} } }, 5),
       'admin gone mid-dump: the dump released everything it held');
    is(admin_request($path, 'stats')->{data}{stats}{curr_items}, 20000, 'admin gone mid-dump: items intact');
}

# --- connection buffer limit ----------------------------------------------
{
    my $path = "/tmp/mcd-load-b-$$.admin";
    my $srv = new_server('-o', "admin_socket=$path,read_buf_mem_limit=1");
    my @c = map { $srv->new_sock } 1 .. 4;
    my $line = 'get ' . join(' ', map { "key$_" } 1 .. 60000);
    print $_ substr($line, 0, 500_000) for @c;
    my $told = 0;
    for my $c (@c) {
        my $r = eval { read_line($c) };
        $told++ if defined $r && $r =~ /^SERVER_ERROR out of memory reading request: buffer memory limit reached \[E6016\]/;
    }
    ok($told >= 1, "buffer limit: $told clients told with E6016");
    ok(errcount($path, 6015) >= 1, 'buffer limit: the refusal counted at E6015');
    my $s = $srv->new_sock;
    like(send_recv($s, "version\r\n"), qr/^VERSION/, 'buffer limit: small requests still served');
    cmp_ok(mem_stats($s)->{read_buf_oom}, '>=', errcount($path, 6015),
           'buffer limit: stats read_buf_oom counts each refusal');
}

# --- signals: SIGHUP is ignored, SIGUSR1 stops cleanly ----------------------
{
    my $srv = new_server();
    kill 'HUP', $srv->pid;
    my $s = $srv->new_sock;
    like(send_recv($s, "version\r\n"), qr/^VERSION/, 'SIGHUP: still serving');
    kill 'USR1', $srv->pid;
    my $st = $srv->wait_exit(10);
    is($st, 0, 'SIGUSR1: clean exit, status 0');
}
done_testing();
