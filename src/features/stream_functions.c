/*
 * stream_functions.c - the functions that stream a series one row at a time:
 *
 *   lstm_state_agg(model, value | features [, settings] [ORDER BY t]) -> lstm_state
 *   lstm_anomaly_score(model, value | features [, settings] [ORDER BY t]) -> float8
 *   lstm_anomaly(model, value | features [, settings] [ORDER BY t]) -> lstm_anomaly_row
 *   lstm_step(model, state, value | features [, settings]) -> lstm_state
 *   lstm_predict(model, state) -> float8
 *   lstm_predict(model, state, horizon) -> float8[]
 *
 * model is an lstm_model or the name of a row of lstm_models; settings the
 * anomaly score's settings (jsonb, runtime/anomaly_settings.h), taken where
 * a series starts and kept in its state.
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
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "runtime/anomaly_settings.h"
#include "runtime/arguments.h"
#include "runtime/model_cache.h"
#include "types/lstm_state.h"

PG_FUNCTION_INFO_V1(lstm_state_sfunc);
PG_FUNCTION_INFO_V1(lstm_anomaly_sfunc);
PG_FUNCTION_INFO_V1(lstm_state_final);
PG_FUNCTION_INFO_V1(lstm_anomaly_final);
PG_FUNCTION_INFO_V1(lstm_anomaly_row_sfunc);
PG_FUNCTION_INFO_V1(lstm_anomaly_row_final);
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
    LstmDecoded *model;       /* owned by the query-long cache */
    LstmStream stream;        /* h, c, normaliser, steps, anomaly state, last forecast/score/row */
    double *features;         /* (I) the current row */
    double *outputs;          /* (O) scratch for the forecast */
    bool last_row_null;       /* the latest row had a NULL value: it has no score */
    struct varlena *settings; /* copy of the settings argument the group started with */
    bool settings_null;       /* ... which was NULL (or absent): the defaults */
    TupleDesc row_desc;       /* lstm_anomaly's result type, blessed once */
} StateAgg;

/* The settings argument (argno 3, when the call has one) of a row, or NULL. */
static struct varlena *settings_argument(FunctionCallInfo fcinfo)
{
    if (PG_NARGS() < 4 || PG_ARGISNULL(3))
        return NULL;
    return PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(3));
}

/* The settings a jsonb argument gives (NULL: the defaults). */
static void settings_of(struct varlena *raw, const char *function, LstmAnomalySettings *settings)
{
    lstm_anomaly_settings_read(raw == NULL ? NULL : (Jsonb *)PG_DETOAST_DATUM(PointerGetDatum(raw)),
                               function, settings);
}

/*
 * A group's first row: its settings start the stream, and a copy of the
 * argument is kept (in the aggregate context) to recognise it on later rows.
 */
static void start_group_settings(StateAgg *agg, FunctionCallInfo fcinfo, const char *function)
{
    struct varlena *raw = settings_argument(fcinfo);
    LstmAnomalySettings settings;

    settings_of(raw, function, &settings);
    lstm_anomaly_settings_use(&agg->stream, &settings, function);
    agg->settings_null = raw == NULL;
    if (raw != NULL) {
        agg->settings = palloc(VARSIZE_ANY(raw));
        memcpy(agg->settings, raw, VARSIZE_ANY(raw));
    }
}

/* Later rows: the same settings (by bytes, else by value), or an ERROR. */
static void check_group_settings(StateAgg *agg, FunctionCallInfo fcinfo, MemoryContext aggcontext,
                                 const char *function)
{
    struct varlena *raw = settings_argument(fcinfo);
    LstmAnomalySettings settings;
    MemoryContext old;

    if (raw == NULL ? agg->settings_null
                    : (!agg->settings_null && VARSIZE_ANY(raw) == VARSIZE_ANY(agg->settings) &&
                       memcmp(raw, agg->settings, VARSIZE_ANY(raw)) == 0))
        return;
    settings_of(raw, function, &settings);
    if (!lstm_anomaly_settings_equal(&settings, &agg->stream.anomaly.settings))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s settings changed within one group", function),
                        errdetail("Every row of a group must use the same anomaly settings.")));
    /* Equal settings written differently: remember this form too. */
    old = MemoryContextSwitchTo(aggcontext);
    agg->settings_null = raw == NULL;
    if (raw != NULL) {
        agg->settings = palloc(VARSIZE_ANY(raw));
        memcpy(agg->settings, raw, VARSIZE_ANY(raw));
    }
    MemoryContextSwitchTo(old);
}

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
        start_group_settings(agg, fcinfo, function);
        MemoryContextSwitchTo(old);
    } else if (agg->model != model)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s model changed within one group", function),
                        errdetail("Every row of a group must use the same model.")));
    else
        check_group_settings(agg, fcinfo, aggcontext, function);

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

/* lstm_anomaly transition: the same, with its own name in messages. */
Datum lstm_anomaly_row_sfunc(PG_FUNCTION_ARGS)
{
    return state_transition(fcinfo, "lstm_anomaly", "lstm_anomaly input");
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

/*
 * lstm_anomaly final: the latest row as (forecast, residual, z, score,
 * alert): the forecast made before it (NULL for a series' first row), its
 * residual, and, past the warm-up, z, the score and the alert (score >=
 * threshold). A row whose value is NULL gets the current forecast and NULLs.
 * NULL for no rows.
 */
Datum lstm_anomaly_row_final(PG_FUNCTION_ARGS)
{
    StateAgg *agg = PG_ARGISNULL(0) ? NULL : (StateAgg *)PG_GETARG_POINTER(0);
    Datum values[5] = {0, 0, 0, 0, 0};
    bool nulls[5] = {true, true, true, true, true};
    const LstmStream *stream;

    if (agg == NULL)
        PG_RETURN_NULL();
    stream = &agg->stream;
    if (agg->row_desc == NULL) {
        MemoryContext aggcontext, old;
        TupleDesc desc;
        if (!AggCheckCallContext(fcinfo, &aggcontext) ||
            get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("lstm_anomaly final function called in a wrong context")));
        old = MemoryContextSwitchTo(aggcontext);
        agg->row_desc = BlessTupleDesc(CreateTupleDescCopy(desc));
        MemoryContextSwitchTo(old);
    }
    if (agg->last_row_null) {
        if (stream->series.steps > 0) {
            lstm_runner_predict(&agg->model->runner, &stream->series, agg->outputs);
            values[0] = Float8GetDatum(agg->outputs[0]);
            nulls[0] = false;
        }
    } else if (stream->flags & LSTM_STATE_HAS_FORECAST) {
        values[0] = Float8GetDatum(stream->last_forecast);
        values[1] = Float8GetDatum(stream->row.residual);
        nulls[0] = nulls[1] = false;
        if (stream->row.has_score) {
            values[2] = Float8GetDatum(stream->row.z);
            values[3] = Float8GetDatum(stream->row.score);
            values[4] = BoolGetDatum(stream->row.alert != 0);
            nulls[2] = nulls[3] = nulls[4] = false;
        }
    }
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(agg->row_desc, values, nulls)));
}

/* ---------- lstm_step and lstm_predict ---------- */

/*
 * lstm_step(model, state, value | features [, settings]): the state after
 * one more row. A NULL state starts a series (with the settings, or the
 * defaults); a state continues with its own settings, and settings other
 * than those are an error. A NULL value returns the state unchanged.
 */
Datum lstm_step(PG_FUNCTION_ARGS)
{
    LstmDecoded *model = lstm_model_argument(fcinfo, 0, "lstm_step");
    const LstmDims *dims = &model->runner.dims;
    LstmStream stream;
    double *features, *outputs;
    struct varlena *raw = settings_argument(fcinfo);
    LstmAnomalySettings settings;
    LstmError err;

    if (raw != NULL)
        settings_of(raw, "lstm_step", &settings);
    if (PG_ARGISNULL(2)) {
        if (PG_ARGISNULL(1))
            PG_RETURN_NULL();
        /* Still an error to pass another model's state, or other settings. */
        stream_from_state(&stream, model, PG_GETARG_DATUM(1), false);
        if (raw != NULL)
            lstm_anomaly_settings_use(&stream, &settings, "lstm_step");
        PG_RETURN_DATUM(PG_GETARG_DATUM(1));
    }
    features = palloc(sizeof(double) * dims->input_size);
    outputs = palloc(sizeof(double) * dims->output_size);
    read_value_argument(fcinfo, 2, dims, features, "lstm_step", "lstm_step input");
    stream_from_state(&stream, model, PG_GETARG_DATUM(1), PG_ARGISNULL(1));
    if (raw != NULL)
        lstm_anomaly_settings_use(&stream, &settings, "lstm_step");
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
