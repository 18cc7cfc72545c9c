-- lstm_state: text and binary forms, lstm_state_agg / lstm_step / lstm_predict, the two
-- invariants (bit for bit), model-name overloads, and bad input.
\i test/sql/helpers.sql
CREATE SCHEMA st_test;
SET search_path = st_test, public;
SET jit = off; -- the model generator below is cheap; JIT compiling it is not


CREATE TABLE models AS
SELECT 'deep' AS name, pg_temp.test_model(1, 8, 2, 1, 0.1) AS model
UNION ALL SELECT 'diff', pg_temp.test_model(1, 5, 1, 1, 0.2, true)
UNION ALL SELECT 'tiny', pg_temp.test_model(1, 2, 1, 1, 0.3)
UNION ALL SELECT 'multi', pg_temp.test_model(3, 4, 2, 3, 0.4)
UNION ALL SELECT 'to_one', pg_temp.test_model(3, 4, 1, 1, 0.4);
INSERT INTO lstm_models (name, model) SELECT 'st_' || name, model FROM models;

CREATE TABLE series (s int, t int, v float8, f float8[]);
INSERT INTO series
SELECT s, t, 3 + sin(t / 4.0 + s) + 0.2 * cos(t * 1.3),
       ARRAY[3 + sin(t / 4.0 + s), cos(t / 5.0), (t % 7) / 7.0]
FROM generate_series(1, 3) s, generate_series(1, 40) t;
UPDATE series SET v = NULL, f = NULL WHERE s = 2 AND t IN (7, 8, 30);

-- Invariant 1: lstm_predict(m, lstm_state_agg(m, v ORDER BY t)) = lstm_forecast(m, v ORDER BY t),
-- for every model and series, univariate and multivariate, by value and by name.
SELECT m.name, bool_and(p = f) AS predict_equals_forecast, bool_and(pn = f) AS by_name,
       count(*) AS series
FROM models m CROSS JOIN LATERAL (
    SELECT lstm_predict(m.model, lstm_state_agg(m.model, s.v ORDER BY t)) AS p,
           lstm_predict('st_' || m.name, lstm_state_agg('st_' || m.name, s.v ORDER BY t)) AS pn,
           lstm_forecast(m.model, s.v ORDER BY t) AS f
    FROM series s GROUP BY s.s) x
WHERE m.name NOT IN ('multi', 'to_one') GROUP BY m.name ORDER BY m.name;
SELECT bool_and(p = f) AS multi_predict_equals_forecast, bool_and(pn = f) AS by_name, count(*) AS series
FROM models m CROSS JOIN LATERAL (
    SELECT lstm_predict(m.model, lstm_state_agg(m.model, s.f ORDER BY t)) AS p,
           lstm_predict('st_multi', lstm_state_agg('st_multi', s.f ORDER BY t)) AS pn,
           lstm_forecast(m.model, s.f ORDER BY t) AS f
    FROM series s GROUP BY s.s) x
WHERE m.name = 'multi';
-- ... and with a horizon.
SELECT bool_and(lstm_predict(m.model, st, 5) = h) AS horizon_equals_forecast, count(*) AS series
FROM models m CROSS JOIN LATERAL (
    SELECT lstm_state_agg(m.model, v ORDER BY t) AS st, lstm_forecast(m.model, v, 5 ORDER BY t) AS h
    FROM series s GROUP BY s.s) x
WHERE m.name NOT IN ('multi', 'to_one');
SELECT (lstm_predict('st_multi', st, 3))[1] = lstm_predict('st_multi', st) AS multi_horizon_starts_one_step
FROM (SELECT lstm_state_agg('st_multi', f ORDER BY t) AS st FROM series WHERE s = 1) x;

-- Invariant 2: the state of rows 1..k stepped with rows k+1..n is the state of rows 1..n, for
-- every k (k = 0 is a NULL state), compared in text and binary form. Series 2 has NULL values.
WITH RECURSIVE m AS (SELECT name, model FROM models WHERE name IN ('deep', 'diff')),
rows AS (SELECT s, t, v, row_number() OVER (PARTITION BY s ORDER BY t) AS rn FROM series),
whole AS (SELECT m.name, r.s, lstm_state_agg(m.model, r.v ORDER BY r.t) AS st FROM m, rows r GROUP BY 1, 2),
walk AS (
    SELECT m.name, r.s, k, k AS rn,
           (SELECT lstm_state_agg(m.model, r2.v ORDER BY r2.t) FROM rows r2 WHERE r2.s = r.s AND r2.rn <= k) AS st
    FROM m, (SELECT DISTINCT s FROM rows) r, generate_series(0, 39) k
    UNION ALL
    SELECT w.name, w.s, w.k, w.rn + 1, lstm_step(m.model, w.st, r.v)
    FROM walk w JOIN m USING (name) JOIN rows r ON r.s = w.s AND r.rn = w.rn + 1
)
SELECT w.name, count(*) AS splits,
       bool_and(w.st::text = whole.st::text) AS same_text,
       bool_and(lstm_state_send(w.st) = lstm_state_send(whole.st)) AS same_binary
FROM walk w JOIN whole USING (name, s) WHERE w.rn = 40 GROUP BY w.name ORDER BY w.name;
-- The same with features and the name overloads.
SELECT lstm_step('st_multi', lstm_state_agg('st_multi', f ORDER BY t) FILTER (WHERE t < 40),
                 (SELECT f FROM series WHERE s = 1 AND t = 40))::text =
       lstm_state_agg('st_multi', f ORDER BY t)::text AS multi_step_matches
FROM series WHERE s = 1;

-- A state made by lstm_step from NULL, one row at a time, in a table (the streaming pattern).
CREATE TABLE saved (id int PRIMARY KEY, st lstm_state);
INSERT INTO saved VALUES (1, NULL);
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT v FROM st_test.series WHERE s = 3 ORDER BY t LOOP
        UPDATE st_test.saved SET st = lstm_step('st_diff', st, r.v) WHERE id = 1;
    END LOOP;
END
$$;
SELECT st::text = (SELECT lstm_state_agg('st_diff', v ORDER BY t)::text FROM series WHERE s = 3)
       AS stepped_equals_agg
FROM saved;

-- The summary of a state (the numeric fields are left out here: they depend on the cell's
-- arithmetic, which the parity suite checks), and its text form's keys.
SELECT jsonb_pretty(lstm_state_info(lstm_state_agg(model, v ORDER BY t))
                    - '{residual_mean, residual_variance, last_forecast, last_score}'::text[])
FROM models, series WHERE name = 'tiny' AND s = 2;
SELECT array_agg(k ORDER BY k) AS text_form_keys
FROM (SELECT jsonb_object_keys(lstm_state_agg(model, v ORDER BY t)::text::jsonb) AS k
      FROM models, series WHERE name = 'tiny' AND s = 1) x;
-- The last row's score and forecast are in the state: the same as lstm_anomaly_score and the
-- forecast made before the last row.
SELECT (lstm_state_info(st) ->> 'last_score')::float8 = score AS score_matches,
       (lstm_state_info(st) ->> 'last_forecast')::float8 = before AS forecast_matches
FROM (SELECT lstm_state_agg('st_deep', v ORDER BY t) AS st,
             lstm_anomaly_score('st_deep', v ORDER BY t) AS score,
             lstm_forecast('st_deep', v ORDER BY t) FILTER (WHERE t < 40) AS before
      FROM series WHERE s = 1) x;

-- Text round trip is bit-exact, including -0 and subnormal numbers.
SELECT bool_and(st::text::lstm_state::text = st::text) AS text_round_trip,
       bool_and(lstm_state_send(st::text::lstm_state) = lstm_state_send(st)) AS text_round_trip_binary
FROM (SELECT lstm_state_agg(m.model, s.v ORDER BY t) AS st FROM models m, series s
      WHERE m.name NOT IN ('multi', 'to_one') GROUP BY m.name, s.s) x;
SELECT '{"model_fingerprint": "00000000000000ff", "input_size": 1, "hidden_size": 2, "num_layers": 1,
         "output_size": 1, "difference": true, "steps": 3, "last_value": -0, "residual_count": 2,
         "residual_mean": 5e-324, "residual_variance": 1e300, "last_forecast": -0.0, "last_score": null,
         "h": [[-0, 1e-45]], "c": [[-3.5, 0]]}'::lstm_state;

-- Binary round trip through COPY (FORMAT binary).
CREATE TABLE binstates (id int, st lstm_state);
INSERT INTO binstates SELECT s, lstm_state_agg('st_multi', f ORDER BY t) FROM series GROUP BY s;
SELECT '/tmp/lstm_state_regress_' || pg_backend_pid() || '.copy' AS copy_file \gset
COPY binstates TO :'copy_file' (FORMAT binary);
CREATE TABLE binstates2 (id int, st lstm_state);
COPY binstates2 FROM :'copy_file' (FORMAT binary);
SELECT bool_and(a.st::text = b.st::text) AS copy_binary_round_trip, count(*)
FROM binstates a JOIN binstates2 b USING (id);

-- Empty input and NULL-only input give NULL; NULL values leave a state unchanged.
SELECT lstm_state_agg('st_deep', v ORDER BY t) IS NULL AS empty_is_null FROM series WHERE s = 99;
SELECT lstm_state_agg('st_deep', NULL::float8) IS NULL AS nulls_only_is_null FROM generate_series(1, 3);
SELECT lstm_step('st_deep', NULL, NULL::float8) IS NULL AS null_state_null_value;
SELECT lstm_step('st_deep', st, NULL::float8)::text = st::text AS null_value_unchanged
FROM (SELECT lstm_state_agg('st_deep', v ORDER BY t) AS st FROM series WHERE s = 1) x;
SELECT lstm_predict('st_deep', NULL) IS NULL AS predict_null_state;
-- A fresh state (no rows) predicts NULL.
SELECT lstm_predict('st_tiny', ('{"model_fingerprint": "' || (lstm_model_info(model) ->> 'fingerprint') || '",
    "input_size": 1, "hidden_size": 2, "num_layers": 1, "output_size": 1, "difference": false,
    "steps": 0, "last_value": 0, "residual_count": 0, "residual_mean": 0, "residual_variance": 0,
    "last_forecast": null, "last_score": null, "h": [[0, 0]], "c": [[0, 0]]}')::lstm_state) IS NULL AS fresh_predicts_null
FROM models WHERE name = 'tiny';

-- ---------------------------------------------------------------------------
-- Bad input.
-- ---------------------------------------------------------------------------
SELECT lstm_state_agg(model, v ORDER BY t) AS good FROM models, series WHERE name = 'tiny' AND s = 1 \gset
-- A state used with another model: other weights, other sizes, other differencing.
SELECT pg_temp.try(format('SELECT lstm_step(%L::lstm_model, %L::lstm_state, 1.0)', pg_temp.test_model(1, 2, 1, 1, 0.9), :'good'));
SELECT pg_temp.try(format('SELECT lstm_predict(%L, %L::lstm_state)', 'st_deep', :'good'));
-- (the full error once, with its detail)
SELECT lstm_step('st_diff', :'good'::lstm_state, 1.0);
SELECT pg_temp.try(format('SELECT lstm_predict(%L::lstm_model, %L::lstm_state, 2)', pg_temp.test_model(1, 2, 1, 1, 0.3, true), :'good'));
SELECT pg_temp.try(format('SELECT lstm_step(%L, %L::lstm_state, NULL::float8)', 'st_diff', :'good'));
-- Models and values.
SELECT pg_temp.try($$SELECT lstm_step(NULL::lstm_model, NULL, 1.0)$$);
SELECT pg_temp.try($$SELECT lstm_step('no_such_model', NULL, 1.0)$$);
SELECT pg_temp.try($$SELECT lstm_step('st_tiny', NULL, 'NaN'::float8)$$);
SELECT pg_temp.try($$SELECT lstm_step('st_tiny', NULL, ARRAY[1.0, 2.0])$$);
SELECT pg_temp.try($$SELECT lstm_step('st_multi', NULL, 1.0)$$);
SELECT pg_temp.try($$SELECT lstm_step('st_multi', NULL, ARRAY[1.0, NULL, 2.0])$$);
SELECT pg_temp.try($$SELECT lstm_step('st_multi', NULL, '{{1,2,3}}'::float8[])$$);
SELECT pg_temp.try($$SELECT lstm_step('st_tiny', NULL, 1e300)$$);
SELECT pg_temp.try($$SELECT lstm_state_agg('st_tiny', v ORDER BY t) FROM (VALUES (1, 1.0), (2, 'Infinity')) x(t, v)$$);
SELECT pg_temp.try(format('SELECT lstm_predict(%L, %L::lstm_state, 0)', 'st_tiny', :'good'));
SELECT pg_temp.try(format('SELECT lstm_predict(%L, %L::lstm_state, 100001)', 'st_tiny', :'good'));
SELECT pg_temp.try(format('SELECT lstm_predict(%L, %L::lstm_state, 2)', 'st_to_one',
                  lstm_state_agg('st_to_one', f ORDER BY t))) FROM series WHERE s = 1;
SELECT pg_temp.try($$SELECT lstm_state_agg(model, v ORDER BY t) FROM (SELECT 1 AS t, 1.0 AS v, model FROM models WHERE name = 'deep'
             UNION ALL SELECT 2, 2.0, model FROM models WHERE name = 'tiny') x$$);

-- Text form: syntax, structure, keys, types, sizes, shapes and values.
CREATE TABLE good AS SELECT :'good'::text AS st;
CREATE FUNCTION bad_text(edit jsonb, drop_key text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.try(format('SELECT %L::lstm_state',
                                 ((st::jsonb || edit) - coalesce(drop_key, ''))::text))
    FROM st_test.good
$$;
SELECT pg_temp.try($$SELECT 'not json'::lstm_state$$);
SELECT pg_temp.try($$SELECT '[1, 2]'::lstm_state$$);
SELECT pg_temp.try($$SELECT '"a string"'::lstm_state$$);
SELECT pg_temp.try(format('SELECT %L::lstm_state', :'good' || ' junk'));
SELECT pg_temp.try(format('SELECT %L::lstm_state', replace(:'good', '"steps"', '"steps": 1, "steps"')));
SELECT bad_text('{"surprise": 1}');
SELECT bad_text('{}', 'steps');
SELECT bad_text('{}', 'h');
SELECT bad_text('{"format_version": 2}');
SELECT bad_text('{"model_fingerprint": "xyz"}');
SELECT bad_text('{"model_fingerprint": 12}');
SELECT bad_text('{"model_fingerprint": "0123456789abcdef0"}');
SELECT bad_text('{"hidden_size": 4097}');
SELECT bad_text('{"hidden_size": -1}');
SELECT bad_text('{"num_layers": 0}');
SELECT bad_text('{"input_size": 99999999999}');
SELECT bad_text('{"hidden_size": 2.5}');
SELECT bad_text('{"hidden_size": 3}');
SELECT bad_text('{"difference": "no"}');
SELECT bad_text('{"steps": -1}');
SELECT bad_text('{"steps": "40"}');
SELECT bad_text('{"residual_count": 41}');
SELECT bad_text('{"residual_variance": -1}');
SELECT pg_temp.try(format('SELECT %L::lstm_state', regexp_replace(st, '"residual_mean": [^,]*', '"residual_mean": 1e999'))) FROM good;
SELECT bad_text('{"last_score": 1.5}');
SELECT bad_text('{"last_forecast": null}');
SELECT bad_text('{"last_value": {"a": 1}}');
SELECT bad_text('{"h": [[0.5, 1.5]]}');
SELECT pg_temp.try(format('SELECT %L::lstm_state', regexp_replace(st, '"h": \[\[[^,]*', '"h": [[1e39'))) FROM good;
SELECT bad_text('{"h": [[0.5]]}');
SELECT bad_text('{"h": [[0.5, 0.5], [0.5, 0.5]]}');
SELECT bad_text('{"h": [0.5, 0.5]}');
SELECT bad_text('{"h": [[[0.5], 0.5]]}');
SELECT bad_text('{"c": [[0.5, "x"]]}');
SELECT bad_text('{"c": 1}');
SELECT bad_text(jsonb_build_object('c', jsonb_build_array((SELECT jsonb_agg(0) FROM generate_series(1, 70000)))));

-- Binary form: every value goes through a real COPY (FORMAT binary).
CREATE FUNCTION copy_state(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    path text := '/tmp/lstm_state_regress_' || pg_backend_pid() || '.bin';
    lo oid;
BEGIN
    lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
                           || int2send(1::int2) || int4send(length(payload)) || payload
                           || int2send(-1::int2));
    PERFORM lo_export(lo, path);
    PERFORM lo_unlink(lo);
    RETURN pg_temp.try(format('COPY st_test.binstates (st) FROM %L (FORMAT binary)', path));
END
$$;
SELECT lstm_state_send(:'good') AS goodbin \gset
SELECT copy_state(:'goodbin');
-- Truncated: shorter than the header, the header only, one float short; one float too many.
SELECT copy_state(substring(:'goodbin'::bytea from 1 for 10));
SELECT copy_state(substring(:'goodbin'::bytea from 1 for 96));
SELECT copy_state(substring(:'goodbin'::bytea from 1 for length(:'goodbin'::bytea) - 4));
SELECT copy_state(:'goodbin'::bytea || '\x00000000'::bytea);
-- Header: magic, version, flags, model flags, reserved fields.
SELECT copy_state(overlay(:'goodbin'::bytea placing '\xdeadbeef' from 1));
SELECT copy_state(overlay(:'goodbin'::bytea placing '\x0002' from 5));
SELECT copy_state(overlay(:'goodbin'::bytea placing '\x0010' from 7));
SELECT copy_state(overlay(:'goodbin'::bytea placing '\x0100' from 9));
SELECT copy_state(overlay(:'goodbin'::bytea placing '\x0001' from 11));
SELECT copy_state(overlay(:'goodbin'::bytea placing '\x00000001' from 29));
-- Sizes: zero, negative, absurd (checked before allocating), mismatched with the length.
SELECT copy_state(overlay(:'goodbin'::bytea placing '\x00000000' from 17));
SELECT copy_state(overlay(:'goodbin'::bytea placing '\xffffffff' from 17));
SELECT copy_state(overlay(:'goodbin'::bytea placing '\x7fffffff' from 21));
SELECT copy_state(overlay(:'goodbin'::bytea placing '\x00000003' from 17));
-- Counters and values: negative steps, more residuals than steps, NaN, infinite, score > 1.
SELECT copy_state(overlay(:'goodbin'::bytea placing '\xffffffffffffffff' from 41));
SELECT copy_state(overlay(:'goodbin'::bytea placing '\x0000000000000064' from 49));
SELECT copy_state(overlay(:'goodbin'::bytea placing float8send('NaN') from 57));
SELECT copy_state(overlay(:'goodbin'::bytea placing float8send('-Infinity') from 73));
SELECT copy_state(overlay(:'goodbin'::bytea placing float8send(2) from 89));
SELECT copy_state(overlay(:'goodbin'::bytea placing float4send('NaN') from 97));
SELECT copy_state(overlay(:'goodbin'::bytea placing float4send(1.5) from 101));
SELECT copy_state(overlay(:'goodbin'::bytea placing float4send('Infinity') from 105));
-- A stored value that fails validation when read back (forced in with a binary-coercible cast).
CREATE CAST (bytea AS lstm_state) WITHOUT FUNCTION;
SELECT pg_temp.try($$SELECT lstm_state_info('\x0102'::bytea::lstm_state)$$);
SELECT pg_temp.try($$SELECT lstm_predict('st_tiny', ('\x' || repeat('00', 112))::bytea::lstm_state)$$);
DROP CAST (bytea AS lstm_state);
-- The server is still up.
SELECT 1 AS alive;

DELETE FROM lstm_models WHERE name LIKE 'st\_%';
DROP SCHEMA st_test CASCADE;
-- Remove the two files this suite wrote.
SELECT format('rm -f %s %s', :'copy_file', '/tmp/lstm_state_regress_' || pg_backend_pid() || '.bin') AS rm_files \gset
COPY (SELECT 1) TO PROGRAM :'rm_files';
