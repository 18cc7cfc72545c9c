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
 * lstm_models_read_relation: the relation lookups by name read. lstm_models
 * itself, except on a Citus node where lstm_models is a reference table with
 * a placement on the node: then that placement (the shard
 * lstm_models_<shardid>), so that a query Citus pushed down to the node reads
 * its own copy (a lookup through the table would start a distributed query
 * inside one). Found through Citus's catalog tables when they exist, once per
 * backend until the table's relcache entry is invalidated.
 * lstm_models_read_name: the same relation's quoted, schema-qualified name.
 */
Oid lstm_models_read_relation(void);
const char *lstm_models_read_name(void);

/*
 * lstm_models_check_writable: ERROR (42501) unless the current role may store
 * a model under name (table privileges, and membership in the owner of an
 * existing model of that name).
 */
void lstm_models_check_writable(const char *name);

#endif /* LSTM_CATALOG_MODELS_TABLE_H */
