-- lstm_train: training from tables of series, the stored model and report, bad input.
-- Small data and few epochs; loss values are not printed (they depend on the CPU's BLAS
-- kernels in the last digits), only properties that hold on every machine.

\i test/sql/helpers.sql
CREATE SCHEMA tr_test;
SET search_path = tr_test, public;

CREATE TABLE readings (sensor int, ts int, value float8, temp float8);
INSERT INTO readings
SELECT s, t, 20 + 5 * sin(t / 3.0 + s) + s, cos(t / 3.0 + s)
FROM generate_series(1, 3) s, generate_series(1, 40) t;

SET client_min_messages = warning;

-- The shortest call: defaults for everything after value and time_column.
SELECT r->'model' AS model, r->'rows' AS rows, r->'series' AS series,
       r->'train_targets' AS train_targets, r->'validation_targets' AS validation_targets,
       r->'hyperparameters' AS hyperparameters
FROM lstm_train('tr_one', 'readings', value => 'value', time_column => 'ts') r;
SELECT info->'input_size' AS input_size, info->'hidden_size' AS hidden_size,
       info->'difference' AS difference, info->'source'->'relation' AS source
FROM lstm_models WHERE name = 'tr_one';

-- Three series, a small network; the report.
SELECT r->'rows' AS rows, r->'series' AS series, r->'series_skipped' AS series_skipped,
       r->'rows_skipped' AS rows_skipped, r->'train_targets' AS train_targets,
       r->'validation_targets' AS validation_targets, r->'epochs_run' AS epochs_run,
       jsonb_array_length(r->'train_loss') AS train_losses,
       jsonb_array_length(r->'validation_loss') AS validation_losses,
       jsonb_array_length(r->'epoch_seconds') AS epoch_times,
       (r->>'best_epoch')::int BETWEEN 1 AND 4 AS best_epoch_ok,
       (r->>'best_loss')::float8 = (SELECT min(v::float8) FROM jsonb_array_elements_text(r->'validation_loss') v) AS best_is_min,
       (r->>'elapsed_seconds')::float8 >= 0 AS has_elapsed
FROM lstm_train('tr_s3', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                hidden => 8, bptt => 8, epochs => 4, patience => 0) r;

-- The stored row: the model, its info (the model's keys and the report and hyperparameters,
-- which lstm_train writes to notes).
SELECT name, lstm_model_info(model)->'hidden_size' AS hidden_size, info->'epochs_run' AS epochs_run,
       info->'hyperparameters'->'hidden' AS hidden, info->'source'->'series' AS series,
       info ? 'fingerprint' AS has_fingerprint, notes ? 'fingerprint' AS fingerprint_in_notes,
       info = notes || lstm_model_info(model) AS info_is_notes_and_model
FROM lstm_models WHERE name = 'tr_s3';

-- The stored model forecasts every series with the name overload.
SELECT sensor, lstm_forecast('tr_s3', value ORDER BY ts) IS NOT NULL AS forecast
FROM readings GROUP BY sensor ORDER BY sensor;

-- What training optimised is what lstm_forecast computes: the validation loss reported for
-- the kept weights equals the mean squared error (in scaled units) of the window forecasts
-- on the validation rows (the last 20 % of each series' targets).
WITH m AS (SELECT model, (model::jsonb->'output_std'->>0)::float8 AS std, info
           FROM lstm_models WHERE name = 'tr_s3'),
f AS (SELECT sensor, ts, value, lstm_forecast(m.model, value) OVER w AS forecast_after,
             row_number() OVER w - 1 AS r, count(*) OVER (PARTITION BY sensor) - 1 AS targets
      FROM readings, m WINDOW w AS (PARTITION BY sensor ORDER BY ts)),
g AS (SELECT *, lag(forecast_after) OVER (PARTITION BY sensor ORDER BY ts) AS forecast FROM f)
SELECT count(*) AS validation_rows,
       abs(avg(((forecast - value) / m.std) ^ 2) / (m.info->>'best_loss')::float8 - 1) < 1e-5
       AS validation_loss_matches
FROM g, m WHERE r > targets - floor(0.2 * targets) GROUP BY m.std, m.info;

-- Training again under the same name replaces the model (one row), its notes, and its
-- created_at with the transaction's start time.
BEGIN;
SELECT lstm_train('tr_s3', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                  hidden => 4, bptt => 8, epochs => 2)->'hyperparameters'->'hidden' AS hidden;
SELECT count(*), min(lstm_model_info(model)->>'hidden_size') AS hidden_size,
       min(info->'hyperparameters'->>'hidden') AS noted_hidden, min(created_at) = now() AS created_now
FROM lstm_models WHERE name = 'tr_s3';
COMMIT;

-- The same data, options and seed give a bit-identical model; another seed another one.
SELECT lstm_train('tr_seed_a', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                  hidden => 6, bptt => 5, batch_size => 2, epochs => 3, seed => 11) IS NOT NULL;
SELECT lstm_train('tr_seed_b', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                  hidden => 6, bptt => 5, batch_size => 2, epochs => 3, seed => 11) IS NOT NULL;
SELECT lstm_train('tr_seed_c', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                  hidden => 6, bptt => 5, batch_size => 2, epochs => 3, seed => 12) IS NOT NULL;
SELECT a.model::text = b.model::text AS same_seed_identical,
       a.model::text = c.model::text AS other_seed_identical
FROM lstm_models a, lstm_models b, lstm_models c
WHERE a.name = 'tr_seed_a' AND b.name = 'tr_seed_b' AND c.name = 'tr_seed_c';

-- Learning: on clean sines the kept validation loss is far below the first epoch's.
SELECT (r->>'best_loss')::float8 < 0.2 * (r->'validation_loss'->>0)::float8 AS learned
FROM lstm_train('tr_learn', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                hidden => 16, bptt => 10, epochs => 60, learning_rate => 0.02) r;

-- Multivariate: features are more inputs; the features form of lstm_forecast uses the model.
SELECT r->'source'->'features' AS features
FROM lstm_train('tr_multi', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                features => ARRAY['temp'], hidden => 4, epochs => 2) r;
SELECT lstm_model_info(model)->'input_size' AS input_size FROM lstm_models WHERE name = 'tr_multi';
SELECT count(f) AS forecasts FROM (
    SELECT lstm_forecast('tr_multi', ARRAY[value, temp] ORDER BY ts) AS f FROM readings GROUP BY sensor) x;

-- Differencing: the model sees first differences and forecasts raw values.
SELECT r->'train_targets' AS train_targets, r->'validation_targets' AS validation_targets
FROM lstm_train('tr_diff', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                hidden => 4, epochs => 2, difference => true) r;
SELECT lstm_model_info(model)->'difference' AS difference FROM lstm_models WHERE name = 'tr_diff';
SELECT lstm_forecast('tr_diff', value ORDER BY ts) BETWEEN 0 AND 50 AS plausible
FROM readings WHERE sensor = 1;

-- validation => 0: no validation split; the training loss is monitored.
SELECT r->'validation_targets' AS validation_targets, r->'validation_loss' AS validation_loss
FROM lstm_train('tr_noval', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                hidden => 4, epochs => 2, validation => 0) r;

-- Early stopping: patience epochs without improvement end training.
SELECT (r->>'epochs_run')::int - (r->>'best_epoch')::int AS epochs_after_best,
       r->'stopped_early' AS stopped_early
FROM lstm_train('tr_early', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                hidden => 4, epochs => 100000, patience => 2, learning_rate => 0.5) r;

-- NULL rules: a NULL value is skipped (as lstm_forecast skips it); a NULL series key is a
-- series of its own (as in GROUP BY).
CREATE TABLE gappy AS SELECT * FROM readings;
UPDATE gappy SET value = NULL WHERE ts IN (5, 6) AND sensor = 2;
UPDATE gappy SET temp = NULL WHERE ts = 7 AND sensor = 3;
INSERT INTO gappy SELECT NULL, t, 10 + t, 0 FROM generate_series(1, 10) t;
SELECT r->'rows' AS rows, r->'rows_skipped' AS rows_skipped, r->'series' AS series
FROM lstm_train('tr_gappy', 'gappy', value => 'value', time_column => 'ts', series => 'sensor',
                features => '{temp}', hidden => 4, epochs => 1) r;

-- A series too short to train on is skipped and counted.
INSERT INTO gappy VALUES (9, 1, 1, 0);
SELECT r->'series' AS series, r->'series_skipped' AS series_skipped
FROM lstm_train('tr_gappy', 'gappy', value => 'value', time_column => 'ts', series => 'sensor',
                hidden => 4, epochs => 1) r;

-- A table of sequences: every row is one series (float8[], or any number array).
CREATE TABLE sequences (id int, ys float8[], xs real[], ints int[]);
INSERT INTO sequences
SELECT s, array_agg(20 + 5 * sin(t / 3.0 + s) ORDER BY t), array_agg(cos(t / 3.0 + s) ORDER BY t),
       array_agg(t ORDER BY t)
FROM generate_series(1, 4) s, generate_series(1, 30) t GROUP BY s;
INSERT INTO sequences VALUES (5, NULL, NULL, NULL), (6, '{1, NULL, 3, 4}', '{0, 0, 0, 0}', '{1,2,3,4}');
SELECT r->'rows' AS rows, r->'rows_skipped' AS rows_skipped, r->'series' AS series,
       r->'source'->'sequences' AS sequences
FROM lstm_train('tr_seq', 'sequences', value => 'ys', features => ARRAY['xs', 'ints'],
                hidden => 4, epochs => 2) r;
SELECT lstm_train('tr_seq_int', 'sequences', value => 'ints', hidden => 4, epochs => 1)->'rows' AS rows;

-- Mixed-case and quoted names: the arguments are exact column names.
CREATE SCHEMA "tr_Other Schema";
CREATE TABLE "tr_Other Schema"."My Readings" ("Sensor Id" text, "Time" timestamptz, "Value" numeric, "a""b" int);
INSERT INTO "tr_Other Schema"."My Readings"
SELECT 'sensor ' || s, '2024-01-01'::timestamptz + t * interval '1 hour', round((10 + sin(t) * s)::numeric, 3), t
FROM generate_series(1, 2) s, generate_series(1, 20) t;
SELECT r->'series' AS series, r->'source' AS source
FROM lstm_train('tr_quoted', '"tr_Other Schema"."My Readings"', value => 'Value', time_column => 'Time',
                series => 'Sensor Id', features => ARRAY['a"b'], hidden => 4, epochs => 1) r;
SELECT pg_temp.try($$SELECT lstm_train('tr_quoted', '"tr_Other Schema"."My Readings"', value => 'value', time_column => 'Time')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_quoted', '"tr_Other Schema"."My Readings"', value => '"Value"', time_column => 'Time')$$);

-- Progress: one NOTICE per epoch (details carry the losses and times).
SET client_min_messages = notice;
\set VERBOSITY terse
SELECT lstm_train('tr_noisy', 'readings', value => 'value', time_column => 'ts', hidden => 2, epochs => 2, patience => 0) IS NOT NULL;
\set VERBOSITY default
SET client_min_messages = warning;

-- ---- bad input ----

-- Unknown relation and columns.
SELECT lstm_train('tr_bad', 'no_such_table', value => 'value', time_column => 'ts');
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => 'nope', time_column => 'ts')$$);
SELECT lstm_train('tr_bad', 'readings', value => 'Value', time_column => 'ts');
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'when')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts', series => 'who')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts', features => '{temp, nope}')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => '', time_column => 'ts')$$);

-- Wrong column types.
CREATE TABLE typed (ts int, label text, flag boolean, v float8, arr float8[], jsn json);
INSERT INTO typed SELECT t, 'x', true, t, ARRAY[t, t], '{}' FROM generate_series(1, 10) t;
SELECT lstm_train('tr_bad', 'typed', value => 'label', time_column => 'ts');
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'typed', value => 'flag', time_column => 'ts')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'typed', value => 'v', time_column => 'ts', features => '{label}')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'typed', value => 'v', time_column => 'ts', features => '{arr}')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'typed', value => 'arr', features => '{v}')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'typed', value => 'v', time_column => 'jsn')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'typed', value => 'v', time_column => 'ts', series => 'jsn')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'typed', value => 'v', time_column => 'ts', features => '{v}')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'typed', value => 'v', time_column => 'ts', features => '{ts, ts}')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'typed', value => 'v', time_column => 'ts', features => ARRAY['ts', NULL])$$);
CREATE SEQUENCE a_sequence;
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'a_sequence', value => 'last_value', time_column => 'log_cnt')$$);

-- A number column needs time_column to order its rows.
SELECT lstm_train('tr_bad', 'readings', value => 'value');

-- Empty source, series shorter than two rows.
CREATE TABLE empty_source (ts int, v float8);
SELECT lstm_train('tr_bad', 'empty_source', value => 'v', time_column => 'ts');
INSERT INTO empty_source VALUES (1, 1), (2, NULL);
SELECT lstm_train('tr_bad', 'empty_source', value => 'v', time_column => 'ts');
INSERT INTO empty_source VALUES (3, 2);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'empty_source', value => 'v', time_column => 'ts', difference => true)$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_ok2', 'empty_source', value => 'v', time_column => 'ts', validation => 0, epochs => 1)$$);

-- NULL time, NaN and infinity.
CREATE TABLE dirty (ts int, v float8, n numeric);
INSERT INTO dirty SELECT t, t, t FROM generate_series(1, 10) t;
INSERT INTO dirty VALUES (NULL, 3, 3);
SELECT lstm_train('tr_bad', 'dirty', value => 'v', time_column => 'ts');
DELETE FROM dirty WHERE ts IS NULL;
UPDATE dirty SET v = 'NaN', n = 'NaN' WHERE ts = 4;
SELECT lstm_train('tr_bad', 'dirty', value => 'v', time_column => 'ts');
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'dirty', value => 'n', time_column => 'ts')$$);
UPDATE dirty SET v = '-Infinity' WHERE ts = 4;
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'dirty', value => 'v', time_column => 'ts')$$);
UPDATE dirty SET v = 1e300 WHERE ts = 4;
UPDATE dirty SET v = -1e300 WHERE ts = 5;
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'dirty', value => 'v', time_column => 'ts', difference => true)$$);

-- Arrays: NULL elements skip a step; other shapes are errors.
CREATE TABLE bad_sequences (ys float8[], xs float8[]);
INSERT INTO bad_sequences VALUES ('{1,2,3}', '{1,2}');
SELECT lstm_train('tr_bad', 'bad_sequences', value => 'ys', features => '{xs}');
TRUNCATE bad_sequences;
INSERT INTO bad_sequences VALUES ('{{1,2},{3,4}}', '{{1,2},{3,4}}');
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'bad_sequences', value => 'ys')$$);
TRUNCATE bad_sequences;
INSERT INTO bad_sequences VALUES ('{}', '{}'), ('{5}', '{1}');
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'bad_sequences', value => 'ys')$$);

-- NULL and empty arguments.
SELECT lstm_train(NULL, 'readings', value => 'value', time_column => 'ts');
SELECT pg_temp.try($$SELECT lstm_train('', 'readings', value => 'value', time_column => 'ts')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', NULL, value => 'value', time_column => 'ts')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => NULL, time_column => 'ts')$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts', hidden => NULL)$$);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts', difference => NULL)$$);

-- Absurd hyperparameters: zero, negative, huge, not a number.
SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts', hidden => 0);
SELECT h AS hyperparameter, pg_temp.try(format($$SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts', %s)$$, h)) AS result
FROM unnest(ARRAY[
    'hidden => -1', 'hidden => 100000', 'layers => 0', 'layers => 17', 'bptt => 0',
    'bptt => -5', 'bptt => 2000000', 'batch_size => 0', 'batch_size => -1', 'epochs => 0',
    'epochs => -3', 'epochs => 2000000000', 'learning_rate => 0', 'learning_rate => -0.1',
    'learning_rate => 1e6', $$learning_rate => 'NaN'$$, 'clip => 0', 'clip => -1',
    $$clip => 'Infinity'$$, 'validation => -0.5', 'validation => 1', 'validation => 0.95',
    $$validation => 'NaN'$$, 'patience => -1']) h;

-- Over the memory limit: refused before anything large is allocated.
SET lstm.train_memory_limit = '1MB';
SHOW lstm.train_memory_limit;
SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts', hidden => 1024);
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts', hidden => 8, bptt => 100000, batch_size => 100)$$);
CREATE TABLE big AS SELECT t AS ts, t::float8 AS v FROM generate_series(1, 200000) t;
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'big', value => 'v', time_column => 'ts', hidden => 2)$$);
RESET lstm.train_memory_limit;
DROP TABLE big;

-- The source is read with the caller's privileges.
CREATE ROLE regress_tr_user;
GRANT USAGE ON SCHEMA tr_test TO regress_tr_user;
GRANT INSERT, UPDATE, SELECT ON lstm_models TO regress_tr_user;
SET ROLE regress_tr_user;
SELECT lstm_train('tr_priv', 'readings', value => 'value', time_column => 'ts');
RESET ROLE;
GRANT SELECT (ts, value) ON readings TO regress_tr_user;
SET ROLE regress_tr_user;
SELECT pg_temp.try($$SELECT lstm_train('tr_priv', 'readings', value => 'value', time_column => 'ts', series => 'sensor')$$);
SELECT lstm_train('tr_priv', 'readings', value => 'value', time_column => 'ts', hidden => 2, epochs => 1)->'rows' AS rows;
RESET ROLE;
-- Storing the model needs INSERT and UPDATE on lstm_models: checked before training.
REVOKE UPDATE ON lstm_models FROM regress_tr_user;
SET ROLE regress_tr_user;
SELECT lstm_train('tr_priv', 'readings', value => 'value', time_column => 'ts');
RESET ROLE;
REVOKE ALL ON readings FROM regress_tr_user;
REVOKE ALL ON lstm_models FROM regress_tr_user;
REVOKE USAGE ON SCHEMA tr_test FROM regress_tr_user;
DROP ROLE regress_tr_user;

-- A read-only transaction cannot store a model: refused before training.
BEGIN READ ONLY;
SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts');
ROLLBACK;

-- A cancelled run (statement_timeout) and a failed run leave no model row.
SET statement_timeout = '200ms';
SELECT lstm_train('tr_cancelled', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                  epochs => 1000000, patience => 0);
RESET statement_timeout;
SELECT count(*) AS cancelled_rows FROM lstm_models WHERE name IN ('tr_cancelled', 'tr_bad');

-- Series scaling (issue 9): season or horizon select it; the defaults follow; the report
-- carries validation_owa per epoch and every member's run. Values are > 0, so log is true.
SELECT r->'hyperparameters'->>'scaling' AS scaling, r->'hyperparameters'->'batch_size' AS lanes,
       r->'hyperparameters'->'learning_rate' AS lr, r->'hyperparameters'->'loss' AS loss,
       r->'members' AS members, r->'log' AS log, r->'season' AS season, r->'horizon' AS horizon,
       r->'validation_targets' AS validation_rows,
       jsonb_array_length(r->'validation_owa') = (r->>'epochs_run')::int AS owa_per_epoch,
       (SELECT array_agg((m->>'seed')::int ORDER BY m->>'member') FROM jsonb_array_elements(r->'member_runs') m) AS seeds,
       (SELECT bool_and((m->>'best_epoch')::int BETWEEN 1 AND (m->>'epochs_run')::int) FROM jsonb_array_elements(r->'member_runs') m) AS best_epochs
FROM lstm_train('tr_series', 'readings', value => 'value', time_column => 'ts', series => 'sensor',
                season => 6, horizon => 3, hidden => 4, epochs => 2, members => 2, seed => 5) r;
-- One series: rolling origins (validation_score), one member, log false; MSE on request.
SELECT r->'series' AS series, r->'validation_targets' AS validation_rows, r->'members' AS members,
       r->'log' AS log, r->'hyperparameters'->'loss' AS loss,
       jsonb_array_length(r->'validation_score') AS scores
FROM lstm_train('tr_series_one', 'readings', value => 'temp', time_column => 'ts',
                horizon => 2, hidden => 4, epochs => 2, members => 1, loss => 'mse', log => 'auto') r;
-- Bad series-scaling options.
SELECT o AS option, pg_temp.try(format($$SELECT lstm_train('tr_bad', 'readings', value => 'value', time_column => 'ts', series => 'sensor', epochs => 1, %s)$$, o)) AS result
FROM unnest(ARRAY[
    'horizon => 0', 'horizon => 1025', 'season => -1', 'season => 1001', 'members => 0',
    'members => 17', $$scaling => 'local'$$, $$scaling => 'global', horizon => 3$$,
    $$loss => 'huber'$$, $$log => 'maybe'$$, $$horizon => 2, log => 'on', difference => true$$,
    $$horizon => 2, features => ARRAY['temp']$$]) o;
SELECT pg_temp.try($$SELECT lstm_train('tr_bad', 'readings', value => 'temp', time_column => 'ts', series => 'sensor', horizon => 2, log => 'true')$$);

-- Nothing above broke the server; the models trained here.
SELECT name FROM lstm_models WHERE name LIKE 'tr\_%' AND info ? 'hyperparameters' ORDER BY name;

-- Leave the database as the suite found it.
DELETE FROM lstm_models WHERE name LIKE 'tr\_%';
DROP SCHEMA tr_test CASCADE;
DROP SCHEMA "tr_Other Schema" CASCADE;
