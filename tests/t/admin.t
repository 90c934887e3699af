#!/usr/bin/perl
# The admin socket: access rules, every command's reply against the field
# list in man/mcd-admin.7 (so the docs cannot drift), errors with registry
# codes, the streamed and resumable item listing, and that clients are
# served while a dump runs.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;
use IO::Socket::UNIX;
use POSIX ();

plan skip_all => 'the admin socket is mcd\'s' unless mcd_only() && !external();

my $root = repo_root();
my $sockpath = "/tmp/mcd-admin-test-$$.sock";
my $srv = new_server('-D', ':', '-o', "admin_socket=$sockpath");
my $s = $srv->sock;

# --- access --------------------------------------------------------------
ok(-S $sockpath, 'the admin socket exists');
is((stat $sockpath)[2] & 07777, 0600, 'mode 0600');
is((stat $sockpath)[4], $>, 'owned by the server\'s user');
SKIP: {
    skip 'needs root to try another user', 1 unless $> == 0;
    my $nobody = getpwnam('nobody');
    skip 'no user nobody', 1 unless defined $nobody;
    my $pid = fork // die;
    if (!$pid) {
        POSIX::setgid(65534); POSIX::setuid($nobody);
        my $c = IO::Socket::UNIX->new(Peer => $sockpath, Type => SOCK_STREAM);
        POSIX::_exit($c ? 0 : 1);
    }
    waitpid($pid, 0);
    is($? >> 8, 1, 'another user cannot connect');
}
is(send_recv($s, "slabs\r\n"), "ERROR\r\n", 'admin commands are not answered on the data port');

# --- some state to look at ----------------------------------------------
for my $i (1 .. 300) {
    set_ok($s, "user:$i", "v$i");
}
is(send_recv($s, "get user:1\r\n"), "VALUE user:1 0 2\r\n", 'a hit');
read_line($s) for 1 .. 2;
is(send_recv($s, "bogus\r\n"), "ERROR\r\n", 'an error to count');
my $big = 'x' x 500_000;
is(send_recv($s, "set big 0 0 " . length($big) . "\r\n$big\r\n"), "STORED\r\n", 'a big value');
# A client that asks for the big value many times and reads nothing holds
# references while its socket is full.
my $slow = $srv->new_sock;
setsockopt($slow, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4096);
print $slow "get big\r\n" x 40;

my $doc = admin_doc_fields("$root/man/mcd-admin.7");
ok(scalar(keys %$doc) >= 12, 'man/mcd-admin.7 documents the commands');

sub check_fields {
    my ($cmd, $data) = @_;
    my $have = json_paths($data, '');
    my $want = $doc->{$cmd} or return fail("$cmd is documented");
    my @empty = grep { $have->{$_} eq 'empty' } keys %$have;
    my @undoc = grep {
        my $p = $_;
        !exists $want->{$p} && !($have->{$p} eq 'empty' && grep { index($_, "$p.") == 0 } keys %$want)
    } sort keys %$have;
    my @missing = grep {
        my $w = $_;
        !$want->{$w} && !$have->{$w} && !grep { index($w, $_) == 0 } @empty
    } sort keys %$want;
    is_deeply(\@undoc, [], "$cmd: every field in the reply is documented");
    is_deeply(\@missing, [], "$cmd: every documented field is in the reply");
}

# Wait until the slow client is stuck with its references recorded.
my $locked;
wait_until(sub {
    $locked = admin_request($sockpath, 'locked');
    my ($b) = grep { ($_->{key} // '') eq 'big' } @{ $locked->{data}{items} };
    return $b && @{ $b->{holders} } && !$locked->{data}{suspected_leaks};
}, 10);
for my $cmd (qw(help stats settings slabs lru errors conns threads hash locked prefixes history memory)) {
    my $r = admin_request($sockpath, $cmd);
    is($r->{schema}, 1, "$cmd: schema 1");
    is($r->{command}, $cmd, "$cmd: names the command");
    is($r->{server}{pid}, $srv->pid, "$cmd: carries the server's pid");
    ok($r->{server}{now} >= $r->{server}{started}, "$cmd: identity has times");
    check_fields($cmd, $r->{data});
}

# --- what the documents say ---------------------------------------------
my $st = admin_request($sockpath, 'stats')->{data};
is($st->{stats}{curr_items}, 301, 'stats: curr_items');
ok((grep { $_ eq 'curr_items' } @{ $st->{gauges} }), 'curr_items is a gauge');
ok(!(grep { $_ eq 'cmd_get' } @{ $st->{gauges} }), 'cmd_get is a counter');

my $errs = admin_request($sockpath, 'errors')->{data}{sites};
is($errs->[0]{count} > 0 ? 1 : 0, 1, 'errors: non-zero first');
my ($unknown) = grep { $_->{code} == 1001 } @$errs;
ok($unknown->{count} >= 1, 'errors: the unknown command counted at E1001');
ok($unknown->{last_seen} >= $unknown->{first_seen} && $unknown->{first_seen} > 0, 'errors: first and last seen');
like($unknown->{advice}, qr/\w/, 'errors: operator advice');

my $slabs = admin_request($sockpath, 'slabs')->{data}{classes};
my $used = 0;
$used += $_->{used_chunks} for @$slabs;
is($used, 301, 'slabs: used chunks match the items');

my ($big_locked) = grep { ($_->{key} // '') eq 'big' } @{ $locked->{data}{items} };
ok($big_locked, 'locked: the value held by a slow client is listed');
ok($big_locked && $big_locked->{refcount} > 1, 'locked: its refcount is above resting');
ok($big_locked && @{ $big_locked->{holders} } >= 1, 'locked: its holders are named');
like($big_locked ? $big_locked->{holders}[0]{site} : '', qr/proto_text\.c:\d+/, 'locked: the hold names its call site');
is($big_locked ? $big_locked->{suspected_leak} : undef, JSON::PP::false, 'locked: a slow client is not a leak');

my $conns = admin_request($sockpath, 'conns')->{data}{connections};
my ($slowc) = grep { $_->{held_refs} > 0 } @$conns;
ok($slowc, 'conns: the slow client holds references');

my $pref = admin_request($sockpath, 'prefixes')->{data};
my ($user) = grep { $_->{prefix} eq 'user' } @{ $pref->{prefixes} };
is($user && $user->{set}, 300, 'prefixes: 300 sets under user:');

my $snap = admin_request($sockpath, 'snapshot')->{data}{sections};
is_deeply([sort keys %$snap], [sort qw(stats settings slabs lru errors conns threads hash locked prefixes history memory)],
          'snapshot: every section');
ok($snap->{slabs}{time} > 0, 'snapshot: sections carry their time');

# --- items ----------------------------------------------------------------
my @all = admin_stream($sockpath, 'items prefix=user:');
is($all[0]{stream}, JSON::PP::true, 'items: a stream header');
my $sum = $all[-1]{summary};
is($sum->{items}, 300, 'items: 300 user: items');
is($sum->{complete}, JSON::PP::true, 'items: complete');
ok(!exists $all[1]{value_base64}, 'items: no values unless asked');

my %seen;
my $cursor = 0;
my $pages = 0;
do {
    my @page = admin_stream($sockpath, "items prefix=user: limit=50 cursor=$cursor");
    $seen{ $_->{key} }++ for @page[1 .. $#page - 1];
    $cursor = $page[-1]{summary}{cursor};
    $pages++;
} while ($cursor && $pages < 100);
is(scalar(keys %seen), 300, 'items: paging with the cursor visits every item');
ok($pages > 2, "items: paging took $pages pages");

my @v = admin_stream($sockpath, 'items prefix=user:7 values=1');
my ($u7) = grep { ($_->{key} // '') eq 'user:7' } @v;
is($u7 && $u7->{value_base64}, 'djc=', 'items: values=1 gives the value in base64');

# --- bad requests ---------------------------------------------------------
my $bad = admin_request($sockpath, 'nosuch');
is($bad->{error}{code}, 5001, 'unknown command: coded error');
$bad = admin_request($sockpath, 'items limit=abc');
is($bad->{error}{code}, 5002, 'bad argument: coded error');
$bad = admin_request($sockpath, 'slabs x=1');
is($bad->{error}{code}, 5002, 'argument to a command without arguments: coded error');
my $c = admin_connect($sockpath);
print $c 'x' x 5000;
my $long = eval { admin_request($c, '') };
is($long && $long->{error}{code}, 5003, 'a line too long: coded error');
mem_get_is($s, 'user:2', 'v2', 'the data port still serves after admin errors');

# --- the data path keeps serving during a dump ----------------------------
my $d = admin_connect($sockpath);
print $d "items values=1\n";     # never read: the admin thread blocks on us
my $t0 = time;
set_ok($s, 'during', 'dump');
mem_get_is($s, 'during', 'dump', 'clients are served while a dump is stuck');
close $d;

close $slow;
$srv->stop;
ok(!-e $sockpath, 'the admin socket is removed at exit');

# --- start-up refusals ----------------------------------------------------
open my $fh, '>', $sockpath or die;
close $fh;
my ($rc) = run_bin(['-p', '0', '-o', "admin_socket=$sockpath"]);
isnt($rc >> 8, 0, 'refuses to start when the path is a regular file');
unlink $sockpath;

done_testing();
