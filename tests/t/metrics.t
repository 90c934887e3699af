#!/usr/bin/perl
# Prometheus metrics: the admin socket's `metrics` and the optional HTTP
# endpoint, checked with promtool and scraped with a real HTTP client.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest qw(:DEFAULT free_port);
use McdAdmin;
use IO::Socket::UNIX;

plan skip_all => 'metrics are mcd\'s' unless mcd_only() && !external();

my $path = "/tmp/mcd-metrics-$$.admin";
my $hport = free_port();
my $srv = new_server('-o', "admin_socket=$path,metrics_listen=127.0.0.1:$hport");
my $s = $srv->sock;
set_ok($s, 'a', '1');
mem_get_is($s, 'a', '1');
mem_get_is($s, 'missing', undef);
is(send_recv($s, "bogus\r\n"), "ERROR\r\n", 'an error to count');

sub admin_metrics {
    my $c = admin_connect($path);
    print $c "metrics\n";
    my $txt = '';
    while (my $l = <$c>) {
        last if $l eq "# EOF\n";
        $txt .= $l;
    }
    return $txt;
}

sub which {
    my ($prog) = @_;
    for my $d (split /:/, $ENV{PATH} // '/usr/bin:/bin') {
        return "$d/$prog" if -x "$d/$prog";
    }
    return '';
}

sub value_of {
    my ($txt, $series) = @_;
    return $txt =~ /^\Q$series\E (\S+)$/m ? $1 : undef;
}

my $m = admin_metrics();
is(value_of($m, 'memcached_commands_total{command="get",status="hit"}'), 1, 'get hits');
is(value_of($m, 'memcached_commands_total{command="get",status="miss"}'), 1, 'get misses');
is(value_of($m, 'memcached_current_items'), 1, 'current items');
is(value_of($m, 'mcd_errors_total{code="E1001",name="ERR_UNKNOWN_COMMAND"}'), 1, 'per-site error counter');
is(value_of($m, 'mcd_command_duration_seconds_count{command="get"}'), 2, 'latency histogram count');
is(value_of($m, 'mcd_command_duration_seconds_bucket{command="get",le="+Inf"}'), 2, 'histogram +Inf bucket');
my @le = $m =~ /^mcd_command_duration_seconds_bucket\{command="get",le="[^"]+"\} (\d+)$/mg;
is_deeply([sort { $a <=> $b } @le], \@le, 'histogram buckets are cumulative');

SKIP: {
    my $promtool = which('promtool');
    skip 'promtool not installed (Debian package prometheus)', 1 unless $promtool;
    open my $p, '|-', "$promtool check metrics >/tmp/promtool-$$.out 2>&1" or die;
    print $p $m;
    close $p;
    my $out = do { local (@ARGV, $/) = "/tmp/promtool-$$.out"; <> };
    unlink "/tmp/promtool-$$.out";
    is($?, 0, 'promtool check metrics accepts the output') or diag $out;
}

# the HTTP endpoint
my ($code, $body);
my $curl = which('curl');
if ($curl) {
    $body = `$curl -s -m 5 -w '\\n%{http_code}' http://127.0.0.1:$hport/metrics`;
    ($code) = $body =~ /\n(\d+)\z/;
    $body =~ s/\n\d+\z//;
} else {
    require HTTP::Tiny;
    my $r = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$hport/metrics");
    ($code, $body) = ($r->{status}, $r->{content});
}
is($code, 200, 'GET /metrics answers 200');
like($body, qr/^memcached_up 1$/m, '/metrics serves the same families');
is(value_of($body, 'memcached_current_items'), 1, '/metrics values');
my $hz = $curl ? `$curl -s -m 5 http://127.0.0.1:$hport/healthz` : '';
SKIP: {
    skip 'no curl', 1 unless $curl;
    is($hz, "ok\n", '/healthz says ok');
}
my $nf = $curl ? `$curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:$hport/nope` : '404';
is($nf, '404', 'other paths are 404');

# bad settings refuse to start
my ($rc) = run_bin(['-p', '0', '-o', 'metrics_listen=notaport']);
is($rc >> 8, 71, 'a bad metrics_listen stops the start');
done_testing();
