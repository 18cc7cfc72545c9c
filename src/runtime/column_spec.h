/*
 * column_spec.h - the columns of a source relation that lstm_train,
 * lstm_score_trigger and lstm_stream_rebuild read, and every rule about
 * them in one place:
 *
 *   - which column a name means (exact names, no system columns) and the
 *     "no column" marker ('' or 'null') of the streaming functions;
 *   - which types each role accepts, per reader (one table in column_spec.c):
 *     training reads any number type or array of numbers (cast in SQL),
 *     streaming reads a number or float8[] value (domains over them
 *     included) and writes forecasts and scores as float8, float4 or numeric;
 *   - a time column needs a btree ordering (and, for streaming, a binary
 *     send/receive form to store it);
 *   - a value read as raw doubles from a datum;
 *   - the series key as text, the same in every session (lstm_series_key());
 *   - the time's encoding in lstm_stream_states: the binary (send) form in
 *     last_time, the column's type in last_time_type.
 */
#ifndef LSTM_RUNTIME_COLUMN_SPEC_H
#define LSTM_RUNTIME_COLUMN_SPEC_H

#include "lstm.h"

#include "access/attnum.h"

/* Who reads the columns: decides the accepted types and the "no column" marker. */
typedef enum LstmColumnReader {
    LSTM_READ_TRAINING,  /* lstm_train: the whole source, numbers cast to float8 in SQL */
    LSTM_READ_STREAMING, /* lstm_score_trigger and lstm_stream_rebuild: row by row */
} LstmColumnReader;

/* What a column is for. */
typedef enum LstmColumnRole {
    LSTM_COLUMN_VALUE,            /* the model's input (feature 0), a number or an array */
    LSTM_COLUMN_FEATURE,          /* training: a further input of number rows */
    LSTM_COLUMN_FEATURE_SEQUENCE, /* training: a further input of array rows */
    LSTM_COLUMN_SERIES,           /* the series key */
    LSTM_COLUMN_TIME,             /* the order of a series' rows */
    LSTM_COLUMN_FORECAST,         /* streaming: receives the forecast */
    LSTM_COLUMN_SCORE,            /* streaming: receives the anomaly score */
    LSTM_COLUMN_ALERT,            /* streaming: receives the alert (a boolean) */
} LstmColumnRole;

/* The relation whose columns are resolved, and who reads them. */
typedef struct LstmColumnSource {
    Oid relid;
    const char *relation; /* the relation as the reader's messages name it */
    const char *function; /* the reading SQL function, for messages */
    LstmColumnReader reader;
} LstmColumnSource;

/* One resolved column. */
typedef struct LstmColumn {
    LstmColumnRole role;
    const char *name;     /* exact column name; NULL: no column */
    const char *argument; /* how messages name the argument that gave it */
    const char *quoted;   /* quote_identifier(name), for SQL */
    AttrNumber attnum;    /* 0: no column */
    Oid type;             /* declared type (a domain stays a domain) */
    Oid base_type;        /* after domains */
    int32 typmod;
    Oid collation;
    bool is_array; /* value or feature: an array (one sequence per row or features) */
} LstmColumn;

/* Is a streaming argument the "no column" marker: '' or 'null' (any case)? */
bool lstm_column_is_none(const char *name);

/*
 * lstm_column_resolve: look name up in the source as a column for role and
 * check its type against the reader's rules; argument names the argument in
 * messages. Returns false (column->attnum 0) for a NULL name, or for the
 * "no column" marker where the reader has one. Unknown columns are 42703,
 * system columns 42P10, a type the role does not accept 42804, a time
 * column without an ordering 42883.
 */
bool lstm_column_resolve(const LstmColumnSource *source, LstmColumnRole role, const char *name,
                         const char *argument, LstmColumn *column);

/*
 * lstm_column_read_features: a streaming value column's non-NULL datum as
 * n raw doubles (a number for n = 1, or a float8[] of n elements), checked
 * finite; model_name and function name them in messages.
 */
void lstm_column_read_features(const LstmColumn *value, Datum datum, double *features, int n,
                               const char *model_name, const char *function);

/*
 * lstm_column_output_datum: a forecast or score as a datum of the column's
 * type (float8, float4, or numeric holding the shortest exact decimal).
 */
Datum lstm_column_output_datum(const LstmColumn *column, double value, const char *function);

/*
 * The series key of a column's values: text that is the same whatever the
 * session's settings (README "Streaming": the canonical form).
 */
typedef struct LstmSeriesKey {
    Oid form;        /* the base type when it has a fixed form, else InvalidOid */
    FmgrInfo output; /* the type's output function, for every other type */
} LstmSeriesKey;

/* lstm_series_key_init: set key up for the series column (fmgr data in context). */
void lstm_series_key_init(LstmSeriesKey *key, const LstmColumn *series, MemoryContext context);

/* lstm_series_key_init_type: set key up for values of type (fmgr data in context). */
void lstm_series_key_init_type(LstmSeriesKey *key, Oid type, MemoryContext context);

/* lstm_series_key_text: the key of a non-NULL series value, as a C string. */
char *lstm_series_key_text(LstmSeriesKey *key, Datum value);

/*
 * lstm_series_key_sql: an SQL expression giving the same key as
 * lstm_series_key_text for the series column (schema-qualified).
 */
char *lstm_series_key_sql(const LstmColumn *series);

/*
 * lstm_source_root: the relation whose saved states a row of relid uses: the
 * root of its inheritance tree (a partition's partitioned table, a child's
 * first parent, a TimescaleDB chunk's hypertable), or relid itself. A series
 * keeps one state across all the partitions its rows fall into.
 */
Oid lstm_source_root(Oid relid);

/* How a time column's values are stored in lstm_stream_states and compared. */
typedef struct LstmTimeCodec {
    Oid type;      /* the column's type: last_time_type */
    Oid collation; /* the column's collation, for comparisons */
    int32 typmod;  /* for the receive function */
    Oid ioparam;   /* for the receive function */
    FmgrInfo *cmp; /* the type's btree comparison (type cache) */
    FmgrInfo send; /* binary output: last_time */
    FmgrInfo recv; /* binary input */
} LstmTimeCodec;

/*
 * lstm_time_compare: the time column's btree comparison of two non-NULL
 * values (< 0, 0, > 0); the usual time types (timestamptz, timestamp,
 * bigint, date, integer) compare inline, as that comparison does.
 */
int lstm_time_compare(const LstmTimeCodec *codec, Datum a, Datum b);

/* lstm_time_codec_init: set codec up for a resolved streaming time column. */
void lstm_time_codec_init(LstmTimeCodec *codec, const LstmColumn *time, MemoryContext context);

/* lstm_time_encode: a time as stored in lstm_stream_states.last_time. */
bytea *lstm_time_encode(LstmTimeCodec *codec, Datum time);

/* lstm_time_send: the same for a time of any type (its send function, or the integer form). */
bytea *lstm_time_send(Oid type, Datum time);

/*
 * lstm_time_decode: a stored last_time (bytea, of the codec's type) as a value
 * of the type; bytes that do not read back are an error (XX001).
 */
Datum lstm_time_decode(LstmTimeCodec *codec, Datum last_time);

#endif /* LSTM_RUNTIME_COLUMN_SPEC_H */
