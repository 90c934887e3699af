#!/usr/bin/perl
# -d and -P: the server detaches, writes its pid, serves, and removes the
# pid file when stopped by that pid.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest qw(:DEFAULT free_port);
use IO::Socket::INET;

plan skip_all => 'mcd only' unless mcd_only() && !external();
my $port = free_port();
my $pidfile = "/tmp/mcd-daemon-$$.pid";
my $admin = "/tmp/mcd-daemon-$$.admin";
unlink $pidfile;
my ($rc) = run_bin(['-d', '-P', $pidfile, '-p', $port, '-U', '0', '-l', '127.0.0.1',
                    '-o', "admin_socket=$admin"]);
is($rc >> 8, 0, '-d: the starting process exits 0');
ok(wait_until(sub { -s $pidfile }, 5), '-P: the pid file is written');
my $pid = do { local (@ARGV, $/) = $pidfile; <> } // '';
chomp $pid;
like($pid, qr/^\d+$/, 'it holds a pid');
ok($pid && kill(0, $pid), 'of a running process');
my $s;
wait_until(sub { $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") }, 5);
ok($s, 'the daemon serves');
print $s "version\r\n" if $s;
like($s ? scalar <$s> : '', qr/^VERSION/, 'and answers');
kill 'TERM', $pid if $pid;
ok(wait_until(sub { !kill(0, $pid) }, 10), 'stopped by its pid');
ok(wait_until(sub { !-e $pidfile }, 5), 'the pid file is removed at exit');
done_testing();
