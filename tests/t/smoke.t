#!/usr/bin/perl
# Smoke: the server starts on a free port, stores and returns a value, and
# stops cleanly on SIGTERM.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 60;

my $bin = server_bin();
my $srv = new_server();
my $port = $srv->port;
my $s;
for (1 .. 500) {
    $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") and last;
    select undef, undef, undef, 0.02;
}
ok($s, "server accepts connections");
print $s "set smoke 5 0 3\r\nabc\r\nget smoke\r\n";
is(scalar <$s>, "STORED\r\n", "set");
is(scalar <$s>, "VALUE smoke 5 3\r\n", "value line");
is(scalar <$s>, "abc\r\n", "data");
is(scalar <$s>, "END\r\n", "end");
my $st = $srv->stop;
ok(!$srv->was_killed, "server exits on SIGTERM");
is(($st // 0) >> 8, 0, "exit status 0") unless $srv->was_killed;
done_testing();
