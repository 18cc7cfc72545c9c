-- What lstm_score_trigger keeps from one statement to the next in a session, and that every
-- change is seen by the next statement: the trigger's resolved arguments (dropped and renamed
-- columns, a replaced or re-created trigger, a new parent table), the model read through its
-- primary key (replaced, renamed, deleted, hidden by row-level security), and the place of each
-- series' saved state (reset, truncated, vacuumed away, updated by hand). Each insert is its own
-- statement, as single-row ingestion runs.
\i test/sql/helpers.sql
CREATE SCHEMA sc_test;
SET search_path = sc_test, public;
SET jit = off;

INSERT INTO lstm_models (name, model) VALUES
    ('sc_m', pg_temp.test_model(1, 4, 1, 1, 0.4)),
    ('sc_other', pg_temp.test_model(1, 4, 1, 1, 0.7));

CREATE TABLE readings (sensor int, ts int, v float8, forecast float8, score float8,
                       extra text);
CREATE TRIGGER score BEFORE INSERT ON readings FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sc_m', 'v', 'sensor', 'forecast', 'score', 'ts');

-- Forecasts and saved states against the window functions and lstm_state_agg.
CREATE FUNCTION check_readings(model text, tab regclass DEFAULT 'sc_test.readings')
RETURNS TABLE (series text, rows bigint, same_forecast bigint, state_equals_agg boolean)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT st.series, w.rows, w.same_forecast,
               st.state::text = (SELECT lstm_state_agg(%L, v ORDER BY ts)::text
                                 FROM %s r WHERE r.sensor::text = st.series)
        FROM lstm_stream_states st
        JOIN (SELECT sensor, count(*) AS rows,
                     count(*) FILTER (WHERE forecast IS NOT DISTINCT FROM wf) AS same_forecast
              FROM (SELECT sensor, forecast,
                           lag(running) OVER (PARTITION BY sensor ORDER BY ts) AS wf
                    FROM (SELECT *, lstm_forecast(%L, v) OVER (PARTITION BY sensor ORDER BY ts)
                                    AS running
                          FROM %s) r) a
              GROUP BY sensor) w ON w.sensor::text = st.series
        WHERE st.model_name = %L AND st.source = %L::regclass
        ORDER BY 1$q$, model, tab, model, tab, model, tab);
END
$$;

-- 30 statements over 3 series: states and forecasts as the window functions give them.
DO $$
BEGIN
    FOR t IN 1..30 LOOP
        INSERT INTO readings (sensor, ts, v) VALUES (t % 3, t, sin(t));
    END LOOP;
END
$$;
SELECT * FROM check_readings('sc_m');

-- Dropping a column shifts nothing, but the trigger's forecast column is found by name again.
ALTER TABLE readings DROP COLUMN extra;
INSERT INTO readings (sensor, ts, v) VALUES (0, 31, 0.5);
ALTER TABLE readings RENAME COLUMN forecast TO predicted;
SELECT pg_temp.try($$INSERT INTO readings (sensor, ts, v) VALUES (0, 32, 0.5)$$);
ALTER TABLE readings RENAME COLUMN predicted TO forecast;
INSERT INTO readings (sensor, ts, v) VALUES (0, 32, 0.5);
SELECT * FROM check_readings('sc_m');

-- CREATE OR REPLACE TRIGGER (same trigger OID) with another forecast column: used at once,
-- and back.
ALTER TABLE readings ADD COLUMN forecast2 float8;
CREATE OR REPLACE TRIGGER score BEFORE INSERT ON readings FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sc_m', 'v', 'sensor', 'forecast2', 'score', 'ts');
INSERT INTO readings (sensor, ts, v) VALUES (1, 33, 0.25);
SELECT ts, forecast IS NULL AS old_column_empty, forecast2 IS NOT NULL AS new_column_set
FROM readings WHERE ts = 33;
UPDATE readings SET forecast = forecast2 WHERE ts = 33;
CREATE OR REPLACE TRIGGER score BEFORE INSERT ON readings FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sc_m', 'v', 'sensor', 'forecast', 'score', 'ts');
SELECT * FROM check_readings('sc_m');

-- The model replaced between statements: the next one restarts the series (with a WARNING);
-- the model renamed or deleted: the name no longer resolves, and the states stay (a model
-- stored again under the name restarts them, as a replaced one does).
UPDATE lstm_models SET model = (SELECT model FROM lstm_models WHERE name = 'sc_other')
WHERE name = 'sc_m';
INSERT INTO readings (sensor, ts, v) VALUES (1, 34, 0.1);
UPDATE lstm_models SET name = 'sc_renamed' WHERE name = 'sc_m';
SELECT pg_temp.try($$INSERT INTO readings (sensor, ts, v) VALUES (1, 35, 0.1)$$);
UPDATE lstm_models SET name = 'sc_m' WHERE name = 'sc_renamed';
INSERT INTO readings (sensor, ts, v) VALUES (1, 35, 0.1);
DELETE FROM lstm_models WHERE name = 'sc_m';
SELECT pg_temp.try($$INSERT INTO readings (sensor, ts, v) VALUES (1, 36, 0.1)$$);
INSERT INTO lstm_models (name, model)
SELECT 'sc_m', model FROM lstm_models WHERE name = 'sc_other';

-- A role that may not see the model (row-level security) cannot score with it, right after a
-- role that could, in the same session.
CREATE ROLE regress_lstm_sc_writer;
GRANT USAGE ON SCHEMA sc_test TO regress_lstm_sc_writer;
GRANT INSERT, SELECT ON readings TO regress_lstm_sc_writer;
GRANT SELECT ON lstm_models TO regress_lstm_sc_writer;
GRANT SELECT, INSERT, UPDATE ON lstm_stream_states TO regress_lstm_sc_writer;
INSERT INTO readings (sensor, ts, v) VALUES (2, 37, 0.3);
SET ROLE regress_lstm_sc_writer;
SELECT pg_temp.try($$INSERT INTO sc_test.readings (sensor, ts, v) VALUES (2, 38, 0.3)$$);
RESET ROLE;
SELECT lstm_model_share('sc_m', 'regress_lstm_sc_writer');
SET ROLE regress_lstm_sc_writer;
INSERT INTO readings (sensor, ts, v) VALUES (2, 38, 0.3);
RESET ROLE;
SELECT lstm_model_unshare('sc_m', 'regress_lstm_sc_writer');
SET ROLE regress_lstm_sc_writer;
SELECT pg_temp.try($$INSERT INTO sc_test.readings (sensor, ts, v) VALUES (2, 39, 0.3)$$);
RESET ROLE;

-- Start over on a clean table: every later check compares whole histories.
TRUNCATE readings;
SELECT lstm_stream_reset('sc_m', source => 'sc_test.readings');
INSERT INTO readings (sensor, ts, v) SELECT t % 3, t, cos(t) FROM generate_series(1, 12) t;

-- Saved states reset, or changed by hand, between statements: the next statement reads the
-- row as it now is, not the version it wrote.
SELECT lstm_stream_reset('sc_m', '0', 'sc_test.readings');
DELETE FROM readings WHERE sensor = 0;
INSERT INTO readings (sensor, ts, v) VALUES (0, 13, 0.7);
UPDATE lstm_stream_states SET late_rows = 5 WHERE model_name = 'sc_m' AND series = '1';
INSERT INTO readings (sensor, ts, v) VALUES (1, 14, 0.8);
SELECT series, late_rows FROM lstm_stream_states
WHERE model_name = 'sc_m' AND source = 'sc_test.readings'::regclass ORDER BY 1;
SELECT * FROM check_readings('sc_m');

-- lstm_stream_states truncated, and vacuumed down to fewer pages, between statements: no
-- remembered place points past the table's end.
CREATE TABLE many (sensor int, ts int, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON many FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sc_m', 'v', 'sensor', 'forecast', 'score', 'ts');
DO $$
BEGIN
    FOR s IN 1..400 LOOP
        INSERT INTO sc_test.many (sensor, ts, v) VALUES (s, 1, 0.5);
    END LOOP;
    FOR s IN 1..400 LOOP
        INSERT INTO sc_test.many (sensor, ts, v) VALUES (s, 2, 0.25);
    END LOOP;
END
$$;
SELECT pg_relation_size('lstm_stream_states') > 8192 * 4 AS several_pages;
SELECT lstm_stream_reset('sc_m', source => 'sc_test.many');
VACUUM lstm_stream_states;
INSERT INTO many (sensor, ts, v) VALUES (400, 3, 0.125);
TRUNCATE lstm_stream_states;
INSERT INTO many (sensor, ts, v) VALUES (399, 3, 0.125);
SELECT series, lstm_state_info(state) ->> 'steps' AS steps FROM lstm_stream_states
WHERE source = 'sc_test.many'::regclass ORDER BY 1;

-- A scored table that becomes a child (ALTER TABLE ... INHERIT) keeps its states under its new
-- root from the next statement on, as it would in a new session.
CREATE TABLE parent_readings (sensor int, ts int, v float8, forecast float8, score float8);
CREATE TABLE bare_parent ();
INSERT INTO readings (sensor, ts, v) VALUES (2, 20, 0.5);
ALTER TABLE readings INHERIT parent_readings;
INSERT INTO readings (sensor, ts, v) VALUES (2, 21, 0.5);
ALTER TABLE readings NO INHERIT parent_readings;
ALTER TABLE readings INHERIT bare_parent;
INSERT INTO readings (sensor, ts, v) VALUES (2, 22, 0.5);
SELECT source, series, lstm_state_info(state) ->> 'steps' AS steps FROM lstm_stream_states
WHERE model_name = 'sc_m' AND series = '2' ORDER BY 1::text;

-- Late rows by each time type the trigger compares inline (date, timestamp; int and bigint
-- above and in the TAP tests, timestamptz in the trigger suite), infinities included: an equal
-- time is applied, an older one is late.
CREATE TABLE by_date (sensor int, d date, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON by_date FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sc_m', 'v', 'sensor', 'forecast', 'score', 'd');
CREATE TABLE by_timestamp (sensor int, t timestamp, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON by_timestamp FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sc_m', 'v', 'sensor', 'forecast', 'score', 't');
INSERT INTO by_date (sensor, d, v) VALUES (1, '2026-01-02', 0.1);
INSERT INTO by_date (sensor, d, v) VALUES (1, '2026-01-02', 0.2);
INSERT INTO by_date (sensor, d, v) VALUES (1, '2026-01-01', 0.3);
INSERT INTO by_date (sensor, d, v) VALUES (1, '-infinity', 0.3);
INSERT INTO by_date (sensor, d, v) VALUES (1, 'infinity', 0.4);
INSERT INTO by_date (sensor, d, v) VALUES (1, '2027-01-01', 0.5);
INSERT INTO by_timestamp (sensor, t, v) VALUES (1, '2026-01-02 10:00', 0.1);
INSERT INTO by_timestamp (sensor, t, v) VALUES (1, '2026-01-02 10:00', 0.2);
INSERT INTO by_timestamp (sensor, t, v) VALUES (1, '2026-01-02 09:59:59.999999', 0.3);
INSERT INTO by_timestamp (sensor, t, v) VALUES (1, 'infinity', 0.4);
INSERT INTO by_timestamp (sensor, t, v) VALUES (1, '2030-01-01', 0.5);
SELECT source, lstm_state_info(state) -> 'steps' AS steps, late_rows FROM lstm_stream_states
WHERE source IN ('sc_test.by_date'::regclass, 'sc_test.by_timestamp'::regclass) ORDER BY 1::text;
SELECT 'date' AS type, d::text AS time, forecast IS NOT NULL AS scored FROM by_date
UNION ALL
SELECT 'timestamp', t::text, forecast IS NOT NULL FROM by_timestamp;

-- A session that creates, scores and drops many tables: the setups of dropped triggers are
-- freed along the way (every 64 resolutions) and scoring goes on.
DO $$
BEGIN
    FOR i IN 1..150 LOOP
        EXECUTE 'CREATE TABLE sc_test.tmp (sensor int, ts int, v float8, forecast float8,
                                            score float8)';
        EXECUTE 'CREATE TRIGGER score BEFORE INSERT ON sc_test.tmp FOR EACH ROW EXECUTE FUNCTION
                 lstm_score_trigger(''sc_m'', ''v'', ''sensor'', ''forecast'', ''score'', ''ts'')';
        INSERT INTO sc_test.tmp (sensor, ts, v) VALUES (1, 1, 0.5), (1, 2, 0.25);
        DELETE FROM lstm_stream_states WHERE source = 'sc_test.tmp'::regclass;
        DROP TABLE sc_test.tmp;
    END LOOP;
END
$$;
SELECT count(*) BETWEEN 1 AND 64 AS setups_kept_bounded FROM pg_backend_memory_contexts
WHERE name = 'lstm_score_trigger setup';
INSERT INTO by_date (sensor, d, v) VALUES (1, 'infinity', 0.6);
SELECT lstm_state_info(state) -> 'steps' AS steps FROM lstm_stream_states
WHERE source = 'sc_test.by_date'::regclass;

DROP SCHEMA sc_test CASCADE;
REVOKE ALL ON lstm_models, lstm_stream_states FROM regress_lstm_sc_writer;
DROP ROLE regress_lstm_sc_writer;
DELETE FROM lstm_stream_states WHERE model_name IN ('sc_m', 'sc_other');
DELETE FROM lstm_models WHERE name IN ('sc_m', 'sc_other');
