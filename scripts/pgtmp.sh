#!/usr/bin/env bash
# pgtmp.sh - a throwaway PostgreSQL 15 server for the demo, tests and benchmarks.
#
#   eval "$(scripts/pgtmp.sh start)"   initdb + start in a new temporary folder; prints
#                                      export lines (PGHOST, PGPORT, PGUSER, PGTMP_DIR)
#   scripts/pgtmp.sh stop              stop the server started above and delete its folder
#
# As root the server runs as the unprivileged Debian user "postgres" (initdb and
# postgres refuse to run as root); otherwise as the calling user. It listens only on a
# Unix socket inside its own folder, so servers started here never clash, even on one port.
# PGTMP_PORT picks the port (default 54329, the one default of every script: they all get
# their server through scripts/with-server.sh, which calls this).
set -euo pipefail

PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
PORT=${PGTMP_PORT:-54329}

. "$(dirname "$0")/server_user.sh"

case "${1:-}" in
start)
    dir=$(server_tmpdir)
    user=$(server_user)
    as_server_user "$PGBIN/initdb" -D "$dir/data" -A trust -U "$user" -E UTF8 --no-locale \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_server_user "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $PORT -k $dir -c listen_addresses= -c fsync=off -c shared_buffers=256MB" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "export PGHOST=$dir PGPORT=$PORT PGUSER=$user PGDATABASE=postgres PGTMP_DIR=$dir"
    ;;
stop)
    dir=${PGTMP_DIR:?PGTMP_DIR is not set: run eval \"\$(scripts/pgtmp.sh start)\" first}
    as_server_user "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
