#!/usr/bin/perl
# gets/cas conflicts and several concurrent clients.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use McdTest;

my $server = new_server('-t', '4');
my $a = $server->sock;
my $b = $server->new_sock;

# --- two clients, one item -----------------------------------------------------------
is(send_recv($a, "set c 0 0 3\r\none\r\n"), "STORED\r\n");
my ($ca, $va) = mem_gets($a, "c");
my ($cb, $vb) = mem_gets($b, "c");
is($ca, $cb, "both clients see the same cas unique");
is(send_recv($b, "cas c 0 0 3 $cb\r\ntwo\r\n"), "STORED\r\n", "client B's cas wins");
is(send_recv($a, "cas c 0 0 5 $ca\r\nthree\r\n"), "EXISTS\r\n", "client A's cas with the old unique: EXISTS");
mem_get_is($a, "c", "two", "A's failed cas changed nothing");
my ($ca2) = mem_gets($a, "c");
is(send_recv($a, "cas c 0 0 5 $ca2\r\nthree\r\n"), "STORED\r\n", "A retries with a fresh unique");
mem_get_is($b, "c", "three", "B sees A's value");

is(send_recv($a, "cas nothere 0 0 1 1\r\nx\r\n"), "NOT_FOUND\r\n", "cas on a missing key");
my ($cd) = mem_gets($a, "c");
is(send_recv($b, "delete c\r\n"), "DELETED\r\n");
is(send_recv($a, "cas c 0 0 1 $cd\r\nx\r\n"), "NOT_FOUND\r\n", "cas on a key deleted meanwhile");
is(send_recv($b, "set c 0 0 1\r\ny\r\n"), "STORED\r\n");
is(send_recv($a, "cas c 0 0 1 $cd\r\nx\r\n"), "EXISTS\r\n", "cas on a key re-created meanwhile: EXISTS");
is(send_recv($a, "cas c 0 0 1 0\r\nx\r\n"), "EXISTS\r\n", "cas with unique 0 on an existing key: EXISTS");
{
    my ($c1) = mem_gets($a, "c");
    is(send_recv($b, "touch c 100\r\n"), "TOUCHED\r\n");
    my ($c2) = mem_gets($a, "c");
    is($c2, $c1, "touch does not change the cas unique");
}

# cas uniques are distinct across items and grow
{
    my %seen;
    my $prev = 0;
    my $mono = 1;
    for my $i (1 .. 50) {
        send_recv($a, "set u$i 0 0 1\r\nx\r\n");
        my ($c) = mem_gets($a, "u$i");
        $seen{$c}++;
        $mono = 0 if $c <= $prev;
        $prev = $c;
    }
    is(scalar(keys %seen), 50, "50 stores give 50 different cas uniques");
    ok($mono, "cas uniques increase");
}

# --- concurrent clients ------------------------------------------------------------
# Each child works on its own connection and reports through its exit code.
sub run_children {
    my ($n, $work) = @_;
    my @pids;
    for my $i (1 .. $n) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            alarm 60;
            my $ok = eval { $work->($server->new_sock, $i) };
            POSIX::_exit($ok ? 0 : do { print STDERR "child $i: $@"; 1 });
        }
        push @pids, $pid;
    }
    my $fails = 0;
    for my $pid (@pids) {
        waitpid($pid, 0);
        $fails++ if $?;
    }
    return $fails;
}

is(send_recv($a, "set counter 0 0 1\r\n0\r\n"), "STORED\r\n");
my $fails = run_children(4, sub {
    my ($s) = @_;
    for (1 .. 500) {
        my $r = send_recv($s, "incr counter 1\r\n");
        die "bad incr reply $r" unless $r =~ /^\d+\r\n\z/;
    }
    1;
});
is($fails, 0, "4 children x 500 incr all succeeded");
mem_get_is($a, "counter", "2000", "4 x 500 concurrent incr = 2000");

# decr from several clients never goes below zero and loses nothing
is(send_recv($a, "set down 0 0 4\r\n1000\r\n"), "STORED\r\n");
$fails = run_children(4, sub {
    my ($s) = @_;
    send_recv($s, "decr down 1\r\n") =~ /^\d+\r\n\z/ or die "bad decr" for 1 .. 300;
    1;
});
is($fails, 0, "4 children x 300 decr all succeeded");
send_bytes($a, "get down\r\n");
my $down = read_value($a);
like($down && $down->{value}, qr/^0 *$/, "1000 - 1200 decr floors at 0");

# optimistic increments with gets/cas retry loops
is(send_recv($a, "set casctr 0 0 1\r\n0\r\n"), "STORED\r\n");
$fails = run_children(4, sub {
    my ($s) = @_;
    my $done = 0;
    while ($done < 100) {
        my ($cas, $v) = mem_gets($s, "casctr");
        my $nv = $v + 1;
        my $r = send_recv($s, "cas casctr 0 0 " . length($nv) . " $cas\r\n$nv\r\n");
        if ($r eq "STORED\r\n") { $done++ }
        elsif ($r ne "EXISTS\r\n") { die "unexpected cas reply $r" }
    }
    1;
});
is($fails, 0, "4 children x 100 cas increments completed");
mem_get_is($a, "casctr", "400", "cas retry loops lose no update (400)");

# concurrent appends
is(send_recv($a, "set log 0 0 0\r\n\r\n"), "STORED\r\n");
$fails = run_children(4, sub {
    my ($s, $i) = @_;
    send_recv($s, "append log 0 0 1\r\n$i\r\n") eq "STORED\r\n" or die "append failed" for 1 .. 250;
    1;
});
is($fails, 0, "4 children x 250 append succeeded");
send_bytes($a, "get log\r\n");
my $log = read_value($a);
is(length($log->{value}), 1000, "all 1000 appended bytes are there");
is(join('', map { scalar(() = $log->{value} =~ /$_/g) } 1 .. 4), "250250250250",
    "250 bytes from each child");

# concurrent set/get of distinct keys with a quick consistency check
$fails = run_children(4, sub {
    my ($s, $i) = @_;
    for my $j (1 .. 200) {
        my $v = "c$i-$j-" . ("z" x ($j % 50));
        send_recv($s, "set k$i-$j 0 0 " . length($v) . "\r\n$v\r\n") eq "STORED\r\n" or die "set";
        send_bytes($s, "get k$i-$j\r\n");
        my $g = read_value($s);
        die "read back mismatch" unless $g && $g->{value} eq $v;
    }
    1;
});
is($fails, 0, "4 children x 200 set+get of own keys consistent");
is(mem_stats($a)->{curr_items} >= 800, 1, "all 800 keys counted in curr_items");

done_testing();
