\set ECHO none
-- test/sql/helpers.sql - what the pg_regress suites share. A suite pulls it in on its first
-- line with
--
--     \i test/sql/helpers.sql
--
-- (pg_regress runs psql from the repository root). It creates nothing outside the session:
-- models are psql variables, functions live in pg_temp (call them as pg_temp.name) and go away
-- with the session, so suites stay independent of each other and of their order. Its lines
-- are not echoed into the expected output: ECHO is off from its first line to its last.

-- :'tiny' - input 1, hidden 2, one layer, output 1, no scaling (identity).
\set tiny '{"input_size": 1, "hidden_size": 2, "num_layers": 1, "output_size": 1, "weights": {"weight_ih_l0": [[0.1], [0.2], [0.3], [0.4], [0.5], [0.6], [0.7], [0.8]], "weight_hh_l0": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6], [0.7, 0.8], [0.9, 1.0], [-1.1, 1.2], [1.3, 1.4], [1.5, -1.6]], "bias_ih_l0": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08], "bias_hh_l0": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], "head.weight": [[1.5, -0.25]], "head.bias": [0.5]}}'
-- :'tiny_scaled' - the same weights with input and output scaling (mean 5, std 2).
\set tiny_scaled '{"input_size": 1, "hidden_size": 2, "num_layers": 1, "output_size": 1, "weights": {"weight_ih_l0": [[0.1], [0.2], [0.3], [0.4], [0.5], [0.6], [0.7], [0.8]], "weight_hh_l0": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6], [0.7, 0.8], [0.9, 1.0], [-1.1, 1.2], [1.3, 1.4], [1.5, -1.6]], "bias_ih_l0": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08], "bias_hh_l0": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], "head.weight": [[1.5, -0.25]], "head.bias": [0.5]}, "input_mean": [5], "input_std": [2], "output_mean": [5], "output_std": [2]}'

-- pg_temp.test_model(i, h, l, o, seed [, difference]): a deterministic model of any shape
-- (weights from sin/cos, 4 decimals).
CREATE FUNCTION pg_temp.test_model(i int, h int, l int, o int, seed float8, diff bool DEFAULT false)
RETURNS lstm_model LANGUAGE sql AS $$
  SELECT jsonb_build_object('input_size', i, 'hidden_size', h, 'num_layers', l, 'output_size', o,
                            'difference', diff, 'input_mean', (SELECT jsonb_agg(0.5) FROM generate_series(1, i)),
                            'input_std', (SELECT jsonb_agg(2) FROM generate_series(1, i)),
                            'weights', jsonb_object_agg(name, val))::lstm_model
  FROM (
    SELECT format('%s_l%s', kind, k) AS name,
           CASE WHEN kind LIKE 'weight%' THEN
             (SELECT jsonb_agg((SELECT jsonb_agg(round((0.5 * sin(seed * 1000 + k * 97 + r * 13.1 + c * 7.7 + length(kind)))::numeric, 4))
                                FROM generate_series(1, CASE WHEN kind = 'weight_ih' AND k = 0 THEN i ELSE h END) c))
              FROM generate_series(1, 4 * h) r)
           ELSE (SELECT jsonb_agg(round((0.3 * cos(seed * 1000 + k * 31 + r * 5.3 + length(kind)))::numeric, 4))
                 FROM generate_series(1, 4 * h) r) END AS val
    FROM generate_series(0, l - 1) k, unnest(ARRAY['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']) kind
    UNION ALL
    SELECT 'head.weight', (SELECT jsonb_agg((SELECT jsonb_agg(round((0.6 * sin(seed * 77 + r * 3.3 + c * 1.9))::numeric, 4))
                                             FROM generate_series(1, h) c)) FROM generate_series(1, o) r)
    UNION ALL
    SELECT 'head.bias', (SELECT jsonb_agg(round((0.1 * cos(seed + r))::numeric, 4)) FROM generate_series(1, o) r)
  ) a
$$;
-- pg_temp.try(sql): run a statement, report "ok" or its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

\set ECHO all
