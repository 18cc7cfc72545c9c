/*
 * score_trigger.c - lstm_score_trigger: score rows as they are inserted, keeping
 * every series' recurrent state in the table lstm_stream_states.
 *
 *   CREATE TRIGGER score BEFORE INSERT ON readings FOR EACH ROW
 *   EXECUTE FUNCTION lstm_score_trigger('model name', 'value column',
 *       'series column' | NULL, 'forecast column' | NULL, 'score column' | NULL
 *       [, 'time column' | NULL [, 'anomaly settings' | NULL [, 'alert column']]]);
 *
 * Per row: find the series' state (model name, scored table, series key):
 * in backend memory if this statement reached the series already, otherwise
 * lock its row of lstm_stream_states and read it into memory (creating it
 * on the series' first row); write into the new row the forecast that the
 * state made BEFORE this value and the row's anomaly score (and the alert,
 * score >= threshold, into a boolean alert column); advance the state. The
 * state is written back once, when the statement ends (stream_cache.c), so
 * a load's cost is linear in its rows. The settings (JSON text, as
 * lstm_anomaly_score's jsonb) start every new series' state; a saved state
 * with other settings is an error when the statement first reads it. The
 * arithmetic is
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
 * row costs a hash lookup and one cell step, and each series reached by a
 * statement two SPI executions (lock, update).
 */
#include "lstm.h"

#include "catalog/extension.h"
#include "features/score_trigger.h"
#include "features/stream_cache.h"
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
    Oid save_args[7] = {TEXTOID, REGCLASSOID, TEXTOID, state_type, BYTEAOID, REGTYPEOID, INT8OID};
    Oid late_args[4] = {TEXTOID, REGCLASSOID, TEXTOID, INT8OID};
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
                                      "last_time_type = $6, updated_at = pg_catalog.now(), "
                                      "late_rows = late_rows OPERATOR(pg_catalog.+) $7 "
                                      "WHERE model_name OPERATOR(pg_catalog.=) $1 "
                                      "AND source OPERATOR(pg_catalog.=) $2 "
                                      "AND series OPERATOR(pg_catalog.=) $3",
                                      states),
                             7, save_args);
    plans.late =
        keep_plan(psprintf("UPDATE %s SET late_rows = late_rows OPERATOR(pg_catalog.+) $4, "
                           "updated_at = pg_catalog.now() "
                           "WHERE model_name OPERATOR(pg_catalog.=) $1 "
                           "AND source OPERATOR(pg_catalog.=) $2 "
                           "AND series OPERATOR(pg_catalog.=) $3",
                           states),
                  4, late_args);
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
    LstmStream stream;    /* a series' first row is scored here, before it is cached */
    float *stream_memory; /* (lstm_series_nfloats) h, c, the normaliser's ring */
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
    bytea *time_bytes;       /* its stored form */
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
    return model;
}

/* Is the row older than the newest one applied to its series? */
static bool row_is_late(ScoreConfig *cfg, const SeriesRow *row, const LstmSeriesVersion *now)
{
    return cfg->time.attnum != 0 && now->has_last_time &&
           lstm_time_is_before(&cfg->time_codec, row->time, PointerGetDatum(now->last_time),
                               now->last_time_type);
}

/*
 * Cache a series whose saved state was just locked: its stream if the model
 * made it, otherwise a fresh stream that restarts (with a warning) at the
 * series' next applied row.
 */
static LstmCachedSeries *cache_saved_series(ScoreConfig *cfg, const SeriesRow *row,
                                            const SavedState *saved)
{
    LstmDecoded *model = use_model(cfg, row, saved->model);
    struct varlena *state = lstm_state_from_datum(saved->state);
    LstmCachedSeries *series =
        lstm_stream_cache_add(row->key[0], cfg->source, row->series_name, saved->model,
                              &model->runner.dims, model->fingerprint);
    LstmStateHeader header;
    char message[LSTM_ERRMSG_LEN];

    lstm_state_read_header(VARDATA(state), &header);
    if (lstm_state_matches_model(&header, &model->runner.dims, model->fingerprint, message))
        lstm_state_load(VARDATA(state), &series->now.stream);
    else
        series->now.restart_pending = true;
    /* the trigger's settings: a restarted or older state takes them, any other must have them */
    lstm_anomaly_settings_use(&series->now.stream, &cfg->settings, "lstm_score_trigger");
    series->saved_fingerprint = header.model_fingerprint;
    if (saved->has_last_time)
        lstm_stream_cache_set_last_time(series, DatumGetByteaP(saved->last_time),
                                        saved->last_time_type);
    return series;
}

/* The WARNING for a series restarted under a replaced model. */
static void warn_restart(ScoreConfig *cfg, const LstmCachedSeries *series)
{
    ereport(WARNING,
            (errcode(ERRCODE_WARNING),
             errmsg("lstm_score_trigger: restarting series \"%s\": its state was made by another "
                    "version of model \"%s\"",
                    series->series, cfg->model_name),
             errdetail("The saved state was made by the model with fingerprint %016" PRIx64
                       "; the model now has fingerprint %016" PRIx64 ".",
                       series->saved_fingerprint, series->fingerprint),
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
    lstm_column_read_features(&cfg->value, value, cfg->features, lstm_row_width(&cfg->dims),
                              cfg->model_name, "lstm_score_trigger");
    return true;
}

/* The forecast a stream makes now, for a row that does not advance it. */
static void current_forecast(ScoreConfig *cfg, const LstmDecoded *model, const LstmStream *stream,
                             ScoreResult *result)
{
    if (stream->series.steps == 0)
        return;
    lstm_runner_predict(&model->runner, &stream->series, cfg->outputs);
    result->has_forecast = true;
    result->forecast = cfg->outputs[0];
}

/* Consume the row's features (cfg->features) into stream and fill result. */
static void step(ScoreConfig *cfg, const LstmDecoded *model, LstmStream *stream,
                 ScoreResult *result)
{
    LstmError err = lstm_stream_feed(&model->runner, stream, cfg->features, cfg->outputs);
    if (err != LSTM_OK)
        lstm_report_row_error(err, cfg->features, &model->runner.dims);
    result->has_forecast = (stream->flags & LSTM_STATE_HAS_FORECAST) != 0;
    result->forecast = stream->last_forecast;
    result->has_score = (stream->flags & LSTM_STATE_HAS_SCORE) != 0;
    result->score = stream->last_score;
    result->alert = stream->row.alert != 0;
}

/*
 * Score the row against its series' state in memory (locked by this
 * statement): a late row is counted, a NULL value gets the current forecast,
 * any other value is applied. Written back when the statement ends.
 */
static void score_cached_row(ScoreConfig *cfg, LstmCachedSeries *series, const SeriesRow *row,
                             ScoreResult *result)
{
    LstmDecoded *model = use_model(cfg, row, series->model);
    LstmSeriesVersion *now = &series->now;

    if (!lstm_anomaly_settings_equal(&now->stream.anomaly.settings, &cfg->settings)) {
        /* another trigger on the same scored table (a partition's) reached the series first */
        lstm_stream_cache_change(series);
        lstm_anomaly_settings_use(&now->stream, &cfg->settings, "lstm_score_trigger");
    }
    if (row_is_late(cfg, row, now)) {
        lstm_stream_cache_change(series); /* stored unscored, the state untouched */
        now->late_added++;
        return;
    }
    if (!read_value(cfg, row)) {
        current_forecast(cfg, model, &now->stream, result); /* nothing to apply */
        return;
    }
    lstm_stream_cache_change(series);
    if (now->restart_pending) {
        warn_restart(cfg, series);
        now->restart_pending = false;
    }
    step(cfg, model, &now->stream, result);
    now->state_changed = true;
    if (cfg->time.attnum != 0)
        lstm_stream_cache_set_last_time(series, row->time_bytes, cfg->time_codec.type);
    else
        now->has_last_time = false;
}

/*
 * Score a series' first row and create its state at once (so that other
 * sessions wait for it); false if another session created the state
 * meanwhile (nothing saved: lock theirs and step it). *created is the new
 * series, cached, or NULL if the row had no value (no state yet).
 */
static bool score_first_row(ScoreConfig *cfg, const SeriesRow *row, ScoreResult *result,
                            LstmCachedSeries **created)
{
    Datum stored = read_model(cfg, row);
    LstmDecoded *model = use_model(cfg, row, stored);
    const LstmDims *dims = &model->runner.dims;
    Datum args[6] = {row->key[0],
                     row->key[1],
                     row->key[2],
                     (Datum)0,
                     PointerGetDatum(row->time_bytes),
                     ObjectIdGetDatum(cfg->time_codec.type)};
    char nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
    int rc;

    *created = NULL;
    if (!read_value(cfg, row))
        return true;
    lstm_stream_init(&cfg->stream, dims, cfg->stream_memory);
    lstm_anomaly_settings_use(&cfg->stream, &cfg->settings, "lstm_score_trigger");
    step(cfg, model, &cfg->stream, result);
    args[3] = PointerGetDatum(lstm_state_make(&cfg->stream, dims, model->fingerprint));
    if (cfg->time.attnum == 0)
        nulls[4] = nulls[5] = 'n';
    rc = SPI_execute_plan(plans.insert, args, nulls, false, 0);
    if (rc != SPI_OK_INSERT)
        elog(ERROR, "lstm_score_trigger: saving the state failed: %s", SPI_result_code_string(rc));
    if (SPI_processed != 1)
        return false;
    *created = lstm_stream_cache_add(row->key[0], cfg->source, row->series_name, stored, dims,
                                     model->fingerprint);
    lstm_state_load(VARDATA(DatumGetPointer(args[3])), &(*created)->now.stream);
    if (cfg->time.attnum != 0)
        lstm_stream_cache_set_last_time(*created, row->time_bytes, cfg->time_codec.type);
    return true;
}

/*
 * Reach a series this statement has not used yet (SPI connected): lock its
 * saved state and cache it, or create it with this row (result filled, the
 * row done: returns NULL); a lost race to create it is retried against the
 * winner's state.
 */
static LstmCachedSeries *open_series(ScoreConfig *cfg, const SeriesRow *row, ScoreResult *result)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        SavedState saved;
        LstmCachedSeries *created;

        if (lock_saved_state(row, &saved))
            return cache_saved_series(cfg, row, &saved);
        if (score_first_row(cfg, row, result, &created))
            return NULL;
        memset(result, 0, sizeof(*result));
    }
    ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                    errmsg("lstm_score_trigger could not create the state of series \"%s\"",
                           row->series_name),
                    errhint("Retry the transaction.")));
    return NULL;
}

/* Score one row: against its series' state in memory, reading it first if needed. */
static void score_row(ScoreConfig *cfg, const SeriesRow *row, ScoreResult *result)
{
    LstmCachedSeries *series = lstm_stream_cache_find(row->key[0], cfg->source, row->series_name);

    if (series == NULL) {
        MemoryContext caller = CurrentMemoryContext;
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "lstm_score_trigger: SPI_connect failed");
        if (plans.schema != cfg->schema || plans.state_type != cfg->state_type)
            prepare_plans(cfg->schema, cfg->state_type);
        series = open_series(cfg, row, result);
        SPI_finish();
        MemoryContextSwitchTo(caller);
    }
    if (series != NULL)
        score_cached_row(cfg, series, row, result);
}

/* score_row, counted as the trigger's own work (its SPI statements write nothing back). */
static pg_noinline void score_row_counted(ScoreConfig *cfg, const SeriesRow *row,
                                          ScoreResult *result)
{
    lstm_stream_cache_enter();
    PG_TRY();
    {
        score_row(cfg, row, result);
    }
    PG_FINALLY();
    {
        lstm_stream_cache_leave();
    }
    PG_END_TRY();
}

/* ---------- writing a state back ---------- */

/*
 * Write a cached series' state to its row of lstm_stream_states (called when
 * the statement that used it ends): the state, last_time and the late rows
 * counted, or only the count if no row was applied.
 */
static void write_series(LstmCachedSeries *series)
{
    const LstmSeriesVersion *now = &series->now;
    Datum args[7];
    char nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
    int rc;

    if (!now->state_changed && now->late_added == 0)
        return;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "lstm_score_trigger: SPI_connect failed");
    memcpy(args, series->key, sizeof(series->key));
    if (now->state_changed) {
        args[3] =
            PointerGetDatum(lstm_state_make(&now->stream, &series->dims, series->fingerprint));
        args[4] = PointerGetDatum(now->last_time);
        args[5] = ObjectIdGetDatum(now->last_time_type);
        args[6] = Int64GetDatum(now->late_added);
        if (!now->has_last_time)
            nulls[4] = nulls[5] = 'n';
        rc = SPI_execute_plan(plans.update, args, nulls, false, 0);
    } else {
        args[3] = Int64GetDatum(now->late_added);
        rc = SPI_execute_plan(plans.late, args, NULL, false, 0);
    }
    if (rc != SPI_OK_UPDATE)
        elog(ERROR, "lstm_score_trigger: saving the state failed: %s", SPI_result_code_string(rc));
    if (SPI_processed != 1)
        elog(ERROR, "lstm_score_trigger: saving the state of series \"%s\" found no row",
             series->series);
    SPI_finish();
}

/* lstm_score_trigger_init: write cached states back when statements end (from _PG_init). */
void lstm_score_trigger_init(void)
{
    lstm_stream_cache_init(write_series);
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
        row->time_bytes = lstm_time_encode(&cfg->time_codec, row->time);
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
        score_row_counted(cfg, &row, &result);
    }
    return PointerGetDatum(write_result(cfg, tuple, desc, &result));
}
