#!/usr/bin/perl
# shutdown command, signals, command-line flags, unix socket.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use POSIX qw(WIFEXITED WEXITSTATUS WIFSIGNALED);
use McdTest;

plan skip_all => "needs its own servers (MCD_ADDR set)" if external();

sub status_text {
    my ($st) = @_;
    return 'still running' unless defined $st;
    return 'timeout' if $st == -1;
    return WIFEXITED($st) ? "exit " . WEXITSTATUS($st) : "signal " . ($st & 127);
}

# --- shutdown without -A ------------------------------------------------------------
{
    my $srv = new_server();
    my $s = $srv->sock;
    err_like(send_recv($s, "shutdown\r\n"), "ERROR: shutdown not enabled", "shutdown refused without -A");
    err_like(send_recv($s, "shutdown graceful\r\n"), "ERROR: shutdown not enabled",
        "shutdown graceful refused without -A");
    like(send_recv($s, "version\r\n"), qr/^VERSION /, "connection still usable");
    ok($srv->alive, "server still running");
    is(mem_stats($s, "settings")->{shutdown_command}, "no", "stats settings: shutdown_command no");

    # SIGTERM: prompt, clean exit
    my $t0 = time;
    my $st = $srv->stop('TERM');
    my $dt = time - $t0;
    ok(!$srv->was_killed, "SIGTERM: server exited without SIGKILL");
    ok(defined $st && WIFEXITED($st) && WEXITSTATUS($st) == 0, "SIGTERM: exit status 0")
        or diag "got " . status_text($st);
    cmp_ok($dt, '<', 3, sprintf("SIGTERM: exited promptly (%.2fs)", $dt));
}

# --- SIGINT also exits cleanly -------------------------------------------------------
{
    my $srv = new_server();
    my $st = $srv->stop('INT');
    ok(!$srv->was_killed && defined $st && WIFEXITED($st) && WEXITSTATUS($st) == 0,
        "SIGINT: exit status 0") or diag "got " . status_text($st);
}

# --- shutdown with -A ----------------------------------------------------------------
{
    my $srv = new_server('-A');
    my $s = $srv->sock;
    is(send_recv($s, "set k 0 0 1\r\nx\r\n"), "STORED\r\n", "-A: server works");
    is(mem_stats($s, "settings")->{shutdown_command}, "yes", "stats settings: shutdown_command yes");
    send_bytes($s, "shutdown\r\n");
    my ($eof, $data) = expect_eof($s, 5);
    ok($eof, "-A: shutdown closes the connection");
    ok($data eq '' || $data =~ /^OK/, "-A: shutdown sends nothing (or OK) before closing")
        or diag "got: $data";
    my $st = $srv->wait_exit(5);
    ok(defined $st, "-A: server process exits after shutdown");
    ok(defined $st && WIFEXITED($st) && WEXITSTATUS($st) == 0, "-A: shutdown exit status 0")
        or diag "got " . status_text($st);
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $srv->port, Proto => 'tcp');
    ok(!$c, "-A: port no longer accepts connections");
}

# --- -h / -V / unknown flag ------------------------------------------------------------
{
    my ($st, $out, $err) = run_bin(['-h']);
    is(status_text($st), "exit 0", "-h exits 0");
    like($out, qr/-p\b/, "-h prints help (mentions -p) on stdout");
    like($out, qr/-m\b/, "-h help mentions -m");
    cmp_ok(scalar(split /\n/, $out), '>', 5, "-h prints several lines");

    ($st, $out, $err) = run_bin(['-V']);
    is(status_text($st), "exit 0", "-V exits 0");
    like($out, qr/\d+\.\d+/, "-V prints a version number on stdout");
    cmp_ok(scalar(split /\n/, $out), '<=', 2, "-V output is short");

    ($st, $out, $err) = run_bin(['--no-such-flag-xyz']);
    ok($st != -1, "unknown flag: process ends by itself");
    ok($st != -1 && WIFEXITED($st) && WEXITSTATUS($st) != 0, "unknown flag: non-zero exit")
        or diag "got " . status_text($st);
    if (mcd_only()) {
        is(status_text($st), "exit 64", "mcd: unknown flag exits with status 64 (EX_USAGE)");
        like($err, qr/\S/, "mcd: unknown flag explained on stderr");
    }
    ($st) = run_bin(['-j']);
    ok($st != -1 && WIFEXITED($st) && WEXITSTATUS($st) != 0, "unknown short flag: non-zero exit")
        or diag "got " . status_text($st);
    is(status_text($st), "exit 64", "mcd: unknown short flag exits 64") if mcd_only();
}

# --- unix socket ---------------------------------------------------------------------
{
    my $path = "/tmp/mcd-test-$$.sock";
    unlink $path;
    my $srv = new_server('-s', $path, '-a', '0600');
    ok(-S $path, "-s: unix socket created at $path");
    my $mode = (stat $path)[2] & 07777;
    is(sprintf("%04o", $mode), "0600", "-a 0600: socket mode");
    my $s = $srv->sock;
    isa_ok($s, 'IO::Socket::UNIX');
    is(send_recv($s, "set u 3 0 4\r\nunix\r\n"), "STORED\r\n", "unix socket: set");
    mem_get_is($s, "u", { value => "unix", flags => 3 }, "unix socket: get");
    my $s2 = $srv->new_sock;
    mem_get_is($s2, "u", "unix", "unix socket: second connection sees the item");
    is($srv->stop, 0, "unix socket server stops cleanly");
    unlink $path;

    my $path2 = "/tmp/mcd-test-$$-b.sock";
    unlink $path2;
    my $srv2 = new_server('-s', $path2, '-a', '0666');
    is(sprintf("%04o", (stat $path2)[2] & 07777), "0666", "-a 0666: socket mode");
    $srv2->stop;
    unlink $path2;
}

done_testing();
