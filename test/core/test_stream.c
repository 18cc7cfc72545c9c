/*
 * test_stream.c - unit tests of src/core/stream.c: the serialized lstm_state
 * (store, load, validation of every truncation and header field), the split
 * invariant of streaming (rows 1..k, save, load, rows k+1..n gives the bytes
 * of rows 1..n), the forecast and warm-up rules of lstm_stream_feed, the
 * residual statistics against a two-pass weighted computation, states made
 * before the anomaly block, and the settings rule. (The anomaly score itself:
 * test_anomaly.c.)
 *
 * Built and run by `make unittest`. Prints "N passed, M failed" last; exits
 * non-zero when anything failed.
 */
#include "test_util.h"
#include "runner.h"
#include "model_format.h"
#include "stream.h"
#include "normalizer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh stream with its own memory. */
static float *stream_new(LstmStream *s, const LstmDims *dims)
{
    float *memory = malloc(lstm_series_nfloats(dims) * sizeof(float));
    lstm_stream_init(s, dims, memory);
    return memory;
}

/* A random walk of n rows of I features. */
static double *random_rows(int n, int I, uint64_t *rng)
{
    double *rows = malloc(sizeof(double) * (size_t)n * I);
    double level = rng_uniform(rng, -1.0, 1.0);
    for (int t = 0; t < n; t++) {
        level += rng_uniform(rng, -0.3, 0.3);
        rows[(size_t)t * I] = level;
        for (int i = 1; i < I; i++)
            rows[(size_t)t * I + i] = rng_uniform(rng, -1.0, 1.0);
    }
    return rows;
}

/* Serialize a stream into fresh memory. */
static unsigned char *store(const LstmStream *s, const TestModel *m, size_t *nbytes)
{
    unsigned char *bytes;
    *nbytes = lstm_stream_nbytes(s, &m->dims);
    bytes = malloc(*nbytes);
    lstm_state_store(bytes, s, &m->dims, m->fingerprint);
    return bytes;
}

/*
 * Stream n rows straight, and again split at every k: save after k rows,
 * load into a new stream, continue. The states must be byte-identical, and
 * every stored state must validate.
 */
static void test_split_invariant(const LstmDims *dims, uint64_t *rng)
{
    TestModel m;
    int n = 40;
    double *rows, *outputs;
    LstmStream whole;
    float *whole_memory;
    size_t nbytes;
    unsigned char *expected;
    char errmsg[LSTM_ERRMSG_LEN];
    int all_ok = 1, all_valid = 1;

    test_model_init(&m, dims, rng);
    rows = random_rows(n, dims->input_size, rng);
    outputs = malloc(sizeof(double) * dims->output_size);
    whole_memory = stream_new(&whole, dims);
    for (int t = 0; t < n; t++)
        lstm_stream_feed(&m.runner, &whole, rows + (size_t)t * dims->input_size, outputs);
    expected = store(&whole, &m, &nbytes);
    CHECK(lstm_state_validate(expected, nbytes, errmsg) == LSTM_OK, "state does not validate: %s",
          errmsg);

    for (int k = 1; k < n; k++) {
        LstmStream first, second;
        float *mem1 = stream_new(&first, dims), *mem2 = stream_new(&second, dims);
        unsigned char *saved, *final;
        size_t len;
        for (int t = 0; t < k; t++)
            lstm_stream_feed(&m.runner, &first, rows + (size_t)t * dims->input_size, outputs);
        saved = store(&first, &m, &len);
        if (lstm_state_validate(saved, len, errmsg) != LSTM_OK)
            all_valid = 0;
        lstm_state_load(saved, &second);
        for (int t = k; t < n; t++)
            lstm_stream_feed(&m.runner, &second, rows + (size_t)t * dims->input_size, outputs);
        final = store(&second, &m, &len);
        if (len != nbytes || memcmp(final, expected, nbytes) != 0)
            all_ok = 0;
        free(saved);
        free(final);
        free(mem1);
        free(mem2);
    }
    CHECK(all_ok, "split streaming differs from straight streaming (I=%d H=%d L=%d flags=%u)",
          dims->input_size, dims->hidden_size, dims->num_layers, dims->flags);
    CHECK(all_valid, "an intermediate state does not validate");
    free(expected);
    free(whole_memory);
    free(outputs);
    free(rows);
    test_model_free(&m);
}

/*
 * The forecast and warm-up rules: no forecast for the first row, then the
 * forecast lstm_runner_predict made before each row, a score from the
 * (WARMUP + 2)th row on, always in [0, 1].
 */
static void test_feed_rules(uint64_t *rng)
{
    LstmDims dims = make_dims(1, 8, 2, 1, LSTM_FLAG_DIFFERENCE);
    TestModel m;
    LstmStream s;
    float *memory;
    double *rows, outputs[1], before[1];
    int n = 60, ok_forecast = 1, ok_score = 1, ok_range = 1;

    test_model_init(&m, &dims, rng);
    rows = random_rows(n, 1, rng);
    memory = stream_new(&s, &dims);
    for (int t = 0; t < n; t++) {
        int64_t residuals_before = s.anomaly.residuals.count;
        if (t > 0)
            lstm_runner_predict(&m.runner, &s.series, before);
        lstm_stream_feed(&m.runner, &s, rows + t, outputs);
        if (t == 0)
            ok_forecast &= s.flags == LSTM_STATE_HAS_LIKELIHOOD && s.anomaly.residuals.count == 0;
        else
            ok_forecast &= (s.flags & LSTM_STATE_HAS_FORECAST) && s.last_forecast == before[0] &&
                           s.anomaly.residuals.count == residuals_before + 1;
        ok_score &=
            ((s.flags & LSTM_STATE_HAS_SCORE) != 0) == (t >= LSTM_ANOMALY_DEFAULT_WARMUP + 1);
        ok_range &= s.last_score >= 0.0 && s.last_score <= 1.0;
    }
    CHECK(ok_forecast, "forecast flags or values do not follow the rules");
    CHECK(ok_score, "the first score is not at row %d", LSTM_ANOMALY_DEFAULT_WARMUP + 2);
    CHECK(ok_range, "a score is outside [0, 1]");
    CHECK(s.series.steps == n, "steps %lld, expected %d", (long long)s.series.steps, n);

    /* A row the runner rejects (its scaled value overflows float32) changes nothing. */
    {
        size_t nbytes;
        unsigned char *saved = store(&s, &m, &nbytes), *after;
        double huge = 1e300;
        LstmError err = lstm_stream_feed(&m.runner, &s, &huge, outputs);
        after = store(&s, &m, &nbytes);
        CHECK(err != LSTM_OK, "a value of 1e300 was accepted");
        CHECK(memcmp(saved, after, nbytes) == 0, "a rejected row changed the stream");
        free(saved);
        free(after);
    }
    free(memory);
    free(rows);
    test_model_free(&m);
}

/*
 * The residual statistics against a two-pass computation with the weights
 * the recurrence implies: W_i = w_i * prod_{j > i} (1 - w_j), w_i =
 * max(1/i, 1/WINDOW). Up to WINDOW rows these are the plain mean and
 * population variance.
 */
static void test_residual_statistics(uint64_t *rng)
{
    const int window = LSTM_ANOMALY_DEFAULT_RESIDUAL_WINDOW;
    int n = 3 * window;
    double *r = malloc(sizeof(double) * n), *weight = malloc(sizeof(double) * n);
    LstmRunningStats stats = {0, 0.0, 0.0};
    double worst = 0.0;

    for (int t = 0; t < n; t++)
        r[t] = 5.0 + rng_uniform(rng, -2.0, 2.0) + (t > n / 2 ? 3.0 : 0.0);
    for (int t = 0; t < n; t++) {
        double mean = 0.0, variance = 0.0;
        lstm_running_add(&stats, r[t], window);
        for (int i = 0; i <= t; i++) {
            double w = (i + 1) < window ? 1.0 / (i + 1) : 1.0 / window;
            weight[i] = w;
            for (int j = i + 1; j <= t; j++) {
                double wj = (j + 1) < window ? 1.0 / (j + 1) : 1.0 / window;
                weight[i] *= 1.0 - wj;
            }
            mean += weight[i] * r[i];
        }
        for (int i = 0; i <= t; i++)
            variance += weight[i] * (r[i] - mean) * (r[i] - mean);
        if (fabs(stats.mean - mean) / fabs(mean) > worst)
            worst = fabs(stats.mean - mean) / fabs(mean);
        if (t > 0 && fabs(stats.variance - variance) / variance > worst)
            worst = fabs(stats.variance - variance) / variance;
    }
    printf("residual statistics: largest relative difference from two-pass %.3g\n", worst);
    CHECK(worst < 1e-10, "running statistics differ from the two-pass ones by %g", worst);
    CHECK(stats.count == n, "count %lld", (long long)stats.count);
    free(r);
    free(weight);
}

/*
 * A state made before the anomaly block (no LSTM_STATE_HAS_LIKELIHOOD, no
 * block) validates and loads with the default settings and its residual
 * statistics; it takes other settings once. A state with a block keeps its
 * own settings: others are refused.
 */
static void test_state_without_block(uint64_t *rng)
{
    LstmDims dims = make_dims(1, 4, 1, 1, 0);
    TestModel m;
    LstmStream s, old;
    float *memory, *old_memory;
    double *rows, outputs[1];
    unsigned char *bytes;
    size_t nbytes, base = lstm_state_nbytes(&dims);
    LstmStateHeader hd;
    LstmAnomalySettings defaults, other;
    char msg[LSTM_ERRMSG_LEN];

    test_model_init(&m, &dims, rng);
    rows = random_rows(40, 1, rng);
    memory = stream_new(&s, &dims);
    old_memory = stream_new(&old, &dims);
    for (int t = 0; t < 30; t++)
        lstm_stream_feed(&m.runner, &s, rows + t, outputs);
    bytes = store(&s, &m, &nbytes);
    CHECK(nbytes == base + lstm_anomaly_block_nbytes(LSTM_ANOMALY_DEFAULT_SHORT_WINDOW),
          "state size %zu", nbytes);
    memcpy(&hd, bytes, sizeof(hd));
    CHECK(hd.flags & LSTM_STATE_HAS_LIKELIHOOD, "a new state has the anomaly block flag");
    hd.flags &= ~LSTM_STATE_HAS_LIKELIHOOD;
    memcpy(bytes, &hd, sizeof(hd));
    CHECK(lstm_state_validate(bytes, base, msg) == LSTM_OK, "a state from before: %s", msg);
    CHECK(lstm_state_validate(bytes, nbytes, msg) == LSTM_ERR_FORMAT,
          "a block without its flag was accepted");
    lstm_state_load(bytes, &old);
    lstm_anomaly_settings_default(&defaults);
    CHECK(lstm_anomaly_settings_equal(&old.anomaly.settings, &defaults) &&
              old.anomaly.residuals.count == s.anomaly.residuals.count &&
              old.anomaly.residuals.variance == s.anomaly.residuals.variance &&
              old.anomaly.ring_fill == 0 && old.anomaly.averages.count == 0,
          "a state from before loads with the defaults and its residual statistics");
    other = defaults;
    other.short_window = 3;
    CHECK(lstm_stream_use_settings(&old, &other, msg) == 1 &&
              old.anomaly.settings.short_window == 3,
          "a state from before takes settings");
    for (int t = 30; t < 40; t++)
        lstm_stream_feed(&m.runner, &old, rows + t, outputs);
    free(bytes);
    bytes = store(&old, &m, &nbytes);
    CHECK(lstm_state_validate(bytes, nbytes, msg) == LSTM_OK, "continued: %s", msg);
    lstm_state_load(bytes, &s);
    CHECK(lstm_stream_use_settings(&s, &other, msg) == 1, "its own settings: %s", msg);
    CHECK(lstm_stream_use_settings(&s, &defaults, msg) == 0, "other settings were accepted");
    free(bytes);
    free(memory);
    free(old_memory);
    free(rows);
    test_model_free(&m);
}

/* A valid state of a small model after some rows, for the validation tests. */
static unsigned char *valid_state(TestModel *m, size_t *nbytes, uint64_t *rng)
{
    LstmStream s;
    float *memory = stream_new(&s, &m->dims);
    double *rows = random_rows(30, m->dims.input_size, rng), outputs[4];
    unsigned char *bytes;
    for (int t = 0; t < 30; t++)
        lstm_stream_feed(&m->runner, &s, rows + (size_t)t * m->dims.input_size, outputs);
    bytes = store(&s, m, nbytes);
    free(memory);
    free(rows);
    return bytes;
}

/* Apply edit to a copy of the header of bytes and expect err. */
#define EXPECT_HEADER_ERROR(bytes, nbytes, field, value, expected_err)                             \
    do {                                                                                           \
        unsigned char *copy = malloc(nbytes);                                                      \
        LstmStateHeader hd;                                                                        \
        char msg[LSTM_ERRMSG_LEN];                                                                 \
        LstmError got;                                                                             \
        memcpy(copy, bytes, nbytes);                                                               \
        memcpy(&hd, copy, sizeof(hd));                                                             \
        hd.field = value;                                                                          \
        memcpy(copy, &hd, sizeof(hd));                                                             \
        got = lstm_state_validate(copy, nbytes, msg);                                              \
        CHECK(got == expected_err, "%s = %s: got error %d, expected %d", #field, #value, (int)got, \
              (int)expected_err);                                                                  \
        free(copy);                                                                                \
    } while (0)

/* Every truncation, every header field, non-finite and out-of-range values. */
static void test_validation(uint64_t *rng)
{
    LstmDims dims = make_dims(2, 5, 2, 2, 0);
    TestModel m;
    size_t nbytes;
    unsigned char *bytes;
    char msg[LSTM_ERRMSG_LEN];
    int all_short_rejected = 1;
    LstmStateHeader hd;

    test_model_init(&m, &dims, rng);
    bytes = valid_state(&m, &nbytes, rng);
    CHECK(lstm_state_validate(bytes, nbytes, msg) == LSTM_OK, "valid state rejected: %s", msg);
    CHECK(nbytes == 96 + 2 * 2 * 5 * sizeof(float) + lstm_anomaly_block_nbytes(10),
          "state size %zu", nbytes);
    for (size_t len = 0; len < nbytes; len++)
        all_short_rejected &= lstm_state_validate(bytes, len, msg) == LSTM_ERR_FORMAT;
    CHECK(all_short_rejected, "a truncated state was accepted");
    {
        unsigned char *longer = calloc(1, nbytes + 4);
        memcpy(longer, bytes, nbytes);
        CHECK(lstm_state_validate(longer, nbytes + 4, msg) == LSTM_ERR_FORMAT,
              "a state with trailing bytes was accepted");
        free(longer);
    }

    EXPECT_HEADER_ERROR(bytes, nbytes, magic, 0x12345678U, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, version, 3, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, flags, 0x0008, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, model_flags, 0x0100, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, members, 1, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, season, 1, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, hidden_size, 0, LSTM_ERR_LIMIT);
    EXPECT_HEADER_ERROR(bytes, nbytes, hidden_size, -5, LSTM_ERR_LIMIT);
    EXPECT_HEADER_ERROR(bytes, nbytes, hidden_size, LSTM_MAX_HIDDEN + 1, LSTM_ERR_LIMIT);
    EXPECT_HEADER_ERROR(bytes, nbytes, num_layers, LSTM_MAX_LAYERS + 1, LSTM_ERR_LIMIT);
    EXPECT_HEADER_ERROR(bytes, nbytes, input_size, 0x7fffffff, LSTM_ERR_LIMIT);
    EXPECT_HEADER_ERROR(bytes, nbytes, hidden_size, 6, LSTM_ERR_FORMAT); /* length mismatch */
    EXPECT_HEADER_ERROR(bytes, nbytes, num_layers, 1, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, steps, -1, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, residual_count, 31, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, residual_count, -1, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, last_value, NAN, LSTM_ERR_NONFINITE);
    EXPECT_HEADER_ERROR(bytes, nbytes, residual_mean, INFINITY, LSTM_ERR_NONFINITE);
    EXPECT_HEADER_ERROR(bytes, nbytes, residual_variance, -INFINITY, LSTM_ERR_NONFINITE);
    EXPECT_HEADER_ERROR(bytes, nbytes, residual_variance, -1.0, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, last_forecast, NAN, LSTM_ERR_NONFINITE);
    EXPECT_HEADER_ERROR(bytes, nbytes, last_score, 1.5, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, last_score, -0.5, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, flags, LSTM_STATE_HAS_SCORE, LSTM_ERR_FORMAT);
    EXPECT_HEADER_ERROR(bytes, nbytes, flags, 0, LSTM_ERR_FORMAT); /* values without flags */

    /* h out of [-1, 1], non-finite h and c. */
    {
        unsigned char *copy = malloc(nbytes);
        /* (the first 8 values of h and of c are checked eight at a time, the rest one by one) */
        float bad[7] = {1.5f, NAN, INFINITY, -1.5f, -NAN, -INFINITY, NAN};
        size_t offsets[7] = {96 + 3 * sizeof(float),        96 + 7 * sizeof(float),
                             96 + (10 + 9) * sizeof(float), 96 + 0 * sizeof(float),
                             96 + 9 * sizeof(float),        96 + (10 + 2) * sizeof(float),
                             96 + (10 + 7) * sizeof(float)};
        LstmError expected[7] = {LSTM_ERR_FORMAT,   LSTM_ERR_NONFINITE, LSTM_ERR_NONFINITE,
                                 LSTM_ERR_FORMAT,   LSTM_ERR_NONFINITE, LSTM_ERR_NONFINITE,
                                 LSTM_ERR_NONFINITE};
        for (int i = 0; i < 7; i++) {
            memcpy(copy, bytes, nbytes);
            memcpy(copy + offsets[i], &bad[i], sizeof(float));
            CHECK(lstm_state_validate(copy, nbytes, msg) == expected[i],
                  "bad float %d not rejected as expected", i);
        }
        /* c outside [-1, 1] is fine. */
        memcpy(copy, bytes, nbytes);
        memcpy(copy + 96 + 12 * sizeof(float), &bad[0], sizeof(float));
        CHECK(lstm_state_validate(copy, nbytes, msg) == LSTM_OK, "c = 1.5 rejected: %s", msg);
        free(copy);
    }

    /* Model matching: fingerprint and sizes. */
    memcpy(&hd, bytes, sizeof(hd));
    CHECK(lstm_state_matches_model(&hd, &m.dims, m.fingerprint, msg) == 1, "own model rejected");
    CHECK(lstm_state_matches_model(&hd, &m.dims, m.fingerprint ^ 1, msg) == 0,
          "another fingerprint accepted");
    {
        LstmDims other = m.dims;
        other.hidden_size = 6;
        CHECK(lstm_state_matches_model(&hd, &other, m.fingerprint, msg) == 0,
              "other sizes accepted");
        other = m.dims;
        other.flags = LSTM_FLAG_DIFFERENCE;
        CHECK(lstm_state_matches_model(&hd, &other, m.fingerprint, msg) == 0,
              "other flags accepted");
    }
    free(bytes);
    test_model_free(&m);
}

/*
 * Version-2 states (a series-scaled ensemble): store, validate, load and
 * store again gives the same bytes; stopping after any row, saving, loading
 * and feeding the rest gives the bytes of the whole series.
 */
static void test_series_scaled_states(uint64_t *rng)
{
    LstmDims d = make_dims(lstm_normalizer_input_size(5, 2), 4, 2, 2,
                           LSTM_FLAG_SERIES_SCALING | LSTM_FLAG_LOG);
    TestModel m;
    LstmStream whole, first, second;
    double values[25], outputs[8];
    unsigned char *expected, *again;
    size_t nbytes;
    char errmsg[LSTM_ERRMSG_LEN];
    float *mw, *mf, *ms;

    d.members = 3;
    d.season = 5;
    test_model_init(&m, &d, rng);
    for (int t = 0; t < 25; t++)
        values[t] = 10.0 + 3.0 * sin(t) + rng_uniform(rng, 0.0, 1.0);
    mw = stream_new(&whole, &d);
    {
        int residuals_ok = 1;
        for (int t = 0; t < 25; t++) {
            double median_f1[8]; /* the members' median forecast of the next row */
            if (t > 0)
                lstm_runner_predict(&m.runner, &whole.series, median_f1);
            lstm_stream_feed(&m.runner, &whole, &values[t], outputs);
            if (t > 0)
                residuals_ok &= whole.last_forecast == median_f1[0] &&
                                whole.row.residual == values[t] - median_f1[0];
        }
        CHECK(residuals_ok && whole.row.has_score,
              "a series-scaled ensemble's residual is y minus the median forecast f[1]");
    }
    expected = store(&whole, &m, &nbytes);
    CHECK(lstm_state_version(&d) == 2 &&
              nbytes == lstm_state_nbytes(&d) +
                            lstm_anomaly_block_nbytes(LSTM_ANOMALY_DEFAULT_SHORT_WINDOW),
          "a series-scaled ensemble's state is version 2 with the anomaly block after the "
          "normaliser");
    {
        /* the same state without its anomaly block (written before the likelihood score) */
        unsigned char *bare = malloc(lstm_state_nbytes(&d));
        LstmStateHeader hd;
        memcpy(bare, expected, lstm_state_nbytes(&d));
        lstm_state_read_header(bare, &hd);
        hd.flags &= (uint16_t)~LSTM_STATE_HAS_LIKELIHOOD;
        memcpy(bare, &hd, sizeof(hd));
        CHECK(lstm_state_validate(bare, lstm_state_nbytes(&d), errmsg) == LSTM_OK,
              "v2 state without the anomaly block rejected: %s", errmsg);
        CHECK(lstm_state_validate(expected, nbytes - 8, errmsg) == LSTM_ERR_FORMAT,
              "v2 state with a truncated anomaly block accepted");
        free(bare);
    }
    CHECK(lstm_state_validate(expected, nbytes, errmsg) == LSTM_OK, "v2 state rejected: %s",
          errmsg);
    ms = stream_new(&second, &d);
    lstm_state_load(expected, &second);
    again = store(&second, &m, &nbytes);
    CHECK(memcmp(again, expected, nbytes) == 0, "v2 state round trip changed bytes");
    free(again);
    for (int k = 0; k <= 25; k++) {
        unsigned char *saved;
        size_t len;
        mf = stream_new(&first, &d);
        for (int t = 0; t < k; t++)
            lstm_stream_feed(&m.runner, &first, &values[t], outputs);
        saved = store(&first, &m, &len);
        CHECK(lstm_state_validate(saved, len, errmsg) == LSTM_OK, "split %d: %s", k, errmsg);
        lstm_stream_init(&second, &d, ms);
        lstm_state_load(saved, &second);
        for (int t = k; t < 25; t++)
            lstm_stream_feed(&m.runner, &second, &values[t], outputs);
        again = store(&second, &m, &len);
        CHECK(memcmp(again, expected, nbytes) == 0, "split at %d changes the state", k);
        free(saved);
        free(again);
        free(mf);
    }
    /* a touched ring slot beyond the rows consumed is rejected */
    {
        size_t ring_at =
            sizeof(LstmStateHeader) + lstm_state_float_count(&d) * sizeof(float) + 5 * 8;
        unsigned char *fresh;
        double one = 1.0;
        mf = stream_new(&first, &d);
        lstm_stream_feed(&m.runner, &first, &values[0], outputs);
        fresh = store(&first, &m, &nbytes);
        memcpy(fresh + ring_at + 3 * 8, &one, 8);
        CHECK(lstm_state_validate(fresh, nbytes, errmsg) == LSTM_ERR_FORMAT,
              "a ring slot beyond the rows was accepted");
        free(fresh);
        free(mf);
    }
    free(expected);
    free(mw);
    free(ms);
    test_model_free(&m);
}

int main(void)
{
    uint64_t rng = 20240611;
    const int shapes[][5] = {{1, 1, 1, 1, 0},
                             {1, 8, 1, 1, 0},
                             {1, 16, 2, 1, LSTM_FLAG_DIFFERENCE},
                             {3, 7, 3, 2, 0},
                             {2, 32, 1, 2, LSTM_FLAG_DIFFERENCE}};

    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        LstmDims dims = make_dims(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3],
                                  (unsigned)shapes[i][4]);
        test_split_invariant(&dims, &rng);
    }
    test_feed_rules(&rng);
    test_residual_statistics(&rng);
    test_state_without_block(&rng);
    test_validation(&rng);
    test_series_scaled_states(&rng);
    return test_summary();
}
