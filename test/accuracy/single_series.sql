-- single_series.sql - driven by test/accuracy/single_series.sh (run from the repository root).
--
-- Loading as test/train/evaluate.sql: the 59 empty weeks of co2_weekly are NULL rows, kept
-- in time order; lstm_train and lstm_forecast skip them, so one step of the model is one
-- non-NULL row. Here the k-step target of an origin is the k-th non-NULL row after it (the
-- last 20 % of both series has no empty row, so there it is simply k rows later).
--
-- Origins: the last training row and every later non-NULL row; a (origin, k) pair is scored
-- when its target lies in the last 20 % and the seasonal forecast exists. Forecasts of
-- (origin, k): the model's k-th value of lstm_forecast(model, value, 13) OVER (ORDER BY ts)
-- at the origin; naive: the origin's value; seasonal naive: the value of the row
-- season * ceil(d / season) rows before the target (d = rows from the origin to the target),
-- i.e. one season before the target, or two when the target is more than a season ahead.
-- RMSE per k over every scored pair of that k; "mean" is the mean of RMSE_1 .. RMSE_13.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS lstm;
DROP SCHEMA IF EXISTS lstm_accuracy CASCADE;
CREATE SCHEMA lstm_accuracy;
SET search_path = lstm_accuracy, public;

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
    series text, method text, options text, train_seconds numeric, epochs text,
    points_1 int, points_13 int, rmse_1 numeric, rmse_13 numeric, rmse_mean numeric);
CREATE TABLE checks (series text, origin timestamp, method text, window_equals_predict bool);

-- co2: a strong trend and a 52-week season; the landed model works on weekly differences
\set tbl co2_weekly
\set col co2
\set season 52
\set landed_options 'difference => true'
\ir single_series_one.sql

-- sunspots: no trend, an 11-year cycle, zeros (so lstm_train's 'auto' log is off)
\set tbl sunspots_yearly
\set col sunspots
\set season 11
\set landed_options 'defaults'
\ir single_series_one.sql

\echo
\echo 'Window form lstm_forecast(m, v, 13) OVER (ORDER BY ts) against lstm_predict(m, lstm_state_agg(m, v ORDER BY ts), 13):'
SELECT series, method, count(*) AS origins_checked,
       bool_and(window_equals_predict) AS all_equal
FROM checks GROUP BY series, method ORDER BY series, method;

\echo 'Forecasts from every origin over the last 20 % of each series (model trained on the first 80 %), RMSE at horizon 1, 13 and the mean over 1..13:'
SELECT series, method, options, train_seconds, epochs, points_1, points_13,
       rmse_1, rmse_13, rmse_mean
FROM results
ORDER BY series, CASE method WHEN 'lstm series' THEN 1 WHEN 'lstm landed' THEN 2
                             WHEN 'naive' THEN 3 ELSE 4 END;

\echo 'Does the series-scaled model beat both naive forecasts?'
SELECT m.series,
       m.rmse_1 < least(n.rmse_1, s.rmse_1) AS at_1,
       m.rmse_13 < least(n.rmse_13, s.rmse_13) AS at_13,
       m.rmse_mean < least(n.rmse_mean, s.rmse_mean) AS mean_1_13
FROM results m
JOIN results n ON n.series = m.series AND n.method = 'naive'
JOIN results s ON s.series = m.series AND s.method = 'seasonal naive'
WHERE m.method = 'lstm series' ORDER BY m.series;
