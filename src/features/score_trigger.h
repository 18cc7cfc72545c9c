/*
 * score_trigger.h - lstm_score_trigger: what the module entry calls at load time.
 */
#ifndef LSTM_FEATURES_SCORE_TRIGGER_H
#define LSTM_FEATURES_SCORE_TRIGGER_H

#include "lstm.h"

/* lstm_score_trigger_init: write cached series states back when statements end (_PG_init). */
void lstm_score_trigger_init(void);

#endif /* LSTM_FEATURES_SCORE_TRIGGER_H */
