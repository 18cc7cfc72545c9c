/*
 * stream_rebuild.c - lstm_stream_rebuild: recompute the saved streaming
 * states of a model from a table's history.
 *
 *   lstm_stream_rebuild(model text, source regclass, value_column text,
 *                       series_column text | NULL, time_column text,
 *                       series text DEFAULT NULL) returns bigint
 *
 * What lstm_score_trigger would have saved had every row arrived in time
 * order: the columns are resolved with the trigger's rules
 * (runtime/column_spec.h), the table is locked in SHARE mode so that no
 * insert is scored against a state being replaced, and the rows are read through a cursor with
 * the caller's privileges, ordered by series key and time, each series stepped with the core step
 * lstm_state_agg runs (so the states are the same bit for bit) and its state replaced with the
 * result, saved with the time of its last applied row encoded as the trigger encodes it. Only the
 * states of the series recomputed are replaced: the model's other states of the table stay, so
 * rebuilds of parts of a table (one series, or one Citus shard of a distributed table, whose
 * states the trigger keeps under the shard) leave every other series' state as it was. Rows with
 * a NULL series key or time are left out; rows with a NULL value are skipped; a series with no
 * value (or the one series asked for, with no row) is left with no state. Returns the number of
 * series saved. Memory is bounded by one fetch of rows and one series' state.
 */
#include "lstm.h"

#include "catalog/extension.h"
#include "catalog/models_table.h"
#include "runtime/anomaly_settings.h"
#include "runtime/arguments.h"
#include "runtime/column_spec.h"
#include "runtime/model_cache.h"
#include "types/lstm_state.h"

#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(lstm_stream_rebuild);

/* Rows fetched from the source cursor at a time. */
#define REBUILD_FETCH_ROWS 1000

/* One rebuild: its arguments, the resolved columns and the series being stepped. */
typedef struct Rebuild {
    char *model_name; /* argument 1 */
    Datum model_name_text;
    Oid relid;         /* argument 2 */
    Oid source;        /* the states' source: the root of relid (lstm_source_root) */
    char *relation;    /* schema-qualified, quoted: for SQL */
    LstmColumn value;  /* argument 3 */
    LstmColumn series; /* argument 4; attnum 0 for a single series */
    LstmColumn time;   /* argument 5 */
    LstmTimeCodec time_codec;
    int16 time_typlen;
    bool time_byval;
    text *only_series;            /* argument 6: the one series to rebuild, or NULL */
    LstmAnomalySettings settings; /* argument 7: the anomaly settings (NULL: defaults) */
    LstmDecoded *model;
    SPIPlanPtr save;   /* replace a series' state */
    SPIPlanPtr forget; /* delete a series' state */
    /* The series being stepped. */
    MemoryContext series_context; /* its key, last time and saved state */
    text *key;                    /* its key, NULL before the first row */
    LstmStream stream;            /* h, c, steps, residuals */
    float *stream_memory;         /* (2, L, H) */
    double *features;             /* (I) */
    double *outputs;              /* (O) */
    bool has_last_time;           /* a row of the series was applied */
    Datum last_time;              /* time of the last row applied (in series_context) */
    int64 saved;                  /* series saved so far */
} Rebuild;

/* ---------- arguments ---------- */

/* Error for a NULL argument that has no NULL meaning. */
static void require_argument(FunctionCallInfo fcinfo, int n, const char *name)
{
    if (PG_ARGISNULL(n))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("lstm_stream_rebuild %s must not be NULL", name)));
}

/* A text argument as a C string; NULL stays NULL. */
static char *text_argument(FunctionCallInfo fcinfo, int n)
{
    return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* The model name, the source relation and the series filter. */
static void read_arguments(FunctionCallInfo fcinfo, Rebuild *rb)
{
    require_argument(fcinfo, 0, "model");
    require_argument(fcinfo, 1, "source");
    rb->model_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    rb->model_name_text = PointerGetDatum(PG_GETARG_TEXT_PP(0));
    rb->relid = PG_GETARG_OID(1);
    if (get_rel_name(rb->relid) == NULL)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation with OID %u does not exist", rb->relid)));
    rb->source = lstm_source_root(rb->relid);
    rb->only_series = PG_ARGISNULL(5) ? NULL : PG_GETARG_TEXT_PP(5);
    lstm_anomaly_settings_read(PG_NARGS() < 7 || PG_ARGISNULL(6) ? NULL : PG_GETARG_JSONB_P(6),
                               "lstm_stream_rebuild", &rb->settings);
}

/* The model stored under the name, decoded (SPI connected); unknown is 42704. */
static LstmDecoded *read_model(FunctionCallInfo fcinfo, Rebuild *rb)
{
    char *query = psprintf("SELECT model FROM %s WHERE name OPERATOR(pg_catalog.=) $1",
                           lstm_models_read_name());
    Oid argtypes[1] = {TEXTOID};
    bool isnull;
    Datum model;
    int rc;

    rc = SPI_execute_with_args(query, 1, argtypes, &rb->model_name_text, NULL, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "lstm_stream_rebuild: reading lstm_models failed: %s",
             SPI_result_code_string(rc));
    if (SPI_processed == 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("model \"%s\" does not exist", rb->model_name),
                        errhint("Models are stored in the table lstm_models; "
                                "SELECT name FROM lstm_models lists them.")));
    model = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("model \"%s\" is NULL", rb->model_name)));
    return lstm_decoded_for_datum(lstm_model_cache(fcinfo->flinfo), model);
}

/* Resolve the value, time and series columns with the streaming rules. */
static void resolve_columns(FunctionCallInfo fcinfo, Rebuild *rb)
{
    LstmColumnSource source = {
        rb->relid, DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(rb->relid))),
        "lstm_stream_rebuild", LSTM_READ_STREAMING};

    if (!lstm_column_resolve(&source, LSTM_COLUMN_VALUE, text_argument(fcinfo, 2), "value_column",
                             &rb->value))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("lstm_stream_rebuild needs a value column")));
    if (!lstm_column_resolve(&source, LSTM_COLUMN_TIME, text_argument(fcinfo, 4), "time_column",
                             &rb->time))
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                 errmsg("lstm_stream_rebuild needs a time column"),
                 errhint("Each series is rebuilt from its rows in the order of the time column.")));
    lstm_time_codec_init(&rb->time_codec, &rb->time, CurrentMemoryContext);
    get_typlenbyval(rb->time.type, &rb->time_typlen, &rb->time_byval);
    lstm_column_resolve(&source, LSTM_COLUMN_SERIES, text_argument(fcinfo, 3), "series_column",
                        &rb->series);
}

/* ---------- the table and the states table ---------- */

/*
 * Lock the source in SHARE mode, and a table's partitions and children with
 * it, so that no insert is scored against a state being replaced. The lock
 * is taken by OID: rebuilding needs SELECT on the source (the rows are read
 * with the caller's privileges) and INSERT on it (row-level security on
 * lstm_stream_states), not the UPDATE or DELETE that LOCK TABLE ... IN SHARE
 * MODE would ask for. A view is locked with LOCK TABLE, which locks the
 * tables it reads. Once locked, the schema and name the queries use must
 * still be the OID's.
 */
static void lock_source(Rebuild *rb)
{
    Oid namespace = get_rel_namespace(rb->relid);
    char *schema = get_namespace_name(namespace);
    char *name = get_rel_name(rb->relid);

    if (schema == NULL || name == NULL)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation with OID %u does not exist", rb->relid)));
    rb->relation = quote_qualified_identifier(schema, name);
    if (pg_class_aclcheck(rb->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
        aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(get_rel_relkind(rb->relid)), name);
    if (get_rel_relkind(rb->relid) == RELKIND_VIEW) {
        int rc = SPI_execute(psprintf("LOCK TABLE %s IN SHARE MODE", rb->relation), false, 0);
        if (rc != SPI_OK_UTILITY)
            elog(ERROR, "lstm_stream_rebuild: locking the source failed: %s",
                 SPI_result_code_string(rc));
    } else
        list_free(find_all_inheritors(rb->relid, ShareLock, NULL));
    if (get_rel_namespace(rb->relid) != namespace || get_rel_name(rb->relid) == NULL ||
        strcmp(get_rel_name(rb->relid), name) != 0)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("relation %s was renamed or dropped while lstm_stream_rebuild "
                               "locked it",
                               rb->relation)));
}

/*
 * Prepare the statements that replace one series' state and delete it (for
 * this call only).
 */
static void prepare_writes(Rebuild *rb)
{
    Oid state_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("lstm_state"),
                                     ObjectIdGetDatum(lstm_extension_schema()));
    Oid argtypes[6] = {TEXTOID, REGCLASSOID, TEXTOID, state_type, BYTEAOID, REGTYPEOID};
    char *states = lstm_extension_relation("lstm_stream_states");
    char *save = psprintf("INSERT INTO %s (model_name, source, series, state, last_time, "
                          "last_time_type, late_rows, updated_at) "
                          "VALUES ($1, $2, $3, $4, $5, $6, 0, pg_catalog.now()) "
                          "ON CONFLICT (model_name, source, series) DO UPDATE SET "
                          "state = EXCLUDED.state, last_time = EXCLUDED.last_time, "
                          "last_time_type = EXCLUDED.last_time_type, late_rows = 0, "
                          "updated_at = EXCLUDED.updated_at",
                          states);
    char *forget = psprintf("DELETE FROM %s WHERE model_name OPERATOR(pg_catalog.=) $1 "
                            "AND source OPERATOR(pg_catalog.=) $2 "
                            "AND series OPERATOR(pg_catalog.=) $3",
                            states);

    if (!OidIsValid(state_type))
        elog(ERROR, "type lstm_state not found in the extension's schema");
    rb->save = SPI_prepare(save, 6, argtypes);
    if (rb->save == NULL)
        elog(ERROR, "lstm_stream_rebuild could not prepare \"%s\": %s", save,
             SPI_result_code_string(SPI_result));
    rb->forget = SPI_prepare(forget, 3, argtypes);
    if (rb->forget == NULL)
        elog(ERROR, "lstm_stream_rebuild could not prepare \"%s\": %s", forget,
             SPI_result_code_string(SPI_result));
}

/* Delete the saved state of the series whose key is key, if it has one. */
static void forget_series(Rebuild *rb, text *key)
{
    Datum args[3] = {rb->model_name_text, ObjectIdGetDatum(rb->source), PointerGetDatum(key)};
    int rc = SPI_execute_plan(rb->forget, args, NULL, false, 0);

    if (rc != SPI_OK_DELETE)
        elog(ERROR, "lstm_stream_rebuild: deleting a state failed: %s", SPI_result_code_string(rc));
}

/* ---------- stepping the series ---------- */

/*
 * Replace the saved state of the series being stepped with the one computed,
 * or delete it when no row of the series had a value.
 */
static void save_series(Rebuild *rb)
{
    const LstmDims *dims = &rb->model->runner.dims;
    Datum args[6];
    int rc;

    if (rb->key == NULL)
        return;
    if (rb->stream.series.steps == 0) {
        forget_series(rb, rb->key);
        return;
    }
    args[0] = rb->model_name_text;
    args[1] = ObjectIdGetDatum(rb->source);
    args[2] = PointerGetDatum(rb->key);
    args[3] = PointerGetDatum(lstm_state_make(&rb->stream, dims, rb->model->fingerprint));
    args[4] = PointerGetDatum(lstm_time_encode(&rb->time_codec, rb->last_time));
    args[5] = ObjectIdGetDatum(rb->time_codec.type);
    rc = SPI_execute_plan(rb->save, args, NULL, false, 0);
    if (rc != SPI_OK_INSERT)
        elog(ERROR, "lstm_stream_rebuild: saving the state failed: %s", SPI_result_code_string(rc));
    rb->saved++;
}

/* Save the series being stepped and start the one whose key is key. */
static void start_series(Rebuild *rb, text *key)
{
    save_series(rb);
    MemoryContextReset(rb->series_context);
    rb->key = (text *)MemoryContextAlloc(rb->series_context, VARSIZE_ANY(key));
    memcpy(rb->key, key, VARSIZE_ANY(key));
    rb->has_last_time = false;
    lstm_stream_init(&rb->stream, &rb->model->runner.dims, rb->stream_memory);
    lstm_anomaly_settings_use(&rb->stream, &rb->settings, "lstm_stream_rebuild");
}

/* Is key the key of the series being stepped? */
static bool same_series(const Rebuild *rb, text *key)
{
    return rb->key != NULL && VARSIZE_ANY_EXHDR(rb->key) == VARSIZE_ANY_EXHDR(key) &&
           memcmp(VARDATA_ANY(rb->key), VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)) == 0;
}

/* Apply one row (key, time, value) to its series. */
static void apply_row(Rebuild *rb, HeapTuple tuple, TupleDesc desc)
{
    bool isnull;
    text *key = DatumGetTextPP(SPI_getbinval(tuple, desc, 1, &isnull));
    Datum time = SPI_getbinval(tuple, desc, 2, &isnull);
    Datum value = SPI_getbinval(tuple, desc, 3, &isnull);
    const LstmDims *dims = &rb->model->runner.dims;
    MemoryContext rows_context = CurrentMemoryContext;
    LstmError err;

    if (!same_series(rb, key))
        start_series(rb, key);
    if (isnull)
        return; /* a NULL value: skipped, as the trigger and lstm_state_agg skip it */
    lstm_column_read_features(&rb->value, value, rb->features, lstm_row_width(dims), rb->model_name,
                              "lstm_stream_rebuild");
    err = lstm_stream_feed(&rb->model->runner, &rb->stream, rb->features, rb->outputs);
    if (err != LSTM_OK)
        lstm_report_row_error(err, rb->features, dims);
    if (rb->has_last_time && !rb->time_byval)
        pfree(DatumGetPointer(rb->last_time));
    MemoryContextSwitchTo(rb->series_context);
    rb->last_time = datumCopy(time, rb->time_byval, rb->time_typlen);
    rb->has_last_time = true;
    MemoryContextSwitchTo(rows_context);
}

/*
 * The SELECT of the rows: series key, time, value, in series and time order.
 * Rows of a table with equal times are taken in physical order (ctid): the
 * order they arrived in, for rows never updated.
 */
static char *rows_query(const Rebuild *rb)
{
    const char *key =
        rb->series.attnum != 0 ? lstm_series_key_sql(&rb->series) : "''::pg_catalog.text";
    char relkind = get_rel_relkind(rb->relid);
    bool has_ctid = relkind == RELKIND_RELATION || relkind == RELKIND_MATVIEW ||
                    relkind == RELKIND_PARTITIONED_TABLE;

    return psprintf("SELECT %s COLLATE pg_catalog.\"C\", %s, %s FROM %s WHERE %s IS NOT NULL%s%s%s "
                    "ORDER BY 1, 2%s",
                    key, rb->time.quoted, rb->value.quoted, rb->relation, rb->time.quoted,
                    rb->series.attnum != 0 ? psprintf(" AND %s IS NOT NULL", rb->series.quoted)
                                           : "",
                    rb->only_series != NULL ? " AND " : "",
                    rb->only_series != NULL ? psprintf("%s OPERATOR(pg_catalog.=) $1", key) : "",
                    has_ctid ? ", ctid" : "");
}

/* Read the rows through a cursor and step and save every series. */
static void rebuild_series(Rebuild *rb)
{
    const LstmDims *dims = &rb->model->runner.dims;
    Oid argtypes[1] = {TEXTOID};
    Datum args[1] = {PointerGetDatum(rb->only_series)};
    MemoryContext rows_context, spi_context = CurrentMemoryContext;
    SPIPlanPtr plan;
    Portal portal;

    rb->stream_memory = palloc(sizeof(float) * lstm_series_nfloats(dims));
    rb->features = palloc(sizeof(double) * dims->input_size);
    rb->outputs = palloc(sizeof(double) * dims->output_size);
    rb->series_context =
        AllocSetContextCreate(spi_context, "lstm_stream_rebuild series", ALLOCSET_DEFAULT_SIZES);
    rows_context =
        AllocSetContextCreate(spi_context, "lstm_stream_rebuild rows", ALLOCSET_DEFAULT_SIZES);
    plan = SPI_prepare(rows_query(rb), rb->only_series != NULL ? 1 : 0, argtypes);
    if (plan == NULL)
        elog(ERROR, "lstm_stream_rebuild could not prepare its query: %s",
             SPI_result_code_string(SPI_result));
    portal = SPI_cursor_open(NULL, plan, args, NULL, true);
    for (;;) {
        SPITupleTable *batch;
        uint64 n;

        SPI_cursor_fetch(portal, true, REBUILD_FETCH_ROWS);
        batch = SPI_tuptable;
        n = SPI_processed;
        if (n == 0)
            break;
        for (uint64 r = 0; r < n; r++) {
            CHECK_FOR_INTERRUPTS();
            MemoryContextSwitchTo(rows_context);
            apply_row(rb, batch->vals[r], batch->tupdesc);
            MemoryContextSwitchTo(spi_context);
        }
        SPI_freetuptable(batch);
        MemoryContextReset(rows_context);
    }
    SPI_cursor_close(portal);
    save_series(rb);
    if (rb->only_series != NULL && rb->key == NULL)
        forget_series(rb, rb->only_series); /* the series asked for has no row */
}

/* lstm_stream_rebuild(model, source, value_column, series_column, time_column [, series]). */
Datum lstm_stream_rebuild(PG_FUNCTION_ARGS)
{
    MemoryContext caller = CurrentMemoryContext;
    Rebuild rb;

    memset(&rb, 0, sizeof(rb));
    read_arguments(fcinfo, &rb);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "lstm_stream_rebuild: SPI_connect failed");
    rb.model = read_model(fcinfo, &rb);
    resolve_columns(fcinfo, &rb);
    lock_source(&rb);
    prepare_writes(&rb);
    rebuild_series(&rb);
    SPI_finish();
    MemoryContextSwitchTo(caller);
    PG_RETURN_INT64(rb.saved);
}
