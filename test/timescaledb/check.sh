#!/usr/bin/env bash
# check.sh [TIMESCALEDB_SRC] - the TimescaleDB patterns of README.md ("TimescaleDB"), run against a
# real TimescaleDB: a hypertable of readings in chunks of a day, forecasts and states equal to
# those of a plain table bit for bit, the scoring trigger across chunks, compression, a
# continuous aggregate of per-bucket states (and its refresh after the model is replaced), and
# presorted input against ORDER BY inside the call. The cases and their checks are in check.sql:
# a mismatch raises an error and this script exits non-zero. Not part of scripts/test.sh.
#
# With TIMESCALEDB_SRC (a TimescaleDB source tree, a release that supports PostgreSQL 15: 2.28.x
# at the newest) it first builds it against the pg_config on PATH and installs it there
# (Release, no regression or TAP checks; the default build, whose TSL part has compression and
# continuous aggregates). Without it, TimescaleDB must already be installed for that pg_config.
# The lstm extension must be installed too (make install).
#
# The server is always a throwaway one (scripts/pgtmp.sh), restarted with
# shared_preload_libraries = 'timescaledb', which no caller's server is assumed to have.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

pgbin=$(pg_config --bindir)
sharedir=$(pg_config --sharedir)

if [ $# -ge 1 ]; then
    src=$(cd "$1" && pwd)
    echo "== building TimescaleDB from $src against $(command -v pg_config)"
    log=$(mktemp)
    {
        if [ ! -f "$src/build/CMakeCache.txt" ]; then
            (cd "$src" && BUILD_DIR=build BUILD_FORCE_REMOVE=true ./bootstrap -DCMAKE_BUILD_TYPE=Release \
                -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
                -DUSE_TELEMETRY=OFF -DPG_CONFIG="$(command -v pg_config)")
        fi
        make -C "$src/build" && make -C "$src/build" install
    } >"$log" 2>&1 || { tail -40 "$log" >&2; echo "TimescaleDB build failed: $log" >&2; exit 1; }
    rm -f "$log"
fi
if [ ! -f "$sharedir/extension/timescaledb.control" ]; then
    echo "TimescaleDB is not installed for $(command -v pg_config): give its source tree" >&2
    exit 2
fi
if [ ! -f "$sharedir/extension/lstm.control" ]; then
    echo "lstm is not installed for $(command -v pg_config): run make install" >&2
    exit 2
fi

. scripts/server_user.sh

unset PGHOST PGPORT PGDATABASE
eval "$(PGBIN=$pgbin scripts/pgtmp.sh start)"
trap 'PGBIN=$pgbin scripts/pgtmp.sh stop' EXIT
cat >>"$PGTMP_DIR/data/postgresql.conf" <<EOF
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_worker_processes = 16
EOF
# pg_ctl restart keeps the command-line options pgtmp.sh started the server with.
as_server_user "$pgbin/pg_ctl" -D "$PGTMP_DIR/data" -l "$PGTMP_DIR/server.log" -w -m fast \
    restart >/dev/null || { cat "$PGTMP_DIR/server.log" >&2; exit 1; }

psql -X -q -v ON_ERROR_STOP=1 -P pager=off -f test/timescaledb/check.sql
echo "== TimescaleDB check: all cases passed"
