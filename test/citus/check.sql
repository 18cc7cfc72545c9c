-- check.sql - the Citus cases of test/citus/check.sh, run on the coordinator of a cluster with
-- two workers. Every check raises an error on a mismatch (psql stops at the first).
\set ON_ERROR_STOP on
\set VERBOSITY default
-- (the helper functions live in pg_temp: created on the coordinator only, which is all they
-- need, as Citus warns)
SET client_min_messages = error;

-- pg_temp.check(ok, what): raise unless ok; print what was checked.
CREATE FUNCTION pg_temp.check(ok boolean, what text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'check failed: %', what;
    END IF;
    RETURN 'ok: ' || what;
END
$$;
-- pg_temp.plan(query): the query's EXPLAIN (COSTS OFF) as one text.
CREATE FUNCTION pg_temp.plan(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    result text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF, VERBOSE) ' || query LOOP
        result := result || line || E'\n';
    END LOOP;
    RETURN result;
END
$$;
-- pg_temp.worker_states(): the saved states of model m on the workers: node, series, md5.
CREATE FUNCTION pg_temp.worker_states() RETURNS TABLE (nodeport int, series text, state text)
LANGUAGE sql AS $$
    SELECT w.nodeport, s[1], s[2]
    FROM run_command_on_workers($q$
        SELECT coalesce(string_agg(series || '=' || md5(lstm.lstm_state_send(state)), ','), '')
        FROM lstm.lstm_stream_states
        WHERE model_name = 'm' AND source::text ~ '^feed_[0-9]+$'$q$) w,
         unnest(string_to_array(w.result, ',')) e, string_to_array(e, '=') s
$$;
-- pg_temp.error_of(query): the message of the error the query raises, NULL if none.
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END
$$;
\pset tuples_only on
\pset format unaligned
SET client_min_messages = warning;

\echo == the extension in schema lstm, lstm_models a reference table
CREATE SCHEMA lstm;
CREATE EXTENSION lstm SCHEMA lstm;
SET search_path = public, lstm;
\o /dev/null
SELECT create_reference_table('lstm.lstm_models');
\o
SELECT pg_temp.check(
    (SELECT partmethod = 'n' FROM pg_dist_partition WHERE logicalrelid = 'lstm.lstm_models'::regclass),
    'lstm_models is a reference table');
SELECT pg_temp.check(
    (SELECT count(*) = 3 FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid)
     WHERE s.logicalrelid = 'lstm.lstm_models'::regclass),
    'lstm_models has a placement on the coordinator and on each worker');
SELECT pg_temp.check(
    (SELECT bool_and(success) AND count(*) = 2 FROM run_command_on_workers(
        $$SELECT extversion FROM pg_extension WHERE extname = 'lstm'$$)),
    'lstm exists on both workers');

-- Readings: 12 sensors, 40 steps each, in a distributed table (32 shards over 2 workers) and
-- the same rows in a plain table.
CREATE TABLE readings (sensor int, ts int, v float8);
\o /dev/null
SELECT create_distributed_table('readings', 'sensor');
\o
CREATE TABLE readings_local (sensor int, ts int, v float8);
INSERT INTO readings_local
SELECT s, t, 10 + 2 * sin(t / 4.0 + s) + 0.3 * cos(t * s / 7.0) FROM generate_series(1, 12) s,
       generate_series(1, 40) t;
INSERT INTO readings SELECT * FROM readings_local;
SELECT pg_temp.check((SELECT count(DISTINCT nodeport) = 2 FROM citus_shards
                      WHERE table_name = 'readings'::regclass),
                     'readings is spread over both workers');

\echo == training from the coordinator over the distributed table
SELECT pg_temp.check(
    (lstm_train('m', 'readings', 'v', time_column => 'ts', series => 'sensor', hidden => 8,
                epochs => 3, seed => 5) ->> 'train_targets')::int > 0,
    'lstm_train over the distributed table (rows gathered on the coordinator)');
SELECT pg_temp.check(
    (lstm_train('m_local', 'readings_local', 'v', time_column => 'ts', series => 'sensor',
                hidden => 8, epochs => 3, seed => 5) ->> 'train_targets')::int > 0,
    'lstm_train over the plain table');
SELECT pg_temp.check(
    (SELECT a.model::text = b.model::text FROM lstm_models a, lstm_models b
     WHERE a.name = 'm' AND b.name = 'm_local'),
    'the model trained over the distributed table is bit-identical to the plain table''s');
SELECT pg_temp.check(
    (SELECT count(*) = 3 AND count(DISTINCT result) = 1 FROM run_command_on_placements(
        'lstm.lstm_models', $$SELECT info ->> 'fingerprint' FROM %s WHERE name = 'm'$$)),
    'every placement of lstm_models holds the same model m');

\echo == the name form pushed down: GROUP BY the distribution column
-- A query whose GROUP BY is the distribution column runs whole on the workers (the plan's top
-- is Citus's scan; the aggregate is inside the tasks); there lstm_forecast('m', ...) reads the
-- worker's own placement of lstm_models, without citus.allow_nested_distributed_execution.
SELECT pg_temp.check(
    pg_temp.plan($$SELECT sensor, lstm_forecast('m', v ORDER BY ts) FROM readings GROUP BY sensor$$)
        ~ '^Custom Scan \(Citus Adaptive\).*Task Count: 32.*Node: host=.*Aggregate.*lstm_forecast',
    'EXPLAIN: lstm_forecast(''m'', ...) GROUP BY sensor is pushed down to the workers');
SELECT pg_temp.check(current_setting('citus.allow_nested_distributed_execution') = 'off',
                     'citus.allow_nested_distributed_execution is off');
CREATE TABLE forecasts_local AS
    SELECT sensor, lstm_forecast('m', v ORDER BY ts) AS forecast FROM readings_local GROUP BY sensor;
CREATE TEMP TABLE forecasts_pushed AS
    SELECT sensor, lstm_forecast('m', v ORDER BY ts) AS forecast FROM readings GROUP BY sensor;
SELECT pg_temp.check(
    (SELECT count(*) = 12 FROM forecasts_pushed p JOIN forecasts_local l USING (sensor)
     WHERE float8send(p.forecast) = float8send(l.forecast)),
    'the pushed-down forecasts of 12 sensors are bit-identical to the plain table''s');
-- The other name forms pushed down alike: the anomaly score, the state aggregate.
SELECT pg_temp.check(
    (SELECT count(*) = 12 FROM
        (SELECT sensor, lstm_anomaly_score('m', v ORDER BY ts) AS a,
                lstm_state_send(lstm_state_agg('m', v ORDER BY ts)) AS s
         FROM readings GROUP BY sensor) d
     JOIN (SELECT sensor, lstm_anomaly_score('m', v ORDER BY ts) AS a,
                  lstm_state_send(lstm_state_agg('m', v ORDER BY ts)) AS s
           FROM readings_local GROUP BY sensor) l USING (sensor)
     WHERE float8send(d.a) = float8send(l.a) AND d.s = l.s),
    'lstm_anomaly_score and lstm_state_agg by name, pushed down, bit-identical');
-- Window form, partitioned by the distribution column: pushed down too.
SELECT pg_temp.check(
    (SELECT count(*) = 480 FROM
        (SELECT sensor, ts, lstm_forecast('m', v) OVER (PARTITION BY sensor ORDER BY ts) AS f
         FROM readings) d
     JOIN (SELECT sensor, ts, lstm_forecast('m', v) OVER (PARTITION BY sensor ORDER BY ts) AS f
           FROM readings_local) l USING (sensor, ts)
     WHERE float8send(d.f) = float8send(l.f)),
    'the running (window) forecasts by name, pushed down, bit-identical at all 480 rows');
-- Not grouped by the distribution column, an ordered aggregate cannot be split: Citus brings
-- the rows to the coordinator and aggregates there (the plan's top is the aggregate), with the
-- same result.
SELECT pg_temp.check(
    pg_temp.plan($$SELECT ts % 2, lstm_forecast('m', v ORDER BY sensor, ts) FROM readings GROUP BY 1$$)
        ~ '^\S*Aggregate.*Custom Scan \(Citus Adaptive\)',
    'EXPLAIN: grouped by another column, the aggregate runs on the coordinator');
SELECT pg_temp.check(
    (SELECT count(*) = 2 FROM
        (SELECT ts % 2 AS k, lstm_forecast('m', v ORDER BY sensor, ts) AS f FROM readings GROUP BY 1) d
     JOIN (SELECT ts % 2 AS k, lstm_forecast('m', v ORDER BY sensor, ts) AS f
           FROM readings_local GROUP BY 1) l USING (k)
     WHERE float8send(d.f) = float8send(l.f)),
    'and gives the plain table''s results, bit for bit');

\echo == the by-value forms
-- A user's reference table of models joined to the readings, and a scalar subquery reading
-- lstm_models (Citus evaluates it once, on the coordinator, and sends the value).
CREATE TABLE my_models (name text PRIMARY KEY, model lstm_model NOT NULL);
\o /dev/null
SELECT create_reference_table('my_models');
\o
INSERT INTO my_models SELECT name, model FROM lstm_models WHERE name = 'm';
SELECT pg_temp.check(
    pg_temp.plan($$SELECT r.sensor, lstm_forecast(m.model, r.v ORDER BY r.ts) FROM readings r
                   JOIN my_models m ON m.name = 'm' GROUP BY r.sensor$$)
        ~ '^Custom Scan \(Citus Adaptive\).*Task Count: 32',
    'EXPLAIN: the reference-table join is pushed down');
SELECT pg_temp.check(
    (SELECT count(*) = 12 FROM
        (SELECT r.sensor, lstm_forecast(m.model, r.v ORDER BY r.ts) AS forecast
         FROM readings r JOIN my_models m ON m.name = 'm' GROUP BY r.sensor) d
     JOIN forecasts_local l USING (sensor) WHERE float8send(d.forecast) = float8send(l.forecast)),
    'forecasts through a reference-table join are bit-identical to the plain table''s');
SELECT pg_temp.check(
    (SELECT count(*) = 12 FROM
        (SELECT sensor, lstm_forecast((SELECT model FROM lstm_models WHERE name = 'm'),
                                      v ORDER BY ts) AS forecast
         FROM readings GROUP BY sensor) d
     JOIN forecasts_local l USING (sensor) WHERE float8send(d.forecast) = float8send(l.forecast)),
    'forecasts with the model in a scalar subquery are bit-identical to the plain table''s');

\echo == the scoring trigger on a distributed table
-- Citus creates the trigger on every shard with citus.enable_unsafe_triggers on (in the session
-- that creates it). It fires on the workers: each worker keeps the states of its shards' series
-- in its own lstm_stream_states, under the shard (the scored relation there).
CREATE TABLE feed (sensor int, ts int, v float8, forecast float8, score float8);
\o /dev/null
SELECT create_distributed_table('feed', 'sensor');
\o
CREATE TABLE feed_local (LIKE feed);
-- Citus sends the shards the trigger as pg_get_triggerdef prints it, where the function's
-- schema is left out when it is on the search_path: with lstm off the path, the name stays
-- schema-qualified and resolves on the workers.
BEGIN;
SET LOCAL citus.enable_unsafe_triggers = on;
SET LOCAL search_path = public;
CREATE TRIGGER score BEFORE INSERT ON feed FOR EACH ROW
    EXECUTE FUNCTION lstm.lstm_score_trigger('m', 'v', 'sensor', 'forecast', 'score', 'ts');
COMMIT;
CREATE TRIGGER score BEFORE INSERT ON feed_local FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('m', 'v', 'sensor', 'forecast', 'score', 'ts');
-- The same rows in the same order per series: one statement per time step.
DO $$
BEGIN
    FOR step IN 1..40 LOOP
        INSERT INTO feed (sensor, ts, v) SELECT sensor, ts, v FROM readings_local WHERE ts = step;
        INSERT INTO feed_local (sensor, ts, v) SELECT sensor, ts, v FROM readings_local WHERE ts = step;
    END LOOP;
END
$$;
SELECT pg_temp.check(
    (SELECT count(*) = 480 AND count(d.score) = count(l.score) AND count(d.score) > 300
     FROM feed d JOIN feed_local l USING (sensor, ts)
     WHERE float8send(d.forecast) IS NOT DISTINCT FROM float8send(l.forecast)
       AND float8send(d.score) IS NOT DISTINCT FROM float8send(l.score)),
    'the trigger''s forecasts and scores on the workers are bit-identical to the plain table''s');
-- The states: on the workers, one per series under its shard; none on the coordinator but the
-- plain table's.
CREATE TEMP TABLE worker_states AS SELECT * FROM pg_temp.worker_states();
SELECT pg_temp.check(
    (SELECT count(*) = 12 AND count(DISTINCT nodeport) = 2 FROM worker_states),
    'the 12 series'' states live on the workers (both of them), under their shards');
CREATE TEMP TABLE local_states AS
    SELECT series, md5(lstm_state_send(state)) AS state FROM lstm_stream_states
    WHERE model_name = 'm' AND source = 'feed_local'::regclass;
SELECT pg_temp.check(
    (SELECT count(*) = 12 FROM worker_states w JOIN local_states l USING (series, state)),
    'every worker state is bit-identical to the plain table''s state of the series');

\echo == per-shard rebuild
-- Alter every state on the workers, then rebuild shard by shard (run_command_on_shards runs it
-- on each shard's worker with the shard's name): each rebuild replaces only the states of its
-- shard's series, so all are restored, bit for bit.
SELECT pg_temp.check(
    (SELECT bool_and(success) FROM run_command_on_workers($$
        UPDATE lstm.lstm_stream_states SET state = lstm.lstm_step('m', state, 0.0)
        WHERE model_name = 'm'$$)),
    'the workers'' states altered');
SELECT pg_temp.check(
    (SELECT count(*) = 0 FROM worker_states w JOIN local_states l USING (series, state)
     WHERE (w.nodeport, w.series, w.state) IN (SELECT * FROM pg_temp.worker_states())),
    'no worker state equals the trigger''s any more');
SELECT pg_temp.check(
    (SELECT bool_and(success) AND count(*) = 32 AND sum(result::int) = 12
     FROM run_command_on_shards('feed', $$
        SELECT lstm.lstm_stream_rebuild('m', '%s', 'v', 'sensor', 'ts')$$)),
    'lstm_stream_rebuild on each of the 32 shards: 12 series in all');
SELECT pg_temp.check(
    (SELECT count(*) = 12 FROM worker_states w JOIN local_states l USING (series, state)
     WHERE (w.nodeport, w.series, w.state) IN (SELECT * FROM pg_temp.worker_states())),
    'after the per-shard rebuilds every series'' state is the trigger''s again, bit for bit');
-- One shard again, alone (sensor 1's): the other shards' states on its worker stay.
SELECT pg_temp.check(
    (SELECT bool_and(success) AND sum(result::int) = 1 FROM run_command_on_shards('feed', $$
        SELECT lstm.lstm_stream_rebuild('m', '%s', 'v', 'sensor', 'ts')$$)
     WHERE shardid = get_shard_id_for_distribution_column('feed', 1)),
    'the shard of sensor 1 rebuilt alone: one series');
SELECT pg_temp.check(
    (SELECT count(*) = 12 FROM worker_states w JOIN local_states l USING (series, state)
     WHERE (w.nodeport, w.series, w.state) IN (SELECT * FROM pg_temp.worker_states())),
    'and the states of all 12 series are still there, unchanged');

\echo == lstm_train replacing a model on the reference table
-- The upsert (INSERT ... ON CONFLICT DO UPDATE, its time passed as a parameter) replaces the
-- row on every placement; info, generated from notes and the model, follows.
BEGIN;
SELECT pg_temp.check(
    (lstm_train('m_local', 'readings', 'v', time_column => 'ts', series => 'sensor', hidden => 4,
                epochs => 2, seed => 9) -> 'hyperparameters' ->> 'hidden') = '4',
    'lstm_train under an existing name on the reference table');
SELECT pg_temp.check(
    (SELECT count(*) = 1 AND min(created_at) = now() AND min(info ->> 'hidden_size') = '4'
            AND min(notes -> 'hyperparameters' ->> 'hidden') = '4'
     FROM lstm_models WHERE name = 'm_local'),
    'one row, the new model, its notes and created_at (the transaction''s start)');
COMMIT;
SELECT pg_temp.check(
    (SELECT count(*) = 3 AND count(DISTINCT result) = 1
            AND min(result) = (SELECT info ->> 'fingerprint' FROM lstm_models WHERE name = 'm_local')
     FROM run_command_on_placements('lstm.lstm_models',
                                    $$SELECT info ->> 'fingerprint' FROM %s WHERE name = 'm_local'$$)),
    'every placement holds the replaced model');
SELECT pg_temp.check(
    (SELECT count(*) = 12 FROM (SELECT sensor, lstm_forecast('m_local', v ORDER BY ts) AS f
                                FROM readings GROUP BY sensor) d
     JOIN (SELECT sensor, lstm_forecast('m_local', v ORDER BY ts) AS f
           FROM readings_local GROUP BY sensor) l USING (sensor)
     WHERE float8send(d.f) = float8send(l.f)),
    'pushed-down lookups on the workers see the replaced model at once');

\echo == row-level security on the workers
-- A role may use a model it owns or that is shared with it; lstm_models' policies hold on
-- every placement, so a pushed-down query of a role that cannot see a model fails on the
-- workers as it does on one server, and works once the model is shared.
CREATE ROLE lstm_citus_reader LOGIN;
GRANT USAGE ON SCHEMA lstm TO lstm_citus_reader;
GRANT SELECT ON lstm.lstm_models, readings, forecasts_local TO lstm_citus_reader;
SET ROLE lstm_citus_reader;
SELECT pg_temp.check((SELECT count(*) = 0 FROM lstm_models), 'the reader sees no model');
SELECT pg_temp.error_of($$SELECT sensor, lstm_forecast('m', v ORDER BY ts) FROM readings
                          GROUP BY sensor$$) AS reader_error \gset
RESET ROLE;
SELECT pg_temp.check(:'reader_error' = 'model "m" does not exist',
                     'a pushed-down query naming a model the reader cannot see fails: '
                     || :'reader_error');
SELECT pg_temp.check(
    (SELECT bool_and(result = 't') AND count(*) = 3 FROM run_command_on_placements('lstm.lstm_models',
        $$SELECT relrowsecurity FROM pg_class WHERE oid = '%s'::regclass$$)),
    'every placement of lstm_models has row-level security on');
\o /dev/null
SELECT lstm_model_share('m', 'lstm_citus_reader');
\o
SET ROLE lstm_citus_reader;
SELECT pg_temp.check(
    (SELECT count(*) = 12 FROM (SELECT sensor, lstm_forecast('m', v ORDER BY ts) AS forecast
                                FROM readings GROUP BY sensor) d
     JOIN forecasts_local l USING (sensor) WHERE float8send(d.forecast) = float8send(l.forecast)),
    'shared with the reader, the model works in the pushed-down query, bit-identical');
SELECT pg_temp.check((SELECT array_agg(name) = '{m}' FROM lstm_models),
                     'the reader sees the shared model and no other');
RESET ROLE;
