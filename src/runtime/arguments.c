/*
 * arguments.c - checks and readers of the value arguments every inference
 * function shares (see arguments.h).
 */
#include "runtime/arguments.h"

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
    if (dims->output_size != dims->input_size)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("horizon forecasts need a model whose output_size equals its "
                               "input_size"),
                        errdetail("Each forecast is fed back as the next input; this model has "
                                  "input_size %d and output_size %d.",
                                  dims->input_size, dims->output_size)));
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
