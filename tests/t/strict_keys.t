#!/usr/bin/perl
# -o strict_keys: text keys with control bytes are refused with a coded
# CLIENT_ERROR (E1011), the connection stays usable, nothing is stored.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;

plan skip_all => 'strict_keys is mcd\'s' unless mcd_only() && !external();
my $srv = new_server('-o', 'strict_keys');
my $s = $srv->sock;
set_ok($s, 'k1', 'v1');
my $ck = "ctl\x01key\x7f";
my $tk = "tab\tkey";
err_like(send_recv($s, "set $ck 0 0 3\r\n"), 'CLIENT_ERROR bad command line format', 'set refused');
like(send_recv($s, "ctl\r\n"), qr/^ERROR/, 'the data line is then read as a command, as memcached would');
err_like(send_recv($s, "get $ck\r\n"), 'CLIENT_ERROR bad command line format', 'get refused');
err_like(send_recv($s, "get k1 $tk\r\n"), 'CLIENT_ERROR bad command line format', 'a multi-get with a bad key is refused whole');
err_like(send_recv($s, "delete $tk\r\n"), 'CLIENT_ERROR bad command line format', 'delete refused');
like(send_recv($s, "set $tk 0 0 1\r\n"), qr/\[E1011\]\r\n$/, 'the code names the site');
send_recv($s, "t\r\n");
mem_get_is($s, 'k1', 'v1', 'the connection stays usable');
is(mem_stats($s)->{curr_items}, 1, 'nothing else stored');
is(mem_stats($s, 'settings')->{strict_keys}, 'yes', 'shown in stats settings');
done_testing();
