/*
 * stream_cache.c - the series states a scoring statement holds in backend
 * memory, and when they are written back (see stream_cache.h).
 *
 * Statement ends are seen through the executor and utility hooks: every
 * ExecutorRun, ExecutorFinish and ProcessUtility counts one nesting level
 * (as pg_stat_statements counts them), a series remembers the shallowest
 * level that used it, and when an executor or a utility command ends at
 * depth D every series used only deeper than D is written and forgotten. The
 * trigger's own SPI statements run deeper than the rows they score, so they
 * end without writing. A series cached at depth 0 (the trigger was called by
 * something the hooks do not see: the first statement of a backend, which
 * loads the library half-way through, or a replication apply worker) is
 * written when the next top-level statement starts or ends, or at COMMIT.
 *
 * Subtransactions keep an undo stack per series, as GUC settings do: the first
 * change inside a subtransaction pushes the version it replaces, an abort pops
 * it (or forgets a series the subtransaction locked: its row lock is gone),
 * and a commit hands the change to the parent.
 */
#include "features/stream_cache.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

/* A version of a series saved for an enclosing subtransaction. */
typedef struct SeriesUndo {
    LstmSeriesVersion version;
    SubTransactionId subid; /* the subtransaction that made it */
    struct SeriesUndo *next;
} SeriesUndo;

/* A hash table entry: the key (a pointer to the key text) and the series. */
typedef struct CacheEntry {
    const char *hash_key;
    LstmCachedSeries *series;
} CacheEntry;

static HTAB *cache;                 /* CacheEntry by hash key */
static MemoryContext cache_context; /* everything cached; reset when the cache empties */
/* Every cached series, oldest first (the hash table finds them by key). */
static dlist_head all_series = DLIST_STATIC_INIT(all_series);
static int deepest_level;  /* no cached series has a level deeper than this */
static uint64 generation;  /* changes whenever a series is forgotten */
static Datum shared_model; /* the model datum of the series cached last (cache memory) */
static int exec_depth;     /* executors and utility commands running, nested */
static bool one_row;       /* the innermost of them is an INSERT of one row */
static int trigger_depth;  /* lstm_score_trigger calls running, nested */
static bool writing;       /* a flush is running (its own statements end inside it) */
static LstmSeriesWriter write_series;

static ExecutorStart_hook_type prev_executor_start;
static ExecutorRun_hook_type prev_executor_run;
static ExecutorFinish_hook_type prev_executor_finish;
static ExecutorEnd_hook_type prev_executor_end;
static ProcessUtility_hook_type prev_process_utility;

/* ---------- the table ---------- */

/* Hash of a key text. */
static uint32 key_hash(const void *key, Size keysize)
{
    const char *text = *(const char *const *)key;
    return hash_bytes((const unsigned char *)text, strlen(text));
}

/* Are two key texts equal? (0 if so, as dynahash wants) */
static int key_match(const void *a, const void *b, Size keysize)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The hash key of a series, "<name length>:<name>|<source>|<series>": the
 * name's length first, so no two series share one. Built by hand (it is
 * made for every series a statement reaches; psprintf cost a tenth of a
 * single-row INSERT's scoring).
 */
static char *make_hash_key(Datum model_name, Oid source, const char *series)
{
    text *name = DatumGetTextPP(model_name);
    int name_len = VARSIZE_ANY_EXHDR(name);
    size_t series_len = strlen(series);
    char numbers[2][12];
    int lengths[2] = {pg_ltoa(name_len, numbers[0]), pg_ultoa_n(source, numbers[1])};
    char *key = palloc(lengths[0] + 1 + name_len + 1 + lengths[1] + 1 + series_len + 1);
    char *at = key;

    memcpy(at, numbers[0], lengths[0]);
    at += lengths[0];
    *at++ = ':';
    memcpy(at, VARDATA_ANY(name), name_len);
    at += name_len;
    *at++ = '|';
    memcpy(at, numbers[1], lengths[1]);
    at += lengths[1];
    *at++ = '|';
    memcpy(at, series, series_len + 1);
    return key;
}

/* The table, created on first use (its memory lives as long as the backend). */
static HTAB *cache_table(void)
{
    HASHCTL ctl;

    if (cache != NULL)
        return cache;
    cache_context =
        AllocSetContextCreate(TopMemoryContext, "lstm stream cache", ALLOCSET_DEFAULT_SIZES);
    memset(&ctl, 0, sizeof(ctl));
    ctl.keysize = sizeof(const char *);
    ctl.entrysize = sizeof(CacheEntry);
    ctl.hash = key_hash;
    ctl.match = key_match;
    ctl.hcxt = TopMemoryContext;
    cache = hash_create("lstm stream cache", 256, &ctl,
                        HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
    return cache;
}

/* Remove one series from the table (its memory goes when the table empties). */
static void forget(LstmCachedSeries *series)
{
    generation++;
    hash_search(cache, &series->hash_key, HASH_REMOVE, NULL);
    dlist_delete(&series->node);
    if (dlist_is_empty(&all_series)) {
        MemoryContextReset(cache_context);
        shared_model = (Datum)0;
    }
}

/* Forget every series (the transaction ended). */
static void forget_all(void)
{
    dlist_mutable_iter iter;

    if (dlist_is_empty(&all_series))
        return;
    generation++;
    dlist_foreach_modify(iter, &all_series)
    {
        LstmCachedSeries *series = dlist_container(LstmCachedSeries, node, iter.cur);
        hash_search(cache, &series->hash_key, HASH_REMOVE, NULL);
    }
    dlist_init(&all_series);
    deepest_level = 0;
    shared_model = (Datum)0;
    MemoryContextReset(cache_context);
}

/* Find a series' cached state; a use at a shallower depth keeps it longer. */
LstmCachedSeries *lstm_stream_cache_find(Datum model_name, Oid source, const char *series)
{
    char *key;
    CacheEntry *entry;

    if (dlist_is_empty(&all_series))
        return NULL;
    key = make_hash_key(model_name, source, series);
    entry = hash_search(cache, &key, HASH_FIND, NULL);
    pfree(key);
    if (entry == NULL)
        return NULL;
    entry->series->level = Min(entry->series->level, exec_depth);
    return entry->series;
}

/* Forget a series its caller did not keep (nothing of it is written). */
void lstm_stream_cache_forget(LstmCachedSeries *series)
{
    forget(series);
}

/* The series' current generation (see stream_cache.h). */
uint64 lstm_stream_cache_generation(void)
{
    return generation;
}

/* A series found again by its caller: a use at a shallower depth keeps it longer. */
void lstm_stream_cache_use(LstmCachedSeries *series)
{
    series->level = Min(series->level, exec_depth);
}

/*
 * A new series (in the current memory context, which its versions use too):
 * a fresh stream for the model's sizes, made by the current subtransaction
 * at the current depth.
 */
static LstmCachedSeries *new_series(const LstmDims *dims, uint64 fingerprint)
{
    LstmCachedSeries *series = palloc0(sizeof(LstmCachedSeries));

    series->dims = *dims;
    series->fingerprint = fingerprint;
    lstm_stream_init(&series->now.stream, dims, palloc(sizeof(float) * lstm_series_nfloats(dims)));
    series->memory = CurrentMemoryContext;
    series->level = exec_depth;
    series->subid = GetCurrentSubTransactionId();
    return series;
}

/* Cache a series just locked or created, with a fresh stream for the model's sizes. */
LstmCachedSeries *lstm_stream_cache_add(Datum model_name, Oid source, const char *series,
                                        Datum model, const LstmDims *dims, uint64 fingerprint)
{
    MemoryContext old = MemoryContextSwitchTo((cache_table(), cache_context));
    LstmCachedSeries *cached = new_series(dims, fingerprint);
    CacheEntry *entry;
    bool found;

    cached->hash_key = make_hash_key(model_name, source, series);
    cached->key[0] = PointerGetDatum(DatumGetTextPCopy(model_name));
    cached->key[1] = ObjectIdGetDatum(source);
    cached->key[2] = PointerGetDatum(cstring_to_text(series));
    cached->series = pstrdup(series);
    /* Series of one model share one copy (a statement's rows find it by its pointer). */
    if (shared_model == (Datum)0 || !datumIsEqual(shared_model, model, false, -1))
        shared_model = datumCopy(model, false, -1);
    cached->model = shared_model;
    deepest_level = Max(deepest_level, exec_depth);
    MemoryContextSwitchTo(old);

    entry = hash_search(cache, &cached->hash_key, HASH_ENTER, &found);
    Assert(!found);
    entry->series = cached;
    dlist_push_tail(&all_series, &cached->node);
    return cached;
}

/* Does the statement running now insert one row? (see stream_cache.h) */
bool lstm_stream_cache_one_row(void)
{
    return one_row;
}

/* A series for a single-row statement, not cached (see stream_cache.h). */
LstmCachedSeries *lstm_stream_cache_lone(MemoryContext context, const Datum key[3],
                                         const char *series, Datum model, const LstmDims *dims,
                                         uint64 fingerprint)
{
    MemoryContext old = MemoryContextSwitchTo(context);
    LstmCachedSeries *lone = new_series(dims, fingerprint);

    memcpy(lone->key, key, sizeof(lone->key)); /* (the caller's: they outlive the series) */
    lone->series = series;
    lone->model = model;
    lone->lone = true;
    MemoryContextSwitchTo(old);
    return lone;
}

/* ---------- versions and subtransactions ---------- */

/* A copy of a version in the cache's memory (h and c and last_time copied). */
static void copy_version(LstmSeriesVersion *to, const LstmSeriesVersion *from, const LstmDims *dims)
{
    size_t nfloats = lstm_series_nfloats(dims);
    float *memory = MemoryContextAlloc(cache_context, sizeof(float) * nfloats);

    memcpy(memory, from->stream.series.h, sizeof(float) * nfloats);
    *to = *from;
    to->stream.series.h = memory;
    to->stream.series.c = memory + (from->stream.series.c - from->stream.series.h);
    if (from->last_time_space > 0) {
        to->last_time = PointerGetDatum(MemoryContextAlloc(cache_context, from->last_time_space));
        memcpy(DatumGetPointer(to->last_time), DatumGetPointer(from->last_time),
               from->last_time_space);
    }
}

/* Remember the version the current subtransaction is about to change. */
void lstm_stream_cache_change(LstmCachedSeries *series)
{
    SubTransactionId current = GetCurrentSubTransactionId();

    series->level = Min(series->level, exec_depth);
    if (series->subid == current)
        return;
    {
        SeriesUndo *undo = MemoryContextAlloc(cache_context, sizeof(SeriesUndo));
        copy_version(&undo->version, &series->now, &series->dims);
        undo->subid = series->subid;
        undo->next = series->undo;
        series->undo = undo;
        series->subid = current;
    }
}

/* Copy a time into the series' current version (memory reused when it fits). */
void lstm_stream_cache_set_last_time(LstmCachedSeries *series, bool held, Datum time, Oid type,
                                     int16 typlen, bool byval)
{
    LstmSeriesVersion *now = &series->now;

    now->has_last_time = true;
    now->last_time_type = type;
    now->last_time_held = held;
    series->time_typlen = typlen;
    series->time_byval = byval;
    if (!held || byval) {
        now->last_time = held ? time : (Datum)0;
        now->last_time_space = 0; /* (a buffer it had stays in the cache's memory) */
        return;
    }
    {
        Size size = datumGetSize(time, false, typlen);
        if (now->last_time_space < size) {
            now->last_time = PointerGetDatum(MemoryContextAlloc(series->memory, size));
            now->last_time_space = size;
        }
        memcpy(DatumGetPointer(now->last_time), DatumGetPointer(time), size);
    }
}

/*
 * A subtransaction rolled back: its series go back to the version before it,
 * and the series it locked are forgotten.
 */
static void undo_subtransaction(SubTransactionId subid)
{
    dlist_mutable_iter iter;

    dlist_foreach_modify(iter, &all_series)
    {
        LstmCachedSeries *series = dlist_container(LstmCachedSeries, node, iter.cur);
        if (series->subid != subid)
            continue;
        if (series->undo == NULL) {
            forget(series);
            continue;
        }
        series->now = series->undo->version;
        series->settings_checked = 0; /* the version restored is checked again */
        series->subid = series->undo->subid;
        series->undo = series->undo->next;
    }
}

/* A subtransaction committed: its changes now belong to the parent. */
static void commit_subtransaction(SubTransactionId subid, SubTransactionId parent)
{
    dlist_iter iter;

    dlist_foreach(iter, &all_series)
    {
        LstmCachedSeries *series = dlist_container(LstmCachedSeries, node, iter.cur);
        if (series->subid != subid)
            continue;
        series->subid = parent;
        if (series->undo != NULL && series->undo->subid == parent)
            series->undo = series->undo->next;
    }
}

/* Subtransaction callback: undo or hand over the subtransaction's changes. */
static void cache_subxact_callback(SubXactEvent event, SubTransactionId subid,
                                   SubTransactionId parent, void *arg)
{
    if (dlist_is_empty(&all_series))
        return;
    if (event == SUBXACT_EVENT_ABORT_SUB)
        undo_subtransaction(subid);
    else if (event == SUBXACT_EVENT_COMMIT_SUB)
        commit_subtransaction(subid, parent);
}

/* ---------- writing back ---------- */

/*
 * Write and forget every series used only deeper than depth (all: depth -1)
 * whose state the current subtransaction owns: a write made in a
 * subtransaction that later rolls back would lose the enclosing one's rows
 * (such a series waits for a later boundary, at the latest COMMIT). Writes
 * run under the active snapshot, or a transaction snapshot when there is
 * none (before COMMIT).
 */
static void flush_deeper_than(int depth)
{
    SubTransactionId current = GetCurrentSubTransactionId();
    bool pushed = false;
    int deepest = 0; /* of the series left */
    dlist_mutable_iter iter;

    if (dlist_is_empty(&all_series) || writing || (depth >= 0 && deepest_level <= depth))
        return; /* (the trigger's own statements end here, deeper than every series) */
    writing = true;
    PG_TRY();
    {
        if (!ActiveSnapshotSet()) {
            PushActiveSnapshot(GetTransactionSnapshot());
            pushed = true;
        }
        dlist_foreach_modify(iter, &all_series)
        {
            LstmCachedSeries *series = dlist_container(LstmCachedSeries, node, iter.cur);
            if (series->level <= depth || series->subid != current) {
                deepest = Max(deepest, series->level);
                continue;
            }
            write_series(series);
            forget(series);
        }
        deepest_level = deepest;
        if (pushed)
            PopActiveSnapshot();
    }
    PG_FINALLY();
    {
        writing = false;
    }
    PG_END_TRY();
}

/* Write every cached state now and forget it. */
void lstm_stream_cache_flush_all(void)
{
    flush_deeper_than(-1);
}

/*
 * A statement at depth ended (or a top-level one starts): write what it used.
 * At depth 0, outside the trigger, what a statement the hooks did not see
 * left at depth 0 goes too.
 */
static void statement_boundary(int depth)
{
    if (depth == 0 && trigger_depth == 0)
        flush_deeper_than(-1);
    else
        flush_deeper_than(depth);
}

/* Around the trigger's own work. */
void lstm_stream_cache_enter(void)
{
    trigger_depth++;
}

/* The trigger's work is done. */
void lstm_stream_cache_leave(void)
{
    trigger_depth--;
}

/* Transaction callback: write before COMMIT and PREPARE; forget at the end. */
static void cache_xact_callback(XactEvent event, void *arg)
{
    switch (event) {
    case XACT_EVENT_PRE_COMMIT:
    case XACT_EVENT_PARALLEL_PRE_COMMIT:
    case XACT_EVENT_PRE_PREPARE:
        lstm_stream_cache_flush_all();
        break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PREPARE:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
        forget_all();
        trigger_depth = 0;
        writing = false;
        break;
    }
}

/* ---------- the hooks ---------- */

/* ExecutorStart: a top-level statement starting writes what an unseen one left. */
static void cache_executor_start(QueryDesc *query, int eflags)
{
    if (exec_depth == 0 && trigger_depth == 0 && !dlist_is_empty(&all_series))
        flush_deeper_than(-1);
    if (prev_executor_start)
        prev_executor_start(query, eflags);
    else
        standard_ExecutorStart(query, eflags);
}

/* Does the plan insert one row? (see lstm_stream_cache_one_row) */
static bool inserts_one_row(const PlannedStmt *stmt)
{
    const Plan *source;

    if (stmt->commandType != CMD_INSERT || stmt->subplans != NIL || stmt->planTree == NULL ||
        !IsA(stmt->planTree, ModifyTable) || list_length(stmt->resultRelations) != 1)
        return false;
    source = outerPlan(stmt->planTree);
    return source != NULL && IsA(source, Result) && outerPlan(source) == NULL &&
           innerPlan(source) == NULL && source->initPlan == NIL;
}

/* ExecutorRun: one level deeper while it runs (and whether it inserts one row). */
static void cache_executor_run(QueryDesc *query, ScanDirection direction, uint64 count,
                               bool execute_once)
{
    bool outer_one_row = one_row;

    exec_depth++;
    one_row = inserts_one_row(query->plannedstmt);
    PG_TRY();
    {
        if (prev_executor_run)
            prev_executor_run(query, direction, count, execute_once);
        else
            standard_ExecutorRun(query, direction, count, execute_once);
    }
    PG_FINALLY();
    {
        exec_depth--;
        one_row = outer_one_row;
    }
    PG_END_TRY();
}

/* ExecutorFinish (AFTER triggers): one level deeper while it runs. */
static void cache_executor_finish(QueryDesc *query)
{
    bool outer_one_row = one_row;

    exec_depth++;
    one_row = false;
    PG_TRY();
    {
        if (prev_executor_finish)
            prev_executor_finish(query);
        else
            standard_ExecutorFinish(query);
    }
    PG_FINALLY();
    {
        exec_depth--;
        one_row = outer_one_row;
    }
    PG_END_TRY();
}

/* ExecutorEnd: the statement is over; write the states it used. */
static void cache_executor_end(QueryDesc *query)
{
    if (prev_executor_end)
        prev_executor_end(query);
    else
        standard_ExecutorEnd(query);
    if (!dlist_is_empty(&all_series))
        statement_boundary(exec_depth);
}

/* ProcessUtility (COPY among others): one level deeper; write when it ends. */
static void cache_process_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                                  ProcessUtilityContext context, ParamListInfo params,
                                  QueryEnvironment *query_env, DestReceiver *dest,
                                  QueryCompletion *qc)
{
    bool outer_one_row = one_row;

    if (exec_depth == 0 && trigger_depth == 0 && !dlist_is_empty(&all_series))
        flush_deeper_than(-1);
    exec_depth++;
    one_row = false; /* (COPY, and the statements of utility commands) */
    PG_TRY();
    {
        if (prev_process_utility)
            prev_process_utility(pstmt, query_string, read_only_tree, context, params, query_env,
                                 dest, qc);
        else
            standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env,
                                    dest, qc);
    }
    PG_FINALLY();
    {
        exec_depth--;
        one_row = outer_one_row;
    }
    PG_END_TRY();
    if (!dlist_is_empty(&all_series) && IsTransactionState() &&
        !IsA(pstmt->utilityStmt, TransactionStmt))
        statement_boundary(exec_depth);
}

/* Install the hooks and the transaction callbacks. */
void lstm_stream_cache_init(LstmSeriesWriter writer)
{
    write_series = writer;
    prev_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = cache_executor_start;
    prev_executor_run = ExecutorRun_hook;
    ExecutorRun_hook = cache_executor_run;
    prev_executor_finish = ExecutorFinish_hook;
    ExecutorFinish_hook = cache_executor_finish;
    prev_executor_end = ExecutorEnd_hook;
    ExecutorEnd_hook = cache_executor_end;
    prev_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = cache_process_utility;
    RegisterXactCallback(cache_xact_callback, NULL);
    RegisterSubXactCallback(cache_subxact_callback, NULL);
}
