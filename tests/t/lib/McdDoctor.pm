package McdDoctor;
# Helpers for the `mcadmin doctor` tests (tests/t/doctor_*.t): run doctor,
# find a rule's finding, and drive background traffic from a child process
# that is stopped by its pid.
use strict;
use warnings;
use Exporter 'import';
use File::Spec;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use McdTest qw(run_bin repo_root);

our @EXPORT = qw(mcadmin_bin mca doctor finding findings_named background stop_background
                 capture store_many drain_get);

my $JSON = JSON::PP->new->allow_nonref;

sub mcadmin_bin {
    return $ENV{MCADMIN_BIN} // File::Spec->catfile(repo_root(), 'mcadmin', 'mcadmin');
}

# Runs mcadmin; (exit code, stdout, stderr). Signals count as 128+n.
sub mca {
    my (@args) = @_;
    my ($st, $out, $err) = run_bin([@args], bin => mcadmin_bin(), timeout => 30);
    my $code = $st == -1 ? 255 : ($st & 127) ? 128 + ($st & 127) : $st >> 8;
    return ($code, $out, $err);
}

# doctor with --json against a socket (or files when $sock is undef):
# (exit code, decoded document or undef, raw stdout, stderr).
sub doctor {
    my ($sock, @args) = @_;
    my @s = defined $sock ? ('-s', $sock) : ();
    my ($rc, $out, $err) = mca(@s, 'doctor', @args, '--json');
    my $d = eval { $JSON->decode($out) };
    return ($rc, $d, $out, $err);
}

# The first finding of a rule, or undef.
sub finding {
    my ($d, $rule) = @_;
    return undef unless $d && ref $d->{findings} eq 'ARRAY';
    my ($f) = grep { $_->{rule} eq $rule } @{ $d->{findings} };
    return $f;
}

sub findings_named {
    my ($d) = @_;
    return [map { $_->{rule} } @{ $d->{findings} // [] }];
}

# mcadmin capture FILE
sub capture {
    my ($sock, $file) = @_;
    my ($rc, $out, $err) = mca('-s', $sock, 'capture', $file);
    die "capture failed: $err" unless $rc == 0;
    return $file;
}

# Stores every key of @$keys with $value (pipelined by 100); returns how
# many were STORED. Other replies (SERVER_ERROR...) are counted out.
sub store_many {
    my ($s, $keys, $value, %o) = @_;
    my $exp = $o{exptime} // 0;
    my $stored = 0;
    my @k = @$keys;
    while (my @batch = splice(@k, 0, 100)) {
        McdTest::send_bytes($s, join('', map {
            "set $_ 0 $exp " . length($value) . "\r\n$value\r\n" } @batch));
        for (@batch) {
            my $l = McdTest::read_line($s) // die "EOF storing\n";
            $stored++ if $l eq "STORED\r\n";
        }
    }
    return $stored;
}

# Sends a retrieval line and reads until END; returns the VALUE count.
sub drain_get {
    my ($s, $line) = @_;
    McdTest::send_bytes($s, "$line\r\n");
    my $n = 0;
    while (defined(my $l = McdTest::read_line($s))) {
        last if $l eq "END\r\n";
        if ($l =~ /^VALUE \S+ \d+ (\d+)/) {
            McdTest::read_bytes($s, $1 + 2);
            $n++;
        }
    }
    return $n;
}

# Runs $code->() in a loop in a child until stop_background($pid).
sub background {
    my ($code) = @_;
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        $SIG{ALRM} = sub { POSIX::_exit(0) };
        alarm 120;
        my $ok = eval { $code->() while 1; 1 };
        POSIX::_exit($ok ? 0 : 1);
    }
    return $pid;
}

sub stop_background {
    my ($pid) = @_;
    kill 'TERM', $pid;
    waitpid($pid, 0);
}

1;
