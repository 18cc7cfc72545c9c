-- The lstm_model type: JSON text form, jsonb casts, info, and bad input.
-- (CREATE EXTENSION is done by pg_regress --load-extension.)

-- :'tiny' (test/sql/helpers.sql), a small valid model: input 1, hidden 2, 1 layer, output 1.
\i test/sql/helpers.sql

-- Text output: PyTorch names and shapes, scaling filled in as identity.
SELECT :'tiny'::lstm_model;

-- Output reads back bit-identically, through text and through jsonb.
SELECT (:'tiny'::lstm_model)::text::lstm_model::text = (:'tiny'::lstm_model)::text AS text_round_trip;
SELECT ((:'tiny'::lstm_model)::jsonb::lstm_model)::text = (:'tiny'::lstm_model)::text AS jsonb_round_trip;
SELECT jsonb_typeof((:'tiny'::lstm_model)::jsonb -> 'weights') AS weights_type;

-- float32 values that need all nine significant digits survive the round trip.
SELECT ((jsonb_set(:'tiny'::jsonb, '{weights,head.bias}', '[0.123456791]'))::lstm_model)::jsonb
       -> 'weights' -> 'head.bias' AS head_bias;
SELECT ((jsonb_set(:'tiny'::jsonb, '{weights,head.bias}', '[1.17549435e-38]'))::lstm_model)::jsonb
       -> 'weights' -> 'head.bias' AS smallest_normal;

-- Scaling and differencing are optional fields.
SELECT lstm_model_info((:'tiny'::jsonb || '{"input_mean": [10], "input_std": [2], "output_mean": [10], "output_std": [2], "difference": true}')::lstm_model);
SELECT lstm_model_info(:'tiny');

-- Two layers, two inputs, three outputs: shapes follow PyTorch.
SELECT lstm_model_info(jsonb_build_object(
    'input_size', 2, 'hidden_size', 1, 'num_layers', 2, 'output_size', 3,
    'weights', jsonb_build_object(
        'weight_ih_l0', '[[1,2],[3,4],[5,6],[7,8]]'::jsonb, 'weight_hh_l0', '[[1],[2],[3],[4]]'::jsonb,
        'bias_ih_l0', '[0,0,0,0]'::jsonb, 'bias_hh_l0', '[0,0,0,0]'::jsonb,
        'weight_ih_l1', '[[1],[2],[3],[4]]'::jsonb, 'weight_hh_l1', '[[1],[2],[3],[4]]'::jsonb,
        'bias_ih_l1', '[0,0,0,0]'::jsonb, 'bias_hh_l1', '[0,0,0,0]'::jsonb,
        'head.weight', '[[1],[2],[3]]'::jsonb, 'head.bias', '[0,0,0]'::jsonb))::lstm_model);

-- ---------------------------------------------------------------------------
-- Bad input: every case is an error with a message naming the problem.
-- ---------------------------------------------------------------------------
\set VERBOSITY default
-- not JSON, truncated JSON, wrong top-level type
SELECT 'not json'::lstm_model;
SELECT '{"input_size": 1, "hidden_size": 2'::lstm_model;
SELECT '[1, 2, 3]'::lstm_model;
SELECT '42'::lstm_model;
-- missing fields
SELECT '{"input_size": 1}'::lstm_model;
SELECT (:'tiny'::jsonb - 'weights')::lstm_model;
SELECT (:'tiny'::jsonb #- '{weights,bias_hh_l0}')::lstm_model;
-- wrong types
SELECT jsonb_set(:'tiny'::jsonb, '{hidden_size}', '"2"')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{hidden_size}', '2.5')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights}', '[]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights,head.bias}', '["0.5"]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights,head.bias}', '[null]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights,head.weight}', '[1.5, -0.25]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{difference}', '1')::lstm_model;
-- wrong shapes
SELECT jsonb_set(:'tiny'::jsonb, '{weights,weight_hh_l0}', '[[0.1, 0.2]]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights,weight_hh_l0,3}', '[0.1, 0.2, 0.3]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights,head.bias}', '[0.5, 0.5]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{hidden_size}', '3')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{input_std}', '[1, 2]')::lstm_model;
-- unknown keys: extra layers, bidirectional weights, typos
SELECT jsonb_set(:'tiny'::jsonb, '{weights,weight_ih_l0_reverse}', '[[0]]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights,weight_ih_l1}', '[[0]]')::lstm_model;
SELECT (:'tiny'::jsonb || '{"hiden_size": 2}')::lstm_model;
SELECT (:'tiny'::jsonb || '{"format_version": 2}')::lstm_model;
-- non-finite and out-of-range values (JSON has no NaN; huge numbers overflow float32)
SELECT jsonb_set(:'tiny'::jsonb, '{weights,head.bias}', '[1e39]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights,weight_hh_l0,1,1}', '-3.5e38')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights,bias_ih_l0,0}', '1e400')::lstm_model;
-- a standard deviation must be positive
SELECT (:'tiny'::jsonb || '{"input_std": [0]}')::lstm_model;
SELECT (:'tiny'::jsonb || '{"output_std": [-1]}')::lstm_model;
-- absurd and negative sizes
SELECT jsonb_set(:'tiny'::jsonb, '{hidden_size}', '0')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{hidden_size}', '-2')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{hidden_size}', '4097')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{num_layers}', '17')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{input_size}', '1025')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{output_size}', '-1')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{hidden_size}', '99999999999999999999')::lstm_model;
-- within every limit but over 1 GB in total
SELECT jsonb_set(jsonb_set(:'tiny'::jsonb, '{hidden_size}', '4096'), '{num_layers}', '16')::lstm_model;

-- SQLSTATEs of the main classes of error
\set VERBOSITY sqlstate
SELECT 'not json'::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{weights,head.bias}', '[1e39]')::lstm_model;
SELECT jsonb_set(:'tiny'::jsonb, '{hidden_size}', '4097')::lstm_model;
\set VERBOSITY default

-- The server is still up.
SELECT 1 AS alive;
