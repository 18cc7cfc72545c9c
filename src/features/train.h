/*
 * train.h - lstm_train: what the module entry calls at load time.
 */
#ifndef LSTM_FEATURES_TRAIN_H
#define LSTM_FEATURES_TRAIN_H

#include "lstm.h"

/* lstm_train_init: define the lstm.* settings of training (from _PG_init). */
void lstm_train_init(void);

#endif /* LSTM_FEATURES_TRAIN_H */
