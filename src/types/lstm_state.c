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
 * Text form: JSON, read and written by types/json.h (bit-identical round
 * trips, -0 included). Binary form: the header fields as network-order
 * integers, float8 and float4, with the steps shared in types/binary.h.
 */
#include "types/lstm_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "core/normalizer.h"
#include "core/runner.h"
#include "types/binary.h"
#include "types/json.h"

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

/* ---------- the text form: reading ---------- */

/* Keys of the text form, in the order the output writes them. */
static const char *const state_keys[] = {"format_version",
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
                                         "c",
                                         "members",
                                         "scaling",
                                         "log",
                                         "season",
                                         "normalizer"};

/* Keys of the "normalizer" object of a series-scaled model's state, in output order. */
static const char *const normalizer_keys[] = {"rows", "last", "change", "level", "scale", "recent"};

/* The model fingerprint: 16 hexadecimal digits. */
static uint64 state_fingerprint(const LstmJson *doc)
{
    const char *text = lstm_json_string(doc, &doc->root, "model_fingerprint");
    char *end;
    uint64 fingerprint;

    errno = 0;
    fingerprint = strtoull(text, &end, 16);
    if (strlen(text) != 16 || *end != '\0' || errno != 0 ||
        strspn(text, "0123456789abcdefABCDEF") != 16)
        lstm_json_error(doc, NULL,
                        "\"model_fingerprint\" must be 16 hexadecimal digits, not \"%s\"", text);
    return fingerprint;
}

/* The header fields of the text form: sizes (checked), fingerprint, counters, statistics. */
static LstmStateHeader state_header(const LstmJson *doc)
{
    const LstmJsonNode *root = &doc->root;
    LstmStateHeader hd;
    LstmDims dims;
    LstmError err;
    char message[LSTM_ERRMSG_LEN];

    memset(&hd, 0, sizeof(hd));
    hd.magic = LSTM_STATE_MAGIC;
    dims.input_size = lstm_json_size(doc, root, "input_size");
    dims.hidden_size = lstm_json_size(doc, root, "hidden_size");
    dims.num_layers = lstm_json_size(doc, root, "num_layers");
    dims.output_size = lstm_json_size(doc, root, "output_size");
    dims.flags = lstm_json_boolean(doc, root, "difference") ? LSTM_FLAG_DIFFERENCE : 0;
    dims.members = 1;
    dims.season = 0;
    dims.calibrated = 0;
    if (lstm_json_get(root, "members") != NULL)
        dims.members = (int)lstm_json_integer(doc, root, "members", 1, LSTM_MAX_MEMBERS,
                                              ERRCODE_PROGRAM_LIMIT_EXCEEDED);
    lstm_json_series_options(doc, root, &dims);
    err = lstm_dims_check(&dims, message);
    if (err != LSTM_OK)
        lstm_report_state_error(err, message, LSTM_FROM_TEXT);
    hd.version = (uint16)lstm_state_version(&dims);
    lstm_json_check_version(doc, root, hd.version);
    hd.input_size = dims.input_size;
    hd.hidden_size = dims.hidden_size;
    hd.num_layers = dims.num_layers;
    hd.output_size = dims.output_size;
    hd.model_flags = (uint16)dims.flags;
    if (hd.version == LSTM_STATE_VERSION) {
        hd.members = (uint16)dims.members;
        hd.season = (uint32)dims.season;
    }

    hd.model_fingerprint = state_fingerprint(doc);
    hd.steps =
        lstm_json_integer(doc, root, "steps", 0, PG_INT64_MAX, ERRCODE_INVALID_TEXT_REPRESENTATION);
    hd.residual_count = lstm_json_integer(doc, root, "residual_count", 0, PG_INT64_MAX,
                                          ERRCODE_INVALID_TEXT_REPRESENTATION);
    lstm_json_float8(doc, root, "last_value", false, &hd.last_value);
    lstm_json_float8(doc, root, "residual_mean", false, &hd.residual_mean);
    lstm_json_float8(doc, root, "residual_variance", false, &hd.residual_variance);
    if (lstm_json_float8(doc, root, "last_forecast", true, &hd.last_forecast))
        hd.flags |= LSTM_STATE_HAS_FORECAST;
    if (lstm_json_float8(doc, root, "last_score", true, &hd.last_score))
        hd.flags |= LSTM_STATE_HAS_SCORE;
    return hd;
}

/*
 * h or c under key: (L, H) for a version-1 state, (members, L, H) for a
 * version-2 one, into out (members * L * H floats).
 */
static void state_cells(const LstmJson *doc, const LstmStateHeader *hd, const LstmDims *dims,
                        const char *key, float *out)
{
    const LstmJsonNode *node = lstm_json_require(doc, &doc->root, key);
    size_t per_member = (size_t)dims->num_layers * (size_t)dims->hidden_size;

    if (hd->version == LSTM_STATE_VERSION_V1) {
        lstm_json_float4_array(doc, node, key, dims->num_layers, dims->hidden_size, out);
        return;
    }
    lstm_json_expect(doc, node, LSTM_JSON_ARRAY, psprintf("\"%s\"", key));
    if (node->length != dims->members)
        lstm_json_error(doc,
                        "A version-2 state holds h and c of every member: (members, layers, "
                        "hidden_size).",
                        "\"%s\" has %d members, expected %d", key, node->length, dims->members);
    for (int m = 0; m < dims->members; m++)
        lstm_json_float4_array(doc, &node->items[m], psprintf("%s[%d]", key, m), dims->num_layers,
                               dims->hidden_size, out + m * per_member);
}

/*
 * The "normalizer" object of a series-scaled model's state into block (its
 * 8-byte fields: rows, last, change, level, scale, the ring).
 */
static void state_normalizer(const LstmJson *doc, const LstmDims *dims, char *block)
{
    const LstmJsonNode *nz = lstm_json_require(doc, &doc->root, "normalizer");
    size_t ring = lstm_normalizer_ring_size(dims->season);
    const LstmJsonNode *recent;
    int64 rows;
    double v;

    lstm_json_expect(doc, nz, LSTM_JSON_OBJECT, "\"normalizer\"");
    lstm_json_check_keys(doc, nz, normalizer_keys, lengthof(normalizer_keys), "\"normalizer\"",
                         "The normalizer has rows, last, change, level, scale and recent.");
    rows = lstm_json_integer(doc, nz, "rows", 0, PG_INT64_MAX, ERRCODE_INVALID_TEXT_REPRESENTATION);
    memcpy(block, &rows, 8);
    for (int i = 1; i < 5; i++) {
        lstm_json_float8(doc, nz, normalizer_keys[i], false, &v);
        memcpy(block + i * 8, &v, 8);
    }
    recent = lstm_json_require(doc, nz, "recent");
    lstm_json_expect(doc, recent, LSTM_JSON_ARRAY, "\"recent\"");
    if ((size_t)recent->length != ring)
        lstm_json_error(doc, "The ring holds one value per row of the season (none without one).",
                        "\"recent\" has %d values, expected %zu", recent->length, ring);
    for (size_t i = 0; i < ring; i++) {
        v = lstm_json_node_float8(doc, &recent->items[i], psprintf("\"recent\"[%zu]", i));
        memcpy(block + (5 + i) * 8, &v, 8);
    }
}

/* Build and validate a state from its JSON text form. */
static struct varlena *state_from_text(char *text)
{
    LstmJson doc;
    LstmStateHeader hd;
    LstmDims dims;
    LstmError err;
    char message[LSTM_ERRMSG_LEN];
    size_t nbytes, n;
    struct varlena *state;
    char *body;

    lstm_json_parse(&doc, text, "lstm_state",
                    "An lstm_state has the keys that its output form shows.");
    if (doc.root.kind != LSTM_JSON_OBJECT)
        lstm_json_error(&doc, NULL, "the text form must be a JSON object");
    lstm_json_check_keys(&doc, &doc.root, state_keys, lengthof(state_keys), NULL,
                         "An lstm_state has the keys that its output form shows.");
    hd = state_header(&doc);
    dims = lstm_state_dims(&hd);
    n = lstm_state_float_count(&dims) / 2; /* h, then c: (members, L, H) each */
    nbytes = lstm_state_nbytes(&dims);
    state = (struct varlena *)palloc0(VARHDRSZ + nbytes);
    SET_VARSIZE(state, VARHDRSZ + nbytes);
    body = VARDATA(state) + sizeof(hd);
    {
        float *cells = palloc(2 * n * sizeof(float)); /* (2, members, L, H) */
        state_cells(&doc, &hd, &dims, "h", cells);
        state_cells(&doc, &hd, &dims, "c", cells + n);
        memcpy(body, cells, 2 * n * sizeof(float));
        pfree(cells);
    }
    if (dims.flags & LSTM_FLAG_SERIES_SCALING)
        state_normalizer(&doc, &dims, body + 2 * n * sizeof(float));
    else if (lstm_json_get(&doc.root, "normalizer") != NULL)
        lstm_json_error(&doc, NULL, "\"normalizer\" is only for a series-scaled model's state");
    lstm_json_free(&doc);

    memcpy(VARDATA(state), &hd, sizeof(hd));
    err = lstm_state_validate(VARDATA(state), nbytes, message);
    if (err != LSTM_OK)
        lstm_report_state_error(err, message, LSTM_FROM_TEXT);
    return state;
}

/* ---------- the text form: writing ---------- */

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
    lstm_json_append_float8(out, hd->last_value);
    if (hd->version != LSTM_STATE_VERSION_V1) {
        LstmDims dims = lstm_state_dims(hd);
        appendStringInfo(out, ", \"members\": %d", dims.members);
        lstm_json_append_series_options(out, &dims);
    }
    appendStringInfo(out,
                     ", \"residual_count\": %" PRId64 ", \"residual_mean\": ", hd->residual_count);
    lstm_json_append_float8(out, hd->residual_mean);
    appendStringInfoString(out, ", \"residual_variance\": ");
    lstm_json_append_float8(out, hd->residual_variance);
    appendStringInfoString(out, ", \"last_forecast\": ");
    if (hd->flags & LSTM_STATE_HAS_FORECAST)
        lstm_json_append_float8(out, hd->last_forecast);
    else
        appendStringInfoString(out, "null");
    appendStringInfoString(out, ", \"last_score\": ");
    if (hd->flags & LSTM_STATE_HAS_SCORE)
        lstm_json_append_float8(out, hd->last_score);
    else
        appendStringInfoString(out, "null");
}

/* ---------- SQL I/O functions ---------- */

/* lstm_state_in(cstring): the JSON form. */
Datum lstm_state_in(PG_FUNCTION_ARGS)
{
    PG_RETURN_POINTER(state_from_text(PG_GETARG_CSTRING(0)));
}

/* Append a series-scaled state's "normalizer" object from its block (unaligned). */
static void append_normalizer(StringInfo out, const char *block, const LstmDims *dims)
{
    size_t ring = lstm_normalizer_ring_size(dims->season);
    int64 rows;

    memcpy(&rows, block, 8);
    appendStringInfo(out, ", \"normalizer\": {\"rows\": %" PRId64, rows);
    for (int i = 1; i < 5; i++) {
        double v;
        memcpy(&v, block + i * 8, 8);
        appendStringInfo(out, ", \"%s\": ", normalizer_keys[i]);
        lstm_json_append_float8(out, v);
    }
    appendStringInfoString(out, ", \"recent\": [");
    for (size_t i = 0; i < ring; i++) {
        double v;
        memcpy(&v, block + (5 + i) * 8, 8);
        if (i > 0)
            appendStringInfoString(out, ", ");
        lstm_json_append_float8(out, v);
    }
    appendStringInfoString(out, "]}");
}

/*
 * Append h or c (cells, unaligned): (L, H) for a version-1 state,
 * (members, L, H) for a version-2 one.
 */
static void append_cells(StringInfo out, const LstmStateHeader *hd, const LstmDims *dims,
                         const char *cells)
{
    size_t per_member = (size_t)dims->num_layers * (size_t)dims->hidden_size;

    if (hd->version == LSTM_STATE_VERSION_V1) {
        lstm_json_append_float4_array(out, cells, dims->num_layers, dims->hidden_size);
        return;
    }
    appendStringInfoChar(out, '[');
    for (int m = 0; m < dims->members; m++) {
        if (m > 0)
            appendStringInfoString(out, ", ");
        lstm_json_append_float4_array(out, cells + m * per_member * sizeof(float), dims->num_layers,
                                      dims->hidden_size);
    }
    appendStringInfoChar(out, ']');
}

/* lstm_state_out(lstm_state): the JSON form, bit-exact on reading back. */
Datum lstm_state_out(PG_FUNCTION_ARGS)
{
    struct varlena *state = lstm_state_from_datum(PG_GETARG_DATUM(0));
    LstmStateHeader hd;
    LstmDims dims;
    const char *floats = VARDATA(state) + sizeof(LstmStateHeader); /* h, c, normaliser */
    size_t n;
    StringInfoData out;

    lstm_state_read_header(VARDATA(state), &hd);
    dims = lstm_state_dims(&hd);
    n = lstm_state_float_count(&dims) / 2;
    initStringInfo(&out);
    appendStringInfoChar(&out, '{');
    append_summary(&out, &hd);
    appendStringInfoString(&out, ", \"h\": ");
    append_cells(&out, &hd, &dims, floats);
    appendStringInfoString(&out, ", \"c\": ");
    append_cells(&out, &hd, &dims, floats + n * sizeof(float));
    if (dims.flags & LSTM_FLAG_SERIES_SCALING)
        append_normalizer(&out, floats + 2 * n * sizeof(float), &dims);
    appendStringInfoChar(&out, '}');
    PG_RETURN_CSTRING(out.data);
}

/* ---------- the binary form ---------- */

/* Read the header fields, network order, into header; what recv checks into fields. */
static void state_read_header(StringInfo buf, void *header, LstmBinaryHeader *fields)
{
    LstmStateHeader hd;

    memset(&hd, 0, sizeof(hd));
    hd.magic = (uint32)pq_getmsgint(buf, 4);
    hd.version = (uint16)pq_getmsgint(buf, 2);
    hd.flags = (uint16)pq_getmsgint(buf, 2);
    hd.model_flags = (uint16)pq_getmsgint(buf, 2);
    hd.members = (uint16)pq_getmsgint(buf, 2);
    hd.input_size = (int32)pq_getmsgint(buf, 4);
    hd.hidden_size = (int32)pq_getmsgint(buf, 4);
    hd.num_layers = (int32)pq_getmsgint(buf, 4);
    hd.output_size = (int32)pq_getmsgint(buf, 4);
    hd.season = (uint32)pq_getmsgint(buf, 4);
    hd.model_fingerprint = (uint64)pq_getmsgint64(buf);
    hd.steps = pq_getmsgint64(buf);
    hd.residual_count = pq_getmsgint64(buf);
    hd.last_value = pq_getmsgfloat8(buf);
    hd.residual_mean = pq_getmsgfloat8(buf);
    hd.residual_variance = pq_getmsgfloat8(buf);
    hd.last_forecast = pq_getmsgfloat8(buf);
    hd.last_score = pq_getmsgfloat8(buf);
    memcpy(header, &hd, sizeof(hd));
    fields->magic = hd.magic;
    fields->version = hd.version;
    fields->dims = lstm_state_dims(&hd);
}

/* Append the header fields (unaligned in the value) in network order; the sizes into dims. */
static void state_write_header(StringInfo buf, const void *header, LstmDims *dims)
{
    LstmStateHeader hd;

    lstm_state_read_header(header, &hd);
    pq_sendint32(buf, hd.magic);
    pq_sendint16(buf, hd.version);
    pq_sendint16(buf, hd.flags);
    pq_sendint16(buf, hd.model_flags);
    pq_sendint16(buf, hd.members);
    pq_sendint32(buf, hd.input_size);
    pq_sendint32(buf, hd.hidden_size);
    pq_sendint32(buf, hd.num_layers);
    pq_sendint32(buf, hd.output_size);
    pq_sendint32(buf, hd.season);
    pq_sendint64(buf, hd.model_fingerprint);
    pq_sendint64(buf, hd.steps);
    pq_sendint64(buf, hd.residual_count);
    pq_sendfloat8(buf, hd.last_value);
    pq_sendfloat8(buf, hd.residual_mean);
    pq_sendfloat8(buf, hd.residual_variance);
    pq_sendfloat8(buf, hd.last_forecast);
    pq_sendfloat8(buf, hd.last_score);
    *dims = lstm_state_dims(&hd);
}

/* Read the normaliser (rows as int8, then float8s) into tail (unaligned). */
static void state_read_tail(StringInfo buf, char *tail, const LstmDims *dims)
{
    size_t n = lstm_state_normalizer_count(dims);
    int64 rows = pq_getmsgint64(buf);

    memcpy(tail, &rows, 8);
    for (size_t i = 1; i < n; i++) {
        double v = pq_getmsgfloat8(buf);
        memcpy(tail + i * 8, &v, 8);
    }
}

/* Append the normaliser of tail (unaligned): rows as int8, then float8s. */
static void state_write_tail(StringInfo buf, const char *tail, const LstmDims *dims)
{
    size_t n = lstm_state_normalizer_count(dims);
    int64 rows;

    memcpy(&rows, tail, 8);
    pq_sendint64(buf, rows);
    for (size_t i = 1; i < n; i++) {
        double v;
        memcpy(&v, tail + i * 8, 8);
        pq_sendfloat8(buf, v);
    }
}

/*
 * The binary form: the header, then h and c as float4, then a series-scaled
 * model's normaliser (rows as int8, last, change, level, scale and the ring
 * as float8).
 */
static const LstmBinaryForm state_binary = {.type_name = "lstm_state",
                                            .header_size = sizeof(LstmStateHeader),
                                            .magic = LSTM_STATE_MAGIC,
                                            .version = LSTM_STATE_VERSION,
                                            .floats_name = "h and c",
                                            .read_header = state_read_header,
                                            .write_header = state_write_header,
                                            .float_count = lstm_state_float_count,
                                            .tail_count = lstm_state_normalizer_count,
                                            .read_tail = state_read_tail,
                                            .write_tail = state_write_tail,
                                            .validate = lstm_state_validate};

/*
 * lstm_state_recv(internal): the binary form. The header is read and its
 * sizes checked before anything is allocated; the rest must be exactly the
 * h and c floats those sizes need.
 */
Datum lstm_state_recv(PG_FUNCTION_ARGS)
{
    PG_RETURN_POINTER(lstm_binary_recv(&state_binary, (StringInfo)PG_GETARG_POINTER(0)));
}

/* lstm_state_send(lstm_state): the binary form read by lstm_state_recv. */
Datum lstm_state_send(PG_FUNCTION_ARGS)
{
    struct varlena *state = lstm_state_from_datum(PG_GETARG_DATUM(0));
    PG_RETURN_BYTEA_P(lstm_binary_send(&state_binary, VARDATA(state)));
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
