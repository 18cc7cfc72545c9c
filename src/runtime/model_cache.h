/*
 * model_cache.h - models decoded for inference, cached per call site for
 * the length of a query so that every group (and every row) of an aggregate
 * reuses them.
 */
#ifndef LSTM_RUNTIME_MODEL_CACHE_H
#define LSTM_RUNTIME_MODEL_CACHE_H

#include "types/lstm_model.h"

#include "core/runner.h"

/* A model decoded for inference (its runner), with its identity. */
typedef struct LstmDecoded {
    LstmRunner runner;        /* decoded weights and scratch */
    uint64 fingerprint;       /* lstm_model_fingerprint of the model */
    Size model_nbytes;        /* payload bytes of the model */
    char *model_bytes;        /* copy of the payload, for identity checks */
    struct LstmDecoded *next; /* next cached model */
} LstmDecoded;

/*
 * What a by-name lookup saw: the snapshot it read lstm_models with. A name is
 * looked up again whenever the active snapshot differs (a later statement, a
 * commit by another session, a change made by this transaction), so a call
 * site that runs again never uses a model that has since been replaced.
 */
typedef struct LstmSnapshotKey {
    uint32 local_xid;         /* this backend's top-level transaction (lxid) */
    CommandId command;        /* the snapshot's curcid */
    TransactionId xmin, xmax; /* the snapshot's bounds */
    uint64 completed_xacts;   /* snapXactCompletionCount: commits seen */
    bool valid;               /* a snapshot was active when it was taken */
} LstmSnapshotKey;

/*
 * The models seen by one SQL function call site (kept in fn_extra). The
 * identity of the datum seen last is remembered so that a row bringing the
 * same model again is recognised without detoasting it.
 */
typedef struct LstmModelCache {
    MemoryContext context;              /* lives as long as the query (fn_mcxt) */
    LstmDecoded *models;                /* every model decoded so far, newest first */
    char *last_raw;                     /* raw (possibly toasted) bytes of the last datum */
    Size last_raw_size;                 /* its size */
    Size last_raw_capacity;             /* allocated size of last_raw */
    LstmDecoded *last;                  /* what last_raw decodes to */
    char *last_name;                    /* for the name overloads: the last name looked up */
    LstmSnapshotKey last_name_snapshot; /* the snapshot last_name was read with */
    int by_name;        /* model argument is a name: 1, an lstm_model: 0, unknown: -1 */
    int value_is_array; /* value argument is float8[]: 1, float8: 0, unknown: -1 */
} LstmModelCache;

/* The cache hanging off flinfo->fn_extra, created on first use. */
LstmModelCache *lstm_model_cache(FmgrInfo *flinfo);

/*
 * lstm_decoded_for_datum: the decoded model for an lstm_model datum,
 * decoding (and validating) it on first sight only.
 */
LstmDecoded *lstm_decoded_for_datum(LstmModelCache *cache, Datum datum);

/*
 * lstm_decoded_for_name: the decoded model stored under name in
 * lstm_models; an unknown name is an ERROR.
 */
LstmDecoded *lstm_decoded_for_name(LstmModelCache *cache, text *name);

/*
 * lstm_model_argument: the decoded model in argument argno of an inference
 * function, given as an lstm_model or as a name in lstm_models; a NULL
 * argument is an ERROR naming function.
 */
LstmDecoded *lstm_model_argument(FunctionCallInfo fcinfo, int argno, const char *function);

#endif /* LSTM_RUNTIME_MODEL_CACHE_H */
