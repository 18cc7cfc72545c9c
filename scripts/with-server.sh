#!/usr/bin/env bash
# with-server.sh - run a command against a PostgreSQL server: the caller's, or a throwaway one.
#
#   scripts/with-server.sh COMMAND [ARGS...]
#
# When PGHOST or PGPORT is set, the command runs as it is, against the caller's server (with
# the caller's PGUSER, PGDATABASE, ...). Otherwise a throwaway server is started with
# scripts/pgtmp.sh (as root it runs as the postgres user), the command runs with PGHOST,
# PGPORT, PGUSER and PGDATABASE exported, and the server is stopped and its folder deleted
# afterwards, whatever the command's outcome. Exits with the command's status.
#
# Every script that needs a server goes through here (the demo, the test command, the
# benchmarks, test/train/evaluate.sh); a script that needs one for the rest of its run
# re-executes itself with
#
#   [ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$0" "$@"
#
# The throwaway server listens only on a Unix socket in its own folder, so servers never
# clash: the port is pgtmp.sh's default (PGTMP_PORT overrides it).
set -euo pipefail
if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi
if [ -n "${PGHOST:-}${PGPORT:-}" ]; then
    exec "$@"
fi

here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/pgtmp.sh" start)"
trap '"$here/pgtmp.sh" stop' EXIT
status=0
"$@" || status=$?
exit $status
