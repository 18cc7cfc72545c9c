#!/usr/bin/env bash
# test.sh - the whole test suite on a fresh Debian 12 machine (run as root or with sudo):
# installs what it needs, builds with -Werror and installs the extension into the PostgreSQL
# that pg_config names, then runs the C unit tests of src/core, every pg_regress suite
# (PyTorch parity included) and isolation spec against a server (the caller's when PGHOST or
# PGPORT is set, otherwise a throwaway one: scripts/with-server.sh), and the TAP tests
# (test/t, each on a cluster of its own; as root they run as the postgres user), and prints
# the scoring trigger's bulk-load rate (test/bench/trigger_bench.sh, small; not asserted).
# Ends with a line "N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
step() { # step NAME COMMAND...: run one check and count it
    local name=$1
    shift
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "--- FAILED: $name"
    fi
}

scripts/install-deps.sh || exit 1
make -s clean >/dev/null 2>&1
make -s || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
make -s install >/dev/null || { echo "install failed"; echo "0 passed, 1 failed"; exit 1; }

step "unit tests (src/core)" make -s unittest

# installcheck TARGET DIFFS: one make installcheck-* target against a server; on failure,
# the differences.
installcheck() {
    scripts/with-server.sh make -s "$1" || { head -200 "$2" 2>/dev/null; return 1; }
}
step "pg_regress suites" installcheck installcheck-regress regression.diffs
step "isolation specs" installcheck installcheck-isolation output_iso/regression.diffs
step "fuzz run of the type inputs (test/fuzz)" installcheck installcheck-fuzz /dev/null
step "TAP tests (test/t)" make -s installcheck-tap
# The bulk-load rate of the scoring trigger, printed (never judged against a time); the step
# fails only if the load fails or its states differ from lstm_state_agg.
step "bulk scoring rate (printed, not asserted)" env TRIGGER_BENCH_MODE=bulk \
    TRIGGER_BENCH_BULK_SIZES=20000 TRIGGER_BENCH_BULK_SERIES=100 TRIGGER_BENCH_BULK_REPEAT=1 \
    test/bench/trigger_bench.sh

echo
if [ $failed -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
