# Build, test and benchmark the MiniTwit migration suite.
#
#   make                      bin/minitwitd (and later bin/sync-fdw, bin/migrate)
#   make SANITIZE=address,undefined   the same with ASan+UBSan, into build/san
#   make test                 unit + integration tests, then both again sanitized
#   make run                  minitwitd on a sandbox database
#   make bench                the benchmarks in bench/ (not tests)
#   make fuzz                 the libFuzzer harnesses in tests/fuzz, FUZZ_SECONDS (60) each
#   make demo                 the migration rehearsal (scripts/rehearse), report in build/rehearsal
#   make install PREFIX=/usr/local DESTDIR=
#   make ext / install-ext    the C capture trigger (ext/sync_fdw_capture), a PostgreSQL
#                             extension, built against PG_CONFIG's server and installed
#                             into its directories (as root: sudo when not)
#
# CI sets WERROR=1 (warnings are errors).

PKGS      := libmicrohttpd libpq jansson yaml-0.1 libsodium
CC        ?= cc
PREFIX    ?= /usr/local
SANITIZE  ?=
WERROR    ?= $(if $(CI),1,)

ifeq ($(SANITIZE),)
BUILD     ?= build/out
else
BUILD     ?= build/san
endif
BIN       ?= $(if $(SANITIZE),$(BUILD)/bin,bin)

WARN      := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
             -Wvla -Wwrite-strings -fno-common -Wshadow -Wno-unused-parameter
CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE $(WARN) $(if $(WERROR),-Werror,) \
             -Ilib -Ihop -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) libcurl) -MMD -MP
LDLIBS    := $(shell pkg-config --libs $(PKGS)) -lpthread -lm
CURL_LIBS := $(shell pkg-config --libs libcurl)
ifneq ($(SANITIZE),)
CFLAGS    += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=$(SANITIZE)
endif

LIB_SRC   := $(wildcard lib/*.c)
MTD_SRC   := $(wildcard minitwitd/*.c)
SCHEMA    := $(sort $(wildcard sql/schema/*.sql))
STATIC    := $(sort $(wildcard static/*))

HOP_SRC   := $(wildcard hop/*.c)
HOP_SQL   := $(sort $(wildcard sql/hop/*.sql))
HOP_QUERIES := $(sort $(wildcard sql/hop/queries/*.sql))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
HOP_OBJ   := $(HOP_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/hop_sql.o $(BUILD)/gen/hop_queries.o
MTD_OBJ   := $(MTD_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/schema_sql.o $(BUILD)/gen/static_files.o

PROGRAMS  := $(BIN)/minitwitd $(BIN)/sync-fdw $(BIN)/migrate

all: $(PROGRAMS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# SQL is embedded at build time so it can be read and reviewed as SQL.
$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -Wall -o $@ $<

$(BUILD)/gen/schema_sql.c: $(SCHEMA) $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed schema_sql $(SCHEMA) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/schema_sql.o: $(BUILD)/gen/schema_sql.c
	$(CC) $(CFLAGS) -c -o $@ $<

# The web UI's static files (static/), embedded the same way: one binary.
$(BUILD)/gen/static_files.c: $(STATIC) $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed static_files $(STATIC) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/static_files.o: $(BUILD)/gen/static_files.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/gen/hop_sql.c: $(HOP_SQL) $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed hop_sql $(HOP_SQL) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/hop_sql.o: $(BUILD)/gen/hop_sql.c
	$(CC) $(CFLAGS) -c -o $@ $<

# The engine's queries, one named block each (sql/hop/queries/*.sql): hq_<name>
# in hop_queries.h, so a misspelt name fails the build, as does a block
# without a name or a name used twice.
$(BUILD)/gen/hop_queries.c $(BUILD)/gen/hop_queries.h &: $(HOP_QUERIES) $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed -q hq $(BUILD)/gen/hop_queries $(HOP_QUERIES)

$(BUILD)/gen/hop_queries.o: $(BUILD)/gen/hop_queries.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(HOP_SRC:%.c=$(BUILD)/%.o): $(BUILD)/gen/hop_queries.h

# hop/ is the migration engine: sync-fdw and migrate link it, never minitwitd
$(BUILD)/hop.a: $(HOP_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/sync-fdw: $(BUILD)/sync-fdw/main.o $(BUILD)/hop.a $(BUILD)/lib.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

$(BIN)/migrate: $(BUILD)/migrate/main.o $(BUILD)/hop.a $(BUILD)/lib.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

$(BUILD)/lib.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/minitwitd: $(MTD_OBJ) $(BUILD)/lib.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests -------------------------------------------------------------
# Each unit test links only the modules it tests (docs/STYLE.md rule 13),
# and the libraries in UNIT_LIBS_<name> when set (else all of LDLIBS).
UNIT_TESTS := cfg buf json route routes md5 pbkdf2 ratelimit csrf webpage remap sqlgen hopcfg dsn log \
              stage cli plan progress
UNIT_DEPS_cfg   := lib/cfg.c lib/buf.c lib/dsn.c
UNIT_DEPS_buf   := lib/buf.c lib/utf8.c
UNIT_DEPS_json  := lib/buf.c lib/utf8.c minitwitd/api_json.c
UNIT_DEPS_route := lib/buf.c lib/utf8.c minitwitd/route.c
# the front ends' route tables name their handlers: minitwitd but its main
UNIT_DEPS_routes := $(filter-out minitwitd/main.c,$(MTD_SRC)) $(LIB_SRC) \
                    $(BUILD)/gen/schema_sql.c $(BUILD)/gen/static_files.c
UNIT_DEPS_md5   := lib/md5.c
UNIT_DEPS_pbkdf2 := minitwitd/pbkdf2.c
UNIT_DEPS_ratelimit := minitwitd/ratelimit.c
UNIT_DEPS_csrf := minitwitd/csrf.c
UNIT_DEPS_webpage := lib/buf.c lib/utf8.c lib/md5.c minitwitd/webpage.c
UNIT_DEPS_remap := hop/remap.c
UNIT_DEPS_sqlgen := hop/sqlgen.c hop/remap.c lib/buf.c lib/utf8.c
UNIT_LIBS_sqlgen := -lm
UNIT_DEPS_hopcfg := hop/hopcfg.c lib/cfg.c lib/buf.c lib/dsn.c
UNIT_DEPS_dsn := lib/dsn.c lib/buf.c lib/utf8.c
UNIT_DEPS_log := lib/log.c lib/buf.c lib/report.c lib/utf8.c
UNIT_DEPS_stage := hop/stage.c lib/pgx.c lib/log.c lib/report.c lib/buf.c lib/utf8.c lib/dsn.c
UNIT_DEPS_cli := lib/cli.c lib/log.c lib/report.c lib/buf.c lib/utf8.c
UNIT_DEPS_progress := lib/progress.c lib/report.c lib/log.c lib/buf.c lib/utf8.c
UNIT_DEPS_plan := hop/plan.c hop/hop.c hop/catalog.c hop/remap.c hop/sqlgen.c hop/hopcfg.c lib/buf.c \
                  lib/cfg.c lib/dsn.c lib/log.c lib/pgx.c lib/report.c lib/utf8.c $(BUILD)/gen/hop_queries.c

UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/test_%)

.SECONDEXPANSION:
$(BUILD)/tests/test_%: tests/unit/test_%.c $$(UNIT_DEPS_$$*)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags cmocka) -Iminitwitd -o $@ $< $(UNIT_DEPS_$*) \
		$(LDFLAGS) $(or $(UNIT_LIBS_$*),$(LDLIBS)) $(shell pkg-config --libs cmocka)

unit: $(UNIT_BINS) $(BUILD)/tools/embed
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done
	@echo "== tests/unit/test_embed.sh"; tests/unit/test_embed.sh $(BUILD)/tools/embed

# valgrind over the unit tests (where practical: the integration tests run
# under ASan+UBSan instead)
valgrind: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do \
		valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite $$t; done

integration: $(PROGRAMS)
	MINITWITD=$(abspath $(BIN)/minitwitd) SYNC_FDW=$(abspath $(BIN)/sync-fdw) \
		MIGRATE=$(abspath $(BIN)/migrate) INTEGRATION_SKIP="$(INTEGRATION_SKIP)" \
		BUILD=$(abspath $(BUILD)) tests/integration/run

# The web UI in a real browser (also part of integration: tests/integration/test_browser.py).
browser: $(PROGRAMS)
	MINITWITD=$(abspath $(BIN)/minitwitd) python3 tests/integration/test_browser.py

test-plain: unit integration

# suites that do not run the C programs (or run the plain build's) run once
test-sanitize:
	$(MAKE) SANITIZE=address,undefined unit integration INTEGRATION_SKIP="test_rehearse.py install_selftest.sh simulate_selftest.py scenario_selftest.py pg_sandbox_selftest.sh"

# docs/STYLE.md rule 15, also checked where banned.h is not included.
check-banned:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets)\s*\(' \
		$$(git ls-files '*.c' '*.h' 2>/dev/null || find lib minitwitd -name '*.[ch]') | grep -v banned.h

test:
	scripts/install-deps --check-or-install
	$(MAKE) install-ext
	$(MAKE) check-banned
	$(MAKE) test-plain
	$(MAKE) test-sanitize
	@echo "make test: all suites passed"

# ---- fuzzing -----------------------------------------------------------
# libFuzzer harnesses (clang), one per parser that reads what a client or an
# operator sends; each links only the modules it fuzzes.  Seeds are in
# tests/fuzz/<name>/corpus; what a run finds new goes to build/fuzz/<name>/,
# a crash to build/fuzz/<name>/crash-* (and fails make): make it a unit test.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_TARGETS := target json form route cfg dsn
FUZZ_DEPS_target := minitwitd/route.c lib/buf.c lib/utf8.c
FUZZ_DEPS_json   := minitwitd/api_json.c lib/buf.c lib/utf8.c
FUZZ_DEPS_form   := minitwitd/route.c lib/buf.c lib/utf8.c
FUZZ_DEPS_route  := minitwitd/route.c lib/buf.c lib/utf8.c
FUZZ_DEPS_cfg    := lib/cfg.c lib/buf.c lib/dsn.c
FUZZ_DEPS_dsn    := lib/dsn.c lib/buf.c
FUZZ_BINS    := $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $$(FUZZ_DEPS_$$*)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 $(WARN) $(if $(WERROR),-Werror,) -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -Ilib -Iminitwitd $(shell pkg-config --cflags $(PKGS)) -o $@ \
		$< $(FUZZ_DEPS_$*) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/$$t; \
		echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=0 -artifact_prefix=build/fuzz/$$t/ \
			build/fuzz/$$t tests/fuzz/$$t/corpus 2>build/fuzz/$$t.log || \
			{ tail -n 40 build/fuzz/$$t.log; echo "fuzz $$t: finding in build/fuzz/$$t/"; exit 1; }; \
		tail -n 1 build/fuzz/$$t.log; \
	done

run: $(PROGRAMS)
	scripts/run-dev

bench: $(PROGRAMS)
	bench/api/run

# The migration rehearsal (scripts/rehearse --help): two hops under the
# scenario's load (scripts/make-scenario; MINITWIT_SCENARIO=FILE for another),
# checked; report in build/rehearsal/report.html.
# REHEARSE_ARGS=--quick for the short one CI runs.
demo:
	scripts/install-deps --check-or-install
	$(MAKE) all install-ext
	scripts/rehearse --via pgbouncer $(REHEARSE_ARGS)

install: $(PROGRAMS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 man/minitwitd.1 man/sync-fdw.1 man/migrate.1 $(DESTDIR)$(PREFIX)/share/man/man1/

# The C capture trigger: a PostgreSQL extension for the database hosts
# (capture.function).  Server headers: Debian's postgresql-server-dev-15.
PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
EXT_SO    := build/ext/sync_fdw_capture.so
EXT_SUDO  := $(if $(filter 0,$(shell id -u)),,sudo)

ext: $(EXT_SO)

$(EXT_SO): ext/sync_fdw_capture/sync_fdw_capture.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -fPIC -shared $(WARN) $(if $(WERROR),-Werror,) \
		-I$(shell $(PG_CONFIG) --includedir-server) -o $@ $<

install-ext: $(EXT_SO)
	$(EXT_SUDO) install -m 0755 $(EXT_SO) $(DESTDIR)$(shell $(PG_CONFIG) --pkglibdir)/
	$(EXT_SUDO) install -m 0644 ext/sync_fdw_capture/sync_fdw_capture.control \
		ext/sync_fdw_capture/sync_fdw_capture--1.0.sql $(DESTDIR)$(shell $(PG_CONFIG) --sharedir)/extension/

clean:
	rm -rf build bin

.PHONY: all unit integration browser test test-plain test-sanitize run bench demo install ext install-ext clean \
	fuzz fuzz-build

-include $(shell find build -name '*.d' 2>/dev/null)
