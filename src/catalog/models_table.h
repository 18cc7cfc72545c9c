/*
 * models_table.h - the lstm_models table: models stored as rows under a name.
 */
#ifndef LSTM_CATALOG_MODELS_TABLE_H
#define LSTM_CATALOG_MODELS_TABLE_H

#include "types/lstm_model.h"

#include "utils/palloc.h"
#include "utils/snapshot.h"

/*
 * lstm_models_fetch: read the model stored under name from lstm_models
 * (with the caller's privileges), returned as a validated palloc'd copy in
 * the current memory context. An unknown name is an ERROR (42704).
 */
LstmModelDatum *lstm_models_fetch(const char *name);

/*
 * lstm_models_read_direct: the stored model datum of the row named name that
 * the current statement and role would see (a raw copy in context: a TOAST
 * pointer stays one), read through the primary key with row-level security
 * applied in C. Returns false, reading nothing, when the catalog is not what
 * that shortcut assumes (no SELECT privilege, policies other than the
 * extension's own, row_security off, an older version's table): the caller
 * then reads through SQL, which applies whatever the catalog says. *found is
 * false when no row the role may see has that name. snapshot is the one to
 * read with; InvalidSnapshot takes the one an SPI statement would (this
 * command's changes visible).
 */
bool lstm_models_read_direct(Oid relid, const char *name, Snapshot snapshot, MemoryContext context,
                             Datum *model, bool *found);

/*
 * lstm_models_invalidate: forget what this backend keeps about lstm_models
 * (the relation lookups read, where model rows were) when relid, or every
 * relation (InvalidOid), had a relcache invalidation. Called from the
 * module's one relcache callback (module.c).
 */
void lstm_models_invalidate(Oid relid);

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
