/*
 * test_util.h - what the C unit tests of src/core share: the CHECK counter,
 * a deterministic random generator, random valid models decoded into a
 * runner, and the closing "N passed, M failed" line.
 *
 * Each test program is one translation unit, so the static state here is
 * per program.
 */
#ifndef LSTM_TEST_UTIL_H
#define LSTM_TEST_UTIL_H

#include "runner.h"
#include "model_format.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

/* Record one check; print the failing ones with their location. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond)                                                                                  \
            passed++;                                                                              \
        else {                                                                                     \
            failed++;                                                                              \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* Print the closing line and return the exit status. */
static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

/* splitmix64: a small deterministic generator for the tests. */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform double in [lo, hi). */
static inline double rng_uniform(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * (double)(rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform int in [0, n). */
static inline size_t rng_below(uint64_t *state, size_t n)
{
    return (size_t)(rng_next(state) % n);
}

/* Standard normal (Box-Muller). */
static inline double rng_normal(uint64_t *state)
{
    double u = rng_uniform(state, 1e-12, 1.0), v = rng_uniform(state, 0.0, 1.0);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* |a - b| / max(1, |b|): relative, absolute below magnitude 1. */
static inline double relative(double a, double b)
{
    double scale = fabs(b) > 1.0 ? fabs(b) : 1.0;
    return fabs(a - b) / scale;
}

/* Dims from the four sizes and flags (one member, no season). */
static inline LstmDims make_dims(int I, int H, int L, int O, unsigned flags)
{
    return lstm_dims_make(I, H, L, O, flags);
}

/*
 * A valid serialized model with random weights on PyTorch's default scale
 * (uniform in +-1/sqrt(H)), random means and positive standard deviations.
 */
static inline unsigned char *build_model(const LstmDims *dims, uint64_t *rng, size_t *nbytes)
{
    size_t n = lstm_model_nbytes(dims);
    unsigned char *bytes = malloc(n);
    LstmModelHeader header;
    float *data;
    double k = 1.0 / sqrt((double)dims->hidden_size);

    lstm_model_init_header(&header, dims);
    memcpy(bytes, &header, sizeof(header));
    data = lstm_model_data(bytes);
    for (int a = 0; a < lstm_model_array_count(dims); a++) {
        LstmArrayInfo info;
        size_t count;
        lstm_model_array_info(dims, a, &info);
        count = (size_t)info.rows * (info.cols > 0 ? (size_t)info.cols : 1);
        for (size_t j = 0; j < count; j++) {
            double v;
            if (info.must_be_positive)
                v = rng_uniform(rng, 0.5, 2.0);
            else if (info.is_scale)
                v = rng_uniform(rng, -2.0, 2.0);
            else
                v = rng_uniform(rng, -k, k);
            data[info.offset + j] = (float)v;
        }
    }
    *nbytes = n;
    return bytes;
}

/* A random model, validated, viewed and decoded into a runner. */
typedef struct TestModel {
    LstmDims dims;
    unsigned char *bytes; /* serialized model */
    size_t nbytes;
    uint64_t fingerprint;
    LstmModelView view;
    LstmRunner runner;
    void *runner_memory;
} TestModel;

/* Build, validate, view and decode a random model (exits if it is invalid). */
static inline void test_model_init(TestModel *t, const LstmDims *dims, uint64_t *rng)
{
    char errmsg[LSTM_ERRMSG_LEN];
    t->dims = *dims;
    t->bytes = build_model(dims, rng, &t->nbytes);
    if (lstm_model_validate(t->bytes, t->nbytes, errmsg) != LSTM_OK) {
        printf("FAIL: random model does not validate: %s\n", errmsg);
        exit(2);
    }
    t->fingerprint = lstm_model_fingerprint(t->bytes, t->nbytes);
    lstm_model_view(t->bytes, &t->view);
    t->runner_memory = malloc(lstm_runner_nbytes(dims));
    lstm_runner_init(&t->runner, &t->view, t->runner_memory);
}

/* Free a test model. */
static inline void test_model_free(TestModel *t)
{
    free(t->runner_memory);
    free(t->bytes);
}

#endif /* LSTM_TEST_UTIL_H */
