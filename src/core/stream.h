/*
 * stream.h - the recurrent state of one series under one model (the
 * lstm_state value), and the streaming step that scores every row against
 * that state before consuming it.
 *
 * Pure C11, no PostgreSQL. A stream is a LstmSeries (steps, last value, h and
 * c of every layer) plus the anomaly score's state (core/anomaly.h: its
 * settings, the running statistics of the one-step-ahead residuals, the
 * short and long windows, the range, the repeat filter), and the forecast
 * and score of the last row.
 *
 * Serialized form (what follows PostgreSQL's 4-byte varlena length word):
 *
 *   LstmStateHeader            96 bytes, native endianness
 *   float h[M][L][H]           hidden state of every member and layer, |h| <= 1
 *   float c[M][L][H]           cell state of every member and layer
 *   normaliser (series-scaled models only), 8-byte fields:
 *     int64 rows; double last, change, level, scale;
 *     double recent[lstm_normalizer_ring_size(season)]   the ring (normalizer.h)
 *   anomaly block              with LSTM_STATE_HAS_LIKELIHOOD (every state
 *                              written since the likelihood score), after
 *                              the normaliser if there is one:
 *                              lstm_anomaly_block_nbytes(short_window) bytes
 *                              (anomaly.h draws it); the residual statistics
 *                              stay in the header. A state without the flag
 *                              (made before) loads with the default settings
 *                              and an empty block: its residual statistics
 *                              are kept, its short and long windows warm up.
 *
 * Version 1 is the state of a version-1 model (one member, no season, no
 * flag but DIFFERENCE: M = 1, no normaliser); every other model's state is
 * version 2, whose header records the model's members and season in the two
 * fields that version 1 keeps zero. The anomaly block and its flag are
 * independent of the version: either version may carry it.
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

#include "anomaly.h"
#include "runner.h"
#include "model_format.h"

#define LSTM_STATE_MAGIC 0x5354534CU /* "LSTS" read as little-endian bytes */
#define LSTM_STATE_VERSION 2         /* the newest version this build reads and writes */
#define LSTM_STATE_VERSION_V1 1      /* the state of a version-1 model */

/* State flags: what the last row consumed produced. */
#define LSTM_STATE_HAS_FORECAST 0x0001U /* last_forecast holds the forecast made before it */
#define LSTM_STATE_HAS_SCORE 0x0002U    /* last_score holds its anomaly score */
/* The anomaly block follows c (not about the last row: set in every state written now). */
#define LSTM_STATE_HAS_LIKELIHOOD 0x0004U
#define LSTM_STATE_KNOWN_FLAGS                                                                     \
    (LSTM_STATE_HAS_FORECAST | LSTM_STATE_HAS_SCORE | LSTM_STATE_HAS_LIKELIHOOD)

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

/* A series being streamed: the recurrent state and the scoring state. */
typedef struct LstmStream {
    LstmSeries series;    /* steps, last value, h, c (members, L, H), normaliser */
    LstmAnomaly anomaly;  /* settings, residual statistics, windows, range, filter */
    unsigned flags;       /* LSTM_STATE_HAS_FORECAST / HAS_SCORE for the last row; */
                          /* HAS_LIKELIHOOD once the settings are the state's own */
    double last_forecast; /* forecast made before the last row (if HAS_FORECAST) */
    double last_score;    /* anomaly score of the last row (if HAS_SCORE) */
    LstmAnomalyRow row;   /* residual, z, score, alert of the last row fed (not stored) */
} LstmStream;

/* Serialized size in bytes of a state without its anomaly block. */
size_t lstm_state_nbytes(const LstmDims *dims);

/* Serialized size in bytes of the state of stream (anomaly block included). */
size_t lstm_stream_nbytes(const LstmStream *stream, const LstmDims *dims);

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

/*
 * lstm_stream_init: point stream at memory (lstm_series_nfloats floats): a
 * fresh series, scored with the default settings.
 */
void lstm_stream_init(LstmStream *stream, const LstmDims *dims, float *memory);

/*
 * lstm_stream_use_settings: score stream with these (checked) settings. A
 * fresh stream, or one loaded from a state without an anomaly block, takes
 * them; a stream with rows and settings of its own must already have them:
 * otherwise returns 0 with a message.
 */
int lstm_stream_use_settings(LstmStream *stream, const LstmAnomalySettings *settings, char *errmsg);

/*
 * lstm_state_load: fill stream (set up by lstm_stream_init for the same
 * sizes) from validated state bytes.
 */
void lstm_state_load(const void *bytes, LstmStream *stream);

/*
 * lstm_state_store: serialize stream into bytes (lstm_stream_nbytes()
 * bytes, any alignment), recording the model's sizes and fingerprint.
 */
void lstm_state_store(void *bytes, const LstmStream *stream, const LstmDims *dims,
                      uint64_t fingerprint);

/*
 * lstm_stream_feed: score one row and consume it. If the series has rows
 * already, the forecast made before this row is recorded (output 0) and
 * its residual features[0] - forecast goes through the anomaly score
 * (lstm_anomaly_update: stream->row, and last_score once the warm-up is
 * over); a series' first row starts the range of values. The row is fed to
 * the network. outputs is scratch for O doubles. If the runner rejects the
 * row (its scaled value does not fit a float32), returns its error and
 * leaves the stream unchanged.
 */
LstmError lstm_stream_feed(const LstmRunner *runner, LstmStream *stream, const double *features,
                           double *outputs);

/*
 * lstm_stream_finite: are the stream's doubles (last value, residual
 * statistics, forecast, score) finite? Values near the limits of double can
 * overflow them; callers treat that as an out-of-range value.
 */
int lstm_stream_finite(const LstmStream *stream);

#endif /* LSTM_CORE_STREAM_H */
