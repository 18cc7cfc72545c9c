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

/* lstm_models_relation: OID of lstm_models in the extension's schema. */
Oid lstm_models_relation(void);

/*
 * lstm_models_check_writable: ERROR (42501) unless the current role may store
 * a model under name (table privileges, and membership in the owner of an
 * existing model of that name).
 */
void lstm_models_check_writable(const char *name);

#endif /* LSTM_CATALOG_MODELS_TABLE_H */
