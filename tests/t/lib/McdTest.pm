package McdTest;

# Helper module for mcd's integration tests.
#
# Every test starts its own server(s) through new_server(); servers are
# stopped by pid when their object goes away and again at END.  All socket
# reads go through read_line()/read_bytes(), which time out (5 s by default)
# and die instead of hanging.  An alarm (120 s by default) guards the whole
# test file.
#
# Environment:
#   MCD_BIN=/path/to/binary     server under test (default <repo>/mcd/mcd)
#   MCD_ADDR=host:port          use an already running server; new_server()
#                               then starts nothing (tests needing special
#                               server flags skip themselves, see external())
#   MCD_TEST_TIMEOUT=seconds    whole-file alarm (default 120, or what the
#                               test asks for); when set it is also a floor
#                               under a test's own `timeout => N`
#   MCD_IO_TIMEOUT=seconds      per-read timeout (default 5 x MCD_TEST_SLOW)
#   MCD_TEST_SLOW=factor        how much slower than a plain build the
#                               server runs: scales the per-read timeout,
#                               wait_until(), the start and stop waits and
#                               the file alarm (default 10 when MCD_BIN
#                               names a *-valgrind wrapper, else 1); tests
#                               that push volume scale it down themselves
# UDP: new_server('-U', 'free', ...) picks a free UDP port on each start
# attempt (as the TCP port is picked); $server->udp_port tells which.
#
#   MCD_ENGINE=name|/path.so    storage engine: new_server() adds
#                               -o engine=... unless the test picks one;
#                               engine() tells tests which (default slab)

use strict;
use warnings;

use Exporter ();
use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname basename);
use File::Spec;
use File::Temp ();
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Scalar::Util qw(refaddr);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);
use Test::More ();

our @EXPORT = qw(
    new_server mem_get_is mem_gets mem_stats send_recv send_bytes read_line
    read_bytes read_value err_like wait_until mcd_only is_memcached
    external server_bin repo_root run_bin expect_eof set_ok engine
    instrumented under_valgrind
);
our @EXPORT_OK = qw(free_port free_udp_port set_timeout slow);

# How much slower than a plain build the server under test runs.
our $SLOW = $ENV{MCD_TEST_SLOW} || (instrumented() eq 'valgrind' ? 10 : 1);
our $IO_TIMEOUT = $ENV{MCD_IO_TIMEOUT} // 5 * $SLOW;
my $FILE_TIMEOUT = 120 * $SLOW;

our %SERVERS;   # pid => server object (weak refs)
my $OWNER = $$; # only the process that loaded us stops servers

sub import {
    my ($class, @args) = @_;
    my @rest;
    while (@args) {
        my $a = shift @args;
        if ($a eq 'timeout') { $FILE_TIMEOUT = $SLOW * shift @args; next }
        push @rest, $a;
    }
    $FILE_TIMEOUT = $ENV{MCD_TEST_TIMEOUT}
        if $ENV{MCD_TEST_TIMEOUT} && $ENV{MCD_TEST_TIMEOUT} > $FILE_TIMEOUT;
    set_timeout($FILE_TIMEOUT);
    local $Exporter::ExportLevel = 1;
    Exporter::import($class, @rest);
}

# (Re)arm the whole-file alarm.  A timeout fails the test and exits, which
# runs END and so stops every server we started.
sub set_timeout {
    my ($secs) = @_;
    $FILE_TIMEOUT = $secs;
    $SIG{ALRM} = sub {
        my $tb = Test::More->builder;
        $tb->ok(0, "test file did not finish within $FILE_TIMEOUT s (alarm)");
        $tb->diag("timed out; stopping servers");
        exit 1;
    };
    alarm $secs;
}

# ---------------------------------------------------------------------------
# locating the binary

sub repo_root {
    my $here = dirname(abs_path(__FILE__));           # <repo>/tests/t/lib
    return abs_path(File::Spec->catdir($here, '..', '..', '..'));
}

sub server_bin {
    return $ENV{MCD_BIN} // File::Spec->catfile(repo_root(), 'mcd', 'mcd');
}

sub is_memcached {
    return basename(server_bin()) =~ /memcached/ ? 1 : 0;
}

# true when the server under test is mcd (guards mcd-specific assertions)
sub mcd_only { return !is_memcached() }

# The storage engine the servers run ("slab", "heap" or a .so path).
sub engine { return $ENV{MCD_ENGINE} && length $ENV{MCD_ENGINE} ? $ENV{MCD_ENGINE} : 'slab' }

# What the server binary runs under, from MCD_BIN's name (the Makefile's
# sanitizer builds end in -asan/-tsan, make valgrind's wrapper in
# -valgrind): 'asan', 'tsan', 'valgrind', or '' for a plain build.
sub instrumented {
    my $b = basename($ENV{MCD_BIN} // '');
    return $b =~ /-(asan|tsan|valgrind)\z/ ? $1 : '';
}
sub under_valgrind { return instrumented() eq 'valgrind' ? 1 : 0 }

# The slowness factor (MCD_TEST_SLOW above).
sub slow { return $SLOW }

# true when tests are aimed at an already running server
sub external { return defined $ENV{MCD_ADDR} && length $ENV{MCD_ADDR} }

# ---------------------------------------------------------------------------
# starting servers

sub free_port {
    my $s = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        Listen => 1, ReuseAddr => 1,
    ) or die "cannot bind a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# A UDP port nothing is bound to on 127.0.0.1 right now.
sub free_udp_port {
    my $s = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'udp',
    ) or die "cannot bind a free udp port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub new_server {
    my (@args) = @_;

    if (external()) {
        my ($host, $port) = split /:/, $ENV{MCD_ADDR}, 2;
        croak "MCD_ADDR must be host:port" unless $host && $port;
        my $self = bless {
            host => $host, port => $port, pid => undef, external => 1,
            args => [@args],
        }, 'McdTest::Server';
        # tests expect an empty cache: clear whatever earlier tests left
        my $s = $self->new_sock;
        my $r = send_recv($s, "flush_all\r\n");
        die "flush_all on $ENV{MCD_ADDR} failed: " . ($r // 'EOF') unless ($r // '') =~ /^OK/;
        close $s;
        return $self;
    }

    my $bin = server_bin();
    croak "server binary $bin is not executable (build it with make, or set MCD_BIN)"
        unless -x $bin;

    if (engine() ne 'slab' && !is_memcached() && !grep { /^engine=|,engine=/ } @args) {
        push @args, '-o', 'engine=' . engine();
    }

    my $unix_path;
    for my $i (0 .. $#args - 1) {
        $unix_path = $args[$i + 1] if $args[$i] eq '-s';
    }

    my $last_err = '';
    for my $try (1 .. 3) {
        my $port = free_port();
        my $udp_port;
        my @targs = @args;
        for my $i (0 .. $#targs - 1) {
            next unless $targs[$i] eq '-U' && $targs[$i + 1] eq 'free';
            $udp_port = free_udp_port();
            $targs[$i + 1] = $udp_port;
        }
        my @cmd = ($bin, '-p', $port, '-U', '0', '-l', '127.0.0.1', @targs);
        if (is_memcached() && $> == 0 && !grep { $_ eq '-u' } @args) {
            push @cmd, '-u', 'nobody';
        }
        my $errfile = File::Temp->new(TEMPLATE => 'mcd-stderr-XXXXXX',
                                      TMPDIR => 1, UNLINK => 1);
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            open(STDIN, '<', '/dev/null');
            open(STDOUT, '>>', $errfile->filename);
            open(STDERR, '>>', $errfile->filename);
            exec { $cmd[0] } @cmd or POSIX::_exit(127);
            POSIX::_exit(127);
        }
        my $self = bless {
            host => '127.0.0.1', port => $port, pid => $pid, cmd => \@cmd,
            udp_port => $udp_port,
            errfile => $errfile, unix_path => $unix_path, owner => $$,
        }, 'McdTest::Server';
        $SERVERS{$pid} = $self;
        Scalar::Util::weaken($SERVERS{$pid});

        my $deadline = time + 10 * $SLOW;
        my $up = 0;
        while (time < $deadline) {
            my $r = waitpid($pid, WNOHANG);
            if ($r == $pid) {
                $self->{exit_status} = $?;
                $self->{pid} = undef;
                delete $SERVERS{$pid};
                last;
            }
            my $s = $unix_path
                ? IO::Socket::UNIX->new(Peer => $unix_path, Type => SOCK_STREAM)
                : IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                        Proto => 'tcp', Timeout => 1);
            if ($s) { close $s; $up = 1; last }
            sleep 0.02;
        }
        return $self if $up;
        $last_err = $self->stderr_text;
        $self->stop if $self->{pid};
        my $st = defined $self->{exit_status} ? " (exit status $self->{exit_status})" : '';
        Test::More::diag("server start attempt $try failed$st: @cmd\n$last_err");
    }
    die "could not start server " . server_bin() . " @args\n$last_err";
}

# Run the binary to completion (for -h, -V, bad flags). Returns
# (wait status, stdout, stderr); kills it after $timeout seconds.
sub run_bin {
    my ($args, %o) = @_;
    my $timeout = $o{timeout} // 10;
    my $bin = $o{bin} // server_bin();
    my $out = File::Temp->new(TMPDIR => 1);
    my $err = File::Temp->new(TMPDIR => 1);
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', $out->filename);
        open(STDERR, '>', $err->filename);
        exec { $bin } $bin, @$args or POSIX::_exit(127);
        POSIX::_exit(127);
    }
    my $deadline = time + $timeout;
    my $status;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) { $status = $?; last }
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $status = -1;
            last;
        }
        sleep 0.02;
    }
    return ($status, _slurp($out->filename), _slurp($err->filename));
}

sub _slurp {
    my ($f) = @_;
    open(my $fh, '<', $f) or return '';
    local $/;
    my $d = <$fh>;
    return $d // '';
}

END {
    my $code = $?;
    if ($$ == $OWNER) {
        for my $pid (keys %SERVERS) {
            my $s = $SERVERS{$pid};
            $s->stop if $s;
        }
    }
    $code = 1 if $McdTest::SANITIZER_FAILED && $$ == $OWNER && !$code;
    $? = $code;
}

# ---------------------------------------------------------------------------
# socket I/O with timeouts; a private read buffer lives in the glob hash

sub _buf { my ($sock) = @_; return \${*$sock}{mcdtest_buf} }

sub _fill {
    my ($sock, $timeout) = @_;
    my $sel = IO::Select->new($sock);
    my @r = $sel->can_read($timeout);
    die "timeout after ${timeout}s waiting for server data\n" unless @r;
    my $b = _buf($sock);
    $$b //= '';
    my $n = sysread($sock, $$b, 65536, length $$b);
    die "read error: $!\n" unless defined $n;
    return $n;    # 0 on EOF
}

# One line including its terminator ("\r\n" or "\n"); dies on timeout.
# Returns undef on EOF with nothing buffered.
sub read_line {
    my ($sock, $timeout) = @_;
    $timeout //= $IO_TIMEOUT;
    my $b = _buf($sock);
    $$b //= '';
    my $deadline = time + $timeout;
    while (1) {
        my $i = index($$b, "\n");
        if ($i >= 0) {
            return substr($$b, 0, $i + 1, '');
        }
        my $left = $deadline - time;
        die "timeout after ${timeout}s waiting for a line (have: "
            . _show($$b) . ")\n" if $left <= 0;
        my $n = _fill($sock, $left);
        if ($n == 0) {
            return undef unless length $$b;
            return substr($$b, 0, length($$b), '');
        }
    }
}

# Exactly $n bytes (dies on timeout or EOF).
sub read_bytes {
    my ($sock, $n, $timeout) = @_;
    $timeout //= $IO_TIMEOUT;
    my $b = _buf($sock);
    $$b //= '';
    my $deadline = time + $timeout;
    while (length $$b < $n) {
        my $left = $deadline - time;
        die "timeout after ${timeout}s reading $n bytes (have " . length($$b) . ")\n"
            if $left <= 0;
        my $got = _fill($sock, $left);
        die "EOF while reading $n bytes (have " . length($$b) . ")\n" unless $got;
    }
    return substr($$b, 0, $n, '');
}

# True if the peer closes the connection (EOF or reset) within $timeout,
# discarding anything it sends first. Returns the discarded data via
# wantarray as the second value.
sub expect_eof {
    my ($sock, $timeout) = @_;
    $timeout //= $IO_TIMEOUT;
    my $b = _buf($sock);
    $$b //= '';
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        return wantarray ? (0, $$b) : 0 if $left <= 0;
        my $sel = IO::Select->new($sock);
        next unless $sel->can_read($left);
        my $n = sysread($sock, $$b, 65536, length $$b);
        return wantarray ? (1, $$b) : 1 if !defined $n || $n == 0;
    }
}

sub send_bytes {
    my ($sock, $bytes) = @_;
    my $off = 0;
    my $sel = IO::Select->new($sock);
    while ($off < length $bytes) {
        die "timeout writing to server\n" unless $sel->can_write($IO_TIMEOUT);
        my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
        die "write error: $!\n" unless defined $n;
        $off += $n;
    }
    return 1;
}

sub send_recv {
    my ($sock, $bytes) = @_;
    send_bytes($sock, $bytes);
    return read_line($sock);
}

# Reads one retrieval reply: returns undef for END, or a hashref
# {key, flags, value, cas} for one VALUE (and consumes the trailing END).
sub read_value {
    my ($sock) = @_;
    my $line = read_line($sock);
    die "EOF instead of a retrieval reply\n" unless defined $line;
    return undef if $line eq "END\r\n";
    my ($key, $flags, $len, $cas) = $line =~ /^VALUE ([^ ]+) (\d+) (\d+)(?: (\d+))?\r\n\z/
        or die "unexpected retrieval reply: " . _show($line) . "\n";
    my $data = read_bytes($sock, $len + 2);
    die "value not terminated by \\r\\n\n" unless substr($data, -2, 2, '') eq "\r\n";
    my $end = read_line($sock);
    die "expected END after value, got " . _show($end) . "\n"
        unless defined $end && $end eq "END\r\n";
    return { key => $key, flags => $flags, value => $data, cas => $cas };
}

sub _show {
    my ($s) = @_;
    return 'undef' unless defined $s;
    my $t = length($s) > 200 ? substr($s, 0, 200) . '...' : $s;
    $t =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return "\"$t\"";
}

# ---------------------------------------------------------------------------
# test helpers

# mem_get_is($sock, $key, $expect, $msg)
#   $expect: undef (miss), a string value, or {value => ..., flags => ...}
sub mem_get_is {
    my ($sock, $key, $expect, $msg) = @_;
    my $tb = Test::More->builder;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $msg //= "get $key";
    my ($want_val, $want_flags) =
        ref $expect eq 'HASH' ? ($expect->{value}, $expect->{flags}) : ($expect, undef);
    send_bytes($sock, "get $key\r\n");
    my $got = eval { read_value($sock) };
    if ($@) {
        $tb->ok(0, $msg);
        $tb->diag("error: $@");
        return 0;
    }
    if (!defined $want_val) {
        my $ok = $tb->ok(!defined $got, $msg);
        $tb->diag("expected a miss, got value " . _show($got->{value})) unless $ok;
        return $ok;
    }
    if (!defined $got) {
        $tb->ok(0, $msg);
        $tb->diag("expected " . _show($want_val) . ", got a miss (END)");
        return 0;
    }
    my $ok = $got->{key} eq $key && $got->{value} eq $want_val
        && (!defined $want_flags || $got->{flags} == $want_flags);
    $tb->ok($ok, $msg);
    unless ($ok) {
        $tb->diag("key:   got " . _show($got->{key}) . " want " . _show($key));
        $tb->diag("value: got " . _show($got->{value}) . " want " . _show($want_val));
        $tb->diag("flags: got $got->{flags} want $want_flags") if defined $want_flags;
    }
    return $ok;
}

# (cas, value) or () on a miss
sub mem_gets {
    my ($sock, $key) = @_;
    send_bytes($sock, "gets $key\r\n");
    my $v = read_value($sock);
    return () unless $v;
    die "gets reply lacks a cas unique\n" unless defined $v->{cas};
    return ($v->{cas}, $v->{value});
}

# hashref of "stats [$sub]" lines; dies on an unexpected line
sub mem_stats {
    my ($sock, $sub) = @_;
    my $cmd = defined $sub && length $sub ? "stats $sub\r\n" : "stats\r\n";
    send_bytes($sock, $cmd);
    my %st;
    while (1) {
        my $l = read_line($sock);
        die "EOF during stats\n" unless defined $l;
        last if $l eq "END\r\n";
        if ($l =~ /^STAT (\S+) ?(.*)\r\n\z/) {
            $st{$1} = $2;
        } else {
            die "unexpected stats line: " . _show($l) . "\n";
        }
    }
    return \%st;
}

# store and assert STORED in one go
sub set_ok {
    my ($sock, $key, $value, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $flags = $o{flags} // 0;
    my $exp = $o{exptime} // 0;
    my $cmd = $o{cmd} // 'set';
    my $r = send_recv($sock, "$cmd $key $flags $exp " . length($value) . "\r\n$value\r\n");
    return Test::More::is($r, "STORED\r\n", $o{msg} // "$cmd $key");
}

# Error replies: exactly "$expected\r\n" (memcached) or
# "$expected [E<digits>]\r\n" (mcd appends a stable error code).
sub err_like {
    my ($line, $expected, $msg) = @_;
    my $tb = Test::More->builder;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $msg //= "error reply: $expected";
    # mcd keeps memcached's words first; where memcached uses the same words
    # for several failures it adds a detail (": detail" or " detail"), and
    # it always ends with the site's code.
    my $ok = defined $line
        && ($line eq "$expected\r\n"
            || $line =~ /\A\Q$expected\E(?::? [^\[\r\n]*)? \[E\d+\]\r\n\z/);
    $tb->ok($ok, $msg);
    $tb->diag("got " . _show($line) . ", want " . _show("$expected\r\n")
              . " (optionally with a detail and ' [E<n>]')") unless $ok;
    return $ok;
}

# Poll $cb every 20-100 ms until it returns true or $timeout (default 5 s,
# times MCD_TEST_SLOW) passes; returns the last result.
sub wait_until {
    my ($cb, $timeout) = @_;
    $timeout = ($timeout // 5) * $SLOW;
    my $deadline = time + $timeout;
    my $step = 0.02;
    while (1) {
        my $r = $cb->();
        return $r if $r;
        return $r if time >= $deadline;
        sleep $step;
        $step *= 1.5 if $step < 0.1;
    }
}

# ---------------------------------------------------------------------------
package McdTest::Server;

use strict;
use warnings;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);

our %SERVERS;
*SERVERS = \%McdTest::SERVERS;

sub port { $_[0]{port} }
sub udp_port { $_[0]{udp_port} }
sub pid  { $_[0]{pid} }
sub host { $_[0]{host} }
sub unix_path { $_[0]{unix_path} }
sub is_external { $_[0]{external} ? 1 : 0 }
sub exit_status { $_[0]{exit_status} }

sub new_sock {
    my ($self) = @_;
    my $s;
    if ($self->{unix_path}) {
        $s = IO::Socket::UNIX->new(Peer => $self->{unix_path}, Type => SOCK_STREAM)
            or die "connect $self->{unix_path}: $!";
    } else {
        $s = IO::Socket::INET->new(
            PeerAddr => $self->{host}, PeerPort => $self->{port},
            Proto => 'tcp', Timeout => 5,
        ) or die "connect $self->{host}:$self->{port}: $!";
    }
    $s->autoflush(1);
    binmode $s;
    return $s;
}

sub sock {
    my ($self) = @_;
    $self->{sock} //= $self->new_sock;
    return $self->{sock};
}

sub stderr_text {
    my ($self) = @_;
    return '' unless $self->{errfile};
    return McdTest::_slurp($self->{errfile}->filename);
}

# True while the process is running (reaps it if it exited).
sub alive {
    my ($self) = @_;
    return 0 unless $self->{pid};
    my $r = waitpid($self->{pid}, WNOHANG);
    if ($r == $self->{pid}) {
        $self->{exit_status} = $?;
        delete $SERVERS{$self->{pid}};
        $self->{pid} = undef;
        $self->check_sanitizer;
        return 0;
    }
    return 1;
}

# Wait (polling) for the process to exit by itself; returns the wait status
# or undef if it is still running after $timeout (times MCD_TEST_SLOW).
sub wait_exit {
    my ($self, $timeout) = @_;
    $timeout = ($timeout // 5) * $McdTest::SLOW;
    return $self->{exit_status} unless $self->{pid};
    my $deadline = time + $timeout;
    while (time < $deadline) {
        return $self->{exit_status} unless $self->alive;
        sleep 0.02;
    }
    return undef;
}

# SIGTERM, wait up to 5 s, then SIGKILL. Returns the wait status.
sub stop {
    my ($self, $sig) = @_;
    return $self->{exit_status} unless $self->{pid};
    return undef if ($self->{owner} // $$) != $$;
    my $pid = $self->{pid};
    close $self->{sock} if $self->{sock};
    delete $self->{sock};
    kill($sig // 'TERM', $pid);
    # (scaled under valgrind: memcheck's leak check runs at exit)
    my $st = $self->wait_exit(5);
    unless (defined $st) {
        Test::More::diag("server $pid did not exit on SIG" . ($sig // 'TERM')
                         . "; killed (a memcheck report would be lost)")
            if McdTest::under_valgrind();
        kill 'KILL', $pid;
        waitpid($pid, 0);
        $self->{exit_status} = $?;
        $self->{killed} = 1;
        delete $SERVERS{$pid};
        $self->{pid} = undef;
        $st = $self->{exit_status};
    }
    unlink $self->{unix_path} if $self->{unix_path} && -S $self->{unix_path};
    $self->check_sanitizer;
    return $st;
}

# Under `make asan`/`make tsan`/`make valgrind` a sanitizer or memcheck
# report in the server's stderr fails the test file even when every
# assertion passed; so does memcheck's --error-exitcode (99). Checked once,
# when the server is reaped, whether it was stopped or exited by itself.
$McdTest::SANITIZER_FAILED = 0;
sub check_sanitizer {
    my ($self) = @_;
    return if $self->{checked}++;
    my $err = $self->stderr_text;
    # (see ignore_tsan_races)
    $err =~ s/^[= ]*WARNING: ThreadSanitizer: data race .*?^SUMMARY: ThreadSanitizer: data race [^\n]*\n//msg
        if $self->{ignore_tsan_races};
    my $vg_exit = McdTest::under_valgrind() && defined $self->{exit_status}
        && ($self->{exit_status} >> 8) == 99;
    if ($vg_exit || $err =~ /(ERROR: \w*Sanitizer|WARNING: ThreadSanitizer|runtime error:|==\d+== (?:Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination overlap|Argument '|\d+ bytes in \d+ blocks are (?:definitely|indirectly) lost))/) {
        Test::More::diag("sanitizer report from the server"
                         . ($vg_exit ? ' (memcheck exit status 99)' : '') . ":\n$err");
        $McdTest::SANITIZER_FAILED = 1;
    }
}

sub was_killed { $_[0]{killed} ? 1 : 0 }

# For a server crashed on purpose: its crash report reads the counters
# without locks (a dying process takes none), which ThreadSanitizer reports
# as data races. Those reports, and only those, do not fail the test.
sub ignore_tsan_races { $_[0]{ignore_tsan_races} = 1 }

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->stop if $self->{pid} && ($self->{owner} // 0) == $$;
}

1;
