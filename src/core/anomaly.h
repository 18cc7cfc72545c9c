/*
 * anomaly.h - the anomaly score of one series: a streaming likelihood of
 * its forecast residuals, in O(1) state (issue 11, measured on NAB's
 * development categories; test/anomaly/README.md, RECIPE in
 * test/anomaly/score_study.py is the reference this module reproduces bit
 * for bit).
 *
 * Pure C11, no PostgreSQL. For every row with a residual r = value -
 * forecast made before it (every row of a series after its first), in order:
 *
 *   1. range: e = max(v - hi, lo - v, 0) / (hi - lo) (0 unless hi > lo), lo
 *      and hi the smallest and largest earlier values; then v joins them
 *   2. warm-up: while the residual statistics hold fewer than warmup
 *      residuals the row has no score (go to 8)
 *   3. q = min(|r - mean| / sd, cap)  (zero variance: 0 if r = mean, else cap)
 *   4. a = the mean of q over the last short_window scored rows (a ring)
 *   5. u = (a - mean2) / sd2 against the running statistics of a;
 *      L = -ln Q(u), Q the standard normal upper tail; s = L / (L + 5 ln 10)
 *      (s = 0.5 exactly where Q = 1e-5; 0 until long_warmup values of a are
 *      known); then a joins the statistics of a
 *   6. new range: if e > range_tolerance,
 *      s = max(s, threshold + (1 - threshold) e / (e + range_tolerance))
 *   7. repeat filter: in the filter rows after an alert,
 *      s = min(s, threshold) / 2; otherwise s >= threshold is an alert
 *   8. r joins the residual statistics
 *
 * Running statistics (residuals, and a) weight each new value
 * max(1/n, 1/window): the plain mean and population variance of the first
 * window values, then an exponentially weighted mean and variance of about
 * the last window values.
 *
 * Serialized block (what lstm_state stores after h and c, native endianness,
 * any alignment; the residual statistics stay in the state's header):
 *
 *   offset  field
 *        0  int32  residual_window, warmup, short_window, long_window,
 *                  long_warmup, filter            (the settings, 6 x 4 bytes)
 *       24  double cap, threshold, range_tolerance (the settings, 3 x 8 bytes)
 *       48  uint32 flags                           (LSTM_ANOMALY_HAS_RANGE)
 *       52  int32  ring_fill                       [0, short_window]
 *       56  int32  ring_position                   [0, short_window)
 *       60  int32  quiet                           [0, filter]
 *       64  int64  long_count
 *       72  double ring_sum, long_mean, long_variance, lo, hi
 *      112  double last_residual                   the last row's residual (0 before one)
 *      120  double ring[short_window]              each in [0, cap]
 */
#ifndef LSTM_CORE_ANOMALY_H
#define LSTM_CORE_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#include "model_format.h"

/* Defaults of the settings (the measured recipe). */
#define LSTM_ANOMALY_DEFAULT_RESIDUAL_WINDOW 100
#define LSTM_ANOMALY_DEFAULT_WARMUP 10
#define LSTM_ANOMALY_DEFAULT_CAP 5.0
#define LSTM_ANOMALY_DEFAULT_SHORT_WINDOW 10
#define LSTM_ANOMALY_DEFAULT_LONG_WINDOW 1000
#define LSTM_ANOMALY_DEFAULT_LONG_WARMUP 100
#define LSTM_ANOMALY_DEFAULT_FILTER 30
#define LSTM_ANOMALY_DEFAULT_THRESHOLD 0.5
#define LSTM_ANOMALY_DEFAULT_RANGE_TOLERANCE 0.05

/* The largest short window: the ring lives inside the state. */
#define LSTM_ANOMALY_MAX_SHORT_WINDOW 100

/* Block flags. */
#define LSTM_ANOMALY_HAS_RANGE 0x0001U /* lo and hi hold the range of the values seen */
#define LSTM_ANOMALY_KNOWN_FLAGS LSTM_ANOMALY_HAS_RANGE

/* Bytes of the fixed part of the serialized block (before the ring). */
#define LSTM_ANOMALY_BLOCK_FIXED 120

/* What the user sets where a series starts; every form checks them the same way. */
typedef struct LstmAnomalySettings {
    int32_t residual_window; /* window of the residual statistics */
    int32_t warmup;          /* residuals needed before a row is scored */
    int32_t short_window;    /* q values averaged (the ring), <= LSTM_ANOMALY_MAX_SHORT_WINDOW */
    int32_t long_window;     /* window of the statistics of the average */
    int32_t long_warmup;     /* averages needed before the likelihood counts */
    int32_t filter;          /* rows after an alert that cannot alert */
    double cap;              /* largest q */
    double threshold;        /* a score >= threshold is an alert */
    double range_tolerance;  /* a value this far (relative) beyond the range seen alerts */
} LstmAnomalySettings;

/* One setting: its name, kind and range, for parsing, checking and printing. */
typedef struct LstmAnomalySettingInfo {
    const char *name;
    int is_integer;   /* int32_t field, else double */
    double min, max;  /* allowed range, inclusive unless the flags below say otherwise */
    int min_excluded; /* the range is (min, ...] */
    int max_excluded; /* the range is [..., max) */
    size_t offset;    /* offsetof(LstmAnomalySettings, field) */
} LstmAnomalySettingInfo;

/* The settings in the order they are printed. */
#define LSTM_ANOMALY_NSETTINGS 9
extern const LstmAnomalySettingInfo lstm_anomaly_setting_info[LSTM_ANOMALY_NSETTINGS];

/* Running mean and variance with weight max(1/n, 1/window). */
typedef struct LstmRunningStats {
    int64_t count;   /* values seen */
    double mean;     /* weighted mean */
    double variance; /* weighted variance, >= 0 */
} LstmRunningStats;

/* The scoring state of one series. */
typedef struct LstmAnomaly {
    LstmAnomalySettings settings;
    LstmRunningStats residuals;                 /* statistics of the residuals (r) */
    unsigned flags;                             /* LSTM_ANOMALY_HAS_RANGE */
    int32_t ring_fill;                          /* q values in the ring, <= short_window */
    int32_t ring_position;                      /* where the next q goes */
    int32_t quiet;                              /* rows left that cannot alert */
    double ring_sum;                            /* running sum of the ring */
    LstmRunningStats averages;                  /* statistics of a (window long_window) */
    double lo, hi;                              /* range of the values seen (HAS_RANGE) */
    double last_residual;                       /* residual of the last row (0 before one) */
    double ring[LSTM_ANOMALY_MAX_SHORT_WINDOW]; /* (short_window) last q values; 0 unused */
} LstmAnomaly;

/* What one row gives. */
typedef struct LstmAnomalyRow {
    int has_score;   /* past the warm-up: z, score and alert are set */
    double residual; /* r */
    double z;        /* (r - mean) / sd before r joined; +-inf (or 0) for zero variance */
    double score;    /* in [0, 1] */
    int alert;       /* score >= threshold */
} LstmAnomalyRow;

/* lstm_anomaly_settings_default: the defaults above. */
void lstm_anomaly_settings_default(LstmAnomalySettings *settings);

/*
 * lstm_anomaly_settings_check: every setting within its range? Returns
 * LSTM_OK, or LSTM_ERR_LIMIT with a message naming the first setting out of
 * range and the range ("short_window must be an integer in [1, 100], not 0").
 */
LstmError lstm_anomaly_settings_check(const LstmAnomalySettings *settings, char *errmsg);

/* lstm_anomaly_setting_range: "[1, 100]", "(0, 1)"... for messages (buffer of 64 bytes). */
void lstm_anomaly_setting_range(const LstmAnomalySettingInfo *info, char *out, size_t size);

/* lstm_anomaly_settings_equal: the same settings, bit for bit? */
int lstm_anomaly_settings_equal(const LstmAnomalySettings *a, const LstmAnomalySettings *b);

/* lstm_anomaly_init: a fresh scoring state with these (checked) settings. */
void lstm_anomaly_init(LstmAnomaly *anomaly, const LstmAnomalySettings *settings);

/* lstm_anomaly_first: a series' first row (no residual): its value starts the range. */
void lstm_anomaly_first(LstmAnomaly *anomaly, double value);

/*
 * lstm_anomaly_update: one row with its value and residual (steps 1 to 8
 * above); fills row.
 */
void lstm_anomaly_update(LstmAnomaly *anomaly, double value, double residual, LstmAnomalyRow *row);

/* lstm_running_add: add x to statistics of this window. */
void lstm_running_add(LstmRunningStats *stats, double x, int32_t window);

/* lstm_anomaly_log_tail: ln Q(u), Q(u) = P(N(0, 1) > u), without underflow. */
double lstm_anomaly_log_tail(double u);

/* lstm_anomaly_block_nbytes: serialized size for this short window. */
size_t lstm_anomaly_block_nbytes(int32_t short_window);

/* lstm_anomaly_pack: serialize (all but the residual statistics) into bytes. */
void lstm_anomaly_pack(const LstmAnomaly *anomaly, void *bytes);

/*
 * lstm_anomaly_block_check: do the available bytes start with a valid
 * block? Checks the settings, then that the block fits, then its fields
 * (finite, counts and positions in range, ring values in [0, cap], unused
 * ring entries 0, lo <= hi). On success *nbytes is the block's size and, when
 * unpacked is not NULL, *unpacked the block's fields (as lstm_anomaly_unpack
 * gives them, the residual statistics zero); on failure *unpacked is undefined.
 */
LstmError lstm_anomaly_block_check(const void *bytes, size_t available, size_t *nbytes,
                                   LstmAnomaly *unpacked, char *errmsg);

/*
 * lstm_anomaly_unpack: fill anomaly (all but the residual statistics, which
 * are left as they are) from a checked block.
 */
void lstm_anomaly_unpack(const void *bytes, LstmAnomaly *anomaly);

#endif /* LSTM_CORE_ANOMALY_H */
