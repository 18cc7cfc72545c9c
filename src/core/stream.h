/*
 * stream.h - the recurrent state of one series under one model (the
 * lstm_state value), and the streaming step that scores every row against
 * that state before consuming it.
 *
 * Pure C11, no PostgreSQL. A stream is a LstmSeries (steps, last value, h and
 * c of every layer) plus what the anomaly score needs: a running mean and
 * variance of the one-step-ahead residuals, weighted towards the most recent
 * LSTM_ANOMALY_WINDOW rows, and the forecast and score of the last row.
 *
 * Serialized form (what follows PostgreSQL's 4-byte varlena length word):
 *
 *   LstmStateHeader            96 bytes, native endianness
 *   float h[M][L][H]           hidden state of every member and layer, |h| <= 1
 *   float c[M][L][H]           cell state of every member and layer
 *   normaliser (series-scaled models only), 8-byte fields:
 *     int64 rows; double last, change, level, scale;
 *     double recent[lstm_normalizer_ring_size(season)]   the ring (normalizer.h)
 *
 * Version 1 is the state of a version-1 model (one member, no season, no
 * flag but DIFFERENCE: M = 1, no normaliser), byte for byte what it always
 * was; every other model's state is version 2, whose header records the
 * model's members and season in the two fields that version 1 keeps zero.
 *
 * The header holds 8-byte fields at offsets that are not 8-byte aligned
 * inside a varlena, so readers copy it out (lstm_state_read_header) instead
 * of casting a pointer. Every reader calls lstm_state_validate() on untrusted
 * bytes first. Absent values (no forecast, no score) are stored as zero so
 * that equal states have equal bytes.
 */
#ifndef LSTM_CORE_STREAM_H
#define LSTM_CORE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "runner.h"
#include "model_format.h"

#define LSTM_STATE_MAGIC 0x5354534CU /* "LSTS" read as little-endian bytes */
#define LSTM_STATE_VERSION 2         /* the newest version this build reads and writes */
#define LSTM_STATE_VERSION_V1 1      /* the state of a version-1 model */

/* State flags: what the last row consumed produced. */
#define LSTM_STATE_HAS_FORECAST 0x0001U /* last_forecast holds the forecast made before it */
#define LSTM_STATE_HAS_SCORE 0x0002U    /* last_score holds its anomaly score */
#define LSTM_STATE_KNOWN_FLAGS (LSTM_STATE_HAS_FORECAST | LSTM_STATE_HAS_SCORE)

/*
 * Residual statistics: each residual is weighted max(1/n, 1/WINDOW), so the
 * first WINDOW residuals give the plain mean and population variance and
 * later ones an exponentially weighted mean and variance of about the last
 * WINDOW rows. A row is scored once WARMUP residuals have been seen.
 */
#define LSTM_ANOMALY_WINDOW 100
#define LSTM_ANOMALY_WARMUP 10

/* The fixed header of a serialized state; byte offsets on the left. */
typedef struct LstmStateHeader {
    uint32_t magic;             /*  0: LSTM_STATE_MAGIC */
    uint16_t version;           /*  4: LSTM_STATE_VERSION */
    uint16_t flags;             /*  6: LSTM_STATE_* */
    uint16_t model_flags;       /*  8: the model's LSTM_FLAG_* */
    uint16_t members;           /* 10: version 2: the model's members; version 1: zero */
    int32_t input_size;         /* 12: the model's I */
    int32_t hidden_size;        /* 16: H */
    int32_t num_layers;         /* 20: L */
    int32_t output_size;        /* 24: O */
    uint32_t season;            /* 28: version 2: the model's season; version 1: zero */
    uint64_t model_fingerprint; /* 32: lstm_model_fingerprint of the model */
    int64_t steps;              /* 40: rows consumed */
    int64_t residual_count;     /* 48: residuals seen (rows that had a forecast) */
    double last_value;          /* 56: last raw target value (differenced models) */
    double residual_mean;       /* 64: weighted mean of the residuals */
    double residual_variance;   /* 72: weighted variance of the residuals, >= 0 */
    double last_forecast;       /* 80: forecast made before the last row, or 0 */
    double last_score;          /* 88: anomaly score of the last row in [0, 1], or 0 */
} LstmStateHeader;

/* Running statistics of one series' residuals (value - forecast). */
typedef struct LstmResiduals {
    int64_t count;   /* residuals seen */
    double mean;     /* weighted mean */
    double variance; /* weighted variance */
} LstmResiduals;

/* A series being streamed: the recurrent state and the scoring state. */
typedef struct LstmStream {
    LstmSeries series;       /* steps, last value, h, c (members, L, H), normaliser */
    LstmResiduals residuals; /* statistics of the residuals so far */
    unsigned flags;          /* LSTM_STATE_HAS_FORECAST / HAS_SCORE for the last row */
    double last_forecast;    /* forecast made before the last row (if HAS_FORECAST) */
    double last_score;       /* anomaly score of the last row (if HAS_SCORE) */
} LstmStream;

/* Serialized size in bytes of a state for a model of these (checked) sizes. */
size_t lstm_state_nbytes(const LstmDims *dims);

/* lstm_state_version: the version of a state of a model of these sizes (1 or 2). */
int lstm_state_version(const LstmDims *dims);

/* lstm_state_float_count: floats of h and c after the header (2 * members * L * H). */
size_t lstm_state_float_count(const LstmDims *dims);

/*
 * lstm_state_normalizer_count: 8-byte fields of the normaliser after h and c
 * (5 + the ring for a series-scaled model, else 0).
 */
size_t lstm_state_normalizer_count(const LstmDims *dims);

/*
 * lstm_state_validate: check nbytes of untrusted bytes starting at a
 * LstmStateHeader: magic, version, flags, reserved fields, sizes within the
 * model limits, exact length, counts consistent, every value finite, |h| <= 1,
 * score in [0, 1], absent values zero. Returns LSTM_OK or an error with a
 * message (lowercase, no period) naming what is wrong.
 */
LstmError lstm_state_validate(const void *bytes, size_t nbytes, char *errmsg);

/* lstm_state_read_header: copy the header out of (validated) bytes. */
void lstm_state_read_header(const void *bytes, LstmStateHeader *header);

/* lstm_state_dims: the model sizes recorded in a header. */
LstmDims lstm_state_dims(const LstmStateHeader *header);

/*
 * lstm_state_matches_model: was this state made by the model with these
 * sizes and fingerprint? Returns 1 if so; otherwise 0 with a message.
 */
int lstm_state_matches_model(const LstmStateHeader *header, const LstmDims *dims,
                             uint64_t fingerprint, char *errmsg);

/* lstm_stream_init: point stream at memory (lstm_series_nfloats floats): a fresh series. */
void lstm_stream_init(LstmStream *stream, const LstmDims *dims, float *memory);

/*
 * lstm_state_load: fill stream (set up by lstm_stream_init for the same
 * sizes) from validated state bytes.
 */
void lstm_state_load(const void *bytes, LstmStream *stream);

/*
 * lstm_state_store: serialize stream into bytes (lstm_state_nbytes(dims)
 * bytes, any alignment), recording the model's sizes and fingerprint.
 */
void lstm_state_store(void *bytes, const LstmStream *stream, const LstmDims *dims,
                      uint64_t fingerprint);

/*
 * lstm_stream_feed: score one row and consume it. If the series has rows
 * already, the forecast made before this row is recorded (output 0), its
 * residual features[0] - forecast is scored against the residual statistics
 * (once LSTM_ANOMALY_WARMUP residuals are known) and then added to them; the
 * row is fed to the network. outputs is scratch for O doubles. If the runner
 * rejects the row (its scaled value does not fit a float32), returns its
 * error and leaves the stream unchanged.
 */
LstmError lstm_stream_feed(const LstmRunner *runner, LstmStream *stream, const double *features,
                           double *outputs);

/*
 * lstm_stream_finite: are the stream's doubles (last value, residual
 * statistics, forecast, score) finite? Values near the limits of double can
 * overflow them; callers treat that as an out-of-range value.
 */
int lstm_stream_finite(const LstmStream *stream);

/* lstm_residuals_ready: are there enough residuals to score a row? */
int lstm_residuals_ready(const LstmResiduals *residuals);

/*
 * lstm_anomaly_score: how unusual residual is against the statistics, in
 * [0, 1]: the probability that a normal variable with their mean and
 * variance lands closer to the mean than residual, erf(|z| / sqrt(2)). With
 * zero variance: 0 for a residual equal to the mean, else 1.
 */
double lstm_anomaly_score(const LstmResiduals *residuals, double residual);

/* lstm_residuals_add: add one residual to the running statistics. */
void lstm_residuals_add(LstmResiduals *residuals, double residual);

#endif /* LSTM_CORE_STREAM_H */
