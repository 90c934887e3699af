#!/usr/bin/perl
# Round trips through a real client library: Python's pymemcache.
# The Python script prints "PASS name" / "FAIL name: detail" lines and a
# final "DONE"; each line becomes one TAP assertion here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McdTest;

my $PY = '/usr/bin/python3';
plan skip_all => "$PY not found" unless -x $PY;
system($PY, '-c', 'import pymemcache') == 0
    or plan skip_all => "pymemcache is not installed for $PY (apt-get install python3-pymemcache)";

my $server = new_server();
my $script = <<'PY';
import sys
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError, MemcacheServerError

host, port = sys.argv[1], int(sys.argv[2])
results = []

def check(name, cond, detail=""):
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else ": " + repr(detail)), flush=True)

c = Client((host, port), connect_timeout=5, timeout=5, default_noreply=False)
nr = Client((host, port), connect_timeout=5, timeout=5)   # default_noreply=True

check("version", c.version().startswith(b"") and len(c.version()) > 0, c.version())
check("flush_all", c.flush_all() is True)

# set / get
check("set", c.set("k1", b"v1") is True)
check("get", c.get("k1") == b"v1", c.get("k1"))
check("get missing", c.get("missing") is None)
check("get missing default", c.get("missing", default=b"d") == b"d")
check("set with flags via serde-less client", c.set("k2", b"v2", expire=100) is True)
check("set noreply client", nr.set("k3", b"v3") is True)
check("get after noreply set (same connection)", nr.get("k3") == b"v3")
check("get after noreply set (other connection)", c.get("k3") == b"v3")

# get_many
got = c.get_many(["k1", "k2", "k3", "nope"])
check("get_many", got == {"k1": b"v1", "k2": b"v2", "k3": b"v3"}, got)
check("get_many empty", c.get_many([]) == {})
many = {"m%d" % i: ("val%d" % i).encode() for i in range(200)}
check("set_many", c.set_many(many) == [], "failed keys")
check("get_many 200", c.get_many(list(many)) == many)

# add / replace
check("add existing", c.add("k1", b"x") is False)
check("add new", c.add("k4", b"v4") is True)
check("replace existing", c.replace("k4", b"v4b") is True)
check("replace missing", c.replace("nope", b"x") is False)
check("value after replace", c.get("k4") == b"v4b")

# append / prepend
check("append", c.append("k1", b"-tail") is True)
check("prepend", c.prepend("k1", b"head-") is True)
check("append/prepend value", c.get("k1") == b"head-v1-tail", c.get("k1"))
check("append missing", c.append("nope", b"x") is False)
check("prepend missing", c.prepend("nope", b"x") is False)

# gets / cas
v, cas = c.gets("k1")
check("gets", v == b"head-v1-tail" and cas is not None and int(cas) > 0, (v, cas))
check("cas ok", c.cas("k1", b"casval", cas) is True)
check("cas stale", c.cas("k1", b"other", cas) is False)
check("cas missing", c.cas("nope", b"x", cas) is None)
check("value after cas", c.get("k1") == b"casval")
got = c.gets_many(["k1", "k4"])
check("gets_many", set(got) == {"k1", "k4"} and all(t[1] is not None for t in got.values()), got)

# incr / decr
c.set("n", b"10")
check("incr", c.incr("n", 5) == 15)
check("decr", c.decr("n", 3) == 12)
check("decr floors at 0", c.decr("n", 100) == 0)
check("incr missing", c.incr("nope", 1) is None)
check("decr missing", c.decr("nope", 1) is None)
c.set("big", b"18446744073709551615")
check("incr wraps", c.incr("big", 1) == 0)
c.set("txt", b"abc")
try:
    c.incr("txt", 1)
    check("incr non-numeric raises", False, "no exception")
except MemcacheClientError as e:
    check("incr non-numeric raises", "non-numeric" in str(e), str(e))

# touch / delete
check("touch", c.touch("k4", 100) is True)
check("touch missing", c.touch("nope", 100) is False)
check("delete", c.delete("k4") is True)
check("delete missing", c.delete("k4") is False)
check("get deleted", c.get("k4") is None)
check("delete_many", c.delete_many(["m1", "m2"]) is True)
check("deleted by delete_many", c.get("m1") is None and c.get("m3") == b"val3")
check("touch with -1 expires", c.touch("k2", -1) is True and c.get("k2") is None)

# binary and large values
blob = bytes(range(256)) * 4 + b"\r\nEND\r\n"
check("set binary", c.set("bin", blob) is True)
check("get binary", c.get("bin") == blob)
large = b"L" * (500 * 1024)
check("set 500 KB", c.set("large", large) is True)
check("get 500 KB", c.get("large") == large)
try:
    r = c.set("toolarge", b"x" * (2 * 1024 * 1024))
    check("set over item_size_max refused", r is False, r)
except MemcacheServerError as e:
    check("set over item_size_max refused", "too large" in str(e), str(e))
check("connection usable after refusal", c.get("bin") == blob)

# stats
st = c.stats()
check("stats", b"curr_items" in st or "curr_items" in st, list(st)[:5])
check("stats settings", len(c.stats("settings")) > 0)

# noreply client pipeline keeps in order
for i in range(100):
    nr.set("nr%d" % i, str(i).encode())
# (a get on the same connection orders after the sets)
check("noreply client still answers gets", nr.get("nr99") == b"99")
check("noreply sets landed", c.get("nr50") == b"50" and c.get("nr0") == b"0")

c.close(); nr.close()
print("DONE", flush=True)
PY

open(my $fh, '-|', $PY, '-c', $script, '127.0.0.1', $server->port)
    or die "cannot run $PY: $!";
my %expected = map { $_ => 1 } $script =~ /check\("([^"]+)"/g;
my %seen;
my $done = 0;
while (my $line = <$fh>) {
    chomp $line;
    if ($line =~ /^PASS (.*)$/) { pass("pymemcache: $1"); $seen{$1}++ }
    elsif ($line =~ /^FAIL (([^:]*).*)$/) { fail("pymemcache: $1"); $seen{$2}++ }
    elsif ($line eq 'DONE') { $done = 1 }
    else { diag "python: $line" }
}
close $fh;
my $status = $?;
is($status, 0, "pymemcache script exited 0");
ok($done, "pymemcache script ran to the end");
is_deeply([sort keys %seen], [sort keys %expected], "every check in the script reported once")
    or diag explain { missing => [grep { !$seen{$_} } keys %expected] };

done_testing();
