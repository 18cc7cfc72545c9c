-- Security and tenancy: models belong to their owners (row-level security on lstm_models),
-- a replaced model is never used by name, and the extension's code ignores the caller's
-- search_path. Every object here is prefixed sec_; roles are regress_lstm_sec_*.
\i test/sql/helpers.sql
CREATE SCHEMA sec_test;
SET search_path = sec_test, public;
\set tiny :tiny_scaled
\set other '{"input_size": 1, "hidden_size": 1, "num_layers": 1, "output_size": 1, "weights": {"weight_ih_l0": [[0.5], [0.25], [-0.5], [1.0]], "weight_hh_l0": [[0.1], [0.2], [0.3], [0.4]], "bias_ih_l0": [0, 0, 0, 0], "bias_hh_l0": [0, 0, 0, 0], "head.weight": [[2.0]], "head.bias": [1.0]}}'

CREATE ROLE regress_lstm_sec_alice;
CREATE ROLE regress_lstm_sec_bob;
CREATE ROLE regress_lstm_sec_team;
GRANT regress_lstm_sec_team TO regress_lstm_sec_alice;
-- The README's grants: scoring and training roles get table privileges; rows stay private.
GRANT SELECT, INSERT, UPDATE, DELETE ON lstm_models TO regress_lstm_sec_alice, regress_lstm_sec_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON lstm_stream_states
    TO regress_lstm_sec_alice, regress_lstm_sec_bob;
GRANT USAGE ON SCHEMA sec_test TO regress_lstm_sec_alice, regress_lstm_sec_bob;

-- ---- Models belong to the role that stores them ----
SET ROLE regress_lstm_sec_alice;
INSERT INTO lstm_models (name, model) VALUES ('sec_alice', :'tiny');
INSERT INTO lstm_models (name, model, owner) VALUES ('sec_team', :'tiny', 'regress_lstm_sec_team');
SELECT name, owner, shared_with FROM lstm_models WHERE name LIKE 'sec\_%' ORDER BY name;
SELECT round(lstm_forecast('sec_alice', v ORDER BY t)::numeric, 6) AS alice_forecast
FROM (VALUES (1, 4.0), (2, 5.0)) AS s (t, v);

-- Another role sees nothing: no row, no weights, no use by name.
SET ROLE regress_lstm_sec_bob;
SELECT count(*) AS bob_sees FROM lstm_models WHERE name LIKE 'sec\_%';
SELECT lstm_model_by_name('sec_alice');
SELECT lstm_forecast('sec_alice', v ORDER BY t) FROM (VALUES (1, 4.0)) AS s (t, v);
-- ... and cannot overwrite, rename or delete it (the attack: replace a model by name).
UPDATE lstm_models SET model = :'other' WHERE name = 'sec_alice';
UPDATE lstm_models SET name = 'sec_stolen' WHERE name = 'sec_alice';
DELETE FROM lstm_models WHERE name = 'sec_alice';
\set VERBOSITY sqlstate
INSERT INTO lstm_models (name, model) VALUES ('sec_alice', :'other')
    ON CONFLICT (name) DO UPDATE SET model = EXCLUDED.model;
-- A row owned by someone else cannot be planted either.
INSERT INTO lstm_models (name, model, owner) VALUES ('sec_planted', :'other', 'regress_lstm_sec_alice');
\set VERBOSITY default
SELECT lstm_model_share('sec_alice', 'regress_lstm_sec_bob');

-- The owner shares a model: bob may use and read it, still not change it.
SET ROLE regress_lstm_sec_alice;
SELECT lstm_model_share('sec_alice', 'regress_lstm_sec_bob');
SELECT lstm_model_share('sec_alice', 'regress_lstm_sec_bob');  -- idempotent
SELECT name, shared_with FROM lstm_models WHERE name = 'sec_alice';
SET ROLE regress_lstm_sec_bob;
SELECT round(lstm_forecast('sec_alice', v ORDER BY t)::numeric, 6) AS bob_forecast
FROM (VALUES (1, 4.0), (2, 5.0)) AS s (t, v);
UPDATE lstm_models SET model = :'other' WHERE name = 'sec_alice';
SELECT lstm_model_unshare('sec_alice', 'regress_lstm_sec_bob');
-- Shared with every role, then taken back.
SET ROLE regress_lstm_sec_alice;
SELECT lstm_model_share('sec_alice', 'public');
SELECT lstm_model_unshare('sec_alice', 'regress_lstm_sec_bob');
SET ROLE regress_lstm_sec_bob;
SELECT count(*) AS bob_sees_public FROM lstm_models WHERE name = 'sec_alice';
SET ROLE regress_lstm_sec_alice;
SELECT lstm_model_unshare('sec_alice', 'PUBLIC');
SELECT lstm_model_share('sec_alice', 'regress_lstm_sec_nobody');
SET ROLE regress_lstm_sec_bob;
SELECT count(*) AS bob_sees_after_unshare FROM lstm_models WHERE name = 'sec_alice';
RESET ROLE;

-- ---- lstm_train cannot replace another role's model, and fails before training ----
CREATE TABLE sec_series AS SELECT t, sin(t / 3.0) AS v FROM generate_series(1, 40) AS t;
GRANT SELECT ON sec_series TO regress_lstm_sec_bob;
SET client_min_messages = warning;
SET ROLE regress_lstm_sec_bob;
SELECT lstm_train('sec_alice', 'sec_series', 'v', time_column => 't', epochs => 1);
SELECT lstm_train('sec_bob', 'sec_series', 'v', time_column => 't', epochs => 1) ->> 'model';
SELECT lstm_train('sec_bob', 'sec_series', 'v', time_column => 't', epochs => 2) ->> 'epochs_run';
SELECT name, owner FROM lstm_models WHERE name LIKE 'sec\_%' ORDER BY name;
RESET ROLE;
RESET client_min_messages;
DROP TABLE sec_series;

-- ---- A replaced model is never used by name (same call site, one transaction) ----
INSERT INTO lstm_models (name, model) VALUES ('sec_swap', :'tiny'), ('sec_swap_other', :'other');
CREATE FUNCTION sec_fingerprints() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    s lstm_state;
BEGIN
    FOR i IN 1..2 LOOP
        IF i = 2 THEN
            UPDATE lstm_models SET model = (SELECT model FROM lstm_models
                                            WHERE name = 'sec_swap_other')
            WHERE name = 'sec_swap';
        END IF;
        s := lstm_step('sec_swap', NULL::lstm_state, 1.0);  -- one call site, run twice
        RETURN NEXT CASE lstm_state_info(s) ->> 'model_fingerprint'
            WHEN (SELECT info ->> 'fingerprint' FROM lstm_models WHERE name = 'sec_swap')
            THEN 'step ' || i || ': the stored model' ELSE 'step ' || i || ': a stale model' END;
    END LOOP;
END
$$;
SELECT * FROM sec_fingerprints();
DROP FUNCTION sec_fingerprints();

-- ---- Long horizons stop at statement_timeout (hidden 256, 4 layers, 100,000 steps) ----
CREATE TABLE sec_big AS
SELECT (pg_catalog.jsonb_build_object(
    'input_size', 1, 'hidden_size', 256, 'num_layers', 4, 'output_size', 1,
    'weights', (SELECT pg_catalog.jsonb_object_agg(k, v) FROM (
        SELECT 'weight_ih_l' || l AS k,
               to_jsonb(array_fill(0.01::float4, ARRAY[1024, CASE WHEN l = 0 THEN 1 ELSE 256 END])) AS v
        FROM generate_series(0, 3) AS l
        UNION ALL SELECT 'weight_hh_l' || l, to_jsonb(array_fill(0.01::float4, ARRAY[1024, 256]))
        FROM generate_series(0, 3) AS l
        UNION ALL SELECT 'bias_ih_l' || l, to_jsonb(array_fill(0::float4, ARRAY[1024]))
        FROM generate_series(0, 3) AS l
        UNION ALL SELECT 'bias_hh_l' || l, to_jsonb(array_fill(0::float4, ARRAY[1024]))
        FROM generate_series(0, 3) AS l
        UNION ALL SELECT 'head.weight', to_jsonb(array_fill(0.01::float4, ARRAY[1, 256]))
        UNION ALL SELECT 'head.bias', to_jsonb(ARRAY[0::float4])) AS w)))::lstm_model AS m;
SELECT lstm_model_info(m) ->> 'parameters' AS parameters FROM sec_big;
SET statement_timeout = '1s';
SELECT lstm_predict(m, lstm_step(m, NULL::lstm_state, 1.0), 100000) FROM sec_big;
SELECT lstm_forecast(m, v, 100000 ORDER BY t) FROM sec_big, (VALUES (1, 1.0)) AS s (t, v);
RESET statement_timeout;
DROP TABLE sec_big;

-- ---- Saved states belong to the scored table ----
-- Two teams score their own tables with one shared model and the same series values.
INSERT INTO lstm_models (name, model) VALUES ('sec_shared', :'tiny');
SELECT lstm_model_share('sec_shared', 'public');
CREATE TABLE sec_a (sensor int, ts int, v float8, forecast float8, score float8);
CREATE TABLE sec_b (LIKE sec_a);
CREATE TRIGGER sec_score BEFORE INSERT ON sec_a FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sec_shared', 'v', 'sensor', 'forecast', 'score', 'ts');
CREATE TRIGGER sec_score BEFORE INSERT ON sec_b FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sec_shared', 'v', 'sensor', 'forecast', 'score', 'ts');
GRANT SELECT, INSERT ON sec_a TO regress_lstm_sec_alice;
GRANT SELECT, INSERT ON sec_b TO regress_lstm_sec_bob;
SET ROLE regress_lstm_sec_alice;
INSERT INTO sec_a (sensor, ts, v) SELECT 1, t, 5 + sin(t) FROM generate_series(1, 5) AS t;
SET ROLE regress_lstm_sec_bob;
INSERT INTO sec_b (sensor, ts, v) SELECT 1, t, 5 + cos(t) FROM generate_series(1, 3) AS t;
-- With row_security off, a role subject to the states' policies is refused as a query would
-- be (the trigger's direct access to lstm_stream_states never bypasses them).
SET row_security = off;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_b (sensor, ts, v) VALUES (1, 4, 5)$$);
RESET row_security;
-- Bob's inserts did not advance Alice's series: each table has its own state ...
RESET ROLE;
SELECT source, series, lstm_state_info(state) -> 'steps' AS steps
FROM lstm_stream_states WHERE model_name = 'sec_shared' ORDER BY source::text;
-- ... and each equals lstm_state_agg over that table's rows.
SELECT s.source, s.state::text = (SELECT lstm_state_agg('sec_shared', v ORDER BY ts)::text FROM sec_a)
       AS a_equals_agg
FROM lstm_stream_states s WHERE model_name = 'sec_shared' AND source = 'sec_a'::regclass;
-- Bob cannot read, poison, move, plant, delete or rebuild Alice's state.
SET ROLE regress_lstm_sec_bob;
SELECT source, series FROM lstm_stream_states WHERE model_name = 'sec_shared';
UPDATE lstm_stream_states SET last_time = NULL WHERE source = 'sec_a'::regclass;
UPDATE lstm_stream_states SET state = (SELECT state FROM lstm_stream_states LIMIT 1)
WHERE source = 'sec_a'::regclass;
SELECT pg_temp.try($$UPDATE lstm_stream_states SET source = 'sec_test.sec_a' WHERE source = 'sec_test.sec_b'::regclass$$);
SELECT pg_temp.try($$INSERT INTO lstm_stream_states (model_name, source, series, state)
                     SELECT model_name, 'sec_test.sec_a', '2', state FROM lstm_stream_states$$);
DELETE FROM lstm_stream_states WHERE source = 'sec_a'::regclass;
SELECT lstm_stream_reset('sec_shared') AS bob_reset;
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sec_shared', 'sec_test.sec_a', 'v', 'sensor', 'ts')$$);
RESET ROLE;
SELECT source, series, lstm_state_info(state) -> 'steps' AS steps
FROM lstm_stream_states WHERE model_name = 'sec_shared' ORDER BY source::text;
-- Alice may reset and rebuild her own table's states, and only those.
SET ROLE regress_lstm_sec_alice;
SELECT lstm_stream_rebuild('sec_shared', 'sec_a', 'v', 'sensor', 'ts') AS alice_rebuilt;
SELECT lstm_stream_reset('sec_shared', source => 'sec_a') AS alice_reset;
RESET ROLE;

-- ---- A series key is the same whatever the session's settings ----
CREATE TABLE sec_keys (at timestamptz, x float8, ts int, v float8);
CREATE TRIGGER sec_by_time BEFORE INSERT ON sec_keys FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sec_shared', 'v', 'at', NULL, NULL, 'ts');
SET TimeZone = 'UTC';
INSERT INTO sec_keys VALUES ('2024-01-01 00:00+00', 0.1, 1, 1.0);
SET TimeZone = 'America/New_York';
SET DateStyle = 'SQL, DMY';
INSERT INTO sec_keys VALUES ('2024-01-01 00:00+00', 0.1, 2, 2.0);
SELECT series, lstm_state_info(state) -> 'steps' AS steps
FROM lstm_stream_states WHERE source = 'sec_keys'::regclass;
SELECT lstm_series_key('2024-01-01 00:00+00'::timestamptz) AS tz_key,
       lstm_series_key('2024-01-31'::date) AS date_key,
       lstm_series_key('1 day 02:00'::interval) AS interval_key;
RESET TimeZone;
RESET DateStyle;
DROP TRIGGER sec_by_time ON sec_keys;
CREATE TRIGGER sec_by_float BEFORE INSERT ON sec_keys FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sec_shared', 'v', 'x', NULL, NULL, 'ts');
SET extra_float_digits = 0;
INSERT INTO sec_keys VALUES (NULL, 0.1::float8 + 0.2::float8, 3, 3.0), (NULL, 0.3, 4, 4.0);
SET bytea_output = 'escape';
SELECT lstm_series_key(0.1::float8 + 0.2::float8) AS float_key, lstm_series_key(0.3::float8) AS other_key,
       lstm_series_key('\x00ff'::bytea) AS bytea_key;
RESET extra_float_digits;
RESET bytea_output;
SELECT series, lstm_state_info(state) -> 'steps' AS steps
FROM lstm_stream_states WHERE source = 'sec_keys'::regclass AND series NOT LIKE '2024%'
ORDER BY series;

-- ---- A damaged last_time is data corruption (XX001), not a protocol violation ----
INSERT INTO sec_b (sensor, ts, v) VALUES (1, 9, 1.0);
UPDATE lstm_stream_states SET last_time = '\x01'::bytea WHERE source = 'sec_b'::regclass;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_b (sensor, ts, v) VALUES (1, 10, 1.0)$$);
UPDATE lstm_stream_states SET last_time = '\x0000000000000001ff'::bytea
WHERE source = 'sec_b'::regclass;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_b (sensor, ts, v) VALUES (1, 11, 1.0)$$);
-- (a timestamptz is read without its receive function, with the same range check)
CREATE TABLE sec_t (sensor int, ts timestamptz, v float8, forecast float8, score float8);
CREATE TRIGGER sec_score BEFORE INSERT ON sec_t FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sec_shared', 'v', 'sensor', 'forecast', 'score', 'ts');
INSERT INTO sec_t (sensor, ts, v) VALUES (1, '2024-01-01 00:00+00', 1.0);
UPDATE lstm_stream_states SET last_time = '\x7ffffffffffffff0'::bytea
WHERE source = 'sec_t'::regclass;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_t (sensor, ts, v) VALUES (1, '2024-01-02', 1.0)$$);
DROP TABLE sec_a, sec_b, sec_t, sec_keys;

-- ---- Nothing the extension runs can be hijacked through search_path ----
-- A schema ahead of pg_catalog plants functions and operators that raise; plain SQL finds them,
-- but no entry point of the extension calls them (the trigger, rebuild and reset are in the
-- stream_rebuild suite too).
CREATE SCHEMA sec_evil;
CREATE FUNCTION sec_evil.planted() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'a planted object ran'; END $$;
CREATE FUNCTION sec_evil.now() RETURNS timestamptz LANGUAGE sql AS 'SELECT NULL::timestamptz WHERE sec_evil.planted()';
CREATE FUNCTION sec_evil.format(text, text) RETURNS text LANGUAGE sql AS 'SELECT NULL::text WHERE sec_evil.planted()';
CREATE FUNCTION sec_evil.lower(text) RETURNS text LANGUAGE sql AS 'SELECT NULL::text WHERE sec_evil.planted()';
CREATE FUNCTION sec_evil.quote_ident(text) RETURNS text LANGUAGE sql AS 'SELECT NULL::text WHERE sec_evil.planted()';
CREATE FUNCTION sec_evil.to_regrole(text) RETURNS regrole LANGUAGE sql AS 'SELECT NULL::regrole WHERE sec_evil.planted()';
CREATE FUNCTION sec_evil.pg_has_role(oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT sec_evil.planted()';
CREATE FUNCTION sec_evil.has_table_privilege(oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT sec_evil.planted()';
CREATE FUNCTION sec_evil.count() RETURNS bigint LANGUAGE sql AS 'SELECT NULL::bigint WHERE sec_evil.planted()';
CREATE FUNCTION sec_evil.text_eq(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT sec_evil.planted()';
CREATE OPERATOR sec_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sec_evil.text_eq);
CREATE FUNCTION sec_evil.oid_eq(oid, oid) RETURNS boolean LANGUAGE sql AS 'SELECT sec_evil.planted()';
CREATE OPERATOR sec_evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = sec_evil.oid_eq);
CREATE FUNCTION sec_evil.jsonb_cat(jsonb, jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb WHERE sec_evil.planted()';
CREATE OPERATOR sec_evil.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = sec_evil.jsonb_cat);
CREATE TABLE sec_h (sensor text, ts int, v float8, forecast float8, score float8);
CREATE TRIGGER sec_score BEFORE INSERT ON sec_h FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sec_shared', 'v', 'sensor', 'forecast', 'score', 'ts');
INSERT INTO sec_h (sensor, ts, v) SELECT 's' || t % 2, t, 5 + sin(t) FROM generate_series(1, 20) t;
SET search_path = sec_evil, pg_catalog, sec_test, public;
SELECT pg_temp.try($$SELECT 'a'::text = 'a'::text$$) AS plain_equals,
       pg_temp.try($$SELECT now()$$) AS plain_now;
-- Every entry point that runs SQL (the statements here name their own operators), as a
-- superuser and as a non-superuser:
SELECT pg_temp.try($$INSERT INTO lstm_models (name, model) SELECT 'sec_h2', model FROM lstm_models WHERE name OPERATOR(pg_catalog.=) 'sec_shared'$$)
       AS insert_model;
SELECT pg_temp.try($$UPDATE lstm_models SET notes = '{"a": 1}' WHERE name OPERATOR(pg_catalog.=) 'sec_h2'$$)
       AS update_model;
SELECT pg_temp.try($$SELECT lstm_model_by_name('sec_h2')$$) AS by_name,
       pg_temp.try($$SELECT lstm_forecast('sec_h2', v ORDER BY ts) FROM sec_test.sec_h$$) AS forecast,
       pg_temp.try($$SELECT lstm_predict('sec_h2', lstm_step('sec_h2', NULL::lstm_state, 1.0), 3)$$) AS predict,
       pg_temp.try($$SELECT lstm_anomaly_score('sec_h2', v ORDER BY ts) FROM sec_test.sec_h$$) AS anomaly;
SELECT pg_temp.try($$SELECT lstm_model_share('sec_h2', 'regress_lstm_sec_bob')$$) AS share,
       pg_temp.try($$SELECT lstm_model_unshare('sec_h2', 'public')$$) AS unshare;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_h (sensor, ts, v) VALUES ('s0', 21, 5.0), ('s9', 1, 5.0)$$)
       AS trigger_insert;
SELECT pg_temp.try($$SELECT lstm_stream_rebuild('sec_shared', 'sec_test.sec_h', 'v', 'sensor', 'ts')$$) AS rebuild,
       pg_temp.try($$SELECT lstm_stream_reset('sec_shared', 's1')$$) AS reset;
SET client_min_messages = warning;
SELECT pg_temp.try($$SELECT lstm_train('sec_h3', 'sec_test.sec_h', 'v', time_column => 'ts', series => 'sensor', epochs => 1)$$)
       AS train,
       pg_temp.try($$SELECT lstm_train('sec_h3', 'sec_test.sec_h', 'v', time_column => 'ts', series => 'sensor', epochs => 1)$$)
       AS train_again;
RESET client_min_messages;
SET ROLE regress_lstm_sec_alice;
SELECT pg_temp.try($$SELECT lstm_forecast('sec_shared', v ORDER BY t) FROM (VALUES (1, 1.0)) s (t, v)$$)
       AS alice_forecast,
       pg_temp.try($$INSERT INTO lstm_models (name, model) SELECT 'sec_h4', model FROM lstm_models WHERE name OPERATOR(pg_catalog.=) 'sec_shared'$$)
       AS alice_insert,
       pg_temp.try($$SELECT lstm_model_share('sec_h4', 'regress_lstm_sec_bob')$$) AS alice_share;
RESET ROLE;
SET search_path = sec_test, public;
SELECT name, info ->> 'a' AS a, owner FROM lstm_models WHERE name LIKE 'sec\_h%' ORDER BY name;
DROP SCHEMA sec_evil CASCADE;
DROP TABLE sec_h;

-- ---- The trigger's way of reading the model follows rights changed in the session ----
-- The trigger decides once per role how it may read lstm_models (directly, applying the
-- extension's policies in C, or through SQL), and decides again after a GRANT or REVOKE, a
-- membership change or a role attribute change: each step below runs in this one session.
SET ROLE regress_lstm_sec_bob;
INSERT INTO lstm_models (name, model) VALUES ('sec_bobs', :'tiny');
RESET ROLE;
CREATE TABLE sec_c (sensor int, ts int, v float8, forecast float8);
CREATE TRIGGER sec_score BEFORE INSERT ON sec_c FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sec_team', 'v', 'sensor', 'forecast', NULL, 'ts');
CREATE TABLE sec_d (LIKE sec_c);
CREATE TRIGGER sec_score BEFORE INSERT ON sec_d FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('sec_bobs', 'v', 'sensor', 'forecast', NULL, 'ts');
GRANT SELECT, INSERT ON sec_c, sec_d TO regress_lstm_sec_alice;
SET ROLE regress_lstm_sec_alice;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_c VALUES (1, 1, 1.0)$$) AS team_member,
       pg_temp.try($$INSERT INTO sec_test.sec_d VALUES (1, 1, 1.0)$$) AS bobs_model;
RESET ROLE;
REVOKE regress_lstm_sec_team FROM regress_lstm_sec_alice;
SET ROLE regress_lstm_sec_alice;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_c VALUES (1, 2, 2.0)$$) AS no_longer_member;
RESET ROLE;
GRANT regress_lstm_sec_team TO regress_lstm_sec_alice;
REVOKE SELECT ON lstm_models FROM regress_lstm_sec_alice;
SET ROLE regress_lstm_sec_alice;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_c VALUES (1, 3, 3.0)$$) AS select_revoked;
RESET ROLE;
GRANT SELECT ON lstm_models TO regress_lstm_sec_alice;
ALTER ROLE regress_lstm_sec_alice BYPASSRLS;
SET ROLE regress_lstm_sec_alice;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_c VALUES (1, 4, 4.0)$$) AS granted_again,
       pg_temp.try($$INSERT INTO sec_test.sec_d VALUES (1, 2, 2.0)$$) AS bypassrls;
RESET ROLE;
ALTER ROLE regress_lstm_sec_alice NOBYPASSRLS;
SET ROLE regress_lstm_sec_alice;
SELECT pg_temp.try($$INSERT INTO sec_test.sec_d VALUES (1, 3, 3.0)$$) AS nobypassrls;
RESET ROLE;
SELECT 'sec_c' AS t, ts, forecast IS NOT NULL AS scored FROM sec_c
UNION ALL SELECT 'sec_d', ts, forecast IS NOT NULL FROM sec_d ORDER BY 1, 2;
DELETE FROM lstm_stream_states WHERE source IN ('sec_c'::regclass, 'sec_d'::regclass);
DROP TABLE sec_c, sec_d;

-- ---- Clean up ----
DELETE FROM lstm_models WHERE name LIKE 'sec\_%';
REVOKE ALL ON lstm_models, lstm_stream_states FROM regress_lstm_sec_alice, regress_lstm_sec_bob;
DROP SCHEMA sec_test CASCADE;
DROP ROLE regress_lstm_sec_alice;
DROP ROLE regress_lstm_sec_bob;
DROP ROLE regress_lstm_sec_team;
