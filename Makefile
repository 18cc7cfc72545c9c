# lstm: LSTM forecasting inside PostgreSQL (PGXS build).
#
#   make                  build lstm.so and the install script
#   make install          install into the PostgreSQL found by PG_CONFIG
#   make installcheck     against a running server: the pg_regress suites, the isolation
#                         specs, and the TAP tests (which start clusters of their own);
#                         installcheck-regress, -isolation, -tap run one kind
#   make unittest         C unit tests of src/core (no server needed)
#   make bench            benchmark against sum() and PyTorch (needs a server)
#   make figures          docs/*.png: forecasts and anomaly scores on the bundled series

EXTENSION  = lstm
EXTVERSION = 0.4
MODULE_big = lstm

# One C file per SQL concept in src/, the math in src/core/.
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))

# The install script is assembled from one SQL fragment per concept,
# src/sql/NN_name.sql, in file-name order.
SQL_FRAGMENTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
# Released install scripts stay as they shipped; one upgrade script per release after them.
DATA = $(EXTENSION)--0.1.sql $(EXTENSION)--0.2.sql $(EXTENSION)--0.3.sql \
       $(wildcard $(EXTENSION)--*--*.sql)

# ---- Tests against a running server (make installcheck; see README "Tests") ----
# One pg_regress suite per file in sql/ (expected output in expected/).
REGRESS = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)
# One isolation spec per file in specs/ (expected output in expected/ too), run by
# PostgreSQL's isolation tester in the database isolation_regression.
ISOLATION = $(basename $(notdir $(sort $(wildcard specs/*.spec))))
ISOLATION_OPTS = --load-extension=$(EXTENSION)
# TAP tests, test/t/*.pl, each on its own cluster (PostgreSQL::Test::Cluster, needs perl's
# IPC::Run) made with the binaries of this PG_CONFIG's installation (make install first).
# Debian's Makefile.global may say enable_tap_tests = no; the modules are shipped anyway.
TAP_TESTS = 1
PROVE_TESTS ?= test/t/*.pl
override enable_tap_tests = yes
# A selection on the command line runs only what it names: REGRESS=state one suite,
# ISOLATION=stream_concurrency one spec, PROVE_TESTS=test/t/003_crash.pl one TAP test
# (the kinds not named are then skipped).
ifneq ($(filter command line,$(origin REGRESS) $(origin ISOLATION) $(origin PROVE_TESTS)),)
ifneq ($(origin REGRESS),command line)
REGRESS :=
endif
ifneq ($(origin ISOLATION),command line)
ISOLATION :=
endif
ifneq ($(origin PROVE_TESTS),command line)
TAP_TESTS :=
endif
endif

PG_CONFIG ?= pg_config

PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/core $(BLAS_CFLAGS) -std=gnu11 -Wall -Wextra -Werror \
              -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare \
              -Wno-cast-function-type
PG_CFLAGS = -O2
# OpenBLAS, single-threaded build (Debian's libopenblas-serial-dev): a backend is
# one process per query and must not start BLAS threads. The rpath makes the
# serial library win over the pthread one that Debian's alternatives may select.
BLAS_DIR ?= /usr/lib/$(shell $(CC) -print-multiarch)/openblas-serial
BLAS_CFLAGS ?= $(shell PKG_CONFIG_PATH=$(BLAS_DIR)/pkgconfig pkg-config --cflags openblas)
BLAS_LIBS ?= -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas
SHLIB_LINK = $(BLAS_LIBS) -lm

EXTRA_CLEAN = test/core/*.o $(UNIT_TESTS) test/bench/step_bench test/fuzz/fuzz_inputs results \
              regression.diffs regression.out

# LLVM bitcode for JIT inlining is not needed.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when any header changes
# (a struct whose layout changed must never be read by a stale object).
$(OBJS): $(wildcard src/*.h src/*/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_FRAGMENTS)
	cat $^ > $@

# prove through scripts/prove.sh: as root it runs prove as the postgres user (initdb refuses
# root). One target per kind of test, as make installcheck runs them.
PROVE = $(srcdir)/scripts/prove.sh
.PHONY: installcheck-regress installcheck-isolation installcheck-tap
installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
installcheck-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)
installcheck-tap:
	$(prove_installcheck)

# ---- C unit tests of src/core: plain C, no PostgreSQL ----
CORE_SRC = $(sort $(wildcard src/core/*.c))
# The test oracles (plain-loop forward pass, double-precision training chunk):
# linked into every unit test, never into lstm.so.
REFERENCE_SRC = $(sort $(wildcard test/core/reference_*.c))
UNIT_CFLAGS = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-sign-compare -Isrc/core $(BLAS_CFLAGS)
UNIT_TESTS = $(patsubst %.c,%,$(sort $(wildcard test/core/test_*.c)))

test/core/test_%: test/core/test_%.c $(CORE_SRC) $(REFERENCE_SRC) $(wildcard src/core/*.h test/core/*.h)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRC) $(REFERENCE_SRC) $(BLAS_LIBS) -lm

# The arithmetic of scoring alone, per row (trigger_bench.sh prints it beside the loads).
test/bench/step_bench: test/bench/step_bench.c $(CORE_SRC) $(wildcard src/core/*.h test/core/*.h)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRC) $(BLAS_LIBS) -lm

.PHONY: unittest bench bench-callgrind figures
unittest: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; ./$$t; done

bench:
	bash test/bench/run.sh

# Instructions per inserted row with and without the scoring trigger (valgrind's callgrind):
# the stable measure of ingest work on a machine whose wall clock is noisy.
bench-callgrind:
	bash test/bench/ingest_callgrind.sh

# The README's figures (python3-matplotlib), drawn from a server (yours with PGHOST/PGPORT,
# otherwise a throwaway one) where the extension is installed.
figures:
	bash docs/make_figures.sh

# ---- Fuzz run of the lstm_model and lstm_state inputs (text and binary) against a server ----
FUZZ_ITERATIONS ?= 10000
FUZZ_SEED ?= 20261130
test/fuzz/fuzz_inputs: test/fuzz/fuzz_inputs.c
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror $(shell pkg-config --cflags libpq) -o $@ $< \
	    $(shell pkg-config --libs libpq)

.PHONY: installcheck-fuzz
installcheck-fuzz: test/fuzz/fuzz_inputs
	$(bindir)/dropdb --if-exists lstm_fuzz
	$(bindir)/createdb lstm_fuzz
	$(bindir)/psql -Xq -d lstm_fuzz -c 'CREATE EXTENSION lstm'
	PGDATABASE=lstm_fuzz test/fuzz/fuzz_inputs $(FUZZ_ITERATIONS) $(FUZZ_SEED); status=$$?; \
	    $(bindir)/dropdb lstm_fuzz; exit $$status
