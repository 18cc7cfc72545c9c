#!/usr/bin/env bash
# test/isolation/check.sh - isolation specs (test/isolation/specs/*.spec) of the streaming trigger,
# run by PostgreSQL's isolation tester against the server in PGHOST/PGPORT (for example one
# started with scripts/pgtmp.sh) with the extension installed. Exits non-zero on any difference.
#
#   eval "$(scripts/pgtmp.sh start)" && test/isolation/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

PG_CONFIG=${PG_CONFIG:-pg_config}
ISOLATION_REGRESS=$(dirname "$($PG_CONFIG --pgxs)")/../test/isolation/pg_isolation_regress
if [ ! -x "$ISOLATION_REGRESS" ]; then
    echo "isolation tester not found at $ISOLATION_REGRESS (package postgresql-server-dev-15)" >&2
    exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
chmod 755 "$out"
specs=$(cd test/isolation/specs && ls *.spec | sed 's/\.spec$//')
if ! "$ISOLATION_REGRESS" --inputdir=test/isolation --outputdir="$out" --load-extension=lstm \
        --dbname=lstm_isolation $specs; then
    cat "$out/regression.diffs" >&2 || true
    exit 1
fi
