#!/usr/bin/env bash
# test/concurrency/check.sh - stress check of lstm_score_trigger: several pgbench clients insert
# into the same few series at once, in transactions of two rows, a quarter of them rolled back.
# Afterwards every series' saved step count must equal its committed rows (no update lost, none
# applied twice, none kept from a rolled-back transaction). Exits non-zero on a mismatch.
#
#   eval "$(scripts/pgtmp.sh start)" && test/concurrency/check.sh
# Uses the server in PGHOST/PGPORT with the extension installed; creates and drops the database
# lstm_concurrency. CLIENTS and TRANSACTIONS (per client) can be overridden.
set -euo pipefail
CLIENTS=${CLIENTS:-4}
TRANSACTIONS=${TRANSACTIONS:-150}
DB=lstm_concurrency
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$DB" >/dev/null 2>&1 || true' EXIT

dropdb --if-exists "$DB" >/dev/null 2>&1 || true
createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
CREATE EXTENSION lstm;
INSERT INTO lstm_models (name, model)
SELECT 'stress', jsonb_build_object(
    'input_size', 1, 'hidden_size', 8, 'num_layers', 1, 'output_size', 1,
    'weights', jsonb_build_object(
        'weight_ih_l0', (SELECT jsonb_agg(jsonb_build_array(0.3 * sin(r))) FROM generate_series(1, 32) r),
        'weight_hh_l0', (SELECT jsonb_agg((SELECT jsonb_agg(0.2 * cos(r * 8 + c)) FROM generate_series(1, 8) c))
                         FROM generate_series(1, 32) r),
        'bias_ih_l0', (SELECT jsonb_agg(0.01 * r) FROM generate_series(1, 32) r),
        'bias_hh_l0', (SELECT jsonb_agg(0.0) FROM generate_series(1, 32) r),
        'head.weight', jsonb_build_array((SELECT jsonb_agg(0.1 * c) FROM generate_series(1, 8) c)),
        'head.bias', jsonb_build_array(0.0)))::lstm_model;
CREATE TABLE stress (s int, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON stress FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('stress', 'v', 's', 'forecast', 'score');
SQL

cat >"$work/commit.sql" <<'SQL'
\set s random(1, 3)
BEGIN;
INSERT INTO stress (s, v) VALUES (:s, random());
INSERT INTO stress (s, v) VALUES (:s, random());
COMMIT;
SQL
cat >"$work/rollback.sql" <<'SQL'
\set s random(1, 3)
BEGIN;
INSERT INTO stress (s, v) VALUES (:s, random());
INSERT INTO stress (s, v) VALUES (:s, random());
ROLLBACK;
SQL

pgbench -n -c "$CLIENTS" -j 2 -t "$TRANSACTIONS" -f "$work/commit.sql@3" \
    -f "$work/rollback.sql@1" "$DB" >"$work/pgbench.log" 2>&1 || {
    cat "$work/pgbench.log" >&2
    exit 1
}
grep -E "^number of (transactions actually processed|failed)" "$work/pgbench.log" || true

result=$(psql -X -q -A -t -d "$DB" <<'SQL'
SELECT format('series %s: %s rows, state steps %s', r.s, r.n, (lstm_state_info(st.state) ->> 'steps'))
       || CASE WHEN r.n = (lstm_state_info(st.state) ->> 'steps')::bigint THEN '' ELSE '  MISMATCH' END
FROM (SELECT s, count(*) AS n FROM stress GROUP BY s) r
FULL JOIN lstm_stream_states st ON st.model_name = 'stress' AND st.series = r.s::text
ORDER BY r.s;
SQL
)
echo "$result"
total=$(psql -X -q -A -t -d "$DB" -c "SELECT count(*) FROM stress")
echo "committed rows: $total"
if [ -z "$result" ] || grep -q MISMATCH <<<"$result" || [ "$total" -eq 0 ]; then
    echo "concurrency check FAILED: a state update was lost or applied twice" >&2
    exit 1
fi
echo "concurrency check passed"
