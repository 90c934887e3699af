#!/usr/bin/perl
# Round trips through Perl client libraries: Cache::Memcached and
# Cache::Memcached::Fast.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my $have_cm  = eval { require Cache::Memcached; 1 };
my $have_cmf = eval { require Cache::Memcached::Fast; 1 };
plan skip_all => "neither Cache::Memcached nor Cache::Memcached::Fast is installed "
    . "(apt-get install libcache-memcached-perl libcache-memcached-fast-perl)"
    unless $have_cm || $have_cmf;

my $server = new_server();
my $addr = $server->host . ":" . $server->port;
my $raw = $server->sock;
my $large = join '', map { chr(65 + $_ % 26) } 1 .. 500 * 1024;

sub exercise {
    my ($name, $mc, $ns) = @_;
    my $k = sub { "$ns$_[0]" };

    ok($mc->set($k->("a"), "alpha"), "$name: set");
    is($mc->get($k->("a")), "alpha", "$name: get");
    ok(!defined $mc->get($k->("missing")), "$name: get of a missing key is undef");
    ok($mc->set($k->("b"), "beta", 100), "$name: set with expiry");
    ok($mc->set($k->("c"), ""), "$name: set of an empty string");
    my $m = $mc->get_multi(map { $k->($_) } qw(a b c missing));
    is_deeply($m, { $k->("a") => "alpha", $k->("b") => "beta", $k->("c") => "" },
        "$name: get_multi");

    ok(!$mc->add($k->("a"), "x"), "$name: add of an existing key fails");
    ok($mc->add($k->("d"), "delta"), "$name: add of a new key");
    ok($mc->replace($k->("d"), "delta2"), "$name: replace of an existing key");
    ok(!$mc->replace($k->("nope"), "x"), "$name: replace of a missing key fails");
    is($mc->get($k->("d")), "delta2", "$name: value after replace");

    ok($mc->set($k->("n"), 10), "$name: set a number");
    is($mc->incr($k->("n")), 11, "$name: incr default 1");
    is($mc->incr($k->("n"), 9), 20, "$name: incr 9");
    is($mc->decr($k->("n"), 5), 15, "$name: decr 5");
    # a shrinking number may read back padded with spaces (memcached does)
    my $z = $mc->decr($k->("n"), 100);
    ok(defined $z && $z == 0, "$name: decr floors at 0");
    ok(!$mc->incr($k->("nope"), 1), "$name: incr of a missing key is false");
    like($mc->get($k->("n")), qr/^0 *$/, "$name: stored number is 0");

    ok($mc->delete($k->("a")), "$name: delete");
    ok(!defined $mc->get($k->("a")), "$name: deleted key is gone");
    ok(!$mc->delete($k->("a")), "$name: delete of a missing key is false");

    ok($mc->set($k->("large"), $large), "$name: set 500 KB");
    my $got = $mc->get($k->("large"));
    ok(defined $got && $got eq $large, "$name: get 500 KB round trips")
        or diag "length " . length($got // '');

    my $bin = join '', map { chr } 0 .. 255;
    ok($mc->set($k->("bin"), $bin), "$name: set binary");
    is($mc->get($k->("bin")), $bin, "$name: binary round trip");

    ok($mc->set($k->("ref"), { list => [1, 2, 3], s => "x" }), "$name: set a reference (serialised)");
    is_deeply($mc->get($k->("ref")), { list => [1, 2, 3], s => "x" }, "$name: reference round trip");

    # cross-check with the raw protocol
    mem_get_is($raw, $k->("d"), "delta2", "$name: raw get sees the client's value");
}

SKIP: {
    skip "Cache::Memcached not installed", 28 unless $have_cm;
    my $mc = Cache::Memcached->new({ servers => [$addr], connect_timeout => 5,
                                     select_timeout => 5 });
    exercise("Cache::Memcached", $mc, "cm:");
    $mc->disconnect_all;
}

SKIP: {
    skip "Cache::Memcached::Fast not installed", 44 unless $have_cmf;
    my $mc = Cache::Memcached::Fast->new({ servers => [$addr], connect_timeout => 5,
                                           io_timeout => 5, max_size => 2 * 1024 * 1024 });
    exercise("Cache::Memcached::Fast", $mc, "cmf:");
    # extras only the fast client has
    my $g = $mc->gets("cmf:d");
    ok($g && ref $g eq 'ARRAY', "Cache::Memcached::Fast: gets");
    ok($mc->cas("cmf:d", $g->[0], "delta3"), "Cache::Memcached::Fast: cas");
    ok(!$mc->cas("cmf:d", $g->[0], "delta4"), "Cache::Memcached::Fast: cas with a stale unique fails");
    is($mc->get("cmf:d"), "delta3", "Cache::Memcached::Fast: value after cas");
    ok($mc->append("cmf:d", "-end"), "Cache::Memcached::Fast: append");
    ok($mc->prepend("cmf:d", "start-"), "Cache::Memcached::Fast: prepend");
    is($mc->get("cmf:d"), "start-delta3-end", "Cache::Memcached::Fast: append/prepend result");
    ok($mc->touch("cmf:d", 100), "Cache::Memcached::Fast: touch");
    ok($mc->touch("cmf:c", time - 1000) && !defined $mc->get("cmf:c"),
       "Cache::Memcached::Fast: touch into the past expires the key");
    ok(!$mc->touch("cmf:missing", 100), "Cache::Memcached::Fast: touch of a missing key is false");
    my $gm = $mc->gets_multi("cmf:b", "cmf:d");
    is(scalar(keys %$gm), 2, "Cache::Memcached::Fast: gets_multi");
    my $cm = $mc->cas_multi(["cmf:b", $gm->{"cmf:b"}[0], "beta2"],
                            ["cmf:d", $gm->{"cmf:d"}[0] + 1000, "stale"]);
    ok($cm->{"cmf:b"} && !$cm->{"cmf:d"}, "Cache::Memcached::Fast: cas_multi, one current one stale");
    is($mc->get("cmf:b"), "beta2", "Cache::Memcached::Fast: value after cas_multi");
    my @r = $mc->set_multi(map { ["cmf:multi$_", "v$_"] } 1 .. 50);
    is(scalar(grep { $_ } @r), 50, "Cache::Memcached::Fast: set_multi of 50");
    my $h = $mc->get_multi(map { "cmf:multi$_" } 1 .. 50);
    is(scalar(keys %$h), 50, "Cache::Memcached::Fast: get_multi of 50");
    like(join(',', values %{ $mc->server_versions }), qr/\d+\.\d+/,
        "Cache::Memcached::Fast: server_versions");
    $mc->disconnect_all;
}

done_testing();
