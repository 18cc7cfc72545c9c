/*
 * module.c - the module entry: PG_MODULE_MAGIC and _PG_init, which sets the
 * library up once per backend and calls each module's init. It sits on top
 * of every layer (it calls into the features); the SQLSTATE mapping every
 * layer shares is src/lstm.c, at the bottom.
 */
#include "lstm.h"

#include "utils/guc.h"
#include "utils/inval.h"

#include "catalog/models_table.h"
#include "features/score_trigger.h"
#include "features/stream_states.h"
#include "features/train.h"

#include <cblas.h>

PG_MODULE_MAGIC;

void _PG_init(void);

/*
 * The module's one relcache callback (PostgreSQL has room for ten in a
 * backend, shared with every other library: Citus alone takes several): it
 * tells each module that keeps something about relations.
 */
static void relcache_invalidated(Datum arg, Oid relid)
{
    (void)arg;
    lstm_models_invalidate(relid);
    lstm_state_rows_invalidate(relid);
    lstm_score_trigger_invalidate(relid);
}

/*
 * _PG_init: a backend is one process serving one query at a time, so
 * OpenBLAS runs single-threaded inside it (parallelism comes from running
 * more backends, one per series or partition); defines the lstm.* settings;
 * installs the hooks that write the scoring trigger's states when statements end
 * and the one relcache callback of the caches that outlive a statement.
 */
void _PG_init(void)
{
    openblas_set_num_threads(1);
    lstm_train_init();
    lstm_score_trigger_init();
    CacheRegisterRelcacheCallback(relcache_invalidated, (Datum)0);
    MarkGUCPrefixReserved("lstm");
}
