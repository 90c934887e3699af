#!/usr/bin/perl
# The binary protocol with raw frames: every opcode, quiet batching,
# pipelining, frames split across many writes, and the error statuses.
# Runs against stock memcached too (MCD_BIN=/usr/bin/memcached); checks that
# only mcd can pass (error codes in bodies, staying in step after a broken
# header, Verbosity's reply) are guarded by $mcd.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 120;

my $bin = server_bin();
my $mcd = $bin !~ /memcached/;

# --- server -------------------------------------------------------------
my $srv = new_server();
my $port = $srv->port;
sub connect_ {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or return;
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    binmode $s;
    return $s;
}
my $s;
for (1 .. 500) { $s = connect_() and last; select undef, undef, undef, 0.02 }
ok($s, "server accepts connections") or BAIL_OUT("no server");

# --- frames -------------------------------------------------------------
my %OP = (get => 0x00, set => 0x01, add => 0x02, replace => 0x03, delete => 0x04,
    incr => 0x05, decr => 0x06, quit => 0x07, flush => 0x08, getq => 0x09,
    noop => 0x0a, version => 0x0b, getk => 0x0c, getkq => 0x0d, append => 0x0e,
    prepend => 0x0f, stat => 0x10, setq => 0x11, addq => 0x12, replaceq => 0x13,
    deleteq => 0x14, incrq => 0x15, decrq => 0x16, quitq => 0x17, flushq => 0x18,
    appendq => 0x19, prependq => 0x1a, verbosity => 0x1b, touch => 0x1c,
    gat => 0x1d, gatq => 0x1e, sasl_list => 0x20, sasl_auth => 0x21,
    sasl_step => 0x22, gatk => 0x23, gatkq => 0x24);

# frame(op, key, extras, value, opaque, cas)
sub frame {
    my ($op, $key, $ext, $val, $opaque, $cas) = @_;
    $key //= ''; $ext //= ''; $val //= '';
    my $code = $op =~ /^\d+$/ ? $op : $OP{$op} // die "op $op";
    return pack('CCnCCnNNQ>', 0x80, $code, length $key, length $ext, 0, 0,
                length($ext) + length($key) + length($val), $opaque // 0, $cas // 0)
           . $ext . $key . $val;
}
sub store_ext { pack 'NN', $_[0] // 0, $_[1] // 0 }
sub arith_ext { pack 'Q>Q>N', @_ }

sub readn {
    my ($sock, $n) = @_;
    my $buf = '';
    while (length $buf < $n) {
        my $r = sysread($sock, $buf, $n - length $buf, length $buf);
        return undef unless $r;
    }
    return $buf;
}
# One response as a hash, or undef at EOF.
sub resp {
    my ($sock) = @_;
    $sock //= $s;
    my $h = readn($sock, 24) // return undef;
    my %r;
    @r{qw(magic op keylen extlen dtype status bodylen opaque cas)} = unpack 'CCnCCnNNQ>', $h;
    my $body = $r{bodylen} ? readn($sock, $r{bodylen}) : '';
    $r{ext} = substr $body, 0, $r{extlen};
    $r{key} = substr $body, $r{extlen}, $r{keylen};
    $r{val} = substr $body, $r{extlen} + $r{keylen};
    return \%r;
}
sub send_ { my $sock = @_ > 1 ? shift : $s; print {$sock} $_[0] }
# Send one frame, read one response.
sub cmd { send_(frame(@_)); return resp() }
sub is_status { my ($r, $st, $name) = @_; is($r && $r->{status}, $st, $name) }
sub eof_ok {
    my ($sock, $name) = @_;
    my $r = sysread($sock, my $buf, 1);
    ok(defined $r && $r == 0, $name);
}
my $NF = 0x01; my $EX = 0x02; my $TOOBIG = 0x03; my $INVAL = 0x04;
my $NOTSTORED = 0x05; my $NONNUM = 0x06; my $UNKNOWN = 0x81;

# --- small commands -----------------------------------------------------
my $r = cmd('noop', '', '', '', 42);
is_status($r, 0, 'noop');
is($r->{magic}, 0x81, 'response magic');
is($r->{op}, 0x0a, 'opcode echoed');
is($r->{opaque}, 42, 'opaque echoed');
$r = cmd('version', '', '', '', 43);
like($r->{val}, qr/^\d+\.\d+\.\d+/, 'version body');
is($r->{opaque}, 43, 'version opaque');

# --- set / get family ---------------------------------------------------
$r = cmd('set', 'k1', store_ext(0xdeadbeef, 0), 'hello', 1);
is_status($r, 0, 'set');
my $cas1 = $r->{cas};
ok($cas1, 'set returns a cas');
$r = cmd('get', 'k1', '', '', 2);
is_status($r, 0, 'get hit');
is($r->{val}, 'hello', 'get value');
is(unpack('N', $r->{ext}), 0xdeadbeef, 'get flags as extras');
is($r->{key}, '', 'get has no key');
is($r->{cas}, $cas1, 'get returns the cas');
is($r->{opaque}, 2, 'get opaque');
$r = cmd('getk', 'k1');
is($r->{key}, 'k1', 'getk returns the key');
is($r->{val}, 'hello', 'getk value');
$r = cmd('get', 'missing', '', '', 3);
is_status($r, $NF, 'get miss');
is($r->{val}, 'Not found', 'get miss body');
is($r->{opaque}, 3, 'miss opaque');
$r = cmd('getk', 'missing');
is_status($r, $NF, 'getk miss');
is($r->{key}, 'missing', 'getk miss carries the key');
send_(frame('getq', 'missing', '', '', 5) . frame('getkq', 'missing', '', '', 6)
      . frame('getq', 'k1', '', '', 7) . frame('getkq', 'k1', '', '', 8)
      . frame('noop', '', '', '', 9));
$r = resp(); is($r->{opaque}, 7, 'getq hit answered'); is($r->{val}, 'hello', 'getq value');
$r = resp(); is($r->{opaque}, 8, 'getkq hit answered'); is($r->{key}, 'k1', 'getkq key');
$r = resp(); is($r->{op}, 0x0a, 'quiet misses suppressed, noop follows');

# empty and large values
is_status(cmd('set', 'empty', store_ext(), ''), 0, 'set empty value');
$r = cmd('get', 'empty');
is_status($r, 0, 'get empty value');
is($r->{val}, '', 'empty value is empty');
my $big = join '', map { chr(65 + $_ % 26) } 1 .. 500_000;
is_status(cmd('set', 'big', store_ext(), $big), 0, 'set 500 KB value');
$r = cmd('get', 'big');
ok($r->{val} eq $big, '500 KB value round-trips');

# --- add / replace / quiet stores ---------------------------------------
$r = cmd('add', 'k1', store_ext(), 'x');
is_status($r, $EX, 'add existing: exists');
is_status(cmd('add', 'k2', store_ext(), 'two'), 0, 'add new');
$r = cmd('replace', 'nokey', store_ext(), 'x');
is_status($r, $NF, 'replace missing: not found');
is_status(cmd('replace', 'k2', store_ext(7), 'TWO'), 0, 'replace existing');
send_(frame('setq', 'q1', store_ext(), 'a', 11) . frame('addq', 'q2', store_ext(), 'b', 12)
      . frame('replaceq', 'q1', store_ext(), 'c', 13) . frame('addq', 'q1', store_ext(), 'd', 14)
      . frame('appendq', 'q1', '', 'e', 15) . frame('prependq', 'q1', '', 'f', 16)
      . frame('noop', '', '', '', 17));
$r = resp();
is($r->{opaque}, 14, 'quiet successes suppressed, addq failure answered');
is_status($r, $EX, 'addq failure status');
is(resp()->{op}, 0x0a, 'then the noop');
is(cmd('get', 'q1')->{val}, 'fce', 'quiet stores applied in order');
is(cmd('get', 'q2')->{val}, 'b', 'addq stored');

# --- append / prepend ---------------------------------------------------
is_status(cmd('append', 'k2', '', '-end'), 0, 'append');
is_status(cmd('prepend', 'k2', '', 'start-'), 0, 'prepend');
$r = cmd('get', 'k2');
is($r->{val}, 'start-TWO-end', 'append and prepend joined');
is(unpack('N', $r->{ext}), 7, 'flags kept');
is_status(cmd('append', 'nokey', '', 'x'), $NOTSTORED, 'append missing: not stored');
is_status(cmd('prepend', 'nokey', '', 'x'), $NOTSTORED, 'prepend missing: not stored');

# --- cas ------------------------------------------------------------------
$r = cmd('set', 'c', store_ext(), 'v1');
my $c1 = $r->{cas};
is_status(cmd('set', 'c', store_ext(), 'v2', 0, $c1 + 1000), $EX, 'set with stale cas: exists');
$r = cmd('set', 'c', store_ext(), 'v2', 0, $c1);
is_status($r, 0, 'set with right cas');
my $c2 = $r->{cas};
isnt($c2, $c1, 'cas changes on store');
is_status(cmd('set', 'nocas', store_ext(), 'x', 0, 77), $NF, 'cas on missing key: not found');
is_status(cmd('replace', 'c', store_ext(), 'v3', 0, $c1), $EX, 'replace with stale cas');
$r = cmd('replace', 'c', store_ext(), 'v3', 0, $c2);
is_status($r, 0, 'replace with right cas');
my $c3 = $r->{cas};
is_status(cmd('append', 'c', '', 'x', 0, $c1), $EX, 'append with stale cas');
$r = cmd('append', 'c', '', '+', 0, $c3);
is_status($r, 0, 'append with right cas');
my $c4 = $r->{cas};
is(cmd('get', 'c')->{val}, 'v3+', 'cas stores applied');
is_status(cmd('delete', 'c', '', '', 0, $c1), $EX, 'delete with stale cas');
is(cmd('get', 'c')->{val}, 'v3+', 'stale delete kept the item');
is_status(cmd('delete', 'c', '', '', 0, $c4), 0, 'delete with right cas');

# --- delete -------------------------------------------------------------
is_status(cmd('delete', 'k1'), 0, 'delete');
is_status(cmd('get', 'k1'), $NF, 'deleted item gone');
is_status(cmd('delete', 'k1'), $NF, 'delete missing: not found');
send_(frame('deleteq', 'q1', '', '', 21) . frame('deleteq', 'q1', '', '', 22)
      . frame('noop', '', '', '', 23));
$r = resp();
is($r->{opaque}, 22, 'deleteq: success silent, miss answered');
is_status($r, $NF, 'deleteq miss status');
is(resp()->{op}, 0x0a, 'noop after deleteq');

# --- incr / decr --------------------------------------------------------
$r = cmd('incr', 'n', arith_ext(1, 10, 0));
is_status($r, 0, 'incr missing creates');
is(unpack('Q>', $r->{val}), 10, 'created with the initial value');
ok($r->{cas}, 'incr returns a cas');
$r = cmd('incr', 'n', arith_ext(5, 0, 0));
is(unpack('Q>', $r->{val}), 15, 'incr');
$r = cmd('decr', 'n', arith_ext(3, 0, 0));
is(unpack('Q>', $r->{val}), 12, 'decr');
$r = cmd('decr', 'n', arith_ext(100, 0, 0));
is(unpack('Q>', $r->{val}), 0, 'decr stops at zero');
# memcached may leave a shrunk number space-padded (protocol.txt allows it)
like(cmd('get', 'n')->{val}, qr/^0 *$/, 'counter stored as text');
$r = cmd('decr', 'dn', arith_ext(1, 7, 0));
is(unpack('Q>', $r->{val}), 7, 'decr missing creates too');
is_status(cmd('incr', 'nocreate', arith_ext(1, 5, 0xffffffff)), $NF, 'expiry 0xffffffff: not found');
is_status(cmd('get', 'nocreate'), $NF, 'and nothing created');
is_status(cmd('set', 'wrap', store_ext(), '18446744073709551615'), 0, 'set 2^64-1');
is(unpack('Q>', cmd('incr', 'wrap', arith_ext(2, 0, 0))->{val}), 1, 'incr wraps at 2^64');
is_status(cmd('set', 'text', store_ext(), 'abc'), 0, 'set non-numeric');
$r = cmd('incr', 'text', arith_ext(1, 0, 0));
is_status($r, $NONNUM, 'incr non-numeric');
like($r->{val}, qr/non-numeric/i, 'non-numeric body');
$r = cmd('get', 'n');
is_status(cmd('incr', 'n', arith_ext(1, 0, 0), '', 0, $r->{cas} + 1000), $EX, 'incr with stale cas');
send_(frame('incrq', 'n', arith_ext(4, 0, 0), '', 31) . frame('decrq', 'n', arith_ext(1, 0, 0), '', 32)
      . frame('incrq', 'text', arith_ext(1, 0, 0), '', 33) . frame('noop', '', '', '', 34));
$r = resp();
is($r->{opaque}, 33, 'incrq/decrq success silent, failure answered');
is(resp()->{op}, 0x0a, 'noop after incrq');
like(cmd('get', 'n')->{val}, qr/^3 *$/, 'quiet arith applied');

# --- touch / gat --------------------------------------------------------
is_status(cmd('set', 't', store_ext(3), 'tv'), 0, 'set for touch');
$r = cmd('touch', 't', pack('N', 0));
is_status($r, 0, 'touch hit');
is($r->{val}, '', 'touch returns no value');
is(unpack('N', $r->{ext}), 3, 'touch returns flags');
is_status(cmd('touch', 'missing', pack('N', 0)), $NF, 'touch miss');
$r = cmd('gat', 't', pack('N', 0));
is($r->{val}, 'tv', 'gat value');
is($r->{key}, '', 'gat no key');
$r = cmd('gatk', 't', pack('N', 0));
is($r->{key}, 't', 'gatk key');
is($r->{val}, 'tv', 'gatk value');
is_status(cmd('gat', 'missing', pack('N', 0)), $NF, 'gat miss');
$r = cmd('gatk', 'missing', pack('N', 0));
is($r->{key}, 'missing', 'gatk miss carries the key');
send_(frame('gatq', 'missing', pack('N', 0), '', 41) . frame('gatkq', 'missing', pack('N', 0), '', 42)
      . frame('gatq', 't', pack('N', 0), '', 43) . frame('gatkq', 't', pack('N', 0), '', 44)
      . frame('noop', '', '', '', 45));
is(resp()->{opaque}, 43, 'gatq hit answered, miss silent');
is(resp()->{opaque}, 44, 'gatkq hit answered, miss silent');
is(resp()->{op}, 0x0a, 'noop after gatq');
# Expiry: touch to 1 second, GAT another to 1 second, set a third to live
# on; a delayed flush must not remove anything yet.
is_status(cmd('set', 'e1', store_ext(), 'a'), 0, 'set e1');
is_status(cmd('set', 'e2', store_ext(), 'b'), 0, 'set e2');
is_status(cmd('touch', 'e1', pack('N', 1)), 0, 'touch e1 to 1s');
is(cmd('gat', 'e2', pack('N', 1))->{val}, 'b', 'gat e2 to 1s');
is_status(cmd('set', 'live', store_ext(), 'x'), 0, 'set live');
is_status(cmd('flush', '', pack('N', 2)), 0, 'flush with delay');
is_status(cmd('get', 'live'), 0, 'delayed flush keeps items for now');
my $gone = 0;
for (1 .. 50) {
    select undef, undef, undef, 0.1;
    $gone = cmd('get', 'e1')->{status} == $NF && cmd('get', 'e2')->{status} == $NF;
    last if $gone;
}
ok($gone, 'touched and gat items expire');
my $flushed = 0;
for (1 .. 50) {
    $flushed = cmd('get', 'live')->{status} == $NF and last;
    select undef, undef, undef, 0.1;
}
ok($flushed, 'delayed flush takes effect');

# --- flush ----------------------------------------------------------------
is_status(cmd('set', 'f', store_ext(), 'x'), 0, 'set before flush');
is_status(cmd('flush'), 0, 'flush');
is_status(cmd('get', 'f'), $NF, 'flushed');
is_status(cmd('set', 'f', store_ext(), 'x'), 0, 'set before flushq');
send_(frame('flushq', '', '', '', 51) . frame('noop', '', '', '', 52));
is(resp()->{opaque}, 52, 'flushq silent');
is_status(cmd('get', 'f'), $NF, 'flushq flushed');

# --- stat -----------------------------------------------------------------
send_(frame('stat', '', '', '', 61));
my %st;
while (1) {
    $r = resp() or last;
    last if $r->{keylen} == 0;
    $st{$r->{key}} = $r->{val};
}
ok(defined $r && $r->{keylen} == 0 && $r->{bodylen} == 0, 'stat ends with an empty response');
is($r->{opaque}, 61, 'stat terminator opaque');
like($st{pid} // '', qr/^\d+$/, 'stat pid');
ok(($st{cmd_get} // 0) > 0, 'stat cmd_get counted');
ok(($st{cmd_set} // 0) > 0, 'stat cmd_set counted');
send_(frame('stat', 'settings'));
%st = ();
while ($r = resp()) { last if $r->{keylen} == 0; $st{$r->{key}} = $r->{val} }
is($st{tcpport}, $port, 'stat settings group');
$r = cmd('stat', 'reset');
ok($r->{status} == 0 && $r->{keylen} == 0, 'stat reset answers only the terminator');
is_status(cmd('stat', 'nosuchgroup'), $NF, 'unknown stat group: not found');

# --- verbosity (memcached 1.6.18 never answers it) ------------------------
if ($mcd) {
    is_status(cmd('verbosity', '', pack('N', 0)), 0, 'verbosity');
}

# --- errors keep the stream in step ---------------------------------------
$r = cmd(0x50, '', '', 'junk', 71);
is_status($r, $UNKNOWN, 'unknown opcode');
is($r->{opaque}, 71, 'unknown opcode opaque');
like($r->{val}, qr/\[E3004\]$/, 'unknown opcode code') if $mcd;
is_status(cmd('noop'), 0, 'in step after unknown opcode');
for my $op (qw(sasl_list sasl_auth sasl_step)) {
    my @kv = $op eq 'sasl_list' ? () : ('PLAIN', '', "\0u\0p");
    is_status(cmd($op, @kv), $UNKNOWN, "$op: unknown command");
}
is_status(cmd('noop'), 0, 'in step after sasl');
is_status(cmd('set', 'huge', store_ext(), 'old'), 0, 'set a value a refused set replaces');
$r = cmd('set', 'huge', store_ext(), 'x' x (1024 * 1024 + 1));
is_status($r, $TOOBIG, 'value over -I: too large');
like($r->{val}, qr/\[E2101\]$/, 'too large code') if $mcd;
is_status(cmd('noop'), 0, 'in step after too large');
is_status(cmd('get', 'huge'), $NF, 'too large set stored nothing and dropped the stale value');
is_status(cmd('set', 'keep', store_ext(), 'kept'), 0, 'set before the errors');
$r = cmd('get', 'keep', pack('N', 0));
is_status($r, $INVAL, 'extras on get: invalid');
like($r->{val}, qr/\[E3006\]$/, 'extras code') if $mcd;
$s = connect_() unless $mcd;    # memcached closed it after the bad frame
if ($mcd) {
    # memcached closes the connection after these; mcd answers and goes on.
    is_status(cmd('noop'), 0, 'in step after bad extras');
    is_status(cmd('set', 'keep', '', 'v'), $INVAL, 'set without extras');
    is_status(cmd('get', ''), $INVAL, 'get without key');
    is_status(cmd('noop', 'key'), $INVAL, 'noop with a key');
    is_status(cmd('noop', '', '', 'value'), $INVAL, 'noop with a value');
    $r = cmd('get', 'k' x 251, '', '', 72);
    is_status($r, $INVAL, 'key over 250 bytes');
    like($r->{val}, qr/\[E3003\]$/, 'key too long code');
    is_status(cmd('noop'), 0, 'in step after broken headers');
    # A header whose body is shorter than its own key: where the next frame
    # starts cannot be known, so it is answered as memcached answers it
    # (unknown command) and the connection closed.
    send_(pack('CCnCCnNNQ>', 0x80, 0, 10, 0, 0, 0, 4, 73, 0) . 'abcd');
    $r = resp();
    is_status($r, $UNKNOWN, 'body shorter than key: unknown command, as memcached');
    like($r->{val}, qr/\[E3002\]$/, 'body length code');
    eof_ok($s, 'body shorter than key: the connection is closed');
    $s = connect_();
    is(cmd('get', 'keep')->{val}, 'kept', 'errors lost no data');
}

# --- bad magic closes -----------------------------------------------------
if ($mcd) {
    my $b = connect_();
    send_($b, frame('noop'));
    is_status(resp($b), 0, 'fresh binary connection');
    send_($b, "get foo\r\n" . ("\0" x 24));
    $r = resp($b);
    is_status($r, $INVAL, 'bad magic answered');
    like($r->{val}, qr/\[E3001\]$/, 'bad magic code');
    eof_ok($b, 'bad magic closes the connection');
}

# --- quit -------------------------------------------------------------------
{
    my $q = connect_();
    send_($q, frame('noop', '', '', '', 81) . frame('quit', '', '', '', 82) . frame('noop', '', '', '', 83));
    is(resp($q)->{opaque}, 81, 'noop before quit');
    $r = resp($q);
    is($r->{op}, 0x07, 'quit answered');
    is($r->{opaque}, 82, 'quit opaque');
    eof_ok($q, 'quit closes, later frames ignored');
    $q = connect_();
    send_($q, frame('setq', 'qq', store_ext(), 'kept', 84) . frame('quitq', '', '', '', 85));
    eof_ok($q, 'quitq closes without a reply');
    is(cmd('get', 'qq')->{val}, 'kept', 'setq before quitq was applied');
}

# --- pipelining and quiet batching ------------------------------------------
{
    my $batch = '';
    $batch .= frame('setq', "p$_", store_ext($_), "value$_", 1000 + $_) for 1 .. 200;
    $batch .= frame('getq', ($_ % 2 ? "p$_" : "absent$_"), '', '', 2000 + $_) for 1 .. 200;
    $batch .= frame('noop', '', '', '', 3000);
    send_($batch);
    my ($n, $inorder, $right) = (0, 1, 1);
    my $want = 2001;
    while ($r = resp()) {
        last if $r->{op} == 0x0a;
        $n++;
        $inorder = 0 unless $r->{opaque} == $want;
        my $i = $r->{opaque} - 2000;
        $right = 0 unless $r->{val} eq "value$i" && unpack('N', $r->{ext}) == $i;
        $want += 2;
    }
    is($n, 100, 'quiet batch: only the 100 hits answered');
    ok($inorder, 'quiet batch answers in request order');
    ok($right, 'quiet batch values and flags');
    is($r && $r->{opaque}, 3000, 'quiet batch ends with the noop');

    $batch = join '', map { frame('get', "p$_", '', '', $_) } 1 .. 200;
    send_($batch);
    my $ok = 1;
    for my $i (1 .. 200) {
        $r = resp();
        $ok = 0 unless $r && $r->{opaque} == $i && $r->{val} eq "value$i";
    }
    ok($ok, '200 pipelined gets in one write, answered in order');
}

# --- a frame split across many small writes --------------------------------
{
    my $val = 'z' x 3000;
    my $f = frame('set', 'split', store_ext(5), $val, 91) . frame('getk', 'split', '', '', 92);
    for (my $i = 0; $i < length $f; $i += 7) {
        syswrite $s, substr($f, $i, 7);
        select undef, undef, undef, 0.0005 if $i % 70 == 0;
    }
    is_status(resp(), 0, 'split set stored');
    $r = resp();
    is($r->{opaque}, 92, 'split getk answered');
    ok($r->{val} eq $val && $r->{key} eq 'split', 'split value intact');
    # A header alone, byte by byte.
    syswrite $s, $_ for split //, frame('noop', '', '', '', 93);
    is(resp()->{opaque}, 93, 'header sent byte by byte');
}

# --- the same port speaks text ---------------------------------------------
{
    my $t = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die;
    print $t "get p1\r\n";
    is(scalar <$t>, "VALUE p1 1 6\r\n", 'text client sees binary-stored item');
    is(scalar <$t>, "value1\r\n", 'text data');
    is(scalar <$t>, "END\r\n", 'text end');
}

# --- fault injection: no memory for the binary state ------------------------
if ($mcd) {
    my $fsrv = new_server('-o', 'fault=ERR_BIN_STATE_MALLOC:1');
    my $fport = $fsrv->port;
    my $f;
    for (1 .. 500) {
        $f = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$fport") and last;
        select undef, undef, undef, 0.02;
    }
    send_($f, frame('noop'));
    eof_ok($f, 'binary state allocation failure closes the connection');
    my $t = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$fport") or die;
    print $t "stats errors\r\n";
    my $seen = 0;
    while (my $line = <$t>) {
        last if $line eq "END\r\n";
        $seen = 1 if $line =~ /^STAT E3010:ERR_BIN_STATE_MALLOC [1-9]/;
    }
    ok($seen, 'the failure is counted at its site') or diag "no E3010 in stats errors";
    $fsrv->stop;
}

# --- stop -----------------------------------------------------------------
my $st = $srv->stop;
ok(!$srv->was_killed, 'server exits on SIGTERM');
is(($st // 0) >> 8, 0, 'exit status 0') unless $srv->was_killed;
done_testing();
