/*
 * extension.h - where the installed extension lives: its schema, and the
 * quoted, schema-qualified names of its relations for SPI queries.
 */
#ifndef LSTM_CATALOG_EXTENSION_H
#define LSTM_CATALOG_EXTENSION_H

#include "lstm.h"

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

#endif /* LSTM_CATALOG_EXTENSION_H */
