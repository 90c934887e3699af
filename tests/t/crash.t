#!/usr/bin/perl
# The crash report: a fatal signal makes mcd write its crash file (signal,
# address, backtrace, version, settings, error counters, each worker's last
# commands) and then die by that signal, as it would have without it.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use POSIX qw(SIGSEGV SIGABRT WIFSIGNALED WTERMSIG);

plan skip_all => 'the crash report is mcd\'s' unless mcd_only() && !external();

for my $case ([SIGSEGV, 'SIGSEGV'], [SIGABRT, 'SIGABRT']) {
    my ($sig, $name) = @$case;
    my $file = "/tmp/mcd-crash-$$-$name";
    unlink $file;
    my $srv = new_server('-t', '2', '-o', "crash_file=$file");
    my $s = $srv->sock;
    set_ok($s, 'crash:key', 'v');
    is(send_recv($s, "bogus\r\n"), "ERROR\r\n", 'an error to count');
    $srv->ignore_tsan_races;
    kill $sig, $srv->pid;
    my $st = $srv->wait_exit(10);
    ok(defined $st, "$name: the server died");
    ok(defined $st && WIFSIGNALED($st) && WTERMSIG($st) == $sig, "$name: by the same signal");
    ok(-s $file, "$name: the crash file was written");
    my $txt = do { local (@ARGV, $/) = $file; <> } // '';
    like($txt, qr/^signal: \d+ \Q$name\E$/m, "$name: names the signal");
    like($txt, qr/^address: 0x[0-9a-f]+$/m, "$name: the fault address");
    like($txt, qr/^version: mcd \S+$/m, "$name: the version");
    like($txt, qr/^backtrace:\n.+\n/m, "$name: a backtrace");
    like($txt, qr/^worker \d+:\n(  .*\n)*  set crash:key$/m, "$name: the worker's last commands");
    like($txt, qr/^  E1001 ERR_UNKNOWN_COMMAND 1$/m, "$name: the error counters");
    like($txt, qr/^  crash_file \Q$file\E$/m, "$name: the settings");
    is((stat $file)[2] & 0777, 0600, "$name: the file is private (0600)");
    like($srv->stderr_text, qr/crash report written to \Q$file\E/, "$name: says where on stderr");
    # after a restart, mcadmin report attaches the crash file
    my $admin = "/tmp/mcd-crash-$$-$name.admin";
    my $again = new_server('-o', "crash_file=$file,admin_socket=$admin");
    my $mcadmin = $ENV{MCADMIN_BIN} || repo_root() . '/mcadmin/mcadmin';
    my $bundle = "/tmp/mcd-crash-$$-$name.report.json";
    SKIP: {
        skip 'mcadmin not built', 2 unless -x $mcadmin;
        system($mcadmin, '-s', $admin, 'report', '--samples', '1', '-o', $bundle) == 0
            or diag "mcadmin report failed";
        my $rep = do { local (@ARGV, $/) = $bundle; <> } // '';
        like($rep, qr/"crash_report"/, "$name: mcadmin report attaches the crash file");
        like($rep, qr/\Q$name\E/, "$name: with its contents");
    }
    $again->stop;
    unlink $file, $bundle;
}
done_testing();
