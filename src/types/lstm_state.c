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
 * variance of the residuals (value - forecast made before it), the forecast
 * and anomaly score of the last row consumed, and the anomaly score's block
 * (its settings, short and long windows, range and repeat filter;
 * src/core/anomaly.h). src/core/stream.h has the layout and the arithmetic;
 * this file is the SQL glue.
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
    size_t nbytes = lstm_stream_nbytes(stream, dims);
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
                                         "anomaly",
                                         "h",
                                         "c",
                                         "members",
                                         "scaling",
                                         "log",
                                         "season",
                                         "normalizer"};

/* Keys of the "normalizer" object of a series-scaled model's state, in output order. */
static const char *const normalizer_keys[] = {"rows", "last", "change", "level", "scale", "recent"};

/* Keys of the text form's "anomaly" object (lstm_anomaly_block_check checks the values). */
static const char *const anomaly_keys[] = {
    "settings", "lo",         "hi",        "ring",          "ring_fill", "ring_position",
    "ring_sum", "long_count", "long_mean", "long_variance", "quiet",     "last_residual"};

/* The names of the settings, for lstm_json_check_keys. */
static const char *const *setting_names(void)
{
    static const char *names[LSTM_ANOMALY_NSETTINGS];
    for (int i = 0; i < LSTM_ANOMALY_NSETTINGS; i++)
        names[i] = lstm_anomaly_setting_info[i].name;
    return names;
}

/* An int32 field of the text form (range checks follow in the core). */
static int32 json_int32(const LstmJson *doc, const LstmJsonNode *object, const char *key)
{
    return (int32)lstm_json_integer(doc, object, key, PG_INT32_MIN, PG_INT32_MAX,
                                    ERRCODE_INVALID_TEXT_REPRESENTATION);
}

/*
 * The "anomaly" object of the text form as a serialized block, appended to
 * block; the residual statistics are the header's.
 */
static void anomaly_from_text(const LstmJson *doc, const LstmJsonNode *node, StringInfo block)
{
    const LstmJsonNode *settings;
    LstmAnomaly anomaly;
    bool lo, hi;
    int64 long_count;

    lstm_json_expect(doc, node, LSTM_JSON_OBJECT, "\"anomaly\"");
    lstm_json_check_keys(doc, node, anomaly_keys, lengthof(anomaly_keys), "\"anomaly\"",
                         "An lstm_state has the keys that its output form shows.");
    settings = lstm_json_require(doc, node, "settings");
    lstm_json_expect(doc, settings, LSTM_JSON_OBJECT, "\"settings\"");
    lstm_json_check_keys(doc, settings, setting_names(), LSTM_ANOMALY_NSETTINGS, "\"settings\"",
                         "The anomaly settings are those of lstm_state_info.");
    memset(&anomaly, 0, sizeof(anomaly));
    for (int i = 0; i < LSTM_ANOMALY_NSETTINGS; i++) {
        const LstmAnomalySettingInfo *info = &lstm_anomaly_setting_info[i];
        char *field = (char *)&anomaly.settings + info->offset;
        if (info->is_integer) {
            int32 v = json_int32(doc, settings, info->name);
            memcpy(field, &v, sizeof(v));
        } else {
            double v;
            lstm_json_float8(doc, settings, info->name, false, &v);
            memcpy(field, &v, sizeof(v));
        }
    }
    if (anomaly.settings.short_window < 1 ||
        anomaly.settings.short_window > LSTM_ANOMALY_MAX_SHORT_WINDOW)
        lstm_json_error(doc, NULL, "\"short_window\" must be in [1, %d], not %d",
                        LSTM_ANOMALY_MAX_SHORT_WINDOW, (int)anomaly.settings.short_window);
    lo = lstm_json_float8(doc, node, "lo", true, &anomaly.lo);
    hi = lstm_json_float8(doc, node, "hi", true, &anomaly.hi);
    if (lo != hi)
        lstm_json_error(doc, NULL, "\"lo\" and \"hi\" must both be numbers or both null");
    if (lo)
        anomaly.flags |= LSTM_ANOMALY_HAS_RANGE;
    lstm_json_float8_array(doc, lstm_json_require(doc, node, "ring"), "ring",
                           anomaly.settings.short_window, anomaly.ring);
    anomaly.ring_fill = json_int32(doc, node, "ring_fill");
    anomaly.ring_position = json_int32(doc, node, "ring_position");
    lstm_json_float8(doc, node, "ring_sum", false, &anomaly.ring_sum);
    long_count = lstm_json_integer(doc, node, "long_count", 0, PG_INT64_MAX,
                                   ERRCODE_INVALID_TEXT_REPRESENTATION);
    anomaly.averages.count = long_count;
    lstm_json_float8(doc, node, "long_mean", false, &anomaly.averages.mean);
    lstm_json_float8(doc, node, "long_variance", false, &anomaly.averages.variance);
    anomaly.quiet = json_int32(doc, node, "quiet");
    lstm_json_float8(doc, node, "last_residual", false, &anomaly.last_residual);
    enlargeStringInfo(block, (int)lstm_anomaly_block_nbytes(anomaly.settings.short_window));
    lstm_anomaly_pack(&anomaly, block->data + block->len);
    block->len += (int)lstm_anomaly_block_nbytes(anomaly.settings.short_window);
}

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
    if (lstm_json_get(root, "anomaly") != NULL &&
        lstm_json_get(root, "anomaly")->kind != LSTM_JSON_NULL)
        hd.flags |= LSTM_STATE_HAS_LIKELIHOOD;
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
    StringInfoData block;

    lstm_json_parse(&doc, text, "lstm_state",
                    "An lstm_state has the keys that its output form shows.");
    if (doc.root.kind != LSTM_JSON_OBJECT)
        lstm_json_error(&doc, NULL, "the text form must be a JSON object");
    lstm_json_check_keys(&doc, &doc.root, state_keys, lengthof(state_keys), NULL,
                         "An lstm_state has the keys that its output form shows.");
    hd = state_header(&doc);
    dims = lstm_state_dims(&hd);
    n = lstm_state_float_count(&dims) / 2; /* h, then c: (members, L, H) each */
    initStringInfo(&block);
    if (hd.flags & LSTM_STATE_HAS_LIKELIHOOD)
        anomaly_from_text(&doc, lstm_json_get(&doc.root, "anomaly"), &block);
    nbytes = lstm_state_nbytes(&dims) + block.len;
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
    /* the anomaly block follows c and the normaliser */
    memcpy(VARDATA(state) + lstm_state_nbytes(&dims), block.data, block.len);
    pfree(block.data);
    err = lstm_state_validate(VARDATA(state), nbytes, message);
    if (err != LSTM_OK)
        lstm_report_state_error(err, message, LSTM_FROM_TEXT);
    return state;
}

/* ---------- the text form: writing ---------- */

/* Append a double, or null when absent. */
static void append_float8_or_null(StringInfo out, bool present, double value)
{
    if (present)
        lstm_json_append_float8(out, value);
    else
        appendStringInfoString(out, "null");
}

/* Append the settings as a JSON object (the keys lstm_anomaly_settings_read takes). */
void lstm_anomaly_settings_append(StringInfo out, const LstmAnomalySettings *settings)
{
    appendStringInfoChar(out, '{');
    for (int i = 0; i < LSTM_ANOMALY_NSETTINGS; i++) {
        const LstmAnomalySettingInfo *info = &lstm_anomaly_setting_info[i];
        const char *field = (const char *)settings + info->offset;
        appendStringInfo(out, "%s\"%s\": ", i > 0 ? ", " : "", info->name);
        if (info->is_integer) {
            int32 v;
            memcpy(&v, field, sizeof(v));
            appendStringInfo(out, "%d", (int)v);
        } else {
            double v;
            memcpy(&v, field, sizeof(v));
            lstm_json_append_float8(out, v);
        }
    }
    appendStringInfoChar(out, '}');
}

/* Append the "anomaly" object of a (validated) block. */
static void append_anomaly(StringInfo out, const void *block)
{
    LstmAnomaly anomaly;
    bool range;

    memset(&anomaly, 0, sizeof(anomaly));
    lstm_anomaly_unpack(block, &anomaly);
    range = (anomaly.flags & LSTM_ANOMALY_HAS_RANGE) != 0;
    appendStringInfoString(out, "{\"settings\": ");
    lstm_anomaly_settings_append(out, &anomaly.settings);
    appendStringInfoString(out, ", \"lo\": ");
    append_float8_or_null(out, range, anomaly.lo);
    appendStringInfoString(out, ", \"hi\": ");
    append_float8_or_null(out, range, anomaly.hi);
    appendStringInfoString(out, ", \"ring\": [");
    for (int i = 0; i < anomaly.settings.short_window; i++) {
        if (i > 0)
            appendStringInfoString(out, ", ");
        lstm_json_append_float8(out, anomaly.ring[i]);
    }
    appendStringInfo(out, "], \"ring_fill\": %d, \"ring_position\": %d, \"ring_sum\": ",
                     (int)anomaly.ring_fill, (int)anomaly.ring_position);
    lstm_json_append_float8(out, anomaly.ring_sum);
    appendStringInfo(out, ", \"long_count\": %" PRId64 ", \"long_mean\": ", anomaly.averages.count);
    lstm_json_append_float8(out, anomaly.averages.mean);
    appendStringInfoString(out, ", \"long_variance\": ");
    lstm_json_append_float8(out, anomaly.averages.variance);
    appendStringInfo(out, ", \"quiet\": %d, \"last_residual\": ", (int)anomaly.quiet);
    lstm_json_append_float8(out, anomaly.last_residual);
    appendStringInfoChar(out, '}');
}

/* The anomaly block of a validated state, or NULL for a state made before it. */
static const char *state_block(const struct varlena *state, const LstmStateHeader *hd)
{
    LstmDims dims = lstm_state_dims(hd);
    if (!(hd->flags & LSTM_STATE_HAS_LIKELIHOOD))
        return NULL;
    return VARDATA(state) + lstm_state_nbytes(&dims);
}

/* Append the fields every summary shows: format, fingerprint, sizes, counters, the block. */
static void append_summary(StringInfo out, const LstmStateHeader *hd, const char *block)
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
    if (block != NULL) {
        appendStringInfoString(out, ", \"anomaly\": ");
        append_anomaly(out, block);
    }
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
    append_summary(&out, &hd, state_block(state, &hd));
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

/* Wire size of the fixed fields of the anomaly block (as the native block: 120 bytes). */
#define ANOMALY_WIRE_FIXED LSTM_ANOMALY_BLOCK_FIXED

/*
 * Read the anomaly block (with LSTM_STATE_HAS_LIKELIHOOD) in network order:
 * 6 int32 settings, 3 float8 settings, uint32 flags, int32 ring_fill,
 * ring_position, quiet, int64 long_count, float8 ring_sum, long_mean,
 * long_variance, lo, hi, last_residual, then short_window float8 ring values.
 */
static void state_read_trailer(StringInfo buf, const void *header, StringInfo trailer)
{
    LstmStateHeader hd;
    LstmAnomaly a;
    int32 *ints[6] = {&a.settings.residual_window, &a.settings.warmup,
                      &a.settings.short_window,    &a.settings.long_window,
                      &a.settings.long_warmup,     &a.settings.filter};
    double *reals[3] = {&a.settings.cap, &a.settings.threshold, &a.settings.range_tolerance};
    LstmDims dims;
    const char *after; /* what precedes the block, for messages */
    int left;

    memcpy(&hd, header, sizeof(hd));
    dims = lstm_state_dims(&hd);
    after = (dims.flags & LSTM_FLAG_SERIES_SCALING) ? "h, c and the normalizer" : "h and c";
    left = buf->len - buf->cursor;
    if (hd.flags & ~LSTM_STATE_KNOWN_FLAGS)
        lstm_report_state_error(LSTM_ERR_FORMAT,
                                psprintf("unknown state flags 0x%04x", (unsigned)hd.flags),
                                LSTM_FROM_BINARY);
    if (!(hd.flags & LSTM_STATE_HAS_LIKELIHOOD))
        return;
    if (left < ANOMALY_WIRE_FIXED)
        lstm_report_state_error(LSTM_ERR_FORMAT,
                                psprintf("binary value has %d bytes after %s, fewer than the "
                                         "%d fixed bytes of its anomaly block",
                                         left, after, ANOMALY_WIRE_FIXED),
                                LSTM_FROM_BINARY);
    memset(&a, 0, sizeof(a));
    for (int i = 0; i < 6; i++)
        *ints[i] = (int32)pq_getmsgint(buf, 4);
    for (int i = 0; i < 3; i++)
        *reals[i] = pq_getmsgfloat8(buf);
    a.flags = (uint32)pq_getmsgint(buf, 4);
    a.ring_fill = (int32)pq_getmsgint(buf, 4);
    a.ring_position = (int32)pq_getmsgint(buf, 4);
    a.quiet = (int32)pq_getmsgint(buf, 4);
    a.averages.count = pq_getmsgint64(buf);
    a.ring_sum = pq_getmsgfloat8(buf);
    a.averages.mean = pq_getmsgfloat8(buf);
    a.averages.variance = pq_getmsgfloat8(buf);
    a.lo = pq_getmsgfloat8(buf);
    a.hi = pq_getmsgfloat8(buf);
    a.last_residual = pq_getmsgfloat8(buf);
    if (a.settings.short_window < 1 || a.settings.short_window > LSTM_ANOMALY_MAX_SHORT_WINDOW)
        lstm_report_state_error(
            LSTM_ERR_FORMAT,
            psprintf("binary value's anomaly short_window %d is outside [1, %d]",
                     (int)a.settings.short_window, LSTM_ANOMALY_MAX_SHORT_WINDOW),
            LSTM_FROM_BINARY);
    if (left != (int)lstm_anomaly_block_nbytes(a.settings.short_window))
        lstm_report_state_error(LSTM_ERR_FORMAT,
                                psprintf("binary value has %d bytes after %s but its anomaly "
                                         "block (short_window %d) needs %zu",
                                         left, after, (int)a.settings.short_window,
                                         lstm_anomaly_block_nbytes(a.settings.short_window)),
                                LSTM_FROM_BINARY);
    for (int i = 0; i < a.settings.short_window; i++)
        a.ring[i] = pq_getmsgfloat8(buf);
    enlargeStringInfo(trailer, (int)lstm_anomaly_block_nbytes(a.settings.short_window));
    lstm_anomaly_pack(&a, trailer->data + trailer->len);
    trailer->len += (int)lstm_anomaly_block_nbytes(a.settings.short_window);
}

/* Append the anomaly block (if any) in network order, as state_read_trailer reads it. */
static void state_write_trailer(StringInfo buf, const void *header, const void *trailer,
                                size_t trailer_size)
{
    LstmAnomaly a;

    if (trailer_size == 0)
        return;
    memset(&a, 0, sizeof(a));
    lstm_anomaly_unpack(trailer, &a);
    pq_sendint32(buf, a.settings.residual_window);
    pq_sendint32(buf, a.settings.warmup);
    pq_sendint32(buf, a.settings.short_window);
    pq_sendint32(buf, a.settings.long_window);
    pq_sendint32(buf, a.settings.long_warmup);
    pq_sendint32(buf, a.settings.filter);
    pq_sendfloat8(buf, a.settings.cap);
    pq_sendfloat8(buf, a.settings.threshold);
    pq_sendfloat8(buf, a.settings.range_tolerance);
    pq_sendint32(buf, a.flags);
    pq_sendint32(buf, a.ring_fill);
    pq_sendint32(buf, a.ring_position);
    pq_sendint32(buf, a.quiet);
    pq_sendint64(buf, a.averages.count);
    pq_sendfloat8(buf, a.ring_sum);
    pq_sendfloat8(buf, a.averages.mean);
    pq_sendfloat8(buf, a.averages.variance);
    pq_sendfloat8(buf, a.lo);
    pq_sendfloat8(buf, a.hi);
    pq_sendfloat8(buf, a.last_residual);
    for (int i = 0; i < a.settings.short_window; i++)
        pq_sendfloat8(buf, a.ring[i]);
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
 * as float8), then the anomaly block (with LSTM_STATE_HAS_LIKELIHOOD).
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
                                            .validate = lstm_state_validate,
                                            .read_trailer = state_read_trailer,
                                            .write_trailer = state_write_trailer};

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
    PG_RETURN_BYTEA_P(lstm_binary_send(&state_binary, VARDATA(state), VARSIZE(state) - VARHDRSZ));
}

/*
 * lstm_state_info(lstm_state): everything but h and c, plus the last row's
 * residual (value - forecast made before it; null for a state made before
 * the anomaly block) and alert (score >= the threshold), and the byte size.
 */
Datum lstm_state_info(PG_FUNCTION_ARGS)
{
    struct varlena *state = lstm_state_from_datum(PG_GETARG_DATUM(0));
    LstmStateHeader hd;
    StringInfoData out;
    const char *block;
    LstmAnomalySettings settings;
    double last_residual = 0.0;

    lstm_state_read_header(VARDATA(state), &hd);
    block = state_block(state, &hd);
    lstm_anomaly_settings_default(&settings);
    if (block != NULL) {
        LstmAnomaly anomaly;
        lstm_anomaly_unpack(block, &anomaly);
        settings = anomaly.settings;
        last_residual = anomaly.last_residual;
    }
    initStringInfo(&out);
    appendStringInfoChar(&out, '{');
    append_summary(&out, &hd, block);
    appendStringInfoString(&out, ", \"last_residual\": ");
    append_float8_or_null(&out, block != NULL && (hd.flags & LSTM_STATE_HAS_FORECAST),
                          last_residual);
    appendStringInfo(&out, ", \"last_alert\": %s",
                     !(hd.flags & LSTM_STATE_HAS_SCORE)    ? "null"
                     : hd.last_score >= settings.threshold ? "true"
                                                           : "false");
    appendStringInfo(&out, ", \"bytes\": %d}", (int)VARSIZE(state));
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
