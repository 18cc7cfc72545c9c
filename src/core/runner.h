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
 * A series' recurrent state is a LstmSeries: h and c of every layer, the
 * number of rows consumed, and the last raw target value (for differenced
 * models).
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

/* Gate rows are padded to a multiple of this many floats. */
#define LSTM_GATE_BLOCK 16

/* A model decoded for stepping; its arrays live in the caller's memory. */
typedef struct LstmRunner {
    LstmDims dims;
    int gate_stride;                     /* 4H rounded up to LSTM_GATE_BLOCK */
    float *weight_ih_t[LSTM_MAX_LAYERS]; /* (in_k, gate_stride), transposed */
    float *weight_hh_t[LSTM_MAX_LAYERS]; /* (H, gate_stride), transposed */
    float *bias[LSTM_MAX_LAYERS];        /* (gate_stride) bias_ih + bias_hh */
    float *head_weight;                  /* (O, H) */
    float *head_bias;                    /* (O) */
    double *input_mean;                  /* (I) */
    double *input_std;                   /* (I) */
    double *output_mean;                 /* (O) */
    double *output_std;                  /* (O) */
    float *gates;                        /* (gate_stride) scratch for one step */
    float *x;                            /* (max(I, H)) scratch: scaled input */
    double *features;                    /* (max(I, O)) scratch for horizons */
} LstmRunner;

/* The recurrent state of one series. */
typedef struct LstmSeries {
    int64_t steps;     /* rows consumed so far */
    double last_value; /* last raw target value (differenced models) */
    float *h;          /* (L, H) hidden state of every layer */
    float *c;          /* (L, H) cell state of every layer */
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

/* Floats of h and c together for a series of this model: 2 * L * H. */
size_t lstm_series_nfloats(const LstmDims *dims);

/* lstm_series_init: point series at memory (2*L*H floats) and zero it. */
void lstm_series_init(LstmSeries *series, const LstmDims *dims, float *memory);

/* lstm_series_copy: copy steps, last value, h and c from src to dst. */
void lstm_series_copy(LstmSeries *dst, const LstmSeries *src, const LstmDims *dims);

/*
 * lstm_runner_feed: consume one row of raw (unscaled) features (I values;
 * feature 0 is the target). For a differenced model the first row only
 * records its value. The features must be finite (the glue checks); a row
 * whose scaled value does not fit a float32 (for example 1e300 with a
 * modest input_std) returns LSTM_ERR_NONFINITE and leaves series unchanged.
 */
LstmError lstm_runner_feed(const LstmRunner *runner, LstmSeries *series, const double *features);

/*
 * lstm_runner_predict: the raw (unscaled, undifferenced) outputs (O values)
 * the model forecasts for the row after the last one consumed.
 */
void lstm_runner_predict(const LstmRunner *runner, const LstmSeries *series, double *outputs);

/*
 * lstm_runner_horizon: forecasts of output 0 for the next horizon rows,
 * feeding each forecast back as the next row's features (needs O == I).
 * work is a scratch series (its own 2*L*H floats); series is unchanged.
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
