# mcd - a memcached-compatible cache server whose inside can be seen.
#
#   make            build mcd/mcd
#   make run        build, then run mcd on 127.0.0.1:11211 in the foreground
#   make test       build and run every test under prove (one TAP summary)
#   make test-engines  the integration suite once per engine (slab, heap, heap.so)
#   make asan/tsan  the same suite under AddressSanitizer+UBSan / ThreadSanitizer
#   make valgrind   the integration suite with mcd under memcheck (slow)
#   make deps       install missing Debian packages (as root), or name them
#   make man        regenerate man/mcd-errors.7 from mcd/errors.def
#   make lint       the error-registry lint (part of make test)
#   make clean

CC ?= cc
BUILD ?= build
OPT ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS_ALL = -std=gnu11 $(OPT) $(WARN) -pthread -D_GNU_SOURCE $(SAN) $(CFLAGS)
LDLIBS_MCD = -levent -levent_pthreads -ljansson -ldl -pthread $(LDLIBS)
# Engines loaded with -o engine=x.so call back into the server's functions.
LDFLAGS_MCD = -rdynamic
DEPS_OK = $(BUILD)/.deps-ok

ifeq ($(V),1)
Q =
else
Q = @
endif

MCD_SRCS := $(wildcard mcd/*.c mcd/engine/*/*.c introspect/*.c)
MCD_OBJS := $(MCD_SRCS:%.c=$(BUILD)/%.o)
MCD_LIB_OBJS := $(filter-out $(BUILD)/mcd/main.o,$(MCD_OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run test asan tsan deps man lint clean unit prove check-deps fuzz engines test-engines

# The server binary: mcd/mcd for the normal build, inside the build folder
# for the sanitizer builds so they never overwrite each other.
BIN ?= mcd/mcd

all: $(BIN)

$(BIN): $(MCD_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS_MCD) -o $@ $^ $(LDLIBS_MCD)

# The heap engine again, as a loadable engine (-o engine=$(ENGINE_SO)):
# everything hidden but mcd_engine_entry, so its functions never bind to
# the built-in heap engine's copies inside the server.
HEAP_SRCS := $(wildcard mcd/engine/heap/*.c)
ENGINE_SO := $(BUILD)/engines/heap.so

$(ENGINE_SO): $(HEAP_SRCS) $(wildcard mcd/engine/heap/*.h mcd/engine/*.h mcd/*.h) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@echo "  SO      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -shared -fvisibility=hidden -DMCD_ENGINE_SHARED -o $@ $(HEAP_SRCS)

engines: $(ENGINE_SO)

$(BUILD)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

# Rebuild everything when the compiler or flags change.
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS_ALL)' | cmp -s - $@ || echo '$(CC) $(CFLAGS_ALL)' > $@
FORCE:

-include $(MCD_OBJS:.o=.d)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(MCD_LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -Imcd -o $@ $^ -lcmocka $(LDLIBS_MCD)

# ---------------------------------------------------------------------------
# mcadmin, the operator's CLI: shares no code with the server, only the
# admin socket's JSON. Built by `all` and before `make test`, whose .t files
# find it through MCADMIN_BIN. Sanitizer builds keep theirs in $(BUILD).
MCADMIN_SRCS := $(wildcard mcadmin/*.c)
MCADMIN_OBJS := $(MCADMIN_SRCS:%.c=$(BUILD)/%.o)
MCADMIN := $(if $(filter mcd/mcd,$(BIN)),mcadmin/mcadmin,$(BUILD)/mcadmin-bin)
export MCADMIN_BIN := $(abspath $(MCADMIN))

all test: $(MCADMIN)

$(MCADMIN): $(MCADMIN_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ -lreadline -ljansson -lm $(LDLIBS)

-include $(MCADMIN_OBJS:.o=.d)

clean: clean-mcadmin
.PHONY: clean-mcadmin
clean-mcadmin:
	rm -f mcadmin/mcadmin
# ---------------------------------------------------------------------------

deps:
	@scripts/deps.sh

run: deps $(BIN)
	./mcd/mcd -p 11211 -l 127.0.0.1 -U 0 $(ARGS)

unit: $(UNIT_BINS)

# make test: unit tests (cmocka, TAP) and integration tests (.t) under one
# prove run, then the lint and the fuzz smoke pass as their own TAP files.
SHELL := /bin/bash

test: deps $(BIN) unit $(BUILD)/gen-errors-man $(ENGINE_SO)
	ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1} TSAN_OPTIONS=$${TSAN_OPTIONS:-halt_on_error=0} \
	  MCD_BIN=$(abspath $(BIN)) MCD_UNIT_DIR=$(abspath $(BUILD)/tests) \
	  MCD_GEN_ERRORS_MAN=$(abspath $(BUILD)/gen-errors-man) \
	  MCD_ENGINE_SO=$(abspath $(ENGINE_SO)) \
	  prove -j2 --timer $(PROVE_ARGS) $(UNIT_BINS) tests/lint.t tests/t/*.t tests/fuzz.t

# The whole integration suite once per engine (make test runs a subset
# against the heap engine through tests/t/engines.t).
TEST_ENGINES ?= slab heap $(abspath $(ENGINE_SO))

test-engines: deps $(BIN) $(ENGINE_SO)
	@for e in $(TEST_ENGINES); do \
	  echo "=== engine $$e"; \
	  MCD_ENGINE=$$e MCD_BIN=$(abspath $(BIN)) MCD_ENGINE_SO=$(abspath $(ENGINE_SO)) \
	    prove -j2 $(PROVE_ARGS) tests/t/*.t || exit 1; \
	done

asan:
	$(MAKE) BUILD=build-asan BIN=build-asan/mcd-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" OPT="-O1 -g" test

tsan:
	$(MAKE) BUILD=build-tsan BIN=build-tsan/mcd-tsan SAN="-fsanitize=thread" OPT="-O1 -g" test

man: man/mcd-errors.7

$(BUILD)/gen-errors-man: scripts/gen-errors-man.c mcd/errors.def
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O0 -Wall -Imcd -o $@ $<

man/mcd-errors.7: $(BUILD)/gen-errors-man
	$(BUILD)/gen-errors-man > $@

lint: $(BUILD)/gen-errors-man
	@scripts/lint-errors.sh $(BUILD)/gen-errors-man

clean:
	rm -rf build build-asan build-tsan build-fuzz mcd/mcd

# ---------------------------------------------------------------------------
# Fuzzing (libFuzzer; needs clang). Kept apart from the build above: mcd's
# sources are compiled again with clang and coverage instrumentation into
# $(FUZZ_BUILD)/, and every tests/fuzz/fuzz_<parser>.c becomes a harness
# $(FUZZ_BUILD)/fuzz_<parser> linked with them (all but main.o). A new
# harness needs no change here: see tests/fuzz/README.
#
#   make fuzz          build, then fuzz each harness FUZZ_SECONDS (default 60)
#                      from tests/fuzz/corpus/<harness>/; new inputs go to
#                      $(FUZZ_BUILD)/corpus/<harness>/, crashes to
#                      $(FUZZ_BUILD)/crash-*
#   make fuzz-build    build the harnesses only
#   make fuzz-smoke    replay each corpus plus FUZZ_SMOKE_SECONDS (5) of
#                      fuzzing, as TAP (tests/fuzz.t, also run by make test)

FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=gnu11 -O1 -g $(WARN) -pthread -D_GNU_SOURCE $(FUZZ_SAN) $(CFLAGS)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJS := $(filter-out $(FUZZ_BUILD)/mcd/main.o,$(MCD_SRCS:%.c=$(FUZZ_BUILD)/%.o))

.PHONY: fuzz fuzz-build fuzz-smoke
# The objects are only reached through the harnesses' pattern rule: keep
# them, or make deletes them as intermediates and rebuilds every time.
.SECONDARY: $(FUZZ_OBJS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/%.o: %.c $(FUZZ_BUILD)/.flags
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@echo "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Imcd -MMD -MP -o $@ $< \
	  $(FUZZ_OBJS) $(LDLIBS_MCD)

$(FUZZ_BUILD)/.flags: FORCE
	@mkdir -p $(FUZZ_BUILD)
	@echo '$(FUZZ_CC) $(FUZZ_CFLAGS)' | cmp -s - $@ || echo '$(FUZZ_CC) $(FUZZ_CFLAGS)' > $@

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)

fuzz: fuzz-build
	@for f in $(FUZZ_BINS); do \
	  n=$${f##*/}; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  dict=tests/fuzz/$$n.dict; [ -f $$dict ] && d=-dict=$$dict || d=; \
	  echo "  FUZZ    $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 $$d \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$n- \
	    $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

fuzz-smoke:
	@tests/fuzz.t

# --- bench: mcd against memcached side by side (bench/README.md) -------------
# Never part of `make test`. `make bench BENCH_QUICK=1` is a 1-round sanity run.
.PHONY: bench
bench: $(BIN)
	BENCH_QUICK=$(BENCH_QUICK) MCD_BIN=$(abspath $(BIN)) bench/run.sh

# make bench-dump: the admin socket's item listing of 1M items under load
# (items/s, and data-path throughput during the dump / without it).
.PHONY: bench-dump
bench-dump: $(BIN)
	BENCH_QUICK=$(BENCH_QUICK) MCD_BIN=$(abspath $(BIN)) /usr/bin/python3 bench/lib/dump.py

# make bench-overhead: what the per-command evidence costs (latency
# histograms, slow log, liveness, hot keys, reference sites, crash notes):
# mcd against itself built with -DMCD_NO_TRACKING, side by side in one run
# (the report's "memcached" column is the untracked build).
.PHONY: bench-overhead
bench-overhead: $(BIN)
	$(MAKE) BUILD=build-notrack BIN=build-notrack/mcd-notrack CFLAGS=-DMCD_NO_TRACKING build-notrack/mcd-notrack
	BENCH_QUICK=$(BENCH_QUICK) MCD_BIN=$(abspath $(BIN)) \
	  BENCH_OUT=$(abspath bench/results/overhead-latest.md) \
	  MEMCACHED_BIN=$(abspath build-notrack/mcd-notrack) bench/run.sh

# make bench-ir: the same comparison in user-space instructions per
# operation under cachegrind, which a noisy machine does not move
# (bench/lib/ir.py; bench/results/ir.md).
.PHONY: bench-ir
bench-ir: $(BIN)
	$(MAKE) BUILD=build-notrack BIN=build-notrack/mcd-notrack CFLAGS=-DMCD_NO_TRACKING build-notrack/mcd-notrack
	MCD_BIN=$(abspath $(BIN)) NOTRACK_BIN=$(abspath build-notrack/mcd-notrack) /usr/bin/python3 bench/lib/ir.py

# make bench-ir-memcached: mcd against Debian's memcached in user-space
# instructions per operation (bench/results/ir-memcached.md).
.PHONY: bench-ir-memcached
bench-ir-memcached: $(BIN)
	MCD_BIN=$(abspath $(BIN)) IR_PEER=$${IR_PEER:-/usr/bin/memcached} /usr/bin/python3 bench/lib/ir.py

# make bench-floor: how low server CPU per request can go here at all:
# servers that do nothing per request (epoll; io_uring if liburing-dev is
# installed) beside mcd and memcached under one closed-loop client.
.PHONY: bench-floor
FLOOR_BUILD := build/bench-floor
bench-floor: $(BIN)
	@mkdir -p $(FLOOR_BUILD)
	$(CC) -O2 -Wall -Wextra -o $(FLOOR_BUILD)/floor_epoll bench/floor/floor_epoll.c -lpthread
	$(CC) -O2 -Wall -Wextra -o $(FLOOR_BUILD)/floor_client bench/floor/floor_client.c -lpthread
	@if [ -f /usr/include/liburing.h ]; then \
	  echo "$(CC) -O2 -Wall -Wextra -o $(FLOOR_BUILD)/floor_uring bench/floor/floor_uring.c -luring -lpthread"; \
	  $(CC) -O2 -Wall -Wextra -o $(FLOOR_BUILD)/floor_uring bench/floor/floor_uring.c -luring -lpthread; \
	else rm -f $(FLOOR_BUILD)/floor_uring; echo "bench-floor: liburing-dev not installed, no io_uring floor"; fi
	MCD_BIN=$(abspath $(BIN)) FLOOR_DIR=$(abspath $(FLOOR_BUILD)) /usr/bin/python3 bench/lib/floor.py

# make bench-more: what MSG_MORE saves on replies of more than IOV_MAX
# pieces: mcd against itself built with -DMCD_NO_MSG_MORE, packets per
# request side by side (bench/results/more.md).
.PHONY: bench-more
bench-more: $(BIN)
	$(MAKE) BUILD=build-nomore BIN=build-nomore/mcd-nomore CFLAGS=-DMCD_NO_MSG_MORE build-nomore/mcd-nomore
	BENCH_QUICK=$(BENCH_QUICK) BENCH_SET=more MCD_BIN=$(abspath $(BIN)) \
	  BENCH_OUT=$(abspath bench/results/more.md) \
	  MEMCACHED_BIN=$(abspath build-nomore/mcd-nomore) bench/run.sh

# make valgrind: the whole integration suite (tests/t/*.t, every file) with
# mcd under valgrind's memcheck: a wrapper ending in -valgrind is MCD_BIN,
# and a memcheck error or a definite or indirect leak (its report in the
# server's stderr, or memcheck's exit status 99) fails the test file through
# the same check as the sanitizers. McdTest sees the wrapper's name and
# scales its timeouts by MCD_TEST_SLOW (10); churn.t writes 32 MiB at least
# instead of 4 GiB. No file is skipped; skipped under valgrind, each with its
# reason printed: the RSS assertions of memory.t and churn.t (RSS includes
# memcheck's shadow memory). About 4 minutes with VALGRIND_JOBS=2 on 2 cores;
# not part of make test.
VALGRIND_TESTS ?= tests/t/*.t
VALGRIND_JOBS ?= 2
.PHONY: valgrind
valgrind: deps $(BIN) $(MCADMIN) $(ENGINE_SO)
	@mkdir -p $(BUILD)
	@printf '#!/bin/sh\nexec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect %s "$$@"\n' \
	  "$(abspath $(BIN))" > $(BUILD)/mcd-valgrind && chmod +x $(BUILD)/mcd-valgrind
	MCD_BIN=$(abspath $(BUILD)/mcd-valgrind) MCD_ENGINE_SO=$(abspath $(ENGINE_SO)) \
	  MCD_TEST_SLOW=10 prove -j$(VALGRIND_JOBS) --timer $(PROVE_ARGS) $(VALGRIND_TESTS)
