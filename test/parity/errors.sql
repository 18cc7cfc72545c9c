--
-- errors.sql - the largest relative error of lstm_forecast against PyTorch,
-- per fixture case (a report for developers, not a regression suite: the
-- numbers vary with the CPU and compiler). Run from the repository root in a
-- database with the extension installed:
--
--   psql -X -f test/parity/errors.sql
--
-- Relative error is |got - expected| / max(1, |expected|); sql/parity.sql
-- requires it to be at most 1e-5.
--
\set fixtures `cat test/parity/fixtures.json`
CREATE TEMP TABLE parity_doc AS SELECT :'fixtures'::jsonb AS doc;
\unset fixtures

CREATE TEMP TABLE parity_case AS
SELECT ord::int AS case_id, c->>'name' AS name, (c->>'input_size')::int AS i,
       (c->>'hidden_size')::int AS h, (c->>'num_layers')::int AS l, (c->>'rows')::int AS t,
       (c->'model')::lstm_model AS model, (c->>'forecast')::float8 AS forecast,
       ARRAY(SELECT jsonb_array_elements_text(c->'running'->'index')::int) AS running_index,
       ARRAY(SELECT jsonb_array_elements_text(c->'running'->'value')::float8) AS running_value,
       CASE WHEN c ? 'horizon'
            THEN ARRAY(SELECT jsonb_array_elements_text(c->'horizon')::float8) END AS horizon
FROM parity_doc, jsonb_array_elements(doc->'cases') WITH ORDINALITY AS t(c, ord);

CREATE TEMP TABLE parity_row AS
SELECT ord::int AS case_id, (step - 1)::int AS step,
       ARRAY(SELECT jsonb_array_elements_text(r)::float8) AS features
FROM parity_doc, jsonb_array_elements(doc->'cases') WITH ORDINALITY AS t(c, ord),
     jsonb_array_elements(c->'inputs') WITH ORDINALITY AS s(r, step);

CREATE FUNCTION pg_temp.rel(got float8, expected float8) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$ SELECT abs(got - expected) / greatest(1.0, abs(expected)) $$;

\pset numericlocale off
SELECT pc.name, pc.i, pc.h, pc.l, pc.t,
       to_char(pg_temp.rel(f.got, pc.forecast), '9.99EEEE') AS forecast,
       to_char(w.worst, '9.99EEEE') AS running,
       to_char(hz.worst, '9.99EEEE') AS horizon
FROM parity_case pc
CROSS JOIN LATERAL (SELECT lstm_forecast(pc.model, r.features ORDER BY r.step) AS got
                    FROM parity_row r WHERE r.case_id = pc.case_id) f
CROSS JOIN LATERAL (
    SELECT max(pg_temp.rel(x.got, e.expected)) AS worst
    FROM (SELECT r.step, lstm_forecast(pc.model, r.features) OVER (ORDER BY r.step) AS got
          FROM parity_row r WHERE r.case_id = pc.case_id) x
    JOIN unnest(pc.running_index, pc.running_value) AS e(step, expected) USING (step)) w
CROSS JOIN LATERAL (
    SELECT max(pg_temp.rel(g, e)) AS worst
    FROM (SELECT lstm_forecast(pc.model, r.features[1], cardinality(pc.horizon)
                               ORDER BY r.step) AS got
          FROM parity_row r WHERE r.case_id = pc.case_id AND pc.horizon IS NOT NULL) a,
         unnest(a.got, pc.horizon) AS u(g, e)) hz
ORDER BY pc.case_id;
