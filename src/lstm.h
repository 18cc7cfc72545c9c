/*
 * lstm.h - the one rule every glue layer shares: how a failed check of an
 * lstm_model or lstm_state value becomes an ERROR (which SQLSTATE, from where
 * the bytes came). Every glue layer includes it; it includes nothing of them.
 * The module entry (_PG_init) is src/module.c, above every layer.
 *
 * Glue layers (each only calls the ones below it):
 *   features/  lstm_forecast, stream functions, the scoring trigger, lstm_train
 *   runtime/   decoded-model cache, argument readers, column specs
 *   catalog/   the extension's schema and tables (lstm_models)
 *   types/     the SQL types lstm_model and lstm_state, their JSON form
 *   core/      the math, plain C without PostgreSQL
 */
#ifndef LSTM_GLUE_H
#define LSTM_GLUE_H

#include "postgres.h"

#include "fmgr.h"

#include "core/model_format.h"

/* Where a value's bytes came from: decides the SQLSTATE of a bad one. */
typedef enum LstmValueSource {
    LSTM_FROM_TEXT,   /* text or jsonb input: 22P02 */
    LSTM_FROM_BINARY, /* binary recv: 22P03 */
    LSTM_FROM_STORED  /* a stored value read back: XX001 data corrupted */
} LstmValueSource;

/*
 * Raise the ERROR for a failed core check of a value of type type_name
 * (lstm_model or lstm_state); never returns.
 */
void lstm_report_value_error(const char *type_name, LstmError err, const char *message,
                             LstmValueSource source) pg_attribute_noreturn();

#endif /* LSTM_GLUE_H */
