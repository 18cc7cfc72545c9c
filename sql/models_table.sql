-- lstm_models: models as rows, info kept in step, lookups by name.
\set hand '{"input_size": 1, "hidden_size": 2, "num_layers": 1, "output_size": 1, "weights": {"weight_ih_l0": [[0.1], [0.2], [0.3], [0.4], [0.5], [0.6], [0.7], [0.8]], "weight_hh_l0": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6], [0.7, 0.8], [0.9, 1.0], [-1.1, 1.2], [1.3, 1.4], [1.5, -1.6]], "bias_ih_l0": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08], "bias_hh_l0": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], "head.weight": [[1.5, -0.25]], "head.bias": [0.5]}}'
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
FROM pg_attribute WHERE attrelid = 'lstm_models'::regclass AND attnum > 0 ORDER BY attnum;
-- The table is an extension configuration table: pg_dump dumps its rows.
SELECT c.relname, e.extconfig IS NOT NULL AS dumped
FROM pg_extension e JOIN pg_class c ON c.oid = ANY (e.extconfig)
WHERE e.extname = 'lstm' AND c.relname = 'lstm_models';

INSERT INTO lstm_models (name, model, info) VALUES ('hand', :'hand', '{"note": "hand-made"}');
SELECT name, info - 'fingerprint' AS info, info ? 'fingerprint' AS has_fingerprint FROM lstm_models;
-- info follows the model on update; the writer's keys stay.
UPDATE lstm_models SET model = (:'hand'::jsonb || '{"difference": true}')::lstm_model WHERE name = 'hand';
SELECT info -> 'difference' AS difference, info -> 'note' AS note FROM lstm_models;
-- lstm_model_by_name(name) reads a model back.
SELECT lstm_model_by_name('hand')::text = model::text AS lookup FROM lstm_models;
SELECT lstm_model_by_name('missing');
-- The model column is validated and required.
INSERT INTO lstm_models (name, model) VALUES ('bad', '{"input_size": 1}');
\set VERBOSITY terse
INSERT INTO lstm_models (name, model) VALUES ('null', NULL);
\set VERBOSITY default
INSERT INTO lstm_models (name, model) VALUES ('hand', :'hand');
-- A stored value corrupted outside SQL is caught when read back (XX001). Binary-coercible
-- casts, which only a superuser can create, stand in for a damaged disk.
CREATE CAST (lstm_model AS bytea) WITHOUT FUNCTION;
CREATE CAST (bytea AS lstm_model) WITHOUT FUNCTION;
CREATE TABLE damaged (what text, model lstm_model);
INSERT INTO damaged SELECT 'truncated', substring(model::bytea from 1 for 20)::lstm_model FROM lstm_models;
INSERT INTO damaged SELECT 'nan', overlay(model::bytea placing '\x0000c07f' from 41)::lstm_model FROM lstm_models;
INSERT INTO damaged SELECT 'magic', overlay(model::bytea placing '\x00000000' from 1)::lstm_model FROM lstm_models;
INSERT INTO damaged SELECT 'size', overlay(model::bytea placing '\xffffff7f' from 13)::lstm_model FROM lstm_models;
SELECT what, lstm_model_info(model) FROM damaged WHERE what = 'truncated';
SELECT what, lstm_model_info(model) FROM damaged WHERE what = 'nan';
SELECT what, model::text FROM damaged WHERE what = 'magic';
SELECT what, lstm_forecast(model, 1.0) FROM damaged WHERE what = 'size' GROUP BY what;
\set VERBOSITY sqlstate
SELECT what, lstm_model_info(model) FROM damaged WHERE what = 'nan';
\set VERBOSITY default
DROP TABLE damaged;
DROP CAST (lstm_model AS bytea);
DROP CAST (bytea AS lstm_model);

DELETE FROM lstm_models WHERE name = 'hand';
SELECT count(*) AS models_left FROM lstm_models;
