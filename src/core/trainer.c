/*
 * trainer.c - stateful truncated BPTT with Adam on OpenBLAS (see trainer.h).
 *
 * Layer by layer, llm.c style: each piece is a forward/backward pair over
 * raw arrays with their sizes; backward passes ADD into the gradients.
 * Within a chunk the layers run one after the other over all T steps, so the
 * input projection of a whole chunk is one sgemm, and only the recurrent
 * product h_{t-1} W_hh^T is issued step by step.
 */
#include "trainer.h"

#include <cblas.h>
#undef I /* <complex.h>, pulled in by cblas.h, defines I; here I is the input size */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "fastmath.h"

/* Floats of the initial state written between two checks for interrupts (16 MB). */
#define INIT_BLOCK_FLOATS ((size_t)4 * 1024 * 1024)

static void check_interrupt(const LstmTrainer *tr);
#include "normalizer.h"

/* ---------------------------------------------------------------------- */
/* Options, planning and data preparation                                 */
/* ---------------------------------------------------------------------- */

/* Is an integer hyperparameter within min..max? Otherwise a message naming it. */
static int int_option_ok(const char *name, int value, int min, int max, char *errmsg)
{
    if (value < min || value > max) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "%s must be between %d and %d, got %d", name, min, max,
                 value);
        return 0;
    }
    return 1;
}

/* Model sizes the trainer produces (one member). */
LstmDims lstm_trainer_model_dims(const LstmTrainOptions *opts, int input_size)
{
    LstmDims dims;

    if (!opts->series_scaling)
        return lstm_dims_make(input_size, opts->hidden_size, opts->num_layers, 1,
                              opts->difference ? LSTM_FLAG_DIFFERENCE : 0);
    dims = lstm_dims_make(input_size, opts->hidden_size, opts->num_layers, opts->horizon,
                          LSTM_FLAG_SERIES_SCALING | (opts->log ? LSTM_FLAG_LOG : 0));
    dims.season = opts->season > 1 ? opts->season : 0;
    return dims;
}

/* The sizes of the member being trained. */
static LstmDims trainer_dims(const LstmTrainOptions *opts, int input_size)
{
    return lstm_trainer_model_dims(opts, input_size);
}

/* Check every hyperparameter against its range. */
LstmTrainError lstm_train_check_options(const LstmTrainOptions *opts, int input_size, char *errmsg)
{
    const LstmTrainOptions *o = opts;
    LstmDims dims;

    if (input_size < 1 || input_size > LSTM_MAX_INPUT) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "%d input features is outside the range 1 to %d",
                 input_size, LSTM_MAX_INPUT);
        return LSTM_TRAIN_ERR_OPTION;
    }
    if (!int_option_ok("hidden", o->hidden_size, 1, LSTM_MAX_HIDDEN, errmsg) ||
        !int_option_ok("layers", o->num_layers, 1, LSTM_MAX_LAYERS, errmsg) ||
        !int_option_ok("bptt", o->bptt, 1, LSTM_TRAIN_MAX_BPTT, errmsg) ||
        !int_option_ok("batch_size", o->batch_size, 1, LSTM_TRAIN_MAX_BATCH, errmsg) ||
        !int_option_ok("epochs", o->epochs, 1, LSTM_TRAIN_MAX_EPOCHS, errmsg))
        return LSTM_TRAIN_ERR_OPTION;
    if (!(o->learning_rate > 0.0 && o->learning_rate <= LSTM_TRAIN_MAX_LEARNING_RATE)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "learning_rate must be greater than 0 and at most %g, got %g",
                 LSTM_TRAIN_MAX_LEARNING_RATE, o->learning_rate);
        return LSTM_TRAIN_ERR_OPTION;
    }
    if (!(o->clip > 0.0 && isfinite(o->clip))) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "clip must be a finite number greater than 0, got %g",
                 o->clip);
        return LSTM_TRAIN_ERR_OPTION;
    }
    if (!(o->validation >= 0.0 && o->validation <= LSTM_TRAIN_MAX_VALIDATION)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "validation must be between 0 and %g, got %g",
                 LSTM_TRAIN_MAX_VALIDATION, o->validation);
        return LSTM_TRAIN_ERR_OPTION;
    }
    if (!int_option_ok("patience", o->patience, 0, LSTM_TRAIN_MAX_PATIENCE, errmsg) ||
        !int_option_ok("members", o->members, 1, LSTM_MAX_MEMBERS, errmsg))
        return LSTM_TRAIN_ERR_OPTION;
    if (o->loss != LSTM_LOSS_MSE && o->loss != LSTM_LOSS_L1) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "loss must be mse or l1, got %d", o->loss);
        return LSTM_TRAIN_ERR_OPTION;
    }
    if (o->series_scaling) {
        if (!int_option_ok("horizon", o->horizon, 1, LSTM_TRAIN_MAX_HORIZON, errmsg) ||
            !int_option_ok("season", o->season, 0, LSTM_MAX_SEASON, errmsg))
            return LSTM_TRAIN_ERR_OPTION;
        if (o->difference) {
            snprintf(errmsg, LSTM_ERRMSG_LEN,
                     "difference must be false with series scaling, which normalises changes "
                     "itself");
            return LSTM_TRAIN_ERR_OPTION;
        }
        if (input_size != lstm_normalizer_input_size(o->season, o->horizon)) {
            snprintf(errmsg, LSTM_ERRMSG_LEN,
                     "series scaling reads one value per row, not %d inputs", input_size);
            return LSTM_TRAIN_ERR_OPTION;
        }
    } else if (o->horizon != 1 || o->season > 1 || o->log) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "horizon, season and log need series scaling (got horizon %d, season %d)",
                 o->horizon, o->season);
        return LSTM_TRAIN_ERR_OPTION;
    }
    dims = trainer_dims(opts, input_size);
    if (lstm_dims_check(&dims, errmsg) != LSTM_OK)
        return LSTM_TRAIN_ERR_OPTION;
    return LSTM_TRAIN_OK;
}

/* Series with at least one row. */
int64_t lstm_train_nonempty_series(int64_t num_series, const LstmTrainSeries *series)
{
    int64_t n = 0;
    for (int64_t s = 0; s < num_series; s++)
        n += series[s].rows > 0;
    return n;
}

/*
 * Series scaling's split of one series of n rows: the validation rows held
 * back (the last horizon of each series, or round(validation * n) of the
 * only one) and the training rows; 0 training rows when too short.
 */
static void plan_series_scaled(const LstmTrainOptions *opts, int validation, int64_t n,
                               int64_t *train, int64_t *valid)
{
    int64_t v = 0;

    if (opts->validation > 0.0)
        v = validation == LSTM_VALIDATE_ROLLING ? (int64_t)floor(opts->validation * n + 0.5)
                                                : opts->horizon;
    *valid = v;
    *train = n - v;
    if (*train < 3) /* the first target is the row after step 1 */
        *train = *valid = 0;
}

/* Split every series into inputs and training/validation targets. */
LstmTrainError lstm_train_plan(const LstmTrainOptions *opts, int64_t num_series,
                               LstmTrainSeries *series, LstmTrainTotals *totals, char *errmsg)
{
    int64_t offset = 0;

    memset(totals, 0, sizeof(*totals));
    totals->series = num_series;
    if (opts->series_scaling)
        totals->validation = lstm_train_nonempty_series(num_series, series) == 1
                                 ? LSTM_VALIDATE_ROLLING
                                 : LSTM_VALIDATE_OWA;
    for (int64_t s = 0; s < num_series; s++) {
        LstmTrainSeries *se = &series[s];
        int64_t inputs = se->rows - (opts->difference ? 1 : 0);
        int64_t targets = inputs > 1 ? inputs - 1 : 0;
        int64_t valid = (int64_t)floor(opts->validation * (double)targets);
        int64_t train = targets - valid;

        if (opts->series_scaling) {
            inputs = se->rows;
            plan_series_scaled(opts, totals->validation, se->rows, &train, &valid);
        }

        totals->rows += se->rows;
        se->start = offset;
        if (train < 1) {
            se->inputs = se->train = se->valid = 0;
            totals->series_skipped++;
            continue;
        }
        se->inputs = inputs;
        se->train = train;
        se->valid = valid;
        offset += inputs;
        totals->series_used++;
        totals->train_targets += opts->series_scaling ? train - 2 : train; /* origins 1..train-2 */
        totals->valid_targets += valid;
    }
    totals->inputs = offset;
    if (totals->series_used == 0) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "no series has enough rows to train on (series: %lld, rows: %lld)",
                 (long long)num_series, (long long)totals->rows);
        return LSTM_TRAIN_ERR_NO_DATA;
    }
    totals->lanes =
        totals->series_used < opts->batch_size ? (int)totals->series_used : opts->batch_size;
    return LSTM_TRAIN_OK;
}

/* Stream every used series through the normaliser: inputs, z, scale and y of every row. */
LstmTrainError lstm_train_prepare_series(const LstmTrainOptions *opts, const double *raw,
                                         int64_t num_series, const LstmTrainSeries *series,
                                         float *inputs, double *last, double *scale, double *value,
                                         void (*interrupt)(void *arg), void *interrupt_arg,
                                         char *errmsg)
{
    int season = opts->season > 1 ? opts->season : 0, horizon = opts->horizon;
    int I = lstm_normalizer_input_size(season, horizon);
    unsigned flags = opts->log ? LSTM_FLAG_LOG : 0;
    double ring[LSTM_MAX_SEASON > 0 ? LSTM_MAX_SEASON : 1]; /* (season) recent values of z */

    for (int64_t s = 0, row0 = 0; s < num_series; row0 += series[s].rows, s++) {
        const LstmTrainSeries *se = &series[s];
        LstmNormalizer nz;

        if (interrupt)
            interrupt(interrupt_arg);
        lstm_normalizer_init(&nz, ring);
        for (int64_t j = 0; j < se->inputs; j++) {
            int64_t r = se->start + j;
            double z;
            if (lstm_normalizer_transform(flags, raw[row0 + j], &z) != LSTM_OK) {
                snprintf(errmsg, LSTM_ERRMSG_LEN,
                         "series %lld has the value %g at row %lld, which the log transform "
                         "cannot take",
                         (long long)(s + 1), raw[row0 + j], (long long)(j + 1));
                return LSTM_TRAIN_ERR_DOMAIN;
            }
            lstm_normalizer_push(&nz, season, z);
            lstm_normalizer_features(&nz, season, horizon, inputs + (size_t)r * I);
            last[r] = nz.last;
            scale[r] = nz.scale;
            value[r] = raw[row0 + j];
        }
    }
    return LSTM_TRAIN_OK;
}

/*
 * Raw value of feature i at network input j of a series whose raw rows start
 * at row (a pointer to its first raw row): a difference for a differenced
 * target.
 */
static double network_value(const double *row, int input_size, int64_t j, int i, int difference)
{
    if (!difference)
        return row[j * input_size + i];
    if (i == 0)
        return row[(j + 1) * input_size] - row[j * input_size];
    return row[(j + 1) * input_size + i];
}

/* Fit scaling on the training rows and write the scaled inputs. */
LstmTrainError lstm_train_prepare(const LstmTrainOptions *opts, int input_size, const double *raw,
                                  int64_t num_series, const LstmTrainSeries *series,
                                  float *input_mean, float *input_std, float *inputs,
                                  void (*interrupt)(void *arg), void *interrupt_arg, char *errmsg)
{
    int I = input_size;
    int diff = opts->difference != 0;

    for (int i = 0; i < I; i++) {
        double sum = 0.0, squares = 0.0, mean, std;
        int64_t count = 0, row0 = 0;

        /* mean, then the sum of squared deviations (two passes) */
        for (int64_t s = 0; s < num_series; row0 += series[s].rows, s++) {
            const double *row = raw + row0 * I;
            if (interrupt)
                interrupt(interrupt_arg);
            for (int64_t j = 0; series[s].train > 0 && j <= series[s].train; j++) {
                sum += network_value(row, I, j, i, diff);
                count++;
            }
        }
        mean = sum / (double)count;
        row0 = 0;
        for (int64_t s = 0; s < num_series; row0 += series[s].rows, s++) {
            const double *row = raw + row0 * I;
            for (int64_t j = 0; series[s].train > 0 && j <= series[s].train; j++) {
                double d = network_value(row, I, j, i, diff) - mean;
                squares += d * d;
            }
        }
        std = sqrt(squares / (double)count);
        if (!isfinite(mean) || fabs(mean) > FLT_MAX || !isfinite(std)) {
            snprintf(errmsg, LSTM_ERRMSG_LEN,
                     "the values of input %d are too large to train on in float32", i);
            return LSTM_TRAIN_ERR_RANGE;
        }
        input_mean[i] = (float)mean;
        input_std[i] = (float)std;
        if (!(input_std[i] > 0.0f) || !isfinite(input_std[i]))
            input_std[i] = 1.0f;
    }

    /* scale exactly as lstm_runner_feed does */
    for (int64_t s = 0, row0 = 0; s < num_series; row0 += series[s].rows, s++) {
        const double *row = raw + row0 * I;
        float *out = inputs + series[s].start * I;
        if (interrupt)
            interrupt(interrupt_arg);
        for (int64_t j = 0; j < series[s].inputs; j++) {
            for (int i = 0; i < I; i++) {
                double v = network_value(row, I, j, i, diff);
                float x = (float)((v - (double)input_mean[i]) / (double)input_std[i]);
                if (!isfinite(x)) {
                    snprintf(errmsg, LSTM_ERRMSG_LEN,
                             "input %d of row %lld of series %lld is too far from the "
                             "training mean to scale in float32",
                             i, (long long)(j + diff + 1), (long long)(s + 1));
                    return LSTM_TRAIN_ERR_RANGE;
                }
                out[j * I + i] = x;
            }
        }
    }
    return LSTM_TRAIN_OK;
}

/* ---------------------------------------------------------------------- */
/* Memory layout                                                           */
/* ---------------------------------------------------------------------- */

/*
 * Carve every array of the trainer out of arena (tr NULL: a sizing pass that
 * only counts). lstm_trainer_nbytes and lstm_trainer_init both run this.
 */
static void trainer_layout(LstmTrainer *tr, LstmArena *arena, const LstmTrainOptions *opts,
                           int input_size, const LstmTrainTotals *totals, size_t nparams)
{
    size_t T = (size_t)opts->bptt, B = (size_t)(totals->lanes > 0 ? totals->lanes : 1);
    LstmDims dims = trainer_dims(opts, input_size);
    size_t H = (size_t)opts->hidden_size, I = (size_t)input_size;
    size_t O = (size_t)dims.output_size, G = 4 * H;
    size_t series_used = (size_t)(totals->series_used > 0 ? totals->series_used : 1);
    LstmTrainer sizing;

    if (tr == NULL)
        tr = &sizing;
    tr->params = lstm_arena_carve(arena, nparams, sizeof(float));
    tr->grads = lstm_arena_carve(arena, nparams, sizeof(float));
    tr->adam_m = lstm_arena_carve(arena, nparams, sizeof(float));
    tr->adam_v = lstm_arena_carve(arena, nparams, sizeof(float));
    tr->best = lstm_arena_carve(arena, nparams, sizeof(float));
    tr->input = lstm_arena_carve(arena, lstm_arena_count(T, B, I), sizeof(float));
    tr->target = lstm_arena_carve(arena, lstm_arena_count(T, B, O), sizeof(float));
    tr->kind = lstm_arena_carve(arena, lstm_arena_count(T, B, O), sizeof(uint8_t));
    tr->output = lstm_arena_carve(arena, lstm_arena_count(T, B, O), sizeof(float));
    tr->doutput = lstm_arena_carve(arena, lstm_arena_count(T, B, O), sizeof(float));
    for (int k = 0; k < opts->num_layers; k++) {
        LstmTrainLayerActs *acts = &tr->acts[k];
        acts->gates = lstm_arena_carve(arena, lstm_arena_count(T, B, G), sizeof(float));
        acts->cell = lstm_arena_carve(arena, lstm_arena_count(T + 1, B, H), sizeof(float));
        acts->hidden = lstm_arena_carve(arena, lstm_arena_count(T + 1, B, H), sizeof(float));
        acts->tanh_c = lstm_arena_carve(arena, lstm_arena_count(T, B, H), sizeof(float));
    }
    tr->bias = lstm_arena_carve(arena, G, sizeof(float));
    tr->dgates = lstm_arena_carve(arena, lstm_arena_count(T, B, G), sizeof(float));
    tr->dhidden = lstm_arena_carve(arena, lstm_arena_count(T, B, H), sizeof(float));
    tr->dinput = lstm_arena_carve(arena, lstm_arena_count(T, B, H), sizeof(float));
    tr->dh_next = lstm_arena_carve(arena, lstm_arena_count(1, B, H), sizeof(float));
    tr->dc_next = lstm_arena_carve(arena, lstm_arena_count(1, B, H), sizeof(float));
    tr->order = lstm_arena_carve(arena, series_used, sizeof(int64_t));
    tr->lane = lstm_arena_carve(arena, B, sizeof(LstmTrainLane));
    if (opts->series_scaling) { /* what validation scores; global models need none */
        tr->chunk_series = lstm_arena_carve(arena, B, sizeof(int64_t));
        tr->chunk_step = lstm_arena_carve(arena, B, sizeof(int64_t));
        tr->score_terms = lstm_arena_carve(arena, 3 * O, sizeof(double));
    }
}

/*
 * Memory lstm_trainer_init needs (trainer_layout's sizing pass), 0 when not
 * representable or when a chunk's matrices exceed BLAS's int sizes.
 */
size_t lstm_trainer_nbytes(const LstmTrainOptions *opts, int input_size,
                           const LstmTrainTotals *totals)
{
    LstmDims dims = trainer_dims(opts, input_size);
    LstmArena arena = lstm_arena_sizing();
    size_t T = (size_t)opts->bptt, B = (size_t)(totals->lanes > 0 ? totals->lanes : 1);
    size_t G = 4 * (size_t)opts->hidden_size, I = (size_t)input_size;
    size_t O = (size_t)dims.output_size, widest = G > I ? G : I;

    /* BLAS takes int sizes: every (T*B, 4H), (T*B, I) or (T*B, O) matrix must fit */
    if (lstm_arena_count(T, B, widest > O ? widest : O) > (size_t)INT32_MAX)
        return 0;
    trainer_layout(NULL, &arena, opts, input_size, totals, lstm_model_parameter_count(&dims));
    return lstm_arena_nbytes(&arena);
}

/* Pointers to every array of a parameter block in model order. */
void lstm_train_params_view(const LstmDims *dims, float *block, LstmTrainParams *view)
{
    LstmModelOffsets off;

    memset(view, 0, sizeof(*view));
    lstm_model_offsets(dims, &off);
    for (int k = 0; k < dims->num_layers; k++) {
        LstmTrainLayer *w = &view->layer[k];
        w->weight_ih = block + off.weight_ih[k];
        w->weight_hh = block + off.weight_hh[k];
        w->bias_ih = block + off.bias_ih[k];
        w->bias_hh = block + off.bias_hh[k];
        w->in_size = off.in_size[k];
    }
    view->head_weight = block + off.head_weight;
    view->head_bias = block + off.head_bias;
}
/* ---------------------------------------------------------------------- */
/* Random numbers: xoshiro256** seeded through splitmix64                  */
/* ---------------------------------------------------------------------- */

/* splitmix64: expands the seed into the generator's state. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Rotate left. */
static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Next 64 random bits. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* A uniform double in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* A uniform integer in [0, n). */
static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

/* ---------------------------------------------------------------------- */
/* Trainer set-up                                                          */
/* ---------------------------------------------------------------------- */

/* Lay out the trainer, draw initial weights, attach the data. */
void lstm_trainer_init(LstmTrainer *tr, const LstmTrainOptions *opts, int input_size,
                       const LstmTrainTotals *totals, const LstmTrainSeries *series,
                       int64_t num_series, const float *inputs, void *memory,
                       void (*interrupt)(void *arg), void *interrupt_arg)
{
    LstmArena arena = lstm_arena_over(memory);
    uint64_t seed = opts->seed;
    double bound;
    int64_t n = 0;

    memset(tr, 0, sizeof(*tr));
    tr->interrupt = interrupt;
    tr->interrupt_arg = interrupt_arg;
    tr->opts = *opts;
    tr->dims = trainer_dims(opts, input_size);
    tr->lanes = totals->lanes > 0 ? totals->lanes : 1;
    tr->steps = opts->bptt;
    tr->nparams = lstm_model_parameter_count(&tr->dims);
    trainer_layout(tr, &arena, opts, input_size, totals, tr->nparams);
    lstm_train_params_view(&tr->dims, tr->params, &tr->w);
    lstm_train_params_view(&tr->dims, tr->grads, &tr->dw);

    for (int i = 0; i < 4; i++)
        tr->rng[i] = splitmix64(&seed);
    /* nn.LSTM and nn.Linear(H, O) both draw from uniform(-1/sqrt(H), 1/sqrt(H)) */
    bound = 1.0 / sqrt((double)opts->hidden_size);
    for (size_t p0 = 0; p0 < tr->nparams; p0 += INIT_BLOCK_FLOATS) {
        size_t p1 = p0 + INIT_BLOCK_FLOATS < tr->nparams ? p0 + INIT_BLOCK_FLOATS : tr->nparams;
        check_interrupt(tr);
        for (size_t p = p0; p < p1; p++)
            tr->params[p] = (float)(-bound + 2.0 * bound * rng_uniform(tr->rng));
        /* the first writes to each block fault its pages in: keep them interruptible too */
        memcpy(tr->best + p0, tr->params + p0, (p1 - p0) * sizeof(float));
        memset(tr->grads + p0, 0, (p1 - p0) * sizeof(float));
        memset(tr->adam_m + p0, 0, (p1 - p0) * sizeof(float));
        memset(tr->adam_v + p0, 0, (p1 - p0) * sizeof(float));
    }

    tr->inputs = inputs;
    tr->series = series;
    tr->num_series = num_series;
    for (int64_t s = 0; s < num_series; s++)
        if (series[s].train > 0)
            tr->order[n++] = s;
    tr->order_count = n;
    for (int b = 0; b < tr->lanes; b++) {
        tr->lane[b].series = -1;
        lstm_trainer_reset_lane(tr, b);
    }
    tr->best_loss = INFINITY;
}

/* Zero the carried state of lane b in every layer. */
void lstm_trainer_reset_lane(LstmTrainer *tr, int b)
{
    size_t H = (size_t)tr->dims.hidden_size;
    for (int k = 0; k < tr->dims.num_layers; k++) {
        memset(tr->acts[k].hidden + (size_t)b * H, 0, H * sizeof(float));
        memset(tr->acts[k].cell + (size_t)b * H, 0, H * sizeof(float));
    }
}

/* ---------------------------------------------------------------------- */
/* Layers: forward/backward pairs                                          */
/* ---------------------------------------------------------------------- */

/*
 * Vectorized kernels. GCC vectorizes the loops below only at -O3 and with
 * -fno-trapping-math (for the clamps), so this region asks for both; nothing
 * here depends on floating-point traps.
 */
#pragma GCC push_options
#pragma GCC optimize("O3", "no-trapping-math")

/*
 * cell_forward_pointwise: one step of one lane: activate the gates (4H,
 * pre-activations without bias in, activated i, f, g, o out) and update
 * c (H), tanh_c (H), h (H) from c_prev (H).
 */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
cell_forward_pointwise(float *restrict g, const float *restrict bias, const float *restrict c_prev,
                       float *restrict c, float *restrict tanh_c, float *restrict h, int H)
{
    /* one pointer per gate block: index arithmetic stays simple under -fwrapv */
    float *restrict g_i = g, *restrict g_f = g + H, *restrict g_g = g + 2 * H;
    float *restrict g_o = g + 3 * H;
    const float *restrict b_i = bias, *restrict b_f = bias + H, *restrict b_g = bias + 2 * H;
    const float *restrict b_o = bias + 3 * H;

    for (int j = 0; j < H; j++) {
        float gi = sigmoid_fast(g_i[j] + b_i[j]);
        float gf = sigmoid_fast(g_f[j] + b_f[j]);
        float gg = tanh_fast(g_g[j] + b_g[j]);
        float go = sigmoid_fast(g_o[j] + b_o[j]);
        float cj = gf * c_prev[j] + gi * gg;
        float tc = tanh_fast(cj);
        g_i[j] = gi;
        g_f[j] = gf;
        g_g[j] = gg;
        g_o[j] = go;
        c[j] = cj;
        tanh_c[j] = tc;
        h[j] = go * tc;
    }
}

/*
 * cell_backward_pointwise: one step of one lane: from the gradient on h
 * (dh_in + dh_next, H) and on c (dc_next, H, updated to the gradient on
 * c_prev), the gradient on the gate pre-activations d (4H).
 */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
cell_backward_pointwise(float *restrict d, const float *restrict g, const float *restrict c_prev,
                        const float *restrict tanh_c, const float *restrict dh_in,
                        const float *restrict dh_next, float *restrict dc_next, int H)
{
    const float *restrict g_i = g, *restrict g_f = g + H, *restrict g_g = g + 2 * H;
    const float *restrict g_o = g + 3 * H;
    float *restrict d_i = d, *restrict d_f = d + H, *restrict d_g = d + 2 * H;
    float *restrict d_o = d + 3 * H;

    for (int j = 0; j < H; j++) {
        float gi = g_i[j], gf = g_f[j], gg = g_g[j], go = g_o[j];
        float tc = tanh_c[j];
        float dhj = dh_in[j] + dh_next[j];
        float dc = dc_next[j] + dhj * go * (1.0f - tc * tc);
        dc_next[j] = dc * gf;
        d_i[j] = dc * gg * gi * (1.0f - gi);
        d_f[j] = dc * c_prev[j] * gf * (1.0f - gf);
        d_g[j] = dc * gi * (1.0f - gg * gg);
        d_o[j] = dhj * tc * go * (1.0f - go);
    }
}

/* column_sums: out (n) += the sum of the rows of m (rows, n). */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
column_sums(float *restrict out, const float *restrict m, size_t rows, int n)
{
    for (size_t r = 0; r < rows; r++) {
        const float *restrict row = m + r * n;
        for (int j = 0; j < n; j++)
            out[j] += row[j];
    }
}

#pragma GCC pop_options

/* Give the caller a chance to stop (cancel, statement_timeout). */
static void check_interrupt(const LstmTrainer *tr)
{
    if (tr->interrupt)
        tr->interrupt(tr->interrupt_arg);
}

/* Multiply-adds one uninterrupted block of a product may take (~0.1 s single-threaded). */
#define GEMM_BLOCK_MACS 500000000.0
/* Floats of C one block may write (64 MB). */
#define GEMM_BLOCK_FLOATS (16 * 1024 * 1024)

/*
 * gemm: C (M, N) = alpha op(A) (M, K) . op(B) (K, N) + beta C, row-major, as
 * cblas_sgemm, but in blocks of rows of C with a check for interrupts before
 * each, so that no single call of a large model runs for seconds. Each row of
 * C is computed exactly as one call computes it (the blocking never splits K),
 * so the result does not depend on the block size.
 */
static void gemm(const LstmTrainer *tr, enum CBLAS_TRANSPOSE trans_a, enum CBLAS_TRANSPOSE trans_b,
                 int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc)
{
    double per_row = (double)N * K;
    int rows = per_row > 0 ? (int)(GEMM_BLOCK_MACS / per_row) : M;

    if (N > 0 && rows > GEMM_BLOCK_FLOATS / N)
        rows = GEMM_BLOCK_FLOATS / N; /* first writes to C fault its pages in: bound them too */
    if (rows < 1)
        rows = 1;
    for (int m0 = 0; m0 < M; m0 += rows) {
        int m = M - m0 < rows ? M - m0 : rows;
        /* Rows m0.. of op(A): rows of A, or columns of A when it is transposed. */
        const float *a = trans_a == CblasNoTrans ? A + (size_t)m0 * lda : A + m0;
        check_interrupt(tr);
        cblas_sgemm(CblasRowMajor, trans_a, trans_b, m, N, K, alpha, a, lda, B, ldb, beta,
                    C + (size_t)m0 * ldc, ldc);
    }
}

/*
 * lstm_layer_forward: one LSTM layer over a chunk.
 *   x      (T, B, in) layer input
 *   acts   gates (T, B, 4H) out, cell/hidden (T+1, B, H) slot 0 in, 1..T out,
 *          tanh_c (T, B, H) out
 *   bias   (4H) scratch
 */
static void lstm_layer_forward(const LstmTrainer *tr, LstmTrainLayerActs *acts, const float *x,
                               const LstmTrainLayer *w, float *bias, int B, int T, int H)
{
    int G = 4 * H, in = w->in_size;

    for (int j = 0; j < G; j++)
        bias[j] = w->bias_ih[j] + w->bias_hh[j];
    /* gates (T*B, 4H) = x (T*B, in) . weight_ih^T (in, 4H) */
    gemm(tr, CblasNoTrans, CblasTrans, T * B, G, in, 1.0f, x, in, w->weight_ih, in, 0.0f,
         acts->gates, G);
    for (int t = 0; t < T; t++) {
        float *gates = acts->gates + (size_t)t * B * G;         /* (B, 4H) */
        const float *h_prev = acts->hidden + (size_t)t * B * H; /* (B, H) */
        const float *c_prev = acts->cell + (size_t)t * B * H;   /* (B, H) */
        float *c = acts->cell + (size_t)(t + 1) * B * H;        /* (B, H) */
        float *h = acts->hidden + (size_t)(t + 1) * B * H;      /* (B, H) */
        float *tanh_c = acts->tanh_c + (size_t)t * B * H;       /* (B, H) */

        check_interrupt(tr);
        /* gates (B, 4H) += h_prev (B, H) . weight_hh^T (H, 4H) */
        gemm(tr, CblasNoTrans, CblasTrans, B, G, H, 1.0f, h_prev, H, w->weight_hh, H, 1.0f, gates,
             G);
        for (int b = 0; b < B; b++) {
            size_t bh = (size_t)b * H;
            cell_forward_pointwise(gates + (size_t)b * G, bias, c_prev + bh, c + bh, tanh_c + bh,
                                   h + bh, H);
        }
    }
}

/*
 * lstm_layer_backward: backpropagate one layer through the chunk. Adds into
 * dw (this layer's gradients) and, when dx is not NULL, into dx (T, B, in).
 *   dh      (T, B, H) gradient arriving at h_t from the head or layer above
 *   dgates  (T, B, 4H) scratch, dh_next/dc_next (B, H) scratch
 * The state carried into the chunk gets no gradient (truncated BPTT).
 */
static void lstm_layer_backward(const LstmTrainer *tr, LstmTrainLayer *dw, float *dx,
                                const float *dh, const LstmTrainLayerActs *acts, const float *x,
                                const LstmTrainLayer *w, float *dgates, float *dh_next,
                                float *dc_next, int B, int T, int H)
{
    int G = 4 * H, in = w->in_size;

    memset(dh_next, 0, (size_t)B * H * sizeof(float));
    memset(dc_next, 0, (size_t)B * H * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        const float *gates = acts->gates + (size_t)t * B * G;   /* (B, 4H) */
        const float *c_prev = acts->cell + (size_t)t * B * H;   /* (B, H) */
        const float *tanh_c = acts->tanh_c + (size_t)t * B * H; /* (B, H) */
        const float *dh_t = dh + (size_t)t * B * H;             /* (B, H) */
        float *dg = dgates + (size_t)t * B * G;                 /* (B, 4H) */

        check_interrupt(tr);
        for (int b = 0; b < B; b++) {
            size_t bh = (size_t)b * H;
            cell_backward_pointwise(dg + (size_t)b * G, gates + (size_t)b * G, c_prev + bh,
                                    tanh_c + bh, dh_t + bh, dh_next + bh, dc_next + bh, H);
        }
        /* dh_next (B, H) = dgates_t (B, 4H) . weight_hh (4H, H) */
        if (t > 0)
            gemm(tr, CblasNoTrans, CblasNoTrans, B, H, G, 1.0f, dg, G, w->weight_hh, H, 0.0f,
                 dh_next, H);
    }
    /* dweight_hh (4H, H) += dgates^T (4H, T*B) . h_{t-1} (T*B, H) */
    gemm(tr, CblasTrans, CblasNoTrans, G, H, T * B, 1.0f, dgates, G, acts->hidden, H, 1.0f,
         dw->weight_hh, H);
    /* dweight_ih (4H, in) += dgates^T (4H, T*B) . x (T*B, in) */
    gemm(tr, CblasTrans, CblasNoTrans, G, in, T * B, 1.0f, dgates, G, x, in, 1.0f, dw->weight_ih,
         in);
    /* dbias_ih, dbias_hh (4H) += column sums of dgates */
    column_sums(dw->bias_ih, dgates, (size_t)T * B, G);
    column_sums(dw->bias_hh, dgates, (size_t)T * B, G);
    /* dx (T*B, in) += dgates (T*B, 4H) . weight_ih (4H, in) */
    if (dx)
        gemm(tr, CblasNoTrans, CblasNoTrans, T * B, in, G, 1.0f, dgates, G, w->weight_ih, in, 1.0f,
             dx, in);
}

/*
 * head_forward: output (N, O) = h (N, H) . head_weight^T (H, O) + head_bias,
 * for N = T*B rows.
 */
static void head_forward(const LstmTrainer *tr, float *output, const float *h, const float *weight,
                         const float *bias, int N, int H, int O)
{
    gemm(tr, CblasNoTrans, CblasTrans, N, O, H, 1.0f, h, H, weight, H, 0.0f, output, O);
    for (size_t r = 0; r < (size_t)N; r++)
        for (int o = 0; o < O; o++)
            output[r * O + o] += bias[o];
}

/*
 * head_backward: adds into dweight (O, H), dbias (O); sets dh (N, H) =
 * doutput (N, O) . weight (O, H).
 */
static void head_backward(const LstmTrainer *tr, float *dweight, float *dbias, float *dh,
                          const float *doutput, const float *h, const float *weight, int N, int H,
                          int O)
{
    gemm(tr, CblasTrans, CblasNoTrans, O, H, N, 1.0f, doutput, O, h, H, 1.0f, dweight, H);
    for (size_t r = 0; r < (size_t)N; r++)
        for (int o = 0; o < O; o++)
            dbias[o] += doutput[r * O + o];
    gemm(tr, CblasNoTrans, CblasNoTrans, N, H, O, 1.0f, doutput, O, weight, H, 0.0f, dh, H);
}

/*
 * loss_forward: the loss (mean squared or absolute error, by loss) over the
 * LSTM_TARGET_TRAIN entries of output (N, O) against target (N, O), kind
 * (N, O); also the sums of loss terms per kind (for evaluation) and their
 * counts.
 */
static double loss_forward(int loss, const float *output, const float *target, const uint8_t *kind,
                           int N, int O, double *sum_train, double *sum_valid, int64_t *n_train,
                           int64_t *n_valid)
{
    double st = 0.0, sv = 0.0;
    int64_t nt = 0, nv = 0;

    for (size_t e = 0; e < (size_t)N * O; e++) {
        double d, term;
        if (kind[e] == LSTM_TARGET_NONE)
            continue;
        d = (double)output[e] - (double)target[e];
        term = loss == LSTM_LOSS_L1 ? fabs(d) : d * d;
        if (kind[e] == LSTM_TARGET_TRAIN)
            st += term, nt++;
        else
            sv += term, nv++;
    }
    *sum_train = st;
    *sum_valid = sv;
    *n_train = nt;
    *n_valid = nv;
    return nt > 0 ? st / (double)nt : 0.0;
}

/*
 * loss_backward: doutput (N, O) on training entries: 2 (output - target) /
 * count for MSE, sign(output - target) / count for L1 (0 where equal, as
 * torch.abs); 0 elsewhere.
 */
static void loss_backward(int loss, float *doutput, const float *output, const float *target,
                          const uint8_t *kind, int N, int O, int64_t count)
{
    float scale = count > 0 ? (float)((loss == LSTM_LOSS_L1 ? 1.0 : 2.0) / (double)count) : 0.0f;
    for (size_t e = 0; e < (size_t)N * O; e++) {
        float d = output[e] - target[e];
        if (kind[e] != LSTM_TARGET_TRAIN)
            doutput[e] = 0.0f;
        else if (loss == LSTM_LOSS_L1)
            doutput[e] = d > 0.0f ? scale : (d < 0.0f ? -scale : 0.0f);
        else
            doutput[e] = scale * d;
    }
}

/* ---------------------------------------------------------------------- */
/* The chunk: forward, backward, clipping, Adam                            */
/* ---------------------------------------------------------------------- */

/* Forward of every layer and the head over the chunk in tr->input. */
double lstm_trainer_forward(LstmTrainer *tr)
{
    int B = tr->lanes, T = tr->steps, H = tr->dims.hidden_size, O = tr->dims.output_size;
    int L = tr->dims.num_layers;
    const float *x = tr->input;

    for (int k = 0; k < L; k++) {
        lstm_layer_forward(tr, &tr->acts[k], x, &tr->w.layer[k], tr->bias, B, T, H);
        x = tr->acts[k].hidden + (size_t)B * H; /* h_1..h_T feed the layer above */
    }
    head_forward(tr, tr->output, x, tr->w.head_weight, tr->w.head_bias, T * B, H, O);
    return loss_forward(tr->opts.loss, tr->output, tr->target, tr->kind, T * B, O,
                        &tr->chunk_sse_train, &tr->chunk_sse_valid, &tr->chunk_train,
                        &tr->chunk_valid);
}

/* Backward of the head and every layer, top down; adds into tr->grads. */
void lstm_trainer_backward(LstmTrainer *tr)
{
    int B = tr->lanes, T = tr->steps, H = tr->dims.hidden_size, O = tr->dims.output_size;
    int L = tr->dims.num_layers;
    const float *h_top = tr->acts[L - 1].hidden + (size_t)B * H; /* (T*B, H) */
    float *dh = tr->dhidden, *dx = tr->dinput;

    loss_backward(tr->opts.loss, tr->doutput, tr->output, tr->target, tr->kind, T * B, O,
                  tr->chunk_train);
    head_backward(tr, tr->dw.head_weight, tr->dw.head_bias, dh, tr->doutput, h_top,
                  tr->w.head_weight, T * B, H, O);
    for (int k = L - 1; k >= 0; k--) {
        const float *x = k == 0 ? tr->input : tr->acts[k - 1].hidden + (size_t)B * H;
        float *tmp;
        if (k > 0)
            memset(dx, 0, (size_t)T * B * H * sizeof(float));
        lstm_layer_backward(tr, &tr->dw.layer[k], k > 0 ? dx : NULL, dh, &tr->acts[k], x,
                            &tr->w.layer[k], tr->dgates, tr->dh_next, tr->dc_next, B, T, H);
        tmp = dh, dh = dx, dx = tmp; /* what this layer sent down arrives at the next */
    }
}

/* The state after the chunk's last step becomes slot 0 for the next chunk. */
void lstm_trainer_carry(LstmTrainer *tr)
{
    size_t BH = (size_t)tr->lanes * tr->dims.hidden_size, T = (size_t)tr->steps;
    for (int k = 0; k < tr->dims.num_layers; k++) {
        memcpy(tr->acts[k].hidden, tr->acts[k].hidden + T * BH, BH * sizeof(float));
        memcpy(tr->acts[k].cell, tr->acts[k].cell + T * BH, BH * sizeof(float));
    }
}

/* Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_. */
double lstm_trainer_clip(LstmTrainer *tr)
{
    double squares = 0.0, norm, coef;
    for (size_t p = 0; p < tr->nparams; p++)
        squares += (double)tr->grads[p] * (double)tr->grads[p];
    norm = sqrt(squares);
    coef = tr->opts.clip / (norm + 1e-6);
    if (coef < 1.0) {
        float c = (float)coef;
        for (size_t p = 0; p < tr->nparams; p++)
            tr->grads[p] *= c;
    }
    return norm;
}

/* One Adam step, float32 as torch.optim.Adam's single-tensor path. */
void lstm_trainer_adam(LstmTrainer *tr)
{
    double step = (double)++tr->adam_step;
    double bias_correction1 = 1.0 - pow(LSTM_ADAM_BETA1, step);
    double bias_correction2 = 1.0 - pow(LSTM_ADAM_BETA2, step);
    float neg_step_size = (float)-(tr->opts.learning_rate / bias_correction1);
    float bias_correction2_sqrt = (float)sqrt(bias_correction2);
    float beta1 = (float)LSTM_ADAM_BETA1, beta2 = (float)LSTM_ADAM_BETA2;
    float one_minus_beta1 = (float)(1.0 - LSTM_ADAM_BETA1);
    float one_minus_beta2 = (float)(1.0 - LSTM_ADAM_BETA2);
    float eps = (float)LSTM_ADAM_EPS;
    float *restrict param = tr->params, *restrict m = tr->adam_m, *restrict v = tr->adam_v;
    const float *restrict grad = tr->grads;

    for (size_t p = 0; p < tr->nparams; p++) {
        float g = grad[p];
        float denom;
        m[p] = m[p] * beta1 + g * one_minus_beta1;
        v[p] = v[p] * beta2 + one_minus_beta2 * (g * g);
        denom = sqrtf(v[p]) / bias_correction2_sqrt + eps;
        param[p] = param[p] + neg_step_size * (m[p] / denom);
    }
}

/* One mini-batch step on the chunk in tr->input, tr->target, tr->kind. */
double lstm_trainer_train_chunk(LstmTrainer *tr)
{
    double loss, norm;

    memset(tr->grads, 0, tr->nparams * sizeof(float));
    loss = lstm_trainer_forward(tr);
    lstm_trainer_backward(tr);
    norm = lstm_trainer_clip(tr);
    if (!isfinite(loss) || !isfinite(norm))
        return NAN; /* the caller reports divergence; weights stay finite */
    lstm_trainer_adam(tr);
    lstm_trainer_carry(tr);
    return loss;
}

/* ---------------------------------------------------------------------- */
/* Scheduling series onto lanes; epochs; evaluation                        */
/* ---------------------------------------------------------------------- */

/*
 * Targets of one row of a lane (step of series se, its network input at
 * row): O entries of target (O) and kind (O). Global scaling: feature 0 of
 * the next input. Series scaling: output k targets
 * lstm_normalizer_target(state after the step, z_{step+k}) while the step is
 * past the first row and step + k inside the training rows.
 */
static void fill_targets(const LstmTrainer *tr, const LstmTrainSeries *se, int64_t step,
                         const float *row, float *target, uint8_t *kind)
{
    int O = tr->dims.output_size, I = tr->dims.input_size;
    LstmNormalizer nz;
    int64_t r;

    if (!tr->opts.series_scaling) {
        target[0] = row[I]; /* feature 0 of the next input */
        kind[0] = step < se->train ? LSTM_TARGET_TRAIN : LSTM_TARGET_VALID;
        return;
    }
    r = se->start + step;
    lstm_normalizer_init(&nz, NULL);
    nz.rows = step + 1;
    nz.last = tr->last[r];
    nz.scale = tr->scale[r];
    for (int k = 1; k <= O; k++) {
        if (step >= 1 && step + k < se->train) {
            target[k - 1] = (float)lstm_normalizer_target(&nz, tr->last[r + k]);
            kind[k - 1] = LSTM_TARGET_TRAIN;
        } else {
            target[k - 1] = 0.0f;
            kind[k - 1] = LSTM_TARGET_NONE;
        }
    }
}

/* Steps a lane runs of series se: its training rows, and in evaluation what validation reads. */
static int64_t lane_end(const LstmTrainer *tr, const LstmTrainSeries *se)
{
    if (!tr->evaluating)
        return se->train;
    if (tr->opts.series_scaling && tr->validation == LSTM_VALIDATE_OWA)
        return se->train; /* the forecast origin is the last training row */
    return se->train + se->valid;
}

/*
 * Fill the next chunk: lanes whose series is done take the next one from the
 * order (from zero state); finished lanes idle on zero input. Returns the
 * number of lanes with work; 0 when the pass is over.
 */
static int deal_chunk(LstmTrainer *tr)
{
    int B = tr->lanes, T = tr->steps, I = tr->dims.input_size, O = tr->dims.output_size;
    int active = 0;

    for (int b = 0; b < B; b++) {
        LstmTrainLane *lane = &tr->lane[b];
        const LstmTrainSeries *se;

        if (lane->series < 0 || lane->step >= lane->end) {
            if (tr->order_next < tr->order_count) {
                lane->series = tr->order[tr->order_next++];
                se = &tr->series[lane->series];
                lane->step = 0;
                lane->end = lane_end(tr, se);
            } else
                lane->series = -1;
            lstm_trainer_reset_lane(tr, b);
        }
        se = lane->series >= 0 ? &tr->series[lane->series] : NULL;
        if (tr->chunk_series) {
            tr->chunk_series[b] = lane->series;
            tr->chunk_step[b] = lane->step;
        }
        for (int t = 0; t < T; t++) {
            size_t r = (size_t)t * B + b;
            int64_t step = lane->step + t;
            if (se && step < lane->end) {
                const float *row = tr->inputs + (size_t)(se->start + step) * I;
                memcpy(tr->input + r * I, row, (size_t)I * sizeof(float));
                fill_targets(tr, se, step, row, tr->target + r * O, tr->kind + r * O);
            } else {
                memset(tr->input + r * I, 0, (size_t)I * sizeof(float));
                memset(tr->target + r * O, 0, (size_t)O * sizeof(float));
                memset(tr->kind + r * O, LSTM_TARGET_NONE, (size_t)O);
            }
        }
        if (se) {
            lane->step += T;
            active++;
        }
    }
    return active;
}

/* Restart the scheduler for a pass over every used series. */
static void start_pass(LstmTrainer *tr, int evaluating)
{
    tr->evaluating = evaluating;
    tr->order_next = 0;
    for (int b = 0; b < tr->lanes; b++) {
        tr->lane[b].series = -1;
        tr->lane[b].step = tr->lane[b].end = 0;
    }
}

/* One training pass in a fresh shuffled order. */
LstmTrainError lstm_trainer_epoch(LstmTrainer *tr, double *train_loss, char *errmsg)
{
    double sse = 0.0;
    int64_t count = 0;

    /* Fisher-Yates shuffle of the series order */
    for (int64_t i = tr->order_count - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(tr->rng, (uint64_t)i + 1);
        int64_t s = tr->order[i];
        tr->order[i] = tr->order[j];
        tr->order[j] = s;
    }
    start_pass(tr, 0);
    while (deal_chunk(tr) > 0) {
        double loss = lstm_trainer_train_chunk(tr);
        if (!isfinite(loss)) {
            snprintf(errmsg, LSTM_ERRMSG_LEN,
                     "training diverged: the loss became non-finite in epoch %d",
                     tr->epochs_run + 1);
            return LSTM_TRAIN_ERR_DIVERGED;
        }
        sse += tr->chunk_sse_train;
        count += tr->chunk_train;
    }
    *train_loss = count > 0 ? sse / (double)count : NAN;
    return LSTM_TRAIN_OK;
}

/* The validation sums of a series-scaled evaluation pass. */
typedef struct ValidationSums {
    double smape_model, smape_naive; /* sums over series of sMAPE */
    double mase_model, mase_naive;   /* sums over series of MASE */
    int64_t smape_series, mase_series;
} ValidationSums;

/* The normaliser's state after row r (step of its series) as the target/forecast maps read it. */
static void normalizer_at(const LstmTrainer *tr, int64_t r, int64_t step, LstmNormalizer *nz)
{
    lstm_normalizer_init(nz, NULL);
    nz->rows = step + 1;
    nz->last = tr->last[r];
    nz->scale = tr->scale[r];
}

/* sMAPE term of the M4 competition: 200 |y - f| / (|y| + |f|), 0 when both are 0. */
static double smape_term(double y, double f)
{
    double den = fabs(y) + fabs(f);
    return den > 0.0 ? 200.0 * fabs(y - f) / den : 0.0;
}

/*
 * Several series: after the chunk, the lanes whose training rows ended in it
 * forecast the validation rows from the head output there; add their sMAPE
 * and MASE (scaled by the in-sample lag-1 naive MAE), and the naive
 * forecast's, to sums.
 */
static void score_owa_chunk(const LstmTrainer *tr, ValidationSums *sums)
{
    int B = tr->lanes, T = tr->steps, O = tr->dims.output_size;
    unsigned flags = tr->dims.flags;

    for (int b = 0; b < B; b++) {
        const LstmTrainSeries *se;
        int64_t origin, r, h;
        double sm = 0.0, sn = 0.0, am = 0.0, an = 0.0, mae = 0.0;
        LstmNormalizer nz;
        const float *o;

        if (tr->chunk_series[b] < 0)
            continue;
        se = &tr->series[tr->chunk_series[b]];
        origin = se->train - 1;
        if (se->valid < 1 || origin < tr->chunk_step[b] || origin >= tr->chunk_step[b] + T)
            continue;
        r = se->start + origin;
        o = tr->output + ((size_t)(origin - tr->chunk_step[b]) * B + b) * O;
        normalizer_at(tr, r, origin, &nz);
        h = se->valid < O ? se->valid : O;
        for (int64_t k = 1; k <= h; k++) {
            double y = tr->value[r + k], f = lstm_normalizer_forecast(&nz, flags, o[k - 1]);
            double naive = tr->value[r];
            sm += smape_term(y, f), sn += smape_term(y, naive);
            am += fabs(y - f), an += fabs(y - naive);
        }
        sums->smape_model += sm / h, sums->smape_naive += sn / h, sums->smape_series++;
        for (int64_t j = 1; j <= origin; j++)
            mae += fabs(tr->value[se->start + j] - tr->value[se->start + j - 1]);
        mae /= (double)origin;
        if (mae > 0.0) {
            sums->mase_model += am / h / mae, sums->mase_naive += an / h / mae;
            sums->mase_series++;
        }
    }
}

/*
 * One series: add every origin of the chunk whose k-step target lies in the
 * validation rows to the per-k sums of squared errors of the model and of
 * the naive forecast (score_terms (3, O): model SSE, naive SSE, count).
 */
static void score_rolling_chunk(LstmTrainer *tr)
{
    int B = tr->lanes, T = tr->steps, O = tr->dims.output_size;
    double *sse_model = tr->score_terms, *sse_naive = tr->score_terms + O;
    double *count = tr->score_terms + 2 * O;

    for (int b = 0; b < B; b++) {
        const LstmTrainSeries *se;
        int64_t first_valid;

        if (tr->chunk_series[b] < 0)
            continue;
        se = &tr->series[tr->chunk_series[b]];
        first_valid = se->train;
        for (int t = 0; t < T; t++) {
            int64_t step = tr->chunk_step[b] + t, r = se->start + step;
            const float *o = tr->output + ((size_t)t * B + b) * O;
            LstmNormalizer nz;
            if (step >= se->train + se->valid || step + O < first_valid)
                continue;
            normalizer_at(tr, r, step, &nz);
            for (int k = 1; k <= O; k++) {
                double y, e;
                if (step + k < first_valid || step + k >= se->train + se->valid)
                    continue;
                y = tr->value[r + k];
                e = lstm_normalizer_forecast(&nz, tr->dims.flags, o[k - 1]) - y;
                sse_model[k - 1] += e * e;
                sse_naive[k - 1] += (tr->value[r] - y) * (tr->value[r] - y);
                count[k - 1] += 1.0;
            }
        }
    }
}

/* Forward-only pass over training and validation targets of every series. */
void lstm_trainer_evaluate(LstmTrainer *tr, double *train_loss, double *valid_loss)
{
    double sse_train = 0.0, sse_valid = 0.0;
    int64_t n_train = 0, n_valid = 0;
    int O = tr->dims.output_size;
    ValidationSums sums;

    memset(&sums, 0, sizeof(sums));
    if (tr->score_terms)
        memset(tr->score_terms, 0, 3 * (size_t)O * sizeof(double));
    start_pass(tr, 1);
    while (deal_chunk(tr) > 0) {
        lstm_trainer_forward(tr);
        lstm_trainer_carry(tr);
        sse_train += tr->chunk_sse_train;
        sse_valid += tr->chunk_sse_valid;
        n_train += tr->chunk_train;
        n_valid += tr->chunk_valid;
        if (tr->opts.series_scaling && tr->validation == LSTM_VALIDATE_OWA)
            score_owa_chunk(tr, &sums);
        else if (tr->opts.series_scaling)
            score_rolling_chunk(tr);
    }
    *train_loss = n_train > 0 ? sse_train / (double)n_train : NAN;
    *valid_loss = n_valid > 0 ? sse_valid / (double)n_valid : NAN;
    if (!tr->opts.series_scaling)
        return;
    *valid_loss = NAN;
    if (tr->validation == LSTM_VALIDATE_OWA) {
        /* OWA = (sMAPE / sMAPE_naive + MASE / MASE_naive) / 2, each a mean over series */
        if (sums.smape_series > 0 && sums.smape_naive > 0.0 && sums.mase_series > 0 &&
            sums.mase_naive > 0.0)
            *valid_loss =
                0.5 * (sums.smape_model / sums.smape_naive + sums.mase_model / sums.mase_naive);
    } else {
        /* mean over k of RMSE_k(model) / RMSE_k(naive) */
        double total = 0.0;
        int ks = 0;
        for (int k = 0; k < O; k++)
            if (tr->score_terms[2 * O + k] > 0 && tr->score_terms[O + k] > 0.0) {
                total += sqrt(tr->score_terms[k] / tr->score_terms[O + k]);
                ks++;
            }
        if (ks > 0)
            *valid_loss = total / ks;
    }
}

/* Attach the per-row arrays of series scaling. */
void lstm_trainer_attach_series(LstmTrainer *tr, int validation, const double *last,
                                const double *scale, const double *value)
{
    tr->validation = validation;
    tr->last = last;
    tr->scale = scale;
    tr->value = value;
}

/* Record an epoch; keep the best weights; decide whether to stop. */
int lstm_trainer_end_epoch(LstmTrainer *tr, double monitored_loss)
{
    tr->epochs_run++;
    if (tr->best_epoch == 0 || monitored_loss < tr->best_loss) {
        tr->best_loss = monitored_loss;
        tr->best_epoch = tr->epochs_run;
        tr->epochs_since_best = 0;
        memcpy(tr->best, tr->params, tr->nparams * sizeof(float));
    } else
        tr->epochs_since_best++;
    if (tr->opts.patience > 0 && tr->epochs_since_best >= tr->opts.patience)
        return 1;
    return tr->epochs_run >= tr->opts.epochs;
}

/* The best weights, or the current ones before any epoch ended. */
const float *lstm_trainer_best(const LstmTrainer *tr)
{
    return tr->best_epoch > 0 ? tr->best : tr->params;
}

/* Serialize every member's weights with the scaling (identity when NULL) into a model. */
void lstm_trainer_write_members(const LstmDims *dims, const float *member_params,
                                const float *input_mean, const float *input_std,
                                const float *output_mean, const float *output_std, void *bytes)
{
    size_t P = lstm_model_member_float_count(dims);
    float *data = lstm_model_data(bytes);
    LstmModelView view;
    int I = dims->input_size, O = dims->output_size;

    lstm_model_init_header((LstmModelHeader *)bytes, dims);
    for (int j = 0; j < dims->members; j++) {
        LstmModelOffsets off;
        lstm_model_member_offsets(dims, j, &off);
        memcpy(data + off.weight_ih[0], member_params + (size_t)j * P, P * sizeof(float));
    }
    lstm_model_view(bytes, &view);
    for (int i = 0; i < I; i++) {
        ((float *)view.input_mean)[i] = input_mean ? input_mean[i] : 0.0f;
        ((float *)view.input_std)[i] = input_std ? input_std[i] : 1.0f;
    }
    for (int k = 0; k < O; k++) {
        ((float *)view.output_mean)[k] = output_mean ? output_mean[k] : 0.0f;
        ((float *)view.output_std)[k] = output_std ? output_std[k] : 1.0f;
    }
}

/* Serialize the best weights with the scaling into a model. */
void lstm_trainer_write_model(const LstmTrainer *tr, const float *input_mean,
                              const float *input_std, void *bytes)
{
    LstmModelView view;
    float *data = lstm_model_data(bytes);
    int I = tr->dims.input_size;

    lstm_model_init_header((LstmModelHeader *)bytes, &tr->dims);
    memcpy(data, tr->best_epoch > 0 ? tr->best : tr->params, tr->nparams * sizeof(float));
    lstm_model_view(bytes, &view);
    memcpy((float *)view.input_mean, input_mean, (size_t)I * sizeof(float));
    memcpy((float *)view.input_std, input_std, (size_t)I * sizeof(float));
    ((float *)view.output_mean)[0] = input_mean[0];
    ((float *)view.output_std)[0] = input_std[0];
}
