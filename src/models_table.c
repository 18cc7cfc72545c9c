/*
 * models_table.c - the lstm_models table: models stored as rows under a
 * name. The table itself is created by the install script and registered
 * with pg_extension_config_dump so that pg_dump keeps its rows; this file
 * reads a model by name for the name overloads of every inference function.
 */
#include "lstm.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(lstm_model_by_name);

/* The schema the extension was created in (pg_extension.extnamespace). */
static Oid extension_schema(void)
{
    Oid ext = get_extension_oid("lstm", false);
    Relation rel = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    SysScanDesc scan;
    HeapTuple tuple;
    Oid schema = InvalidOid;

    ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
    scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
    tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple))
        schema = ((Form_pg_extension)GETSTRUCT(tuple))->extnamespace;
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    if (!OidIsValid(schema))
        elog(ERROR, "extension lstm has no schema");
    return schema;
}

/* Schema-qualified name of the lstm_models table of the installed extension. */
static char *models_table_name(void)
{
    char *schema = get_namespace_name(extension_schema());
    return psprintf("%s.lstm_models", quote_identifier(schema));
}

/* The schema the extension lives in (shared with the streaming glue). */
Oid lstm_extension_schema(void)
{
    return extension_schema();
}

/* Quoted, schema-qualified name of one of the extension's own relations. */
char *lstm_extension_relation(const char *relname)
{
    char *schema = get_namespace_name(extension_schema());
    return psprintf("%s.%s", quote_identifier(schema), quote_identifier(relname));
}

/*
 * Read the model stored under name, with the caller's privileges, as a
 * validated palloc'd copy in the caller's memory context.
 */
LstmModelDatum *lstm_models_fetch(const char *name)
{
    MemoryContext caller = CurrentMemoryContext;
    Oid argtypes[1] = {TEXTOID};
    Datum args[1];
    char *query;
    int rc;
    bool isnull;
    Datum value;
    LstmModelDatum *copy;

    query = psprintf("SELECT model FROM %s WHERE name = $1", models_table_name());
    args[0] = CStringGetTextDatum(name);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    rc = SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "reading lstm_models failed: %s", SPI_result_code_string(rc));
    if (SPI_processed == 0)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("model \"%s\" does not exist", name),
                 errhint("Models are stored in the table lstm_models; "
                         "SELECT name FROM lstm_models lists them.")));
    value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull)
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("model \"%s\" is NULL", name)));
    /* Validate and copy out of SPI's memory before it goes away. */
    MemoryContextSwitchTo(caller);
    copy = lstm_model_from_datum(value);
    if ((Pointer)copy == DatumGetPointer(value)) {
        LstmModelDatum *dup = palloc_extended(VARSIZE(copy), MCXT_ALLOC_HUGE);
        memcpy(dup, copy, VARSIZE(copy));
        copy = dup;
    }
    SPI_finish();
    MemoryContextSwitchTo(caller);
    return copy;
}

/* lstm_model_by_name(name text): the model stored under name. */
Datum lstm_model_by_name(PG_FUNCTION_ARGS)
{
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    PG_RETURN_POINTER(lstm_models_fetch(name));
}
