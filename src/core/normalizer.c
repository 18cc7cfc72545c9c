/*
 * normalizer.c - the per-series streaming normaliser (see normalizer.h for
 * the formulas).
 */
#include "normalizer.h"

#include <math.h>

/* Clip a value in units of s to [-LSTM_NORM_CLIP, LSTM_NORM_CLIP]. */
static double clip_units(double v)
{
    return v < -LSTM_NORM_CLIP ? -LSTM_NORM_CLIP : (v > LSTM_NORM_CLIP ? LSTM_NORM_CLIP : v);
}

/* The network input size: change, distance from the level, and one seasonal input per step. */
int lstm_normalizer_input_size(int season, int horizon)
{
    return 2 + (season > 1 ? horizon : 0);
}

/* Doubles the ring of recent values needs. */
size_t lstm_normalizer_ring_size(int season)
{
    return season > 1 ? (size_t)season : 0;
}

/* An empty state. */
void lstm_normalizer_init(LstmNormalizer *nz, double *ring)
{
    nz->rows = 0;
    nz->last = nz->change = nz->level = nz->scale = 0.0;
    nz->recent = ring;
}

/* z = log(y) or y. */
LstmError lstm_normalizer_transform(unsigned flags, double y, double *z)
{
    if (!(flags & LSTM_FLAG_LOG)) {
        *z = y;
        return LSTM_OK;
    }
    if (!(y > 0.0))
        return LSTM_ERR_DOMAIN;
    *z = log(y);
    return LSTM_OK;
}

/* Consume one row: running (then exponential) means of |d| and of z. */
void lstm_normalizer_push(LstmNormalizer *nz, int season, double z)
{
    int64_t n = nz->rows + 1;

    if (n == 1) {
        nz->change = 0.0;
        nz->level = z;
        nz->scale = 0.0;
    } else {
        double ws = fmax(1.0 / (double)(n - 1), 1.0 / LSTM_NORM_SCALE_WINDOW);
        double wl = fmax(1.0 / (double)n, 1.0 / LSTM_NORM_LEVEL_WINDOW);
        nz->change = z - nz->last;
        nz->scale += ws * (fabs(nz->change) - nz->scale);
        nz->level += wl * (z - nz->level);
    }
    nz->last = z;
    nz->rows = n;
    if (season > 1)
        nz->recent[(n - 1) % season] = z;
}

/* s = max(scale, LSTM_NORM_MIN_SCALE). */
double lstm_normalizer_unit(const LstmNormalizer *nz)
{
    return fmax(nz->scale, LSTM_NORM_MIN_SCALE);
}

/* x[0] change, x[1] distance from the level, x[1+k] the seasonal-naive value for step k. */
void lstm_normalizer_features(const LstmNormalizer *nz, int season, int horizon, float *x)
{
    double s = lstm_normalizer_unit(nz);

    x[0] = (float)clip_units(nz->change / s);
    x[1] = (float)clip_units((nz->last - nz->level) / s);
    if (season <= 1)
        return;
    for (int k = 1; k <= horizon; k++) {
        /* rows back from the last one: season * ceil(k / season) - k, in 0..season-1 */
        int64_t back = (int64_t)season * ((k + season - 1) / season) - k;
        double v = 0.0;
        if (back < nz->rows)
            v = clip_units((nz->recent[(nz->rows - 1 - back) % season] - nz->last) / s);
        x[1 + k] = (float)v;
    }
}

/* exp(z + s o) or z + s o. */
double lstm_normalizer_forecast(const LstmNormalizer *nz, unsigned flags, double o)
{
    double z = nz->last + lstm_normalizer_unit(nz) * o;
    return (flags & LSTM_FLAG_LOG) ? exp(z) : z;
}

/* (z_future - z_t) / s_t. */
double lstm_normalizer_target(const LstmNormalizer *nz, double z_future)
{
    return (z_future - nz->last) / lstm_normalizer_unit(nz);
}
