-- The JSON text form of lstm_model and lstm_state (src/types/json.c): numbers are
-- read from their own text, so -0.0 keeps its sign through every text form and
-- decimals round once; duplicate keys are errors; random models round-trip bit
-- for bit. Everything it creates lives in schema jt_test, dropped at the end.
\i test/sql/helpers.sql
CREATE SCHEMA jt_test;
SET search_path = jt_test, public;

-- The model is :'tiny' of test/sql/helpers.sql (input 1, hidden 2, 1 layer, output 1);
-- head.bias is float 42 of the binary form (the weights start at byte 37).
CREATE TABLE jt_models (name text, model lstm_model);

-- jt_copy_model(name, payload): load one binary lstm_model value with a real
-- COPY (FORMAT binary), through a file written with lo_export.
CREATE FUNCTION jt_copy_model(name text, payload bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    path text := '/tmp/lstm_json_text_' || pg_backend_pid() || '.bin';
    lo oid;
BEGIN
    lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
                           || int2send(2::int2)
                           || int4send(length(convert_to(name, 'UTF8'))) || convert_to(name, 'UTF8')
                           || int4send(length(payload)) || payload
                           || int2send(-1::int2));
    PERFORM lo_export(lo, path);
    PERFORM lo_unlink(lo);
    EXECUTE format('COPY jt_models (name, model) FROM %L (FORMAT binary)', path);
END
$$;

-- jt_same(m): does m survive its text form (and the fingerprint with it)?
CREATE FUNCTION jt_same(m lstm_model) RETURNS TABLE (send_equal boolean, fingerprint_equal boolean)
LANGUAGE sql AS $$
    SELECT lstm_model_send(m) = lstm_model_send(m::text::lstm_model),
           lstm_model_info(m) ->> 'fingerprint' = lstm_model_info(m::text::lstm_model) ->> 'fingerprint'
$$;

-- -0.0 from binary input: head.bias[0] = 0x80000000.
SELECT jt_copy_model('binary', overlay(lstm_model_send(:'tiny') placing '\x80000000' from 37 + 4 * 42));
SELECT (model::text)::json -> 'weights' -> 'head.bias' AS head_bias,
       substring(lstm_model_send(model::text::lstm_model) from 37 + 4 * 42 for 4) AS bits_after_text
FROM jt_models WHERE name = 'binary';
SELECT (jt_same(model)).* FROM jt_models WHERE name = 'binary';

-- -0.0 from text: "-0", and "-1e-50", which float32 cannot hold (a zero of its sign).
INSERT INTO jt_models
SELECT 'text ' || v, replace(:'tiny', '"head.bias": [0.5]', format('"head.bias": [%s]', v))::lstm_model
FROM unnest(ARRAY['-0', '-1e-50', '-0.0e7', '1e-50']) v;
SELECT name, (model::text)::json -> 'weights' -> 'head.bias' AS head_bias,
       substring(lstm_model_send(model) from 37 + 4 * 42 for 4) AS bits, (jt_same(model)).*
FROM jt_models WHERE name LIKE 'text %' ORDER BY name;
-- A -0.0 among the weights of a matrix, too.
SELECT (jt_same(replace(:'tiny', '[0.9, 1.0]', '[-0, -1e-46]')::lstm_model)).*;

-- Through jsonb: jsonb's numeric keeps -1e-50 (so it reads as -0.0) but has no -0,
-- so "-0" reaches lstm_model as 0 through the jsonb cast.
SELECT substring(lstm_model_send(jsonb_set(:'tiny'::jsonb, '{weights,head.bias}', v::jsonb)::lstm_model)
                 from 37 + 4 * 42 for 4) AS bits_via_jsonb, v
FROM unnest(ARRAY['[-1e-50]', '[-0]']) v;

-- Numbers are read from their text: a decimal just above the midpoint between two
-- float32 values rounds up (reading it as a double first would round it down).
SELECT (replace(:'tiny', '"head.bias": [0.5]', '"head.bias": [1.00000005960464477550]')::lstm_model::text)::json
       -> 'weights' -> 'head.bias' AS rounds_once;

-- lstm_state: -0.0 in h and c (float32) and in the statistics (float8), read back bit for bit.
\set jt_state '{"format_version": 1, "model_fingerprint": "0123456789abcdef", "input_size": 1, "hidden_size": 2, "num_layers": 1, "output_size": 1, "difference": false, "steps": 3, "last_value": -0, "residual_count": 2, "residual_mean": -1e-400, "residual_variance": 0.5, "last_forecast": -0.0, "last_score": 0.25, "h": [[-0, 0.5]], "c": [[0.25, -1e-50]]}'
SELECT :'jt_state'::lstm_state;
SELECT lstm_state_send(:'jt_state') = lstm_state_send(:'jt_state'::lstm_state::text::lstm_state) AS state_send_equal,
       substring(lstm_state_send(:'jt_state') from 57 for 8) AS last_value_bits,
       substring(lstm_state_send(:'jt_state') from 97 for 4) AS h00_bits,
       substring(lstm_state_send(:'jt_state') from 109 for 4) AS c01_bits;

-- Duplicate keys are an error in both types, at the top level and inside "weights".
\set VERBOSITY terse
SELECT replace(:'tiny', '"hidden_size": 2', '"hidden_size": 2, "hidden_size": 2')::lstm_model;
SELECT replace(:'tiny', '"head.bias": [0.5]', '"head.bias": [0.5], "head.bias": [0.5]')::lstm_model;
SELECT replace(:'jt_state', '"h":', '"c": [[0, 0]], "h":')::lstm_state;
\set VERBOSITY default

-- Random models, a -0, a denormal and the float32 extremes among their weights,
-- round-trip bit for bit through text.
SELECT setseed(0.25);
-- jt_number(): the text of a random float (a sign, a mantissa, an exponent from -37 to 38),
-- or now and then -0, the smallest denormal or the largest float32.
CREATE FUNCTION jt_number() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN x < 0.03 THEN '-0'
                WHEN x < 0.05 THEN '-1.4e-45'
                WHEN x < 0.07 THEN '3.4028235e38'
                ELSE ((random() - 0.5) * 10 ^ (floor(random() * 76) - 37))::text END
    FROM (SELECT random() AS x) r
$$;
-- jt_array(rows, cols): a random vector (cols = 0) or (rows, cols) matrix, as JSON text.
CREATE FUNCTION jt_array(rows int, cols int) RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT '[' || string_agg(CASE WHEN cols = 0 THEN jt_number()
                                  ELSE '[' || (SELECT string_agg(jt_number(), ', ')
                                               FROM generate_series(1, cols + 0 * r)) || ']' END,
                             ', ') || ']'
    FROM generate_series(1, rows) r
$$;
-- jt_random_model(I, H, L, O): a random model of these sizes.
CREATE FUNCTION jt_random_model(i int, h int, l int, o int) RETURNS lstm_model LANGUAGE sql VOLATILE AS $$
    SELECT format('{"input_size": %s, "hidden_size": %s, "num_layers": %s, "output_size": %s, '
                  '"weights": {%s, "head.weight": %s, "head.bias": %s}}', i, h, l, o,
                  string_agg(format('"weight_ih_l%s": %s, "weight_hh_l%s": %s, "bias_ih_l%s": %s, "bias_hh_l%s": %s',
                                    k, jt_array(4 * h, CASE WHEN k = 0 THEN i ELSE h END),
                                    k, jt_array(4 * h, h), k, jt_array(4 * h, 0), k, jt_array(4 * h, 0)),
                             ', ' ORDER BY k),
                  jt_array(o, h), jt_array(o, 0))::lstm_model
    FROM generate_series(0, l - 1) k
$$;
INSERT INTO jt_models
SELECT 'random ' || n, jt_random_model(1 + n % 3, 1 + n % 5, 1 + n % 2, 1 + n % 2)
FROM generate_series(1, 8) n;
SELECT count(*) AS models, bool_and(send_equal) AS send_equal, bool_and(fingerprint_equal) AS fingerprint_equal,
       bool_and(model::text = model::text::lstm_model::text) AS text_equal,
       bool_or(model::text LIKE '%-0,%' OR model::text LIKE '%-0]%') AS some_negative_zero
FROM jt_models, jt_same(model) WHERE name LIKE 'random %';

DROP SCHEMA jt_test CASCADE;
-- The file jt_copy_model wrote goes away with the suite.
SELECT format('rm -f /tmp/lstm_json_text_%s.bin', pg_backend_pid()) AS rm_file \gset
COPY (SELECT 1) TO PROGRAM :'rm_file';
