/*
 * trainer.h - training an LSTM forecaster: stateful truncated BPTT, Adam.
 *
 * Pure C11, no PostgreSQL. The caller owns all memory: it asks for sizes,
 * allocates (palloc in the glue, malloc in tests) and hands the memory in.
 * Nothing here allocates.
 *
 * The task. A training set is a list of series; each series is a list of
 * rows of I raw features, feature 0 being the target. The network reads one
 * row per step and, after every step, forecasts the target of the next row
 * (output size O = 1). The loss is the mean squared error of those
 * next-step forecasts in scaled units, exactly what the inference runner of
 * runner.h computes on a model written by lstm_trainer_write_model:
 *
 *   scaled input   x_t[i] = (float)((raw_t[i] - mean[i]) / std[i])  (double
 *                  arithmetic on the float32 mean and std stored in the model)
 *   differenced    (LSTM_FLAG_DIFFERENCE) feature 0 is raw_t[0] - raw_{t-1}[0],
 *                  the first row of a series only records its value
 *   target of t    x_{t+1}[0] (output_mean/std = input_mean/std[0])
 *
 * Splits. For a series with n network inputs there are n - 1 targets; the
 * LAST floor(validation * (n - 1)) of them are validation targets, the others
 * training targets. Scaling is fitted on the inputs of the training part
 * (inputs 0..train, the last one being the last training target).
 *
 * Training. Series are dealt to B lanes in an order shuffled every epoch by
 * the seeded generator. A lane runs its series from the first row in chunks
 * of T = bptt steps: the hidden and cell state carry from chunk to chunk
 * (gradients stop between chunks), a new series starts from zero state. One
 * chunk of all lanes is one mini-batch: forward with cached activations,
 * backward through time, global gradient-norm clipping as
 * torch.nn.utils.clip_grad_norm_, then one torch.optim.Adam step. Lanes whose
 * series ended inside the chunk are padded (no loss, no gradient).
 *
 * Evaluation runs every series from its first row over training and
 * validation targets with fixed weights; early stopping monitors the
 * validation loss (the training loss of the epoch when validation is 0) and
 * keeps the best weights.
 *
 * Series scaling (opts.series_scaling, LSTM_FLAG_SERIES_SCALING). Each row
 * brings one raw value y; every series is normalised by its own streaming
 * statistics with the functions of normalizer.h, the ones inference calls,
 * so training and inference agree: z = transform(y), push, x = features
 * (I = lstm_normalizer_input_size(season, horizon)). The head is direct
 * (O = horizon): the target of output k at step t (0-based) is
 * lstm_normalizer_target(state after t, z_{t+k}), used only when t >= 1 and
 * t + k < train (masked, not dropped, near the end of the training part).
 * The loss is L1 (or MSE) over the unmasked entries. Validation:
 *  - several series: the last `horizon` rows of each series (train = rows -
 *    horizon); every series is run over its training rows with fixed
 *    weights, the head output after the last of them gives the forecasts,
 *    scored as the M4 competition (sMAPE, MASE on the in-sample lag-1 naive
 *    MAE) relative to the naive forecast: the validation OWA;
 *  - one series: the last round(validation * rows) rows; every origin whose
 *    k-step target falls among them; the score is the mean over k of
 *    RMSE_k(model) / RMSE_k(naive).
 * Early stopping monitors that score. Members (ensembles) are trained one
 * after the other by the caller (seeds seed, seed + 1, ...), each from a
 * fresh lstm_trainer_init, and written together by
 * lstm_trainer_write_members.
 *
 * Parameters live in one float block in the model's own order (model_format.h:
 * per layer weight_ih, weight_hh, bias_ih, bias_hh; then head.weight,
 * head.bias), so writing the model is a copy.
 */
#ifndef LSTM_CORE_TRAINER_H
#define LSTM_CORE_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "model_format.h"

/* Limits on the hyperparameters (sizes use model_format.h's limits). */
#define LSTM_TRAIN_MAX_BPTT 100000
#define LSTM_TRAIN_MAX_BATCH 100000
#define LSTM_TRAIN_MAX_EPOCHS 1000000
#define LSTM_TRAIN_MAX_PATIENCE 1000000
#define LSTM_TRAIN_MAX_LEARNING_RATE 10.0
#define LSTM_TRAIN_MAX_VALIDATION 0.9

/* Adam's constants, as torch.optim.Adam's defaults. */
#define LSTM_ADAM_BETA1 0.9
#define LSTM_ADAM_BETA2 0.999
#define LSTM_ADAM_EPS 1e-8

/* Hyperparameters of one training run. */
typedef struct LstmTrainOptions {
    int hidden_size;      /* H, 1..LSTM_MAX_HIDDEN */
    int num_layers;       /* L, 1..LSTM_MAX_LAYERS */
    int bptt;             /* T, steps per chunk */
    int batch_size;       /* B, lanes (series side by side) per mini-batch */
    int epochs;           /* most epochs to run */
    double learning_rate; /* Adam's lr */
    double clip;          /* largest global gradient norm */
    double validation;    /* fraction of every series' targets held out, at its end */
    int patience;         /* stop after this many epochs without improvement; 0 = never */
    uint64_t seed;        /* initial weights and series order */
    int difference;       /* train on first differences of the target */
    int series_scaling;   /* per-series streaming normaliser (normalizer.h), direct head */
    int season;           /* series scaling: seasonal inputs of this period; 0 (or 1) for none */
    int horizon;          /* series scaling: O, steps the head forecasts; 1 otherwise */
    int log;              /* series scaling: the normaliser works on log(y) */
    int loss;             /* LSTM_LOSS_MSE or LSTM_LOSS_L1 */
    int members;          /* ensemble members the caller trains, 1..LSTM_MAX_MEMBERS */
} LstmTrainOptions;

/* Loss functions. */
#define LSTM_LOSS_MSE 0 /* mean squared error */
#define LSTM_LOSS_L1 1  /* mean absolute error */

/* Limits of the series-scaling options. */
#define LSTM_TRAIN_MAX_HORIZON 1024

/* What went wrong; the glue maps each to a SQLSTATE. */
typedef enum LstmTrainError {
    LSTM_TRAIN_OK = 0,
    LSTM_TRAIN_ERR_OPTION,   /* a hyperparameter outside its range */
    LSTM_TRAIN_ERR_NO_DATA,  /* no series long enough to train on */
    LSTM_TRAIN_ERR_RANGE,    /* a value too large for float32 after scaling */
    LSTM_TRAIN_ERR_DIVERGED, /* the loss or the weights became non-finite */
    LSTM_TRAIN_ERR_SIZE,     /* sizes whose memory cannot be represented */
    LSTM_TRAIN_ERR_DOMAIN    /* a value outside the log transform's domain (y <= 0) */
} LstmTrainError;

/*
 * One series of the training set, as planned for these options. With series
 * scaling, train counts the rows of the training part (steps 0..train-1,
 * targets inside it) and valid the validation rows after it.
 */
typedef struct LstmTrainSeries {
    int64_t rows;   /* raw rows of the series */
    int64_t start;  /* index of its first network input in the inputs array */
    int64_t inputs; /* network inputs stored (0 when the series is skipped) */
    int64_t train;  /* training targets: steps 0..train-1 */
    int64_t valid;  /* validation targets: steps train..train+valid-1 */
} LstmTrainSeries;

/* How a series-scaled run is validated (LstmTrainTotals.validation). */
#define LSTM_VALIDATE_LOSS 0    /* global scaling: loss on the held-out targets */
#define LSTM_VALIDATE_OWA 1     /* several series: M4 OWA of the last horizon rows */
#define LSTM_VALIDATE_ROLLING 2 /* one series: rolling origins over the last rows */

/* Totals over a planned training set. */
typedef struct LstmTrainTotals {
    int64_t series;         /* series given */
    int64_t series_used;    /* series with at least one training target */
    int64_t series_skipped; /* series too short to train on */
    int64_t rows;           /* raw rows given */
    int64_t inputs;         /* network inputs stored */
    int64_t train_targets;  /* training targets, all series */
    int64_t valid_targets;  /* validation targets, all series */
    int lanes;              /* lanes per mini-batch: min(batch_size, series_used) */
    int validation;         /* LSTM_VALIDATE_*; what valid_targets count (rows with scaling) */
} LstmTrainTotals;

/*
 * lstm_train_check_options: every hyperparameter within its range. On
 * failure writes a message naming the option (lowercase, no period).
 */
LstmTrainError lstm_train_check_options(const LstmTrainOptions *opts, int input_size, char *errmsg);

/*
 * lstm_train_plan: split every series (series[s].rows must be set by the
 * caller) into network inputs, training and validation targets, and place
 * the used series in the inputs array; fill the totals. A series needs two
 * network inputs (two rows, three when differenced) for one target. With
 * series scaling every row is an input; validation holds back the last
 * horizon rows of every series (several series) or the last
 * round(validation * rows) rows (one series), none when validation is 0;
 * a series needs 3 training rows for one target.
 */
LstmTrainError lstm_train_plan(const LstmTrainOptions *opts, int64_t num_series,
                               LstmTrainSeries *series, LstmTrainTotals *totals, char *errmsg);

/*
 * lstm_train_nonempty_series: the number of series with at least one row,
 * which decides between LSTM_VALIDATE_OWA and LSTM_VALIDATE_ROLLING (and the
 * caller's defaults for one series).
 */
int64_t lstm_train_nonempty_series(int64_t num_series, const LstmTrainSeries *series);

/*
 * lstm_train_prepare_series: series scaling's preparation: stream every used
 * series through the normaliser (normalizer.h) and write per row
 *   inputs  (totals.inputs, I) the network input after the row
 *   last    (totals.inputs) z of the row, scale (totals.inputs) the
 *           normaliser's scale after it, value (totals.inputs) the raw y
 *   raw     (rows) the raw values, series after series (I = 1)
 * LSTM_TRAIN_ERR_DOMAIN (message naming the series by its 1-based number)
 * when the log transform meets y <= 0.
 */
LstmTrainError lstm_train_prepare_series(const LstmTrainOptions *opts, const double *raw,
                                         int64_t num_series, const LstmTrainSeries *series,
                                         float *inputs, double *last, double *scale, double *value,
                                         void (*interrupt)(void *arg), void *interrupt_arg,
                                         char *errmsg);

/*
 * lstm_train_prepare: fit the scaling on the training part of every used
 * series and write the scaled network inputs.
 *   raw          (rows, I) raw features, series after series, every value finite
 *   input_mean   (I) out: float32 means, input_std (I) out: float32 stds (> 0)
 *   inputs       (totals.inputs, I) out: scaled inputs
 * A feature constant over the training rows gets std 1. interrupt (may be
 * NULL) is called once per series and may not return.
 */
LstmTrainError lstm_train_prepare(const LstmTrainOptions *opts, int input_size, const double *raw,
                                  int64_t num_series, const LstmTrainSeries *series,
                                  float *input_mean, float *input_std, float *inputs,
                                  void (*interrupt)(void *arg), void *interrupt_arg, char *errmsg);

/* Per-layer pointers into a parameter (or gradient) block. */
typedef struct LstmTrainLayer {
    float *weight_ih; /* (4H, in) */
    float *weight_hh; /* (4H, H) */
    float *bias_ih;   /* (4H) */
    float *bias_hh;   /* (4H) */
    int in_size;      /* I for layer 0, H above */
} LstmTrainLayer;

/* Pointers to every array of a parameter (or gradient) block in model order. */
typedef struct LstmTrainParams {
    LstmTrainLayer layer[LSTM_MAX_LAYERS];
    float *head_weight; /* (O, H) */
    float *head_bias;   /* (O) */
} LstmTrainParams;

/* Activations of one layer over one chunk, kept for the backward pass. */
typedef struct LstmTrainLayerActs {
    float *gates;  /* (T, B, 4H) activated gates i, f, g, o */
    float *cell;   /* (T+1, B, H) c; slot 0 is the state carried in */
    float *hidden; /* (T+1, B, H) h; slot 0 is the state carried in */
    float *tanh_c; /* (T, B, H) tanh(c) */
} LstmTrainLayerActs;

/* Where a lane of the scheduler is in its series. */
typedef struct LstmTrainLane {
    int64_t series; /* index into the series array, -1 when idle */
    int64_t step;   /* next step (network input index) to run */
    int64_t end;    /* steps to run: train (training) or train + valid (evaluation) */
} LstmTrainLane;

/* Target kinds of one (step, lane) of a chunk. */
#define LSTM_TARGET_NONE 0  /* padding: no target */
#define LSTM_TARGET_TRAIN 1 /* a training target: in the loss */
#define LSTM_TARGET_VALID 2 /* a validation target: evaluation only */

/* The whole training state; build with lstm_trainer_init. */
typedef struct LstmTrainer {
    LstmTrainOptions opts;
    LstmDims dims; /* I, H, L, O = 1, flags */
    int lanes;     /* B actually used */
    int steps;     /* T */
    size_t nparams;

    float *params;      /* (P) weights being trained, model order */
    float *grads;       /* (P) */
    float *adam_m;      /* (P) first moment */
    float *adam_v;      /* (P) second moment */
    float *best;        /* (P) best weights so far */
    LstmTrainParams w;  /* views of params */
    LstmTrainParams dw; /* views of grads */
    int64_t adam_step;  /* Adam steps taken */

    /* the chunk being run */
    float *input;  /* (T, B, I) scaled layer-0 input */
    float *target; /* (T, B, O) scaled targets */
    uint8_t *kind; /* (T, B, O) LSTM_TARGET_* of every target entry */
    float *output; /* (T, B, O) head output */
    LstmTrainLayerActs acts[LSTM_MAX_LAYERS];
    float *bias;            /* (4H) bias_ih + bias_hh of one layer */
    float *dgates;          /* (T, B, 4H) */
    float *dhidden;         /* (T, B, H) gradient arriving at a layer's h from above */
    float *dinput;          /* (T, B, H) gradient the layer sends to the one below */
    float *dh_next;         /* (B, H) gradient on h_{t-1} through W_hh */
    float *dc_next;         /* (B, H) gradient on c_{t-1} */
    float *doutput;         /* (T, B, O) */
    double chunk_sse_train; /* last forward: loss terms (squared or absolute errors) on
                               training targets */
    double chunk_sse_valid; /* ... and on validation targets */
    int64_t chunk_train;    /* last forward: training target entries */
    int64_t chunk_valid;    /* ... validation target entries */
    int64_t *chunk_series;  /* (B) series of each lane in the chunk, -1 idle (series scaling) */
    int64_t *chunk_step;    /* (B) the step of the chunk's first row in that series */

    /* data and scheduling */
    const float *inputs; /* (totals.inputs, I) scaled inputs */
    const LstmTrainSeries *series;
    int64_t num_series;
    int validation;      /* LSTM_VALIDATE_* */
    const double *last;  /* (totals.inputs) series scaling: z of every row */
    const double *scale; /* (totals.inputs) the normaliser's scale after every row */
    const double *value; /* (totals.inputs) the raw value of every row */
    double *score_terms; /* (3, O) rolling origins: per k model SSE, naive SSE, count
                             (series scaling; NULL otherwise) */
    int64_t *order;      /* (series_used) series order of this epoch */
    int64_t order_count; /* series_used */
    int64_t order_next;  /* next entry of order to deal */
    LstmTrainLane *lane; /* (B) */
    int evaluating;      /* the scheduler deals train + valid steps */

    /* epoch bookkeeping */
    uint64_t rng[4]; /* xoshiro256** state */
    int epochs_run;
    int best_epoch; /* 1-based, 0 before the first */
    double best_loss;
    int epochs_since_best;

    /* called once per time step of every long loop (may not return) */
    void (*interrupt)(void *arg);
    void *interrupt_arg;
} LstmTrainer;

/*
 * lstm_trainer_nbytes: memory lstm_trainer_init needs for these options,
 * input size and planned totals (the sizing pass of the same layout,
 * arena.h); 0 when the size cannot be represented or a chunk's matrices
 * exceed BLAS's int sizes.
 */
size_t lstm_trainer_nbytes(const LstmTrainOptions *opts, int input_size,
                           const LstmTrainTotals *totals);

/*
 * lstm_trainer_init: lay the trainer out in memory (lstm_trainer_nbytes
 * bytes, any alignment), draw the initial weights from the seed (PyTorch's
 * uniform(-1/sqrt(H), 1/sqrt(H)) for every LSTM and head parameter) and
 * attach the prepared data (inputs and series stay owned by the caller).
 * interrupt (may be NULL) is kept in tr->interrupt and already called while
 * the (possibly gigabyte-sized) state is written.
 */
void lstm_trainer_init(LstmTrainer *tr, const LstmTrainOptions *opts, int input_size,
                       const LstmTrainTotals *totals, const LstmTrainSeries *series,
                       int64_t num_series, const float *inputs, void *memory,
                       void (*interrupt)(void *arg), void *interrupt_arg);

/*
 * lstm_trainer_epoch: one pass over the training targets of every used
 * series in a freshly shuffled order, one Adam step per chunk. *train_loss
 * is the mean squared error over all training targets of the pass.
 */
LstmTrainError lstm_trainer_epoch(LstmTrainer *tr, double *train_loss, char *errmsg);

/*
 * lstm_trainer_attach_series: the per-row arrays of lstm_train_prepare_series
 * (series scaling, after lstm_trainer_init; they stay owned by the caller).
 */
void lstm_trainer_attach_series(LstmTrainer *tr, int validation, const double *last,
                                const double *scale, const double *value);

/*
 * lstm_trainer_evaluate: run every used series from its first row with the
 * current weights; the loss over training and over validation targets (NaN
 * when there are none). With series scaling *valid_loss is the validation
 * score (OWA or the rolling-origin RMSE ratio; NaN without validation rows).
 */
void lstm_trainer_evaluate(LstmTrainer *tr, double *train_loss, double *valid_loss);

/*
 * lstm_trainer_end_epoch: record an epoch's monitored loss; keeps the
 * weights if they are the best so far. Returns 1 when training should stop
 * (patience exhausted or the epoch budget spent).
 */
int lstm_trainer_end_epoch(LstmTrainer *tr, double monitored_loss);

/*
 * lstm_trainer_write_model: the best weights (the current ones before any
 * epoch ended) as a serialized model of lstm_model_nbytes(&tr->dims) bytes,
 * with the given input scaling; output scaling is feature 0's.
 */
void lstm_trainer_write_model(const LstmTrainer *tr, const float *input_mean,
                              const float *input_std, void *bytes);

/* lstm_trainer_best: the best weights (the current ones before any epoch ended), (P). */
const float *lstm_trainer_best(const LstmTrainer *tr);

/*
 * lstm_trainer_write_members: a model of dims->members weight sets,
 *   member_params  (members, P) every member's weights in model order,
 *                  P = lstm_model_parameter_count of one member
 * with the scaling vectors given (NULL: identity, as series scaling stores),
 * into lstm_model_nbytes(dims) bytes.
 */
void lstm_trainer_write_members(const LstmDims *dims, const float *member_params,
                                const float *input_mean, const float *input_std,
                                const float *output_mean, const float *output_std, void *bytes);

/* lstm_trainer_model_dims: the sizes and flags of the model these options train (members 1). */
LstmDims lstm_trainer_model_dims(const LstmTrainOptions *opts, int input_size);

/* ---- the pieces, exposed for tests ---- */

/* Zero the carried state (h and c of every layer) of lane b. */
void lstm_trainer_reset_lane(LstmTrainer *tr, int b);

/*
 * lstm_trainer_forward: run the chunk in tr->input for every lane from the
 * carried state (slot 0 of acts[k].hidden/cell); returns the loss (mean
 * squared error over LSTM_TARGET_TRAIN targets, 0 when there are none) and
 * leaves the head output in tr->output.
 */
double lstm_trainer_forward(LstmTrainer *tr);

/*
 * lstm_trainer_backward: after lstm_trainer_forward, ADD the gradient of
 * its loss to tr->grads.
 */
void lstm_trainer_backward(LstmTrainer *tr);

/* lstm_trainer_carry: the chunk's final state becomes the next chunk's initial. */
void lstm_trainer_carry(LstmTrainer *tr);

/*
 * lstm_trainer_clip: scale the gradients as torch.nn.utils.clip_grad_norm_
 * (max_norm = opts.clip); returns the total norm before clipping.
 */
double lstm_trainer_clip(LstmTrainer *tr);

/* lstm_trainer_adam: one torch.optim.Adam step (amsgrad off, no decay). */
void lstm_trainer_adam(LstmTrainer *tr);

/*
 * lstm_trainer_train_chunk: zero the gradients, forward, backward, clip,
 * Adam, carry; the chunk's loss. The one mini-batch step of an epoch.
 */
double lstm_trainer_train_chunk(LstmTrainer *tr);

/* Views of a parameter block laid out in model order. */
void lstm_train_params_view(const LstmDims *dims, float *block, LstmTrainParams *view);

#endif /* LSTM_CORE_TRAINER_H */
