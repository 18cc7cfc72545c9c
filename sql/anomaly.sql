-- lstm_anomaly_score: the score of each row's residual (value - forecast made before it) against
-- the series' recent residuals, as an aggregate and as a window function; warm-up, NULLs, peers,
-- and bad input. (Identity with lstm_score_trigger is in the trigger suite.)
\i test/sql/helpers.sql
CREATE SCHEMA an_test;
SET search_path = an_test, public;
-- A small fixed model: the lstm_forecast suite's, with one hidden unit more.
INSERT INTO lstm_models (name, model) VALUES ('an_m', '{"input_size": 1, "hidden_size": 3,
  "num_layers": 1, "output_size": 1, "input_mean": [10], "input_std": [3], "output_mean": [10],
  "output_std": [3], "weights": {
  "weight_ih_l0": [[0.1], [0.2], [0.3], [0.4], [0.5], [0.6], [0.7], [0.8], [-0.2], [0.3], [0.1], [0.5]],
  "weight_hh_l0": [[0.1, -0.2, 0.1], [0.3, 0.4, 0.0], [-0.5, 0.6, 0.2], [0.7, 0.8, -0.1],
                   [0.9, 1.0, 0.3], [-1.1, 1.2, 0.0], [1.3, 1.4, -0.4], [1.5, -1.6, 0.2],
                   [0.2, 0.1, 0.3], [-0.3, 0.2, 0.1], [0.4, -0.1, 0.2], [0.1, 0.3, -0.2]],
  "bias_ih_l0": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.11, 0.12],
  "bias_hh_l0": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
  "head.weight": [[1.5, -0.25, 0.5]], "head.bias": [0.2]}}');

CREATE TABLE readings (sensor int, ts int, v float8);
INSERT INTO readings
SELECT s, t, 10 + 3 * sin(t / 4.0 + s) + 0.2 * cos(t * 2.1) + CASE WHEN t = 30 THEN 5 ELSE 0 END
FROM generate_series(1, 2) s, generate_series(1, 40) t;
UPDATE readings SET v = NULL WHERE sensor = 2 AND ts = 20;

-- Every row's score is the last_score of the state after the rows so far, and the aggregate's
-- score is the last row's.
SELECT count(*) AS rows, count(score) AS scored,
       bool_and(score IS NOT DISTINCT FROM (lstm_state_info(prefix) ->> 'last_score')::float8
                OR v IS NULL) AS matches_state,
       bool_and(score BETWEEN 0 AND 1) AS in_range
FROM (SELECT r.*, lstm_anomaly_score('an_m', v) OVER (PARTITION BY sensor ORDER BY ts) AS score,
             (SELECT lstm_state_agg('an_m', r2.v ORDER BY r2.ts) FROM readings r2
              WHERE r2.sensor = r.sensor AND r2.ts <= r.ts) AS prefix
      FROM readings r) x;
SELECT sensor, lstm_anomaly_score('an_m', v ORDER BY ts) =
       (SELECT score FROM (SELECT ts, lstm_anomaly_score('an_m', v) OVER (ORDER BY ts) AS score
                           FROM readings r2 WHERE r2.sensor = r.sensor) y ORDER BY ts DESC LIMIT 1)
       AS aggregate_is_last_row
FROM readings r GROUP BY sensor ORDER BY sensor;

-- Warm-up: no score for the first row (no forecast) and the next ten (too few residuals);
-- a NULL value has no score and does not count; the spike at ts 30 stands out.
SELECT ts, v IS NULL AS null_value, round(score::numeric, 2) AS score
FROM (SELECT sensor, ts, v, lstm_anomaly_score('an_m', v) OVER (PARTITION BY sensor ORDER BY ts) AS score
      FROM readings) x
WHERE sensor = 2 AND (ts BETWEEN 10 AND 13 OR ts BETWEEN 19 AND 21 OR ts BETWEEN 29 AND 31)
ORDER BY ts;

-- The model by value and by name give the same scores; the features form (one feature) too.
SELECT bool_and(a IS NOT DISTINCT FROM b AND a IS NOT DISTINCT FROM c) AS same_scores
FROM (SELECT lstm_anomaly_score('an_m', v) OVER w AS a,
             lstm_anomaly_score(m.model, v) OVER w AS b,
             lstm_anomaly_score('an_m', CASE WHEN v IS NOT NULL THEN ARRAY[v] END) OVER w AS c
      FROM readings, lstm_models m WHERE m.name = 'an_m'
      WINDOW w AS (PARTITION BY sensor ORDER BY ts)) x;

-- Peers (equal ORDER BY values) share the score of the last of them, like any running
-- aggregate; a ROWS frame scores each row in turn.
SELECT t, v, range_frame, rows_frame FROM (
    SELECT t, v, round(lstm_anomaly_score('an_m', v) OVER (ORDER BY t)::numeric, 4) AS range_frame,
           round(lstm_anomaly_score('an_m', v) OVER (ORDER BY t, v ROWS UNBOUNDED PRECEDING)::numeric, 4)
               AS rows_frame
    FROM (SELECT t, 10 + t % 3 AS v FROM generate_series(1, 14) t UNION ALL SELECT 14, 30) x) y
WHERE t >= 13 ORDER BY t, v;

-- Empty and NULL-only input give NULL.
SELECT lstm_anomaly_score('an_m', v ORDER BY ts) IS NULL AS empty_is_null FROM readings WHERE sensor = 9;
SELECT lstm_anomaly_score('an_m', NULL::float8) IS NULL AS nulls_only_is_null FROM generate_series(1, 20);

-- Bad input.
SELECT lstm_anomaly_score(NULL::lstm_model, v) FROM readings;
SELECT lstm_anomaly_score('no_such_model', v) FROM readings;
SELECT lstm_anomaly_score('an_m', 'NaN'::float8);
SELECT lstm_anomaly_score('an_m', ARRAY[1.0, 2.0]);
SELECT lstm_anomaly_score(m, v ORDER BY t) FROM (
    SELECT 1 AS t, 1.0 AS v, model AS m FROM lstm_models WHERE name = 'an_m'
    UNION ALL
    SELECT 2, 2.0, (model::jsonb || '{"output_mean": [1]}')::lstm_model FROM lstm_models
    WHERE name = 'an_m') x;

DELETE FROM lstm_models WHERE name = 'an_m';
DROP SCHEMA an_test CASCADE;
