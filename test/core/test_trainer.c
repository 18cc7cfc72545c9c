/*
 * test_trainer.c - unit tests of src/core/trainer.c (run by `make unittest`).
 *
 *  - the double-precision reference gradient against central finite
 *    differences, parameter by parameter;
 *  - the float32/BLAS trainer against the double reference;
 *  - both against PyTorch autograd (test/train/fixtures/grad_*.txt);
 *  - 20 stateful Adam steps with clipping against PyTorch (adam20.txt);
 *  - planning, scaling, options, early stopping, determinism, and that the
 *    inference runner of runner.h computes exactly the loss training reports.
 *
 * Run from the repository root. Prints the largest errors and a closing
 * line "N passed, M failed"; exits non-zero on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "runner.h"
#include "model_format.h"
#include "normalizer.h"
#include "trainer.h"

#define FIXTURES "test/train/fixtures/"

static int passed, failed;

/* Record one check. */
static void check(int ok, const char *what)
{
    if (ok)
        passed++;
    else {
        failed++;
        printf("FAIL: %s\n", what);
    }
}

/* ---- fixtures: lines "name count v1 .. vcount" ---- */

/* Read the next array, which must be called name, into a fresh malloc'd buffer. */
static double *read_array(FILE *f, const char *name, size_t *count)
{
    char got[64];
    size_t n;
    double *v;
    if (fscanf(f, "%63s %zu", got, &n) != 2 || strcmp(got, name) != 0) {
        printf("fixture: expected array %s\n", name);
        exit(2);
    }
    v = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        if (fscanf(f, "%lf", &v[i]) != 1) {
            printf("fixture: short array %s\n", name);
            exit(2);
        }
    if (count)
        *count = n;
    return v;
}

/* ---- a trainer over one chunk, data filled by the test ---- */

typedef struct Chunk {
    LstmDims dims;
    int B, T;
    LstmTrainOptions opts;
    LstmTrainer tr;
    void *memory;
} Chunk;

/*
 * A trainer with B lanes and T steps whose buffers the test fills itself;
 * O outputs (a direct head of series scaling when O > 1) and the loss.
 */
static void chunk_init_head(Chunk *ch, int I, int H, int L, int O, int loss, int B, int T,
                            double lr, double clip)
{
    LstmTrainTotals totals;
    memset(ch, 0, sizeof(*ch));
    ch->opts.series_scaling = O > 1;
    ch->opts.horizon = O;
    ch->opts.loss = loss;
    ch->opts.members = 1;
    ch->opts.hidden_size = H;
    ch->opts.num_layers = L;
    ch->opts.bptt = T;
    ch->opts.batch_size = B;
    ch->opts.epochs = 1;
    ch->opts.learning_rate = lr;
    ch->opts.clip = clip;
    ch->opts.seed = 7;
    memset(&totals, 0, sizeof(totals));
    totals.lanes = B;
    totals.series_used = 1;
    ch->memory = malloc(lstm_trainer_nbytes(&ch->opts, I, &totals));
    lstm_trainer_init(&ch->tr, &ch->opts, I, &totals, NULL, 0, NULL, ch->memory, NULL, NULL);
    ch->dims = ch->tr.dims;
    ch->B = B;
    ch->T = T;
}

/* A trainer of one output and the MSE loss (the global models' chunk). */
static void chunk_init(Chunk *ch, int I, int H, int L, int B, int T, double lr, double clip)
{
    chunk_init_head(ch, I, H, L, 1, LSTM_LOSS_MSE, B, T, lr, clip);
}

/* Copy doubles into the trainer's float arrays. */
static void to_float(float *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)src[i];
}

/* Load a chunk's data (x, target, kind) and initial state into the trainer. */
static void chunk_load(Chunk *ch, const double *x, const double *target, const double *kind,
                       const double *h0, const double *c0)
{
    LstmTrainer *tr = &ch->tr;
    size_t TB = (size_t)ch->T * ch->B, BH = (size_t)ch->B * ch->dims.hidden_size;
    size_t O = (size_t)ch->dims.output_size;
    to_float(tr->input, x, TB * ch->dims.input_size);
    to_float(tr->target, target, TB * O);
    for (size_t e = 0; e < TB * O; e++)
        tr->kind[e] = (uint8_t)kind[e];
    for (int k = 0; k < ch->dims.num_layers; k++) {
        if (h0)
            to_float(tr->acts[k].hidden, h0 + k * BH, BH);
        if (c0)
            to_float(tr->acts[k].cell, c0 + k * BH, BH);
    }
}

/* A deterministic pseudo-random double in [-1, 1). */
static double noise(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 4503599627370496.0 - 1.0;
}

/* ---- 0. the vectorized nonlinearities against libm ---- */

static void test_nonlinearities(void)
{
    double worst_sig = 0.0, worst_tanh = 0.0;
    char what[160];
    int nonfinite = 0;
    for (double x = -120.0; x <= 120.0; x += 1.0 / 1024) {
        float xf = (float)x;
        float s = lstm_sigmoid_fast(xf), t = lstm_tanh_fast(xf);
        nonfinite += !isfinite(s) || !isfinite(t);
        worst_sig = fmax(worst_sig, fabs(s - lstm_sigmoid(xf)));
        worst_tanh = fmax(worst_tanh, fabs(t - lstm_tanh(xf)));
    }
    snprintf(what, sizeof(what),
             "shared fast sigmoid and tanh within 3e-7 of libm's (%.2g, %.2g), finite", worst_sig,
             worst_tanh);
    check(worst_sig <= 3e-7 && worst_tanh <= 3e-7 && nonfinite == 0, what);
    check(lstm_tanh_fast(0.0f) == 0.0f && lstm_sigmoid_fast(0.0f) == 0.5f &&
              lstm_tanh_fast(-1e30f) == -1.0f && lstm_sigmoid_fast(1e30f) == 1.0f &&
              lstm_sigmoid_fast(-1e30f) < 1e-37f,
          "shared fast sigmoid and tanh at 0 and the extremes");
    printf("vectorized sigmoid/tanh vs libm: max abs error %.2g / %.2g\n", worst_sig, worst_tanh);
}

/* ---- 1. reference gradient vs central finite differences ---- */

/*
 * Check every parameter of one configuration (O outputs, MSE or L1 loss);
 * returns the largest error.
 */
static double gradcheck_case(int I, int H, int L, int O, int loss, int B, int T, uint64_t seed)
{
    LstmDims dims = lstm_dims_make(I, H, L, O, 0);
    size_t P = lstm_model_parameter_count(&dims), TB = (size_t)T * B;
    size_t BH = (size_t)B * H;
    double *params = malloc(P * sizeof(double)), *grads = malloc(P * sizeof(double));
    double *x = malloc(TB * I * sizeof(double)), *target = malloc(TB * O * sizeof(double));
    double *h0 = malloc(L * BH * sizeof(double)), *c0 = malloc(L * BH * sizeof(double));
    uint8_t *kind = malloc(TB * O);
    void *scratch = malloc(lstm_train_reference_nbytes(&dims, B, T));
    double worst = 0.0;
    uint64_t st = seed;

    for (size_t p = 0; p < P; p++)
        params[p] = 0.6 * noise(&st);
    for (size_t i = 0; i < TB * I; i++)
        x[i] = noise(&st);
    for (size_t i = 0; i < TB * O; i++) {
        target[i] = noise(&st);
        kind[i] =
            (i % 5 == 3) ? LSTM_TARGET_NONE : (i % 7 == 2 ? LSTM_TARGET_VALID : LSTM_TARGET_TRAIN);
    }
    for (size_t i = 0; i < L * BH; i++) {
        h0[i] = 0.5 * noise(&st);
        c0[i] = noise(&st);
    }
    lstm_train_reference_chunk(&dims, loss, params, B, T, x, target, kind, h0, c0, grads, scratch);
    for (size_t p = 0; p < P; p++) {
        double keep = params[p], eps = 1e-5, up, down, numeric, err;
        params[p] = keep + eps;
        up = lstm_train_reference_chunk(&dims, loss, params, B, T, x, target, kind, h0, c0, NULL,
                                        scratch);
        params[p] = keep - eps;
        down = lstm_train_reference_chunk(&dims, loss, params, B, T, x, target, kind, h0, c0, NULL,
                                          scratch);
        params[p] = keep;
        numeric = (up - down) / (2 * eps);
        err = fabs(numeric - grads[p]) / fmax(1.0, fabs(grads[p]));
        if (err > worst)
            worst = err;
    }
    free(params), free(grads), free(x), free(target), free(h0), free(c0), free(kind);
    free(scratch);
    return worst;
}

static void test_gradcheck(void)
{
    static const int cases[][7] = {
        /* I, H, L, O, loss, B, T */
        {1, 3, 1, 1, LSTM_LOSS_MSE, 2, 5},
        {3, 4, 2, 1, LSTM_LOSS_MSE, 3, 4},
        {2, 5, 3, 1, LSTM_LOSS_MSE, 2, 6},
        {1, 1, 1, 1, LSTM_LOSS_MSE, 1, 1},
        {4, 2, 2, 1, LSTM_LOSS_MSE, 4, 3},
        /* the direct head of series scaling: O outputs, masked entries, L1 */
        {15, 4, 1, 13, LSTM_LOSS_L1, 3, 5},
        {2, 3, 2, 4, LSTM_LOSS_L1, 2, 4},
        {5, 3, 1, 3, LSTM_LOSS_MSE, 2, 3},
        {1, 1, 1, 2, LSTM_LOSS_L1, 1, 1},
    };
    double worst = 0.0, worst_l1 = 0.0;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const int *k = cases[c];
        double err = gradcheck_case(k[0], k[1], k[2], k[3], k[4], k[5], k[6], 100 + c);
        char what[160];
        snprintf(what, sizeof(what),
                 "finite differences, I=%d H=%d L=%d O=%d %s B=%d T=%d: error %.3g <= 1e-8", k[0],
                 k[1], k[2], k[3], k[4] == LSTM_LOSS_L1 ? "L1" : "MSE", k[5], k[6], err);
        check(err <= 1e-8, what);
        if (k[4] == LSTM_LOSS_L1)
            worst_l1 = fmax(worst_l1, err);
        else
            worst = fmax(worst, err);
    }
    printf("reference gradient vs central finite differences (double): max error %.3g (MSE), "
           "%.3g (L1 direct head)\n",
           worst, worst_l1);
}

/* ---- 2. float32/BLAS trainer vs the double reference ---- */

/*
 * The fast gradient of one chunk against the reference on the same float
 * values; returns the largest error relative to the largest gradient.
 */
static double fast_vs_reference(int I, int H, int L, int O, int loss, int B, int T, uint64_t seed,
                                double *loss_err)
{
    Chunk ch;
    LstmDims dims;
    size_t P, TB = (size_t)T * B, BH = (size_t)B * H;
    double *params, *grads, *x, *target, *kindd, *h0, *c0, ref_loss, fast_loss, scale = 0.0,
                                                                                worst = 0.0;
    uint8_t *kind;
    void *scratch;
    uint64_t st = seed;

    chunk_init_head(&ch, I, H, L, O, loss, B, T, 0.01, 1.0);
    dims = ch.dims;
    P = ch.tr.nparams;
    params = malloc(P * sizeof(double)), grads = malloc(P * sizeof(double));
    x = malloc(TB * I * sizeof(double)), target = malloc(TB * O * sizeof(double));
    kindd = malloc(TB * O * sizeof(double)), kind = malloc(TB * O);
    h0 = malloc(L * BH * sizeof(double)), c0 = malloc(L * BH * sizeof(double));
    scratch = malloc(lstm_train_reference_nbytes(&dims, B, T));
    for (size_t p = 0; p < P; p++)
        params[p] = (float)(noise(&st) / sqrt((double)H));
    for (size_t i = 0; i < TB * I; i++)
        x[i] = (float)noise(&st);
    for (size_t i = 0; i < TB * O; i++) {
        target[i] = (float)noise(&st);
        kind[i] = i % 9 == 4 ? LSTM_TARGET_NONE : LSTM_TARGET_TRAIN;
        kindd[i] = kind[i];
    }
    for (size_t i = 0; i < L * BH; i++)
        h0[i] = (float)(0.5 * noise(&st)), c0[i] = (float)noise(&st);
    to_float(ch.tr.params, params, P);
    chunk_load(&ch, x, target, kindd, h0, c0);
    memset(ch.tr.grads, 0, P * sizeof(float));
    fast_loss = lstm_trainer_forward(&ch.tr);
    lstm_trainer_backward(&ch.tr);
    ref_loss = lstm_train_reference_chunk(&dims, loss, params, B, T, x, target, kind, h0, c0, grads,
                                          scratch);
    for (size_t p = 0; p < P; p++)
        scale = fmax(scale, fabs(grads[p]));
    for (size_t p = 0; p < P; p++)
        worst = fmax(worst, fabs(ch.tr.grads[p] - grads[p]) / scale);
    *loss_err = fabs(fast_loss - ref_loss) / fmax(1.0, fabs(ref_loss));
    free(params), free(grads), free(x), free(target), free(kindd), free(kind), free(h0);
    free(c0), free(scratch), free(ch.memory);
    return worst;
}

static void test_fast_vs_reference(void)
{
    static const int cases[][7] = {
        /* I, H, L, O, loss, B, T */
        {1, 8, 1, 1, LSTM_LOSS_MSE, 1, 16},  {3, 16, 2, 1, LSTM_LOSS_MSE, 5, 12},
        {2, 32, 3, 1, LSTM_LOSS_MSE, 8, 10}, {5, 64, 1, 1, LSTM_LOSS_MSE, 3, 20},
        {1, 1, 1, 1, LSTM_LOSS_MSE, 1, 1},   {15, 32, 1, 13, LSTM_LOSS_L1, 8, 16},
        {2, 16, 2, 5, LSTM_LOSS_L1, 4, 10},  {15, 32, 1, 13, LSTM_LOSS_MSE, 6, 8},
    };
    double worst = 0.0, worst_loss = 0.0;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const int *k = cases[c];
        double loss_err,
            err = fast_vs_reference(k[0], k[1], k[2], k[3], k[4], k[5], k[6], 200 + c, &loss_err);
        char what[200];
        snprintf(what, sizeof(what),
                 "float32 BLAS vs double reference, I=%d H=%d L=%d O=%d %s B=%d T=%d: gradient "
                 "error %.3g <= 1e-5, loss error %.3g <= 1e-6",
                 k[0], k[1], k[2], k[3], k[4] == LSTM_LOSS_L1 ? "L1" : "MSE", k[5], k[6], err,
                 loss_err);
        check(err <= 1e-5 && loss_err <= 1e-6, what);
        worst = fmax(worst, err);
        worst_loss = fmax(worst_loss, loss_err);
    }
    printf("float32 BLAS trainer vs double reference: max gradient error %.3g (relative to the "
           "largest gradient), max loss error %.3g\n",
           worst, worst_loss);
}

/* ---- 3. against PyTorch autograd ---- */

static double worst_torch_fast, worst_torch_ref;

static void test_torch_grad(const char *file, int loss_kind)
{
    char path[256], what[256];
    FILE *f;
    double *dims, *params, *x, *target, *kind, *h0, *c0, *loss, *grads, *ref;
    int I, H, L, O, B, T;
    size_t P;
    Chunk ch;
    uint8_t *kind8;
    void *scratch;
    double fast_loss, ref_loss, fast_err = 0.0, ref_err = 0.0;

    snprintf(path, sizeof(path), FIXTURES "%s", file);
    f = fopen(path, "r");
    if (!f) {
        check(0, path);
        return;
    }
    dims = read_array(f, "dims", NULL);
    I = (int)dims[0], H = (int)dims[1], L = (int)dims[2], O = (int)dims[3], B = (int)dims[4];
    T = (int)dims[5];
    params = read_array(f, "params", &P);
    x = read_array(f, "x", NULL);
    target = read_array(f, "target", NULL);
    kind = read_array(f, "kind", NULL);
    h0 = read_array(f, "h0", NULL);
    c0 = read_array(f, "c0", NULL);
    loss = read_array(f, "loss", NULL);
    grads = read_array(f, "grads", NULL);
    fclose(f);

    chunk_init_head(&ch, I, H, L, O, loss_kind, B, T, 0.01, 1.0);
    check(P == ch.tr.nparams, "fixture sizes match the trainer");
    to_float(ch.tr.params, params, P);
    chunk_load(&ch, x, target, kind, h0, c0);
    memset(ch.tr.grads, 0, P * sizeof(float));
    fast_loss = lstm_trainer_forward(&ch.tr);
    lstm_trainer_backward(&ch.tr);

    kind8 = malloc((size_t)T * B * O);
    for (size_t e = 0; e < (size_t)T * B * O; e++)
        kind8[e] = (uint8_t)kind[e];
    ref = malloc(P * sizeof(double));
    scratch = malloc(lstm_train_reference_nbytes(&ch.dims, B, T));
    ref_loss = lstm_train_reference_chunk(&ch.dims, loss_kind, params, B, T, x, target, kind8, h0,
                                          c0, ref, scratch);
    for (size_t p = 0; p < P; p++) {
        fast_err = fmax(fast_err, fabs(ch.tr.grads[p] - grads[p]) / fmax(1.0, fabs(grads[p])));
        ref_err = fmax(ref_err, fabs(ref[p] - grads[p]) / fmax(1.0, fabs(grads[p])));
    }
    snprintf(what, sizeof(what), "%s: trainer loss %.9g vs torch %.9g", file, fast_loss, loss[0]);
    check(fabs(fast_loss - loss[0]) <= 1e-6 * fmax(1.0, loss[0]), what);
    snprintf(what, sizeof(what), "%s: reference loss %.9g vs torch %.9g", file, ref_loss, loss[0]);
    check(fabs(ref_loss - loss[0]) <= 1e-6 * fmax(1.0, loss[0]), what);
    snprintf(what, sizeof(what), "%s: trainer gradients vs torch, error %.3g <= 1e-6", file,
             fast_err);
    check(fast_err <= 1e-6, what);
    snprintf(what, sizeof(what), "%s: reference gradients vs torch, error %.3g <= 1e-6", file,
             ref_err);
    check(ref_err <= 1e-6, what);
    printf("%s: %zu gradients vs PyTorch autograd: trainer max error %.3g, double reference "
           "%.3g\n",
           file, P, fast_err, ref_err);
    worst_torch_fast = fmax(worst_torch_fast, fast_err);
    worst_torch_ref = fmax(worst_torch_ref, ref_err);
    free(dims), free(params), free(x), free(target), free(kind), free(h0), free(c0), free(loss);
    free(grads), free(ref), free(kind8), free(scratch), free(ch.memory);
}

/* ---- 4. 20 Adam steps against PyTorch ---- */

static void test_adam20(void)
{
    FILE *f = fopen(FIXTURES "adam20.txt", "r");
    double *dims, *options, *params0;
    int I, H, L, B, T, steps;
    size_t P;
    Chunk ch;
    double worst = 0.0, worst_loss = 0.0, worst_norm = 0.0;
    char what[200];

    if (!f) {
        check(0, "adam20.txt");
        return;
    }
    dims = read_array(f, "dims", NULL);
    I = (int)dims[0], H = (int)dims[1], L = (int)dims[2], B = (int)dims[4], T = (int)dims[5];
    options = read_array(f, "options", NULL);
    steps = (int)options[0];
    params0 = read_array(f, "params0", &P);
    chunk_init(&ch, I, H, L, B, T, options[1], options[2]);
    check(P == ch.tr.nparams, "adam20: parameter count");
    to_float(ch.tr.params, params0, P);
    for (int b = 0; b < B; b++)
        lstm_trainer_reset_lane(&ch.tr, b);
    for (int s = 0; s < steps; s++) {
        double *x = read_array(f, "x", NULL), *target = read_array(f, "target", NULL);
        double *kind = read_array(f, "kind", NULL), *reset = read_array(f, "reset", NULL);
        double *loss = read_array(f, "loss", NULL), *norm = read_array(f, "norm", NULL);
        double *params = read_array(f, "params", NULL);
        double got_loss, got_norm, err = 0.0;
        chunk_load(&ch, x, target, kind, NULL, NULL);
        for (int b = 0; b < B; b++)
            if (reset[b] != 0.0)
                lstm_trainer_reset_lane(&ch.tr, b);
        /* lstm_trainer_train_chunk, with the norm kept for the comparison */
        memset(ch.tr.grads, 0, P * sizeof(float));
        got_loss = lstm_trainer_forward(&ch.tr);
        lstm_trainer_backward(&ch.tr);
        got_norm = lstm_trainer_clip(&ch.tr);
        lstm_trainer_adam(&ch.tr);
        lstm_trainer_carry(&ch.tr);
        for (size_t p = 0; p < P; p++)
            err = fmax(err, fabs(ch.tr.params[p] - params[p]));
        worst = fmax(worst, err);
        worst_loss = fmax(worst_loss, fabs(got_loss - loss[0]) / fmax(1.0, loss[0]));
        worst_norm = fmax(worst_norm, fabs(got_norm - norm[0]) / fmax(1.0, norm[0]));
        if (s == steps - 1) {
            snprintf(what, sizeof(what), "adam20: weights after %d steps within %.3g <= 1e-4",
                     steps, err);
            check(err <= 1e-4, what);
        }
        free(x), free(target), free(kind), free(reset), free(loss), free(norm), free(params);
    }
    snprintf(what, sizeof(what), "adam20: losses within %.3g and norms within %.3g (<= 1e-5)",
             worst_loss, worst_norm);
    check(worst_loss <= 1e-5 && worst_norm <= 1e-5, what);
    printf("20 Adam steps (clipping, carried state, resets, padding) vs PyTorch: max weight "
           "error %.3g over all steps, loss %.3g, gradient norm %.3g\n",
           worst, worst_loss, worst_norm);
    fclose(f);
    free(dims), free(options), free(params0), free(ch.memory);
}

/* ---- 5. options, plan, scaling ---- */

/* Defaults used by the remaining tests. */
static LstmTrainOptions default_options(void)
{
    LstmTrainOptions o;
    memset(&o, 0, sizeof(o));
    o.hidden_size = 8;
    o.num_layers = 1;
    o.bptt = 8;
    o.batch_size = 4;
    o.epochs = 5;
    o.learning_rate = 0.01;
    o.clip = 1.0;
    o.validation = 0.2;
    o.patience = 3;
    o.seed = 42;
    o.horizon = 1;
    o.members = 1;
    o.loss = LSTM_LOSS_MSE;
    return o;
}

static void test_options(void)
{
    char msg[LSTM_ERRMSG_LEN];
    LstmTrainOptions o = default_options(), bad;
    check(lstm_train_check_options(&o, 1, msg) == LSTM_TRAIN_OK, "default options are valid");
#define BAD(field, value, name)                                                                    \
    do {                                                                                           \
        bad = o;                                                                                   \
        bad.field = value;                                                                         \
        check(lstm_train_check_options(&bad, 1, msg) == LSTM_TRAIN_ERR_OPTION &&                   \
                  strncmp(msg, name " must be", strlen(name " must be")) == 0,                     \
              "option " #field " = " #value " is rejected");                                       \
    } while (0)
    BAD(hidden_size, 0, "hidden");
    BAD(hidden_size, 5000, "hidden");
    BAD(num_layers, 0, "layers");
    BAD(num_layers, 17, "layers");
    BAD(bptt, 0, "bptt");
    BAD(bptt, -3, "bptt");
    BAD(batch_size, 0, "batch_size");
    BAD(epochs, 0, "epochs");
    BAD(learning_rate, 0.0, "learning_rate");
    BAD(learning_rate, -1.0, "learning_rate");
    BAD(learning_rate, 1e9, "learning_rate");
    BAD(learning_rate, NAN, "learning_rate");
    BAD(clip, 0.0, "clip");
    BAD(clip, INFINITY, "clip");
    BAD(validation, -0.1, "validation");
    BAD(validation, 1.0, "validation");
    BAD(validation, NAN, "validation");
    BAD(patience, -1, "patience");
#undef BAD
    check(lstm_train_check_options(&o, 0, msg) == LSTM_TRAIN_ERR_OPTION, "0 inputs rejected");
    check(lstm_train_check_options(&o, 2000, msg) == LSTM_TRAIN_ERR_OPTION, "2000 inputs rejected");
    /* model size over the limit: 16 layers of hidden 4096 */
    bad = o;
    bad.hidden_size = 4096;
    bad.num_layers = 16;
    check(lstm_train_check_options(&bad, 1, msg) == LSTM_TRAIN_ERR_OPTION,
          "a model over the size limit is rejected");
}

static void test_plan(void)
{
    char msg[LSTM_ERRMSG_LEN];
    LstmTrainOptions o = default_options();
    LstmTrainSeries s[5];
    LstmTrainTotals t;
    int64_t rows[5] = {11, 1, 2, 0, 101};

    for (int i = 0; i < 5; i++)
        s[i].rows = rows[i];
    o.validation = 0.2;
    check(lstm_train_plan(&o, 5, s, &t, msg) == LSTM_TRAIN_OK, "plan ok");
    /* 11 rows: 11 inputs, 10 targets, 2 validation, 8 training */
    check(s[0].inputs == 11 && s[0].train == 8 && s[0].valid == 2 && s[0].start == 0,
          "plan: 11 rows -> 8 training, 2 validation targets");
    check(s[1].inputs == 0 && s[1].train == 0, "plan: a 1-row series is skipped");
    check(s[2].inputs == 2 && s[2].train == 1 && s[2].valid == 0 && s[2].start == 11,
          "plan: a 2-row series has one training target");
    check(s[3].train == 0, "plan: an empty series is skipped");
    check(s[4].train == 80 && s[4].valid == 20 && s[4].start == 13, "plan: 101 rows -> 80/20");
    check(t.series_used == 3 && t.series_skipped == 2 && t.inputs == 114 && t.train_targets == 89 &&
              t.valid_targets == 22 && t.rows == 115 && t.lanes == 3,
          "plan: totals");
    o.difference = 1;
    lstm_train_plan(&o, 5, s, &t, msg);
    check(s[0].inputs == 10 && s[0].train == 8 && s[0].valid == 1 && s[2].train == 0 &&
              t.series_used == 2,
          "plan: differencing costs one row per series");
    s[0].rows = 1, s[1].rows = 2, s[2].rows = 0;
    check(lstm_train_plan(&o, 3, s, &t, msg) == LSTM_TRAIN_ERR_NO_DATA && strstr(msg, "no series"),
          "plan: no series long enough is an error");
    check(lstm_train_plan(&o, 0, s, &t, msg) == LSTM_TRAIN_ERR_NO_DATA, "plan: no series at all");
}

static void test_prepare(void)
{
    char msg[LSTM_ERRMSG_LEN];
    LstmTrainOptions o = default_options();
    LstmTrainSeries s[2];
    LstmTrainTotals t;
    /* two series of 2 features; feature 1 constant */
    double raw[] = {1,  5, 2,  5, 4,  5, 7, 5, 11, 5, /* series 0: 5 rows */
                    10, 5, 20, 5, 30, 5};             /* series 1: 3 rows */
    float mean[2], std[2], inputs[16];

    s[0].rows = 5, s[1].rows = 3;
    o.validation = 0.25; /* series 0: 4 targets, 1 validation; series 1: 2 targets, 0 */
    lstm_train_plan(&o, 2, s, &t, msg);
    check(lstm_train_prepare(&o, 2, raw, 2, s, mean, std, inputs, NULL, NULL, msg) == LSTM_TRAIN_OK,
          "prepare ok");
    /* training rows: series 0 inputs 0..3 (1 2 4 7), series 1 inputs 0..2 (10 20 30) */
    {
        double m = (1 + 2 + 4 + 7 + 10 + 20 + 30) / 7.0, ss = 0.0;
        double v[] = {1, 2, 4, 7, 10, 20, 30};
        for (int i = 0; i < 7; i++)
            ss += (v[i] - m) * (v[i] - m);
        check(mean[0] == (float)m && std[0] == (float)sqrt(ss / 7), "prepare: mean and std");
        check(mean[1] == 5.0f && std[1] == 1.0f, "prepare: a constant feature gets std 1");
        check(inputs[2 * 4] == (float)((11 - (double)mean[0]) / (double)std[0]) &&
                  inputs[2 * 6 + 1] == 0.0f,
              "prepare: scaled exactly as the runner scales");
    }
    /* differenced: inputs are differences, features > 0 from the later row */
    o.difference = 1;
    o.validation = 0.0;
    lstm_train_plan(&o, 2, s, &t, msg);
    lstm_train_prepare(&o, 2, raw, 2, s, mean, std, inputs, NULL, NULL, msg);
    {
        double v[] = {1, 2, 3, 4, 10, 10}, m = 30.0 / 6, ss = 0.0;
        for (int i = 0; i < 6; i++)
            ss += (v[i] - m) * (v[i] - m);
        check(t.inputs == 6 && mean[0] == (float)m && std[0] == (float)sqrt(ss / 6),
              "prepare: differenced scaling on the differences");
        check(inputs[2 * 3] == (float)((4 - (double)mean[0]) / (double)std[0]),
              "prepare: differenced input");
    }
    /* too large for float32 */
    {
        double huge[] = {1e300, 1e300, 1e300};
        LstmTrainSeries h[1];
        h[0].rows = 3;
        o.difference = 0;
        lstm_train_plan(&o, 1, h, &t, msg);
        check(lstm_train_prepare(&o, 1, huge, 1, h, mean, std, inputs, NULL, NULL, msg) ==
                  LSTM_TRAIN_ERR_RANGE,
              "prepare: values beyond float32 are an error");
    }
}

/* ---- 6. whole training runs ---- */

typedef struct Run {
    LstmTrainOptions opts;
    int I;
    int64_t S;
    double *raw;
    LstmTrainSeries *series;
    LstmTrainTotals totals;
    float mean[LSTM_MAX_INPUT], std[LSTM_MAX_INPUT];
    float *inputs;
    void *memory;
    LstmTrainer tr;
    void *model;
    size_t model_nbytes;
    double first_valid, last_valid, eval_train, eval_valid;
} Run;

/* S series of noisy sines (with a covariate when I = 2), lengths varying. */
static void run_data(Run *run, int I, int64_t S, int64_t base_len, uint64_t seed)
{
    int64_t total = 0;
    uint64_t st = seed;
    run->I = I;
    run->S = S;
    run->series = calloc(S, sizeof(LstmTrainSeries));
    for (int64_t s = 0; s < S; s++)
        total += run->series[s].rows = base_len + (s * 37) % 23;
    run->raw = malloc(total * I * sizeof(double));
    for (int64_t s = 0, r = 0; s < S; s++)
        for (int64_t j = 0; j < run->series[s].rows; j++, r++) {
            double phase = 0.3 * s, t = (double)j;
            run->raw[r * I] = 50.0 + 0.05 * t + 10.0 * sin(0.4 * t + phase) + noise(&st);
            if (I > 1)
                run->raw[r * I + 1] = cos(0.4 * (t + 1) + phase);
        }
}

/* Plan, prepare, train to the end, write the model. Returns 0 on success. */
static int run_train(Run *run)
{
    char msg[LSTM_ERRMSG_LEN];
    double train_loss, eval_train, eval_valid;
    if (lstm_train_check_options(&run->opts, run->I, msg) ||
        lstm_train_plan(&run->opts, run->S, run->series, &run->totals, msg))
        return printf("%s\n", msg), 1;
    run->inputs = malloc(run->totals.inputs * run->I * sizeof(float));
    if (lstm_train_prepare(&run->opts, run->I, run->raw, run->S, run->series, run->mean, run->std,
                           run->inputs, NULL, NULL, msg))
        return printf("%s\n", msg), 1;
    run->memory = malloc(lstm_trainer_nbytes(&run->opts, run->I, &run->totals));
    lstm_trainer_init(&run->tr, &run->opts, run->I, &run->totals, run->series, run->S, run->inputs,
                      run->memory, NULL, NULL);
    lstm_trainer_evaluate(&run->tr, &eval_train, &run->first_valid);
    for (;;) {
        if (lstm_trainer_epoch(&run->tr, &train_loss, msg))
            return printf("%s\n", msg), 1;
        lstm_trainer_evaluate(&run->tr, &eval_train, &eval_valid);
        run->last_valid = eval_valid;
        if (lstm_trainer_end_epoch(&run->tr, run->opts.validation > 0 ? eval_valid : train_loss))
            break;
    }
    run->model_nbytes = lstm_model_nbytes(&run->tr.dims);
    run->model = malloc(run->model_nbytes);
    lstm_trainer_write_model(&run->tr, run->mean, run->std, run->model);
    /* the losses of the written (best) weights */
    memcpy(run->tr.params, run->tr.best, run->tr.nparams * sizeof(float));
    lstm_trainer_evaluate(&run->tr, &run->eval_train, &run->eval_valid);
    return 0;
}

static void run_free(Run *run)
{
    free(run->raw), free(run->series), free(run->inputs), free(run->memory), free(run->model);
}

/*
 * Feed every series through the inference runner, as lstm_forecast does, and
 * compute the squared error of each next-row forecast in scaled units.
 */
static void runner_losses(const Run *run, double *train_loss, double *valid_loss)
{
    LstmModelView view;
    LstmRunner runner;
    LstmSeries series;
    void *mem;
    float *state;
    double sse_t = 0, sse_v = 0, forecast;
    int64_t n_t = 0, n_v = 0, row0 = 0;
    int I = run->I, diff = run->opts.difference != 0;

    lstm_model_view(run->model, &view);
    mem = malloc(lstm_runner_nbytes(&view.dims));
    lstm_runner_init(&runner, &view, mem);
    state = malloc(lstm_series_nfloats(&view.dims) * sizeof(float));
    for (int64_t s = 0; s < run->S; row0 += run->series[s].rows, s++) {
        const LstmTrainSeries *se = &run->series[s];
        lstm_series_init(&series, &view.dims, state);
        for (int64_t j = 0; j + 1 < se->rows; j++) {
            int64_t target_step;
            double e;
            lstm_runner_feed(&runner, &series, run->raw + (row0 + j) * I);
            lstm_runner_predict(&runner, &series, &forecast);
            /* the forecast made after raw row j targets raw row j + 1, i.e. network step
             * j - diff, which is a target when 0 <= step < train + valid */
            target_step = j - diff;
            if (target_step < 0 || target_step >= se->train + se->valid)
                continue;
            e = (forecast - run->raw[(row0 + j + 1) * I]) / (double)run->std[0];
            if (target_step < se->train)
                sse_t += e * e, n_t++;
            else
                sse_v += e * e, n_v++;
        }
    }
    *train_loss = sse_t / n_t;
    *valid_loss = n_v ? sse_v / n_v : NAN;
    free(mem), free(state);
}

static void test_training_runs(void)
{
    static const struct {
        int I, L, H, B, T, diff;
        int64_t S, len;
    } cases[] = {
        {1, 1, 16, 4, 10, 0, 6, 60}, /* more series than lanes */
        {2, 2, 12, 8, 7, 1, 3, 50},  /* multivariate, differenced, fewer series than lanes */
        {1, 1, 8, 1, 16, 1, 1, 200}, /* one long series */
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        Run run, again;
        char msg[LSTM_ERRMSG_LEN], what[200];
        double rt, rv;

        memset(&run, 0, sizeof(run));
        run.opts = default_options();
        run.opts.hidden_size = cases[c].H;
        run.opts.num_layers = cases[c].L;
        run.opts.batch_size = cases[c].B;
        run.opts.bptt = cases[c].T;
        run.opts.difference = cases[c].diff;
        run.opts.epochs = 30;
        run.opts.patience = 0;
        run.opts.learning_rate = 0.02;
        run_data(&run, cases[c].I, cases[c].S, cases[c].len, 500 + c);
        if (run_train(&run)) {
            check(0, "training run");
            continue;
        }
        snprintf(what, sizeof(what), "case %zu: written model validates", c);
        check(lstm_model_validate(run.model, run.model_nbytes, msg) == LSTM_OK, what);
        snprintf(what, sizeof(what),
                 "case %zu: training learns (validation loss %.4f -> %.4f, at most half)", c,
                 run.first_valid, run.tr.best_loss);
        check(run.tr.best_loss < 0.5 * run.first_valid, what);

        /* the runner computes what training optimised */
        runner_losses(&run, &rt, &rv);
        snprintf(what, sizeof(what),
                 "case %zu: inference runner losses (%.9g, %.9g) equal the trainer's "
                 "(%.9g, %.9g) within 1e-5",
                 c, rt, rv, run.eval_train, run.eval_valid);
        check(fabs(rt - run.eval_train) <= 1e-5 * run.eval_train &&
                  fabs(rv - run.eval_valid) <= 1e-5 * run.eval_valid,
              what);
        printf("training run %zu (I=%d L=%d H=%d lanes=%d diff=%d): validation loss %.4f -> "
               "%.4f at epoch %d; runner vs trainer loss: %.2g, %.2g\n",
               c, cases[c].I, cases[c].L, cases[c].H, run.tr.lanes, cases[c].diff, run.first_valid,
               run.tr.best_loss, run.tr.best_epoch, fabs(rt - run.eval_train) / run.eval_train,
               fabs(rv - run.eval_valid) / run.eval_valid);

        /* same data, options and seed: bit-identical model; another seed: another model */
        memset(&again, 0, sizeof(again));
        again.opts = run.opts;
        run_data(&again, cases[c].I, cases[c].S, cases[c].len, 500 + c);
        run_train(&again);
        snprintf(what, sizeof(what), "case %zu: same seed gives a bit-identical model", c);
        check(again.model_nbytes == run.model_nbytes &&
                  memcmp(again.model, run.model, run.model_nbytes) == 0,
              what);
        run_free(&again);
        memset(&again, 0, sizeof(again));
        again.opts = run.opts;
        again.opts.seed = 43;
        run_data(&again, cases[c].I, cases[c].S, cases[c].len, 500 + c);
        run_train(&again);
        snprintf(what, sizeof(what), "case %zu: another seed gives another model", c);
        check(memcmp(again.model, run.model, run.model_nbytes) != 0, what);
        run_free(&again);
        run_free(&run);
    }
}

static void test_early_stopping(void)
{
    Run run;
    memset(&run, 0, sizeof(run));
    run.opts = default_options();
    run.opts.epochs = 1000;
    run.opts.patience = 2;
    run.opts.learning_rate = 0.05;
    run_data(&run, 1, 2, 40, 9);
    if (run_train(&run)) {
        check(0, "early stopping run");
        return;
    }
    check(run.tr.epochs_run < 1000 && run.tr.epochs_run == run.tr.best_epoch + 2,
          "early stopping: stops patience epochs after the best");
    check(run.eval_valid == run.tr.best_loss, "early stopping: the written weights are the best");
    run_free(&run);

    /* end_epoch bookkeeping on its own */
    {
        LstmTrainer tr;
        float p[1] = {1}, b[1] = {0};
        memset(&tr, 0, sizeof(tr));
        tr.opts.epochs = 10;
        tr.opts.patience = 2;
        tr.params = p, tr.best = b, tr.nparams = 1;
        check(lstm_trainer_end_epoch(&tr, 5.0) == 0 && tr.best_epoch == 1 && b[0] == 1,
              "end_epoch: first epoch is best");
        p[0] = 2;
        check(lstm_trainer_end_epoch(&tr, 4.0) == 0 && tr.best_epoch == 2 && b[0] == 2,
              "end_epoch: improvement kept");
        p[0] = 3;
        check(lstm_trainer_end_epoch(&tr, 4.5) == 0 && b[0] == 2, "end_epoch: worse not kept");
        check(lstm_trainer_end_epoch(&tr, 4.0) == 1, "end_epoch: patience 2 exhausted");
        tr.opts.patience = 0;
        check(lstm_trainer_end_epoch(&tr, 9.0) == 0, "end_epoch: patience 0 never stops early");
    }
}

/* ---- 7. series scaling: normalised features, direct head, OWA / rolling validation ---- */

/* Everything one series-scaled run needs. */
typedef struct ScaledRun {
    LstmTrainOptions opts;
    int64_t S;
    double *raw;
    LstmTrainSeries *series;
    LstmTrainTotals totals;
    float *inputs;
    double *last, *scale, *value;
    void *memory;
    LstmTrainer tr;
    double first_score;
    float *members; /* (members, P) best weights of every member */
} ScaledRun;

/* Prepare and train every member; returns 0 on success. */
static int scaled_train(ScaledRun *run, int I)
{
    char msg[LSTM_ERRMSG_LEN];
    size_t P;
    LstmTrainError err;

    if (lstm_train_check_options(&run->opts, I, msg) ||
        lstm_train_plan(&run->opts, run->S, run->series, &run->totals, msg))
        return printf("%s\n", msg), 1;
    run->inputs = malloc(run->totals.inputs * I * sizeof(float));
    run->last = malloc(run->totals.inputs * sizeof(double));
    run->scale = malloc(run->totals.inputs * sizeof(double));
    run->value = malloc(run->totals.inputs * sizeof(double));
    err = lstm_train_prepare_series(&run->opts, run->raw, run->S, run->series, run->inputs,
                                    run->last, run->scale, run->value, NULL, NULL, msg);
    if (err)
        return printf("%s\n", msg), (int)err;
    run->memory = malloc(lstm_trainer_nbytes(&run->opts, I, &run->totals));
    for (int j = 0; j < run->opts.members; j++) {
        LstmTrainOptions o = run->opts;
        double train_loss, eval_train, score;
        o.seed = run->opts.seed + j;
        lstm_trainer_init(&run->tr, &o, I, &run->totals, run->series, run->S, run->inputs,
                          run->memory, NULL, NULL);
        lstm_trainer_attach_series(&run->tr, run->totals.validation, run->last, run->scale,
                                   run->value);
        if (j == 0) {
            lstm_trainer_evaluate(&run->tr, &eval_train, &run->first_score);
            P = run->tr.nparams;
            run->members = malloc(run->opts.members * P * sizeof(float));
        }
        do {
            if (lstm_trainer_epoch(&run->tr, &train_loss, msg))
                return printf("%s\n", msg), 1;
            lstm_trainer_evaluate(&run->tr, &eval_train, &score);
        } while (!lstm_trainer_end_epoch(&run->tr, score));
        memcpy(run->members + j * P, lstm_trainer_best(&run->tr), P * sizeof(float));
    }
    return 0;
}

static void scaled_free(ScaledRun *run)
{
    free(run->raw), free(run->series), free(run->inputs), free(run->last), free(run->scale);
    free(run->value), free(run->memory), free(run->members);
}

/* S positive seasonal series (period 8, levels 50..300) of about len rows. */
static void scaled_data(ScaledRun *run, int64_t S, int64_t len, uint64_t seed)
{
    int64_t total = 0;
    uint64_t st = seed;
    run->S = S;
    run->series = calloc(S, sizeof(LstmTrainSeries));
    for (int64_t s = 0; s < S; s++)
        total += run->series[s].rows = len + (s * 7) % 11;
    run->raw = malloc(total * sizeof(double));
    for (int64_t s = 0, r = 0; s < S; s++)
        for (int64_t j = 0; j < run->series[s].rows; j++, r++)
            run->raw[r] = (50.0 + 50.0 * s) * (1.0 + 0.2 * sin(6.283185307179586 * j / 8 + s) +
                                               0.002 * j + 0.02 * noise(&st));
}

static LstmTrainOptions scaled_options(void)
{
    LstmTrainOptions o = default_options();
    o.series_scaling = 1;
    o.season = 8;
    o.horizon = 4;
    o.log = 1;
    o.loss = LSTM_LOSS_L1;
    o.hidden_size = 12;
    o.bptt = 16;
    o.batch_size = 4;
    o.epochs = 25;
    o.patience = 0;
    o.learning_rate = 0.01;
    return o;
}

static void test_series_scaled(void)
{
    ScaledRun run, again;
    int I = lstm_normalizer_input_size(8, 4);
    char msg[LSTM_ERRMSG_LEN], what[200];
    LstmDims dims;
    size_t nbytes;
    void *model;
    LstmModelView view;

    /* several series: the last horizon rows validate (M4 OWA) */
    memset(&run, 0, sizeof(run));
    run.opts = scaled_options();
    run.opts.members = 2;
    scaled_data(&run, 6, 90, 77);
    if (scaled_train(&run, I)) {
        check(0, "series-scaled training run");
        return;
    }
    check(run.totals.validation == LSTM_VALIDATE_OWA && run.series[0].train == 86 &&
              run.series[0].valid == 4 && run.totals.train_targets == 6 * 84 + 7 + 3 + 10 + 6 + 2,
          "series scaling: several series validate on their last horizon rows");
    /* per-row arrays come from the normaliser: z = log(y), input = its features */
    {
        LstmNormalizer nz;
        double ring[8];
        float x[LSTM_MAX_INPUT];
        int same = 1;
        lstm_normalizer_init(&nz, ring);
        for (int64_t j = 0; j < run.series[0].rows; j++) {
            lstm_normalizer_push(&nz, 8, log(run.raw[j]));
            lstm_normalizer_features(&nz, 8, 4, x);
            same &= run.last[j] == nz.last && run.scale[j] == nz.scale &&
                    memcmp(x, run.inputs + j * I, I * sizeof(float)) == 0;
        }
        check(same, "series scaling: inputs, z and scale are the normaliser's");
    }
    snprintf(what, sizeof(what),
             "series scaling: validation OWA improves (%.4f -> %.4f) and beats naive (< 1)",
             run.first_score, run.tr.best_loss);
    check(run.tr.best_loss < run.first_score && run.tr.best_loss < 1.0, what);
    printf("series-scaled run (6 series, season 8, horizon 4, L1, 2 members): validation OWA "
           "%.4f -> %.4f (member 2, best epoch %d)\n",
           run.first_score, run.tr.best_loss, run.tr.best_epoch);

    dims = lstm_trainer_model_dims(&run.opts, I);
    dims.members = 2;
    nbytes = lstm_model_nbytes(&dims);
    model = malloc(nbytes);
    lstm_trainer_write_members(&dims, run.members, NULL, NULL, NULL, NULL, model);
    check(lstm_model_validate(model, nbytes, msg) == LSTM_OK,
          "series scaling: the model validates");
    lstm_model_view(model, &view);
    check(((LstmModelHeader *)model)->version == 2 && view.dims.members == 2 &&
              view.dims.season == 8 && view.dims.output_size == 4 &&
              view.dims.flags == (LSTM_FLAG_SERIES_SCALING | LSTM_FLAG_LOG) &&
              view.input_std[0] == 1.0f && view.output_mean[3] == 0.0f &&
              memcmp(view.member[1].layer[0].weight_ih, run.members + run.tr.nparams,
                     run.tr.nparams * sizeof(float)) == 0,
          "series scaling: version 2, two members in order, identity scaling");

    memset(&again, 0, sizeof(again));
    again.opts = run.opts;
    scaled_data(&again, 6, 90, 77);
    scaled_train(&again, I);
    check(memcmp(again.members, run.members, 2 * run.tr.nparams * sizeof(float)) == 0,
          "series scaling: same data, options and seeds give bit-identical members");
    check(memcmp(run.members, run.members + run.tr.nparams, run.tr.nparams * sizeof(float)) != 0,
          "series scaling: members differ (seeds seed, seed + 1)");
    scaled_free(&again);
    scaled_free(&run);
    free(model);

    /* one series: rolling origins over the last 20 % */
    memset(&run, 0, sizeof(run));
    run.opts = scaled_options();
    run.opts.epochs = 20;
    scaled_data(&run, 1, 300, 5);
    if (scaled_train(&run, I)) {
        check(0, "one-series training run");
        return;
    }
    snprintf(what, sizeof(what),
             "one series: rolling-origin validation (60 rows), RMSE ratio %.4f -> %.4f (< 1)",
             run.first_score, run.tr.best_loss);
    check(run.totals.validation == LSTM_VALIDATE_ROLLING && run.series[0].valid == 60 &&
              run.tr.best_loss < run.first_score && run.tr.best_loss < 1.0,
          what);
    printf("one series (300 rows, season 8, horizon 4): rolling-origin score %.4f -> %.4f\n",
           run.first_score, run.tr.best_loss);
    scaled_free(&run);

    /* the log transform meets a value <= 0 */
    memset(&run, 0, sizeof(run));
    run.opts = scaled_options();
    scaled_data(&run, 3, 30, 5);
    run.raw[run.series[0].rows + 4] = 0.0;
    check(scaled_train(&run, I) == LSTM_TRAIN_ERR_DOMAIN,
          "series scaling: a value <= 0 under log is an error");
    scaled_free(&run);

    /* options */
    {
        LstmTrainOptions o = scaled_options(), bad;
        check(lstm_train_check_options(&o, I, msg) == LSTM_TRAIN_OK, "scaled options valid");
        bad = o, bad.horizon = 0;
        check(lstm_train_check_options(&bad, 2, msg) != LSTM_TRAIN_OK, "horizon 0 rejected");
        bad = o, bad.horizon = 1025;
        check(lstm_train_check_options(&bad, I, msg) != LSTM_TRAIN_OK, "horizon 1025 rejected");
        bad = o, bad.season = 1001;
        check(lstm_train_check_options(&bad, I, msg) != LSTM_TRAIN_OK, "season 1001 rejected");
        bad = o, bad.members = 17;
        check(lstm_train_check_options(&bad, I, msg) != LSTM_TRAIN_OK, "17 members rejected");
        bad = o, bad.difference = 1;
        check(lstm_train_check_options(&bad, I, msg) != LSTM_TRAIN_OK,
              "difference with series scaling rejected");
        check(lstm_train_check_options(&o, I + 1, msg) != LSTM_TRAIN_OK,
              "series scaling with features rejected");
    }
}

int main(void)
{
    test_nonlinearities();
    test_gradcheck();
    test_fast_vs_reference();
    test_torch_grad("grad_l1_i1.txt", LSTM_LOSS_MSE);
    test_torch_grad("grad_l2_i3.txt", LSTM_LOSS_MSE);
    test_torch_grad("grad_l2_i2_h16.txt", LSTM_LOSS_MSE);
    test_torch_grad("grad_direct_l1_o13.txt", LSTM_LOSS_L1);
    printf("gradients vs PyTorch autograd: trainer max error %.3g, double reference %.3g\n",
           worst_torch_fast, worst_torch_ref);
    test_adam20();
    test_options();
    test_plan();
    test_prepare();
    test_training_runs();
    test_early_stopping();
    test_series_scaled();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
