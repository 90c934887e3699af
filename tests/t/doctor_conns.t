#!/usr/bin/perl
# doctor on connections: refused at -c, a descriptor limit below -c, and
# connection buffers that make RSS far exceed -m.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 90;
use McdAdmin;
use McdDoctor;

plan skip_all => 'doctor reads mcd\'s admin socket' unless mcd_only() && !external();
plan skip_all => 'no mcadmin binary (make builds it)' unless -x mcadmin_bin();

# --- 3. maxconns -------------------------------------------------------------------
{
    my $sock = "/tmp/mcd-doctor-maxc-$$.admin";
    my $srv = new_server('-c', '10', '-o', "admin_socket=$sock");
    my @keep;
    for (1 .. 15) {
        my $c = eval { $srv->new_sock } or last;
        push @keep, $c;
    }
    ok(wait_until(sub { mem_stats($keep[0])->{rejected_connections} > 0 }, 10),
       'maxconns: connections refused');
    my ($rc, $d, $out) = doctor($sock, '--interval', '0.3');
    is($rc, 1, 'maxconns: exit 1');
    my $f = finding($d, 'maxconns');
    ok($f, 'maxconns: found') or diag($out);
    is($f->{subject}{max_connections}, 10, 'maxconns: -c is named');
    ok((grep { /^E6001 ERR_MAXCONNS: \d+ since start/ } @{ $f->{evidence} }), 'maxconns: E6001 is evidence');
    ok((grep { /\d+ connections from tcp:127\.0\.0\.1$/ } @{ $f->{evidence} }), 'maxconns: peers counted');
    is_deeply([sort @{ $f->{advice} }], ['E6001', 'maxconns'], 'maxconns: advice on -c, and the site\'s');
    ok(!finding($d, 'fd_limit'), 'maxconns: the descriptor limit is fine');
}

# --- 18. descriptor limit below -c -------------------------------------------------
SKIP: {
    my $prlimit = (grep { -x "$_/prlimit" } split /:/, $ENV{PATH})[0];
    skip 'needs prlimit (util-linux)', 5 unless $prlimit;
    my $sock = "/tmp/mcd-doctor-nofile-$$.admin";
    # The server runs under a hard limit of 64 descriptors and cannot raise
    # it to -c + 64.
    my $bin = server_bin();
    my $vg = under_valgrind();
    my $wrap = "/tmp/mcd-doctor-prlimit-$$.sh";
    open my $w, '>', $wrap or die $!;
    print $w "#!/bin/sh\nexec $prlimit/prlimit --nofile=64:64 $bin \"\$@\"\n";
    close $w;
    chmod 0755, $wrap;
    local $ENV{MCD_BIN} = $wrap;
    my $srv = new_server('-c', '1000', '-o', "admin_socket=$sock");
    my ($rc, $d, $out) = doctor($sock, '--interval', '0.2');
    unlink $wrap;
    is($rc, 1, 'fd limit: exit 1');
    my $f = finding($d, 'fd_limit');
    ok($f, 'fd limit: found') or diag($out);
    # memcheck keeps a few descriptors of the limit for itself (12 in 3.19)
    my $want = 64;
    my $got = $f ? $f->{subject}{nofile_limit} // 0 : 0;
    $want = $got if $vg && $got >= 32 && $got < 64;
    is($got, $want, 'fd limit: the limit is named');
    like($f->{title}, qr/\($want\) is below -c 1000/, 'fd limit: against -c');
    ok((grep { /^E6014 / } @{ $f->{evidence} }), 'fd limit: E6014 is evidence');
}

# --- 9. connection buffers ------------------------------------------------------------
SKIP: {
    skip 'sanitizer builds change memory', 4 if ($ENV{MCD_BIN} // '') =~ /-(asan|tsan)$/;
    my $sock = "/tmp/mcd-doctor-buf-$$.admin";
    my $srv = new_server('-m', '16', '-o', "admin_socket=$sock");
    # 40 clients each send most of a huge multi-get line and stop.
    my $line = 'get ' . join(' ', map { sprintf 'key%06d', $_ } 1 .. 100000);
    my @clients;
    for (1 .. 40) {
        my $c = $srv->new_sock;
        send_bytes($c, substr($line, 0, 1_000_000));
        push @clients, $c;
    }
    ok(wait_until(sub {
        admin_request($sock, 'memory')->{data}{owners}{connections}{buffer_bytes} >= 40_000_000
    }, 15), 'buffers: the read buffers grew');
    my ($rc, $d, $out) = doctor($sock, '--interval', '0.2');
    my $f = finding($d, 'conn_buffers');
    ok($f, 'buffers: conn_buffers found') or diag($out);
    cmp_ok($f->{subject}{buffer_bytes}, '>=', 40_000_000, 'buffers: the bytes are named');
    ok((grep { /connection \d+ \(tcp:127\.0\.0\.1:\d+\): .*read buffer/ } @{ $f->{evidence} }),
       'buffers: the largest connections are evidence');
    close $_ for @clients;
}
done_testing();
