#!/usr/bin/perl
# Regression (found by fuzz_meta): an item given a client-chosen CAS (E)
# above the server's sequence survived flush_all, because flush_all
# invalidates what lies below the sequence.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;

plan skip_all => 'E is mcd\'s' unless mcd_only();
my $srv = new_server();
my $s = $srv->sock;
like(send_recv($s, "ma n N0 J10\r\n"), qr/^HD/, 'counter created');
like(send_recv($s, "ma n E934 v\r\n"), qr/^VA/, 'given CAS 934');
is(read_line($s), "11\r\n", 'incremented to 11');
like(send_recv($s, "ms k 1 E5000\r\nx\r\n"), qr/^HD/, 'stored with CAS 5000');
is(send_recv($s, "flush_all\r\n"), "OK\r\n", 'flush_all');
is(send_recv($s, "mg n v\r\n"), "EN\r\n", 'the counter is gone');
is(send_recv($s, "mg k v\r\n"), "EN\r\n", 'the item with a high CAS is gone');
set_ok($s, 'after', 'v');
mem_get_is($s, 'after', 'v', 'stores after the flush are kept');
done_testing();
