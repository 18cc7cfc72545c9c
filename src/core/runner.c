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

    for (int m = 0; m < dims->members; m++) {
        LstmRunnerNet *net = &runner->net[m];
        for (int k = 0; k < dims->num_layers; k++) {
            size_t in = k == 0 ? I : H;
            net->weight_ih_t[k] = lstm_arena_carve(arena, in * G, sizeof(float)); /* (in, G) */
            net->weight_hh_t[k] = lstm_arena_carve(arena, H * G, sizeof(float));  /* (H, G) */
            net->bias[k] = lstm_arena_carve(arena, G, sizeof(float));             /* (G) */
        }
        net->head_weight = lstm_arena_carve(arena, O * H, sizeof(float)); /* (O, H) */
        net->head_bias = lstm_arena_carve(arena, O, sizeof(float));       /* (O) */
    }
    runner->input_mean = lstm_arena_carve(arena, I, sizeof(double));           /* (I) */
    runner->input_std = lstm_arena_carve(arena, I, sizeof(double));            /* (I) */
    runner->output_mean = lstm_arena_carve(arena, O, sizeof(double));          /* (O) */
    runner->output_std = lstm_arena_carve(arena, O, sizeof(double));           /* (O) */
    runner->gates = lstm_arena_carve(arena, G, sizeof(float));                 /* (G) */
    runner->x = lstm_arena_carve(arena, I > H ? I : H, sizeof(float));         /* (max(I, H)) */
    runner->features = lstm_arena_carve(arena, I > O ? I : O, sizeof(double)); /* (max(I, O)) */
    runner->member_outputs =
        lstm_arena_carve(arena, (size_t)dims->members * O, sizeof(double)); /* (members, O) */
    runner->calibration =
        dims->calibrated ? lstm_arena_carve(arena, O * LSTM_CALIBRATION_QUANTILES, sizeof(float))
                         : NULL; /* (O, Q) */
}

/* Memory for a runner of these sizes: runner_layout's sizing pass. */
size_t lstm_runner_nbytes(const LstmDims *dims)
{
    LstmRunner sizing;
    LstmArena arena = lstm_arena_sizing();

    runner_layout(&sizing, &arena, dims);
    return lstm_arena_nbytes(&arena);
}

/* Transpose one member's layers (biases summed) and copy its head into net. */
static void runner_decode_member(LstmRunnerNet *net, const LstmMemberWeights *w_member,
                                 const LstmDims *d, int G)
{
    int H = d->hidden_size, O = d->output_size;

    for (int k = 0; k < d->num_layers; k++) {
        const LstmLayerWeights *w = &w_member->layer[k];
        int in = w->in_size;
        float *wih = net->weight_ih_t[k], *whh = net->weight_hh_t[k];
        float *bias = net->bias[k];
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
    memcpy(net->head_weight, w_member->head_weight, (size_t)O * H * sizeof(float));
    memcpy(net->head_bias, w_member->head_bias, (size_t)O * sizeof(float));
}

/* Decode a validated model into a runner. */
void lstm_runner_init(LstmRunner *runner, const LstmModelView *model, void *memory)
{
    const LstmDims *d = &model->dims;
    int I = d->input_size, O = d->output_size;
    int G = gate_stride_for(d->hidden_size);
    LstmArena arena = lstm_arena_over(memory);

    memset(runner, 0, sizeof(*runner));
    runner->dims = *d;
    runner->gate_stride = G;
    runner_layout(runner, &arena, d);
    for (int m = 0; m < d->members; m++)
        runner_decode_member(&runner->net[m], &model->member[m], d, G);
    for (int i = 0; i < I; i++) {
        runner->input_mean[i] = model->input_mean[i];
        runner->input_std[i] = model->input_std[i];
    }
    for (int i = 0; i < O; i++) {
        runner->output_mean[i] = model->output_mean[i];
        runner->output_std[i] = model->output_std[i];
    }
    if (d->calibrated)
        memcpy(runner->calibration, model->calibration,
               (size_t)O * LSTM_CALIBRATION_QUANTILES * sizeof(float));
}

/* Floats of h and c of one member: L * H each. */
static size_t member_state_nfloats(const LstmDims *dims)
{
    return (size_t)dims->num_layers * (size_t)dims->hidden_size;
}

/* Doubles of the normaliser's ring a series of this model keeps (0 unless series-scaled). */
static size_t series_ring_size(const LstmDims *dims)
{
    return (dims->flags & LSTM_FLAG_SERIES_SCALING) ? lstm_normalizer_ring_size(dims->season) : 0;
}

/* h and c of every member and layer, then the normaliser's ring (two floats a double). */
size_t lstm_series_nfloats(const LstmDims *dims)
{
    return 2 * (size_t)dims->members * member_state_nfloats(dims) + 2 * series_ring_size(dims);
}

/* A fresh series: no rows, zero state, an empty normaliser. */
void lstm_series_init(LstmSeries *series, const LstmDims *dims, float *memory)
{
    size_t n = (size_t)dims->members * member_state_nfloats(dims); /* (members, L, H) */
    series->steps = 0;
    series->last_value = 0.0;
    series->h = memory;
    series->c = memory + n;
    /* 2n is even, so the ring after c keeps memory's 8-byte alignment */
    lstm_normalizer_init(&series->norm,
                         series_ring_size(dims) > 0 ? (double *)(memory + 2 * n) : NULL);
    memset(memory, 0, lstm_series_nfloats(dims) * sizeof(float));
}

/* Copy one series' state into another of the same model. */
void lstm_series_copy(LstmSeries *dst, const LstmSeries *src, const LstmDims *dims)
{
    size_t n = (size_t)dims->members * member_state_nfloats(dims);
    size_t ring = series_ring_size(dims);
    double *dst_ring = dst->norm.recent;

    dst->steps = src->steps;
    dst->last_value = src->last_value;
    memcpy(dst->h, src->h, n * sizeof(float));
    memcpy(dst->c, src->c, n * sizeof(float));
    dst->norm = src->norm;
    dst->norm.recent = dst_ring;
    if (ring > 0)
        memcpy(dst_ring, src->norm.recent, ring * sizeof(double));
}

/* One raw value per row for a series-scaled model, I otherwise. */
int lstm_row_width(const LstmDims *dims)
{
    return (dims->flags & LSTM_FLAG_SERIES_SCALING) ? 1 : dims->input_size;
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

/* One cell step of every layer of one member's network on a scaled input x (I floats). */
static inline __attribute__((always_inline)) void runner_step(const LstmRunner *r,
                                                              const LstmRunnerNet *net,
                                                              float *h_member, float *c_member,
                                                              const float *x)
{
    int H = r->dims.hidden_size;
    const float *input = x;
    int in = r->dims.input_size;
    for (int k = 0; k < r->dims.num_layers; k++) {
        float *h = h_member + (size_t)k * H;
        float *c = c_member + (size_t)k * H;
        gates_matvec(r->gates, net->bias[k], net->weight_ih_t[k], input, in, net->weight_hh_t[k], h,
                     H, r->gate_stride);
        cell_update_fast(r->gates, h, c, H);
        input = h;
        in = H;
    }
}

/*
 * Step every member on the scaled input x (I floats); one member (every
 * version-1 model) straight through, as the runner always did.
 */
static inline __attribute__((always_inline)) void runner_step_members(const LstmRunner *r,
                                                                      LstmSeries *s, const float *x)
{
    size_t n = member_state_nfloats(&r->dims);
    if (r->dims.members == 1) {
        runner_step(r, &r->net[0], s->h, s->c, x);
        return;
    }
    for (int m = 0; m < r->dims.members; m++)
        runner_step(r, &r->net[m], s->h + m * n, s->c + m * n, x);
}

/*
 * A series-scaled row: y into the normaliser, its features scaled with
 * input_mean and input_std into x, every member stepped. A value outside
 * the log's domain, or one whose statistics overflow, leaves the series
 * unchanged.
 */
static LstmError runner_feed_normalized(const LstmRunner *runner, LstmSeries *series, double y)
{
    const LstmDims *d = &runner->dims;
    LstmNormalizer before = series->norm;
    float *x = runner->x;
    double z, overwritten = 0.0;
    size_t slot = 0;
    LstmError err;

    err = lstm_normalizer_transform(d->flags, y, &z);
    if (err != LSTM_OK)
        return err;
    if (d->season > 1) {
        slot = (size_t)(series->norm.rows % d->season); /* the ring slot this row writes */
        overwritten = series->norm.recent[slot];
    }
    lstm_normalizer_push(&series->norm, d->season, z);
    lstm_normalizer_features(&series->norm, d->season, d->output_size, x);
    for (int i = 0; i < d->input_size; i++)
        x[i] = (float)(((double)x[i] - runner->input_mean[i]) / runner->input_std[i]);
    for (int i = 0; i < d->input_size; i++) {
        if (!isfinite(x[i]))
            goto overflow;
    }
    if (!isfinite(series->norm.change) || !isfinite(series->norm.level) ||
        !isfinite(series->norm.scale))
        goto overflow;
    series->steps++;
    runner_step_members(runner, series, x);
    return LSTM_OK;

overflow:
    series->norm = before;
    if (d->season > 1)
        series->norm.recent[slot] = overwritten;
    return LSTM_ERR_NONFINITE;
}

/* Consume one row of raw features; rejects rows whose scaled values overflow. */
LstmError lstm_runner_feed(const LstmRunner *runner, LstmSeries *series, const double *features)
{
    const LstmDims *d = &runner->dims;
    float *x = runner->x;
    double target = features[0];
    int differenced = (d->flags & LSTM_FLAG_DIFFERENCE) != 0;

    if (d->flags & LSTM_FLAG_SERIES_SCALING)
        return runner_feed_normalized(runner, series, target);
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
    runner_step_members(runner, series, x);
    return LSTM_OK;
}

/*
 * One member's raw outputs (O) from its top layer's h (H): the head,
 * unscaled, then undifferenced (output 0) or turned into raw forecasts by the
 * normaliser.
 */
static inline __attribute__((always_inline)) void member_predict(const LstmRunner *runner,
                                                                 const LstmRunnerNet *net,
                                                                 const LstmSeries *series,
                                                                 const float *h, double *outputs)
{
    const LstmDims *d = &runner->dims;
    int H = d->hidden_size;
    for (int o = 0; o < d->output_size; o++) {
        const float *w = net->head_weight + (size_t)o * H;
        float y = net->head_bias[o];
        for (int j = 0; j < H; j++)
            y += w[j] * h[j];
        outputs[o] = (double)y * runner->output_std[o] + runner->output_mean[o];
    }
    if (d->flags & LSTM_FLAG_DIFFERENCE)
        outputs[0] += series->last_value;
    if (d->flags & LSTM_FLAG_SERIES_SCALING) {
        for (int o = 0; o < d->output_size; o++)
            outputs[o] = lstm_normalizer_forecast(&series->norm, d->flags, outputs[o]);
    }
}

/*
 * The median of n values (n <= LSTM_MAX_MEMBERS), the mean of the two
 * middle ones for an even n; values are sorted in place.
 */
static double median_of(double *values, int n)
{
    for (int i = 1; i < n; i++) {
        double v = values[i];
        int j = i - 1;
        for (; j >= 0 && values[j] > v; j--)
            values[j + 1] = values[j];
        values[j + 1] = v;
    }
    if (n % 2 == 1)
        return values[n / 2];
    return (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

/* Raw forecast of every output after the last row: one member's, or the members' median. */
void lstm_runner_predict(const LstmRunner *runner, const LstmSeries *series, double *outputs)
{
    const LstmDims *d = &runner->dims;
    size_t n = member_state_nfloats(d);
    size_t top = (size_t)(d->num_layers - 1) * d->hidden_size; /* top layer's h in a member */
    int M = d->members, O = d->output_size;
    double column[LSTM_MAX_MEMBERS]; /* (members) one output of every member */

    if (M == 1) {
        member_predict(runner, &runner->net[0], series, series->h + top, outputs);
        return;
    }
    for (int m = 0; m < M; m++)
        member_predict(runner, &runner->net[m], series, series->h + m * n + top,
                       runner->member_outputs + (size_t)m * O);
    for (int o = 0; o < O; o++) {
        for (int m = 0; m < M; m++)
            column[m] = runner->member_outputs[(size_t)m * O + o];
        outputs[o] = median_of(column, M);
    }
}

/*
 * Forecast horizon rows ahead: directly from the outputs of a series-scaled
 * model, otherwise by feeding each forecast back.
 */
void lstm_runner_horizon(const LstmRunner *runner, const LstmSeries *series, LstmSeries *work,
                         int horizon, double *forecasts, void (*interrupt)(void *arg),
                         void *interrupt_arg)
{
    double *features = runner->features;

    if (runner->dims.flags & LSTM_FLAG_SERIES_SCALING) {
        lstm_runner_predict(runner, series, features);
        for (int step = 0; step < horizon && step < runner->dims.output_size; step++)
            forecasts[step] = features[step];
        return;
    }
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
