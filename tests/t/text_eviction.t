#!/usr/bin/perl
# Memory limit: LRU eviction with -m 2, refusal with -M.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

plan skip_all => "needs its own servers (MCD_ADDR set)" if external();

my $N = 10_000;          # 10 000 x 1 KB = ~10 MB into a 2 MB cache
my $VAL = "v" x 1024;

# store key0..key$N-1 in pipelined batches; returns {reply => count} and the
# index of the first non-STORED reply
sub fill {
    my ($sock) = @_;
    my %replies;
    my $first_fail;
    for (my $i = 0; $i < $N; $i += 100) {
        my $end = $i + 99 < $N - 1 ? $i + 99 : $N - 1;
        send_bytes($sock, join '', map { "set key$_ 0 0 1024\r\n$VAL\r\n" } $i .. $end);
        for my $j ($i .. $end) {
            my $r = read_line($sock);
            $replies{$r}++;
            $first_fail //= $j if $r ne "STORED\r\n";
        }
    }
    return (\%replies, $first_fail);
}

sub present {
    my ($sock, $k) = @_;
    send_bytes($sock, "get $k\r\n");
    my $v = read_value($sock);
    return $v && $v->{value} eq $VAL;
}

# --- eviction -----------------------------------------------------------------------
{
    my $server = new_server('-m', '2');
    my $sock = $server->sock;
    my ($replies) = fill($sock);
    is_deeply($replies, { "STORED\r\n" => $N }, "-m 2: all $N sets answered STORED");
    my $st = mem_stats($sock);
    cmp_ok($st->{evictions}, '>', 0, "-m 2: evictions > 0 ($st->{evictions})");
    cmp_ok($st->{curr_items}, '<', $N, "-m 2: not every item fits ($st->{curr_items} kept)");
    cmp_ok($st->{curr_items}, '>', 500, "-m 2: a reasonable number of items kept");
    is($st->{total_items}, $N, "-m 2: total_items counts every store");
    cmp_ok($st->{bytes}, '<=', $st->{limit_maxbytes}, "-m 2: bytes within limit_maxbytes");
    my $recent = grep { present($sock, "key$_") } $N - 200 .. $N - 1;
    is($recent, 200, "-m 2: the 200 most recent keys are retrievable");
    ok(!present($sock, "key0"), "-m 2: the oldest key was evicted");
    my $items = mem_stats($sock, "items");
    my $ev = 0;
    $ev += $items->{$_} for grep { /^items:\d+:evicted$/ } keys %$items;
    is($ev, $st->{evictions}, "-m 2: per-class evicted adds up to evictions");
    # still fully usable
    is(send_recv($sock, "set after 0 0 3\r\nnew\r\n"), "STORED\r\n", "-m 2: set after evictions");
    mem_get_is($sock, "after", "new");
    $server->stop;
}

# --- -M: refuse instead of evicting ---------------------------------------------------------
{
    my $server = new_server('-m', '2', '-M');
    my $sock = $server->sock;
    my ($replies, $first_fail) = fill($sock);
    my $oom = "SERVER_ERROR out of memory storing object";
    my %norm;
    for my $r (keys %$replies) {
        (my $n = $r) =~ s/ \[E\d+\]\r\n\z/\r\n/;
        $norm{$n} += $replies->{$r};
    }
    cmp_ok($norm{"$oom\r\n"} // 0, '>', 0, "-M: sets past the limit get '$oom'");
    is(($norm{"STORED\r\n"} // 0) + ($norm{"$oom\r\n"} // 0), $N, "-M: no other replies")
        or diag explain \%norm;
    cmp_ok($first_fail // $N, '>', 500, "-M: a reasonable number of items stored first");
    my $st = mem_stats($sock);
    is($st->{evictions}, 0, "-M: no evictions");
    is($st->{curr_items}, $norm{"STORED\r\n"}, "-M: curr_items equals the number stored");
    my $old = grep { present($sock, "key$_") } 0 .. 99;
    is($old, 100, "-M: the oldest keys are kept");
    ok(!present($sock, "key" . ($N - 1)), "-M: the last key was refused");
    # the connection stays usable and freeing memory lets a store through
    is(send_recv($sock, "delete key$_\r\n"), "DELETED\r\n", "-M: delete key$_") for 0 .. 9;
    is(send_recv($sock, "set fresh 0 0 1024\r\n$VAL\r\n"), "STORED\r\n", "-M: set after freeing space");
    ok(present($sock, "fresh"), "-M: the new item is readable");
    $server->stop;
}

done_testing();
