#!/usr/bin/perl
# mcadmin, one command at a time, against a real mcd: every dump command,
# --json output, exit codes, capture + diff after known traffic, diff of
# crafted snapshot pairs, malformed snapshot files, report --redact.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest timeout => 120;
use JSON::PP;
use File::Temp qw(tempdir);
use File::Spec;
use Time::HiRes qw(time sleep);

plan skip_all => 'mcadmin talks to mcd only' unless mcd_only();
plan skip_all => 'needs its own server (admin socket)' if external();

my $mcadmin = $ENV{MCADMIN_BIN} // File::Spec->catfile(repo_root(), 'mcadmin', 'mcadmin');
plan skip_all => "no mcadmin binary at $mcadmin (make builds it)" unless -x $mcadmin;

my $data = File::Spec->catdir(repo_root(), 'tests', 'data', 'mcadmin');
my $dir = tempdir('mcadmin-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $sock = "/tmp/mcadmin-test-$$.sock";
my $srv = new_server('-o', "admin_socket=$sock");
ok(wait_until(sub { -S $sock }), 'admin socket is up') or BAIL_OUT("no admin socket");
my $c = $srv->sock;
my $json = JSON::PP->new->allow_nonref;

# Runs mcadmin; returns (exit code, stdout, stderr). Signals count as 128+n.
sub mca {
    my (@args) = @_;
    my ($st, $out, $err) = run_bin([@args], bin => $mcadmin, timeout => 20);
    my $code = $st == -1 ? 255 : ($st & 127) ? 128 + ($st & 127) : $st >> 8;
    return ($code, $out, $err);
}

# Runs with -s and --json; returns the decoded output (or undef).
sub mca_json {
    my (@args) = @_;
    my ($rc, $out, $err) = mca('-s', $sock, @args, '--json');
    my $d = eval { $json->decode($out) };
    diag("mcadmin @args --json: rc $rc, $@ $err") unless $rc == 0 && $d;
    return $d;
}

# --- traffic the dumps can show ----------------------------------------------
for my $i (1 .. 30) { set_ok($c, "user:$i", "v$i", msg => undef) or last }
set_ok($c, "sess:$_", "x" x 300) for 1 .. 5;
is(send_recv($c, "bogus_command\r\n") =~ /^ERROR/ ? 1 : 0, 1, 'an unknown command counts an error site');

# --- one-shot commands, text ---------------------------------------------------
{
    my ($rc, $out) = mca('-s', $sock, 'stats');
    is($rc, 0, 'stats exits 0');
    like($out, qr/^cmd_set\s+35\b/m, 'stats shows cmd_set = 35');
    like($out, qr/^limit_maxbytes\s+\d+\s+64 MiB$/m, 'byte stats get a human unit');

    ($rc, $out) = mca('-s', $sock, 'slabs');
    is($rc, 0, 'slabs exits 0');
    like($out, qr/^class\s+chunk\s+pages/m, 'slabs has a header');
    like($out, engine() eq 'slab' ? qr/^\s+\d+\s+\S+ B\s+1\s/m : qr/^\s+1\s+0 B\s+0\s/m,
         'slabs lists a class with one page (heap: its one class)');

    ($rc, $out) = mca('-s', $sock, 'errors');
    is($rc, 0, 'errors exits 0');
    like($out, qr/^E\d+ ERR_UNKNOWN_COMMAND \(ERROR\)\s+count 1\b/m, 'errors shows the fired site with its count');
    like($out, qr/advice: A client sent a command/, 'errors shows the operator advice');
    unlike($out, qr/ERR_LINE_TOO_LONG/, 'zero sites are hidden by default');
    like($out, qr/errors --all/, 'and it says how to see them');
    ($rc, $out) = mca('-s', $sock, 'errors', '--all');
    like($out, qr/ERR_LINE_TOO_LONG/, 'errors --all lists zero sites too');

    my $keep = $srv->new_sock;      # an open connection for conns
    send_recv($keep, "get user:1\r\n");
    read_line($keep) for 1 .. 2;
    ($rc, $out) = mca('-s', $sock, 'conns');
    is($rc, 0, 'conns exits 0');
    like($out, qr/127\.0\.0\.1:\d+/, 'conns shows a client peer');
    like($out, qr/^\d+ of \d+ connections$/m, 'conns ends with the count');

    ($rc, $out) = mca('-s', $sock, 'locked');
    is($rc, 0, 'locked exits 0');
    like($out, qr/0 suspected leaks/, 'locked: no leaks on a healthy server');

    ($rc, $out) = mca('-s', $sock, 'threads');
    like($out, qr/^\s+0\s+\d+\s+\S+\s+yes$/m, 'threads shows a responsive thread 0');
    ($rc, $out) = mca('-s', $sock, 'hash');
    like($out, qr/^items\s+35$/m, 'hash shows the item count');
    ($rc, $out) = mca('-s', $sock, 'settings');
    like($out, qr/^admin_socket\s+\Q$sock\E$/m, 'settings shows the admin socket');
    ($rc, $out) = mca('-s', $sock, 'help');
    like($out, qr/^diff A B\s/m, 'help lists commands with their arguments');
    ($rc, $out) = mca('help', 'items');
    like($out, qr/class=N/, 'help CMD explains one command (no server needed)');
    is($rc, 0, 'help works without a server');
}

# --- --json --------------------------------------------------------------------
{
    my $d = mca_json('stats');
    is($d->{stats}{cmd_set}, 35, 'stats --json is the data object');
    ok((grep { $_ eq 'curr_items' } @{ $d->{gauges} }), 'with the gauge list');
    my ($rc, $out) = mca('-s', $sock, '--json', 'slabs');
    my $s = eval { $json->decode($out) };
    ok($s && ref $s->{classes} eq 'ARRAY', '--json before the command works too');
    $d = mca_json('errors');
    my ($site) = grep { $_->{name} eq 'ERR_UNKNOWN_COMMAND' } @{ $d->{sites} };
    is($site->{count}, 1, 'errors --json has the site count');
    $d = mca_json('conns');
    ok(@{ $d->{connections} } >= 1, 'conns --json lists connections');
    $d = mca_json('locked');
    is(ref $d->{items}, 'ARRAY', 'locked --json has items');
    for my $cmd (qw(lru threads hash settings prefixes)) {
        ok(mca_json($cmd), "$cmd --json parses");
    }
}

# --- items with paging ----------------------------------------------------------
{
    my $d = mca_json('items', 'limit=10');
    ok($d && @{ $d->{items} } >= 10 && @{ $d->{items} } < 35, 'items limit=10 gives a page');
    ok(!$d->{summary}{complete} && $d->{summary}{cursor}, 'and a cursor to continue');
    my %seen = map { $_->{key} => 1 } @{ $d->{items} };
    my $pages = 1;
    while (!$d->{summary}{complete} && $pages < 50) {
        $d = mca_json('items', 'limit=10', "cursor=$d->{summary}{cursor}");
        last unless $d;
        $seen{ $_->{key} }++ for @{ $d->{items} };
        $pages++;
    }
    ok($d && $d->{summary}{complete}, "paging reached the end in $pages pages");
    is(scalar(keys %seen), 35, 'every item listed once across pages');
    ok(!(grep { $_ > 1 } values %seen), 'no item listed twice');

    $d = mca_json('items', 'prefix=sess:');
    is(scalar(@{ $d->{items} }), 5, 'items prefix= filters');
    my ($rc, $out) = mca('-s', $sock, 'items', 'limit=3');
    like($out, qr/^key\s+class\s+size/m, 'items text has a header');
    like($out, qr/more: `next`/, 'and says how to continue');
}

# --- raw -------------------------------------------------------------------------
{
    my ($rc, $out) = mca('-s', $sock, 'raw', 'hash');
    is($rc, 0, 'raw hash exits 0');
    my $d = eval { $json->decode($out) };
    is($d && $d->{command}, 'hash', 'raw shows the whole reply as JSON');
    is($d && $d->{schema}, 1, 'with the schema version');
    ($rc, $out) = mca('-s', $sock, 'raw', 'items', 'limit=2');
    my @docs = $out =~ /^(\{.*?^\})/msg;
    ok(@docs >= 3, 'raw items shows header, items and summary');
    like($out, qr/"summary"/, 'raw items ends with the summary');
}

# --- watch, not on a tty: --count refreshes, --json lines --------------------
{
    my $pid = open(my $w, '-|', $mcadmin, '-s', $sock, 'watch', '0.3', '--count', '3', '--json')
        or die "watch: $!";
    my $first = <$w>;
    my $f1 = eval { $json->decode($first // '') };
    ok($f1 && exists $f1->{gets_per_sec} && exists $f1->{hit_ratio}, 'watch --json prints a frame per line');
    # The sets land after the first frame's sample: the later frames see
    # exactly 10 of them (rate x interval, summed).
    set_ok($c, "watch:$_", "v") for 1 .. 10;
    my @rest = map { eval { $json->decode($_) } } grep { defined } (scalar <$w>, scalar <$w>);
    close $w;
    is($? >> 8, 0, 'watch --count 3 exits 0 by itself');
    is(scalar @rest, 2, 'three frames in all');
    my $sets = 0;
    $sets += $_->{sets_per_sec} * $_->{interval_secs} for @rest;
    ok(abs($sets - 10) < 1e-6, 'watch rates add up to the sets made') or diag("sets seen: $sets");
    my ($rc, $out) = mca('-s', $sock, 'watch', '0.2', '--count', '1');
    like($out, qr/gets\/s .*sets\/s .*hit ratio/, 'watch text shows the rates');
    ($rc) = mca('-s', $sock, 'watch', '0');
    is($rc, 2, 'watch 0 is a usage error');
}

# --- exit codes ------------------------------------------------------------------
{
    my ($rc, $out, $err) = mca('--bogus-option');
    is($rc, 2, 'a bad option exits 2');
    ($rc, undef, $err) = mca('-s', $sock, 'frobnicate');
    is($rc, 2, 'an unknown command exits 2');
    like($err, qr/unknown command 'frobnicate'/, 'and says so');
    ($rc) = mca('diff', 'onlyone.json');
    is($rc, 2, 'diff with one file exits 2');
    ($rc, undef, $err) = mca('-s', "/tmp/mcadmin-nobody-$$.sock", 'stats');
    is($rc, 3, 'no server exits 3');
    like($err, qr/cannot connect/, 'and says it cannot connect');
    ($rc, undef, $err) = mca('-s', $sock, 'items', 'class=999');
    is($rc, 1, 'a server error exits 1');
    like($err, qr/server error E\d+ ERR_ADMIN_BAD_ARGUMENT/, 'and names the error');
    ($rc, $out) = mca('-s', $sock, 'raw', 'nonsense');
    is($rc, 1, 'raw of an unknown admin command exits 1');
    like($out, qr/"ERR_ADMIN_UNKNOWN_COMMAND"/, 'showing the error reply');
    ($rc, $out) = mca('-s', $sock, 'items', 'class=999', '--json');
    my $e = eval { $json->decode($out) };
    is($e && $e->{error}{name}, 'ERR_ADMIN_BAD_ARGUMENT', 'a server error with --json prints it as JSON');
}

# --- capture, traffic, capture, diff ------------------------------------------
{
    my $a = "$dir/a.json";
    my $b = "$dir/b.json";
    my ($rc, $out) = mca('-s', $sock, 'capture', $a);
    is($rc, 0, 'capture exits 0');
    like($out, qr/captured \Q$a\E: mcd \S+ pid \d+/, 'capture says what it saved');
    my $sa = $json->decode(do { local (@ARGV, $/) = $a; <> });
    is($sa->{mcadmin_snapshot}, 1, 'the snapshot file carries its format');
    ok($sa->{snapshot}{sections}{$_}{time}, "section $_ has its time")
        for qw(stats settings slabs lru errors conns threads hash locked prefixes);

    set_ok($c, "diff:$_", "value$_") for 1 .. 7;
    for my $k (qw(diff:1 diff:2 diff:3 nope:1 nope:2)) {
        send_bytes($c, "get $k\r\n");
        1 while read_line($c) ne "END\r\n";
    }
    send_recv($c, "bogus_again\r\n");
    # The interval is the stats' own clock (seconds): let it tick.
    ok(wait_until(sub { (mca_json('stats') // {})->{stats}{time} > $sa->{snapshot}{sections}{stats}{time} }, 3),
       'the server clock moved on');
    ($rc) = mca('-s', $sock, 'capture', $b);
    is($rc, 0, 'second capture');

    my $d = mca_json('diff', $a, $b);
    my %ctr = map { $_->{name} => $_ } @{ $d->{counters} };
    is($ctr{cmd_set}{delta}, 7, 'diff: cmd_set delta 7');
    is($ctr{cmd_get}{delta}, 5, 'diff: cmd_get delta 5');
    is($ctr{get_hits}{delta}, 3, 'diff: get_hits delta 3');
    is($ctr{get_misses}{delta}, 2, 'diff: get_misses delta 2');
    ok($d->{interval_secs} > 0, 'diff: a positive interval');
    ok(abs($ctr{cmd_set}{rate} - 7 / $d->{interval_secs}) < 1e-9, 'diff: rate = delta / interval');
    my %g = map { $_->{name} => $_ } @{ $d->{gauges} };
    is($g{curr_items}{after} - $g{curr_items}{before}, 7, 'diff: curr_items is a gauge, before -> after');
    ok(!$ctr{curr_items}, 'and not a counter');
    my ($fired) = grep { $_->{name} eq 'ERR_UNKNOWN_COMMAND' } @{ $d->{errors_fired} };
    is($fired && $fired->{delta}, 1, 'diff: the error site that fired, delta 1');
    ok(!$d->{server_restarted}, 'diff: same server');

    ($rc, $out) = mca('diff', $a, $b);
    is($rc, 0, 'diff text exits 0 (no server needed)');
    like($out, qr/^\s+cmd_set\s+\+7\s+\S+\/s$/m, 'diff text shows cmd_set +7 with a rate');
    like($out, qr/E\d+ ERR_UNKNOWN_COMMAND\s+\+1/, 'diff text shows the fired site');

    $d = mca_json('diff', $a, 'live');
    ok($d && $d->{b}{file} eq 'live', 'diff against live');

    # snapshots lists the files in the current directory
    my $here = Cwd::getcwd();
    chdir $dir or die;
    ($rc, $out) = mca('snapshots');
    chdir $here;
    like($out, qr/^a\.json\s.*\bpid \d+|^a\.json\s/m, 'snapshots lists a.json');
    like($out, qr/^b\.json\s/m, 'and b.json');
}

# --- crafted snapshot pairs -----------------------------------------------------
{
    my ($rc, $out) = mca('diff', "$data/snap-a.json", "$data/snap-b.json", '--json');
    is($rc, 0, 'crafted diff exits 0');
    my $d = $json->decode($out);
    is($d->{interval_secs}, 10, 'interval from the stats sections');
    my %ctr = map { $_->{name} => $_ } @{ $d->{counters} };
    is($ctr{cmd_get}{delta}, 50, 'counter delta');
    is($ctr{cmd_get}{rate}, 5, 'counter rate');
    is($ctr{cmd_set}{rate}, 2, 'second counter rate');
    ok(!exists $ctr{evictions}, 'unchanged counters are left out');
    my %g = map { $_->{name} => $_ } @{ $d->{gauges} };
    is("$g{curr_connections}{before}->$g{curr_connections}{after}", '3->7', 'gauge before -> after');
    my %sl = map { $_->{id} => $_ } @{ $d->{slabs} };
    is("$sl{1}{pages_before}->$sl{1}{pages_after}", '1->3', 'slab pages per class');
    is("$sl{2}{pages_before}->$sl{2}{pages_after}", '0->1', 'a class that got its first page');
    is(scalar @{ $d->{errors_fired} }, 1, 'one error site fired (the other stayed)');
    is($d->{errors_fired}[0]{code}, 2104, 'the one that rose');
    is($d->{errors_fired}[0]{delta}, 4, 'by 4');
    like($d->{errors_fired}[0]{advice}, qr/^ADVICE-2104/, 'with its advice');
    is(join(',', map { $_->{key} } @{ $d->{locked}{appeared} }), 'new:c', 'locked: appeared');
    is(join(',', map { $_->{key} } @{ $d->{locked}{cleared} }), 'gone:b', 'locked: cleared');
    is(join(',', map { $_->{key} } @{ $d->{locked}{stayed} }), 'stuck:a', 'locked: stayed');
    is(scalar @{ $d->{settings_changed} }, 1, 'one setting changed');
    is_deeply([@{ $d->{settings_changed}[0] }{qw(name before after)}], ['maxconns', 1024, 2048],
              'maxconns 1024 -> 2048');

    ($rc, $out) = mca('diff', "$data/snap-a.json", "$data/snap-b.json");
    like($out, qr/^\s+cmd_get\s+\+50\s+5\/s$/m, 'text: counter with rate');
    like($out, qr/^\s+curr_items\s+5\s+->\s+25$/m, 'text: gauge before -> after');
    like($out, qr/^\s+1\s+96 B\s+1 -> 3\b/m, 'text: slab pages');
    like($out, qr/E2104 ERR_STORE_NO_MEMORY\s+\+4 \(0\.40\/s\)/, 'text: error site with rate');
    like($out, qr/ADVICE-2104/, 'text: advice');
    like($out, qr/^\s+\+ new:c\b.*\n\s+- gone:b\b.*\n\s+= stuck:a\b.*SUSPECTED LEAK/m, 'text: locked items');
    like($out, qr/^\s+maxconns\s+1024\s+->\s+2048$/m, 'text: settings changed');

    ($rc, $out) = mca('diff', "$data/snap-a.json", "$data/snap-restarted.json");
    like($out, qr/server restarted/, 'a restart between snapshots is called out');
}

# --- malformed snapshot files: a clear error and exit 1, never a crash --------
{
    my %why = (
        'bad-truncated.json'    => qr/not valid JSON.*truncated/,
        'bad-not-json.json'     => qr/not valid JSON/,
        'bad-empty.json'        => qr/empty file/,
        'bad-version.json'      => qr/unsupported snapshot format 99/,
        'bad-no-stats.json'     => qr/sections\.stats is missing/,
        'bad-slabs-type.json'   => qr/sections\.slabs\.classes is a string, not an array/,
        'bad-error-code.json'   => qr/sections\.errors\.sites\[0\]\.code is a string/,
        'bad-array.json'        => qr/is an array, not an object/,
        'bad-not-snapshot.json' => qr/not an mcadmin snapshot/,
    );
    for my $f (sort keys %why) {
        my ($rc, $out, $err) = mca('diff', "$data/$f", "$data/snap-b.json");
        is($rc, 1, "$f: exit 1");
        like($err, qr/^mcadmin: \Q$data\/$f\E: .*$why{$f}/m, "$f: says which file and why");
    }
    my ($rc, $out, $err) = mca('diff', "$data/snap-a.json", "$dir/does-not-exist.json");
    is($rc, 1, 'a missing file exits 1');
    like($err, qr/No such file/, 'and says so');

    # Cut a real capture at many points: every cut is refused cleanly.
    my $full = do { local (@ARGV, $/) = "$dir/b.json"; <> };
    my ($bad, $total) = (0, 0);
    for (my $n = 0; $n < length $full; $n += int(length($full) / 25) + 1) {
        open(my $fh, '>', "$dir/cut.json") or die;
        print $fh substr($full, 0, $n);
        close $fh;
        my ($crc, undef, $cerr) = mca('diff', "$dir/cut.json", "$dir/a.json");
        $total++;
        $bad++ unless $crc == 1 && $cerr =~ /cut\.json: /;
    }
    is($bad, 0, "all $total truncations of a capture exit 1 with a message");
}

# --- report --redact -----------------------------------------------------------
{
    my $r = send_recv($c, "stats detail on\r\n");
    like($r, qr/^OK/, 'per-prefix stats on (prefixes appear in the report)');
    set_ok($c, "topsecret:alpha", "1");
    set_ok($c, "topsecret:beta", "2");
    send_bytes($c, "get topsecret:alpha\r\n");
    1 while read_line($c) ne "END\r\n";

    my $plain = "$dir/plain.json";
    my ($rc, $out) = mca('-s', $sock, 'report', '--samples', '1', '-o', $plain);
    is($rc, 0, 'report exits 0');
    my $pt = do { local (@ARGV, $/) = $plain; <> };
    like($pt, qr/topsecret:alpha/, 'without --redact the keys are there (the check below can fail)');

    my $nitems = mca_json('stats')->{stats}{curr_items};
    ok($nitems > 40, "$nitems items to redact");
    my $red = "$dir/redacted.json";
    ($rc, $out) = mca('-s', $sock, 'report', '--samples', '2', '--interval', '0.2', '--redact',
                      '-o', $red);
    is($rc, 0, 'report --redact exits 0');
    like($out, qr/wrote \Q$red\E: 2 samples.*keys redacted/, 'report says what it wrote');
    my $text = do { local (@ARGV, $/) = $red; <> };
    unlike($text, qr/topsecret|user:\d|sess:\d|diff:\d/, 'no key or prefix name appears in the bundle');
    my $b = $json->decode($text);
    is($b->{mcadmin_report}, 1, 'bundle format');
    ok($b->{redacted}, 'marked redacted');
    is(scalar @{ $b->{samples} }, 2, 'two samples');
    is(scalar @{ $b->{diffs} }, 1, 'one diff between them');
    ok($b->{os}{sysname} && $b->{libevent} && $b->{server_version}, 'OS, libevent and server versions');
    ok($b->{settings}{maxconns}, 'settings');
    my @k0 = sort map { $_->{key} } @{ $b->{samples}[0]{items}{items} };
    my @k1 = sort map { $_->{key} } @{ $b->{samples}[1]{items}{items} };
    is(scalar @k0, $nitems, 'the item listing is in each sample');
    ok(!(grep { !/^k:[0-9a-f]{16}$/ } @k0), 'every key is a keyed hash');
    is_deeply(\@k1, \@k0, 'equal keys map to equal hashes across samples');
    my %u = map { $_ => 1 } @k0;
    is(scalar keys %u, $nitems, 'different keys map to different hashes');
    my @p0 = sort map { $_->{prefix} } @{ $b->{samples}[0]{snapshot}{sections}{prefixes}{prefixes} };
    my @p1 = sort map { $_->{prefix} } @{ $b->{samples}[1]{snapshot}{sections}{prefixes}{prefixes} };
    ok(@p0 && !(grep { !/^k:/ } @p0), 'prefixes are hashed too');
    is_deeply(\@p1, \@p0, 'and correlate across samples');

    ($rc, $out) = mca('-s', $sock, 'report', '--samples', '0');
    is($rc, 2, 'report --samples 0 is a usage error');
}

$srv->stop;
ok(!-e $sock, 'server stopped; its socket is gone');
done_testing();
