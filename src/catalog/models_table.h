/*
 * models_table.h - the lstm_models table: models stored as rows under a name.
 */
#ifndef LSTM_CATALOG_MODELS_TABLE_H
#define LSTM_CATALOG_MODELS_TABLE_H

#include "types/lstm_model.h"

/*
 * lstm_models_fetch: read the model stored under name from lstm_models
 * (with the caller's privileges), returned as a validated palloc'd copy in
 * the current memory context. An unknown name is an ERROR (42704).
 */
LstmModelDatum *lstm_models_fetch(const char *name);

#endif /* LSTM_CATALOG_MODELS_TABLE_H */
