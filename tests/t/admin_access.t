#!/usr/bin/perl
# Admin access: the loopback TCP admin port only when asked for, at most 8
# admin clients at once (the 9th gets a coded JSON error), and memcached's
# text `stats detail` beside the JSON `prefixes`.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest qw(:DEFAULT free_port);
use McdAdmin;
use IO::Socket::INET;
use JSON::PP;

plan skip_all => 'the admin socket is mcd\'s' unless mcd_only() && !external();
my $path = "/tmp/mcd-access-$$.admin";
my $aport = free_port();
my $srv = new_server('-o', "admin_socket=$path,admin_port=$aport");

my $t;
for (1 .. 100) { $t = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$aport") and last; select undef, undef, undef, 0.02 }
ok($t, 'the TCP admin port answers on 127.0.0.1');
print $t "stats\n";
my $r = decode_json(McdAdmin::_line($t));
is($r->{server}{pid}, $srv->pid, 'with the same JSON');
my $listening = `ss -ltn 2>/dev/null` // '';
unlike($listening, qr/0\.0\.0\.0:$aport\b/, 'not on every interface') if $listening;

# without admin_port there is none
my $other = free_port();
my $srv2 = new_server('-o', "admin_socket=/tmp/mcd-access2-$$.admin");
ok(!IO::Socket::INET->new(PeerAddr => "127.0.0.1:$other"), 'no TCP admin port unless asked for');

# at most 8 admin clients
my @c = map { admin_connect($path) } 1 .. 8;
print $_ "help\n" for @c;
McdAdmin::_line($_) for @c;
my $ninth = admin_connect($path);
my $e = decode_json(McdAdmin::_line($ninth));
is($e->{error}{code}, 5004, 'the 9th admin client is refused with E5004');
close $_ for @c;
my $ok = wait_until(sub { my $x = eval { admin_request($path, 'help') }; $x && !$x->{error} }, 5);
ok($ok, 'served again once clients leave');

# stats detail on the text port, as memcached
my $s = $srv->sock;
is(send_recv($s, "stats detail on\r\n"), "OK\r\n", 'stats detail on');
set_ok($s, 'user:1', 'a');
set_ok($s, 'user:2', 'b');
mem_get_is($s, 'user:1', 'a');
send_bytes($s, "stats detail dump\r\n");
is(read_line($s), "PREFIX user get 1 hit 1 set 2 del 0\r\n", 'stats detail dump in memcached\'s format');
is(read_line($s), "END\r\n", 'END');
is(send_recv($s, "stats detail off\r\n"), "OK\r\n", 'stats detail off');
my $p = admin_request($path, 'prefixes')->{data};
is($p->{enabled}, JSON::PP::false, 'prefixes: off');
is($p->{prefixes}[0]{set}, 2, 'prefixes: the same counts as JSON');
done_testing();
