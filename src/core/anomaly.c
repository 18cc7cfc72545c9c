/*
 * anomaly.c - the anomaly score's settings, state machine and serialized
 * block (anomaly.h). Each arithmetic step is written in the order of the
 * Python reference (test/anomaly/score_study.py, likelihood()) so that the
 * two agree bit for bit.
 */
#include "anomaly.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* -5 ln 10: s = L / (L + LSTM_ANOMALY_SCALE) is 0.5 where Q = 1e-5. */
#define ANOMALY_SCALE (5.0 * log(10.0))

#define SETTING_INT(field, lo, hi)                                                                 \
    {                                                                                              \
#field, 1, lo, hi, 0, 0, offsetof(LstmAnomalySettings, field)                              \
    }
#define SETTING_REAL(field, lo, hi, lo_out, hi_out)                                                \
    {                                                                                              \
#field, 0, lo, hi, lo_out, hi_out, offsetof(LstmAnomalySettings, field)                    \
    }

/* The settings: name, kind, range. */
const LstmAnomalySettingInfo lstm_anomaly_setting_info[LSTM_ANOMALY_NSETTINGS] = {
    SETTING_INT(residual_window, 1, 1000000),
    SETTING_INT(warmup, 1, 1000000),
    SETTING_REAL(cap, 0, 1000000, 1, 0),
    SETTING_INT(short_window, 1, LSTM_ANOMALY_MAX_SHORT_WINDOW),
    SETTING_INT(long_window, 1, 1000000),
    SETTING_INT(long_warmup, 1, 1000000),
    SETTING_INT(filter, 0, 1000000),
    SETTING_REAL(threshold, 0, 1, 1, 1),
    SETTING_REAL(range_tolerance, 0, 1000000, 0, 0),
};

/* ---------- settings ---------- */

/* The measured defaults. */
void lstm_anomaly_settings_default(LstmAnomalySettings *settings)
{
    memset(settings, 0, sizeof(*settings));
    settings->residual_window = LSTM_ANOMALY_DEFAULT_RESIDUAL_WINDOW;
    settings->warmup = LSTM_ANOMALY_DEFAULT_WARMUP;
    settings->short_window = LSTM_ANOMALY_DEFAULT_SHORT_WINDOW;
    settings->long_window = LSTM_ANOMALY_DEFAULT_LONG_WINDOW;
    settings->long_warmup = LSTM_ANOMALY_DEFAULT_LONG_WARMUP;
    settings->filter = LSTM_ANOMALY_DEFAULT_FILTER;
    settings->cap = LSTM_ANOMALY_DEFAULT_CAP;
    settings->threshold = LSTM_ANOMALY_DEFAULT_THRESHOLD;
    settings->range_tolerance = LSTM_ANOMALY_DEFAULT_RANGE_TOLERANCE;
}

/* A setting's range as text: "[1, 100]", "(0, 1)". */
void lstm_anomaly_setting_range(const LstmAnomalySettingInfo *info, char *out, size_t size)
{
    snprintf(out, size, "%c%.17g, %.17g%c", info->min_excluded ? '(' : '[', info->min, info->max,
             info->max_excluded ? ')' : ']');
}

/* The value of one setting as a double. */
static double setting_value(const LstmAnomalySettings *settings, const LstmAnomalySettingInfo *info)
{
    const char *field = (const char *)settings + info->offset;
    if (info->is_integer) {
        int32_t v;
        memcpy(&v, field, sizeof(v));
        return (double)v;
    }
    {
        double v;
        memcpy(&v, field, sizeof(v));
        return v;
    }
}

/* Every setting in its range. */
LstmError lstm_anomaly_settings_check(const LstmAnomalySettings *settings, char *errmsg)
{
    for (int i = 0; i < LSTM_ANOMALY_NSETTINGS; i++) {
        const LstmAnomalySettingInfo *info = &lstm_anomaly_setting_info[i];
        double v = setting_value(settings, info);
        char range[64];

        if (isfinite(v) && (info->min_excluded ? v > info->min : v >= info->min) &&
            (info->max_excluded ? v < info->max : v <= info->max))
            continue;
        lstm_anomaly_setting_range(info, range, sizeof(range));
        snprintf(errmsg, LSTM_ERRMSG_LEN, "%s must be %s in %s, not %.17g", info->name,
                 info->is_integer ? "an integer" : "a number", range, v);
        return LSTM_ERR_LIMIT;
    }
    return LSTM_OK;
}

/* Field by field, so that padding never matters. */
int lstm_anomaly_settings_equal(const LstmAnomalySettings *a, const LstmAnomalySettings *b)
{
    for (int i = 0; i < LSTM_ANOMALY_NSETTINGS; i++) {
        const LstmAnomalySettingInfo *info = &lstm_anomaly_setting_info[i];
        size_t width = info->is_integer ? sizeof(int32_t) : sizeof(double);
        if (memcmp((const char *)a + info->offset, (const char *)b + info->offset, width) != 0)
            return 0;
    }
    return 1;
}

/* ---------- the state machine ---------- */

/* A fresh state: no residuals, no range, an empty ring. */
void lstm_anomaly_init(LstmAnomaly *anomaly, const LstmAnomalySettings *settings)
{
    memset(anomaly, 0, sizeof(*anomaly));
    anomaly->settings = *settings;
}

/*
 * Weighted update with weight w = max(1/n, 1/window):
 *   mean' = mean + w d,  variance' = (1 - w) (variance + w d^2),  d = x - mean.
 */
void lstm_running_add(LstmRunningStats *stats, double x, int32_t window)
{
    double w, d;

    stats->count++;
    w = stats->count < window ? 1.0 / (double)stats->count : 1.0 / (double)window;
    d = x - stats->mean;
    stats->mean += w * d;
    stats->variance = (1.0 - w) * (stats->variance + w * d * d);
}

/* (x - mean) / sd; with zero variance 0 for x = mean, else +-infinity. */
static double running_z(const LstmRunningStats *stats, double x)
{
    double d = x - stats->mean;
    if (stats->variance <= 0.0)
        return d == 0.0 ? 0.0 : copysign(INFINITY, d);
    return d / sqrt(stats->variance);
}

/*
 * ln Q(u): erfc below u = 30; above, the asymptotic series
 * -u^2/2 - ln u - ln(2 pi)/2 + ln(1 - 1/u^2 + 3/u^4) (relative error < 1e-9).
 */
double lstm_anomaly_log_tail(double u)
{
    double u2;

    if (u < 30.0)
        return log(0.5 * erfc(u / sqrt(2.0)));
    u2 = u * u;
    return -0.5 * u2 - log(u) - 0.5 * log(2.0 * M_PI) + log(1.0 - 1.0 / u2 + 3.0 / (u2 * u2));
}

/* Fold a value into the range. */
static void range_add(LstmAnomaly *anomaly, double value)
{
    if (!(anomaly->flags & LSTM_ANOMALY_HAS_RANGE)) {
        anomaly->lo = value;
        anomaly->hi = value;
        anomaly->flags |= LSTM_ANOMALY_HAS_RANGE;
        return;
    }
    anomaly->lo = fmin(anomaly->lo, value);
    anomaly->hi = fmax(anomaly->hi, value);
}

/* The first row of a series starts the range. */
void lstm_anomaly_first(LstmAnomaly *anomaly, double value)
{
    range_add(anomaly, value);
}

/* Step 1: how far (relative to the range) value lies beyond the range seen. */
static double range_excess(const LstmAnomaly *anomaly, double value)
{
    double beyond;

    if (!(anomaly->flags & LSTM_ANOMALY_HAS_RANGE) || !(anomaly->hi > anomaly->lo))
        return 0.0;
    beyond = fmax(fmax(value - anomaly->hi, anomaly->lo - value), 0.0);
    return beyond / (anomaly->hi - anomaly->lo);
}

/* Step 4: push q into the ring; the mean of the ring. */
static double ring_push(LstmAnomaly *anomaly, double q)
{
    int32_t n = anomaly->settings.short_window;

    anomaly->ring_sum += q - anomaly->ring[anomaly->ring_position];
    anomaly->ring[anomaly->ring_position] = q;
    anomaly->ring_position = (anomaly->ring_position + 1) % n;
    if (anomaly->ring_fill < n)
        anomaly->ring_fill++;
    return anomaly->ring_sum / (double)anomaly->ring_fill;
}

/* Step 5: the likelihood score of the average a; then a joins its statistics. */
static double likelihood(LstmAnomaly *anomaly, double a)
{
    double s = 0.0;

    if (anomaly->averages.count >= anomaly->settings.long_warmup) {
        double u = running_z(&anomaly->averages, a);
        double L = isfinite(u) ? -lstm_anomaly_log_tail(u) : (u > 0.0 ? INFINITY : 0.0);
        s = isinf(L) ? 1.0 : L / (L + ANOMALY_SCALE);
    }
    lstm_running_add(&anomaly->averages, a, anomaly->settings.long_window);
    return s;
}

/* Steps 1 to 8 for one row. */
void lstm_anomaly_update(LstmAnomaly *anomaly, double value, double residual, LstmAnomalyRow *row)
{
    const LstmAnomalySettings *set = &anomaly->settings;
    double excess = range_excess(anomaly, value);

    range_add(anomaly, value);
    memset(row, 0, sizeof(*row));
    row->residual = residual;
    anomaly->last_residual = residual;
    if (anomaly->residuals.count >= set->warmup) {
        double z = running_z(&anomaly->residuals, residual);
        double q = fmin(fabs(z), set->cap);
        double s = likelihood(anomaly, ring_push(anomaly, q));

        if (set->range_tolerance > 0.0 && excess > set->range_tolerance)
            s = fmax(s, set->threshold +
                            (1.0 - set->threshold) * excess / (excess + set->range_tolerance));
        if (anomaly->quiet > 0) {
            anomaly->quiet--;
            s = fmin(s, set->threshold) * 0.5;
        } else if (s >= set->threshold)
            anomaly->quiet = set->filter;
        row->has_score = 1;
        row->z = z;
        row->score = s;
        row->alert = s >= set->threshold;
    }
    lstm_running_add(&anomaly->residuals, residual, set->residual_window);
}

/* ---------- the serialized block ---------- */

/* Byte offsets of the block's fields (anomaly.h draws them). */
enum {
    AT_INTS = 0,      /* 6 int32 settings */
    AT_REALS = 24,    /* 3 double settings */
    AT_FLAGS = 48,    /* uint32 */
    AT_FILL = 52,     /* int32 */
    AT_POSITION = 56, /* int32 */
    AT_QUIET = 60,    /* int32 */
    AT_LCOUNT = 64,   /* int64 */
    AT_DOUBLES = 72,  /* ring_sum, long_mean, long_variance, lo, hi, last_residual */
    AT_RING = LSTM_ANOMALY_BLOCK_FIXED
};

/* The block's size for a short window. */
size_t lstm_anomaly_block_nbytes(int32_t short_window)
{
    return LSTM_ANOMALY_BLOCK_FIXED + (size_t)short_window * sizeof(double);
}

/* Copy n bytes to an offset of an unaligned block. */
static void put(void *bytes, size_t offset, const void *value, size_t n)
{
    memcpy((char *)bytes + offset, value, n);
}

/* Copy n bytes from an offset of an unaligned block. */
static void get(const void *bytes, size_t offset, void *value, size_t n)
{
    memcpy(value, (const char *)bytes + offset, n);
}

/* Serialize everything but the residual statistics. */
void lstm_anomaly_pack(const LstmAnomaly *anomaly, void *bytes)
{
    const LstmAnomalySettings *set = &anomaly->settings;
    int32_t ints[6] = {set->residual_window, set->warmup,      set->short_window,
                       set->long_window,     set->long_warmup, set->filter};
    double reals[3] = {set->cap, set->threshold, set->range_tolerance};
    uint32_t flags = anomaly->flags;
    double doubles[6] = {
        anomaly->ring_sum, anomaly->averages.mean, anomaly->averages.variance, anomaly->lo,
        anomaly->hi,       anomaly->last_residual};

    put(bytes, AT_INTS, ints, sizeof(ints));
    put(bytes, AT_REALS, reals, sizeof(reals));
    put(bytes, AT_FLAGS, &flags, sizeof(flags));
    put(bytes, AT_FILL, &anomaly->ring_fill, sizeof(int32_t));
    put(bytes, AT_POSITION, &anomaly->ring_position, sizeof(int32_t));
    put(bytes, AT_QUIET, &anomaly->quiet, sizeof(int32_t));
    put(bytes, AT_LCOUNT, &anomaly->averages.count, sizeof(int64_t));
    put(bytes, AT_DOUBLES, doubles, sizeof(doubles));
    put(bytes, AT_RING, anomaly->ring, (size_t)set->short_window * sizeof(double));
}

/* Read the settings of a block (unchecked). */
static void unpack_settings(const void *bytes, LstmAnomalySettings *set)
{
    int32_t ints[6];
    double reals[3];

    get(bytes, AT_INTS, ints, sizeof(ints));
    get(bytes, AT_REALS, reals, sizeof(reals));
    memset(set, 0, sizeof(*set));
    set->residual_window = ints[0];
    set->warmup = ints[1];
    set->short_window = ints[2];
    set->long_window = ints[3];
    set->long_warmup = ints[4];
    set->filter = ints[5];
    set->cap = reals[0];
    set->threshold = reals[1];
    set->range_tolerance = reals[2];
}

/* Fill anomaly from a checked block; the residual statistics stay. */
void lstm_anomaly_unpack(const void *bytes, LstmAnomaly *anomaly)
{
    uint32_t flags;
    double doubles[6];

    unpack_settings(bytes, &anomaly->settings);
    get(bytes, AT_FLAGS, &flags, sizeof(flags));
    anomaly->flags = flags;
    get(bytes, AT_FILL, &anomaly->ring_fill, sizeof(int32_t));
    get(bytes, AT_POSITION, &anomaly->ring_position, sizeof(int32_t));
    get(bytes, AT_QUIET, &anomaly->quiet, sizeof(int32_t));
    get(bytes, AT_LCOUNT, &anomaly->averages.count, sizeof(int64_t));
    get(bytes, AT_DOUBLES, doubles, sizeof(doubles));
    anomaly->ring_sum = doubles[0];
    anomaly->averages.mean = doubles[1];
    anomaly->averages.variance = doubles[2];
    anomaly->lo = doubles[3];
    anomaly->hi = doubles[4];
    anomaly->last_residual = doubles[5];
    get(bytes, AT_RING, anomaly->ring, (size_t)anomaly->settings.short_window * sizeof(double));
    /* (every field is set: the ring's unused end is zeroed, not the whole struct first) */
    memset(anomaly->ring + anomaly->settings.short_window, 0,
           (LSTM_ANOMALY_MAX_SHORT_WINDOW - anomaly->settings.short_window) * sizeof(double));
}

/* The fields of an unpacked block against each other and the settings. */
static LstmError check_fields(const LstmAnomaly *a, char *errmsg)
{
    const LstmAnomalySettings *set = &a->settings;
    const char *names[6] = {"ring_sum", "long_mean", "long_variance", "lo", "hi", "last_residual"};
    double values[6] = {a->ring_sum, a->averages.mean, a->averages.variance, a->lo,
                        a->hi,       a->last_residual};

    if (a->flags & ~LSTM_ANOMALY_KNOWN_FLAGS) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "unknown anomaly flags 0x%04x", a->flags);
        return LSTM_ERR_FORMAT;
    }
    for (int i = 0; i < 6; i++) {
        if (!isfinite(values[i])) {
            snprintf(errmsg, LSTM_ERRMSG_LEN, "anomaly %s is not finite", names[i]);
            return LSTM_ERR_NONFINITE;
        }
    }
    if (a->ring_fill < 0 || a->ring_fill > set->short_window || a->ring_position < 0 ||
        a->ring_position >= set->short_window ||
        (a->ring_fill < set->short_window && a->ring_position != a->ring_fill)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "anomaly ring_fill %d and ring_position %d do not fit short_window %d",
                 (int)a->ring_fill, (int)a->ring_position, (int)set->short_window);
        return LSTM_ERR_FORMAT;
    }
    if (a->quiet < 0 || a->quiet > set->filter) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "anomaly quiet %d is outside [0, filter %d]",
                 (int)a->quiet, (int)set->filter);
        return LSTM_ERR_FORMAT;
    }
    if (a->averages.count < a->ring_fill || a->averages.variance < 0.0 ||
        (a->averages.count == 0 && (a->averages.mean != 0.0 || a->averages.variance != 0.0))) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "anomaly long statistics (count %lld) are inconsistent with the ring",
                 (long long)a->averages.count);
        return LSTM_ERR_FORMAT;
    }
    if ((a->flags & LSTM_ANOMALY_HAS_RANGE) ? !(a->lo <= a->hi) : (a->lo != 0.0 || a->hi != 0.0)) {
        snprintf(errmsg, LSTM_ERRMSG_LEN, "anomaly range lo %g, hi %g is inconsistent", a->lo,
                 a->hi);
        return LSTM_ERR_FORMAT;
    }
    for (int i = 0; i < set->short_window; i++) {
        int unused = a->ring_fill < set->short_window && i >= a->ring_fill;
        double q = a->ring[i];
        if (!isfinite(q) || q < 0.0 || q > set->cap || (unused && q != 0.0)) {
            snprintf(errmsg, LSTM_ERRMSG_LEN,
                     "anomaly ring[%d] = %g is outside [0, cap] or set while unused", i, q);
            return isfinite(q) ? LSTM_ERR_FORMAT : LSTM_ERR_NONFINITE;
        }
    }
    return LSTM_OK;
}

/*
 * Check an untrusted block: its settings first (they give its size), then its
 * fields, unpacked into *unpacked (a local copy when NULL).
 */
LstmError lstm_anomaly_block_check(const void *bytes, size_t available, size_t *nbytes,
                                   LstmAnomaly *unpacked, char *errmsg)
{
    LstmAnomaly local, *anomaly = unpacked != NULL ? unpacked : &local;
    LstmError err;

    if (available < LSTM_ANOMALY_BLOCK_FIXED) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "the anomaly block is %zu bytes, shorter than its %d fixed bytes", available,
                 LSTM_ANOMALY_BLOCK_FIXED);
        return LSTM_ERR_FORMAT;
    }
    unpack_settings(bytes, &anomaly->settings);
    err = lstm_anomaly_settings_check(&anomaly->settings, errmsg);
    if (err != LSTM_OK)
        return LSTM_ERR_FORMAT;
    *nbytes = lstm_anomaly_block_nbytes(anomaly->settings.short_window);
    if (available < *nbytes) {
        snprintf(errmsg, LSTM_ERRMSG_LEN,
                 "the anomaly block is %zu bytes but short_window %d needs %zu", available,
                 (int)anomaly->settings.short_window, *nbytes);
        return LSTM_ERR_FORMAT;
    }
    memset(&anomaly->residuals, 0, sizeof(anomaly->residuals));
    lstm_anomaly_unpack(bytes, anomaly);
    return check_fields(anomaly, errmsg);
}
