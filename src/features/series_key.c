/*
 * series_key.c - lstm_series_key(value): the text under which lstm_score_trigger
 * and lstm_stream_rebuild keep a series' state in lstm_stream_states, the same
 * in every session whatever its DateStyle, TimeZone, IntervalStyle,
 * extra_float_digits or bytea_output (runtime/column_spec.c has the rules).
 *
 *   SELECT * FROM lstm_stream_states WHERE series = lstm_series_key(42);
 */
#include "lstm.h"

#include "utils/builtins.h"

#include "runtime/column_spec.h"

PG_FUNCTION_INFO_V1(lstm_series_key);

/* lstm_series_key(anyelement) returns text; the key rules are set up once per call site. */
Datum lstm_series_key(PG_FUNCTION_ARGS)
{
    LstmSeriesKey *key = (LstmSeriesKey *)fcinfo->flinfo->fn_extra;

    if (key == NULL) {
        Oid type = get_fn_expr_argtype(fcinfo->flinfo, 0);
        if (!OidIsValid(type))
            ereport(ERROR, (errcode(ERRCODE_INDETERMINATE_DATATYPE),
                            errmsg("lstm_series_key could not determine its argument's type")));
        key = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(LstmSeriesKey));
        lstm_series_key_init_type(key, type, fcinfo->flinfo->fn_mcxt);
        fcinfo->flinfo->fn_extra = key;
    }
    PG_RETURN_TEXT_P(cstring_to_text(lstm_series_key_text(key, PG_GETARG_DATUM(0))));
}
