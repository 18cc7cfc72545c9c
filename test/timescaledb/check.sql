-- check.sql - the TimescaleDB cases of test/timescaledb/check.sh (run from the repository root,
-- on a server with shared_preload_libraries = 'timescaledb'). Every check goes through
-- pg_temp.check, which raises an error on a mismatch (psql stops: ON_ERROR_STOP).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION timescaledb;
CREATE EXTENSION lstm;
\i test/sql/helpers.sql
\set ECHO none
SELECT extversion AS timescaledb FROM pg_extension WHERE extname = 'timescaledb';

-- pg_temp.check(what, ok): 'ok: what', or an error when ok is not true.
CREATE FUNCTION pg_temp.check(what text, ok bool) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'check failed: %', what;
    END IF;
    RETURN 'ok: ' || what;
END
$$;
-- pg_temp.best_ms(sql, runs): the fastest of runs executions of a query, in milliseconds.
CREATE FUNCTION pg_temp.best_ms(q text, runs int DEFAULT 3) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    best float8 := 'Infinity';
BEGIN
    FOR i IN 1..runs LOOP
        t0 := clock_timestamp();
        EXECUTE q;
        best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
    RETURN round(best::numeric, 1);
END
$$;

INSERT INTO lstm_models (name, model) VALUES ('ts_m', pg_temp.test_model(1, 8, 1, 1, 7));

\echo
\echo == 1. A hypertable of readings in chunks of a day, against the same rows in a plain table
-- 20 sensors, one reading a minute for 7 days (201,600 rows), inserted in random order.
CREATE TABLE readings (sensor int NOT NULL, ts timestamptz NOT NULL, v float8);
SELECT create_hypertable('readings', by_range('ts', INTERVAL '1 day'));
INSERT INTO readings
SELECT s, t, 0.5 + sin(extract(epoch FROM t) / 3600.0 + s) + 0.1 * cos(extract(epoch FROM t) / 77.0 * s)
FROM generate_series(1, 20) s,
     generate_series('2026-01-01 00:00+00'::timestamptz, '2026-01-07 23:59+00', INTERVAL '1 minute') t
ORDER BY random();
CREATE TABLE plain AS SELECT * FROM readings;
ANALYZE readings;
ANALYZE plain;
SELECT count(*) AS chunks FROM show_chunks('readings');

-- pg_temp.same_as_plain(): per series, lstm_forecast, its horizon-3 form and lstm_state_agg over
-- the hypertable and over the plain table; how many series, and how many agree bit for bit.
CREATE FUNCTION pg_temp.same_as_plain()
RETURNS TABLE (series int, same_forecast int, same_horizon int, same_state int) LANGUAGE sql AS $$
    SELECT count(*)::int, count(*) FILTER (WHERE float8send(h.f) = float8send(p.f))::int,
           count(*) FILTER (WHERE h.f3::text = p.f3::text)::int,
           count(*) FILTER (WHERE h.s::text = p.s::text)::int
    FROM (SELECT sensor, lstm_forecast('ts_m', v ORDER BY ts) AS f, lstm_forecast('ts_m', v, 3 ORDER BY ts) AS f3,
                 lstm_state_agg('ts_m', v ORDER BY ts) AS s
          FROM readings GROUP BY sensor) h
    FULL JOIN (SELECT sensor, lstm_forecast('ts_m', v ORDER BY ts) AS f, lstm_forecast('ts_m', v, 3 ORDER BY ts) AS f3,
                      lstm_state_agg('ts_m', v ORDER BY ts) AS s
               FROM plain GROUP BY sensor) p USING (sensor)
$$;
SELECT * FROM pg_temp.same_as_plain();
SELECT pg_temp.check('hypertable in 7 chunks of a day', (SELECT count(*) FROM show_chunks('readings')) = 7);
SELECT pg_temp.check('lstm_forecast, horizon 3 and lstm_state_agg per series: hypertable = plain table, bit for bit',
                     (SELECT series = 20 AND same_forecast = 20 AND same_horizon = 20 AND same_state = 20
                      FROM pg_temp.same_as_plain()));

\echo
\echo == 2. The scoring trigger on a hypertable: one state per series across chunks
CREATE TABLE scored (sensor int NOT NULL, ts timestamptz NOT NULL, v float8,
                     forecast float8, score float8, alert boolean);
SELECT create_hypertable('scored', by_range('ts', INTERVAL '1 day'));
CREATE TRIGGER score BEFORE INSERT ON scored FOR EACH ROW
EXECUTE FUNCTION lstm_score_trigger('ts_m', 'v', 'sensor', 'forecast', 'score', 'ts', NULL, 'alert');
-- Two statements in time order: the first five days, then the last two (new chunks, the
-- same states carried on).
INSERT INTO scored (sensor, ts, v) SELECT sensor, ts, v FROM plain WHERE ts < '2026-01-06' ORDER BY ts, sensor;
INSERT INTO scored (sensor, ts, v) SELECT sensor, ts, v FROM plain WHERE ts >= '2026-01-06' ORDER BY ts, sensor;
SELECT source, count(*) AS states, min(lstm_state_info(state)->>'steps') AS steps
FROM lstm_stream_states WHERE model_name = 'ts_m' GROUP BY source;
SELECT pg_temp.check('trigger cloned onto every chunk of scored (7 chunks)',
                     (SELECT count(*) FROM show_chunks('scored')) = 7
                     AND (SELECT count(*) FROM pg_trigger t JOIN show_chunks('scored') c ON t.tgrelid = c
                          WHERE t.tgname = 'score') = 7);
SELECT pg_temp.check('one state per series, source = the hypertable (not a chunk)',
                     (SELECT count(*) = 20 AND bool_and(source = 'scored'::regclass)
                      FROM lstm_stream_states WHERE model_name = 'ts_m'));
SELECT pg_temp.check('saved states = lstm_state_agg over the plain table, bit for bit',
                     (SELECT bool_and(st.state::text = a.s::text) AND count(*) = 20
                      FROM lstm_stream_states st
                      JOIN (SELECT sensor, lstm_state_agg('ts_m', v ORDER BY ts) AS s FROM plain GROUP BY sensor) a
                        ON st.series = lstm_series_key(a.sensor)
                      WHERE st.model_name = 'ts_m' AND st.source = 'scored'::regclass));
SELECT pg_temp.check('every row''s forecast and score = the window functions over the plain table',
                     (SELECT count(*) = 201600
                             AND count(*) FILTER (WHERE s.forecast IS NOT DISTINCT FROM w.forecast
                                                  AND s.score IS NOT DISTINCT FROM w.score) = 201600
                      FROM scored s
                      JOIN (SELECT sensor, ts, lag(running) OVER (PARTITION BY sensor ORDER BY ts) AS forecast, score
                            FROM (SELECT sensor, ts, lstm_forecast('ts_m', v) OVER w AS running,
                                         lstm_anomaly_score('ts_m', v) OVER w AS score
                                  FROM plain WINDOW w AS (PARTITION BY sensor ORDER BY ts)) x) w
                        USING (sensor, ts)));

\echo
\echo == 3. Compression of old chunks: the forecasts are unchanged
ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'sensor',
                          timescaledb.compress_orderby = 'ts');
SELECT count(compress_chunk(c)) AS compressed
FROM show_chunks('readings', older_than => '2026-01-06 00:00+00'::timestamptz) c;
SELECT is_compressed, count(*) AS chunks FROM timescaledb_information.chunks
WHERE hypertable_name = 'readings' GROUP BY 1 ORDER BY 1;
SELECT * FROM pg_temp.same_as_plain();
SELECT pg_temp.check('5 of 7 chunks compressed',
                     (SELECT count(*) FILTER (WHERE is_compressed) = 5 AND count(*) = 7
                      FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'));
SELECT pg_temp.check('forecasts, horizons and states over compressed chunks = plain table, bit for bit',
                     (SELECT series = 20 AND same_forecast = 20 AND same_horizon = 20 AND same_state = 20
                      FROM pg_temp.same_as_plain()));

\echo
\echo == 4. A continuous aggregate of per-bucket states (ORDER BY inside the call)
CREATE MATERIALIZED VIEW readings_daily WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT sensor, time_bucket(INTERVAL '1 day', ts) AS day, count(*) AS n,
       lstm_state_agg('ts_m', v ORDER BY ts) AS state
FROM readings GROUP BY sensor, day WITH NO DATA;
CALL refresh_continuous_aggregate('readings_daily', NULL, NULL);
-- The refresh runs the partial view's query: it keeps the ORDER BY inside the call.
SELECT pg_get_viewdef(format('%I.%I', partial_view_schema, partial_view_name)::regclass) AS refresh_query
FROM _timescaledb_catalog.continuous_agg WHERE user_view_name = 'readings_daily';
SELECT pg_temp.check('the continuous aggregate and its refresh query keep ORDER BY ts inside lstm_state_agg',
                     (SELECT c.view_definition LIKE '%lstm_state_agg(''ts_m''::text, readings.v ORDER BY readings.ts)%'
                             AND pg_get_viewdef(format('%I.%I', a.partial_view_schema, a.partial_view_name)::regclass)
                                 LIKE '%lstm_state_agg(''ts_m''::text, readings.v ORDER BY readings.ts)%'
                      FROM timescaledb_information.continuous_aggregates c
                      JOIN _timescaledb_catalog.continuous_agg a ON a.user_view_name = c.view_name
                      WHERE c.view_name = 'readings_daily'));
-- Per-bucket states, against lstm_state_agg per (sensor, day) over the plain table: each bucket
-- starts from a zero state (1,440 steps, not the history before it).
CREATE VIEW plain_daily AS
SELECT sensor, time_bucket(INTERVAL '1 day', ts) AS day, lstm_state_agg('ts_m', v ORDER BY ts) AS state
FROM plain GROUP BY sensor, day;
SELECT count(*) AS buckets, min(n) AS rows_min, max(n) AS rows_max,
       min((lstm_state_info(state)->>'steps')::int) AS steps_min,
       max((lstm_state_info(state)->>'steps')::int) AS steps_max
FROM readings_daily;
SELECT pg_temp.check('140 buckets, each state = lstm_state_agg of that bucket alone (zero start), bit for bit',
                     (SELECT count(*) = 140 AND bool_and(c.state::text = p.state::text)
                             AND bool_and((lstm_state_info(c.state)->>'steps')::int = 1440)
                      FROM readings_daily c JOIN plain_daily p USING (sensor, day)));
-- The last bucket's state is not the history's (1,440 steps against 10,080); its forecast may
-- still agree, as the LSTM's memory of its start fades within the day (printed, not checked).
SELECT count(*) FILTER (WHERE lstm_predict('ts_m', c.state) = lstm_predict('ts_m', a.s)) AS last_day_same_forecast_as_history,
       count(*) AS series
FROM readings_daily c
JOIN (SELECT sensor, lstm_state_agg('ts_m', v ORDER BY ts) AS s FROM plain GROUP BY sensor) a USING (sensor)
WHERE c.day = '2026-01-07 00:00+00';
SELECT pg_temp.check('the last bucket''s state is not the running state of the whole history',
                     (SELECT count(*) = 20 AND bool_and(c.state::text <> a.s::text)
                             AND bool_and((lstm_state_info(a.s)->>'steps')::int = 10080)
                      FROM readings_daily c
                      JOIN (SELECT sensor, lstm_state_agg('ts_m', v ORDER BY ts) AS s FROM plain GROUP BY sensor) a
                        USING (sensor)
                      WHERE c.day = '2026-01-07 00:00+00'));

-- Replace the model under the same name: the materialized states are the old model's.
UPDATE lstm_models SET model = pg_temp.test_model(1, 8, 1, 1, 8) WHERE name = 'ts_m';
\echo -- the model ts_m replaced under its name
SELECT pg_temp.try($$SELECT lstm_predict('ts_m', state) FROM readings_daily LIMIT 1$$) AS predict_from_stale_state;
SELECT pg_temp.check('a stale state with the replaced model is an error (22023)',
                     pg_temp.try($$SELECT lstm_predict('ts_m', state) FROM readings_daily LIMIT 1$$) LIKE '22023:%');
CALL refresh_continuous_aggregate('readings_daily', NULL, NULL);
SELECT pg_temp.check('a plain refresh does not rematerialize (no data changed): states still the old model''s',
                     (SELECT count(*) FILTER (WHERE c.state::text <> p.state::text) = 140
                      FROM readings_daily c JOIN plain_daily p USING (sensor, day)));
CALL refresh_continuous_aggregate('readings_daily', NULL, NULL, force => true);
SELECT pg_temp.check('after refresh with force => true: every bucket = the new model''s state, bit for bit',
                     (SELECT count(*) = 140 AND bool_and(c.state::text = p.state::text)
                      FROM readings_daily c JOIN plain_daily p USING (sensor, day)));
SELECT pg_temp.check('lstm_predict from the refreshed states works',
                     pg_temp.try($$SELECT lstm_predict('ts_m', state) FROM readings_daily$$) = 'ok');

\echo
\echo == 5. Presorted input (an ordered subquery) against ORDER BY inside the call
CREATE INDEX ON readings (sensor, ts);
ANALYZE readings;
\set q_inside 'SELECT sensor, lstm_forecast(''ts_m'', v ORDER BY ts) AS f FROM readings GROUP BY sensor'
\set q_presorted 'SELECT sensor, lstm_forecast(''ts_m'', v) AS f FROM (SELECT sensor, ts, v FROM readings ORDER BY sensor, ts) r GROUP BY sensor'
\echo :q_inside
EXPLAIN (COSTS OFF) :q_inside;
\echo :q_presorted
EXPLAIN (COSTS OFF) :q_presorted;
SELECT pg_temp.check('presorted subquery = ORDER BY inside the call, bit for bit (20 series)',
                     (SELECT count(*) = 20 AND bool_and(float8send(a.f) = float8send(b.f))
                      FROM (:q_inside) a JOIN (:q_presorted) b USING (sensor)));
SELECT pg_temp.best_ms(:'q_inside') AS order_by_inside_ms, pg_temp.best_ms(:'q_presorted') AS presorted_ms;
