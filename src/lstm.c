/*
 * lstm.c - module entry: load-time set-up and the error helpers every glue
 * file shares.
 */
#include "lstm.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "utils/guc.h"

#include <cblas.h>

PG_MODULE_MAGIC;

void _PG_init(void);

/*
 * _PG_init: a backend is one process serving one query at a time, so
 * OpenBLAS runs single-threaded inside it (parallelism comes from running
 * more backends, one per series or partition); defines the lstm.* settings.
 */
void _PG_init(void)
{
    openblas_set_num_threads(1);
    lstm_train_define_gucs();
    MarkGUCPrefixReserved("lstm");
}

/* Turn a core check failure into an ERROR with a SQLSTATE for its source. */
void lstm_report_model_error(LstmError err, const char *message, LstmModelSource source)
{
    int code;

    if (source == LSTM_FROM_STORED)
        code = ERRCODE_DATA_CORRUPTED;
    else if (err == LSTM_ERR_LIMIT)
        code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
    else if (source == LSTM_FROM_TEXT)
        code = ERRCODE_INVALID_TEXT_REPRESENTATION;
    else
        code = ERRCODE_INVALID_BINARY_REPRESENTATION;

    ereport(ERROR, (errcode(code), errmsg("invalid lstm_model: %s", message),
                    source == LSTM_FROM_STORED
                        ? errdetail("A stored lstm_model value failed validation when read back.")
                        : 0));
    pg_unreachable();
}

/* Reject NaN and infinite input values with a message naming the argument. */
void lstm_check_finite(const double *values, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        if (!isfinite(values[i]))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("%s must be finite, got %s", what,
                                   isnan(values[i]) ? "NaN"
                                                    : (values[i] > 0 ? "Infinity" : "-Infinity")),
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
