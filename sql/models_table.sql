-- lstm_models: models as rows, info generated from notes and the model, lookups by name.
\i test/sql/helpers.sql
CREATE SCHEMA mt_test;
SET search_path = mt_test, public;
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
FROM pg_attribute WHERE attrelid = 'lstm_models'::regclass AND attnum > 0 ORDER BY attnum;
-- The table is an extension configuration table: pg_dump dumps its rows.
SELECT c.relname, e.extconfig IS NOT NULL AS dumped
FROM pg_extension e JOIN pg_class c ON c.oid = ANY (e.extconfig)
WHERE e.extname = 'lstm' AND c.relname = 'lstm_models';

INSERT INTO lstm_models (name, model, notes) VALUES ('mt_hand', :'tiny', '{"note": "hand-made"}');
SELECT name, notes, info - 'fingerprint' AS info, info ? 'fingerprint' AS has_fingerprint FROM lstm_models WHERE name LIKE 'mt\_%';
-- info follows the model on update; the writer's keys stay; the model's keys win over a note.
UPDATE lstm_models SET model = (:'tiny'::jsonb || '{"difference": true}')::lstm_model WHERE name = 'mt_hand';
SELECT info -> 'difference' AS difference, info -> 'note' AS note FROM lstm_models WHERE name LIKE 'mt\_%';
UPDATE lstm_models SET notes = notes || '{"hidden_size": 99, "by": "hand"}' WHERE name = 'mt_hand';
SELECT notes, info -> 'hidden_size' AS hidden_size, info -> 'by' AS by FROM lstm_models WHERE name = 'mt_hand';
-- info is generated: writing it is an error; notes must be a JSON object.
\set VERBOSITY terse
INSERT INTO lstm_models (name, model, info) VALUES ('mt_info', :'tiny', '{"note": "mine"}');
UPDATE lstm_models SET info = '{"note": "mine"}' WHERE name = 'mt_hand';
INSERT INTO lstm_models (name, model, notes) VALUES ('mt_array', :'tiny', '[1]');
\set VERBOSITY default
-- No trigger on the table (it can be a Citus reference table).
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'lstm_models'::regclass;
-- lstm_model_by_name(name) reads a model back.
SELECT lstm_model_by_name('mt_hand')::text = model::text AS lookup FROM lstm_models WHERE name LIKE 'mt\_%';
SELECT lstm_model_by_name('missing');
-- The model column is validated and required.
INSERT INTO lstm_models (name, model) VALUES ('mt_bad', '{"input_size": 1}');
\set VERBOSITY terse
INSERT INTO lstm_models (name, model) VALUES ('mt_null', NULL);
\set VERBOSITY default
INSERT INTO lstm_models (name, model) VALUES ('mt_hand', :'tiny');
-- A stored value corrupted outside SQL is caught when read back (XX001). Binary-coercible
-- casts, which only a superuser can create, stand in for a damaged disk.
CREATE CAST (lstm_model AS bytea) WITHOUT FUNCTION;
CREATE CAST (bytea AS lstm_model) WITHOUT FUNCTION;
CREATE TABLE damaged (what text, model lstm_model);
INSERT INTO damaged SELECT 'truncated', substring(model::bytea from 1 for 20)::lstm_model FROM lstm_models WHERE name = 'mt_hand';
INSERT INTO damaged SELECT 'nan', overlay(model::bytea placing '\x0000c07f' from 41)::lstm_model FROM lstm_models WHERE name = 'mt_hand';
INSERT INTO damaged SELECT 'magic', overlay(model::bytea placing '\x00000000' from 1)::lstm_model FROM lstm_models WHERE name = 'mt_hand';
INSERT INTO damaged SELECT 'size', overlay(model::bytea placing '\xffffff7f' from 13)::lstm_model FROM lstm_models WHERE name = 'mt_hand';
SELECT what, lstm_model_info(model) FROM damaged WHERE what = 'truncated';
SELECT what, lstm_model_info(model) FROM damaged WHERE what = 'nan';
SELECT what, model::text FROM damaged WHERE what = 'magic';
SELECT what, lstm_forecast(model, 1.0) FROM damaged WHERE what = 'size' GROUP BY what;
\set VERBOSITY sqlstate
SELECT what, lstm_model_info(model) FROM damaged WHERE what = 'nan';
\set VERBOSITY default
DROP SCHEMA mt_test CASCADE;
DROP CAST (lstm_model AS bytea);
DROP CAST (bytea AS lstm_model);

DELETE FROM lstm_models WHERE name = 'mt_hand';
SELECT count(*) AS models_left FROM lstm_models WHERE name LIKE 'mt\_%';
