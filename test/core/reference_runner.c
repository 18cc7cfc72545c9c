/*
 * reference_runner.c - the plain-loop forward pass (see reference.h): one
 * cell step of every layer and the head, on the PyTorch layout, with libm's
 * nonlinearities. The oracle of test_runner.c; not part of lstm.so.
 */
#include "reference.h"

#include <math.h>

/* sigmoid in float32. */
float lstm_sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* tanh in float32. */
float lstm_tanh(float x)
{
    return tanhf(x);
}

/*
 * Apply the gate nonlinearities to gates (4H: i, f, g, o) and update c (H)
 * and h (H) of one layer.
 */
static void cell_update(const float *gates, float *h, float *c, int H)
{
    for (int j = 0; j < H; j++) {
        float i = lstm_sigmoid(gates[j]);
        float f = lstm_sigmoid(gates[H + j]);
        float g = lstm_tanh(gates[2 * H + j]);
        float o = lstm_sigmoid(gates[3 * H + j]);
        float cj = f * c[j] + i * g;
        c[j] = cj;
        h[j] = o * lstm_tanh(cj);
    }
}

/* One step of every layer with plain loops on the PyTorch layout. */
void lstm_reference_step(const LstmModelView *model, float *h, float *c, const float *x_scaled)
{
    int H = model->dims.hidden_size;
    float gates[4 * LSTM_MAX_HIDDEN]; /* (4H) */
    const float *input = x_scaled;
    for (int k = 0; k < model->dims.num_layers; k++) {
        const LstmLayerWeights *w = &model->layer[k];
        float *hk = h + (size_t)k * H, *ck = c + (size_t)k * H;
        for (int j = 0; j < 4 * H; j++) {
            float sum_ih = w->bias_ih[j], sum_hh = w->bias_hh[j];
            for (int i = 0; i < w->in_size; i++)
                sum_ih += w->weight_ih[(size_t)j * w->in_size + i] * input[i];
            for (int i = 0; i < H; i++)
                sum_hh += w->weight_hh[(size_t)j * H + i] * hk[i];
            gates[j] = sum_ih + sum_hh;
        }
        cell_update(gates, hk, ck, H);
        input = hk;
    }
}

/* The head on the top layer's h, in scaled units. */
void lstm_reference_head(const LstmModelView *model, const float *h, float *y_scaled)
{
    int H = model->dims.hidden_size;
    const float *top = h + (size_t)(model->dims.num_layers - 1) * H;
    for (int o = 0; o < model->dims.output_size; o++) {
        float y = model->head_bias[o];
        for (int j = 0; j < H; j++)
            y += model->head_weight[(size_t)o * H + j] * top[j];
        y_scaled[o] = y;
    }
}

/* A view of one member: the model's view with member m's layers and head. */
void lstm_reference_member_view(const LstmModelView *model, int member, LstmModelView *out)
{
    *out = *model;
    for (int k = 0; k < model->dims.num_layers; k++)
        out->layer[k] = model->member[member].layer[k];
    out->head_weight = model->member[member].head_weight;
    out->head_bias = model->member[member].head_bias;
}

/* The median of n values by a plain selection sort (mean of the two middle ones for even n). */
double lstm_reference_median(const double *values, int n)
{
    double sorted[LSTM_MAX_MEMBERS];
    for (int i = 0; i < n; i++)
        sorted[i] = values[i];
    for (int i = 0; i < n; i++) {
        int lowest = i;
        for (int j = i + 1; j < n; j++) {
            if (sorted[j] < sorted[lowest])
                lowest = j;
        }
        double v = sorted[i];
        sorted[i] = sorted[lowest];
        sorted[lowest] = v;
    }
    return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}
