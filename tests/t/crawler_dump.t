#!/usr/bin/perl
# stats cachedump and lru_crawler: the key listings libmemcached's memcdump
# and other tools read. Replies are memcached 1.6.18's, checked against it
# with MCD_BIN=/usr/bin/memcached (where memcached differs by design, the
# check is mcd-only and says why).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;
use Time::HiRes qw(time);

plan skip_all => "needs its own servers (-X)" if external();

my $server = new_server();
my $s = $server->sock;

# one request, every line up to and including END (or a single other
# line); memcached's crawler answers BUSY while finishing the previous
# request, so that is polled away
sub listing {
    my ($cmd) = @_;
    my @lines;
    wait_until(sub {
        send_bytes($s, "$cmd\r\n");
        @lines = ();
        while (defined(my $l = read_line($s))) {
            push @lines, $l;
            last if $l eq "END\r\n" || $l !~ /^(ITEM|key=)/;
        }
        return $lines[0] !~ /^BUSY/;
    }, 5);
    return @lines;
}

set_ok($s, "foo", "bar");
set_ok($s, "k%20x", "hello", exptime => 100);
set_ok($s, "sp\x{e9}c", "x");          # a byte the uri encoding must escape
set_ok($s, "big", "a" x 2000);
mem_get_is($s, "foo", "bar");
my $t0 = time;

# --- stats cachedump ---------------------------------------------------------------
{
    my @l = listing("stats cachedump 1 0");
    is($l[-1], "END\r\n", "cachedump ends with END");
    my @bad = grep { !/^ITEM \S+ \[\d+ b; \d+ s\]\r\n\z/ } @l[0 .. $#l - 1];
    ok(!@bad, "every cachedump line is 'ITEM <key> [<bytes> b; <exptime> s]'")
        or diag explain \@bad;
  SKIP: {
        skip "memcached lists only its cold LRU, which new items have not reached", 4
            if is_memcached();
        my %items = map { /^ITEM (\S+) \[(\d+) b; (\d+) s\]/ ? ($1 => [$2, $3]) : () } @l;
        # the heap engine's one class holds the big item too
        is_deeply([sort keys %items],
                  [sort "foo", "k%20x", "sp\x{e9}c", (engine() eq 'slab' ? () : 'big')],
                  "cachedump 1 lists the small items of class 1, keys raw");
        is($items{foo}[0], 3, "bytes are the value's length");
        is($items{foo}[1], 0, "no expiry is 0 s");
        ok(abs($items{"k%20x"}[1] - ($t0 + 100)) <= 3, "expiry is a unix time")
            or diag "got $items{'k%20x'}[1], want about " . int($t0 + 100);
        my @one = listing("stats cachedump 1 1");
        is(scalar @one, 2, "a limit of 1 gives one item and END");
    }
    is_deeply([listing("stats cachedump 0 0")], ["END\r\n"], "class 0 is empty");
    is_deeply([listing("stats cachedump 63 0")], ["END\r\n"], "class 63 is accepted");
    err_like(send_recv($s, "stats cachedump 64 0\r\n"), "CLIENT_ERROR Illegal slab id",
             "class 64 is refused (memcdump stops there)");
    err_like(send_recv($s, "stats cachedump\r\n"), "CLIENT_ERROR bad command line",
             "cachedump without arguments");
    err_like(send_recv($s, "stats cachedump 1\r\n"), "CLIENT_ERROR bad command line",
             "cachedump without a limit");
    err_like(send_recv($s, "stats cachedump x 0\r\n"), "CLIENT_ERROR bad command line format",
             "cachedump with a class that is not a number");
    err_like(send_recv($s, "stats cachedump -1 0\r\n"), "CLIENT_ERROR bad command line format",
             "cachedump with a negative class");
}

# --- lru_crawler metadump -------------------------------------------------------------
{
    my @l = listing("lru_crawler metadump all");
    is($l[-1], "END\r\n", "metadump ends with END\\r\\n");
    my %m;
    for my $line (@l[0 .. $#l - 1]) {
        like($line, qr/^key=\S+ exp=-?\d+ la=\d+ cas=\d+ fetch=(yes|no) cls=\d+ size=\d+\n\z/,
             "metadump line format (ended by \\n alone)");
        my %f = $line =~ /(\w+)=(\S+)/g;
        $m{$f{key}} = \%f;
    }
    is_deeply([sort keys %m], [sort "foo", "k%2520x", "sp%E9c", "big"],
              "metadump all lists every item, keys uri-encoded");
    is($m{foo}{exp}, -1, "no expiry is exp=-1");
    ok(abs($m{"k%2520x"}{exp} - ($t0 + 100)) <= 3, "exp is a unix time");
    ok(abs($m{foo}{la} - $t0) <= 3, "la is a unix time");
    is($m{foo}{fetch}, "yes", "a fetched item says fetch=yes");
    is($m{big}{fetch}, "no", "an unfetched item says fetch=no");
    SKIP: {
        skip 'one class in the heap engine', 1 unless engine() eq 'slab';
        isnt($m{big}{cls}, $m{foo}{cls}, "cls differs by size");
    }
    ok($m{big}{size} > 2000, "size is the item's size");
    my ($cas) = mem_gets($s, "foo");
    is($m{foo}{cas}, $cas, "cas is the item's CAS");

    SKIP: {
        skip 'one class in the heap engine', 1 unless engine() eq 'slab';
    my @one = listing("lru_crawler metadump $m{big}{cls}");
    ok(!grep({ /^key=foo / } @one) && grep({ /^key=big / } @one),
       "metadump <class> lists that class only") or diag explain \@one;
    }
    my @two = listing("lru_crawler metadump $m{foo}{cls},$m{big}{cls}");
    # (memcached's per-class crawl can miss an item its LRU is moving, here
    # the just-fetched foo; mcd walks the hash table and misses none)
    cmp_ok(scalar @two, is_memcached() ? '>=' : '==', 5 - is_memcached(),
           "metadump <id>,<id> lists both classes");
    my @hash = listing("lru_crawler metadump hash");
    is(scalar @hash, 5, "metadump hash lists every item");
    is(send_recv($s, "lru_crawler metadump 99\r\n"), "BADCLASS invalid class id\r\n",
       "metadump of a class past 63");
    is(send_recv($s, "lru_crawler metadump 0\r\n"), "BADCLASS invalid class id\r\n",
       "metadump of class 0");
    is(send_recv($s, "lru_crawler metadump 1,x\r\n"), "BADCLASS invalid class id\r\n",
       "metadump with a class that is not a number");
    is(send_recv($s, "lru_crawler metadump\r\n"), "ERROR\r\n", "metadump without a class");
    is(send_recv($s, "lru_crawler metadump 1 2\r\n"), "ERROR\r\n", "metadump with two arguments");
}

# --- the other subcommands ---------------------------------------------------------------
{
    is(send_recv($s, "lru_crawler\r\n"), "ERROR\r\n", "lru_crawler alone");
    is(send_recv($s, "lru_crawler foo\r\n"), "ERROR\r\n", "an unknown subcommand");
    is(send_recv($s, "lru_crawler sleep 100\r\n"), "OK\r\n", "sleep");
    is(send_recv($s, "lru_crawler sleep 1000000\r\n"), "OK\r\n", "sleep of one second");
    err_like(send_recv($s, "lru_crawler sleep 1000001\r\n"),
             "CLIENT_ERROR sleep must be one second or less", "sleep over one second");
    err_like(send_recv($s, "lru_crawler sleep x\r\n"), "CLIENT_ERROR bad command line format",
             "sleep that is not a number");
    is(send_recv($s, "lru_crawler tocrawl 0\r\n"), "OK\r\n", "tocrawl");
    err_like(send_recv($s, "lru_crawler tocrawl -1\r\n"), "CLIENT_ERROR bad command line format",
             "tocrawl that is negative");
    is(send_recv($s, "lru_crawler crawl 99\r\n"), "BADCLASS invalid class id\r\n",
       "crawl of a class past 63");
    is(send_recv($s, "lru_crawler crawl 1 2\r\n"), "ERROR\r\n", "crawl with two arguments");

    # crawl reclaims expired items (memcached does it in its crawler thread)
    my $before = mem_stats($s);
    set_ok($s, "short", "x");
    set_ok($s, "short2", "y");
    is(send_recv($s, "touch short -1\r\n"), "TOUCHED\r\n", "expire one item by touch");
    is(send_recv($s, "touch short2 -1\r\n"), "TOUCHED\r\n", "and another");
    # (memcached's background LRU maintainer may reclaim them first)
    is(mem_stats($s)->{curr_items}, 6, "expired items still count until reclaimed")
        if mcd_only();
    ok(!grep({ /^key=short/ } listing("lru_crawler metadump all")),
       "metadump does not list expired items");
    is(send_recv($s, "lru_crawler crawl all\r\n"), "OK\r\n", "crawl all");
    ok(wait_until(sub { mem_stats($s)->{curr_items} == 4 }, 10),
       "crawl reclaimed the expired items (curr_items 4)")
        or diag "curr_items " . mem_stats($s)->{curr_items};
    if (mcd_only()) {
        # counted as the crawler's reclaims (or the background sweep's, if
        # it got there first), never as expired items a client met
        my $after = mem_stats($s);
        is($after->{crawler_reclaimed} - $before->{crawler_reclaimed}, 2,
           'crawl: crawler_reclaimed +2');
        is($after->{get_expired} - $before->{get_expired}, 0, 'crawl: get_expired unchanged');
    }
    mem_get_is($s, "foo", "bar", "live items survive a crawl");

    is(send_recv($s, "lru_crawler disable\r\n"), "OK\r\n", "disable");
    err_like(send_recv($s, "lru_crawler metadump all\r\n"), "CLIENT_ERROR lru crawler disabled",
             "metadump while disabled");
    err_like(send_recv($s, "lru_crawler crawl all\r\n"), "CLIENT_ERROR lru crawler disabled",
             "crawl while disabled");
    ok(wait_until(sub { send_recv($s, "lru_crawler enable\r\n") eq "OK\r\n" }, 5), "enable");
    err_like(send_recv($s, "lru_crawler enable\r\n"), "ERROR failed to start lru crawler thread",
             "enable while enabled");
    my @l = listing("lru_crawler metadump all");
    is($l[-1], "END\r\n", "metadump works again after enable");
}

# --- mcd: a metadump may be pipelined, and a big one is complete ------------------------
SKIP: {
    skip "memcached refuses commands pipelined before metadump", 3 if is_memcached();
    send_bytes($s, "get foo\r\nlru_crawler metadump all\r\nversion\r\n");
    is(read_value($s)->{value}, "bar", "get before a pipelined metadump");
    my $n = 0;
    while ((my $l = read_line($s)) ne "END\r\n") { $n++ }
    ok($n >= 4, "pipelined metadump listed $n items");
    like(read_line($s), qr/^VERSION /, "command after a pipelined metadump answered");
}
SKIP: {
    skip "mcd-only: the hash walk lists every one of many items", 2 if is_memcached();
    my $srv = new_server('-m', '64');
    my $b = $srv->sock;
    send_bytes($b, join '', map { "set many:$_ 0 0 2 noreply\r\nvv\r\n" } 1 .. 20000);
    like(send_recv($b, "version\r\n"), qr/^VERSION/, "20000 sets done");
    send_bytes($b, "lru_crawler metadump all\r\n");
    my %seen;
    while ((my $l = read_line($b)) ne "END\r\n") { $seen{$1}++ if $l =~ /^key=(\S+) / }
    is(scalar keys %seen, 20000, "metadump lists each of 20000 items once");
}

# --- -X refuses both listings -------------------------------------------------------------
{
    my $x = new_server('-X');
    my $xs = $x->sock;
    set_ok($xs, "foo", "bar");
    err_like(send_recv($xs, "stats cachedump 1 0\r\n"), "CLIENT_ERROR stats cachedump not allowed",
             "-X: cachedump refused");
    err_like(send_recv($xs, "stats cachedump\r\n"), "CLIENT_ERROR stats cachedump not allowed",
             "-X: cachedump refused before its arguments are read");
    err_like(send_recv($xs, "lru_crawler metadump all\r\n"), "ERROR metadump not allowed",
             "-X: metadump refused");
    is(send_recv($xs, "lru_crawler crawl all\r\n"), "OK\r\n", "-X: crawl still allowed");
}

# --- memcdump, which reads cachedump ----------------------------------------------------------
SKIP: {
    skip "memcdump not installed (libmemcached-tools)", 2 unless -x "/usr/bin/memcdump";
    skip "memcached lists only its cold LRU", 2 if is_memcached();
    my ($st, $out, $err) = run_bin(["--servers=127.0.0.1:" . $server->port],
                                   bin => "/usr/bin/memcdump");
    is($st, 0, "memcdump exits 0") or diag $err;
    # (libmemcached cuts a key at its first byte past ASCII: "sp\xe9c" prints as "sp")
    my %got = map { $_ => 1 } split /\n/, $out;
    ok($got{foo} && $got{"k%20x"} && $got{big} && keys %got == 4, "memcdump lists every key")
        or diag explain [sort keys %got];
}

done_testing();
