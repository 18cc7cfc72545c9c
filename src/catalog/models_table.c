/*
 * models_table.c - the lstm_models table: models stored as rows under a
 * name. The table itself is created by the install script and registered
 * with pg_extension_config_dump so that pg_dump keeps its rows; this file
 * reads a model by name for the name overloads of every inference function.
 */
#include "catalog/models_table.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "catalog/extension.h"

PG_FUNCTION_INFO_V1(lstm_model_by_name);

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

    query = psprintf("SELECT model FROM %s WHERE name OPERATOR(pg_catalog.=) $1",
                     lstm_extension_relation("lstm_models"));
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
