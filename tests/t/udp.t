#!/usr/bin/perl
# The UDP transport (-U): raw datagrams with memcached's 8-byte frame header
# (request ID, sequence number, total datagrams, reserved), the text and
# binary protocols over it, a reply of many datagrams reassembled against
# the TCP reply, items crossing between TCP and UDP, and every refused
# datagram counted at its own error site without harming the server.
#
# Runs against stock memcached too (MCD_BIN=/usr/bin/memcached): what only
# mcd does (error counters, one message per request instead of one per
# response, not carrying a cut command into the next datagram) is guarded
# by mcd_only().
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 120;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time);

plan skip_all => 'needs its own server (-U)' if external();
my $mcd = mcd_only();

my $srv = new_server('-U', 'free', '-t', '2');
my $uport = $srv->udp_port;
ok($uport, "server started with UDP port $uport");
my $tcp = $srv->sock;

# --- a raw UDP client -----------------------------------------------------

my $next_id = 0x1200;

sub udp_sock {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $uport,
                                  Proto => 'udp') or die "udp socket: $!";
    # a reply of many datagrams arrives faster than we read it
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 8 << 20) or die "SO_RCVBUF: $!";
    return $s;
}

# Send one datagram (header + payload); collect what comes back until a
# whole message of $want_id arrived or $wait seconds passed. Returns a list
# of { id, seq, total, reserved, data, len }.
sub exchange {
    my ($s, $raw, $want_id, $wait) = @_;
    $wait //= 3;
    my $sel = IO::Select->new($s);
    # late datagrams of an earlier reply are not this one's
    while ($sel->can_read(0)) {
        recv($s, my $stale, 65536, 0);
    }
    defined send($s, $raw, 0) or die "send: $!";
    my (@got, %seen);
    my $deadline = time + $wait;
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        my $buf;
        defined recv($s, $buf, 65536, 0) or die "recv: $!";
        my ($id, $seq, $total, $res) = length $buf >= 8 ? unpack('nnnn', $buf) : (-1) x 4;
        push @got, { id => $id, seq => $seq, total => $total, reserved => $res,
                     data => substr($buf, 8), len => length $buf };
        $seen{$seq} = 1 if defined $want_id && $id == $want_id;
        last if defined $want_id && $total && keys(%seen) >= $total;
    }
    return @got;
}

sub frame { my (%o) = @_; return pack('nnnn', $o{id}, $o{seq} // 0, $o{total} // 1, $o{reserved} // 0) }

# One request, the reply's datagrams in arrival order.
sub udp_req {
    my ($s, $payload, %o) = @_;
    my $id = $o{id} // $next_id++;
    return exchange($s, frame(%o, id => $id) . $payload, $id, $o{wait});
}

# The reply's bytes in sequence order.
sub joined { return join '', map { $_->{data} } sort { $a->{seq} <=> $b->{seq} } @_ }

# A request whose reply is one small datagram: check its header, return the payload.
sub udp_small {
    my ($s, $payload, $name) = @_;
    my $id = $next_id++;
    my @d = exchange($s, frame(id => $id) . $payload, $id);
    is(scalar @d, 1, "$name: one datagram") or return '';
    is_deeply([ @{ $d[0] }{qw(id seq total reserved)} ], [ $id, 0, 1, 0 ],
              "$name: header echoes id $id, seq 0 of 1, reserved 0");
    return $d[0]{data};
}

# Nothing comes back within a short while.
sub silent {
    my ($s, $raw, $name) = @_;
    my @d = exchange($s, $raw, undef, 0.6);
    is(scalar @d, 0, "$name: no reply") or diag explain \@d;
}

sub errors_of {
    my ($code) = @_;
    my $st = mem_stats($tcp, 'errors');
    my ($k) = grep { /^E$code:/ } keys %$st;
    return defined $k ? $st->{$k} : undef;
}

# Error sites are counted by whichever worker read the datagram: wait for it.
sub counted {
    my ($code, $want, $name) = @_;
    SKIP: {
        skip "mcd's error sites", 1 unless $mcd;
        my $n;
        wait_until(sub { $n = errors_of($code) // -1; $n >= $want }, 3);
        is($n, $want, "$name: counted at E$code");
    }
}

my $u = udp_sock();

# --- text commands ----------------------------------------------------------

is(udp_small($u, "set ukey 7 0 5\r\nhello\r\n", 'set'), "STORED\r\n", 'set over UDP');
is(udp_small($u, "get ukey\r\n", 'get'), "VALUE ukey 7 5\r\nhello\r\nEND\r\n", 'get over UDP');
is(udp_small($u, "set n 0 0 2\r\n40\r\n", 'set n'), "STORED\r\n", 'set a counter');
is(udp_small($u, "incr n 2\r\n", 'incr'), "42\r\n", 'incr over UDP');
is(udp_small($u, "decr n 50\r\n", 'decr'), "0\r\n", 'decr over UDP');
is(udp_small($u, "delete ukey\r\n", 'delete'), "DELETED\r\n", 'delete over UDP');
is(udp_small($u, "get ukey\r\n", 'miss'), "END\r\n", 'deleted over UDP');
is(udp_small($u, "delete ukey\r\n", 'delete miss'), "NOT_FOUND\r\n", 'delete of a missing key');
like(udp_small($u, "bogus\r\n", 'unknown'), qr/^ERROR/, 'unknown command answers ERROR');
is(udp_small($u, "ms mkey 2 T0\r\nhi\r\nmg mkey v\r\n", 'meta'), "HD\r\nVA 2\r\nhi\r\n",
   'meta commands over UDP') if $mcd;
is(udp_small($u, "mg mkey v\r\n", 'meta get'), "VA 2\r\nhi\r\n", 'meta get over UDP')
    if !$mcd && udp_small($u, "ms mkey 2 T0\r\nhi\r\n", 'meta set') eq "HD\r\n";
silent($u, frame(id => 5) . "set quiet 0 0 1 noreply\r\nq\r\n", 'noreply');
mem_get_is($tcp, 'quiet', 'q', 'noreply set over UDP stored');

# Several commands in one datagram.
SKIP: {
    skip 'memcached answers each response as its own message', 3 unless $mcd;
    is(udp_small($u, "set two 0 0 1\r\n2\r\nget two\r\n", 'pipelined'),
       "STORED\r\nVALUE two 0 1\r\n2\r\nEND\r\n", 'two commands, one message');
}

# --- TCP and UDP see the same items -------------------------------------------

set_ok($tcp, 'fromtcp', 'tcp value', flags => 3);
is(udp_small($u, "get fromtcp\r\n", 'tcp->udp'), "VALUE fromtcp 3 9\r\ntcp value\r\nEND\r\n",
   'set over TCP, read over UDP');
is(udp_small($u, "set fromudp 5 0 9\r\nudp value\r\n", 'udp->tcp'), "STORED\r\n", 'set over UDP');
mem_get_is($tcp, 'fromudp', { value => 'udp value', flags => 5 }, 'set over UDP, read over TCP');

# --- a reply of many datagrams ------------------------------------------------

my @keys = map { "big$_" } 1 .. 40;
for my $i (0 .. $#keys) {
    my $v = chr(ord('a') + $i % 26) x (1000 + $i * 37);
    send_bytes($tcp, "set $keys[$i] $i 0 " . length($v) . "\r\n$v\r\n");
    is(read_line($tcp), "STORED\r\n", "set $keys[$i]") or last if $i == 0;
    read_line($tcp) if $i > 0;
}
my $mget = "get @keys\r\n";
send_bytes($tcp, $mget);
my $tcp_reply = '';
while (defined(my $l = read_line($tcp))) {
    $tcp_reply .= $l;
    last if $l eq "END\r\n";
}
cmp_ok(length $tcp_reply, '>', 20 * 1392, 'the multi-get reply is long (' . length($tcp_reply) . ' bytes)');

{
    my $id = 0xfffe;    # the high byte must survive too
    my @d = udp_req($u, $mget, id => $id);
    my $want = int((length($tcp_reply) + 1391) / 1392);
    SKIP: {
        skip 'memcached sends every response of a multi-get as its own message', 8 unless $mcd;
        is(scalar @d, $want, "multi-get reply: $want datagrams");
        is_deeply([ sort { $a <=> $b } map { $_->{seq} } @d ], [ 0 .. $want - 1 ],
                  'sequence numbers 0 .. n-1, each once');
        is(scalar(grep { $_->{total} == $want } @d), $want, 'every datagram carries the total');
        is(scalar(grep { $_->{id} == $id } @d), $want, 'every datagram echoes the request id');
        is(scalar(grep { $_->{reserved} == 0 } @d), $want, 'reserved is 0');
        my @full = grep { $_->{seq} < $want - 1 } @d;
        is(scalar(grep { $_->{len} == 1400 } @full), $want - 1,
           'all but the last are 1400 bytes, header included');
        cmp_ok((grep { $_->{seq} == $want - 1 } @d)[0]{len}, '<=', 1400, 'the last is no larger');
        ok(joined(@d) eq $tcp_reply, 'reassembled reply equals the TCP reply');
    }
}

# A single value longer than a datagram (memcached does the same).
{
    my $v = join '', map { sprintf "%07d", $_ } 1 .. 1000;     # 7000 bytes
    set_ok($tcp, 'long', $v);
    my @d = udp_req($u, "get long\r\n");
    my $want = "VALUE long 0 7000\r\n$v\r\nEND\r\n";
    is(scalar @d, int((length($want) + 1391) / 1392), 'a 7000-byte value: 6 datagrams');
    ok(joined(@d) eq $want, 'and it reassembles');
}

# --- binary protocol over UDP ---------------------------------------------------

sub bin_req {
    my ($op, $key, $extras, $val, $opaque) = @_;
    $key //= ''; $extras //= ''; $val //= '';
    return pack('CCnCCnNNQ>', 0x80, $op, length $key, length $extras, 0, 0,
                length($extras) + length($key) + length($val), $opaque // 0, 0)
         . $extras . $key . $val;
}
sub bin_res {
    my ($b) = @_;
    return undef if length $b < 24;
    my ($magic, $op, $kl, $el, $dt, $status, $bl, $opaque, $cas) = unpack('CCnCCnNNQ>', $b);
    return { magic => $magic, op => $op, status => $status, opaque => $opaque,
             extras => substr($b, 24, $el), key => substr($b, 24 + $el, $kl),
             value => substr($b, 24 + $el + $kl, $bl - $el - $kl) };
}
{
    my $r = bin_res(udp_small($u, bin_req(0x01, 'binkey', pack('NN', 9, 0), 'binval', 0x77), 'bin set'));
    is_deeply([ @{$r}{qw(magic op status opaque)} ], [ 0x81, 0x01, 0, 0x77 ], 'binary Set over UDP');
    $r = bin_res(udp_small($u, bin_req(0x0c, 'binkey', '', '', 0x78), 'bin getk'));
    is_deeply([ @{$r}{qw(op status key value)}, unpack('N', $r->{extras}) ],
              [ 0x0c, 0, 'binkey', 'binval', 9 ], 'binary GetK over UDP');
    $r = bin_res(udp_small($u, bin_req(0x00, 'nokey'), 'bin miss'));
    is($r->{status}, 1, 'binary Get miss: Key not found');
    # the next datagram on the same worker speaks text again
    is(udp_small($u, "get binkey\r\n", 'text after binary'), "VALUE binkey 9 6\r\nbinval\r\nEND\r\n",
       'text after binary: protocol chosen per datagram');
    $r = bin_res(udp_small($u, bin_req(0x0a, '', '', '', 0xabcd), 'bin noop'));
    is_deeply([ @{$r}{qw(op status opaque)} ], [ 0x0a, 0, 0xabcd ], 'binary Noop over UDP');
}

# --- refused datagrams ------------------------------------------------------------

# A nonzero reserved field is served, as memcached does (memcaslap sends
# 0x0100 there), and counted.
{
    my @d = udp_req($u, "get fromtcp\r\n", id => 9, reserved => 0x0100);
    is(joined(@d), "VALUE fromtcp 3 9\r\ntcp value\r\nEND\r\n", 'reserved field nonzero: served');
    is_deeply([ map { $_->{reserved} } @d ], [ 0 ], 'the reply clears it');
    counted(7002, 1, 'reserved field nonzero');
}
silent($u, "\x00\x01\x00", 'a 3-byte datagram');
counted(7001, 1, 'a 3-byte datagram');
silent($u, '', 'an empty datagram');
counted(7001, 2, 'an empty datagram');

# A request in two datagrams: memcached 1.6.18 drops both, unanswered.
silent($u, frame(id => 11, seq => 0, total => 2) . "get from", 'first of a two-datagram request');
silent($u, frame(id => 11, seq => 1, total => 2) . "tcp\r\n", 'second of a two-datagram request');
counted(7003, 2, 'multi-datagram request');
silent($u, frame(id => 12, total => 0) . "get fromtcp\r\n", 'total of 0');
counted(7003, 3, 'total of 0');

# Cut short: nothing more can follow a datagram, and none of it leaks into
# the next one.
silent($u, frame(id => 13) . "get fromtcp", 'command without its newline');
counted(7004, 1, 'command without its newline');
SKIP: {
    skip 'memcached 1.6.18 reads the next datagram into a cut value', 6 unless $mcd;
    silent($u, frame(id => 14) . "set cut 0 0 10\r\nabc", 'value cut short');
    counted(7005, 1, 'value cut short');
    mem_get_is($tcp, 'cut', undef, 'a cut value is not stored');
    is(udp_small($u, "get fromtcp\r\n", 'after cut'), "VALUE fromtcp 3 9\r\ntcp value\r\nEND\r\n",
       'the next datagram is served fresh');
}

# Commands that make no sense over UDP.
silent($u, frame(id => 15) . "lru_crawler metadump all\r\n", 'metadump');
counted(7009, 1, 'metadump over UDP');
SKIP: {
    skip 'memcached answers quit with an empty datagram', 1 unless $mcd;
    silent($u, frame(id => 16) . "quit\r\n", 'quit');
}
is(udp_small($u, "get fromtcp\r\n", 'after quit'), "VALUE fromtcp 3 9\r\ntcp value\r\nEND\r\n",
   'quit closes nothing: UDP still served');

# --- a real client: libmemcached's memcaslap --udp, for one second ------------------

SKIP: {
    my ($mcs) = grep { -x } map { "$_/memcaslap" } split /:/, $ENV{PATH};
    skip 'memcaslap not installed', 4 unless $mcs;
    my (undef, $out) = run_bin([ '-s', "127.0.0.1:$uport", '--udp', '-T', '1', '-c', '1',
                                 '-t', '1s', '-X', '100' ], bin => $mcs, timeout => 20);
    my %r = $out =~ /^(cmd_get|get_misses|packet_drop|udp_timeout): (\d+)$/mg;
    cmp_ok($r{cmd_get} // 0, '>', 0, 'memcaslap --udp: gets served') or diag $out;
    is($r{get_misses}, 0, 'memcaslap --udp: no misses');
    is($r{packet_drop}, 0, 'memcaslap --udp: no datagram lost');
    is($r{udp_timeout}, 0, 'memcaslap --udp: no timeouts');
}

# --- the server is fine, and shows its UDP side -------------------------------------

ok($srv->alive, 'server still running');
mem_get_is($tcp, 'fromudp', { value => 'udp value', flags => 5 }, 'TCP still served');
{
    my $st = mem_stats($tcp, 'settings');
    is($st->{udpport}, $uport, 'stats settings: udpport');
    is($st->{num_threads_per_udp}, 2, 'stats settings: num_threads_per_udp') if $mcd;
    SKIP: {
        skip "mcd's connection listing", 1 unless $mcd;
        my $c = mem_stats($tcp, 'conns');
        my @udp = grep { /:addr$/ && $c->{$_} eq "udp:127.0.0.1:$uport" } keys %$c;
        is(scalar @udp, 2, 'stats conns: one UDP pseudo-connection per worker');
    }
    my $s = mem_stats($tcp);
    cmp_ok($s->{bytes_read}, '>', 0, 'bytes_read counted');
}

# Socket inodes of a process that are UDP sockets bound to $port.
sub udp_sockets_of {
    my ($pid, $port) = @_;
    my %mine;
    for my $fd (glob "/proc/$pid/fd/*") {
        my $l = readlink $fd // next;
        $mine{$1} = 1 if $l =~ /^socket:\[(\d+)\]$/;
    }
    my %found;
    for my $f ('/proc/net/udp', '/proc/net/udp6') {
        open my $fh, '<', $f or next;
        while (<$fh>) {
            my @c = split ' ';
            next unless @c > 9 && $c[1] =~ /:([0-9A-F]{4})$/;
            next if defined $port && hex($1) != $port;
            $found{$c[9]} = 1 if $mine{$c[9]};
        }
    }
    return scalar keys %found;
}
SKIP: {
    skip 'no /proc', 2 unless -d "/proc/" . $srv->pid;
    is(udp_sockets_of($srv->pid, $uport), 1, '-U: one UDP socket bound, shared by the workers');
    my $off = new_server();
    is(udp_sockets_of($off->pid, undef), 0, '-U 0: no UDP socket open');
    $off->stop;
}

# A UDP port another process holds, even one that allows reuse as memcached
# does, is refused: two servers would each get part of the datagrams.
SKIP: {
    skip 'memcached shares a UDP port with SO_REUSEADDR', 2 unless $mcd;
    my $holder = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                       Proto => 'udp', ReuseAddr => 1) or die;
    my $p = $holder->sockport;
    my ($st, undef, $err) = run_bin([ '-p', McdTest::free_port(), '-U', $p, '-l', '127.0.0.1',
                                      '-o', 'admin_socket=off' ]);
    is($st >> 8, 71, '-U on a port in use: exit 71');
    like($err, qr/cannot listen on 127\.0\.0\.1 udp port $p/, 'and says which');
}

# --- failures on the way out (fault injection) -------------------------------------

SKIP: {
    skip 'fault injection is mcd only', 6 unless $mcd;
    my $f = new_server('-U', 'free', '-t', '1', '-o', 'fault=ERR_UDP_SEND:1');
    my $fu = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $f->udp_port,
                                   Proto => 'udp') or die;
    my @d = exchange($fu, frame(id => 1) . "set k 0 0 1\r\nv\r\n", 1, 0.6);
    is(scalar @d, 0, 'sendmmsg failing: no reply');
    my $ft = $f->new_sock;
    mem_get_is($ft, 'k', 'v', 'the request was served all the same');
    my $st = mem_stats($ft, 'errors');
    is($st->{'E7007:ERR_UDP_SEND'}, 1, 'counted at E7007');
    $f->stop;

    $f = new_server('-U', 'free', '-t', '1', '-o', 'fault=ERR_UDP_REPLY_TOO_LARGE:1');
    $fu = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $f->udp_port,
                                Proto => 'udp') or die;
    @d = exchange($fu, frame(id => 2) . "version\r\n", 2, 0.6);
    is(scalar @d, 0, 'a reply too long to number: dropped');
    $ft = $f->new_sock;
    $st = mem_stats($ft, 'errors');
    is($st->{'E7008:ERR_UDP_REPLY_TOO_LARGE'}, 1, 'counted at E7008');
    is($f->stop >> 8, 0, 'server stops cleanly');
}

is($srv->stop >> 8, 0, 'server stops cleanly');
done_testing();
