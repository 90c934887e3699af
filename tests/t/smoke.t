#!/usr/bin/perl
# Smoke: the server starts on a free port, stores and returns a value, and
# stops cleanly on SIGTERM.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ":sys_wait_h";

alarm 60;
my $bin = $ENV{MCD_BIN} || "mcd/mcd";
my $probe = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die;
my $port = $probe->sockport;
close $probe;
my @extra = ($> == 0 && $bin =~ /memcached/) ? ('-u', 'nobody') : ();
my $pid = fork // die;
if (!$pid) {
    open STDERR, '>', '/dev/null';
    exec $bin, '-p', $port, '-U', '0', '-l', '127.0.0.1', @extra or exit 127;
}
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
kill 'TERM', $pid;
my $done = 0;
for (1 .. 250) { if (waitpid($pid, WNOHANG) == $pid) { $done = 1; last } select undef, undef, undef, 0.02 }
ok($done, "server exits on SIGTERM");
is($? >> 8, 0, "exit status 0") if $done;
kill 'KILL', $pid unless $done;
done_testing();
