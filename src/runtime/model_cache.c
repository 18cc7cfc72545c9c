/*
 * model_cache.c - the decoded-model cache: a model argument (an lstm_model
 * value or the name of a row of lstm_models) decoded once per call site and
 * query, and recognised again by its raw datum or name on later rows.
 */
#include "runtime/model_cache.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "catalog/models_table.h"

/* The cache in flinfo->fn_extra, created on first use in fn_mcxt. */
LstmModelCache *lstm_model_cache(FmgrInfo *flinfo)
{
    LstmModelCache *cache = (LstmModelCache *)flinfo->fn_extra;
    if (cache == NULL) {
        cache = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(LstmModelCache));
        cache->context = flinfo->fn_mcxt;
        cache->by_name = -1;
        cache->value_is_array = -1;
        flinfo->fn_extra = cache;
    }
    return cache;
}

/* Decode a validated model into the cache's context and remember it. */
static LstmDecoded *cache_add(LstmModelCache *cache, const LstmModelDatum *model)
{
    MemoryContext old = MemoryContextSwitchTo(cache->context);
    LstmDecoded *decoded = palloc0(sizeof(LstmDecoded));
    LstmModelView view;
    size_t runner_bytes;

    decoded->model_nbytes = LSTM_MODEL_PAYLOAD_SIZE(model);
    decoded->model_bytes = palloc_extended(decoded->model_nbytes, MCXT_ALLOC_HUGE);
    memcpy(decoded->model_bytes, LSTM_MODEL_PAYLOAD(model), decoded->model_nbytes);
    decoded->fingerprint = lstm_model_fingerprint_of(model);
    lstm_model_view(decoded->model_bytes, &view);
    runner_bytes = lstm_runner_nbytes(&view.dims);
    lstm_runner_init(&decoded->runner, &view, palloc_extended(runner_bytes, MCXT_ALLOC_HUGE));
    decoded->next = cache->models;
    cache->models = decoded;
    MemoryContextSwitchTo(old);
    return decoded;
}

/* A cached decoded model with exactly these payload bytes, or NULL. */
static LstmDecoded *cache_find(LstmModelCache *cache, const LstmModelDatum *model)
{
    Size nbytes = LSTM_MODEL_PAYLOAD_SIZE(model);
    for (LstmDecoded *d = cache->models; d != NULL; d = d->next) {
        if (d->model_nbytes == nbytes &&
            memcmp(d->model_bytes, LSTM_MODEL_PAYLOAD(model), nbytes) == 0)
            return d;
    }
    return NULL;
}

/* Remember the raw (possibly toasted) form of the datum seen last. */
static void cache_remember_raw(LstmModelCache *cache, const struct varlena *raw,
                               LstmDecoded *decoded)
{
    Size size = VARSIZE_ANY(raw);
    if (size > cache->last_raw_capacity) {
        if (cache->last_raw)
            pfree(cache->last_raw);
        cache->last_raw = MemoryContextAllocHuge(cache->context, size);
        cache->last_raw_capacity = size;
    }
    memcpy(cache->last_raw, raw, size);
    cache->last_raw_size = size;
    cache->last = decoded;
}

/*
 * The decoded model for a datum. The common case, the same value as on the
 * previous row, costs one comparison of the raw datum: an 18-byte TOAST
 * pointer for stored models, or the inline bytes of a small one. Pointers to
 * in-memory values are not compared (their memory may be reused), so those
 * are detoasted and compared by content.
 */
LstmDecoded *lstm_decoded_for_datum(LstmModelCache *cache, Datum datum)
{
    struct varlena *raw = (struct varlena *)DatumGetPointer(datum);
    bool comparable_raw = !VARATT_IS_EXTERNAL(raw) || VARATT_IS_EXTERNAL_ONDISK(raw);
    LstmModelDatum *model;
    LstmDecoded *decoded;

    if (comparable_raw && cache->last != NULL && VARSIZE_ANY(raw) == cache->last_raw_size &&
        memcmp(raw, cache->last_raw, cache->last_raw_size) == 0)
        return cache->last;

    model = lstm_model_from_datum(datum);
    decoded = cache_find(cache, model);
    if (decoded == NULL)
        decoded = cache_add(cache, model);
    if (comparable_raw)
        cache_remember_raw(cache, raw, decoded);
    if ((Pointer)model != (Pointer)raw)
        pfree(model);
    return decoded;
}

/* The identity of the active snapshot (not valid when there is none). */
static LstmSnapshotKey snapshot_key(void)
{
    LstmSnapshotKey key = {0};

    if (ActiveSnapshotSet()) {
        Snapshot snapshot = GetActiveSnapshot();
        key.local_xid = MyProc->lxid;
        key.command = snapshot->curcid;
        key.xmin = snapshot->xmin;
        key.xmax = snapshot->xmax;
        key.completed_xacts = snapshot->snapXactCompletionCount;
        key.valid = true;
    }
    return key;
}

/* Would a lookup with snapshot now see what one with then saw? */
static bool same_snapshot(const LstmSnapshotKey *then, const LstmSnapshotKey *now)
{
    return then->valid && now->valid && then->local_xid == now->local_xid &&
           then->command == now->command && then->xmin == now->xmin && then->xmax == now->xmax &&
           then->completed_xacts == now->completed_xacts;
}

/*
 * The decoded model stored under a name in lstm_models. The row is read
 * again whenever the snapshot changed since the last lookup of the same name
 * (a row of one query costs a comparison; a replaced model is never used).
 */
LstmDecoded *lstm_decoded_for_name(LstmModelCache *cache, text *name)
{
    int len = VARSIZE_ANY_EXHDR(name);
    char *cname;
    LstmModelDatum *model;
    LstmDecoded *decoded;
    MemoryContext old;

    LstmSnapshotKey snapshot = snapshot_key();

    if (cache->last != NULL && cache->last_name != NULL && (int)strlen(cache->last_name) == len &&
        memcmp(cache->last_name, VARDATA_ANY(name), len) == 0 &&
        same_snapshot(&cache->last_name_snapshot, &snapshot))
        return cache->last;

    cname = text_to_cstring(name);
    model = lstm_models_fetch(cname);
    decoded = cache_find(cache, model);
    if (decoded == NULL)
        decoded = cache_add(cache, model);
    pfree(model);
    old = MemoryContextSwitchTo(cache->context);
    if (cache->last_name)
        pfree(cache->last_name);
    cache->last_name = pstrdup(cname);
    cache->last_name_snapshot = snapshot;
    MemoryContextSwitchTo(old);
    cache->last = decoded;
    cache->last_raw_size = 0; /* the raw-datum shortcut no longer applies */
    pfree(cname);
    return decoded;
}

/*
 * The decoded model in argument argno of an inference function: an
 * lstm_model, or the name of a row of lstm_models (the argument's type is
 * looked up once per call site, not per row). NULL is an error naming
 * function.
 */
LstmDecoded *lstm_model_argument(FunctionCallInfo fcinfo, int argno, const char *function)
{
    LstmModelCache *cache = lstm_model_cache(fcinfo->flinfo);

    if (PG_ARGISNULL(argno))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s model must not be NULL", function)));
    if (cache->by_name < 0)
        cache->by_name = get_fn_expr_argtype(fcinfo->flinfo, argno) == TEXTOID ? 1 : 0;
    if (cache->by_name)
        return lstm_decoded_for_name(cache, PG_GETARG_TEXT_PP(argno));
    return lstm_decoded_for_datum(cache, PG_GETARG_DATUM(argno));
}
