/*
 * model_format.c - sizes, layout, validation and fingerprint of a serialized model.
 */
#include "model_format.h"

#include "normalizer.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The sizes as an LstmDims. */
LstmDims lstm_dims_make(int input_size, int hidden_size, int num_layers, int output_size,
                        unsigned flags)
{
    LstmDims dims;
    dims.input_size = input_size;
    dims.hidden_size = hidden_size;
    dims.num_layers = num_layers;
    dims.output_size = output_size;
    dims.flags = flags;
    dims.members = 1;
    dims.season = 0;
    dims.calibrated = 0;
    return dims;
}

/* Is one size within 1..max? Otherwise a message naming it. */
static LstmError check_size(const char *name, int value, int max, char *errmsg)
{
    if (value < 1 || value > max) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "%s %d is outside the range 1 to %d", name, value, max);
        return LSTM_ERR_LIMIT;
    }
    return LSTM_OK;
}

/*
 * The rules of series scaling: the log and a season need it; it excludes
 * differencing; its network input is the normaliser's features.
 */
static LstmError check_series_scaling(const LstmDims *dims, char *errmsg)
{
    bool scaled = (dims->flags & LSTM_FLAG_SERIES_SCALING) != 0;
    int want;

    if (dims->season < 0 || dims->season == 1 || dims->season > LSTM_MAX_SEASON) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "season %d is outside 0 (none) or 2 to %d", dims->season,
                 LSTM_MAX_SEASON);
        return LSTM_ERR_LIMIT;
    }
    if (!scaled && ((dims->flags & LSTM_FLAG_LOG) || dims->season > 0)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "a log transform or a season needs series scaling");
        return LSTM_ERR_FORMAT;
    }
    if (!scaled && dims->calibrated) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "prediction interval calibration needs series scaling");
        return LSTM_ERR_FORMAT;
    }
    if (!scaled)
        return LSTM_OK;
    if (dims->flags & LSTM_FLAG_DIFFERENCE) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "series scaling and difference cannot be combined");
        return LSTM_ERR_FORMAT;
    }
    want = lstm_normalizer_input_size(dims->season, dims->output_size);
    if (dims->input_size != want) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "a series-scaled model with season %d and output_size %d has input_size %d, "
                 "not %d",
                 dims->season, dims->output_size, want, dims->input_size);
        return LSTM_ERR_FORMAT;
    }
    return LSTM_OK;
}

/* Check the sizes and the flags against the limits and each other. */
LstmError lstm_dims_check(const LstmDims *dims, char *errmsg)
{
    LstmError err;

    if ((err = check_size("input_size", dims->input_size, LSTM_MAX_INPUT, errmsg)) != LSTM_OK ||
        (err = check_size("hidden_size", dims->hidden_size, LSTM_MAX_HIDDEN, errmsg)) != LSTM_OK ||
        (err = check_size("num_layers", dims->num_layers, LSTM_MAX_LAYERS, errmsg)) != LSTM_OK ||
        (err = check_size("output_size", dims->output_size, LSTM_MAX_OUTPUT, errmsg)) != LSTM_OK)
        return err;
    if ((dims->flags & ~LSTM_KNOWN_FLAGS) != 0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "unknown flags 0x%x", dims->flags);
        return LSTM_ERR_FORMAT;
    }
    if ((err = check_size("members", dims->members, LSTM_MAX_MEMBERS, errmsg)) != LSTM_OK ||
        (err = check_series_scaling(dims, errmsg)) != LSTM_OK)
        return err;
    /*
     * With every size within its limit the counts below fit easily in size_t
     * (at most 16 layers of 4*4096*4096 floats, about 1.1e9), so the only
     * remaining limit is the total byte size.
     */
    if (lstm_model_nbytes(dims) > LSTM_MAX_MODEL_BYTES) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "a model of %zu bytes exceeds the maximum of %zu bytes",
                 lstm_model_nbytes(dims), (size_t)LSTM_MAX_MODEL_BYTES);
        return LSTM_ERR_LIMIT;
    }
    return LSTM_OK;
}

/* Floats of one member: its layers and its head. */
size_t lstm_model_member_float_count(const LstmDims *dims)
{
    size_t H = (size_t)dims->hidden_size;
    size_t I = (size_t)dims->input_size;
    size_t O = (size_t)dims->output_size;
    size_t L = (size_t)dims->num_layers;
    size_t per_layer_hh = 4 * H * H + 8 * H;
    size_t count = 4 * H * I + per_layer_hh;       /* layer 0 */
    count += (L - 1) * (4 * H * H + per_layer_hh); /* layers 1..L-1 */
    count += O * H + O;                            /* head */
    return count;
}

/* Floats of the calibration array: (O, Q) when calibrated, else none. */
static size_t calibration_float_count(const LstmDims *dims)
{
    return dims->calibrated ? (size_t)dims->output_size * LSTM_CALIBRATION_QUANTILES : 0;
}

/* Floats in the data block; sizes must be within the limits. */
size_t lstm_model_float_count(const LstmDims *dims)
{
    return (size_t)dims->members * lstm_model_member_float_count(dims) +
           2 * (size_t)dims->input_size + 2 * (size_t)dims->output_size + /* scaling */
           calibration_float_count(dims);
}

/* Serialized size: header plus floats. */
size_t lstm_model_nbytes(const LstmDims *dims)
{
    return sizeof(LstmModelHeader) + lstm_model_float_count(dims) * sizeof(float);
}

/* Trainable parameters: every float except the four scaling vectors and the calibration. */
size_t lstm_model_parameter_count(const LstmDims *dims)
{
    return lstm_model_float_count(dims) - 2 * (size_t)dims->input_size -
           2 * (size_t)dims->output_size - calibration_float_count(dims);
}

/* Number of named arrays in the data block. */
int lstm_model_array_count(const LstmDims *dims)
{
    return dims->members * (4 * dims->num_layers + 2) + 4 + (dims->calibrated ? 1 : 0);
}

/* Name, shape and offset of array number index. */
void lstm_model_array_info(const LstmDims *dims, int index, LstmArrayInfo *info)
{
    int H = dims->hidden_size, I = dims->input_size, O = dims->output_size;
    int L = dims->num_layers, per_member = 4 * L + 2;
    int member = index < dims->members * per_member ? index / per_member : dims->members - 1;
    size_t offset = (size_t)member * lstm_model_member_float_count(dims);

    index -= member * per_member;
    memset(info, 0, sizeof(*info));
    info->member = index < per_member ? member : 0;
    for (int k = 0; k < L; k++) {
        int in = k == 0 ? I : H;
        int base = 4 * k;
        if (index == base) {
            snprintf(info->name, sizeof(info->name), "weight_ih_l%d", k);
            info->rows = 4 * H, info->cols = in, info->offset = offset;
            return;
        }
        offset += (size_t)4 * H * in;
        if (index == base + 1) {
            snprintf(info->name, sizeof(info->name), "weight_hh_l%d", k);
            info->rows = 4 * H, info->cols = H, info->offset = offset;
            return;
        }
        offset += (size_t)4 * H * H;
        if (index == base + 2) {
            snprintf(info->name, sizeof(info->name), "bias_ih_l%d", k);
            info->rows = 4 * H, info->offset = offset;
            return;
        }
        offset += (size_t)4 * H;
        if (index == base + 3) {
            snprintf(info->name, sizeof(info->name), "bias_hh_l%d", k);
            info->rows = 4 * H, info->offset = offset;
            return;
        }
        offset += (size_t)4 * H;
    }
    index -= 4 * L;
    switch (index) {
    case 0:
        snprintf(info->name, sizeof(info->name), "head.weight");
        info->rows = O, info->cols = H, info->offset = offset;
        return;
    case 1:
        snprintf(info->name, sizeof(info->name), "head.bias");
        info->rows = O, info->offset = offset + (size_t)O * H;
        return;
    }
    offset += (size_t)O * H + O; /* the end of the last member: the scaling vectors follow */
    info->is_scale = 1;
    switch (index) {
    case 2:
        snprintf(info->name, sizeof(info->name), "input_mean");
        info->rows = I, info->offset = offset;
        return;
    case 3:
        snprintf(info->name, sizeof(info->name), "input_std");
        info->rows = I, info->offset = offset + I, info->must_be_positive = 1;
        return;
    case 4:
        snprintf(info->name, sizeof(info->name), "output_mean");
        info->rows = O, info->offset = offset + 2 * (size_t)I;
        return;
    case 5:
        snprintf(info->name, sizeof(info->name), "output_std");
        info->rows = O, info->offset = offset + 2 * (size_t)I + O;
        info->must_be_positive = 1;
        return;
    default:
        snprintf(info->name, sizeof(info->name), "calibration");
        info->rows = O, info->cols = LSTM_CALIBRATION_QUANTILES;
        info->offset = offset + 2 * (size_t)I + 2 * (size_t)O;
        return;
    }
}

/* Sizes from a header (no checks); version 1's zero members means one. */
LstmDims lstm_model_dims(const LstmModelHeader *header)
{
    LstmDims dims = lstm_dims_make(header->input_size, header->hidden_size, header->num_layers,
                                   header->output_size, header->flags & ~LSTM_FLAG_CALIBRATED);
    dims.members =
        header->members == 0
            ? 1
            : (int)(header->members > LSTM_MAX_MEMBERS ? LSTM_MAX_MEMBERS + 1 : header->members);
    dims.season = header->season > LSTM_MAX_SEASON ? LSTM_MAX_SEASON + 1 : (int)header->season;
    dims.calibrated = (header->flags & LSTM_FLAG_CALIBRATED) != 0;
    return dims;
}

/* Does a model with these sizes fit version 1 (today's bytes)? */
static bool fits_version_1(const LstmDims *dims)
{
    return dims->members == 1 && dims->season == 0 && !dims->calibrated &&
           (dims->flags & ~LSTM_KNOWN_FLAGS_V1) == 0;
}

/* The magic number and version every serialized form starts with. */
LstmError lstm_header_check_version(uint32_t magic, uint32_t expected_magic, unsigned version,
                                    unsigned expected_version, char *errmsg)
{
    if (magic != expected_magic) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "bad magic number 0x%08x", (unsigned)magic);
        return LSTM_ERR_FORMAT;
    }
    if (version != expected_version) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "unsupported format version %u (expected %u)", version,
                 expected_version);
        return LSTM_ERR_FORMAT;
    }
    return LSTM_OK;
}

/* Fill a header for checked sizes. */
void lstm_model_init_header(LstmModelHeader *header, const LstmDims *dims)
{
    memset(header, 0, sizeof(*header));
    header->magic = LSTM_MODEL_MAGIC;
    header->flags = (uint16_t)(dims->flags | (dims->calibrated ? LSTM_FLAG_CALIBRATED : 0));
    header->input_size = dims->input_size;
    header->hidden_size = dims->hidden_size;
    header->num_layers = dims->num_layers;
    header->output_size = dims->output_size;
    if (fits_version_1(dims))
        header->version = LSTM_MODEL_VERSION_1;
    else {
        header->version = LSTM_MODEL_VERSION;
        header->members = (uint32_t)dims->members;
        header->season = (uint32_t)dims->season;
    }
}

/* The float block that follows the header. */
float *lstm_model_data(void *bytes)
{
    return (float *)((char *)bytes + sizeof(LstmModelHeader));
}

/* The calibration array (finite already) must be nondecreasing along every row. */
static LstmError check_calibration(const LstmDims *dims, const float *data, char *errmsg)
{
    LstmArrayInfo info;

    if (!dims->calibrated)
        return LSTM_OK;
    lstm_model_array_info(dims, lstm_model_array_count(dims) - 1, &info);
    for (int k = 0; k < info.rows; k++)
        for (int q = 1; q < info.cols; q++) {
            float a, b;
            memcpy(&a, data + info.offset + (size_t)k * info.cols + q - 1, sizeof(a));
            memcpy(&b, data + info.offset + (size_t)k * info.cols + q, sizeof(b));
            if (b < a) {
                snprintf(errmsg, LSTM_ERRMSG_LEN,
                         "calibration[%d][%d] is %g, below calibration[%d][%d] (%g): the error "
                         "quantiles must be nondecreasing",
                         k, q, (double)b, k, q - 1, (double)a);
                return LSTM_ERR_FORMAT;
            }
        }
    return LSTM_OK;
}

/* Validate untrusted bytes: header, sizes, exact length, finite values. */
LstmError lstm_model_validate(const void *bytes, size_t nbytes, char *errmsg)
{
    LstmModelHeader header;
    LstmDims dims;
    LstmError err;
    const float *data;

    if (nbytes < sizeof(LstmModelHeader)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "model is %zu bytes, shorter than its %zu-byte header",
                 nbytes, sizeof(LstmModelHeader));
        return LSTM_ERR_FORMAT;
    }
    memcpy(&header, bytes, sizeof(header));
    err = lstm_header_check_version(header.magic, LSTM_MODEL_MAGIC,
                                    header.version == LSTM_MODEL_VERSION_1 ? LSTM_MODEL_VERSION
                                                                           : header.version,
                                    LSTM_MODEL_VERSION, errmsg);
    if (err != LSTM_OK)
        return err;
    if (header.version == LSTM_MODEL_VERSION_1 && (header.members != 0 || header.season != 0)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "reserved header field %d is not zero",
                 header.members != 0 ? 0 : 1);
        return LSTM_ERR_FORMAT;
    }
    if (header.reserved != 0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "reserved header field 2 is not zero");
        return LSTM_ERR_FORMAT;
    }
    if (header.version == LSTM_MODEL_VERSION_1 && (header.flags & ~LSTM_KNOWN_FLAGS_V1) != 0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "unknown flags 0x%x", (unsigned)header.flags);
        return LSTM_ERR_FORMAT;
    }
    dims = lstm_model_dims(&header);
    err = lstm_dims_check(&dims, errmsg);
    if (err != LSTM_OK)
        return err;
    if (header.version == LSTM_MODEL_VERSION && fits_version_1(&dims)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "a model that fits format version 1 must be written as "
                 "version 1");
        return LSTM_ERR_FORMAT;
    }
    if (nbytes != lstm_model_nbytes(&dims)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "model is %zu bytes but its sizes (input %d, hidden %d, layers %d, output %d) "
                 "need %zu",
                 nbytes, dims.input_size, dims.hidden_size, dims.num_layers, dims.output_size,
                 lstm_model_nbytes(&dims));
        return LSTM_ERR_FORMAT;
    }
    data = (const float *)((const char *)bytes + sizeof(LstmModelHeader));
    for (int a = 0; a < lstm_model_array_count(&dims); a++) {
        LstmArrayInfo info;
        size_t n;
        lstm_model_array_info(&dims, a, &info);
        n = (size_t)info.rows * (info.cols > 0 ? (size_t)info.cols : 1);
        for (size_t j = 0; j < n; j++) {
            float v;
            memcpy(&v, data + info.offset + j, sizeof(v));
            if (!isfinite(v) || (info.must_be_positive && !(v > 0.0f))) {
                char where[96];
                char name[48];
                if (dims.members > 1 && !info.is_scale)
                    snprintf(name, sizeof(name), "member %d %s", info.member, info.name);
                else
                    snprintf(name, sizeof(name), "%s", info.name);
                if (info.cols > 0)
                    snprintf(where, sizeof(where), "%s[%zu][%zu]", name, j / (size_t)info.cols,
                             j % (size_t)info.cols);
                else
                    snprintf(where, sizeof(where), "%s[%zu]", name, j);
                if (!isfinite(v)) {
                    snprintf(errmsg, LSTM_ERRMSG_LEN, "%s is not finite", where);
                    return LSTM_ERR_NONFINITE;
                }
                snprintf(errmsg, LSTM_ERRMSG_LEN, "%s is %g but a standard deviation must be > 0",
                         where, (double)v);
                return LSTM_ERR_SCALE;
            }
        }
    }
    return check_calibration(&dims, data, errmsg);
}

/* Where every array of member j and the scaling vectors start. */
void lstm_model_member_offsets(const LstmDims *dims, int member, LstmModelOffsets *offsets)
{
    LstmArrayInfo info;
    int L = dims->num_layers, base = member * (4 * L + 2), scale = dims->members * (4 * L + 2);

    memset(offsets, 0, sizeof(*offsets));
    for (int k = 0; k < L; k++) {
        lstm_model_array_info(dims, base + 4 * k, &info);
        offsets->weight_ih[k] = info.offset;
        offsets->in_size[k] = info.cols;
        lstm_model_array_info(dims, base + 4 * k + 1, &info);
        offsets->weight_hh[k] = info.offset;
        lstm_model_array_info(dims, base + 4 * k + 2, &info);
        offsets->bias_ih[k] = info.offset;
        lstm_model_array_info(dims, base + 4 * k + 3, &info);
        offsets->bias_hh[k] = info.offset;
    }
    lstm_model_array_info(dims, base + 4 * L, &info);
    offsets->head_weight = info.offset;
    lstm_model_array_info(dims, base + 4 * L + 1, &info);
    offsets->head_bias = info.offset;
    lstm_model_array_info(dims, scale, &info);
    offsets->input_mean = info.offset;
    lstm_model_array_info(dims, scale + 1, &info);
    offsets->input_std = info.offset;
    lstm_model_array_info(dims, scale + 2, &info);
    offsets->output_mean = info.offset;
    lstm_model_array_info(dims, scale + 3, &info);
    offsets->output_std = info.offset;
    if (dims->calibrated) {
        lstm_model_array_info(dims, scale + 4, &info);
        offsets->calibration = info.offset;
    }
}

/* Where every array of member 0 and the scaling vectors start. */
void lstm_model_offsets(const LstmDims *dims, LstmModelOffsets *offsets)
{
    lstm_model_member_offsets(dims, 0, offsets);
}

/* Pointers to every array of a validated model. */
void lstm_model_view(const void *bytes, LstmModelView *view)
{
    const LstmModelHeader *header = (const LstmModelHeader *)bytes;
    const float *data = (const float *)((const char *)bytes + sizeof(LstmModelHeader));
    LstmModelOffsets off;

    memset(view, 0, sizeof(*view));
    view->dims = lstm_model_dims(header);
    for (int j = 0; j < view->dims.members; j++) {
        LstmMemberWeights *m = &view->member[j];
        lstm_model_member_offsets(&view->dims, j, &off);
        for (int k = 0; k < view->dims.num_layers; k++) {
            LstmLayerWeights *w = &m->layer[k];
            w->weight_ih = data + off.weight_ih[k];
            w->weight_hh = data + off.weight_hh[k];
            w->bias_ih = data + off.bias_ih[k];
            w->bias_hh = data + off.bias_hh[k];
            w->in_size = off.in_size[k];
        }
        m->head_weight = data + off.head_weight;
        m->head_bias = data + off.head_bias;
    }
    memcpy(view->layer, view->member[0].layer, sizeof(view->layer));
    view->head_weight = view->member[0].head_weight;
    view->head_bias = view->member[0].head_bias;
    view->input_mean = data + off.input_mean;
    view->input_std = data + off.input_std;
    view->output_mean = data + off.output_mean;
    view->output_std = data + off.output_std;
    view->calibration = view->dims.calibrated ? data + off.calibration : NULL;
}

/* 64-bit FNV-1a over the serialized bytes. */
uint64_t lstm_model_fingerprint(const void *bytes, size_t nbytes)
{
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < nbytes; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}
