#!/usr/bin/perl
# Per-command latency, call counts and the slow log on the admin socket.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;

plan skip_all => 'latency tracking is mcd\'s' unless mcd_only() && !external();

my $path = "/tmp/mcd-latency-$$.admin";
my $srv = new_server('-o', "admin_socket=$path");
my $s = $srv->sock;
my $root = repo_root();
my $doc = admin_doc_fields("$root/man/mcd-admin.7");

set_ok($s, "k$_", "v$_") for 1 .. 50;
mem_get_is($s, "k$_", "v$_") for 1 .. 30;
is(send_recv($s, "bogus\r\n"), "ERROR\r\n", 'an unknown command');
err_like(send_recv($s, "incr k1 x\r\n"), 'CLIENT_ERROR invalid numeric delta argument', 'a rejected incr');

my $lat = admin_request($path, 'latency')->{data};
my %by = map { $_->{command} => $_ } @{ $lat->{commands} };
is($by{set}{count}, 50, 'latency: 50 sets measured');
is($by{get}{count}, 30, 'latency: 30 gets measured');
ok($by{get}{p50_us} > 0 && $by{get}{p50_us} <= $by{get}{p99_us}
   && $by{get}{p99_us} <= $by{get}{max_us}, 'latency: p50 <= p99 <= max');
ok(!exists $by{touch}, 'latency: commands never called are not listed');

my $cmds = admin_request($path, 'commands')->{data};
my %c = map { $_->{command} => $_ } @{ $cmds->{commands} };
is($c{incr}{rejected}, 1, 'commands: the bad incr counted as rejected');
is($c{unknown}{calls}, 1, 'commands: the unknown command counted');
ok($c{set}{total_us} >= 0, 'commands: total time');

# the slow log: everything is slow at a threshold of 0
is(admin_request($path, 'set slowlog_usec=0')->{data}{changed}{slowlog_usec}, 0, 'set slowlog_usec at run time');
set_ok($s, 'slowkey', 'x');
my $sl = admin_request($path, 'slowlog 5')->{data};
ok(@{ $sl->{entries} } >= 1 && @{ $sl->{entries} } <= 5, 'slowlog N limits the entries');
my ($e) = grep { ($_->{key} // '') eq 'slowkey' } @{ $sl->{entries} };
ok($e, 'slowlog: the store is logged with its key');
is($e && $e->{command}, 'set', 'slowlog: with its command');
like($e ? $e->{peer} : '', qr/^tcp:127\.0\.0\.1:\d+$/, 'slowlog: with the peer');
admin_request($path, 'set slowlog_redact=1');
set_ok($s, 'secret', 'x');
$sl = admin_request($path, 'slowlog 1')->{data};
is($sl->{entries}[0]{key}, '', 'slowlog: keys redacted on request');
is(scalar @{ admin_request($path, 'slowlog reset')->{data}{entries} }, 0, 'slowlog reset empties it');
admin_request($path, 'set slowlog_usec=1000000');
set_ok($s, 'fast', 'x');
is(scalar @{ admin_request($path, 'slowlog')->{data}{entries} }, 0, 'fast commands stay out at a high threshold');
is(admin_request($path, 'slowlog x=1')->{error}{code}, 5002, 'slowlog with a bad argument: coded error');
is(admin_request($path, 'set nosuch=1')->{error}{code}, 5002, 'set of an unknown setting: coded error');

# every field documented
admin_request($path, 'set slowlog_usec=0');
set_ok($s, 'documented', 'x');
for my $cmd (qw(latency commands slowlog)) {
    my $have = json_paths(admin_request($path, $cmd)->{data}, '');
    my @undoc = grep { !exists $doc->{ ($cmd eq 'slowlog' ? 'slowlog' : $cmd) }{$_} } sort keys %$have;
    is_deeply(\@undoc, [], "$cmd: every field documented");
}
done_testing();
