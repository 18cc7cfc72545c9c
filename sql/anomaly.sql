-- lstm_anomaly_score and lstm_anomaly: the likelihood score of each row's residual (value -
-- forecast made before it) against the series' recent residuals, as an aggregate and as a window
-- function; warm-up, NULLs, peers, and bad input. Then the score's invariants across every form
-- (window functions, aggregates, lstm_state_agg + lstm_state_info, lstm_step, the trigger and
-- rebuild), its settings, the alert semantics, the repeat filter, states made before the score's
-- block, and bad settings. (The reference values of the score are in test/core/test_anomaly.c.)
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
-- a NULL value has no score and does not count; the scores stay 0 until the long statistics
-- have 100 values (the long warm-up), except for a value beyond the range seen so far.
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

-- ---------------------------------------------------------------------------------------------
-- The score in every form. A longer series: two sensors of 300 rows, noise, spikes at 150 and 220,
-- a level shift beyond the range at 260, and a NULL value.
CREATE TABLE long (sensor int, ts int, v float8);
INSERT INTO long
SELECT s, t, 10 + 3 * sin(t / 7.0 + s) + 0.4 * sin(t * t * 0.37 + s)
             + CASE t WHEN 150 THEN 4 WHEN 220 THEN -5 ELSE 0 END + CASE WHEN t >= 260 THEN 9 ELSE 0 END
FROM generate_series(1, 2) s, generate_series(1, 300) t;
UPDATE long SET v = NULL WHERE sensor = 2 AND ts = 100;
-- Settings other than the defaults, and the same without the repeat filter.
\set S '{"residual_window": 40, "warmup": 5, "cap": 4, "short_window": 3, "long_window": 50, "long_warmup": 20, "filter": 5, "threshold": 0.4, "range_tolerance": 0.1}'
\set S0 '{"residual_window": 40, "warmup": 5, "cap": 4, "short_window": 3, "long_window": 50, "long_warmup": 20, "filter": 0, "threshold": 0.4, "range_tolerance": 0.1}'

-- Every window form, and lstm_state_agg's state after each row (its lstm_state_info), with the
-- defaults (settings NULL) and with S.
CREATE TABLE forms AS
SELECT g.settings, l.sensor, l.ts, l.v,
       lstm_anomaly_score('an_m', l.v, g.settings) OVER w AS score,
       lstm_anomaly('an_m', l.v, g.settings) OVER w AS a,
       lstm_anomaly('an_m', CASE WHEN l.v IS NOT NULL THEN ARRAY[l.v] END, g.settings) OVER w AS a_features,
       lstm_state_agg('an_m', l.v, g.settings) OVER w AS st
FROM long l, (VALUES (NULL::jsonb), (:'S'::jsonb)) g (settings)
WINDOW w AS (PARTITION BY g.settings, l.sensor ORDER BY l.ts);
-- The window functions, the features form and the state agree bit for bit; alert means
-- score >= threshold; a NULL value has the current forecast and nothing else.
SELECT settings IS NOT NULL AS custom, count(*) AS rows, count(score) AS scored,
       count(*) FILTER (WHERE (a).alert) AS alerts,
       count(*) FILTER (WHERE score >= 0.5) AS default_threshold_crossings,
       bool_and(score IS NOT DISTINCT FROM (a).score AND a IS NOT DISTINCT FROM a_features) AS same_rows,
       bool_and((a).score IS NOT DISTINCT FROM (lstm_state_info(st) ->> 'last_score')::float8
                AND (a).alert IS NOT DISTINCT FROM (lstm_state_info(st) ->> 'last_alert')::boolean
                AND (a).forecast IS NOT DISTINCT FROM (lstm_state_info(st) ->> 'last_forecast')::float8
                AND (a).residual IS NOT DISTINCT FROM (lstm_state_info(st) ->> 'last_residual')::float8)
           FILTER (WHERE v IS NOT NULL) AS same_as_state,
       bool_and((a).alert = ((a).score >= coalesce((settings ->> 'threshold')::float8, 0.5)))
           AS alert_is_threshold,
       bool_and((a).residual = v - (a).forecast) AS residual_is_value_minus_forecast,
       bool_and((a).z IS NULL = ((a).score IS NULL)) AS z_with_score,
       bool_and((a).score BETWEEN 0 AND 1) AS in_range,
       bool_and((a).forecast IS NOT NULL AND (a).residual IS NULL AND (a).score IS NULL)
           FILTER (WHERE v IS NULL) AS null_value_row
FROM forms GROUP BY settings IS NOT NULL ORDER BY 1;
-- The settings are in the state.
SELECT settings IS NOT NULL AS custom,
       lstm_state_info(st) -> 'anomaly' -> 'settings' AS state_settings
FROM forms WHERE sensor = 1 AND ts = 300 ORDER BY 1;
-- The aggregate forms give the last row's.
SELECT g.custom, l.sensor,
       lstm_anomaly_score('an_m', l.v, g.settings ORDER BY l.ts) =
           (SELECT score FROM forms f WHERE f.sensor = l.sensor AND f.ts = 300
              AND f.settings IS NOT DISTINCT FROM g.settings) AS score_is_last_row,
       lstm_anomaly('an_m', l.v, g.settings ORDER BY l.ts) =
           (SELECT a FROM forms f WHERE f.sensor = l.sensor AND f.ts = 300
              AND f.settings IS NOT DISTINCT FROM g.settings) AS row_is_last_row
FROM long l, (VALUES (false, NULL::jsonb), (true, :'S'::jsonb)) g (custom, settings)
GROUP BY g.custom, g.settings, l.sensor ORDER BY 1, 2;
-- Without a settings argument, the defaults: the same as settings NULL or {}.
SELECT bool_and(x.a IS NOT DISTINCT FROM f.a AND x.a IS NOT DISTINCT FROM x.a_empty) AS defaults
FROM (SELECT sensor, ts, lstm_anomaly('an_m', v) OVER w AS a,
             lstm_anomaly('an_m', v, '{}') OVER w AS a_empty
      FROM long WINDOW w AS (PARTITION BY sensor ORDER BY ts)) x
JOIN forms f ON f.settings IS NULL AND f.sensor = x.sensor AND f.ts = x.ts;

-- lstm_step: the settings start the series (then the state's own are used, given or not); every
-- state equals lstm_state_agg's over the same rows.
CREATE TABLE stepped AS
WITH RECURSIVE steps (sensor, ts, st) AS (
    SELECT sensor, ts, lstm_step('an_m', NULL, v, :'S') FROM long WHERE ts = 1
    UNION ALL
    SELECT l.sensor, l.ts, CASE WHEN l.ts % 2 = 0 THEN lstm_step('an_m', s.st, l.v)
                                ELSE lstm_step('an_m', s.st, l.v, :'S') END
    FROM steps s JOIN long l ON l.sensor = s.sensor AND l.ts = s.ts + 1)
SELECT * FROM steps;
SELECT count(*) AS rows, bool_and(s.st::text = f.st::text) AS same_states
FROM stepped s JOIN forms f ON f.settings IS NOT NULL AND f.sensor = s.sensor AND f.ts = s.ts;

-- The trigger with settings and an alert column: the rows get the forms' forecast, score and
-- alert; the saved states are lstm_state_agg's; lstm_stream_rebuild with the same settings
-- rebuilds them bit for bit.
CREATE TABLE scored (sensor int, ts int, v float8, forecast float8, score float8, alert boolean);
CREATE TRIGGER score BEFORE INSERT ON scored FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('an_m', 'v', 'sensor', 'forecast', 'score', 'ts', :'S', 'alert');
INSERT INTO scored (sensor, ts, v) SELECT sensor, ts, v FROM long ORDER BY ts, sensor;
SELECT count(*) AS rows, count(*) FILTER (WHERE s.alert) AS alerts,
       bool_and(s.forecast IS NOT DISTINCT FROM (f.a).forecast AND s.score IS NOT DISTINCT FROM f.score
                AND s.alert IS NOT DISTINCT FROM (f.a).alert) AS same_as_window
FROM scored s JOIN forms f ON f.settings IS NOT NULL AND f.sensor = s.sensor AND f.ts = s.ts;
CREATE TABLE saved AS SELECT series, state::text AS state FROM lstm_stream_states
WHERE model_name = 'an_m' AND source = 'scored'::regclass;
SELECT series, state = (SELECT st::text FROM forms f WHERE f.settings IS NOT NULL
                        AND f.sensor::text = series AND f.ts = 300) AS state_equals_agg
FROM saved ORDER BY series;
SELECT lstm_stream_rebuild('an_m', 'scored', 'v', 'sensor', 'ts', settings => :'S') AS rebuilt;
SELECT bool_and(s.state = l.state::text) AS rebuild_equals_trigger
FROM saved s JOIN lstm_stream_states l ON l.model_name = 'an_m' AND l.source = 'scored'::regclass
 AND l.series = s.series;
-- A saved state continued with other settings (the trigger's arguments changed) is an error.
DROP TRIGGER score ON scored;
CREATE TRIGGER score BEFORE INSERT ON scored FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('an_m', 'v', 'sensor', 'forecast', 'score', 'ts');
SELECT pg_temp.try($$INSERT INTO an_test.scored (sensor, ts, v) VALUES (1, 301, 10)$$);
SELECT lstm_stream_rebuild('an_m', 'scored', 'v', 'sensor', 'ts') AS rebuilt_with_defaults;
INSERT INTO scored (sensor, ts, v) VALUES (1, 301, 10)
RETURNING forecast IS NOT NULL AS has_forecast, score IS NOT NULL AS has_score;

-- Warm-up (S: 5 residuals): a row is scored from the 7th on (the 1st has no forecast), and a
-- NULL value does not count; before the long warm-up (20 averages) only a value beyond the
-- range scores above 0.
SELECT sensor, min(ts) FILTER (WHERE score IS NOT NULL) AS first_scored,
       count(*) FILTER (WHERE (a).residual IS NULL) AS without_residual,
       max(score) FILTER (WHERE ts < 7 + 20) AS max_score_in_long_warmup
FROM forms WHERE settings IS NOT NULL GROUP BY sensor ORDER BY sensor;

-- The repeat filter (S: 5 rows): no alert in the 5 scored rows after an alert, whose scores are at
-- most half the threshold; without it (S0) more rows alert, and scores that do not cross the
-- threshold are the same.
WITH r AS (SELECT sensor, ts, score, (a).alert AS alert,
                  row_number() OVER (PARTITION BY sensor ORDER BY ts) AS n
           FROM forms WHERE settings IS NOT NULL AND score IS NOT NULL)
SELECT count(*) AS alerts,
       (SELECT bool_and(NOT q.alert AND q.score <= 0.2) FROM r p JOIN r q ON q.sensor = p.sensor
        AND q.n BETWEEN p.n + 1 AND p.n + 5 WHERE p.alert) AS quiet_after_alert
FROM r WHERE alert;
SELECT count(*) FILTER (WHERE (a).alert) AS alerts_without_filter,
       count(*) FILTER (WHERE (a).alert AND (a).score >= 1) AS saturated
FROM (SELECT lstm_anomaly('an_m', v, :'S0') OVER (PARTITION BY sensor ORDER BY ts) AS a
      FROM long) x;
-- Never saturating: distinct evidence gives distinct scores (no ties among the scored rows past
-- the long warm-up, with the filter off).
SELECT count(*) AS scores, count(DISTINCT score) AS distinct_scores
FROM (SELECT ts, lstm_anomaly_score('an_m', v, :'S0') OVER (PARTITION BY sensor ORDER BY ts) AS score
      FROM long) x WHERE ts > 40 AND score IS NOT NULL;

-- A state made before the score's block (its text form without "anomaly"): read with the
-- defaults and its residual statistics; it continues (with the defaults, or settings it takes),
-- warming up its short and long windows, and gets a block.
SELECT (lstm_state_agg('an_m', v ORDER BY ts)::text::jsonb - 'anomaly')::text AS old_state
FROM long WHERE sensor = 1 AND ts <= 50 \gset
SELECT lstm_state_info(:'old_state') ? 'anomaly' AS old_has_block,
       lstm_state_info(:'old_state') -> 'residual_count' AS residuals,
       lstm_state_info(:'old_state') ->> 'last_alert' AS last_alert;
SELECT lstm_state_info(st) -> 'residual_count' AS residuals,
       lstm_state_info(st) -> 'anomaly' -> 'ring_fill' AS ring_fill,
       lstm_state_info(st) -> 'anomaly' -> 'settings' ->> 'filter' AS filter
FROM (VALUES (lstm_step('an_m', :'old_state', 11.0)),
             (lstm_step('an_m', :'old_state', 11.0, '{"filter": 7}'))) x (st);

-- Text and binary forms keep the block bit for bit.
SELECT st::text::lstm_state::text = st::text AS text_round_trip
FROM forms WHERE settings IS NOT NULL AND sensor = 2 AND ts = 300;
CREATE TABLE states (st lstm_state);
INSERT INTO states SELECT st FROM forms WHERE settings IS NOT NULL AND sensor = 2 AND ts = 300;
SELECT '/tmp/lstm_anomaly_regress_' || pg_backend_pid() || '.bin' AS bin_file \gset
COPY states TO :'bin_file' (FORMAT binary);
COPY states FROM :'bin_file' (FORMAT binary);
SELECT format('rm -f %s', :'bin_file') AS rm_file \gset
COPY (SELECT 1) TO PROGRAM :'rm_file';
SELECT count(*) AS states, count(DISTINCT st::text) AS distinct_texts FROM states;
-- A damaged block is refused (22P02): a setting out of range, a ring value above cap, a ring
-- position out of range, a count that does not fit.
SELECT st::text::jsonb AS good FROM states LIMIT 1 \gset
SELECT pg_temp.try(format('SELECT %L::lstm_state', jsonb_set(:'good', path, val)::text))
FROM (VALUES ('{anomaly,settings,short_window}'::text[], '0'::jsonb),
             ('{anomaly,settings,threshold}', '1.5'),
             ('{anomaly,ring,0}', '9'),
             ('{anomaly,ring_position}', '3'),
             ('{anomaly,long_count}', '100000'),
             ('{anomaly,quiet}', '6'),
             ('{anomaly,lo}', 'null'),
             ('{anomaly,bogus}', '1')) x (path, val);

-- Bad settings: 22023 naming the setting and its range.
SELECT pg_temp.try(format($$SELECT lstm_anomaly_score('an_m', v, %L) OVER () FROM an_test.long$$, s))
FROM unnest(ARRAY['{"bogus": 1}', '{"short_window": 101}', '{"threshold": 1}', '{"cap": 0}',
                  '{"filter": -1}', '{"warmup": 2.5}', '{"cap": "5"}', '{"filter": null}',
                  '{"long_window": 1e10}', '[1]', '5']) s;
SELECT pg_temp.try($$SELECT lstm_anomaly_score('an_m', v, CASE WHEN ts < 5 THEN '{}'::jsonb
                                                ELSE '{"filter": 3}' END ORDER BY ts)
                     FROM an_test.long WHERE sensor = 1$$) AS changed_in_group,
       pg_temp.try($$SELECT lstm_anomaly_score('an_m', v, CASE WHEN ts < 5 THEN '{}'::jsonb
                                                ELSE '{"filter": 30}' END ORDER BY ts)
                     FROM an_test.long WHERE sensor = 1$$) AS same_settings_written_otherwise;
SELECT pg_temp.try(format($$SELECT lstm_step('an_m', %L::lstm_state, 1.0, '{"warmup": 3}')$$,
                          (SELECT st FROM forms WHERE settings IS NOT NULL AND sensor = 1 AND ts = 9)))
       AS step_other_settings,
       pg_temp.try(format($$SELECT lstm_step('an_m', %L::lstm_state, NULL::float8, '{"warmup": 3}')$$,
                          (SELECT st FROM forms WHERE settings IS NOT NULL AND sensor = 1 AND ts = 9)))
       AS step_null_value_other_settings;
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('an_m', 'an_test.scored', 'v', 'sensor', 'ts',
                                                settings => '{"cap": -1}')$$) AS rebuild;
-- The trigger's settings and alert column.
CREATE TABLE bad (sensor int, ts int, v float8, score float8, flag boolean, label text);
CREATE FUNCTION bad_trigger(variadic args text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE result text;
BEGIN
    EXECUTE format('CREATE TRIGGER t BEFORE INSERT ON an_test.bad FOR EACH ROW '
                   'EXECUTE FUNCTION lstm_score_trigger(%s)',
                   (SELECT string_agg(coalesce(quote_literal(a), 'NULL'), ', ') FROM unnest(args) a));
    result := pg_temp.try($q$INSERT INTO an_test.bad (sensor, ts, v) VALUES (1, 1, 1.0)$q$);
    DROP TRIGGER t ON an_test.bad;
    RETURN result;
END
$$;
SELECT bad_trigger('an_m', 'v', 'sensor', NULL, 'score', NULL, '{"bogus": 1}');
SELECT bad_trigger('an_m', 'v', 'sensor', NULL, 'score', NULL, '{"threshold": 0}');
SELECT bad_trigger('an_m', 'v', 'sensor', NULL, 'score', NULL, NULL, 'score');
SELECT bad_trigger('an_m', 'v', 'sensor', NULL, 'score', NULL, NULL, 'label');
SELECT bad_trigger('an_m', 'v', 'sensor', NULL, 'score', NULL, NULL, 'nope');
SELECT bad_trigger('an_m', 'v', 'sensor', NULL, 'score', 'ts', '', 'flag');
SELECT lstm_stream_reset('an_m', source => 'bad') AS reset;
SELECT bad_trigger('an_m', 'v', 'sensor', NULL, 'score', 'null', '{"warmup": 1}', 'flag');
SELECT sensor, ts, score, flag FROM bad ORDER BY sensor, ts;
DELETE FROM lstm_stream_states WHERE model_name = 'an_m';

DELETE FROM lstm_models WHERE name = 'an_m';
DROP SCHEMA an_test CASCADE;
