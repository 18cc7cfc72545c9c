/*
 * anomaly_settings.c - reading the anomaly score's settings from jsonb or
 * JSON text, with one error per mistake (anomaly_settings.h).
 */
#include "runtime/anomaly_settings.h"

#include <math.h>
#include <stdlib.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "types/lstm_state.h"

/* The ERROR for a bad settings value. */
static void settings_error(const char *function, const char *message) pg_attribute_noreturn();
static void settings_error(const char *function, const char *message)
{
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("invalid anomaly settings for %s: %s", function, message),
                    errhint("Settings are a JSON object with any of the keys residual_window, "
                            "warmup, cap, short_window, long_window, long_warmup, filter, "
                            "threshold, range_tolerance.")));
    pg_unreachable();
}

/* The setting called name (len bytes), or NULL. */
static const LstmAnomalySettingInfo *find_setting(const char *name, int len)
{
    for (int i = 0; i < LSTM_ANOMALY_NSETTINGS; i++) {
        const char *known = lstm_anomaly_setting_info[i].name;
        if ((int)strlen(known) == len && memcmp(known, name, len) == 0)
            return &lstm_anomaly_setting_info[i];
    }
    return NULL;
}

/* "must be an integer in [1, 100], not 2.5" for info. */
static char *out_of_range(const LstmAnomalySettingInfo *info, const char *given)
{
    char range[64];
    lstm_anomaly_setting_range(info, range, sizeof(range));
    return psprintf("%s must be %s in %s, not %s", info->name,
                    info->is_integer ? "an integer" : "a number", range, given);
}

/* Store one setting's JSON value into out. */
static void read_setting(const LstmAnomalySettingInfo *info, const JsonbValue *value,
                         const char *function, LstmAnomalySettings *out)
{
    char *text, *end;
    double v;
    char *field = (char *)out + info->offset;

    if (value->type != jbvNumeric)
        settings_error(function, psprintf("%s must be a number, not %s", info->name,
                                          value->type == jbvString ? "a string"
                                          : value->type == jbvBool ? "a boolean"
                                          : value->type == jbvNull ? "null"
                                                                   : "an array or object"));
    text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(value->val.numeric)));
    v = strtod(text, &end);
    if (info->is_integer) {
        int32 i;
        if (!(v == floor(v) && v >= info->min && v <= info->max))
            settings_error(function, out_of_range(info, text));
        i = (int32)v;
        memcpy(field, &i, sizeof(i));
    } else
        memcpy(field, &v, sizeof(v));
}

/* Settings from a jsonb object; absent keys keep the defaults. */
void lstm_anomaly_settings_read(Jsonb *settings, const char *function, LstmAnomalySettings *out)
{
    JsonbIterator *it;
    JsonbValue v;
    JsonbIteratorToken token;
    const LstmAnomalySettingInfo *info = NULL;
    char message[LSTM_ERRMSG_LEN];

    lstm_anomaly_settings_default(out);
    if (settings == NULL)
        return;
    if (!JB_ROOT_IS_OBJECT(settings) || JB_ROOT_IS_SCALAR(settings))
        settings_error(function, "settings must be a JSON object");
    it = JsonbIteratorInit(&settings->root);
    while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE) {
        if (token == WJB_KEY) {
            info = find_setting(v.val.string.val, v.val.string.len);
            if (info == NULL)
                settings_error(function, psprintf("unknown setting \"%.*s\"", v.val.string.len,
                                                  v.val.string.val));
        } else if (token == WJB_VALUE)
            read_setting(info, &v, function, out);
    }
    if (lstm_anomaly_settings_check(out, message) != LSTM_OK)
        settings_error(function, message);
}

/* Settings from JSON text; NULL, '' and 'null' give the defaults. */
void lstm_anomaly_settings_parse(const char *text, const char *function, LstmAnomalySettings *out)
{
    if (text == NULL || text[0] == '\0' || pg_strcasecmp(text, "null") == 0) {
        lstm_anomaly_settings_default(out);
        return;
    }
    lstm_anomaly_settings_read(DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text))),
                               function, out);
}

/* The settings as JSON text. */
char *lstm_anomaly_settings_text(const LstmAnomalySettings *settings)
{
    StringInfoData out;
    initStringInfo(&out);
    lstm_anomaly_settings_append(&out, settings);
    return out.data;
}

/* Use settings for stream, unless its state has others. */
void lstm_anomaly_settings_use(LstmStream *stream, const LstmAnomalySettings *settings,
                               const char *function)
{
    char message[LSTM_ERRMSG_LEN];

    if (lstm_stream_use_settings(stream, settings, message))
        return;
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("%s: the state was started with other anomaly settings", function),
                    errdetail("The state's settings are %s; the call gives %s.",
                              lstm_anomaly_settings_text(&stream->anomaly.settings),
                              lstm_anomaly_settings_text(settings)),
                    errhint("A series keeps the settings it was started with: pass those, or start "
                            "the series again from NULL.")));
}
