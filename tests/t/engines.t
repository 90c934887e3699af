#!/usr/bin/perl
# Every engine serves the same protocol: a representative subset of the
# integration suite runs again against the heap engine, built in and
# loaded from build/engines/heap.so (one ok per file; `make test-engines`
# runs the whole suite per engine). Then loading engines: an unknown name
# exits 64, a .so without the entry point or built for another ABI exits
# 70 with a message that says so.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest timeout => 300;
use File::Temp ();

plan skip_all => 'engines are mcd\'s' unless mcd_only() && !external();
plan skip_all => 'already running under another engine' if engine() ne 'slab';

my $root = repo_root();
my $so = $ENV{MCD_ENGINE_SO} // "$root/build/engines/heap.so";
my @subset = qw(text_storage text_arith text_expiry text_eviction cas_concurrency
                meta admin text_delete_flush regress_evict_active differential
                history_evictions);

sub run_file {
    my ($engine, $name) = @_;
    local $ENV{MCD_ENGINE} = $engine;
    my $out = `$^X $FindBin::Bin/$name.t 2>&1`;
    my $rc = $?;
    ok($rc == 0, "$name.t passes on engine $engine") or diag($out);
}

run_file('heap', $_) for @subset;
SKIP: {
    skip "$so not built (make engines)", 2 unless -f $so;
    run_file($so, $_) for qw(text_storage meta);
}

# --- choosing an engine ---------------------------------------------------
{
    my ($rc, $out, $err) = run_bin(['-o', 'engine=nosuch']);
    is($rc >> 8, 64, 'an unknown engine name exits 64');
    like($err, qr/unknown storage engine: 'nosuch'/, 'and names it');
}

my $dir = File::Temp->newdir();
sub build_so {
    my ($name, $src) = @_;
    open my $fh, '>', "$dir/$name.c" or die $!;
    print $fh $src;
    close $fh;
    system('cc', '-shared', '-fPIC', '-o', "$dir/$name.so", "$dir/$name.c") == 0
        or die "cannot build $name.so";
    return "$dir/$name.so";
}

{
    # struct engine begins with its ABI version; this one claims 999
    my $bad = build_so('bad_abi', <<'C');
struct fake { int abi_version; const char *name; };
static const struct fake e = { 999, "bad" };
const void *mcd_engine_entry(int abi) { (void)abi; return &e; }
C
    my ($rc, $out, $err) = run_bin(['-o', "engine=$bad"]);
    is($rc >> 8, 70, 'an engine built for another ABI exits 70');
    like($err, qr/storage engine ABI version mismatch: .*built for engine ABI 999, this mcd speaks ABI \d+/,
         'and says which versions');

    my $refuses = build_so('refuses', "const void *mcd_engine_entry(int abi) { (void)abi; return 0; }\n");
    ($rc, $out, $err) = run_bin(['-o', "engine=$refuses"]);
    is($rc >> 8, 70, 'an engine refusing this ABI exits 70');
    like($err, qr/refused engine ABI/, 'and says so');

    my $none = build_so('no_entry', "int not_an_engine(void) { return 1; }\n");
    ($rc, $out, $err) = run_bin(['-o', "engine=$none"]);
    is($rc >> 8, 70, 'a .so without mcd_engine_entry exits 70');
    like($err, qr/has no entry point/, 'and says so');

    ($rc, $out, $err) = run_bin(['-o', "engine=$dir/missing.so"]);
    is($rc >> 8, 70, 'a missing .so exits 70');
    like($err, qr/could not be loaded/, 'and says so');
}

SKIP: {
    skip "$so not built", 2 unless -f $so;
    my $srv = new_server('-o', "engine=$so");
    my $s = $srv->sock;
    set_ok($s, 'k', 'v');
    is(mem_stats($s, 'settings')->{engine}, 'heap', 'the loaded engine serves and names itself');
}

done_testing();
