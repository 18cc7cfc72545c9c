#!/usr/bin/env bash
# demo.sh - the main job, end to end, on a fresh Debian 12 machine (run as root or with sudo):
# install what is needed, build and install the extension, start a throwaway server as the
# unprivileged postgres user, load the bundled real series, create a model, forecast, and
# print the results. The server and its temporary folder are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
make -s
make -s install >/dev/null
eval "$(PGTMP_PORT=${PGTMP_PORT:-54331} scripts/pgtmp.sh start)"
trap 'scripts/pgtmp.sh stop' EXIT
export PGDATABASE=postgres

echo "== loading data/co2_weekly.csv (Mauna Loa weekly CO2, 1958-2001, with gaps)"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION lstm;
CREATE TABLE co2_raw (date text, co2 text);
\copy co2_raw FROM 'data/co2_weekly.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE co2 (ts timestamptz PRIMARY KEY, ppm float8);
INSERT INTO co2 SELECT to_date(date, 'YYYYMMDD'), nullif(co2, '')::float8 FROM co2_raw;
DROP TABLE co2_raw;
SQL
psql -X -At -c "SELECT count(*) || ' weeks, ' || count(ppm) || ' with a value, from ' || min(ts)::date || ' to ' || max(ts)::date FROM co2"

echo
echo "== importing a PyTorch-trained model (test/demo/make_demo_model.py: nn.LSTM(1, 16) + nn.Linear"
echo "   on weekly differences, trained on the first 80 % of the weeks)"
psql -X -q -v ON_ERROR_STOP=1 -v model="$(cat test/demo/co2_pytorch_model.json)" <<'SQL'
INSERT INTO lstm_models (name, model, info)
VALUES ('co2_pytorch', :'model', '{"source": "test/demo/make_demo_model.py"}');
SELECT name, info ->> 'hidden_size' AS hidden, info ->> 'parameters' AS parameters,
       info ->> 'difference' AS differenced, info ->> 'fingerprint' AS fingerprint FROM lstm_models;
SQL

echo "== one-step-ahead forecasts over the last 20 % of the weeks (window form of lstm_forecast)"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
-- At each week with a value, the forecast made after the previous week with a value,
-- next to the naive forecasts: the last value, and the value one season (52 weeks) earlier.
WITH observed AS (
    SELECT ts, ppm, row_number() OVER (ORDER BY ts) AS n, count(*) OVER () AS total,
           lstm_forecast('co2_pytorch', ppm) OVER (ORDER BY ts) AS forecast_next
    FROM co2 WHERE ppm IS NOT NULL
), scored AS (
    SELECT o.ts, o.ppm, o.n, o.total,
           lag(o.forecast_next) OVER (ORDER BY o.ts) AS lstm,
           lag(o.ppm) OVER (ORDER BY o.ts) AS last_value,
           (SELECT c.ppm FROM co2 c WHERE c.ts = o.ts - interval '52 weeks') AS season_ago
    FROM observed o
)
SELECT 'co2 weekly' AS series, count(*) AS test_weeks,
       round(sqrt(avg((lstm - ppm) ^ 2))::numeric, 3) AS rmse_lstm,
       round(sqrt(avg((last_value - ppm) ^ 2))::numeric, 3) AS rmse_last_value,
       round(sqrt(avg((season_ago - ppm) ^ 2))::numeric, 3) AS rmse_season_ago
FROM scored WHERE n > total * 0.8 AND season_ago IS NOT NULL;

-- The next 8 weeks after the end of the data, each forecast fed back as the next input.
SELECT max(ts)::date AS last_week,
       (SELECT array_agg(round(f::numeric, 2)) FROM unnest(lstm_forecast('co2_pytorch', ppm, 8 ORDER BY ts)) f)
       AS next_8_weeks
FROM co2;
SQL
