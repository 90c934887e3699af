#!/usr/bin/perl
# Thread liveness: a worker made to hang (fault injection) is flagged within
# seconds, with the connection and command it is stuck on, while the admin
# socket keeps answering and the other workers keep serving.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;
use Time::HiRes qw(time);

plan skip_all => 'liveness is mcd\'s' unless mcd_only() && !external();

my $path = "/tmp/mcd-live-$$.admin";
# every command stalls its worker for three seconds (only one is sent)
my $srv = new_server('-t', '2', '-o', "admin_socket=$path,fault=ERR_TEST_STALL:1");
my $victim = $srv->new_sock;
send_bytes($victim, "version\r\n");
my $t0 = time;
my ($stuck, $th);
wait_until(sub {
    $th = admin_request($path, 'threads')->{data};
    ($stuck) = grep { $_->{stuck} } @{ $th->{threads} };
    return $stuck;
}, 5);
ok($stuck, sprintf('a hung worker is flagged within %.1f s', time - $t0));
is($stuck && $stuck->{name}, 'worker', 'it is a worker');
is($stuck && $stuck->{command}, 'version', 'with the command it is stuck on');
ok($stuck && $stuck->{conn_id} > 0, 'and its connection');
ok($stuck && $stuck->{busy_secs} >= 2, 'busy for seconds');
is($th->{stuck}, 1, 'one thread stuck');
my @others = grep { $_->{name} eq 'worker' && !$_->{stuck} } @{ $th->{threads} };
ok(@others >= 1 && $others[0]{responsive}, 'the other worker answers');
my @names = sort map { $_->{name} } @{ $th->{threads} };
ok((grep { $_ eq 'maintainer' } @names) && (grep { $_ eq 'admin' } @names) && (grep { $_ eq 'main' } @names),
   'background threads are listed too');
like(read_line($victim), qr/^VERSION/, 'the stalled command completes afterwards');
my $after;
wait_until(sub {
    $after = admin_request($path, 'threads')->{data};
    return $after->{stuck} == 0;
}, 5);
is($after->{stuck}, 0, 'no thread stuck once it recovers');
my $e = admin_request($path, 'errors')->{data}{sites};
my ($stall) = grep { $_->{code} == 6099 } @$e;
is($stall->{count}, 1, 'the injected stall is counted at its site');
done_testing();
