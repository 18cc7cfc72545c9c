-- lstm_stream_rebuild: states rebuilt from a table's history equal lstm_state_agg over the same
-- rows in time order, bit for bit, for every kind of time column the trigger accepts; one
-- series; no series column; bad arguments; and no function or operator of the caller's
-- search_path runs inside rebuild, reset or the trigger. Everything it creates lives in schema
-- sr_test (the planted objects too), dropped at the end.
\i test/sql/helpers.sql
CREATE SCHEMA sr_test;
SET search_path = sr_test, public;
SET jit = off;

-- The model: input 1, hidden 6, one layer, output 1 (pg_temp.test_model of test/sql/helpers.sql).
INSERT INTO lstm_models (name, model) VALUES ('sr_m', pg_temp.test_model(1, 6, 1, 1, 0.4));

-- Four series (grp 4 has only NULL values, so it gets no state), a row without a series, and
-- one time column of every kind; some times are NULL. The boolean column has ties: rows with
-- equal times are taken in arrival (ctid) order.
CREATE DOMAIN sr_reading AS numeric CHECK (VALUE > -1000);
CREATE TABLE sr_src (id int, grp int, v float8, vd sr_reading, label text, p point,
                     t_uuid uuid, t_bool boolean, t_date date, t_tstz timestamptz,
                     t_int integer, t_num numeric);
INSERT INTO sr_src
SELECT i, CASE WHEN i = 17 THEN NULL ELSE 1 + i % 4 END,
       CASE WHEN i % 4 = 3 OR i % 9 = 0 THEN NULL ELSE 10 + 3 * sin(i / 5.0) END,
       round((10 + 3 * cos(i / 4.0))::numeric, 3), 'x', point(i, i),
       md5(i::text)::uuid, i % 3 = 0, DATE '2024-01-01' + (i * 7) % 61,
       TIMESTAMPTZ '2024-01-01 00:00+00' + ((i * 11) % 97) * INTERVAL '1 minute',
       CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 17) % 101 END, (i * 29) % 103 / 7.0
FROM generate_series(1, 60) i ORDER BY md5(i::text);

-- Every saved state of sr_m next to lstm_state_agg over the same rows ORDER BY the time column,
-- and last_time next to the send form of the time of the last row with a value.
CREATE FUNCTION sr_compare(time_column text, value_column text DEFAULT 'v', by_series bool DEFAULT true)
RETURNS TABLE (series text, has_state bool, steps text, same_state bool, same_last_time bool,
               last_time_type regtype)
LANGUAGE plpgsql AS $$
DECLARE
    key text := CASE WHEN by_series THEN 'grp::text' ELSE '''''::text' END;
    send regproc := (SELECT t.typsend FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                     WHERE a.attrelid = 'sr_src'::regclass AND a.attname = time_column);
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT a.series, s.state IS NOT NULL, lstm_state_info(s.state) ->> 'steps',
               lstm_state_send(s.state) = lstm_state_send(a.state), s.last_time = a.last_time,
               s.last_time_type
        FROM (SELECT %1$s AS series,
                     lstm_state_agg('sr_m', %3$I::float8 ORDER BY %2$I, ctid) AS state,
                     (array_agg(%4$s(%2$I) ORDER BY %2$I DESC, ctid DESC)
                          FILTER (WHERE %3$I IS NOT NULL))[1] AS last_time
              FROM sr_src WHERE %2$I IS NOT NULL AND (%5$L OR grp IS NOT NULL) GROUP BY 1) a
        LEFT JOIN lstm_stream_states s ON s.model_name = 'sr_m' AND s.series = a.series
        ORDER BY 1$q$, key, time_column, value_column, send, NOT by_series);
END
$$;

-- Every kind of time column: uuid, boolean, date, timestamptz, integer, numeric.
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_uuid') AS rebuilt;
SELECT * FROM sr_compare('t_uuid');
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_bool') AS rebuilt;
SELECT * FROM sr_compare('t_bool');
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_date') AS rebuilt;
SELECT * FROM sr_compare('t_date');
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_tstz') AS rebuilt;
SELECT * FROM sr_compare('t_tstz');
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_int') AS rebuilt;
SELECT * FROM sr_compare('t_int');
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_num') AS rebuilt;
SELECT * FROM sr_compare('t_num');
-- A value column of a domain over numeric.
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'vd', 'grp', 't_num') AS rebuilt;
SELECT * FROM sr_compare('t_num', 'vd');

-- One series: only its state is replaced; the others keep theirs.
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_date') AS rebuilt;
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_int', '2') AS rebuilt;
SELECT series, same_state AS same_as_t_int FROM sr_compare('t_int');
SELECT series, same_state AS same_as_t_date FROM sr_compare('t_date');
-- A series whose values are all NULL, or one with no row: nothing saved, its old state gone.
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_int', '4') AS rebuilt;
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 't_int', 'no such series') AS rebuilt;
SELECT count(*) AS states FROM lstm_stream_states WHERE model_name = 'sr_m';

-- A rebuild of part of a table replaces only the states of the series it recomputes: rebuilt
-- from one partition of a partitioned table (states are kept under the root, as the trigger
-- keeps them), the other partition's series keep theirs. Series 1 (rebuilt) and 3 (not) are
-- altered first: the rebuild restores 1 and leaves 3 as it was.
CREATE TABLE sr_part (grp int, ts int, v float8) PARTITION BY LIST (grp);
CREATE TABLE sr_part_low PARTITION OF sr_part FOR VALUES IN (1, 2);
CREATE TABLE sr_part_high PARTITION OF sr_part FOR VALUES IN (3, 4);
CREATE TRIGGER sr_score BEFORE INSERT ON sr_part FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sr_m', 'v', 'grp', NULL, NULL, 'ts');
INSERT INTO sr_part SELECT g, t, 10 + sin(t / 4.0 + g) FROM generate_series(1, 4) g,
       generate_series(1, 15) t ORDER BY t, g;
CREATE TEMP TABLE sr_part_before AS
    SELECT series, lstm_state_send(state) AS state, last_time FROM lstm_stream_states
    WHERE model_name = 'sr_m' AND source = 'sr_part'::regclass;
UPDATE lstm_stream_states SET state = lstm_step('sr_m', state, 0.0)
WHERE model_name = 'sr_m' AND source = 'sr_part'::regclass AND series IN ('1', '3');
SELECT lstm_stream_rebuild('sr_m', 'sr_part_low', 'v', 'grp', 'ts') AS rebuilt;
SELECT b.series, a.series IS NOT NULL AS has_state, lstm_state_send(a.state) = b.state AS same_state,
       a.last_time = b.last_time AS same_last_time
FROM sr_part_before b LEFT JOIN lstm_stream_states a
    ON a.model_name = 'sr_m' AND a.source = 'sr_part'::regclass AND a.series = b.series
ORDER BY b.series;
SELECT lstm_stream_reset('sr_m', source => 'sr_part') AS reset;
DROP TABLE sr_part;

-- No series column (NULL, '' or 'null'): one series keyed '' over every row, those with a NULL
-- grp included; the per-group states stay (they are other series).
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', NULL, 't_tstz') AS rebuilt;
SELECT * FROM sr_compare('t_tstz', by_series => false);
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'null', 't_int') AS rebuilt;
SELECT * FROM sr_compare('t_int', by_series => false);
SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', '', 't_int', '') AS rebuilt;
SELECT count(*) AS states FROM lstm_stream_states WHERE model_name = 'sr_m';

-- Bad arguments.
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_no_such_model', 'sr_src', 'v', 'grp', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild(NULL, 'sr_src', 'v', 'grp', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_no_such_table', 'v', 'grp', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'value', 'grp', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'V', 'grp', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'group', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 'time')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', NULL, 'grp', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'label', 'grp', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 't_uuid', 'grp', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'ctid', 'grp', 't_int')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', NULL)$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', '')$$);
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sr_m', 'sr_src', 'v', 'grp', 'p')$$);
-- A failed rebuild leaves the saved states as they were.
SELECT count(*) AS states FROM lstm_stream_states WHERE model_name = 'sr_m';

-- The caller's search_path changes nothing: with sr_test ahead of pg_catalog, a
-- format(text, text), a text = operator and a now() that raise are planted; plain SQL now finds
-- them ...
CREATE FUNCTION sr_test.format(text, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'planted format() called'; END $$;
CREATE FUNCTION sr_test.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'planted now() called'; END $$;
CREATE FUNCTION sr_test.sr_text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'planted = called'; END $$;
CREATE OPERATOR sr_test.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sr_test.sr_text_eq);
CREATE TABLE sr_feed (sensor text, ts int, v float8, forecast float8, score float8);
CREATE TRIGGER sr_score BEFORE INSERT ON sr_feed FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sr_m', 'v', 'sensor', 'forecast', 'score', 'ts');
SET search_path = sr_test, public, pg_catalog;
SELECT pg_temp.try($$SELECT 'a'::text = 'a'::text$$) AS plain_equals,
       pg_temp.try($$SELECT now()$$) AS plain_now,
       pg_temp.try($$SELECT format('%s', 'a'::text)$$) AS plain_format;
-- ... but the trigger (first row of a series, next rows, a late row), rebuild (all series, one
-- series) and reset never call them.
INSERT INTO sr_feed (sensor, ts, v)
SELECT 's' || (i % 2), i, 10 + sin(i / 3.0) FROM generate_series(1, 20) i;
INSERT INTO sr_feed (sensor, ts, v) VALUES ('s1', 5, 10.0);
SELECT series, late_rows, lstm_state_info(state) ->> 'steps' AS steps
FROM lstm_stream_states WHERE model_name OPERATOR(pg_catalog.=) 'sr_m' AND series LIKE 's%' ORDER BY series;
SELECT lstm_stream_rebuild('sr_m', 'sr_feed', 'v', 'sensor', 'ts') AS rebuilt;
SELECT lstm_stream_rebuild('sr_m', 'sr_feed', 'v', 'sensor', 'ts', 's1') AS rebuilt;
-- (and a model read by name, as the inference functions read it)
SELECT series, lstm_predict('sr_m', state) IS NOT NULL AS predicted
FROM lstm_stream_states WHERE model_name OPERATOR(pg_catalog.=) 'sr_m' ORDER BY series;
SELECT lstm_stream_reset('sr_m', 's0') AS reset_one;
SELECT lstm_stream_reset('sr_m') AS reset_all;
DROP OPERATOR sr_test.= (text, text);
DROP FUNCTION sr_test.sr_text_eq(text, text);
DROP FUNCTION sr_test.format(text, text);
DROP FUNCTION sr_test.now();
SET search_path = sr_test, public;

DELETE FROM lstm_models WHERE name = 'sr_m';
DROP SCHEMA sr_test CASCADE;
SELECT count(*) AS states_left FROM lstm_stream_states WHERE model_name = 'sr_m';
