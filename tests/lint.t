#!/bin/bash
# The error-registry lint as a TAP test (see scripts/lint-errors.sh).
cd "$(dirname "$0")/.." || exit 1
exec scripts/lint-errors.sh "${MCD_GEN_ERRORS_MAN:-build/gen-errors-man}"
