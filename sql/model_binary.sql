-- Binary send/recv: COPY (FORMAT binary) round trips, and truncated or altered
-- binary values are rejected with an error.
\i test/sql/helpers.sql
CREATE SCHEMA mb_test;
SET search_path = mb_test, public;
CREATE TABLE binmodels (id int, model lstm_model);
INSERT INTO binmodels VALUES (1, :'tiny_scaled');

-- A real COPY TO / COPY FROM in binary format round-trips exactly.
SELECT '/tmp/lstm_regress_' || pg_backend_pid() || '.copy' AS copy_file \gset
COPY binmodels TO :'copy_file' (FORMAT binary);
CREATE TABLE binmodels2 (id int, model lstm_model);
COPY binmodels2 FROM :'copy_file' (FORMAT binary);
SELECT a.model::text = b.model::text AS binary_round_trip,
       lstm_model_info(a.model) -> 'fingerprint' = lstm_model_info(b.model) -> 'fingerprint' AS same_fingerprint
FROM binmodels a JOIN binmodels2 b USING (id);

-- copy_model(payload): COPY one binary lstm_model value (any bytes) into binmodels,
-- through a COPY BINARY file written with lo_export.
CREATE FUNCTION copy_model(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    path text := '/tmp/lstm_regress_' || pg_backend_pid() || '.bin';
    lo oid;
BEGIN
    lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
                           || int2send(1::int2) || int4send(length(payload)) || payload
                           || int2send(-1::int2));
    PERFORM lo_export(lo, path);
    PERFORM lo_unlink(lo);
    EXECUTE format('COPY binmodels (model) FROM %L (FORMAT binary)', path);
    RETURN 'loaded';
END
$$;
SELECT lstm_model_send(:'tiny_scaled') AS good \gset
-- The unaltered bytes load.
SELECT copy_model(:'good');

\set VERBOSITY terse
-- Truncated: shorter than the header, header only, one float short.
SELECT copy_model(substring(:'good'::bytea from 1 for 10));
SELECT copy_model(substring(:'good'::bytea from 1 for 36));
SELECT copy_model(substring(:'good'::bytea from 1 for length(:'good'::bytea) - 4));
-- One float too many.
SELECT copy_model(:'good'::bytea || '\x00000000'::bytea);
-- Altered header: magic, version, flags, reserved fields.
SELECT copy_model(overlay(:'good'::bytea placing '\xdeadbeef' from 1));
SELECT copy_model(overlay(:'good'::bytea placing '\x0002' from 5));
SELECT copy_model(overlay(:'good'::bytea placing '\x0080' from 7));
SELECT copy_model(overlay(:'good'::bytea placing '\x00000001' from 33));
-- Altered sizes: zero, negative, absurd (checked before anything is allocated), mismatched.
SELECT copy_model(overlay(:'good'::bytea placing '\x00000000' from 13));
SELECT copy_model(overlay(:'good'::bytea placing '\xffffffff' from 13));
SELECT copy_model(overlay(:'good'::bytea placing '\x7fffffff' from 13));
SELECT copy_model(overlay(:'good'::bytea placing '\x00001000' from 13));
SELECT copy_model(overlay(:'good'::bytea placing '\x00000003' from 13));
-- Non-finite weights: NaN in weight_ih_l0[0][0], +Infinity in head.bias.
SELECT copy_model(overlay(:'good'::bytea placing '\x7fc00000' from 37));
SELECT copy_model(overlay(:'good'::bytea placing '\x7f800000' from 37 + 4 * 42));
-- A standard deviation of zero (input_std is float number 44, 0-based).
SELECT copy_model(overlay(:'good'::bytea placing '\x00000000' from 37 + 4 * 44));
\set VERBOSITY sqlstate
SELECT copy_model(substring(:'good'::bytea from 1 for 36));
SELECT copy_model(overlay(:'good'::bytea placing '\x7fffffff' from 13));
SELECT copy_model(overlay(:'good'::bytea placing '\x7fc00000' from 37));
\set VERBOSITY default

-- Only the two good rows are in the table; nothing corrupted got in.
SELECT count(*) AS rows, bool_and(model::text = (:'tiny_scaled'::lstm_model)::text) AS all_intact FROM binmodels;
SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
-- The server is still up.
SELECT 1 AS alive;
DROP SCHEMA mb_test CASCADE;
-- Remove the two files this suite wrote.
SELECT format('rm -f %s %s', :'copy_file', '/tmp/lstm_regress_' || pg_backend_pid() || '.bin') AS rm_files \gset
COPY (SELECT 1) TO PROGRAM :'rm_files';
