/*
 * arguments.c - checks and readers of the value arguments every inference
 * function shares (see arguments.h).
 */
#include "runtime/arguments.h"

#include "core/runner.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"

/*
 * Check a horizon for function: within 1..LSTM_MAX_HORIZON, and a model
 * whose forecasts can be fed back as inputs (output_size = input_size).
 */
void lstm_check_horizon(int horizon, const char *function, const LstmDims *dims)
{
    if (horizon < 1 || horizon > LSTM_MAX_HORIZON)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s horizon must be between 1 and %d, got %d", function,
                               LSTM_MAX_HORIZON, horizon)));
    if (dims->flags & LSTM_FLAG_SERIES_SCALING) {
        if (horizon > dims->output_size)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("this model forecasts at most %d steps", dims->output_size),
                     errdetail("A series-scaled model forecasts its next %d rows directly; %s was "
                               "asked for %d.",
                               dims->output_size, function, horizon),
                     errhint("Train the model with a longer horizon.")));
        return;
    }
    if (dims->output_size != dims->input_size)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("horizon forecasts need a model whose output_size equals its "
                               "input_size"),
                        errdetail("Each forecast is fed back as the next input; this model has "
                                  "input_size %d and output_size %d.",
                                  dims->input_size, dims->output_size)));
}

/* A row the core refused: outside the log's domain (22023), or out of range. */
void lstm_report_row_error(LstmError err, const double *features, const LstmDims *dims)
{
    if (err == LSTM_ERR_DOMAIN)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("value %g is outside the domain of the model's log transform", features[0]),
                 errdetail("The model was trained on the logarithm of its series, so every "
                           "value must be greater than zero.")));
    lstm_report_input_range(features, lstm_row_width(dims));
}

/* One value per row for a series-scaled model; a features array for several inputs. */
void lstm_check_value_form(const LstmDims *dims, bool is_array, const char *function)
{
    if (is_array && (dims->flags & LSTM_FLAG_SERIES_SCALING))
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("a series-scaled model takes one value per row, but %s was given a "
                               "features array",
                               function),
                        errdetail("The model computes its %d inputs from the series' own values.",
                                  dims->input_size),
                        errhint("Pass the series' value as a float8.")));
    if (!is_array && lstm_row_width(dims) != 1)
        ereport(ERROR,
                (errcode(ERRCODE_DATA_EXCEPTION),
                 errmsg("model expects %d input features but %s was given a single value",
                        dims->input_size, function),
                 errhint("Pass the features as a float8[] of length %d.", dims->input_size)));
}

/* Reject NaN and infinite input values with a message naming the argument. */
void lstm_check_finite(const double *values, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        if (!isfinite(values[i]))
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("%s must be finite, got %s", what,
                            isnan(values[i]) ? "NaN" : (values[i] > 0 ? "Infinity" : "-Infinity")),
                     errhint("Filter or replace non-finite values before forecasting; "
                             "NULL values are skipped.")));
    }
}

/* A row too large for the model's scaling: numeric_value_out_of_range. */
void lstm_report_input_range(const double *features, int n)
{
    StringInfoData values;
    initStringInfo(&values);
    for (int i = 0; i < n && i < 8; i++)
        appendStringInfo(&values, "%s%g", i ? ", " : "", features[i]);
    if (n > 8)
        appendStringInfoString(&values, ", ...");
    ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                    errmsg("input row (%s) is out of range for the model", values.data),
                    errdetail("Scaled with the model's input_mean and input_std, a value does not "
                              "fit a float32.")));
    pg_unreachable();
}

/*
 * Copy a float8[] argument into features (n values) without allocating for
 * the usual short, inline arrays: the packed varlena is read in place.
 */
void lstm_read_features(Datum datum, double *features, int n, const char *function)
{
    struct varlena *packed = (struct varlena *)PG_DETOAST_DATUM_PACKED(datum);
    const char *body = VARDATA_ANY(packed); /* ArrayType after its length word */
    int32 ndim, dataoffset, length = 0;

    memcpy(&ndim, body, sizeof(int32));
    memcpy(&dataoffset, body + sizeof(int32), sizeof(int32));
    if (ndim == 1)
        memcpy(&length, body + offsetof(ArrayType, elemtype) - VARHDRSZ + sizeof(Oid),
               sizeof(int32));
    if (ndim > 1)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        errmsg("%s features must be a one-dimensional array", function)));
    if (length != n)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("model expects %d input feature%s but the row has %d", n,
                               n == 1 ? "" : "s", length),
                        errhint("The features array must have one element per model input.")));
    if (dataoffset != 0)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s features must not contain NULL elements", function),
                        errhint("A NULL array skips the row; a partial row is not allowed.")));
    memcpy(features, body + ARR_OVERHEAD_NONULLS(1) - VARHDRSZ, sizeof(double) * n);
    if ((Pointer)packed != DatumGetPointer(datum))
        pfree(packed);
}

/* CHECK_FOR_INTERRUPTS() for the core's long loops (see arguments.h). */
void lstm_check_interrupts(void *arg)
{
    CHECK_FOR_INTERRUPTS();
}
