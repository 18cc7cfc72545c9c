-- trigger_setup.sql - the database of the ingest benchmarks (trigger_bench.sh and
-- ingest_callgrind.sh): a model, four identical tables and their triggers.
--
--   psql -v hidden=32 -v series=100 -v pass_row_so=/path/pass_row.so -f trigger_setup.sql
--
-- The model has PyTorch's default initialisation scale (uniform in +-1/sqrt(hidden)), one
-- layer, input and output size 1. readings_plain has no trigger; readings_scored has
-- lstm_score_trigger; readings_cfloor and readings_floor have a BEFORE ROW trigger that does
-- nothing, in C (pass_row.c, loaded by its path) and in PL/pgSQL: PostgreSQL's own floor for a
-- row trigger. Every series 1..series starts with a saved state and 20 rows, as in steady
-- ingestion.
CREATE EXTENSION lstm;
SELECT setseed(0.42) \gset
INSERT INTO lstm_models (name, model)
SELECT 'bench', jsonb_build_object(
    'input_size', 1, 'hidden_size', :hidden, 'num_layers', 1, 'output_size', 1,
    'input_mean', jsonb_build_array(0.5), 'input_std', jsonb_build_array(0.3),
    'output_mean', jsonb_build_array(0.5), 'output_std', jsonb_build_array(0.3),
    'weights', jsonb_build_object(
        'weight_ih_l0', (SELECT jsonb_agg(jsonb_build_array((random() * 2 - 1) / sqrt(:hidden)))
                         FROM generate_series(1, 4 * :hidden)),
        'weight_hh_l0', (SELECT jsonb_agg((SELECT jsonb_agg((random() * 2 - 1) / sqrt(:hidden) + 0 * c)
                                           FROM generate_series(1, :hidden) c))
                         FROM generate_series(1, 4 * :hidden) r),
        'bias_ih_l0', (SELECT jsonb_agg((random() * 2 - 1) / sqrt(:hidden)) FROM generate_series(1, 4 * :hidden)),
        'bias_hh_l0', (SELECT jsonb_agg((random() * 2 - 1) / sqrt(:hidden)) FROM generate_series(1, 4 * :hidden)),
        'head.weight', jsonb_build_array((SELECT jsonb_agg((random() * 2 - 1) / sqrt(:hidden))
                                          FROM generate_series(1, :hidden))),
        'head.bias', jsonb_build_array(0.0)))::lstm_model;
CREATE TABLE readings_plain (sensor int, ts timestamptz, v float8, forecast float8, score float8);
CREATE TABLE readings_scored (LIKE readings_plain);
CREATE TRIGGER score BEFORE INSERT ON readings_scored FOR EACH ROW
    EXECUTE FUNCTION lstm_score_trigger('bench', 'v', 'sensor', 'forecast', 'score', 'ts');
-- PostgreSQL's floor for a row trigger: one that does nothing, in C and in PL/pgSQL.
CREATE FUNCTION pass_row_c() RETURNS trigger LANGUAGE c AS :'pass_row_so', 'bench_pass_row';
CREATE TABLE readings_cfloor (LIKE readings_plain);
CREATE TRIGGER pass BEFORE INSERT ON readings_cfloor FOR EACH ROW EXECUTE FUNCTION pass_row_c();
CREATE TABLE readings_floor (LIKE readings_plain);
CREATE FUNCTION pass_row() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER pass BEFORE INSERT ON readings_floor FOR EACH ROW EXECUTE FUNCTION pass_row();
-- Every series starts with a saved state (and a few rows), as in steady ingestion.
INSERT INTO readings_scored (sensor, ts, v)
SELECT s, now() - (20 - t) * interval '1 second', random() FROM generate_series(1, :series) s,
       generate_series(1, 20) t ORDER BY t, s;
INSERT INTO readings_plain SELECT * FROM readings_scored;
