#!/usr/bin/perl
# Round trips through pylibmc (libmemcached from Python), in text mode and
# in binary mode; the binary protocol is probed with `memccapable -b` first
# so a failure there is reported as such.
#
# The Python script prints "PASS name" / "FAIL name: detail" lines and a
# final "DONE"; each line becomes one TAP assertion here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my $PY = '/usr/bin/python3';    # Debian's, which has the python3-* packages
plan skip_all => "$PY not found" unless -x $PY;
system($PY, '-c', 'import pylibmc') == 0
    or plan skip_all => "pylibmc is not installed for $PY (apt-get install python3-pylibmc)";

my $script = <<'PY';
import signal, sys, time
import pylibmc

host, port, mode, timeout_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# a wall-clock bound: SIGALRM's default action ends the script, and the
# checks it did not reach are reported missing
signal.alarm(int(sys.argv[5]))
binary = mode == "binary"

def check(name, cond, detail=""):
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else ": " + repr(detail)), flush=True)

def attempt(name, fn, want):
    try:
        got = fn()
    except Exception as e:
        check(name, False, "%s: %s" % (type(e).__name__, e))
        return None
    check(name, got == want, got)
    return got

c = pylibmc.Client(["%s:%s" % (host, port)], binary=binary,
                   behaviors={"cas": True, "connect_timeout": timeout_ms,
                              "receive_timeout": timeout_ms * 1000,
                              "send_timeout": timeout_ms * 1000})
attempt("flush_all", lambda: c.flush_all(), True)

# set / get
attempt("set", lambda: c.set("k1", b"v1"), True)
attempt("get", lambda: c.get("k1"), b"v1")
attempt("get missing", lambda: c.get("missing"), None)
attempt("set str", lambda: c.set("s", "text"), True)
attempt("get str", lambda: c.get("s"), "text")
attempt("set int", lambda: c.set("i", 42), True)
attempt("get int", lambda: c.get("i"), 42)
attempt("set pickled", lambda: c.set("p", {"a": [1, 2]}), True)
attempt("get pickled", lambda: c.get("p"), {"a": [1, 2]})
blob = bytes(range(256)) * 64 + b"\r\nEND\r\n"
attempt("set binary value", lambda: c.set("blob", blob), True)
attempt("get binary value", lambda: c.get("blob"), blob)
attempt("set with expiry", lambda: c.set("exp", b"x", time=100), True)

# multi-get / multi-set / multi-delete
many = {"m%d" % i: ("val%d" % i).encode() for i in range(100)}
attempt("set_multi", lambda: c.set_multi(many), [])
attempt("get_multi", lambda: c.get_multi(list(many) + ["nope"]), many)
attempt("get_multi with prefix", lambda: c.get_multi(["1", "2"], key_prefix="m"),
        {"1": b"val1", "2": b"val2"})
attempt("delete_multi", lambda: c.delete_multi(["m1", "m2"]), True)
attempt("deleted by delete_multi", lambda: c.get_multi(["m1", "m2", "m3"]), {"m3": b"val3"})

# add / replace / append / prepend
attempt("add existing", lambda: c.add("k1", b"x"), False)
attempt("add new", lambda: c.add("k2", b"v2"), True)
attempt("replace", lambda: c.replace("k2", b"v2b"), True)
def replace_missing():
    try:
        return c.replace("nope", b"x")
    except pylibmc.NotFound:        # what libmemcached says in binary mode
        return False
attempt("replace missing", replace_missing, False)
attempt("append", lambda: c.append("k1", b"-tail"), True)
attempt("prepend", lambda: c.prepend("k1", b"head-"), True)
attempt("append/prepend value", lambda: c.get("k1"), b"head-v1-tail")

# gets / cas
got = attempt("gets", lambda: c.gets("k1")[0], b"head-v1-tail")
try:
    v, cas = c.gets("k1")
    check("gets gives a cas", isinstance(cas, int) and cas > 0, cas)
    attempt("cas with the current unique", lambda: c.cas("k1", b"casval", cas), True)
    attempt("cas with a stale unique", lambda: c.cas("k1", b"other", cas), False)
    attempt("value after cas", lambda: c.get("k1"), b"casval")
except Exception as e:
    for n in ("gets gives a cas", "cas with the current unique", "cas with a stale unique",
              "value after cas"):
        check(n, False, "%s: %s" % (type(e).__name__, e))

# incr / decr
attempt("set counter", lambda: c.set("n", b"10"), True)
attempt("incr", lambda: c.incr("n", 5), 15)
attempt("decr", lambda: c.decr("n", 3), 12)
attempt("decr floors at 0", lambda: c.decr("n", 100), 0)
def incr_missing():
    try:
        return c.incr("nope", 1)
    except pylibmc.NotFound:
        return "NotFound"
attempt("incr missing", incr_missing, "NotFound")
attempt("incr_multi", lambda: (c.set_multi({"a": b"1", "b": b"2"}),
                               c.incr_multi(["a", "b"], delta=10),
                               c.get_multi(["a", "b"]))[2], {"a": b"11", "b": b"12"})

# touch / delete
attempt("touch", lambda: c.touch("k2", 100), True)
attempt("touch missing", lambda: c.touch("nope", 100), False)
# (an absolute time: the binary protocol's exptime is unsigned, so no -1)
attempt("touch into the past", lambda: (c.touch("k2", int(time.time()) - 1000), c.get("k2"))[1], None)
attempt("delete", lambda: c.delete("k1"), True)
attempt("delete missing", lambda: c.delete("k1"), False)
attempt("get deleted", lambda: c.get("k1"), None)

# large values and stats
large = b"L" * (500 * 1024)
attempt("set 500 KB", lambda: c.set("large", large), True)
attempt("get 500 KB", lambda: c.get("large"), large)
def stats_items():
    st = c.get_stats()
    return int(st[0][1].get("curr_items", b"-1")) > 0
attempt("get_stats", stats_items, True)
print("DONE", flush=True)
PY

my %expected = map { $_ => 1 } $script =~ /(?:attempt|check)\("([^"]+)"/g;
delete $expected{name};

# run the script in one mode; every line is one assertion
sub run_mode {
    my ($server, $mode, $timeout_ms, $wall) = @_;
    open(my $fh, '-|', $PY, '-c', $script, '127.0.0.1', $server->port, $mode, $timeout_ms, $wall)
        or die "cannot run $PY: $!";
    my (%seen, $done);
    while (my $line = <$fh>) {
        chomp $line;
        if ($line =~ /^PASS (.*)$/) { pass("pylibmc $mode: $1"); $seen{$1}++ }
        elsif ($line =~ /^FAIL (([^:]*).*)$/) { fail("pylibmc $mode: $1"); $seen{$2}++ }
        elsif ($line eq 'DONE') { $done = 1 }
        else { diag "python: $line" }
    }
    close $fh;
    is($?, 0, "pylibmc $mode: script exited 0 (within ${wall} s)");
    ok($done, "pylibmc $mode: script ran to the end");
    is_deeply([sort keys %seen], [sort keys %expected], "pylibmc $mode: every check reported once")
        or diag explain { missing => [grep { !$seen{$_} } keys %expected] };
}

# Does this server speak the binary protocol well enough? memccapable -b.
sub binary_ok {
    my ($server) = @_;
    my $cap = '/usr/bin/memccapable';
    return (0, "memccapable not installed") unless -x $cap;
    my ($st, $out, $err) = run_bin(['-h', '127.0.0.1', '-p', $server->port, '-b', '-t', '5'],
                                   bin => $cap, timeout => 15);
    return (1, "") if $st == 0 && "$out$err" =~ /All tests passed/;
    return (0, "memccapable -b does not pass against this server");
}

{
    my $server = new_server();
    run_mode($server, "text", 5000, 40);
    ok($server->alive, "server survived pylibmc text mode") unless $server->is_external;
}

{
    my $probe = new_server();
    my ($bin_ok, $why) = binary_ok($probe);
    $probe->stop unless $probe->is_external;
    my $server = new_server();
    ok($bin_ok, "the server speaks the binary protocol") or diag $why;
    run_mode($server, "binary", $bin_ok ? 5000 : 200, $bin_ok ? 40 : 15);
    ok($server->alive, "server survived pylibmc binary mode") unless $server->is_external;
    my $s = $server->new_sock;
    like(send_recv($s, "version\r\n"), qr/^VERSION /, "text commands still answered after binary mode");
}

done_testing();
