/*
 * test_anomaly.c - unit tests of src/core/anomaly.c: the scores of a
 * synthetic stream under three settings sets, bit for bit against the Python
 * reference (likelihood() of test/anomaly/score_study.py, written into
 * anomaly_fixture.h by test/anomaly/make_anomaly_fixture.py); the split
 * invariant through the serialized block; the settings' ranges; the block
 * checks; the tail function and the score's 0.5 point; no ties.
 *
 * Built and run by `make unittest`. Prints "N passed, M failed" last; exits
 * non-zero when anything failed.
 */
#include "test_util.h"
#include "anomaly.h"
#include "anomaly_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Settings set k of the fixture. */
static LstmAnomalySettings fixture_set(int k)
{
    const double *f = fixture_settings[k];
    LstmAnomalySettings s;

    memset(&s, 0, sizeof(s));
    s.residual_window = (int32_t)f[0];
    s.warmup = (int32_t)f[1];
    s.cap = f[2];
    s.short_window = (int32_t)f[3];
    s.long_window = (int32_t)f[4];
    s.long_warmup = (int32_t)f[5];
    s.filter = (int32_t)f[6];
    s.threshold = f[7];
    s.range_tolerance = f[8];
    return s;
}

/* Feed row t of the fixture. */
static void feed(LstmAnomaly *a, int t, LstmAnomalyRow *row)
{
    if (t == 0) {
        lstm_anomaly_first(a, fixture_values[0]);
        memset(row, 0, sizeof(*row));
    } else
        lstm_anomaly_update(a, fixture_values[t], fixture_residuals[t], row);
}

/* Every row's score equals the reference's, bit for bit; alerts follow the threshold. */
static void test_reference(void)
{
    char msg[LSTM_ERRMSG_LEN];
    LstmAnomalySettings defaults;
    lstm_anomaly_settings_default(&defaults);
    CHECK(
        lstm_anomaly_settings_equal(&defaults, &(LstmAnomalySettings){0}) == 0 &&
            lstm_anomaly_settings_equal(&defaults, &(LstmAnomalySettings){.residual_window = 100,
                                                                          .warmup = 10,
                                                                          .short_window = 10,
                                                                          .long_window = 1000,
                                                                          .long_warmup = 100,
                                                                          .filter = 30,
                                                                          .cap = 5.0,
                                                                          .threshold = 0.5,
                                                                          .range_tolerance = 0.05}),
        "the defaults are the recipe's");
    for (int k = 0; k < FIXTURE_SETS; k++) {
        LstmAnomalySettings set = fixture_set(k);
        LstmAnomaly *a = malloc(sizeof(LstmAnomaly));
        int mismatches = 0, first_bad = -1, alerts = 0, bad_alerts = 0;
        double worst = 0.0;

        CHECK(lstm_anomaly_settings_check(&set, msg) == LSTM_OK, "set %d: %s", k, msg);
        if (k == 0)
            CHECK(lstm_anomaly_settings_equal(&set, &defaults), "set 0 is the defaults");
        lstm_anomaly_init(a, &set);
        for (int t = 0; t < FIXTURE_ROWS; t++) {
            LstmAnomalyRow row;
            double want = fixture_scores[k][t];
            feed(a, t, &row);
            if (row.has_score != !isnan(want) || (row.has_score && row.score != want)) {
                if (first_bad < 0)
                    first_bad = t;
                mismatches++;
                if (row.has_score && !isnan(want) && fabs(row.score - want) > worst)
                    worst = fabs(row.score - want);
            }
            if (row.has_score) {
                alerts += row.alert;
                bad_alerts += row.alert != (row.score >= set.threshold);
                bad_alerts += !(row.score >= 0.0 && row.score <= 1.0);
            }
        }
        CHECK(mismatches == 0, "set %d: %d rows differ from the reference (first %d, largest %g)",
              k, mismatches, first_bad, worst);
        CHECK(alerts > 0 && bad_alerts == 0, "set %d: %d alerts, %d wrong", k, alerts, bad_alerts);
        free(a);
    }
}

/* Stop after k rows, pack, unpack into a new state, continue: the same scores and bytes. */
static void test_split(void)
{
    LstmAnomalySettings set = fixture_set(1);
    size_t nbytes = lstm_anomaly_block_nbytes(set.short_window), used = 0;
    unsigned char *whole = malloc(nbytes), *split = malloc(nbytes);
    LstmAnomaly *a = malloc(sizeof(LstmAnomaly)), *b = malloc(sizeof(LstmAnomaly));
    char msg[LSTM_ERRMSG_LEN];
    int bad = 0;

    for (int k = 1; k < 400; k += 37) {
        LstmAnomalyRow ra, rb;
        lstm_anomaly_init(a, &set);
        for (int t = 0; t < k; t++)
            feed(a, t, &ra);
        lstm_anomaly_pack(a, split);
        bad +=
            lstm_anomaly_block_check(split, nbytes, &used, NULL, msg) != LSTM_OK || used != nbytes;
        memset(b, 0xAB, sizeof(*b));
        b->residuals = a->residuals; /* the residual statistics live in the state's header */
        lstm_anomaly_unpack(split, b);
        for (int t = k; t < 600; t++) {
            feed(a, t, &ra);
            feed(b, t, &rb);
            bad += ra.has_score != rb.has_score || ra.score != rb.score || ra.z != rb.z;
        }
        lstm_anomaly_pack(a, whole);
        lstm_anomaly_pack(b, split);
        bad += memcmp(whole, split, nbytes) != 0;
    }
    CHECK(bad == 0, "split and continued states differ (%d)", bad);
    free(whole);
    free(split);
    free(a);
    free(b);
}

/* Each setting out of range is refused with its name and range. */
static void test_settings_ranges(void)
{
    char msg[LSTM_ERRMSG_LEN];
    struct {
        const char *name;
        double bad;
    } cases[] = {{"residual_window", 0},
                 {"warmup", 0},
                 {"cap", 0},
                 {"cap", NAN},
                 {"short_window", 101},
                 {"long_window", 0},
                 {"long_warmup", 0},
                 {"filter", -1},
                 {"threshold", 1},
                 {"threshold", 0},
                 {"range_tolerance", -0.5},
                 {"cap", INFINITY}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        LstmAnomalySettings s;
        const LstmAnomalySettingInfo *info = NULL;
        lstm_anomaly_settings_default(&s);
        for (int j = 0; j < LSTM_ANOMALY_NSETTINGS; j++)
            if (strcmp(lstm_anomaly_setting_info[j].name, cases[i].name) == 0)
                info = &lstm_anomaly_setting_info[j];
        if (info->is_integer) {
            int32_t v = (int32_t)cases[i].bad;
            memcpy((char *)&s + info->offset, &v, sizeof(v));
        } else
            memcpy((char *)&s + info->offset, &cases[i].bad, sizeof(double));
        CHECK(lstm_anomaly_settings_check(&s, msg) == LSTM_ERR_LIMIT &&
                  strncmp(msg, cases[i].name, strlen(cases[i].name)) == 0,
              "%s = %g: %s", cases[i].name, cases[i].bad, msg);
    }
    {
        LstmAnomalySettings s;
        lstm_anomaly_settings_default(&s);
        s.filter = 0;
        s.range_tolerance = 0.0;
        s.short_window = LSTM_ANOMALY_MAX_SHORT_WINDOW;
        CHECK(lstm_anomaly_settings_check(&s, msg) == LSTM_OK, "edges of the ranges: %s", msg);
        s.short_window = 0;
        lstm_anomaly_settings_check(&s, msg);
        CHECK(strcmp(msg, "short_window must be an integer in [1, 100], not 0") == 0, "message: %s",
              msg);
    }
}

/* Damaged blocks are refused; a valid one passes. */
static void test_block_checks(void)
{
    LstmAnomalySettings set = fixture_set(0);
    LstmAnomaly *a = malloc(sizeof(LstmAnomaly));
    size_t nbytes = lstm_anomaly_block_nbytes(set.short_window), used;
    unsigned char *good = malloc(nbytes), *bad = malloc(nbytes);
    char msg[LSTM_ERRMSG_LEN];
    LstmAnomalyRow row;
    /* (offset, a byte pattern that breaks the field) */
    struct {
        size_t offset;
        int32_t int_value;
        double real_value;
        int is_real;
    } cases[] = {
        {8, 0, 0, 0},          /* short_window 0 */
        {8, 1000, 0, 0},       /* short_window too large */
        {24, 0, -1.0, 1},      /* cap < 0 */
        {48, 8, 0, 0},         /* unknown flag */
        {52, 11, 0, 0},        /* ring_fill > short_window */
        {56, 10, 0, 0},        /* ring_position out of range */
        {60, 31, 0, 0},        /* quiet > filter */
        {80, 0, NAN, 1},       /* long_mean NaN */
        {88, 0, -1.0, 1},      /* long_variance < 0 */
        {96, 0, 1e9, 1},       /* lo > hi */
        {120, 0, 6.0, 1},      /* ring[0] > cap */
        {112, 0, INFINITY, 1}, /* last_residual infinite */
    };

    lstm_anomaly_init(a, &set);
    for (int t = 0; t < 300; t++)
        feed(a, t, &row);
    lstm_anomaly_pack(a, good);
    CHECK(lstm_anomaly_block_check(good, nbytes, &used, NULL, msg) == LSTM_OK && used == nbytes,
          "a valid block: %s", msg);
    {
        /* the fields the check unpacks are the block's: packed again, the same bytes */
        LstmAnomaly *checked = malloc(sizeof(LstmAnomaly));
        memset(checked, 0xa5, sizeof(LstmAnomaly));
        CHECK(lstm_anomaly_block_check(good, nbytes, &used, checked, msg) == LSTM_OK,
              "a valid block, unpacked: %s", msg);
        memset(bad, 0, nbytes);
        lstm_anomaly_pack(checked, bad);
        CHECK(memcmp(bad, good, nbytes) == 0 && checked->ring[set.short_window] == 0.0 &&
                  checked->ring[LSTM_ANOMALY_MAX_SHORT_WINDOW - 1] == 0.0,
              "the checked block unpacks to other fields");
        free(checked);
    }
    CHECK(lstm_anomaly_block_check(good, nbytes - 1, &used, NULL, msg) != LSTM_OK,
          "a truncated block");
    CHECK(lstm_anomaly_block_check(good, 50, &used, NULL, msg) != LSTM_OK,
          "a block cut in its fields");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, good, nbytes);
        if (cases[i].is_real)
            memcpy(bad + cases[i].offset, &cases[i].real_value, sizeof(double));
        else
            memcpy(bad + cases[i].offset, &cases[i].int_value, sizeof(int32_t));
        CHECK(lstm_anomaly_block_check(bad, nbytes, &used, NULL, msg) != LSTM_OK,
              "damage at offset %zu passed", cases[i].offset);
    }
    /* A fresh block: an unused ring entry must be zero. */
    lstm_anomaly_init(a, &set);
    lstm_anomaly_first(a, 1.0);
    lstm_anomaly_pack(a, good);
    CHECK(lstm_anomaly_block_check(good, nbytes, &used, NULL, msg) == LSTM_OK, "a fresh block: %s",
          msg);
    memcpy(bad, good, nbytes);
    memcpy(bad + 120 + 8 * 3, &(double){1.0}, sizeof(double));
    CHECK(lstm_anomaly_block_check(bad, nbytes, &used, NULL, msg) != LSTM_OK,
          "an unused entry set");
    free(a);
    free(good);
    free(bad);
}

/* ln Q(u) is continuous at the switch to the series, and s = 0.5 where Q = 1e-5. */
static void test_tail(void)
{
    double below = lstm_anomaly_log_tail(nextafter(30.0, 0.0)), above = lstm_anomaly_log_tail(30.0);
    double u5 = 4.264890793922825; /* Q(u5) = 1e-5 */
    double L = -lstm_anomaly_log_tail(u5);

    CHECK(fabs(below - above) < 1e-9 * fabs(above), "ln Q jumps at 30: %.17g vs %.17g", below,
          above);
    CHECK(isfinite(lstm_anomaly_log_tail(1e10)) && lstm_anomaly_log_tail(1e10) < -1e19,
          "ln Q(1e10) = %g", lstm_anomaly_log_tail(1e10));
    CHECK(fabs(lstm_anomaly_log_tail(0.0) - log(0.5)) < 1e-15, "ln Q(0)");
    CHECK(fabs(L / (L + 5.0 * log(10.0)) - 0.5) < 1e-12, "s at Q = 1e-5: %.17g",
          L / (L + 5.0 * log(10.0)));
}

/* Never saturating: the top scores of the reference stream are all distinct. */
static void test_no_ties(void)
{
    LstmAnomalySettings set = fixture_set(2); /* no repeat filter: every row stands alone */
    LstmAnomaly *a = malloc(sizeof(LstmAnomaly));
    double *scores = malloc(sizeof(double) * FIXTURE_ROWS);
    int n = 0, ties = 0, ones = 0;
    LstmAnomalyRow row;

    lstm_anomaly_init(a, &set);
    for (int t = 0; t < FIXTURE_ROWS; t++) {
        feed(a, t, &row);
        if (row.has_score && row.score > 0.1)
            scores[n++] = row.score;
        ones += row.has_score && row.score == 1.0;
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            ties += scores[i] == scores[j];
    CHECK(n > 20 && ties == 0, "%d scores above 0.1, %d ties", n, ties);
    CHECK(ones <= 1, "%d scores of exactly 1 (only an infinite u gives 1)", ones);
    free(a);
    free(scores);
}

int main(void)
{
    test_reference();
    test_split();
    test_settings_ranges();
    test_block_checks();
    test_tail();
    test_no_ties();
    return test_summary();
}
