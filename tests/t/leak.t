#!/usr/bin/perl
# A reference that never comes back (fault injection) is found by the
# locked-item dump, flagged as a suspected leak, with where it was taken;
# references that are explained (a slow client) are not flagged.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use McdTest;
use McdAdmin;

plan skip_all => 'the locked dump is mcd\'s' unless mcd_only() && !external();

my $path = "/tmp/mcd-leak-$$.admin";
my $srv = new_server('-o', "admin_socket=$path,fault=ERR_TEST_LEAK_REF:3");
my $s = $srv->sock;
set_ok($s, "k$_", "v$_") for 1 .. 6;
mem_get_is($s, "k$_", "v$_") for 1 .. 6;     # the 3rd and 6th get leak

my $l = admin_request($path, 'locked')->{data};
is($l->{suspected_leaks}, 2, 'two suspected leaks');
my %leaked = map { ($_->{key} // '') => $_ } grep { $_->{suspected_leak} } @{ $l->{items} };
is_deeply([sort keys %leaked], ['k3', 'k6'], 'the leaked items are named');
is($leaked{k3}{unexplained}, 1, 'one reference unexplained');
is($leaked{k3}{refcount}, 2, 'refcount above resting');
like($leaked{k3}{recent_takes}[0]{site} // '', qr/^mcd\/proto_text\.c:\d+$/, 'where the reference was taken');
my $e = admin_request($path, 'errors')->{data}{sites};
my ($site) = grep { $_->{code} == 6098 } @$e;
is($site->{count}, 2, 'the injected leaks are counted at their site');
mem_get_is($s, 'k3', 'v3', 'a leaked item is still served');
done_testing();
