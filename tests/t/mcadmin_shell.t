#!/usr/bin/perl
# The interactive mcadmin shell, driven through a pseudo-terminal:
# completion, history across runs, `items`/`next`, `watch` stopped by a key
# press, and reconnecting after the server restarts.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest timeout => 90;
use File::Temp qw(tempdir);
use File::Spec;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

plan skip_all => 'mcadmin talks to mcd only' unless mcd_only();
plan skip_all => 'needs its own server (admin socket)' if external();
plan skip_all => 'IO::Pty not installed (Debian: libio-pty-perl)' unless eval { require IO::Pty; 1 };

my $mcadmin = $ENV{MCADMIN_BIN} // File::Spec->catfile(repo_root(), 'mcadmin', 'mcadmin');
plan skip_all => "no mcadmin binary at $mcadmin (make builds it)" unless -x $mcadmin;

my $dir = tempdir('mcadmin-shell-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $hist = "$dir/history";
my $sock = "/tmp/mcadmin-test-$$.sock";
my $srv = new_server('-o', "admin_socket=$sock");
ok(wait_until(sub { -S $sock }), 'admin socket is up') or BAIL_OUT('no admin socket');
my $c = $srv->sock;
set_ok($c, "page:$_", "v") for 1 .. 12;

# --- a shell on a pty ---------------------------------------------------------
package Shell {
    sub new {
        my ($class) = @_;
        my $pty = IO::Pty->new;
        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            $pty->make_slave_controlling_terminal;
            my $tty = $pty->slave;
            close $pty;
            open(STDIN, '<&', $tty) or die;
            open(STDOUT, '>&', $tty) or die;
            open(STDERR, '>&', $tty) or die;
            $ENV{TERM} = 'dumb';
            $ENV{NO_COLOR} = '1';
            $ENV{MCADMIN_HISTORY} = $hist;
            $ENV{INPUTRC} = '/dev/null';
            chdir $dir;
            exec $mcadmin, '-s', $sock or POSIX::_exit(127);
        }
        $pty->close_slave;
        return bless { pty => $pty, pid => $pid, buf => '' }, $class;
    }
    sub send { my ($s, $b) = @_; syswrite($s->{pty}, $b) }
    # Reads until $re matches what arrived since the last expect; returns
    # the text up to and including the match, or undef after $timeout.
    sub expect {
        my ($s, $re, $timeout) = @_;
        my $deadline = Time::HiRes::time() + ($timeout // 5);
        while (1) {
            if ($s->{buf} =~ $re) {
                my $end = $+[0];
                my $got = substr($s->{buf}, 0, $end, '');
                return $got;
            }
            my $left = $deadline - Time::HiRes::time();
            if ($left <= 0) {
                Test::More::diag("expect $re timed out; have: " . ($s->{buf} =~ s/[^\x20-\x7e\n]/./gr));
                return undef;
            }
            my $sel = IO::Select->new($s->{pty});
            next unless $sel->can_read($left);
            my $n = sysread($s->{pty}, my $chunk, 65536);
            return undef unless $n;
            $s->{buf} .= $chunk;
        }
    }
    # Everything the shell printed and nobody expected (for diagnostics).
    sub rest {
        my ($s) = @_;
        my $sel = IO::Select->new($s->{pty});
        while ($sel->can_read(0.2)) {
            my $n = sysread($s->{pty}, my $chunk, 65536);
            last unless $n;
            $s->{buf} .= $chunk;
        }
        return $s->{buf};
    }
    sub finish {
        my ($s) = @_;
        my $deadline = Time::HiRes::time() + 5;
        while (Time::HiRes::time() < $deadline) {
            return $? >> 8 if waitpid($s->{pid}, POSIX::WNOHANG()) == $s->{pid};
            Time::HiRes::sleep(0.02);
        }
        kill 'KILL', $s->{pid};
        waitpid($s->{pid}, 0);
        return -1;
    }
}

my $PROMPT = qr/mcd \S+ pid (\d+) up [^>]*> /;

# --- run 1: prompt, completion, items/next, watch --------------------------------
{
    my $sh = Shell->new;
    my $p = $sh->expect($PROMPT);
    ok($p, 'the prompt names the server');
    like($p // '', qr/pid ${\ $srv->pid }\b/, 'with its pid');

    $sh->send("sl\t");
    ok($sh->expect(qr/slabs/), 'sl<TAB> completes to slabs');
    $sh->send("\r");
    ok($sh->expect(qr/class\s+chunk\s+pages.*$PROMPT/s), 'and the completed command runs');

    $sh->send("items cl\t");
    ok($sh->expect(qr/items class=/), 'items cl<TAB> completes the argument name');
    # One class has pages, so <TAB> fills it in; the listing proves it did
    # (a bare "class=" is a server error).
    $sh->send("\t limit=3\r");
    ok($sh->expect(qr/^page:\d+\s+1\s.*?\d+ items; more.*?$PROMPT/ms),
       'class=<TAB> fills in the slab class from the last slabs');
    $sh->send("items limit=5\r");
    my $out = $sh->expect(qr/more: `next`.*?$PROMPT/s);
    ok($out, 'items limit=5 offers next');
    my @first = ($out // '') =~ /^(page:\d+)\s/mg;
    $sh->send("next\r");
    $out = $sh->expect(qr/\d+ items; (?:more|end)[^\n]*\n.*?$PROMPT/s);
    my @second = ($out // '') =~ /^(page:\d+)\s/mg;
    ok(@first && @second, 'next lists another page');
    my %f = map { $_ => 1 } @first;
    ok(!(grep { $f{$_} } @second), 'next continues where the last page ended');

    $sh->send("items prefix=pa\t");
    ok($sh->expect(qr/prefix=page:/), 'prefix=<TAB> completes a prefix seen in the listing');
    $sh->send("\x15");

    $sh->send("he\t");
    ok($sh->expect(qr/help/), 'he<TAB> completes to help');
    $sh->send(" diff\r");
    ok($sh->expect(qr/diff A B\s+.*?$PROMPT/s), 'help CMD in the shell');

    $sh->send("watch 1\r");
    ok($sh->expect(qr/watching every 1s/), 'watch starts');
    # traffic while watching, so the rates are non-zero
    set_ok($c, "w:$_", "v") for 1 .. 20;
    $out = $sh->expect(qr/gets\/s .* sets\/s (\S+).*?errors\/s/s, 6);
    ok($out, 'watch shows rates after one interval');
    like($out // '', qr/hit ratio/, 'and the hit ratio');
    like($out // '', qr/connections \d+ of \d+/, 'and connections');
    $sh->send("q");
    ok($sh->expect($PROMPT, 5), 'a key press stops watch and gives the prompt back');
    $sh->send("hash\r");
    ok($sh->expect(qr/^buckets\s+\d+/m), 'the shell works after watch');
    $sh->expect($PROMPT);

    $sh->send("quit\r");
    is($sh->finish, 0, 'quit exits 0') or diag($sh->rest);
}

# --- history kept across runs ---------------------------------------------------
{
    my $h = do { local (@ARGV, $/) = $hist; <> } // '';
    like($h, qr/^hash$/m, 'history file has the commands of the first run');
    my $sh = Shell->new;
    ok($sh->expect($PROMPT), 'second run');
    $sh->send("\x10\x10");     # C-p twice: "quit", then "hash"
    ok($sh->expect(qr/hash/), 'C-p recalls the previous run\'s commands');
    $sh->send("\r");
    ok($sh->expect(qr/^buckets\s+\d+.*?$PROMPT/ms), 'and the recalled command runs');

    # --- reconnect after a server restart ----------------------------------
    my $old = $srv->pid;
    $srv->stop;
    ok(wait_until(sub { !-e $sock }), 'server stopped');
    $sh->send("\r");
    ok($sh->expect(qr/lost the connection to \Q$sock\E.*\n.*mcd \(disconnected\)> /),
       'the prompt says the connection dropped');
    $sh->send("stats\r");
    ok($sh->expect(qr/cannot connect/), 'a command while the server is down says it cannot connect');
    ok($sh->expect(qr/disconnected[^>]*> /), 'and the shell stays up');

    $srv = new_server('-o', "admin_socket=$sock");
    ok(wait_until(sub { -S $sock }), 'server started again');
    $sh->send("stats\r");
    my $out = $sh->expect(qr/^cmd_get\s+0\b.*?reconnected to.*?$PROMPT/ms);
    ok($out, 'the next command reconnects and works');
    my ($pid) = ($out // '') =~ /$PROMPT\z/;
    is($pid, $srv->pid, 'the prompt names the new server');
    isnt($pid, $old, 'not the old one');

    $sh->send("exit\r");
    is($sh->finish, 0, 'exit exits 0') or diag($sh->rest);
}

$srv->stop;
done_testing();
