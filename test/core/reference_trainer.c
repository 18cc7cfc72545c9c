/*
 * reference_trainer.c - the training chunk with plain loops in double
 * precision, straight from the definitions (see reference.h). The tests
 * check its gradients against central finite differences and the fast
 * float32/BLAS path of trainer.c against it; it shares no code with
 * trainer.c beyond the layout of model_format.h (lstm_model_offsets), the
 * allocator of arena.h and the target kinds of trainer.h. Not part of
 * lstm.so.
 */
#include "reference.h"
#include "arena.h"
#include "trainer.h"

#include <math.h>
#include <string.h>

/* The arrays of the scratch block, as carved by scratch_layout. */
typedef struct RefScratch {
    double *gates[LSTM_MAX_LAYERS];  /* (T, B, 4H) activated */
    double *cell[LSTM_MAX_LAYERS];   /* (T+1, B, H) */
    double *hidden[LSTM_MAX_LAYERS]; /* (T+1, B, H) */
    double *output, *doutput;        /* (T, B, O) */
    double *dh_above, *dh_below;     /* (T, B, H) */
    double *dh_next, *dc_next;       /* (B, H) */
    double *dgates;                  /* (4H) */
} RefScratch;

/* Carve the scratch arrays out of arena (a sizing arena only counts). */
static void scratch_layout(RefScratch *s, LstmArena *arena, const LstmDims *dims, int B, int T)
{
    size_t H = (size_t)dims->hidden_size, O = (size_t)dims->output_size;
    size_t TB = (size_t)T * B, BH = (size_t)B * H;

    for (int k = 0; k < dims->num_layers; k++) {
        s->gates[k] = lstm_arena_carve(arena, TB * 4 * H, sizeof(double));
        s->cell[k] = lstm_arena_carve(arena, TB * H + BH, sizeof(double));
        s->hidden[k] = lstm_arena_carve(arena, TB * H + BH, sizeof(double));
    }
    s->output = lstm_arena_carve(arena, TB * O, sizeof(double));
    s->doutput = lstm_arena_carve(arena, TB * O, sizeof(double));
    s->dh_above = lstm_arena_carve(arena, TB * H, sizeof(double));
    s->dh_below = lstm_arena_carve(arena, TB * H, sizeof(double));
    s->dh_next = lstm_arena_carve(arena, BH, sizeof(double));
    s->dc_next = lstm_arena_carve(arena, BH, sizeof(double));
    s->dgates = lstm_arena_carve(arena, 4 * H, sizeof(double));
}

/* Scratch bytes: scratch_layout's sizing pass. */
size_t lstm_train_reference_nbytes(const LstmDims *dims, int B, int T)
{
    RefScratch sizing;
    LstmArena arena = lstm_arena_sizing();

    scratch_layout(&sizing, &arena, dims, B, T);
    return lstm_arena_nbytes(&arena);
}

/* Logistic function in double. */
static double sigmoid_d(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* The chunk's loss and (optionally) its gradient, in double. */
double lstm_train_reference_chunk(const LstmDims *dims, int loss_kind, const double *params, int B,
                                  int T, const double *x, const double *target, const uint8_t *kind,
                                  const double *h0, const double *c0, double *grads, void *scratch)
{
    int H = dims->hidden_size, L = dims->num_layers, O = dims->output_size, G = 4 * H;
    size_t TB = (size_t)T * B, BH = (size_t)B * H;
    LstmModelOffsets off; /* in values of a model-order block */
    RefScratch s;
    LstmArena arena = lstm_arena_over(scratch);
    double **gates = s.gates, **cell = s.cell, **hidden = s.hidden;
    double *output, *doutput, *dh_above, *dh_below, *dh_next, *dc_next, *dg;
    double loss = 0.0;
    int64_t count = 0;

    lstm_model_offsets(dims, &off);
    scratch_layout(&s, &arena, dims, B, T);
    output = s.output, doutput = s.doutput;
    dh_above = s.dh_above, dh_below = s.dh_below;
    dh_next = s.dh_next, dc_next = s.dc_next;
    dg = s.dgates;

    /* forward: every layer, every step, every lane */
    for (int k = 0; k < L; k++) {
        const double *wih = params + off.weight_ih[k], *whh = params + off.weight_hh[k];
        const double *bih = params + off.bias_ih[k], *bhh = params + off.bias_hh[k];
        int in = off.in_size[k];
        memcpy(hidden[k], h0 + (size_t)k * BH, BH * sizeof(double));
        memcpy(cell[k], c0 + (size_t)k * BH, BH * sizeof(double));
        for (int t = 0; t < T; t++) {
            for (int b = 0; b < B; b++) {
                const double *xin = k == 0 ? x + ((size_t)t * B + b) * in
                                           : hidden[k - 1] + ((size_t)(t + 1) * B + b) * H;
                const double *hp = hidden[k] + ((size_t)t * B + b) * H;
                const double *cp = cell[k] + ((size_t)t * B + b) * H;
                double *g = gates[k] + ((size_t)t * B + b) * G;
                double *c = cell[k] + ((size_t)(t + 1) * B + b) * H;
                double *h = hidden[k] + ((size_t)(t + 1) * B + b) * H;
                for (int j = 0; j < G; j++) {
                    double s = bih[j] + bhh[j];
                    for (int i = 0; i < in; i++)
                        s += wih[(size_t)j * in + i] * xin[i];
                    for (int i = 0; i < H; i++)
                        s += whh[(size_t)j * H + i] * hp[i];
                    g[j] = s;
                }
                for (int j = 0; j < H; j++) {
                    g[j] = sigmoid_d(g[j]);
                    g[H + j] = sigmoid_d(g[H + j]);
                    g[2 * H + j] = tanh(g[2 * H + j]);
                    g[3 * H + j] = sigmoid_d(g[3 * H + j]);
                    c[j] = g[H + j] * cp[j] + g[j] * g[2 * H + j];
                    h[j] = g[3 * H + j] * tanh(c[j]);
                }
            }
        }
    }
    for (size_t r = 0; r < TB; r++) {
        const double *h = hidden[L - 1] + BH + r * H;
        for (int o = 0; o < O; o++) {
            double y = params[off.head_bias + o];
            for (int j = 0; j < H; j++)
                y += params[off.head_weight + (size_t)o * H + j] * h[j];
            output[r * O + o] = y;
            if (kind[r * O + o] == LSTM_TARGET_TRAIN) {
                double e = y - target[r * O + o];
                loss += loss_kind == LSTM_LOSS_L1 ? fabs(e) : e * e;
                count++;
            }
        }
    }
    if (count == 0)
        return 0.0;
    loss /= (double)count;
    if (grads == NULL)
        return loss;

    /* backward */
    memset(grads, 0, lstm_model_parameter_count(dims) * sizeof(double));
    for (size_t r = 0; r < TB; r++)
        for (int o = 0; o < O; o++) {
            double e = output[r * O + o] - target[r * O + o];
            /* d|e|/de = sign(e), 0 at 0 (torch.abs's choice) */
            double d = loss_kind == LSTM_LOSS_L1 ? (e > 0 ? 1.0 : (e < 0 ? -1.0 : 0.0)) : 2.0 * e;
            doutput[r * O + o] = kind[r * O + o] == LSTM_TARGET_TRAIN ? d / count : 0.0;
        }
    memset(dh_above, 0, TB * H * sizeof(double));
    for (size_t r = 0; r < TB; r++) {
        const double *h = hidden[L - 1] + BH + r * H;
        for (int o = 0; o < O; o++) {
            double d = doutput[r * O + o];
            grads[off.head_bias + o] += d;
            for (int j = 0; j < H; j++) {
                grads[off.head_weight + (size_t)o * H + j] += d * h[j];
                dh_above[r * H + j] += d * params[off.head_weight + (size_t)o * H + j];
            }
        }
    }
    for (int k = L - 1; k >= 0; k--) {
        const double *wih = params + off.weight_ih[k], *whh = params + off.weight_hh[k];
        double *dwih = grads + off.weight_ih[k], *dwhh = grads + off.weight_hh[k];
        double *dbih = grads + off.bias_ih[k], *dbhh = grads + off.bias_hh[k];
        int in = off.in_size[k];
        double *swap;
        memset(dh_below, 0, TB * H * sizeof(double));
        for (int b = 0; b < B; b++) {
            double *dhn = dh_next + (size_t)b * H, *dcn = dc_next + (size_t)b * H;
            memset(dhn, 0, H * sizeof(double));
            memset(dcn, 0, H * sizeof(double));
            for (int t = T - 1; t >= 0; t--) {
                size_t r = (size_t)t * B + b;
                const double *g = gates[k] + r * G;
                const double *c = cell[k] + ((size_t)(t + 1) * B + b) * H;
                const double *cp = cell[k] + r * H;
                const double *hp = hidden[k] + r * H;
                const double *xin =
                    k == 0 ? x + r * in : hidden[k - 1] + ((size_t)(t + 1) * B + b) * H;
                for (int j = 0; j < H; j++) {
                    double gi = g[j], gf = g[H + j], gg = g[2 * H + j], go = g[3 * H + j];
                    double tc = tanh(c[j]);
                    double dh = dh_above[r * H + j] + dhn[j];
                    double dc = dcn[j] + dh * go * (1.0 - tc * tc);
                    dg[j] = dc * gg * gi * (1.0 - gi);
                    dg[H + j] = dc * cp[j] * gf * (1.0 - gf);
                    dg[2 * H + j] = dc * gi * (1.0 - gg * gg);
                    dg[3 * H + j] = dh * tc * go * (1.0 - go);
                    dcn[j] = dc * gf;
                }
                memset(dhn, 0, H * sizeof(double));
                for (int j = 0; j < G; j++) {
                    dbih[j] += dg[j];
                    dbhh[j] += dg[j];
                    for (int i = 0; i < in; i++) {
                        dwih[(size_t)j * in + i] += dg[j] * xin[i];
                        if (k > 0)
                            dh_below[r * H + i] += dg[j] * wih[(size_t)j * in + i];
                    }
                    for (int i = 0; i < H; i++) {
                        dwhh[(size_t)j * H + i] += dg[j] * hp[i];
                        dhn[i] += dg[j] * whh[(size_t)j * H + i];
                    }
                }
            }
        }
        swap = dh_above, dh_above = dh_below, dh_below = swap;
    }
    return loss;
}
