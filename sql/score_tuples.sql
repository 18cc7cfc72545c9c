-- The rows lstm_score_trigger stores are byte for byte the tuples PostgreSQL itself forms from
-- the same column values. The trigger adds its outputs to the new tuple's bytes when every
-- column from the first output on is NULL (score_trigger.c, splice_result) and forms the tuple
-- otherwise; each table below is copied into a twin without the trigger through a projection
-- (so the twin's tuples are formed from values) and the two are compared with pageinspect:
-- null bitmap, header length, flags and data of every row.
\i test/sql/helpers.sql
CREATE EXTENSION IF NOT EXISTS pageinspect;
CREATE SCHEMA st_test;
SET search_path = st_test, public;
SET jit = off;

INSERT INTO lstm_models (name, model) VALUES ('st_m', pg_temp.test_model(1, 4, 1, 1, 0.3));
-- Scores from a series' second row on, so that most rows get every output.
\set settings '{"warmup": 1, "long_warmup": 1, "filter": 0}'

-- Rows of scored and of twin (same layout, no trigger) that differ in their stored bytes.
CREATE FUNCTION st_compare(scored regclass, twin regclass)
RETURNS TABLE (rows bigint, same_bytes bigint) LANGUAGE sql AS $$
    SELECT count(*),
           count(*) FILTER (WHERE a.t_hoff = b.t_hoff AND a.t_bits IS NOT DISTINCT FROM b.t_bits
                            AND (a.t_infomask & 3) = (b.t_infomask & 3)
                            AND (a.t_infomask2 & 2047) = (b.t_infomask2 & 2047)
                            AND a.lp_len = b.lp_len AND a.t_data = b.t_data)
    FROM heap_page_items(get_raw_page(scored::text, 0)) a
    FULL JOIN heap_page_items(get_raw_page(twin::text, 0)) b USING (lp)
$$;

-- Copy scored's rows with id > after into twin in id order, each formed afresh from its values.
CREATE FUNCTION st_copy(scored regclass, twin regclass, after int DEFAULT 0) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %s SELECT (r).* FROM (SELECT r FROM %s r WHERE id > %s '
                   'ORDER BY id OFFSET 0) x', twin, scored, after);
END
$$;

-- Outputs last: filled rows have no NULL left (the null bitmap goes); the first row of a
-- series has no forecast, a NULL value gets a forecast alone, a late row gets nothing, a NULL
-- series is stored as it came, and a statement that supplies a forecast has it overwritten.
CREATE TABLE last_cols (id int, sensor int, ts int, v float8, forecast float8, score float8);
CREATE TABLE last_cols_twin (LIKE last_cols);
CREATE TRIGGER score BEFORE INSERT ON last_cols FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('st_m', 'v', 'sensor', 'forecast', 'score', 'ts',
                                        :'settings');
INSERT INTO last_cols (id, sensor, ts, v)
SELECT g, g % 3, g, sin(g / 4.0) FROM generate_series(1, 30) g;
INSERT INTO last_cols (id, sensor, ts, v) VALUES (31, 1, 40, NULL);
INSERT INTO last_cols (id, sensor, ts, v) VALUES (32, 1, 2, 0.5);
INSERT INTO last_cols (id, sensor, ts, v) VALUES (33, NULL, 50, 0.5);
INSERT INTO last_cols (id, sensor, ts, v, forecast) VALUES (34, 2, 60, 0.25, 99);
INSERT INTO last_cols (id, sensor, ts, v, score) VALUES (35, 7, 60, 0.25, 99);
SELECT id, forecast IS NOT NULL AS has_forecast, score IS NOT NULL AS has_score
FROM last_cols WHERE id IN (1, 4, 7, 31, 32, 33, 34, 35) ORDER BY id;
SELECT st_copy('last_cols', 'last_cols_twin');
SELECT * FROM st_compare('last_cols', 'last_cols_twin');

-- More than 8 columns (a two-byte null bitmap), the alert before the other outputs, a real
-- score, and NULL columns after the outputs (the bitmap stays); a row that fills a column after
-- the outputs is formed instead.
CREATE TABLE wide (id int, sensor text, ts int, v float8, alert bool, score real,
                   forecast float8, note text, a int, b int);
CREATE TABLE wide_twin (LIKE wide);
CREATE TRIGGER score BEFORE INSERT ON wide FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('st_m', 'v', 'sensor', 'forecast', 'score', 'ts',
                                        '{"warmup": 1, "long_warmup": 1, "filter": 0, "threshold": 0.3}', 'alert');
INSERT INTO wide (id, sensor, ts, v)
SELECT g, 's' || g % 2, g, cos(g / 3.0) * 2 FROM generate_series(1, 20) g;
INSERT INTO wide (id, sensor, ts, v, note) VALUES (21, 's1', 30, 0.1, 'kept');
INSERT INTO wide (id, sensor, ts, v, b) VALUES (22, 's0', 30, 0.2, 5);
SELECT count(*) FILTER (WHERE alert) > 0 AS some_alerts, count(*) FILTER (WHERE NOT alert) > 0
       AS some_quiet, count(*) FILTER (WHERE score IS NOT NULL) AS scored,
       count(*) FILTER (WHERE note = 'kept' AND score IS NOT NULL) AS note_kept
FROM wide;
SELECT st_copy('wide', 'wide_twin');
SELECT * FROM st_compare('wide', 'wide_twin');

-- An output in the middle (a value column after it), and a numeric output: formed.
CREATE TABLE middle (id int, sensor int, ts int, forecast numeric, v float8, score float8);
CREATE TABLE middle_twin (LIKE middle);
CREATE TRIGGER score BEFORE INSERT ON middle FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('st_m', 'v', 'sensor', 'forecast', 'score', 'ts',
                                        :'settings');
INSERT INTO middle (id, sensor, ts, v) SELECT g, g % 2, g, g / 10.0 FROM generate_series(1, 12) g;
SELECT count(forecast) AS forecasts, count(score) AS scores FROM middle;
SELECT st_copy('middle', 'middle_twin');
SELECT * FROM st_compare('middle', 'middle_twin');

-- A dropped column after the outputs (NULL in every tuple), then a column added with a
-- default (filled in every new tuple: formed).
CREATE TABLE dropped (id int, sensor int, ts int, v float8, forecast float8, score float8,
                      gone int);
CREATE TABLE dropped_twin (LIKE dropped);
ALTER TABLE dropped DROP COLUMN gone;
ALTER TABLE dropped_twin DROP COLUMN gone;
CREATE TRIGGER score BEFORE INSERT ON dropped FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('st_m', 'v', 'sensor', 'forecast', 'score', 'ts',
                                        :'settings');
INSERT INTO dropped (id, sensor, ts, v) SELECT g, 1, g, g / 7.0 FROM generate_series(1, 8) g;
SELECT st_copy('dropped', 'dropped_twin');
ALTER TABLE dropped ADD COLUMN later int DEFAULT 7;
ALTER TABLE dropped_twin ADD COLUMN later int DEFAULT 7;
INSERT INTO dropped (id, sensor, ts, v) SELECT g, 1, g, g / 7.0 FROM generate_series(9, 12) g;
SELECT count(*), count(score), sum(later) FROM dropped;
SELECT st_copy('dropped', 'dropped_twin', 8);
SELECT * FROM st_compare('dropped', 'dropped_twin');

-- The same rows, forecasts and states as the window functions and lstm_state_agg.
SELECT count(*) FILTER (WHERE forecast IS NOT DISTINCT FROM wf) AS same_forecast, count(*)
FROM (SELECT forecast, lag(running) OVER (PARTITION BY sensor ORDER BY ts) AS wf
      FROM (SELECT *, lstm_forecast('st_m', v) OVER (PARTITION BY sensor ORDER BY ts) AS running
            FROM last_cols WHERE sensor IS NOT NULL AND id <> 32) r) a;
SELECT st.series, st.state::text = (SELECT lstm_state_agg('st_m', v, :'settings' ORDER BY ts)::text
                                    FROM last_cols WHERE sensor::text = st.series AND id <> 32)
       AS state_equals_agg
FROM lstm_stream_states st WHERE st.source = 'last_cols'::regclass ORDER BY 1;

-- last_time is the newest applied time in its type's binary (send) form, whether the trigger
-- writes it directly (the integer-based time types) or through the send function (numeric):
-- a table per type, six rows in time order, then the saved last_time against the type's send
-- function of the newest time, and a late row (older than it) counted as late.
CREATE FUNCTION st_last_time(typ regtype, send text, first text, step text)
RETURNS TABLE (same_bytes boolean, steps text, late bigint) LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE st_test.t_%s (sensor int, t %s, v float8)', send, typ);
    EXECUTE format('CREATE TRIGGER score BEFORE INSERT ON st_test.t_%s FOR EACH ROW '
                   'EXECUTE FUNCTION lstm_score_trigger(''st_m'', ''v'', ''sensor'', NULL, '
                   'NULL, ''t'')', send);
    FOR g IN 1..6 LOOP
        EXECUTE format('INSERT INTO st_test.t_%s VALUES (1, %L::%s + %s * %L::%s, sin(%s))',
                       send, first, typ, g, step,
                       CASE WHEN typ = 'date'::regtype THEN 'integer'
                            WHEN typ IN ('smallint'::regtype, 'integer', 'bigint', 'numeric')
                            THEN typ::text ELSE 'interval' END, g);
    END LOOP;
    EXECUTE format('INSERT INTO st_test.t_%s VALUES (1, %L::%s, 0.5)', send, first, typ);
    RETURN QUERY EXECUTE format(
        'SELECT last_time = (SELECT %s(max(t)) FROM st_test.t_%s), '
        '       lstm_state_info(state) ->> ''steps'', late_rows '
        'FROM lstm_stream_states WHERE source = %L::regclass',
        send, send, 'st_test.t_' || send);
END
$$;
SELECT 'int4' AS type, * FROM st_last_time('integer', 'int4send', '100', '3')
UNION ALL SELECT 'int8', * FROM st_last_time('bigint', 'int8send', '10000000000', '7')
UNION ALL SELECT 'int2', * FROM st_last_time('smallint', 'int2send', '-20', '5')
UNION ALL SELECT 'date', * FROM st_last_time('date', 'date_send', '2024-02-27', '1')
UNION ALL SELECT 'timestamptz', * FROM st_last_time('timestamptz', 'timestamptz_send',
                                                    '2024-02-27 10:00+00', '1 hour 1 second')
UNION ALL SELECT 'timestamp', * FROM st_last_time('timestamp', 'timestamp_send',
                                                  '1999-12-31 23:00', '17 minutes')
UNION ALL SELECT 'numeric', * FROM st_last_time('numeric', 'numeric_send', '1.25', '0.5');

-- The saved states too are the tuples PostgreSQL forms from their values, whether a new version
-- was written over the old one's bytes (stream_states.c, version_written_over: the state and the
-- time keep their sizes) or formed (a numeric time whose stored size changes: 9.75 to 10.25).
CREATE TABLE t_sizes (sensor int, t numeric, v float8);
CREATE TRIGGER score BEFORE INSERT ON t_sizes FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('st_m', 'v', 'sensor', NULL, NULL, 't');
INSERT INTO t_sizes VALUES (1, 9.25, 0.1);
INSERT INTO t_sizes VALUES (1, 9.75, 0.2);
INSERT INTO t_sizes VALUES (1, 10.25, 0.3), (2, 1, 0.4);
BEGIN;
INSERT INTO t_sizes VALUES (1, 10.75, 0.5);
INSERT INTO t_sizes VALUES (1, 10.5, 0.6); -- late: counted, not applied
SELECT series, updated_at = now() AS updated_now, late_rows,
       lstm_state_info(state) ->> 'steps' AS steps
FROM lstm_stream_states WHERE source = 't_sizes'::regclass ORDER BY series;
COMMIT;
CREATE TABLE st_states_twin (LIKE lstm_stream_states);
INSERT INTO st_states_twin
SELECT (r).* FROM (SELECT r FROM lstm_stream_states r WHERE model_name = 'st_m'
                   ORDER BY source, series OFFSET 0) x;
SELECT count(*) AS states,
       count(*) FILTER (WHERE a.t_hoff = b.t_hoff AND a.t_bits IS NOT DISTINCT FROM b.t_bits
                        AND (a.t_infomask & 7) = (b.t_infomask & 7)
                        AND (a.t_infomask2 & 2047) = (b.t_infomask2 & 2047)
                        AND a.lp_len = b.lp_len AND a.t_data = b.t_data) AS same_bytes,
       sum((lstm_state_info(p.state) ->> 'steps')::int) AS steps
FROM (SELECT s.ctid AS sc, t.ctid AS tc, s.state FROM lstm_stream_states s
      JOIN st_states_twin t USING (model_name, source, series)) p,
     LATERAL (SELECT * FROM heap_page_items(get_raw_page('lstm_stream_states',
                                                         (p.sc::text::point)[0]::int))
              WHERE lp = (p.sc::text::point)[1]::int) a,
     LATERAL (SELECT * FROM heap_page_items(get_raw_page('st_states_twin',
                                                         (p.tc::text::point)[0]::int))
              WHERE lp = (p.tc::text::point)[1]::int) b;

DROP SCHEMA st_test CASCADE;
DELETE FROM lstm_models WHERE name = 'st_m';
DELETE FROM lstm_stream_states WHERE model_name = 'st_m';
