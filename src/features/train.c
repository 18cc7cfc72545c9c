/*
 * train.c - lstm_train: train a model from a table of series, store it in
 * lstm_models.
 *
 *   lstm_train(name, source regclass, value, time_column, series, features,
 *              hidden, layers, bptt, batch_size, epochs, learning_rate, clip,
 *              validation, patience, seed, difference) returns jsonb
 *
 * The glue's part: check the arguments, read the source through SPI with the
 * caller's privileges (identifiers quoted, one SELECT, a cursor read in
 * batches), collect the rows series by series, keep within
 * lstm.train_memory_limit, hand flat arrays to src/core/train.c, report
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
#include "runtime/column_spec.h"
#include "types/lstm_model.h"

#include <math.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

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

/* Called by the core in its long loops: cancel and statement_timeout stop here. */
static void train_interrupt(void *arg)
{
    CHECK_FOR_INTERRUPTS();
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
    int64 rows_read;    /* rows (or array positions) read */
    int64 rows_skipped; /* of which skipped for a NULL */
    bool open;          /* the last series may still grow */
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

/* Read the whole source through a cursor, with the caller's privileges. */
static void read_source(const SourceSpec *spec, TrainData *td, MemoryContext cxt)
{
    char *query = source_query(spec);
    Portal portal;
    KeyCompare kc;
    bool pending_new = false;
    SPIPlanPtr plan;

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

    plan = SPI_prepare(query, 0, NULL);
    if (plan == NULL)
        elog(ERROR, "SPI_prepare failed for \"%s\": %s", query, SPI_result_code_string(SPI_result));
    portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
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

/* ---------- the report ---------- */

/* Append a double as JSON: shortest exact form; null when not finite. */
static void json_number(StringInfo out, double v)
{
    if (isfinite(v))
        appendStringInfoString(out, float8out_internal(v));
    else
        appendStringInfoString(out, "null");
}

/* Append a JSON string (or null). */
static void json_string(StringInfo out, const char *s)
{
    if (s)
        escape_json(out, s);
    else
        appendStringInfoString(out, "null");
}

/* Append an array of doubles. */
static void json_numbers(StringInfo out, const double *v, int n)
{
    appendStringInfoChar(out, '[');
    for (int i = 0; i < n; i++) {
        if (i > 0)
            appendStringInfoString(out, ", ");
        json_number(out, v[i]);
    }
    appendStringInfoChar(out, ']');
}

/* Seconds since start. */
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
    case LSTM_TRAIN_ERR_SIZE:
    default:
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("lstm_train %s", message)));
    }
    pg_unreachable();
}

/* ---------- lstm_train ---------- */

/* Read every argument into opts and spec; raise errors for bad ones. */
static void train_arguments(FunctionCallInfo fcinfo, char **name, LstmTrainOptions *opts,
                            SourceSpec *spec)
{
    static const char *const hyper[] = {"hidden",   "layers",        "bptt",      "batch_size",
                                        "epochs",   "learning_rate", "clip",      "validation",
                                        "patience", "seed",          "difference"};
    LstmColumnSource source = {InvalidOid, NULL, "lstm_train", LSTM_READ_TRAINING};
    char *value, *time_column, *series;
    char relkind;
    Oid namespace;

    require_arg(fcinfo, 0, "name");
    require_arg(fcinfo, 1, "source");
    require_arg(fcinfo, 2, "value");
    for (int i = 0; i < 11; i++)
        require_arg(fcinfo, 6 + i, hyper[i]);

    *name = text_arg(fcinfo, 0);
    if ((*name)[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_train name must not be empty")));

    memset(opts, 0, sizeof(*opts));
    opts->hidden_size = PG_GETARG_INT32(6);
    opts->num_layers = PG_GETARG_INT32(7);
    opts->bptt = PG_GETARG_INT32(8);
    opts->batch_size = PG_GETARG_INT32(9);
    opts->epochs = PG_GETARG_INT32(10);
    opts->learning_rate = PG_GETARG_FLOAT8(11);
    opts->clip = PG_GETARG_FLOAT8(12);
    opts->validation = PG_GETARG_FLOAT8(13);
    opts->patience = PG_GETARG_INT32(14);
    opts->seed = (uint64_t)PG_GETARG_INT64(15);
    opts->difference = PG_GETARG_BOOL(16);

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

/* Append the hyperparameters and the source description (JSON members). */
static void json_options(StringInfo out, const LstmTrainOptions *o, const SourceSpec *spec)
{
    appendStringInfo(out,
                     "\"hyperparameters\": {\"hidden\": %d, \"layers\": %d, \"bptt\": %d, "
                     "\"batch_size\": %d, \"epochs\": %d, \"learning_rate\": ",
                     o->hidden_size, o->num_layers, o->bptt, o->batch_size, o->epochs);
    json_number(out, o->learning_rate);
    appendStringInfoString(out, ", \"clip\": ");
    json_number(out, o->clip);
    appendStringInfoString(out, ", \"validation\": ");
    json_number(out, o->validation);
    appendStringInfo(out, ", \"patience\": %d, \"seed\": " INT64_FORMAT ", \"difference\": %s}",
                     o->patience, (int64)o->seed, o->difference ? "true" : "false");
    appendStringInfoString(out, ", \"source\": {\"relation\": ");
    json_string(out, spec->relname);
    appendStringInfoString(out, ", \"value\": ");
    json_string(out, spec->value.name);
    appendStringInfoString(out, ", \"time_column\": ");
    json_string(out, spec->time.name);
    appendStringInfoString(out, ", \"series\": ");
    json_string(out, spec->series.name);
    appendStringInfoString(out, ", \"features\": [");
    for (int f = 0; f < spec->num_features; f++) {
        if (f > 0)
            appendStringInfoString(out, ", ");
        json_string(out, spec->features[f].name);
    }
    appendStringInfo(out, "], \"sequences\": %s}", spec->sequences ? "true" : "false");
}

/*
 * Fail before training, not after it, when the caller may not write
 * lstm_models (the upsert needs INSERT and UPDATE).
 */
static void check_models_privileges(FunctionCallInfo fcinfo)
{
    Oid namespace = get_func_namespace(fcinfo->flinfo->fn_oid);
    Oid relid = get_relname_relid("lstm_models", namespace);

    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("table lstm_models of extension lstm does not exist")));
    if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
        pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied for table lstm_models"),
                        errdetail("lstm_train stores the model with INSERT ... ON CONFLICT DO "
                                  "UPDATE, which needs INSERT and UPDATE on lstm_models.")));
}

/* Upsert the model and its report under name in this extension's lstm_models. */
static void store_model(FunctionCallInfo fcinfo, const char *name, LstmModelDatum *model,
                        Datum info)
{
    Oid namespace = get_func_namespace(fcinfo->flinfo->fn_oid);
    char *schema = get_namespace_name(namespace);
    Oid model_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("lstm_model"),
                                     ObjectIdGetDatum(namespace));
    Oid argtypes[3] = {TEXTOID, model_type, JSONBOID};
    Datum args[3];
    char *query;
    int rc;

    if (!OidIsValid(model_type))
        elog(ERROR, "type lstm_model not found in schema %s", schema);
    query = psprintf("INSERT INTO %s.lstm_models AS m (name, model, info) VALUES ($1, $2, $3) "
                     "ON CONFLICT (name) DO UPDATE SET model = EXCLUDED.model, "
                     "info = EXCLUDED.info, created_at = now()",
                     quote_identifier(schema));
    args[0] = CStringGetTextDatum(name);
    args[1] = PointerGetDatum(model);
    args[2] = info;
    rc = SPI_execute_with_args(query, 3, argtypes, args, NULL, false, 0);
    if (rc != SPI_OK_INSERT)
        elog(ERROR, "storing the model failed: %s", SPI_result_code_string(rc));
}

/* lstm_train(...): train, store, report. */
Datum lstm_train(PG_FUNCTION_ARGS)
{
    MemoryContext caller = CurrentMemoryContext, cxt;
    LstmTrainOptions opts;
    SourceSpec spec;
    TrainData td;
    LstmTrainTotals totals;
    LstmTrainer tr;
    char *name, msg[LSTM_ERRMSG_LEN];
    LstmTrainError err;
    float input_mean[LSTM_MAX_INPUT], input_std[LSTM_MAX_INPUT];
    float *inputs;
    void *memory;
    Size trainer_bytes, inputs_bytes, model_bytes;
    LstmModelDatum *model;
    double *train_losses, *valid_losses, *epoch_seconds, load_seconds;
    bool stopped_early = false;
    instr_time start;
    StringInfoData report;
    Datum result;

    INSTR_TIME_SET_CURRENT(start);
    PreventCommandIfReadOnly("lstm_train()");
    train_arguments(fcinfo, &name, &opts, &spec);
    check_models_privileges(fcinfo);
    err = lstm_train_check_options(&opts, 1 + spec.num_features, msg);
    if (err != LSTM_TRAIN_OK)
        report_train_error(err, msg);

    cxt = AllocSetContextCreate(caller, "lstm_train", ALLOCSET_DEFAULT_SIZES);
    memset(&td, 0, sizeof(td));
    td.input_size = 1 + spec.num_features;

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    read_source(&spec, &td, cxt);
    load_seconds = seconds_since(start);

    /* plan, then check the whole need against the limit before allocating it */
    MemoryContextSwitchTo(cxt);
    err = lstm_train_plan(&opts, td.num_series, td.series, &totals, msg);
    if (err != LSTM_TRAIN_OK) {
        if (td.rows_read == 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("lstm_train source %s has no rows", spec.relname)));
        report_train_error(err, msg);
    }
    trainer_bytes = lstm_trainer_nbytes(&opts, td.input_size, &totals);
    inputs_bytes = (Size)totals.inputs * td.input_size * sizeof(float);
    if (trainer_bytes == 0)
        report_train_error(LSTM_TRAIN_ERR_SIZE,
                           "cannot represent the training state of this size; lower bptt, "
                           "batch_size or hidden");
    check_memory(data_bytes(&td, td.rows, td.num_series) + inputs_bytes + trainer_bytes +
                     3 * sizeof(double) * (Size)opts.epochs,
                 "Training");
    inputs = palloc_extended(inputs_bytes > 0 ? inputs_bytes : 1, MCXT_ALLOC_HUGE);
    err = lstm_train_prepare(&opts, td.input_size, td.raw, td.num_series, td.series, input_mean,
                             input_std, inputs, train_interrupt, NULL, msg);
    if (err != LSTM_TRAIN_OK)
        report_train_error(err, msg);
    pfree(td.raw); /* the float32 inputs are all training needs from here */
    td.raw = NULL;

    memory = palloc_extended(trainer_bytes, MCXT_ALLOC_HUGE);
    lstm_trainer_init(&tr, &opts, td.input_size, &totals, td.series, td.num_series, inputs, memory);
    tr.interrupt = train_interrupt;
    train_losses = palloc(sizeof(double) * opts.epochs);
    valid_losses = palloc(sizeof(double) * opts.epochs);
    epoch_seconds = palloc(sizeof(double) * opts.epochs);

    for (;;) {
        instr_time epoch_start;
        double train_loss, eval_train, valid_loss = NAN, monitored;
        int stop, e = tr.epochs_run;

        INSTR_TIME_SET_CURRENT(epoch_start);
        err = lstm_trainer_epoch(&tr, &train_loss, msg);
        if (err != LSTM_TRAIN_OK)
            report_train_error(err, msg);
        if (totals.valid_targets > 0)
            lstm_trainer_evaluate(&tr, &eval_train, &valid_loss);
        monitored = totals.valid_targets > 0 ? valid_loss : train_loss;
        stop = lstm_trainer_end_epoch(&tr, monitored);
        train_losses[e] = train_loss;
        valid_losses[e] = valid_loss;
        epoch_seconds[e] = seconds_since(epoch_start);
        ereport(NOTICE,
                (errmsg("lstm_train \"%s\": epoch %d of %d", name, e + 1, opts.epochs),
                 totals.valid_targets > 0
                     ? errdetail("Train loss %.6g, validation loss %.6g%s, %.3f s "
                                 "elapsed.",
                                 train_loss, valid_loss, tr.best_epoch == e + 1 ? " (best)" : "",
                                 seconds_since(start))
                     : errdetail("Train loss %.6g, %.3f s elapsed.", train_loss,
                                 seconds_since(start))));
        if (stop) {
            stopped_early = tr.epochs_run < opts.epochs;
            break;
        }
    }

    /* the model: the best weights with the scaling, checked like any input */
    model_bytes = lstm_model_nbytes(&tr.dims);
    model = palloc_extended(VARHDRSZ + model_bytes, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    SET_VARSIZE(model, VARHDRSZ + model_bytes);
    lstm_trainer_write_model(&tr, input_mean, input_std, LSTM_MODEL_PAYLOAD(model));
    if (lstm_model_validate(LSTM_MODEL_PAYLOAD(model), model_bytes, msg) != LSTM_OK)
        report_train_error(LSTM_TRAIN_ERR_DIVERGED, psprintf("produced an invalid model: %s", msg));

    initStringInfo(&report);
    appendStringInfoString(&report, "{\"model\": ");
    json_string(&report, name);
    appendStringInfo(&report,
                     ", \"rows\": " INT64_FORMAT ", \"rows_skipped\": " INT64_FORMAT
                     ", \"series\": " INT64_FORMAT ", \"series_skipped\": " INT64_FORMAT
                     ", \"train_targets\": " INT64_FORMAT ", \"validation_targets\": " INT64_FORMAT
                     ", \"epochs_run\": %d"
                     ", \"best_epoch\": %d, \"stopped_early\": %s, \"best_loss\": ",
                     (int64)totals.rows, td.rows_skipped, (int64)totals.series_used,
                     (int64)totals.series_skipped, (int64)totals.train_targets,
                     (int64)totals.valid_targets, tr.epochs_run, tr.best_epoch,
                     stopped_early ? "true" : "false");
    json_number(&report, tr.best_loss);
    appendStringInfoString(&report, ", \"train_loss\": ");
    json_numbers(&report, train_losses, tr.epochs_run);
    appendStringInfoString(&report, ", \"validation_loss\": ");
    if (totals.valid_targets > 0)
        json_numbers(&report, valid_losses, tr.epochs_run);
    else
        appendStringInfoString(&report, "null");
    appendStringInfoString(&report, ", \"epoch_seconds\": ");
    json_numbers(&report, epoch_seconds, tr.epochs_run);
    appendStringInfoString(&report, ", \"load_seconds\": ");
    json_number(&report, load_seconds);
    appendStringInfoString(&report, ", \"elapsed_seconds\": ");
    json_number(&report, seconds_since(start));
    appendStringInfoString(&report, ", ");
    json_options(&report, &opts, &spec);
    appendStringInfoChar(&report, '}');

    MemoryContextSwitchTo(caller);
    result = DirectFunctionCall1(jsonb_in, CStringGetDatum(report.data));
    store_model(fcinfo, name, model, result);
    SPI_finish();
    MemoryContextDelete(cxt);
    PG_RETURN_DATUM(result);
}
