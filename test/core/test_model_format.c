/*
 * test_model_format.c - unit tests of src/core/model_format.c: sizes, layout, validation
 * of untrusted bytes, fingerprint, and a mutation fuzz loop.
 *
 * Built and run by `make unittest`. Prints "N passed, M failed" last and
 * exits non-zero when anything failed. Run it under valgrind to confirm the
 * validator never reads outside the bytes it is given:
 *   valgrind --error-exitcode=1 test/core/test_model
 */
#include "test_util.h"
#include "runner.h"
#include "model_format.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Floats of a model, counted straight from PyTorch's parameter shapes. */
static size_t pytorch_float_count(const LstmDims *d, size_t *parameters)
{
    size_t H = d->hidden_size, I = d->input_size, O = d->output_size, count = 0;
    for (int k = 0; k < d->num_layers; k++) {
        size_t in = k == 0 ? I : H;
        count += 4 * H * in + 4 * H * H + 4 * H + 4 * H;
    }
    count += O * H + O;
    *parameters = count;
    return count + 2 * I + 2 * O;
}

/* Is an error message lowercase at the start, without a closing period? */
static int message_style_ok(const char *msg)
{
    size_t n = strlen(msg);
    return n > 0 && !isupper((unsigned char)msg[0]) && msg[n - 1] != '.';
}

/* Validate a copy of exactly nbytes (so valgrind sees any over-read). */
static LstmError validate_copy(const void *bytes, size_t nbytes, char *errmsg)
{
    unsigned char *copy = malloc(nbytes > 0 ? nbytes : 1);
    LstmError err;
    if (nbytes > 0)
        memcpy(copy, bytes, nbytes);
    err = lstm_model_validate(copy, nbytes, errmsg);
    free(copy);
    return err;
}

/* Sizes, parameter counts and the array table agree with PyTorch's shapes. */
static void test_layout(void)
{
    static const int shapes[][4] = {{1, 1, 1, 1},       {1, 7, 2, 1},  {5, 3, 3, 2},
                                    {3, 33, 2, 4},      {2, 64, 1, 7}, {1, 256, 1, 1},
                                    {1024, 1, 16, 1024}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        LstmDims d = make_dims(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], 0);
        char errmsg[LSTM_ERRMSG_LEN];
        size_t params, floats = pytorch_float_count(&d, &params);
        size_t expected_offset = 0;
        int L = d.num_layers;

        CHECK(lstm_dims_check(&d, errmsg) == LSTM_OK, "dims %zu rejected: %s", s, errmsg);
        CHECK(lstm_model_float_count(&d) == floats, "float count %zu vs %zu",
              lstm_model_float_count(&d), floats);
        CHECK(lstm_model_parameter_count(&d) == params, "parameter count %zu vs %zu",
              lstm_model_parameter_count(&d), params);
        CHECK(lstm_model_nbytes(&d) == sizeof(LstmModelHeader) + 4 * floats, "nbytes");
        CHECK(lstm_model_array_count(&d) == 4 * L + 6, "array count");
        for (int a = 0; a < lstm_model_array_count(&d); a++) {
            LstmArrayInfo info;
            char name[32];
            int rows, cols;
            if (a < 4 * L) {
                int k = a / 4, in = k == 0 ? d.input_size : d.hidden_size;
                static const char *const kinds[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
                snprintf(name, sizeof(name), "%s_l%d", kinds[a % 4], k);
                rows = 4 * d.hidden_size;
                cols = a % 4 == 0 ? in : a % 4 == 1 ? d.hidden_size : 0;
            } else {
                static const char *const tail[] = {"head.weight", "head.bias",   "input_mean",
                                                   "input_std",   "output_mean", "output_std"};
                int t = a - 4 * L;
                snprintf(name, sizeof(name), "%s", tail[t]);
                rows = t < 2 ? d.output_size : t < 4 ? d.input_size : d.output_size;
                cols = t == 0 ? d.hidden_size : 0;
            }
            lstm_model_array_info(&d, a, &info);
            CHECK(strcmp(info.name, name) == 0, "array %d is %s, expected %s", a, info.name, name);
            CHECK(info.rows == rows && info.cols == cols, "%s shape %dx%d, expected %dx%d", name,
                  info.rows, info.cols, rows, cols);
            CHECK(info.offset == expected_offset, "%s at offset %zu, expected %zu", name,
                  info.offset, expected_offset);
            CHECK(info.must_be_positive == (strstr(name, "_std") != NULL), "%s positivity", name);
            CHECK(info.is_scale == (a >= 4 * L + 2), "%s is_scale", name);
            expected_offset += (size_t)rows * (cols > 0 ? cols : 1);
        }
        CHECK(expected_offset == floats, "arrays cover %zu of %zu floats", expected_offset, floats);
    }
}

/* A view points at the offsets the array table gives; the header reads back. */
static void test_view(void)
{
    uint64_t rng = 11;
    LstmDims d = make_dims(3, 5, 3, 2, LSTM_FLAG_DIFFERENCE);
    size_t n;
    unsigned char *bytes = build_model(&d, &rng, &n);
    const float *data = lstm_model_data(bytes);
    LstmModelView v;
    LstmArrayInfo info;
    LstmDims back;
    char errmsg[LSTM_ERRMSG_LEN];

    CHECK(lstm_model_validate(bytes, n, errmsg) == LSTM_OK, "valid model rejected: %s", errmsg);
    lstm_model_view(bytes, &v);
    back = lstm_model_dims((const LstmModelHeader *)bytes);
    CHECK(memcmp(&back, &d, sizeof(d)) == 0 && memcmp(&v.dims, &d, sizeof(d)) == 0,
          "dims read back differ");
    for (int k = 0; k < d.num_layers; k++) {
        lstm_model_array_info(&d, 4 * k, &info);
        CHECK(v.layer[k].weight_ih == data + info.offset, "weight_ih_l%d pointer", k);
        CHECK(v.layer[k].in_size == (k == 0 ? 3 : 5), "in_size of layer %d", k);
        lstm_model_array_info(&d, 4 * k + 1, &info);
        CHECK(v.layer[k].weight_hh == data + info.offset, "weight_hh_l%d pointer", k);
        lstm_model_array_info(&d, 4 * k + 2, &info);
        CHECK(v.layer[k].bias_ih == data + info.offset, "bias_ih_l%d pointer", k);
        lstm_model_array_info(&d, 4 * k + 3, &info);
        CHECK(v.layer[k].bias_hh == data + info.offset, "bias_hh_l%d pointer", k);
    }
    {
        const float *tails[6] = {v.head_weight, v.head_bias,   v.input_mean,
                                 v.input_std,   v.output_mean, v.output_std};
        for (int t = 0; t < 6; t++) {
            lstm_model_array_info(&d, 4 * d.num_layers + t, &info);
            CHECK(tails[t] == data + info.offset, "%s pointer", info.name);
        }
    }
    /* the validator copies before reading: an unaligned model is fine */
    {
        unsigned char *odd = malloc(n + 1);
        memcpy(odd + 1, bytes, n);
        CHECK(lstm_model_validate(odd + 1, n, errmsg) == LSTM_OK, "unaligned model rejected: %s",
              errmsg);
        free(odd);
    }
    free(bytes);
}

/* Every truncation and every extension of a valid model is rejected. */
static void test_lengths(void)
{
    static const int shapes[][4] = {{1, 1, 1, 1}, {2, 3, 2, 2}, {1, 7, 3, 1}, {5, 4, 1, 3}};
    uint64_t rng = 12;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        LstmDims d = make_dims(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], 0);
        size_t n;
        unsigned char *bytes = build_model(&d, &rng, &n);
        unsigned char *longer = calloc(n + 64, 1);
        char errmsg[LSTM_ERRMSG_LEN];
        int all_rejected = 1;

        CHECK(validate_copy(bytes, n, errmsg) == LSTM_OK, "valid model rejected: %s", errmsg);
        for (size_t len = 0; len < n; len++) {
            LstmError err = validate_copy(bytes, len, errmsg);
            if (err != LSTM_ERR_FORMAT || !message_style_ok(errmsg)) {
                all_rejected = 0;
                printf("  truncation to %zu of %zu: error %d (%s)\n", len, n, (int)err, errmsg);
            }
        }
        CHECK(all_rejected, "model %zu: every truncation is a format error", s);
        memcpy(longer, bytes, n);
        for (size_t extra = 1; extra <= 64; extra *= 2)
            CHECK(validate_copy(longer, n + extra, errmsg) == LSTM_ERR_FORMAT,
                  "model %zu with %zu extra bytes accepted", s, extra);
        free(longer);
        free(bytes);
    }
}

/* Write a header field into a copy of a model and validate it. */
static LstmError validate_with_header(const unsigned char *bytes, size_t n,
                                      const LstmModelHeader *header, char *errmsg)
{
    unsigned char *copy = malloc(n);
    LstmError err;
    memcpy(copy, bytes, n);
    memcpy(copy, header, sizeof(*header));
    err = lstm_model_validate(copy, n, errmsg);
    free(copy);
    return err;
}

/* Bad magic, version, flags and reserved fields. */
static void test_header_fields(void)
{
    uint64_t rng = 13;
    LstmDims d = make_dims(2, 3, 2, 1, 0);
    size_t n;
    unsigned char *bytes = build_model(&d, &rng, &n);
    LstmModelHeader good, h;
    char errmsg[LSTM_ERRMSG_LEN];
    static const unsigned versions[] = {0, 2, 3, 0x100, 0xFFFF};

    memcpy(&good, bytes, sizeof(good));
    CHECK(good.magic == LSTM_MODEL_MAGIC && good.version == LSTM_MODEL_VERSION_1 &&
              good.members == 0 && good.season == 0 && good.reserved == 0,
          "init_header fields (a one-member model is written as version 1)");
    CHECK(memcmp(&good.magic, "LSTM", 4) == 0, "magic spells LSTM in memory");
    for (int byte = 0; byte < 4; byte++)
        for (int bit = 0; bit < 8; bit++) {
            h = good;
            ((unsigned char *)&h.magic)[byte] ^= (unsigned char)(1 << bit);
            CHECK(validate_with_header(bytes, n, &h, errmsg) == LSTM_ERR_FORMAT &&
                      strstr(errmsg, "magic") != NULL,
                  "magic with bit %d of byte %d flipped: %s", bit, byte, errmsg);
        }
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        h = good;
        h.version = (uint16_t)versions[i];
        CHECK(validate_with_header(bytes, n, &h, errmsg) == LSTM_ERR_FORMAT &&
                  strstr(errmsg, "version") != NULL,
              "version %u: %s", versions[i], errmsg);
    }
    for (int bit = 1; bit < 16; bit++) {
        h = good;
        h.flags = (uint16_t)(1U << bit);
        CHECK(validate_with_header(bytes, n, &h, errmsg) == LSTM_ERR_FORMAT &&
                  strstr(errmsg, "flags") != NULL,
              "unknown flag bit %d: %s", bit, errmsg);
    }
    h = good;
    h.flags = LSTM_FLAG_DIFFERENCE;
    CHECK(validate_with_header(bytes, n, &h, errmsg) == LSTM_OK, "difference flag rejected: %s",
          errmsg);
    for (int r = 0; r < 3; r++) {
        static const uint32_t values[] = {1, 0x80000000U, 0xFFFFFFFFU};
        for (int v = 0; v < 3; v++) {
            h = good;
            uint32_t *fields = &h.members; /* members, season, reserved: zero in version 1 */
            fields[r] = values[v];
            CHECK(validate_with_header(bytes, n, &h, errmsg) == LSTM_ERR_FORMAT &&
                      strstr(errmsg, "reserved") != NULL,
                  "reserved[%d] = 0x%x: %s", r, values[v], errmsg);
        }
    }
    free(bytes);
}

/*
 * Sizes out of range, including values that would overflow naive int or
 * size_t arithmetic, are rejected before anything is read past the header,
 * whatever length the bytes claim.
 */
static void test_sizes(void)
{
    static const int32_t bad[] = {0, -1, -4096, INT32_MIN, INT32_MAX, 0x40000000, 0x20000001};
    static const int32_t limits[4] = {LSTM_MAX_INPUT, LSTM_MAX_HIDDEN, LSTM_MAX_LAYERS,
                                      LSTM_MAX_OUTPUT};
    static const char *const names[4] = {"input_size", "hidden_size", "num_layers", "output_size"};
    uint64_t rng = 14;
    LstmDims d = make_dims(2, 3, 2, 1, 0);
    size_t n;
    unsigned char *bytes = build_model(&d, &rng, &n);
    LstmModelHeader good, h;
    char errmsg[LSTM_ERRMSG_LEN];

    memcpy(&good, bytes, sizeof(good));
    for (int f = 0; f < 4; f++) {
        int32_t values[sizeof(bad) / sizeof(bad[0]) + 1];
        memcpy(values, bad, sizeof(bad));
        values[sizeof(bad) / sizeof(bad[0])] = limits[f] + 1;
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            int32_t *field;
            LstmError err;
            LstmDims dd;
            h = good;
            field = f == 0   ? &h.input_size
                    : f == 1 ? &h.hidden_size
                    : f == 2 ? &h.num_layers
                             : &h.output_size;
            *field = values[i];
            err = validate_with_header(bytes, n, &h, errmsg);
            CHECK(err == LSTM_ERR_LIMIT && strstr(errmsg, names[f]) != NULL &&
                      message_style_ok(errmsg),
                  "%s = %d: error %d (%s)", names[f], values[i], (int)err, errmsg);
            dd = lstm_model_dims(&h);
            CHECK(lstm_dims_check(&dd, errmsg) == LSTM_ERR_LIMIT, "dims_check %s = %d", names[f],
                  values[i]);
            /* a header alone, claiming those sizes, is rejected the same way */
            CHECK(validate_copy(&h, sizeof(h), errmsg) == LSTM_ERR_LIMIT,
                  "bare header with %s = %d", names[f], values[i]);
        }
    }
    /* each size at its limit is fine on its own */
    for (int f = 0; f < 4; f++) {
        LstmDims dd = make_dims(1, 1, 1, 1, 0);
        if (f == 0)
            dd.input_size = LSTM_MAX_INPUT;
        else if (f == 1)
            dd.hidden_size = LSTM_MAX_HIDDEN;
        else if (f == 2)
            dd.num_layers = LSTM_MAX_LAYERS;
        else
            dd.output_size = LSTM_MAX_OUTPUT;
        CHECK(lstm_dims_check(&dd, errmsg) == LSTM_OK, "%s at its limit: %s", names[f], errmsg);
    }
    /*
     * Every size within its limit but the whole model over 1 GB: 16 layers of
     * hidden 4096 (about 8.6 GB, more than 2^32 bytes), and 3 layers (1.6 GB).
     * Both must be size errors, not wrapped-around lengths. (2 layers, 0.89 GB,
     * fit.)
     */
    {
        static const int layers[] = {16, 3};
        for (int i = 0; i < 2; i++) {
            LstmDims big =
                make_dims(LSTM_MAX_INPUT, LSTM_MAX_HIDDEN, layers[i], LSTM_MAX_OUTPUT, 0);
            double exact = 0;
            LstmModelHeader hb;
            for (int k = 0; k < big.num_layers; k++)
                exact += 4.0 * 4096 * (k == 0 ? 1024 : 4096) + 4.0 * 4096 * 4096 + 8.0 * 4096;
            exact = 36 + 4 * (exact + 1024.0 * 4096 + 1024 + 4 * 1024.0);
            CHECK(fabs((double)lstm_model_nbytes(&big) - exact) < 1.0,
                  "nbytes of %d layers of 4096: %zu vs %.0f", layers[i], lstm_model_nbytes(&big),
                  exact);
            CHECK(lstm_dims_check(&big, errmsg) == LSTM_ERR_LIMIT && message_style_ok(errmsg),
                  "%d layers of hidden 4096 accepted", layers[i]);
            lstm_model_init_header(&hb, &big);
            CHECK(validate_copy(&hb, sizeof(hb), errmsg) == LSTM_ERR_LIMIT,
                  "bare header of %d layers of 4096: %s", layers[i], errmsg);
        }
    }
    /* within the limits and under 1 GB, but the bytes are only the header */
    {
        LstmDims fits = make_dims(1, LSTM_MAX_HIDDEN, 1, 1, 0);
        LstmModelHeader hf;
        CHECK(lstm_dims_check(&fits, errmsg) == LSTM_OK, "one layer of 4096 rejected: %s", errmsg);
        lstm_model_init_header(&hf, &fits);
        CHECK(validate_copy(&hf, sizeof(hf), errmsg) == LSTM_ERR_FORMAT,
              "header of one layer of 4096 without its floats: %s", errmsg);
    }
    free(bytes);
}

/* NaN and infinities in every array, non-positive standard deviations. */
static void test_values(void)
{
    uint64_t rng = 15;
    LstmDims d = make_dims(3, 4, 2, 2, 0);
    size_t n;
    unsigned char *bytes = build_model(&d, &rng, &n);
    unsigned char *copy = malloc(n);
    float *data = lstm_model_data(copy);
    char errmsg[LSTM_ERRMSG_LEN];
    const float nonfinite[3] = {NAN, INFINITY, -INFINITY};

    for (int a = 0; a < lstm_model_array_count(&d); a++) {
        LstmArrayInfo info;
        size_t count, where[3];
        lstm_model_array_info(&d, a, &info);
        count = (size_t)info.rows * (info.cols > 0 ? (size_t)info.cols : 1);
        where[0] = 0, where[1] = count / 2, where[2] = count - 1;
        for (int w = 0; w < 3; w++)
            for (int v = 0; v < 3; v++) {
                char name[64];
                LstmError err;
                size_t j = where[w];
                memcpy(copy, bytes, n);
                data[info.offset + j] = nonfinite[v];
                err = lstm_model_validate(copy, n, errmsg);
                if (info.cols > 0)
                    snprintf(name, sizeof(name), "%s[%zu][%zu]", info.name, j / info.cols,
                             j % info.cols);
                else
                    snprintf(name, sizeof(name), "%s[%zu]", info.name, j);
                CHECK(err == LSTM_ERR_NONFINITE && strstr(errmsg, name) != NULL &&
                          message_style_ok(errmsg),
                      "%g in %s: error %d (%s)", (double)nonfinite[v], name, (int)err, errmsg);
            }
        if (info.must_be_positive) {
            const float bad[4] = {0.0f, -0.0f, -1.0f, -1e-30f};
            for (int v = 0; v < 4; v++) {
                LstmError err;
                memcpy(copy, bytes, n);
                data[info.offset + count - 1] = bad[v];
                err = lstm_model_validate(copy, n, errmsg);
                CHECK(err == LSTM_ERR_SCALE && strstr(errmsg, info.name) != NULL &&
                          message_style_ok(errmsg),
                      "%s = %g: error %d (%s)", info.name, (double)bad[v], (int)err, errmsg);
            }
        } else {
            /* anything finite is a valid weight or mean, extremes included */
            const float fine[5] = {0.0f, -0.0f, 1e-42f, 3.4e38f, -3.4e38f};
            for (int v = 0; v < 5; v++) {
                memcpy(copy, bytes, n);
                data[info.offset + count / 2] = fine[v];
                CHECK(lstm_model_validate(copy, n, errmsg) == LSTM_OK, "%s = %g rejected: %s",
                      info.name, (double)fine[v], errmsg);
            }
        }
    }
    /* a tiny positive standard deviation (denormal) is allowed */
    {
        LstmArrayInfo info;
        lstm_model_array_info(&d, 4 * d.num_layers + 3, &info);
        memcpy(copy, bytes, n);
        data[info.offset] = 1e-42f;
        CHECK(lstm_model_validate(copy, n, errmsg) == LSTM_OK, "denormal input_std rejected: %s",
              errmsg);
    }
    free(copy);
    free(bytes);
}

/* FNV-1a known values; equal models hash equal, one flipped bit does not. */
static void test_fingerprint(void)
{
    uint64_t rng = 16;
    LstmDims d = make_dims(1, 8, 2, 1, 0);
    size_t n;
    unsigned char *bytes = build_model(&d, &rng, &n);
    unsigned char *copy = malloc(n);
    uint64_t base;
    int collisions = 0;

    CHECK(lstm_model_fingerprint("", 0) == 0xcbf29ce484222325ULL, "FNV-1a of nothing");
    CHECK(lstm_model_fingerprint("a", 1) == 0xaf63dc4c8601ec8cULL, "FNV-1a of \"a\"");
    base = lstm_model_fingerprint(bytes, n);
    memcpy(copy, bytes, n);
    CHECK(lstm_model_fingerprint(copy, n) == base, "copy hashes differently");
    for (size_t i = 0; i < n; i += 7) {
        copy[i] ^= 0x10;
        collisions += lstm_model_fingerprint(copy, n) == base;
        copy[i] ^= 0x10;
    }
    CHECK(collisions == 0, "%d single-bit changes kept the fingerprint", collisions);
    free(copy);
    free(bytes);
}

/*
 * Mutation fuzz: random byte changes, bit flips, header field writes,
 * truncations and extensions of valid models. Each must validate or be
 * rejected with a known code and a message; one that validates must also run
 * through the runner without trouble.
 */
static void test_fuzz(int iterations)
{
    static const int shapes[][4] = {{1, 1, 1, 1}, {2, 3, 2, 2}, {1, 5, 3, 1}, {4, 2, 1, 4}};
    uint64_t rng = 17;
    unsigned char *models[4];
    size_t sizes[4];
    int accepted = 0, rejected[5] = {0}, bad_code = 0, bad_message = 0;

    for (int s = 0; s < 4; s++) {
        LstmDims d = make_dims(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], 0);
        models[s] = build_model(&d, &rng, &sizes[s]);
    }
    for (int it = 0; it < iterations; it++) {
        int s = (int)rng_below(&rng, 4);
        size_t n = sizes[s], cap = n + 64;
        unsigned char *buf = malloc(cap);
        unsigned char *exact;
        char errmsg[LSTM_ERRMSG_LEN];
        int kind = (int)rng_below(&rng, 7);
        LstmError err;

        memcpy(buf, models[s], n);
        memset(buf + n, 0, cap - n);
        errmsg[0] = '\0';
        switch (kind) {
        case 0: /* a few random bytes anywhere */
            for (int k = 1 + (int)rng_below(&rng, 4); k > 0; k--)
                buf[rng_below(&rng, n)] = (unsigned char)rng_next(&rng);
            break;
        case 1: /* bit flips, mostly in the header */
            for (int k = 1 + (int)rng_below(&rng, 3); k > 0; k--) {
                size_t at = rng_below(&rng, 2) ? rng_below(&rng, sizeof(LstmModelHeader))
                                               : rng_below(&rng, n);
                buf[at] ^= (unsigned char)(1 << rng_below(&rng, 8));
            }
            break;
        case 2: /* a random 32-bit value in one header word */
        {
            uint32_t v = (uint32_t)rng_next(&rng);
            if (rng_below(&rng, 2))
                v &= 0xFF; /* small values hit the interesting sizes more often */
            memcpy(buf + 4 * rng_below(&rng, sizeof(LstmModelHeader) / 4), &v, 4);
            break;
        }
        case 3: /* truncation */
            n = rng_below(&rng, n);
            break;
        case 4: /* extension with junk */
            for (size_t k = n; k < cap; k++)
                buf[k] = (unsigned char)rng_next(&rng);
            n += 1 + rng_below(&rng, 64);
            break;
        case 5: /* a NaN, infinity or non-positive value in a random float */
        {
            static const uint32_t patterns[] = {0x7FC00000U, 0x7F800000U, 0xFF800000U, 0x7F800001U,
                                                0x00000000U, 0x80000000U, 0xBF800000U};
            size_t floats = (n - sizeof(LstmModelHeader)) / 4;
            memcpy(buf + sizeof(LstmModelHeader) + 4 * rng_below(&rng, floats),
                   &patterns[rng_below(&rng, sizeof(patterns) / sizeof(patterns[0]))], 4);
            break;
        }
        default: /* truncation plus a byte change */
            n = 1 + rng_below(&rng, n);
            buf[rng_below(&rng, n)] = (unsigned char)rng_next(&rng);
            break;
        }
        exact = malloc(n > 0 ? n : 1);
        memcpy(exact, buf, n);
        err = lstm_model_validate(exact, n, errmsg);
        if (err == LSTM_OK) {
            LstmModelView view;
            LstmRunner runner;
            LstmSeries series;
            void *memory;
            float *state;
            double features[8] = {0.5, -1, 2, 0.25, 0, 0, 0, 0}, outputs[8];
            accepted++;
            lstm_model_view(exact, &view);
            memory = malloc(lstm_runner_nbytes(&view.dims));
            lstm_runner_init(&runner, &view, memory);
            state = malloc(lstm_series_nfloats(&view.dims) * sizeof(float));
            lstm_series_init(&series, &view.dims, state);
            for (int row = 0; row < 3; row++)
                lstm_runner_feed(&runner, &series, features);
            lstm_runner_predict(&runner, &series, outputs);
            free(state);
            free(memory);
        } else if (err > LSTM_OK && err <= LSTM_ERR_SCALE) {
            rejected[err]++;
            if (!message_style_ok(errmsg))
                bad_message++;
        } else
            bad_code++;
        free(exact);
        free(buf);
    }
    printf("  fuzz: %d mutations, %d accepted, rejected: %d limit, %d format, %d non-finite, "
           "%d scale\n",
           iterations, accepted, rejected[LSTM_ERR_LIMIT], rejected[LSTM_ERR_FORMAT],
           rejected[LSTM_ERR_NONFINITE], rejected[LSTM_ERR_SCALE]);
    CHECK(bad_code == 0, "%d mutations gave an unknown error code", bad_code);
    CHECK(bad_message == 0, "%d rejections without a proper message", bad_message);
    CHECK(rejected[LSTM_ERR_LIMIT] > 0 && rejected[LSTM_ERR_FORMAT] > 0 &&
              rejected[LSTM_ERR_NONFINITE] > 0 && rejected[LSTM_ERR_SCALE] > 0 && accepted > 0,
          "fuzz did not reach every outcome");
    for (int s = 0; s < 4; s++)
        free(models[s]);
}

/* Run every test; the last line says how many checks passed and failed. */
/*
 * Version 2: members, season and series scaling. The layout tiles the block
 * member by member, then the shared scaling vectors; the rules between the
 * fields are enforced; a model that fits version 1 is written (and must be
 * read) as version 1.
 */
static void test_version_2(void)
{
    uint64_t rng = 29;
    LstmDims d = make_dims(2 + 3, 4, 2, 3, LSTM_FLAG_SERIES_SCALING | LSTM_FLAG_LOG);
    LstmModelHeader h;
    LstmModelView view;
    LstmModelOffsets off0, off2;
    unsigned char *bytes;
    size_t n, member = 0, expected = 0;
    char errmsg[LSTM_ERRMSG_LEN];

    d.members = 3;
    d.season = 4;
    CHECK(lstm_dims_check(&d, errmsg) == LSTM_OK, "a valid version-2 model: %s", errmsg);
    bytes = build_model(&d, &rng, &n);
    memcpy(&h, bytes, sizeof(h));
    CHECK(h.version == LSTM_MODEL_VERSION && h.members == 3 && h.season == 4,
          "version-2 header fields: version %u members %u season %u", h.version, h.members,
          h.season);
    CHECK(lstm_model_validate(bytes, n, errmsg) == LSTM_OK, "version-2 model: %s", errmsg);
    member = lstm_model_member_float_count(&d);
    expected = 3 * member + 2 * 5 + 2 * 3;
    CHECK(lstm_model_float_count(&d) == expected && lstm_model_parameter_count(&d) == 3 * member,
          "float counts: %zu of %zu", lstm_model_float_count(&d), expected);
    lstm_model_member_offsets(&d, 0, &off0);
    lstm_model_member_offsets(&d, 2, &off2);
    CHECK(off2.weight_ih[0] == off0.weight_ih[0] + 2 * member &&
              off2.head_bias == off0.head_bias + 2 * member && off2.input_mean == off0.input_mean &&
              off0.input_mean == 3 * member,
          "member offsets tile the block and share the scaling vectors");
    lstm_model_view(bytes, &view);
    CHECK(view.dims.members == 3 && view.dims.season == 4 &&
              view.member[1].layer[1].weight_hh ==
                  lstm_model_data(bytes) + member + (off0.weight_hh[1] - off0.weight_ih[0]) &&
              view.layer[0].weight_ih == view.member[0].layer[0].weight_ih,
          "view of every member");
    free(bytes);

    /* Rules between the fields. */
    {
        LstmDims bad = d;
        bad.flags = LSTM_FLAG_LOG;
        bad.input_size = 3;
        bad.season = 0;
        CHECK(lstm_dims_check(&bad, errmsg) == LSTM_ERR_FORMAT, "log without series scaling");
        bad = d;
        bad.season = 1;
        CHECK(lstm_dims_check(&bad, errmsg) == LSTM_ERR_LIMIT, "season 1: %s", errmsg);
        bad = d;
        bad.input_size = 2;
        CHECK(lstm_dims_check(&bad, errmsg) == LSTM_ERR_FORMAT && strstr(errmsg, "input_size"),
              "input size not the normaliser's: %s", errmsg);
        bad = d;
        bad.flags |= LSTM_FLAG_DIFFERENCE;
        CHECK(lstm_dims_check(&bad, errmsg) == LSTM_ERR_FORMAT, "difference with series scaling");
        bad = d;
        bad.members = LSTM_MAX_MEMBERS + 1;
        CHECK(lstm_dims_check(&bad, errmsg) == LSTM_ERR_LIMIT, "17 members: %s", errmsg);
    }
    /* A one-member model written as version 2 is refused. */
    {
        LstmDims one = make_dims(1, 3, 1, 1, 0);
        bytes = build_model(&one, &rng, &n);
        memcpy(&h, bytes, sizeof(h));
        h.version = LSTM_MODEL_VERSION;
        h.members = 1;
        memcpy(bytes, &h, sizeof(h));
        CHECK(lstm_model_validate(bytes, n, errmsg) == LSTM_ERR_FORMAT &&
                  strstr(errmsg, "version 1") != NULL,
              "version 2 for a version-1 model: %s", errmsg);
        free(bytes);
    }
}

int main(int argc, char **argv)
{
    int iterations = argc > 1 ? atoi(argv[1]) : 10000;
    test_layout();
    test_view();
    test_lengths();
    test_header_fields();
    test_sizes();
    test_values();
    test_fingerprint();
    test_version_2();
    test_fuzz(iterations);
    return test_summary();
}
