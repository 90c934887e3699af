#!/usr/bin/perl
# mcadmin's views of latency, commands, slowlog, memory, history, threads
# (a stuck worker shown first), metrics, set and hotkeys, and `events`
# following the server's event stream (count, seconds, lost notices, a
# signal), against real servers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest timeout => 120;
use JSON::PP;
use File::Spec;
use IO::Select;
use Time::HiRes qw(time);

plan skip_all => 'mcadmin talks to mcd only' unless mcd_only();
plan skip_all => 'needs its own server (admin socket)' if external();

my $mcadmin = $ENV{MCADMIN_BIN} // File::Spec->catfile(repo_root(), 'mcadmin', 'mcadmin');
plan skip_all => "no mcadmin binary at $mcadmin (make builds it)" unless -x $mcadmin;

my $sock = "/tmp/mcadmin-views-$$.sock";
my $srv = new_server('-o', "admin_socket=$sock");
ok(wait_until(sub { -S $sock }), 'admin socket is up') or BAIL_OUT('no admin socket');
my $c = $srv->sock;
my $json = JSON::PP->new->allow_nonref;

sub mca {
    my (@args) = @_;
    my ($st, $out, $err) = run_bin([@args], bin => $mcadmin, timeout => 20);
    my $code = $st == -1 ? 255 : ($st & 127) ? 128 + ($st & 127) : $st >> 8;
    return ($code, $out, $err);
}

sub mca_json {
    my (@args) = @_;
    my ($rc, $out, $err) = mca('-s', $sock, @args, '--json');
    my $d = eval { $json->decode($out) };
    diag("mcadmin @args --json: rc $rc, $@ $err") unless $rc == 0 && defined $d;
    return $d;
}

sub get_miss { my ($k) = @_; is(send_recv($c, "get $k\r\n"), "END\r\n", "get $k misses") }

# --- set, then traffic every view can count ---------------------------------------
{
    my ($rc, $out) = mca('-s', $sock, 'set', 'slowlog_usec=0');
    is($rc, 0, 'set exits 0');
    like($out, qr/^slowlog_usec = 0$/m, 'set says what changed');
    ($rc, undef, my $err) = mca('-s', $sock, 'set', 'nonsense=1');
    is($rc, 1, 'set of an unknown setting exits 1');
    like($err, qr/ERR_ADMIN_BAD_ARGUMENT/, 'with the server\'s error');
    ($rc) = mca('-s', $sock, 'set', 'slowlog_usec');
    is($rc, 2, 'set without = is a usage error');
}
set_ok($c, "lat:$_", "v$_", msg => undef) for 1 .. 10;
get_miss("nothere:$_") for 1 .. 4;
like(send_recv($c, "bogus_cmd\r\n"), qr/^ERROR/, 'an unknown command (rejected)');

# --- latency, commands ------------------------------------------------------------------
{
    my ($rc, $out) = mca('-s', $sock, 'latency');
    is($rc, 0, 'latency exits 0');
    like($out, qr/^command\s+count\s+mean\s+p50\s+p90\s+p99\s+p99\.9\s+max$/m, 'latency header');
    like($out, qr/^set\s+10(?:\s+[\d.]+(?:us|ms|s)){6}$/m, 'set: 10 calls, six times in human units');
    like($out, qr/^get\s+4\s/m, 'get: 4 calls');
    my $d = mca_json('latency');
    my ($set) = grep { $_->{command} eq 'set' } @{ $d->{commands} };
    is($set->{count}, 10, 'latency --json is the data');

    ($rc, $out) = mca('-s', $sock, 'commands');
    is($rc, 0, 'commands exits 0');
    like($out, qr/^command\s+calls\s+total time\s+share\s+mean\s+rejected\s+failed$/m, 'commands header');
    like($out, qr/^unknown\s+1\s+\S+\s+[\d.]+%\s+\S+\s+1\s+0$/m, 'the unknown command: 1 call, 1 rejected, 0 failed');
    like($out, qr/^set\s+10\s/m, 'set: 10 calls');
}

# --- slowlog ------------------------------------------------------------------------------
{
    my ($rc, $out) = mca('-s', $sock, 'slowlog', '3');
    is($rc, 0, 'slowlog 3 exits 0');
    my @ids = $out =~ /^\s*(\d+)\s+\d{4}-\d\d-\d\d /mg;
    is(scalar @ids, 3, 'slowlog 3 shows three entries');
    ok($ids[0] > $ids[1] && $ids[1] > $ids[2], 'newest first');
    like($out, qr/^\s*\d+\s+\S+ \S+\s+\S+\s+unknown\s/m, 'the newest is the unknown command');
    like($out, qr/^threshold 0us; 3 shown, \d+ logged since start$/m, 'with the threshold and total');
    my $d = mca_json('slowlog');
    ok(@{ $d->{entries} } >= 15, 'every command was logged at threshold 0');
    my ($e) = grep { $_->{command} eq 'get' } @{ $d->{entries} };
    like($e->{key}, qr/^nothere:\d$/, 'entries carry the key');
    ($rc, $out) = mca('-s', $sock, 'slowlog', 'reset');
    is($rc, 0, 'slowlog reset exits 0');
    like($out, qr/slow log reset/, 'and says so');
    is(scalar @{ mca_json('slowlog')->{entries} }, 0, 'the slow log is empty after reset');
    ($rc, $out) = mca('-s', $sock, 'slowlog');
    like($out, qr/The slow log is empty/, 'and the view says so');
    ($rc) = mca('-s', $sock, 'slowlog', 'bogus');
    is($rc, 2, 'slowlog bogus is a usage error');
}

# --- memory -------------------------------------------------------------------------------
{
    # A client that asks for 20 MiB and reads nothing: its replies wait (the
    # server stops reading its commands at about a megabyte).
    set_ok($c, 'big', 'x' x 500000);
    my $big = $srv->new_sock;
    send_bytes($big, "get big\r\n" x 40);
    my $d;
    ok(wait_until(sub {
        $d = mca_json('memory');
        return $d && grep { ($_->{pending_bytes} // 0) >= 262144 } @{ $d->{top_connections} };
    }), 'a connection with hundreds of KiB of unsent replies is among the largest');
    my ($rc, $out) = mca('-s', $sock, 'memory');
    is($rc, 0, 'memory exits 0');
    like($out, qr/^RSS \d[\d.]* [KMG]iB\s+-m 64 MiB\s+accounted \S+ \S+\s+unaccounted /m,
         'RSS and -m in human units');
    like($out, qr/^item memory\s+\S+ \S+\s+[\d.]+%\s+[\d.]+% of -m$/m, 'item memory with its share of -m');
    like($out, qr/^Largest connections:\n\s+id\s+peer.*\n\s+\d+\s+tcp:127\.0\.0\.1:\d+\s+\S+ [KM]iB\s+\S+ KiB\s+\d[\d.]* [KM]iB$/m,
         'the largest first, its pending replies in KiB');
    like($out, qr/^\s+1\s+\d+ B\s+\d+\s+\d+\s+\S+ MiB$/m, 'class 1 has free chunks and headroom')
        if engine() eq 'slab';
    like($out, qr/classes without free chunks can take \d+ more pages/, 'the other classes summed up');
    close $big;
}

# --- history -------------------------------------------------------------------------------
{
    is(send_recv($c, "flush_all\r\n"), "OK\r\n", 'flush_all');
    my ($rc, $out) = mca('-s', $sock, 'history', 'flush');
    is($rc, 0, 'history flush exits 0');
    like($out, qr/^\s+time\s+peer\s+conn\s+delay$/m, 'flush columns');
    like($out, qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+tcp:127\.0\.0\.1:\d+\s+\d+\s+-$/m,
         'who sent the flush_all');
    ($rc, $out) = mca('-s', $sock, 'history', 'error', 'since=1h');
    like($out, qr/^\s+time\s+code\s+what\s+class/m, 'error columns');
    like($out, qr/E1001\s+ERR_UNKNOWN_COMMAND/, 'the unknown command as an error event');
    like($out, qr/^recorded since start: .*\berror [1-9]/m, 'with the totals recorded');
    ($rc, $out) = mca('-s', $sock, 'history', 'conn');
    like($out, qr/^\s+time\s+event\s+conn\s+peer\s+age/m, 'conn columns');
    like($out, qr/\bopen\s+\d+\s+tcp:127\.0\.0\.1:\d+/, 'a connection opened');
    ($rc, $out) = mca('-s', $sock, 'history');
    like($out, qr/^\s+time\s+kind\s+what/m, 'all kinds in one table without a kind');
    my $d = mca_json('history', 'all', 'limit=2');
    is(scalar @{ $d->{events} }, 2, 'limit=2 gives two events');
    $d = mca_json('history', 'error', 'since=' . (time() + 3600));
    is(scalar @{ $d->{events} }, 0, 'since= in the future gives none');
    ($rc, undef, my $err) = mca('-s', $sock, 'history', 'nosuchkind');
    is($rc, 1, 'an unknown kind is the server\'s error');
    ($rc) = mca('-s', $sock, 'history', 'error', 'since=yesterday');
    is($rc, 2, 'a bad since= is a usage error');
}

# --- events -----------------------------------------------------------------------------
my %pending;     # fileno -> bytes read but not yet split into lines
sub spawn_events {
    my (@args) = @_;
    my $pid = open(my $fh, '-|', $mcadmin, '-s', $sock, 'events', @args) or die "events: $!";
    $pending{ fileno $fh } = '';
    return ($pid, $fh);
}

# Reads lines from $fh until $re matches one (or $timeout passes). Reads
# with sysread into our own buffer: select() cannot see PerlIO's.
sub read_until {
    my ($fh, $re, $timeout, $lines) = @_;
    my $sel = IO::Select->new($fh);
    my $deadline = time + ($timeout // 10);
    my $buf = \$pending{ fileno $fh };
    $$buf //= '';
    while (1) {
        while ($$buf =~ s/\A([^\n]*\n)//) {
            my $l = $1;
            push @$lines, $l if $lines;
            return $l if $l =~ $re;
        }
        my $left = $deadline - time;
        return undef if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($fh, my $chunk, 65536);
        return undef unless $n;
        $$buf .= $chunk;
    }
}

{
    my ($pid, $fh) = spawn_events('error,flush', '--count', '2');
    ok(read_until($fh, qr/^following error,flush events for 2/), 'events says what it follows');
    like(send_recv($c, "bogus_two\r\n"), qr/^ERROR/, 'an error while following');
    is(send_recv($c, "flush_all\r\n"), "OK\r\n", 'and a flush');
    my @lines;
    ok(read_until($fh, qr/^2 events$/, 10, \@lines), 'events stops by itself after --count 2');
    like($lines[0], qr/^\d\d:\d\d:\d\d error\s+ERR_UNKNOWN_COMMAND \[E1001\] conn=\d+/, 'the error, one line');
    like($lines[1], qr/^\d\d:\d\d:\d\d flush\s+flush_all conn=\d+ peer=tcp:127\.0\.0\.1:\d+$/, 'the flush, with its peer');
    close $fh;
    is($? >> 8, 0, 'events --count exits 0');

    my $t0 = time;
    my ($rc, $out) = mca('-s', $sock, 'events', 'eviction', '--seconds', '0.5');
    is($rc, 0, 'events --seconds exits 0');
    like($out, qr/^0 events$/m, 'no eviction happened');
    ok(time - $t0 < 5, 'and it stopped after about half a second');

    # --json: the event objects as the server sends them. Nothing tells us
    # when the watch is set up, so keep making errors until one arrives.
    ($pid, $fh) = spawn_events('error', '--count', '1', '--json');
    my $got;
    wait_until(sub { send_recv($c, "bogus_json\r\n"); return $got = read_until($fh, qr/\n/, 0.05) }, 10);
    my $ev = eval { $json->decode($got // '') };
    is($ev && $ev->{kind}, 'error', 'events --json prints the event object');
    is($ev && $ev->{code}, 1001, 'with its code');
    close $fh;

    ($rc, undef, my $err) = mca('-s', $sock, 'events', 'nosuchkind', '--count', '1');
    is($rc, 1, 'an unknown kind exits 1');
    like($err, qr/watch takes KIND/, 'with the server\'s explanation');
    ($rc) = mca('-s', $sock, 'events');
    is($rc, 2, 'events without a kind is a usage error');

    # A watcher that does not read loses events rather than slow the
    # server: stop mcadmin, make more errors than the server queues for it
    # (4096) plus what the socket holds, let it go on. The server then says
    # how many it dropped, and events shows it. SIGTERM stops it cleanly.
    ($pid, $fh) = spawn_events('error');
    ok(read_until($fh, qr/^following error events/), 'following errors');
    kill 'STOP', $pid;
    my $burst = $srv->new_sock;
    for my $round (1 .. 5) {
        send_bytes($burst, "bogus\r\n" x 2000);
        read_bytes($burst, 7 * 2000);
    }
    kill 'CONT', $pid;
    my $lost = read_until($fh, qr/events lost/, 20);
    like($lost // '', qr/^-- \d+ events lost: mcadmin read them too slowly --$/, 'a {"lost":N} notice is shown');
    kill 'TERM', $pid;
    ok(read_until($fh, qr/^\d+ events, \d+ lost$/, 10), 'SIGTERM stops it with a summary');
    close $fh;
    is($? >> 8, 0, 'and exit 0');
    close $burst;
}

# --- threads: a stuck worker is shown first ------------------------------------------
{
    my ($rc, $out) = mca('-s', $sock, 'threads');
    is($rc, 0, 'threads exits 0');
    like($out, qr/^thread\s+#\s+tid\s+state\s+heartbeat\s+busy\s+conn\s+command\s+cpu\s+conns\s+status$/m,
         'threads header: busy, command, cpu');
    like($out, qr/^worker\s+0\s+\d+\s+.*\s+ok$/m, 'worker 0 is ok');
    like($out, qr/^maintainer\s+0\s+\d+/m, 'background threads too');
    like($out, qr/^\d+ threads, 0 stuck$/m, 'none stuck');
    unlike($out, qr/STUCK/, 'no STUCK line');

    my $sp = "/tmp/mcadmin-views-stall-$$.sock";
    my $s2 = new_server('-t', '2', '-o', "admin_socket=$sp,fault=ERR_TEST_STALL:1");
    ok(wait_until(sub { -S $sp }), 'a server whose first command stalls its worker');
    my $victim = $s2->new_sock;
    send_bytes($victim, "version\r\n");
    my $got;
    wait_until(sub {
        (undef, $got) = mca('-s', $sp, 'threads');
        return $got =~ /^STUCK:/m;
    }, 6);
    like($got, qr/\ASTUCK: worker \d+ \(tid \d+\) busy \S+ on 'version' for conn \d+/,
         'the stuck worker comes first, with its command and connection');
    like($got, qr/^worker\s+\d+\s+\d+\s+.*\s+version\s+[\d.]+s\s+\d+\s+STUCK$/m, 'and is marked in the table');
    like($got, qr/^\d+ threads, 1 stuck$/m, 'one stuck');
    like(read_line($victim), qr/^VERSION/, 'the stalled command completes');
    $s2->stop;
}

# --- metrics, hotkeys, watch's extra lines, help ------------------------------------
{
    set_ok($c, "m:$_", "v") for 1 .. 3;
    my ($rc, $out) = mca('-s', $sock, 'metrics', 'memcached_current_items');
    is($rc, 0, 'metrics exits 0');
    like($out, qr/^memcached_current_items 3$/m, 'the filtered family with its value');
    unlike($out, qr/^memcached_read_bytes_total/m, 'other families are left out');
    like($out, qr/^# EOF$/m, 'the text still ends with # EOF');
    ($rc, $out) = mca('-s', $sock, 'metrics');
    like($out, qr/^mcd_errors_total\{/m, 'unfiltered: every family');
    my $d = mca_json('metrics', 'mcd_command_duration_seconds_count');
    my ($m) = grep { $_->{labels}{command} && $_->{labels}{command} eq 'set' } @$d;
    ok($m && $m->{value} >= 13, 'metrics --json parses samples with labels');

    my $help = mca_json('raw', 'help') // {};
    my $has_hot = grep { $_->{name} eq 'hotkeys' } @{ ($help->{data} // {})->{commands} // [] };
    my $err;
    ($rc, $out, $err) = mca('-s', $sock, 'hotkeys');
    if ($has_hot) {
        is($rc, 0, 'hotkeys: the server samples them');
        like($out, qr/^By requests:$/m, 'hotkeys: a table by requests');
        like($out, qr/^By value bytes sent:$/m, 'and one by bytes');
        # sampled 1 in 64: enough lookups of one key make it the hottest
        set_ok($c, 'hottest', 'h');
        send_bytes($c, "get hottest\r\n" x 2000);
        read_bytes($c, length("VALUE hottest 0 1\r\nh\r\nEND\r\n") * 2000);
        my $hot;
        wait_until(sub { (undef, $hot) = mca('-s', $sock, 'hotkeys', '3'); $hot =~ /^\s+1\s+hottest\s+\d+/m });
        like($hot, qr/^By requests:\n\s+#\s+key\s+requests\s+\+\/-\n\s+1\s+hottest\s+\d{3,}\s/m,
             'the key asked for most is first, with its estimate');
    } else {
        is($rc, 1, 'hotkeys on a server without them exits 1');
        like($err, qr/does not offer hot keys/, 'with a clear message');
    }

    my $w = mca_json('watch', '0.2', '--count', '1');
    ok($w && exists $w->{slow_per_sec} && $w->{slow_total} >= 1, 'watch counts slow commands');
    is(exists $w->{hot_keys} ? 1 : 0, $has_hot ? 1 : 0, 'and hot keys only when the server has them');
    ($rc, $out) = mca('-s', $sock, 'watch', '0.2', '--count', '1');
    like($out, qr/^slow commands\/s \S+ \(over 0us; \d+ logged since start\)$/m, 'watch text shows slow commands');

    ($rc, $out) = mca('help');
    for my $cmd (qw(latency commands slowlog memory history events metrics set hotkeys)) {
        like($out, qr/^\Q$cmd\E\b/m, "help lists $cmd");
    }
}

$srv->stop;
done_testing();
