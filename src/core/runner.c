/*
 * runner.c - decoded LSTM inference: the per-row cell step and the head.
 */
#include "runner.h"
#include "arena.h"
#include "fastmath.h"

#include <math.h>
#include <string.h>

/* Round n up to a multiple of LSTM_GATE_BLOCK. */
static int gate_stride_for(int hidden_size)
{
    int n = 4 * hidden_size;
    return (n + LSTM_GATE_BLOCK - 1) / LSTM_GATE_BLOCK * LSTM_GATE_BLOCK;
}

/*
 * Carve every array of a runner for these sizes out of arena, in a fixed
 * order (the sizing pass of lstm_runner_nbytes and the real one of
 * lstm_runner_init both run this).
 */
static void runner_layout(LstmRunner *runner, LstmArena *arena, const LstmDims *dims)
{
    size_t H = (size_t)dims->hidden_size, I = (size_t)dims->input_size;
    size_t O = (size_t)dims->output_size;
    size_t G = (size_t)gate_stride_for(dims->hidden_size);

    for (int k = 0; k < dims->num_layers; k++) {
        size_t in = k == 0 ? I : H;
        runner->weight_ih_t[k] = lstm_arena_carve(arena, in * G, sizeof(float)); /* (in, G) */
        runner->weight_hh_t[k] = lstm_arena_carve(arena, H * G, sizeof(float));  /* (H, G) */
        runner->bias[k] = lstm_arena_carve(arena, G, sizeof(float));             /* (G) */
    }
    runner->head_weight = lstm_arena_carve(arena, O * H, sizeof(float));       /* (O, H) */
    runner->head_bias = lstm_arena_carve(arena, O, sizeof(float));             /* (O) */
    runner->input_mean = lstm_arena_carve(arena, I, sizeof(double));           /* (I) */
    runner->input_std = lstm_arena_carve(arena, I, sizeof(double));            /* (I) */
    runner->output_mean = lstm_arena_carve(arena, O, sizeof(double));          /* (O) */
    runner->output_std = lstm_arena_carve(arena, O, sizeof(double));           /* (O) */
    runner->gates = lstm_arena_carve(arena, G, sizeof(float));                 /* (G) */
    runner->x = lstm_arena_carve(arena, I > H ? I : H, sizeof(float));         /* (max(I, H)) */
    runner->features = lstm_arena_carve(arena, I > O ? I : O, sizeof(double)); /* (max(I, O)) */
}

/* Memory for a runner of these sizes: runner_layout's sizing pass. */
size_t lstm_runner_nbytes(const LstmDims *dims)
{
    LstmRunner sizing;
    LstmArena arena = lstm_arena_sizing();

    runner_layout(&sizing, &arena, dims);
    return lstm_arena_nbytes(&arena);
}

/* Decode a validated model into a runner. */
void lstm_runner_init(LstmRunner *runner, const LstmModelView *model, void *memory)
{
    const LstmDims *d = &model->dims;
    int H = d->hidden_size, I = d->input_size, O = d->output_size;
    int G = gate_stride_for(H);
    LstmArena arena = lstm_arena_over(memory);

    memset(runner, 0, sizeof(*runner));
    runner->dims = *d;
    runner->gate_stride = G;
    runner_layout(runner, &arena, d);
    for (int k = 0; k < d->num_layers; k++) {
        const LstmLayerWeights *w = &model->layer[k];
        int in = w->in_size;
        float *wih = runner->weight_ih_t[k], *whh = runner->weight_hh_t[k];
        float *bias = runner->bias[k];
        /* the padding gates 4H..G-1 stay zero */
        memset(wih, 0, (size_t)in * G * sizeof(float));
        memset(whh, 0, (size_t)H * G * sizeof(float));
        memset(bias, 0, (size_t)G * sizeof(float));
        for (int j = 0; j < 4 * H; j++) {
            for (int i = 0; i < in; i++)
                wih[(size_t)i * G + j] = w->weight_ih[(size_t)j * in + i];
            for (int i = 0; i < H; i++)
                whh[(size_t)i * G + j] = w->weight_hh[(size_t)j * H + i];
            bias[j] = w->bias_ih[j] + w->bias_hh[j];
        }
    }
    memcpy(runner->head_weight, model->head_weight, (size_t)O * H * sizeof(float));
    memcpy(runner->head_bias, model->head_bias, (size_t)O * sizeof(float));
    for (int i = 0; i < I; i++) {
        runner->input_mean[i] = model->input_mean[i];
        runner->input_std[i] = model->input_std[i];
    }
    for (int i = 0; i < O; i++) {
        runner->output_mean[i] = model->output_mean[i];
        runner->output_std[i] = model->output_std[i];
    }
}

/* h and c of every layer. */
size_t lstm_series_nfloats(const LstmDims *dims)
{
    return 2 * (size_t)dims->num_layers * (size_t)dims->hidden_size;
}

/* A fresh series: no rows, zero state. */
void lstm_series_init(LstmSeries *series, const LstmDims *dims, float *memory)
{
    size_t n = (size_t)dims->num_layers * (size_t)dims->hidden_size;
    series->steps = 0;
    series->last_value = 0.0;
    series->h = memory;
    series->c = memory + n;
    memset(memory, 0, 2 * n * sizeof(float));
}

/* Copy one series' state into another of the same model. */
void lstm_series_copy(LstmSeries *dst, const LstmSeries *src, const LstmDims *dims)
{
    size_t n = (size_t)dims->num_layers * (size_t)dims->hidden_size;
    dst->steps = src->steps;
    dst->last_value = src->last_value;
    memcpy(dst->h, src->h, n * sizeof(float));
    memcpy(dst->c, src->c, n * sizeof(float));
}

/*
 * The fast sigmoid as a function, compiled as the runner's kernels are, for the
 * tests. (Kept in this file: the clones of the kernels below are compiled
 * after these, and GCC's code for them changes when these move.)
 */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) float
lstm_sigmoid_fast(float x)
{
    return sigmoid_fast(x);
}

/* The fast tanh as a function, compiled as the runner's kernels are, for the tests. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) float
lstm_tanh_fast(float x)
{
    return tanh_fast(x);
}

/* Eight floats: one AVX2 register (two SSE registers in the default build). */
typedef float Floats8 __attribute__((vector_size(32), aligned(4)));

/*
 * Gates per block of the main matrix-vector pass: 8 vector accumulators,
 * enough independent multiply-add chains to hide the FMA latency (blocks of
 * 16 gates, two chains, ran at a third of the speed).
 */
#define GATES_WIDE_BLOCK 64

/*
 * One block of 8 * nvec gates (nvec <= GATES_WIDE_BLOCK / 8, a constant; the
 * pointers start at the block): gates = bias + weight_ih_t^T x +
 * weight_hh_t^T h. The accumulators stay in registers while the rows of the
 * weights stream past. Every gate adds its terms in the same order (bias,
 * input terms, hidden terms) whatever the block, so blocking changes no bit.
 */
static inline __attribute__((always_inline)) void
gates_block(float *restrict gates, const float *restrict bias, const float *restrict wih_t,
            const float *restrict x, int in, const float *restrict whh_t, const float *restrict h,
            int H, size_t G, int nvec)
{
    Floats8 acc[GATES_WIDE_BLOCK / 8];
#pragma GCC unroll 8
    for (int k = 0; k < nvec; k++)
        acc[k] = *(const Floats8 *)(bias + 8 * k);
    for (int i = 0; i < in; i++) {
        const float *row = wih_t + (size_t)i * G; /* (8 * nvec) */
        float xi = x[i];
#pragma GCC unroll 8
        for (int k = 0; k < nvec; k++)
            acc[k] += *(const Floats8 *)(row + 8 * k) * xi;
    }
    for (int i = 0; i < H; i++) {
        const float *row = whh_t + (size_t)i * G; /* (8 * nvec) */
        float hi = h[i];
#pragma GCC unroll 8
        for (int k = 0; k < nvec; k++)
            acc[k] += *(const Floats8 *)(row + 8 * k) * hi;
    }
#pragma GCC unroll 8
    for (int k = 0; k < nvec; k++)
        *(Floats8 *)(gates + 8 * k) = acc[k];
}

/*
 * gates (G) = bias + weight_ih_t^T x + weight_hh_t^T h: blocks of
 * GATES_WIDE_BLOCK gates, then blocks of LSTM_GATE_BLOCK for the rest.
 * Compiled for AVX2+FMA where the CPU has it.
 */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
gates_matvec(float *restrict gates, const float *restrict bias, const float *restrict wih_t,
             const float *restrict x, int in, const float *restrict whh_t, const float *restrict h,
             int H, int G)
{
    int j0 = 0;
    for (; j0 + GATES_WIDE_BLOCK <= G; j0 += GATES_WIDE_BLOCK)
        gates_block(gates + j0, bias + j0, wih_t + j0, x, in, whh_t + j0, h, H, (size_t)G,
                    GATES_WIDE_BLOCK / 8);
    for (; j0 < G; j0 += LSTM_GATE_BLOCK)
        gates_block(gates + j0, bias + j0, wih_t + j0, x, in, whh_t + j0, h, H, (size_t)G,
                    LSTM_GATE_BLOCK / 8);
}

/*
 * Floats per vectorised block of the cell update: one AVX-512 register
 * (x86-64-v4 clone) or two AVX2 ones; then blocks of one AVX2 register; then
 * one by one.
 */
#define CELL_BLOCK_WIDE 16
#define CELL_BLOCK 8

/* x = sigmoid(x) for width floats (a constant after inlining: vectorised). */
static inline __attribute__((always_inline)) void sigmoid_block(float *restrict x, int width)
{
    for (int j = 0; j < width; j++)
        x[j] = sigmoid_fast(x[j]);
}

/* x = tanh(x) for width floats, as sigmoid_block. */
static inline __attribute__((always_inline)) void tanh_block(float *restrict x, int width)
{
    for (int j = 0; j < width; j++)
        x[j] = tanh_fast(x[j]);
}

/*
 * x = sigmoid(x) for n floats in blocks (block-relative indices keep the
 * access pattern affine under -fwrapv, so the blocks vectorise).
 */
static inline __attribute__((always_inline)) void activate_sigmoid(float *restrict x, int n)
{
    int j0 = 0;
    for (; j0 + CELL_BLOCK_WIDE <= n; j0 += CELL_BLOCK_WIDE)
        sigmoid_block(x + j0, CELL_BLOCK_WIDE);
    for (; j0 + CELL_BLOCK <= n; j0 += CELL_BLOCK)
        sigmoid_block(x + j0, CELL_BLOCK);
    for (; j0 < n; j0++)
        sigmoid_block(x + j0, 1);
}

/* x = tanh(x) for n floats, as activate_sigmoid. */
static inline __attribute__((always_inline)) void activate_tanh(float *restrict x, int n)
{
    int j0 = 0;
    for (; j0 + CELL_BLOCK_WIDE <= n; j0 += CELL_BLOCK_WIDE)
        tanh_block(x + j0, CELL_BLOCK_WIDE);
    for (; j0 + CELL_BLOCK <= n; j0 += CELL_BLOCK)
        tanh_block(x + j0, CELL_BLOCK);
    for (; j0 < n; j0++)
        tanh_block(x + j0, 1);
}

/*
 * The state update of width units from activated gates (gates, h and c start
 * at the block's first unit; the four gates are H apart):
 * c = f c + i g, h = o tanh(c).
 */
static inline __attribute__((always_inline)) void
state_block(const float *restrict gates, size_t H, float *restrict h, float *restrict c, int width)
{
    for (int j = 0; j < width; j++) {
        float cj = gates[H + j] * c[j] + gates[j] * gates[2 * H + j];
        c[j] = cj;
        h[j] = gates[3 * H + j] * tanh_fast(cj);
    }
}

/*
 * The runner's cell update of one layer from its gate pre-activations
 * (4H: i, f, g, o), with the fast nonlinearities of fastmath.h, in two
 * passes so that the processor overlaps many short dependency chains rather
 * than waiting on one long one per unit: first every gate's activation in
 * place (sigmoid for i, f, o, tanh for g), then c and h. The x86-64-v4 clone
 * (AVX-512) was 16% faster than the AVX2 one at hidden 32 on AMD Zen 4.
 */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void
cell_update_fast(float *restrict gates, float *restrict h, float *restrict c, int H)
{
    int j0 = 0;
    activate_sigmoid(gates, 2 * H);     /* i, f */
    activate_tanh(gates + 2 * H, H);    /* g */
    activate_sigmoid(gates + 3 * H, H); /* o */
    for (; j0 + CELL_BLOCK_WIDE <= H; j0 += CELL_BLOCK_WIDE)
        state_block(gates + j0, (size_t)H, h + j0, c + j0, CELL_BLOCK_WIDE);
    for (; j0 + CELL_BLOCK <= H; j0 += CELL_BLOCK)
        state_block(gates + j0, (size_t)H, h + j0, c + j0, CELL_BLOCK);
    for (; j0 < H; j0++)
        state_block(gates + j0, (size_t)H, h + j0, c + j0, 1);
}

/* One cell step of every layer on a scaled input x (I floats). */
static void runner_step(const LstmRunner *r, LstmSeries *s, const float *x)
{
    int H = r->dims.hidden_size;
    const float *input = x;
    int in = r->dims.input_size;
    for (int k = 0; k < r->dims.num_layers; k++) {
        float *h = s->h + (size_t)k * H;
        float *c = s->c + (size_t)k * H;
        gates_matvec(r->gates, r->bias[k], r->weight_ih_t[k], input, in, r->weight_hh_t[k], h, H,
                     r->gate_stride);
        cell_update_fast(r->gates, h, c, H);
        input = h;
        in = H;
    }
}

/* Consume one row of raw features; rejects rows whose scaled values overflow. */
LstmError lstm_runner_feed(const LstmRunner *runner, LstmSeries *series, const double *features)
{
    const LstmDims *d = &runner->dims;
    float *x = runner->x;
    double target = features[0];
    int differenced = (d->flags & LSTM_FLAG_DIFFERENCE) != 0;

    if (differenced && series->steps == 0) {
        /* The first row of a differenced series only records its value. */
        series->last_value = target;
        series->steps = 1;
        return LSTM_OK;
    }
    if (differenced)
        target -= series->last_value;
    x[0] = (float)((target - runner->input_mean[0]) / runner->input_std[0]);
    for (int i = 1; i < d->input_size; i++)
        x[i] = (float)((features[i] - runner->input_mean[i]) / runner->input_std[i]);
    for (int i = 0; i < d->input_size; i++) {
        if (!isfinite(x[i]))
            return LSTM_ERR_NONFINITE;
    }
    if (differenced)
        series->last_value = features[0];
    series->steps++;
    runner_step(runner, series, x);
    return LSTM_OK;
}

/* Raw forecast of every output for the row after the last one consumed. */
void lstm_runner_predict(const LstmRunner *runner, const LstmSeries *series, double *outputs)
{
    const LstmDims *d = &runner->dims;
    int H = d->hidden_size;
    const float *h = series->h + (size_t)(d->num_layers - 1) * H;
    for (int o = 0; o < d->output_size; o++) {
        const float *w = runner->head_weight + (size_t)o * H;
        float y = runner->head_bias[o];
        for (int j = 0; j < H; j++)
            y += w[j] * h[j];
        outputs[o] = (double)y * runner->output_std[o] + runner->output_mean[o];
    }
    if (d->flags & LSTM_FLAG_DIFFERENCE)
        outputs[0] += series->last_value;
}

/* Forecast horizon rows ahead by feeding each forecast back. */
void lstm_runner_horizon(const LstmRunner *runner, const LstmSeries *series, LstmSeries *work,
                         int horizon, double *forecasts, void (*interrupt)(void *arg),
                         void *interrupt_arg)
{
    double *features = runner->features;
    lstm_series_copy(work, series, &runner->dims);
    for (int step = 0; step < horizon; step++) {
        if (interrupt != NULL)
            interrupt(interrupt_arg);
        lstm_runner_predict(runner, work, features);
        forecasts[step] = features[0];
        /* A forecast too large to scale ends the feedback: the rest repeat it. */
        if (step + 1 < horizon && lstm_runner_feed(runner, work, features) != LSTM_OK) {
            for (int rest = step + 1; rest < horizon; rest++)
                forecasts[rest] = features[0];
            return;
        }
    }
}
