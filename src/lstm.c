/*
 * lstm.c - module entry: load-time set-up (_PG_init calls each module's
 * init) and the mapping from core check failures to SQLSTATEs.
 */
#include "lstm.h"

#include "utils/guc.h"

#include "features/train.h"

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
    lstm_train_init();
    MarkGUCPrefixReserved("lstm");
}

/*
 * Turn a failed core check of a value of type type_name (lstm_model or
 * lstm_state) into an ERROR whose SQLSTATE says where the bytes came from:
 * a stored value that fails is data corruption, whatever the check.
 */
void lstm_report_value_error(const char *type_name, LstmError err, const char *message,
                             LstmValueSource source)
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

    ereport(ERROR,
            (errcode(code), errmsg("invalid %s: %s", type_name, message),
             source == LSTM_FROM_STORED
                 ? errdetail("A stored %s value failed validation when read back.", type_name)
                 : 0));
}
