/*
 * reference.h - the test oracles of src/core: the forward pass and the
 * training chunk written with plain loops straight from PyTorch's
 * definitions, sharing nothing with the fast paths (runner.c, trainer.c)
 * but the layout of model_format.h (and arena.h for scratch memory).
 *
 * Linked into the unit tests only (test/core/reference_*.c), never into
 * lstm.so. The tests check the runner and the trainer against these, and
 * these against central finite differences and PyTorch fixtures.
 */
#ifndef LSTM_TEST_REFERENCE_H
#define LSTM_TEST_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "model_format.h"

/* ---- inference (reference_runner.c), float32 ---- */

/* The cell's nonlinearities with libm, float32 as PyTorch computes them. */
float lstm_sigmoid(float x);
float lstm_tanh(float x);

/*
 * lstm_reference_step: one cell step of every layer on a scaled input,
 * straight from the PyTorch layout with no decoding.
 *   h, c       (L, H) state of every layer, updated in place
 *   x_scaled   (I) the scaled input row
 */
void lstm_reference_step(const LstmModelView *model, float *h, float *c, const float *x_scaled);

/*
 * lstm_reference_head: the head on the top layer's h, in scaled units.
 *   h          (L, H) state of every layer (only layer L-1 is read)
 *   y_scaled   (O) out
 */
void lstm_reference_head(const LstmModelView *model, const float *h, float *y_scaled);

/*
 * lstm_reference_member_view: out = model with member's layers and head in
 * place of member 0's, so that the two functions above run that member.
 */
void lstm_reference_member_view(const LstmModelView *model, int member, LstmModelView *out);

/* lstm_reference_median: the median of n <= LSTM_MAX_MEMBERS values (even n: mean of the middle
 * two). */
double lstm_reference_median(const double *values, int n);

/* ---- training (reference_trainer.c), double precision ---- */

/* Bytes of scratch lstm_train_reference_chunk needs for these sizes. */
size_t lstm_train_reference_nbytes(const LstmDims *dims, int B, int T);

/*
 * lstm_train_reference_chunk: forward and backward of one chunk with plain
 * loops in double precision, the same data layout as the trainer:
 *   params     (P) model order (model_format.h), P = lstm_model_parameter_count
 *   x          (T, B, I) scaled inputs
 *   loss_kind  LSTM_LOSS_MSE or LSTM_LOSS_L1 (trainer.h)
 *   target     (T, B, O) scaled targets
 *   kind       (T, B, O) LSTM_TARGET_* of trainer.h, per target entry
 *   h0, c0     (L, B, H) initial state
 *   grads      (P) out: the loss gradient (set, not added), or NULL
 *   scratch    lstm_train_reference_nbytes(dims, B, T) bytes, any alignment
 * Returns the loss: mean squared (or absolute) error over LSTM_TARGET_TRAIN
 * entries.
 */
double lstm_train_reference_chunk(const LstmDims *dims, int loss_kind, const double *params, int B,
                                  int T, const double *x, const double *target, const uint8_t *kind,
                                  const double *h0, const double *c0, double *grads, void *scratch);

#endif /* LSTM_TEST_REFERENCE_H */
