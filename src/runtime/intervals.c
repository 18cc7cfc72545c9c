/*
 * intervals.c - the level argument, the calibration check and the
 * lstm_interval[] result of the prediction-interval functions (intervals.h).
 */
#include "runtime/intervals.h"

#include <math.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

/* Is level strictly between 0 and 1? */
void lstm_check_level(double level, const char *function)
{
    if (!(level > 0.0 && level < 1.0))
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("%s level must be between 0 and 1 (exclusive), got %g", function, level),
                 errdetail("The level is the probability the interval should hold the "
                           "value: 0.95 for 95 %% intervals.")));
}

/* Does the model hold the calibration of its intervals? */
void lstm_check_calibrated(const LstmDims *dims, const char *function)
{
    if (!dims->calibrated)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("%s needs a model with prediction interval calibration", function),
                 errdetail("This model holds no calibration data: intervals come from the "
                           "validation errors that lstm_train stores in a series-scaled model "
                           "(season or horizon given, validation > 0)."),
                 errhint("Retrain the model with lstm_train(..., horizon => ...).")));
}

/* Build the lstm_interval[] the caller returns. */
Datum lstm_interval_array(FunctionCallInfo fcinfo, int horizon, const double *forecasts,
                          const double *lower, const double *upper)
{
    Oid array_type = get_fn_expr_rettype(fcinfo->flinfo);
    Oid element_type = OidIsValid(array_type) ? get_element_type(array_type) : InvalidOid;
    TupleDesc desc;
    Datum *elems;
    int16 typlen;
    bool typbyval;
    char typalign;

    if (!OidIsValid(element_type))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("prediction intervals must be returned as lstm_interval[]")));
    desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(element_type, -1));
    if (desc->natts != 4)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("lstm_interval must have 4 columns, not %d", desc->natts)));
    elems = palloc(sizeof(Datum) * horizon);
    for (int k = 0; k < horizon; k++) {
        Datum values[4];
        bool nulls[4] = {false, false, false, false};
        values[0] = Int32GetDatum(k + 1);
        values[1] = Float8GetDatum(forecasts[k]);
        values[2] = Float8GetDatum(lower[k]);
        values[3] = Float8GetDatum(upper[k]);
        elems[k] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    }
    get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
    return PointerGetDatum(
        construct_array(elems, horizon, element_type, typlen, typbyval, typalign));
}
