/*
 * lstm_model.c - the lstm_model type: JSON text and jsonb forms, binary
 * send/recv, validation of stored values, lstm_model_info.
 *
 * The text form is JSON with PyTorch state_dict names and shapes, read and
 * written by types/json.h (bit-identical round trips, -0 included); the
 * binary form's shared steps are in types/binary.h.
 */
#include "types/lstm_model.h"

#include <inttypes.h>

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "types/binary.h"
#include "types/json.h"

PG_FUNCTION_INFO_V1(lstm_model_in);
PG_FUNCTION_INFO_V1(lstm_model_out);
PG_FUNCTION_INFO_V1(lstm_model_recv);
PG_FUNCTION_INFO_V1(lstm_model_send);
PG_FUNCTION_INFO_V1(lstm_model_to_jsonb);
PG_FUNCTION_INFO_V1(lstm_model_from_jsonb);
PG_FUNCTION_INFO_V1(lstm_model_info);

/* Top-level keys the text form may carry. */
static const char *const known_keys[] = {
    "input_size", "hidden_size", "num_layers",  "output_size",    "weights",
    "input_mean", "input_std",   "output_mean", "output_std",     "difference",
    "scaling",    "log",         "season",      "format_version", "calibration"};

/* ---------- reading the JSON form ---------- */

/* The format version a model of these (checked) sizes is written as. */
static int model_version(const LstmDims *dims)
{
    LstmModelHeader header;
    lstm_model_init_header(&header, dims);
    return header.version;
}

/*
 * The members the "weights" value holds: one for an object, one per element
 * for an array of objects (1 to LSTM_MAX_MEMBERS).
 */
static int model_members(const LstmJson *doc)
{
    const LstmJsonNode *weights = lstm_json_get(&doc->root, "weights");

    if (weights == NULL)
        lstm_json_error(doc,
                        "The weights are an object of PyTorch state_dict names: weight_ih_l0, "
                        "weight_hh_l0, bias_ih_l0, bias_hh_l0, ..., head.weight, head.bias; an "
                        "ensemble's are an array of such objects, one per member.",
                        "missing \"weights\"");
    if (weights->kind == LSTM_JSON_OBJECT)
        return 1;
    if (weights->kind != LSTM_JSON_ARRAY)
        lstm_json_error(doc, "An ensemble's weights are an array of objects, one per member.",
                        "\"weights\" must be an object or an array of objects, not %s",
                        lstm_json_kind_name(weights));
    if (weights->length < 1 || weights->length > LSTM_MAX_MEMBERS)
        ereport(ERROR,
                (errcode(weights->length < 1 ? ERRCODE_INVALID_TEXT_REPRESENTATION
                                             : ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("invalid lstm_model: \"weights\" holds %d members, outside the range "
                        "1 to %d",
                        weights->length, LSTM_MAX_MEMBERS)));
    return weights->length;
}

/* The sizes and flags of the model object, checked against the limits and rules. */
static LstmDims model_dims(const LstmJson *doc)
{
    const LstmJsonNode *root = &doc->root;
    LstmDims dims;
    LstmError err;
    char errmsg[LSTM_ERRMSG_LEN];

    dims.input_size = lstm_json_size(doc, root, "input_size");
    dims.hidden_size = lstm_json_size(doc, root, "hidden_size");
    dims.num_layers = lstm_json_size(doc, root, "num_layers");
    dims.output_size = lstm_json_size(doc, root, "output_size");
    dims.flags = 0;
    dims.members = model_members(doc);
    dims.season = 0;
    dims.calibrated = 0;
    if (lstm_json_get(root, "difference") != NULL && lstm_json_boolean(doc, root, "difference"))
        dims.flags |= LSTM_FLAG_DIFFERENCE;
    lstm_json_series_options(doc, root, &dims);
    dims.calibrated = lstm_json_get(root, "calibration") != NULL;
    err = lstm_dims_check(&dims, errmsg);
    if (err != LSTM_OK)
        lstm_report_model_error(err, errmsg, LSTM_FROM_TEXT);
    lstm_json_check_version(doc, root, model_version(&dims));
    return dims;
}

/*
 * Member j's weights object, holding exactly the state_dict names of a
 * model of dims (the object itself for one member given as an object).
 */
static const LstmJsonNode *member_weights(const LstmJson *doc, const LstmDims *dims, int member)
{
    const LstmJsonNode *weights = lstm_json_get(&doc->root, "weights");
    const char *names[4 * LSTM_MAX_LAYERS + 2];
    LstmArrayInfo info[4 * LSTM_MAX_LAYERS + 2];
    int nweights = 4 * dims->num_layers + 2;
    const char *where = "\"weights\"";

    if (weights->kind == LSTM_JSON_ARRAY) {
        weights = &weights->items[member];
        where = psprintf("\"weights\"[%d]", member);
    }
    lstm_json_expect(doc, weights, LSTM_JSON_OBJECT, where);
    for (int a = 0; a < nweights; a++) {
        lstm_model_array_info(dims, a, &info[a]);
        names[a] = info[a].name;
    }
    lstm_json_check_keys(doc, weights, names, nweights, where,
                         psprintf("A model with %d layer%s has weights weight_ih_l0 .. "
                                  "bias_hh_l%d, head.weight and head.bias only.",
                                  dims->num_layers, dims->num_layers == 1 ? "" : "s",
                                  dims->num_layers - 1));
    return weights;
}

/* Build a validated model from its JSON text form (text outlives the call). */
static LstmModelDatum *model_from_text(char *text)
{
    LstmJson doc;
    const LstmJsonNode *weights[LSTM_MAX_MEMBERS];
    LstmDims dims;
    LstmError err;
    char errmsg[LSTM_ERRMSG_LEN];
    LstmModelDatum *model;
    float *data;
    size_t nbytes;

    lstm_json_parse(&doc, text, "lstm_model",
                    "The JSON form needs input_size, hidden_size, num_layers, output_size and "
                    "weights.");
    if (doc.root.kind != LSTM_JSON_OBJECT)
        lstm_json_error(&doc,
                        "Expected {\"input_size\": ..., \"hidden_size\": ..., \"num_layers\": "
                        "..., \"output_size\": ..., \"weights\": {...}}.",
                        "the JSON form must be an object");
    lstm_json_check_keys(&doc, &doc.root, known_keys, lengthof(known_keys), "the model object",
                         "The known keys are input_size, hidden_size, num_layers, output_size, "
                         "weights, input_mean, input_std, output_mean, output_std, difference, "
                         "scaling, log, season, calibration and format_version.");
    dims = model_dims(&doc);
    for (int m = 0; m < dims.members; m++)
        weights[m] = member_weights(&doc, &dims, m);

    nbytes = lstm_model_nbytes(&dims);
    model = (LstmModelDatum *)palloc_extended(VARHDRSZ + nbytes, MCXT_ALLOC_HUGE);
    SET_VARSIZE(model, VARHDRSZ + nbytes);
    lstm_model_init_header(&model->header, &dims);
    data = lstm_model_data(LSTM_MODEL_PAYLOAD(model));

    for (int a = 0; a < lstm_model_array_count(&dims); a++) {
        LstmArrayInfo info;
        const LstmJsonNode *v;
        lstm_model_array_info(&dims, a, &info);
        v = lstm_json_get(info.is_scale ? &doc.root : weights[info.member], info.name);
        if (v != NULL) {
            lstm_json_float4_array(&doc, v, info.name, info.rows, info.cols, data + info.offset);
        } else if (info.is_scale) {
            /* Scaling is optional: identity. */
            for (int j = 0; j < info.rows; j++)
                data[info.offset + j] = info.must_be_positive ? 1.0f : 0.0f;
        } else {
            lstm_json_error(&doc,
                            psprintf("A model with hidden_size %d, input_size %d and %d layer%s "
                                     "needs \"%s\" of shape (%d%s)%s.",
                                     dims.hidden_size, dims.input_size, dims.num_layers,
                                     dims.num_layers == 1 ? "" : "s", info.name, info.rows,
                                     info.cols > 0 ? psprintf(", %d", info.cols) : "",
                                     dims.members > 1 ? " in every member" : ""),
                            "missing weight \"%s\"%s", info.name,
                            dims.members > 1 ? psprintf(" in member %d", info.member) : "");
        }
    }
    lstm_json_free(&doc);

    err = lstm_model_validate(LSTM_MODEL_PAYLOAD(model), nbytes, errmsg);
    if (err != LSTM_OK)
        lstm_report_model_error(err, errmsg, LSTM_FROM_TEXT);
    return model;
}

/* ---------- writing the JSON form ---------- */

/*
 * Append the JSON form of a validated model. Version 1 prints as it always
 * did; version 2 adds scaling, log and season, and an ensemble's weights are
 * an array of one state_dict object per member.
 */
static void model_to_json(StringInfo out, const LstmModelDatum *model)
{
    LstmDims dims = lstm_model_dims(&model->header);
    const float *data = lstm_model_data(LSTM_MODEL_PAYLOAD(model));
    int narrays = lstm_model_array_count(&dims);
    int per_member = 4 * dims.num_layers + 2;
    int ensemble = dims.members > 1;

    appendStringInfo(out,
                     "{\"format_version\": %d, \"input_size\": %d, \"hidden_size\": %d, "
                     "\"num_layers\": %d, \"output_size\": %d, \"difference\": %s",
                     (int)model->header.version, dims.input_size, dims.hidden_size, dims.num_layers,
                     dims.output_size, (dims.flags & LSTM_FLAG_DIFFERENCE) ? "true" : "false");
    if (model->header.version != LSTM_MODEL_VERSION_1)
        lstm_json_append_series_options(out, &dims);
    appendStringInfoString(out, ensemble ? ", \"weights\": [{" : ", \"weights\": {");
    for (int a = 0; a < narrays; a++) {
        LstmArrayInfo info;
        int first_of_member = a < dims.members * per_member && a % per_member == 0;
        lstm_model_array_info(&dims, a, &info);
        if (a == dims.members * per_member)
            appendStringInfoString(out, ensemble ? "}]" : "}");
        else if (first_of_member && a > 0)
            appendStringInfoString(out, "}, {");
        appendStringInfo(out, "%s\"%s\": ", first_of_member ? "" : ", ", info.name);
        lstm_json_append_float4_array(out, data + info.offset, info.rows, info.cols);
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

/* lstm_model_in(cstring): the JSON form. */
Datum lstm_model_in(PG_FUNCTION_ARGS)
{
    PG_RETURN_POINTER(model_from_text(PG_GETARG_CSTRING(0)));
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

/* ---------- the binary form ---------- */

/* Read the header fields, network order, into header; what recv checks into fields. */
static void model_read_header(StringInfo buf, void *header, LstmBinaryHeader *fields)
{
    LstmModelHeader *h = header;

    h->magic = (uint32)pq_getmsgint(buf, 4);
    h->version = (uint16)pq_getmsgint(buf, 2);
    h->flags = (uint16)pq_getmsgint(buf, 2);
    h->input_size = (int32)pq_getmsgint(buf, 4);
    h->hidden_size = (int32)pq_getmsgint(buf, 4);
    h->num_layers = (int32)pq_getmsgint(buf, 4);
    h->output_size = (int32)pq_getmsgint(buf, 4);
    h->members = (uint32)pq_getmsgint(buf, 4);
    h->season = (uint32)pq_getmsgint(buf, 4);
    h->reserved = (uint32)pq_getmsgint(buf, 4);
    fields->magic = h->magic;
    fields->version = h->version;
    fields->dims = lstm_model_dims(h);
}

/* Append the header fields in network order; the model's sizes into dims. */
static void model_write_header(StringInfo buf, const void *header, LstmDims *dims)
{
    const LstmModelHeader *h = header;

    pq_sendint32(buf, h->magic);
    pq_sendint16(buf, h->version);
    pq_sendint16(buf, h->flags);
    pq_sendint32(buf, h->input_size);
    pq_sendint32(buf, h->hidden_size);
    pq_sendint32(buf, h->num_layers);
    pq_sendint32(buf, h->output_size);
    pq_sendint32(buf, h->members);
    pq_sendint32(buf, h->season);
    pq_sendint32(buf, h->reserved);
    *dims = lstm_model_dims(h);
}

/* The binary form: the header, then every weight as float4. */
static const LstmBinaryForm model_binary = {.type_name = "lstm_model",
                                            .header_size = sizeof(LstmModelHeader),
                                            .magic = LSTM_MODEL_MAGIC,
                                            .version = LSTM_MODEL_VERSION,
                                            .floats_name = "weights",
                                            .read_header = model_read_header,
                                            .write_header = model_write_header,
                                            .float_count = lstm_model_float_count,
                                            .validate = lstm_model_validate};

/*
 * lstm_model_recv(internal): binary form. Header fields as network-order
 * integers, then every float as float4. The sizes are checked before
 * anything is allocated and the remaining length must match exactly.
 */
Datum lstm_model_recv(PG_FUNCTION_ARGS)
{
    PG_RETURN_POINTER(lstm_binary_recv(&model_binary, (StringInfo)PG_GETARG_POINTER(0)));
}

/* lstm_model_send(lstm_model): the binary form read by lstm_model_recv. */
Datum lstm_model_send(PG_FUNCTION_ARGS)
{
    LstmModelDatum *model = lstm_model_from_datum(PG_GETARG_DATUM(0));
    PG_RETURN_BYTEA_P(
        lstm_binary_send(&model_binary, LSTM_MODEL_PAYLOAD(model), LSTM_MODEL_PAYLOAD_SIZE(model)));
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

/* lstm_model_from_jsonb(jsonb): a model from its JSON form (the cast), read as its text. */
Datum lstm_model_from_jsonb(PG_FUNCTION_ARGS)
{
    Jsonb *jb = PG_GETARG_JSONB_P(0);
    char *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
    LstmModelDatum *model = model_from_text(text);
    pfree(text);
    PG_RETURN_POINTER(model);
}

/*
 * lstm_model_info(lstm_model): sizes, members, scaling, log, season,
 * calibrated (only when true), parameter count and fingerprint.
 */
Datum lstm_model_info(PG_FUNCTION_ARGS)
{
    LstmModelDatum *model = lstm_model_from_datum(PG_GETARG_DATUM(0));
    LstmDims dims = lstm_model_dims(&model->header);
    StringInfoData out;

    initStringInfo(&out);
    appendStringInfo(&out,
                     "{\"format_version\": %d, \"input_size\": %d, \"hidden_size\": %d, "
                     "\"num_layers\": %d, \"output_size\": %d, \"difference\": %s, "
                     "\"members\": %d",
                     (int)model->header.version, dims.input_size, dims.hidden_size, dims.num_layers,
                     dims.output_size, (dims.flags & LSTM_FLAG_DIFFERENCE) ? "true" : "false",
                     dims.members);
    lstm_json_append_series_options(&out, &dims);
    if (dims.calibrated)
        appendStringInfoString(&out, ", \"calibrated\": true");
    appendStringInfo(&out,
                     ", \"parameters\": %zu, \"bytes\": %zu, \"fingerprint\": \"%016" PRIx64 "\"}",
                     lstm_model_parameter_count(&dims), (size_t)VARSIZE(model),
                     lstm_model_fingerprint_of(model));
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
