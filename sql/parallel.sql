-- Parallel queries: every inference function and aggregate is PARALLEL SAFE, so a query using
-- lstm_forecast, lstm_state_agg or lstm_anomaly_score (by value and by name) gets a parallel
-- plan: the aggregates have no combine function, so they run above the Gather and the scan
-- below it is parallel. The results equal those of the same query without workers, bit for
-- bit. lstm_step and lstm_predict by name run inside the workers (SPI reads of lstm_models).
\i test/sql/helpers.sql
CREATE SCHEMA par_test;
SET search_path = par_test, public;

-- The labels themselves: every aggregate of the extension is PARALLEL SAFE, and only the
-- functions that write (training, sharing, the triggers, reset, rebuild) are PARALLEL UNSAFE.
SELECT p.proparallel, p.prokind, array_agg(DISTINCT p.proname ORDER BY p.proname) AS functions
FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE e.extname = 'lstm' AND d.deptype = 'e' AND (p.proparallel <> 's' OR p.prokind = 'a')
GROUP BY 1, 2 ORDER BY 1, 2;

INSERT INTO lstm_models (name, model) VALUES ('par_m', pg_temp.test_model(1, 8, 1, 1, 7));

-- 40 series x 300 rows, ties in time broken by nothing else: the rows are unique per time.
CREATE TABLE readings (sensor int, ts int, v float8);
INSERT INTO readings
SELECT s, t, 0.5 + sin(t / 7.0 + s) + 0.1 * cos(t * 1.3 * s) + CASE WHEN t = 150 + s THEN 3 ELSE 0 END
FROM generate_series(1, 40) s, generate_series(1, 300) t;
ANALYZE readings;

-- The query under test: every aggregate form, by value (the model written into the query) and
-- by name.
CREATE FUNCTION results_query() RETURNS text LANGUAGE sql AS $$
    SELECT pg_catalog.format($q$
    SELECT sensor,
           lstm_forecast(%1$L::lstm_model, v ORDER BY ts) AS by_value,
           lstm_forecast('par_m', v ORDER BY ts) AS by_name,
           lstm_forecast('par_m', v, 5 ORDER BY ts) AS horizon,
           lstm_forecast('par_m', ARRAY[v] ORDER BY ts) AS features,
           lstm_state_agg(%1$L::lstm_model, v ORDER BY ts) AS state_by_value,
           lstm_state_agg('par_m', v ORDER BY ts) AS state_by_name,
           lstm_anomaly_score(%1$L::lstm_model, v ORDER BY ts) AS score_by_value,
           lstm_anomaly_score('par_m', v ORDER BY ts) AS score_by_name
    FROM par_test.readings WHERE ts %% 17 <> 0 GROUP BY sensor
    $q$, (SELECT model::text FROM lstm_models WHERE name = 'par_m'))
$$;
-- The same as a window: every row's forecast and anomaly score, by name.
CREATE FUNCTION window_query() RETURNS text LANGUAGE sql AS $$
    SELECT $q$
    SELECT sensor, ts,
           lstm_forecast('par_m', v) OVER w AS forecast,
           lstm_anomaly_score('par_m', v) OVER w AS score
    FROM par_test.readings WHERE ts % 17 <> 0 WINDOW w AS (PARTITION BY sensor ORDER BY ts)
    $q$
$$;
-- lstm_step and lstm_predict by name evaluated in the workers, under a partial aggregate
-- (max and min are exact whatever the order the workers deliver in).
CREATE FUNCTION worker_query() RETURNS text LANGUAGE sql AS $$
    SELECT $q$
    SELECT max(lstm_predict('par_m', lstm_step('par_m', NULL, v))) AS max_forecast,
           min(lstm_predict('par_m', lstm_step('par_m', NULL, v))) AS min_forecast,
           count(*) FILTER (WHERE lstm_predict('par_m', lstm_step('par_m', NULL, v)) > 0.13) AS above
    FROM par_test.readings
    $q$
$$;

-- plan(sql): the EXPLAIN (COSTS OFF) lines of a query.
CREATE FUNCTION plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || q;
END
$$;
-- workers_launched(sql): run the query and return how many workers its Gather launched.
CREATE FUNCTION workers_launched(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) ' || q INTO plan;
    RETURN (SELECT sum((n ->> 'Workers Launched')::int)
            FROM jsonb_path_query(plan, 'strict $.**') AS n
            WHERE jsonb_typeof(n) = 'object' AND n ? 'Workers Launched');
END
$$;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

-- A Gather (Merge) below the aggregate, the window function and the partial aggregate, as
-- CREATE TABLE AS plans them below (the plan of its query alone).
SELECT plan('CREATE TABLE results_parallel AS ' || results_query());
SELECT plan('CREATE TABLE window_parallel AS ' || window_query());
SELECT plan('CREATE TABLE worker_parallel AS ' || worker_query());
SELECT workers_launched(results_query()) > 0 AS results_used_workers,
       workers_launched(window_query()) > 0 AS window_used_workers,
       workers_launched(worker_query()) > 0 AS worker_query_used_workers;

-- Results with workers, then without (the statements, which hold the model's text, are not
-- echoed).
\set ECHO none
SELECT format('CREATE TABLE %s AS %s', t, q)
FROM (VALUES ('results_parallel', results_query()), ('window_parallel', window_query()),
             ('worker_parallel', worker_query())) AS x (t, q) \gexec
\set ECHO all
SET max_parallel_workers_per_gather = 0;
SELECT plan('CREATE TABLE results_serial AS ' || results_query());
\set ECHO none
SELECT format('CREATE TABLE %s AS %s', t, q)
FROM (VALUES ('results_serial', results_query()), ('window_serial', window_query()),
             ('worker_serial', worker_query())) AS x (t, q) \gexec
\set ECHO all
RESET max_parallel_workers_per_gather;

-- Bit for bit: float8send and the binary forms of arrays and states.
SELECT count(*) AS series,
       count(*) FILTER (WHERE float8send(p.by_value) = float8send(s.by_value)
                          AND float8send(p.by_name) = float8send(s.by_name)
                          AND float8send(p.by_value) = float8send(p.by_name)
                          AND array_send(p.horizon) = array_send(s.horizon)
                          AND float8send(p.features) = float8send(s.features)
                          AND lstm_state_send(p.state_by_value) = lstm_state_send(s.state_by_value)
                          AND lstm_state_send(p.state_by_name) = lstm_state_send(s.state_by_name)
                          AND float8send(p.score_by_value) = float8send(s.score_by_value)
                          AND float8send(p.score_by_name) = float8send(s.score_by_name)) AS identical,
       count(*) FILTER (WHERE float8send(lstm_predict('par_m', p.state_by_name)) =
                              float8send(p.by_name)) AS predict_from_state
FROM results_parallel p FULL JOIN results_serial s USING (sensor);
SELECT count(*) AS rows, count(p.score) AS scored,
       count(*) FILTER (WHERE float8send(p.forecast) = float8send(s.forecast)
                          AND float8send(p.score) IS NOT DISTINCT FROM float8send(s.score))
           AS identical
FROM window_parallel p FULL JOIN window_serial s USING (sensor, ts);
SELECT float8send(p.max_forecast) = float8send(s.max_forecast) AS same_max,
       float8send(p.min_forecast) = float8send(s.min_forecast) AS same_min,
       p.above = s.above AS same_count, p.above > 0 AND p.above < 12000 AS count_informative
FROM worker_parallel p, worker_serial s;

RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP SCHEMA par_test CASCADE;
DELETE FROM lstm_models WHERE name LIKE 'par\_%';
