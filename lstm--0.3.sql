-- lstm 0.2 install script, assembled from src/sql/*.sql by the Makefile.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION lstm" to load this file. \quit
-- ---------------------------------------------------------------------------
-- The lstm_model type: an nn.LSTM + nn.Linear head, PyTorch's layout.
-- Text form: JSON with PyTorch state_dict names. Binary form for COPY BINARY.
-- ---------------------------------------------------------------------------

CREATE TYPE lstm_model;

CREATE FUNCTION lstm_model_in(cstring) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_model_out(lstm_model) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_model_recv(internal) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_model_send(lstm_model) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE lstm_model (
    INPUT = lstm_model_in,
    OUTPUT = lstm_model_out,
    RECEIVE = lstm_model_recv,
    SEND = lstm_model_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE lstm_model IS
    'A trained LSTM (PyTorch nn.LSTM + nn.Linear head, float32) with input and output scaling';

CREATE FUNCTION lstm_model_to_jsonb(lstm_model) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_model_from_jsonb(jsonb) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (lstm_model AS jsonb) WITH FUNCTION lstm_model_to_jsonb(lstm_model);
CREATE CAST (jsonb AS lstm_model) WITH FUNCTION lstm_model_from_jsonb(jsonb);
COMMENT ON FUNCTION lstm_model_to_jsonb(lstm_model) IS
    'The model as JSON with PyTorch state_dict names (the lstm_model -> jsonb cast)';
COMMENT ON FUNCTION lstm_model_from_jsonb(jsonb) IS
    'A model from JSON with PyTorch state_dict names (the jsonb -> lstm_model cast)';

CREATE FUNCTION lstm_model_info(lstm_model) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_model_info(lstm_model) IS
    'Sizes, parameter count, byte size and content fingerprint of a model';
-- ---------------------------------------------------------------------------
-- lstm_models: trained models stored as rows, kept by pg_dump.
-- ---------------------------------------------------------------------------

CREATE TABLE lstm_models (
    name text PRIMARY KEY,
    model lstm_model NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    notes jsonb NOT NULL DEFAULT '{}'
        CHECK (pg_catalog.jsonb_typeof(notes) OPERATOR(pg_catalog.=) 'object'),
    info jsonb NOT NULL GENERATED ALWAYS AS
        (notes OPERATOR(pg_catalog.||) @extschema@.lstm_model_info(model)) STORED,
    owner regrole NOT NULL DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
    shared_with regrole[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE lstm_models IS
    'Trained LSTM models by name; info holds the writer''s notes and the model''s sizes and '
    'fingerprint';
COMMENT ON COLUMN lstm_models.notes IS
    'The writer''s keys: lstm_train''s report and hyperparameters, or a note of one''s own (a JSON '
    'object); info shows them with the model''s own keys';
COMMENT ON COLUMN lstm_models.info IS
    'Generated from notes and the model: notes || lstm_model_info(model) (the model''s sizes, '
    'parameter count and fingerprint win over a note of the same key); read-only';
COMMENT ON COLUMN lstm_models.owner IS
    'The role the model belongs to (the creating role by default): only members of it may '
    'replace, rename, share or delete the model';
COMMENT ON COLUMN lstm_models.shared_with IS
    'Roles the owner lets use (and read) the model besides its own members; ''-'' (0) means '
    'every role. Managed with lstm_model_share and lstm_model_unshare';
SELECT pg_catalog.pg_extension_config_dump('lstm_models', '');

-- Row-level security, created with the extension so that pg_dump/restore and
-- ALTER EXTENSION UPDATE keep it: a model is visible (usable by name, its
-- weights readable) to members of its owner and to the roles it is shared
-- with; only members of its owner may change or delete it, and a new row must
-- be owned by a role the writer is a member of. The table's owner and
-- superusers bypass it, as PostgreSQL does.
CREATE FUNCTION lstm_model_visible(owner regrole, shared_with regrole[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.pg_has_role(owner, 'USAGE')
        OR EXISTS (SELECT FROM pg_catalog.unnest(shared_with) AS r (role)
                   WHERE r.role OPERATOR(pg_catalog.=) 0::pg_catalog.regrole
                      OR pg_catalog.pg_has_role(r.role, 'USAGE'))
$$;
COMMENT ON FUNCTION lstm_model_visible(regrole, regrole[]) IS
    'The row-level security rule of lstm_models: may the current role use this model';
ALTER TABLE lstm_models ENABLE ROW LEVEL SECURITY;
CREATE POLICY lstm_models_use ON lstm_models FOR SELECT
    USING (@extschema@.lstm_model_visible(owner, shared_with));
CREATE POLICY lstm_models_create ON lstm_models FOR INSERT
    WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY lstm_models_change ON lstm_models FOR UPDATE
    USING (pg_catalog.pg_has_role(owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY lstm_models_delete ON lstm_models FOR DELETE
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));

CREATE FUNCTION lstm_model_by_name(name text) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_model_by_name(text) IS 'The model stored under this name in lstm_models';

-- Share a model with a role (or with every role: 'public'), and take it back.
-- Only members of the model's owner can (the UPDATE goes through row-level
-- security); an unknown model or one the caller does not own is an error.
CREATE FUNCTION lstm_model_set_sharing(model text, grantee text, share boolean) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    role regrole := CASE WHEN pg_catalog.lower(grantee) OPERATOR(pg_catalog.=) 'public'
                         THEN 0::regrole ELSE grantee::regrole END;
BEGIN
    UPDATE @extschema@.lstm_models m
       SET shared_with = pg_catalog.array_remove(m.shared_with, role)
                         OPERATOR(pg_catalog.||)
                         CASE WHEN share THEN ARRAY[role] ELSE '{}'::regrole[] END
     WHERE m.name OPERATOR(pg_catalog.=) lstm_model_set_sharing.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist or is not owned by a role of %', model, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only members of a model''s owner role may share it.';
    END IF;
END
$$;
COMMENT ON FUNCTION lstm_model_set_sharing(text, text, boolean) IS
    'The rule behind lstm_model_share and lstm_model_unshare';
CREATE FUNCTION lstm_model_share(model text, grantee text) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.lstm_model_set_sharing(model, grantee, true) $$;
COMMENT ON FUNCTION lstm_model_share(text, text) IS
    'Let a role (or public) use and read a model; only the model''s owner may';
CREATE FUNCTION lstm_model_unshare(model text, grantee text) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.lstm_model_set_sharing(model, grantee, false) $$;
COMMENT ON FUNCTION lstm_model_unshare(text, text) IS
    'Stop sharing a model with a role (or public); only the model''s owner may';
-- ---------------------------------------------------------------------------
-- lstm_forecast: one LSTM cell step per row (hidden and cell state in the
-- transition state), the forecast after the last row at the end. Also a
-- window function (running one-step forecasts). model is an lstm_model or
-- the name of a model in lstm_models.
--
-- Every function and aggregate here is PARALLEL SAFE: they only compute, and
-- the name forms read lstm_models through SPI with the caller's snapshot. The
-- aggregates have no combine function (ordered input cannot be split), so the
-- planner never splits one group across workers: the aggregation runs above
-- the Gather, the scan and filters below it run in parallel.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lstm_forecast_value_sfunc(internal, lstm_model, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_value_sfunc(internal, text, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_horizon_sfunc(internal, lstm_model, float8, int) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_horizon_sfunc(internal, text, float8, int) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_features_sfunc(internal, lstm_model, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_features_sfunc(internal, text, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_final(internal) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_horizon_final(internal) RETURNS float8[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE lstm_forecast(model lstm_model, value float8) (
    SFUNC = lstm_forecast_value_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast(model text, value float8) (
    SFUNC = lstm_forecast_value_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast(model lstm_model, value float8, horizon int) (
    SFUNC = lstm_forecast_horizon_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_horizon_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast(model text, value float8, horizon int) (
    SFUNC = lstm_forecast_horizon_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_horizon_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast(model lstm_model, features float8[]) (
    SFUNC = lstm_forecast_features_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast(model text, features float8[]) (
    SFUNC = lstm_forecast_features_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);

COMMENT ON AGGREGATE lstm_forecast(lstm_model, float8) IS
    'One-step-ahead forecast after the last row (use ORDER BY time); NULL values are skipped';
COMMENT ON AGGREGATE lstm_forecast(text, float8) IS
    'One-step-ahead forecast after the last row, with the model named in lstm_models';
COMMENT ON AGGREGATE lstm_forecast(lstm_model, float8, int) IS
    'Forecasts for the next horizon rows, each fed back as the next input';
COMMENT ON AGGREGATE lstm_forecast(text, float8, int) IS
    'Forecasts for the next horizon rows, with the model named in lstm_models';
COMMENT ON AGGREGATE lstm_forecast(lstm_model, float8[]) IS
    'One-step-ahead forecast of output 0 for a multivariate model (features per row)';
COMMENT ON AGGREGATE lstm_forecast(text, float8[]) IS
    'One-step-ahead forecast of output 0 for a multivariate model named in lstm_models';
-- ---------------------------------------------------------------------------
-- lstm_train: train a model from a table of series and store it in
-- lstm_models (stateful truncated BPTT, Adam, early stopping; see README).
-- batch_size, epochs, learning_rate and patience: NULL takes the default of
-- the scaling (global: 32, 100, 0.01, 10; series: 64, 30 (100 for one
-- series), 0.003, 6 (10 for one series)); so do members (1; 3) and loss
-- ('mse'; 'l1'). scaling NULL: 'series' when season or horizon is given.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lstm_train(
    name text,
    source regclass,
    value text,
    time_column text DEFAULT NULL,
    series text DEFAULT NULL,
    features text[] DEFAULT NULL,
    hidden int DEFAULT 32,
    layers int DEFAULT 1,
    bptt int DEFAULT 32,
    batch_size int DEFAULT NULL,
    epochs int DEFAULT NULL,
    learning_rate float8 DEFAULT NULL,
    clip float8 DEFAULT 1.0,
    validation float8 DEFAULT 0.2,
    patience int DEFAULT NULL,
    seed bigint DEFAULT 0,
    difference boolean DEFAULT false,
    season int DEFAULT NULL,
    horizon int DEFAULT NULL,
    scaling text DEFAULT NULL,
    log text DEFAULT 'auto',
    members int DEFAULT NULL,
    loss text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'lstm_train' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION lstm_train(text, regclass, text, text, text, text[], int, int, int, int, int,
                               float8, float8, float8, int, bigint, boolean, int, int, text, text,
                               int, text) IS
    'Train an LSTM forecaster on the series in source (value ordered by time_column, split by '
    'series, with optional feature columns; or one float8[] sequence per row) and store it in '
    'lstm_models under name; returns the training report. With season or horizon (or scaling '
    '=> ''series'') every series is normalised by its own streaming statistics and the model '
    'forecasts horizon steps at once (members trained one after the other, median forecast)';
-- ---------------------------------------------------------------------------
-- lstm_state: the recurrent state of one series under one model (h and c of
-- every layer, steps, last value, the model's fingerprint and sizes, and the
-- residual statistics of the anomaly score), so that a series can be
-- advanced one row at a time without rescanning its history.
-- model is an lstm_model or the name of a model in lstm_models.
-- ---------------------------------------------------------------------------

CREATE TYPE lstm_state;

CREATE FUNCTION lstm_state_in(cstring) RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_state_out(lstm_state) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_state_recv(internal) RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_state_send(lstm_state) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE lstm_state (
    INPUT = lstm_state_in,
    OUTPUT = lstm_state_out,
    RECEIVE = lstm_state_recv,
    SEND = lstm_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE lstm_state IS
    'Recurrent state of one series under one model: h and c of every layer, steps, the model '
    'fingerprint, and the residual statistics of the anomaly score';

CREATE FUNCTION lstm_state_info(lstm_state) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_state_info(lstm_state) IS
    'Steps, model fingerprint and sizes, residual statistics, last forecast and score of a state';

-- lstm_state_agg and lstm_anomaly_score share one transition (two entry points,
-- for their names in messages): each row is scored against the forecast made
-- before it, then consumed.
CREATE FUNCTION lstm_state_sfunc(internal, lstm_model, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_sfunc(internal, text, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_sfunc(internal, lstm_model, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_sfunc(internal, text, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, lstm_model, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, text, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, lstm_model, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, text, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_final(internal) RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_final(internal) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE lstm_state_agg(model lstm_model, value float8) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_state_agg(model text, value float8) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_state_agg(model lstm_model, features float8[]) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_state_agg(model text, features float8[]) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_state_agg(lstm_model, float8) IS
    'The state after the rows (use ORDER BY time), to continue with lstm_step; NULL values skipped';
COMMENT ON AGGREGATE lstm_state_agg(text, float8) IS
    'The state after the rows, with the model named in lstm_models';
COMMENT ON AGGREGATE lstm_state_agg(lstm_model, float8[]) IS
    'The state after the rows of a multivariate model (features per row)';
COMMENT ON AGGREGATE lstm_state_agg(text, float8[]) IS
    'The state after the rows of a multivariate model named in lstm_models';

CREATE AGGREGATE lstm_anomaly_score(model lstm_model, value float8) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly_score(model text, value float8) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly_score(model lstm_model, features float8[]) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly_score(model text, features float8[]) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_anomaly_score(lstm_model, float8) IS
    'Anomaly score in [0, 1] of the last row against the series'' recent residuals; as a window '
    'function (PARTITION BY series ORDER BY time) the score of every row, as the scoring trigger '
    'gives it';
COMMENT ON AGGREGATE lstm_anomaly_score(text, float8) IS
    'Anomaly score in [0, 1] of the last row, with the model named in lstm_models';
COMMENT ON AGGREGATE lstm_anomaly_score(lstm_model, float8[]) IS
    'Anomaly score in [0, 1] of the last row of a multivariate model (target is feature 0)';
COMMENT ON AGGREGATE lstm_anomaly_score(text, float8[]) IS
    'Anomaly score in [0, 1] of the last row of a multivariate model named in lstm_models';

-- lstm_step: one more row. A NULL state starts a series; a NULL value
-- returns the state unchanged. Not STRICT, so that a NULL state works.
CREATE FUNCTION lstm_step(model lstm_model, state lstm_state, value float8) RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_step(model text, state lstm_state, value float8) RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_step(model lstm_model, state lstm_state, features float8[])
    RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_step(model text, state lstm_state, features float8[]) RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION lstm_step(lstm_model, lstm_state, float8) IS
    'The state after one more row (NULL state: a new series; NULL value: unchanged)';
COMMENT ON FUNCTION lstm_step(text, lstm_state, float8) IS
    'The state after one more row, with the model named in lstm_models';
COMMENT ON FUNCTION lstm_step(lstm_model, lstm_state, float8[]) IS
    'The state after one more row of features of a multivariate model';
COMMENT ON FUNCTION lstm_step(text, lstm_state, float8[]) IS
    'The state after one more row of features, with the model named in lstm_models';

CREATE FUNCTION lstm_predict(model lstm_model, state lstm_state) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_predict(model text, state lstm_state) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_predict(model lstm_model, state lstm_state, horizon int) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'lstm_predict_horizon' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_predict(model text, state lstm_state, horizon int) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'lstm_predict_horizon' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_predict(lstm_model, lstm_state) IS
    'One-step-ahead forecast (output 0) from a state: equals lstm_forecast over the same rows';
COMMENT ON FUNCTION lstm_predict(text, lstm_state) IS
    'One-step-ahead forecast from a state, with the model named in lstm_models';
COMMENT ON FUNCTION lstm_predict(lstm_model, lstm_state, int) IS
    'Forecasts for the next horizon rows from a state, each fed back as the next input';
COMMENT ON FUNCTION lstm_predict(text, lstm_state, int) IS
    'Forecasts for the next horizon rows from a state, with the model named in lstm_models';

-- ---------------------------------------------------------------------------
-- The anomaly score's settings (a jsonb object; README "Anomaly score"): taken
-- where a series starts, kept in its state. lstm_anomaly gives every row's
-- forecast, residual, z, score and alert.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lstm_state_sfunc(internal, lstm_model, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_sfunc(internal, text, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_sfunc(internal, lstm_model, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_sfunc(internal, text, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, lstm_model, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, text, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, lstm_model, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, text, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, lstm_model, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, text, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, lstm_model, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, text, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, lstm_model, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, text, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, lstm_model, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, text, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;

CREATE TYPE lstm_anomaly_row AS (forecast float8, residual float8, z float8, score float8,
                                 alert boolean);
COMMENT ON TYPE lstm_anomaly_row IS
    'One row as the anomaly score sees it: the forecast made before it, its residual (value - '
    'forecast), z against the recent residuals, the score in [0, 1] and the alert (score >= '
    'threshold)';
CREATE FUNCTION lstm_anomaly_row_final(internal) RETURNS lstm_anomaly_row
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE lstm_state_agg(model lstm_model, value float8, settings jsonb) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_state_agg(model text, value float8, settings jsonb) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_state_agg(model lstm_model, features float8[], settings jsonb) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_state_agg(model text, features float8[], settings jsonb) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_state_agg(lstm_model, float8, jsonb) IS
    'The state after the rows, scored with these anomaly settings (kept in the state)';
COMMENT ON AGGREGATE lstm_state_agg(text, float8, jsonb) IS
    'The state after the rows, with the model named in lstm_models and these anomaly settings';
COMMENT ON AGGREGATE lstm_state_agg(lstm_model, float8[], jsonb) IS
    'The state after the rows of a multivariate model, with these anomaly settings';
COMMENT ON AGGREGATE lstm_state_agg(text, float8[], jsonb) IS
    'The state after the rows of a multivariate model named in lstm_models, with these anomaly '
    'settings';

CREATE AGGREGATE lstm_anomaly_score(model lstm_model, value float8, settings jsonb) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly_score(model text, value float8, settings jsonb) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly_score(model lstm_model, features float8[], settings jsonb) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly_score(model text, features float8[], settings jsonb) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_anomaly_score(lstm_model, float8, jsonb) IS
    'Anomaly score in [0, 1] of the last row, with these anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly_score(text, float8, jsonb) IS
    'Anomaly score in [0, 1] of the last row, with the model named in lstm_models and these '
    'anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly_score(lstm_model, float8[], jsonb) IS
    'Anomaly score in [0, 1] of the last row of a multivariate model, with these anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly_score(text, float8[], jsonb) IS
    'Anomaly score in [0, 1] of the last row of a multivariate model named in lstm_models, with '
    'these anomaly settings';

CREATE AGGREGATE lstm_anomaly(model lstm_model, value float8) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model text, value float8) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model lstm_model, features float8[]) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model text, features float8[]) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model lstm_model, value float8, settings jsonb) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model text, value float8, settings jsonb) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model lstm_model, features float8[], settings jsonb) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model text, features float8[], settings jsonb) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_anomaly(lstm_model, float8) IS
    'The last row''s (forecast, residual, z, score, alert); as a window function (PARTITION BY '
    'series ORDER BY time) every row''s, as the scoring trigger gives them';
COMMENT ON AGGREGATE lstm_anomaly(text, float8) IS
    'The last row''s (forecast, residual, z, score, alert), with the model named in lstm_models';
COMMENT ON AGGREGATE lstm_anomaly(lstm_model, float8[]) IS
    'The last row''s (forecast, residual, z, score, alert) for a multivariate model';
COMMENT ON AGGREGATE lstm_anomaly(text, float8[]) IS
    'The last row''s (forecast, residual, z, score, alert) for a multivariate model named in '
    'lstm_models';
COMMENT ON AGGREGATE lstm_anomaly(lstm_model, float8, jsonb) IS
    'The last row''s (forecast, residual, z, score, alert), with these anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly(text, float8, jsonb) IS
    'The last row''s (forecast, residual, z, score, alert), with the model named in lstm_models '
    'and these anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly(lstm_model, float8[], jsonb) IS
    'The last row''s (forecast, residual, z, score, alert) for a multivariate model, with these '
    'anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly(text, float8[], jsonb) IS
    'The last row''s (forecast, residual, z, score, alert) for a multivariate model named in '
    'lstm_models, with these anomaly settings';

CREATE FUNCTION lstm_step(model lstm_model, state lstm_state, value float8, settings jsonb)
    RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_step(model text, state lstm_state, value float8, settings jsonb)
    RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_step(model lstm_model, state lstm_state, features float8[], settings jsonb)
    RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_step(model text, state lstm_state, features float8[], settings jsonb)
    RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION lstm_step(lstm_model, lstm_state, float8, jsonb) IS
    'The state after one more row; a NULL state starts a series with these anomaly settings, a '
    'state must have them';
COMMENT ON FUNCTION lstm_step(text, lstm_state, float8, jsonb) IS
    'The state after one more row, with the model named in lstm_models and these anomaly settings';
COMMENT ON FUNCTION lstm_step(lstm_model, lstm_state, float8[], jsonb) IS
    'The state after one more row of features, with these anomaly settings';
COMMENT ON FUNCTION lstm_step(text, lstm_state, float8[], jsonb) IS
    'The state after one more row of features, with the model named in lstm_models and these '
    'anomaly settings';
-- ---------------------------------------------------------------------------
-- Streaming: lstm_score_trigger scores rows as they are inserted, keeping each
-- series' lstm_state in lstm_stream_states (one row per model, scored table and
-- series).
-- ---------------------------------------------------------------------------

CREATE TABLE lstm_stream_states (
    model_name text NOT NULL,
    series text NOT NULL,
    state lstm_state NOT NULL,
    last_time bytea,
    last_time_type regtype,
    late_rows bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    source regclass NOT NULL,
    PRIMARY KEY (model_name, source, series)
);
COMMENT ON TABLE lstm_stream_states IS
    'Saved state of every series scored by lstm_score_trigger: the lstm_state, the newest time '
    'applied (binary form of the time column''s type), and the count of late rows left unscored';
COMMENT ON COLUMN lstm_stream_states.model_name IS
    'The model''s name in lstm_models, with no foreign key (lstm_models can be a Citus reference '
    'table): a renamed or deleted model leaves its states under the old name until '
    'lstm_stream_reset removes them; a different model stored under that name restarts them, '
    'with a WARNING, at their next row';
COMMENT ON COLUMN lstm_stream_states.series IS
    'The series column''s value as lstm_series_key() gives it (the same in every session); '
    ''''' for a single series';
COMMENT ON COLUMN lstm_stream_states.last_time IS
    'Newest time applied to the state, in the binary (send) form of last_time_type; NULL when '
    'the trigger has no time column';
COMMENT ON COLUMN lstm_stream_states.source IS
    'The scored table (the root of a partitioned or inherited table): states belong to it';
SELECT pg_catalog.pg_extension_config_dump('lstm_stream_states', '');

-- Row-level security, created with the extension (pg_dump/restore and ALTER
-- EXTENSION UPDATE keep it): a saved state belongs to the table it scores.
-- Reading one needs SELECT or INSERT on that table; creating, changing or
-- deleting one needs INSERT on it (the right to feed the series). A state
-- whose table no longer exists is visible to the table's owner and
-- superusers only.
ALTER TABLE lstm_stream_states ENABLE ROW LEVEL SECURITY;
CREATE POLICY lstm_stream_states_read ON lstm_stream_states FOR SELECT
    USING (pg_catalog.has_table_privilege(source, 'SELECT')
           OR pg_catalog.has_table_privilege(source, 'INSERT'));
CREATE POLICY lstm_stream_states_create ON lstm_stream_states FOR INSERT
    WITH CHECK (pg_catalog.has_table_privilege(source, 'INSERT'));
CREATE POLICY lstm_stream_states_change ON lstm_stream_states FOR UPDATE
    USING (pg_catalog.has_table_privilege(source, 'INSERT'))
    WITH CHECK (pg_catalog.has_table_privilege(source, 'INSERT'));
CREATE POLICY lstm_stream_states_delete ON lstm_stream_states FOR DELETE
    USING (pg_catalog.has_table_privilege(source, 'INSERT'));

-- The series key: what lstm_stream_states.series holds for a series value.
CREATE FUNCTION lstm_series_key(value anyelement) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_series_key(anyelement) IS
    'The text under which lstm_stream_states keeps the state of a series value: the same in '
    'every session (floats shortest-exact, dates ISO, timestamptz in UTC, intervals postgres '
    'style, bytea hex; other types their output)';

CREATE FUNCTION lstm_score_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION lstm_score_trigger() IS
    'BEFORE INSERT FOR EACH ROW trigger; arguments: model name, value column, series column or '
    'NULL, forecast column or NULL, score column or NULL[, time column or NULL[, anomaly settings '
    '(JSON) or NULL[, alert column]]]. Fills the forecast made before the row, its anomaly score '
    'and alert, then advances the series'' saved state';

-- Forget saved states: every series of a model, or one series, of every
-- scored table (or of one: source); row-level security limits it to the
-- tables the caller may insert into.
CREATE FUNCTION lstm_stream_reset(model text, series text DEFAULT NULL,
                                  source regclass DEFAULT NULL) RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM @extschema@.lstm_stream_states s
        WHERE s.model_name OPERATOR(pg_catalog.=) lstm_stream_reset.model
          AND (lstm_stream_reset.series IS NULL
               OR s.series OPERATOR(pg_catalog.=) lstm_stream_reset.series)
          AND (lstm_stream_reset.source IS NULL
               OR s.source OPERATOR(pg_catalog.=) lstm_stream_reset.source)
        RETURNING 1)
    SELECT pg_catalog.count(*) FROM gone
$$;
COMMENT ON FUNCTION lstm_stream_reset(text, text, regclass) IS
    'Delete the saved streaming states of a model (all series, or one; of every scored table, '
    'or of one); returns how many';

-- Recompute saved states from a table's history, in time order: what the
-- trigger would have saved had every row arrived in order. Only the states of
-- the series recomputed are replaced, so a rebuild of part of a table (a
-- partition, a Citus shard) keeps the others. Takes a SHARE lock on the table
-- so that no insert is scored against a state being replaced
-- (src/features/stream_rebuild.c).
CREATE FUNCTION lstm_stream_rebuild(model text, source regclass, value_column text,
                                    series_column text, time_column text,
                                    series text DEFAULT NULL, settings jsonb DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION lstm_stream_rebuild(text, regclass, text, text, text, text, jsonb) IS
    'Recompute the saved streaming states of a model from a table''s rows in time order, as '
    'lstm_score_trigger would have saved them (with its anomaly settings), replacing the states of '
    'the series recomputed (all in the rows, or one) and no other; returns the number of series';
-- ---------------------------------------------------------------------------
-- Prediction intervals and evaluation. A series-scaled model trained with
-- validation rows holds the quantiles of its validation errors per step
-- (calibration); lstm_forecast_interval (aggregate and window) and
-- lstm_predict_interval (from a state) return every step's forecast with its
-- bounds at a level; lstm_evaluate backtests a model on a table.
-- ---------------------------------------------------------------------------

CREATE TYPE lstm_interval AS (step int, forecast float8, lower float8, upper float8);
COMMENT ON TYPE lstm_interval IS
    'One step of a forecast with its prediction interval: step (1 = the next row), the point '
    'forecast and the lower and upper bounds';

CREATE FUNCTION lstm_forecast_interval_sfunc(internal, lstm_model, float8, int) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_interval_sfunc(internal, text, float8, int) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_interval_sfunc(internal, lstm_model, float8, int, float8)
    RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_interval_sfunc(internal, text, float8, int, float8)
    RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_interval_final(internal) RETURNS lstm_interval[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE lstm_forecast_interval(model lstm_model, value float8, horizon int) (
    SFUNC = lstm_forecast_interval_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_interval_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast_interval(model text, value float8, horizon int) (
    SFUNC = lstm_forecast_interval_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_interval_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast_interval(model lstm_model, value float8, horizon int,
                                        level float8) (
    SFUNC = lstm_forecast_interval_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_interval_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast_interval(model text, value float8, horizon int, level float8) (
    SFUNC = lstm_forecast_interval_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_interval_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_forecast_interval(lstm_model, float8, int) IS
    'The next horizon forecasts of a calibrated model with their 95 % prediction intervals';
COMMENT ON AGGREGATE lstm_forecast_interval(text, float8, int) IS
    'The next horizon forecasts with their 95 % prediction intervals, model named in lstm_models';
COMMENT ON AGGREGATE lstm_forecast_interval(lstm_model, float8, int, float8) IS
    'The next horizon forecasts of a calibrated model with prediction intervals at level';
COMMENT ON AGGREGATE lstm_forecast_interval(text, float8, int, float8) IS
    'The next horizon forecasts with prediction intervals at level, model named in lstm_models';

CREATE FUNCTION lstm_predict_interval(model lstm_model, state lstm_state, horizon int,
                                      level float8 DEFAULT 0.95) RETURNS lstm_interval[]
    AS 'MODULE_PATHNAME', 'lstm_predict_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_predict_interval(model text, state lstm_state, horizon int,
                                      level float8 DEFAULT 0.95) RETURNS lstm_interval[]
    AS 'MODULE_PATHNAME', 'lstm_predict_interval' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_predict_interval(lstm_model, lstm_state, int, float8) IS
    'The next horizon forecasts after a state with their prediction intervals at level';
COMMENT ON FUNCTION lstm_predict_interval(text, lstm_state, int, float8) IS
    'The next horizon forecasts after a state with prediction intervals, model named in '
    'lstm_models';

CREATE TYPE lstm_evaluation AS (
    series text, n_forecasts bigint,
    smape float8, mase float8, rmse float8, coverage float8, msis float8,
    naive_smape float8, naive_mase float8, naive_rmse float8,
    naive_coverage float8, naive_msis float8,
    snaive_smape float8, snaive_mase float8, snaive_rmse float8);
COMMENT ON TYPE lstm_evaluation IS
    'A row of lstm_evaluate: one series (the overall row: series NULL) with the model''s '
    'accuracy and that of the naive and seasonal naive forecasts';

-- lstm_evaluate: backtest a stored calibrated model on a table, as README
-- "Evaluation" describes. Every origin is one of the last `origins` rows that
-- leave `horizon` rows after them; the in-sample part (MASE's scale, the naive
-- intervals) is every row up to the first origin.
CREATE FUNCTION lstm_evaluate(model text, source regclass, value text, time_column text,
                              series text DEFAULT NULL, horizon int DEFAULT NULL,
                              season int DEFAULT 1, level float8 DEFAULT 0.95,
                              origins int DEFAULT 1)
RETURNS SETOF lstm_evaluation
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp SET jit = off AS $$
DECLARE
    info jsonb;
    steps int;
    most int;
BEGIN
    IF model IS NULL OR source IS NULL OR value IS NULL OR time_column IS NULL THEN
        RAISE EXCEPTION 'lstm_evaluate model, source, value and time_column must not be NULL'
            USING ERRCODE = '22004';
    END IF;
    info := @extschema@.lstm_model_info(@extschema@.lstm_model_by_name(model));
    most := (info OPERATOR(pg_catalog.->>) 'output_size')::int;
    IF NOT coalesce((info OPERATOR(pg_catalog.->>) 'calibrated')::boolean, false) THEN
        RAISE EXCEPTION 'lstm_evaluate needs a model with prediction interval calibration'
            USING ERRCODE = '22023',
                  DETAIL = format('Model "%s" holds no calibration data: intervals come from '
                                  'the validation errors that lstm_train stores in a '
                                  'series-scaled model (season or horizon given, validation '
                                  '> 0).', model);
    END IF;
    steps := coalesce(horizon, most);
    IF steps < 1 OR steps > most THEN
        RAISE EXCEPTION 'lstm_evaluate horizon % is outside 1 to %', steps, most
            USING ERRCODE = '22023',
                  DETAIL = format('Model "%s" forecasts at most %s steps.', model, most);
    END IF;
    IF season IS NULL OR season < 1 THEN
        RAISE EXCEPTION 'lstm_evaluate season must be at least 1, got %', season
            USING ERRCODE = '22023',
                  DETAIL = 'The season is the period of the seasonal naive forecast and of '
                           'MASE''s scale: 1 for none (the naive forecast), 52 for weekly data.';
    END IF;
    IF level IS NULL OR NOT (level > 0 AND level < 1) THEN
        RAISE EXCEPTION 'lstm_evaluate level must be between 0 and 1 (exclusive), got %', level
            USING ERRCODE = '22023';
    END IF;
    IF origins IS NULL OR origins < 1 THEN
        RAISE EXCEPTION 'lstm_evaluate origins must be at least 1, got %', origins
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY EXECUTE format($q$
WITH RECURSIVE src AS (
    SELECT %s AS key, %I AS t, (%I)::pg_catalog.float8 AS y FROM %s
    WHERE %I IS NOT NULL AND %I IS NOT NULL %s
), num AS (
    SELECT key, y, row_number() OVER (PARTITION BY key ORDER BY t, y) AS i,
           count(*) OVER (PARTITION BY key) AS n
    FROM src
), ser AS (
    SELECT key, max(n) AS n, max(n) - $2 - $5 + 1 AS first_origin FROM num GROUP BY key
), insample AS (
    SELECT num.key, num.y - lag(num.y, $3) OVER w AS dm, num.y - lag(num.y) OVER w AS d1
    FROM num JOIN ser s ON s.key = num.key
    WHERE num.i <= s.first_origin
    WINDOW w AS (PARTITION BY num.key ORDER BY num.i)
), scales AS (
    SELECT key, avg(abs(dm)) AS scale,
           percentile_cont($4) WITHIN GROUP (ORDER BY abs(d1)) AS spread
    FROM insample GROUP BY key
), tail AS MATERIALIZED (
    SELECT num.key, num.i, num.y FROM num JOIN ser s ON s.key = num.key
    WHERE num.i > s.first_origin AND num.i <= s.n - $2
), states AS MATERIALIZED (
    SELECT num.key, s.first_origin AS origin,
           @extschema@.lstm_state_agg($1, num.y ORDER BY num.i) AS st
    FROM num JOIN ser s ON s.key = num.key
    WHERE num.i <= s.first_origin AND s.first_origin >= 2
    GROUP BY num.key, s.first_origin
    UNION ALL
    SELECT w.key, tail.i, @extschema@.lstm_step($1, w.st, tail.y)
    FROM states w JOIN tail ON tail.key = w.key AND tail.i = w.origin + 1
), fc AS MATERIALIZED (
    SELECT st.key, st.origin, iv.step, iv.forecast, iv.lower, iv.upper
    FROM states st, unnest(@extschema@.lstm_predict_interval($1, st.st, $2, $4)) iv
), vals AS MATERIALIZED (
    SELECT key, array_agg(y ORDER BY i) AS ys FROM num GROUP BY key
), pts AS (
    SELECT fc.key, fc.step, fc.forecast, fc.lower, fc.upper, v.ys[fc.origin + fc.step] AS actual,
           v.ys[fc.origin] AS last,
           v.ys[fc.origin + fc.step - $3 * ((fc.step + $3 - 1) / $3)] AS seasonal,
           sc.scale, sc.spread,
           v.ys[fc.origin] - sc.spread * sqrt(fc.step) AS naive_lower,
           v.ys[fc.origin] + sc.spread * sqrt(fc.step) AS naive_upper
    FROM fc JOIN vals v ON v.key = fc.key JOIN scales sc ON sc.key = fc.key
), terms AS (
    SELECT key,
           coalesce(200 * abs(actual - forecast) / nullif(abs(actual) + abs(forecast), 0), 0) AS sm,
           abs(actual - forecast) / nullif(scale, 0) AS ase,
           (actual - forecast) ^ 2 AS se,
           (actual >= lower AND actual <= upper)::int AS hit,
           ((upper - lower) + 2 / (1 - $4) * greatest(lower - actual, 0)
            + 2 / (1 - $4) * greatest(actual - upper, 0)) / nullif(scale, 0) AS msis,
           coalesce(200 * abs(actual - last) / nullif(abs(actual) + abs(last), 0), 0) AS n_sm,
           abs(actual - last) / nullif(scale, 0) AS n_ase,
           (actual - last) ^ 2 AS n_se,
           (actual >= naive_lower AND actual <= naive_upper)::int AS n_hit,
           ((naive_upper - naive_lower) + 2 / (1 - $4) * greatest(naive_lower - actual, 0)
            + 2 / (1 - $4) * greatest(actual - naive_upper, 0)) / nullif(scale, 0) AS n_msis,
           coalesce(200 * abs(actual - seasonal) / nullif(abs(actual) + abs(seasonal), 0),
                    CASE WHEN seasonal IS NOT NULL THEN 0 END) AS s_sm,
           abs(actual - seasonal) / nullif(scale, 0) AS s_ase,
           (actual - seasonal) ^ 2 AS s_se
    FROM pts
), per AS (
    SELECT key, count(*) AS n, avg(sm) AS sm, avg(ase) AS ase, sqrt(avg(se)) AS rmse,
           avg(hit) AS cov, avg(msis) AS msis, avg(n_sm) AS n_sm, avg(n_ase) AS n_ase,
           sqrt(avg(n_se)) AS n_rmse, avg(n_hit) AS n_cov, avg(n_msis) AS n_msis,
           avg(s_sm) AS s_sm, avg(s_ase) AS s_ase, sqrt(avg(s_se)) AS s_rmse
    FROM terms GROUP BY key
)
SELECT * FROM (
    SELECT key, n, sm, ase, rmse, cov::float8, msis, n_sm, n_ase, n_rmse, n_cov::float8, n_msis,
           s_sm, s_ase, s_rmse
    FROM per
    UNION ALL
    SELECT NULL, sum(n)::bigint, avg(sm), avg(ase), avg(rmse), avg(cov)::float8, avg(msis),
           avg(n_sm), avg(n_ase), avg(n_rmse), avg(n_cov)::float8, avg(n_msis), avg(s_sm),
           avg(s_ase), avg(s_rmse)
    FROM per HAVING count(*) > 0) r
ORDER BY key IS NULL, key
$q$,
        CASE WHEN series IS NULL THEN $k$''::pg_catalog.text$k$
             ELSE format('(%I)::pg_catalog.text', series) END,
        time_column, value, source, value, time_column,
        CASE WHEN series IS NULL THEN '' ELSE format('AND %I IS NOT NULL', series) END)
    USING model, steps, season, level, origins;
END
$$;
COMMENT ON FUNCTION lstm_evaluate(text, regclass, text, text, text, int, int, float8, int) IS
    'Backtest a calibrated model on a table: per series and overall (series NULL) sMAPE, MASE, '
    'RMSE, interval coverage and MSIS at level over the last origins forecast origins, next to '
    'the naive and seasonal naive forecasts';
