-- Bulk scoring (lstm_score_trigger on multi-row statements): a statement locks each series'
-- saved state once, steps its rows in memory and writes the state once when it ends. Checked:
-- states and scores identical to the window functions on a 20,000-row INSERT ... SELECT into one
-- series; what a statement sees of lstm_stream_states while it runs; savepoints and exceptions
-- caught in PL/pgSQL (their steps undone); a scoring insert fired from inside another trigger
-- and from a function inside a scoring statement; two scored tables in one transaction; the
-- model replaced in the middle of a transaction and of a statement; rights.
\i test/sql/helpers.sql
CREATE SCHEMA ing_test;
SET search_path = ing_test, public;
SET jit = off;

INSERT INTO lstm_models (name, model) VALUES
    ('ing_m', pg_temp.test_model(1, 8, 1, 1, 0.4)),
    ('ing_other', pg_temp.test_model(1, 4, 1, 1, 0.5));

CREATE TABLE readings (sensor int, ts float8, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON readings FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('ing_m', 'v', 'sensor', 'forecast', 'score', 'ts');

-- Forecasts and scores against the window functions, and each saved state against
-- lstm_state_agg, over every row of the table: bit for bit.
CREATE FUNCTION check_readings(model text) RETURNS TABLE (series text, rows bigint, steps bigint,
        same_forecast bigint, same_score bigint, state_equals_agg boolean)
LANGUAGE sql AS $$
    SELECT st.series, w.rows, (lstm_state_info(st.state) ->> 'steps')::bigint, w.same_forecast,
           w.same_score,
           st.state::text = (SELECT lstm_state_agg(model, v ORDER BY ts)::text
                             FROM ing_test.readings r WHERE r.sensor::text = st.series)
    FROM lstm_stream_states st
    JOIN (SELECT sensor, count(*) AS rows,
                 count(*) FILTER (WHERE forecast IS NOT DISTINCT FROM window_forecast) AS same_forecast,
                 count(*) FILTER (WHERE score IS NOT DISTINCT FROM window_score) AS same_score
          FROM (SELECT sensor, forecast, score, window_score,
                       lag(running) OVER (PARTITION BY sensor ORDER BY ts) AS window_forecast
                FROM (SELECT *, lstm_forecast(model, v) OVER w AS running,
                             lstm_anomaly_score(model, v) OVER w AS window_score
                      FROM ing_test.readings WINDOW w AS (PARTITION BY sensor ORDER BY ts)) a) b
          GROUP BY sensor) w ON w.sensor::text = st.series
    WHERE st.model_name = model AND st.source = 'ing_test.readings'::regclass
    ORDER BY st.series
$$;

-- 20,000 rows into one series in one INSERT ... SELECT.
INSERT INTO readings (sensor, ts, v)
SELECT 1, t, 10 + 3 * sin(t / 50.0) + 0.2 * cos(t * 1.3) FROM generate_series(1, 20000) t;
SELECT * FROM check_readings('ing_m');
-- Then 2,000 rows into 20 series (interleaved), the first one included, with COPY.
COPY readings (sensor, ts, v) FROM PROGRAM
    'seq 20001 20100 | awk ''{ for (s = 1; s <= 20; s++) print s "\t" $1 "\t" (10 + sin($1 / 7 + s)) }''';
SELECT count(*) AS series, sum(rows) AS rows, bool_and(steps = rows AND same_forecast = rows
       AND same_score = rows AND state_equals_agg) AS all_identical
FROM check_readings('ing_m');

-- While a statement runs, lstm_stream_states shows, for a series it reached, the state after
-- its first row there (at READ COMMITTED the first row writes it at once, the update taking the
-- row lock); the later rows are written when it ends.
CREATE FUNCTION saved_steps(s int) RETURNS bigint LANGUAGE sql AS $$
    SELECT (lstm_state_info(state) ->> 'steps')::bigint FROM lstm_stream_states
    WHERE model_name = 'ing_m' AND source = 'ing_test.readings'::regclass AND series = s::text
$$;
INSERT INTO readings (sensor, ts, v)
SELECT 2, t, 10 + sin(t) FROM generate_series(20101, 20103) t
RETURNING ts, saved_steps(2) AS steps_seen_during;
SELECT saved_steps(2) AS steps_after;

-- Savepoints: ROLLBACK TO SAVEPOINT undoes the steps of the rolled-back statements, an error
-- half-way through a statement undoes its earlier rows; RELEASE keeps them.
BEGIN;
INSERT INTO readings (sensor, ts, v) SELECT 3, t, 11 + sin(t) FROM generate_series(20101, 20110) t;
SAVEPOINT a;
INSERT INTO readings (sensor, ts, v) SELECT 3, t, 12 + sin(t) FROM generate_series(20111, 20120) t;
ROLLBACK TO SAVEPOINT a;
SAVEPOINT b;
INSERT INTO readings (sensor, ts, v) VALUES (3, 20111, 11.5), (3, 20112, 'NaN'), (3, 20113, 11.5);
ROLLBACK TO SAVEPOINT b;
SAVEPOINT c;
INSERT INTO readings (sensor, ts, v) SELECT 3, t, 13 + sin(t) FROM generate_series(20121, 20125) t;
RELEASE SAVEPOINT c;
COMMIT;
SELECT series, rows, steps, same_forecast = rows AND same_score = rows AND state_equals_agg AS identical
FROM check_readings('ing_m') WHERE series = '3';

-- Inside one statement: a function that each row calls inserts an earlier row of the same
-- series in a PL/pgSQL block; every third block fails after its insert and is caught. The
-- caught blocks' steps are undone, the others' kept, in order with the statement's own rows.
CREATE FUNCTION value_after_nested_insert(s int, t float8) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        INSERT INTO ing_test.readings (sensor, ts, v) VALUES (s, t - 0.5, 9 + cos(t));
        IF t::int % 3 = 0 THEN
            RAISE EXCEPTION 'rolled back';
        END IF;
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    RETURN 10 + sin(t);
END
$$;
INSERT INTO readings (sensor, ts, v)
SELECT 4, t, value_after_nested_insert(4, t) FROM generate_series(20101, 20130) t;
SELECT series, rows, steps, same_forecast = rows AND same_score = rows AND state_equals_agg AS identical
FROM check_readings('ing_m') WHERE series = '4';

-- A scoring insert fired from inside another trigger: rows of a staging table are copied into
-- readings by an AFTER INSERT trigger; with a second scored table in the same transaction.
CREATE TABLE staging (sensor int, ts float8, v float8);
CREATE FUNCTION forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ing_test.readings (sensor, ts, v) VALUES (NEW.sensor, NEW.ts, NEW.v);
    RETURN NULL;
END
$$;
CREATE TRIGGER forward AFTER INSERT ON staging FOR EACH ROW EXECUTE FUNCTION forward();
CREATE TABLE other (sensor int, ts float8, v float8, forecast float8, score float8);
CREATE TRIGGER score BEFORE INSERT ON other FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('ing_other', 'v', 'sensor', 'forecast', 'score', 'ts');
BEGIN;
INSERT INTO staging SELECT s, t, 10 + cos(t + s) FROM generate_series(20201, 20260) t,
                                                     generate_series(5, 6) s ORDER BY t, s;
INSERT INTO other (sensor, ts, v) SELECT 5, t, 10 + cos(t) FROM generate_series(1, 50) t;
INSERT INTO readings (sensor, ts, v) SELECT 5, t, 10 + sin(t) FROM generate_series(20261, 20270) t;
COMMIT;
SELECT series, rows, steps, same_forecast = rows AND same_score = rows AND state_equals_agg AS identical
FROM check_readings('ing_m') WHERE series IN ('5', '6');
SELECT (lstm_state_info(state) ->> 'steps')::int AS other_steps,
       state::text = (SELECT lstm_state_agg('ing_other', v ORDER BY ts)::text FROM other) AS other_equals_agg
FROM lstm_stream_states WHERE model_name = 'ing_other' AND source = 'ing_test.other'::regclass;

-- Many series in one statement, in an order that changes from one time step to the next and
-- skips a series now and then: each row is tried first against the series that followed its
-- predecessor's series the last time, and looked up when that guess is wrong.
INSERT INTO readings (sensor, ts, v)
SELECT s, t, 10 + sin(t * s) FROM generate_series(1, 60) t, generate_series(40, 44) s
WHERE NOT (s = 42 AND t % 4 = 0)
ORDER BY t, (s * (t % 3 + 1)) % 7, s;
SELECT series, rows, steps, same_forecast = rows AND same_score = rows AND state_equals_agg AS identical
FROM check_readings('ing_m') WHERE series::int BETWEEN 40 AND 44;

-- The model replaced in the middle of a statement: every series keeps the model it had when
-- the statement first reached it, to the statement's end; the next statement restarts the
-- series under the new model (with a WARNING).
CREATE FUNCTION replace_model(t float8) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
    IF t = 20305 THEN
        UPDATE lstm_models SET model = pg_temp.test_model(1, 4, 1, 1, 0.9) WHERE name = 'ing_other';
    END IF;
    RETURN 10 + sin(t);
END
$$;
SELECT lstm_state_info(state) ->> 'model_fingerprint' AS old_fingerprint
FROM lstm_stream_states WHERE model_name = 'ing_other' \gset
BEGIN;
INSERT INTO other (sensor, ts, v) SELECT 5, t, replace_model(t) FROM generate_series(20301, 20310) t;
SELECT lstm_state_info(state) ->> 'steps' AS steps,
       lstm_state_info(state) ->> 'model_fingerprint' = :'old_fingerprint' AS old_model
FROM lstm_stream_states WHERE model_name = 'ing_other';
-- The model replaced between statements of one transaction.
INSERT INTO other (sensor, ts, v) SELECT 5, t, 10 + sin(t) FROM generate_series(20311, 20320) t;
COMMIT;
SELECT lstm_state_info(state) ->> 'steps' AS steps,
       lstm_state_info(state) ->> 'model_fingerprint' = (SELECT info ->> 'fingerprint' FROM lstm_models
                                                         WHERE name = 'ing_other') AS new_model,
       state::text = (SELECT lstm_state_agg('ing_other', v ORDER BY ts)::text FROM other
                      WHERE ts > 20310) AS restarted_at_next_statement
FROM lstm_stream_states WHERE model_name = 'ing_other';

-- Late rows in a bulk statement are counted once the statement ends; a NULL value gets the
-- current forecast.
INSERT INTO readings (sensor, ts, v) VALUES (2, 1, 1.0), (2, 2, 1.0), (2, 20104, NULL), (2, 20105, 10.5)
RETURNING ts, forecast IS NOT NULL AS has_forecast, score IS NOT NULL AS has_score;
SELECT late_rows, lstm_state_info(state) ->> 'steps' AS steps FROM lstm_stream_states
WHERE model_name = 'ing_m' AND series = '2';

-- Rights: a role with INSERT on the table, the documented grants and the model shared with it
-- bulk-loads; without the grants on lstm_stream_states its insert is a permission error, and
-- without the model it cannot score (the model does not exist for it); nothing is written.
CREATE ROLE regress_ing_loader;
CREATE ROLE regress_ing_reader;
GRANT USAGE ON SCHEMA ing_test TO regress_ing_loader, regress_ing_reader;
GRANT SELECT ON lstm_models TO regress_ing_loader, regress_ing_reader;
GRANT SELECT, INSERT, UPDATE ON lstm_stream_states TO regress_ing_loader;
GRANT INSERT, SELECT ON readings TO regress_ing_loader, regress_ing_reader;
SELECT lstm_model_share('ing_m', 'regress_ing_loader'), lstm_model_share('ing_m', 'regress_ing_reader');
SET ROLE regress_ing_loader;
INSERT INTO readings (sensor, ts, v) SELECT 30, t, 10 + sin(t) FROM generate_series(1, 100) t;
RESET ROLE;
SELECT series, rows, steps, state_equals_agg FROM check_readings('ing_m') WHERE series = '30';
SET ROLE regress_ing_reader;
SELECT pg_temp.try($$INSERT INTO ing_test.readings (sensor, ts, v) SELECT 30, t, 1.0 FROM generate_series(101, 110) t$$);
RESET ROLE;
SELECT lstm_model_unshare('ing_m', 'regress_ing_loader');
SET ROLE regress_ing_loader;
SELECT pg_temp.try($$INSERT INTO ing_test.readings (sensor, ts, v) SELECT 30, t, 1.0 FROM generate_series(101, 110) t$$);
SELECT pg_temp.try($$INSERT INTO ing_test.readings (sensor, ts, v) SELECT 31, t, 1.0 FROM generate_series(101, 110) t$$);
RESET ROLE;
SELECT series, rows, steps FROM check_readings('ing_m') WHERE series IN ('30', '31');

DELETE FROM lstm_models WHERE name LIKE 'ing\_%';
DROP SCHEMA ing_test CASCADE;
REVOKE ALL ON lstm_models, lstm_stream_states FROM regress_ing_loader, regress_ing_reader;
DROP ROLE regress_ing_loader, regress_ing_reader;
