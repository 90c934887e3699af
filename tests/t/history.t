#!/usr/bin/perl
# Evidence after the fact: the history rings name who flushed, why
# connections closed, which stores were refused and which errors fired;
# `watch` streams the same events live.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;
use IO::Select;
use JSON::PP;

plan skip_all => 'history is mcd\'s' unless mcd_only() && !external();

my $path = "/tmp/mcd-history-$$.admin";
my $srv = new_server('-I', '1k', '-o', "admin_socket=$path,idle_timeout=1");
my $s = $srv->sock;

# a live watcher first
my $w = admin_connect($path);
print $w "watch flush,reject\n";
my $head = decode_json(McdAdmin::_line($w));
is($head->{stream}, JSON::PP::true, 'watch: a stream header');

# a flush from a second connection
my $flusher = $srv->new_sock;
my $flusher_port = $flusher->sockport;
is(send_recv($flusher, "flush_all\r\n"), "OK\r\n", 'flush from a second connection');
# a store refused for size
my $big = 'x' x 2000;
err_like(send_recv($s, "set user:big 0 0 2000\r\n$big\r\n"), 'SERVER_ERROR object too large for cache', 'a refused store');
close $flusher;

my $h = admin_request($path, 'history flush')->{data};
is(scalar @{ $h->{events} }, 1, 'history flush: one flush');
is($h->{events}[0]{peer}, "tcp:127.0.0.1:$flusher_port", 'history flush: names the peer that sent it');
ok($h->{events}[0]{conn_id} > 0, 'history flush: and its connection id');

my $r = admin_request($path, 'history reject')->{data}{events};
is($r->[0]{key}, 'user:big', 'history reject: the key');
is($r->[0]{size}, 2000, 'history reject: the size');
is($r->[0]{code}, 2101, 'history reject: the refusing site');

my @closes;
wait_until(sub {
    @closes = grep { $_->{what} eq 'client closed' } @{ admin_request($path, 'history conn')->{data}{events} };
    return @closes;
}, 5);
ok(@closes >= 1, 'history conn: a client close with its reason');

# idle timeout closes are recorded with their reason
my $idle = $srv->new_sock;
my @idle;
wait_until(sub {
    @idle = grep { $_->{what} eq 'idle timeout' } @{ admin_request($path, 'history conn')->{data}{events} };
    return @idle;
}, 6);
ok(@idle >= 1, 'history conn: an idle-timeout close');

my $e = admin_request($path, 'history error limit=50')->{data}{events};
ok((grep { $_->{code} == 2101 } @$e), 'history error: the too-large error with its code');

# the watcher saw the flush and the reject, in order
my @seen;
while (@seen < 2) {
    my $l = eval { McdAdmin::_line($w) } // last;
    my $ev = decode_json($l);
    push @seen, $ev->{kind} if $ev->{kind};
}
is_deeply(\@seen, ['flush', 'reject'], 'watch: saw the flush then the reject');
print $w "stop\n";
my $end;
while (defined(my $l = eval { McdAdmin::_line($w) })) { $end = decode_json($l); last if $end->{stopped} }
is($end && $end->{stopped}, JSON::PP::true, 'watch: ends on any line');

is(admin_request($path, 'history nosuch')->{error}{code}, 5002, 'history of an unknown kind: coded error');
is(admin_request($path, 'watch nosuch')->{error}{code}, 5002, 'watch of an unknown kind: coded error');
my $since = admin_request($path, 'history all since=' . (time + 3600))->{data}{events};
is(scalar @$since, 0, 'history since= filters by time');

my $doc = admin_doc_fields(repo_root() . '/man/mcd-admin.7');
my $have = json_paths(admin_request($path, 'history all')->{data}, '');
my @undoc = grep { !exists $doc->{history}{$_} } sort keys %$have;
is_deeply(\@undoc, [], 'history: every field documented');
done_testing();
