-- lstm 0.1 install script, assembled from src/sql/*.sql by the Makefile.

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
    created_at timestamptz NOT NULL DEFAULT now(),
    info jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE lstm_models IS
    'Trained LSTM models by name; info holds the model''s sizes and fingerprint (kept up to date '
    'by a trigger) plus anything the writer adds, such as a training report';
SELECT pg_catalog.pg_extension_config_dump('lstm_models', '');

-- Keep info's size and fingerprint fields in step with the model; other keys
-- (training hyperparameters and report) are the writer's.
CREATE FUNCTION lstm_models_fill_info() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.info := coalesce(NEW.info, '{}'::jsonb) || @extschema@.lstm_model_info(NEW.model);
    RETURN NEW;
END
$$;
CREATE TRIGGER lstm_models_fill_info BEFORE INSERT OR UPDATE OF model, info ON lstm_models
    FOR EACH ROW EXECUTE FUNCTION lstm_models_fill_info();

CREATE FUNCTION lstm_model_by_name(name text) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_model_by_name(text) IS 'The model stored under this name in lstm_models';
-- ---------------------------------------------------------------------------
-- lstm_forecast: one LSTM cell step per row (hidden and cell state in the
-- transition state), the forecast after the last row at the end. Also a
-- window function (running one-step forecasts). model is an lstm_model or
-- the name of a model in lstm_models.
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
    FINALFUNC = lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_forecast(model text, value float8) (
    SFUNC = lstm_forecast_value_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_forecast(model lstm_model, value float8, horizon int) (
    SFUNC = lstm_forecast_horizon_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_horizon_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_forecast(model text, value float8, horizon int) (
    SFUNC = lstm_forecast_horizon_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_horizon_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_forecast(model lstm_model, features float8[]) (
    SFUNC = lstm_forecast_features_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_forecast(model text, features float8[]) (
    SFUNC = lstm_forecast_features_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY);

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
    batch_size int DEFAULT 32,
    epochs int DEFAULT 100,
    learning_rate float8 DEFAULT 0.01,
    clip float8 DEFAULT 1.0,
    validation float8 DEFAULT 0.2,
    patience int DEFAULT 10,
    seed bigint DEFAULT 0,
    difference boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'lstm_train' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION lstm_train(text, regclass, text, text, text, text[], int, int, int, int, int,
                               float8, float8, float8, int, bigint, boolean) IS
    'Train an LSTM forecaster on the series in source (value ordered by time_column, split by '
    'series, with optional feature columns; or one float8[] sequence per row) and store it in '
    'lstm_models under name; returns the training report';
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
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_state_agg(model text, value float8) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_state_agg(model lstm_model, features float8[]) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_state_agg(model text, features float8[]) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY);
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
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_anomaly_score(model text, value float8) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_anomaly_score(model lstm_model, features float8[]) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY);
CREATE AGGREGATE lstm_anomaly_score(model text, features float8[]) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY);
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
-- Streaming: lstm_score_trigger scores rows as they are inserted, keeping each
-- series' lstm_state in lstm_stream_states (one row per model and series).
-- ---------------------------------------------------------------------------

CREATE TABLE lstm_stream_states (
    model_name text NOT NULL REFERENCES lstm_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    series text NOT NULL,
    state lstm_state NOT NULL,
    last_time bytea,
    last_time_type regtype,
    late_rows bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_name, series)
);
COMMENT ON TABLE lstm_stream_states IS
    'Saved state of every series scored by lstm_score_trigger: the lstm_state, the newest time '
    'applied (binary form of the time column''s type), and the count of late rows left unscored';
COMMENT ON COLUMN lstm_stream_states.series IS
    'The series column''s value as text (its output function); '''' for a single series';
COMMENT ON COLUMN lstm_stream_states.last_time IS
    'Newest time applied to the state, in the binary (send) form of last_time_type; NULL when '
    'the trigger has no time column';
SELECT pg_catalog.pg_extension_config_dump('lstm_stream_states', '');

CREATE FUNCTION lstm_score_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION lstm_score_trigger() IS
    'BEFORE INSERT FOR EACH ROW trigger; arguments: model name, value column, series column or '
    'NULL, forecast column or NULL, score column or NULL[, time column]. Fills the forecast made '
    'before the row and its anomaly score, then advances the series'' saved state';

-- Forget saved states: every series of a model, or one series.
CREATE FUNCTION lstm_stream_reset(model text, series text DEFAULT NULL) RETURNS bigint
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM @extschema@.lstm_stream_states s
        WHERE s.model_name = lstm_stream_reset.model
          AND (lstm_stream_reset.series IS NULL OR s.series = lstm_stream_reset.series)
        RETURNING 1)
    SELECT count(*) FROM gone
$$;
COMMENT ON FUNCTION lstm_stream_reset(text, text) IS
    'Delete the saved streaming states of a model (all series, or one); returns how many';

-- Recompute saved states from a table's history, in time order: what the
-- trigger would have saved had every row arrived in order. Takes a SHARE lock
-- on the table so that no insert is scored against a state being replaced.
CREATE FUNCTION lstm_stream_rebuild(model text, source regclass, value_column text,
                                    series_column text, time_column text,
                                    series text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    value_type oid;
    time_type oid;
    time_send regproc;
    value_expr text;
    series_expr text;
    series_filter text := 'true';
    rebuilt bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.lstm_models m
                   WHERE m.name = lstm_stream_rebuild.model) THEN
        RAISE EXCEPTION 'model "%" does not exist', model USING ERRCODE = 'undefined_object';
    END IF;
    SELECT a.atttypid INTO value_type FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = value_column AND a.attnum > 0
      AND NOT a.attisdropped;
    IF value_type IS NULL THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', value_column, source
            USING ERRCODE = 'undefined_column';
    END IF;
    IF time_column IS NULL THEN
        RAISE EXCEPTION 'lstm_stream_rebuild needs a time column' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Each series is rebuilt from its rows in the order of the time column.';
    END IF;
    SELECT a.atttypid, t.typsend INTO time_type, time_send
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = source AND a.attname = time_column AND a.attnum > 0
      AND NOT a.attisdropped;
    IF time_type IS NULL THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', time_column, source
            USING ERRCODE = 'undefined_column';
    END IF;
    IF coalesce(series_column, '') = '' OR lower(series_column) = 'null' THEN
        series_expr := '''''';
    ELSE
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = source AND a.attname = series_column
                         AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'column "%" of relation % does not exist', series_column, source
                USING ERRCODE = 'undefined_column';
        END IF;
        -- The trigger's series key: the column's output function, as format('%s') gives it.
        series_expr := format('pg_catalog.format(''%%s'', %I)', series_column);
        series_filter := format('%I IS NOT NULL', series_column);
    END IF;
    value_expr := format(CASE WHEN pg_catalog.format_type(value_type, NULL) LIKE '%[]'
                              THEN '%I::float8[]' ELSE '%I::float8' END, value_column);

    EXECUTE format('LOCK TABLE %s IN SHARE MODE', source);
    DELETE FROM @extschema@.lstm_stream_states s
    WHERE s.model_name = lstm_stream_rebuild.model AND (lstm_stream_rebuild.series IS NULL
                                    OR s.series = lstm_stream_rebuild.series);
    EXECUTE format(
        'INSERT INTO @extschema@.lstm_stream_states '
        '    (model_name, series, state, last_time, last_time_type, late_rows, updated_at) '
        'SELECT $1, key, state, last_time, $2, 0, now() FROM ('
        '    SELECT %1$s AS key, @extschema@.lstm_state_agg($1, %2$s ORDER BY %3$I) AS state, '
        '           %4$s(max(%3$I) FILTER (WHERE %2$s IS NOT NULL)) AS last_time '
        '    FROM %5$s WHERE %3$I IS NOT NULL AND %6$s '
        '      AND ($3::text IS NULL OR %1$s = $3) '
        '    GROUP BY 1) q '
        'WHERE state IS NOT NULL',
        series_expr, value_expr, time_column, time_send, source, series_filter)
    USING model, time_type::regtype, series;
    GET DIAGNOSTICS rebuilt = ROW_COUNT;
    RETURN rebuilt;
END
$$;
COMMENT ON FUNCTION lstm_stream_rebuild(text, regclass, text, text, text, text) IS
    'Recompute the saved streaming states of a model (all series, or one) from a table''s rows '
    'in time order, as lstm_score_trigger would have saved them; returns the number of series';
