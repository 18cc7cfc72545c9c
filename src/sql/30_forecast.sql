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
