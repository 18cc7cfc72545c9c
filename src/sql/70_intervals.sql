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
