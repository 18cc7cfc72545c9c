/*
 * lstm_state.c - the lstm_state type: the recurrent state of one series
 * under one model, as a value (features/stream_functions.c streams it).
 *
 *   lstm_state                                   recurrent state of one series
 *   lstm_state_info(lstm_state) -> jsonb         steps, fingerprint, sizes, score
 *
 * A state holds h and c of every layer, the number of rows consumed, the
 * last raw target value (differenced models), the fingerprint and sizes of
 * its model, and the scoring state: a running, recency-weighted mean and
 * variance of the residuals (value - forecast made before it) and the
 * forecast and anomaly score of the last row consumed. src/core/stream.h has
 * the layout and the arithmetic; this file is the SQL glue.
 *
 * Text form: JSON, floats and doubles printed as the shortest decimal that
 * reads back identically, parsed with PostgreSQL's JSON parser (number tokens
 * read from their text, so even -0 round-trips). Binary form: the header
 * fields as network-order integers, float8 and float4.
 */
#include "types/lstm_state.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/jsonfuncs.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(lstm_state_in);
PG_FUNCTION_INFO_V1(lstm_state_out);
PG_FUNCTION_INFO_V1(lstm_state_recv);
PG_FUNCTION_INFO_V1(lstm_state_send);
PG_FUNCTION_INFO_V1(lstm_state_info);

/* ---------- errors and stored values ---------- */

/* The ERROR for a failed lstm_state check. */
void lstm_report_state_error(LstmError err, const char *message, LstmValueSource source)
{
    lstm_report_value_error("lstm_state", err, message, source);
}

/* Detoast a stored state and validate it; the result may be a copy. */
struct varlena *lstm_state_from_datum(Datum datum)
{
    struct varlena *state = PG_DETOAST_DATUM(datum);
    char message[LSTM_ERRMSG_LEN];
    LstmError err;

    err = lstm_state_validate(VARDATA(state), VARSIZE(state) - VARHDRSZ, message);
    if (err != LSTM_OK)
        lstm_report_state_error(err, message, LSTM_FROM_STORED);
    return state;
}

/* Sizes and flags of a model, for messages: "(1, 32, 2, 1, difference)". */
static char *describe_dims(const LstmDims *d)
{
    return psprintf("input_size %d, hidden_size %d, num_layers %d, output_size %d, difference %s",
                    d->input_size, d->hidden_size, d->num_layers, d->output_size,
                    (d->flags & LSTM_FLAG_DIFFERENCE) ? "true" : "false");
}

/* Error unless the validated state was made by this model. */
void lstm_state_check_model(const struct varlena *state, const LstmDims *dims, uint64 fingerprint)
{
    LstmStateHeader header;
    LstmDims own;
    char message[LSTM_ERRMSG_LEN];

    lstm_state_read_header(VARDATA(state), &header);
    if (lstm_state_matches_model(&header, dims, fingerprint, message))
        return;
    own = lstm_state_dims(&header);
    ereport(
        ERROR,
        (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("lstm_state belongs to another model"),
         errdetail("The state was made by the model with fingerprint %016" PRIx64 " (%s); "
                   "this model has fingerprint %016" PRIx64 " (%s).",
                   header.model_fingerprint, describe_dims(&own), fingerprint, describe_dims(dims)),
         errhint("Start a new state from NULL, or rebuild it with lstm_state_agg over the "
                 "series' history.")));
}

/*
 * Serialize a stream into a new lstm_state of model. The result is checked
 * like any stored value: values so large that the state or the residual
 * statistics overflow are reported as out of range, so that what is stored
 * always reads back.
 */
struct varlena *lstm_state_make(const LstmStream *stream, const LstmDims *dims, uint64 fingerprint)
{
    size_t nbytes = lstm_state_nbytes(dims);
    struct varlena *state = (struct varlena *)palloc(VARHDRSZ + nbytes);
    char message[LSTM_ERRMSG_LEN];

    SET_VARSIZE(state, VARHDRSZ + nbytes);
    lstm_state_store(VARDATA(state), stream, dims, fingerprint);
    if (lstm_state_validate(VARDATA(state), nbytes, message) != LSTM_OK)
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("value out of range for the model's state"),
                        errdetail("After this row the state would be invalid: %s.", message)));
    return state;
}

/* ---------- the text form: reading JSON with PostgreSQL's parser ---------- */

/* Keys of the text form, in the order the output writes them. */
typedef enum StateKey {
    KEY_FORMAT_VERSION,
    KEY_MODEL_FINGERPRINT,
    KEY_INPUT_SIZE,
    KEY_HIDDEN_SIZE,
    KEY_NUM_LAYERS,
    KEY_OUTPUT_SIZE,
    KEY_DIFFERENCE,
    KEY_STEPS,
    KEY_LAST_VALUE,
    KEY_RESIDUAL_COUNT,
    KEY_RESIDUAL_MEAN,
    KEY_RESIDUAL_VARIANCE,
    KEY_LAST_FORECAST,
    KEY_LAST_SCORE,
    KEY_H,
    KEY_C,
    STATE_NKEYS
} StateKey;

static const char *const state_keys[STATE_NKEYS] = {"format_version",
                                                    "model_fingerprint",
                                                    "input_size",
                                                    "hidden_size",
                                                    "num_layers",
                                                    "output_size",
                                                    "difference",
                                                    "steps",
                                                    "last_value",
                                                    "residual_count",
                                                    "residual_mean",
                                                    "residual_variance",
                                                    "last_forecast",
                                                    "last_score",
                                                    "h",
                                                    "c"};

/* One of the two (L, H) matrices being read. */
typedef struct StateMatrix {
    float *values; /* row-major, grown as rows arrive */
    int count;     /* values read */
    int rows;      /* rows (layers) read */
    int row_len;   /* length of the first row, -1 before it */
    int current;   /* values in the row being read */
} StateMatrix;

/* What the JSON callbacks collect. */
typedef struct StateParse {
    int depth;                       /* 1 inside the top-level object */
    int key;                         /* key whose value is being read, or -1 */
    bool seen[STATE_NKEYS];          /* keys present */
    char *token[STATE_NKEYS];        /* scalar value text */
    JsonTokenType type[STATE_NKEYS]; /* scalar value type */
    StateMatrix matrix[2];           /* h and c */
} StateParse;

static void state_text_error(const char *message, const char *detail) pg_attribute_noreturn();

/* Raise a text-input error about the JSON form. */
static void state_text_error(const char *message, const char *detail)
{
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
             errmsg("invalid lstm_state: %s", message), detail ? errdetail("%s", detail) : 0));
    pg_unreachable();
}

/* The key's name, for messages. */
static const char *key_name(const StateParse *p)
{
    return p->key >= 0 ? state_keys[p->key] : "value";
}

/* The h/c matrix the current key is, or NULL. */
static StateMatrix *current_matrix(StateParse *p)
{
    if (p->key == KEY_H)
        return &p->matrix[0];
    if (p->key == KEY_C)
        return &p->matrix[1];
    return NULL;
}

/* JSON callback: an object starts; only the top level may be one. */
static void state_object_start(void *arg)
{
    StateParse *p = arg;
    if (p->depth > 0)
        state_text_error(psprintf("\"%s\" must not be an object", key_name(p)), NULL);
    p->depth++;
}

/* JSON callback: an object ends. */
static void state_object_end(void *arg)
{
    ((StateParse *)arg)->depth--;
}

/* JSON callback: a key of the top-level object. */
static void state_field_start(void *arg, char *fname, bool isnull)
{
    StateParse *p = arg;
    p->key = -1;
    for (int k = 0; k < STATE_NKEYS; k++) {
        if (strcmp(fname, state_keys[k]) == 0)
            p->key = k;
    }
    if (p->key < 0)
        state_text_error(psprintf("unexpected key \"%s\"", fname),
                         "An lstm_state has the keys that its output form shows.");
    if (p->seen[p->key])
        state_text_error(psprintf("duplicate key \"%s\"", fname), NULL);
    p->seen[p->key] = true;
}

/* JSON callback: an array starts: h or c, or one layer's row of them. */
static void state_array_start(void *arg)
{
    StateParse *p = arg;
    StateMatrix *m = current_matrix(p);

    if (p->depth == 0)
        state_text_error("the text form must be a JSON object", NULL);
    if (m == NULL)
        state_text_error(psprintf("\"%s\" must not be an array", key_name(p)), NULL);
    if (p->depth == 2)
        m->current = 0;
    else if (p->depth >= 3)
        state_text_error(psprintf("%s[%d] must be an array of numbers", key_name(p), m->rows),
                         psprintf("\"%s\" is (num_layers, hidden_size): an array of one array "
                                  "of numbers per layer.",
                                  key_name(p)));
    p->depth++;
}

/* JSON callback: an array ends; a finished row must match the first one. */
static void state_array_end(void *arg)
{
    StateParse *p = arg;
    StateMatrix *m = current_matrix(p);

    p->depth--;
    if (p->depth == 2 && m != NULL) {
        if (m->row_len < 0)
            m->row_len = m->current;
        else if (m->current != m->row_len)
            state_text_error(psprintf("%s[%d] has %d elements but %s[0] has %d", key_name(p),
                                      m->rows, m->current, key_name(p), m->row_len),
                             NULL);
        m->rows++;
    }
}

/* JSON callback: a scalar: a top-level value, or one element of h or c. */
static void state_scalar(void *arg, char *token, JsonTokenType type)
{
    StateParse *p = arg;
    StateMatrix *m = current_matrix(p);

    if (p->depth == 0)
        state_text_error("the text form must be a JSON object", NULL);
    if (p->depth == 1) {
        if (m != NULL)
            state_text_error(psprintf("\"%s\" must be an array", key_name(p)),
                             psprintf("\"%s\" is (num_layers, hidden_size): an array of one "
                                      "array of numbers per layer.",
                                      key_name(p)));
        p->token[p->key] = token;
        p->type[p->key] = type;
        return;
    }
    if (p->depth == 2)
        state_text_error(psprintf("%s[%d] must be an array of numbers", key_name(p), m->rows),
                         NULL);
    if (type != JSON_TOKEN_NUMBER)
        state_text_error(psprintf("%s[%d][%d] must be a number", key_name(p), m->rows, m->current),
                         NULL);
    if (m->count >= LSTM_MAX_LAYERS * LSTM_MAX_HIDDEN)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("invalid lstm_state: \"%s\" has more than %d values", key_name(p),
                               LSTM_MAX_LAYERS * LSTM_MAX_HIDDEN),
                        errdetail("A model has at most %d layers of at most %d hidden units.",
                                  LSTM_MAX_LAYERS, LSTM_MAX_HIDDEN)));
    if (m->values == NULL)
        m->values = palloc(sizeof(float) * 64);
    else if ((m->count & (m->count - 1)) == 0 && m->count >= 64)
        m->values = repalloc(m->values, sizeof(float) * 2 * (size_t)m->count);
    {
        char *end;
        float value;
        errno = 0;
        value = strtof(token, &end);
        if (*end != '\0' || !isfinite(value))
            state_text_error(psprintf("%s[%d][%d] = %s is out of range for float32", key_name(p),
                                      m->rows, m->current, token),
                             NULL);
        m->values[m->count++] = value;
        m->current++;
    }
}

/* The scalar under key, which must be present. */
static const char *required_token(StateParse *p, StateKey key, JsonTokenType type)
{
    if (!p->seen[key])
        state_text_error(psprintf("missing \"%s\"", state_keys[key]),
                         "An lstm_state has the keys that its output form shows.");
    if (p->type[key] != type) {
        const char *what = type == JSON_TOKEN_NUMBER   ? "a number"
                           : type == JSON_TOKEN_STRING ? "a string"
                                                       : "a boolean";
        state_text_error(psprintf("\"%s\" must be %s", state_keys[key], what), NULL);
    }
    return p->token[key];
}

/* An integer field (no fraction or exponent) within [min, max]. */
static int64 token_integer(StateParse *p, StateKey key, int64 min, int64 max, bool is_size)
{
    const char *text = required_token(p, key, JSON_TOKEN_NUMBER);
    char *end;
    long long value;

    errno = 0;
    value = strtoll(text, &end, 10);
    if (*end != '\0')
        state_text_error(psprintf("\"%s\" must be an integer, not %s", state_keys[key], text),
                         NULL);
    if (errno == ERANGE || value < min || value > max) {
        if (is_size)
            ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                            errmsg("invalid lstm_state: \"%s\" %s is out of range", state_keys[key],
                                   text)));
        state_text_error(psprintf("\"%s\" %s is out of range", state_keys[key], text), NULL);
    }
    return (int64)value;
}

/* A finite double field; null gives *present = false when allowed. */
static double token_double(StateParse *p, StateKey key, bool nullable, bool *present)
{
    const char *text;
    char *end;
    double value;

    if (nullable && p->seen[key] && p->type[key] == JSON_TOKEN_NULL) {
        *present = false;
        return 0.0;
    }
    text = required_token(p, key, JSON_TOKEN_NUMBER);
    errno = 0;
    value = strtod(text, &end);
    if (*end != '\0' || !isfinite(value))
        state_text_error(psprintf("\"%s\" = %s is out of range for float8", state_keys[key], text),
                         NULL);
    if (present)
        *present = true;
    return value;
}

/* Check that h or c has the shape (L, H). */
static void check_matrix(StateParse *p, StateKey key, const StateMatrix *m, int L, int H)
{
    if (!p->seen[key])
        state_text_error(psprintf("missing \"%s\"", state_keys[key]), NULL);
    if (m->rows != L || (L > 0 && m->row_len != H))
        state_text_error(psprintf("\"%s\" has shape (%d, %d), expected (%d, %d)", state_keys[key],
                                  m->rows, m->row_len < 0 ? 0 : m->row_len, L, H),
                         "Its shape is (num_layers, hidden_size).");
}

/* Build and validate a state from its JSON text form. */
static struct varlena *state_from_text(char *text)
{
    JsonLexContext *lex =
        makeJsonLexContextCstringLen(text, strlen(text), GetDatabaseEncoding(), true);
    JsonSemAction sem;
    JsonParseErrorType result;
    StateParse p;
    LstmStateHeader hd;
    LstmDims dims;
    LstmError err;
    char message[LSTM_ERRMSG_LEN];
    const char *fingerprint;
    char *end;
    bool present;
    size_t nbytes, n;
    struct varlena *state;

    memset(&p, 0, sizeof(p));
    p.key = -1;
    p.matrix[0].row_len = p.matrix[1].row_len = -1;
    memset(&sem, 0, sizeof(sem));
    sem.semstate = &p;
    sem.object_start = state_object_start;
    sem.object_end = state_object_end;
    sem.array_start = state_array_start;
    sem.array_end = state_array_end;
    sem.object_field_start = state_field_start;
    sem.scalar = state_scalar;
    result = pg_parse_json(lex, &sem);
    if (result != JSON_SUCCESS)
        json_ereport_error(result, lex);

    memset(&hd, 0, sizeof(hd));
    hd.magic = LSTM_STATE_MAGIC;
    hd.version = LSTM_STATE_VERSION;
    if (p.seen[KEY_FORMAT_VERSION] &&
        token_integer(&p, KEY_FORMAT_VERSION, 0, INT_MAX, false) != LSTM_STATE_VERSION)
        state_text_error(psprintf("unsupported format_version %s (expected %d)",
                                  p.token[KEY_FORMAT_VERSION], LSTM_STATE_VERSION),
                         NULL);
    hd.input_size = (int32)token_integer(&p, KEY_INPUT_SIZE, INT_MIN, INT_MAX, true);
    hd.hidden_size = (int32)token_integer(&p, KEY_HIDDEN_SIZE, INT_MIN, INT_MAX, true);
    hd.num_layers = (int32)token_integer(&p, KEY_NUM_LAYERS, INT_MIN, INT_MAX, true);
    hd.output_size = (int32)token_integer(&p, KEY_OUTPUT_SIZE, INT_MIN, INT_MAX, true);
    if (!p.seen[KEY_DIFFERENCE] ||
        (p.type[KEY_DIFFERENCE] != JSON_TOKEN_TRUE && p.type[KEY_DIFFERENCE] != JSON_TOKEN_FALSE))
        state_text_error("\"difference\" must be a boolean", NULL);
    hd.model_flags = p.type[KEY_DIFFERENCE] == JSON_TOKEN_TRUE ? LSTM_FLAG_DIFFERENCE : 0;
    dims = lstm_state_dims(&hd);
    err = lstm_dims_check(&dims, message);
    if (err != LSTM_OK)
        lstm_report_state_error(err, message, LSTM_FROM_TEXT);

    fingerprint = required_token(&p, KEY_MODEL_FINGERPRINT, JSON_TOKEN_STRING);
    errno = 0;
    hd.model_fingerprint = strtoull(fingerprint, &end, 16);
    if (strlen(fingerprint) != 16 || *end != '\0' || errno != 0 ||
        strspn(fingerprint, "0123456789abcdefABCDEF") != 16)
        state_text_error(psprintf("\"model_fingerprint\" must be 16 hexadecimal digits, not "
                                  "\"%s\"",
                                  fingerprint),
                         NULL);
    hd.steps = token_integer(&p, KEY_STEPS, 0, PG_INT64_MAX, false);
    hd.residual_count = token_integer(&p, KEY_RESIDUAL_COUNT, 0, PG_INT64_MAX, false);
    hd.last_value = token_double(&p, KEY_LAST_VALUE, false, NULL);
    hd.residual_mean = token_double(&p, KEY_RESIDUAL_MEAN, false, NULL);
    hd.residual_variance = token_double(&p, KEY_RESIDUAL_VARIANCE, false, NULL);
    hd.last_forecast = token_double(&p, KEY_LAST_FORECAST, true, &present);
    if (present)
        hd.flags |= LSTM_STATE_HAS_FORECAST;
    hd.last_score = token_double(&p, KEY_LAST_SCORE, true, &present);
    if (present)
        hd.flags |= LSTM_STATE_HAS_SCORE;
    check_matrix(&p, KEY_H, &p.matrix[0], dims.num_layers, dims.hidden_size);
    check_matrix(&p, KEY_C, &p.matrix[1], dims.num_layers, dims.hidden_size);

    nbytes = lstm_state_nbytes(&dims);
    n = (size_t)dims.num_layers * (size_t)dims.hidden_size;
    state = (struct varlena *)palloc(VARHDRSZ + nbytes);
    SET_VARSIZE(state, VARHDRSZ + nbytes);
    memcpy(VARDATA(state), &hd, sizeof(hd));
    memcpy(VARDATA(state) + sizeof(hd), p.matrix[0].values, n * sizeof(float));
    memcpy(VARDATA(state) + sizeof(hd) + n * sizeof(float), p.matrix[1].values, n * sizeof(float));
    err = lstm_state_validate(VARDATA(state), nbytes, message);
    if (err != LSTM_OK)
        lstm_report_state_error(err, message, LSTM_FROM_TEXT);
    return state;
}

/* ---------- the text form: writing ---------- */

/* Append a float32 as the shortest decimal that reads back identically. */
static void append_float(StringInfo out, float value)
{
    char buf[FLOAT_SHORTEST_DECIMAL_LEN];
    int len = float_to_shortest_decimal_bufn(value, buf);
    appendBinaryStringInfo(out, buf, len);
}

/* Append a double as the shortest decimal that reads back identically. */
static void append_double(StringInfo out, double value)
{
    char buf[DOUBLE_SHORTEST_DECIMAL_LEN];
    int len = double_to_shortest_decimal_bufn(value, buf);
    appendBinaryStringInfo(out, buf, len);
}

/* Append one (L, H) matrix of floats as an array of rows. */
static void append_matrix(StringInfo out, const float *values, int L, int H)
{
    appendStringInfoChar(out, '[');
    for (int k = 0; k < L; k++) {
        appendStringInfoString(out, k == 0 ? "[" : ", [");
        for (int j = 0; j < H; j++) {
            float v;
            memcpy(&v, values + (size_t)k * H + j, sizeof(float));
            if (j > 0)
                appendStringInfoString(out, ", ");
            append_float(out, v);
        }
        appendStringInfoChar(out, ']');
    }
    appendStringInfoChar(out, ']');
}

/* Append the fields every summary shows: format, fingerprint, sizes, counters. */
static void append_summary(StringInfo out, const LstmStateHeader *hd)
{
    appendStringInfo(out,
                     "\"format_version\": %d, \"model_fingerprint\": \"%016" PRIx64 "\", "
                     "\"input_size\": %d, \"hidden_size\": %d, \"num_layers\": %d, "
                     "\"output_size\": %d, \"difference\": %s, \"steps\": %" PRId64 ", "
                     "\"last_value\": ",
                     (int)hd->version, hd->model_fingerprint, hd->input_size, hd->hidden_size,
                     hd->num_layers, hd->output_size,
                     (hd->model_flags & LSTM_FLAG_DIFFERENCE) ? "true" : "false", hd->steps);
    append_double(out, hd->last_value);
    appendStringInfo(out,
                     ", \"residual_count\": %" PRId64 ", \"residual_mean\": ", hd->residual_count);
    append_double(out, hd->residual_mean);
    appendStringInfoString(out, ", \"residual_variance\": ");
    append_double(out, hd->residual_variance);
    appendStringInfoString(out, ", \"last_forecast\": ");
    if (hd->flags & LSTM_STATE_HAS_FORECAST)
        append_double(out, hd->last_forecast);
    else
        appendStringInfoString(out, "null");
    appendStringInfoString(out, ", \"last_score\": ");
    if (hd->flags & LSTM_STATE_HAS_SCORE)
        append_double(out, hd->last_score);
    else
        appendStringInfoString(out, "null");
}

/* ---------- SQL I/O functions ---------- */

/* lstm_state_in(cstring): the JSON form. */
Datum lstm_state_in(PG_FUNCTION_ARGS)
{
    PG_RETURN_POINTER(state_from_text(PG_GETARG_CSTRING(0)));
}

/* lstm_state_out(lstm_state): the JSON form, bit-exact on reading back. */
Datum lstm_state_out(PG_FUNCTION_ARGS)
{
    struct varlena *state = lstm_state_from_datum(PG_GETARG_DATUM(0));
    LstmStateHeader hd;
    const float *floats = (const float *)(VARDATA(state) + sizeof(LstmStateHeader));
    size_t n;
    StringInfoData out;

    lstm_state_read_header(VARDATA(state), &hd);
    n = (size_t)hd.num_layers * (size_t)hd.hidden_size;
    initStringInfo(&out);
    appendStringInfoChar(&out, '{');
    append_summary(&out, &hd);
    appendStringInfoString(&out, ", \"h\": ");
    append_matrix(&out, floats, hd.num_layers, hd.hidden_size);
    appendStringInfoString(&out, ", \"c\": ");
    append_matrix(&out, floats + n, hd.num_layers, hd.hidden_size);
    appendStringInfoChar(&out, '}');
    PG_RETURN_CSTRING(out.data);
}

/*
 * lstm_state_recv(internal): the binary form. The header is read and its
 * sizes checked before anything is allocated; the rest must be exactly the
 * h and c floats those sizes need.
 */
Datum lstm_state_recv(PG_FUNCTION_ARGS)
{
    StringInfo buf = (StringInfo)PG_GETARG_POINTER(0);
    LstmStateHeader hd;
    LstmDims dims;
    LstmError err;
    char message[LSTM_ERRMSG_LEN];
    size_t nfloats, nbytes;
    struct varlena *state;
    char *floats;

    if (buf->len - buf->cursor < (int)sizeof(LstmStateHeader))
        lstm_report_state_error(LSTM_ERR_FORMAT,
                                psprintf("binary value is %d bytes, shorter than the %d-byte "
                                         "header",
                                         buf->len - buf->cursor, (int)sizeof(LstmStateHeader)),
                                LSTM_FROM_BINARY);
    memset(&hd, 0, sizeof(hd));
    hd.magic = (uint32)pq_getmsgint(buf, 4);
    hd.version = (uint16)pq_getmsgint(buf, 2);
    hd.flags = (uint16)pq_getmsgint(buf, 2);
    hd.model_flags = (uint16)pq_getmsgint(buf, 2);
    hd.reserved0 = (uint16)pq_getmsgint(buf, 2);
    hd.input_size = (int32)pq_getmsgint(buf, 4);
    hd.hidden_size = (int32)pq_getmsgint(buf, 4);
    hd.num_layers = (int32)pq_getmsgint(buf, 4);
    hd.output_size = (int32)pq_getmsgint(buf, 4);
    hd.reserved1 = (uint32)pq_getmsgint(buf, 4);
    hd.model_fingerprint = (uint64)pq_getmsgint64(buf);
    hd.steps = pq_getmsgint64(buf);
    hd.residual_count = pq_getmsgint64(buf);
    hd.last_value = pq_getmsgfloat8(buf);
    hd.residual_mean = pq_getmsgfloat8(buf);
    hd.residual_variance = pq_getmsgfloat8(buf);
    hd.last_forecast = pq_getmsgfloat8(buf);
    hd.last_score = pq_getmsgfloat8(buf);

    if (hd.magic != LSTM_STATE_MAGIC)
        lstm_report_state_error(LSTM_ERR_FORMAT, psprintf("bad magic number 0x%08x", hd.magic),
                                LSTM_FROM_BINARY);
    if (hd.version != LSTM_STATE_VERSION)
        lstm_report_state_error(LSTM_ERR_FORMAT,
                                psprintf("unsupported format version %u (expected %d)",
                                         (unsigned)hd.version, LSTM_STATE_VERSION),
                                LSTM_FROM_BINARY);
    dims = lstm_state_dims(&hd);
    err = lstm_dims_check(&dims, message);
    if (err != LSTM_OK)
        lstm_report_state_error(err, message, LSTM_FROM_BINARY);
    nfloats = lstm_series_nfloats(&dims);
    if ((size_t)(buf->len - buf->cursor) != nfloats * sizeof(float))
        lstm_report_state_error(LSTM_ERR_FORMAT,
                                psprintf("binary value has %d bytes of h and c but its sizes "
                                         "need %zu",
                                         buf->len - buf->cursor, nfloats * sizeof(float)),
                                LSTM_FROM_BINARY);

    nbytes = lstm_state_nbytes(&dims);
    state = (struct varlena *)palloc(VARHDRSZ + nbytes);
    SET_VARSIZE(state, VARHDRSZ + nbytes);
    memcpy(VARDATA(state), &hd, sizeof(hd));
    floats = VARDATA(state) + sizeof(hd);
    for (size_t i = 0; i < nfloats; i++) {
        float v = pq_getmsgfloat4(buf);
        memcpy(floats + i * sizeof(float), &v, sizeof(float));
    }
    err = lstm_state_validate(VARDATA(state), nbytes, message);
    if (err != LSTM_OK)
        lstm_report_state_error(err, message, LSTM_FROM_BINARY);
    PG_RETURN_POINTER(state);
}

/* lstm_state_send(lstm_state): the binary form read by lstm_state_recv. */
Datum lstm_state_send(PG_FUNCTION_ARGS)
{
    struct varlena *state = lstm_state_from_datum(PG_GETARG_DATUM(0));
    LstmStateHeader hd;
    const char *floats = VARDATA(state) + sizeof(LstmStateHeader);
    size_t nfloats;
    StringInfoData buf;

    lstm_state_read_header(VARDATA(state), &hd);
    nfloats = 2 * (size_t)hd.num_layers * (size_t)hd.hidden_size;
    pq_begintypsend(&buf);
    pq_sendint32(&buf, hd.magic);
    pq_sendint16(&buf, hd.version);
    pq_sendint16(&buf, hd.flags);
    pq_sendint16(&buf, hd.model_flags);
    pq_sendint16(&buf, hd.reserved0);
    pq_sendint32(&buf, hd.input_size);
    pq_sendint32(&buf, hd.hidden_size);
    pq_sendint32(&buf, hd.num_layers);
    pq_sendint32(&buf, hd.output_size);
    pq_sendint32(&buf, hd.reserved1);
    pq_sendint64(&buf, hd.model_fingerprint);
    pq_sendint64(&buf, hd.steps);
    pq_sendint64(&buf, hd.residual_count);
    pq_sendfloat8(&buf, hd.last_value);
    pq_sendfloat8(&buf, hd.residual_mean);
    pq_sendfloat8(&buf, hd.residual_variance);
    pq_sendfloat8(&buf, hd.last_forecast);
    pq_sendfloat8(&buf, hd.last_score);
    for (size_t i = 0; i < nfloats; i++) {
        float v;
        memcpy(&v, floats + i * sizeof(float), sizeof(float));
        pq_sendfloat4(&buf, v);
    }
    PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* lstm_state_info(lstm_state): everything but h and c, plus the byte size. */
Datum lstm_state_info(PG_FUNCTION_ARGS)
{
    struct varlena *state = lstm_state_from_datum(PG_GETARG_DATUM(0));
    LstmStateHeader hd;
    StringInfoData out;

    lstm_state_read_header(VARDATA(state), &hd);
    initStringInfo(&out);
    appendStringInfoChar(&out, '{');
    append_summary(&out, &hd);
    appendStringInfo(&out, ", \"bytes\": %d}", (int)VARSIZE(state));
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
