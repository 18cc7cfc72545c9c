/*
 * lstm.h - what the PostgreSQL glue files share.
 *
 * The glue turns SQL arguments into flat arrays for src/core and core error
 * codes into ereport; it never does arithmetic on weights itself.
 */
#ifndef LSTM_GLUE_H
#define LSTM_GLUE_H

#include "postgres.h"

#include "fmgr.h"

#include "core/cell.h"
#include "core/model.h"
#include "core/state.h"

/*
 * The lstm_model datum: a varlena whose payload is the core's serialized
 * model (LstmModelHeader, then the floats). Always read through
 * lstm_model_from_datum(), which validates.
 */
typedef struct LstmModelDatum {
    int32 vl_len_;          /* varlena header (do not touch directly) */
    LstmModelHeader header; /* sizes and format; float data follows */
} LstmModelDatum;

#define LSTM_MODEL_PAYLOAD(m) ((void *)&(m)->header)
#define LSTM_MODEL_PAYLOAD_SIZE(m) ((size_t)VARSIZE(m) - VARHDRSZ)

/* Where a model's bytes came from: decides the SQLSTATE of a bad one. */
typedef enum LstmModelSource {
    LSTM_FROM_TEXT,   /* text or jsonb input: 22P02 */
    LSTM_FROM_BINARY, /* binary recv: 22P03 */
    LSTM_FROM_STORED  /* a stored value read back: XX001 data corrupted */
} LstmModelSource;

/* Raise the ERROR for a failed core check (never returns). */
void lstm_report_model_error(LstmError err, const char *message, LstmModelSource source)
    pg_attribute_noreturn();

/*
 * lstm_model_from_datum: detoast a stored lstm_model and validate it.
 * The result may be a fresh copy; callers free it when done.
 */
LstmModelDatum *lstm_model_from_datum(Datum datum);

/* lstm_model_fingerprint_of: the core fingerprint of a validated model. */
uint64 lstm_model_fingerprint_of(const LstmModelDatum *model);

/*
 * A model decoded for inference, cached for the length of a query so that
 * every group (and every row) of an aggregate reuses it.
 */
typedef struct LstmDecoded {
    LstmRunner runner;        /* decoded weights and scratch */
    uint64 fingerprint;       /* lstm_model_fingerprint of the model */
    Size model_nbytes;        /* payload bytes of the model */
    char *model_bytes;        /* copy of the payload, for identity checks */
    struct LstmDecoded *next; /* next cached model */
} LstmDecoded;

/*
 * The models seen by one SQL function call site (kept in fn_extra). The
 * identity of the datum seen last is remembered so that a row bringing the
 * same model again is recognised without detoasting it.
 */
typedef struct LstmModelCache {
    MemoryContext context;  /* lives as long as the query (fn_mcxt) */
    LstmDecoded *models;    /* every model decoded so far, newest first */
    char *last_raw;         /* raw (possibly toasted) bytes of the last datum */
    Size last_raw_size;     /* its size */
    Size last_raw_capacity; /* allocated size of last_raw */
    LstmDecoded *last;      /* what last_raw decodes to */
    char *last_name;        /* for the name overloads: the last name looked up */
    int by_name;            /* model argument is a name: 1, an lstm_model: 0, unknown: -1 */
    int value_is_array;     /* value argument is float8[]: 1, float8: 0, unknown: -1 */
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

/*
 * lstm_models_fetch: read the model stored under name from lstm_models
 * (with the caller's privileges), returned as a palloc'd copy in the
 * current memory context. An unknown name is an ERROR.
 */
LstmModelDatum *lstm_models_fetch(const char *name);

/* lstm_extension_schema: OID of the schema the extension was created in. */
Oid lstm_extension_schema(void);

/*
 * lstm_extension_relation: the quoted, schema-qualified name of one of the
 * extension's relations (for example "public.lstm_models"), for SPI queries.
 */
char *lstm_extension_relation(const char *relname);

/* Longest horizon one call may ask for (lstm_forecast, lstm_predict). */
#define LSTM_MAX_HORIZON 100000

/*
 * Raise the ERROR for a row whose values, once scaled with the model's
 * input_mean and input_std, do not fit a float32 (never returns).
 */
void lstm_report_input_range(const double *features, int n) pg_attribute_noreturn();

/*
 * Raise an ERROR unless horizon is within 1..LSTM_MAX_HORIZON and the model
 * can feed its forecasts back (output_size = input_size); function names
 * the caller in the message.
 */
void lstm_check_horizon(int horizon, const char *function, const LstmDims *dims);

/* Raise an ERROR unless every value is finite; what names the argument. */
void lstm_check_finite(const double *values, int n, const char *what);

/*
 * The lstm_state datum (src/state.c): a varlena whose payload is the core's
 * serialized state (src/core/state.h). The header inside is not 8-byte
 * aligned, so it is always copied out with lstm_state_read_header().
 */

/* Raise the ERROR for a failed state check (never returns). */
void lstm_report_state_error(LstmError err, const char *message, LstmModelSource source)
    pg_attribute_noreturn();

/* lstm_state_from_datum: detoast a stored lstm_state and validate it (XX001). */
struct varlena *lstm_state_from_datum(Datum datum);

/* lstm_state_check_model: ERROR unless the validated state was made by model. */
void lstm_state_check_model(const struct varlena *state, const LstmDecoded *model);

/*
 * lstm_state_make: a new lstm_state of model holding stream, checked like a
 * stored value (an overflowing state is a 22003 out-of-range error).
 */
struct varlena *lstm_state_make(const LstmStream *stream, const LstmDecoded *model);

/*
 * lstm_read_features: copy a float8[] of exactly n non-NULL elements into
 * features; function names the caller in messages.
 */
void lstm_read_features(Datum datum, double *features, int n, const char *function);

/* Define the lstm.* settings of training (called once, from _PG_init). */
void lstm_train_define_gucs(void);

#endif /* LSTM_GLUE_H */
