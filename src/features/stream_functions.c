/*
 * stream_functions.c - the functions that stream a series one row at a time:
 *
 *   lstm_state_agg(model, value | features [ORDER BY t]) -> lstm_state
 *   lstm_anomaly_score(model, value | features [ORDER BY t]) -> float8
 *   lstm_step(model, state, value | features) -> lstm_state
 *   lstm_predict(model, state) -> float8
 *   lstm_predict(model, state, horizon) -> float8[]
 *
 * model is an lstm_model or the name of a row of lstm_models.
 *
 * Rules shared with lstm_forecast: a NULL value is skipped (lstm_step
 * returns the state unchanged), NaN and infinite values are errors, and the
 * input width must match the model (a series-scaled model takes one float8
 * per row; its horizon forecasts are direct, at most output_size). A state used with a model other
 * than the one that made it is an error. The invariants: lstm_predict(m, lstm_state_agg(m, v ORDER
 * BY t)) = lstm_forecast(m, v ORDER BY t) stepping rows k+1..n from lstm_state_agg over rows 1..k
 * gives the state of 1..n hold bit for bit, because all of them run the same core step.
 */
#include "lstm.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "runtime/arguments.h"
#include "runtime/model_cache.h"
#include "types/lstm_state.h"

PG_FUNCTION_INFO_V1(lstm_state_sfunc);
PG_FUNCTION_INFO_V1(lstm_anomaly_sfunc);
PG_FUNCTION_INFO_V1(lstm_state_final);
PG_FUNCTION_INFO_V1(lstm_anomaly_final);
PG_FUNCTION_INFO_V1(lstm_step);
PG_FUNCTION_INFO_V1(lstm_predict);
PG_FUNCTION_INFO_V1(lstm_predict_horizon);

/* ---------- model and value arguments ---------- */

/*
 * Read the non-NULL value argument argno into features (I values): a float8
 * for a model with one input, or a float8[] of exactly I elements.
 */
static void read_value_argument(FunctionCallInfo fcinfo, int argno, const LstmDims *dims,
                                double *features, const char *function, const char *what)
{
    LstmModelCache *cache = lstm_model_cache(fcinfo->flinfo);

    if (cache->value_is_array < 0)
        cache->value_is_array = get_fn_expr_argtype(fcinfo->flinfo, argno) == FLOAT8ARRAYOID;
    lstm_check_value_form(dims, cache->value_is_array, function);
    if (cache->value_is_array)
        lstm_read_features(PG_GETARG_DATUM(argno), features, dims->input_size, function);
    else
        features[0] = PG_GETARG_FLOAT8(argno);
    lstm_check_finite(features, lstm_row_width(dims), what);
}

/* A stream for model in the current memory context, fresh or from a state. */
static void stream_from_state(LstmStream *stream, const LstmDecoded *model, Datum state_datum,
                              bool state_isnull)
{
    const LstmDims *dims = &model->runner.dims;
    lstm_stream_init(stream, dims, palloc(sizeof(float) * lstm_series_nfloats(dims)));
    if (!state_isnull) {
        struct varlena *state = lstm_state_from_datum(state_datum);
        lstm_state_check_model(state, &model->runner.dims, model->fingerprint);
        lstm_state_load(VARDATA(state), stream);
    }
}

/* ---------- the aggregates: lstm_state_agg and lstm_anomaly_score ---------- */

/*
 * Transition state (internal, in the aggregate context, allocated once per
 * group): the decoded model (cached for the query), the stream, and scratch.
 * A row costs one comparison of the model datum and the core step.
 */
typedef struct StateAgg {
    LstmDecoded *model; /* owned by the query-long cache */
    LstmStream stream;  /* h, c, normaliser, steps, residual statistics, last forecast/score */
    double *features;   /* (I) the current row */
    double *outputs;    /* (O) scratch for the forecast */
    bool last_row_null; /* the latest row had a NULL value: it has no score */
} StateAgg;

/*
 * The transition of lstm_state_agg and lstm_anomaly_score: score and consume
 * one row. function names the aggregate in messages, what its input.
 */
static Datum state_transition(FunctionCallInfo fcinfo, const char *function, const char *what)
{
    MemoryContext aggcontext, old;
    StateAgg *agg = PG_ARGISNULL(0) ? NULL : (StateAgg *)PG_GETARG_POINTER(0);
    LstmDecoded *model;
    LstmError err;

    if (!AggCheckCallContext(fcinfo, &aggcontext))
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("%s transition function called in non-aggregate context", function)));
    if (PG_ARGISNULL(2)) {
        if (agg == NULL)
            PG_RETURN_NULL();
        agg->last_row_null = true;
        PG_RETURN_POINTER(agg);
    }
    model = lstm_model_argument(fcinfo, 1, function);
    if (agg == NULL) {
        const LstmDims *dims = &model->runner.dims;
        old = MemoryContextSwitchTo(aggcontext);
        agg = palloc0(sizeof(StateAgg));
        agg->model = model;
        lstm_stream_init(&agg->stream, dims, palloc(sizeof(float) * lstm_series_nfloats(dims)));
        agg->features = palloc(sizeof(double) * dims->input_size);
        agg->outputs = palloc(sizeof(double) * dims->output_size);
        MemoryContextSwitchTo(old);
    } else if (agg->model != model)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s model changed within one group", function),
                        errdetail("Every row of a group must use the same model.")));

    read_value_argument(fcinfo, 2, &model->runner.dims, agg->features, function, what);
    err = lstm_stream_feed(&model->runner, &agg->stream, agg->features, agg->outputs);
    if (err != LSTM_OK)
        lstm_report_row_error(err, agg->features, &model->runner.dims);
    if (!lstm_stream_finite(&agg->stream))
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("value out of range for the model's state"),
                        errdetail("The residual statistics overflowed float8.")));
    agg->last_row_null = false;
    PG_RETURN_POINTER(agg);
}

/* lstm_state_agg transition. */
Datum lstm_state_sfunc(PG_FUNCTION_ARGS)
{
    return state_transition(fcinfo, "lstm_state_agg", "lstm_state_agg input");
}

/* lstm_anomaly_score transition: the same, with its own name in messages. */
Datum lstm_anomaly_sfunc(PG_FUNCTION_ARGS)
{
    return state_transition(fcinfo, "lstm_anomaly_score", "lstm_anomaly_score input");
}

/* lstm_state_agg final: the state as a value; NULL for no rows. */
Datum lstm_state_final(PG_FUNCTION_ARGS)
{
    StateAgg *agg = PG_ARGISNULL(0) ? NULL : (StateAgg *)PG_GETARG_POINTER(0);

    if (agg == NULL || agg->stream.series.steps == 0)
        PG_RETURN_NULL();
    PG_RETURN_POINTER(
        lstm_state_make(&agg->stream, &agg->model->runner.dims, agg->model->fingerprint));
}

/*
 * lstm_anomaly_score final: the score of the latest row, NULL while the
 * series warms up, for its first row, and for a row whose value is NULL.
 */
Datum lstm_anomaly_final(PG_FUNCTION_ARGS)
{
    StateAgg *agg = PG_ARGISNULL(0) ? NULL : (StateAgg *)PG_GETARG_POINTER(0);

    if (agg == NULL || agg->last_row_null || !(agg->stream.flags & LSTM_STATE_HAS_SCORE))
        PG_RETURN_NULL();
    PG_RETURN_FLOAT8(agg->stream.last_score);
}

/* ---------- lstm_step and lstm_predict ---------- */

/*
 * lstm_step(model, state, value | features): the state after one more row.
 * A NULL state starts a series; a NULL value returns the state unchanged.
 */
Datum lstm_step(PG_FUNCTION_ARGS)
{
    LstmDecoded *model = lstm_model_argument(fcinfo, 0, "lstm_step");
    const LstmDims *dims = &model->runner.dims;
    LstmStream stream;
    double *features, *outputs;
    LstmError err;

    if (PG_ARGISNULL(2)) {
        if (PG_ARGISNULL(1))
            PG_RETURN_NULL();
        /* Still an error to pass another model's state. */
        lstm_state_check_model(lstm_state_from_datum(PG_GETARG_DATUM(1)), &model->runner.dims,
                               model->fingerprint);
        PG_RETURN_DATUM(PG_GETARG_DATUM(1));
    }
    features = palloc(sizeof(double) * dims->input_size);
    outputs = palloc(sizeof(double) * dims->output_size);
    read_value_argument(fcinfo, 2, dims, features, "lstm_step", "lstm_step input");
    stream_from_state(&stream, model, PG_GETARG_DATUM(1), PG_ARGISNULL(1));
    err = lstm_stream_feed(&model->runner, &stream, features, outputs);
    if (err != LSTM_OK)
        lstm_report_row_error(err, features, dims);
    PG_RETURN_POINTER(lstm_state_make(&stream, &model->runner.dims, model->fingerprint));
}

/* lstm_predict(model, state): the one-step-ahead forecast of output 0. */
Datum lstm_predict(PG_FUNCTION_ARGS)
{
    LstmDecoded *model = lstm_model_argument(fcinfo, 0, "lstm_predict");
    LstmStream stream;
    double *outputs = palloc(sizeof(double) * model->runner.dims.output_size);

    stream_from_state(&stream, model, PG_GETARG_DATUM(1), false);
    if (stream.series.steps == 0)
        PG_RETURN_NULL();
    lstm_runner_predict(&model->runner, &stream.series, outputs);
    PG_RETURN_FLOAT8(outputs[0]);
}

/* lstm_predict(model, state, horizon): forecasts fed back as inputs. */
Datum lstm_predict_horizon(PG_FUNCTION_ARGS)
{
    LstmDecoded *model = lstm_model_argument(fcinfo, 0, "lstm_predict");
    const LstmDims *dims = &model->runner.dims;
    int horizon = PG_GETARG_INT32(2);
    LstmStream stream;
    LstmSeries work;
    double *forecasts;
    Datum *elems;

    lstm_check_horizon(horizon, "lstm_predict", dims);
    stream_from_state(&stream, model, PG_GETARG_DATUM(1), false);
    if (stream.series.steps == 0)
        PG_RETURN_NULL();
    lstm_series_init(&work, dims, palloc(sizeof(float) * lstm_series_nfloats(dims)));
    forecasts = palloc(sizeof(double) * horizon);
    elems = palloc(sizeof(Datum) * horizon);
    lstm_runner_horizon(&model->runner, &stream.series, &work, horizon, forecasts,
                        lstm_check_interrupts, NULL);
    for (int i = 0; i < horizon; i++)
        elems[i] = Float8GetDatum(forecasts[i]);
    PG_RETURN_ARRAYTYPE_P(construct_array(elems, horizon, FLOAT8OID, sizeof(float8),
                                          FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
