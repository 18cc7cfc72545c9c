#!/usr/bin/env bash
# test.sh - the whole test suite on a fresh Debian 12 machine (run as root or with sudo):
# installs what it needs, builds with -Werror, runs the C unit tests of src/core, starts a
# throwaway PostgreSQL 15 server, runs every pg_regress suite (PyTorch parity included),
# the pg_dump/restore check and the concurrency check, and stops the server.
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

eval "$(PGTMP_PORT=${PGTMP_PORT:-54329} scripts/pgtmp.sh start)" || { echo "0 passed, 1 failed"; exit 1; }
trap 'scripts/pgtmp.sh stop' EXIT

regress() {
    make -s installcheck || { cat regression.diffs 2>/dev/null | head -200; return 1; }
}
step "pg_regress suites" regress
step "pg_dump and restore keep models identical" test/dump_restore.sh
for extra in test/*/check.sh; do
    [ -x "$extra" ] && step "$extra" "$extra"
done

echo
if [ $failed -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
