/*
 * stream.c - the serialized lstm_state, its validation, and the streaming
 * step; the anomaly score itself is core/anomaly.c.
 */
#include "stream.h"
#include "normalizer.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

_Static_assert(sizeof(LstmStateHeader) == 96, "LstmStateHeader must be 96 bytes");

/* The normaliser's fields before its ring: rows, last, change, level, scale. */
#define NORMALIZER_FIELDS 5

/* Version 1 for a version-1 model (one member, no season, no flag but DIFFERENCE), else 2. */
int lstm_state_version(const LstmDims *dims)
{
    return dims->members == 1 && dims->season == 0 && (dims->flags & ~LSTM_FLAG_DIFFERENCE) == 0
               ? LSTM_STATE_VERSION_V1
               : LSTM_STATE_VERSION;
}

/* h and c of every member and layer. */
size_t lstm_state_float_count(const LstmDims *dims)
{
    return 2 * (size_t)dims->members * (size_t)dims->num_layers * (size_t)dims->hidden_size;
}

/* The normaliser's 8-byte fields: the five scalars and the ring. */
size_t lstm_state_normalizer_count(const LstmDims *dims)
{
    if (!(dims->flags & LSTM_FLAG_SERIES_SCALING))
        return 0;
    return NORMALIZER_FIELDS + lstm_normalizer_ring_size(dims->season);
}

/* The header, h and c of every member and layer, then the normaliser. */
size_t lstm_state_nbytes(const LstmDims *dims)
{
    return sizeof(LstmStateHeader) + lstm_state_float_count(dims) * sizeof(float) +
           lstm_state_normalizer_count(dims) * sizeof(double);
}

/* The header, h and c, and the anomaly block. */
size_t lstm_stream_nbytes(const LstmStream *stream, const LstmDims *dims)
{
    return lstm_state_nbytes(dims) +
           lstm_anomaly_block_nbytes(stream->anomaly.settings.short_window);
}

/* Copy the header out of bytes that may not be 8-byte aligned. */
void lstm_state_read_header(const void *bytes, LstmStateHeader *header)
{
    memcpy(header, bytes, sizeof(*header));
}

/* The model sizes a state records (members and season in version 2 only). */
LstmDims lstm_state_dims(const LstmStateHeader *header)
{
    LstmDims dims = lstm_dims_make(header->input_size, header->hidden_size, header->num_layers,
                                   header->output_size, header->model_flags);
    if (header->version == LSTM_STATE_VERSION) {
        dims.members = header->members;
        dims.season =
            (int)(header->season > LSTM_MAX_SEASON ? LSTM_MAX_SEASON + 1 : header->season);
    }
    return dims;
}

/* Write "<field> must be finite" style messages for one double field. */
static LstmError check_double(double value, const char *name, char *errmsg)
{
    if (!isfinite(value)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "%s is not finite", name);
        return LSTM_ERR_NONFINITE;
    }
    return LSTM_OK;
}

/* Check the header fields of a state whose length is at least the header. */
static LstmError validate_header(const LstmStateHeader *hd, size_t nbytes, char *errmsg)
{
    LstmDims dims;
    LstmError err;
    size_t expected;

    err = lstm_header_check_version(
        hd->magic, LSTM_STATE_MAGIC, hd->version,
        hd->version == LSTM_STATE_VERSION_V1 ? LSTM_STATE_VERSION_V1 : LSTM_STATE_VERSION, errmsg);
    if (err != LSTM_OK)
        return err;
    if (hd->flags & ~LSTM_STATE_KNOWN_FLAGS) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "unknown state flags 0x%04x", (unsigned)hd->flags);
        return LSTM_ERR_FORMAT;
    }
    if (hd->model_flags &
        ~(hd->version == LSTM_STATE_VERSION_V1 ? LSTM_FLAG_DIFFERENCE : LSTM_KNOWN_FLAGS)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "unknown model flags 0x%04x", (unsigned)hd->model_flags);
        return LSTM_ERR_FORMAT;
    }
    if (hd->version == LSTM_STATE_VERSION_V1 && (hd->members != 0 || hd->season != 0)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "reserved header fields are not zero");
        return LSTM_ERR_FORMAT;
    }
    dims = lstm_state_dims(hd);
    err = lstm_dims_check(&dims, errmsg);
    if (err != LSTM_OK)
        return err;
    if ((int)hd->version != lstm_state_version(&dims)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "a version-%d state for a model whose states are version %d", (int)hd->version,
                 lstm_state_version(&dims));
        return LSTM_ERR_FORMAT;
    }
    expected = lstm_state_nbytes(&dims);
    if ((hd->flags & LSTM_STATE_HAS_LIKELIHOOD) ? nbytes < expected : nbytes != expected) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "state is %zu bytes but a model with hidden_size %d, %d layer%s and %d member%s "
                 "needs %zu",
                 nbytes, dims.hidden_size, dims.num_layers, dims.num_layers == 1 ? "" : "s",
                 dims.members, dims.members == 1 ? "" : "s", expected);
        return LSTM_ERR_FORMAT;
    }
    if (hd->steps < 0 || hd->residual_count < 0 || hd->residual_count > hd->steps) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "steps %lld and residual_count %lld are inconsistent (need 0 <= "
                 "residual_count <= steps)",
                 (long long)hd->steps, (long long)hd->residual_count);
        return LSTM_ERR_FORMAT;
    }
    if ((err = check_double(hd->last_value, "last_value", errmsg)) != LSTM_OK ||
        (err = check_double(hd->residual_mean, "residual_mean", errmsg)) != LSTM_OK ||
        (err = check_double(hd->residual_variance, "residual_variance", errmsg)) != LSTM_OK ||
        (err = check_double(hd->last_forecast, "last_forecast", errmsg)) != LSTM_OK ||
        (err = check_double(hd->last_score, "last_score", errmsg)) != LSTM_OK)
        return err;
    if (hd->residual_variance < 0.0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "residual_variance is negative");
        return LSTM_ERR_FORMAT;
    }
    if (hd->residual_count == 0 && (hd->residual_mean != 0.0 || hd->residual_variance != 0.0)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "residual statistics are set but residual_count is 0");
        return LSTM_ERR_FORMAT;
    }
    if ((hd->flags & LSTM_STATE_HAS_SCORE) && !(hd->flags & LSTM_STATE_HAS_FORECAST)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "a score without a forecast");
        return LSTM_ERR_FORMAT;
    }
    if ((hd->flags & LSTM_STATE_HAS_FORECAST) && hd->residual_count == 0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "a forecast but no residual");
        return LSTM_ERR_FORMAT;
    }
    if (!(hd->flags & LSTM_STATE_HAS_FORECAST) && hd->last_forecast != 0.0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "last_forecast is set but the forecast flag is not");
        return LSTM_ERR_FORMAT;
    }
    if (!(hd->flags & LSTM_STATE_HAS_SCORE) && hd->last_score != 0.0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "last_score is set but the score flag is not");
        return LSTM_ERR_FORMAT;
    }
    if (hd->last_score < 0.0 || hd->last_score > 1.0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "last_score %g is outside [0, 1]", hd->last_score);
        return LSTM_ERR_FORMAT;
    }
    return LSTM_OK;
}

/*
 * Check the anomaly block of available bytes after c (and the normaliser): its own checks, its
 * exact length, and its counts against the header's residual count.
 */
static LstmError validate_block(const LstmStateHeader *hd, const void *block, size_t available,
                                char *errmsg)
{
    LstmAnomaly anomaly;
    size_t nbytes;
    LstmError err = lstm_anomaly_block_check(block, available, &nbytes, &anomaly, errmsg);

    if (err != LSTM_OK)
        return err;
    if (nbytes != available) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "state has %zu bytes after its anomaly block",
                 available - nbytes);
        return LSTM_ERR_FORMAT;
    }
    if (anomaly.averages.count > hd->residual_count || anomaly.ring_fill > hd->residual_count ||
        ((anomaly.flags & LSTM_ANOMALY_HAS_RANGE) && hd->steps == 0) ||
        (!(hd->flags & LSTM_STATE_HAS_FORECAST) && anomaly.last_residual != 0.0)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "the anomaly block's counts do not fit steps %lld and residual_count %lld",
                 (long long)hd->steps, (long long)hd->residual_count);
        return LSTM_ERR_FORMAT;
    }
    return LSTM_OK;
}

/* The normaliser of a series-scaled model's state, read from its 8-byte fields. */
typedef struct StoredNormalizer {
    int64_t rows;
    double last, change, level, scale;
} StoredNormalizer;

/* Read the five scalars of the normaliser block (may be unaligned). */
static void read_normalizer(const char *block, StoredNormalizer *nz)
{
    memcpy(&nz->rows, block, 8);
    memcpy(&nz->last, block + 8, 8);
    memcpy(&nz->change, block + 16, 8);
    memcpy(&nz->level, block + 24, 8);
    memcpy(&nz->scale, block + 32, 8);
}

/*
 * Check the normaliser block of a series-scaled state: rows equal to steps,
 * finite values, scale >= 0, nothing set before the first row and ring
 * slots not yet written zero (equal states have equal bytes).
 */
static LstmError validate_normalizer(const LstmStateHeader *hd, const LstmDims *dims,
                                     const char *block, char *errmsg)
{
    StoredNormalizer nz;
    size_t ring = lstm_normalizer_ring_size(dims->season);
    LstmError err;

    read_normalizer(block, &nz);
    if (nz.rows != hd->steps) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "normalizer rows %lld differ from steps %lld",
                 (long long)nz.rows, (long long)hd->steps);
        return LSTM_ERR_FORMAT;
    }
    if ((err = check_double(nz.last, "normalizer last", errmsg)) != LSTM_OK ||
        (err = check_double(nz.change, "normalizer change", errmsg)) != LSTM_OK ||
        (err = check_double(nz.level, "normalizer level", errmsg)) != LSTM_OK ||
        (err = check_double(nz.scale, "normalizer scale", errmsg)) != LSTM_OK)
        return err;
    if (nz.scale < 0.0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "normalizer scale is negative");
        return LSTM_ERR_FORMAT;
    }
    if (hd->last_value != 0.0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "last_value is set but the model is series-scaled");
        return LSTM_ERR_FORMAT;
    }
    if (nz.rows == 0 &&
        (nz.last != 0.0 || nz.change != 0.0 || nz.level != 0.0 || nz.scale != 0.0)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "normalizer statistics are set but rows is 0");
        return LSTM_ERR_FORMAT;
    }
    for (size_t i = 0; i < ring; i++) {
        double v;
        memcpy(&v, block + (NORMALIZER_FIELDS + i) * 8, 8);
        if (!isfinite(v)) {
            snprintf(errmsg, LSTM_ERRMSG_LEN, "normalizer recent[%zu] is not finite", i);
            return LSTM_ERR_NONFINITE;
        }
        if ((int64_t)i >= nz.rows && v != 0.0) {
            snprintf(errmsg, LSTM_ERRMSG_LEN,
                     "normalizer recent[%zu] is set but only %lld rows were consumed", i,
                     (long long)nz.rows);
            return LSTM_ERR_FORMAT;
        }
    }
    return LSTM_OK;
}

/* Eight floats and eight ints: one AVX2 register each (two SSE registers in the default build). */
typedef float StateFloats8 __attribute__((vector_size(32), aligned(4)));
typedef int StateInts8 __attribute__((vector_size(32), aligned(4)));

/*
 * Are the n floats at bytes (unaligned) all within [-bound, bound]? NaN is
 * not. Eight at a time, branch-free: every state read or written is checked.
 */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static int
floats_bounded(const char *bytes, size_t n, float bound)
{
    const StateInts8 sign = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                             INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    const StateFloats8 limit = {bound, bound, bound, bound, bound, bound, bound, bound};
    StateInts8 bad8 = {0, 0, 0, 0, 0, 0, 0, 0};
    int bad = 0;
    size_t k = 0;

    for (; k + 8 <= n; k += 8) {
        StateFloats8 v;
        memcpy(&v, bytes + k * sizeof(float), sizeof(v));
        v = (StateFloats8)((StateInts8)v & ~sign); /* |v| */
        bad8 |= ~(v <= limit);                     /* true for NaN too */
    }
    for (int j = 0; j < 8; j++)
        bad |= bad8[j];
    for (; k < n; k++) {
        float v;
        memcpy(&v, bytes + k * sizeof(float), sizeof(float));
        bad |= !(fabsf(v) <= bound);
    }
    return bad == 0;
}

/* The error for the first h value outside [-1, 1] or non-finite c value of a state. */
static LstmError describe_bad_value(const LstmStateHeader *header, const LstmDims *dims,
                                    const char *floats, size_t n, size_t per_member, char *errmsg)
{
    const LstmStateHeader hd = *header;
    for (size_t k = 0; k < 2 * n; k++) {
        float v;
        const char *name = k < n ? "h" : "c";
        size_t i = k < n ? k : k - n;
        char where[64];
        memcpy(&v, floats + k * sizeof(float), sizeof(float));
        if (isfinite(v) && !(k < n && fabsf(v) > 1.0f))
            continue; /* a valid value: name it only when it is wrong */
        if (dims->members == 1)
            snprintf(where, sizeof(where), "%s[%zu][%zu]", name, i / (size_t)hd.hidden_size,
                     i % (size_t)hd.hidden_size);
        else
            snprintf(where, sizeof(where), "%s[%zu][%zu][%zu]", name, i / per_member,
                     i % per_member / (size_t)hd.hidden_size, i % (size_t)hd.hidden_size);
        if (!isfinite(v)) {
            snprintf(errmsg, LSTM_ERRMSG_LEN, "%s is not finite", where);
            return LSTM_ERR_NONFINITE;
        }
        if (k < n && fabsf(v) > 1.0f) {
            snprintf(errmsg, LSTM_ERRMSG_LEN, "%s = %g is outside [-1, 1]", where, (double)v);
            return LSTM_ERR_FORMAT;
        }
    }
    snprintf(errmsg, LSTM_ERRMSG_LEN, "h or c is out of range");
    return LSTM_ERR_FORMAT;
}

/*
 * Validate untrusted state bytes: header, length, every h and c value, the
 * normaliser, the anomaly block.
 */
LstmError lstm_state_validate(const void *bytes, size_t nbytes, char *errmsg)
{
    LstmStateHeader hd;
    LstmDims dims;
    LstmError err;
    const char *floats = (const char *)bytes + sizeof(LstmStateHeader);
    size_t n, per_member, base;

    if (nbytes < sizeof(LstmStateHeader)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "state is %zu bytes, shorter than the %zu-byte header",
                 nbytes, sizeof(LstmStateHeader));
        return LSTM_ERR_FORMAT;
    }
    lstm_state_read_header(bytes, &hd);
    err = validate_header(&hd, nbytes, errmsg);
    if (err != LSTM_OK)
        return err;
    dims = lstm_state_dims(&hd);
    per_member = (size_t)hd.num_layers * (size_t)hd.hidden_size;
    n = (size_t)dims.members * per_member; /* h, then c: (members, L, H) each */
    if (!floats_bounded(floats, n, 1.0f) || !floats_bounded(floats + n * sizeof(float), n, FLT_MAX))
        return describe_bad_value(&hd, &dims, floats, n, per_member, errmsg);
    base = lstm_state_nbytes(&dims); /* the anomaly block follows c and the normaliser */
    if (dims.flags & LSTM_FLAG_SERIES_SCALING) {
        err = validate_normalizer(&hd, &dims, floats + 2 * n * sizeof(float), errmsg);
        if (err != LSTM_OK)
            return err;
    }
    if (hd.flags & LSTM_STATE_HAS_LIKELIHOOD)
        return validate_block(&hd, (const char *)bytes + base, nbytes - base, errmsg);
    return LSTM_OK;
}

/* Is this state the model's? Compares the sizes, flags and fingerprint. */
int lstm_state_matches_model(const LstmStateHeader *header, const LstmDims *dims,
                             uint64_t fingerprint, char *errmsg)
{
    LstmDims own = lstm_state_dims(header);
    if (own.input_size != dims->input_size || own.hidden_size != dims->hidden_size ||
        own.num_layers != dims->num_layers || own.output_size != dims->output_size ||
        own.flags != dims->flags || own.members != dims->members || own.season != dims->season) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "the state is for a model with input_size %d, hidden_size %d, %d layer%s and "
                 "output_size %d; this model has %d, %d, %d and %d",
                 own.input_size, own.hidden_size, own.num_layers, own.num_layers == 1 ? "" : "s",
                 own.output_size, dims->input_size, dims->hidden_size, dims->num_layers,
                 dims->output_size);
        return 0;
    }
    if (header->model_fingerprint != fingerprint) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "the state was made by the model with fingerprint %016llx; this model's is "
                 "%016llx",
                 (unsigned long long)header->model_fingerprint, (unsigned long long)fingerprint);
        return 0;
    }
    return 1;
}

/* A fresh stream: no rows, zero state, no residuals, the default settings. */
void lstm_stream_init(LstmStream *stream, const LstmDims *dims, float *memory)
{
    LstmAnomalySettings defaults;

    lstm_series_init(&stream->series, dims, memory);
    lstm_anomaly_settings_default(&defaults);
    lstm_anomaly_init(&stream->anomaly, &defaults);
    stream->flags = 0;
    stream->last_forecast = 0.0;
    stream->last_score = 0.0;
    memset(&stream->row, 0, sizeof(stream->row));
}

/* Take settings if the stream has none of its own yet; else they must be its own. */
int lstm_stream_use_settings(LstmStream *stream, const LstmAnomalySettings *settings, char *errmsg)
{
    if (stream->series.steps > 0 && (stream->flags & LSTM_STATE_HAS_LIKELIHOOD)) {
        if (lstm_anomaly_settings_equal(&stream->anomaly.settings, settings))
            return 1;
        snprintf(errmsg, LSTM_ERRMSG_LEN, "the series was started with other anomaly settings");
        return 0;
    }
    if (stream->series.steps == 0)
        lstm_anomaly_init(&stream->anomaly, settings);
    else
        stream->anomaly.settings = *settings; /* a state from before: its block is empty */
    stream->flags |= LSTM_STATE_HAS_LIKELIHOOD;
    return 1;
}

/* Fill a stream from validated state bytes. */
void lstm_state_load(const void *bytes, LstmStream *stream)
{
    LstmStateHeader hd;
    LstmDims dims;
    size_t n;
    const char *floats = (const char *)bytes + sizeof(LstmStateHeader);

    lstm_state_read_header(bytes, &hd);
    dims = lstm_state_dims(&hd);
    n = lstm_state_float_count(&dims) / 2;
    stream->series.steps = hd.steps;
    stream->series.last_value = hd.last_value;
    memcpy(stream->series.h, floats, n * sizeof(float));
    memcpy(stream->series.c, floats + n * sizeof(float), n * sizeof(float));
    if (dims.flags & LSTM_FLAG_SERIES_SCALING) {
        const char *block = floats + 2 * n * sizeof(float);
        LstmNormalizer *nz = &stream->series.norm;
        StoredNormalizer stored;
        read_normalizer(block, &stored);
        nz->rows = stored.rows;
        nz->last = stored.last;
        nz->change = stored.change;
        nz->level = stored.level;
        nz->scale = stored.scale;
        if (lstm_normalizer_ring_size(dims.season) > 0)
            memcpy(nz->recent, block + NORMALIZER_FIELDS * 8,
                   lstm_normalizer_ring_size(dims.season) * sizeof(double));
    }
    if (hd.flags & LSTM_STATE_HAS_LIKELIHOOD)
        lstm_anomaly_unpack((const char *)bytes + lstm_state_nbytes(&dims), &stream->anomaly);
    else {
        LstmAnomalySettings defaults;
        lstm_anomaly_settings_default(&defaults);
        lstm_anomaly_init(&stream->anomaly, &defaults);
    }
    stream->anomaly.residuals.count = hd.residual_count;
    stream->anomaly.residuals.mean = hd.residual_mean;
    stream->anomaly.residuals.variance = hd.residual_variance;
    stream->flags = hd.flags;
    stream->last_forecast = hd.last_forecast;
    stream->last_score = hd.last_score;
    memset(&stream->row, 0, sizeof(stream->row));
}

/* Serialize a stream with its model's sizes and fingerprint. */
void lstm_state_store(void *bytes, const LstmStream *stream, const LstmDims *dims,
                      uint64_t fingerprint)
{
    LstmStateHeader hd;
    size_t n = lstm_state_float_count(dims) / 2;
    char *floats = (char *)bytes + sizeof(LstmStateHeader);

    memset(&hd, 0, sizeof(hd));
    hd.magic = LSTM_STATE_MAGIC;
    hd.version = (uint16_t)lstm_state_version(dims);
    if (hd.version == LSTM_STATE_VERSION) {
        hd.members = (uint16_t)dims->members;
        hd.season = (uint32_t)dims->season;
    }
    hd.flags = (uint16_t)(stream->flags | LSTM_STATE_HAS_LIKELIHOOD);
    hd.model_flags = (uint16_t)dims->flags;
    hd.input_size = dims->input_size;
    hd.hidden_size = dims->hidden_size;
    hd.num_layers = dims->num_layers;
    hd.output_size = dims->output_size;
    hd.model_fingerprint = fingerprint;
    hd.steps = stream->series.steps;
    hd.residual_count = stream->anomaly.residuals.count;
    hd.last_value = stream->series.last_value;
    hd.residual_mean = stream->anomaly.residuals.mean;
    hd.residual_variance = stream->anomaly.residuals.variance;
    hd.last_forecast = (stream->flags & LSTM_STATE_HAS_FORECAST) ? stream->last_forecast : 0.0;
    hd.last_score = (stream->flags & LSTM_STATE_HAS_SCORE) ? stream->last_score : 0.0;
    memcpy(bytes, &hd, sizeof(hd));
    memcpy(floats, stream->series.h, n * sizeof(float));
    memcpy(floats + n * sizeof(float), stream->series.c, n * sizeof(float));
    if (dims->flags & LSTM_FLAG_SERIES_SCALING) {
        char *block = floats + 2 * n * sizeof(float);
        const LstmNormalizer *nz = &stream->series.norm;
        memcpy(block, &nz->rows, 8);
        memcpy(block + 8, &nz->last, 8);
        memcpy(block + 16, &nz->change, 8);
        memcpy(block + 24, &nz->level, 8);
        memcpy(block + 32, &nz->scale, 8);
        if (lstm_normalizer_ring_size(dims->season) > 0)
            memcpy(block + NORMALIZER_FIELDS * 8, nz->recent,
                   lstm_normalizer_ring_size(dims->season) * sizeof(double));
    }
    lstm_anomaly_pack(&stream->anomaly, (char *)bytes + lstm_state_nbytes(dims));
}

/*
 * Score one row against the forecast made before it, then consume it. The
 * stream is unchanged if the runner rejects the row.
 */
LstmError lstm_stream_feed(const LstmRunner *runner, LstmStream *stream, const double *features,
                           double *outputs)
{
    int has_forecast = stream->series.steps > 0;
    double forecast = 0.0, residual = 0.0;
    LstmError err;

    if (has_forecast) {
        lstm_runner_predict(runner, &stream->series, outputs);
        forecast = outputs[0];
        residual = features[0] - forecast;
    }
    err = lstm_runner_feed(runner, &stream->series, features);
    if (err != LSTM_OK)
        return err;
    stream->flags = LSTM_STATE_HAS_LIKELIHOOD;
    stream->last_forecast = 0.0;
    stream->last_score = 0.0;
    stream->anomaly.last_residual = 0.0;
    memset(&stream->row, 0, sizeof(stream->row));
    if (!has_forecast) {
        lstm_anomaly_first(&stream->anomaly, features[0]);
        return LSTM_OK;
    }
    stream->flags |= LSTM_STATE_HAS_FORECAST;
    stream->last_forecast = forecast;
    lstm_anomaly_update(&stream->anomaly, features[0], residual, &stream->row);
    if (stream->row.has_score) {
        stream->flags |= LSTM_STATE_HAS_SCORE;
        stream->last_score = stream->row.score;
    }
    return LSTM_OK;
}

/* Are the stream's double fields finite (no overflow from absurd values)? */
int lstm_stream_finite(const LstmStream *stream)
{
    return isfinite(stream->series.last_value) && isfinite(stream->anomaly.residuals.mean) &&
           isfinite(stream->anomaly.residuals.variance) && isfinite(stream->last_forecast) &&
           isfinite(stream->last_score);
}
