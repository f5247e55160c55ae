# cicada — plain Makefile with pkg-config.
#   make          install missing Debian packages (as root), build ./cicada
#   make run      build, start the demo site and the web UI for examples/demo.lua
#                 (open http://127.0.0.1:8089); HEADLESS=1 make run: a 30 s
#                 headless run instead (tools/run-demo.sh; exits 0)
#   make test     the folder include-cycle check (tools/deps), unit tests under
#                 ASan/UBSan, end-to-end tests (pytest), then browser tests
#                 (node --test, playwright-core driving Debian's chromium)
#   make bench    benchmarks against wrk (bench/vs-wrk)
#   make asan     ./cicada-asan, the whole binary under sanitizers
#   make fuzz     libFuzzer targets (tests/fuzz), FUZZ_TIME seconds each (default 60)
#   make fmt      clang-format every source file

CC      ?= cc
PKGS    := luajit libcjson libzmq msgpack openssl libcares inih
WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter -Wformat=2
CSTD    := -std=c11 -D_GNU_SOURCE
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) -Isrc $(PKG_CFLAGS) -MMD -MP
LIBS     = $(PKG_LIBS) -lz -lpthread -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Debian packages: to build, and to run the tests and benchmarks.
BUILD_DEBS := gcc make pkg-config libluajit2-5.1-dev libcjson-dev libjs-chart.js \
              libssl-dev zlib1g-dev openssl libzmq3-dev libmsgpack-dev libc-ares-dev libinih-dev
TEST_DEBS  := nginx wrk python3-pytest python3-locust python3-yaml time procps iproute2 \
              redis-server lua-nginx-redis lua-nginx-websocket python3-websockets chromium \
              nodejs npm
# tests/e2e/test_monitor.py and tests/web/monitor.test.mjs run a real node_exporter
TEST_DEBS  += prometheus-node-exporter
# tests/e2e/test_metrics.py: promtool checks /metrics, a real Prometheus scrapes it
TEST_DEBS  += prometheus
# tests/e2e/test_proxy.py: requests through a real proxy
TEST_DEBS  += tinyproxy
# make test checks the C sources are as `make fmt` leaves them
TEST_DEBS  += clang-format
DEPS_STAMP := build/.deps

SRC      := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LUA_SRC  := $(shell find src -name '*.lua' | sort)
OBJ      := $(SRC:%.c=build/rel/%.o) build/rel/prelude.o build/rel/assets.o
OBJ_SAN  := $(SRC:%.c=build/san/%.o) build/san/prelude.o build/san/assets.o
ASSETS   := $(shell find src/web/assets -type f ! -name '.*' | sort)
CHARTJS  := /usr/share/javascript/chart.js/chart.min.js
UNIT     := $(shell find tests/unit -name 'test_*.c' | sort)
UNIT_BIN := $(UNIT:%.c=build/san/%)

.PHONY: all deps run test fmt-check cycles unit e2e web bench asan fuzz fmt clean
all: deps cicada

# Install what is missing: as root with apt-get, otherwise print the line to run.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): Makefile
	@missing=""; for p in $(BUILD_DEBS) $(if $(NO_TEST_DEPS),,$(TEST_DEBS)); do \
	  case $$p in nodejs|npm) command -v $${p%js} >/dev/null && continue;; esac; \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) || exit 1; \
	  else echo "missing Debian packages; run: sudo apt-get install -y$$missing"; exit 1; fi; \
	fi
	@mkdir -p build && touch $@

cicada: build/rel/src/main.o $(OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

cicada-asan: build/san/src/main.o $(OBJ_SAN)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LIBS)
asan: deps cicada-asan

build/rel/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
build/san/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -c -o $@ $<

# The Lua prelude is compiled into the binary as a C string.
build/prelude.c: $(LUA_SRC) tools/embed.sh
	@mkdir -p build
	sh tools/embed.sh cicada_prelude $(LUA_SRC) > $@
build/rel/prelude.o: build/prelude.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
build/san/prelude.o: build/prelude.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -c -o $@ $<

# The web UI's files and Chart.js (libjs-chart.js) are compiled into the binary.
$(CHARTJS): | $(DEPS_STAMP)
	@test -f $@ || { echo "missing $@: apt-get install libjs-chart.js"; exit 1; }
build/assets.c: src/web/assets $(ASSETS) $(CHARTJS) tools/embed-assets.sh
	@mkdir -p $(dir $@)
	sh tools/embed-assets.sh src/web/assets /chart.min.js=$(CHARTJS) > $@.tmp && mv $@.tmp $@
build/rel/assets.o: build/assets.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
build/san/assets.o: build/assets.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -c -o $@ $<

build/san/libcicada.a: $(OBJ_SAN)
	rm -f $@ && ar rcs $@ $^
build/san/tests/unit/%: tests/unit/%.c build/san/libcicada.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -Itests/unit -o $@ $< build/san/libcicada.a $(LIBS)

run: all
	sh tools/run-demo.sh

unit: deps $(UNIT_BIN)
	@pass=0; fail=0; for t in $(UNIT_BIN); do \
	  if $$t > $$t.log 2>&1; then pass=$$((pass+1)); echo "ok   $$t"; \
	  else fail=$$((fail+1)); echo "FAIL $$t"; cat $$t.log; fi; done; \
	echo "unit: $$pass passed, $$fail failed"; [ $$fail = 0 ]

e2e: all
	cd tests/e2e && /usr/bin/python3 -m pytest -q -p no:cacheprovider .

# Browser tests: Node.js >= 18 (Debian 12's nodejs and npm, in TEST_DEBS; a
# node already on PATH, e.g. NodeSource's, is used as it is) with
# playwright-core 1.61.1, the last release whose engines field takes Node 18,
# from the committed lockfile, driving /usr/bin/chromium (never a
# downloaded browser). Screenshots go to tests/web/artifacts/.
web: all
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "web: node and npm are needed for the browser tests: apt-get install nodejs npm"; exit 1; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' || \
	  { echo "web: Node.js >= 18 is needed, this is $$(node --version)"; exit 1; }
	cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --prefer-offline \
	  --loglevel=error && node --test --test-reporter=spec

# No include cycle between the folders of src/ (docs/architecture.md,
# "Folders"): the checker's own tests first, then the tree.
cycles:
	cd tests/tools && /usr/bin/python3 -m pytest -q -p no:cacheprovider .
	/usr/bin/python3 tools/deps src

test: fmt-check cycles unit e2e web

bench: all
	sh bench/vs-wrk

# Fuzzing: every tests/fuzz/fuzz_<t>.c is a libFuzzer target, linked with
# the sources built by clang with the fuzzer's coverage and ASan/UBSan
# (build/fuzz/). Each runs FUZZ_TIME seconds on one core, from its seeds
# (tests/fuzz/corpus/<t>, committed) and what earlier runs found
# (build/fuzz/corpus/<t>); crash inputs land in build/fuzz/. The table at the
# end gives execs and crashes per target. FUZZ_ARGS adds libFuzzer flags.
FUZZ_TIME ?= 60
FUZZ_ARGS ?=
FUZZ_DEBS := clang libclang-rt-14-dev
FUZZ_CC   := clang
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = $(CSTD) -g -O1 -Isrc $(PKG_CFLAGS) -MMD -MP
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_T    := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN  := $(FUZZ_T:%=build/fuzz/%)
FUZZ_OBJ  := $(SRC:%.c=build/fuzz/obj/%.o) build/fuzz/obj/prelude.o build/fuzz/obj/assets.o

build/.deps-fuzz: Makefile | $(DEPS_STAMP)
	@missing=""; for p in $(FUZZ_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) || exit 1; \
	  else echo "missing Debian packages; run: sudo apt-get install -y$$missing"; exit 1; fi; \
	fi
	@touch $@

build/fuzz/obj/%.o: %.c | build/.deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c -o $@ $<
build/fuzz/obj/%.o: build/%.c | build/.deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c -o $@ $<
build/fuzz/libcicada.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^
build/fuzz/%: tests/fuzz/fuzz_%.c build/fuzz/libcicada.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< build/fuzz/libcicada.a $(LIBS)

fuzz: build/.deps-fuzz $(FUZZ_BIN)
	@rm -f build/fuzz/summary
	@for t in $(FUZZ_T); do \
	  mkdir -p build/fuzz/corpus/$$t build/fuzz/crash/$$t tests/fuzz/corpus/$$t; \
	  echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	  build/fuzz/$$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	    -artifact_prefix=build/fuzz/crash/$$t/ $(FUZZ_ARGS) \
	    build/fuzz/corpus/$$t tests/fuzz/corpus/$$t > build/fuzz/$$t.log 2>&1; rc=$$?; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' build/fuzz/$$t.log); \
	  crashes=$$(grep -c '^Test unit written to' build/fuzz/$$t.log); \
	  if [ $$rc != 0 ]; then tail -30 build/fuzz/$$t.log; fi; \
	  printf '%-12s execs %12s  crashes %s  exit %s\n' $$t "$${execs:-?}" $$crashes $$rc >> build/fuzz/summary; \
	done; echo; cat build/fuzz/summary; ! grep -qv ' exit 0$$' build/fuzz/summary

fmt:
	clang-format -i $$(find src tests -name '*.[ch]')

# make test fails if a C file is not as `make fmt` leaves it (.clang-format).
fmt-check: deps
	@clang-format --dry-run -Werror $$(find src tests -name '*.[ch]') && echo "fmt: clean"

clean:
	rm -rf build cicada cicada-asan

-include $(shell find build -name '*.d' 2>/dev/null)
