/*
 * column_spec.c - the columns of a source relation and the rules about them,
 * shared by lstm_train, lstm_score_trigger and lstm_stream_rebuild (see
 * column_spec.h). What each reader accepts is the table column_rules below.
 */
#include "runtime/column_spec.h"

#include "runtime/arguments.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

/* ---------- the rules ---------- */

/* What a role accepts: type classes (any one of them) and needs (all of them). */
#define ACCEPT_ANY 0x01U          /* any type */
#define ACCEPT_NUMBER 0x02U       /* smallint, integer, bigint, real, double precision, numeric */
#define ACCEPT_NUMBER_ARRAY 0x04U /* an array of those */
#define ACCEPT_FLOAT8_ARRAY 0x08U /* float8[] */
#define ACCEPT_OUTPUT 0x10U       /* double precision, real or numeric: written by streaming */
#define NEED_ORDERING 0x20U       /* a btree ordering (the type's default) */
#define NEED_BINARY 0x40U         /* binary send and receive, to store it */

/* One role of one reader: what its column may be. */
typedef struct ColumnRule {
    LstmColumnReader reader;
    LstmColumnRole role;
    unsigned accepts;
    const char *expected; /* the accepted types, for messages */
} ColumnRule;

/* Every reader's rules. Domains count as their base type throughout. */
static const ColumnRule column_rules[] = {
    {LSTM_READ_TRAINING, LSTM_COLUMN_VALUE, ACCEPT_NUMBER | ACCEPT_NUMBER_ARRAY,
     "a number or an array of numbers"},
    {LSTM_READ_TRAINING, LSTM_COLUMN_FEATURE, ACCEPT_NUMBER, "a number"},
    {LSTM_READ_TRAINING, LSTM_COLUMN_FEATURE_SEQUENCE, ACCEPT_NUMBER_ARRAY,
     "an array of numbers, as value is"},
    {LSTM_READ_TRAINING, LSTM_COLUMN_SERIES, ACCEPT_ANY, NULL},
    /* (training's ORDER BY reports a time type without an ordering) */
    {LSTM_READ_TRAINING, LSTM_COLUMN_TIME, ACCEPT_ANY, NULL},
    {LSTM_READ_STREAMING, LSTM_COLUMN_VALUE, ACCEPT_NUMBER | ACCEPT_FLOAT8_ARRAY,
     "a number or float8[]"},
    {LSTM_READ_STREAMING, LSTM_COLUMN_SERIES, ACCEPT_ANY, NULL},
    {LSTM_READ_STREAMING, LSTM_COLUMN_TIME, ACCEPT_ANY | NEED_ORDERING | NEED_BINARY, NULL},
    {LSTM_READ_STREAMING, LSTM_COLUMN_FORECAST, ACCEPT_OUTPUT, "double precision, real or numeric"},
    {LSTM_READ_STREAMING, LSTM_COLUMN_SCORE, ACCEPT_OUTPUT, "double precision, real or numeric"},
};

/* Does the reader take '' and 'null' for "no column"? */
static const bool reader_has_none_marker[] = {
    [LSTM_READ_TRAINING] = false,
    [LSTM_READ_STREAMING] = true,
};

/* The role as messages about a value name it. */
static const char *const role_nouns[] = {
    [LSTM_COLUMN_VALUE] = "value",
    [LSTM_COLUMN_FEATURE] = "feature",
    [LSTM_COLUMN_FEATURE_SEQUENCE] = "feature",
    [LSTM_COLUMN_SERIES] = "series",
    [LSTM_COLUMN_TIME] = "time",
    [LSTM_COLUMN_FORECAST] = "forecast",
    [LSTM_COLUMN_SCORE] = "score",
};

/* The rule of a role for a reader (every pair that is resolved has one). */
static const ColumnRule *column_rule(LstmColumnReader reader, LstmColumnRole role)
{
    for (int i = 0; i < lengthof(column_rules); i++) {
        if (column_rules[i].reader == reader && column_rules[i].role == role)
            return &column_rules[i];
    }
    elog(ERROR, "no column rule for reader %d, role %d", (int)reader, (int)role);
    pg_unreachable();
}

/* A number type (after domains). */
static bool is_number_type(Oid type)
{
    switch (getBaseType(type)) {
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case FLOAT4OID:
    case FLOAT8OID:
    case NUMERICOID:
        return true;
    default:
        return false;
    }
}

/* A type a forecast or score is written as (after domains). */
static bool is_output_type(Oid base)
{
    return base == FLOAT8OID || base == FLOAT4OID || base == NUMERICOID;
}

/* An array of numbers (after domains). */
static bool is_number_array_type(Oid base)
{
    Oid element = get_element_type(base);
    return OidIsValid(element) && is_number_type(element);
}

/* Does the column's type belong to one of the classes in accepts? */
static bool type_accepted(unsigned accepts, Oid base)
{
    return (accepts & ACCEPT_ANY) || ((accepts & ACCEPT_NUMBER) && is_number_type(base)) ||
           ((accepts & ACCEPT_NUMBER_ARRAY) && is_number_array_type(base)) ||
           ((accepts & ACCEPT_FLOAT8_ARRAY) && base == FLOAT8ARRAYOID) ||
           ((accepts & ACCEPT_OUTPUT) && is_output_type(base));
}

/* ---------- resolving a column ---------- */

/* Is a streaming argument the "no column" marker? */
bool lstm_column_is_none(const char *name)
{
    return name[0] == '\0' || pg_strcasecmp(name, "null") == 0;
}

/* Find the column's attribute; unknown and system columns are errors. */
static void find_attribute(const LstmColumnSource *source, LstmColumn *column)
{
    AttrNumber attnum;

    if (column->name[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s %s must not be an empty column name", source->function,
                               column->argument)));
    attnum = get_attnum(source->relid, column->name);
    if (attnum == InvalidAttrNumber)
        ereport(
            ERROR,
            (errcode(ERRCODE_UNDEFINED_COLUMN),
             errmsg("column \"%s\" of relation %s does not exist", column->name, source->relation),
             errdetail("%s %s names a column of the source.", source->function, column->argument),
             errhint("Column names are matched exactly, case included; pass the name "
                     "without SQL quotes.")));
    if (attnum < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
                        errmsg("%s %s \"%s\" is a system column", source->function,
                               column->argument, column->name)));
    column->attnum = attnum;
    get_atttypetypmodcoll(source->relid, attnum, &column->type, &column->typmod,
                          &column->collation);
    column->base_type = getBaseType(column->type);
}

/* Raise an error unless the column's type is what the rule accepts and needs. */
static void check_type(const LstmColumnSource *source, const ColumnRule *rule,
                       const LstmColumn *column)
{
    if (!type_accepted(rule->accepts, column->base_type))
        ereport(ERROR,
                (errcode(ERRCODE_DATATYPE_MISMATCH),
                 errmsg("%s %s \"%s\" has type %s, expected %s", source->function, column->argument,
                        column->name, format_type_be(column->type), rule->expected),
                 (rule->accepts & (ACCEPT_NUMBER | ACCEPT_NUMBER_ARRAY))
                     ? errdetail("Numbers are smallint, integer, bigint, real, double precision "
                                 "or numeric.")
                     : 0));
    if ((rule->accepts & NEED_ORDERING) &&
        !OidIsValid(lookup_type_cache(column->type, TYPECACHE_CMP_PROC)->cmp_proc))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                        errmsg("%s %s \"%s\" has type %s, which has no ordering", source->function,
                               column->argument, column->name, format_type_be(column->type)),
                        errhint("Use a timestamp, date or number column.")));
    if (rule->accepts & NEED_BINARY) {
        Oid send, recv, ioparam;
        bool varlena;
        getTypeBinaryOutputInfo(column->type, &send, &varlena);
        getTypeBinaryInputInfo(column->type, &recv, &ioparam);
    }
}

/* Resolve one column of the source for role (see column_spec.h). */
bool lstm_column_resolve(const LstmColumnSource *source, LstmColumnRole role, const char *name,
                         const char *argument, LstmColumn *column)
{
    const ColumnRule *rule = column_rule(source->reader, role);

    memset(column, 0, sizeof(*column));
    column->role = role;
    column->argument = argument;
    if (name == NULL || (reader_has_none_marker[source->reader] && lstm_column_is_none(name)))
        return false;
    column->name = name;
    column->quoted = quote_identifier(name);
    find_attribute(source, column);
    check_type(source, rule, column);
    column->is_array = type_is_array(column->base_type);
    return true;
}

/* ---------- values ---------- */

/* A streaming value datum as n raw doubles, checked finite. */
void lstm_column_read_features(const LstmColumn *value, Datum datum, double *features, int n,
                               const char *model_name, const char *function)
{
    if (value->is_array)
        lstm_read_features(datum, features, n, function);
    else {
        if (n != 1)
            ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                            errmsg("model \"%s\" expects %d input features but the value column "
                                   "holds a single number",
                                   model_name, n),
                            errhint("Use a float8[] value column with one element per model "
                                    "input.")));
        switch (value->base_type) {
        case FLOAT8OID:
            features[0] = DatumGetFloat8(datum);
            break;
        case FLOAT4OID:
            features[0] = DatumGetFloat4(datum);
            break;
        case INT2OID:
            features[0] = DatumGetInt16(datum);
            break;
        case INT4OID:
            features[0] = DatumGetInt32(datum);
            break;
        case INT8OID:
            features[0] = (double)DatumGetInt64(datum);
            break;
        default: /* NUMERICOID */
            features[0] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, datum));
            break;
        }
    }
    for (int i = 0; i < n; i++) {
        if (!isfinite(features[i]))
            lstm_check_finite(features, n, psprintf("%s value", function));
    }
}

/* A forecast or score as a datum of the column's type. */
Datum lstm_column_output_datum(const LstmColumn *column, double value, const char *function)
{
    if (column->base_type == FLOAT4OID) {
        float f = (float)value;
        if (!isfinite(f))
            ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                            errmsg("%s %s %g is out of range for type real", function,
                                   role_nouns[column->role], value)));
        return Float4GetDatum(f);
    }
    if (column->base_type == NUMERICOID) {
        /* The shortest decimal that reads back as this double (float8_numeric keeps 15 digits). */
        char digits[DOUBLE_SHORTEST_DECIMAL_LEN];
        double_to_shortest_decimal_buf(value, digits);
        return DirectFunctionCall3(numeric_in, CStringGetDatum(digits),
                                   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
    }
    return Float8GetDatum(value);
}

/* ---------- the series key ---------- */

/* Set key up for the series column. */
void lstm_series_key_init(LstmSeriesKey *key, const LstmColumn *series, MemoryContext context)
{
    Oid output;
    bool varlena;

    getTypeOutputInfo(series->type, &output, &varlena);
    fmgr_info_cxt(output, &key->output, context);
}

/* The key of a non-NULL series value: its output function's text. */
char *lstm_series_key_text(LstmSeriesKey *key, Datum value)
{
    return OutputFunctionCall(&key->output, value);
}

/* The same key in SQL: format('%s') calls the type's output function. */
char *lstm_series_key_sql(const LstmColumn *series)
{
    return psprintf("pg_catalog.format('%%s', %s)", series->quoted);
}

/* ---------- the time's encoding ---------- */

/* Set codec up for a resolved streaming time column. */
void lstm_time_codec_init(LstmTimeCodec *codec, const LstmColumn *time, MemoryContext context)
{
    Oid send, recv;
    bool varlena;

    codec->type = time->type;
    codec->collation = time->collation;
    codec->typmod = time->typmod;
    codec->cmp = &lookup_type_cache(time->type, TYPECACHE_CMP_PROC_FINFO)->cmp_proc_finfo;
    getTypeBinaryOutputInfo(time->type, &send, &varlena);
    getTypeBinaryInputInfo(time->type, &recv, &codec->ioparam);
    fmgr_info_cxt(send, &codec->send, context);
    fmgr_info_cxt(recv, &codec->recv, context);
}

/* A time in its binary (send) form, as last_time stores it. */
bytea *lstm_time_encode(LstmTimeCodec *codec, Datum time)
{
    return SendFunctionCall(&codec->send, time);
}

/* Read a stored last_time back (of the codec's type). */
static Datum time_decode(LstmTimeCodec *codec, Datum last_time)
{
    bytea *stored = DatumGetByteaPP(last_time);
    StringInfoData buf;
    Datum previous;

    initStringInfo(&buf);
    appendBinaryStringInfo(&buf, VARDATA_ANY(stored), VARSIZE_ANY_EXHDR(stored));
    previous = ReceiveFunctionCall(&codec->recv, &buf, codec->ioparam, codec->typmod);
    if (buf.cursor != buf.len)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("lstm_stream_states.last_time is not a valid %s",
                               format_type_be(codec->type))));
    return previous;
}

/* Is time older than the stored last_time? */
bool lstm_time_is_before(LstmTimeCodec *codec, Datum time, Datum last_time, Oid stored_type)
{
    Datum previous;

    if (stored_type != codec->type)
        return false;
    previous = time_decode(codec, last_time);
    return DatumGetInt32(FunctionCall2Coll(codec->cmp, codec->collation, time, previous)) < 0;
}
