/*
 * fuzz_inputs.c - a small, deterministic fuzz run of every input path of the
 * lstm_model and lstm_state types against a running server (libpq).
 *
 *   fuzz_inputs [iterations] [seed]      (connection from the PG* environment)
 *
 * Seeds are valid values the server itself produces (text and binary send
 * forms of models of two shapes, and of states made by lstm_state_agg).
 * Each iteration mutates one seed (bit flips, interesting bytes, truncation,
 * extension, block copies, extreme 32-bit words; for text also deletions and
 * inserted JSON tokens and extreme numbers) and sends it as a parameter of
 * the type, in text format (the type's input function) or in binary format
 * (its receive function, as COPY BINARY and binary-protocol clients reach
 * it). Every answer must be a result or an error whose SQLSTATE is one of
 * the documented input errors; any other error, a crash or a lost connection
 * fails the run. The summary counts the outcomes per SQLSTATE. Exit status 0
 * when every answer was allowed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* SQLSTATEs an input function may answer with (README: lstm_model, lstm_state). */
static const char *const allowed_states[] = {
    "22P02", /* invalid_text_representation */
    "22P03", /* invalid_binary_representation */
    "54000", /* program_limit_exceeded */
    "54001", /* statement_too_complex (absurdly deep JSON nesting) */
};

/* One seed value in one format. */
typedef struct Seed {
    char *bytes;      /* the value as the server sent it */
    int length;       /* its length in bytes */
    int binary;       /* 1: the send form, 0: the text form (NUL-terminated) */
    const char *type; /* lstm_model or lstm_state */
} Seed;

/* Outcome counts, by SQLSTATE ("ok" for success). */
typedef struct Outcome {
    char state[6];
    long count;
} Outcome;

static Outcome outcomes[64];
static int noutcomes;

/* xorshift64*: the run is reproducible from its seed. */
static uint64_t rng_state;

/* The next pseudo-random 64-bit word. */
static uint64_t next_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* A uniform integer in [0, n). */
static int random_below(int n)
{
    return n <= 0 ? 0 : (int)(next_random() % (uint64_t)n);
}

/* Count one outcome under its SQLSTATE. */
static void count_outcome(const char *state)
{
    for (int i = 0; i < noutcomes; i++) {
        if (strcmp(outcomes[i].state, state) == 0) {
            outcomes[i].count++;
            return;
        }
    }
    if (noutcomes < (int)(sizeof(outcomes) / sizeof(outcomes[0]))) {
        snprintf(outcomes[noutcomes].state, sizeof(outcomes[noutcomes].state), "%s", state);
        outcomes[noutcomes++].count = 1;
    }
}

/* Is state a documented answer of an input function? */
static int state_allowed(const char *state)
{
    for (size_t i = 0; i < sizeof(allowed_states) / sizeof(allowed_states[0]); i++) {
        if (strcmp(state, allowed_states[i]) == 0)
            return 1;
    }
    return 0;
}

/* Run a query that returns one value (text or binary); exit on failure. */
static char *fetch_value(PGconn *conn, const char *query, int binary, int *length)
{
    PGresult *res = PQexecParams(conn, query, 0, NULL, NULL, NULL, NULL, binary);
    char *copy;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fprintf(stderr, "fuzz_inputs: seed query failed: %s\n%s\n", query, PQerrorMessage(conn));
        exit(2);
    }
    *length = PQgetlength(res, 0, 0);
    copy = malloc((size_t)*length + 1);
    memcpy(copy, PQgetvalue(res, 0, 0), (size_t)*length);
    copy[*length] = '\0';
    PQclear(res);
    return copy;
}

/* Text insertions: numbers, tokens and structure that stress a JSON reader. */
static const char *const text_inserts[] = {"-0",         "1e39",
                                           "-1e39",      "1e-50",
                                           "NaN",        "Infinity",
                                           "2147483648", "-1",
                                           "0",          "1e308",
                                           "1e309",      "[",
                                           "]",          "{",
                                           "}",          ",",
                                           ":",          "\"",
                                           "null",       "true",
                                           "[[",         "]]",
                                           "[]",         "{}",
                                           "\"x\": 1",   "99999999999999999999",
                                           "0.1e-45"};

/* One mutation of seed into out (capacity cap); returns the new length. */
static int mutate(const Seed *seed, char *out, int cap)
{
    int n = seed->length < cap ? seed->length : cap;
    int edits = 1 + random_below(3);

    memcpy(out, seed->bytes, (size_t)n);
    for (int e = 0; e < edits; e++) {
        int op = random_below(seed->binary ? 6 : 8);
        int at = random_below(n > 0 ? n : 1);
        switch (op) {
        case 0: /* flip one bit */
            if (n > 0)
                out[at] ^= (char)(1 << random_below(8));
            break;
        case 1: { /* an interesting byte or character */
            static const char bytes[] = {0, (char)0xff, 0x7f, (char)0x80, 1, '9', '-', '.'};
            if (n > 0)
                out[at] = bytes[random_below(sizeof(bytes))];
            break;
        }
        case 2: /* truncate */
            n = at;
            break;
        case 3: { /* extend with random bytes */
            int more = 1 + random_below(16);
            for (int i = 0; i < more && n < cap; i++)
                out[n++] = (char)next_random();
            break;
        }
        case 4: { /* copy a block elsewhere (header fields onto sizes and back) */
            int len = 1 + random_below(8), from = random_below(n > 0 ? n : 1);
            if (from + len <= n && at + len <= n)
                memmove(out + at, out + from, (size_t)len);
            break;
        }
        case 5: { /* overwrite 4 bytes with an extreme 32-bit word */
            static const uint32_t words[] = {0,           0xffffffffu, 0x7fffffffu, 0x80000000u,
                                             0x7f800000u, 0x7fc00000u, 0xff800000u, 4097};
            uint32_t w = words[random_below(8)];
            if (at + 4 <= n)
                memcpy(out + at, &w, 4);
            break;
        }
        case 6: /* delete one character */
            if (n > 0) {
                memmove(out + at, out + at + 1, (size_t)(n - at - 1));
                n--;
            }
            break;
        default: { /* insert a token */
            const char *token =
                text_inserts[random_below(sizeof(text_inserts) / sizeof(text_inserts[0]))];
            int len = (int)strlen(token);
            if (n + len < cap) {
                memmove(out + at + len, out + at, (size_t)(n - at));
                memcpy(out + at, token, (size_t)len);
                n += len;
            }
            break;
        }
        }
    }
    return n;
}

/*
 * Send one value and classify the answer. Returns 0 when it was allowed,
 * 1 for a disallowed error, 2 when the connection was lost.
 */
static int try_value(PGconn *conn, const Seed *seed, const char *value, int length)
{
    char query[128];
    const char *values[1] = {value};
    int lengths[1] = {length};
    int formats[1] = {seed->binary};
    PGresult *res;
    int verdict = 0;

    snprintf(query, sizeof(query), "SELECT pg_catalog.length($1::%s::text)", seed->type);
    res = PQexecParams(conn, query, 1, NULL, values, lengths, formats, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        count_outcome("ok");
    else if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "fuzz_inputs: the connection was lost: %s", PQerrorMessage(conn));
        verdict = 2;
    } else {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        count_outcome(state ? state : "none");
        if (state == NULL || !state_allowed(state)) {
            fprintf(stderr, "fuzz_inputs: %s %s input answered %s: %s", seed->type,
                    seed->binary ? "binary" : "text", state ? state : "no SQLSTATE",
                    PQresultErrorMessage(res));
            verdict = 1;
        }
    }
    PQclear(res);
    return verdict;
}

/* The seeds: models of two shapes and their states, each in text and binary form. */
static int make_seeds(PGconn *conn, Seed *seeds)
{
    static const char *const models[] = {
        /* 1 layer, hidden 2, with scaling */
        "'{\"input_size\": 1, \"hidden_size\": 2, \"num_layers\": 1, \"output_size\": 1, "
        "\"weights\": {\"weight_ih_l0\": [[0.1], [0.2], [0.3], [0.4], [0.5], [0.6], [0.7], "
        "[0.8]], \"weight_hh_l0\": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6], [0.7, 0.8], [0.9, "
        "1.0], [-1.1, 1.2], [1.3, 1.4], [1.5, -1.6]], \"bias_ih_l0\": [0.01, 0.02, 0.03, 0.04, "
        "0.05, 0.06, 0.07, 0.08], \"bias_hh_l0\": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], "
        "\"head.weight\": [[1.5, -0.25]], \"head.bias\": [0.5]}, \"input_mean\": [5], "
        "\"input_std\": [2], \"output_mean\": [5], \"output_std\": [2]}'",
        /* 2 layers, 2 inputs, differenced */
        "'{\"input_size\": 2, \"hidden_size\": 1, \"num_layers\": 2, \"output_size\": 2, "
        "\"difference\": true, \"weights\": {\"weight_ih_l0\": [[0.1, 0.2], [0.3, -0.4], [0.5, "
        "0.6], [-0.7, 0.8]], \"weight_hh_l0\": [[0.1], [0.2], [-0.3], [0.4]], \"bias_ih_l0\": "
        "[0, 0.1, 0, -0.1], \"bias_hh_l0\": [0.2, 0, 0, 0], \"weight_ih_l1\": [[0.5], [0.6], "
        "[0.7], [0.8]], \"weight_hh_l1\": [[-0.1], [0.1], [0.2], [0.3]], \"bias_ih_l1\": [0, 0, "
        "0, 0], \"bias_hh_l1\": [0, 0, 0, 0], \"head.weight\": [[1.0], [-1.0]], \"head.bias\": "
        "[0, 1]}}'"};
    int n = 0;
    char query[4096];

    for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
        const char *value = m == 1 ? "ARRAY[t, t * 0.5]::float8[]" : "t::float8";
        for (int binary = 0; binary <= 1; binary++) {
            snprintf(query, sizeof(query), "SELECT %s::lstm_model%s", models[m],
                     binary ? "" : "::text");
            seeds[n].bytes = fetch_value(conn, query, binary, &seeds[n].length);
            seeds[n].binary = binary, seeds[n++].type = "lstm_model";
            snprintf(query, sizeof(query),
                     "SELECT lstm_state_agg(%s::lstm_model, %s ORDER BY t)%s FROM "
                     "pg_catalog.generate_series(1, 30) AS t",
                     models[m], value, binary ? "" : "::text");
            seeds[n].bytes = fetch_value(conn, query, binary, &seeds[n].length);
            seeds[n].binary = binary, seeds[n++].type = "lstm_state";
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 4000;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261130;
    PGconn *conn = PQconnectdb("");
    Seed seeds[8];
    int nseeds, bad = 0;
    char *buffer;
    enum { CAP = 1 << 16 };

    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "fuzz_inputs: cannot connect: %s", PQerrorMessage(conn));
        return 2;
    }
    rng_state = seed ? seed : 1;
    nseeds = make_seeds(conn, seeds);
    buffer = malloc(CAP);
    for (long i = 0; i < iterations; i++) {
        const Seed *s = &seeds[i % nseeds];
        int length = mutate(s, buffer, CAP - 1);
        int verdict;
        buffer[length] = '\0';
        if (!s->binary) /* printable ASCII: the text must reach the type, not the encoding check */
            for (int k = 0; k < length; k++)
                if ((unsigned char)buffer[k] < 0x20 || (unsigned char)buffer[k] >= 0x7f)
                    buffer[k] = (char)(0x20 + (unsigned char)buffer[k] % 95);
        verdict = try_value(conn, s, buffer, length);
        if (verdict == 2)
            return 1;
        bad += verdict;
    }
    printf("fuzz_inputs: %ld mutated values (seed %llu):", iterations, (unsigned long long)seed);
    for (int i = 0; i < noutcomes; i++)
        printf(" %s %ld%s", outcomes[i].state, outcomes[i].count, i + 1 < noutcomes ? "," : "");
    printf("\n");
    PQfinish(conn);
    free(buffer);
    if (bad > 0)
        printf("fuzz_inputs: %d answers were not documented input errors\n", bad);
    return bad > 0;
}
