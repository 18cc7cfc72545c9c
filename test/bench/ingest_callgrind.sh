#!/usr/bin/env bash
# ingest_callgrind.sh - instructions per inserted row, with and without lstm_score_trigger,
# counted by callgrind: stable where wall-clock rates on a shared machine are not.
#
#   test/bench/ingest_callgrind.sh      (as root or the server's user; needs `make install` done
#                                        and valgrind: scripts/install-deps.sh --profile)
#
# The database is trigger_bench.sh's (trigger_setup.sql: hidden INGEST_CG_HIDDEN, default 32).
# Each workload runs in a single-user backend (postgres --single) under
# valgrind --tool=callgrind, on a fresh copy of one prepared data directory, twice: with a short
# and a long run of rows. The difference of the two counts divided by the difference of the
# rows is the cost of one more row, without start-up, warm-up or the first row of a series:
#
#   single  PREPARE of a one-row INSERT, then 1,000 and 4,000 EXECUTEs into 100 series whose
#           states exist (a transaction per row, as autocommit does)
#   bulk    INSERT ... SELECT of 10,000 and 40,000 rows into 1,000 series, rows in time order,
#           one statement (the first row of each series creates its state)
#   copy    the same rows by COPY from a server-side file (COPY inserts in batches into a table
#           without BEFORE ROW triggers, and row by row into one with any)
#
# into readings_plain (no trigger), readings_cfloor (a C trigger that does nothing) and
# readings_scored (lstm_score_trigger). Prints instructions per row and scored / plain.
# The single-user EXECUTE also parses a utility statement per row (about 15k instructions that
# pgbench's protocol-level prepared statements do not pay), so its ratio is not pgbench's.
# INGEST_CG_ONLY=single, bulk or copy runs one part. Never fails on a count.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
hidden=${INGEST_CG_HIDDEN:-32}
only=${INGEST_CG_ONLY:-}
bindir=$(pg_config --bindir)

cd "$root"
. scripts/server_user.sh
command -v valgrind >/dev/null || {
    echo "ingest_callgrind.sh: valgrind is missing: scripts/install-deps.sh --profile" >&2
    exit 1
}
work=$(server_tmpdir)
trap 'as_server_user "$bindir/pg_ctl" -D "$work/tpl" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cc -O2 -fPIC -shared -I"$(pg_config --includedir-server)" -o "$work/pass_row.so" "$here/pass_row.c"
chmod 755 "$work/pass_row.so"

# The template data directory: the bench database "ib", its staging tables, then stopped.
as_server_user "$bindir/initdb" -D "$work/tpl" -A trust -U "$(server_user)" -E UTF8 --no-locale \
    >"$work/initdb.log" 2>&1
as_server_user "$bindir/pg_ctl" -D "$work/tpl" -l "$work/tpl.log" -w \
    -o "-p 54399 -k $work -c listen_addresses= -c fsync=off -c autovacuum=off" start >/dev/null
export PGHOST=$work PGPORT=54399 PGUSER=$(server_user)
createdb ib
psql -X -q -v ON_ERROR_STOP=1 -v hidden="$hidden" -v series=100 -v pass_row_so="$work/pass_row.so" \
    -d ib -f "$here/trigger_setup.sql" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d ib <<'SQL' >/dev/null
INSERT INTO readings_cfloor SELECT * FROM readings_plain;
-- bulk rows: 1,000 series, in time order, after the single-row part's times
CREATE TABLE staging10 AS SELECT s AS sensor, now() + t * interval '1 second' AS ts, random() AS v
    FROM generate_series(1, 10) t, generate_series(1001, 2000) s ORDER BY t, s;
CREATE TABLE staging40 AS SELECT s AS sensor, now() + t * interval '1 second' AS ts, random() AS v
    FROM generate_series(1, 40) t, generate_series(1001, 2000) s ORDER BY t, s;
VACUUM ANALYZE;
CHECKPOINT;
SQL
for n in 10 40; do
    psql -X -q -v ON_ERROR_STOP=1 -d ib -c "COPY staging$n TO '$work/bulk$n.tsv'" >/dev/null
done
as_server_user "$bindir/pg_ctl" -D "$work/tpl" -m fast -w stop >/dev/null

# The workload files: w_<table>_<part><rows>.sql, one statement per line.
for table in plain cfloor scored; do
    for n in 1000 4000; do
        {
            echo "PREPARE p(int, timestamptz, float8) AS INSERT INTO readings_$table (sensor, ts, v) VALUES (\$1, \$2, \$3)"
            awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++)
                printf "EXECUTE p(%d, now() + interval '\''%d ms'\'', %.3f)\n", (i * 37) % 100 + 1, i, (i % 997) / 997 }'
        } >"$work/w_${table}_single$n.sql"
    done
    for n in 10 40; do
        echo "INSERT INTO readings_$table (sensor, ts, v) SELECT * FROM staging$n" \
            >"$work/w_${table}_bulk$n.sql"
        echo "COPY readings_$table (sensor, ts, v) FROM '$work/bulk$n.tsv'" \
            >"$work/w_${table}_copy$n.sql"
    done
done
chmod 644 "$work"/w_*.sql

# Instructions of one workload file on a fresh copy of the template.
count() {
    local name=$1 data=$work/d_$1
    rm -rf "$data"
    cp -a "$work/tpl" "$data"
    as_server_user valgrind --tool=callgrind --callgrind-out-file="$work/cg.$name.out" \
        "$bindir/postgres" --single -D "$data" -c fsync=off -c autovacuum=off ib \
        <"$work/w_$name.sql" >"$work/cg.$name.log" 2>&1
    rm -rf "$data"
    grep -h '^summary:' "$work/cg.$name.out" | awk '{ print $2 }'
}

# Instructions per row of a part for one table: (long - short) / (rows long - rows short).
per_row() {
    local table=$1 part=$2 short=$3 long=$4 rows=$5
    awk -v a="$(count "${table}_$part$short")" -v b="$(count "${table}_$part$long")" -v r="$rows" \
        'BEGIN { printf "%.0f", (b - a) / r }'
}

echo "== instructions per inserted row (callgrind, single-user backend): hidden $hidden, 1 layer"
printf "%-34s %10s %10s %10s %8s %8s\n" part plain "C floor" scored "C floor" scored
for part in single bulk copy; do
    [ -z "$only" ] || [ "$only" = "$part" ] || continue
    if [ "$part" = single ]; then
        short=1000 long=4000 rows=3000 label="single-row INSERT, 100 series"
    elif [ "$part" = bulk ]; then
        short=10 long=40 rows=30000 label="INSERT ... SELECT, 1,000 series"
    else
        short=10 long=40 rows=30000 label="COPY, 1,000 series"
    fi
    p=$(per_row plain "$part" $short $long $rows)
    c=$(per_row cfloor "$part" $short $long $rows)
    s=$(per_row scored "$part" $short $long $rows)
    awk -v l="$label" -v p="$p" -v c="$c" -v s="$s" 'BEGIN {
        printf "%-34s %10d %10d %10d %7.1f%% %7.1f%%\n", l, p, c, s, 100 * p / c, 100 * p / s }'
done
echo "(C floor, scored: plain's instructions per row as a percentage of theirs; the trigger adds" \
     "scored - plain)"
