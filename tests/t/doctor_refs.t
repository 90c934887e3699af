#!/usr/bin/perl
# doctor names held references: a leaked reference (fault injection) with
# its item and the source line that took it, only once it persists; and a
# client that asks for a big value many times and never reads, holding it.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 90;
use McdAdmin;
use McdDoctor;
use File::Temp qw(tempdir);
use POSIX ();

plan skip_all => 'doctor reads mcd\'s admin socket' unless mcd_only() && !external();
plan skip_all => 'no mcadmin binary (make builds it)' unless -x mcadmin_bin();
my $dir = tempdir('doctor-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# --- 1. reference leak ---------------------------------------------------------
{
    my $sock = "/tmp/mcd-doctor-leak-$$.admin";
    my $srv = new_server('-o', "admin_socket=$sock,fault=ERR_TEST_LEAK_REF:3");
    my $s = $srv->sock;
    set_ok($s, "leaky$_", "v$_") for 1 .. 3;
    mem_get_is($s, "leaky$_", "v$_") for 1 .. 3;     # the 3rd get leaks

    my ($rc, $d, $out) = doctor($sock, '--interval', '0.5');
    is($rc, 1, 'leak: exit 1');
    my $f = finding($d, 'reference_leak');
    ok($f, 'leak: reference_leak found') or diag($out);
    is_deeply($f->{subject}{keys}, ['leaky3'], 'leak: the item is named');
    like($f->{subject}{sites}[0] // '', qr/^mcd\/proto_text\.c:\d+$/, 'leak: the site is named');
    like($f->{title}, qr/'leaky3', taken at mcd\/proto_text\.c:\d+/, 'leak: title names both');
    ok((grep { /refcount 2, resting 1, 1 unexplained/ } @{ $f->{evidence} }),
       'leak: the counts are evidence');
    is_deeply($f->{advice}, ['bug_report'], 'leak: advice is a bug report');

    # One sample cannot show persistence: no leak finding, and it says why.
    my $one = capture($sock, "$dir/one.json");
    ($rc, $d) = doctor(undef, $one);
    ok(!finding($d, 'reference_leak'), 'leak: one snapshot alone does not claim a leak');
    my ($r) = grep { $_->{name} eq 'reference_leak' } @{ $d->{rules} };
    is($r->{status}, 'needs data', 'leak: one sample is not enough, said so');

    my ($trc, $text) = mca('-s', $sock, 'doctor', '--interval', '0.3');
    like($text, qr/^1\. reference_leak: /m, 'leak text: the finding is numbered');
    like($text, qr/What to do:\n- \[bug report\]/, 'leak text: then the advice');
}

# --- 6. a client that never reads ------------------------------------------------
{
    my $sock = "/tmp/mcd-doctor-slow-$$.admin";
    my $srv = new_server('-o', "admin_socket=$sock");
    my $s = $srv->sock;
    my $big = 'b' x (512 * 1024);
    is(store_many($s, ['bigkey'], $big), 1, 'slow client: bigkey stored');
    my $slow = $srv->new_sock;
    send_bytes($slow, "get bigkey\r\n" x 200);       # 100 MiB of replies, never read
    my $id;
    ok(wait_until(sub {
        my $cs = admin_request($sock, 'conns')->{data}{connections};
        my ($c) = grep { $_->{state} eq 'conn_mwrite' && $_->{pending_bytes} > 0 } @$cs;
        $id = $c->{id} if $c;
        return $c;
    }, 10), 'slow client: the connection is stuck writing');

    my ($rc, $d, $out) = doctor($sock, '--interval', '0.5');
    is($rc, 1, 'slow client: exit 1');
    my $f = finding($d, 'slow_client');
    ok($f, 'slow client: found') or diag($out);
    is($f->{subject}{conn_id}, $id, 'slow client: the connection is named');
    like($f->{subject}{peer} // '', qr/^tcp:127\.0\.0\.1:\d+$/, 'slow client: with its peer');
    ok((grep { /locked: 'bigkey'/ } @{ $f->{evidence} }), 'slow client: the held item is named');
    ok(!finding($d, 'reference_leak'), 'slow client: explained references are no leak');
    close $slow;
}

# --- 6a. ... whose held items stores' evictions must pass over -------------------------
{
    my $sock = "/tmp/mcd-doctor-tail-$$.admin";
    my $srv = new_server('-m', '2', '-o', "admin_socket=$sock");
    my $s = $srv->sock;
    my $v = 'v' x 1000;
    send_bytes($s, join('', map { "set k$_ 0 0 1000 noreply\r\n$v\r\n" } 1 .. 2500) . "version\r\n");
    like(read_line($s), qr/^VERSION/, 'held tail: filled past -m 2');
    my @tail;      # the oldest items left: the LRU tail
    for my $i (1 .. 2500) {
        push @tail, "k$i" if send_recv($s, "mg k$i\r\n") eq "HD\r\n";
        last if @tail == 4;
    }
    my $slow = $srv->new_sock;
    send_bytes($slow, 'get ' . join(' ', (@tail) x 10000) . "\r\n");   # 40 MB, never read
    ok(wait_until(sub {
        my ($c) = grep { $_->{state} eq 'conn_mwrite' && $_->{held_refs} >= 4 }
                  @{ admin_request($sock, 'conns')->{data}{connections} };
        return $c;
    }, 10), 'held tail: the client holds the tail items');
    # stores that evict, while the doctor takes its two samples
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $w = $srv->new_sock;
        my $end = time + 3 * McdTest::slow();
        my $i = 0;
        send_recv($w, "set new" . $i++ . " 0 0 1000\r\n$v\r\n") while time < $end;
        POSIX::_exit(0);
    }
    my ($rc, $d, $out) = doctor($sock, '--interval', '1');
    waitpid($pid, 0);
    my $f = finding($d, 'slow_client');
    ok($f, 'held tail: slow_client found') or diag($out);
    ok((grep { /^stats: lrutail_reflocked \+\d+ over the interval/ } @{ $f->{evidence} // [] }),
       'held tail: the evictions that passed its items by are evidence') or diag($out);
    close $slow;
}

# --- 6b. ... and one that write_timeout closed ---------------------------------------
{
    my $sock = "/tmp/mcd-doctor-wto-$$.admin";
    my $srv = new_server('-o', "admin_socket=$sock,write_timeout=1");
    my $s = $srv->sock;
    is(store_many($s, ['bigkey'], 'b' x (512 * 1024)), 1, 'write timeout: bigkey stored');
    my $slow = $srv->new_sock;
    send_bytes($slow, "get bigkey\r\n" x 200);
    ok(wait_until(sub {
        my ($site) = grep { $_->{code} == 6017 } @{ admin_request($sock, 'errors')->{data}{sites} };
        return $site && $site->{count} > 0;
    }, 10), 'write timeout: the client was closed (E6017)');
    my ($rc, $d, $out) = doctor($sock, '--interval', '0.2');
    my $f = finding($d, 'slow_client');
    ok($f, 'write timeout: slow_client found') or diag($out);
    like($f->{title}, qr/closed for not reading their replies for -o write_timeout=1s/,
         'write timeout: says they were closed');
    ok((grep { /^history: connection \d+ \(tcp:127\.0\.0\.1:\d+\) closed .*stopped reading/ }
        @{ $f->{evidence} }), 'write timeout: the closed connection and its peer');
    close $slow;
}
done_testing();
