/*
 * stream_cache.h - the series states a scoring statement holds in backend memory.
 *
 * lstm_score_trigger locks a series' saved state (its row of lstm_stream_states)
 * the first time a statement reaches the series, steps the statement's rows in
 * memory, and writes the state back once, when the statement ends. This module
 * keeps those states (one LstmCachedSeries per model name, scored table and
 * series key) and decides when they are written:
 *
 * - at the end of the statement that first reached the series: the executor
 *   (INSERT, INSERT ... SELECT) or the utility command (COPY) running at the
 *   nesting depth where the trigger fired, or any shallower one, ends;
 * - before COMMIT and PREPARE TRANSACTION (a backstop: nothing is left by then);
 * - never after an error: a rolled-back transaction forgets them, and a
 *   rolled-back subtransaction (ROLLBACK TO SAVEPOINT, an exception caught in
 *   PL/pgSQL) restores every state to what it was when the subtransaction
 *   began, or forgets it if the subtransaction locked it.
 *
 * The row lock taken when the series was first reached is held to the end of
 * the transaction, so the state in memory is the newest one.
 */
#ifndef LSTM_FEATURES_STREAM_CACHE_H
#define LSTM_FEATURES_STREAM_CACHE_H

#include "lstm.h"

#include "core/stream.h"
#include "features/stream_states.h"

#include "lib/ilist.h"

/* What a series' state is now: everything a rolled-back subtransaction restores. */
typedef struct LstmSeriesVersion {
    LstmStream stream;    /* h, c, normaliser (memory owned by this version), steps, anomaly */
    bool restart_pending; /* the saved state was another model's: warn at the first step */
    bool state_changed;   /* rows were applied since the state was read */
    int64 late_added;     /* late rows counted since the state was read */
    bool has_last_time;   /* last_time_type is set */
    Oid last_time_type;   /* the type of the newest applied time */
    bool last_time_held;  /* last_time holds it (a saved time of another type is not held) */
    Datum last_time;      /* the newest applied time, a value of last_time_type */
    Size last_time_space; /* bytes allocated at last_time when it is passed by reference */
} LstmSeriesVersion;

/* One series' state held by the statement that locked it. */
typedef struct LstmCachedSeries {
    dlist_node node;          /* in the list of every cached series */
    uint64 settings_checked;  /* the trigger setup whose anomaly settings `now` has (0: none) */
    const char *hash_key;     /* model name, source and series key (the hash table's key) */
    Datum key[3];             /* model name (text), source (oid), series key (text) */
    const char *series;       /* the series key, for messages */
    Datum model;              /* the stored model datum the state belongs to */
    LstmDims dims;            /* its sizes */
    uint64 fingerprint;       /* its fingerprint */
    uint64 saved_fingerprint; /* the model that made the saved state (restart warning) */
    int16 time_typlen;        /* last_time's type: length and by-value, to copy it */
    bool time_byval;
    LstmSeriesVersion now;   /* the state as the applied rows left it */
    int level;               /* executor nesting depth of the outermost statement using it */
    SubTransactionId subid;  /* subtransaction that made `now` */
    struct SeriesUndo *undo; /* what enclosing subtransactions had, newest first */
    bool direct;             /* locked, and written, through the access methods */
    LstmStateTable states;   /* then: lstm_stream_states as that statement resolved it */
    ItemPointerData tid;     /* and the version of its row it locked (invalid: find by key) */
    MemoryContext memory;    /* where its versions' memory is (the cache's, or a lone one's) */
    bool lone;               /* made by lstm_stream_cache_lone: not cached */
} LstmCachedSeries;

/* Writes one series' state back to lstm_stream_states (SPI not connected). */
typedef void (*LstmSeriesWriter)(LstmCachedSeries *series);

/* lstm_stream_cache_init: install the hooks and callbacks (from _PG_init). */
void lstm_stream_cache_init(LstmSeriesWriter writer);

/* lstm_stream_cache_forget: drop a series just added, unwritten (its caller gave it up). */
void lstm_stream_cache_forget(LstmCachedSeries *series);

/* lstm_stream_cache_find: the cached state of a series, or NULL. */
LstmCachedSeries *lstm_stream_cache_find(Datum model_name, Oid source, const char *series);

/*
 * lstm_stream_cache_generation: a number that changes whenever a cached series
 * is forgotten (written back, or rolled back): a caller that remembers series
 * pointers forgets them when it changes.
 */
uint64 lstm_stream_cache_generation(void);

/*
 * lstm_stream_cache_use: a series the caller remembered (generation
 * unchanged) is used again: as lstm_stream_cache_find would find it.
 */
void lstm_stream_cache_use(LstmCachedSeries *series);

/*
 * lstm_stream_cache_add: cache a series just locked or created: a fresh
 * stream for the model's sizes (memory in the cache), no rows applied yet.
 */
LstmCachedSeries *lstm_stream_cache_add(Datum model_name, Oid source, const char *series,
                                        Datum model, const LstmDims *dims, uint64 fingerprint);

/*
 * lstm_stream_cache_one_row: does the statement running now insert a single
 * row? (An INSERT whose rows come from a Result node: VALUES with one row, or
 * a SELECT without FROM; no other plan in it, such as a data-modifying WITH.)
 * Its trigger calls score that row only.
 */
bool lstm_stream_cache_one_row(void);

/*
 * lstm_stream_cache_lone: a series as lstm_stream_cache_add makes it, in
 * context's memory, but not cached: for the row of a statement that inserts
 * one row (lstm_stream_cache_one_row), whose state is written through at
 * once. No other row reaches it, so nothing keeps, finds or writes it. key
 * (model name text, source oid, series text), series and model are the
 * caller's, not copied: they must last as long as the series.
 */
LstmCachedSeries *lstm_stream_cache_lone(MemoryContext context, const Datum key[3],
                                         const char *series, Datum model, const LstmDims *dims,
                                         uint64 fingerprint);

/*
 * lstm_stream_cache_change: call before changing series->now: remembers the
 * current version for the subtransaction being rolled back, and marks the
 * series as used by the statement running now.
 */
void lstm_stream_cache_change(LstmCachedSeries *series);

/*
 * lstm_stream_cache_set_last_time: copy a time, a value of type (typlen,
 * byval), into series->now; held false records only that a saved time of
 * another type exists (it is never compared, and replaced before any write).
 */
void lstm_stream_cache_set_last_time(LstmCachedSeries *series, bool held, Datum time, Oid type,
                                     int16 typlen, bool byval);

/* lstm_stream_cache_enter, _leave: around the trigger's own work (its SPI statements). */
void lstm_stream_cache_enter(void);
void lstm_stream_cache_leave(void);

/* lstm_stream_cache_flush_all: write every cached state now and forget it. */
void lstm_stream_cache_flush_all(void);

#endif /* LSTM_FEATURES_STREAM_CACHE_H */
