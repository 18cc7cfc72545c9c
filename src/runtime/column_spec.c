/*
 * column_spec.c - the columns of a source relation and the rules about them,
 * shared by lstm_train, lstm_score_trigger and lstm_stream_rebuild (see
 * column_spec.h). What each reader accepts is the table column_rules below.
 */
#include "runtime/column_spec.h"

#include "runtime/arguments.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "utils/fmgroids.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "catalog/extension.h"

/* ---------- the rules ---------- */

/* What a role accepts: type classes (any one of them) and needs (all of them). */
#define ACCEPT_ANY 0x01U          /* any type */
#define ACCEPT_NUMBER 0x02U       /* smallint, integer, bigint, real, double precision, numeric */
#define ACCEPT_NUMBER_ARRAY 0x04U /* an array of those */
#define ACCEPT_FLOAT8_ARRAY 0x08U /* float8[] */
#define ACCEPT_OUTPUT 0x10U       /* double precision, real or numeric: written by streaming */
#define NEED_ORDERING 0x20U       /* a btree ordering (the type's default) */
#define NEED_BINARY 0x40U         /* binary send and receive, to store it */
#define ACCEPT_BOOLEAN 0x80U      /* boolean: the alert written by streaming */

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
    {LSTM_READ_STREAMING, LSTM_COLUMN_ALERT, ACCEPT_BOOLEAN, "boolean"},
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
    [LSTM_COLUMN_ALERT] = "alert",
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
           ((accepts & ACCEPT_OUTPUT) && is_output_type(base)) ||
           ((accepts & ACCEPT_BOOLEAN) && base == BOOLOID);
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

/*
 * Set key up for values of type (domains count as their base type). Types
 * whose output depends on session settings get a fixed form instead (see
 * lstm_series_key_text); every other type uses its output function.
 */
void lstm_series_key_init_type(LstmSeriesKey *key, Oid type, MemoryContext context)
{
    Oid base = getBaseType(type), output;
    bool varlena;

    switch (base) {
    case FLOAT4OID:
    case FLOAT8OID:
    case DATEOID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID:
    case INTERVALOID:
    case BYTEAOID:
        key->form = base;
        break;
    default:
        key->form = InvalidOid;
        break;
    }
    getTypeOutputInfo(type, &output, &varlena);
    fmgr_info_cxt(output, &key->output, context);
}

/* Set key up for the series column. */
void lstm_series_key_init(LstmSeriesKey *key, const LstmColumn *series, MemoryContext context)
{
    lstm_series_key_init_type(key, series->type, context);
}

/* bytea as \x and lowercase hex, whatever bytea_output says. */
static char *bytea_key(bytea *bytes)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *data = (const unsigned char *)VARDATA_ANY(bytes);
    int n = VARSIZE_ANY_EXHDR(bytes);
    char *out = palloc(3 + 2 * (Size)n), *p = out;

    *p++ = '\\';
    *p++ = 'x';
    for (int i = 0; i < n; i++) {
        *p++ = hex[data[i] >> 4];
        *p++ = hex[data[i] & 15];
    }
    *p = '\0';
    return out;
}

/*
 * The key of a non-NULL series value, the same in every session: floats as
 * the shortest decimal that reads back exactly (whatever extra_float_digits
 * says), dates and timestamps in ISO form (whatever DateStyle says),
 * timestamptz in UTC with "+00" (whatever TimeZone says), intervals in the
 * postgres style (whatever IntervalStyle says), bytea in hex (whatever
 * bytea_output says); other types through their output function.
 */
char *lstm_series_key_text(LstmSeriesKey *key, Datum value)
{
    char buf[MAXDATELEN + 1];
    struct pg_tm tm;
    fsec_t fsec;

    switch (key->form) {
    case FLOAT4OID:
        float_to_shortest_decimal_buf(DatumGetFloat4(value), buf);
        return pstrdup(buf);
    case FLOAT8OID:
        double_to_shortest_decimal_buf(DatumGetFloat8(value), buf);
        return pstrdup(buf);
    case DATEOID: {
        DateADT date = DatumGetDateADT(value);
        if (DATE_NOT_FINITE(date))
            EncodeSpecialDate(date, buf);
        else {
            j2date(date + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
            EncodeDateOnly(&tm, USE_ISO_DATES, buf);
        }
        return pstrdup(buf);
    }
    case TIMESTAMPOID:
    case TIMESTAMPTZOID: {
        Timestamp ts = DatumGetTimestamp(value);
        if (TIMESTAMP_NOT_FINITE(ts))
            EncodeSpecialTimestamp(ts, buf);
        else if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
            ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
                            errmsg("timestamp out of range")));
        else {
            tm.tm_isdst = 0; /* UTC: EncodeDateTime prints no zone for an unknown isdst */
            EncodeDateTime(&tm, fsec, key->form == TIMESTAMPTZOID, 0, NULL, USE_ISO_DATES, buf);
        }
        return pstrdup(buf);
    }
    case INTERVALOID: {
        struct pg_itm itm;
        interval2itm(*DatumGetIntervalP(value), &itm);
        EncodeInterval(&itm, INTSTYLE_POSTGRES, buf);
        return pstrdup(buf);
    }
    case BYTEAOID:
        return bytea_key(DatumGetByteaPP(value));
    default:
        return OutputFunctionCall(&key->output, value);
    }
}

/* The same key in SQL: the extension's lstm_series_key(), schema-qualified. */
char *lstm_series_key_sql(const LstmColumn *series)
{
    return psprintf("%s(%s)", lstm_extension_function("lstm_series_key"), series->quoted);
}

/* ---------- the scored relation ---------- */

/* The first parent of relid in pg_inherits (lowest inhseqno), or InvalidOid. */
static Oid first_parent(Oid relid)
{
    Relation inherits = table_open(InheritsRelationId, AccessShareLock);
    ScanKeyData key;
    SysScanDesc scan;
    HeapTuple tuple;
    Oid parent = InvalidOid;

    ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(relid));
    scan = systable_beginscan(inherits, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
    tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple))
        parent = ((Form_pg_inherits)GETSTRUCT(tuple))->inhparent;
    systable_endscan(scan);
    table_close(inherits, AccessShareLock);
    return parent;
}

/* The root of relid's inheritance tree (relid itself when it has no parent). */
Oid lstm_source_root(Oid relid)
{
    for (Oid parent = first_parent(relid); OidIsValid(parent); parent = first_parent(relid))
        relid = parent;
    return relid;
}

/* ---------- the time's encoding ---------- */

/* Compare two times by the column type's btree ordering (see column_spec.h). */
int lstm_time_compare(const LstmTimeCodec *codec, Datum a, Datum b)
{
    switch (codec->type) {
    case TIMESTAMPTZOID:
    case TIMESTAMPOID:
    case INT8OID:
        return DatumGetInt64(a) < DatumGetInt64(b) ? -1 : DatumGetInt64(a) > DatumGetInt64(b);
    case DATEOID:
    case INT4OID:
        return DatumGetInt32(a) < DatumGetInt32(b) ? -1 : DatumGetInt32(a) > DatumGetInt32(b);
    default:
        return DatumGetInt32(FunctionCall2Coll(codec->cmp, codec->collation, a, b));
    }
}

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

/*
 * The binary (send) form of an integer-based time type, as its send function
 * writes it (a big-endian integer); NULL for any other type.
 */
static bytea *encode_integer_time(Oid type, Datum time)
{
    union {
        uint64 u64;
        uint32 u32;
        uint16 u16;
    } big_endian;
    int len;
    bytea *stored;

    switch (type) {
    case TIMESTAMPTZOID:
    case TIMESTAMPOID:
    case INT8OID:
        big_endian.u64 = pg_hton64((uint64)DatumGetInt64(time));
        len = 8;
        break;
    case INT4OID:
    case DATEOID:
        big_endian.u32 = pg_hton32((uint32)DatumGetInt32(time));
        len = 4;
        break;
    case INT2OID:
        big_endian.u16 = pg_hton16((uint16)DatumGetInt16(time));
        len = 2;
        break;
    default:
        return NULL;
    }
    stored = palloc(VARHDRSZ + len);
    SET_VARSIZE(stored, VARHDRSZ + len);
    memcpy(VARDATA(stored), &big_endian, len);
    return stored;
}

/* A time in its binary (send) form, as last_time stores it. */
bytea *lstm_time_encode(LstmTimeCodec *codec, Datum time)
{
    bytea *stored = encode_integer_time(codec->type, time);
    return stored != NULL ? stored : SendFunctionCall(&codec->send, time);
}

/* lstm_time_send: the binary form of a time of any type (see column_spec.h). */
bytea *lstm_time_send(Oid type, Datum time)
{
    bytea *stored = encode_integer_time(type, time);
    Oid send;
    bool varlena;

    if (stored != NULL)
        return stored;
    getTypeBinaryOutputInfo(type, &send, &varlena);
    return OidSendFunctionCall(send, time);
}

/*
 * The binary form of an integer-based time type read as its receive function
 * reads it (a big-endian integer, the same range checks; no typmod), for the
 * usual time types; false for any other type, a typmod, or bytes those
 * checks reject (the receive function then reports them).
 */
static bool decode_integer_time(const LstmTimeCodec *codec, const bytea *stored, Datum *time)
{
    int len = VARSIZE_ANY_EXHDR(stored);
    const char *bytes = VARDATA_ANY(stored);
    uint64 u64;
    uint32 u32;
    uint16 u16;

    if (codec->typmod != -1)
        return false;
    switch (codec->type) {
    case TIMESTAMPTZOID:
    case TIMESTAMPOID:
    case INT8OID:
        if (len != 8)
            return false;
        memcpy(&u64, bytes, 8);
        *time = Int64GetDatum((int64)pg_ntoh64(u64));
        return codec->type == INT8OID || TIMESTAMP_NOT_FINITE(DatumGetInt64(*time)) ||
               IS_VALID_TIMESTAMP(DatumGetInt64(*time));
    case INT4OID:
    case DATEOID:
        if (len != 4)
            return false;
        memcpy(&u32, bytes, 4);
        *time = Int32GetDatum((int32)pg_ntoh32(u32));
        return codec->type == INT4OID || DATE_NOT_FINITE(DatumGetInt32(*time)) ||
               IS_VALID_DATE(DatumGetInt32(*time));
    case INT2OID:
        if (len != 2)
            return false;
        memcpy(&u16, bytes, 2);
        *time = Int16GetDatum((int16)pg_ntoh16(u16));
        return true;
    default:
        return false;
    }
}

/* Read a stored last_time back (of the codec's type). */
Datum lstm_time_decode(LstmTimeCodec *codec, Datum last_time)
{
    MemoryContext caller = CurrentMemoryContext;
    bytea *stored = DatumGetByteaPP(last_time);
    StringInfoData buf;
    volatile Datum previous = (Datum)0;
    Datum time;

    if (decode_integer_time(codec, stored, &time))
        return time;
    initStringInfo(&buf);
    appendBinaryStringInfo(&buf, VARDATA_ANY(stored), VARSIZE_ANY_EXHDR(stored));
    /*
     * A receive function reports bad bytes as a protocol violation (08P01),
     * which would blame the client; a stored value that does not read back is
     * data corruption, whatever the receive function said.
     */
    PG_TRY();
    {
        previous = ReceiveFunctionCall(&codec->recv, &buf, codec->ioparam, codec->typmod);
    }
    PG_CATCH();
    {
        ErrorData *error;
        MemoryContextSwitchTo(caller);
        error = CopyErrorData();
        if (error->sqlerrcode == ERRCODE_QUERY_CANCELED ||
            error->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
            PG_RE_THROW();
        FlushErrorState();
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("lstm_stream_states.last_time is not a valid %s",
                               format_type_be(codec->type)),
                        errdetail("Reading it back failed: %s", error->message)));
    }
    PG_END_TRY();
    if (buf.cursor != buf.len)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("lstm_stream_states.last_time is not a valid %s",
                               format_type_be(codec->type)),
                        errdetail("%d bytes follow the value.", buf.len - buf.cursor)));
    return previous;
}
