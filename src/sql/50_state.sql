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
