/*
 * trigger.c - lstm_score_trigger: score rows as they are inserted, keeping
 * every series' recurrent state in the table lstm_stream_states.
 *
 *   CREATE TRIGGER score BEFORE INSERT ON readings FOR EACH ROW
 *   EXECUTE FUNCTION lstm_score_trigger('model name', 'value column',
 *       'series column' | NULL, 'forecast column' | NULL, 'score column' | NULL
 *       [, 'time column']);
 *
 * Per row: lock the series' saved state (model name, series key) in
 * lstm_stream_states, creating it on the series' first row; write into the
 * new row the forecast that the state made BEFORE this value and the row's
 * anomaly score; advance the state by the row and save it. The arithmetic is
 * the core step lstm_state_agg and lstm_anomaly_score run, so a series
 * inserted in time order gets exactly the state and scores those give over
 * the same rows.
 *
 * Rules (the README's "Streaming" section says the same):
 * - NULL value: the forecast column gets the current forecast, the score
 *   column NULL, and the state is not advanced (lstm_forecast skips NULLs).
 * - NULL series key or NULL time: the row is stored unscored (both columns
 *   NULL) and no state is touched.
 * - With a time column, a row older than the newest row applied to its series
 *   is late: it is stored unscored, the state is not advanced, and the
 *   series' late_rows counter goes up. Equal times are applied in arrival
 *   order. Without a time column every row is applied in arrival order.
 * - A model replaced under the same name (its fingerprint no longer matches
 *   the saved state): the series restarts from a fresh state under the new
 *   model, with a WARNING; lstm_stream_rebuild warms it up from history.
 * - Only INSERT scores: later UPDATEs and DELETEs of rows do not change the
 *   saved state (fire the trigger on anything else and it raises an error);
 *   lstm_stream_rebuild recomputes states from the table as it is.
 * - Concurrency: the state row is locked (SELECT ... FOR NO KEY UPDATE)
 *   before it is read, so concurrent inserts into one series are applied one
 *   after the other, each exactly once; a series' first row is created with
 *   INSERT ... ON CONFLICT DO NOTHING and, if another session won the race,
 *   locked and advanced instead. Under REPEATABLE READ or SERIALIZABLE a
 *   concurrent update of the same series is a serialization failure.
 *
 * Cost: the column set-up is resolved once per statement (fn_extra), the
 * SQL is prepared once per backend (SPI_keepplan), and the decoded model is
 * kept per backend and recognised by its stored (TOAST pointer) datum, so a
 * row costs two SPI executions (lock, update) and one cell step.
 */
#include "lstm.h"

#include "catalog/extension.h"
#include "runtime/arguments.h"
#include "runtime/model_cache.h"
#include "types/lstm_state.h"

#include <inttypes.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(lstm_score_trigger);

/* ---------- SQL prepared once per backend ---------- */

/* The statements the trigger runs, kept across transactions. */
typedef struct StreamPlans {
    Oid schema;        /* extension schema they were prepared for */
    Oid state_type;    /* lstm_state's OID there */
    SPIPlanPtr lock;   /* the series' state and its model, row locked */
    SPIPlanPtr model;  /* the model alone, for a series' first row */
    SPIPlanPtr insert; /* a series' first state */
    SPIPlanPtr update; /* the advanced state */
    SPIPlanPtr late;   /* count a late row */
} StreamPlans;

static StreamPlans plans;

/* Prepare one statement and keep it for the life of the backend. */
static SPIPlanPtr keep_plan(const char *query, int nargs, Oid *argtypes)
{
    SPIPlanPtr plan = SPI_prepare(query, nargs, argtypes);
    if (plan == NULL)
        elog(ERROR, "lstm_score_trigger could not prepare \"%s\": %s", query,
             SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0)
        elog(ERROR, "lstm_score_trigger could not keep a prepared plan");
    return plan;
}

/* (Re)prepare the statements for the extension in schema (SPI connected). */
static void prepare_plans(Oid schema, Oid state_type)
{
    char *states = lstm_extension_relation("lstm_stream_states");
    char *models = lstm_extension_relation("lstm_models");
    Oid lock_args[2] = {TEXTOID, TEXTOID};
    Oid insert_args[5] = {TEXTOID, TEXTOID, state_type, BYTEAOID, REGTYPEOID};
    Oid update_args[5] = {TEXTOID, TEXTOID, state_type, BYTEAOID, REGTYPEOID};
    SPIPlanPtr *all[5] = {&plans.lock, &plans.model, &plans.insert, &plans.update, &plans.late};

    for (int i = 0; i < 5; i++) {
        if (*all[i] != NULL)
            SPI_freeplan(*all[i]);
        *all[i] = NULL;
    }
    plans.schema = InvalidOid;
    plans.lock = keep_plan(psprintf("SELECT s.state, s.last_time, s.last_time_type, "
                                    "m.model FROM %s s JOIN %s m ON m.name = s.model_name "
                                    "WHERE s.model_name = $1 AND s.series = $2 "
                                    "FOR NO KEY UPDATE OF s",
                                    states, models),
                           2, lock_args);
    plans.model = keep_plan(psprintf("SELECT model FROM %s WHERE name = $1", models), 1, lock_args);
    plans.insert = keep_plan(psprintf("INSERT INTO %s (model_name, series, state, last_time, "
                                      "last_time_type, updated_at) VALUES ($1, $2, $3, $4, $5, "
                                      "now()) ON CONFLICT (model_name, series) DO NOTHING",
                                      states),
                             5, insert_args);
    /* By key, not ctid: a TID scan asks the kernel for the relation's size every time. */
    plans.update = keep_plan(psprintf("UPDATE %s SET state = $3, last_time = $4, "
                                      "last_time_type = $5, updated_at = now() "
                                      "WHERE model_name = $1 AND series = $2",
                                      states),
                             5, update_args);
    plans.late = keep_plan(psprintf("UPDATE %s SET late_rows = late_rows + 1, updated_at = now() "
                                    "WHERE model_name = $1 AND series = $2",
                                    states),
                           2, lock_args);
    plans.schema = schema;
    plans.state_type = state_type;
}

/* ---------- decoded models, one per model name per backend ---------- */

/*
 * A model name's decoded model. The cache recognises the stored datum by its
 * raw bytes (the TOAST pointer of a large model), so an unchanged model costs
 * one comparison; a replaced one is decoded afresh and the old one freed.
 */
typedef struct StreamModel {
    char *name;
    MemoryContext context; /* holds cache and what it decoded */
    LstmModelCache *cache;
    struct StreamModel *next;
} StreamModel;

static StreamModel *stream_models;

/* An empty decoded-model cache living in context. */
static LstmModelCache *new_model_cache(MemoryContext context)
{
    LstmModelCache *cache = MemoryContextAllocZero(context, sizeof(LstmModelCache));
    cache->context = context;
    return cache;
}

/* The decoded model for name, whose stored datum is model (from SPI). */
static LstmDecoded *stream_model(const char *name, Datum model)
{
    StreamModel *entry;
    LstmDecoded *decoded;

    for (entry = stream_models; entry != NULL; entry = entry->next) {
        if (strcmp(entry->name, name) == 0)
            break;
    }
    if (entry == NULL) {
        MemoryContext context = AllocSetContextCreate(TopMemoryContext, "lstm_score_trigger model",
                                                      ALLOCSET_DEFAULT_SIZES);
        entry = MemoryContextAllocZero(context, sizeof(StreamModel));
        entry->name = MemoryContextStrdup(context, name);
        entry->context =
            AllocSetContextCreate(context, "lstm_score_trigger decoded", ALLOCSET_DEFAULT_SIZES);
        entry->cache = new_model_cache(entry->context);
        entry->next = stream_models;
        stream_models = entry;
    }
    decoded = lstm_decoded_for_datum(entry->cache, model);
    if (entry->cache->models->next != NULL) {
        /* The model under this name was replaced: keep only the new one. */
        MemoryContextReset(entry->context);
        entry->cache = new_model_cache(entry->context);
        decoded = lstm_decoded_for_datum(entry->cache, model);
    }
    return decoded;
}

/* ---------- per-statement set-up: the trigger's arguments ---------- */

/* The trigger's arguments resolved against the table, kept in fn_extra. */
typedef struct ScoreConfig {
    Oid schema;       /* extension schema, to check the saved plans */
    Oid state_type;   /* lstm_state's OID */
    char *model_name; /* argument 1 */
    Datum model_name_text;
    int value_att;  /* argument 2: attribute number */
    Oid value_type; /* its base type */
    int series_att; /* argument 3, 0 for a single series */
    Oid series_type;
    FmgrInfo series_out; /* its output function: the series key */
    int forecast_att;    /* argument 4, 0 for none */
    Oid forecast_type;
    int score_att; /* argument 5, 0 for none */
    Oid score_type;
    int time_att;  /* argument 6, 0 for none */
    Oid time_type; /* its type (as stored in last_time_type) */
    Oid time_collation;
    FmgrInfo *time_cmp; /* btree comparison of its type */
    FmgrInfo time_send;
    FmgrInfo time_recv;
    Oid time_ioparam;
    int32 time_typmod;
    /* Scratch for the current model's sizes. */
    LstmDims dims;
    bool have_scratch;
    LstmStream stream;    /* h, c, steps, residuals */
    float *stream_memory; /* (2, L, H) */
    double *features;     /* (I) */
    double *outputs;      /* (O) */
} ScoreConfig;

/* Is a trigger argument the "no column" marker: empty or NULL? */
static bool no_column(const char *arg)
{
    return arg[0] == '\0' || pg_strcasecmp(arg, "null") == 0;
}

/* Attribute number of a user column named by argument argno (1-based). */
static int resolve_column(Relation rel, const char *name, int argno, const char *role)
{
    int attnum = SPI_fnumber(RelationGetDescr(rel), name);

    if (attnum == SPI_ERROR_NOATTRIBUTE)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_COLUMN),
                 errmsg("column \"%s\" of relation \"%s\" does not exist", name,
                        RelationGetRelationName(rel)),
                 errdetail("Argument %d of lstm_score_trigger names the %s column.", argno, role)));
    if (attnum <= 0)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
                 errmsg("lstm_score_trigger %s column \"%s\" is a system column", role, name)));
    return attnum;
}

/* Error unless the column's base type is one of types (n of them). */
static Oid check_column_type(Relation rel, int attnum, const Oid *types, int n, const char *role,
                             const char *expected)
{
    Oid type = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;
    Oid base = getBaseType(type);

    for (int i = 0; i < n; i++) {
        if (base == types[i])
            return base;
    }
    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                    errmsg("lstm_score_trigger %s column \"%s\" has type %s, expected %s", role,
                           NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname),
                           format_type_be(type), expected)));
    pg_unreachable();
}

/* Resolve and check the trigger's arguments once per statement. */
static ScoreConfig *score_config(FunctionCallInfo fcinfo, TriggerData *td)
{
    static const Oid value_types[] = {FLOAT8OID, FLOAT4OID,  INT2OID,       INT4OID,
                                      INT8OID,   NUMERICOID, FLOAT8ARRAYOID};
    static const Oid output_types[] = {FLOAT8OID, FLOAT4OID, NUMERICOID};
    ScoreConfig *cfg = (ScoreConfig *)fcinfo->flinfo->fn_extra;
    Trigger *trigger = td->tg_trigger;
    Relation rel = td->tg_relation;
    char **args = trigger->tgargs;
    MemoryContext old;

    if (cfg != NULL)
        return cfg;
    if (trigger->tgnargs != 5 && trigger->tgnargs != 6)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("lstm_score_trigger takes 5 or 6 arguments, got %d", trigger->tgnargs),
                 errhint("Arguments: model name, value column, series column or NULL, forecast "
                         "column or NULL, score column or NULL, and optionally a time column.")));
    if (no_column(args[0]))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_score_trigger needs a model name as its first argument")));
    if (no_column(args[1]))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_score_trigger needs a value column as its second argument")));

    old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
    cfg = palloc0(sizeof(ScoreConfig));
    cfg->model_name = pstrdup(args[0]);
    cfg->model_name_text = PointerGetDatum(cstring_to_text(args[0]));

    cfg->value_att = resolve_column(rel, args[1], 2, "value");
    cfg->value_type = check_column_type(rel, cfg->value_att, value_types, lengthof(value_types),
                                        "value", "a number or float8[]");
    if (!no_column(args[2])) {
        Oid output;
        bool varlena;
        cfg->series_att = resolve_column(rel, args[2], 3, "series");
        cfg->series_type = TupleDescAttr(RelationGetDescr(rel), cfg->series_att - 1)->atttypid;
        getTypeOutputInfo(cfg->series_type, &output, &varlena);
        fmgr_info_cxt(output, &cfg->series_out, fcinfo->flinfo->fn_mcxt);
    }
    if (!no_column(args[3])) {
        cfg->forecast_att = resolve_column(rel, args[3], 4, "forecast");
        cfg->forecast_type =
            check_column_type(rel, cfg->forecast_att, output_types, lengthof(output_types),
                              "forecast", "double precision, real or numeric");
    }
    if (!no_column(args[4])) {
        cfg->score_att = resolve_column(rel, args[4], 5, "score");
        cfg->score_type =
            check_column_type(rel, cfg->score_att, output_types, lengthof(output_types), "score",
                              "double precision, real or numeric");
    }
    if (cfg->value_att == cfg->forecast_att || cfg->value_att == cfg->score_att ||
        (cfg->forecast_att != 0 && cfg->forecast_att == cfg->score_att))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_score_trigger value, forecast and score columns must be "
                               "different columns")));
    if (trigger->tgnargs == 6 && !no_column(args[5])) {
        Form_pg_attribute att;
        TypeCacheEntry *typentry;
        Oid send, recv;
        cfg->time_att = resolve_column(rel, args[5], 6, "time");
        att = TupleDescAttr(RelationGetDescr(rel), cfg->time_att - 1);
        cfg->time_type = att->atttypid;
        cfg->time_collation = att->attcollation;
        cfg->time_typmod = att->atttypmod;
        typentry = lookup_type_cache(cfg->time_type, TYPECACHE_CMP_PROC_FINFO);
        if (!OidIsValid(typentry->cmp_proc_finfo.fn_oid))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                            errmsg("lstm_score_trigger time column \"%s\" has type %s, which "
                                   "has no ordering",
                                   args[5], format_type_be(cfg->time_type)),
                            errhint("Use a timestamp, date or number column.")));
        cfg->time_cmp = &typentry->cmp_proc_finfo;
        getTypeBinaryOutputInfo(cfg->time_type, &send, &(bool){false});
        getTypeBinaryInputInfo(cfg->time_type, &recv, &cfg->time_ioparam);
        fmgr_info_cxt(send, &cfg->time_send, fcinfo->flinfo->fn_mcxt);
        fmgr_info_cxt(recv, &cfg->time_recv, fcinfo->flinfo->fn_mcxt);
    }

    /* The extension's schema and state type, to check the saved plans. */
    cfg->schema = get_func_namespace(fcinfo->flinfo->fn_oid);
    cfg->state_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("lstm_state"),
                                      ObjectIdGetDatum(cfg->schema));
    if (!OidIsValid(cfg->state_type))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("type lstm_state does not exist in the schema of "
                               "lstm_score_trigger")));
    MemoryContextSwitchTo(old);
    fcinfo->flinfo->fn_extra = cfg;
    return cfg;
}

/* Scratch arrays and a stream for the model's sizes (reallocated if they change). */
static void prepare_scratch(ScoreConfig *cfg, MemoryContext context, const LstmDims *dims)
{
    if (cfg->have_scratch && memcmp(&cfg->dims, dims, sizeof(LstmDims)) == 0)
        return;
    cfg->dims = *dims;
    cfg->stream_memory = MemoryContextAlloc(context, sizeof(float) * lstm_series_nfloats(dims));
    cfg->features = MemoryContextAlloc(context, sizeof(double) * dims->input_size);
    cfg->outputs = MemoryContextAlloc(context, sizeof(double) * dims->output_size);
    cfg->have_scratch = true;
}

/* ---------- one row ---------- */

/* What the trigger writes into the new row. */
typedef struct ScoreResult {
    bool has_forecast;
    double forecast;
    bool has_score;
    double score;
} ScoreResult;

/* The row's value as raw features (I values); false for NULL. */
static bool read_value(ScoreConfig *cfg, HeapTuple tuple, TupleDesc desc, double *features, int I)
{
    bool isnull;
    Datum value = heap_getattr(tuple, cfg->value_att, desc, &isnull);

    if (isnull)
        return false;
    if (cfg->value_type == FLOAT8ARRAYOID)
        lstm_read_features(value, features, I, "lstm_score_trigger");
    else {
        if (I != 1)
            ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                            errmsg("model \"%s\" expects %d input features but the value column "
                                   "holds a single number",
                                   cfg->model_name, I),
                            errhint("Use a float8[] value column with one element per model "
                                    "input.")));
        switch (cfg->value_type) {
        case FLOAT8OID:
            features[0] = DatumGetFloat8(value);
            break;
        case FLOAT4OID:
            features[0] = DatumGetFloat4(value);
            break;
        case INT2OID:
            features[0] = DatumGetInt16(value);
            break;
        case INT4OID:
            features[0] = DatumGetInt32(value);
            break;
        case INT8OID:
            features[0] = (double)DatumGetInt64(value);
            break;
        default: /* NUMERICOID */
            features[0] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
            break;
        }
    }
    lstm_check_finite(features, I, "lstm_score_trigger value");
    return true;
}

/* Is time older than the stored binary last_time (of the same type)? */
static bool row_is_late(ScoreConfig *cfg, Datum time, Datum last_time)
{
    bytea *stored = DatumGetByteaPP(last_time);
    StringInfoData buf;
    Datum previous;

    initStringInfo(&buf);
    appendBinaryStringInfo(&buf, VARDATA_ANY(stored), VARSIZE_ANY_EXHDR(stored));
    previous = ReceiveFunctionCall(&cfg->time_recv, &buf, cfg->time_ioparam, cfg->time_typmod);
    if (buf.cursor != buf.len)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("lstm_stream_states.last_time is not a valid %s",
                               format_type_be(cfg->time_type))));
    return DatumGetInt32(FunctionCall2Coll(cfg->time_cmp, cfg->time_collation, time, previous)) < 0;
}

/* Consume the row's features into cfg->stream and fill result. */
static void advance(ScoreConfig *cfg, const LstmDecoded *model, ScoreResult *result)
{
    if (lstm_stream_feed(&model->runner, &cfg->stream, cfg->features, cfg->outputs) != LSTM_OK)
        lstm_report_input_range(cfg->features, model->runner.dims.input_size);
    result->has_forecast = (cfg->stream.flags & LSTM_STATE_HAS_FORECAST) != 0;
    result->forecast = cfg->stream.last_forecast;
    result->has_score = (cfg->stream.flags & LSTM_STATE_HAS_SCORE) != 0;
    result->score = cfg->stream.last_score;
}

/*
 * Score one row of a series against its saved state and save the advanced
 * state (SPI connected). series is the key as text; time is valid when
 * cfg->time_att is set.
 */
static void score_row(ScoreConfig *cfg, MemoryContext scratch_context, HeapTuple tuple,
                      TupleDesc desc, Datum series, const char *series_name, Datum time,
                      ScoreResult *result)
{
    Datum args[5];
    char nulls[5];
    Datum time_bytes = (Datum)0;

    if (cfg->time_att != 0)
        time_bytes = PointerGetDatum(SendFunctionCall(&cfg->time_send, time));
    args[0] = cfg->model_name_text;
    args[1] = series;

    for (int attempt = 0; attempt < 3; attempt++) {
        LstmDecoded *model;
        bool has_value, isnull;
        int rc;

        rc = SPI_execute_plan(plans.lock, args, NULL, false, 1);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "lstm_score_trigger: reading lstm_stream_states failed: %s",
                 SPI_result_code_string(rc));
        if (SPI_processed > 0) {
            HeapTuple row = SPI_tuptable->vals[0];
            TupleDesc rdesc = SPI_tuptable->tupdesc;
            Datum state_datum = SPI_getbinval(row, rdesc, 1, &isnull);
            bool last_time_null, type_null;
            Datum last_time = SPI_getbinval(row, rdesc, 2, &last_time_null);
            Oid last_type = DatumGetObjectId(SPI_getbinval(row, rdesc, 3, &type_null));
            struct varlena *state;
            LstmStateHeader header;
            char message[LSTM_ERRMSG_LEN];
            bool same_model;
            Datum update_args[5];
            char update_nulls[5] = {' ', ' ', ' ', ' ', ' '};

            model = stream_model(cfg->model_name, SPI_getbinval(row, rdesc, 4, &isnull));
            prepare_scratch(cfg, scratch_context, &model->runner.dims);

            /* A late row: stored unscored, counted, the state untouched. */
            if (cfg->time_att != 0 && !last_time_null && !type_null &&
                last_type == cfg->time_type && row_is_late(cfg, time, last_time)) {
                rc = SPI_execute_plan(plans.late, args, NULL, false, 0);
                if (rc != SPI_OK_UPDATE)
                    elog(ERROR, "lstm_score_trigger: counting a late row failed: %s",
                         SPI_result_code_string(rc));
                return;
            }

            state = lstm_state_from_datum(state_datum);
            lstm_state_read_header(VARDATA(state), &header);
            same_model =
                lstm_state_matches_model(&header, &model->runner.dims, model->fingerprint, message);
            lstm_stream_init(&cfg->stream, &model->runner.dims, cfg->stream_memory);
            if (same_model)
                lstm_state_load(VARDATA(state), &cfg->stream);

            has_value = read_value(cfg, tuple, desc, cfg->features, cfg->dims.input_size);
            if (!has_value) {
                /* The forecast for this row stands; nothing to apply. */
                if (cfg->stream.series.steps > 0) {
                    lstm_runner_predict(&model->runner, &cfg->stream.series, cfg->outputs);
                    result->has_forecast = true;
                    result->forecast = cfg->outputs[0];
                }
                return;
            }
            if (!same_model)
                ereport(WARNING,
                        (errcode(ERRCODE_WARNING),
                         errmsg("lstm_score_trigger: restarting series \"%s\": its state was made "
                                "by another version of model \"%s\"",
                                series_name, cfg->model_name),
                         errdetail("The saved state was made by the model with fingerprint "
                                   "%016" PRIx64 "; the model now has fingerprint %016" PRIx64 ".",
                                   header.model_fingerprint, model->fingerprint),
                         errhint("lstm_stream_rebuild() rebuilds the state from the table's "
                                 "history under the current model.")));
            advance(cfg, model, result);
            update_args[0] = args[0];
            update_args[1] = args[1];
            update_args[2] = PointerGetDatum(
                lstm_state_make(&cfg->stream, &model->runner.dims, model->fingerprint));
            update_args[3] = time_bytes;
            update_args[4] = ObjectIdGetDatum(cfg->time_type);
            if (cfg->time_att == 0)
                update_nulls[3] = update_nulls[4] = 'n';
            rc = SPI_execute_plan(plans.update, update_args, update_nulls, false, 0);
            if (rc != SPI_OK_UPDATE || SPI_processed != 1)
                elog(ERROR, "lstm_score_trigger: saving the state failed: %s",
                     SPI_result_code_string(rc));
            return;
        }

        /* The series' first row under this model. */
        rc = SPI_execute_plan(plans.model, args, NULL, false, 1);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "lstm_score_trigger: reading lstm_models failed: %s",
                 SPI_result_code_string(rc));
        if (SPI_processed == 0)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                            errmsg("model \"%s\" does not exist", cfg->model_name),
                            errhint("lstm_score_trigger's first argument names a model in "
                                    "lstm_models.")));
        model = stream_model(cfg->model_name, SPI_getbinval(SPI_tuptable->vals[0],
                                                            SPI_tuptable->tupdesc, 1, &isnull));
        prepare_scratch(cfg, scratch_context, &model->runner.dims);
        lstm_stream_init(&cfg->stream, &model->runner.dims, cfg->stream_memory);
        if (!read_value(cfg, tuple, desc, cfg->features, cfg->dims.input_size))
            return; /* no state yet, nothing to apply */
        advance(cfg, model, result);
        args[2] =
            PointerGetDatum(lstm_state_make(&cfg->stream, &model->runner.dims, model->fingerprint));
        args[3] = time_bytes;
        args[4] = ObjectIdGetDatum(cfg->time_type);
        memset(nulls, ' ', sizeof(nulls));
        if (cfg->time_att == 0)
            nulls[3] = nulls[4] = 'n';
        rc = SPI_execute_plan(plans.insert, args, nulls, false, 0);
        if (rc != SPI_OK_INSERT)
            elog(ERROR, "lstm_score_trigger: creating the state failed: %s",
                 SPI_result_code_string(rc));
        if (SPI_processed == 1)
            return;
        /* Another session created the series meanwhile: lock theirs and step it. */
        memset(result, 0, sizeof(*result));
    }
    ereport(ERROR,
            (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
             errmsg("lstm_score_trigger could not create the state of series \"%s\"", series_name),
             errhint("Retry the transaction.")));
}

/* A forecast or score as a datum of the column's type. */
static Datum output_datum(Oid type, double value, const char *role)
{
    if (type == FLOAT4OID) {
        float f = (float)value;
        if (!isfinite(f))
            ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                            errmsg("lstm_score_trigger %s %g is out of range for type real", role,
                                   value)));
        return Float4GetDatum(f);
    }
    if (type == NUMERICOID) {
        /* The shortest decimal that reads back as this double (float8_numeric keeps 15 digits). */
        char digits[DOUBLE_SHORTEST_DECIMAL_LEN];
        double_to_shortest_decimal_buf(value, digits);
        return DirectFunctionCall3(numeric_in, CStringGetDatum(digits),
                                   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
    }
    return Float8GetDatum(value);
}

/* lstm_score_trigger(): BEFORE INSERT FOR EACH ROW. */
Datum lstm_score_trigger(PG_FUNCTION_ARGS)
{
    TriggerData *td;
    ScoreConfig *cfg;
    HeapTuple tuple;
    TupleDesc desc;
    ScoreResult result;
    Datum series, time = (Datum)0;
    char *series_name = "";
    bool series_null = false, time_null = false;
    MemoryContext caller;

    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("lstm_score_trigger must be called as a trigger")));
    td = (TriggerData *)fcinfo->context;
    if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
        !TRIGGER_FIRED_BY_INSERT(td->tg_event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("lstm_score_trigger must be fired BEFORE INSERT FOR EACH ROW"),
                        errdetail("Rows are scored once, as they arrive; updates and deletes do "
                                  "not change a series' saved state."),
                        errhint("After correcting history, lstm_stream_rebuild() recomputes the "
                                "states from the table.")));
    cfg = score_config(fcinfo, td);
    tuple = td->tg_trigtuple;
    desc = RelationGetDescr(td->tg_relation);
    memset(&result, 0, sizeof(result));

    if (cfg->series_att != 0) {
        series = heap_getattr(tuple, cfg->series_att, desc, &series_null);
        if (!series_null) {
            series_name = OutputFunctionCall(&cfg->series_out, series);
            series = PointerGetDatum(cstring_to_text(series_name));
        }
    } else
        series = PointerGetDatum(cstring_to_text(""));
    if (cfg->time_att != 0)
        time = heap_getattr(tuple, cfg->time_att, desc, &time_null);

    if (!series_null && !time_null) {
        caller = CurrentMemoryContext;
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "lstm_score_trigger: SPI_connect failed");
        if (plans.schema != cfg->schema || plans.state_type != cfg->state_type)
            prepare_plans(cfg->schema, cfg->state_type);
        score_row(cfg, fcinfo->flinfo->fn_mcxt, tuple, desc, series, series_name, time, &result);
        SPI_finish();
        MemoryContextSwitchTo(caller);
    }

    if (cfg->forecast_att != 0 || cfg->score_att != 0) {
        int columns[2];
        Datum values[2];
        bool nulls[2];
        int n = 0;
        if (cfg->forecast_att != 0) {
            columns[n] = cfg->forecast_att;
            values[n] = result.has_forecast
                            ? output_datum(cfg->forecast_type, result.forecast, "forecast")
                            : (Datum)0;
            nulls[n++] = !result.has_forecast;
        }
        if (cfg->score_att != 0) {
            columns[n] = cfg->score_att;
            values[n] =
                result.has_score ? output_datum(cfg->score_type, result.score, "score") : (Datum)0;
            nulls[n++] = !result.has_score;
        }
        tuple = heap_modify_tuple_by_cols(tuple, desc, n, columns, values, nulls);
    }
    return PointerGetDatum(tuple);
}
