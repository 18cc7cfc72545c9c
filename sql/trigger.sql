-- lstm_score_trigger: scoring rows as they are inserted, the saved states in
-- lstm_stream_states, the documented rules (NULLs, late rows, a replaced model, updates and
-- deletes, reset and rebuild), identity with the window functions, and bad arguments.
\i test/sql/helpers.sql
CREATE SCHEMA tg_test;
SET search_path = tg_test, public;
SET jit = off; -- the model generator below is cheap; JIT compiling it is not


INSERT INTO lstm_models (name, model) VALUES
    ('tg_m', pg_temp.test_model(1, 8, 2, 1, 0.1)),
    ('tg_diff', pg_temp.test_model(1, 6, 1, 1, 0.2, true)),
    ('tg_multi', pg_temp.test_model(2, 4, 1, 2, 0.3));

-- The data: three sensors, one reading a minute, arriving in time order.
CREATE TABLE source AS
SELECT sensor, '2024-01-01 00:00+00'::timestamptz + t * interval '1 minute' AS ts,
       10 + 3 * sin(t / 5.0 + sensor) + 0.3 * cos(t * 1.7) + CASE WHEN t = 33 THEN 6 ELSE 0 END AS v
FROM generate_series(1, 3) sensor, generate_series(1, 40) t;

CREATE TABLE readings (sensor int, ts timestamptz, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON readings FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('tg_m', 'v', 'sensor', 'forecast', 'score', 'ts');

-- Rows arrive one statement at a time for the first minutes, then in multi-row statements.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM tg_test.source WHERE ts < '2024-01-01 00:06+00' ORDER BY ts, sensor LOOP
        INSERT INTO tg_test.readings (sensor, ts, v) VALUES (r.sensor, r.ts, r.v);
    END LOOP;
END
$$;
INSERT INTO readings (sensor, ts, v)
SELECT sensor, ts, v FROM source WHERE ts >= '2024-01-01 00:06+00' ORDER BY ts, sensor;

-- One saved state per sensor, with every row applied.
SELECT model_name, series, lstm_state_info(state) -> 'steps' AS steps, late_rows,
       last_time_type
FROM lstm_stream_states WHERE model_name = 'tg_m' ORDER BY series;

-- The trigger's forecast is the one made before the row (the previous row's running forecast),
-- its score is lstm_anomaly_score over the same rows, and the saved state is lstm_state_agg's:
-- all bit for bit.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE forecast IS NOT DISTINCT FROM window_forecast) AS same_forecast,
       count(*) FILTER (WHERE score IS NOT DISTINCT FROM window_score) AS same_score,
       count(forecast) AS with_forecast, count(score) AS with_score
FROM (SELECT forecast, score, window_score,
             lag(running) OVER (PARTITION BY sensor ORDER BY ts) AS window_forecast
      FROM (SELECT *, lstm_forecast('tg_m', v) OVER w AS running,
                   lstm_anomaly_score('tg_m', v) OVER w AS window_score
            FROM readings WINDOW w AS (PARTITION BY sensor ORDER BY ts)) x) y;
SELECT series, state::text = (SELECT lstm_state_agg('tg_m', v ORDER BY ts)::text
                              FROM readings r WHERE r.sensor::text = series) AS state_equals_agg
FROM lstm_stream_states WHERE model_name = 'tg_m' ORDER BY series;
-- Scores are in [0, 1]; the first row has no forecast, the next ten warm the score up; values
-- beyond the range seen so far alert, and the repeat filter keeps the next 30 rows below the
-- threshold (the scores themselves are the anomaly suite's).
SELECT bool_and(score BETWEEN 0 AND 1) AS in_range,
       bool_and(forecast IS NULL) FILTER (WHERE ts = '2024-01-01 00:01+00') AS first_no_forecast,
       bool_and(score IS NULL) FILTER (WHERE ts <= '2024-01-01 00:11+00') AS warm_up_unscored,
       bool_and(score IS NOT NULL) FILTER (WHERE ts > '2024-01-01 00:11+00') AS then_scored
FROM readings;
SELECT sensor, count(*) FILTER (WHERE score >= 0.5) AS alerts,
       min(ts) FILTER (WHERE score >= 0.5) AS first_alert,
       max(score) FILTER (WHERE ts > min_alert AND ts <= min_alert + interval '30 minutes')
           <= 0.25 AS quiet_after_it
FROM (SELECT *, min(ts) FILTER (WHERE score >= 0.5) OVER (PARTITION BY sensor) AS min_alert
      FROM readings) x GROUP BY sensor ORDER BY sensor;

-- A NULL value: gets the current forecast, no score, and does not advance the state.
SELECT state AS before FROM lstm_stream_states WHERE model_name = 'tg_m' AND series = '1' \gset
INSERT INTO readings (sensor, ts, v) VALUES (1, '2024-01-01 00:41+00', NULL)
RETURNING forecast = lstm_predict('tg_m', :'before'::lstm_state) AS forecast_is_current, score;
SELECT state::text = :'before' AS state_unchanged
FROM lstm_stream_states WHERE model_name = 'tg_m' AND series = '1';
-- A NULL sensor or a NULL time: stored unscored, no state touched.
INSERT INTO readings (sensor, ts, v) VALUES (NULL, '2024-01-01 00:41+00', 1.0), (2, NULL, 1.0)
RETURNING sensor, ts IS NULL AS no_time, forecast, score;
SELECT count(*) AS states FROM lstm_stream_states WHERE model_name = 'tg_m';
-- A late row (older than the newest applied to its sensor): stored unscored, counted, the state
-- unchanged. A row at the same time as the newest is applied.
INSERT INTO readings (sensor, ts, v) VALUES (1, '2024-01-01 00:05:30+00', 11.0) RETURNING forecast, score;
SELECT state::text = :'before' AS state_unchanged, late_rows
FROM lstm_stream_states WHERE model_name = 'tg_m' AND series = '1';
INSERT INTO readings (sensor, ts, v) VALUES (1, '2024-01-01 00:40+00', 10.5)
RETURNING forecast IS NOT NULL AS applied;
SELECT lstm_state_info(state) -> 'steps' AS steps FROM lstm_stream_states
WHERE model_name = 'tg_m' AND series = '1';

-- Rows updated or deleted later do not change the saved state...
SELECT state AS before FROM lstm_stream_states WHERE model_name = 'tg_m' AND series = '2' \gset
UPDATE readings SET v = v + 1 WHERE sensor = 2 AND ts > '2024-01-01 00:30+00';
DELETE FROM readings WHERE sensor = 2 AND ts = '2024-01-01 00:20+00';
SELECT state::text = :'before' AS state_unchanged_by_update_and_delete
FROM lstm_stream_states WHERE model_name = 'tg_m' AND series = '2';
-- ... and lstm_stream_rebuild recomputes every state from the table in time order (the late row
-- included, the NULL sensor and time rows left out): what lstm_state_agg gives (equal times in
-- arrival order, which for rows never updated is ctid order).
SELECT lstm_stream_rebuild('tg_m', 'readings', 'v', 'sensor', 'ts') AS rebuilt;
SELECT series, lstm_state_info(state) -> 'steps' AS steps, late_rows,
       state::text = (SELECT lstm_state_agg('tg_m', v ORDER BY ts, ctid)::text
                      FROM readings r WHERE r.sensor::text = series AND ts IS NOT NULL) AS state_equals_agg
FROM lstm_stream_states WHERE model_name = 'tg_m' ORDER BY series;
-- Rebuilding one series; the next row continues from the rebuilt state.
SELECT lstm_stream_rebuild('tg_m', 'readings', 'v', 'sensor', 'ts', '3') AS rebuilt;
INSERT INTO readings (sensor, ts, v) VALUES (3, '2024-01-01 00:42+00', 9.0)
RETURNING forecast = (SELECT lstm_forecast('tg_m', v ORDER BY ts) FROM readings WHERE sensor = 3 AND ts IS NOT NULL)
          AS forecast_from_rebuilt_state;

-- A model replaced under the same name: the series restarts under the new model, with a WARNING.
UPDATE lstm_models SET model = pg_temp.test_model(1, 8, 2, 1, 0.7) WHERE name = 'tg_m';
INSERT INTO readings (sensor, ts, v) VALUES (1, '2024-01-01 00:43+00', 10.0) RETURNING forecast, score;
SELECT lstm_state_info(state) -> 'steps' AS steps,
       lstm_state_info(state) ->> 'model_fingerprint' = (SELECT info ->> 'fingerprint' FROM lstm_models
                                                         WHERE name = 'tg_m') AS new_model
FROM lstm_stream_states WHERE model_name = 'tg_m' AND series = '1';
-- Rebuild warms it up again from history under the new model.
SELECT lstm_stream_rebuild('tg_m', 'readings', 'v', 'sensor', 'ts', '1') AS rebuilt;
SELECT state::text = (SELECT lstm_state_agg('tg_m', v ORDER BY ts, ctid)::text FROM readings WHERE sensor = 1 AND ts IS NOT NULL)
       AS rebuilt_under_new_model
FROM lstm_stream_states WHERE model_name = 'tg_m' AND series = '1';

-- Reset: one series, then all of a model's.
SELECT lstm_stream_reset('tg_m', '2') AS reset_one;
INSERT INTO readings (sensor, ts, v) VALUES (2, '2024-01-01 00:44+00', 10.0) RETURNING forecast, score;
SELECT series, lstm_state_info(state) -> 'steps' AS steps FROM lstm_stream_states
WHERE model_name = 'tg_m' ORDER BY series;
SELECT lstm_stream_reset('tg_m') AS reset_all;

-- A single series (series column NULL), no time column (arrival order), a numeric value,
-- a real forecast column and no score column; rows loaded with COPY.
CREATE TABLE single (id serial, v numeric, f real, note text);
CREATE TRIGGER score BEFORE INSERT ON single FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('tg_diff', 'v', NULL, 'f', '');
COPY single (v) FROM STDIN;
1.5
2.25
3
NaN
\.
COPY single (v) FROM STDIN;
1.5
2.25
3
4.5
\.
SELECT id, v, round(f::numeric, 4) IS NOT NULL AS has_forecast FROM single ORDER BY id;
SELECT series = '' AS single_series, lstm_state_info(state) -> 'steps' AS steps,
       state::text = (SELECT lstm_state_agg('tg_diff', v::float8 ORDER BY id)::text FROM single)
           AS state_equals_agg,
       (SELECT f FROM single WHERE id = 8) =
       (SELECT lstm_forecast('tg_diff', v::float8 ORDER BY id)::real FROM single WHERE id < 8)
           AS real_forecast_matches
FROM lstm_stream_states WHERE model_name = 'tg_diff';
-- Rebuild with no series column.
SELECT lstm_stream_rebuild('tg_diff', 'single', 'v', NULL, 'id') AS rebuilt;

-- A multivariate model with a float8[] value column; the score compares feature 0. A numeric
-- forecast column holds the float8 forecast exactly.
CREATE TABLE multi (grp text, ts int, x float8[], forecast numeric, score float8);
CREATE TRIGGER score BEFORE INSERT ON multi FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('tg_multi', 'x', 'grp', 'forecast', 'score', 'ts');
INSERT INTO multi (grp, ts, x)
SELECT g, t, ARRAY[sin(t / 3.0) + length(g), cos(t / 4.0)] FROM unnest(ARRAY['a', 'b']) g,
       generate_series(1, 20) t ORDER BY t, g;
SELECT count(*) FILTER (WHERE score IS NOT DISTINCT FROM window_score) AS same_score, count(score) AS scored,
       count(*) FILTER (WHERE forecast::float8 IS NOT DISTINCT FROM window_forecast) AS same_forecast
FROM (SELECT score, forecast, window_score, lag(running) OVER (PARTITION BY grp ORDER BY ts) AS window_forecast
      FROM (SELECT *, lstm_anomaly_score('tg_multi', x) OVER w AS window_score,
                   lstm_forecast('tg_multi', x) OVER w AS running
            FROM multi WINDOW w AS (PARTITION BY grp ORDER BY ts)) a) b;

-- States are kept by model name, with no foreign key to lstm_models (it can be a Citus
-- reference table): a renamed or deleted model leaves its states under the old name.
UPDATE lstm_models SET name = 'tg_multi2' WHERE name = 'tg_multi';
SELECT model_name, series FROM lstm_stream_states WHERE model_name LIKE 'tg_multi%' ORDER BY series;
DELETE FROM lstm_models WHERE name = 'tg_multi2';
SELECT model_name, count(*) AS states_left FROM lstm_stream_states WHERE model_name LIKE 'tg_multi%'
GROUP BY model_name;
-- Without the model, the next row is an error (the name is unknown) and the states stay.
SELECT pg_temp.try($$INSERT INTO tg_test.multi (grp, ts, x) VALUES ('a', 21, '{1, 2}')$$);
-- A different model stored under the name: each series restarts, with a WARNING, at its next
-- row (the saved state's fingerprint is the old model's) ...
INSERT INTO lstm_models (name, model) VALUES ('tg_multi', pg_temp.test_model(2, 4, 1, 2, 0.9));
INSERT INTO multi (grp, ts, x) VALUES ('a', 21, '{1, 2}'), ('b', 21, '{1, 2}');
SELECT series, lstm_state_info(state) ->> 'steps' AS steps,
       lstm_state_info(state) ->> 'model_fingerprint' = (SELECT info ->> 'fingerprint' FROM lstm_models
                                                         WHERE name = 'tg_multi') AS new_model
FROM lstm_stream_states WHERE model_name = 'tg_multi' ORDER BY series;
-- ... and the same model stored again under a name (deleted and recreated) continues them.
CREATE TEMP TABLE tg_saved AS SELECT name, model FROM lstm_models WHERE name = 'tg_multi';
DELETE FROM lstm_models WHERE name = 'tg_multi';
INSERT INTO lstm_models (name, model) SELECT name, model FROM tg_saved;
INSERT INTO multi (grp, ts, x) VALUES ('a', 22, '{1, 2}');
SELECT series, lstm_state_info(state) ->> 'steps' AS steps
FROM lstm_stream_states WHERE model_name = 'tg_multi' ORDER BY series;
-- lstm_stream_reset removes the states of a name (here one no model has any more).
SELECT lstm_stream_reset('tg_multi') AS reset, lstm_stream_reset('tg_multi2') AS reset_old_name;
DELETE FROM lstm_models WHERE name = 'tg_multi';
SELECT count(*) AS states_left FROM lstm_stream_states WHERE model_name LIKE 'tg_multi%';

-- ---------------------------------------------------------------------------
-- Bad arguments and bad rows: errors at the first row, with specific SQLSTATEs.
-- ---------------------------------------------------------------------------
CREATE TABLE bad (sensor int, ts timestamptz, v float8, label text, n int, p point, forecast float8,
                  score float8, features float8[]);
CREATE FUNCTION bad_trigger(variadic args text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE result text;
BEGIN
    EXECUTE format('CREATE TRIGGER t BEFORE INSERT ON tg_test.bad FOR EACH ROW '
                   'EXECUTE FUNCTION lstm_score_trigger(%s)',
                   (SELECT string_agg(quote_literal(a), ', ') FROM unnest(args) a));
    result := pg_temp.try($q$INSERT INTO tg_test.bad (sensor, ts, v, label, n, features)
                                   VALUES (1, now(), 1.0, 'x', 1, '{1,2}')$q$);
    DROP TRIGGER t ON tg_test.bad;
    RETURN result;
END
$$;
-- Wrong number of arguments, no model, no value column.
SELECT bad_trigger('tg_m', 'v', 'sensor', 'forecast');
SELECT bad_trigger('tg_m', 'v', 'sensor', 'forecast', 'score', 'ts', '{}', 'score', 'extra');
SELECT bad_trigger('', 'v', 'sensor', 'forecast', 'score');
SELECT bad_trigger('tg_m', '', 'sensor', 'forecast', 'score');
-- Missing columns.
SELECT bad_trigger('tg_m', 'value', 'sensor', 'forecast', 'score');
SELECT bad_trigger('tg_m', 'v', 'sensor_id', 'forecast', 'score');
SELECT bad_trigger('tg_m', 'v', 'sensor', 'prediction', 'score');
SELECT bad_trigger('tg_m', 'v', 'sensor', 'forecast', 'anomaly');
SELECT bad_trigger('tg_m', 'v', 'sensor', 'forecast', 'score', 'time');
SELECT bad_trigger('tg_m', 'ctid', 'sensor', 'forecast', 'score');
-- Wrong column types.
SELECT bad_trigger('tg_m', 'label', 'sensor', 'forecast', 'score');
SELECT bad_trigger('tg_m', 'v', 'sensor', 'label', 'score');
SELECT bad_trigger('tg_m', 'v', 'sensor', 'forecast', 'n');
SELECT bad_trigger('tg_m', 'v', 'sensor', 'forecast', 'score', 'p');
SELECT bad_trigger('tg_m', 'v', 'sensor', 'v', 'score');
SELECT bad_trigger('tg_m', 'v', 'sensor', 'forecast', 'forecast');
-- An unknown model; a model whose input width the value column does not match.
SELECT bad_trigger('no_such_model', 'v', 'sensor', 'forecast', 'score');
SELECT bad_trigger('tg_diff', 'features', 'sensor', 'forecast', 'score');
INSERT INTO lstm_models (name, model) VALUES ('tg_multi', pg_temp.test_model(2, 4, 1, 2, 0.3));
SELECT bad_trigger('tg_multi', 'v', 'sensor', 'forecast', 'score');
-- The right arguments work (the same INSERT as above).
SELECT bad_trigger('tg_m', 'v', 'sensor', 'forecast', 'score', 'ts');
-- Bad values: NaN, infinite, NULL array elements.
CREATE TRIGGER t BEFORE INSERT ON bad FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('tg_m', 'v', 'sensor', 'forecast', 'score');
SELECT pg_temp.try($$INSERT INTO tg_test.bad (sensor, v) VALUES (5, 'NaN')$$);
SELECT pg_temp.try($$INSERT INTO tg_test.bad (sensor, v) VALUES (5, '-Infinity')$$);
SELECT pg_temp.try($$INSERT INTO tg_test.bad (sensor, v) VALUES (5, 1e300)$$);
DROP TRIGGER t ON bad;
-- Fired in the wrong way: AFTER, FOR EACH STATEMENT, on UPDATE; called directly.
CREATE TRIGGER t AFTER INSERT ON bad FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('tg_m', 'v', 'sensor', 'forecast', 'score');
SELECT pg_temp.try($$INSERT INTO tg_test.bad (sensor, v) VALUES (6, 1.0)$$);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad FOR EACH STATEMENT
    EXECUTE FUNCTION lstm_score_trigger('tg_m', 'v', 'sensor', 'forecast', 'score');
SELECT pg_temp.try($$INSERT INTO tg_test.bad (sensor, v) VALUES (6, 1.0)$$);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT OR UPDATE ON bad FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('tg_m', 'v', 'sensor', 'forecast', 'score');
SELECT pg_temp.try($$INSERT INTO tg_test.bad (sensor, v) VALUES (6, 1.0)$$);
SELECT pg_temp.try($$UPDATE tg_test.bad SET v = 2.0 WHERE sensor = 6$$);
DROP TRIGGER t ON bad;
SELECT pg_temp.try($$SELECT lstm_score_trigger()$$);
-- lstm_stream_rebuild with an unknown model, table or column.
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('no_such_model', 'tg_test.readings', 'v', 'sensor', 'ts')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('tg_m', 'tg_test.nothing', 'v', 'sensor', 'ts')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('tg_m', 'tg_test.readings', 'value', 'sensor', 'ts')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('tg_m', 'tg_test.readings', 'v', 'sensor_id', 'ts')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('tg_m', 'tg_test.readings', 'v', 'sensor', NULL)$$);
-- The server is still up.
SELECT 1 AS alive;

-- Deleted models leave their states; lstm_stream_reset removes them.
DELETE FROM lstm_models WHERE name LIKE 'tg\_%';
SELECT model_name, lstm_stream_reset(model_name) AS reset
FROM (SELECT DISTINCT model_name FROM lstm_stream_states WHERE model_name LIKE 'tg\_%') s
ORDER BY model_name;
SELECT count(*) AS states_left FROM lstm_stream_states WHERE model_name LIKE 'tg\_%';
DROP SCHEMA tg_test CASCADE;
