/*
 * score_trigger.h - lstm_score_trigger: what the module entry calls at load time.
 */
#ifndef LSTM_FEATURES_SCORE_TRIGGER_H
#define LSTM_FEATURES_SCORE_TRIGGER_H

#include "lstm.h"

/*
 * lstm_score_trigger_init: write cached series states back when statements
 * end, and forget the direct-path decisions when roles change (_PG_init).
 */
void lstm_score_trigger_init(void);

/*
 * lstm_score_trigger_invalidate: the triggers' resolved arguments that
 * depend on relid (all of them for InvalidOid) go stale. Called from the
 * module's one relcache callback (module.c).
 */
void lstm_score_trigger_invalidate(Oid relid);

#endif /* LSTM_FEATURES_SCORE_TRIGGER_H */
