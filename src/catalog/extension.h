/*
 * extension.h - where the installed extension lives: its schema, and the
 * quoted, schema-qualified names of its relations for SPI queries.
 */
#ifndef LSTM_CATALOG_EXTENSION_H
#define LSTM_CATALOG_EXTENSION_H

#include "lstm.h"

#include "utils/relcache.h"

/* lstm_extension_schema: OID of the schema the extension was created in. */
Oid lstm_extension_schema(void);

/*
 * lstm_extension_relation: the quoted, schema-qualified name of one of the
 * extension's relations (for example "public.lstm_models"), for SPI queries.
 */
char *lstm_extension_relation(const char *relname);

/*
 * lstm_extension_function: the quoted, schema-qualified name of one of the
 * extension's functions (for example "public".lstm_series_key), for SPI.
 */
char *lstm_extension_function(const char *name);

/*
 * lstm_policies_are_own: are rel's row-level security policies exactly the
 * n named ones the install script creates on it (names[], as many, no
 * other)? The C fast paths that stand in for SQL on the extension's tables
 * require it, since they apply those policies' rules themselves.
 */
bool lstm_policies_are_own(Relation rel, const char *const *names, int n);

#endif /* LSTM_CATALOG_EXTENSION_H */
