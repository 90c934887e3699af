#!/bin/bash
# The error-registry lint, printed as TAP:
#  1. codes and messages in mcd/errors.def are unique (gen-errors-man --check)
#  2. every declared site is raised somewhere in the code
#  3. no error reply text is written outside the registry
#  4. man/mcd-errors.7 is identical to what the table generates
set -u
gen=${1:?usage: lint-errors.sh GEN-ERRORS-MAN}
cd "$(dirname "$0")/.." || exit 1
echo "1..4"

if names=$("$gen" --check); then
    echo "ok 1 - error codes and messages are unique"
else
    echo "not ok 1 - error codes or messages are duplicated"
fi

unused=""
for n in $names; do
    grep -rw --include="*.c" --include="*.h" "$n" mcd introspect 2>/dev/null | grep -qv "err_total\|err_read" || unused="$unused $n"
done
if [ -z "$unused" ]; then
    echo "ok 2 - every error site is raised in the code"
else
    echo "not ok 2 - sites declared but never raised:$unused"
fi

stray=$(grep -rnE '"(SERVER_ERROR|CLIENT_ERROR|ERROR)[ :]' --include='*.c' mcd introspect 2>/dev/null | grep -v 'errors\.c:')
if [ -z "$stray" ]; then
    echo "ok 3 - no error text outside mcd/errors.def"
else
    echo "not ok 3 - error text written outside the registry:"
    printf '%s\n' "$stray" | sed 's/^/# /'
fi

if "$gen" | cmp -s - man/mcd-errors.7; then
    echo "ok 4 - man/mcd-errors.7 matches mcd/errors.def"
else
    echo "not ok 4 - man/mcd-errors.7 is stale: run make man"
fi
