/*
 * lstm_state.h - the lstm_state SQL type: a varlena whose payload is the
 * core's serialized series state (core/stream.h). The header inside is not
 * 8-byte aligned, so it is always copied out with lstm_state_read_header().
 */
#ifndef LSTM_TYPES_LSTM_STATE_H
#define LSTM_TYPES_LSTM_STATE_H

#include "lstm.h"

#include "lib/stringinfo.h"

#include "core/stream.h"

/* Raise the ERROR for a failed lstm_state check (never returns). */
void lstm_report_state_error(LstmError err, const char *message, LstmValueSource source)
    pg_attribute_noreturn();

/* lstm_state_from_datum: detoast a stored lstm_state and validate it (XX001). */
struct varlena *lstm_state_from_datum(Datum datum);

/*
 * lstm_state_check_model: ERROR unless the validated state was made by the
 * model with these sizes and fingerprint.
 */
void lstm_state_check_model(const struct varlena *state, const LstmDims *dims, uint64 fingerprint);

/*
 * lstm_state_make: a new lstm_state holding stream, for the model with these
 * sizes and fingerprint, checked like a stored value (an overflowing state is
 * a 22003 out-of-range error).
 */
struct varlena *lstm_state_make(const LstmStream *stream, const LstmDims *dims, uint64 fingerprint);

/*
 * lstm_anomaly_settings_append: the settings as a JSON object, every key
 * (as the text form and lstm_state_info show them).
 */
void lstm_anomaly_settings_append(StringInfo out, const LstmAnomalySettings *settings);

#endif /* LSTM_TYPES_LSTM_STATE_H */
