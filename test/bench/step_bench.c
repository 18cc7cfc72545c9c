/*
 * step_bench.c - the scoring trigger's arithmetic alone, without PostgreSQL:
 * lstm_stream_feed per row (the forecast made before the row, its anomaly
 * score, the LSTM step), for SERIES series in turn, as trigger_bench.sh loads
 * rows in time order; a hidden-HIDDEN, one-layer model with PyTorch's default
 * initialisation scale. Prints the nanoseconds per row of the fastest of five
 * passes. No trigger that computes these numbers costs less per row: it is
 * the arithmetic's share of a scored load, printed beside the loads.
 *
 *   step_bench HIDDEN SERIES ROWS_PER_SERIES
 *
 * Built by `make test/bench/step_bench` with the unit tests' flags.
 */
#include "../core/test_util.h"
#include "runner.h"
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int hidden, nseries, per_series;
    uint64_t rng = 42;
    LstmDims dims;
    TestModel model;
    LstmStream *streams; /* (nseries) */
    float **memory;      /* (nseries) each stream's h, c and normaliser */
    double *values;      /* (per_series * nseries) the rows, in time order */
    double best = 1e300, sink = 0.0;

    if (argc != 4 || (hidden = atoi(argv[1])) < 1 || (nseries = atoi(argv[2])) < 1 ||
        (per_series = atoi(argv[3])) < 1) {
        fprintf(stderr, "usage: step_bench HIDDEN SERIES ROWS_PER_SERIES\n");
        return 2;
    }
    dims = make_dims(1, hidden, 1, 1, 0);
    test_model_init(&model, &dims, &rng);
    streams = malloc(sizeof(LstmStream) * (size_t)nseries);
    memory = malloc(sizeof(float *) * (size_t)nseries);
    values = malloc(sizeof(double) * (size_t)nseries * per_series);
    for (size_t i = 0; i < (size_t)nseries * per_series; i++)
        values[i] = rng_uniform(&rng, 0.0, 1.0);
    for (int s = 0; s < nseries; s++)
        memory[s] = malloc(sizeof(float) * lstm_series_nfloats(&dims));
    for (int pass = 0; pass < 5; pass++) {
        double start, elapsed;
        for (int s = 0; s < nseries; s++)
            lstm_stream_init(&streams[s], &dims, memory[s]);
        start = seconds_now();
        for (int t = 0; t < per_series; t++) {
            for (int s = 0; s < nseries; s++) {
                double outputs[1];
                if (lstm_stream_feed(&model.runner, &streams[s], &values[(size_t)t * nseries + s],
                                     outputs) != LSTM_OK) {
                    fprintf(stderr, "step_bench: a row was rejected\n");
                    return 1;
                }
            }
        }
        elapsed = seconds_now() - start;
        if (elapsed < best)
            best = elapsed;
        for (int s = 0; s < nseries; s++)
            sink += streams[s].last_score;
    }
    printf("%.1f\n", best * 1e9 / ((double)nseries * per_series));
    fprintf(stderr, "step_bench: checksum %g\n", sink);
    return 0;
}
