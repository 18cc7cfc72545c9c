-- series_scaling: series-scaled models (model format version 2: the per-series normaliser,
-- a direct multi-step head, ensemble members) through every inference form. The forms agree
-- bit for bit (aggregate, window, lstm_predict of lstm_state_agg, lstm_step one row at a
-- time, the scoring trigger); horizons are direct; version-1 models are unchanged; bad
-- models and inputs fail with their SQLSTATEs. PyTorch parity is in the parity suite.
\i test/sql/helpers.sql
CREATE SCHEMA ss_test;
SET search_path = ss_test, public;
\getenv abs_srcdir PG_ABS_SRCDIR
\set fx `cat :abs_srcdir/test/parity/series_fixtures.json`
-- The parity fixtures' models: season 4 with the log and 3 members, and season 0 without the
-- log and 2 members.
CREATE TABLE ss_model AS
SELECT c->>'name' AS name, (c->'model')::text::lstm_model AS model, c->'model' AS doc
FROM jsonb_array_elements((:'fx')::jsonb->'cases') c
WHERE c->>'name' IN ('ss_s4_log_m3', 'ss_s0_lin_m2');
\unset fx
INSERT INTO lstm_models (name, model) SELECT name, model FROM ss_model;
SELECT name, lstm_model_info(model) - 'fingerprint' - 'bytes' AS info FROM ss_model ORDER BY name;

-- Two series of positive values (the log model needs y > 0), with a NULL row in each.
CREATE TABLE ss_data AS
SELECT s, t, CASE WHEN t = 7 THEN NULL
                  ELSE 50 + 10 * s + 8 * sin(t * pi() / 2 + s) + 0.4 * t END AS y
FROM generate_series(1, 2) s, generate_series(1, 30) t;

-- ---------------------------------------------------------------------------
-- Invariants: every form gives the same bits
-- ---------------------------------------------------------------------------
CREATE TABLE ss_agg AS
SELECT m.name, d.s,
       lstm_forecast(m.model, d.y ORDER BY d.t) AS forecast,
       lstm_forecast(m.model, d.y, 3 ORDER BY d.t) AS direct,
       lstm_state_agg(m.model, d.y ORDER BY d.t) AS state
FROM ss_model m, ss_data d GROUP BY m.name, d.s;

-- aggregate = lstm_predict(lstm_state_agg) = by name; the direct horizon starts with it
SELECT name, s,
       forecast = lstm_predict(name, state) AS predict_same,
       direct = lstm_predict(name, state, 3) AS predict_horizon_same,
       direct[1] = forecast AS horizon_starts_with_forecast,
       direct[1:2] = (SELECT lstm_forecast(name, y, 2 ORDER BY t) FROM ss_data d WHERE d.s = a.s)
           AS shorter_horizon_is_prefix,
       forecast = (SELECT lstm_forecast(name, y ORDER BY t) FROM ss_data d WHERE d.s = a.s)
           AS by_name_same,
       lstm_state_info(state)->'steps' AS steps
FROM ss_agg a ORDER BY name, s;

-- window: the forecast after the last row is the aggregate's; after row t, that of rows 1..t
SELECT w.name, bool_and(w.forecast = a.forecast) FILTER (WHERE w.t = 30) AS last_same,
       bool_and(w.forecast IS NOT DISTINCT FROM
                (SELECT lstm_forecast(w.model, d.y ORDER BY d.t) FROM ss_data d
                 WHERE d.s = w.s AND d.t <= w.t)) AS prefix_same
FROM (SELECT m.name, m.model, d.s, d.t,
             lstm_forecast(m.model, d.y) OVER (PARTITION BY m.name, d.s ORDER BY d.t) AS forecast
      FROM ss_model m, ss_data d) w
JOIN ss_agg a USING (name, s)
GROUP BY w.name ORDER BY w.name;

-- lstm_step one row at a time (NULL rows leave the state unchanged) gives the same state
CREATE FUNCTION pg_temp.stepped(p_model text, p_s int) RETURNS lstm_state LANGUAGE plpgsql AS $$
DECLARE st lstm_state; r record;
BEGIN
    FOR r IN SELECT y FROM ss_test.ss_data WHERE s = p_s ORDER BY t LOOP
        st := lstm_step(p_model, st, r.y);
    END LOOP;
    RETURN st;
END $$;
SELECT name, s, pg_temp.stepped(name, s)::text = state::text AS step_same
FROM ss_agg ORDER BY name, s;

-- a split anywhere: the state of rows 1..k stepped through k+1..n is the state of 1..n
SELECT a.name, bool_and(a.state::text = (
           WITH RECURSIVE walk(t, st) AS (
               SELECT k, (SELECT lstm_state_agg(a.name, d.y ORDER BY d.t) FROM ss_data d
                          WHERE d.s = a.s AND d.t <= k)
               UNION ALL
               SELECT walk.t + 1, lstm_step(a.name, walk.st, d.y)
               FROM walk JOIN ss_data d ON d.s = a.s AND d.t = walk.t + 1)
           SELECT st::text FROM walk ORDER BY t DESC LIMIT 1)) AS split_same
FROM ss_agg a, generate_series(1, 29, 7) k GROUP BY a.name ORDER BY a.name;

-- the text form of a version-2 state reads back to the same state
SELECT name, s, (state::text::lstm_state)::text = state::text AS text_round_trip,
       lstm_state_info(state)->'format_version' AS state_version,
       lstm_state_info(state)->'members' AS members,
       lstm_state_info(state)->'season' AS season
FROM ss_agg ORDER BY name, s;
-- the model's text form reads back to the same model (and fingerprint)
SELECT name, (model::text::lstm_model)::text = model::text AS model_round_trip,
       lstm_model_info(model::text::lstm_model)->'fingerprint' = lstm_model_info(model)->'fingerprint'
           AS same_fingerprint
FROM ss_model ORDER BY name;

-- the scoring trigger: its forecasts are the running forecasts made before each row, its
-- saved states the aggregate's
CREATE TABLE ss_scored (s int, t int, y float8, f float8, score float8);
CREATE TRIGGER ss_score BEFORE INSERT ON ss_scored FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('ss_s4_log_m3', 'y', 's', 'f', 'score');
INSERT INTO ss_scored (s, t, y) SELECT s, t, y FROM ss_data ORDER BY t, s;
SELECT bool_and(sc.f IS NOT DISTINCT FROM (SELECT lstm_forecast(m.model, d.y ORDER BY d.t)
                                            FROM ss_data d WHERE d.s = sc.s AND d.t < sc.t))
           FILTER (WHERE sc.y IS NOT NULL) AS trigger_forecasts_same,
       count(*) FILTER (WHERE sc.score IS NOT NULL) > 0 AS some_scores
FROM ss_scored sc, ss_model m WHERE m.name = 'ss_s4_log_m3';
SELECT st.series, st.state::text = a.state::text AS trigger_state_same
FROM lstm_stream_states st JOIN ss_agg a ON a.name = st.model_name AND a.s::text = st.series
WHERE st.model_name = 'ss_s4_log_m3' ORDER BY st.series;

-- ---------------------------------------------------------------------------
-- The likelihood score on series-scaled ensembles: a version-2 state carries the anomaly
-- block after its normaliser, with its settings; a row's residual is y minus the members'
-- median forecast f[1] made before it; the trigger (settings, alert column, one statement
-- for every row) gives what the window functions give
-- ---------------------------------------------------------------------------
\set ss_settings '{"warmup": 3, "short_window": 4, "long_warmup": 5, "threshold": 0.4}'
CREATE TABLE ss_anomaly AS
SELECT m.name, d.s, d.t, d.y,
       lstm_forecast(m.model, d.y) OVER w AS forecast_after,
       lstm_anomaly(m.model, d.y, :'ss_settings'::jsonb) OVER w AS a,
       lstm_state_agg(m.model, d.y, :'ss_settings'::jsonb) OVER w AS st
FROM ss_model m, ss_data d
WINDOW w AS (PARTITION BY m.name, d.s ORDER BY d.t ROWS UNBOUNDED PRECEDING);
SELECT name,
       bool_and((a).forecast IS NOT DISTINCT FROM prev) AS forecast_is_f1_before,
       bool_and((a).residual = y - (a).forecast) FILTER (WHERE t > 1 AND y IS NOT NULL)
           AS residual_y_minus_f1,
       count((a).score) AS scored_rows,
       bool_and(lstm_state_info(st)->'format_version' = '2') AS version_2,
       bool_and(lstm_state_info(st)->'anomaly'->'settings'->'short_window' = '4')
           AS settings_kept,
       bool_and(st::text::lstm_state::text = st::text) AS text_round_trip
FROM (SELECT *, lag(forecast_after) OVER (PARTITION BY name, s ORDER BY t) AS prev
      FROM ss_anomaly) x
GROUP BY name ORDER BY name;
-- the binary form keeps the normaliser and the block
CREATE TABLE ss_states AS SELECT name, s, t, st FROM ss_anomaly;
SELECT '/tmp/lstm_ss_regress_' || pg_backend_pid() || '.bin' AS bin_file \gset
COPY ss_states TO :'bin_file' (FORMAT binary);
CREATE TABLE ss_states_back (LIKE ss_states);
COPY ss_states_back FROM :'bin_file' (FORMAT binary);
SELECT format('rm -f %s', :'bin_file') AS rm_file \gset
COPY (SELECT 1) TO PROGRAM :'rm_file';
SELECT count(*) AS states, bool_and(b.st::text = a.st::text) AS binary_round_trip
FROM ss_states a JOIN ss_states_back b USING (name, s, t);
-- the trigger with the settings and an alert column, every row in one statement
CREATE TABLE ss_alerted (s int, t int, y float8, f float8, score float8, alert boolean);
CREATE TRIGGER ss_alert BEFORE INSERT ON ss_alerted FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('ss_s0_lin_m2', 'y', 's', 'f', 'score', NULL,
                                        '{"warmup": 3, "short_window": 4, "long_warmup": 5, "threshold": 0.4}',
                                        'alert');
INSERT INTO ss_alerted (s, t, y) SELECT s, t, y FROM ss_data ORDER BY t, s;
SELECT bool_and(al.f IS NOT DISTINCT FROM (an.a).forecast
                AND al.score IS NOT DISTINCT FROM (an.a).score
                AND al.alert IS NOT DISTINCT FROM (an.a).alert) AS trigger_rows_same,
       count(al.alert) AS rows_with_alert_column
FROM ss_alerted al JOIN ss_anomaly an ON an.name = 'ss_s0_lin_m2' AND an.s = al.s AND an.t = al.t;
SELECT st.series, st.state::text = an.st::text AS trigger_state_same
FROM lstm_stream_states st
JOIN ss_anomaly an ON an.name = st.model_name AND an.s::text = st.series AND an.t = 30
WHERE st.model_name = 'ss_s0_lin_m2' ORDER BY st.series;
-- a saved state started with other settings is refused when a statement first reaches it
CREATE TRIGGER ss_alert_other BEFORE INSERT ON ss_alerted FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('ss_s0_lin_m2', 'y', 's', 'f', 'score', NULL,
                                        '{"warmup": 4}', 'alert');
DROP TRIGGER ss_alert ON ss_alerted;
SELECT pg_temp.try($$INSERT INTO ss_test.ss_alerted (s, t, y) VALUES (1, 31, 60)$$);

-- ---------------------------------------------------------------------------
-- Horizons of a direct model
-- ---------------------------------------------------------------------------
SELECT pg_temp.try($$SELECT lstm_forecast('ss_s4_log_m3', y, 4 ORDER BY t) FROM ss_test.ss_data$$);
SELECT pg_temp.try($$SELECT lstm_predict('ss_s4_log_m3', state, 4) FROM ss_test.ss_agg
                     WHERE name = 'ss_s4_log_m3'$$);
SELECT pg_temp.try($$SELECT lstm_forecast('ss_s4_log_m3', y, 0 ORDER BY t) FROM ss_test.ss_data$$);

-- ---------------------------------------------------------------------------
-- Bad inputs
-- ---------------------------------------------------------------------------
-- a value <= 0 under the log model (the state is unchanged); none for the model without it
SELECT pg_temp.try($$SELECT lstm_forecast('ss_s4_log_m3', y ORDER BY t)
                     FROM (VALUES (1, 3.0), (2, 0.0)) v(t, y)$$);
SELECT pg_temp.try($$SELECT lstm_step('ss_s4_log_m3', NULL, -1.0)$$);
SELECT lstm_forecast('ss_s0_lin_m2', y ORDER BY t) IS NOT NULL AS signed_values_ok
FROM (VALUES (1, 3.0), (2, 0.0), (3, -2.5)) v(t, y);
-- a features array, and non-finite values
SELECT pg_temp.try($$SELECT lstm_forecast('ss_s4_log_m3', ARRAY[y] ORDER BY t) FROM ss_test.ss_data$$);
SELECT pg_temp.try($$SELECT lstm_step('ss_s4_log_m3', NULL, ARRAY[1.0, 2.0]::float8[])$$);
SELECT pg_temp.try($$SELECT lstm_forecast('ss_s4_log_m3', 'NaN'::float8)$$);
-- a state of the other model
SELECT pg_temp.try($$SELECT lstm_predict('ss_s0_lin_m2', state) FROM ss_test.ss_agg
                     WHERE name = 'ss_s4_log_m3' AND s = 1$$);

-- bad models: each rule of version 2 (22P02), and too many members (54000)
SELECT pg_temp.try(format('SELECT %L::lstm_model', doc || '{"scaling": "global"}')) AS season_without_series
FROM ss_model WHERE name = 'ss_s4_log_m3';
SELECT pg_temp.try(format('SELECT %L::lstm_model', doc || '{"scaling": "global", "season": 0}'))
           AS log_without_series
FROM ss_model WHERE name = 'ss_s4_log_m3';
SELECT pg_temp.try(format('SELECT %L::lstm_model', doc || '{"scaling": "local"}')) AS bad_scaling
FROM ss_model WHERE name = 'ss_s4_log_m3';
SELECT pg_temp.try(format('SELECT %L::lstm_model', doc || '{"season": 0}')) AS input_size_mismatch
FROM ss_model WHERE name = 'ss_s4_log_m3';
SELECT pg_temp.try(format('SELECT %L::lstm_model', doc || '{"season": 1}')) AS season_one
FROM ss_model WHERE name = 'ss_s4_log_m3';
SELECT pg_temp.try(format('SELECT %L::lstm_model', doc || '{"difference": true}')) AS with_difference
FROM ss_model WHERE name = 'ss_s4_log_m3';
SELECT pg_temp.try(format('SELECT %L::lstm_model',
           jsonb_set(doc, '{weights,1,head.bias}', '[0, 0]'))) AS members_of_different_shapes
FROM ss_model WHERE name = 'ss_s4_log_m3';
SELECT pg_temp.try(format('SELECT %L::lstm_model',
           jsonb_set(doc, '{weights}', (SELECT jsonb_agg(x.w) FROM generate_series(1, 17),
                                         LATERAL (SELECT doc->'weights'->0 AS w) x))))
           AS seventeen_members
FROM ss_model WHERE name = 'ss_s4_log_m3';
SELECT pg_temp.try(format('SELECT %L::lstm_model', doc || '{"format_version": 1}')) AS wrong_version
FROM ss_model WHERE name = 'ss_s4_log_m3';
-- a state whose normaliser disagrees with its steps
SELECT pg_temp.try(format('SELECT %L::lstm_state',
           jsonb_set(state::text::jsonb, '{normalizer,rows}', '3'))) AS rows_not_steps
FROM ss_agg WHERE name = 'ss_s4_log_m3' AND s = 1;

-- ---------------------------------------------------------------------------
-- Version-1 models are unchanged: format version 1 everywhere, one member, global scaling
-- ---------------------------------------------------------------------------
SELECT lstm_model_info(:'tiny') - 'fingerprint' - 'bytes' AS tiny_info,
       (:'tiny'::lstm_model)::text::jsonb ? 'scaling' AS prints_scaling,
       lstm_state_info(lstm_state_agg(:'tiny'::lstm_model, v ORDER BY v))->'format_version'
           AS tiny_state_version
FROM (VALUES (1.0), (2.0)) x(v);
-- one member written as an array of one is the same model as the object form
SELECT (jsonb_set(:'tiny'::jsonb, '{weights}', jsonb_build_array(:'tiny'::jsonb->'weights'))::lstm_model)::text
       = (:'tiny'::lstm_model)::text AS array_of_one_same;

DROP TRIGGER ss_score ON ss_scored;
DELETE FROM lstm_stream_states WHERE model_name LIKE 'ss\_%';
-- Rolled-back steps inside one statement are undone for a seasonal series-scaled model too:
-- the normaliser's ring of recent values is part of what a caught exception restores. One DO
-- statement inserts 39 rows one by one; every third insert (the last one too) fails after
-- scoring and is caught.
CREATE TABLE ss_undo (s int, t int, y float8, forecast float8, score float8);
CREATE TRIGGER ss_undo_score BEFORE INSERT ON ss_undo FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('ss_s4_log_m3', 'y', 's', 'forecast', 'score', 't');
DO $$
BEGIN
    FOR i IN 1..39 LOOP
        BEGIN
            INSERT INTO ss_test.ss_undo (s, t, y) VALUES (1, i, 50 + 8 * sin(i * pi() / 2) + 0.3 * i);
            IF i % 3 = 0 THEN
                RAISE EXCEPTION 'rolled back';
            END IF;
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
    END LOOP;
END
$$;
SELECT count(*) AS kept,
       (SELECT s.state::text FROM lstm_stream_states s
        WHERE s.source = 'ss_test.ss_undo'::regclass) =
       (SELECT lstm_state_agg('ss_s4_log_m3', y ORDER BY t)::text FROM ss_undo) AS state_equals_agg
FROM ss_undo;

DELETE FROM lstm_models WHERE name LIKE 'ss\_%';
DROP SCHEMA ss_test CASCADE;
