#!/usr/bin/perl
# mcadmin's fleet mode (issue 11): three real servers, one with different
# traffic. stats shows one column per server and flags the odd one; capture
# writes one file per server (or a bundle); diff compares each server's
# before and after; an unreachable server exits 3 without hiding the rest.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest timeout => 120;
use JSON::PP;
use File::Temp qw(tempdir);
use File::Spec;

plan skip_all => 'mcadmin talks to mcd only' unless mcd_only();
plan skip_all => 'needs its own servers (admin sockets)' if external();

my $mcadmin = $ENV{MCADMIN_BIN} // File::Spec->catfile(repo_root(), 'mcadmin', 'mcadmin');
plan skip_all => "no mcadmin binary at $mcadmin (make builds it)" unless -x $mcadmin;

my $dir = tempdir('mcadmin-fleet-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $json = JSON::PP->new->allow_nonref;
my (%srv, %sock, %c);
for my $n (qw(a b c)) {
    $sock{$n} = "/tmp/mcadmin-fleet-$$-$n.sock";
    $srv{$n} = new_server('-o', "admin_socket=$sock{$n}");
    ok(wait_until(sub { -S $sock{$n} }), "server $n: admin socket up") or BAIL_OUT('no admin socket');
    $c{$n} = $srv{$n}->sock;
}
my @all = map { ('-s', $sock{$_}) } qw(a b c);
my $nobody = "/tmp/mcadmin-fleet-$$-nobody.sock";

sub mca {
    my (@args) = @_;
    my ($st, $out, $err) = run_bin([@args], bin => $mcadmin, timeout => 30);
    my $code = $st == -1 ? 255 : ($st & 127) ? 128 + ($st & 127) : $st >> 8;
    return ($code, $out, $err);
}

sub hits {
    my ($s, $n, $prefix) = @_;
    my $ok = 0;
    for my $i (1 .. $n) {
        my $r = send_recv($s, "get $prefix$i\r\n");
        $ok++ if $r =~ /^VALUE/;
        1 while $r ne "END\r\n" && ($r = read_line($s)) ne "END\r\n";
    }
    return $ok;
}

# a and b: 30 items, every get a hit. c: 600 items, and every get misses.
for my $n (qw(a b)) {
    set_ok($c{$n}, "k:$_", "v", msg => undef) for 1 .. 30;
    is(hits($c{$n}, 30, 'k:'), 30, "server $n: 30 hits");
}
set_ok($c{c}, "k:$_", "v", msg => undef) for 1 .. 600;
is(hits($c{c}, 60, 'absent:'), 0, 'server c: 60 misses');

# --- stats: a column per server, the odd one flagged ---------------------------
{
    my ($rc, $out, $err) = mca(@all, 'stats');
    is($rc, 0, 'fleet stats exits 0');
    like($out, qr/^\s+\Q$sock{a}\E\s+\Q$sock{b}\E\s+\Q$sock{c}\E\s+median$/m, 'one column per server, then the median');
    like($out, qr/^hit ratio\s+100\.0%\s+100\.0%\s+0\.0% \*\s+100\.0%$/m, 'c\'s hit ratio is marked');
    like($out, qr/^curr_items\s+30\s+30\s+600 \*\s+30$/m, 'and its item count');
    my ($flags) = $out =~ /^\* far from the fleet's median:\n((?:  .*\n)+)/m;
    like($flags // '', qr/^  \Q$sock{c}\E: .*hit_ratio.*curr_items|^  \Q$sock{c}\E: .*curr_items.*hit_ratio/m,
         'c is named with why');
    unlike($flags // '', qr/\Q$sock{a}\E|\Q$sock{b}\E/, 'a and b are not flagged');
    like($out, qr/^cmd_set\s+30\s+30\s+600$/m, 'every stat side by side');

    ($rc, $out) = mca(@all, 'stats', '--json');
    my $d = eval { $json->decode($out) };
    is(scalar @{ $d->{servers} }, 3, '--json: three servers');
    my $o = $d->{outliers} // {};
    ok((grep { $_ eq 'hit_ratio' } @{ $o->{ $sock{c} } // [] }), '--json: c flagged for hit_ratio');
    ok((grep { $_ eq 'curr_items' } @{ $o->{ $sock{c} } // [] }), '--json: c flagged for curr_items');
    ok(!(grep { /^(?:hit_ratio|curr_items)$/ } map { @{ $o->{ $sock{$_} } // [] } } qw(a b)),
       '--json: neither a nor b for those');
    my ($m) = grep { $_->{name} eq 'curr_items' } @{ $d->{metrics} };
    is($m->{median}, 30, 'the median of curr_items');

    # the same fleet from a file, with comments and a dead server
    open(my $fh, '>', "$dir/fleet") or die;
    print $fh "# our cache tier\n$sock{a}\n  $sock{b}   # the twin\n\n$sock{c}\n$nobody\n";
    close $fh;
    ($rc, $out, $err) = mca('--fleet', "$dir/fleet", 'stats');
    is($rc, 3, 'a server that cannot be reached: exit 3');
    like($err, qr/\Q$nobody\E: cannot connect/, 'it is named on stderr');
    like($out, qr/^server\s+pid \d+\s+pid \d+\s+pid \d+\s+unreachable$/m, 'its column says unreachable');
    like($out, qr/^curr_items\s+30\s+30\s+600 \*\s+30$/m, 'the others are still shown and compared');
    ($rc, undef, $err) = mca('--fleet', "$dir/no-such-file", 'stats');
    is($rc, 2, 'a missing fleet file is a usage error');
}

# --- capture: a file per server, or a bundle -----------------------------------
my $before = "$dir/before";
mkdir $before or die;
{
    my ($rc, $out) = mca(@all, 'capture', $before);
    is($rc, 0, 'fleet capture exits 0');
    opendir(my $dh, $before) or die;
    my @files = sort grep { /\.json$/ } readdir $dh;
    is(scalar @files, 3, 'one snapshot file per server');
    for my $n (qw(a b c)) {
        my $pid = $srv{$n}->pid;
        ok((grep { /fleet-\d+-$n\.sock-pid$pid\.json$/ } @files), "server $n\'s file names its socket and pid");
    }
    my ($fa) = grep { /-a\.sock-/ } @files;
    my $doc = $json->decode(do { local (@ARGV, $/) = "$before/$fa"; <> });
    is($doc->{source_socket}, $sock{a}, 'and is a snapshot of that server');

    ($rc, $out) = mca(@all, 'capture', '--bundle', "$dir/bundle.json");
    is($rc, 0, 'capture --bundle exits 0');
    my $b = $json->decode(do { local (@ARGV, $/) = "$dir/bundle.json"; <> });
    is($b->{mcadmin_fleet}, 1, 'the bundle has its format');
    is_deeply([sort map { $_->{source} } @{ $b->{servers} }], [sort @sock{qw(a b c)}], 'and every server');

    ($rc, $out) = mca(@all, '-s', $nobody, 'capture', "$dir");
    is($rc, 3, 'capture with a dead server exits 3');
    like($out, qr/captured \Q$sock{c}\E: /, 'after capturing the others');
}

# --- diff: each server's before and after --------------------------------------
{
    set_ok($c{b}, "new:$_", "v", msg => undef) for 1 .. 12;
    # The diff's interval is the stats' own clock: let it tick past the capture.
    my $t0 = $json->decode(do { local (@ARGV, $/) = "$dir/bundle.json"; <> })->{servers}[0]{snapshot}{snapshot}{sections}{stats}{time};
    ok(wait_until(sub {
        my (undef, $o) = mca('-s', $sock{b}, 'stats', '--json');
        return (eval { $json->decode($o)->{stats}{time} } // 0) > $t0;
    }, 3), 'the servers\' clocks moved on');

    my ($rc, $out) = mca(@all, 'diff', $before, 'live', '--json');
    is($rc, 0, 'fleet diff exits 0');
    my $d = eval { $json->decode($out) };
    my %by = map { $_->{source} => $_->{diff} } @{ $d->{servers} // [] };
    is(scalar keys %by, 3, 'each server diffed');
    my %set;
    for my $n (qw(a b c)) {
        ($set{$n}) = grep { $_->{name} eq 'cmd_set' } @{ $by{ $sock{$n} }{counters} // [] };
    }
    is($set{b} && $set{b}{delta}, 12, 'b: cmd_set +12');
    ok(!$set{a} && !$set{c}, 'a and c: no sets');

    ($rc, $out) = mca(@all, 'diff', $before, 'live');
    like($out, qr/^server\s+interval\s+gets\/s\s+sets\/s\s+hit ratio/m, 'text: a summary row per server');
    like($out, qr/^== \Q$sock{b}\E ==\n.*?^\s+cmd_set\s+\+12\s/ms, 'then each server\'s diff');

    # no server needed for files: a bundle against the directory
    ($rc, $out) = mca('diff', "$dir/bundle.json", $before, '--json');
    is($rc, 0, 'diff of a bundle and a directory needs no server');
    $d = eval { $json->decode($out) };
    is(scalar @{ $d->{servers} // [] }, 3, 'and matches the three servers');
}

# --- others once per server; what cannot be run on a fleet ----------------------
{
    my ($rc, $out) = mca(@all, 'latency');
    is($rc, 0, 'a view on a fleet exits 0');
    my @heads = $out =~ /^== (\S+) ==$/mg;
    is_deeply(\@heads, [@sock{qw(a b c)}], 'under a header per server');
    ($rc, $out) = mca(@all, 'hash', '--json');
    my $d = eval { $json->decode($out) };
    is(scalar @{ $d // [] }, 3, '--json: one entry per server');
    is($d->[2]{output}{items}, 600, 'with that server\'s data');
    my ($hrc, $help) = mca('help');
    if ($help =~ /^doctor\b/m) {
        ($rc, $out) = mca(@all, 'doctor', '--interval', '0.2');
        my @dh = $out =~ /^== (\S+) ==$/mg;
        is_deeply(\@dh, [@sock{qw(a b c)}], 'doctor runs on each server');
        like($out, qr/^== \Q$sock{c}\E ==\nmcd doctor: mcd \S+ pid ${\ $srv{c}->pid }\b/m,
             'each under its own header');
        ($rc, undef, my $err) = mca(@all, '-s', $nobody, 'doctor', '--interval', '0.2');
        is($rc, 3, 'doctor on a fleet with a dead server exits 3');
        ($rc, $out) = mca(@all, 'doctor', '--rules');
        is(scalar(() = $out =~ /^== /mg), 0, 'doctor --rules runs once');
    }
    ($rc, undef, my $err) = mca(@all, 'events', 'all', '--count', '1');
    is($rc, 2, 'events on a fleet is a usage error');
    like($err, qr/one server at a time/, 'and says why');
    ($rc) = mca(@all);
    is($rc, 2, 'no shell on a fleet');
}

$srv{$_}->stop for qw(a b c);
done_testing();
