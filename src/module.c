/*
 * module.c - the module entry: PG_MODULE_MAGIC and _PG_init, which sets the
 * library up once per backend and calls each module's init. It sits on top
 * of every layer (it calls into the features); the SQLSTATE mapping every
 * layer shares is src/lstm.c, at the bottom.
 */
#include "lstm.h"

#include "utils/guc.h"

#include "features/score_trigger.h"
#include "features/train.h"

#include <cblas.h>

PG_MODULE_MAGIC;

void _PG_init(void);

/*
 * _PG_init: a backend is one process serving one query at a time, so
 * OpenBLAS runs single-threaded inside it (parallelism comes from running
 * more backends, one per series or partition); defines the lstm.* settings;
 * installs the hooks that write the scoring trigger's states when statements end.
 */
void _PG_init(void)
{
    openblas_set_num_threads(1);
    lstm_train_init();
    lstm_score_trigger_init();
    MarkGUCPrefixReserved("lstm");
}
