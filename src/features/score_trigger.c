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
 * score >= threshold, into a boolean alert column); advance the state. What
 * a statement's rows add is written back once, when the statement ends
 * (stream_cache.c), so a load's cost is linear in its rows. At READ
 * COMMITTED on the direct path a series' first row in a statement is
 * written at once instead, over the version it read, and that update takes
 * the row lock (write_through): one heap operation for a single-row INSERT,
 * whose series is then not cached either (no later row of the statement can
 * reach it). The settings (JSON text, as lstm_anomaly_score's jsonb) start
 * every new series' state; a saved state with other settings is an error
 * when the statement first reads it. The arithmetic is the core step
 * lstm_state_agg and lstm_anomaly_score run, so a series inserted in time
 * order gets exactly the state and scores those give over the same rows.
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
 * - Concurrency: the state row is locked (as SELECT ... FOR NO KEY UPDATE
 *   locks it) before it is read, so concurrent inserts into one series are applied one
 *   after the other, each exactly once; a series' first row is created with
 *   INSERT ... ON CONFLICT DO NOTHING and, if another session won the race,
 *   locked and advanced instead. Under REPEATABLE READ or SERIALIZABLE a
 *   concurrent update of the same series is a serialization failure.
 *
 * Cost: the trigger's arguments are resolved once per trigger and kept
 * across statements (ScoreSetup, dropped on any relcache invalidation it
 * depends on), the SQL is prepared once per backend (SPI_keepplan), and the
 * decoded model is kept per backend and recognised by its stored datum. A
 * row deforms the new tuple once, finds its series by the series value's
 * bytes (the key text is made for a series' first row in a statement only),
 * compares its time with the series' newest as values, steps the cell and
 * forms the stored tuple. Each series reached by a statement costs a lock and
 * a write of its row of lstm_stream_states: through the heap, reached by the
 * root of the row's HOT chain or else the primary key index
 * (stream_states.c), when the caller's rights make that equivalent to the
 * SQL, otherwise two SPI executions; the model is read once per statement,
 * through its primary key (or the TID it was last found at) with lstm_models'
 * row-level security applied in C when its policies are the extension's own
 * (per series through SPI otherwise).
 */
#include "lstm.h"

#include "catalog/extension.h"
#include "catalog/models_table.h"
#include "features/score_trigger.h"
#include "features/stream_cache.h"
#include "features/stream_states.h"
#include "runtime/anomaly_settings.h"
#include "runtime/arguments.h"
#include "runtime/bytes_key.h"
#include "runtime/column_spec.h"
#include "runtime/model_cache.h"
#include "types/lstm_state.h"

#include <inttypes.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(lstm_score_trigger);

/* ---------- SQL prepared once per backend ---------- */

/* The statements the trigger runs, kept across transactions. */
typedef struct StreamPlans {
    Oid schema;        /* extension schema they were prepared for */
    Oid state_type;    /* lstm_state's OID there */
    Oid models;        /* the models relation they read (lstm_models_read_relation) */
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
    const char *models = lstm_models_read_name();
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
                           "pg_catalog.now()) ON CONFLICT (model_name, source, series) DO NOTHING "
                           "RETURNING ctid",
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
    plans.models = lstm_models_read_relation();
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
static uint64 stream_model_resets; /* decoded models freed so far */

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
        stream_model_resets++;
        entry->cache = new_model_cache(entry->context);
        decoded = lstm_decoded_for_datum(entry->cache, model);
    }
    return decoded;
}

/* ---------- per-statement set-up: the trigger's arguments ---------- */

/* One output column as splice_result writes it. */
typedef struct SpliceColumn {
    AttrNumber attnum;
    int output; /* which of ScoreResult's values: SPLICE_FORECAST, _SCORE or _ALERT */
    int16 len;  /* attlen: 1, 2, 4 or 8 */
    char align; /* attalign */
} SpliceColumn;

#define SPLICE_FORECAST 0
#define SPLICE_SCORE 1
#define SPLICE_ALERT 2

/*
 * The trigger's arguments resolved against its table, kept per trigger for
 * the life of the backend (see trigger_setup): resolving them (column lookups,
 * the scored table's root in pg_inherits, the extension's schema) cost more
 * than scoring a row. A relcache invalidation of the trigger's table, of the
 * scored table or of lstm_stream_states or lstm_models makes a setup stale
 * (the next statement resolves afresh); a role change forgets the direct-path
 * decision.
 */
typedef struct ScoreSetup {
    Oid trigger;           /* pg_trigger OID: the key */
    uint64 id;             /* unique in the backend (a series remembers whose settings it took) */
    Oid relid;             /* the trigger's table */
    bool valid;            /* no invalidation since it was resolved */
    bool in_hash;          /* the trigger's entry in setups points to it */
    int users;             /* statements using it (a stale one is freed at 0) */
    MemoryContext context; /* holds the setup and what it points to */
    Oid schema;            /* extension schema, to check the saved plans */
    Oid state_type;        /* lstm_state's OID */
    Oid models_relid;      /* lstm_models (a Citus node: its copy, lstm_models_read_relation) */
    char *model_name;      /* argument 1 */
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
    int16 time_typlen;            /* the time column's type: length and by-value */
    bool time_byval;
    bool memo_usable; /* the key text depends on the value's bytes alone (series_memo) */
    int16 series_typlen;
    bool series_byval;
    /* lstm_stream_states through the access methods: decided for one role at a time. */
    bool direct_checked;
    Oid direct_user;          /* the role it was decided for */
    bool direct_row_security; /* row_security then */
    bool direct;              /* the direct path applies (stream_states.h) */
    LstmStateTable states;
    /*
     * The output columns (forecast, score, alert) in column order, when every
     * one is of a fixed-length by-value type, so that splice_result can add
     * their values to the new tuple's bytes; splice_count 0 otherwise.
     */
    int splice_count;
    AttrNumber splice_from; /* the first output column */
    SpliceColumn splice[3]; /* (splice_count) by attnum */
} ScoreSetup;

/* A series value's bytes (a by-value datum's own bytes; none for a single series). */
typedef LstmBytesKey SeriesBytes;

/* A memo entry: a series value's bytes and its cached series. */
typedef struct SeriesMemoEntry {
    SeriesBytes bytes;
    LstmCachedSeries *series;
    /*
     * The entry of the row that followed this series' last row: rows in time
     * order over many series repeat the same order, so the next row's series
     * is tried first, with one comparison instead of a hash lookup.
     */
    struct SeriesMemoEntry *next;
} SeriesMemoEntry;

/* A statement's use of the trigger: its setup and what the statement keeps, in fn_extra. */
typedef struct ScoreConfig {
    ScoreSetup *setup;
    /* The series reached by this statement, by the series value's bytes (see series_memo). */
    HTAB *memo;
    uint64 memo_generation;
    SeriesMemoEntry *last_entry; /* the memo's entry of the last row's series, or NULL */
    /* Until a statement reaches a second series, its first one alone (no table made). */
    bool have_first;
    SeriesMemoEntry first;
    uint64 first_generation;
    /* The decoded model of the cached series' model datum used last (see cached_model). */
    Datum last_model;
    uint64 last_model_generation;
    uint64 last_model_resets;
    LstmDecoded *last_decoded;
    /* The row's columns, deformed (natts each; reused by every row). */
    int natts;
    Datum *values;
    bool *isnull;
    /* Scratch for the current model's sizes. */
    LstmDims dims;
    bool have_scratch;
    LstmStream stream;    /* a series' first row is scored here, before it is cached */
    float *stream_memory; /* (lstm_series_nfloats) h, c, the normaliser's ring */
    double *features;     /* (I) */
    double *outputs;      /* (O) */
    bool have_model;      /* direct path: the model, read once per statement */
    Datum model;
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
static void resolve_columns(ScoreSetup *setup, Relation rel, const Trigger *trigger)
{
    char **args = trigger->tgargs;
    LstmColumnSource source = {RelationGetRelid(rel),
                               psprintf("\"%s\"", RelationGetRelationName(rel)),
                               "lstm_score_trigger", LSTM_READ_STREAMING};

    lstm_column_resolve(&source, LSTM_COLUMN_VALUE, pstrdup(args[1]), "value column",
                        &setup->value);
    if (lstm_column_resolve(&source, LSTM_COLUMN_SERIES, pstrdup(args[2]), "series column",
                            &setup->series))
        lstm_series_key_init(&setup->series_key, &setup->series, CurrentMemoryContext);
    lstm_column_resolve(&source, LSTM_COLUMN_FORECAST, pstrdup(args[3]), "forecast column",
                        &setup->forecast);
    lstm_column_resolve(&source, LSTM_COLUMN_SCORE, pstrdup(args[4]), "score column",
                        &setup->score);
    if (setup->value.attnum == setup->forecast.attnum ||
        setup->value.attnum == setup->score.attnum ||
        (setup->forecast.attnum != 0 && setup->forecast.attnum == setup->score.attnum))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_score_trigger value, forecast and score columns must be "
                               "different columns")));
    if (trigger->tgnargs >= 6 && lstm_column_resolve(&source, LSTM_COLUMN_TIME, pstrdup(args[5]),
                                                     "time column", &setup->time))
        lstm_time_codec_init(&setup->time_codec, &setup->time, CurrentMemoryContext);
    lstm_anomaly_settings_parse(trigger->tgnargs >= 7 ? args[6] : NULL, "lstm_score_trigger",
                                &setup->settings);
    if (trigger->tgnargs == 8 &&
        lstm_column_resolve(&source, LSTM_COLUMN_ALERT, pstrdup(args[7]), "alert column",
                            &setup->alert) &&
        (setup->alert.attnum == setup->value.attnum ||
         setup->alert.attnum == setup->forecast.attnum ||
         setup->alert.attnum == setup->score.attnum))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_score_trigger alert column must differ from the value, "
                               "forecast and score columns")));
}

/*
 * Can splice_result write the output columns of this table? Only when each
 * is of a fixed-length by-value type (real, double precision, boolean, or a
 * domain over one): a numeric output is formed with the tuple.
 */
static void splice_init(ScoreSetup *setup, TupleDesc desc)
{
    const LstmColumn *columns[3] = {&setup->forecast, &setup->score, &setup->alert};
    const int outputs[3] = {SPLICE_FORECAST, SPLICE_SCORE, SPLICE_ALERT};

    setup->splice_count = 0;
    for (int i = 0; i < 3; i++) {
        Form_pg_attribute att;
        SpliceColumn *column;
        int at;

        if (columns[i]->attnum == 0)
            continue;
        att = TupleDescAttr(desc, columns[i]->attnum - 1);
        if (!att->attbyval || att->attlen <= 0) {
            setup->splice_count = 0;
            return;
        }
        /* insertion in attnum order */
        for (at = setup->splice_count; at > 0 && setup->splice[at - 1].attnum > att->attnum; at--)
            setup->splice[at] = setup->splice[at - 1];
        column = &setup->splice[at];
        column->attnum = att->attnum;
        column->output = outputs[i];
        column->len = att->attlen;
        column->align = att->attalign;
        setup->splice_count++;
    }
    setup->splice_from = setup->splice_count > 0 ? setup->splice[0].attnum : 0;
}

/* ---------- the statement's series, by value ---------- */

/*
 * Can rows find their series by the series value's bytes? Yes for a single
 * series and for types whose key text is a function of the bytes whatever
 * the session's settings say (lstm_series_key_text's fixed forms and the
 * types below); equal bytes then mean the same key text, so the text is made
 * only for a series' first row in a statement.
 */
static void series_memo_init(ScoreSetup *setup)
{
    Oid base = setup->series.base_type;

    if (setup->series.attnum == 0) {
        setup->memo_usable = true;
        return;
    }
    get_typlenbyval(setup->series.type, &setup->series_typlen, &setup->series_byval);
    setup->memo_usable = OidIsValid(setup->series_key.form) || base == INT2OID || base == INT4OID ||
                         base == INT8OID || base == OIDOID || base == BOOLOID || base == TEXTOID ||
                         base == VARCHAROID || base == BPCHAROID || base == NAMEOID ||
                         base == NUMERICOID || base == UUIDOID || base == CHAROID;
}

/* The memo, emptied when the stream cache forgot any series. */
static HTAB *series_memo(ScoreConfig *cfg, MemoryContext context)
{
    uint64 now = lstm_stream_cache_generation();

    if (cfg->memo != NULL && cfg->memo_generation != now) {
        hash_destroy(cfg->memo);
        cfg->memo = NULL;
        cfg->last_entry = NULL;
    }
    if (cfg->memo == NULL) {
        cfg->memo =
            lstm_bytes_key_table("lstm_score_trigger series", sizeof(SeriesMemoEntry), context);
        cfg->memo_generation = now;
    }
    return cfg->memo;
}

/* ---------- the setups, per trigger, across statements ---------- */

/* A hash table entry: a trigger's OID and its setup. */
typedef struct SetupEntry {
    Oid trigger;
    ScoreSetup *setup;
} SetupEntry;

static HTAB *setups;               /* SetupEntry by trigger OID */
static uint64 setup_invalidations; /* relcache invalidations seen so far */
static uint64 setups_made;         /* setups resolved so far: their ids */

/* Free a setup that no statement uses and the hash no longer holds. */
static void setup_release_if_unused(ScoreSetup *setup)
{
    if (!setup->in_hash && setup->users == 0)
        MemoryContextDelete(setup->context);
}

/* Relcache invalidation: setups that depend on relid (every one for InvalidOid) go stale. */
void lstm_score_trigger_invalidate(Oid relid)
{
    HASH_SEQ_STATUS status;
    SetupEntry *entry;

    setup_invalidations++;
    if (setups == NULL)
        return;
    hash_seq_init(&status, setups);
    while ((entry = hash_seq_search(&status)) != NULL) {
        ScoreSetup *setup = entry->setup;
        if (relid == InvalidOid || relid == setup->relid || relid == setup->source ||
            relid == setup->models_relid || (setup->direct_checked && relid == setup->states.relid))
            setup->valid = false;
    }
}

/* Role or membership change: every direct-path decision is taken again. */
static void setups_forget_rights(Datum arg, int cacheid, uint32 hashvalue)
{
    HASH_SEQ_STATUS status;
    SetupEntry *entry;

    (void)arg;
    (void)cacheid;
    (void)hashvalue;
    if (setups == NULL)
        return;
    hash_seq_init(&status, setups);
    while ((entry = hash_seq_search(&status)) != NULL)
        entry->setup->direct_checked = false;
}

/* Resolve and check the trigger's arguments against its table into a new setup. */
static ScoreSetup *resolve_setup(FunctionCallInfo fcinfo, TriggerData *td)
{
    MemoryContext context =
        AllocSetContextCreate(CacheMemoryContext, "lstm_score_trigger setup", ALLOCSET_SMALL_SIZES);
    MemoryContext old = MemoryContextSwitchTo(context);
    ScoreSetup *setup = palloc0(sizeof(ScoreSetup));
    uint64 invalidations = setup_invalidations;

    PG_TRY();
    {
        check_trigger_arguments(td->tg_trigger);
        setup->trigger = td->tg_trigger->tgoid;
        setup->id = ++setups_made;
        setup->relid = RelationGetRelid(td->tg_relation);
        setup->context = context;
        setup->model_name = pstrdup(td->tg_trigger->tgargs[0]);
        setup->model_name_text = PointerGetDatum(cstring_to_text(setup->model_name));
        resolve_columns(setup, td->tg_relation, td->tg_trigger);
        splice_init(setup, RelationGetDescr(td->tg_relation));
        setup->source = lstm_source_root(setup->relid);
        if (setup->time.attnum != 0)
            get_typlenbyval(setup->time.type, &setup->time_typlen, &setup->time_byval);
        series_memo_init(setup);

        /* The extension's schema and state type, to check the saved plans. */
        setup->schema = get_func_namespace(fcinfo->flinfo->fn_oid);
        setup->state_type =
            GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("lstm_state"),
                            ObjectIdGetDatum(setup->schema));
        if (!OidIsValid(setup->state_type))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                            errmsg("type lstm_state does not exist in the schema of "
                                   "lstm_score_trigger")));
        setup->models_relid = lstm_models_read_relation(); /* a Citus node's own copy */
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(old);
        MemoryContextDelete(context);
        PG_RE_THROW();
    }
    PG_END_TRY();
    MemoryContextSwitchTo(old);
    /* An invalidation while resolving may have concerned it: good for this statement only. */
    setup->valid = invalidations == setup_invalidations;
    return setup;
}

/*
 * Free the stale setups no statement uses (those of dropped or changed
 * triggers, which no later statement asks for), every SETUP_SWEEP_EVERY
 * resolutions, so a long session that creates and drops scored tables does
 * not keep them all.
 */
#define SETUP_SWEEP_EVERY 64

static void sweep_stale_setups(void)
{
    HASH_SEQ_STATUS status;
    SetupEntry *entry;

    hash_seq_init(&status, setups);
    while ((entry = hash_seq_search(&status)) != NULL) {
        ScoreSetup *setup = entry->setup;
        if (setup->valid || setup->users > 0)
            continue;
        hash_search(setups, &entry->trigger, HASH_REMOVE, NULL);
        setup->in_hash = false;
        setup_release_if_unused(setup);
    }
}

/* The trigger's valid setup, resolved now if it has none (or a stale one). */
static ScoreSetup *trigger_setup(FunctionCallInfo fcinfo, TriggerData *td)
{
    SetupEntry *entry;
    bool found;

    if (setups == NULL) {
        HASHCTL ctl;
        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = sizeof(Oid);
        ctl.entrysize = sizeof(SetupEntry);
        ctl.hcxt = CacheMemoryContext;
        setups = hash_create("lstm_score_trigger setups", 16, &ctl,
                             HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    entry = hash_search(setups, &td->tg_trigger->tgoid, HASH_FIND, &found);
    if (entry != NULL && entry->setup->valid &&
        entry->setup->relid == RelationGetRelid(td->tg_relation))
        return entry->setup;
    {
        ScoreSetup *setup = resolve_setup(fcinfo, td);
        if (setups_made % SETUP_SWEEP_EVERY == 0)
            sweep_stale_setups();
        entry = hash_search(setups, &td->tg_trigger->tgoid, HASH_ENTER, &found);
        if (found) {
            entry->setup->in_hash = false;
            setup_release_if_unused(entry->setup);
        }
        entry->setup = setup;
        setup->in_hash = true;
        return setup;
    }
}

/* Memory reset callback of a statement's fn_mcxt: the statement no longer uses the setup. */
static void setup_statement_done(void *arg)
{
    ScoreSetup *setup = arg;
    setup->users--;
    setup_release_if_unused(setup);
}

/* The statement's ScoreConfig (fn_extra), on the trigger's setup. */
static ScoreConfig *score_config(FunctionCallInfo fcinfo, TriggerData *td)
{
    ScoreConfig *cfg = (ScoreConfig *)fcinfo->flinfo->fn_extra;
    MemoryContextCallback *done;

    if (cfg != NULL)
        return cfg;
    cfg = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ScoreConfig));
    done = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(MemoryContextCallback));
    cfg->setup = trigger_setup(fcinfo, td);
    cfg->setup->users++;
    done->func = setup_statement_done;
    done->arg = cfg->setup;
    MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, done);
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
    const Datum *values;     /* the new tuple's columns, deformed once (natts) */
    const bool *isnull;      /* (natts) */
    Datum series;            /* the series value (not toasted), with a series column */
    bool has_key;            /* key and series_name are set */
    Datum key[3];            /* model name, source, series key: the state's primary key */
    const char *series_name; /* the series key, for messages */
    Datum time;              /* the row's time, with a time column (not toasted) */
    MemoryContext scratch;   /* lives as long as cfg (fn_mcxt) */
} SeriesRow;

/* A series' saved state as the lock statement read it. */
typedef struct SavedState {
    Datum state;
    Datum model;
    bool has_last_time; /* last_time and last_time_type are set */
    Datum last_time;
    Oid last_time_type;
    ItemPointerData tid; /* direct path: the version locked */
    bool written_here;   /* direct path: the version this backend wrote (validated then) */
} SavedState;

/* What the trigger writes into the new row. */
typedef struct ScoreResult {
    bool has_forecast;
    double forecast;
    bool has_score;
    double score;
    bool alert; /* score >= threshold (with has_score) */
} ScoreResult;

/* The model of a series' first row (no state to join it from); unknown is an error. */
static Datum read_model(ScoreConfig *cfg, const SeriesRow *row);

/* ERROR: the trigger's model is not in lstm_models (or not visible to the role). */
static void model_missing(const ScoreConfig *cfg)
{
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                    errmsg("model \"%s\" does not exist", cfg->setup->model_name),
                    errhint("lstm_score_trigger's first argument names a model in lstm_models.")));
}

/*
 * The model for the direct path, read once per statement (a statement uses
 * one model) into cfg->model: through the primary key with lstm_models'
 * row-level security applied in C when its policies are the extension's own;
 * false, with nothing read, when that is not possible (statement_model then
 * reads it through SPI). snapshot as lstm_models_read_direct's.
 */
static bool statement_model_direct(ScoreConfig *cfg, const SeriesRow *row, Snapshot snapshot)
{
    bool found;

    if (cfg->have_model)
        return true;
    if (!OidIsValid(cfg->setup->models_relid))
        model_missing(cfg);
    if (!lstm_models_read_direct(cfg->setup->models_relid, cfg->setup->model_name, snapshot,
                                 row->scratch, &cfg->model, &found))
        return false;
    if (!found)
        model_missing(cfg);
    cfg->have_model = true;
    return true;
}

/* The statement's model (SPI connected: read through SQL when it cannot be read directly). */
static Datum statement_model(ScoreConfig *cfg, const SeriesRow *row)
{
    if (!statement_model_direct(cfg, row, InvalidSnapshot)) {
        Datum model = read_model(cfg, row);
        MemoryContext old = MemoryContextSwitchTo(row->scratch);
        cfg->model = datumCopy(model, false, -1);
        MemoryContextSwitchTo(old);
        cfg->have_model = true;
    }
    return cfg->model;
}

/* A saved state as the direct path read or locked it, with the statement's model. */
static void saved_from_row(SavedState *saved, const LstmSavedRow *row, Datum model)
{
    saved->state = row->state;
    saved->has_last_time = row->has_last_time;
    saved->last_time = row->last_time;
    saved->last_time_type = row->last_time_type;
    saved->tid = row->tid;
    saved->written_here = row->written_here;
    saved->model = model;
}

/* Lock the series' saved state through the primary key and read it (direct path). */
static bool lock_saved_state_direct(ScoreConfig *cfg, const SeriesRow *row, SavedState *saved)
{
    LstmSavedRow locked;
    Datum model = statement_model(cfg, row);

    if (!lstm_state_row_lock(&cfg->setup->states, row->key, &locked))
        return false;
    saved_from_row(saved, &locked, model);
    return true;
}

/* Lock the series' saved state and read it; false if the series has none yet. */
static bool lock_saved_state(ScoreConfig *cfg, const SeriesRow *row, SavedState *saved)
{
    HeapTuple tuple;
    TupleDesc desc;
    bool isnull, time_null, type_null;
    int rc;

    if (cfg->setup->direct)
        return lock_saved_state_direct(cfg, row, saved);
    rc = SPI_execute_plan(plans.lock, (Datum *)row->key, NULL, false, 1);
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
        model_missing(cfg);
    return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
}

/* A cached series is written back the way its state was locked. */
static void use_direct_path(ScoreConfig *cfg, LstmCachedSeries *series)
{
    series->direct = cfg->setup->direct;
    series->states = cfg->setup->states;
    ItemPointerSetInvalid(&series->tid);
}

/* The decoded model for a stored model datum, with scratch for its sizes. */
static LstmDecoded *use_model(ScoreConfig *cfg, const SeriesRow *row, Datum stored)
{
    LstmDecoded *model = stream_model(cfg->setup->model_name, stored);
    prepare_scratch(cfg, row->scratch, &model->runner.dims);
    return model;
}

/*
 * use_model for a cached series: the stream cache keeps one copy of a model
 * datum for all its series, so rows of a statement find the decoded model by
 * that pointer, while neither the cache forgot a series (the copy may be
 * gone) nor a decoded model was freed.
 */
static LstmDecoded *cached_model(ScoreConfig *cfg, const SeriesRow *row,
                                 const LstmCachedSeries *series)
{
    uint64 generation = lstm_stream_cache_generation();

    if (cfg->last_decoded == NULL || cfg->last_model != series->model ||
        cfg->last_model_generation != generation || cfg->last_model_resets != stream_model_resets) {
        cfg->last_decoded = use_model(cfg, row, series->model);
        cfg->last_model = series->model;
        cfg->last_model_generation = generation;
        cfg->last_model_resets = stream_model_resets;
    }
    prepare_scratch(cfg, row->scratch, &cfg->last_decoded->runner.dims);
    return cfg->last_decoded;
}

/* Is the row older than the newest one applied to its series? */
static bool row_is_late(ScoreConfig *cfg, const SeriesRow *row, const LstmSeriesVersion *now)
{
    const LstmTimeCodec *codec = &cfg->setup->time_codec;

    if (cfg->setup->time.attnum == 0 || !now->has_last_time || !now->last_time_held ||
        now->last_time_type != codec->type)
        return false;
    return lstm_time_compare(codec, row->time, now->last_time) < 0;
}

/*
 * Cache a series whose saved state was just locked or read: its stream if the
 * model made it, otherwise a fresh stream that restarts (with a warning) at
 * the series' next applied row. lone: the statement's only row, written
 * through; the series is not cached but made in the statement's memory.
 */
static LstmCachedSeries *cache_saved_series(ScoreConfig *cfg, const SeriesRow *row,
                                            const SavedState *saved, bool lone)
{
    LstmDecoded *model = use_model(cfg, row, saved->model);
    struct varlena *state = saved->written_here ? (struct varlena *)PG_DETOAST_DATUM(saved->state)
                                                : lstm_state_from_datum(saved->state);
    LstmCachedSeries *series =
        lone ? lstm_stream_cache_lone(row->scratch, row->key, row->series_name, saved->model,
                                      &model->runner.dims, model->fingerprint)
             : lstm_stream_cache_add(row->key[0], cfg->setup->source, row->series_name,
                                     saved->model, &model->runner.dims, model->fingerprint);
    LstmStateHeader header;
    char message[LSTM_ERRMSG_LEN];

    use_direct_path(cfg, series);
    series->tid = saved->tid;
    lstm_state_read_header(VARDATA(state), &header);
    if (lstm_state_matches_model(&header, &model->runner.dims, model->fingerprint, message))
        lstm_state_load(VARDATA(state), &series->now.stream);
    else
        series->now.restart_pending = true;
    /* the trigger's settings: a restarted or older state takes them, any other must have them */
    lstm_anomaly_settings_use(&series->now.stream, &cfg->setup->settings, "lstm_score_trigger");
    series->settings_checked = cfg->setup->id; /* (they are the trigger's now) */
    series->saved_fingerprint = header.model_fingerprint;
    if (saved->has_last_time) {
        /* Decoded once here; a time of another type is never compared (nor written). */
        bool held =
            cfg->setup->time.attnum != 0 && saved->last_time_type == cfg->setup->time_codec.type;
        lstm_stream_cache_set_last_time(
            series, held,
            held ? lstm_time_decode(&cfg->setup->time_codec, saved->last_time) : (Datum)0,
            saved->last_time_type, cfg->setup->time_typlen, cfg->setup->time_byval);
    }
    return series;
}

/* The WARNING for a series restarted under a replaced model. */
static void warn_restart(ScoreConfig *cfg, const LstmCachedSeries *series)
{
    ereport(WARNING,
            (errcode(ERRCODE_WARNING),
             errmsg("lstm_score_trigger: restarting series \"%s\": its state was made by another "
                    "version of model \"%s\"",
                    series->series, cfg->setup->model_name),
             errdetail("The saved state was made by the model with fingerprint %016" PRIx64
                       "; the model now has fingerprint %016" PRIx64 ".",
                       series->saved_fingerprint, series->fingerprint),
             errhint("lstm_stream_rebuild() rebuilds the state from the table's history under "
                     "the current model.")));
}

/* The row's value as raw features in cfg->features; false for NULL. */
static bool read_value(ScoreConfig *cfg, const SeriesRow *row)
{
    Datum value = row->values[cfg->setup->value.attnum - 1];

    if (row->isnull[cfg->setup->value.attnum - 1])
        return false;
    lstm_column_read_features(&cfg->setup->value, value, cfg->features, lstm_row_width(&cfg->dims),
                              cfg->setup->model_name, "lstm_score_trigger");
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
    LstmDecoded *model = cached_model(cfg, row, series);
    LstmSeriesVersion *now = &series->now;

    if (series->settings_checked != cfg->setup->id) {
        if (!lstm_anomaly_settings_equal(&now->stream.anomaly.settings, &cfg->setup->settings)) {
            /* another trigger on the same scored table (a partition's) reached it first */
            lstm_stream_cache_change(series);
            lstm_anomaly_settings_use(&now->stream, &cfg->setup->settings, "lstm_score_trigger");
        }
        series->settings_checked = cfg->setup->id;
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
    if (cfg->setup->time.attnum != 0)
        lstm_stream_cache_set_last_time(series, true, row->time, cfg->setup->time_codec.type,
                                        cfg->setup->time_typlen, cfg->setup->time_byval);
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
    Datum stored = cfg->setup->direct ? statement_model(cfg, row) : read_model(cfg, row);
    LstmDecoded *model = use_model(cfg, row, stored);
    const LstmDims *dims = &model->runner.dims;
    Datum args[6] = {row->key[0], row->key[1], row->key[2],
                     (Datum)0,    (Datum)0,    ObjectIdGetDatum(cfg->setup->time_codec.type)};
    char nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
    int rc;

    *created = NULL;
    if (!read_value(cfg, row))
        return true;
    lstm_stream_init(&cfg->stream, dims, cfg->stream_memory);
    lstm_anomaly_settings_use(&cfg->stream, &cfg->setup->settings, "lstm_score_trigger");
    step(cfg, model, &cfg->stream, result);
    args[3] = PointerGetDatum(lstm_state_make(&cfg->stream, dims, model->fingerprint));
    if (cfg->setup->time.attnum == 0)
        nulls[4] = nulls[5] = 'n';
    else
        args[4] = PointerGetDatum(lstm_time_encode(&cfg->setup->time_codec, row->time));
    rc = SPI_execute_plan(plans.insert, args, nulls, false, 0);
    if (rc != SPI_OK_INSERT_RETURNING)
        elog(ERROR, "lstm_score_trigger: saving the state failed: %s", SPI_result_code_string(rc));
    if (SPI_processed != 1)
        return false;
    *created = lstm_stream_cache_add(row->key[0], cfg->setup->source, row->series_name, stored,
                                     dims, model->fingerprint);
    use_direct_path(cfg, *created);
    if ((*created)->direct) {
        /* the version just inserted: written back without finding it through the index */
        bool isnull;
        Datum ctid = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        if (!isnull)
            (*created)->tid = *(ItemPointer)DatumGetPointer(ctid);
    }
    lstm_state_load(VARDATA(DatumGetPointer(args[3])), &(*created)->now.stream);
    (*created)->settings_checked = cfg->setup->id; /* (made with the trigger's settings) */
    if (cfg->setup->time.attnum != 0)
        lstm_stream_cache_set_last_time(*created, true, row->time, cfg->setup->time_codec.type,
                                        cfg->setup->time_typlen, cfg->setup->time_byval);
    return true;
}

static Datum stored_last_time(const LstmCachedSeries *series);

/*
 * A series' first row in a statement, on the direct path at READ COMMITTED
 * with a value to apply: read the row's visible version without locking it,
 * score the row against it, and write the new state over that version at
 * once. The update takes the row lock the usual path takes first, so a
 * single-row INSERT costs one heap operation on the row (and one WAL
 * record) instead of a lock and an update. Unless the row is the statement's
 * only one, the series stays cached, locked by the update, for the
 * statement's later rows. NULL if the series has no
 * row yet (*absent set: open_series creates it without looking for it
 * again), or another transaction changed the row since it was read: then
 * nothing is written or cached, result is cleared, and open_series locks
 * the row and scores the row again (the step is repeated on the newer
 * state, as a locked read would have taken it).
 */
static LstmCachedSeries *write_through(ScoreConfig *cfg, const SeriesRow *row, ScoreResult *result,
                                       bool *absent)
{
    LstmSavedRow read;
    SavedState saved;
    LstmCachedSeries *series;
    LstmSeriesVersion *now;
    ItemPointerData written;
    Datum state = (Datum)0, last_time = (Datum)0;
    Snapshot snapshot;
    bool found;

    /* One snapshot for the model and the state, as one SPI statement joining them would take. */
    CommandCounterIncrement();
    snapshot = RegisterSnapshot(GetTransactionSnapshot());
    found = statement_model_direct(cfg, row, snapshot); /* (else SPI, not connected here) */
    if (found) {
        found = lstm_state_row_read(&cfg->setup->states, row->key, snapshot, &read);
        *absent = !found;
    }
    UnregisterSnapshot(snapshot);
    if (!found)
        return NULL;
    saved_from_row(&saved, &read, cfg->model);
    /* a statement's only row: its series need not be kept for the statement's later rows */
    series = cache_saved_series(cfg, row, &saved, lstm_stream_cache_one_row());
    score_cached_row(cfg, series, row, result);
    now = &series->now;
    if (now->state_changed) {
        state = PointerGetDatum(lstm_state_make(&now->stream, &series->dims, series->fingerprint));
        if (now->has_last_time)
            last_time = stored_last_time(series);
    }
    if ((now->state_changed || now->late_added > 0) &&
        lstm_state_row_write_over(&series->states, row->key, &read, now->state_changed, state,
                                  now->has_last_time, last_time, now->last_time_type,
                                  now->late_added, &written)) {
        series->tid = written;
        now->state_changed = false;
        now->late_added = 0;
        return series;
    }
    lstm_state_row_release(&read);
    if (!series->lone)
        lstm_stream_cache_forget(series);
    memset(result, 0, sizeof(*result));
    return NULL;
}

/*
 * Reach a series this statement has not used yet (SPI connected): lock its
 * saved state and cache it, or create it with this row (result filled, the
 * row done: returns NULL); a lost race to create it is retried against the
 * winner's state. absent: a read of this statement just found no saved
 * state, so the first attempt creates it at once (a state created since
 * makes the insert do nothing, and the next attempt locks it).
 */
static LstmCachedSeries *open_series(ScoreConfig *cfg, const SeriesRow *row, ScoreResult *result,
                                     bool absent)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        SavedState saved;
        LstmCachedSeries *created;

        memset(&saved, 0, sizeof(saved)); /* (the SPI path leaves tid invalid) */
        if (!(attempt == 0 && absent) && lock_saved_state(cfg, row, &saved))
            return cache_saved_series(cfg, row, &saved, false);
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

/* The row's series value as bytes, for the memo. */
static SeriesBytes row_series_bytes(const ScoreConfig *cfg, const SeriesRow *row)
{
    SeriesBytes bytes = {"", 0};

    if (cfg->setup->series.attnum == 0)
        return bytes;
    if (cfg->setup->series_byval) {
        bytes.data = (const char *)&row->series;
        bytes.len = sizeof(Datum);
    } else if (cfg->setup->series_typlen > 0) {
        bytes.data = DatumGetPointer(row->series);
        bytes.len = cfg->setup->series_typlen;
    } else if (cfg->setup->series_typlen == -1) {
        bytes.data = VARDATA_ANY(DatumGetPointer(row->series));
        bytes.len = VARSIZE_ANY_EXHDR(DatumGetPointer(row->series));
    } else {
        bytes.data = DatumGetCString(row->series);
        bytes.len = strlen(bytes.data);
    }
    return bytes;
}

/* Does the statement's first series still stand (kept before any memo table is made)? */
static bool memo_has_first(const ScoreConfig *cfg)
{
    return cfg->have_first && cfg->first_generation == lstm_stream_cache_generation();
}

/* The cached series this statement already reached with the row's series value, or NULL. */
static LstmCachedSeries *memo_find(ScoreConfig *cfg, const SeriesRow *row)
{
    SeriesBytes bytes;
    SeriesMemoEntry *entry, *guess;
    HTAB *memo;

    if (!cfg->setup->memo_usable)
        return NULL;
    bytes = row_series_bytes(cfg, row);
    if (cfg->memo == NULL) {
        /* a single-row statement (or the first series of any) needs no table */
        if (!memo_has_first(cfg) ||
            lstm_bytes_key_match(&bytes, &cfg->first.bytes, sizeof(bytes)) != 0)
            return NULL;
        lstm_stream_cache_use(cfg->first.series);
        return cfg->first.series;
    }
    memo = series_memo(cfg, row->scratch); /* (forgets last_entry with the old table) */
    guess = cfg->last_entry != NULL ? cfg->last_entry->next : NULL;
    if (guess != NULL && lstm_bytes_key_match(&bytes, &guess->bytes, sizeof(bytes)) == 0)
        entry = guess;
    else {
        entry = hash_search(memo, &bytes, HASH_FIND, NULL);
        if (entry != NULL && cfg->last_entry != NULL)
            cfg->last_entry->next = entry;
    }
    cfg->last_entry = entry;
    if (entry == NULL)
        return NULL;
    lstm_stream_cache_use(entry->series);
    return entry->series;
}

/* Remember the row's series value's series (bytes copied into the statement's memory). */
static void memo_add(ScoreConfig *cfg, const SeriesRow *row, LstmCachedSeries *series)
{
    SeriesBytes bytes;
    SeriesMemoEntry *entry;
    char *copy;
    bool found;

    if (!cfg->setup->memo_usable)
        return;
    bytes = row_series_bytes(cfg, row);
    copy = MemoryContextAlloc(row->scratch, bytes.len + 1);
    memcpy(copy, bytes.data, bytes.len);
    bytes.data = copy;
    if (cfg->memo == NULL) {
        if (!memo_has_first(cfg)) {
            cfg->first.bytes = bytes;
            cfg->first.series = series;
            cfg->first_generation = lstm_stream_cache_generation();
            cfg->have_first = true;
            return;
        }
        /* a second series: the table, with the first in it */
        entry = hash_search(series_memo(cfg, row->scratch), &cfg->first.bytes, HASH_ENTER, &found);
        *entry = cfg->first;
        entry->next = NULL;
    }
    entry = hash_search(series_memo(cfg, row->scratch), &bytes, HASH_ENTER, &found);
    entry->bytes = bytes;
    entry->series = series;
    entry->next = NULL;
    if (cfg->last_entry != NULL)
        cfg->last_entry->next = entry;
    cfg->last_entry = entry;
}

/* The row's key in lstm_stream_states (made for a series' first row in a statement). */
static void row_key(ScoreConfig *cfg, SeriesRow *row)
{
    if (row->has_key)
        return;
    row->series_name = cfg->setup->series.attnum != 0
                           ? lstm_series_key_text(&cfg->setup->series_key, row->series)
                           : "";
    row->key[0] = cfg->setup->model_name_text;
    row->key[1] = ObjectIdGetDatum(cfg->setup->source);
    row->key[2] = PointerGetDatum(cstring_to_text(row->series_name));
    row->has_key = true;
}

/* Take the direct path or SPI for the current role (decided once per role and row_security). */
static void decide_direct_path(ScoreSetup *setup)
{
    Oid user = GetUserId();

    if (setup->direct_checked && setup->direct_user == user &&
        setup->direct_row_security == row_security)
        return;
    setup->direct_checked = false;
    setup->direct = lstm_state_table_direct(&setup->states, setup->schema, setup->source);
    setup->direct_user = user;
    setup->direct_row_security = row_security;
    setup->direct_checked = true;
}

/* Score one row: against its series' state in memory, reading it first if needed. */
static void score_row(ScoreConfig *cfg, SeriesRow *row, ScoreResult *result)
{
    LstmCachedSeries *series = memo_find(cfg, row);
    bool scored, absent = false;

    if (series != NULL) {
        score_cached_row(cfg, series, row, result);
        return;
    }
    row_key(cfg, row);
    series = lstm_stream_cache_find(row->key[0], cfg->setup->source, row->series_name);
    scored = false;
    if (series == NULL) {
        decide_direct_path(cfg->setup);
        /* the first row of a series in a statement: written through if it can be, without SPI */
        if (cfg->setup->direct && !IsolationUsesXactSnapshot() &&
            !row->isnull[cfg->setup->value.attnum - 1])
            series = write_through(cfg, row, result, &absent);
        scored = series != NULL;
    }
    if (series == NULL) {
        MemoryContext caller = CurrentMemoryContext;
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "lstm_score_trigger: SPI_connect failed");
        if (plans.schema != cfg->setup->schema || plans.state_type != cfg->setup->state_type ||
            plans.models != lstm_models_read_relation())
            prepare_plans(cfg->setup->schema, cfg->setup->state_type);
        series = open_series(cfg, row, result, absent);
        SPI_finish();
        MemoryContextSwitchTo(caller);
    }
    if (series != NULL && !series->lone) {
        memo_add(cfg, row, series);
        if (!scored)
            score_cached_row(cfg, series, row, result);
    }
}

/* score_row, counted as the trigger's own work (its SPI statements write nothing back). */
static pg_noinline void score_row_counted(ScoreConfig *cfg, SeriesRow *row, ScoreResult *result)
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

/* The newest applied time in its stored (binary send) form, for last_time. */
static Datum stored_last_time(const LstmCachedSeries *series)
{
    const LstmSeriesVersion *now = &series->now;

    if (!now->last_time_held)
        elog(ERROR, "lstm_score_trigger: series \"%s\" has no time to save", series->series);
    return PointerGetDatum(lstm_time_send(now->last_time_type, now->last_time));
}

/*
 * Write a cached series' state to its row of lstm_stream_states (called when
 * the statement that used it ends): the state, last_time and the late rows
 * counted, or only the count if no row was applied.
 */
static void write_series(LstmCachedSeries *series)
{
    const LstmSeriesVersion *now = &series->now;
    Datum last_time = (Datum)0;
    Datum args[7];
    char nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
    int rc;

    if (!now->state_changed && now->late_added == 0)
        return;
    if (now->state_changed && now->has_last_time)
        last_time = stored_last_time(series);
    if (series->direct) {
        Datum state =
            now->state_changed
                ? PointerGetDatum(lstm_state_make(&now->stream, &series->dims, series->fingerprint))
                : (Datum)0;
        lstm_state_row_update(&series->states, series->key, &series->tid, series->series,
                              now->state_changed, state, now->has_last_time, last_time,
                              now->last_time_type, now->late_added);
        return;
    }
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "lstm_score_trigger: SPI_connect failed");
    memcpy(args, series->key, sizeof(series->key));
    if (now->state_changed) {
        args[3] =
            PointerGetDatum(lstm_state_make(&now->stream, &series->dims, series->fingerprint));
        args[4] = last_time;
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
    CacheRegisterSyscacheCallback(AUTHOID, setups_forget_rights, (Datum)0);
    CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, setups_forget_rights, (Datum)0);
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
static bool series_row(ScoreConfig *cfg, FunctionCallInfo fcinfo, const Datum *values,
                       const bool *isnull, SeriesRow *row)
{
    memset(row, 0, sizeof(*row));
    row->values = values;
    row->isnull = isnull;
    row->scratch = fcinfo->flinfo->fn_mcxt;
    if (cfg->setup->series.attnum != 0) {
        row->series = values[cfg->setup->series.attnum - 1];
        if (isnull[cfg->setup->series.attnum - 1])
            return false;
        if (cfg->setup->series_typlen == -1)
            row->series = PointerGetDatum(PG_DETOAST_DATUM_PACKED(row->series));
    }
    if (cfg->setup->time.attnum != 0) {
        row->time = values[cfg->setup->time.attnum - 1];
        if (isnull[cfg->setup->time.attnum - 1])
            return false;
        if (cfg->setup->time_typlen == -1)
            row->time = PointerGetDatum(PG_DETOAST_DATUM_PACKED(row->time));
    }
    return true;
}

/* The output's value as a datum of its column (only when splice_result writes it). */
static Datum splice_value(const ScoreConfig *cfg, const SpliceColumn *column,
                          const ScoreResult *result, bool *present)
{
    switch (column->output) {
    case SPLICE_FORECAST:
        *present = result->has_forecast;
        return *present ? lstm_column_output_datum(&cfg->setup->forecast, result->forecast,
                                                   "lstm_score_trigger")
                        : (Datum)0;
    case SPLICE_SCORE:
        *present = result->has_score;
        return *present ? lstm_column_output_datum(&cfg->setup->score, result->score,
                                                   "lstm_score_trigger")
                        : (Datum)0;
    default:
        *present = result->has_score;
        return BoolGetDatum(result->alert);
    }
}

/*
 * The tuple to store, made from the new tuple's bytes when that is all it
 * takes: every column from the first output column on is NULL in it (the
 * inserting statement gave no forecast, score or alert, and the columns
 * after them are NULL too), so the outputs go after its data, aligned, and
 * their null bits are set: the bytes heap_form_tuple would give, without
 * forming the tuple from deformed columns. NULL when the tuple is not of
 * that form (write_result forms it).
 */
static HeapTuple splice_result(const ScoreConfig *cfg, HeapTuple tuple, TupleDesc desc,
                               const ScoreResult *result)
{
    const ScoreSetup *setup = cfg->setup;
    HeapTupleHeader old = tuple->t_data, td;
    int natts = desc->natts;
    bits8 *bits = old->t_bits;
    Datum values[3];
    bool present[3];
    uint32 offsets[3];
    uint32 data_len = tuple->t_len - old->t_hoff, len;
    bool nulls_left = false;
    uint8 hoff;
    HeapTuple stored;

    if (setup->splice_count == 0 || HeapTupleHeaderGetNatts(old) != natts ||
        !HeapTupleHasNulls(tuple))
        return NULL;
    for (int j = setup->splice_from - 1; j < natts; j++) {
        if (!att_isnull(j, bits))
            return NULL;
    }
    for (int j = 0; j < setup->splice_from - 1 && !nulls_left; j++)
        nulls_left = att_isnull(j, bits);
    /* every column after the first output that is not an output stays NULL */
    nulls_left |= natts - setup->splice_from + 1 > setup->splice_count;
    len = data_len;
    for (int i = 0; i < setup->splice_count; i++) {
        const SpliceColumn *column = &setup->splice[i];
        values[i] = splice_value(cfg, column, result, &present[i]);
        if (!present[i]) {
            nulls_left = true;
            continue;
        }
        len = att_align_nominal(len, column->align);
        offsets[i] = len;
        len += column->len;
    }
    if (len == data_len)
        return tuple; /* no output: the tuple as it came */
    hoff = nulls_left ? old->t_hoff : MAXALIGN(SizeofHeapTupleHeader);
    stored = palloc0(HEAPTUPLESIZE + hoff + len);
    td = (HeapTupleHeader)((char *)stored + HEAPTUPLESIZE);
    memcpy(td, old, SizeofHeapTupleHeader);
    td->t_hoff = hoff;
    if (nulls_left)
        memcpy(td->t_bits, bits, BITMAPLEN(natts));
    else
        td->t_infomask &= ~HEAP_HASNULL;
    memcpy((char *)td + hoff, (char *)old + old->t_hoff, data_len);
    for (int i = 0; i < setup->splice_count; i++) {
        int j = setup->splice[i].attnum - 1;
        if (!present[i])
            continue;
        if (nulls_left)
            td->t_bits[j >> 3] |= (bits8)(1 << (j & 0x07));
        store_att_byval((char *)td + hoff + offsets[i], values[i], setup->splice[i].len);
    }
    HeapTupleHeaderSetDatumLength(td, hoff + len);
    stored->t_len = hoff + len;
    stored->t_self = tuple->t_self;
    stored->t_tableOid = tuple->t_tableOid;
    stored->t_data = td;
    return stored;
}

/*
 * The tuple to store: the new tuple's columns (deformed; changed here) with
 * the forecast, the score and the alert (or NULLs) written in, or the tuple
 * itself when the trigger has none of those columns. As heap_modify_tuple,
 * keeps the tuple's identification.
 */
static HeapTuple write_result(ScoreConfig *cfg, HeapTuple tuple, TupleDesc desc, Datum *values,
                              bool *isnull, const ScoreResult *result)
{
    const LstmColumn *columns[2] = {&cfg->setup->forecast, &cfg->setup->score};
    bool present[2] = {result->has_forecast, result->has_score};
    double outputs[2] = {result->forecast, result->score};
    HeapTuple stored;

    if (cfg->setup->forecast.attnum == 0 && cfg->setup->score.attnum == 0 &&
        cfg->setup->alert.attnum == 0)
        return tuple;
    stored = splice_result(cfg, tuple, desc, result);
    if (stored != NULL)
        return stored;
    if (cfg->setup->alert.attnum != 0) {
        values[cfg->setup->alert.attnum - 1] = BoolGetDatum(result->alert);
        isnull[cfg->setup->alert.attnum - 1] = !result->has_score;
    }
    for (int i = 0; i < 2; i++) {
        int at = columns[i]->attnum - 1;
        if (at < 0)
            continue;
        values[at] = present[i]
                         ? lstm_column_output_datum(columns[i], outputs[i], "lstm_score_trigger")
                         : (Datum)0;
        isnull[at] = !present[i];
    }
    stored = heap_form_tuple(desc, values, isnull);
    stored->t_data->t_ctid = tuple->t_data->t_ctid;
    stored->t_self = tuple->t_self;
    stored->t_tableOid = tuple->t_tableOid;
    return stored;
}

/* lstm_score_trigger(): BEFORE INSERT FOR EACH ROW. */
Datum lstm_score_trigger(PG_FUNCTION_ARGS)
{
    TriggerData *td = check_trigger_event(fcinfo);
    ScoreConfig *cfg = score_config(fcinfo, td);
    HeapTuple tuple = td->tg_trigtuple;
    TupleDesc desc = RelationGetDescr(td->tg_relation);
    Datum *values;
    bool *isnull;
    ScoreResult result;
    SeriesRow row;

    memset(&result, 0, sizeof(result));
    if (cfg->natts != desc->natts) {
        cfg->values = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Datum) * desc->natts);
        cfg->isnull = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(bool) * desc->natts);
        cfg->natts = desc->natts;
    }
    values = cfg->values;
    isnull = cfg->isnull;
    heap_deform_tuple(tuple, desc, values, isnull);
    if (series_row(cfg, fcinfo, values, isnull, &row)) {
        score_row_counted(cfg, &row, &result);
    }
    return PointerGetDatum(write_result(cfg, tuple, desc, values, isnull, &result));
}
