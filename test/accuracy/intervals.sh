#!/usr/bin/env bash
# intervals.sh [DATA_DIR] - calibration of the prediction intervals (not part of the test
# command; takes a few minutes, most of it training on M4 weekly). Two held-out sets:
#
#   M4 weekly (DATA_DIR/m4_weekly_{train,test}.csv, default ../shared/data): one model trained
#   on the training part with lstm_train(..., season => 52, horizon => 13), evaluated on the
#   13 test weeks of every series (lstm_evaluate, one origin, MASE with season 1 as M4);
#   CO2 (data/co2_weekly.csv): a model trained on the first 80 % (season 52, horizon 13),
#   evaluated with rolling origins over the last 20 % (every origin with 13 weeks after it).
#
# For levels 0.80 and 0.95 it prints the coverage of the model's intervals (target: 77-83 %
# and 93-97 %) and its MSIS next to the naive forecast's (intervals from the series' own
# in-sample one-step changes, widened by sqrt(step)), and the seconds lstm_evaluate took.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$0" "$@"
data=${1:-../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
/usr/bin/python3 test/accuracy/m4_score.py long "$data/m4_weekly_train.csv" >"$work/train.csv"
/usr/bin/python3 - "$data" >"$work/test.csv" <<'PY'
import csv, sys
rows = {}
for r in csv.reader(open(sys.argv[1] + '/m4_weekly_train.csv')):
    if r[0].startswith('W'):
        rows[r[0]] = sum(1 for v in r[1:] if v != '')
for r in csv.reader(open(sys.argv[1] + '/m4_weekly_test.csv')):
    if r[0] in rows:
        for j, v in enumerate(v for v in r[1:] if v != ''):
            print(f"{r[0]},{rows[r[0]] + j + 1},{v}")
PY
chmod 644 "$work"/*.csv

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION IF NOT EXISTS lstm;
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS lstm_intervals CASCADE;
CREATE SCHEMA lstm_intervals;
SET search_path = lstm_intervals, public;
CREATE TABLE m4w (id text, t int, value float8);
\copy m4w FROM '$work/train.csv' CSV
CREATE TABLE m4w_all AS SELECT * FROM m4w;
\copy m4w_all FROM '$work/test.csv' CSV
CREATE TABLE co2_csv (date text, co2 text);
\copy co2_csv FROM 'data/co2_weekly.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE co2 AS SELECT to_date(date, 'YYYYMMDD') AS ts, nullif(co2, '')::float8 AS ppm
                    FROM co2_csv;
CREATE TABLE co2_train AS
    SELECT * FROM co2 WHERE ppm IS NOT NULL
    ORDER BY ts LIMIT (SELECT floor(0.8 * count(ppm)) FROM co2);
SELECT 'm4_weekly' AS model, r->'calibration_errors' AS errors_per_step,
       round((r->>'elapsed_seconds')::numeric, 1) AS train_seconds
FROM lstm_train('iv_bench_m4w', 'm4w', value => 'value', time_column => 't', series => 'id',
                season => 52, horizon => 13) r
UNION ALL
SELECT 'co2', r->'calibration_errors', round((r->>'elapsed_seconds')::numeric, 1)
FROM lstm_train('iv_bench_co2', 'co2_train', value => 'ppm', time_column => 'ts', season => 52,
                horizon => 13) r;

CREATE TABLE results (data text, level float8, n_forecasts bigint, coverage float8, msis float8,
                      naive_coverage float8, naive_msis float8, smape float8, naive_smape float8,
                      seconds float8);
CREATE FUNCTION bench(p_data text, p_model text, p_source regclass, p_value text,
                      p_time text, p_series text, p_origins int, p_level float8) RETURNS void
LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
    e record;
BEGIN
    SELECT * INTO e FROM lstm_evaluate(p_model, p_source, p_value, p_time, p_series,
                                       level => p_level, origins => p_origins) x
    WHERE x.series IS NULL;
    INSERT INTO results VALUES (p_data, p_level, e.n_forecasts, e.coverage, e.msis,
                                e.naive_coverage, e.naive_msis, e.smape, e.naive_smape,
                                extract(epoch FROM clock_timestamp() - t0));
END \$\$;
SELECT bench('M4 weekly, h=13', 'iv_bench_m4w', 'm4w_all', 'value', 't', 'id', 1, lv)
FROM (VALUES (0.8), (0.95)) l(lv);
SELECT bench('CO2 last 20 %, h=13', 'iv_bench_co2', 'co2', 'ppm', 'ts', NULL,
             (SELECT count(ppm)::int FROM co2) - (SELECT count(*)::int FROM co2_train) - 13 + 1,
             lv)
FROM (VALUES (0.8), (0.95)) l(lv);
\pset footer off
SELECT data, level, n_forecasts, round(coverage::numeric, 3) AS coverage,
       round(msis::numeric, 2) AS msis, round(naive_coverage::numeric, 3) AS naive_coverage,
       round(naive_msis::numeric, 2) AS naive_msis, round(smape::numeric, 3) AS smape,
       round(naive_smape::numeric, 3) AS naive_smape, round(seconds::numeric, 1) AS seconds
FROM results ORDER BY data DESC, level;
DELETE FROM lstm_models WHERE name LIKE 'iv\_bench\_%';
DROP SCHEMA lstm_intervals CASCADE;
SQL
