#!/usr/bin/perl
# Regression: the admin `locked` listing explained each held item that was
# no longer in the table by scanning every hold of every connection, so a
# client holding 20000 items (a multi-get it had not read yet, whose keys
# were then deleted) cost 20000 x 20000 steps: the admin thread answered
# nothing, `mcadmin doctor` included, for a minute. Found while running
# doctor_traffic.t under ASan. Now one pass indexes the holds.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time);
use JSON::PP ();

plan skip_all => 'the admin socket is mcd\'s' unless mcd_only() && !external();

my $N = 20000;
my $path = "/tmp/mcd-regress-locked-$$.admin";
my $srv = new_server('-o', "admin_socket=$path");
my $s = $srv->sock;
send_bytes($s, join('', map { "set k$_ 0 0 1000 noreply\r\n" . ("v" x 1000) . "\r\n" } 1 .. $N) . "version\r\n");
like(read_line($s), qr/^VERSION/, "$N items stored");

# A client asks for all of them and reads nothing: its replies stay queued
# and hold their items.
my $deaf = $srv->new_sock;
setsockopt($deaf, SOL_SOCKET, SO_RCVBUF, 4096);
send_bytes($deaf, 'get ' . join(' ', map { "k$_" } 1 .. $N) . "\r\n");
my $held = 0;
wait_until(sub {
    my ($c) = grep { $_->{held_refs} > 0 } @{ admin_request($path, 'conns')->{data}{connections} };
    $held = $c ? $c->{held_refs} : 0;
    return $held > $N / 2;
}, 10);
ok($held > $N / 2, "the reading-nothing client holds $held items");

# Deleted while held: out of the table, still referenced.
send_bytes($s, join('', map { "delete k$_ noreply\r\n" } 1 .. $N) . "version\r\n");
like(read_line($s), qr/^VERSION/, 'all deleted');

# (timed to the end of the reply, before the slow pure-Perl JSON decode;
# it took a minute before the fix)
my $a = admin_connect($path);
my $t0 = time;
print $a "locked\n";
my $reply = eval { McdAdmin::_line($a) } // '';
my $secs = time - $t0;
ok(length $reply && $secs < 10 * McdTest::slow(), sprintf('locked answers in %.2f s', $secs));
my $d = JSON::PP->new->utf8->decode($reply || '{}')->{data} // {};
my @unlinked = grep { !$_->{linked} } @{ $d->{items} // [] };
cmp_ok(scalar @unlinked, '>=', $held * 0.9, scalar(@unlinked) . ' held items out of the table are listed');
is($d->{suspected_leaks}, 0, 'none is taken for a leak');
ok(@unlinked && !(grep { !@{ $_->{holders} } } @unlinked), 'each names its holder');

close $deaf;
ok(wait_until(sub { !@{ admin_request($path, 'locked')->{data}{items} } }, 10),
   'released when the client goes');
done_testing();
