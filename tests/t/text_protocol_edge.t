#!/usr/bin/perl
# Protocol edge cases: unknown commands, framing, pipelining, slow clients,
# over-long lines, garbage.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use McdTest;

my $server = new_server();
my $sock = $server->sock;

sub cmd { send_recv($sock, $_[0]) }

is(cmd("set keep 5 0 4\r\nkeep\r\n"), "STORED\r\n", "reference item");

# --- unknown commands and empty lines ---------------------------------------------
err_like(cmd("bogus\r\n"), "ERROR", "unknown command");
err_like(cmd("bogus with args\r\n"), "ERROR", "unknown command with arguments");
err_like(cmd("\r\n"), "ERROR", "empty line");
err_like(cmd("\n"), "ERROR", "bare newline");
err_like(cmd("SET x 0 0 1\r\n"), "ERROR", "upper-case command");
err_like(cmd("\x00\x01\x02\r\n"), "ERROR", "control bytes as a command");
like(cmd("version\r\n"), qr/^VERSION /, "connection usable after unknown commands");

# --- bare \n line endings -----------------------------------------------------
is(cmd("set lf 0 0 2\nlf\r\n"), "STORED\r\n", "command line ending in bare \\n");
send_bytes($sock, "get lf\n");
my $v = read_value($sock);
is($v && $v->{value}, "lf", "get with bare \\n");
is(cmd("version\n"), cmd("version\r\n"), "version with \\n and \\r\\n answer alike");
err_like(cmd("set lf2 0 0 1\nx\nget lf2\n"), "CLIENT_ERROR bad data chunk",
    "the data block must end in \\r\\n, not \\n");
{   # resync: what follows the bad chunk may be read as commands
    send_bytes($sock, "version\r\n");
    my $l;
    my $n = 0;
    do { $l = read_line($sock); $n++ } until !defined $l || $l =~ /^VERSION / || $n > 5;
    like($l, qr/^VERSION /, "connection resyncs after the bad chunk");
}

# --- pipelining -----------------------------------------------------------------
{
    my $req = '';
    my @want;
    for my $i (1 .. 50) {
        $req .= "set p$i 0 0 " . length("val$i") . "\r\nval$i\r\n";
        push @want, "STORED\r\n";
    }
    for my $i (1 .. 50) {
        $req .= "get p$i\r\n";
        push @want, "VALUE p$i 0 " . length("val$i") . "\r\n", "val$i\r\n", "END\r\n";
    }
    $req .= "incr nope 1\r\ndelete p1\r\nbogus\r\nversion\r\n";
    push @want, "NOT_FOUND\r\n", "DELETED\r\n";
    send_bytes($sock, $req);
    my @got = map { read_line($sock) } 1 .. scalar @want;
    is_deeply(\@got, \@want, "150 pipelined commands in one write answered in order");
    err_like(read_line($sock), "ERROR", "pipelined unknown command");
    like(read_line($sock), qr/^VERSION /, "pipelined version");
}

# --- large values pipelined with the commands after them ---------------------------
# A value bigger than the read buffer is read straight into the item, and the
# bytes after it (the next commands) land in the read buffer in the same read.
{
    my $s = $server->new_sock;
    my ($req, %val) = ('');
    my @sizes = (1, 100, 16383, 16384, 16385, 70000, 300000, 5);
    for my $i (0 .. $#sizes) {
        $val{"big$i"} = join('', map { chr(65 + ($_ * 7 + $i) % 26) } 1 .. 64) x int($sizes[$i] / 64)
            . ('z' x ($sizes[$i] % 64));
        $req .= "set big$i 0 0 $sizes[$i]\r\n$val{\"big$i\"}\r\n";
    }
    $req .= "get big$_\r\n" for 0 .. $#sizes;
    send_bytes($s, $req);
    my $stored = grep { (read_line($s) // '') eq "STORED\r\n" } 0 .. $#sizes;
    is($stored, scalar @sizes, "pipelined sets of values from 1 B to 300 KB all stored");
    my $same = grep { my $v = read_value($s); $v && $v->{value} eq $val{"big$_"} } 0 .. $#sizes;
    is($same, scalar @sizes, "and each reads back byte for byte, in order");
}

# --- one byte at a time -------------------------------------------------------------
{
    my $s = $server->new_sock;
    my $req = "set slow 3 0 5\r\nhello\r\nget slow\r\n";
    for my $c (split //, $req) {
        send_bytes($s, $c);
        sleep 0.002;
    }
    is(read_line($s), "STORED\r\n", "set sent one byte at a time");
    my $val = read_value($s);
    is_deeply($val && [$val->{flags}, $val->{value}], [3, "hello"], "get sent one byte at a time");
    # a value split in odd places, including between \r and \n
    send_bytes($s, "set split 0 0 6\r");
    sleep 0.05;
    send_bytes($s, "\nab\r");
    sleep 0.05;
    send_bytes($s, "\ncd\r");
    sleep 0.05;
    send_bytes($s, "\n");
    is(read_line($s), "STORED\r\n", "command and data split between \\r and \\n");
    mem_get_is($s, "split", "ab\r\ncd");
    close $s;
}

# --- over-long lines -------------------------------------------------------------------
{
    # a get with many keys makes a long but legal line
    my @keys = map { sprintf "longline%05d", $_ } 1 .. 2000;
    my $line = "get " . join(' ', @keys, 'keep') . "\r\n";
    cmp_ok(length $line, '>', 16384, "multi-get line is over 16 KB");
    send_bytes($sock, $line);
    my $r = read_value($sock);
    is($r && $r->{value}, "keep", "long multi-get line is served");

    # a line of garbage without a newline: memcached closes the connection
    # without a reply once it has buffered more than 2 KB; a server may
    # instead answer "CLIENT_ERROR line too long" and close
    my $s = $server->new_sock;
    send_bytes($s, "x" x 16384);
    my ($eof, $data) = expect_eof($s, 5);
    ok($eof, "16 KB without a newline: connection closed");
    ok($data eq '' || $data =~ /\ACLIENT_ERROR line too long( \[E\d+\])?\r\n\z/,
        "and nothing but 'CLIENT_ERROR line too long' sent") or diag "got: $data";
    close $s;

    $s = $server->new_sock;
    send_bytes($s, "set " . ("k" x 8000));
    ($eof, $data) = expect_eof($s, 5);
    ok($eof, "8 KB 'set' line without a newline: connection closed");
    close $s;

    # a long line that does end in a newline is just an unknown command
    err_like(cmd(("y" x 1500) . "\r\n"), "ERROR", "1.5 KB unknown command line: ERROR");
}

# --- garbage does not touch stored data ----------------------------------------------------
{
    my $s = $server->new_sock;
    my $junk = join '', map { chr(($_ * 131 + 17) % 256) } 1 .. 1000;
    $junk =~ s/[\r\n]//g;
    send_bytes($s, "$junk\r\n");
    my $l = read_line($s);
    ok(defined $l && $l =~ /^(?:ERROR|CLIENT_ERROR)/, "binary garbage line answered with an error")
        or diag "got: " . ($l // 'EOF');
    close $s;
}
mem_get_is($sock, "keep", { value => "keep", flags => 5 }, "reference item unchanged after garbage");

# --- an interrupted set stores nothing -------------------------------------------
{
    my $s = $server->new_sock;
    send_bytes($s, "set partial 0 0 10\r\nabc");
    close $s;
    mem_get_is($sock, "partial", undef, "a set cut off by disconnect stores nothing");
}

# --- many connections at once ----------------------------------------------------
{
    my @c = map { $server->new_sock } 1 .. 50;
    my $i = 0;
    send_bytes($_, "set conn" . $i++ . " 0 0 1\r\nc\r\n") for @c;
    my $ok = grep { read_line($_) eq "STORED\r\n" } @c;
    is($ok, 50, "50 simultaneous connections each store an item");
    close $_ for @c;
    mem_get_is($sock, "conn49", "c");
}

# --- mcd appends a stable error code to every error line but the bare ERROR,
# which clients read byte for byte; that one is still counted per site.
if (mcd_only()) {
    my $before = mem_stats($sock, "errors")->{"E1001:ERR_UNKNOWN_COMMAND"};
    is(cmd("bogus\r\n"), "ERROR\r\n", "mcd: an unknown command gets the bare ERROR");
    is(mem_stats($sock, "errors")->{"E1001:ERR_UNKNOWN_COMMAND"}, $before + 1,
       "mcd: the unknown command is counted at its site E1001");
    for my $case (["set x 0 0 -1\r\n", qr/^CLIENT_ERROR .* \[E\d+\]\r\n\z/],
                  ["incr keep 1\r\n", qr/^CLIENT_ERROR .* \[E\d+\]\r\n\z/]) {
        my ($req, $re) = @$case;
        (my $show = $req) =~ s/\r\n//;
        like(cmd($req), $re, "mcd: error for '$show' carries an [E<n>] code");
    }
}

like(cmd("version\r\n"), qr/^VERSION /, "server still answering");
ok($server->is_external || kill(0, $server->pid), "server process still alive");

done_testing();
