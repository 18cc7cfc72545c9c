-- evaluate.sql - driven by test/train/evaluate.sh (run from the repository root).
--
-- Missing values: 59 weeks of co2_weekly have no value. They are loaded as NULL rows and
-- kept in time order. lstm_train skips rows whose value is NULL, and lstm_forecast skips
-- NULL values the same way, so the network sees the same series in training and at
-- forecast time (across a gap, one step spans two weeks). A NULL row is never scored; the
-- naive forecast is the last non-NULL value; the seasonal forecast is the value exactly one
-- season (52 rows = 364 days; 11 rows = 11 years) earlier. Every method is scored on the
-- same rows: the test rows where the actual value, the naive and the seasonal forecast all
-- exist.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS lstm;
DROP SCHEMA IF EXISTS lstm_eval CASCADE;
CREATE SCHEMA lstm_eval;
SET search_path = lstm_eval, public;

CREATE TABLE co2_csv (date text, co2 text);
\copy co2_csv FROM 'data/co2_weekly.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE co2_weekly AS
    SELECT to_date(date, 'YYYYMMDD')::timestamp AS ts, nullif(co2, '')::float8 AS co2
    FROM co2_csv;

CREATE TABLE sunspots_csv (year text, sunactivity text);
\copy sunspots_csv FROM 'data/sunspots_yearly.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE sunspots_yearly AS
    SELECT make_date(year::int, 1, 1)::timestamp AS ts, sunactivity::float8 AS sunspots
    FROM sunspots_csv;

CREATE TABLE results (
    series text, season text, options text, train_rows int, epochs int, train_seconds numeric,
    points int, rmse_lstm numeric, rmse_last_value numeric, rmse_seasonal numeric);

-- co2: a strong trend, so the network works on weekly differences
\set tbl co2_weekly
\set col co2
\set season 52
\set season_text '52 weeks'
\set options 'difference => true'
\ir evaluate_series.sql

-- sunspots: no trend; the defaults
\set tbl sunspots_yearly
\set col sunspots
\set season 11
\set season_text '11 years'
\set options 'defaults'
\ir evaluate_series.sql

\echo
\echo 'One-step-ahead forecasts over the last 20 % of each series (model trained on the first 80 %), RMSE:'
SELECT series, options, train_rows, epochs, train_seconds, points,
       rmse_lstm AS lstm, rmse_last_value AS last_value, rmse_seasonal AS seasonal, season,
       CASE WHEN rmse_lstm < rmse_last_value AND rmse_lstm < rmse_seasonal
            THEN 'yes' ELSE 'NO' END AS beats_both
FROM results ORDER BY series;
