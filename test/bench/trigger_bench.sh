#!/usr/bin/env bash
# trigger_bench.sh - load rates with and without lstm_score_trigger: bulk loads (COPY and
# INSERT ... SELECT) and single-row INSERTs (pgbench).
#
#   test/bench/trigger_bench.sh        (run by test/bench/run.sh; needs `make install` done)
#
# TRIGGER_BENCH_MODE picks the parts: all (default), bulk or single.
#
# Bulk: for each size in TRIGGER_BENCH_BULK_SIZES (default "100000 1000000") rows spread over
# TRIGGER_BENCH_BULK_SERIES series (default 1,000), in time order, loaded into an empty table
# in one statement, without and with the trigger (no saved states before the load): COPY from
# a client-side file (psql's \copy) and INSERT ... SELECT from a staging table. Prints each
# load's time and rows/s, scored / plain, and how the time grows from the smallest to the
# largest size (linear: the size ratio).
#
# PostgreSQL's own floor is measured beside them, with two more identical tables whose BEFORE
# INSERT FOR EACH ROW trigger does nothing: readings_cfloor's is written in C (pass_row.c, built
# here with cc and loaded by its path), readings_floor's in PL/pgSQL (RETURN NEW). Any row trigger
# costs at least the C one: PostgreSQL forms a heap tuple for it and calls it per row, and COPY
# into a table with one inserts row by row instead of in batches (heap_multi_insert).
# The ceiling column adds to the C floor's time the arithmetic of scoring alone (step_bench.c:
# lstm_stream_feed for the same hidden size and series, in turn, without PostgreSQL): the best
# rate any scoring trigger could reach, as a percentage of plain's.
# Each bulk load runs TRIGGER_BENCH_BULK_REPEAT times (default 3; plain, C floor, floor and
# scored in turn) and the median time counts.
#
# Two identical tables, readings_plain and readings_scored (sensor, ts, v, forecast, score);
# the second has the scoring trigger with a hidden-TRIGGER_BENCH_HIDDEN (default 32), one-layer
# model, series column and time column. pgbench runs TRIGGER_BENCH_CLIENTS clients (default 4,
# 2 threads) for TRIGGER_BENCH_SECONDS (default 10) per run, each transaction one INSERT of one
# row into a random one of TRIGGER_BENCH_SERIES series (default 100) with prepared statements;
# plain, C floor, floor and scored runs take turns TRIGGER_BENCH_REPEAT times (default 2) and
# the best rate of plain and scored counts (each run's own ratio is printed too, and the medians
# of the runs' ratios: the machine's background load changes between runs). Every series
# already has a saved state before timing starts. Prints both
# rates and their ratio (target: scored >= 70 % of plain at hidden 32); never fails on a time.
#
# Uses the server in the PG* environment variables when PGHOST or PGPORT is set (it creates
# and drops the database lstm_trigger_bench), otherwise a throwaway one (scripts/with-server.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
hidden=${TRIGGER_BENCH_HIDDEN:-32}
clients=${TRIGGER_BENCH_CLIENTS:-4}
seconds=${TRIGGER_BENCH_SECONDS:-10}
series=${TRIGGER_BENCH_SERIES:-100}
repeat=${TRIGGER_BENCH_REPEAT:-2}
mode=${TRIGGER_BENCH_MODE:-all}
bulk_sizes=${TRIGGER_BENCH_BULK_SIZES:-100000 1000000}
bulk_series=${TRIGGER_BENCH_BULK_SERIES:-1000}
bulk_repeat=${TRIGGER_BENCH_BULK_REPEAT:-3}

cd "$root"
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$here/trigger_bench.sh" "$@"
export PGOPTIONS="-c client_min_messages=warning"
db=lstm_trigger_bench
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
# The C floor trigger, readable by the server's user (the directory is mktemp's, 0700).
chmod 755 "$work"
cc -O2 -fPIC -shared -I"$(pg_config --includedir-server)" -o "$work/pass_row.so" "$here/pass_row.c"

# The model, the four tables and their triggers, the series' first rows (trigger_setup.sql).
psql -X -q -v ON_ERROR_STOP=1 -v hidden="$hidden" -v series="$series" -v pass_row_so="$work/pass_row.so" \
    -d "$db" -f "$here/trigger_setup.sql" >/dev/null

# Run one SQL command on its own connection; print the seconds it took.
seconds_of() {
    local start end
    start=$(date +%s.%N)
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "$1" >/dev/null
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

# Empty the tables and forget the saved states (a load starts from no state).
reset_tables() {
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" \
        -c "TRUNCATE readings_plain, readings_scored, readings_cfloor, readings_floor" \
        -c "DELETE FROM lstm_stream_states" -c "VACUUM lstm_stream_states" >/dev/null
}

# One bulk size: COPY and INSERT ... SELECT, plain and scored; one line each.
bulk_size() {
    local rows=$1 per_series=$(($1 / bulk_series))
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "DROP TABLE IF EXISTS staging;
        CREATE TABLE staging AS SELECT s AS sensor, now() + t * interval '1 second' AS ts,
               random() AS v FROM generate_series(1, $per_series) t, generate_series(1, $bulk_series) s
        ORDER BY t, s" -c "VACUUM ANALYZE staging" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "\\copy staging TO '$work/bulk.tsv'"
    for how in COPY "INSERT ... SELECT"; do
        local times="" t
        for i in $(seq "$bulk_repeat"); do
            for table in plain cfloor floor scored; do
                reset_tables
                if [ "$how" = COPY ]; then
                    t=$(seconds_of "\\copy readings_$table (sensor, ts, v) FROM '$work/bulk.tsv'")
                else
                    t=$(seconds_of "INSERT INTO readings_$table (sensor, ts, v) SELECT * FROM staging")
                fi
                times="$times $table=$t"
            done
        done
        # the median of each table's times
        echo "$how|$rows|$(for table in plain cfloor floor scored; do
            tr ' ' '\n' <<<"$times" | sed -n "s/^$table=//p" | sort -g |
                awk '{ v[NR] = $1 } END { printf "%s", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
            echo -n '|'
        done)" | sed 's/|$//' >>"$work/bulk.txt"
    done
    psql -X -q -At -d "$db" -c "SELECT count(*) = $bulk_series AND
        bool_and(st.state::text = a.agg::text) FROM lstm_stream_states st JOIN
        (SELECT sensor, lstm_state_agg('bench', v ORDER BY ts) AS agg FROM readings_scored GROUP BY sensor) a
        ON st.series = a.sensor::text" | grep -q t ||
        { echo "trigger_bench.sh: saved states differ from lstm_state_agg" >&2; exit 1; }
}

# The bulk table: one line per method and size, then the growth from the smallest size.
bulk_report() {
    echo
    echo "== bulk loads: hidden $hidden, 1 layer, $bulk_series series, rows in time order," \
         "one statement, $(nproc) cores"
    echo "(median of $bulk_repeat runs each; C floor, floor: a BEFORE ROW trigger in C, in PL/pgSQL," \
         "that does nothing)"
    printf "%-18s %8s %8s %8s %8s %8s %10s %10s %7s %7s %7s %7s\n" method rows "plain s" "C flr s" \
        "floor s" "scored s" "plain r/s" "scored r/s" "C floor" "floor" "scored" "ceiling"
    awk -F'|' -v ns="$step_ns" '{
        printf "%-18s %8d %8.3f %8.3f %8.3f %8.3f %10.0f %10.0f %6.1f%% %6.1f%% %6.1f%% %6.1f%%\n",
               $1, $2, $3, $4, $5, $6, $2 / $3, $2 / $6, 100 * $3 / $4, 100 * $3 / $5,
               100 * $3 / $6, 100 * $3 / ($4 + $2 * ns * 1e-9) }' "$work/bulk.txt"
    echo "(C floor, floor, scored: rows per second as a percentage of plain's; target for scored" \
         ">= 50 %)"
    echo "(ceiling: the C floor's time plus the arithmetic of scoring alone, step_bench: $step_ns ns" \
         "per row, hidden $hidden, $bulk_series series in turn, without PostgreSQL)"
    awk -F'|' '{ if (!($1 in small)) { small[$1] = $2; ts[$1] = $6 } big[$1] = $2; tb[$1] = $6 }
        END { for (m in small) if (big[m] > small[m])
            printf "%-18s scored time x%.1f for x%.0f rows\n", m, tb[m] / ts[m], big[m] / small[m] }' \
        "$work/bulk.txt"
}

if [ "$mode" != single ]; then
    # The arithmetic of scoring alone, per row: no scoring trigger can cost less.
    make -s test/bench/step_bench
    step_ns=$(test/bench/step_bench "$hidden" "$bulk_series" 100 2>/dev/null)
    : >"$work/bulk.txt"
    for size in $bulk_sizes; do
        bulk_size "$size"
    done
    bulk_report
    reset_tables
    psql -X -q -v ON_ERROR_STOP=1 -v series="$series" -d "$db" -c "INSERT INTO readings_scored (sensor, ts, v)
        SELECT s, now() - (20 - t) * interval '1 second', random() FROM generate_series(1, $series) s,
               generate_series(1, 20) t ORDER BY t, s;
        INSERT INTO readings_plain SELECT * FROM readings_scored;
        INSERT INTO readings_cfloor SELECT * FROM readings_scored;
        INSERT INTO readings_floor SELECT * FROM readings_scored;" >/dev/null
fi
[ "$mode" != bulk ] || exit 0

for table in plain cfloor floor scored; do
    cat >"$work/$table.sql" <<SQL
\\set s random(1, $series)
INSERT INTO readings_$table (sensor, ts, v) VALUES (:s, clock_timestamp(), random());
SQL
done

# Run one pgbench; print its rate (transactions per second, excluding connection time).
rate() {
    pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -f "$work/$1.sql" "$db" 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

best_plain=0
best_scored=0
: >"$work/ratios.txt"
for i in $(seq "$repeat"); do
    p=$(rate plain)
    c=$(rate cfloor)
    f=$(rate floor)
    s=$(rate scored)
    printf "run %d: plain %6.0f   C floor %6.0f   floor %6.0f   scored %6.0f rows/s   ratio %5.1f %%\n" \
        "$i" "$p" "$c" "$f" "$s" "$(awk -v p="$p" -v s="$s" 'BEGIN { print 100 * s / p }')"
    awk -v p="$p" -v c="$c" -v f="$f" -v s="$s" 'BEGIN { print 100 * s / p, 100 * f / p, 100 * c / p }' \
        >>"$work/ratios.txt"
    best_plain=$(awk -v a="$best_plain" -v b="$p" 'BEGIN { print (b > a ? b : a) }')
    best_scored=$(awk -v a="$best_scored" -v b="$s" 'BEGIN { print (b > a ? b : a) }')
done
# the median of the runs' own ratios (the machine's load changes between runs, not within one)
median_of_column() {
    awk -v c="$1" '{ print $c }' "$work/ratios.txt" | sort -g |
        awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
median_ratio=$(median_of_column 1)
median_floor=$(median_of_column 2)
median_cfloor=$(median_of_column 3)

stats=$(psql -X -q -At -d "$db" -c "
    SELECT count(*), count(forecast), count(score),
           (SELECT sum(late_rows) FROM lstm_stream_states),
           (SELECT sum((lstm_state_info(state) ->> 'steps')::bigint) FROM lstm_stream_states)
    FROM readings_scored")
IFS='|' read -r rows forecasts scores late steps <<<"$stats"

echo
echo "== lstm_score_trigger insert rate: hidden $hidden, 1 layer, $clients clients, $series series," \
     "${seconds}s per run, best of $repeat, $(nproc) cores"
printf "%-34s %12.0f rows/s\n" "INSERT, no trigger" "$best_plain"
printf "%-34s %12.0f rows/s\n" "INSERT with lstm_score_trigger" "$best_scored"
awk -v p="$best_plain" -v s="$best_scored" -v m="$median_ratio" -v f="$median_floor" \
    -v c="$median_cfloor" 'BEGIN {
    printf "%-34s %11.1f %%   (best runs)\n", "scored / plain", 100 * s / p;
    printf "%-34s %11.1f %%   (target >= 70 %%)\n", "scored / plain, median of runs", m;
    printf "%-34s %11.1f %%\n", "C floor / plain, median of runs", c;
    printf "%-34s %11.1f %%\n", "floor / plain, median of runs", f;
    printf "%-34s %12.1f us\n", "added wall time per row", 1e6 / s - 1e6 / p }'
echo "scored table: $rows rows, $forecasts with a forecast, $scores with a score, $late late" \
     "(unscored), saved steps $steps"
