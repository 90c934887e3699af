#!/usr/bin/perl
# Three mcd behind twemproxy (Debian's nutcracker) with ketama: every round
# trip through the proxy is correct, keys spread over all three servers,
# and a server stopped mid-test is ejected and routed around, as
# auto_eject_hosts promises. The README's "Several servers" sample is this
# configuration.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use McdTest qw(:DEFAULT free_port);

my $NC = '/usr/sbin/nutcracker';
plan skip_all => "nutcracker not installed (apt-get install nutcracker)" unless -x $NC;
plan skip_all => "needs its own servers" if external();

my @srv = map { new_server() } 1 .. 3;
my $dir = tempdir(CLEANUP => 1);
my $port = free_port();
my $conf = "$dir/nutcracker.yml";
open(my $fh, '>', $conf) or die "$conf: $!";
print $fh <<"YML";
mcd:
  listen: 127.0.0.1:$port
  hash: md5
  distribution: ketama
  timeout: 1000
  auto_eject_hosts: true
  server_failure_limit: 1
  server_retry_timeout: 60000
  servers:
YML
print $fh "   - 127.0.0.1:" . $_->port . ":1 mcd" . $_->port . "\n" for @srv;
close $fh;

my ($st, $out, $err) = run_bin(['-t', '-c', $conf], bin => $NC);
is($st, 0, "nutcracker accepts the configuration") or diag "$out$err";

my $nc_pid = fork();
die "fork: $!" unless defined $nc_pid;
if ($nc_pid == 0) {
    open(STDIN, '<', '/dev/null');
    exec $NC, '-c', $conf, '-o', "$dir/nutcracker.log", '-s', free_port(), '-a', '127.0.0.1',
        '-p', "$dir/nutcracker.pid" or POSIX::_exit(127);
}
END { local $?; if ($nc_pid) { kill "TERM", $nc_pid; waitpid($nc_pid, 0) } }

my $p;
wait_until(sub {
    $p = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
}, 10);
ok($p, "nutcracker listens") or BAIL_OUT("nutcracker did not start: "
    . do { local $/; open(my $l, '<', "$dir/nutcracker.log"); <$l> // '' });
$p->autoflush(1);
binmode $p;

sub items { map { mem_stats($_->new_sock)->{curr_items} } @_ }

# --- round trips through the proxy ---------------------------------------------------
my $N = 1000;
my $ok = 0;
$ok += send_recv($p, "set key$_ $_ 0 " . length("val$_") . "\r\nval$_\r\n") eq "STORED\r\n"
    for 1 .. $N;
is($ok, $N, "$N sets through the proxy");
mem_get_is($p, "key7", { value => "val7", flags => 7 }, "get through the proxy");
mem_get_is($p, "nokey", undef, "miss through the proxy");

send_bytes($p, "get " . join(' ', map { "key$_" } 1 .. 50) . "\r\n");
my %got;
while ((my $l = read_line($p)) ne "END\r\n") {
    my ($k, $len) = $l =~ /^VALUE (\S+) \d+ (\d+)\r\n/ or last;
    $got{$k} = substr(read_bytes($p, $len + 2), 0, $len);
}
is_deeply(\%got, { map { ("key$_" => "val$_") } 1 .. 50 }, "multi-get of 50 keys across servers");

my ($cas) = mem_gets($p, "key1");
ok($cas, "gets through the proxy");
is(send_recv($p, "cas key1 0 0 3 $cas\r\nnew\r\n"), "STORED\r\n", "cas with the current unique");
is(send_recv($p, "cas key1 0 0 3 $cas\r\nold\r\n"), "EXISTS\r\n", "cas with a stale unique");
mem_get_is($p, "key1", "new", "value after cas");
is(send_recv($p, "set n 0 0 2\r\n10\r\n"), "STORED\r\n", "set a counter");
is(send_recv($p, "incr n 5\r\n"), "15\r\n", "incr through the proxy");
is(send_recv($p, "decr n 20\r\n"), "0\r\n", "decr through the proxy");
is(send_recv($p, "touch key2 100\r\n"), "TOUCHED\r\n", "touch through the proxy");
is(send_recv($p, "touch nokey 100\r\n"), "NOT_FOUND\r\n", "touch of a missing key");
is(send_recv($p, "append key3 0 0 2\r\n-a\r\n"), "STORED\r\n", "append through the proxy");
mem_get_is($p, "key3", "val3-a", "value after append");
is(send_recv($p, "delete key4\r\n"), "DELETED\r\n", "delete through the proxy");
is(send_recv($p, "delete key4\r\n"), "NOT_FOUND\r\n", "delete of a missing key");
mem_get_is($p, "key4", undef, "deleted key is gone");

my @items = items(@srv);
is($items[0] + $items[1] + $items[2], $N, "every key is on exactly one server (@items)");
ok(!grep({ $_ < $N / 20 } @items), "keys spread over all three servers (@items)");

# --- a server stops: nutcracker ejects it and routes around it ---------------------------
my $dead = 1;
$srv[$dead]->stop;
ok(!$srv[$dead]->alive, "server " . ($dead + 1) . " stopped");
my $failures = 0;
# The first request to a key on the dead server fails and ejects it; then
# keys are rehashed over the other two.
my $all_stored = wait_until(sub {
    my $bad = 0;
    for my $i (1 .. 100) {
        my $r = send_recv($p, "set after$i 0 0 1\r\nx\r\n");
        $bad++, $failures++ unless $r eq "STORED\r\n";
    }
    return !$bad;
}, 10);
ok($all_stored, "after ejection every set succeeds ($failures refused while ejecting)");
my @live = grep { $_ != $dead } 0 .. 2;
my @after = items(@srv[@live]);
my $before = $items[$live[0]] + $items[$live[1]];
cmp_ok($after[0] + $after[1] - $before, '>=', 100,
       "the 100 new keys are on the remaining servers (@after)");
my $hits = 0;
for my $i (1 .. 100) {
    send_bytes($p, "get after$i\r\n");
    my $v = read_value($p);
    $hits++ if $v && $v->{value} eq 'x';
}
is($hits, 100, "every new key reads back through the proxy");
ok($srv[$_]->alive, "server " . ($_ + 1) . " still up") for @live;

done_testing();
