#!/usr/bin/perl
# The meta commands (mg, ms, md, ma, mn, me): every flag, the
# stale-while-revalidate flow, quiet pipelines, base64 keys, meta and classic
# commands on one connection, and malformed flags that leave the connection
# usable. Runs against memcached too (MCD_BIN=/usr/bin/memcached); what only
# mcd answers (error codes, E, me's refs= and slab=) is guarded by $mcd.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 60;

my $bin = server_bin();
my $mcd = $bin !~ /memcached/;
my $srv = new_server();
my $port = $srv->port;
my $s;
for (1 .. 500) {
    $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") and last;
    select undef, undef, undef, 0.02;
}
ok($s, "server accepts connections") or BAIL_OUT("no server");

sub send_raw { print $s @_ }
sub line { my $l = <$s>; return defined $l ? $l : '' }
# Send a request, then check one reply line per expectation (string or qr//).
sub req {
    my ($send, $name, @want) = @_;
    send_raw($send);
    my $i = 0;
    for my $w (@want) {
        my $got = line();
        my $n = @want > 1 ? "$name (line " . ++$i . ")" : $name;
        ref $w ? like($got, $w, $n) : is($got, $w, $n);
    }
}
# An error line: memcached's words, and under mcd the code as well.
sub err_re {
    my ($words, $code) = @_;
    return $mcd ? qr/^\Q$words\E(?::[^\r\n]*)? \[E$code\]\r\n\z/ : qr/^\Q$words\E\r\n\z/;
}
sub alive { req("mn\r\n", "connection still usable after: $_[0]", "MN\r\n") }
sub stats {
    send_raw("stats\r\n");
    my %st;
    while ((my $l = line()) ne "END\r\n") {
        last if $l eq '';
        $st{$1} = $2 if $l =~ /^STAT (\S+) (\S+)/;
    }
    return \%st;
}

# --- mn, ms, mg and its return flags ----------------------------------------
req("mn\r\n", "mn", "MN\r\n");
req("mn extra tokens\r\n", "mn ignores the rest of its line", "MN\r\n");
req("ms foo 3 T0 F5\r\nabc\r\n", "ms stores", "HD\r\n");
req("mg foo\r\n", "mg hit without flags", "HD\r\n");
req("mg foo v\r\n", "mg v", "VA 3\r\n", "abc\r\n");
req("mg foo s v f t k Oop1 q\r\n", "mg return flags in request order",
    "VA 3 s3 f5 t-1 kfoo Oop1\r\n", "abc\r\n");
send_raw("mg foo c\r\n");
my ($cas) = line() =~ /^HD c(\d+)\r\n/;
ok($cas, "mg c returns a CAS");
req("mg miss\r\n", "mg miss", "EN\r\n");
req("mg miss k Oxy\r\n", "mg miss echoes k and O", "EN kmiss Oxy\r\n");

# h and l: hit-before and last access, as they were before this fetch
req("ms hl 1\r\n1\r\n", "ms hl", "HD\r\n");
req("mg hl h l\r\n", "first fetch: not hit before", qr/^HD h0 l\d+\r\n\z/);
req("mg hl h\r\n", "second fetch: hit before", "HD h1\r\n");
req("ms nb 1\r\n1\r\n", "ms nb", "HD\r\n");
req("mg nb u h\r\n", "u fetches without noting it", "HD h0\r\n");
req("mg nb h\r\n", "so the next fetch is the first", "HD h0\r\n");

# T: update the TTL while fetching
req("ms ttl 1 T100\r\n1\r\n", "ms T", "HD\r\n");
req("mg ttl t\r\n", "t shows the remaining TTL", qr/^HD t(100|99)\r\n\z/);
req("mg ttl T500 t\r\n", "T updates it", qr/^HD t(500|499)\r\n\z/);
req("mg ttl T0 t\r\n", "T0 makes it immortal", "HD t-1\r\n");

# --- quiet mode ----------------------------------------------------------------
req("mg miss1 v q\r\nmg miss2 q k\r\nmn\r\n", "mg q hides EN", "MN\r\n");
req("ms q1 1 q\r\n1\r\nms q2 2 q\r\n22\r\nmd q1 q\r\nmd nothere q\r\nma q2 q\r\nmg q2 v q\r\nmn\r\n",
    "quiet pipeline: only failures, hits and MN are answered",
    "NF\r\n", "VA 2\r\n", "23\r\n", "MN\r\n");
req("ms q1 1 q ME\r\n1\r\nms q1 1 q ME\r\n1\r\nmn\r\n", "ms q still answers NS", "NS\r\n", "MN\r\n");

# --- ms modes and CAS ---------------------------------------------------------
req("ms mode 1 ME\r\na\r\n", "add to a missing key", "HD\r\n");
req("ms mode 1 ME\r\nb\r\n", "add to an existing key", "NS\r\n");
req("ms mode 1 MA\r\nc\r\n", "append", "HD\r\n");
req("ms mode 1 MP\r\nz\r\n", "prepend", "HD\r\n");
req("ms mode 1 MS\r\nd\r\nmg mode v\r\n", "set mode", "HD\r\n", "VA 1\r\n", "d\r\n");
req("ms mode 2 MA\r\nef\r\nmg mode v\r\n", "append then read", "HD\r\n", "VA 3\r\n", "def\r\n");
req("ms nomode 1 MR\r\nx\r\n", "replace of a missing key", "NS\r\n");
req("ms nomode 1 MA\r\nx\r\n", "append to a missing key", "NS\r\n");
req("ms mode 1 MR\r\nr\r\nmg mode v\r\n", "replace", "HD\r\n", "VA 1\r\n", "r\r\n");
req("ms mode 1 MX\r\nx\r\n", "unknown ms mode", err_re("CLIENT_ERROR invalid mode for ms M token", 4007));
req("ms mode 1 MSS\r\nx\r\n", "long M token", err_re("CLIENT_ERROR incorrect length for M token", 4006));
alive("bad ms modes (value swallowed)");

send_raw("ms cas 1 c\r\n1\r\n");
my ($c1) = line() =~ /^HD c(\d+)\r\n/;
ok($c1, "ms c returns the new CAS");
req("ms cas 1 C" . ($c1 + 1000) . " c k\r\n2\r\n", "ms with a wrong CAS", "EX c0 kcas\r\n");
req("ms cas 1 C$c1 Ox\r\n3\r\n", "ms with the right CAS", "HD Ox\r\n");
req("ms nocas 1 C$c1 k\r\n3\r\n", "ms C on a missing key", "NF knocas\r\n");
req("mg cas v\r\n", "the CAS store took", "VA 1\r\n", "3\r\n");

# --- md ---------------------------------------------------------------------------
req("md gone\r\n", "md miss", "NF\r\n");
req("md gone q\r\n", "md q still answers NF", "NF\r\n");
req("ms del 1\r\n1\r\nmd del k O7\r\nmg del\r\n", "md hit", "HD\r\n", "HD kdel O7\r\n", "EN\r\n");
send_raw("ms del 1 c\r\n1\r\n");
my ($dc) = line() =~ /^HD c(\d+)/;
req("md del C" . ($dc + 5) . "\r\n", "md with a wrong CAS", "EX\r\n");
req("md del C$dc q\r\nmg del\r\n", "md with the right CAS, quietly", "EN\r\n");

# --- stale-while-revalidate ---------------------------------------------------
req("ms swr 5 T100\r\nfresh\r\n", "ms swr", "HD\r\n");
req("md swr I T30\r\n", "md I invalidates instead of deleting", "HD\r\n");
send_raw("mg swr v c t\r\n");
my $l1 = line();
like($l1, qr/^VA 5 c\d+ t(30|29) X W\r\n\z/, "first mg after md I: stale (X) and wins (W)");
is(line(), "fresh\r\n", "the stale value is still served");
my ($scas) = $l1 =~ / c(\d+)/;
req("mg swr v\r\n", "second mg: stale and already won (Z)", "VA 5 Z X\r\n", "fresh\r\n");
req("mg swr\r\n", "third mg: still Z X", "HD Z X\r\n");
# A writer holding an older CAS stores with I, but the value stays stale.
req("ms swr 4 I C" . ($scas - 1) . "\r\nlate\r\n", "ms I with an older CAS stores", "HD\r\n");
req("mg swr v\r\n", "that value is still stale and won", "VA 4 Z X\r\n", "late\r\n");
send_raw("mg swr c\r\n");
my ($ncas) = line() =~ / c(\d+)/;
req("ms swr 7 I C" . ($ncas + 100) . "\r\nnewer!!\r\n", "ms I with a newer CAS than the item's", "EX\r\n");
req("ms swr 5 C$ncas\r\nfixed\r\n", "the winner stores with the right CAS", "HD\r\n");
req("mg swr v\r\n", "the recached value is clean", "VA 5\r\n", "fixed\r\n");

# N: vivify on miss, and the first fetcher wins
req("mg viv N30 v t s\r\n", "mg N on a miss creates an empty item and wins",
    qr/^VA 0 t(30|29) s0 W\r\n\z/, "\r\n");
req("mg viv N30 v\r\n", "the next fetcher sees Z", "VA 0 Z\r\n", "\r\n");
req("ms viv 4\r\nfull\r\nmg viv v N30\r\n", "the winner's set clears the marks", "HD\r\n", "VA 4\r\n", "full\r\n");
# R: win when the TTL left is below the token
req("ms rc 1 T10\r\nr\r\n", "ms rc", "HD\r\n");
req("mg rc R5 t\r\n", "R below the TTL left: no win", qr/^HD t(10|9)\r\n\z/);
req("mg rc R30 t\r\n", "R above the TTL left: win", qr/^HD t(10|9) W\r\n\z/);
req("mg rc R30\r\n", "then Z", "HD Z\r\n");

# --- ma ---------------------------------------------------------------------------
req("ma cnt\r\n", "ma miss", "NF\r\n");
req("ma cnt q k\r\n", "ma q still answers NF", "NF kcnt\r\n");
req("ma cnt N0 J10 v\r\n", "ma N vivifies with J", "VA 2\r\n", "10\r\n");
req("ma cnt v\r\n", "ma incr by 1", "VA 2\r\n", "11\r\n");
req("ma cnt D9 v\r\n", "ma D", "VA 2\r\n", "20\r\n");
req("ma cnt MD D5 v\r\n", "ma MD", "VA 2\r\n", "15\r\n");
req("ma cnt M- D100 v\r\n", "decr stops at 0", "VA 1\r\n", "0\r\n");
req("ma cnt M+ v\r\n", "M+", "VA 1\r\n", "1\r\n");
req("ma cnt MI\r\n", "MI without v", "HD\r\n");
# (not mg: memcached pads a decremented value with spaces in place)
req("ma cnt q\r\nma cnt v\r\n", "ma q hides HD", "VA 1\r\n", "4\r\n");
send_raw("ma cnt c t\r\n");
my ($acas) = line() =~ /^HD c(\d+) t-1\r\n\z/;
ok($acas, "ma c t");
req("ma cnt C" . ($acas + 9) . " k O1\r\n", "ma with a wrong CAS", "EX kcnt O1\r\n");
req("ma cnt C$acas v\r\n", "ma with the right CAS", "VA 1\r\n", "6\r\n");
req("ma cnt T100 t\r\n", "ma T", qr/^HD t(100|99)\r\n\z/);
req("ms word 3\r\nabc\r\nma word\r\n", "ma on a non-number", "HD\r\n",
    err_re("CLIENT_ERROR cannot increment or decrement non-numeric value", 4030));
req("ma cnt MX\r\n", "ma bad mode", err_re("CLIENT_ERROR invalid mode for ma M token", 4008));

# --- base64 keys --------------------------------------------------------------
# "a key" has a space: only base64 can carry it.
req("ms YSBrZXk= 2 b k\r\nhi\r\n", "ms b", "HD kYSBrZXk= b\r\n");
req("mg YSBrZXk= b k v\r\n", "mg b", "VA 2 kYSBrZXk= b\r\n", "hi\r\n");
req("ms YWJj 3 b\r\nxyz\r\nget abc\r\n", "a base64 key is the decoded key",
    "HD\r\n", "VALUE abc 0 3\r\n", "xyz\r\n", "END\r\n");
req("mg abc k\r\n", "k answers in base64 for an item stored with b", "HD kYWJj b\r\n");
req("md YWJj b q\r\nmg YWJj b\r\n", "md b", "EN\r\n");
req("mg YW@@ b\r\n", "bad base64", err_re("CLIENT_ERROR error decoding key", 4004));
req("ms YQ 1 b\r\nx\r\n", "unpadded base64 is refused", err_re("CLIENT_ERROR error decoding key", 4004));
alive("bad base64");

# --- meta and classic commands on one connection ------------------------------
req("set mix 3 0 2\r\nab\r\nmg mix v f\r\n", "set then mg", "STORED\r\n", "VA 2 f3\r\n", "ab\r\n");
req("ms mix 2 F9\r\ncd\r\ngets mix\r\n", "ms then gets", "HD\r\n", qr/^VALUE mix 9 2 \d+\r\n\z/, "cd\r\n", "END\r\n");
req("ms n 1\r\n7\r\nincr n 3\r\nma n v\r\n", "incr and ma", "HD\r\n", "10\r\n", "VA 2\r\n", "11\r\n");
req("delete n\r\nma n\r\n", "delete then ma", "DELETED\r\n", "NF\r\n");

# --- me --------------------------------------------------------------------------
req("ms dbg 3\r\nabc\r\n", "ms dbg", "HD\r\n");
send_raw("me dbg\r\n");
my $me = line();
like($me, qr/^ME dbg exp=-1 la=\d+ cas=\d+ fetch=no cls=\d+ size=\d+/, "me line");
like($me, qr/ refs=1 slab=\d+\r\n\z/, "me shows refs and slab (mcd)") if $mcd;
req("me nothere\r\n", "me miss", "EN\r\n");

# --- malformed flags ----------------------------------------------------------------
req("mg foo !\r\n", "unknown flag", err_re("CLIENT_ERROR invalid flag", 4001));
req("mg foo v v\r\n", "duplicate flag", err_re("CLIENT_ERROR duplicate flag", 4002));
req("mg foo Tx\r\n", "bad T token", err_re("CLIENT_ERROR bad token in command line format", 4003));
req("mg foo N\r\n", "empty N token", err_re("CLIENT_ERROR bad token in command line format", 4003));
req("ms foo 1 Cx\r\n1\r\n", "bad C token swallows the value",
    err_re("CLIENT_ERROR bad token in command line format", 4003));
req("ms foo 1 Fx\r\n1\r\n", "bad F token", err_re("CLIENT_ERROR bad command line format", 4005));
req("md foo !\r\n", "md unknown flag", err_re("CLIENT_ERROR invalid or duplicate flag", 4012));
req("ma foo Dx\r\n", "ma bad delta", err_re("CLIENT_ERROR invalid or duplicate flag", 4014));
req("mg foo O" . ("x" x 40) . "\r\n", "opaque too long", err_re("CLIENT_ERROR opaque token too long", 4009));
req("mg foo " . join(' ', 'a' .. 's') . "\r\n", "too many flags",
    err_re("CLIENT_ERROR options flags are too long", 4010));
req("mg " . ("k" x 251) . " v\r\n", "key too long", err_re("CLIENT_ERROR bad command line format", 4020));
req("ms foo abc\r\n", "ms bad length", err_re("CLIENT_ERROR bad command line format", 4024));
req("ms foo 1\r\n12\r\n", "ms bad data chunk", err_re("CLIENT_ERROR bad data chunk", 4025));
like(line(), qr/^ERROR/, "the stray newline after a bad chunk is its own command");
req("mg\r\n", "mg without a key", qr/^ERROR/);
req("me\r\n", "me without a key", err_re("CLIENT_ERROR bad command line format", 4023));
req("mz foo\r\n", "an unknown m command", qr/^ERROR/);
alive("malformed flags");
req("mg foo v\r\n", "the value survived the errors", "VA 3\r\n", "abc\r\n");

# --- E: explicit CAS (mcd; memcached 1.6.18 answers 'invalid flag') ----------
if ($mcd) {
    req("ms ecas 1 E777 c\r\n1\r\n", "ms E sets the CAS", "HD c777\r\n");
    req("mg ecas c\r\n", "mg sees it", "HD c777\r\n");
    req("md ecas I E888\r\nmg ecas c\r\n", "md I E", "HD\r\n", "HD c888 X W\r\n");
    req("ms ecas 1 C888 E999 c\r\n2\r\n", "ms C E", "HD c999\r\n");
    req("ma ecas E1000 c v\r\n", "ma E", "VA 1 c1000\r\n", "3\r\n");
    req("flush_all\r\nms ecas2 1 E5\r\n1\r\n", "E below the flush horizon is refused",
        "OK\r\n", err_re("CLIENT_ERROR bad token in command line format", 4034));
}

# --- stats count like the text protocol ---------------------------------------
my $b = stats();
req("ms st 1\r\n1\r\nmg st\r\nmg st v\r\nmg nost\r\nmd st\r\nmd st\r\n", "stats traffic",
    "HD\r\n", "HD\r\n", "VA 1\r\n", "1\r\n", "EN\r\n", "HD\r\n", "NF\r\n");
my $a = stats();
is($a->{cmd_get} - $b->{cmd_get}, 3, "mg counts cmd_get");
is($a->{get_hits} - $b->{get_hits}, 2, "mg counts get_hits");
is($a->{get_misses} - $b->{get_misses}, 1, "mg counts get_misses");
is($a->{delete_hits} - $b->{delete_hits}, 1, "md counts delete_hits");
is($a->{delete_misses} - $b->{delete_misses}, 1, "md counts delete_misses");
ok($a->{cmd_set} - $b->{cmd_set} >= 1, "ms counts cmd_set");
req("me st\r\nmg st\r\n", "me then mg", "EN\r\n", "EN\r\n");
is(stats()->{cmd_meta} - $a->{cmd_meta}, 1, "cmd_meta counts me only, as memcached 1.6");
ok(defined $a->{time_in_listen_disabled_us}, "time_in_listen_disabled_us under memcached's name");

# As memcached 1.6.18 (each also checked against it by differential.t):
# flags act in request order, so t before T reports the old TTL
req("ms ord 1\r\nx\r\nmg ord t T100\r\nmg ord T200 t\r\n", "t reports the TTL at its place",
    "HD\r\n", "HD t-1\r\n", qr/^HD t(?:199|200)\r\n\z/);
# a vivify miss takes N's TTL, then T's only if T came after N
req("mg viv1 t T0 N100\r\nmg viv1 t\r\nmg viv2 N100 T0 t\r\nmg viv2 t\r\n", "T and N in order",
    "HD t-1 W\r\n", qr/^HD t(?:99|100) Z\r\n\z/, "HD t-1 W\r\n", "HD t-1 Z\r\n");
# a vivified item counts as fetched; an incr, ma or refused add does not
req("mg viv3 N100\r\nmg viv3 h\r\n", "vivify is a fetch", "HD W\r\n", "HD h1 Z\r\n");
req("ms hx 1\r\n5\r\nma hx\r\nincr hx 1\r\nms hx 1 ME\r\n9\r\nmg hx h v\r\n",
    "arithmetic and a refused add are no fetch",
    "HD\r\n", "HD\r\n", "7\r\n", "NS\r\n", "VA 1 h0\r\n", "7\r\n");
# ma C0 compares nothing; ms I C0 is refused
req("ms c0 2\r\n10\r\nma c0 C0 v\r\nms c0 1 I C0\r\nz\r\nmg c0 v\r\n", "C0",
    "HD\r\n", "VA 2\r\n", "11\r\n", "EX\r\n", "VA 2\r\n", "11\r\n");
# an empty value is non-numeric before any CAS is compared
req("ms e0 0\r\n\r\nma e0 C1\r\n", "empty value before CAS",
    "HD\r\n", err_re("CLIENT_ERROR cannot increment or decrement non-numeric value", 4030));
# a meta command without a key: a bare ERROR
req("mg\r\n", "mg without a key", "ERROR\r\n");
alive("the ordering cases");

close $s;
my $st = $srv->stop;
ok(!$srv->was_killed, "server exits on SIGTERM");
is(($st // 0) >> 8, 0, "exit status 0") unless $srv->was_killed;
done_testing();
