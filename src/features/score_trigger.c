/*
 * score_trigger.c - lstm_score_trigger: score rows as they are inserted, keeping
 * every series' recurrent state in the table lstm_stream_states.
 *
 *   CREATE TRIGGER score BEFORE INSERT ON readings FOR EACH ROW
 *   EXECUTE FUNCTION lstm_score_trigger('model name', 'value column',
 *       'series column' | NULL, 'forecast column' | NULL, 'score column' | NULL
 *       [, 'time column' | NULL [, 'anomaly settings' | NULL [, 'alert column']]]);
 *
 * Per row: lock the series' saved state (model name, scored table, series key) in
 * lstm_stream_states, creating it on the series' first row; write into the
 * new row the forecast that the state made BEFORE this value and the row's
 * anomaly score (and the alert, score >= threshold, into a boolean alert
 * column); advance the state by the row and save it. The settings (JSON
 * text, as lstm_anomaly_score's jsonb) start every new series' state; a
 * saved state with other settings is an error. The arithmetic is
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
#include "runtime/anomaly_settings.h"
#include "runtime/arguments.h"
#include "runtime/column_spec.h"
#include "runtime/model_cache.h"
#include "types/lstm_state.h"

#include <inttypes.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

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
    Oid key_args[3] = {TEXTOID, REGCLASSOID, TEXTOID}; /* model_name, source, series */
    Oid save_args[6] = {TEXTOID, REGCLASSOID, TEXTOID, state_type, BYTEAOID, REGTYPEOID};
    SPIPlanPtr *all[5] = {&plans.lock, &plans.model, &plans.insert, &plans.update, &plans.late};

    for (int i = 0; i < 5; i++) {
        if (*all[i] != NULL)
            SPI_freeplan(*all[i]);
        *all[i] = NULL;
    }
    plans.schema = InvalidOid;
    if (get_attnum(get_relname_relid("lstm_stream_states", schema), "source") == InvalidAttrNumber)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("lstm_score_trigger needs the extension's version 0.2 objects"),
                        errdetail("The installed library keeps saved states per scored table; the "
                                  "extension's tables in this database are still those of an older "
                                  "version."),
                        errhint("Run ALTER EXTENSION lstm UPDATE.")));
    plans.lock = keep_plan(psprintf("SELECT s.state, s.last_time, s.last_time_type, "
                                    "m.model FROM %s s JOIN %s m "
                                    "ON m.name OPERATOR(pg_catalog.=) s.model_name "
                                    "WHERE s.model_name OPERATOR(pg_catalog.=) $1 "
                                    "AND s.source OPERATOR(pg_catalog.=) $2 "
                                    "AND s.series OPERATOR(pg_catalog.=) $3 "
                                    "FOR NO KEY UPDATE OF s",
                                    states, models),
                           3, key_args);
    plans.model = keep_plan(
        psprintf("SELECT model FROM %s WHERE name OPERATOR(pg_catalog.=) $1", models), 1, key_args);
    plans.insert =
        keep_plan(psprintf("INSERT INTO %s (model_name, source, series, state, last_time, "
                           "last_time_type, updated_at) VALUES ($1, $2, $3, $4, $5, $6, "
                           "pg_catalog.now()) ON CONFLICT (model_name, source, series) DO NOTHING",
                           states),
                  6, save_args);
    /* By key, not ctid: a TID scan asks the kernel for the relation's size every time. */
    plans.update = keep_plan(psprintf("UPDATE %s SET state = $4, last_time = $5, "
                                      "last_time_type = $6, updated_at = pg_catalog.now() "
                                      "WHERE model_name OPERATOR(pg_catalog.=) $1 "
                                      "AND source OPERATOR(pg_catalog.=) $2 "
                                      "AND series OPERATOR(pg_catalog.=) $3",
                                      states),
                             6, save_args);
    plans.late = keep_plan(psprintf("UPDATE %s SET late_rows = late_rows OPERATOR(pg_catalog.+) 1, "
                                    "updated_at = pg_catalog.now() "
                                    "WHERE model_name OPERATOR(pg_catalog.=) $1 "
                                    "AND source OPERATOR(pg_catalog.=) $2 "
                                    "AND series OPERATOR(pg_catalog.=) $3",
                                    states),
                           3, key_args);
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
    Oid source;                   /* the scored relation: the root of the trigger's table */
    LstmColumn value;             /* argument 2 */
    LstmColumn series;            /* argument 3; attnum 0 for a single series */
    LstmColumn forecast;          /* argument 4; attnum 0 for none */
    LstmColumn score;             /* argument 5; attnum 0 for none */
    LstmColumn time;              /* argument 6; attnum 0 for none */
    LstmAnomalySettings settings; /* argument 7; the defaults without one */
    LstmColumn alert;             /* argument 8; attnum 0 for none */
    LstmSeriesKey series_key;     /* the series value as text */
    LstmTimeCodec time_codec;     /* last_time's stored form and the late-row comparison */
    /* Scratch for the current model's sizes. */
    LstmDims dims;
    bool have_scratch;
    LstmStream stream;    /* h, c, steps, residuals */
    float *stream_memory; /* (2, L, H) */
    double *features;     /* (I) */
    double *outputs;      /* (O) */
} ScoreConfig;

/* Error unless the trigger has 5 to 8 arguments, a model name and a value column. */
static void check_trigger_arguments(const Trigger *trigger)
{
    if (trigger->tgnargs < 5 || trigger->tgnargs > 8)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("lstm_score_trigger takes 5 to 8 arguments, got %d", trigger->tgnargs),
                 errhint("Arguments: model name, value column, series column or NULL, forecast "
                         "column or NULL, score column or NULL, and optionally a time column "
                         "or NULL, anomaly settings (JSON) or NULL, and an alert column.")));
    if (lstm_column_is_none(trigger->tgargs[0]))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_score_trigger needs a model name as its first argument")));
    if (lstm_column_is_none(trigger->tgargs[1]))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_score_trigger needs a value column as its second argument")));
}

/* Resolve the column arguments (in the current memory context, fn_mcxt). */
static void resolve_columns(ScoreConfig *cfg, Relation rel, const Trigger *trigger)
{
    char **args = trigger->tgargs;
    LstmColumnSource source = {RelationGetRelid(rel),
                               psprintf("\"%s\"", RelationGetRelationName(rel)),
                               "lstm_score_trigger", LSTM_READ_STREAMING};

    lstm_column_resolve(&source, LSTM_COLUMN_VALUE, pstrdup(args[1]), "value column", &cfg->value);
    if (lstm_column_resolve(&source, LSTM_COLUMN_SERIES, pstrdup(args[2]), "series column",
                            &cfg->series))
        lstm_series_key_init(&cfg->series_key, &cfg->series, CurrentMemoryContext);
    lstm_column_resolve(&source, LSTM_COLUMN_FORECAST, pstrdup(args[3]), "forecast column",
                        &cfg->forecast);
    lstm_column_resolve(&source, LSTM_COLUMN_SCORE, pstrdup(args[4]), "score column", &cfg->score);
    if (cfg->value.attnum == cfg->forecast.attnum || cfg->value.attnum == cfg->score.attnum ||
        (cfg->forecast.attnum != 0 && cfg->forecast.attnum == cfg->score.attnum))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_score_trigger value, forecast and score columns must be "
                               "different columns")));
    if (trigger->tgnargs >= 6 &&
        lstm_column_resolve(&source, LSTM_COLUMN_TIME, pstrdup(args[5]), "time column", &cfg->time))
        lstm_time_codec_init(&cfg->time_codec, &cfg->time, CurrentMemoryContext);
    lstm_anomaly_settings_parse(trigger->tgnargs >= 7 ? args[6] : NULL, "lstm_score_trigger",
                                &cfg->settings);
    if (trigger->tgnargs == 8 &&
        lstm_column_resolve(&source, LSTM_COLUMN_ALERT, pstrdup(args[7]), "alert column",
                            &cfg->alert) &&
        (cfg->alert.attnum == cfg->value.attnum || cfg->alert.attnum == cfg->forecast.attnum ||
         cfg->alert.attnum == cfg->score.attnum))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_score_trigger alert column must differ from the value, "
                               "forecast and score columns")));
}

/* Resolve and check the trigger's arguments once per statement. */
static ScoreConfig *score_config(FunctionCallInfo fcinfo, TriggerData *td)
{
    ScoreConfig *cfg = (ScoreConfig *)fcinfo->flinfo->fn_extra;
    MemoryContext old;

    if (cfg != NULL)
        return cfg;
    check_trigger_arguments(td->tg_trigger);
    old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
    cfg = palloc0(sizeof(ScoreConfig));
    cfg->model_name = pstrdup(td->tg_trigger->tgargs[0]);
    cfg->model_name_text = PointerGetDatum(cstring_to_text(cfg->model_name));
    resolve_columns(cfg, td->tg_relation, td->tg_trigger);
    cfg->source = lstm_source_root(RelationGetRelid(td->tg_relation));

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

/* ---------- one row: the steps ---------- */

/* The row being scored and its series' key in lstm_stream_states. */
typedef struct SeriesRow {
    HeapTuple tuple;
    TupleDesc desc;
    Datum key[3];            /* model name, source, series key: the state's primary key */
    const char *series_name; /* the series key, for messages */
    Datum time;              /* the row's time, with a time column */
    Datum time_bytes;        /* its stored form */
    MemoryContext scratch;   /* lives as long as cfg (fn_mcxt) */
} SeriesRow;

/* A series' saved state as the lock statement read it. */
typedef struct SavedState {
    Datum state;
    Datum model;
    bool has_last_time; /* last_time and last_time_type are set */
    Datum last_time;
    Oid last_time_type;
} SavedState;

/* What the trigger writes into the new row. */
typedef struct ScoreResult {
    bool has_forecast;
    double forecast;
    bool has_score;
    double score;
    bool alert; /* score >= threshold (with has_score) */
} ScoreResult;

/* Lock the series' saved state and read it; false if the series has none yet. */
static bool lock_saved_state(const SeriesRow *row, SavedState *saved)
{
    HeapTuple tuple;
    TupleDesc desc;
    bool isnull, time_null, type_null;
    int rc = SPI_execute_plan(plans.lock, (Datum *)row->key, NULL, false, 1);

    if (rc != SPI_OK_SELECT)
        elog(ERROR, "lstm_score_trigger: reading lstm_stream_states failed: %s",
             SPI_result_code_string(rc));
    if (SPI_processed == 0)
        return false;
    tuple = SPI_tuptable->vals[0];
    desc = SPI_tuptable->tupdesc;
    saved->state = SPI_getbinval(tuple, desc, 1, &isnull);
    saved->last_time = SPI_getbinval(tuple, desc, 2, &time_null);
    saved->last_time_type = DatumGetObjectId(SPI_getbinval(tuple, desc, 3, &type_null));
    saved->has_last_time = !time_null && !type_null;
    saved->model = SPI_getbinval(tuple, desc, 4, &isnull);
    return true;
}

/* The model of a series' first row (no state to join it from); unknown is an error. */
static Datum read_model(ScoreConfig *cfg, const SeriesRow *row)
{
    bool isnull;
    int rc = SPI_execute_plan(plans.model, (Datum *)row->key, NULL, false, 1);

    if (rc != SPI_OK_SELECT)
        elog(ERROR, "lstm_score_trigger: reading lstm_models failed: %s",
             SPI_result_code_string(rc));
    if (SPI_processed == 0)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_OBJECT),
                 errmsg("model \"%s\" does not exist", cfg->model_name),
                 errhint("lstm_score_trigger's first argument names a model in lstm_models.")));
    return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
}

/* The decoded model for a stored model datum, with scratch for its sizes. */
static LstmDecoded *use_model(ScoreConfig *cfg, const SeriesRow *row, Datum stored)
{
    LstmDecoded *model = stream_model(cfg->model_name, stored);
    prepare_scratch(cfg, row->scratch, &model->runner.dims);
    lstm_stream_init(&cfg->stream, &model->runner.dims, cfg->stream_memory);
    lstm_anomaly_settings_use(&cfg->stream, &cfg->settings, "lstm_score_trigger");
    return model;
}

/* Is the row older than the newest one applied to its series? */
static bool row_is_late(ScoreConfig *cfg, const SeriesRow *row, const SavedState *saved)
{
    return cfg->time.attnum != 0 && saved->has_last_time &&
           lstm_time_is_before(&cfg->time_codec, row->time, saved->last_time,
                               saved->last_time_type);
}

/* Count a late row in its series' late_rows. */
static void count_late_row(const SeriesRow *row)
{
    int rc = SPI_execute_plan(plans.late, (Datum *)row->key, NULL, false, 0);
    if (rc != SPI_OK_UPDATE)
        elog(ERROR, "lstm_score_trigger: counting a late row failed: %s",
             SPI_result_code_string(rc));
}

/*
 * Load the saved state into cfg->stream if the model made it; false (and a
 * fresh stream) if it was made by another version of the model.
 */
static bool load_saved_state(ScoreConfig *cfg, const LstmDecoded *model, const SavedState *saved,
                             LstmStateHeader *header)
{
    struct varlena *state = lstm_state_from_datum(saved->state);
    char message[LSTM_ERRMSG_LEN];

    lstm_state_read_header(VARDATA(state), header);
    if (!lstm_state_matches_model(header, &model->runner.dims, model->fingerprint, message))
        return false;
    lstm_state_load(VARDATA(state), &cfg->stream);
    lstm_anomaly_settings_use(&cfg->stream, &cfg->settings, "lstm_score_trigger");
    return true;
}

/* The WARNING for a series restarted under a replaced model. */
static void warn_restart(ScoreConfig *cfg, const SeriesRow *row, const LstmStateHeader *header,
                         const LstmDecoded *model)
{
    ereport(WARNING,
            (errcode(ERRCODE_WARNING),
             errmsg("lstm_score_trigger: restarting series \"%s\": its state was made by another "
                    "version of model \"%s\"",
                    row->series_name, cfg->model_name),
             errdetail("The saved state was made by the model with fingerprint %016" PRIx64
                       "; the model now has fingerprint %016" PRIx64 ".",
                       header->model_fingerprint, model->fingerprint),
             errhint("lstm_stream_rebuild() rebuilds the state from the table's history under "
                     "the current model.")));
}

/* The row's value as raw features in cfg->features; false for NULL. */
static bool read_value(ScoreConfig *cfg, const SeriesRow *row)
{
    bool isnull;
    Datum value = heap_getattr(row->tuple, cfg->value.attnum, row->desc, &isnull);

    if (isnull)
        return false;
    lstm_column_read_features(&cfg->value, value, cfg->features, cfg->dims.input_size,
                              cfg->model_name, "lstm_score_trigger");
    return true;
}

/* The forecast the stream makes now, for a row that does not advance it. */
static void current_forecast(ScoreConfig *cfg, const LstmDecoded *model, ScoreResult *result)
{
    if (cfg->stream.series.steps == 0)
        return;
    lstm_runner_predict(&model->runner, &cfg->stream.series, cfg->outputs);
    result->has_forecast = true;
    result->forecast = cfg->outputs[0];
}

/* Consume the row's features into cfg->stream and fill result. */
static void step(ScoreConfig *cfg, const LstmDecoded *model, ScoreResult *result)
{
    if (lstm_stream_feed(&model->runner, &cfg->stream, cfg->features, cfg->outputs) != LSTM_OK)
        lstm_report_input_range(cfg->features, model->runner.dims.input_size);
    result->has_forecast = (cfg->stream.flags & LSTM_STATE_HAS_FORECAST) != 0;
    result->forecast = cfg->stream.last_forecast;
    result->has_score = (cfg->stream.flags & LSTM_STATE_HAS_SCORE) != 0;
    result->score = cfg->stream.last_score;
    result->alert = cfg->stream.row.alert != 0;
}

/*
 * Save cfg->stream with the row's time through plan (insert or update; both
 * take the key, the state, last_time and last_time_type); rows affected.
 */
static uint64 save_state(ScoreConfig *cfg, SPIPlanPtr plan, const SeriesRow *row,
                         const LstmDecoded *model)
{
    Datum args[6];
    char nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
    int rc;

    args[0] = row->key[0];
    args[1] = row->key[1];
    args[2] = row->key[2];
    args[3] =
        PointerGetDatum(lstm_state_make(&cfg->stream, &model->runner.dims, model->fingerprint));
    args[4] = row->time_bytes;
    args[5] = ObjectIdGetDatum(cfg->time_codec.type);
    if (cfg->time.attnum == 0)
        nulls[4] = nulls[5] = 'n';
    rc = SPI_execute_plan(plan, args, nulls, false, 0);
    if (rc != SPI_OK_INSERT && rc != SPI_OK_UPDATE)
        elog(ERROR, "lstm_score_trigger: saving the state failed: %s", SPI_result_code_string(rc));
    return SPI_processed;
}

/* Score the row against its series' locked, saved state and save the advanced state. */
static void score_saved_series(ScoreConfig *cfg, const SeriesRow *row, const SavedState *saved,
                               ScoreResult *result)
{
    LstmDecoded *model = use_model(cfg, row, saved->model);
    LstmStateHeader header;
    bool same_model;

    if (row_is_late(cfg, row, saved)) {
        count_late_row(row); /* stored unscored, the state untouched */
        return;
    }
    same_model = load_saved_state(cfg, model, saved, &header);
    if (!read_value(cfg, row)) {
        current_forecast(cfg, model, result); /* the forecast stands; nothing to apply */
        return;
    }
    if (!same_model)
        warn_restart(cfg, row, &header, model);
    step(cfg, model, result);
    if (save_state(cfg, plans.update, row, model) != 1)
        elog(ERROR, "lstm_score_trigger: saving the state found no row");
}

/*
 * Score a series' first row and create its state; false if another session
 * created the state meanwhile (nothing saved: lock theirs and step it).
 */
static bool score_first_row(ScoreConfig *cfg, const SeriesRow *row, ScoreResult *result)
{
    LstmDecoded *model = use_model(cfg, row, read_model(cfg, row));

    if (!read_value(cfg, row))
        return true; /* no state yet, nothing to apply */
    step(cfg, model, result);
    return save_state(cfg, plans.insert, row, model) == 1;
}

/*
 * Score one row of a series and save the advanced state (SPI connected):
 * lock the saved state and step it, or create it with the first row; a lost
 * race to create it is retried against the winner's state.
 */
static void score_row(ScoreConfig *cfg, const SeriesRow *row, ScoreResult *result)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        SavedState saved;

        if (lock_saved_state(row, &saved)) {
            score_saved_series(cfg, row, &saved, result);
            return;
        }
        if (score_first_row(cfg, row, result))
            return;
        memset(result, 0, sizeof(*result));
    }
    ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                    errmsg("lstm_score_trigger could not create the state of series \"%s\"",
                           row->series_name),
                    errhint("Retry the transaction.")));
}

/* ---------- the trigger ---------- */

/* Error unless called as a BEFORE INSERT FOR EACH ROW trigger. */
static TriggerData *check_trigger_event(FunctionCallInfo fcinfo)
{
    TriggerData *td;

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
    return td;
}

/*
 * Fill row from the new tuple: the series key and the time. False if the
 * series key or the time is NULL (the row is stored unscored).
 */
static bool series_row(ScoreConfig *cfg, FunctionCallInfo fcinfo, HeapTuple tuple, TupleDesc desc,
                       SeriesRow *row)
{
    bool isnull = false;

    memset(row, 0, sizeof(*row));
    row->tuple = tuple;
    row->desc = desc;
    row->scratch = fcinfo->flinfo->fn_mcxt;
    row->series_name = "";
    if (cfg->series.attnum != 0) {
        Datum series = heap_getattr(tuple, cfg->series.attnum, desc, &isnull);
        if (isnull)
            return false;
        row->series_name = lstm_series_key_text(&cfg->series_key, series);
    }
    row->key[0] = cfg->model_name_text;
    row->key[1] = ObjectIdGetDatum(cfg->source);
    row->key[2] = PointerGetDatum(cstring_to_text(row->series_name));
    if (cfg->time.attnum != 0) {
        row->time = heap_getattr(tuple, cfg->time.attnum, desc, &isnull);
        if (isnull)
            return false;
        row->time_bytes = PointerGetDatum(lstm_time_encode(&cfg->time_codec, row->time));
    }
    return true;
}

/* Write the forecast, the score and the alert (or NULLs) into the tuple's columns. */
static HeapTuple write_result(ScoreConfig *cfg, HeapTuple tuple, TupleDesc desc,
                              const ScoreResult *result)
{
    const LstmColumn *columns[2] = {&cfg->forecast, &cfg->score};
    bool present[2] = {result->has_forecast, result->has_score};
    double values[2] = {result->forecast, result->score};
    int attnums[3];
    Datum datums[3];
    bool nulls[3];
    int n = 0;

    if (cfg->alert.attnum != 0) {
        attnums[n] = cfg->alert.attnum;
        datums[n] = BoolGetDatum(result->alert);
        nulls[n++] = !result->has_score;
    }
    for (int i = 0; i < 2; i++) {
        if (columns[i]->attnum == 0)
            continue;
        attnums[n] = columns[i]->attnum;
        datums[n] = present[i]
                        ? lstm_column_output_datum(columns[i], values[i], "lstm_score_trigger")
                        : (Datum)0;
        nulls[n++] = !present[i];
    }
    if (n == 0)
        return tuple;
    return heap_modify_tuple_by_cols(tuple, desc, n, attnums, datums, nulls);
}

/* lstm_score_trigger(): BEFORE INSERT FOR EACH ROW. */
Datum lstm_score_trigger(PG_FUNCTION_ARGS)
{
    TriggerData *td = check_trigger_event(fcinfo);
    ScoreConfig *cfg = score_config(fcinfo, td);
    HeapTuple tuple = td->tg_trigtuple;
    TupleDesc desc = RelationGetDescr(td->tg_relation);
    ScoreResult result;
    SeriesRow row;

    memset(&result, 0, sizeof(result));
    if (series_row(cfg, fcinfo, tuple, desc, &row)) {
        MemoryContext caller = CurrentMemoryContext;
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "lstm_score_trigger: SPI_connect failed");
        if (plans.schema != cfg->schema || plans.state_type != cfg->state_type)
            prepare_plans(cfg->schema, cfg->state_type);
        score_row(cfg, &row, &result);
        SPI_finish();
        MemoryContextSwitchTo(caller);
    }
    return PointerGetDatum(write_result(cfg, tuple, desc, &result));
}
