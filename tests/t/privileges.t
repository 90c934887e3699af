#!/usr/bin/perl
# -u drops privileges: started as root with -u nobody, the server runs as
# nobody, and its admin socket belongs to nobody (mode 0600).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;

plan skip_all => 'needs root to switch users' unless $> == 0;
plan skip_all => 'mcd\'s admin socket' unless mcd_only() && !external();
my $nobody = getpwnam('nobody');
plan skip_all => 'no user nobody' unless defined $nobody;
my $path = "/tmp/mcd-priv-$$.admin";
my $srv = new_server('-u', 'nobody', '-o', "admin_socket=$path");
my $status = do { local (@ARGV, $/) = "/proc/" . $srv->pid . "/status"; <> } // '';
my ($uid) = $status =~ /^Uid:\s+(\d+)/m;
is($uid, $nobody, 'the server runs as nobody');
ok(-S $path, 'the admin socket exists');
is((stat $path)[4], $nobody, 'owned by nobody');
is((stat $path)[2] & 07777, 0600, 'mode 0600');
like(send_recv($srv->sock, "version\r\n"), qr/^VERSION/, 'and serves');
my ($rc, $out, $err) = run_bin(['-p', '0', '-u', 'no-such-user-here']);
isnt($rc >> 8, 0, 'an unknown user stops the start');
like($err, qr/can't find the user/, 'and says why');
done_testing();
