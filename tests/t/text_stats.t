#!/usr/bin/perl
# stats, stats settings/items/slabs/sizes/conns/reset
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my @flags = qw(-m 32 -c 100 -t 2 -f 1.5);
my $server = new_server(@flags);
my $sock = $server->sock;
my $own = !$server->is_external;

sub cmd { send_recv($sock, $_[0]) }

my @general = qw(pid uptime time version curr_connections total_connections
    rejected_connections cmd_get cmd_set get_hits get_misses delete_hits
    delete_misses incr_hits incr_misses decr_hits decr_misses cas_misses
    cas_hits cas_badval cmd_touch touch_hits touch_misses cmd_flush bytes curr_items total_items
    evictions expired_unfetched evicted_unfetched limit_maxbytes threads);
my @counters = grep { !/^(?:pid|uptime|time|version|limit_maxbytes|threads)$/ } @general;

my $st = mem_stats($sock);
for my $name (@general) {
    ok(exists $st->{$name}, "stats has $name");
}
for my $name (@counters, qw(pid uptime time limit_maxbytes threads)) {
    like($st->{$name} // '', qr/^\d+$/, "$name is an unsigned integer");
}
is($st->{pid}, $server->pid, "pid is the server's pid") if $own;
cmp_ok(abs($st->{time} - time()), '<=', 2, "time is the current unix time");
my ($ver) = cmd("version\r\n") =~ /^VERSION (\S+)\r\n/;
is($st->{version}, $ver, "version matches the version command");
if ($own) {
    is($st->{limit_maxbytes}, 32 * 1024 * 1024, "limit_maxbytes follows -m 32");
    is($st->{threads}, 2, "threads follows -t 2");
    is($st->{curr_items}, 0, "fresh server: curr_items 0");
    is($st->{total_items}, 0, "fresh server: total_items 0");
    is($st->{bytes}, 0, "fresh server: bytes 0");
    is($st->{evictions}, 0, "fresh server: no evictions");
    is($st->{rejected_connections}, 0, "no rejected connections");
    cmp_ok($st->{curr_connections}, '>=', 1, "curr_connections counts us");
}

# delta of a set of counters across some commands
sub delta {
    my ($req, $nreplies) = @_;
    my $before = mem_stats($sock);
    send_bytes($sock, $req);
    read_line($sock) for 1 .. $nreplies;
    my $after = mem_stats($sock);
    my %d;
    for my $k (@counters) {
        next unless defined $before->{$k} && defined $after->{$k};
        my $x = $after->{$k} - $before->{$k};
        $d{$k} = $x if $x;
    }
    return \%d;
}
sub delta_is {
    my ($req, $n, $want, $msg) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $d = delta($req, $n);
    my %got = map { $_ => $d->{$_} // 0 } keys %$want;
    is_deeply(\%got, $want, $msg) or diag explain $d;
    return $d;
}

my $d = delta_is("set s1 0 0 5\r\nhello\r\n", 1,
    { cmd_set => 1, curr_items => 1, total_items => 1 }, "set: cmd_set, curr_items, total_items +1");
cmp_ok($d->{bytes} // 0, '>=', 5, "set: bytes grew by at least the value size");
{
    my $before = mem_stats($sock);
    send_bytes($sock, "get s1 s2 s1\r\n");
    read_line($sock) for 1 .. 5;
    my $after = mem_stats($sock);
    is($after->{cmd_get} - $before->{cmd_get}, 3, "multi-get of 3 keys: cmd_get +3");
    is($after->{get_hits} - $before->{get_hits}, 2, "get_hits +2");
    is($after->{get_misses} - $before->{get_misses}, 1, "get_misses +1");
}
delta_is("add s1 0 0 1\r\nx\r\n", 1, { cmd_set => 1, curr_items => 0 }, "failed add counts as cmd_set");
delta_is("set n 0 0 1\r\n5\r\n", 1, { cmd_set => 1, curr_items => 1 }, "set n");
delta_is("incr n 1\r\nincr zz 1\r\ndecr n 1\r\ndecr zz 1\r\n", 4,
    { incr_hits => 1, incr_misses => 1, decr_hits => 1, decr_misses => 1 }, "incr/decr hits and misses");
delta_is("touch s1 0\r\ntouch zz 0\r\n", 2, { touch_hits => 1, touch_misses => 1 }, "touch hits and misses");
my ($cas) = mem_gets($sock, "s1");
delta_is("cas s1 0 0 1 " . ($cas + 1) . "\r\nx\r\n", 1, { cas_badval => 1, cas_hits => 0, cmd_set => 1 },
    "cas with a stale unique: cas_badval");
delta_is("cas zz 0 0 1 1\r\nx\r\n", 1, { cas_misses => 1, cmd_set => 1 }, "cas on a missing key: cas_misses");
delta_is("cas s1 0 0 1 $cas\r\nx\r\n", 1, { cas_hits => 1, cmd_set => 1 }, "good cas: cas_hits");
$d = delta_is("delete n\r\ndelete n\r\n", 2, { delete_hits => 1, delete_misses => 1, curr_items => -1 },
    "delete hit and miss");
cmp_ok($d->{bytes} // 0, '<', 0, "delete: bytes shrank");
delta_is("set gone 0 -1 1\r\nx\r\n", 1, { cmd_set => 1, total_items => 1 }, "set of an already expired item");
# a get unlinks the expired item now, so the background crawler cannot change
# curr_items later in this test
is(cmd("get gone\r\n"), "END\r\n", "an already expired item is never returned");

# What counts where, as memcached 1.6.18 counts it (this block passes
# against it too): gat, gats and an mg hit with T are touches, not gets;
# an mg miss with T is a get miss; a value that turns out malformed was
# still a set; md I deletes nothing; a refused flush_all is still counted.
delta_is("set g1 0 0 1\r\nx\r\n", 1, { cmd_set => 1 }, "set g1");
delta_is("gat 0 g1 nokey\r\n", 3,
    { cmd_get => 0, get_hits => 0, get_misses => 0, cmd_touch => 2, touch_hits => 1, touch_misses => 1 },
    "gat: a touch hit and a touch miss, no get");
delta_is("gats 0 g1\r\n", 3, { cmd_get => 0, get_hits => 0, cmd_touch => 1, touch_hits => 1 },
    "gats: a touch, no get");
delta_is("mg g1 v T0\r\n", 2, { cmd_get => 0, get_hits => 0, cmd_touch => 1, touch_hits => 1 },
    "mg hit with T: a touch, no get");
delta_is("mg nokey v T0\r\n", 1,
    { cmd_get => 1, get_misses => 1, cmd_touch => 0, touch_misses => 0 },
    "mg miss with T: a get miss, no touch");
delta_is("mg g1 v\r\n", 2, { cmd_get => 1, get_hits => 1, cmd_touch => 0 }, "mg without T: a get");
delta_is("set g2 0 0 2\r\nxy\r\r", 1, { cmd_set => 1, curr_items => 0 },
    "a malformed value: cmd_set +1, nothing stored");
delta_is("ms g2 2 MX\r\nxy\r\n", 1, { cmd_set => 0 }, "ms refused for its flags: no cmd_set");
delta_is("md g1 I\r\n", 1, { delete_hits => 0, curr_items => 0 }, "md I: no delete_hits");
delta_is("flush_all abc\r\n", 1, { cmd_flush => 1 }, "a refused flush_all counts in cmd_flush");

# the buffer pool, under memcached's read_buf_* names: blocks of 16 KiB
# (or larger, for a long line), the idle ones kept for reuse
if (mcd_only()) {
    my $st = mem_stats($sock);
    cmp_ok($st->{read_buf_count}, '>=', 1, 'read_buf_count: the pool has blocks after traffic');
    cmp_ok($st->{read_buf_bytes}, '>=', 16384 * $st->{read_buf_count}, 'read_buf_bytes: 16 KiB or more each');
    cmp_ok($st->{read_buf_bytes_free}, '>=', 16384, 'read_buf_bytes_free: a request\'s block went back to the pool');
    cmp_ok($st->{read_buf_bytes_free}, '<=', $st->{read_buf_bytes}, 'read_buf_bytes_free: part of read_buf_bytes');
    is($st->{read_buf_bytes_free} % 16384, 0, 'read_buf_bytes_free: whole blocks');
    is($st->{read_buf_oom}, 0, 'read_buf_oom: none');
}

# connections
if ($own) {
    my $before = mem_stats($sock);
    my @c = map { $server->new_sock } 1 .. 3;
    ok(wait_until(sub { mem_stats($sock)->{curr_connections} == $before->{curr_connections} + 3 }, 5),
        "curr_connections +3 after three connects");
    my $after = mem_stats($sock);
    is($after->{total_connections} - $before->{total_connections}, 3, "total_connections +3");
    close $_ for @c;
    ok(wait_until(sub { mem_stats($sock)->{curr_connections} == $before->{curr_connections} }, 5),
        "curr_connections back after they close");
}

# uptime moves
{
    my $u0 = mem_stats($sock)->{uptime};
    ok(wait_until(sub { mem_stats($sock)->{uptime} > $u0 }, 3), "uptime advances");
}

# --- stats settings ------------------------------------------------------------
my $set = mem_stats($sock, "settings");
ok(exists $set->{$_}, "stats settings has $_")
    for qw(maxbytes maxconns tcpport evictions growth_factor item_size_max);
if ($own) {
    is($set->{maxbytes}, 32 * 1024 * 1024, "settings maxbytes");
    is($set->{maxconns}, 100, "settings maxconns follows -c");
    is($set->{tcpport}, $server->port, "settings tcpport");
    is($set->{evictions}, "on", "settings evictions on");
    cmp_ok($set->{growth_factor}, '==', 1.5, "settings growth_factor follows -f");
    is($set->{item_size_max}, 1024 * 1024, "settings item_size_max default 1 MB");
}

# --- stats items / slabs ---------------------------------------------------------
cmd("set small 0 0 10\r\n" . ("s" x 10) . "\r\n");
cmd("set large 0 0 5000\r\n" . ("l" x 5000) . "\r\n");
my $items = mem_stats($sock, "items");
my %classes = map { /^items:(\d+):/ ? ($1 => 1) : () } keys %$items;
# the heap engine has one pseudo class for every size
my $nclasses = engine() eq 'slab' ? 2 : 1;
cmp_ok(scalar(keys %classes), '>=', $nclasses, "stats items: small and large items in their classes");
ok(!grep({ !/^items:\d+:\w+$/ } keys %$items), "stats items: every name is items:<class>:<field>");
my $nitems = 0;
$nitems += $items->{"items:$_:number"} // 0 for keys %classes;
is($nitems, mem_stats($sock)->{curr_items}, "stats items: numbers add up to curr_items");
ok(exists $items->{"items:$_:age"}, "stats items: class $_ has age") for sort keys %classes;

my $slabs = mem_stats($sock, "slabs");
my %sclasses = map { /^(\d+):/ ? ($1 => 1) : () } keys %$slabs;
cmp_ok(scalar(keys %sclasses), '>=', $nclasses, "stats slabs: per-class lines");
for my $c (sort { $a <=> $b } keys %sclasses) {
    like($slabs->{"$c:chunk_size"} // '', qr/^\d+$/, "stats slabs: class $c has chunk_size");
    like($slabs->{"$c:used_chunks"} // '', qr/^\d+$/, "stats slabs: class $c has used_chunks");
}
{
    # memcached's per-class command counters, counted by the item's class
    my $v = 'c' x 3000;        # a class of its own among this file's items
    is(cmd("set pc 0 0 " . length($v) . "\r\n$v\r\n"), "STORED\r\n", 'per-class: a 3000-byte item');
    my $before = mem_stats($sock, 'slabs');
    my %cls = map { /^(\d+):chunk_size$/ ? ($1 => $before->{$_}) : () } keys %$before;
    # the smallest class whose chunks hold the item (the heap engine has one)
    my ($id) = engine() eq 'slab'
        ? sort { $cls{$a} <=> $cls{$b} } grep { $cls{$_} >= 3000 + 48 } keys %cls
        : (1);
    mem_gets($sock, 'pc');
    send_bytes($sock, "get pc\r\n");
    read_line($sock) for 1 .. 3;
    is(cmd("touch pc 100\r\n"), "TOUCHED\r\n", 'per-class: touch');
    is(cmd("mg pc T100\r\n"), "HD\r\n", 'per-class: mg with T, a touch');
    like(cmd("me pc\r\n"), qr/^ME pc /, 'per-class: me, which counts nothing');
    is(cmd("cas pc 0 0 " . length($v) . " 1\r\n$v\r\n"), "EXISTS\r\n", 'per-class: a stale cas');
    is(cmd("delete pc\r\n"), "DELETED\r\n", 'per-class: delete');
    my $after = mem_stats($sock, 'slabs');
    my %d = map { ($_ => ($after->{"$id:$_"} // 0) - ($before->{"$id:$_"} // 0)) }
            qw(get_hits cmd_set delete_hits touch_hits cas_badval cas_hits);
    is_deeply(\%d, { get_hits => 2, cmd_set => 1, delete_hits => 1, touch_hits => 2,
                     cas_badval => 1, cas_hits => 0 },
              "stats slabs: class $id counted gets, the set, the delete, the touch and the cas")
        or diag explain $after;
}
like($slabs->{active_slabs} // '', qr/^\d+$/, "stats slabs: active_slabs");
like($slabs->{total_malloced} // '', qr/^\d+$/, "stats slabs: total_malloced");

# --- stats sizes / conns / unknown ---------------------------------------------------
my $sizes = eval { mem_stats($sock, "sizes") };
ok($sizes, "stats sizes answers STAT lines and END") or diag $@;
my $conns = eval { mem_stats($sock, "conns") };
ok($conns, "stats conns answers STAT lines and END") or diag $@;
ok(scalar(grep { /^\d+:addr$/ } keys %{ $conns || {} }) >= 1, "stats conns: has <fd>:addr lines");
{
    # the listening socket is listed too, and each client names it (as memcached)
    my $port = $server->port;
    my @listen = grep { /^(\d+):state$/ && $conns->{$_} eq 'conn_listening' } keys %{ $conns || {} };
    my ($lfd) = map { /^(\d+):/ } grep { $conns->{s/state$/addr/r} eq "tcp:127.0.0.1:$port" } @listen;
    ok(defined $lfd, "stats conns: the listener tcp:127.0.0.1:$port, conn_listening");
    like($conns->{"$lfd:secs_since_last_cmd"} // '', qr/^\d+$/, 'stats conns: the listener has secs_since_last_cmd')
        if defined $lfd;
    my $local = 'tcp:127.0.0.1:' . $sock->sockport;
    my ($me) = map { /^(\d+):addr$/ } grep { /:addr$/ && $conns->{$_} eq $local } keys %{ $conns || {} };
    is(defined $me ? $conns->{"$me:listen_addr"} : undef, "tcp:127.0.0.1:$port",
       'stats conns: a client names the listener it came in on');
}
err_like(cmd("stats nosuchthing\r\n"), "ERROR", "stats with an unknown subcommand");

# --- stats reset ---------------------------------------------------------------------
send_bytes($sock, "get s1\r\n");
read_value($sock);
cmp_ok(mem_stats($sock)->{cmd_get}, '>', 0, "cmd_get non-zero before reset");
is(cmd("stats reset\r\n"), "RESET\r\n", "stats reset");
$st = mem_stats($sock);
is($st->{$_}, 0, "after reset: $_ is 0") for qw(cmd_get get_hits get_misses cmd_set delete_hits
    incr_hits cas_badval touch_hits);
is($st->{curr_items}, $nitems, "after reset: curr_items kept");

done_testing();
