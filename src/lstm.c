/*
 * lstm.c - the one rule every glue layer shares: the SQLSTATE of a failed
 * core check of an lstm_model or lstm_state value, by where its bytes came
 * from. (The module entry, _PG_init, is src/module.c.)
 */
#include "lstm.h"

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
