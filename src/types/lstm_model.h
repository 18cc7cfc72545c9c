/*
 * lstm_model.h - the lstm_model SQL type: a varlena whose payload is the
 * core's serialized model (core/model_format.h), always validated on entry.
 */
#ifndef LSTM_TYPES_LSTM_MODEL_H
#define LSTM_TYPES_LSTM_MODEL_H

#include "lstm.h"

/*
 * The lstm_model datum: a varlena whose payload is the core's serialized
 * model (LstmModelHeader, then the floats). Always read through
 * lstm_model_from_datum(), which validates.
 */
typedef struct LstmModelDatum {
    int32 vl_len_;          /* varlena header (do not touch directly) */
    LstmModelHeader header; /* sizes and format; float data follows */
} LstmModelDatum;

#define LSTM_MODEL_PAYLOAD(m) ((void *)&(m)->header)
#define LSTM_MODEL_PAYLOAD_SIZE(m) ((size_t)VARSIZE(m) - VARHDRSZ)

/* Raise the ERROR for a failed lstm_model check (never returns). */
void lstm_report_model_error(LstmError err, const char *message, LstmValueSource source)
    pg_attribute_noreturn();

/*
 * lstm_model_from_datum: detoast a stored lstm_model and validate it.
 * The result may be a fresh copy; callers free it when done.
 */
LstmModelDatum *lstm_model_from_datum(Datum datum);

/* lstm_model_fingerprint_of: the core fingerprint of a validated model. */
uint64 lstm_model_fingerprint_of(const LstmModelDatum *model);

#endif /* LSTM_TYPES_LSTM_MODEL_H */
