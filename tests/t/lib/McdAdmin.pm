package McdAdmin;
# Helpers for talking to mcd's admin socket from tests: one request line
# in, decoded JSON out; streams come back as a list of decoded lines.
use strict;
use warnings;
use Exporter 'import';
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(MSG_PEEK);
use JSON::PP;
use Carp;

our @EXPORT = qw(admin_connect admin_request admin_stream admin_doc_fields json_paths);

my $JSON = JSON::PP->new->utf8->allow_nonref;
$SIG{PIPE} = 'IGNORE';      # a closed admin socket is an error, not a death

sub admin_connect {
    my ($path) = @_;
    my $s;
    for (1 .. 250) {
        $s = IO::Socket::UNIX->new(Peer => $path, Type => SOCK_STREAM) and last;
        select undef, undef, undef, 0.02;
    }
    croak "cannot connect to admin socket $path: $!" unless $s;
    return $s;
}

# One line, and not a byte more (callers may read the socket themselves
# afterwards): peek, then take up to the newline. Replies of megabytes
# (a `locked` or `conns` listing of 20000 holds) take one read per 64 KiB.
sub _line {
    my ($s) = @_;
    my $sel = IO::Select->new($s);
    my $line = '';
    my $wait = 10 * ($McdTest::SLOW // 1);
    while ($line !~ /\n\z/) {
        croak "admin reply timed out" unless $sel->can_read($wait);
        defined recv($s, my $peek, 65536, MSG_PEEK) or croak "admin socket: $!";
        croak "admin socket closed" unless length $peek;
        my $i = index($peek, "\n");
        my $n = sysread($s, my $buf, $i >= 0 ? $i + 1 : length $peek);
        croak "admin socket closed" unless $n;
        $line .= $buf;
    }
    return $line;
}

# One request, one decoded reply (a fresh connection unless $sock given).
sub admin_request {
    my ($path_or_sock, $req) = @_;
    my $s = ref $path_or_sock ? $path_or_sock : admin_connect($path_or_sock);
    print $s "$req\n";
    return $JSON->decode(_line($s));
}

# A streamed request: the header, then lines until the summary.
sub admin_stream {
    my ($path, $req) = @_;
    my $s = admin_connect($path);
    print $s "$req\n";
    my @out = ($JSON->decode(_line($s)));
    return @out if $out[0]{error};
    while (1) {
        my $d = $JSON->decode(_line($s));
        push @out, $d;
        last if $d->{summary};
    }
    return @out;
}

# The documented fields of each command in man/mcd-admin.7:
# { cmd => { path => optional? } }
sub admin_doc_fields {
    my ($man) = @_;
    open my $fh, '<', $man or croak "$man: $!";
    my (%doc, $cmd, $pending);
    while (my $l = <$fh>) {
        chomp $l;
        if ($l =~ /^\.SS (\S+)/) { $cmd = $1; $doc{$cmd} = {}; next }
        if ($l =~ /^\.SH / && $l !~ /COMMANDS/) { $cmd = undef; next }
        next unless $cmd;
        if ($l =~ /^\.B (\S+)$/) { $pending = $1; $pending =~ s/\\-/-/g; next }
        if (defined $pending) {
            $doc{$cmd}{$pending} = $l =~ /^\(optional\)/ ? 1 : 0;
            $pending = undef;
        }
    }
    return \%doc;
}

# Flatten a decoded JSON value into documented-path form.
sub json_paths {
    my ($v, $pre, $out) = @_;
    $out //= {};
    if (ref $v eq 'HASH') {
        json_paths($v->{$_}, length $pre ? "$pre.$_" : $_, $out) for keys %$v;
    } elsif (ref $v eq 'ARRAY') {
        if (@$v && ref $v->[0]) { json_paths($_, "$pre\[]", $out) for @$v }
        elsif (@$v) { $out->{"$pre\[]"} = 1 }
        else { $out->{"$pre\[]"} = 'empty' }   # says nothing of its fields
    } else {
        $out->{$pre} = 1;
    }
    return $out;
}

1;
