/*
 * pass_row.c - a BEFORE ROW trigger in C that returns the new row unchanged:
 * PostgreSQL's own cost of calling any row trigger, the floor the scoring
 * trigger is measured against in trigger_bench.sh (built there with cc, loaded
 * by absolute path; not part of the extension).
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(bench_pass_row);

/* bench_pass_row(): the row as it came. */
Datum bench_pass_row(PG_FUNCTION_ARGS)
{
    TriggerData *td = (TriggerData *)fcinfo->context;

    if (!CALLED_AS_TRIGGER(fcinfo))
        elog(ERROR, "bench_pass_row must be called as a trigger");
    return PointerGetDatum(td->tg_trigtuple);
}
