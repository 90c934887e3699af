#!/bin/bash
# The fuzz smoke pass as TAP, one test per harness: build every
# tests/fuzz/fuzz_*.c (make fuzz-build), then run each over its committed
# corpus (tests/fuzz/corpus/<harness>/, regression inputs included) plus
# FUZZ_SMOKE_SECONDS (default 5) of fuzzing. Harnesses run FUZZ_JOBS
# (default 2) at a time. Skipped when clang is not installed.
# A crash leaves its input in build-fuzz/crash-<harness>-*; replay it with
#   build-fuzz/<harness> build-fuzz/crash-<harness>-<hash>
cd "$(dirname "$0")/.." || exit 1
FUZZ_CC=${FUZZ_CC:-clang}
secs=${FUZZ_SMOKE_SECONDS:-5}
jobs=${FUZZ_JOBS:-2}
out=build-fuzz

if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
    echo "1..0 # SKIP clang not installed"
    exit 0
fi

# The build is ours, not the calling make's: drop its flags (jobserver,
# BUILD=/SAN= of make asan) so they do not leak into the fuzz build.
mkdir -p "$out"
if ! env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -j"$jobs" fuzz-build \
        FUZZ_CC="$FUZZ_CC" >"$out/smoke-build.log" 2>&1; then
    echo "1..1"
    echo "not ok 1 - fuzz harnesses build"
    sed 's/^/# /' "$out/smoke-build.log" | tail -40
    exit 0
fi

harnesses=()
for src in tests/fuzz/fuzz_*.c; do
    harnesses+=("$(basename "$src" .c)")
done
echo "1..${#harnesses[@]}"

run_one() {
    local n=$1 work="$out/smoke/$1"
    rm -rf "$work"
    mkdir -p "$work/corpus"
    local dict=()
    [ -f "tests/fuzz/$n.dict" ] && dict=("-dict=tests/fuzz/$n.dict")
    # New inputs go to the scratch corpus (first directory), never into
    # the committed one.
    "$out/$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        "${dict[@]}" -artifact_prefix="$out/crash-$n-" \
        "$work/corpus" "tests/fuzz/corpus/$n" >"$work/log" 2>&1
    echo $? >"$work/rc"
}

running=0
for n in "${harnesses[@]}"; do
    run_one "$n" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

i=0
for n in "${harnesses[@]}"; do
    i=$((i + 1))
    work="$out/smoke/$n"
    rc=$(cat "$work/rc" 2>/dev/null || echo 1)
    seeds=$(find "tests/fuzz/corpus/$n" -type f 2>/dev/null | wc -l)
    runs=$(grep -o 'Done [0-9]* runs' "$work/log" | tail -1 | cut -d' ' -f2-)
    if [ "$rc" = 0 ]; then
        echo "ok $i - $n: $seeds corpus inputs, ${runs:-no summary} in ${secs}s"
    else
        echo "not ok $i - $n: exit $rc (log: $work/log)"
        grep -E '^(==[0-9]+==|SUMMARY|.*check failed|fuzz:|artifact_prefix|Test unit written|    #[0-9]+ )' \
            "$work/log" | head -16 | sed 's/^/# /'
    fi
done
