/*
 * json.h - the JSON text form shared by lstm_model and lstm_state: a parser
 * built on PostgreSQL's own (common/jsonapi.h) that keeps every number as its
 * token text, readers that turn the parsed document into sizes, flags and
 * float arrays with one set of error messages, and the float printer.
 *
 * Numbers are read from their text with strtof/strtod, so each decimal
 * rounds once, straight to its target type, and "-0" reads as -0.0 (jsonb's
 * numeric has no negative zero). Printing writes the shortest decimal that
 * reads back to the same bits, "-0" included, so text round trips are
 * bit-identical. A decimal too small for its type reads as a zero of its
 * sign ("-1e-50" as float32 is -0.0) or a denormal; one too large is an error.
 *
 * Every error names the type: "invalid lstm_model: ...", SQLSTATE 22P02
 * (invalid_text_representation), or 54000 for a size or array too large.
 * A key that appears twice in one object is an error.
 */
#ifndef LSTM_TYPES_JSON_H
#define LSTM_TYPES_JSON_H

#include "lstm.h"

#include "lib/stringinfo.h"

/*
 * Longest array (and largest object) a text form may hold, checked while
 * parsing: above every array of either type (a weight matrix has at most
 * 4 * LSTM_MAX_HIDDEN rows of at most LSTM_MAX_HIDDEN columns; h and c have
 * at most LSTM_MAX_LAYERS rows).
 */
#define LSTM_JSON_MAX_ELEMENTS (LSTM_MAX_LAYERS * LSTM_MAX_HIDDEN)

/* What a JSON value is. */
typedef enum LstmJsonKind {
    LSTM_JSON_NULL,
    LSTM_JSON_FALSE,
    LSTM_JSON_TRUE,
    LSTM_JSON_NUMBER,
    LSTM_JSON_STRING,
    LSTM_JSON_ARRAY,
    LSTM_JSON_OBJECT
} LstmJsonKind;

/*
 * One value of a parsed document, 16 bytes, so that a model's millions of
 * weights cost little more than their text:
 *   number  text: its token, pointing into the parsed text (not terminated),
 *           length bytes
 *   string  text: the de-escaped value, NUL-terminated, length bytes
 *   array   items: length elements
 *   object  items: 2 * length nodes, key (a string) then value, in text order
 */
typedef struct LstmJsonNode {
    LstmJsonKind kind;
    int length;
    union {
        const char *text;
        struct LstmJsonNode *items;
    };
} LstmJsonNode;

/* A parsed document: its root and what the messages about it say. */
typedef struct LstmJson {
    const char *type_name;      /* "lstm_model" or "lstm_state" */
    const char *missing_detail; /* errdetail of a missing required key */
    LstmJsonNode root;          /* the whole text */
    MemoryContext context;      /* holds the nodes; lstm_json_free drops it */
} LstmJson;

/*
 * lstm_json_parse: parse text (which must outlive doc) with PostgreSQL's JSON
 * parser: its syntax errors as for type json, then an error for a duplicate
 * key or an array or object of more than LSTM_JSON_MAX_ELEMENTS values.
 */
void lstm_json_parse(LstmJson *doc, char *text, const char *type_name, const char *missing_detail);

/* lstm_json_free: release the parsed nodes. */
void lstm_json_free(LstmJson *doc);

/* lstm_json_error: "invalid <type>: <message>" (22P02), detail optional. */
void lstm_json_error(const LstmJson *doc, const char *detail, const char *format, ...)
    pg_attribute_printf(3, 4) pg_attribute_noreturn();

/* lstm_json_kind_name: "a number", "an array", ... for messages. */
const char *lstm_json_kind_name(const LstmJsonNode *node);

/* lstm_json_get: the value under key in object, or NULL when absent. */
const LstmJsonNode *lstm_json_get(const LstmJsonNode *object, const char *key);

/* lstm_json_require: the value under key; ERROR when absent. */
const LstmJsonNode *lstm_json_require(const LstmJson *doc, const LstmJsonNode *object,
                                      const char *key);

/* lstm_json_expect: ERROR unless node is of kind: "<name> must be <kind>, not <kind>". */
void lstm_json_expect(const LstmJson *doc, const LstmJsonNode *node, LstmJsonKind kind,
                      const char *name);

/*
 * lstm_json_check_keys: ERROR on the first key of object not among
 * keys[nkeys]: "unexpected key "k" in <where>" (where may be NULL).
 */
void lstm_json_check_keys(const LstmJson *doc, const LstmJsonNode *object, const char *const *keys,
                          int nkeys, const char *where, const char *detail);

/*
 * lstm_json_integer: the required integer under key (digits only, no
 * fraction or exponent) within [min, max]; out of range is an ERROR with
 * range_errcode.
 */
int64 lstm_json_integer(const LstmJson *doc, const LstmJsonNode *object, const char *key, int64 min,
                        int64 max, int range_errcode);

/* lstm_json_size: the required size under key, an int (54000 when out of range). */
int lstm_json_size(const LstmJson *doc, const LstmJsonNode *object, const char *key);

/*
 * lstm_json_check_version: ERROR if object has a "format_version" other than
 * version (the key itself is optional).
 */
void lstm_json_check_version(const LstmJson *doc, const LstmJsonNode *object, int version);

/*
 * lstm_json_series_options: the optional version-2 keys of object into dims:
 * "scaling" ("global", the default, or "series": LSTM_FLAG_SERIES_SCALING),
 * "log" (boolean, default false: LSTM_FLAG_LOG) and "season" (integer 0 to
 * LSTM_MAX_SEASON, default 0). The rules between them are lstm_dims_check's.
 */
void lstm_json_series_options(const LstmJson *doc, const LstmJsonNode *object, LstmDims *dims);

/* lstm_json_append_series_options: ", "scaling": ..., "log": ..., "season": ..." for dims. */
void lstm_json_append_series_options(StringInfo out, const LstmDims *dims);

/* lstm_json_boolean: the required boolean under key. */
bool lstm_json_boolean(const LstmJson *doc, const LstmJsonNode *object, const char *key);

/* lstm_json_string: the required string under key. */
const char *lstm_json_string(const LstmJson *doc, const LstmJsonNode *object, const char *key);

/*
 * lstm_json_float8: the required finite number under key into *value; with
 * nullable, a null gives false (and *value 0).
 */
bool lstm_json_float8(const LstmJson *doc, const LstmJsonNode *object, const char *key,
                      bool nullable, double *value);

/* lstm_json_float8_array: node, named name, as an array of n finite numbers into out[n]. */
void lstm_json_float8_array(const LstmJson *doc, const LstmJsonNode *node, const char *name, int n,
                            double *out);

/* lstm_json_node_float8: a finite number node as float8, named name in messages. */
double lstm_json_node_float8(const LstmJson *doc, const LstmJsonNode *node, const char *name);

/*
 * lstm_json_float4_array: read node, named name in messages, as a vector of
 * rows numbers (cols == 0) or a (rows, cols) matrix given as an array of
 * rows, into out[rows * max(cols, 1)], row-major; each number finite in
 * float32.
 */
void lstm_json_float4_array(const LstmJson *doc, const LstmJsonNode *node, const char *name,
                            int rows, int cols, float *out);

/* lstm_json_append_float4: the shortest decimal that reads back as value ("-0" for -0.0). */
void lstm_json_append_float4(StringInfo out, float value);

/* lstm_json_append_float8: the shortest decimal that reads back as value ("-0" for -0.0). */
void lstm_json_append_float8(StringInfo out, double value);

/*
 * lstm_json_append_float4_array: values as a vector of rows numbers
 * (cols == 0) or a (rows, cols) array of rows; values may be unaligned.
 */
void lstm_json_append_float4_array(StringInfo out, const void *values, int rows, int cols);

#endif /* LSTM_TYPES_JSON_H */
