/*
 * test_runner.c - unit tests of src/core/runner.c: the decoded runner (feed,
 * predict, horizon) against the plain-loop reference (lstm_reference_step,
 * lstm_reference_head) and against an independent double-precision forward
 * pass written here, on random models of many sizes.
 *
 * Built and run by `make unittest`. Prints the largest differences found,
 * then "N passed, M failed" last; exits non-zero when anything failed.
 */
#include "test_util.h"
#include "reference.h"
#include "runner.h"
#include "normalizer.h"
#include "model_format.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tolerance of the PyTorch parity check, used here for every comparison. */
#define TOLERANCE 1e-5

/* Largest differences seen, reported at the end. */
static double worst_vs_reference, worst_vs_double, worst_horizon_vs_reference;

/* A runner series with its own memory. */
static float *series_new(LstmSeries *s, const LstmDims *dims)
{
    float *memory = malloc(lstm_series_nfloats(dims) * sizeof(float));
    lstm_series_init(s, dims, memory);
    return memory;
}

/*
 * The reference series: the same semantics as lstm_runner_feed/predict
 * (scaling, differencing, unscaling) around lstm_reference_step/head.
 */
typedef struct RefSeries {
    int64_t steps;
    double last_value;
    float *h; /* (L, H) */
    float *c; /* (L, H) */
} RefSeries;

/* Zero state. */
static void ref_init(RefSeries *s, const LstmDims *d)
{
    size_t n = (size_t)d->num_layers * d->hidden_size;
    s->steps = 0;
    s->last_value = 0;
    s->h = calloc(n, sizeof(float));
    s->c = calloc(n, sizeof(float));
}

/* Free the state. */
static void ref_free(RefSeries *s)
{
    free(s->h);
    free(s->c);
}

/* Consume one raw row through the plain-loop reference. */
static void ref_feed(const LstmModelView *m, RefSeries *s, const double *features)
{
    float x[LSTM_MAX_INPUT];
    double target = features[0];
    if (m->dims.flags & LSTM_FLAG_DIFFERENCE) {
        double previous = s->last_value;
        s->last_value = target;
        if (s->steps++ == 0)
            return;
        target -= previous;
    } else
        s->steps++;
    x[0] = (float)((target - (double)m->input_mean[0]) / (double)m->input_std[0]);
    for (int i = 1; i < m->dims.input_size; i++)
        x[i] = (float)((features[i] - (double)m->input_mean[i]) / (double)m->input_std[i]);
    lstm_reference_step(m, s->h, s->c, x);
}

/* Raw outputs of the reference. */
static void ref_predict(const LstmModelView *m, const RefSeries *s, double *outputs)
{
    float y[LSTM_MAX_OUTPUT];
    lstm_reference_head(m, s->h, y);
    for (int o = 0; o < m->dims.output_size; o++)
        outputs[o] = (double)y[o] * (double)m->output_std[o] + (double)m->output_mean[o];
    if (m->dims.flags & LSTM_FLAG_DIFFERENCE)
        outputs[0] += s->last_value;
}

/*
 * An independent forward pass in double precision, written from PyTorch's
 * equations (gates i, f, g, o; c = f c + i g; h = o tanh(c)) on the
 * state_dict layout, sharing no code with runner.c.
 */
typedef struct DoubleSeries {
    int64_t steps;
    double last_value;
    double *h; /* (L, H) */
    double *c; /* (L, H) */
} DoubleSeries;

/* Zero state. */
static void double_init(DoubleSeries *s, const LstmDims *d)
{
    size_t n = (size_t)d->num_layers * d->hidden_size;
    s->steps = 0;
    s->last_value = 0;
    s->h = calloc(n, sizeof(double));
    s->c = calloc(n, sizeof(double));
}

/* Free the state. */
static void double_free(DoubleSeries *s)
{
    free(s->h);
    free(s->c);
}

/* Logistic function in double. */
static double sigmoid_d(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* Consume one raw row in double precision. */
static void double_feed(const LstmModelView *m, DoubleSeries *s, const double *features)
{
    int H = m->dims.hidden_size, I = m->dims.input_size;
    double *x = malloc((size_t)(I > H ? I : H) * sizeof(double));
    double *gates = malloc((size_t)4 * H * sizeof(double));
    double target = features[0];

    if (m->dims.flags & LSTM_FLAG_DIFFERENCE) {
        double previous = s->last_value;
        s->last_value = target;
        if (s->steps++ == 0)
            goto done;
        target -= previous;
    } else
        s->steps++;
    x[0] = (target - m->input_mean[0]) / m->input_std[0];
    for (int i = 1; i < I; i++)
        x[i] = (features[i] - m->input_mean[i]) / m->input_std[i];
    for (int k = 0; k < m->dims.num_layers; k++) {
        const LstmLayerWeights *w = &m->layer[k];
        int in = k == 0 ? I : H;
        double *h = s->h + (size_t)k * H, *c = s->c + (size_t)k * H;
        for (int j = 0; j < 4 * H; j++) {
            double g = (double)w->bias_ih[j] + (double)w->bias_hh[j];
            for (int i = 0; i < in; i++)
                g += (double)w->weight_ih[(size_t)j * in + i] * x[i];
            for (int i = 0; i < H; i++)
                g += (double)w->weight_hh[(size_t)j * H + i] * h[i];
            gates[j] = g;
        }
        for (int j = 0; j < H; j++) {
            double ig = sigmoid_d(gates[j]), fg = sigmoid_d(gates[H + j]);
            double gg = tanh(gates[2 * H + j]), og = sigmoid_d(gates[3 * H + j]);
            c[j] = fg * c[j] + ig * gg;
            h[j] = og * tanh(c[j]);
        }
        memcpy(x, h, (size_t)H * sizeof(double)); /* the next layer's input */
    }
done:
    free(gates);
    free(x);
}

/* Raw outputs in double precision. */
static void double_predict(const LstmModelView *m, const DoubleSeries *s, double *outputs)
{
    int H = m->dims.hidden_size;
    const double *top = s->h + (size_t)(m->dims.num_layers - 1) * H;
    for (int o = 0; o < m->dims.output_size; o++) {
        double y = m->head_bias[o];
        for (int j = 0; j < H; j++)
            y += (double)m->head_weight[(size_t)o * H + j] * top[j];
        outputs[o] = y * m->output_std[o] + m->output_mean[o];
    }
    if (m->dims.flags & LSTM_FLAG_DIFFERENCE)
        outputs[0] += s->last_value;
}

/* A random raw row near the model's input scale (sometimes far from it). */
static void random_row(const LstmModelView *m, uint64_t *rng, int row, double *features)
{
    double spread = row % 17 == 5 ? 8.0 : 1.0;
    for (int i = 0; i < m->dims.input_size; i++)
        features[i] = m->input_mean[i] + spread * m->input_std[i] * rng_normal(rng);
    if (m->dims.flags & LSTM_FLAG_DIFFERENCE)
        features[0] = 10.0 + sin(0.3 * row) + 0.2 * rng_normal(rng); /* a level, not a delta */
}

/*
 * Run rows through the runner, the reference and the double pass, comparing
 * every output after every row; then compare horizons (O == I models).
 */
static void compare_model(const LstmDims *dims, int rows, uint64_t seed)
{
    uint64_t rng = seed;
    TestModel t;
    LstmSeries series, work;
    float *series_memory, *work_memory;
    RefSeries ref;
    DoubleSeries dbl;
    double features[LSTM_MAX_INPUT], got[LSTM_MAX_OUTPUT], want[LSTM_MAX_OUTPUT];
    double want_double[LSTM_MAX_OUTPUT];
    double worst_ref = 0, worst_dbl = 0, worst_hor = 0;
    int O = dims->output_size;

    test_model_init(&t, dims, &rng);
    series_memory = series_new(&series, dims);
    work_memory = series_new(&work, dims);
    ref_init(&ref, dims);
    double_init(&dbl, dims);
    for (int row = 0; row < rows; row++) {
        random_row(&t.view, &rng, row, features);
        lstm_runner_feed(&t.runner, &series, features);
        ref_feed(&t.view, &ref, features);
        double_feed(&t.view, &dbl, features);
        lstm_runner_predict(&t.runner, &series, got);
        ref_predict(&t.view, &ref, want);
        double_predict(&t.view, &dbl, want_double);
        for (int o = 0; o < O; o++) {
            double e = relative(got[o], want[o]), ed = relative(got[o], want_double[o]);
            worst_ref = e > worst_ref ? e : worst_ref;
            worst_dbl = ed > worst_dbl ? ed : worst_dbl;
            if (!isfinite(got[o]))
                worst_ref = INFINITY;
        }
    }
    CHECK(series.steps == rows, "steps %lld after %d rows", (long long)series.steps, rows);
    if (dims->input_size == O) {
        enum { K = 12 };
        double horizon[K], ref_horizon[K];
        float *h_before = malloc(lstm_series_nfloats(dims) * sizeof(float));
        RefSeries ref_work;
        memcpy(h_before, series.h, lstm_series_nfloats(dims) * sizeof(float));
        lstm_runner_horizon(&t.runner, &series, &work, K, horizon, NULL, NULL);
        CHECK(memcmp(h_before, series.h, lstm_series_nfloats(dims) * sizeof(float)) == 0 &&
                  series.steps == rows,
              "horizon changed the series");
        /* the reference horizon: predict, feed the forecast vector back */
        ref_init(&ref_work, dims);
        ref_work.steps = ref.steps;
        ref_work.last_value = ref.last_value;
        memcpy(ref_work.h, ref.h, (size_t)dims->num_layers * dims->hidden_size * sizeof(float));
        memcpy(ref_work.c, ref.c, (size_t)dims->num_layers * dims->hidden_size * sizeof(float));
        for (int k = 0; k < K; k++) {
            ref_predict(&t.view, &ref_work, want);
            ref_horizon[k] = want[0];
            ref_feed(&t.view, &ref_work, want);
            double e = relative(horizon[k], ref_horizon[k]);
            worst_hor = e > worst_hor ? e : worst_hor;
        }
        /* a shorter horizon is a prefix; horizon 1 is the one-step forecast */
        for (int k = 1; k <= K; k += 5) {
            double shorter[K];
            lstm_runner_horizon(&t.runner, &series, &work, k, shorter, NULL, NULL);
            CHECK(memcmp(shorter, horizon, k * sizeof(double)) == 0, "horizon %d not a prefix", k);
        }
        lstm_runner_predict(&t.runner, &series, got);
        CHECK(got[0] == horizon[0], "horizon[0] %.17g differs from predict %.17g", horizon[0],
              got[0]);
        ref_free(&ref_work);
        free(h_before);
    }
    printf("  I=%-2d H=%-3d L=%-2d O=%-2d diff=%d rows=%-5d vs reference %.2e, vs double %.2e",
           dims->input_size, dims->hidden_size, dims->num_layers, O,
           (dims->flags & LSTM_FLAG_DIFFERENCE) != 0, rows, worst_ref, worst_dbl);
    if (dims->input_size == O)
        printf(", horizon vs reference %.2e", worst_hor);
    printf("\n");
    CHECK(worst_ref <= TOLERANCE, "runner vs reference %.3g", worst_ref);
    CHECK(worst_dbl <= TOLERANCE, "runner vs double %.3g", worst_dbl);
    CHECK(worst_hor <= TOLERANCE, "horizon vs reference %.3g", worst_hor);
    worst_vs_reference = worst_ref > worst_vs_reference ? worst_ref : worst_vs_reference;
    worst_vs_double = worst_dbl > worst_vs_double ? worst_dbl : worst_vs_double;
    worst_horizon_vs_reference =
        worst_hor > worst_horizon_vs_reference ? worst_hor : worst_horizon_vs_reference;
    double_free(&dbl);
    ref_free(&ref);
    free(work_memory);
    free(series_memory);
    test_model_free(&t);
}

/* The fast path agrees with both references over many shapes. */
static void test_against_references(void)
{
    static const struct {
        int I, H, L, O, difference, rows;
    } cases[] = {
        {1, 1, 1, 1, 0, 300},  {1, 2, 1, 1, 1, 300},  {1, 3, 2, 1, 0, 300},  {2, 5, 1, 2, 0, 200},
        {3, 7, 3, 3, 1, 200},  {1, 13, 1, 1, 0, 200}, {4, 17, 2, 4, 0, 200}, {5, 31, 3, 5, 1, 100},
        {1, 33, 2, 1, 0, 100}, {2, 64, 1, 2, 1, 100}, {1, 100, 2, 1, 0, 50}, {3, 129, 1, 1, 0, 30},
        {1, 256, 1, 1, 0, 20}, {5, 6, 2, 1, 1, 100},  {2, 3, 16, 2, 0, 50},  {1, 7, 2, 1, 1, 10000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        LstmDims d = make_dims(cases[i].I, cases[i].H, cases[i].L, cases[i].O,
                               cases[i].difference ? LSTM_FLAG_DIFFERENCE : 0);
        compare_model(&d, cases[i].rows, 1000 + i);
    }
}

/* Before any row, and after the first row of a differenced model. */
static void test_first_rows(void)
{
    uint64_t rng = 21;
    LstmDims d = make_dims(2, 6, 2, 2, 0), dd = make_dims(2, 6, 2, 2, LSTM_FLAG_DIFFERENCE);
    TestModel t, td;
    LstmSeries s;
    float *memory;
    double outputs[2], features[2] = {42.5, -3.0};
    int zero = 1;

    test_model_init(&t, &d, &rng);
    memory = series_new(&s, &d);
    lstm_runner_predict(&t.runner, &s, outputs);
    for (int o = 0; o < 2; o++)
        CHECK(outputs[o] == (double)t.view.head_bias[o] * (double)t.view.output_std[o] +
                                (double)t.view.output_mean[o],
              "empty series output %d is not the unscaled head bias", o);
    free(memory);

    test_model_init(&td, &dd, &rng);
    memory = series_new(&s, &dd);
    lstm_runner_feed(&td.runner, &s, features);
    for (size_t j = 0; j < lstm_series_nfloats(&dd); j++)
        zero &= memory[j] == 0.0f;
    CHECK(zero && s.steps == 1 && s.last_value == 42.5,
          "first differenced row must only record its value");
    lstm_runner_predict(&td.runner, &s, outputs);
    CHECK(outputs[0] == (double)td.view.head_bias[0] * (double)td.view.output_std[0] +
                            (double)td.view.output_mean[0] + 42.5,
          "first differenced forecast is the head bias plus the last value");
    features[0] = 43.0;
    lstm_runner_feed(&td.runner, &s, features);
    zero = 1;
    for (size_t j = 0; j < lstm_series_nfloats(&dd); j++)
        zero &= memory[j] == 0.0f;
    CHECK(!zero && s.steps == 2 && s.last_value == 43.0, "second differenced row steps the cell");
    free(memory);
    test_model_free(&td);
    test_model_free(&t);
}

/*
 * The runner keeps no pointer into the model, stays inside the memory it is
 * given whatever that memory's alignment, and predict does not change the
 * series; lstm_series_copy copies everything.
 */
static void test_runner_memory(void)
{
    uint64_t rng = 22;
    LstmDims d = make_dims(3, 9, 3, 3, LSTM_FLAG_DIFFERENCE);
    TestModel t;
    size_t need = lstm_runner_nbytes(&d);
    LstmSeries a, b;
    float *ma, *mb;
    double features[3], expected[3], got[3];

    test_model_init(&t, &d, &rng);
    ma = series_new(&a, &d);
    for (int row = 0; row < 20; row++) {
        random_row(&t.view, &rng, row, features);
        lstm_runner_feed(&t.runner, &a, features);
    }
    lstm_runner_predict(&t.runner, &a, expected);
    lstm_runner_predict(&t.runner, &a, got);
    CHECK(memcmp(expected, got, sizeof(got)) == 0, "predict is not repeatable");

    /* copy a series, step both the same way: identical */
    mb = series_new(&b, &d);
    lstm_series_copy(&b, &a, &d);
    CHECK(b.steps == a.steps && b.last_value == a.last_value &&
              memcmp(ma, mb, lstm_series_nfloats(&d) * sizeof(float)) == 0,
          "series copy differs");

    for (size_t offset = 0; offset < 64; offset += 4) {
        unsigned char *block = malloc(need + 128);
        LstmRunner r;
        unsigned char *copy = malloc(t.nbytes);
        LstmModelView v;
        int intact = 1;

        memset(block, 0xA5, need + 128);
        memcpy(copy, t.bytes, t.nbytes);
        lstm_model_view(copy, &v);
        lstm_runner_init(&r, &v, block + offset);
        memset(copy, 0xFF, t.nbytes); /* the model's bytes are gone: NaN everywhere */
        free(copy);
        lstm_series_copy(&b, &a, &d);
        for (int row = 0; row < 3; row++) {
            random_row(&t.view, &rng, row, features);
            lstm_runner_feed(&r, &b, features);
            lstm_runner_feed(&t.runner, &a, features);
        }
        lstm_runner_predict(&r, &b, got);
        lstm_runner_predict(&t.runner, &a, expected);
        CHECK(memcmp(got, expected, sizeof(got)) == 0,
              "runner at offset %zu gives different forecasts", offset);
        for (size_t j = 0; j < offset; j++)
            intact &= block[j] == 0xA5;
        for (size_t j = offset + need; j < need + 128; j++)
            intact &= block[j] == 0xA5;
        CHECK(intact, "runner at offset %zu wrote outside its %zu bytes", offset, need);
        free(block);
    }
    free(mb);
    free(ma);
    test_model_free(&t);
}

/*
 * Extreme inputs whose scaled values are still float32 saturate the gates;
 * nothing becomes NaN. (A raw value whose scaled value overflows float32,
 * beyond about 3.4e38 * input_std, makes x infinite and the forecast NaN,
 * as in PyTorch; the glue must reject such values, so it is not tested here.)
 */
static void test_extreme_inputs(void)
{
    uint64_t rng = 23;
    LstmDims d = make_dims(2, 8, 2, 2, 0);
    TestModel t;
    LstmSeries s;
    float *memory;
    double outputs[2], horizon[5];
    static const double values[] = {1e37, -1e37, 1e30, -1e30, 0.0, 1e-300, 1e20};
    int finite = 1;

    test_model_init(&t, &d, &rng);
    memory = series_new(&s, &d);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        double features[2] = {values[i], -values[i]};
        lstm_runner_feed(&t.runner, &s, features);
        lstm_runner_predict(&t.runner, &s, outputs);
        finite &= isfinite(outputs[0]) && isfinite(outputs[1]);
    }
    for (size_t j = 0; j < lstm_series_nfloats(&d); j++)
        finite &= isfinite(memory[j]) && fabsf(memory[j]) <= 1e30f;
    {
        LstmSeries work;
        float *wm = series_new(&work, &d);
        lstm_runner_horizon(&t.runner, &s, &work, 5, horizon, NULL, NULL);
        for (int k = 0; k < 5; k++)
            finite &= isfinite(horizon[k]);
        free(wm);
    }
    CHECK(finite, "extreme inputs gave a non-finite state or forecast");
    free(memory);
    test_model_free(&t);
}

/* The float32 nonlinearities against double precision. */
static void test_nonlinearities(void)
{
    double worst_sigmoid = 0, worst_tanh = 0;
    int finite = 1;
    CHECK(lstm_sigmoid(0.0f) == 0.5f && lstm_tanh(0.0f) == 0.0f, "sigmoid(0), tanh(0)");
    for (double x = -30.0; x <= 30.0; x += 0.001) {
        float xf = (float)x;
        double s = 1.0 / (1.0 + exp(-(double)xf)), t = tanh((double)xf);
        double es = fabs(lstm_sigmoid(xf) - s) / s, et = fabs(lstm_tanh(xf) - t);
        worst_sigmoid = es > worst_sigmoid ? es : worst_sigmoid;
        worst_tanh = et > worst_tanh ? et : worst_tanh;
    }
    for (float x = 1.0f; isfinite(x); x *= 4.0f) {
        float v[4] = {lstm_sigmoid(x), lstm_sigmoid(-x), lstm_tanh(x), lstm_tanh(-x)};
        for (int i = 0; i < 4; i++)
            finite &= isfinite(v[i]) && fabsf(v[i]) <= 1.0f;
    }
    finite &= lstm_sigmoid(INFINITY) == 1.0f && lstm_sigmoid(-INFINITY) == 0.0f;
    printf("  nonlinearities: sigmoid relative %.2e, tanh absolute %.2e (float32 vs double)\n",
           worst_sigmoid, worst_tanh);
    CHECK(worst_sigmoid < 1e-6, "sigmoid off by %.3g", worst_sigmoid);
    CHECK(worst_tanh < 1e-6, "tanh off by %.3g", worst_tanh);
    CHECK(finite, "nonlinearities leave [-1, 1] or give NaN for large arguments");
}

/* Run every test; the last line says how many checks passed and failed. */
/*
 * Series-scaled ensembles (format version 2) against the reference: every
 * member stepped by lstm_reference_step on the normaliser's features, its
 * head unscaled and turned into raw forecasts, the median over members; the
 * direct horizon is the first outputs; a value outside the log's domain
 * leaves the series unchanged.
 */
static double worst_series_vs_reference;
static void test_series_scaled(unsigned flags, int season, int members, int L, uint64_t seed)
{
    uint64_t rng = seed;
    int O = 3, H = 6;
    LstmDims d =
        make_dims(lstm_normalizer_input_size(season, O), H, L, O, LSTM_FLAG_SERIES_SCALING | flags);
    TestModel t;
    LstmSeries s, copy;
    LstmNormalizer nz;
    double ring[LSTM_MAX_SEASON];
    float *h[LSTM_MAX_MEMBERS], *c[LSTM_MAX_MEMBERS]; /* (L, H) each, per member */
    size_t n = (size_t)L * H;
    double got[8], direct[8], expected[8], raw[LSTM_MAX_MEMBERS][8];
    float *mem_s, *mem_copy;

    d.members = members;
    d.season = season;
    test_model_init(&t, &d, &rng);
    mem_s = series_new(&s, &d);
    mem_copy = series_new(&copy, &d);
    lstm_normalizer_init(&nz, ring);
    for (int m = 0; m < members; m++) {
        h[m] = calloc(n, sizeof(float));
        c[m] = calloc(n, sizeof(float));
    }
    for (int row = 0; row < 40; row++) {
        double y = 20.0 + 5.0 * sin(row * 1.3) + 0.2 * row + rng_uniform(&rng, -1.0, 1.0), z;
        float x[LSTM_MAX_INPUT];
        CHECK(lstm_runner_feed(&t.runner, &s, &y) == LSTM_OK, "feed row %d", row);
        lstm_normalizer_transform(d.flags, y, &z);
        lstm_normalizer_push(&nz, season, z);
        lstm_normalizer_features(&nz, season, O, x);
        for (int i = 0; i < d.input_size; i++)
            x[i] = (float)(((double)x[i] - t.view.input_mean[i]) / t.view.input_std[i]);
        for (int m = 0; m < members; m++) {
            LstmModelView mv;
            float out[8];
            lstm_reference_member_view(&t.view, m, &mv);
            lstm_reference_step(&mv, h[m], c[m], x);
            lstm_reference_head(&mv, h[m], out);
            for (int k = 0; k < O; k++)
                raw[m][k] = lstm_normalizer_forecast(
                    &nz, d.flags, (double)out[k] * t.view.output_std[k] + t.view.output_mean[k]);
        }
        for (int k = 0; k < O; k++) {
            double column[LSTM_MAX_MEMBERS];
            for (int m = 0; m < members; m++)
                column[m] = raw[m][k];
            expected[k] = lstm_reference_median(column, members);
        }
        lstm_runner_predict(&t.runner, &s, got);
        lstm_runner_horizon(&t.runner, &s, &copy, 2, direct, NULL, NULL);
        for (int k = 0; k < O; k++) {
            double e = relative(got[k], expected[k]);
            if (e > worst_series_vs_reference)
                worst_series_vs_reference = e;
            CHECK(e <= TOLERANCE, "series-scaled row %d output %d: %.9g vs reference %.9g", row, k,
                  got[k], expected[k]);
        }
        CHECK(direct[0] == got[0] && direct[1] == got[1], "direct horizon is the outputs");
    }
    if (flags & LSTM_FLAG_LOG) {
        double bad = 0.0;
        size_t bytes = lstm_series_nfloats(&d) * sizeof(float);
        unsigned char *before = malloc(bytes);
        memcpy(before, mem_s, bytes);
        CHECK(lstm_runner_feed(&t.runner, &s, &bad) == LSTM_ERR_DOMAIN, "log of 0 rejected");
        CHECK(memcmp(before, mem_s, bytes) == 0 && s.steps == 40 && s.norm.rows == 40,
              "a rejected row leaves the series unchanged");
        free(before);
    }
    lstm_series_copy(&copy, &s, &d);
    lstm_runner_predict(&t.runner, &copy, direct);
    CHECK(memcmp(direct, got, O * sizeof(double)) == 0, "a copied series forecasts the same");
    for (int m = 0; m < members; m++) {
        free(h[m]);
        free(c[m]);
    }
    free(mem_s);
    free(mem_copy);
    test_model_free(&t);
}

int main(void)
{
    test_nonlinearities();
    test_against_references();
    test_first_rows();
    test_runner_memory();
    test_extreme_inputs();
    test_series_scaled(LSTM_FLAG_LOG, 4, 3, 1, 11);
    test_series_scaled(0, 0, 2, 2, 12);
    test_series_scaled(LSTM_FLAG_LOG, 0, 4, 1, 13);
    test_series_scaled(0, 7, 1, 1, 14);
    printf("series-scaled ensembles vs reference: largest difference %.2e\n",
           worst_series_vs_reference);
    printf("largest difference: runner vs reference %.2e, vs double %.2e, horizon vs reference "
           "%.2e (tolerance %.0e)\n",
           worst_vs_reference, worst_vs_double, worst_horizon_vs_reference, TOLERANCE);
    return test_summary();
}
