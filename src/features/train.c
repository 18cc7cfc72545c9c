/*
 * train.c - lstm_train: train a model from a table of series, store it in
 * lstm_models.
 *
 *   lstm_train(name, source regclass, value, time_column, series, features,
 *              hidden, layers, bptt, batch_size, epochs, learning_rate, clip,
 *              validation, patience, seed, difference) returns jsonb
 *
 * The glue's part: check the arguments, read the source through SPI with the
 * caller's privileges (identifiers quoted, search_path pinned while it is
 * planned, one SELECT, a cursor read in batches), collect the rows series by series, keep within
 * lstm.train_memory_limit, hand flat arrays to src/core/trainer.c, report
 * progress, and upsert the model and its report into lstm_models. All of it
 * runs in the caller's transaction: an error or a cancel leaves no row.
 *
 * Data rules.
 *  - Long format (value is a number column): rows are ordered by series,
 *    time_column (then by the values, so that ties are deterministic); a new
 *    series starts where the series key changes (NULL keys form one series,
 *    as in GROUP BY). time_column is required. A NULL time is an error.
 *  - Sequences (value is an array of numbers): every row is one series;
 *    feature columns must be arrays of the same length. Rows are ordered by
 *    series and time_column when given, then by the arrays.
 *  - A row (or array position) whose value or any feature is NULL is
 *    skipped, as lstm_forecast skips NULL values; NaN and infinity are
 *    errors. Series with too few rows (fewer than 2, or 3 when differenced)
 *    are skipped and counted in the report.
 */
#include "features/train.h"

#include "catalog/extension.h"
#include "catalog/models_table.h"
#include "runtime/arguments.h"
#include "runtime/column_spec.h"
#include "types/lstm_model.h"

#include "core/calibration.h"

#include <math.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "core/normalizer.h"
#include "core/trainer.h"

PG_FUNCTION_INFO_V1(lstm_train);

/* lstm.train_memory_limit in kB; set by lstm_train_init. */
static int train_memory_limit_kb = 0;

/* Rows fetched from the source cursor at a time (rows of sequences can be large). */
#define TRAIN_FETCH_ROWS 10000
#define TRAIN_FETCH_SEQUENCES 64

/*
 * lstm_train_init: lstm.train_memory_limit, the most memory one
 * lstm_train call may use for its data and training state. The default is a
 * quarter of the machine's physical memory (at least 64 MB).
 */
void lstm_train_init(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    double quarter_kb = pages > 0 && page_size > 0 ? (double)pages * page_size / 4096.0 : 0.0;
    int boot_kb = quarter_kb >= (double)MAX_KILOBYTES ? MAX_KILOBYTES
                  : quarter_kb < 65536.0              ? 65536
                                                      : (int)quarter_kb;

    DefineCustomIntVariable(
        "lstm.train_memory_limit", "Most memory one lstm_train call may use.",
        "Covers the training data (float8 while loading, then float32) and the training state "
        "(weights, Adam moments, activations of one mini-batch). A larger need is refused "
        "before anything large is allocated. The default is a quarter of physical memory.",
        &train_memory_limit_kb, boot_kb, 1024, MAX_KILOBYTES, PGC_USERSET, GUC_UNIT_KB, NULL, NULL,
        NULL);
}

/* The memory limit in bytes. */
static Size train_memory_limit(void)
{
    return (Size)train_memory_limit_kb * 1024;
}

/* Refuse a need over the memory limit (what says what needs it). */
static void check_memory(Size need, const char *what)
{
    if (need > train_memory_limit())
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("lstm_train needs more memory than lstm.train_memory_limit allows"),
                        errdetail("%s needs at least %zu kB; lstm.train_memory_limit is %d kB.",
                                  what, (size_t)(need / 1024), train_memory_limit_kb),
                        errhint("Raise lstm.train_memory_limit, or train on fewer rows or with a "
                                "smaller hidden, layers, bptt or batch_size.")));
}

/* ---------- arguments ---------- */

/* A text argument as a C string; NULL stays NULL. */
static char *text_arg(FunctionCallInfo fcinfo, int n)
{
    return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* Raise the error for a NULL argument that has no NULL meaning. */
static void require_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
    if (PG_ARGISNULL(n))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("lstm_train argument %s must not be NULL", name)));
}

/*
 * One column of the source: name as given, quoted, type, collation (the
 * shared column spec; lstm_train's rules are its LSTM_READ_TRAINING rows).
 */
typedef LstmColumn SourceColumn;

/* ---------- collecting the rows ---------- */

/* The training set as it is read: raw rows series after series. */
typedef struct TrainData {
    int input_size;          /* I: the value and the features */
    double *raw;             /* (capacity, I) raw values */
    int64 rows;              /* rows stored */
    int64 capacity;          /* rows allocated */
    LstmTrainSeries *series; /* (series_capacity), .rows counted */
    int64 num_series;
    int64 series_capacity;
    int64 rows_read;       /* rows (or array positions) read */
    int64 rows_skipped;    /* of which skipped for a NULL */
    bool open;             /* the last series may still grow */
    bool require_positive; /* log => true with series scaling: a value <= 0 is an error */
    double min_value;      /* the smallest value read (decides log => 'auto') */
} TrainData;

/* Memory the data take now (raw float8 values and series). */
static Size data_bytes(const TrainData *td, int64 rows, int64 series)
{
    return (Size)rows * td->input_size * sizeof(double) + (Size)series * sizeof(LstmTrainSeries);
}

/* Start a new series. */
static void data_new_series(TrainData *td)
{
    if (td->num_series == td->series_capacity) {
        int64 cap = td->series_capacity < 64 ? 64 : 2 * td->series_capacity;
        check_memory(data_bytes(td, td->capacity, cap), "Loading the training data");
        td->series = td->series ? repalloc_huge(td->series, cap * sizeof(LstmTrainSeries))
                                : palloc_extended(cap * sizeof(LstmTrainSeries), MCXT_ALLOC_HUGE);
        td->series_capacity = cap;
    }
    memset(&td->series[td->num_series], 0, sizeof(LstmTrainSeries));
    td->num_series++;
}

/* Append one row of I raw values to the current series. */
static void data_add_row(TrainData *td, const double *values)
{
    if (td->rows == td->capacity) {
        int64 cap = td->capacity < 1024 ? 1024 : 2 * td->capacity;
        Size need = data_bytes(td, cap, td->series_capacity);
        /* grow by less than double rather than refuse while there is room */
        if (need > train_memory_limit() && td->capacity > 0) {
            int64 room = (int64)((train_memory_limit() - data_bytes(td, 0, td->series_capacity)) /
                                 (td->input_size * sizeof(double)));
            if (room > td->rows)
                cap = room;
        }
        check_memory(data_bytes(td, cap, td->series_capacity), "Loading the training data");
        td->raw =
            td->raw ? repalloc_huge(td->raw, (Size)cap * td->input_size * sizeof(double))
                    : palloc_extended((Size)cap * td->input_size * sizeof(double), MCXT_ALLOC_HUGE);
        td->capacity = cap;
    }
    memcpy(td->raw + td->rows * td->input_size, values, td->input_size * sizeof(double));
    td->rows++;
    td->series[td->num_series - 1].rows++;
}

/*
 * A value the log transform cannot take (log => true with series scaling):
 * 22023 naming the row's series (series_name: its key as text, NULL for the
 * only series).
 */
static void check_positive(const TrainData *td, double v, const SourceColumn *col,
                           const char *series_name)
{
    if (td->require_positive && !(v > 0.0))
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("lstm_train log is true but column \"%s\" has the value %g in series %s",
                        col->name, v, series_name ? series_name : "(the only series)"),
                 errdetail("The logarithm needs values greater than 0."),
                 errhint("Pass log => false, or log => 'auto' (log only when every value is "
                         "greater than 0).")));
}

/* NaN and infinity are errors; the message names the column. */
static void check_value(double v, const SourceColumn *col)
{
    if (!isfinite(v))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("column \"%s\" contains %s", col->name,
                               isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity")),
                        errdetail("lstm_train needs finite values."),
                        errhint("Filter or replace non-finite values; NULL values are skipped.")));
}

/* ---------- reading the source ---------- */

/* Everything the read needs to know about the call. */
typedef struct SourceSpec {
    Oid relid;
    char *relname; /* schema-qualified, quoted */
    SourceColumn value;
    SourceColumn time;   /* name NULL when not given */
    SourceColumn series; /* name NULL when not given */
    SourceColumn *features;
    int num_features;
    bool sequences; /* value is an array column: one series per row */
} SourceSpec;

/* The SELECT that reads the source in training order. */
static char *source_query(const SourceSpec *spec)
{
    StringInfoData q;
    const char *cast = spec->sequences ? "float8[]" : "float8";

    initStringInfo(&q);
    appendStringInfo(&q, "SELECT %s::%s", spec->value.quoted, cast);
    for (int f = 0; f < spec->num_features; f++)
        appendStringInfo(&q, ", %s::%s", spec->features[f].quoted, cast);
    if (spec->series.name)
        appendStringInfo(&q, ", %s", spec->series.quoted);
    if (spec->time.name && !spec->sequences)
        appendStringInfo(&q, ", %s IS NULL", spec->time.quoted);
    appendStringInfo(&q, " FROM %s ORDER BY ", spec->relname);
    if (spec->series.name)
        appendStringInfo(&q, "%s, ", spec->series.quoted);
    if (spec->time.name)
        appendStringInfo(&q, "%s, ", spec->time.quoted);
    appendStringInfo(&q, "%s", spec->value.quoted);
    for (int f = 0; f < spec->num_features; f++)
        appendStringInfo(&q, ", %s", spec->features[f].quoted);
    return q.data;
}

/* Equality of two series keys with the type's default equality. */
typedef struct KeyCompare {
    FmgrInfo eq;
    Oid collation;
    int16 typlen;
    bool typbyval;
    bool have_prev;
    bool prev_null;
    Datum prev; /* copy in the training context */
} KeyCompare;

/* Does this key start a new series (differs from the previous row's)? */
static bool key_changes(KeyCompare *kc, Datum key, bool isnull, MemoryContext cxt)
{
    bool changes;
    MemoryContext old;

    if (!kc->have_prev)
        changes = true;
    else if (isnull || kc->prev_null)
        changes = isnull != kc->prev_null;
    else
        changes = !DatumGetBool(FunctionCall2Coll(&kc->eq, kc->collation, kc->prev, key));
    if (changes || !kc->have_prev) {
        if (kc->have_prev && !kc->prev_null && !kc->typbyval)
            pfree(DatumGetPointer(kc->prev));
        old = MemoryContextSwitchTo(cxt);
        kc->prev = isnull ? (Datum)0 : datumCopy(key, kc->typbyval, kc->typlen);
        MemoryContextSwitchTo(old);
        kc->prev_null = isnull;
        kc->have_prev = true;
    }
    return changes;
}

/* Read one fetched batch of long-format rows. */
static void read_rows(const SourceSpec *spec, TrainData *td, SPITupleTable *tt, uint64 n,
                      KeyCompare *kc, bool *pending_new, MemoryContext cxt)
{
    int I = td->input_size;
    double values[LSTM_MAX_INPUT];
    int key_col = I + 1; /* 1-based: value, features, series key, time IS NULL */
    int time_null_col = spec->series.name ? I + 2 : I + 1;

    for (uint64 r = 0; r < n; r++) {
        HeapTuple tuple = tt->vals[r];
        bool isnull, skip = false;

        CHECK_FOR_INTERRUPTS();
        td->rows_read++;
        if (spec->series.name) {
            Datum key = SPI_getbinval(tuple, tt->tupdesc, key_col, &isnull);
            if (key_changes(kc, key, isnull, cxt))
                *pending_new = true;
        }
        if (DatumGetBool(SPI_getbinval(tuple, tt->tupdesc, time_null_col, &isnull)))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("column \"%s\" contains NULL", spec->time.name),
                            errdetail("lstm_train orders rows by time_column; a row without a "
                                      "time has no place in its series."),
                            errhint("Filter such rows out, for example through a view.")));
        for (int i = 0; i < I; i++) {
            Datum d = SPI_getbinval(tuple, tt->tupdesc, i + 1, &isnull);
            if (isnull) {
                skip = true;
                break;
            }
            values[i] = DatumGetFloat8(d);
            check_value(values[i], i == 0 ? &spec->value : &spec->features[i - 1]);
        }
        if (skip) {
            td->rows_skipped++;
            continue;
        }
        if (td->require_positive && !(values[0] > 0.0))
            check_positive(td, values[0], &spec->value,
                           spec->series.name ? SPI_getvalue(tuple, tt->tupdesc, key_col) : NULL);
        td->min_value = Min(td->min_value, values[0]);
        if (*pending_new || td->num_series == 0) {
            data_new_series(td);
            *pending_new = false;
        }
        data_add_row(td, values);
    }
}

/* Read one fetched batch of sequence rows: every row is one series. */
static void read_sequences(const SourceSpec *spec, TrainData *td, SPITupleTable *tt, uint64 n)
{
    int I = td->input_size;
    double values[LSTM_MAX_INPUT];
    Datum *elems[LSTM_MAX_INPUT];         /* (I) elements of each column's array */
    ArrayType *detoasted[LSTM_MAX_INPUT]; /* (I) copies made by detoasting, to free */
    bool *nulls[LSTM_MAX_INPUT];          /* (I) their NULL flags */

    for (uint64 r = 0; r < n; r++) {
        HeapTuple tuple = tt->vals[r];
        bool isnull, null_array = false;
        int length = 0, got = 0;

        CHECK_FOR_INTERRUPTS();
        for (int i = 0; i < I; i++) {
            const SourceColumn *col = i == 0 ? &spec->value : &spec->features[i - 1];
            Datum d = SPI_getbinval(tuple, tt->tupdesc, i + 1, &isnull);
            ArrayType *a;
            int len;
            if (isnull) {
                null_array = true;
                break;
            }
            a = DatumGetArrayTypeP(d);
            detoasted[i] = (Pointer)a != DatumGetPointer(d) ? a : NULL;
            if (ARR_NDIM(a) > 1)
                ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                                errmsg("column \"%s\" contains a %d-dimensional array", col->name,
                                       ARR_NDIM(a)),
                                errdetail("lstm_train reads one-dimensional sequences.")));
            deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
                              &elems[i], &nulls[i], &len);
            got = i + 1;
            if (i == 0)
                length = len;
            else if (len != length)
                ereport(ERROR,
                        (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                         errmsg("column \"%s\" has an array of %d elements where \"%s\" has %d",
                                col->name, len, spec->value.name, length),
                         errdetail("Every feature array must be as long as the value array of "
                                   "its row.")));
        }
        if (null_array) {
            /* a NULL sequence is skipped whole, like a NULL value */
            td->rows_read++;
            td->rows_skipped++;
        } else {
            data_new_series(td);
            for (int j = 0; j < length; j++) {
                bool skip = false;
                if ((j & 1023) == 0)
                    CHECK_FOR_INTERRUPTS();
                td->rows_read++;
                for (int i = 0; i < I; i++)
                    skip |= nulls[i][j];
                if (skip) {
                    td->rows_skipped++;
                    continue;
                }
                for (int i = 0; i < I; i++) {
                    values[i] = DatumGetFloat8(elems[i][j]);
                    check_value(values[i], i == 0 ? &spec->value : &spec->features[i - 1]);
                }
                if (td->require_positive && !(values[0] > 0.0))
                    check_positive(td, values[0], &spec->value,
                                   psprintf("number %lld", (long long)td->num_series));
                td->min_value = Min(td->min_value, values[0]);
                data_add_row(td, values);
            }
        }
        for (int i = 0; i < got; i++) {
            pfree(elems[i]);
            if (detoasted[i])
                pfree(detoasted[i]);
            pfree(nulls[i]);
        }
    }
}

/*
 * Open a cursor on the source query with search_path pinned to pg_catalog
 * (then pg_temp) while it is parsed and planned, so that its type names
 * (float8) cannot resolve to a caller's type of the same name; the query
 * text stays the one the caller sees in error contexts. A plan is redone
 * when search_path differs from the one it was made under, so the path stays
 * pinned until the cursor is open.
 */
static Portal open_source_cursor(const char *query)
{
    int nest_level = NewGUCNestLevel();
    SPIPlanPtr plan;
    Portal portal;

    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    plan = SPI_prepare(query, 0, NULL);
    if (plan == NULL)
        elog(ERROR, "SPI_prepare failed for \"%s\": %s", query, SPI_result_code_string(SPI_result));
    portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
    AtEOXact_GUC(true, nest_level);
    return portal;
}

/* Read the whole source through a cursor, with the caller's privileges. */
static void read_source(const SourceSpec *spec, TrainData *td, MemoryContext cxt)
{
    char *query = source_query(spec);
    Portal portal;
    KeyCompare kc;
    bool pending_new = false;

    memset(&kc, 0, sizeof(kc));
    if (spec->series.name && !spec->sequences) {
        TypeCacheEntry *tce = lookup_type_cache(spec->series.type, TYPECACHE_EQ_OPR_FINFO);
        if (!OidIsValid(tce->eq_opr_finfo.fn_oid))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                            errmsg("column \"%s\" has type %s, which has no equality operator",
                                   spec->series.name, format_type_be(spec->series.type)),
                            errdetail("lstm_train series separates series by key equality.")));
        fmgr_info_cxt(tce->eq_opr_finfo.fn_oid, &kc.eq, cxt);
        kc.collation = spec->series.collation;
        get_typlenbyval(spec->series.type, &kc.typlen, &kc.typbyval);
    }

    portal = open_source_cursor(query);
    for (;;) {
        MemoryContext old;
        SPI_cursor_fetch(portal, true, spec->sequences ? TRAIN_FETCH_SEQUENCES : TRAIN_FETCH_ROWS);
        if (SPI_processed == 0)
            break;
        old = MemoryContextSwitchTo(cxt);
        if (spec->sequences)
            read_sequences(spec, td, SPI_tuptable, SPI_processed);
        else
            read_rows(spec, td, SPI_tuptable, SPI_processed, &kc, &pending_new, cxt);
        MemoryContextSwitchTo(old);
        SPI_freetuptable(SPI_tuptable);
    }
    SPI_cursor_close(portal);
}

/* ---------- the report: a small jsonb builder ---------- */

/* A JSON string value that points at s (not copied). */
static JsonbValue json_string_value(const char *s)
{
    JsonbValue v;

    v.type = jbvString;
    v.val.string.val = unconstify(char *, s);
    v.val.string.len = strlen(s);
    return v;
}

/* Push key as the next member's key of the open object. */
static void json_key(JsonbParseState **state, const char *key)
{
    JsonbValue k = json_string_value(key);

    pushJsonbValue(state, WJB_KEY, &k);
}

/*
 * Push a scalar: the member key of the open object, or the next element of
 * the open array when key is NULL.
 */
static void json_push(JsonbParseState **state, const char *key, JsonbValue *scalar)
{
    if (key != NULL) {
        json_key(state, key);
        pushJsonbValue(state, WJB_VALUE, scalar);
    } else
        pushJsonbValue(state, WJB_ELEM, scalar);
}

/*
 * Open an object or an array (open is WJB_BEGIN_OBJECT or WJB_BEGIN_ARRAY),
 * as the member key of the open object when key is not NULL.
 */
static void json_open(JsonbParseState **state, const char *key, JsonbIteratorToken open)
{
    if (key != NULL)
        json_key(state, key);
    pushJsonbValue(state, open, NULL);
}

/* Push JSON null. */
static void json_push_null(JsonbParseState **state, const char *key)
{
    JsonbValue v;

    v.type = jbvNull;
    json_push(state, key, &v);
}

/* Push an integer. */
static void json_push_int(JsonbParseState **state, const char *key, int64 n)
{
    JsonbValue v;

    v.type = jbvNumeric;
    v.val.numeric = int64_to_numeric(n);
    json_push(state, key, &v);
}

/* Push a double in its shortest exact form; null when not finite. */
static void json_push_number(JsonbParseState **state, const char *key, double x)
{
    JsonbValue v;

    if (!isfinite(x)) {
        json_push_null(state, key);
        return;
    }
    v.type = jbvNumeric;
    v.val.numeric =
        DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(float8out_internal(x)),
                                            ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
    json_push(state, key, &v);
}

/* Push a string; null when s is NULL. */
static void json_push_string(JsonbParseState **state, const char *key, const char *s)
{
    JsonbValue v;

    if (s == NULL) {
        json_push_null(state, key);
        return;
    }
    v = json_string_value(s);
    json_push(state, key, &v);
}

/* Push a boolean. */
static void json_push_bool(JsonbParseState **state, const char *key, bool b)
{
    JsonbValue v;

    v.type = jbvBool;
    v.val.boolean = b;
    json_push(state, key, &v);
}

/* Push an array of n doubles; null when x is NULL. */
static void json_push_numbers(JsonbParseState **state, const char *key, const double *x, int n)
{
    if (x == NULL) {
        json_push_null(state, key);
        return;
    }
    json_open(state, key, WJB_BEGIN_ARRAY);
    for (int i = 0; i < n; i++)
        json_push_number(state, NULL, x[i]);
    pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* Push the report's "source": the relation, the columns as given, whether sequences. */
static void json_push_source(JsonbParseState **state, const SourceSpec *spec)
{
    json_open(state, "source", WJB_BEGIN_OBJECT);
    json_push_string(state, "relation", spec->relname);
    json_push_string(state, "value", spec->value.name);
    json_push_string(state, "time_column", spec->time.name);
    json_push_string(state, "series", spec->series.name);
    json_open(state, "features", WJB_BEGIN_ARRAY);
    for (int f = 0; f < spec->num_features; f++)
        json_push_string(state, NULL, spec->features[f].name);
    pushJsonbValue(state, WJB_END_ARRAY, NULL);
    json_push_bool(state, "sequences", spec->sequences);
    pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

static double seconds_since(instr_time start)
{
    instr_time now;
    INSTR_TIME_SET_CURRENT(now);
    INSTR_TIME_SUBTRACT(now, start);
    return INSTR_TIME_GET_DOUBLE(now);
}

/* ---------- errors from the core ---------- */

/* Raise the ERROR for a failed core step (never returns). */
static void report_train_error(LstmTrainError err, const char *message)
{
    switch (err) {
    case LSTM_TRAIN_ERR_OPTION:
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("lstm_train %s", message)));
        break;
    case LSTM_TRAIN_ERR_NO_DATA:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_train has not enough data: %s", message),
                        errdetail("Every series needs at least 2 rows with a non-NULL value "
                                  "(3 when difference is true) to give one training target, "
                                  "more when validation holds some back."),
                        errhint("Check the source, the series column and the validation "
                                "fraction.")));
        break;
    case LSTM_TRAIN_ERR_RANGE:
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("lstm_train cannot scale the data: %s", message)));
        break;
    case LSTM_TRAIN_ERR_DIVERGED:
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("lstm_train %s", message), errhint("Lower learning_rate or clip.")));
        break;
    case LSTM_TRAIN_ERR_DOMAIN:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("lstm_train %s", message),
                        errhint("Pass log => false.")));
        break;
    case LSTM_TRAIN_ERR_SIZE:
    default:
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("lstm_train %s", message)));
    }
    pg_unreachable();
}

/* Raise the ERROR for a core step that failed; nothing when it succeeded. */
static void check_core(LstmTrainError err, const char *message)
{
    if (err != LSTM_TRAIN_OK)
        report_train_error(err, message);
}

/* ---------- hyperparameters: one table drives reading and reporting ---------- */

/* How a hyperparameter is passed in SQL, kept in LstmTrainOptions and written in the report. */
typedef enum HyperparameterType {
    HYPER_INT,   /* int -> int, a JSON number */
    HYPER_FLOAT, /* float8 -> double, a JSON number */
    HYPER_SEED,  /* bigint -> uint64_t, reported as the bigint given */
    HYPER_BOOL,  /* boolean -> int (0 or 1), a JSON boolean */
    HYPER_CHOICE /* text -> int, the index of one of its choices; reported as that name */
} HyperparameterType;

/* The SQL type and the C field size of each HyperparameterType. */
static const struct {
    Oid sql_type;
    size_t field_size;
} hyperparameter_types[] = {
    [HYPER_INT] = {INT4OID, sizeof(int)},       [HYPER_FLOAT] = {FLOAT8OID, sizeof(double)},
    [HYPER_SEED] = {INT8OID, sizeof(uint64_t)}, [HYPER_BOOL] = {BOOLOID, sizeof(int)},
    [HYPER_CHOICE] = {TEXTOID, sizeof(int)},
};

/* An int hyperparameter left NULL: the scaling's default (learning_rate: a flag of its own). */
#define HYPER_UNSET (-1000000000)

/* One hyperparameter of lstm_train. */
typedef struct Hyperparameter {
    const char *name; /* SQL argument name, also its key in the report's "hyperparameters" */
    HyperparameterType type;
    size_t offset;          /* of its field in LstmTrainOptions */
    size_t field_size;      /* of that field, checked against the type */
    bool nullable;          /* NULL means the default of the scaling (HYPER_UNSET or NaN) */
    const char *choices[4]; /* HYPER_CHOICE: the names, the field holds the index */
} Hyperparameter;

#define HYPERPARAMETER(name, type, field)                                                          \
    {                                                                                              \
        name, type, offsetof(LstmTrainOptions, field), sizeof(((LstmTrainOptions *)0)->field),     \
            false,                                                                                 \
        {                                                                                          \
            NULL                                                                                   \
        }                                                                                          \
    }
/* A text hyperparameter with no NULL meaning: one of the choices. */
#define HYPERPARAMETER_CHOICE(name, field, ...)                                                    \
    {                                                                                              \
        name, HYPER_CHOICE, offsetof(LstmTrainOptions, field),                                     \
            sizeof(((LstmTrainOptions *)0)->field), false,                                         \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
/* A hyperparameter whose NULL takes the default of the scaling. */
#define HYPERPARAMETER_OR_NULL(name, type, field, ...)                                             \
    {                                                                                              \
        name, type, offsetof(LstmTrainOptions, field), sizeof(((LstmTrainOptions *)0)->field),     \
            true,                                                                                  \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

/* The choices of log: index 2 is 'auto' (every training value > 0), resolved after reading. */
#define LOG_AUTO 2

/*
 * Every hyperparameter, in the order of the report (and of the SQL signature
 * in src/sql/40_train.sql). A hyperparameter is one row here plus its
 * argument in the signature: its position is found by name in the called
 * function's pg_proc entry. None has a NULL meaning. Ranges are the core's
 * (lstm_train_check_options, limits in core/trainer.h), checked once the
 * source's number of features is known.
 */
static const Hyperparameter hyperparameters[] = {
    HYPERPARAMETER("hidden", HYPER_INT, hidden_size),
    HYPERPARAMETER("layers", HYPER_INT, num_layers),
    HYPERPARAMETER("bptt", HYPER_INT, bptt),
    HYPERPARAMETER_OR_NULL("batch_size", HYPER_INT, batch_size, NULL),
    HYPERPARAMETER_OR_NULL("epochs", HYPER_INT, epochs, NULL),
    HYPERPARAMETER_OR_NULL("learning_rate", HYPER_FLOAT, learning_rate, NULL),
    HYPERPARAMETER("clip", HYPER_FLOAT, clip),
    HYPERPARAMETER("validation", HYPER_FLOAT, validation),
    HYPERPARAMETER_OR_NULL("patience", HYPER_INT, patience, NULL),
    HYPERPARAMETER("seed", HYPER_SEED, seed),
    HYPERPARAMETER("difference", HYPER_BOOL, difference),
    HYPERPARAMETER_OR_NULL("season", HYPER_INT, season, NULL),
    HYPERPARAMETER_OR_NULL("horizon", HYPER_INT, horizon, NULL),
    HYPERPARAMETER_OR_NULL("scaling", HYPER_CHOICE, series_scaling, "global", "series", NULL),
    HYPERPARAMETER_CHOICE("log", log, "false", "true", "auto", NULL),
    HYPERPARAMETER_OR_NULL("members", HYPER_INT, members, NULL),
    HYPERPARAMETER_OR_NULL("loss", HYPER_CHOICE, loss, "mse", "l1", NULL),
};

#define NUM_HYPERPARAMETERS ((int)lengthof(hyperparameters))

/*
 * Find every hyperparameter's argument position by name in the signature of
 * the called function (one catalog lookup per call). A name missing or of
 * another type means the install script and the library disagree.
 */
static void hyperparameter_positions(FunctionCallInfo fcinfo, int *positions)
{
    HeapTuple proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
    Oid *types;
    char **names, *modes;
    int nargs;

    if (!HeapTupleIsValid(proc))
        elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
    nargs = Min(get_func_arg_info(proc, &types, &names, &modes), PG_NARGS());
    ReleaseSysCache(proc);
    for (int h = 0; h < NUM_HYPERPARAMETERS; h++) {
        const Hyperparameter *hp = &hyperparameters[h];
        Oid sql_type = hyperparameter_types[hp->type].sql_type;

        Assert(hp->field_size == hyperparameter_types[hp->type].field_size);
        positions[h] = -1;
        for (int a = 0; names != NULL && a < nargs; a++)
            if (strcmp(names[a], hp->name) == 0 && types[a] == sql_type)
                positions[h] = a;
        if (positions[h] < 0)
            elog(ERROR, "lstm_train has no argument %s of type %s", hp->name,
                 format_type_be(sql_type));
    }
}

/*
 * The index of a HYPER_CHOICE argument's value among its choices (log also
 * takes PostgreSQL's boolean spellings); 22023 naming the choices otherwise.
 */
static int read_choice(const Hyperparameter *hp, const char *value)
{
    bool b;
    StringInfoData names;

    for (int c = 0; c < lengthof(hp->choices) && hp->choices[c]; c++)
        if (pg_strcasecmp(value, hp->choices[c]) == 0)
            return c;
    if (strcmp(hp->name, "log") == 0 && parse_bool(value, &b))
        return b ? 1 : 0;
    initStringInfo(&names);
    for (int c = 0; c < lengthof(hp->choices) && hp->choices[c]; c++)
        appendStringInfo(&names, "%s'%s'", c == 0 ? "" : ", ", hp->choices[c]);
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("lstm_train %s must be one of %s, got \"%s\"", hp->name, names.data, value)));
    pg_unreachable();
}

/* Read every hyperparameter into opts; a NULL one is an error unless it has a default. */
static void read_hyperparameters(FunctionCallInfo fcinfo, LstmTrainOptions *opts, bool *float_unset)
{
    int positions[NUM_HYPERPARAMETERS];

    hyperparameter_positions(fcinfo, positions);
    memset(opts, 0, sizeof(*opts));
    for (int h = 0; h < NUM_HYPERPARAMETERS; h++) {
        const Hyperparameter *hp = &hyperparameters[h];
        char *field = (char *)opts + hp->offset;
        Datum arg;

        if (hp->nullable && PG_ARGISNULL(positions[h])) {
            if (hp->type == HYPER_FLOAT)
                *(double *)field = 0.0, *float_unset = true; /* learning_rate, the only one */
            else
                *(int *)field = HYPER_UNSET;
            continue;
        }
        require_arg(fcinfo, positions[h], hp->name);
        arg = PG_GETARG_DATUM(positions[h]);
        switch (hp->type) {
        case HYPER_INT:
            *(int *)field = DatumGetInt32(arg);
            break;
        case HYPER_FLOAT:
            *(double *)field = DatumGetFloat8(arg);
            break;
        case HYPER_SEED:
            *(uint64_t *)field = (uint64_t)DatumGetInt64(arg);
            break;
        case HYPER_BOOL:
            *(int *)field = DatumGetBool(arg);
            break;
        case HYPER_CHOICE:
            *(int *)field = read_choice(hp, TextDatumGetCString(arg));
            break;
        }
    }
}

/* Push the report's "hyperparameters": every row of the table, as read into opts. */
static void json_push_hyperparameters(JsonbParseState **state, const LstmTrainOptions *opts)
{
    json_open(state, "hyperparameters", WJB_BEGIN_OBJECT);
    for (int h = 0; h < NUM_HYPERPARAMETERS; h++) {
        const Hyperparameter *hp = &hyperparameters[h];
        const char *field = (const char *)opts + hp->offset;

        switch (hp->type) {
        case HYPER_INT:
            json_push_int(state, hp->name, *(const int *)field);
            break;
        case HYPER_FLOAT:
            json_push_number(state, hp->name, *(const double *)field);
            break;
        case HYPER_SEED:
            json_push_int(state, hp->name, (int64)(*(const uint64_t *)field));
            break;
        case HYPER_BOOL:
            json_push_bool(state, hp->name, *(const int *)field != 0);
            break;
        case HYPER_CHOICE:
            if (strcmp(hp->name, "log") == 0)
                json_push_bool(state, hp->name, *(const int *)field == 1);
            else
                json_push_string(state, hp->name, hp->choices[*(const int *)field]);
            break;
        }
    }
    pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* ---------- lstm_train ---------- */

/* One member's epochs, as they ran. */
typedef struct MemberLog {
    int epochs_run;
    int best_epoch;
    double best_loss;
    bool stopped_early;
    double *train_losses;  /* (epochs) per epoch run */
    double *valid_losses;  /* (epochs) validation loss or score; NaN without validation */
    double *epoch_seconds; /* (epochs) */
} MemberLog;

/* One lstm_train call, as it goes from step to step. */
typedef struct TrainRun {
    char *name; /* the model's name in lstm_models */
    LstmTrainOptions opts;
    bool learning_rate_unset; /* NULL learning_rate: the scaling's default */
    SourceSpec spec;
    TrainData data;
    MemoryContext cxt; /* data, training state and model; deleted at the end */
    instr_time start;
    double load_seconds;
    LstmTrainTotals totals;
    LstmTrainer trainer;
    int input_size;                   /* the network's I */
    float input_mean[LSTM_MAX_INPUT]; /* (I) scaling fitted on the training rows */
    float input_std[LSTM_MAX_INPUT];  /* (I) */
    double *last, *scale, *value;     /* (inputs) series scaling's per-row arrays */
    void *trainer_memory;             /* lstm_trainer_nbytes, reused by every member */
    float *member_params;             /* (members, P) every member's best weights */
    MemberLog *members;               /* (members) */
    LstmModelDatum *model;
    int64 calibration_errors; /* errors of the step with the fewest (0: not calibrated) */
} TrainRun;

/* Read the source arguments (source, value, time_column, series, features) into spec. */
static void source_arguments(FunctionCallInfo fcinfo, SourceSpec *spec)
{
    LstmColumnSource source = {InvalidOid, NULL, "lstm_train", LSTM_READ_TRAINING};
    char *value, *time_column, *series;
    char relkind;
    Oid namespace;

    memset(spec, 0, sizeof(*spec));
    spec->relid = PG_GETARG_OID(1);
    relkind = get_rel_relkind(spec->relid);
    if (relkind == '\0')
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation with OID %u does not exist", spec->relid)));
    if (relkind != RELKIND_RELATION && relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW &&
        relkind != RELKIND_FOREIGN_TABLE && relkind != RELKIND_PARTITIONED_TABLE)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not a table, view, materialized view or foreign table",
                               get_rel_name(spec->relid)),
                        errdetail("lstm_train reads its source with SELECT.")));
    namespace = get_rel_namespace(spec->relid);
    spec->relname =
        quote_qualified_identifier(get_namespace_name(namespace), get_rel_name(spec->relid));

    source.relid = spec->relid;
    source.relation = spec->relname;
    value = text_arg(fcinfo, 2);
    time_column = text_arg(fcinfo, 3);
    series = text_arg(fcinfo, 4);
    lstm_column_resolve(&source, LSTM_COLUMN_VALUE, value, "value", &spec->value);
    spec->sequences = spec->value.is_array;
    if (time_column)
        lstm_column_resolve(&source, LSTM_COLUMN_TIME, time_column, "time_column", &spec->time);
    else if (!spec->sequences)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("lstm_train needs time_column to order the rows of a series"),
                 errdetail("value \"%s\" is a number column: every row is one time step.", value),
                 errhint("Pass time_column => 'your_time_column', or use a float8[] "
                         "column holding whole sequences.")));
    lstm_column_resolve(&source, LSTM_COLUMN_SERIES, series, "series", &spec->series);

    if (!PG_ARGISNULL(5)) {
        ArrayType *arr = PG_GETARG_ARRAYTYPE_P(5);
        Datum *elems;
        bool *nulls;
        int n;
        deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
        if (n + 1 > LSTM_MAX_INPUT)
            ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                            errmsg("lstm_train takes at most %d features, got %d",
                                   LSTM_MAX_INPUT - 1, n)));
        spec->features = palloc0(sizeof(SourceColumn) * (n > 0 ? n : 1));
        spec->num_features = n;
        for (int f = 0; f < n; f++) {
            SourceColumn *col = &spec->features[f];
            if (nulls[f])
                ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                                errmsg("lstm_train features must not contain NULL")));
            lstm_column_resolve(
                &source, spec->sequences ? LSTM_COLUMN_FEATURE_SEQUENCE : LSTM_COLUMN_FEATURE,
                TextDatumGetCString(elems[f]), "features", col);
            if (strcmp(col->name, value) == 0)
                ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                                errmsg("column \"%s\" is the value and cannot also be a feature",
                                       col->name),
                                errdetail("The value is always the first input.")));
            for (int g = 0; g < f; g++)
                if (strcmp(spec->features[g].name, col->name) == 0)
                    ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                                    errmsg("column \"%s\" appears twice in features", col->name)));
        }
    }
}

/*
 * Read every argument into name, opts and spec; raise errors for bad ones.
 * *learning_rate_unset: learning_rate was NULL (the scaling's default).
 */
static void train_arguments(FunctionCallInfo fcinfo, char **name, LstmTrainOptions *opts,
                            SourceSpec *spec, bool *learning_rate_unset)
{
    require_arg(fcinfo, 0, "name");
    require_arg(fcinfo, 1, "source");
    require_arg(fcinfo, 2, "value");
    read_hyperparameters(fcinfo, opts, learning_rate_unset);

    *name = text_arg(fcinfo, 0);
    if ((*name)[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_train name must not be empty")));
    source_arguments(fcinfo, spec);
}

/* Is an int option left NULL (its default follows from the scaling)? */
static bool unset(int v)
{
    return v == HYPER_UNSET;
}

/*
 * Defaults that follow from the scaling (NULL arguments): scaling 'series'
 * when season or horizon is given; then hidden etc. as given, batch_size
 * 64/32, learning_rate 0.003/0.01, members 3/1, loss l1/mse, horizon 1,
 * season 0 (1 also means none). epochs and patience wait for the data
 * (finish_defaults) and get provisional values here.
 */
static void resolve_defaults(LstmTrainOptions *o, bool learning_rate_unset)
{
    bool series;

    if (unset(o->series_scaling))
        o->series_scaling = !unset(o->season) || !unset(o->horizon);
    series = o->series_scaling == 1;
    if (unset(o->season) || o->season == 1)
        o->season = 0;
    if (unset(o->horizon))
        o->horizon = 1;
    if (unset(o->batch_size))
        o->batch_size = series ? 64 : 32;
    if (learning_rate_unset)
        o->learning_rate = series ? 0.003 : 0.01;
    if (unset(o->members))
        o->members = series ? 3 : 1;
    if (unset(o->loss))
        o->loss = series ? LSTM_LOSS_L1 : LSTM_LOSS_MSE;
}

/* Check the options against the core's ranges and the model's limits. */
static void check_options(TrainRun *run)
{
    char msg[LSTM_ERRMSG_LEN];
    LstmTrainOptions o = run->opts;

    if (o.series_scaling && run->spec.num_features > 0)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("lstm_train cannot use features with series scaling"),
                        errdetail("A series-scaled model reads one value per row."),
                        errhint("Leave out features, or pass scaling => 'global' (without season "
                                "and horizon).")));
    run->input_size = o.series_scaling ? lstm_normalizer_input_size(o.season, o.horizon)
                                       : 1 + run->spec.num_features;
    /* epochs, patience and an automatic log are settled after reading; check the rest now */
    if (unset(o.epochs))
        o.epochs = 1;
    if (unset(o.patience))
        o.patience = 0;
    if (o.log == LOG_AUTO)
        o.log = 0;
    check_core(lstm_train_check_options(&o, run->input_size, msg), msg);
}

/*
 * The defaults that need the data: epochs 30 and patience 6 with series
 * scaling (100 and 10 for a source with one series), else 100 and 10; log
 * 'auto' is true when series scaling sees only values > 0.
 */
static void finish_defaults(TrainRun *run)
{
    LstmTrainOptions *o = &run->opts;
    bool one = lstm_train_nonempty_series(run->data.num_series, run->data.series) == 1;

    if (unset(o->epochs))
        o->epochs = o->series_scaling && !one ? 30 : 100;
    if (unset(o->patience))
        o->patience = o->series_scaling && !one ? 6 : 10;
    if (o->log == LOG_AUTO)
        o->log = o->series_scaling && run->data.rows > 0 && run->data.min_value > 0.0;
    check_options(run);
}

/*
 * Plan the split, check the whole memory need (every member's weights
 * included) against the limit before allocating it, prepare the inputs
 * (scaled, or normalised per series) and lay the trainer out (in run->cxt).
 */
static void prepare_training(TrainRun *run)
{
    TrainData *td = &run->data;
    LstmTrainOptions *o = &run->opts;
    char msg[LSTM_ERRMSG_LEN];
    LstmTrainError err;
    Size trainer_bytes, inputs_bytes, rows_bytes, members_bytes, log_bytes;
    LstmDims dims = lstm_trainer_model_dims(o, run->input_size);
    float *inputs;

    err = lstm_train_plan(o, td->num_series, td->series, &run->totals, msg);
    if (err != LSTM_TRAIN_OK && td->rows_read == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_train source %s has no rows", run->spec.relname)));
    check_core(err, msg);
    trainer_bytes = lstm_trainer_nbytes(o, run->input_size, &run->totals);
    inputs_bytes = (Size)run->totals.inputs * run->input_size * sizeof(float);
    rows_bytes = o->series_scaling ? 3 * sizeof(double) * (Size)run->totals.inputs : 0;
    members_bytes = o->members > 1 || o->series_scaling
                        ? (Size)o->members * lstm_model_parameter_count(&dims) * sizeof(float)
                        : 0;
    log_bytes = 3 * sizeof(double) * (Size)o->epochs * o->members;
    if (trainer_bytes == 0)
        report_train_error(LSTM_TRAIN_ERR_SIZE,
                           "cannot represent the training state of this size; lower bptt, "
                           "batch_size or hidden");
    check_memory(data_bytes(td, td->rows, td->num_series) + inputs_bytes + rows_bytes +
                     members_bytes + trainer_bytes + log_bytes,
                 o->members > 1 ? "Training every member" : "Training");
    inputs = palloc_extended(inputs_bytes > 0 ? inputs_bytes : 1, MCXT_ALLOC_HUGE);
    if (o->series_scaling) {
        Size n = (Size)(run->totals.inputs > 0 ? run->totals.inputs : 1) * sizeof(double);
        run->last = palloc_extended(n, MCXT_ALLOC_HUGE);
        run->scale = palloc_extended(n, MCXT_ALLOC_HUGE);
        run->value = palloc_extended(n, MCXT_ALLOC_HUGE);
        check_core(lstm_train_prepare_series(o, td->raw, td->num_series, td->series, inputs,
                                             run->last, run->scale, run->value,
                                             lstm_check_interrupts, NULL, msg),
                   msg);
    } else
        check_core(lstm_train_prepare(o, run->input_size, td->raw, td->num_series, td->series,
                                      run->input_mean, run->input_std, inputs,
                                      lstm_check_interrupts, NULL, msg),
                   msg);
    pfree(td->raw); /* the float32 inputs are all training needs from here */
    td->raw = NULL;

    run->trainer_memory = palloc_extended(trainer_bytes, MCXT_ALLOC_HUGE);
    lstm_trainer_init(&run->trainer, o, run->input_size, &run->totals, td->series, td->num_series,
                      inputs, run->trainer_memory, lstm_check_interrupts, NULL);
    run->member_params =
        palloc_extended((Size)o->members * run->trainer.nparams * sizeof(float), MCXT_ALLOC_HUGE);
    run->members = palloc0(sizeof(MemberLog) * o->members);
    for (int j = 0; j < o->members; j++) {
        run->members[j].train_losses = palloc(sizeof(double) * o->epochs);
        run->members[j].valid_losses = palloc(sizeof(double) * o->epochs);
        run->members[j].epoch_seconds = palloc(sizeof(double) * o->epochs);
    }
}

/* What the validation numbers are called in the NOTICE and the report. */
static const char *validation_name(const TrainRun *run)
{
    if (!run->opts.series_scaling)
        return "validation_loss";
    return run->totals.validation == LSTM_VALIDATE_ROLLING ? "validation_score" : "validation_owa";
}

/* The progress NOTICE after epoch e (0-based) of member j. */
static void report_epoch(const TrainRun *run, int j, int e)
{
    const MemberLog *m = &run->members[j];
    double elapsed = seconds_since(run->start);
    char member[64] = "";

    if (run->opts.members > 1)
        snprintf(member, sizeof(member), " member %d of %d,", j + 1, run->opts.members);
    ereport(
        NOTICE,
        (errmsg("lstm_train \"%s\":%s epoch %d of %d", run->name, member, e + 1, run->opts.epochs),
         run->totals.valid_targets > 0
             ? errdetail("Train loss %.6g, %s %.6g%s, %.3f s elapsed.", m->train_losses[e],
                         run->opts.series_scaling ? "validation score" : "validation loss",
                         m->valid_losses[e], run->trainer.best_epoch == e + 1 ? " (best)" : "",
                         elapsed)
             : errdetail("Train loss %.6g, %.3f s elapsed.", m->train_losses[e], elapsed)));
}

/*
 * Train member j (seed + j) from fresh weights until it stops (patience or
 * the last epoch), a NOTICE after each epoch; keep its best weights.
 */
static void train_member(TrainRun *run, int j)
{
    LstmTrainer *tr = &run->trainer;
    MemberLog *m = &run->members[j];
    bool validating = run->totals.valid_targets > 0;
    char msg[LSTM_ERRMSG_LEN];
    LstmTrainOptions o = run->opts;
    const float *inputs = tr->inputs;
    void (*interrupt)(void *) = tr->interrupt;

    if (j > 0) { /* the same memory, fresh weights and generator */
        o.seed = run->opts.seed + (uint64_t)j;
        lstm_trainer_init(tr, &o, run->input_size, &run->totals, run->data.series,
                          run->data.num_series, inputs, run->trainer_memory, lstm_check_interrupts,
                          NULL);
    }
    tr->interrupt = interrupt ? interrupt : lstm_check_interrupts;
    if (run->opts.series_scaling)
        lstm_trainer_attach_series(tr, run->totals.validation, run->last, run->scale, run->value);
    for (;;) {
        instr_time epoch_start;
        double train_loss, eval_train, valid_loss = NAN;
        int stop, e = tr->epochs_run;

        INSTR_TIME_SET_CURRENT(epoch_start);
        check_core(lstm_trainer_epoch(tr, &train_loss, msg), msg);
        if (validating)
            lstm_trainer_evaluate(tr, &eval_train, &valid_loss);
        /* a validation score that cannot be computed never counts as an improvement */
        stop = lstm_trainer_end_epoch(tr, validating ? (isnan(valid_loss) ? INFINITY : valid_loss)
                                                     : train_loss);
        m->train_losses[e] = train_loss;
        m->valid_losses[e] = valid_loss;
        m->epoch_seconds[e] = seconds_since(epoch_start);
        m->epochs_run = tr->epochs_run;
        m->best_epoch = tr->best_epoch;
        m->best_loss = tr->best_loss;
        report_epoch(run, j, e);
        if (stop) {
            m->stopped_early = tr->epochs_run < run->opts.epochs;
            break;
        }
    }
    memcpy(run->member_params + (size_t)j * tr->nparams, lstm_trainer_best(tr),
           tr->nparams * sizeof(float));
}

/* The model: every member's best weights with the scaling, checked like any input. */
static void build_model(TrainRun *run)
{
    LstmDims dims = lstm_trainer_model_dims(&run->opts, run->input_size);
    Size model_bytes;
    char msg[LSTM_ERRMSG_LEN];
    bool global = !run->opts.series_scaling;

    dims.members = run->opts.members;
    model_bytes = lstm_model_nbytes(&dims);
    run->model = palloc_extended(VARHDRSZ + model_bytes, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    SET_VARSIZE(run->model, VARHDRSZ + model_bytes);
    /* a global model's output scaling is the value's (feature 0); series scaling stores identity */
    lstm_trainer_write_members(&dims, run->member_params, global ? run->input_mean : NULL,
                               global ? run->input_std : NULL, global ? run->input_mean : NULL,
                               global ? run->input_std : NULL, LSTM_MODEL_PAYLOAD(run->model));
    if (lstm_model_validate(LSTM_MODEL_PAYLOAD(run->model), model_bytes, msg) != LSTM_OK)
        report_train_error(LSTM_TRAIN_ERR_DIVERGED, psprintf("produced an invalid model: %s", msg));
}

/*
 * Calibrate the prediction intervals of a series-scaled model with validation
 * rows (calibration.h): run the model just built (every member, median
 * forecast, as inference does) over every used series, collect the scaled
 * errors of the origins whose targets are validation rows, and replace the
 * model by the same one with the (O, Q) quantiles of those errors appended.
 * A step without any error leaves the model uncalibrated.
 */
static void calibrate_model(TrainRun *run)
{
    LstmTrainSeries *series = run->data.series;
    LstmModelView view;
    LstmRunner runner;
    LstmSeries work;
    LstmDims dims;
    LstmModelDatum *calibrated;
    int64 *rows, *valid, *counts, capacity, used = 0, fewest = -1;
    double *errors;
    float *quantiles;
    int O;
    Size nbytes;
    char msg[LSTM_ERRMSG_LEN];

    if (!run->opts.series_scaling || run->totals.valid_targets == 0)
        return;
    rows = palloc(sizeof(int64) * (run->totals.series_used > 0 ? run->totals.series_used : 1));
    valid = palloc(sizeof(int64) * (run->totals.series_used > 0 ? run->totals.series_used : 1));
    for (int64 s = 0; s < run->data.num_series; s++)
        if (series[s].inputs > 0) { /* the used series lie one after the other in value */
            rows[used] = series[s].inputs;
            valid[used++] = series[s].valid;
        }
    lstm_model_view(LSTM_MODEL_PAYLOAD(run->model), &view);
    dims = view.dims;
    O = dims.output_size;
    lstm_runner_init(&runner, &view, palloc_extended(lstm_runner_nbytes(&dims), MCXT_ALLOC_HUGE));
    lstm_series_init(&work, &dims, palloc(lstm_series_nfloats(&dims) * sizeof(float)));
    capacity = lstm_calibration_capacity(used, valid);
    check_memory((Size)O * capacity * sizeof(double), "Calibrating the prediction intervals");
    errors = palloc_extended((Size)O * capacity * sizeof(double), MCXT_ALLOC_HUGE);
    counts = palloc(sizeof(int64) * O);
    if (lstm_calibration_collect(&runner, &work, run->value, used, rows, valid, capacity, errors,
                                 counts, lstm_check_interrupts, NULL) != LSTM_OK)
        report_train_error(LSTM_TRAIN_ERR_RANGE, "a value could not be forecast while "
                                                 "calibrating the prediction intervals");
    for (int k = 0; k < O; k++)
        if (fewest < 0 || counts[k] < fewest)
            fewest = counts[k];
    if (fewest < 1)
        return;

    dims.calibrated = 1;
    nbytes = lstm_model_nbytes(&dims);
    calibrated = palloc_extended(VARHDRSZ + nbytes, MCXT_ALLOC_HUGE);
    SET_VARSIZE(calibrated, VARHDRSZ + nbytes);
    /* the calibration is appended: everything before it is the model's data as it was */
    memcpy(LSTM_MODEL_PAYLOAD(calibrated), LSTM_MODEL_PAYLOAD(run->model),
           LSTM_MODEL_PAYLOAD_SIZE(run->model));
    lstm_model_init_header(&calibrated->header, &dims);
    lstm_model_view(LSTM_MODEL_PAYLOAD(calibrated), &view);
    quantiles = (float *)view.calibration; /* (O, Q) */
    for (int k = 0; k < O; k++)
        lstm_calibration_fit(errors + (Size)k * capacity, (size_t)counts[k],
                             quantiles + (Size)k * LSTM_CALIBRATION_QUANTILES);
    if (lstm_model_validate(LSTM_MODEL_PAYLOAD(calibrated), nbytes, msg) != LSTM_OK)
        report_train_error(LSTM_TRAIN_ERR_DIVERGED, psprintf("produced an invalid model: %s", msg));
    run->model = calibrated;
    run->calibration_errors = fewest;
}

/* Push the report's "member_runs": every member's seed, epochs and scores. */
static void json_push_members(JsonbParseState **state, const TrainRun *run)
{
    json_open(state, "member_runs", WJB_BEGIN_ARRAY);
    for (int j = 0; j < run->opts.members; j++) {
        const MemberLog *m = &run->members[j];
        json_open(state, NULL, WJB_BEGIN_OBJECT);
        json_push_int(state, "member", j + 1);
        json_push_int(state, "seed", (int64)(run->opts.seed + (uint64_t)j));
        json_push_int(state, "epochs_run", m->epochs_run);
        json_push_int(state, "best_epoch", m->best_epoch);
        json_push_bool(state, "stopped_early", m->stopped_early);
        json_push_number(state, "best_loss", m->best_loss);
        json_push_numbers(state, "train_loss", m->train_losses, m->epochs_run);
        json_push_numbers(state, validation_name(run),
                          run->totals.valid_targets > 0 ? m->valid_losses : NULL, m->epochs_run);
        json_push_numbers(state, "epoch_seconds", m->epoch_seconds, m->epochs_run);
        pushJsonbValue(state, WJB_END_OBJECT, NULL);
    }
    pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* The report (README, "The report"), as jsonb in the current memory context. */
static Datum train_report(const TrainRun *run)
{
    const MemberLog *first = &run->members[0];
    const LstmTrainTotals *totals = &run->totals;
    JsonbParseState *state = NULL;

    json_open(&state, NULL, WJB_BEGIN_OBJECT);
    json_push_string(&state, "model", run->name);
    json_push_int(&state, "rows", totals->rows);
    json_push_int(&state, "rows_skipped", run->data.rows_skipped);
    json_push_int(&state, "series", totals->series_used);
    json_push_int(&state, "series_skipped", totals->series_skipped);
    json_push_int(&state, "train_targets", totals->train_targets);
    json_push_int(&state, "validation_targets", totals->valid_targets);
    /* the first member's run (the only one of a single-member model) */
    json_push_int(&state, "epochs_run", first->epochs_run);
    json_push_int(&state, "best_epoch", first->best_epoch);
    json_push_bool(&state, "stopped_early", first->stopped_early);
    json_push_number(&state, "best_loss", first->best_loss);
    json_push_numbers(&state, "train_loss", first->train_losses, first->epochs_run);
    json_push_numbers(&state, validation_name(run),
                      totals->valid_targets > 0 ? first->valid_losses : NULL, first->epochs_run);
    json_push_numbers(&state, "epoch_seconds", first->epoch_seconds, first->epochs_run);
    if (run->opts.members > 1 || run->opts.series_scaling) {
        json_push_int(&state, "members", run->opts.members);
        json_push_string(&state, "scaling", run->opts.series_scaling ? "series" : "global");
        json_push_bool(&state, "log", run->opts.log == 1);
        json_push_int(&state, "season", run->opts.season);
        json_push_int(&state, "horizon", run->opts.horizon);
        json_push_members(&state, run);
        if (run->calibration_errors > 0)
            json_push_int(&state, "calibration_errors", run->calibration_errors);
    }
    json_push_number(&state, "load_seconds", run->load_seconds);
    json_push_number(&state, "elapsed_seconds", seconds_since(run->start));
    json_push_hyperparameters(&state, &run->opts);
    json_push_source(&state, &run->spec);
    return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}

/*
 * Upsert the model and its report (the row's notes) under name in the
 * extension's lstm_models. Every name in the statement is schema-qualified:
 * the caller's search_path cannot change what runs. The time is a parameter
 * (the transaction's start, what now() gives), so the DO UPDATE SET clause
 * calls no volatile function: Citus runs it on a reference table.
 */
static void store_model(const char *name, LstmModelDatum *model, Datum report)
{
    Oid schema = lstm_extension_schema();
    Oid model_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("lstm_model"),
                                     ObjectIdGetDatum(schema));
    Oid argtypes[4] = {TEXTOID, model_type, JSONBOID, TIMESTAMPTZOID};
    Datum args[4];
    char *query;
    int rc;

    if (!OidIsValid(model_type))
        elog(ERROR, "type lstm_model not found in schema %s", get_namespace_name(schema));
    query = psprintf("INSERT INTO %s AS m (name, model, notes, created_at) VALUES ($1, $2, $3, $4) "
                     "ON CONFLICT (name) DO UPDATE SET model = EXCLUDED.model, "
                     "notes = EXCLUDED.notes, created_at = EXCLUDED.created_at",
                     lstm_extension_relation("lstm_models"));
    args[0] = CStringGetTextDatum(name);
    args[1] = PointerGetDatum(model);
    args[2] = report;
    args[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    rc = SPI_execute_with_args(query, 4, argtypes, args, NULL, false, 0);
    if (rc != SPI_OK_INSERT)
        elog(ERROR, "storing the model failed: %s", SPI_result_code_string(rc));
}

/* lstm_train(...): check, read the arguments and the source, train, report, store. */
Datum lstm_train(PG_FUNCTION_ARGS)
{
    MemoryContext caller = CurrentMemoryContext;
    TrainRun run;
    Datum report;

    memset(&run, 0, sizeof(run));
    INSTR_TIME_SET_CURRENT(run.start);
    PreventCommandIfReadOnly("lstm_train()");
    train_arguments(fcinfo, &run.name, &run.opts, &run.spec, &run.learning_rate_unset);
    lstm_models_check_writable(run.name);
    resolve_defaults(&run.opts, run.learning_rate_unset);
    check_options(&run);

    run.cxt = AllocSetContextCreate(caller, "lstm_train", ALLOCSET_DEFAULT_SIZES);
    run.data.input_size = 1 + run.spec.num_features;
    run.data.require_positive = run.opts.series_scaling && run.opts.log == 1;
    run.data.min_value = INFINITY;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    read_source(&run.spec, &run.data, run.cxt);
    run.load_seconds = seconds_since(run.start);
    finish_defaults(&run);

    MemoryContextSwitchTo(run.cxt);
    prepare_training(&run);
    for (int j = 0; j < run.opts.members; j++)
        train_member(&run, j);
    build_model(&run);
    calibrate_model(&run);

    MemoryContextSwitchTo(caller);
    report = train_report(&run);
    store_model(run.name, run.model, report);
    SPI_finish();
    MemoryContextDelete(run.cxt);
    PG_RETURN_DATUM(report);
}
