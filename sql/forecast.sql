-- lstm_forecast as an aggregate and as a window function: semantics and bad input.
-- (Exactness against PyTorch is the parity suite.)
\i test/sql/helpers.sql
CREATE SCHEMA fc_test;
SET search_path = fc_test, public;
CREATE TABLE m AS SELECT :'tiny_scaled'::lstm_model AS model;
INSERT INTO lstm_models(name, model) SELECT 'fc_tiny', model FROM m;

CREATE TABLE readings (sensor int, ts int, value float8);
INSERT INTO readings
SELECT s, t, 5 + 3 * sin(t / 3.0 + s) FROM generate_series(1, 3) s, generate_series(1, 20) t;
-- real gaps: NULL values are skipped
UPDATE readings SET value = NULL WHERE sensor = 2 AND ts IN (5, 6);

-- One forecast per series.
SELECT sensor, round(lstm_forecast(m.model, value ORDER BY ts)::numeric, 6) AS forecast
FROM readings, m GROUP BY sensor ORDER BY sensor;

-- The name overload reads lstm_models and gives the same numbers.
SELECT bool_and(a = b) AS name_matches_value FROM (
    SELECT sensor, lstm_forecast(m.model, value ORDER BY ts) AS a,
           lstm_forecast('fc_tiny', value ORDER BY ts) AS b
    FROM readings, m GROUP BY sensor) x;

-- Order matters: the same values in another order give another forecast.
SELECT lstm_forecast(m.model, value ORDER BY ts) <> lstm_forecast(m.model, value ORDER BY ts DESC)
       AS order_matters
FROM readings, m WHERE sensor = 1;

-- NULL values are skipped: same as filtering them out.
SELECT (SELECT lstm_forecast(m.model, value ORDER BY ts) FROM readings, m WHERE sensor = 2) =
       (SELECT lstm_forecast(m.model, value ORDER BY ts) FROM readings, m
        WHERE sensor = 2 AND value IS NOT NULL) AS nulls_skipped;

-- Empty input, and input of NULLs only, give NULL.
SELECT lstm_forecast(m.model, value ORDER BY ts) IS NULL AS empty_is_null
FROM readings, m WHERE sensor = 99;
SELECT lstm_forecast(m.model, NULL::float8) IS NULL AS nulls_only_is_null FROM m, generate_series(1, 3);

-- Window form: the forecast made after each row equals the aggregate over the rows so far.
SELECT bool_and(w = (SELECT lstm_forecast(m.model, r2.value ORDER BY r2.ts) FROM readings r2, m
                     WHERE r2.sensor = r.sensor AND r2.ts <= r.ts)) AS window_matches_prefix,
       count(*) AS rows_checked
FROM (SELECT sensor, ts, lstm_forecast(m.model, value) OVER (PARTITION BY sensor ORDER BY ts) AS w
      FROM readings, m) r;
-- Running forecasts of one series.
SELECT ts, value IS NULL AS gap,
       round(lstm_forecast('fc_tiny', value) OVER (ORDER BY ts)::numeric, 6) AS forecast
FROM readings WHERE sensor = 2 AND ts <= 8 ORDER BY ts;
-- Peers (equal ORDER BY values) share the forecast made after the last of them.
SELECT t, round(lstm_forecast(m.model, v) OVER (ORDER BY t)::numeric, 6) AS forecast
FROM (VALUES (1, 4.0), (2, 5.0), (2, 6.0), (3, 7.0)) x(t, v), m ORDER BY t, v;

-- Horizon: the first forecast is the one-step forecast, the rest feed forecasts back.
SELECT sensor, (SELECT array_agg(round(f::numeric, 6)) FROM unnest(h) f) AS forecasts
FROM (SELECT sensor, lstm_forecast(m.model, value, 4 ORDER BY ts) AS h
      FROM readings, m GROUP BY sensor) x ORDER BY sensor;
SELECT bool_and(h[1] = f) AS first_is_one_step FROM (
    SELECT lstm_forecast(m.model, value, 3 ORDER BY ts) AS h, lstm_forecast(m.model, value ORDER BY ts) AS f
    FROM readings, m GROUP BY sensor) x;
-- Feeding the first forecast back as a row gives the second.
WITH h AS (SELECT lstm_forecast(m.model, value, 2 ORDER BY ts) AS h FROM readings, m WHERE sensor = 1)
SELECT (SELECT lstm_forecast(m.model, v ORDER BY t) FROM m,
          (SELECT ts AS t, value AS v FROM readings WHERE sensor = 1
           UNION ALL SELECT 21, h[1] FROM h) x) = (SELECT h[2] FROM h) AS horizon_feeds_back;
SELECT lstm_forecast('fc_tiny', value, 2 ORDER BY ts) IS NULL AS empty_horizon_is_null
FROM readings WHERE false;

-- Multivariate form with a one-input model: same as the scalar form.
SELECT lstm_forecast(m.model, ARRAY[value] ORDER BY ts) = lstm_forecast(m.model, value ORDER BY ts)
       AS array_form_matches
FROM readings, m WHERE sensor = 1;

-- A differenced model: the first row only records the value, so with h = 0 the forecast is
-- last value + unscaled head bias = 7 + (0.5 * 2 + 5) = 13.
SELECT lstm_forecast((:'tiny_scaled'::jsonb || '{"difference": true}')::lstm_model, v ORDER BY t) AS one_row
FROM (VALUES (1, 7.0)) x(t, v);
-- Differencing is transparent: a constant shift of the series shifts the forecast.
SELECT round((lstm_forecast(d, v + 100 ORDER BY t) - lstm_forecast(d, v ORDER BY t))::numeric, 4)
       AS shift
FROM (SELECT (:'tiny_scaled'::jsonb || '{"difference": true}')::lstm_model AS d) dm,
     (SELECT ts AS t, value AS v FROM readings WHERE sensor = 1) x;

-- A multivariate model (input 2, output 2).
\set multi '{"input_size": 2, "hidden_size": 1, "num_layers": 1, "output_size": 2, "weights": {"weight_ih_l0": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]], "weight_hh_l0": [[0.1], [0.2], [0.3], [0.4]], "bias_ih_l0": [0, 0, 0, 0], "bias_hh_l0": [0, 0, 0, 0], "head.weight": [[1], [-1]], "head.bias": [0.5, 0.25]}}'
SELECT round(lstm_forecast(:'multi'::lstm_model, ARRAY[x, x * 2] ORDER BY x)::numeric, 6) AS multivariate
FROM generate_series(1, 5) x;
-- Horizons feed each forecast back as the next input, so they need output_size = input_size.
SELECT lstm_forecast((:'tiny_scaled'::jsonb || '{"output_size": 2, "output_mean": [5, 5], "output_std": [2, 2]}'
                      || jsonb_build_object('weights', (:'tiny_scaled'::jsonb -> 'weights') ||
                         '{"head.weight": [[1.5, -0.25], [1, 1]], "head.bias": [0.5, 0.5]}'))::lstm_model,
                     x::float8, 2 ORDER BY x)
FROM generate_series(1, 5) x;

-- ---------------------------------------------------------------------------
-- Bad input
-- ---------------------------------------------------------------------------
-- NaN and infinity
SELECT lstm_forecast(m.model, v ORDER BY t) FROM m, (VALUES (1, 1.0), (2, 'NaN')) x(t, v);
SELECT lstm_forecast(m.model, v ORDER BY t) FROM m, (VALUES (1, 1.0), (2, '-Infinity')) x(t, v);
SELECT lstm_forecast(m.model, ARRAY[v] ORDER BY t) FROM m, (VALUES (1, 1.0), (2, 'Infinity')) x(t, v);
-- finite, but too large for the model's scaling (1e300 / input_std overflows float32)
SELECT lstm_forecast(m.model, v ORDER BY t) FROM m, (VALUES (1, 1.0), (2, 1e300)) x(t, v);
SELECT lstm_forecast(m.model, v, 3 ORDER BY t) FROM m, (VALUES (1, -1e39)) x(t, v);
-- a NULL model
SELECT lstm_forecast(NULL::lstm_model, 1.0);
-- an unknown model name
SELECT lstm_forecast('no such model', 1.0);
-- input width that does not match the model
SELECT lstm_forecast(m.model, ARRAY[1.0, 2.0]) FROM m;
SELECT lstm_forecast(m.model, '{}'::float8[]) FROM m;
SELECT lstm_forecast(m.model, '{{1.0}}'::float8[]) FROM m;
SELECT lstm_forecast(m.model, ARRAY[NULL::float8]) FROM m;
SELECT lstm_forecast(:'multi'::lstm_model, 1.0);
SELECT lstm_forecast(:'multi'::lstm_model, ARRAY[1.0]);
-- horizon out of range, NULL, or changing within a group
SELECT lstm_forecast(m.model, 1.0, 0) FROM m;
SELECT lstm_forecast(m.model, 1.0, 100001) FROM m;
SELECT lstm_forecast(m.model, 1.0, NULL) FROM m;
SELECT lstm_forecast(m.model, v, t ORDER BY t) FROM m, (VALUES (1, 1.0), (2, 2.0)) x(t, v);
-- a model that changes within one group
SELECT lstm_forecast(model, v ORDER BY t) FROM (
    SELECT 1 AS t, 1.0 AS v, model FROM m
    UNION ALL
    SELECT 2, 2.0, (:'tiny_scaled'::jsonb || '{"output_mean": [1]}')::lstm_model) x;
-- The server is still up.
SELECT 1 AS alive;
DELETE FROM lstm_models WHERE name = 'fc_tiny';
DROP SCHEMA fc_test CASCADE;
