#!/usr/bin/perl
# libmemcached's command-line tools (Debian libmemcached-tools) against mcd:
# memccp (set/add/replace, flags, expiry), memccat (get, several keys),
# memctouch, memcexist, memcrm, memcstat, memcdump (stats cachedump) and
# memcflush. Each run is bounded by run_bin's timeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use McdTest;

my %tool = map { $_ => "/usr/bin/$_" } qw(memccp memccat memcrm memctouch memcexist memcstat
                                          memcdump memcflush);
my @missing = grep { !-x $tool{$_} } sort keys %tool;
plan skip_all => "missing @missing (apt-get install libmemcached-tools)" if @missing;

my $server = new_server();
my $servers = "--servers=127.0.0.1:" . $server->port;
my $s = $server->sock;
my $dir = tempdir(CLEANUP => 1);

sub tool {
    my ($name, @args) = @_;
    my ($st, $out, $err) = run_bin([$servers, @args], bin => $tool{$name}, timeout => 10);
    return wantarray ? ($st, $out, $err) : $st;
}

sub file {
    my ($name, $content) = @_;
    open(my $fh, '>', "$dir/$name") or die "$dir/$name: $!";
    binmode $fh;
    print $fh $content;
    close $fh;
    return "$dir/$name";
}

# memccp stores a file under its base name
my $blob = join '', map { chr } 0 .. 255;
is(tool('memccp', file("alpha", "first value")), 0, "memccp alpha");
is(tool('memccp', '--flags=42', '--expire=100', file("beta", $blob x 4)), 0,
   "memccp with flags and expiry");
mem_get_is($s, "alpha", "first value", "memccp stored the file's content");
mem_get_is($s, "beta", { value => $blob x 4, flags => 42 }, "memccp stored binary data and flags");
my @md = grep { /^key=beta / } do {
    send_bytes($s, "lru_crawler metadump all\r\n");
    my @l;
    while ((my $l = read_line($s)) ne "END\r\n") { push @l, $l }
    @l;
};
ok(@md && $md[0] =~ / exp=(\d+) / && abs($1 - (time + 100)) <= 3, "memccp --expire set the expiry")
    or diag explain \@md;

isnt(tool('memccp', '--add', file("alpha", "second")), 0, "memccp --add of an existing key fails");
mem_get_is($s, "alpha", "first value", "value unchanged by the failed add");
is(tool('memccp', '--replace', file("alpha", "replaced")), 0, "memccp --replace");
mem_get_is($s, "alpha", "replaced", "value after replace");
isnt(tool('memccp', '--replace', file("gamma", "x")), 0, "memccp --replace of a missing key fails");

# memccat: one key, several keys (a multi-get), flags, misses
my ($st, $out, $err) = tool('memccat', 'alpha');
is($st, 0, "memccat alpha");
is($out, "replaced\n", "memccat prints the value and a newline");
set_ok($s, "gamma", "third");
($st, $out) = tool('memccat', 'alpha', 'gamma');
is($st, 0, "memccat of two keys");
is($out, "replaced\nthird\n", "memccat prints both values in order");
($st, $out) = tool('memccat', '--flags', 'beta');
like($out, qr/42/, "memccat --flags shows the flags");
($st, $out, $err) = tool('memccat', 'nosuchkey');
isnt($st, 0, "memccat of a missing key fails");
($st, $out) = tool('memccat', "--file=$dir/out", 'beta');
is($st, 0, "memccat --file");
open(my $fh, '<', "$dir/out") or die;
binmode $fh;
is(do { local $/; <$fh> }, $blob x 4, "memccat --file wrote the binary value");
close $fh;

# memcexist, memctouch, memcrm
is(tool('memcexist', 'alpha'), 0, "memcexist of a present key");
isnt(tool('memcexist', 'nosuchkey'), 0, "memcexist of a missing key");
is(tool('memctouch', '--expire=-1', 'gamma'), 0, "memctouch gamma into the past");
mem_get_is($s, "gamma", undef, "a key touched into the past is gone");
isnt(tool('memctouch', '--expire=100', 'nosuchkey'), 0, "memctouch of a missing key fails");
is(tool('memcrm', 'alpha'), 0, "memcrm alpha");
mem_get_is($s, "alpha", undef, "memcrm deleted it");
isnt(tool('memcrm', 'alpha'), 0, "memcrm of a missing key fails");

# memcstat
($st, $out) = tool('memcstat');
is($st, 0, "memcstat");
like($out, qr/Server: 127\.0\.0\.1 \(\d+\)/, "memcstat names the server");
like($out, qr/^\s*curr_items: 1$/m, "memcstat shows curr_items");
like($out, qr/^\s*version: \S+/m, "memcstat shows the version");

# memcdump lists keys through stats cachedump (class 0 up to Illegal slab id)
set_ok($s, "small$_", "v$_") for 1 .. 20;
set_ok($s, "large", "L" x 100_000);
($st, $out, $err) = tool('memcdump');
is($st, 0, "memcdump") or diag $err;
my @keys = sort split /\n/, $out;
is_deeply(\@keys, [sort "beta", "large", map { "small$_" } 1 .. 20],
          "memcdump lists every key of every class once");

# memcflush
is(tool('memcflush'), 0, "memcflush");
mem_get_is($s, "beta", undef, "memcflush emptied the cache");
($st, $out) = tool('memcdump');
is($out, "", "memcdump of an empty cache lists nothing");

ok($server->alive, "server survived every tool") unless $server->is_external;
done_testing();
