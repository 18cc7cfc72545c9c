/*
 * runner.h - the LSTM forward pass for inference: one cell step per row.
 *
 * Pure C11, no PostgreSQL. The caller owns all memory: it asks for the size
 * it needs, allocates it (palloc in the glue, malloc in tests) and hands it in.
 *
 * A LstmRunner is a model decoded for fast stepping: weights transposed so
 * the matrix-vector products run down contiguous rows, the two biases added,
 * the gate dimension padded to a multiple of LSTM_GATE_BLOCK. It is built
 * once per model (per aggregate group or cached across groups), never per row.
 *
 * A model may hold several members (weight sets, model_format.h): each has
 * its own network and its own h and c, every row steps all of them, and a
 * forecast is the median of theirs. A series' recurrent state is a
 * LstmSeries: h and c of every member and layer, the number of rows
 * consumed, the last raw target value (for differenced models) and, for a
 * series-scaled model, the normaliser (normalizer.h).
 *
 * PyTorch's cell, for each layer k with input x (layer 0: the scaled row,
 * layer k > 0: h of layer k-1):
 *   gates = W_ih x + b_ih + W_hh h + b_hh      (4H: i, f, g, o)
 *   i = sigmoid(gates[0:H])     f = sigmoid(gates[H:2H])
 *   g = tanh(gates[2H:3H])      o = sigmoid(gates[3H:4H])
 *   c = f * c + i * g           h = o * tanh(c)
 * and the head: y = head_weight h_top + head_bias, unscaled with output_std
 * and output_mean.
 */
#ifndef LSTM_CORE_RUNNER_H
#define LSTM_CORE_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "model_format.h"
#include "normalizer.h"

/* Gate rows are padded to a multiple of this many floats. */
#define LSTM_GATE_BLOCK 16

/* One member's network decoded for stepping (arrays in the caller's memory). */
typedef struct LstmRunnerNet {
    float *weight_ih_t[LSTM_MAX_LAYERS]; /* (in_k, gate_stride), transposed */
    float *weight_hh_t[LSTM_MAX_LAYERS]; /* (H, gate_stride), transposed */
    float *bias[LSTM_MAX_LAYERS];        /* (gate_stride) bias_ih + bias_hh */
    float *head_weight;                  /* (O, H) */
    float *head_bias;                    /* (O) */
} LstmRunnerNet;

/* A model decoded for stepping; its arrays live in the caller's memory. */
typedef struct LstmRunner {
    LstmDims dims;
    int gate_stride;                     /* 4H rounded up to LSTM_GATE_BLOCK */
    LstmRunnerNet net[LSTM_MAX_MEMBERS]; /* every member's network; only 0..members-1 are set */
    double *input_mean;                  /* (I) */
    double *input_std;                   /* (I) */
    double *output_mean;                 /* (O) */
    double *output_std;                  /* (O) */
    float *gates;                        /* (gate_stride) scratch for one step */
    float *x;                            /* (max(I, H)) scratch: scaled input */
    double *features;                    /* (max(I, O)) scratch for horizons */
    double *member_outputs;              /* (members, O) scratch: each member's raw forecasts */
    float *calibration; /* (O, LSTM_CALIBRATION_QUANTILES) error quantiles of the prediction
                           intervals (calibration.h); NULL when the model has none */
} LstmRunner;

/*
 * The recurrent state of one series: h and c of every member and layer, and
 * for a series-scaled model (LSTM_FLAG_SERIES_SCALING) the normaliser.
 */
typedef struct LstmSeries {
    int64_t steps;       /* rows consumed so far */
    double last_value;   /* last raw target value (differenced models) */
    float *h;            /* (members, L, H) hidden state of every member and layer */
    float *c;            /* (members, L, H) cell state of every member and layer */
    LstmNormalizer norm; /* series-scaled models: the normaliser (its ring follows c) */
} LstmSeries;

/*
 * Bytes lstm_runner_init needs for a model of these sizes (the sizing pass of
 * the same layout, arena.h: every array 64-byte aligned).
 */
size_t lstm_runner_nbytes(const LstmDims *dims);

/*
 * lstm_runner_init: decode a validated model into runner, using memory
 * (lstm_runner_nbytes bytes, any alignment). The runner keeps no
 * pointer into the model, so the model's bytes may be freed afterwards.
 */
void lstm_runner_init(LstmRunner *runner, const LstmModelView *model, void *memory);

/*
 * lstm_series_nfloats: the memory a series of this model needs, counted in
 * floats: h and c of every member and layer (2 * members * L * H), then for
 * a series-scaled model the normaliser's ring of recent values
 * (lstm_normalizer_ring_size(season) doubles, two floats each).
 */
size_t lstm_series_nfloats(const LstmDims *dims);

/*
 * lstm_series_init: point series at memory (lstm_series_nfloats floats,
 * 8-byte aligned, as palloc and malloc give) and zero it: no rows.
 */
void lstm_series_init(LstmSeries *series, const LstmDims *dims, float *memory);

/* lstm_series_copy: copy steps, last value, h, c and the normaliser from src to dst. */
void lstm_series_copy(LstmSeries *dst, const LstmSeries *src, const LstmDims *dims);

/*
 * lstm_row_width: the raw values one row brings to this model: 1 for a
 * series-scaled model (its one value y; the network's inputs are the
 * normaliser's features), input_size otherwise.
 */
int lstm_row_width(const LstmDims *dims);

/*
 * lstm_runner_feed: consume one row of raw (unscaled) features
 * (lstm_row_width values; feature 0 is the target). For a differenced model
 * the first row only records its value. For a series-scaled model the row is
 * its one value y: z = transform(y) goes into the normaliser, whose features
 * every member steps on. The features must be finite (the glue checks). A
 * row whose scaled value does not fit a float32 (for example 1e300 with a
 * modest input_std, or a change that overflows the normaliser) returns
 * LSTM_ERR_NONFINITE, and y <= 0 under a log model LSTM_ERR_DOMAIN; both
 * leave series unchanged.
 */
LstmError lstm_runner_feed(const LstmRunner *runner, LstmSeries *series, const double *features);

/*
 * lstm_runner_predict: the raw (unscaled, undifferenced) outputs (O values)
 * the model forecasts after the last row consumed. For each member: its
 * head, unscaled with output_std and output_mean; for a series-scaled model
 * output k is then the raw forecast of the row k+1 ahead
 * (lstm_normalizer_forecast). With several members, each output is the
 * median over the members (the mean of the two middle values for an even
 * count).
 */
void lstm_runner_predict(const LstmRunner *runner, const LstmSeries *series, double *outputs);

/*
 * lstm_runner_horizon: forecasts of output 0 for the next horizon rows.
 * A series-scaled model forecasts them directly: the first horizon
 * (<= output_size) outputs of lstm_runner_predict. Any other model feeds
 * each forecast back as the next row's features (needs O == I). work is a
 * scratch series (lstm_series_nfloats of its own); series is unchanged.
 * interrupt (may be NULL) is called with interrupt_arg before every step, so
 * that a caller can cancel a long horizon (it may not return).
 */
void lstm_runner_horizon(const LstmRunner *runner, const LstmSeries *series, LstmSeries *work,
                         int horizon, double *forecasts, void (*interrupt)(void *arg),
                         void *interrupt_arg);

/*
 * The runner's vectorisable nonlinearities (fastmath.h: sigmoid within 2.5
 * ulp, tanh within 1.4 ulp of the exact value) as functions, exported for
 * the tests; libm's are in the test oracles (test/core/reference.h).
 */
float lstm_sigmoid_fast(float x);
float lstm_tanh_fast(float x);

#endif /* LSTM_CORE_RUNNER_H */
