#!/usr/bin/env bash
# demo.sh - the main job, end to end, on a fresh Debian 12 machine (run as root or with sudo):
# install what is needed, build and install the extension, start a throwaway server as the
# unprivileged postgres user (scripts/with-server.sh; with PGHOST or PGPORT set, the
# caller's server is used instead), load the bundled real series (data/), train a model on
# each inside the database, forecast, and print the results next to naive forecasts. The
# throwaway server and its temporary folder are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# The rest runs against a server: the caller's, or a throwaway one.
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$0" "$@"
make -s
make -s install >/dev/null

echo "== 1. Train in the database and score one-step-ahead forecasts (test/train/evaluate.sh)"
echo "   data/co2_weekly.csv (Mauna Loa CO2, weekly 1958-2001, 59 weeks missing) and"
echo "   data/sunspots_yearly.csv (1700-2008) are loaded with COPY into tables with a timestamp;"
echo "   lstm_train fits the first 80 % of each series; the window form of lstm_forecast then"
echo "   forecasts every week (year) of the last 20 %, next to the naive forecasts."
test/train/evaluate.sh

echo
echo "== 2. The trained models are rows of lstm_models"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT name, info ->> 'hidden_size' AS hidden, info ->> 'parameters' AS parameters,
       info ->> 'difference' AS differenced, info ->> 'epochs_run' AS epochs,
       round((info ->> 'elapsed_seconds')::numeric, 2) AS train_seconds,
       info ->> 'fingerprint' AS fingerprint
FROM lstm_models ORDER BY name;
SQL

echo "== 3. Forecast past the end of the data (each forecast fed back as the next input)"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'co2 ppm, next 8 weeks after ' || max(ts)::date AS forecast,
       (SELECT array_agg(round(f::numeric, 2))
        FROM unnest(lstm_forecast('eval_co2_weekly', co2, 8 ORDER BY ts)) f) AS values
FROM lstm_eval.co2_weekly
UNION ALL
SELECT 'sunspots, next 5 years after ' || extract(year FROM max(ts)),
       (SELECT array_agg(round(f::numeric, 1))
        FROM unnest(lstm_forecast('eval_sunspots_yearly', sunspots, 5 ORDER BY ts)) f)
FROM lstm_eval.sunspots_yearly;
SQL

echo "== 4. Importing from PyTorch: a model trained by test/demo/make_demo_model.py"
echo "   (nn.LSTM(1, 16) + nn.Linear on weekly CO2 differences, first 80 %), loaded as JSON"
psql -X -q -v ON_ERROR_STOP=1 -v model="$(cat test/demo/co2_pytorch_model.json)" <<'SQL'
INSERT INTO lstm_models (name, model, notes)
VALUES ('co2_pytorch', :'model', '{"source": "test/demo/make_demo_model.py"}');
-- At each week with a value, the forecast made after the previous week with a value.
WITH observed AS (
    SELECT ts, co2, row_number() OVER (ORDER BY ts) AS n, count(*) OVER () AS total,
           lstm_forecast('co2_pytorch', co2) OVER (ORDER BY ts) AS pytorch_next,
           lstm_forecast('eval_co2_weekly', co2) OVER (ORDER BY ts) AS in_database_next
    FROM lstm_eval.co2_weekly WHERE co2 IS NOT NULL
), scored AS (
    SELECT co2, n, total, lag(pytorch_next) OVER (ORDER BY ts) AS pytorch,
           lag(in_database_next) OVER (ORDER BY ts) AS in_database
    FROM observed
)
SELECT 'co2 weekly, last 20 %' AS series, count(*) AS weeks,
       round(sqrt(avg((pytorch - co2) ^ 2))::numeric, 4) AS rmse_pytorch_import,
       round(sqrt(avg((in_database - co2) ^ 2))::numeric, 4) AS rmse_lstm_train
FROM scored WHERE n > total * 0.8;
SQL

echo
echo "== 5. Many steps ahead: series scaling with a season and a horizon (test/accuracy/single_series.sh)"
echo "   lstm_train(..., season => S, horizon => 13) normalises each series by its own streaming"
echo "   level and scale and trains a direct 13-step head (an ensemble, median forecast); from"
echo "   every week (year) of the last 20 %, the next 13 values against both naive forecasts."
test/accuracy/single_series.sh
