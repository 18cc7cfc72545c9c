/*
 * lstm_model.c - the lstm_model type: JSON text and jsonb forms, binary
 * send/recv, validation of stored values, lstm_model_info.
 *
 * The text form is JSON with PyTorch state_dict names and shapes; it is
 * parsed with PostgreSQL's own jsonb machinery and printed with the shortest
 * decimal that reads back to the same float32, so text round-trips are
 * bit-identical.
 */
#include "types/lstm_model.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(lstm_model_in);
PG_FUNCTION_INFO_V1(lstm_model_out);
PG_FUNCTION_INFO_V1(lstm_model_recv);
PG_FUNCTION_INFO_V1(lstm_model_send);
PG_FUNCTION_INFO_V1(lstm_model_to_jsonb);
PG_FUNCTION_INFO_V1(lstm_model_from_jsonb);
PG_FUNCTION_INFO_V1(lstm_model_info);

/* Top-level keys the text form may carry. */
static const char *const known_keys[] = {
    "input_size", "hidden_size", "num_layers", "output_size", "weights",       "input_mean",
    "input_std",  "output_mean", "output_std", "difference",  "format_version"};

/* ---------- reading the JSON form ---------- */

static void json_error(const char *message, const char *detail) pg_attribute_noreturn();

/* Raise a text-input error about the JSON structure. */
static void json_error(const char *message, const char *detail)
{
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
             errmsg("invalid lstm_model: %s", message), detail ? errdetail("%s", detail) : 0));
    pg_unreachable();
}

/* The value under key in an object container, or NULL when absent. */
static JsonbValue *json_get(JsonbContainer *object, const char *key)
{
    return getKeyJsonValueFromContainer(object, key, strlen(key), NULL);
}

/* Name of a jsonb value's type, for messages. */
static const char *json_type_name(const JsonbValue *v)
{
    switch (v->type) {
    case jbvNull:
        return "null";
    case jbvString:
        return "a string";
    case jbvNumeric:
        return "a number";
    case jbvBool:
        return "a boolean";
    case jbvBinary:
        return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
    default:
        return "an unexpected value";
    }
}

/* A required integer size field. */
static int json_get_size(JsonbContainer *object, const char *key)
{
    JsonbValue *v = json_get(object, key);
    char *text;
    char *end;
    long value;

    if (v == NULL)
        json_error(psprintf("missing \"%s\"", key),
                   "The JSON form needs input_size, hidden_size, num_layers, output_size "
                   "and weights.");
    if (v->type != jbvNumeric)
        json_error(psprintf("\"%s\" must be an integer, not %s", key, json_type_name(v)), NULL);
    text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
    errno = 0;
    value = strtol(text, &end, 10);
    if (*end != '\0')
        json_error(psprintf("\"%s\" must be an integer, not %s", key, text), NULL);
    if (errno == ERANGE || value < INT_MIN || value > INT_MAX)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("invalid lstm_model: \"%s\" %s is out of range", key, text)));
    return (int)value;
}

/* Convert one JSON number to float32, rejecting what float32 cannot hold. */
static float json_number_to_float(const JsonbValue *v, const char *name, int row, int col)
{
    char *text;
    char *end;
    float value;

    if (v->type != jbvNumeric) {
        if (col >= 0)
            json_error(
                psprintf("%s[%d][%d] must be a number, not %s", name, row, col, json_type_name(v)),
                NULL);
        json_error(psprintf("%s[%d] must be a number, not %s", name, row, json_type_name(v)), NULL);
    }
    text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
    errno = 0;
    value = strtof(text, &end);
    if (*end != '\0' || !isfinite(value) || (errno == ERANGE && fabsf(value) > 1.0f)) {
        if (strlen(text) > 24)
            strcpy(text + 20, "...");
        if (col >= 0)
            json_error(
                psprintf("%s[%d][%d] = %s is out of range for float32", name, row, col, text),
                NULL);
        json_error(psprintf("%s[%d] = %s is out of range for float32", name, row, text), NULL);
    }
    pfree(text);
    return value;
}

/*
 * Read a JSON vector of n numbers, or a rows x cols matrix (cols > 0) as an
 * array of row arrays, into out (row-major).
 */
static void json_read_array(JsonbValue *v, const char *name, int rows, int cols, float *out,
                            MemoryContext scratch)
{
    JsonbContainer *container;
    JsonbIterator *it;
    JsonbValue elem;
    JsonbIteratorToken token;
    int row = 0;
    MemoryContext old;

    if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
        json_error(psprintf("%s must be an array, not %s", name, json_type_name(v)), NULL);
    container = v->val.binary.data;
    if ((int)JsonContainerSize(container) != rows)
        json_error(psprintf("%s has %d %s, expected %d", name, (int)JsonContainerSize(container),
                            cols > 0 ? (JsonContainerSize(container) == 1 ? "row" : "rows")
                                     : (JsonContainerSize(container) == 1 ? "element" : "elements"),
                            rows),
                   cols > 0 ? psprintf("Its shape must be (%d, %d), as in PyTorch.", rows, cols)
                            : psprintf("Its shape must be (%d).", rows));

    /* The outer iterator lives outside scratch, which is reset after every row. */
    it = JsonbIteratorInit(container);
    while ((token = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE) {
        if (token != WJB_ELEM)
            continue;
        CHECK_FOR_INTERRUPTS();
        old = MemoryContextSwitchTo(scratch);
        if (cols == 0) {
            out[row] = json_number_to_float(&elem, name, row, -1);
        } else {
            JsonbContainer *inner;
            JsonbIterator *it2;
            JsonbValue x;
            int col = 0;
            if (elem.type != jbvBinary || !JsonContainerIsArray(elem.val.binary.data))
                json_error(
                    psprintf("%s[%d] must be an array, not %s", name, row, json_type_name(&elem)),
                    psprintf("%s is a (%d, %d) matrix given as an array of rows.", name, rows,
                             cols));
            inner = elem.val.binary.data;
            if ((int)JsonContainerSize(inner) != cols)
                json_error(psprintf("%s[%d] has %d elements, expected %d", name, row,
                                    (int)JsonContainerSize(inner), cols),
                           psprintf("Its shape must be (%d, %d), as in PyTorch.", rows, cols));
            it2 = JsonbIteratorInit(inner);
            while ((token = JsonbIteratorNext(&it2, &x, true)) != WJB_DONE) {
                if (token != WJB_ELEM)
                    continue;
                out[(size_t)row * cols + col] = json_number_to_float(&x, name, row, col);
                col++;
            }
        }
        row++;
        MemoryContextSwitchTo(old);
        MemoryContextReset(scratch);
    }
}

/* Reject keys the format does not know, naming the first one. */
static void json_check_keys(JsonbContainer *object, const char *where, bool weights,
                            const LstmDims *dims)
{
    JsonbIterator *it = JsonbIteratorInit(object);
    JsonbValue v;
    JsonbIteratorToken token;

    while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE) {
        char *key;
        bool ok = false;
        if (token != WJB_KEY)
            continue;
        key = pnstrdup(v.val.string.val, v.val.string.len);
        if (weights) {
            for (int a = 0; a < 4 * dims->num_layers + 2 && !ok; a++) {
                LstmArrayInfo info;
                lstm_model_array_info(dims, a, &info);
                ok = strcmp(info.name, key) == 0;
            }
        } else {
            for (int k = 0; k < lengthof(known_keys) && !ok; k++)
                ok = strcmp(known_keys[k], key) == 0;
        }
        if (!ok)
            json_error(psprintf("unexpected key \"%s\" in %s", key, where),
                       weights ? psprintf("A model with %d layer%s has weights weight_ih_l0 .. "
                                          "bias_hh_l%d, head.weight and head.bias only.",
                                          dims->num_layers, dims->num_layers == 1 ? "" : "s",
                                          dims->num_layers - 1)
                               : "The known keys are input_size, hidden_size, num_layers, "
                                 "output_size, weights, input_mean, input_std, output_mean, "
                                 "output_std, difference and format_version.");
    }
}

/* Build a validated model from the JSON form held in a jsonb object. */
static LstmModelDatum *model_from_jsonb(Jsonb *jb)
{
    JsonbContainer *root = &jb->root;
    JsonbContainer *weights;
    JsonbValue *v;
    LstmDims dims;
    LstmError err;
    char errmsg[LSTM_ERRMSG_LEN];
    LstmModelDatum *model;
    float *data;
    size_t nbytes;
    MemoryContext scratch;

    if (!JsonContainerIsObject(root) || JsonContainerIsScalar(root))
        json_error("the JSON form must be an object",
                   "Expected {\"input_size\": ..., \"hidden_size\": ..., \"num_layers\": ..., "
                   "\"output_size\": ..., \"weights\": {...}}.");
    json_check_keys(root, "the model object", false, NULL);

    v = json_get(root, "format_version");
    if (v != NULL) {
        if (v->type != jbvNumeric)
            json_error("\"format_version\" must be a number", NULL);
        if (json_get_size(root, "format_version") != LSTM_MODEL_VERSION)
            json_error(psprintf("unsupported format_version %d (expected %d)",
                                json_get_size(root, "format_version"), LSTM_MODEL_VERSION),
                       NULL);
    }
    dims.input_size = json_get_size(root, "input_size");
    dims.hidden_size = json_get_size(root, "hidden_size");
    dims.num_layers = json_get_size(root, "num_layers");
    dims.output_size = json_get_size(root, "output_size");
    dims.flags = 0;
    v = json_get(root, "difference");
    if (v != NULL) {
        if (v->type != jbvBool)
            json_error(psprintf("\"difference\" must be a boolean, not %s", json_type_name(v)),
                       NULL);
        if (v->val.boolean)
            dims.flags |= LSTM_FLAG_DIFFERENCE;
    }
    err = lstm_dims_check(&dims, errmsg);
    if (err != LSTM_OK)
        lstm_report_model_error(err, errmsg, LSTM_FROM_TEXT);

    v = json_get(root, "weights");
    if (v == NULL)
        json_error("missing \"weights\"", "The weights are an object of PyTorch state_dict "
                                          "names: weight_ih_l0, weight_hh_l0, bias_ih_l0, "
                                          "bias_hh_l0, ..., head.weight, head.bias.");
    if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
        json_error(psprintf("\"weights\" must be an object, not %s", json_type_name(v)), NULL);
    weights = v->val.binary.data;
    json_check_keys(weights, "\"weights\"", true, &dims);

    nbytes = lstm_model_nbytes(&dims);
    model = (LstmModelDatum *)palloc_extended(VARHDRSZ + nbytes, MCXT_ALLOC_HUGE);
    SET_VARSIZE(model, VARHDRSZ + nbytes);
    lstm_model_init_header(&model->header, &dims);
    data = lstm_model_data(LSTM_MODEL_PAYLOAD(model));

    scratch = AllocSetContextCreate(CurrentMemoryContext, "lstm_model json", ALLOCSET_SMALL_SIZES);
    for (int a = 0; a < lstm_model_array_count(&dims); a++) {
        LstmArrayInfo info;
        lstm_model_array_info(&dims, a, &info);
        v = json_get(info.is_scale ? root : weights, info.name);
        if (v == NULL) {
            /* Scaling is optional: identity. */
            if (info.is_scale) {
                for (int j = 0; j < info.rows; j++)
                    data[info.offset + j] = info.must_be_positive ? 1.0f : 0.0f;
                continue;
            }
            json_error(psprintf("missing weight \"%s\"", info.name),
                       psprintf("A model with hidden_size %d, input_size %d and %d layer%s needs "
                                "\"%s\" of shape (%d%s).",
                                dims.hidden_size, dims.input_size, dims.num_layers,
                                dims.num_layers == 1 ? "" : "s", info.name, info.rows,
                                info.cols > 0 ? psprintf(", %d", info.cols) : ""));
        }
        json_read_array(v, info.name, info.rows, info.cols, data + info.offset, scratch);
    }
    MemoryContextDelete(scratch);

    err = lstm_model_validate(LSTM_MODEL_PAYLOAD(model), nbytes, errmsg);
    if (err != LSTM_OK)
        lstm_report_model_error(err, errmsg, LSTM_FROM_TEXT);
    return model;
}

/* ---------- writing the JSON form ---------- */

/* Append one float32 as the shortest decimal that reads back identically. */
static void append_float(StringInfo out, float value)
{
    char buf[FLOAT_SHORTEST_DECIMAL_LEN];
    int len = float_to_shortest_decimal_bufn(value, buf);
    appendBinaryStringInfo(out, buf, len);
}

/* Append the JSON form of a validated model. */
static void model_to_json(StringInfo out, const LstmModelDatum *model)
{
    const void *payload = LSTM_MODEL_PAYLOAD(model);
    LstmDims dims = lstm_model_dims(&model->header);
    const float *data = (const float *)((const char *)payload + sizeof(LstmModelHeader));
    int narrays = lstm_model_array_count(&dims);

    appendStringInfo(out,
                     "{\"format_version\": %d, \"input_size\": %d, \"hidden_size\": %d, "
                     "\"num_layers\": %d, \"output_size\": %d, \"difference\": %s, \"weights\": {",
                     LSTM_MODEL_VERSION, dims.input_size, dims.hidden_size, dims.num_layers,
                     dims.output_size, (dims.flags & LSTM_FLAG_DIFFERENCE) ? "true" : "false");
    for (int a = 0; a < narrays; a++) {
        LstmArrayInfo info;
        const float *values;
        lstm_model_array_info(&dims, a, &info);
        values = data + info.offset;
        if (a == 4 * dims.num_layers + 2)
            appendStringInfoString(out, "}");
        appendStringInfo(out, "%s\"%s\": [", a == 0 ? "" : ", ", info.name);
        for (int r = 0; r < info.rows; r++) {
            if (r > 0)
                appendStringInfoString(out, ", ");
            if (info.cols == 0) {
                append_float(out, values[r]);
                continue;
            }
            appendStringInfoChar(out, '[');
            for (int c = 0; c < info.cols; c++) {
                if (c > 0)
                    appendStringInfoString(out, ", ");
                append_float(out, values[(size_t)r * info.cols + c]);
            }
            appendStringInfoChar(out, ']');
        }
        appendStringInfoChar(out, ']');
    }
    appendStringInfoChar(out, '}');
}

/* ---------- stored values ---------- */

/* The ERROR for a failed lstm_model check. */
void lstm_report_model_error(LstmError err, const char *message, LstmValueSource source)
{
    lstm_report_value_error("lstm_model", err, message, source);
}

/* Detoast a stored model and validate it. */
LstmModelDatum *lstm_model_from_datum(Datum datum)
{
    LstmModelDatum *model = (LstmModelDatum *)PG_DETOAST_DATUM(datum);
    char errmsg[LSTM_ERRMSG_LEN];
    LstmError err;

    if (VARSIZE(model) < VARHDRSZ + sizeof(LstmModelHeader))
        lstm_report_model_error(LSTM_ERR_FORMAT, "value is shorter than the model header",
                                LSTM_FROM_STORED);
    err = lstm_model_validate(LSTM_MODEL_PAYLOAD(model), LSTM_MODEL_PAYLOAD_SIZE(model), errmsg);
    if (err != LSTM_OK)
        lstm_report_model_error(err, errmsg, LSTM_FROM_STORED);
    return model;
}

/* Fingerprint of a validated model. */
uint64 lstm_model_fingerprint_of(const LstmModelDatum *model)
{
    return lstm_model_fingerprint(LSTM_MODEL_PAYLOAD(model), LSTM_MODEL_PAYLOAD_SIZE(model));
}

/* ---------- SQL I/O functions ---------- */

/* lstm_model_in(cstring): the JSON form, parsed by PostgreSQL's jsonb input. */
Datum lstm_model_in(PG_FUNCTION_ARGS)
{
    char *text = PG_GETARG_CSTRING(0);
    Jsonb *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
    PG_RETURN_POINTER(model_from_jsonb(jb));
}

/* lstm_model_out(lstm_model): the JSON form. */
Datum lstm_model_out(PG_FUNCTION_ARGS)
{
    LstmModelDatum *model = lstm_model_from_datum(PG_GETARG_DATUM(0));
    StringInfoData out;
    initStringInfo(&out);
    model_to_json(&out, model);
    PG_RETURN_CSTRING(out.data);
}

/*
 * lstm_model_recv(internal): binary form. Header fields as network-order
 * integers, then every float as float4. The sizes are checked before
 * anything is allocated and the remaining length must match exactly.
 */
Datum lstm_model_recv(PG_FUNCTION_ARGS)
{
    StringInfo buf = (StringInfo)PG_GETARG_POINTER(0);
    LstmModelHeader header;
    LstmDims dims;
    LstmError err;
    char errmsg[LSTM_ERRMSG_LEN];
    LstmModelDatum *model;
    size_t nfloats, nbytes;
    float *data;

    if (buf->len - buf->cursor < (int)sizeof(LstmModelHeader))
        lstm_report_model_error(LSTM_ERR_FORMAT,
                                psprintf("binary value is %d bytes, shorter than the %d-byte "
                                         "header",
                                         buf->len - buf->cursor, (int)sizeof(LstmModelHeader)),
                                LSTM_FROM_BINARY);
    memset(&header, 0, sizeof(header));
    header.magic = (uint32)pq_getmsgint(buf, 4);
    header.version = (uint16)pq_getmsgint(buf, 2);
    header.flags = (uint16)pq_getmsgint(buf, 2);
    header.input_size = (int32)pq_getmsgint(buf, 4);
    header.hidden_size = (int32)pq_getmsgint(buf, 4);
    header.num_layers = (int32)pq_getmsgint(buf, 4);
    header.output_size = (int32)pq_getmsgint(buf, 4);
    for (int i = 0; i < 3; i++)
        header.reserved[i] = (uint32)pq_getmsgint(buf, 4);

    if (header.magic != LSTM_MODEL_MAGIC)
        lstm_report_model_error(LSTM_ERR_FORMAT, psprintf("bad magic number 0x%08x", header.magic),
                                LSTM_FROM_BINARY);
    if (header.version != LSTM_MODEL_VERSION)
        lstm_report_model_error(LSTM_ERR_FORMAT,
                                psprintf("unsupported format version %u (expected %d)",
                                         (unsigned)header.version, LSTM_MODEL_VERSION),
                                LSTM_FROM_BINARY);
    dims = lstm_model_dims(&header);
    err = lstm_dims_check(&dims, errmsg);
    if (err != LSTM_OK)
        lstm_report_model_error(err, errmsg, LSTM_FROM_BINARY);
    nfloats = lstm_model_float_count(&dims);
    if ((size_t)(buf->len - buf->cursor) != nfloats * sizeof(float))
        lstm_report_model_error(LSTM_ERR_FORMAT,
                                psprintf("binary value has %d bytes of weights but its sizes need "
                                         "%zu",
                                         buf->len - buf->cursor, nfloats * sizeof(float)),
                                LSTM_FROM_BINARY);

    nbytes = lstm_model_nbytes(&dims);
    model = (LstmModelDatum *)palloc_extended(VARHDRSZ + nbytes, MCXT_ALLOC_HUGE);
    SET_VARSIZE(model, VARHDRSZ + nbytes);
    memcpy(&model->header, &header, sizeof(header));
    data = lstm_model_data(LSTM_MODEL_PAYLOAD(model));
    for (size_t i = 0; i < nfloats; i++) {
        if ((i & 0xFFFF) == 0)
            CHECK_FOR_INTERRUPTS();
        data[i] = pq_getmsgfloat4(buf);
    }

    err = lstm_model_validate(LSTM_MODEL_PAYLOAD(model), nbytes, errmsg);
    if (err != LSTM_OK)
        lstm_report_model_error(err, errmsg, LSTM_FROM_BINARY);
    PG_RETURN_POINTER(model);
}

/* lstm_model_send(lstm_model): the binary form read by lstm_model_recv. */
Datum lstm_model_send(PG_FUNCTION_ARGS)
{
    LstmModelDatum *model = lstm_model_from_datum(PG_GETARG_DATUM(0));
    LstmDims dims = lstm_model_dims(&model->header);
    size_t nfloats = lstm_model_float_count(&dims);
    const float *data = lstm_model_data(LSTM_MODEL_PAYLOAD(model));
    StringInfoData buf;

    pq_begintypsend(&buf);
    pq_sendint32(&buf, model->header.magic);
    pq_sendint16(&buf, model->header.version);
    pq_sendint16(&buf, model->header.flags);
    pq_sendint32(&buf, model->header.input_size);
    pq_sendint32(&buf, model->header.hidden_size);
    pq_sendint32(&buf, model->header.num_layers);
    pq_sendint32(&buf, model->header.output_size);
    for (int i = 0; i < 3; i++)
        pq_sendint32(&buf, model->header.reserved[i]);
    for (size_t i = 0; i < nfloats; i++)
        pq_sendfloat4(&buf, data[i]);
    PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* lstm_model_to_jsonb(lstm_model): the JSON form as jsonb (the cast). */
Datum lstm_model_to_jsonb(PG_FUNCTION_ARGS)
{
    LstmModelDatum *model = lstm_model_from_datum(PG_GETARG_DATUM(0));
    StringInfoData out;
    initStringInfo(&out);
    model_to_json(&out, model);
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

/* lstm_model_from_jsonb(jsonb): a model from its JSON form (the cast). */
Datum lstm_model_from_jsonb(PG_FUNCTION_ARGS)
{
    PG_RETURN_POINTER(model_from_jsonb(PG_GETARG_JSONB_P(0)));
}

/* lstm_model_info(lstm_model): sizes, parameter count and fingerprint. */
Datum lstm_model_info(PG_FUNCTION_ARGS)
{
    LstmModelDatum *model = lstm_model_from_datum(PG_GETARG_DATUM(0));
    LstmDims dims = lstm_model_dims(&model->header);
    StringInfoData out;

    initStringInfo(&out);
    appendStringInfo(&out,
                     "{\"format_version\": %d, \"input_size\": %d, \"hidden_size\": %d, "
                     "\"num_layers\": %d, \"output_size\": %d, \"difference\": %s, "
                     "\"parameters\": %zu, \"bytes\": %zu, \"fingerprint\": \"%016" PRIx64 "\"}",
                     LSTM_MODEL_VERSION, dims.input_size, dims.hidden_size, dims.num_layers,
                     dims.output_size, (dims.flags & LSTM_FLAG_DIFFERENCE) ? "true" : "false",
                     lstm_model_parameter_count(&dims), (size_t)VARSIZE(model),
                     lstm_model_fingerprint_of(model));
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
