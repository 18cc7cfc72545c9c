/*
 * json.c - the JSON text form shared by lstm_model and lstm_state (json.h):
 * the parser (PostgreSQL's pg_parse_json with callbacks that build a small
 * tree of nodes), the readers with their error messages, the float printer.
 */
#include "types/json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "common/jsonapi.h"
#include "common/shortest_dec.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/jsonfuncs.h"
#include "utils/memutils.h"

/* ---------- parsing: pg_parse_json callbacks building the tree ---------- */

/* An array or object being read: its node, whose items grow as values arrive. */
typedef struct JsonFrame {
    LstmJsonNode node; /* kind and items; length counts the nodes in items */
    int capacity;      /* nodes allocated in node.items */
    const char *key;   /* the object key this value is under (or an outer one), for messages */
} JsonFrame;

/* What the callbacks share. */
typedef struct JsonBuild {
    LstmJson *doc;
    JsonLexContext *lex;
    JsonFrame *frames; /* open arrays and objects, outermost first */
    int depth;         /* frames in use */
    int max_depth;     /* frames allocated */
    const char *key;   /* the key just read, until its value arrives */
} JsonBuild;

/* Raise the error for an array or object with too many values. */
static void json_too_many(const JsonBuild *b, const char *key) pg_attribute_noreturn();
static void json_too_many(const JsonBuild *b, const char *key)
{
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                    errmsg("invalid %s: %s has more than %d values", b->doc->type_name,
                           key ? psprintf("\"%s\"", key) : "the text form", LSTM_JSON_MAX_ELEMENTS),
                    errdetail("No array or object of the text form holds more than %d values.",
                              LSTM_JSON_MAX_ELEMENTS)));
    pg_unreachable();
}

/* Add a finished value to the innermost open array or object, or make it the root. */
static void json_add(JsonBuild *b, const LstmJsonNode *value)
{
    JsonFrame *f;

    if (b->depth == 0) {
        b->doc->root = *value;
        return;
    }
    f = &b->frames[b->depth - 1];
    if (f->node.length == f->capacity) {
        if (f->node.kind == LSTM_JSON_ARRAY ? f->node.length >= LSTM_JSON_MAX_ELEMENTS
                                            : f->node.length >= 2 * LSTM_JSON_MAX_ELEMENTS)
            json_too_many(b, f->key);
        f->capacity = f->capacity == 0 ? 8 : 2 * f->capacity;
        f->node.items = f->node.items == NULL
                            ? palloc(sizeof(LstmJsonNode) * f->capacity)
                            : repalloc(f->node.items, sizeof(LstmJsonNode) * f->capacity);
    }
    f->node.items[f->node.length++] = *value;
}

/* Callback: an array or object starts; open a frame for it. */
static void json_open(JsonBuild *b, LstmJsonKind kind)
{
    JsonFrame *f;

    if (b->depth == b->max_depth) {
        b->max_depth *= 2;
        b->frames = repalloc(b->frames, sizeof(JsonFrame) * b->max_depth);
    }
    f = &b->frames[b->depth];
    memset(f, 0, sizeof(*f));
    f->node.kind = kind;
    if (b->depth > 0)
        f->key = b->frames[b->depth - 1].node.kind == LSTM_JSON_OBJECT
                     ? b->key
                     : b->frames[b->depth - 1].key;
    b->depth++;
}

/* qsort comparator of key strings. */
static int json_compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ERROR if an object holds a key twice. */
static void json_check_duplicates(const LstmJson *doc, const LstmJsonNode *object)
{
    const char **keys;

    if (object->length < 2)
        return;
    keys = palloc(sizeof(char *) * object->length);
    for (int i = 0; i < object->length; i++)
        keys[i] = object->items[2 * i].text;
    qsort(keys, object->length, sizeof(char *), json_compare_keys);
    for (int i = 1; i < object->length; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0)
            lstm_json_error(doc, "Each key may appear once in an object.", "duplicate key \"%s\"",
                            keys[i]);
    }
    pfree(keys);
}

/* Callback: an array or object ends; close its frame and add it to its parent. */
static void json_close(JsonBuild *b)
{
    LstmJsonNode node = b->frames[--b->depth].node;

    CHECK_FOR_INTERRUPTS();
    if (node.kind == LSTM_JSON_OBJECT) {
        node.length /= 2;
        json_check_duplicates(b->doc, &node);
    }
    json_add(b, &node);
}

/* Callback: an object starts. */
static void json_object_start(void *arg)
{
    json_open(arg, LSTM_JSON_OBJECT);
}

/* Callback: an array starts. */
static void json_array_start(void *arg)
{
    json_open(arg, LSTM_JSON_ARRAY);
}

/* Callback: an array or object ends. */
static void json_container_end(void *arg)
{
    json_close(arg);
}

/* Callback: a key of an object; stored as a string node before its value. */
static void json_field_start(void *arg, char *fname, bool isnull)
{
    JsonBuild *b = arg;
    LstmJsonNode key = {.kind = LSTM_JSON_STRING, .length = (int)strlen(fname), .text = fname};

    json_add(b, &key);
    b->key = fname;
}

/*
 * Callback: a scalar. A number keeps its token text; to spare a copy per
 * weight it points into the parsed text when the lexer's position shows
 * where the token was (the parser calls back once the next token is read,
 * so the number ends at prev_token_terminator), else it keeps the copy.
 */
static void json_scalar(void *arg, char *token, JsonTokenType type)
{
    JsonBuild *b = arg;
    LstmJsonNode node = {.text = token};

    switch (type) {
    case JSON_TOKEN_NUMBER: {
        const char *lex_start = b->lex->input;
        const char *lex_end = b->lex->input + b->lex->input_length;
        const char *end = b->lex->prev_token_terminator;
        node.kind = LSTM_JSON_NUMBER;
        node.length = (int)strlen(token);
        if (end != NULL && end - node.length >= lex_start && end <= lex_end &&
            memcmp(end - node.length, token, node.length) == 0) {
            node.text = end - node.length;
            pfree(token);
        }
        break;
    }
    case JSON_TOKEN_STRING:
        node.kind = LSTM_JSON_STRING;
        node.length = (int)strlen(token);
        break;
    case JSON_TOKEN_TRUE:
        node.kind = LSTM_JSON_TRUE;
        break;
    case JSON_TOKEN_FALSE:
        node.kind = LSTM_JSON_FALSE;
        break;
    default:
        node.kind = LSTM_JSON_NULL;
        break;
    }
    json_add(b, &node);
}

/* Parse text into doc (json.h). */
void lstm_json_parse(LstmJson *doc, char *text, const char *type_name, const char *missing_detail)
{
    JsonSemAction sem;
    JsonBuild build;
    JsonParseErrorType result;
    MemoryContext old;

    memset(doc, 0, sizeof(*doc));
    doc->type_name = type_name;
    doc->missing_detail = missing_detail;
    doc->context = AllocSetContextCreate(CurrentMemoryContext, "lstm json", ALLOCSET_DEFAULT_SIZES);
    old = MemoryContextSwitchTo(doc->context);

    memset(&build, 0, sizeof(build));
    build.doc = doc;
    build.lex = makeJsonLexContextCstringLen(text, strlen(text), GetDatabaseEncoding(), true);
    build.max_depth = 8;
    build.frames = palloc(sizeof(JsonFrame) * build.max_depth);
    memset(&sem, 0, sizeof(sem));
    sem.semstate = &build;
    sem.object_start = json_object_start;
    sem.object_end = json_container_end;
    sem.array_start = json_array_start;
    sem.array_end = json_container_end;
    sem.object_field_start = json_field_start;
    sem.scalar = json_scalar;
    result = pg_parse_json(build.lex, &sem);
    if (result != JSON_SUCCESS)
        json_ereport_error(result, build.lex);
    pfree(build.frames);
    MemoryContextSwitchTo(old);
}

/* Release the parsed nodes. */
void lstm_json_free(LstmJson *doc)
{
    MemoryContextDelete(doc->context);
    doc->context = NULL;
}

/* ---------- reading: errors ---------- */

/* "invalid <type>: <message>" (22P02). */
void lstm_json_error(const LstmJson *doc, const char *detail, const char *format, ...)
{
    StringInfoData message;

    initStringInfo(&message);
    for (;;) {
        va_list args;
        int needed;
        va_start(args, format);
        needed = appendStringInfoVA(&message, format, args);
        va_end(args);
        if (needed == 0)
            break;
        enlargeStringInfo(&message, needed);
    }
    ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                    errmsg("invalid %s: %s", doc->type_name, message.data),
                    detail ? errdetail("%s", detail) : 0));
    pg_unreachable();
}

/* Name of a kind of value, for messages. */
static const char *json_kind_text(LstmJsonKind kind)
{
    switch (kind) {
    case LSTM_JSON_NULL:
        return "null";
    case LSTM_JSON_FALSE:
    case LSTM_JSON_TRUE:
        return "a boolean";
    case LSTM_JSON_NUMBER:
        return "a number";
    case LSTM_JSON_STRING:
        return "a string";
    case LSTM_JSON_ARRAY:
        return "an array";
    case LSTM_JSON_OBJECT:
        return "an object";
    }
    return "an unexpected value";
}

/* Name of a value's kind, for messages. */
const char *lstm_json_kind_name(const LstmJsonNode *node)
{
    return json_kind_text(node->kind);
}

/* A number's token as a string; shortened to 20 characters and "..." past 24, for messages. */
static char *json_token_text(const LstmJsonNode *number)
{
    char *text = pnstrdup(number->text, number->length);
    if (number->length > 24)
        strcpy(text + 20, "...");
    return text;
}

/* ---------- reading: objects ---------- */

/* The value under key, or NULL. */
const LstmJsonNode *lstm_json_get(const LstmJsonNode *object, const char *key)
{
    for (int i = 0; i < object->length; i++) {
        if (strcmp(object->items[2 * i].text, key) == 0)
            return &object->items[2 * i + 1];
    }
    return NULL;
}

/* The value under key; ERROR when absent. */
const LstmJsonNode *lstm_json_require(const LstmJson *doc, const LstmJsonNode *object,
                                      const char *key)
{
    const LstmJsonNode *value = lstm_json_get(object, key);
    if (value == NULL)
        lstm_json_error(doc, doc->missing_detail, "missing \"%s\"", key);
    return value;
}

/* ERROR unless node is of kind (true and false are both booleans). */
void lstm_json_expect(const LstmJson *doc, const LstmJsonNode *node, LstmJsonKind kind,
                      const char *name)
{
    if (strcmp(json_kind_text(node->kind), json_kind_text(kind)) != 0)
        lstm_json_error(doc, NULL, "%s must be %s, not %s", name, json_kind_text(kind),
                        lstm_json_kind_name(node));
}

/* ERROR on the first key of object not among keys. */
void lstm_json_check_keys(const LstmJson *doc, const LstmJsonNode *object, const char *const *keys,
                          int nkeys, const char *where, const char *detail)
{
    for (int i = 0; i < object->length; i++) {
        const char *key = object->items[2 * i].text;
        bool known = false;
        for (int k = 0; k < nkeys && !known; k++)
            known = strcmp(keys[k], key) == 0;
        if (!known)
            lstm_json_error(doc, detail, "unexpected key \"%s\"%s%s", key, where ? " in " : "",
                            where ? where : "");
    }
}

/* ---------- reading: scalars ---------- */

/* The required integer under key within [min, max]. */
int64 lstm_json_integer(const LstmJson *doc, const LstmJsonNode *object, const char *key, int64 min,
                        int64 max, int range_errcode)
{
    const LstmJsonNode *v = lstm_json_require(doc, object, key);
    char *text;
    char *end;
    long long value;

    if (v->kind != LSTM_JSON_NUMBER)
        lstm_json_error(doc, NULL, "\"%s\" must be an integer, not %s", key,
                        lstm_json_kind_name(v));
    text = pnstrdup(v->text, v->length);
    errno = 0;
    value = strtoll(text, &end, 10);
    if (*end != '\0')
        lstm_json_error(doc, NULL, "\"%s\" must be an integer, not %s", key, json_token_text(v));
    if (errno == ERANGE || value < min || value > max)
        ereport(ERROR, (errcode(range_errcode), errmsg("invalid %s: \"%s\" %s is out of range",
                                                       doc->type_name, key, json_token_text(v))));
    pfree(text);
    return (int64)value;
}

/* The required size under key, an int. */
int lstm_json_size(const LstmJson *doc, const LstmJsonNode *object, const char *key)
{
    return (int)lstm_json_integer(doc, object, key, INT_MIN, INT_MAX,
                                  ERRCODE_PROGRAM_LIMIT_EXCEEDED);
}

/* ERROR if object has a "format_version" other than version. */
void lstm_json_check_version(const LstmJson *doc, const LstmJsonNode *object, int version)
{
    int64 found;

    if (lstm_json_get(object, "format_version") == NULL)
        return;
    found = lstm_json_integer(doc, object, "format_version", INT_MIN, INT_MAX,
                              ERRCODE_INVALID_TEXT_REPRESENTATION);
    if (found != version)
        lstm_json_error(doc, NULL, "unsupported format_version %d (expected %d)", (int)found,
                        version);
}

/* The optional "scaling", "log" and "season" keys into dims' flags and season. */
void lstm_json_series_options(const LstmJson *doc, const LstmJsonNode *object, LstmDims *dims)
{
    if (lstm_json_get(object, "scaling") != NULL) {
        const char *scaling = lstm_json_string(doc, object, "scaling");
        if (strcmp(scaling, "series") == 0)
            dims->flags |= LSTM_FLAG_SERIES_SCALING;
        else if (strcmp(scaling, "global") != 0)
            lstm_json_error(doc,
                            "\"series\" normalises every series by its own statistics; "
                            "\"global\" (the default) scales with input_mean and input_std.",
                            "\"scaling\" must be \"global\" or \"series\", not \"%s\"", scaling);
    }
    if (lstm_json_get(object, "log") != NULL && lstm_json_boolean(doc, object, "log"))
        dims->flags |= LSTM_FLAG_LOG;
    if (lstm_json_get(object, "season") != NULL)
        dims->season = (int)lstm_json_integer(doc, object, "season", 0, LSTM_MAX_SEASON,
                                              ERRCODE_PROGRAM_LIMIT_EXCEEDED);
}

/* The version-2 options of dims, each key preceded by ", ". */
void lstm_json_append_series_options(StringInfo out, const LstmDims *dims)
{
    appendStringInfo(out, ", \"scaling\": \"%s\", \"log\": %s, \"season\": %d",
                     (dims->flags & LSTM_FLAG_SERIES_SCALING) ? "series" : "global",
                     (dims->flags & LSTM_FLAG_LOG) ? "true" : "false", dims->season);
}

/* The required boolean under key. */
bool lstm_json_boolean(const LstmJson *doc, const LstmJsonNode *object, const char *key)
{
    const LstmJsonNode *v = lstm_json_require(doc, object, key);
    lstm_json_expect(doc, v, LSTM_JSON_TRUE, psprintf("\"%s\"", key));
    return v->kind == LSTM_JSON_TRUE;
}

/* The required string under key. */
const char *lstm_json_string(const LstmJson *doc, const LstmJsonNode *object, const char *key)
{
    const LstmJsonNode *v = lstm_json_require(doc, object, key);
    lstm_json_expect(doc, v, LSTM_JSON_STRING, psprintf("\"%s\"", key));
    return v->text;
}

/* The required finite number under key; a null gives false when nullable. */
bool lstm_json_float8(const LstmJson *doc, const LstmJsonNode *object, const char *key,
                      bool nullable, double *value)
{
    const LstmJsonNode *v = lstm_json_require(doc, object, key);

    *value = 0.0;
    if (nullable && v->kind == LSTM_JSON_NULL)
        return false;
    *value = lstm_json_node_float8(doc, v, psprintf("\"%s\"", key));
    return true;
}

/* A finite number node as float8, named name in messages. */
double lstm_json_node_float8(const LstmJson *doc, const LstmJsonNode *v, const char *name)
{
    char *text;
    char *end;
    double value;

    lstm_json_expect(doc, v, LSTM_JSON_NUMBER, name);
    text = pnstrdup(v->text, v->length);
    value = strtod(text, &end);
    if (*end != '\0' || !isfinite(value))
        lstm_json_error(doc, NULL, "%s = %s is out of range for float8", name, json_token_text(v));
    pfree(text);
    return value;
}

/* The required array of n finite numbers under name (node) into out[n]. */
void lstm_json_float8_array(const LstmJson *doc, const LstmJsonNode *node, const char *name, int n,
                            double *out)
{
    lstm_json_expect(doc, node, LSTM_JSON_ARRAY, psprintf("\"%s\"", name));
    if (node->length != n)
        lstm_json_error(doc, NULL, "\"%s\" has %d values, expected %d", name, node->length, n);
    for (int i = 0; i < n; i++)
        out[i] = lstm_json_node_float8(doc, &node->items[i], psprintf("\"%s\"[%d]", name, i));
}

/* ---------- reading: float32 arrays ---------- */

/* One element of array name as float32; col < 0 for a vector's element. */
static float json_float4(const LstmJson *doc, const LstmJsonNode *v, const char *name, int row,
                         int col)
{
    char digits[64];
    char *text = digits;
    char *end;
    float value;

    if (v->kind != LSTM_JSON_NUMBER) {
        if (col >= 0)
            lstm_json_error(doc, NULL, "%s[%d][%d] must be a number, not %s", name, row, col,
                            lstm_json_kind_name(v));
        lstm_json_error(doc, NULL, "%s[%d] must be a number, not %s", name, row,
                        lstm_json_kind_name(v));
    }
    /* The token is not terminated: copy it (on the stack when short). */
    if (v->length >= (int)sizeof(digits))
        text = palloc(v->length + 1);
    memcpy(text, v->text, v->length);
    text[v->length] = '\0';
    value = strtof(text, &end);
    if (*end != '\0' || !isfinite(value)) {
        if (col >= 0)
            lstm_json_error(doc, NULL, "%s[%d][%d] = %s is out of range for float32", name, row,
                            col, json_token_text(v));
        lstm_json_error(doc, NULL, "%s[%d] = %s is out of range for float32", name, row,
                        json_token_text(v));
    }
    if (text != digits)
        pfree(text);
    return value;
}

/* The expected shape, for details: "(8, 2), as in PyTorch" or "(8)". */
static char *json_shape_detail(int rows, int cols)
{
    if (cols > 0)
        return psprintf("Its shape must be (%d, %d), as in PyTorch.", rows, cols);
    return psprintf("Its shape must be (%d).", rows);
}

/* Read a vector (cols == 0) or a (rows, cols) matrix into out, row-major. */
void lstm_json_float4_array(const LstmJson *doc, const LstmJsonNode *node, const char *name,
                            int rows, int cols, float *out)
{
    if (node->kind != LSTM_JSON_ARRAY)
        lstm_json_error(doc, NULL, "%s must be an array, not %s", name, lstm_json_kind_name(node));
    if (node->length != rows)
        lstm_json_error(doc, json_shape_detail(rows, cols), "%s has %d %s, expected %d", name,
                        node->length,
                        cols > 0 ? (node->length == 1 ? "row" : "rows")
                                 : (node->length == 1 ? "element" : "elements"),
                        rows);
    for (int r = 0; r < rows; r++) {
        const LstmJsonNode *row = &node->items[r];
        if (cols == 0) {
            out[r] = json_float4(doc, row, name, r, -1);
            continue;
        }
        CHECK_FOR_INTERRUPTS();
        if (row->kind != LSTM_JSON_ARRAY)
            lstm_json_error(
                doc,
                psprintf("%s is a (%d, %d) matrix given as an array of rows.", name, rows, cols),
                "%s[%d] must be an array, not %s", name, r, lstm_json_kind_name(row));
        if (row->length != cols)
            lstm_json_error(doc, json_shape_detail(rows, cols), "%s[%d] has %d %s, expected %d",
                            name, r, row->length, row->length == 1 ? "element" : "elements", cols);
        for (int c = 0; c < cols; c++)
            out[(size_t)r * cols + c] = json_float4(doc, &row->items[c], name, r, c);
    }
}

/* ---------- writing ---------- */

/* Append a float32 as the shortest decimal that reads back as it ("-0" for -0.0). */
void lstm_json_append_float4(StringInfo out, float value)
{
    char buf[FLOAT_SHORTEST_DECIMAL_LEN];
    int len = float_to_shortest_decimal_bufn(value, buf);
    appendBinaryStringInfo(out, buf, len);
}

/* Append a float8 as the shortest decimal that reads back as it ("-0" for -0.0). */
void lstm_json_append_float8(StringInfo out, double value)
{
    char buf[DOUBLE_SHORTEST_DECIMAL_LEN];
    int len = double_to_shortest_decimal_bufn(value, buf);
    appendBinaryStringInfo(out, buf, len);
}

/* Append values as a vector (cols == 0) or a (rows, cols) array of rows. */
void lstm_json_append_float4_array(StringInfo out, const void *values, int rows, int cols)
{
    const char *bytes = values;
    int width = cols > 0 ? cols : 1;

    appendStringInfoChar(out, '[');
    for (int r = 0; r < rows; r++) {
        if (r > 0)
            appendStringInfoString(out, ", ");
        if (cols > 0)
            appendStringInfoChar(out, '[');
        for (int c = 0; c < width; c++) {
            float v;
            memcpy(&v, bytes + ((size_t)r * width + c) * sizeof(float), sizeof(float));
            if (c > 0)
                appendStringInfoString(out, ", ");
            lstm_json_append_float4(out, v);
        }
        if (cols > 0)
            appendStringInfoChar(out, ']');
    }
    appendStringInfoChar(out, ']');
}
