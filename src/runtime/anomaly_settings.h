/*
 * anomaly_settings.h - the anomaly score's settings as the user gives them:
 * a jsonb object (the settings argument of lstm_anomaly_score, lstm_anomaly,
 * lstm_state_agg and lstm_step) or its text (the scoring trigger's seventh
 * argument), checked against the core's table of settings
 * (core/anomaly.h), and the rule that a series keeps the settings it was
 * started with.
 *
 * Errors: 22023 (invalid_parameter_value) naming the setting and its range,
 * for an unknown key, a value of the wrong JSON type, a fraction where an
 * integer is needed, or a value out of range; and for a state continued
 * with settings other than its own.
 */
#ifndef LSTM_RUNTIME_ANOMALY_SETTINGS_H
#define LSTM_RUNTIME_ANOMALY_SETTINGS_H

#include "lstm.h"

#include "utils/jsonb.h"

#include "core/stream.h"

/*
 * lstm_anomaly_settings_read: settings from a jsonb object (NULL: the
 * defaults); keys not given keep their defaults. function names the caller
 * in messages.
 */
void lstm_anomaly_settings_read(Jsonb *settings, const char *function, LstmAnomalySettings *out);

/* lstm_anomaly_settings_parse: the same from JSON text (NULL, '' or 'null': the defaults). */
void lstm_anomaly_settings_parse(const char *text, const char *function, LstmAnomalySettings *out);

/*
 * lstm_anomaly_settings_use: score stream with settings; ERROR (22023) if
 * the stream's state was started with other settings.
 */
void lstm_anomaly_settings_use(LstmStream *stream, const LstmAnomalySettings *settings,
                               const char *function);

/* lstm_anomaly_settings_text: the settings as a JSON object, for messages. */
char *lstm_anomaly_settings_text(const LstmAnomalySettings *settings);

#endif /* LSTM_RUNTIME_ANOMALY_SETTINGS_H */
