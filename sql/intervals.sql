-- intervals: prediction intervals (calibration stored by lstm_train, lstm_forecast_interval as
-- aggregate and window, lstm_predict_interval from a state) and lstm_evaluate. Bounds are
-- ordered, widen with the level, agree bit for bit across the forms and hold the horizon
-- form's forecasts; lstm_evaluate matches a hand-computed case and an independent SQL
-- computation; bad arguments fail with clear errors.
\i test/sql/helpers.sql
CREATE SCHEMA iv_test;
SET search_path = iv_test, public;
SET client_min_messages = warning;

-- Four seasonal series with noise (a fixed pseudo-random pattern), trained small and fast.
CREATE TABLE iv_data AS
SELECT s, t, 100 + 10 * s + 6 * sin(2 * pi() * t / 12 + s) + 0.05 * s * t
             + 1.5 * sin(t * t * 0.7 + s * 3) AS y
FROM generate_series(1, 4) s, generate_series(1, 120) t;
SELECT r->'series' AS series, r->'calibration_errors' AS calibration_errors
FROM lstm_train('iv_m', 'iv_data', value => 'y', time_column => 't', series => 's',
                season => 12, horizon => 4, hidden => 8, members => 2, epochs => 4) r;
SELECT lstm_model_info(model)->'calibrated' AS calibrated,
       jsonb_array_length(model::jsonb->'calibration') AS steps,
       jsonb_array_length(model::jsonb->'calibration'->0) AS quantiles,
       model::text::lstm_model::text = model::text AS text_round_trip
FROM lstm_models WHERE name = 'iv_m';

-- Every series' intervals at three levels, aggregate form by name.
CREATE TABLE iv_agg AS
SELECT s, lv, (i).* FROM (
    SELECT s, lv, unnest(lstm_forecast_interval('iv_m', y, 4, lv ORDER BY t)) AS i
    FROM iv_data, (VALUES (0.5::float8), (0.8), (0.95)) l(lv) GROUP BY s, lv) x;
-- ordered: lower <= forecast <= upper, everywhere
SELECT count(*) AS rows, bool_and(lower <= forecast AND forecast <= upper) AS ordered
FROM iv_agg;
-- widening with the level, step by step
SELECT bool_and(a.lower >= b.lower AND a.upper <= b.upper) AS widen_80_95,
       bool_and(c.lower >= a.lower AND c.upper <= a.upper) AS widen_50_80
FROM iv_agg a JOIN iv_agg b USING (s, step) JOIN iv_agg c USING (s, step)
WHERE a.lv = 0.8 AND b.lv = 0.95 AND c.lv = 0.5;
-- typically widening with the step: the mean width grows from step 1 to step 4
SELECT avg(upper - lower) FILTER (WHERE step = 4) > avg(upper - lower) FILTER (WHERE step = 1)
       AS wider_later
FROM iv_agg WHERE lv = 0.95;
-- the default level is 0.95
SELECT bool_and(d = e) AS default_is_95 FROM (
    SELECT s, lstm_forecast_interval('iv_m', y, 4 ORDER BY t) d,
           lstm_forecast_interval('iv_m', y, 4, 0.95 ORDER BY t) e FROM iv_data GROUP BY s) x;

-- The forecast column is the horizon form's, bit for bit.
SELECT bool_and(f.fc[a.step] = a.forecast) AS same_forecasts
FROM iv_agg a JOIN (SELECT s, lstm_forecast('iv_m', y, 4 ORDER BY t) fc FROM iv_data GROUP BY s) f
     USING (s);

-- Aggregate (by value and by name), window (the last row's) and state forms agree bit for bit.
CREATE TABLE iv_forms AS
SELECT s,
       (SELECT lstm_forecast_interval(m.model, y, 4, 0.8 ORDER BY t) FROM iv_data d
        WHERE d.s = k.s) AS by_value,
       (SELECT lstm_forecast_interval('iv_m', y, 4, 0.8 ORDER BY t) FROM iv_data d
        WHERE d.s = k.s) AS by_name,
       (SELECT w FROM (SELECT t, lstm_forecast_interval('iv_m', y, 4, 0.8) OVER (ORDER BY t) w
                       FROM iv_data d WHERE d.s = k.s) x ORDER BY t DESC LIMIT 1) AS window_last,
       lstm_predict_interval('iv_m', (SELECT lstm_state_agg('iv_m', y ORDER BY t) FROM iv_data d
                                      WHERE d.s = k.s), 4, 0.8) AS from_state,
       lstm_predict_interval(m.model, (SELECT lstm_state_agg('iv_m', y ORDER BY t) FROM iv_data d
                                       WHERE d.s = k.s), 4, 0.8) AS from_state_value
FROM generate_series(1, 4) k(s), lstm_models m WHERE m.name = 'iv_m';
SELECT bool_and(by_value = by_name AND by_name = window_last AND window_last = from_state
                AND from_state = from_state_value) AS forms_agree,
       bool_and(cardinality(by_name) = 4) AS four_steps
FROM iv_forms;
-- the window form at an earlier row equals the state after that row
SELECT bool_and(w = lstm_predict_interval('iv_m', st, 2)) AS window_equals_state FROM (
    SELECT t, lstm_forecast_interval('iv_m', y, 2) OVER (ORDER BY t) w,
              lstm_state_agg('iv_m', y) OVER (ORDER BY t) st
    FROM iv_data WHERE s = 2) x WHERE t IN (10, 60, 119);
-- a shorter horizon is a prefix
SELECT (SELECT lstm_forecast_interval('iv_m', y, 2, 0.8 ORDER BY t) FROM iv_data WHERE s = 1)
     = (SELECT by_name[1:2] FROM iv_forms WHERE s = 1) AS prefix;
-- no rows: NULL
SELECT lstm_forecast_interval('iv_m', y, 4 ORDER BY t) IS NULL AS empty
FROM iv_data WHERE s = 99;

-- ---------------------------------------------------------------------------
-- A hand-made calibrated model: zero weights, so every forecast is the naive one (the last
-- value); the calibration is zero, so lower = upper = forecast.
-- ---------------------------------------------------------------------------
CREATE FUNCTION iv_zeros(n int) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_agg(0) FROM generate_series(1, n) $$;
CREATE FUNCTION iv_zero_model(cal jsonb) RETURNS lstm_model LANGUAGE sql AS $$
SELECT jsonb_build_object(
    'format_version', 2, 'input_size', 2, 'hidden_size', 1, 'num_layers', 1, 'output_size', 2,
    'scaling', 'series', 'log', false, 'season', 0,
    'weights', jsonb_build_object(
        'weight_ih_l0', jsonb_build_array(iv_zeros(2), iv_zeros(2), iv_zeros(2), iv_zeros(2)),
        'weight_hh_l0', jsonb_build_array(iv_zeros(1), iv_zeros(1), iv_zeros(1), iv_zeros(1)),
        'bias_ih_l0', iv_zeros(4), 'bias_hh_l0', iv_zeros(4),
        'head.weight', jsonb_build_array(iv_zeros(1), iv_zeros(1)), 'head.bias', iv_zeros(2)),
    'calibration', cal)::lstm_model $$;
INSERT INTO lstm_models (name, model)
VALUES ('iv_zero', iv_zero_model(jsonb_build_array(iv_zeros(25), iv_zeros(25))));
CREATE TABLE iv_tiny (k text, t int, y float8);
INSERT INTO iv_tiny VALUES ('a', 1, 1), ('a', 2, 2), ('a', 3, 3), ('a', 4, 4), ('a', 5, 5),
                           ('a', 6, 6), ('b', 1, 10), ('b', 2, 10), ('b', 3, 10), ('b', 4, 10),
                           ('b', 5, 8), ('b', 6, 10), ('b', 7, NULL);
-- Series a, origin row 4 (value 4), actual 5 and 6, forecasts 4 and 4, bounds [4, 4]:
--   sMAPE = (200 * 1/9 + 200 * 2/10) / 2 = 31.1111..., MASE = (1 + 2) / 2 / 1 = 1.5,
--   RMSE = sqrt((1 + 4) / 2) = 1.5811..., coverage 0,
--   MSIS = mean((4 - 4) + 2 / 0.05 * (y - 4)) / 1 = 40 * 1.5 = 60.
-- Series b: MASE's scale is 0 (constant in-sample part): MASE and MSIS are NULL.
SELECT series, n_forecasts, round(smape::numeric, 6) AS smape, round(mase::numeric, 6) AS mase,
       round(rmse::numeric, 6) AS rmse, coverage, round(msis::numeric, 6) AS msis,
       smape = naive_smape AND rmse = naive_rmse AS model_is_naive,
       round(snaive_smape::numeric, 6) AS snaive_smape
FROM lstm_evaluate('iv_zero', 'iv_tiny', 'y', 't', 'k');
-- a hand calibration with quantiles -1 .. 1: the bounds are the forecast -/+ s * q
UPDATE lstm_models SET model = iv_zero_model(jsonb_build_array(
    (SELECT jsonb_agg(round(-1 + j / 12.0, 6)) FROM generate_series(0, 24) j),
    (SELECT jsonb_agg(round(-2 + j / 6.0, 6)) FROM generate_series(0, 24) j)))
WHERE name = 'iv_zero';
-- s after rows 1..4 of a (changes 1, 1, 1) is 1: 95 % reads q(0.025) = -1 + 2/12, q(0.975)
SELECT (i).step, (i).forecast, round((i).lower::numeric, 6) AS lower,
       round((i).upper::numeric, 6) AS upper
FROM (SELECT unnest(lstm_forecast_interval('iv_zero', y, 2 ORDER BY t)) i
      FROM iv_tiny WHERE k = 'a' AND t <= 4) x;

-- ---------------------------------------------------------------------------
-- lstm_evaluate against an independent computation over the same forecasts
-- ---------------------------------------------------------------------------
CREATE TABLE iv_eval AS
SELECT * FROM lstm_evaluate('iv_m', 'iv_data', 'y', 't', 's', season => 12, level => 0.9);
CREATE TABLE iv_ref AS
WITH st AS (
    SELECT s, max(t) AS n,
           lstm_state_agg('iv_m', y ORDER BY t) FILTER (WHERE t <= 116) AS state,
           avg(y) FILTER (WHERE t = 116) AS last_value
    FROM iv_data GROUP BY s
), scale AS (
    SELECT a.s, avg(abs(a.y - b.y)) AS mae FROM iv_data a JOIN iv_data b
    ON a.s = b.s AND b.t = a.t - 12 WHERE a.t <= 116 GROUP BY a.s
), f AS (
    SELECT st.s, (i).step, (i).forecast, (i).lower, (i).upper, d.y
    FROM st, unnest(lstm_predict_interval('iv_m', st.state, 4, 0.9)) i
    JOIN iv_data d ON true WHERE d.s = st.s AND d.t = 116 + (i).step
)
SELECT f.s::text AS series, count(*) AS n,
       avg(200 * abs(y - forecast) / (abs(y) + abs(forecast))) AS smape,
       avg(abs(y - forecast)) / min(mae) AS mase,
       sqrt(avg((y - forecast) ^ 2)) AS rmse,
       avg(CASE WHEN y BETWEEN lower AND upper THEN 1.0 ELSE 0.0 END) AS coverage,
       avg((upper - lower) + 20 * greatest(lower - y, 0) + 20 * greatest(y - upper, 0))
           / min(mae) AS msis
FROM f JOIN scale USING (s) GROUP BY f.s;
SELECT count(*) AS series,
       bool_and(abs(e.smape - r.smape) < 1e-9 AND abs(e.mase - r.mase) < 1e-9
                AND abs(e.rmse - r.rmse) < 1e-9 AND abs(e.coverage - r.coverage) < 1e-12
                AND abs(e.msis - r.msis) < 1e-9 AND e.n_forecasts = r.n) AS same_figures
FROM iv_eval e JOIN iv_ref r USING (series);
-- the overall row averages the series and sums the forecasts
SELECT o.n_forecasts, abs(o.smape - (SELECT avg(smape) FROM iv_eval WHERE series IS NOT NULL))
       < 1e-12 AS mean_smape
FROM iv_eval o WHERE o.series IS NULL;
-- rolling origins: 3 origins x 4 steps per series
SELECT series, n_forecasts FROM lstm_evaluate('iv_m', 'iv_data', 'y', 't', 's', origins => 3)
ORDER BY series NULLS LAST;

-- ---------------------------------------------------------------------------
-- Bad arguments
-- ---------------------------------------------------------------------------
SELECT pg_temp.try($$SELECT lstm_forecast_interval('iv_m', y, 4, 0 ORDER BY t) FROM iv_data$$);
SELECT pg_temp.try($$SELECT lstm_forecast_interval('iv_m', y, 4, 1 ORDER BY t) FROM iv_data$$);
SELECT pg_temp.try($$SELECT lstm_forecast_interval('iv_m', y, 4, NULL ORDER BY t) FROM iv_data$$);
SELECT pg_temp.try($$SELECT lstm_forecast_interval('iv_m', y, 5 ORDER BY t) FROM iv_data$$);
SELECT pg_temp.try($$SELECT lstm_predict_interval('iv_m', lstm_state_agg('iv_m', y ORDER BY t),
                                                   4, 1.5) FROM iv_data$$);
SELECT pg_temp.try($$SELECT lstm_predict_interval('iv_m', lstm_state_agg('iv_m', y ORDER BY t),
                                                   9) FROM iv_data$$);
SELECT pg_temp.try($$SELECT lstm_evaluate('iv_m', 'iv_data', 'y', 't', 's', season => 0)$$);
SELECT pg_temp.try($$SELECT lstm_evaluate('iv_m', 'iv_data', 'y', 't', 's', level => 1)$$);
SELECT pg_temp.try($$SELECT lstm_evaluate('iv_m', 'iv_data', 'y', 't', 's', horizon => 5)$$);
SELECT pg_temp.try($$SELECT lstm_evaluate('iv_m', 'iv_data', 'y', 't', 's', origins => 0)$$);
SELECT pg_temp.try($$SELECT lstm_evaluate('iv_nope', 'iv_data', 'y', 't', 's')$$);
-- a model without calibration data
INSERT INTO lstm_models (name, model) VALUES ('iv_global', :'tiny');
SELECT pg_temp.try($$SELECT lstm_evaluate('iv_global', 'iv_data', 'y', 't', 's')$$);
SELECT pg_temp.try($$SELECT lstm_predict_interval('iv_global', lstm_state_agg('iv_global', y
                                                   ORDER BY t), 1) FROM iv_data WHERE s = 1$$);
SELECT pg_temp.try($$SELECT lstm_forecast_interval('iv_global', y, 1 ORDER BY t) FROM iv_data$$);
-- calibration quantiles must be nondecreasing, and need series scaling
SELECT pg_temp.try($$SELECT iv_zero_model(jsonb_build_array(iv_zeros(24) || '[-1]',
                                                             iv_zeros(25)))$$);
SELECT pg_temp.try(format($$SELECT (%L::jsonb || jsonb_build_object('calibration',
                          jsonb_build_array(iv_zeros(25))))::lstm_model$$, :'tiny'));
SELECT pg_temp.try($$SELECT iv_zero_model(jsonb_build_array(iv_zeros(25)))$$);

DELETE FROM lstm_models WHERE name LIKE 'iv\_%';
DROP SCHEMA iv_test CASCADE;
