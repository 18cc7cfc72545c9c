#!/usr/bin/env bash
# check.sh [CITUS_SRC | --clone] - the Citus patterns of README.md ("Scaling out with Citus"), run against
# a real Citus cluster: a coordinator and two workers, lstm_models a reference table, and the
# cases of check.sql, whose checks raise an error on a mismatch (this script then exits
# non-zero): training from the coordinator over a distributed table, the name form of
# lstm_forecast pushed down to the workers (GROUP BY the distribution column) and bit-identical
# to a plain table, the by-value forms, the scoring trigger on a distributed table (states per
# worker) against a plain table, a per-shard lstm_stream_rebuild, lstm_train replacing a model
# on the reference table, and row-level security on the workers. Not part of scripts/test.sh.
#
# With CITUS_SRC (a Citus source tree, a release that supports PostgreSQL 15: 13.2.x at the
# newest) it first builds it against the pg_config on PATH and installs it there. With --clone it
# first clones Citus's public repository (CITUS_REPO, default
# https://github.com/citusdata/citus.git) at CITUS_TAG (default v13.2.2) into a temporary folder
# and builds that. Without either, Citus must already be installed for that pg_config. The lstm extension must be installed too
# (make install).
#
# The three servers are throwaway ones in one temporary folder (as root they run as the
# postgres user), listening on 127.0.0.1 at CITUS_PORT (default 9700; the coordinator) and the
# two ports after it (the workers), with shared_preload_libraries = 'citus'. They are stopped
# and the folder deleted on exit, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/../.."

pgbin=$(pg_config --bindir)
sharedir=$(pg_config --sharedir)
port=${CITUS_PORT:-9700}
ports=("$port" "$((port + 1))" "$((port + 2))")

if [ "${1:-}" = --clone ]; then
    repo=${CITUS_REPO:-https://github.com/citusdata/citus.git}
    tag=${CITUS_TAG:-v13.2.2}
    clone=$(mktemp -d)
    echo "== cloning $repo at $tag into $clone"
    git clone -q --depth 1 --branch "$tag" "$repo" "$clone/citus"
    set -- "$clone/citus"
fi
if [ $# -ge 1 ]; then
    src=$(cd "$1" && pwd)
    echo "== building Citus from $src against $(command -v pg_config)"
    log=$(mktemp)
    {
        cd "$src"
        if [ ! -f Makefile.global ]; then
            ./configure PG_CONFIG="$(command -v pg_config)"
        fi
        # Recent PostgreSQL 15 minor releases (15.20 here) export have_createdb_privilege(),
        # which Citus 13.2's pg_version_compat.h also defines (static) for PostgreSQL 15: when
        # the server's headers declare it, give Citus's copy its own name, as a macro, so both
        # compile (skipped on a tree already patched).
        if grep -q 'extern bool have_createdb_privilege' \
            "$(pg_config --includedir-server)/commands/dbcommands.h" &&
            ! grep -q 'define have_createdb_privilege citus_' src/include/pg_version_compat.h; then
            perl -0pi -e 's/\nstatic inline bool\nhave_createdb_privilege\(void\)\n/\n#define have_createdb_privilege citus_have_createdb_privilege\nstatic inline bool\nhave_createdb_privilege(void)\n/' \
                src/include/pg_version_compat.h
        fi
        # No LLVM bitcode (JIT inlining): it doubles the build time for nothing here.
        make with_llvm=no && make with_llvm=no install
    } >"$log" 2>&1 || { tail -40 "$log" >&2; echo "Citus build failed: $log" >&2; exit 1; }
    cd - >/dev/null
    rm -f "$log"
fi
if [ ! -f "$sharedir/extension/citus.control" ]; then
    echo "Citus is not installed for $(command -v pg_config): give its source tree" >&2
    exit 2
fi
if [ ! -f "$sharedir/extension/lstm.control" ]; then
    echo "lstm is not installed for $(command -v pg_config): run make install" >&2
    exit 2
fi

. scripts/server_user.sh

dir=$(server_tmpdir)
user=$(server_user)
stop_all() {
    for node in coordinator worker1 worker2; do
        if [ -f "$dir/$node/postmaster.pid" ]; then
            as_server_user "$pgbin/pg_ctl" -D "$dir/$node" -m fast -w stop >/dev/null 2>&1 || true
        fi
    done
    rm -rf "$dir"
}
trap stop_all EXIT

names=(coordinator worker1 worker2)
for i in 0 1 2; do
    node=${names[$i]}
    as_server_user "$pgbin/initdb" -D "$dir/$node" -A trust -U "$user" -E UTF8 --no-locale \
        >"$dir/$node.initdb.log" 2>&1 || { cat "$dir/$node.initdb.log" >&2; exit 1; }
    cat >>"$dir/$node/postgresql.conf" <<EOF
shared_preload_libraries = 'citus'
listen_addresses = '127.0.0.1'
port = ${ports[$i]}
unix_socket_directories = '$dir'
fsync = off
max_worker_processes = 16
citus.node_conninfo = 'sslmode=disable'
EOF
    as_server_user "$pgbin/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w start >/dev/null ||
        { cat "$dir/$node.log" >&2; exit 1; }
done
echo "== Citus extension $(psql -X -At -h "$dir" -p "$port" -U "$user" -d postgres \
    -c "SELECT default_version FROM pg_available_extensions WHERE name = 'citus'"): coordinator" \
    "on port ${ports[0]}, workers on ${ports[1]} and ${ports[2]}"

# Citus on every node; then the coordinator adds the workers and creates lstm (Citus runs
# CREATE SCHEMA and CREATE EXTENSION on the workers too).
for i in 1 2; do
    psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "${ports[$i]}" -U "$user" -d postgres \
        -c 'CREATE EXTENSION citus'
done
export PGHOST=$dir PGPORT=$port PGUSER=$user PGDATABASE=postgres
psql -X -q -At -v ON_ERROR_STOP=1 >/dev/null <<EOF
CREATE EXTENSION citus;
SELECT citus_set_coordinator_host('127.0.0.1', ${ports[0]});
SELECT citus_add_node('127.0.0.1', ${ports[1]});
SELECT citus_add_node('127.0.0.1', ${ports[2]});
EOF

psql -X -q -v ON_ERROR_STOP=1 -P pager=off -f test/citus/check.sql
echo "== Citus check: all cases passed"
