/*
 * models_table.c - the lstm_models table: models stored as rows under a
 * name. The table itself is created by the install script and registered
 * with pg_extension_config_dump so that pg_dump keeps its rows; this file
 * reads a model by name for the name overloads of every inference function.
 */
#include "catalog/models_table.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "access/xact.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/rls.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

#include "catalog/extension.h"

PG_FUNCTION_INFO_V1(lstm_model_by_name);

/*
 * Read the model stored under name, with the caller's privileges, as a
 * validated palloc'd copy in the caller's memory context.
 */
LstmModelDatum *lstm_models_fetch(const char *name)
{
    MemoryContext caller = CurrentMemoryContext;
    Oid argtypes[1] = {TEXTOID};
    Datum args[1];
    char *query;
    int rc;
    bool isnull;
    Datum value;
    LstmModelDatum *copy;

    query = psprintf("SELECT model FROM %s WHERE name OPERATOR(pg_catalog.=) $1",
                     lstm_extension_relation("lstm_models"));
    args[0] = CStringGetTextDatum(name);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    rc = SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "reading lstm_models failed: %s", SPI_result_code_string(rc));
    if (SPI_processed == 0)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("model \"%s\" does not exist", name),
                 errhint("Models are stored in the table lstm_models; "
                         "SELECT name FROM lstm_models lists them.")));
    value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull)
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("model \"%s\" is NULL", name)));
    /* Validate and copy out of SPI's memory before it goes away. */
    MemoryContextSwitchTo(caller);
    copy = lstm_model_from_datum(value);
    if ((Pointer)copy == DatumGetPointer(value)) {
        LstmModelDatum *dup = palloc_extended(VARSIZE(copy), MCXT_ALLOC_HUGE);
        memcpy(dup, copy, VARSIZE(copy));
        copy = dup;
    }
    SPI_finish();
    MemoryContextSwitchTo(caller);
    return copy;
}

/* OID of lstm_models in the extension's schema. */
Oid lstm_models_relation(void)
{
    Oid relid = get_relname_relid("lstm_models", lstm_extension_schema());

    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("table lstm_models of extension lstm does not exist")));
    return relid;
}

/* The policies the install script creates on lstm_models (src/sql/20_models_table.sql). */
static const char *const model_policies[] = {"lstm_models_use", "lstm_models_create",
                                             "lstm_models_change", "lstm_models_delete"};

/*
 * lstm_model_visible(owner, shared_with), the rule of the policy
 * lstm_models_use, for the current role: a member of the owner, or of a role
 * in shared_with, or shared_with holds 0 (public).
 */
static bool model_visible(Oid owner, ArrayType *shared_with)
{
    Oid user = GetUserId();
    Datum *roles;
    bool *nulls;
    int n;
    bool visible = has_privs_of_role(user, owner);

    if (visible)
        return true;
    deconstruct_array(shared_with, REGROLEOID, sizeof(Oid), true, TYPALIGN_INT, &roles, &nulls, &n);
    for (int i = 0; i < n && !visible; i++)
        visible = !nulls[i] && (DatumGetObjectId(roles[i]) == InvalidOid ||
                                has_privs_of_role(user, DatumGetObjectId(roles[i])));
    return visible;
}

/*
 * Where the rows of the models read last were: the next read of a name
 * fetches the version at that TID with the statement's snapshot and takes
 * it if it is visible and still has that name (only one version of a named
 * row is visible to a snapshot), else searches the primary key. A relcache
 * invalidation of lstm_models (TRUNCATE, VACUUM, DDL) forgets them all.
 */
typedef struct ModelRowHint {
    Oid relid; /* InvalidOid: unused */
    char *name;
    ItemPointerData tid;
} ModelRowHint;

#define MODEL_ROW_HINTS 8

static ModelRowHint model_row_hints[MODEL_ROW_HINTS];
static int model_row_hint_next; /* the slot to reuse next */
static bool model_row_hints_registered;

/* Relcache invalidation: forget the hints of relid's rows (all for InvalidOid). */
static void model_row_hints_invalidate(Datum arg, Oid relid)
{
    (void)arg;
    for (int i = 0; i < MODEL_ROW_HINTS; i++) {
        if (relid == InvalidOid || model_row_hints[i].relid == relid)
            model_row_hints[i].relid = InvalidOid;
    }
}

/* The hint for name in relid, or NULL. */
static ModelRowHint *model_row_hint(Oid relid, const char *name)
{
    for (int i = 0; i < MODEL_ROW_HINTS; i++) {
        if (model_row_hints[i].relid == relid && strcmp(model_row_hints[i].name, name) == 0)
            return &model_row_hints[i];
    }
    return NULL;
}

/* Remember where name's row is. */
static void remember_model_row(Oid relid, const char *name, ItemPointer tid)
{
    ModelRowHint *hint = model_row_hint(relid, name);

    if (!model_row_hints_registered) {
        CacheRegisterRelcacheCallback(model_row_hints_invalidate, (Datum)0);
        model_row_hints_registered = true;
    }
    if (hint == NULL) {
        hint = &model_row_hints[model_row_hint_next];
        model_row_hint_next = (model_row_hint_next + 1) % MODEL_ROW_HINTS;
        if (hint->name != NULL)
            pfree(hint->name);
        hint->name = MemoryContextStrdup(TopMemoryContext, name);
        hint->relid = relid;
    }
    hint->tid = *tid;
}

/* Does the tuple's name column hold name? */
static bool row_has_name(HeapTuple tuple, TupleDesc desc, AttrNumber name_att, const char *name)
{
    bool isnull;
    Datum value = heap_getattr(tuple, name_att, desc, &isnull);
    text *stored;

    if (isnull)
        return false;
    stored = DatumGetTextPP(value);
    return VARSIZE_ANY_EXHDR(stored) == strlen(name) &&
           memcmp(VARDATA_ANY(stored), name, strlen(name)) == 0;
}

/* Read the model named name as the current statement and role see it (see models_table.h). */
bool lstm_models_read_direct(Oid relid, const char *name, MemoryContext context, Datum *model,
                             bool *found)
{
    Relation rel = table_open(relid, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    AttrNumber name_att = InvalidAttrNumber, model_att = InvalidAttrNumber,
               owner_att = InvalidAttrNumber, shared_att = InvalidAttrNumber;
    bool filtered;
    Oid index = RelationGetPrimaryKeyIndex(rel);
    ScanKeyData key;
    SysScanDesc scan = NULL;
    Snapshot snapshot;
    HeapTuple tuple = NULL;
    HeapTupleData fetched;
    Buffer buffer = InvalidBuffer;
    ModelRowHint *hint;

    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(desc, i);
        if (attr->attisdropped)
            continue;
        if (strcmp(NameStr(attr->attname), "name") == 0)
            name_att = attr->attnum;
        else if (strcmp(NameStr(attr->attname), "model") == 0)
            model_att = attr->attnum;
        else if (strcmp(NameStr(attr->attname), "owner") == 0)
            owner_att = attr->attnum;
        else if (strcmp(NameStr(attr->attname), "shared_with") == 0)
            shared_att = attr->attnum;
    }
    if (name_att == InvalidAttrNumber || model_att == InvalidAttrNumber ||
        owner_att == InvalidAttrNumber || shared_att == InvalidAttrNumber || !OidIsValid(index) ||
        pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK) {
        table_close(rel, AccessShareLock);
        return false;
    }
    switch (check_enable_rls(relid, InvalidOid, true)) {
    case RLS_NONE:
    case RLS_NONE_ENV:
        filtered = false;
        break;
    default:
        if (!row_security ||
            !lstm_policies_are_own(rel, model_policies, lengthof(model_policies))) {
            table_close(rel, AccessShareLock);
            return false;
        }
        filtered = true;
    }

    /* The snapshot an SPI statement would take: this command's changes visible. */
    CommandCounterIncrement();
    snapshot = RegisterSnapshot(GetTransactionSnapshot());
    *found = false;
    hint = model_row_hint(relid, name);
    if (hint != NULL) {
        fetched.t_self = hint->tid;
        if (heap_fetch(rel, snapshot, &fetched, &buffer, false) &&
            row_has_name(&fetched, desc, name_att, name))
            tuple = &fetched;
        else if (BufferIsValid(buffer))
            ReleaseBuffer(buffer);
    }
    if (tuple == NULL) {
        ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name));
        scan = systable_beginscan(rel, index, true, snapshot, 1, &key);
        tuple = systable_getnext(scan);
        if (HeapTupleIsValid(tuple))
            remember_model_row(relid, name, &tuple->t_self);
    }
    if (HeapTupleIsValid(tuple)) {
        bool owner_null, shared_null, model_null;
        Datum owner = heap_getattr(tuple, owner_att, desc, &owner_null);
        Datum shared = heap_getattr(tuple, shared_att, desc, &shared_null);
        Datum value = heap_getattr(tuple, model_att, desc, &model_null);

        *found = !filtered || (!owner_null && !shared_null &&
                               model_visible(DatumGetObjectId(owner), DatumGetArrayTypeP(shared)));
        if (*found && model_null)
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("model \"%s\" is NULL", name)));
        if (*found) {
            MemoryContext old = MemoryContextSwitchTo(context);
            *model = datumCopy(value, false, -1);
            MemoryContextSwitchTo(old);
        }
    }
    if (scan != NULL)
        systable_endscan(scan);
    else
        ReleaseBuffer(buffer);
    UnregisterSnapshot(snapshot);
    table_close(rel, AccessShareLock);
    return true;
}

/*
 * The owner of the row named name, read through the primary key with the
 * active snapshot and without row-level security (the name is a unique key
 * whatever the caller may see); InvalidOid when there is no such row.
 */
static Oid stored_owner(Relation rel, const char *name)
{
    AttrNumber owner_att = get_attnum(RelationGetRelid(rel), "owner");
    Oid index = RelationGetPrimaryKeyIndex(rel);
    ScanKeyData key;
    SysScanDesc scan;
    HeapTuple tuple;
    Oid owner = InvalidOid;

    if (owner_att == InvalidAttrNumber)
        return InvalidOid; /* the 0.1 table, before ALTER EXTENSION UPDATE: no owners */
    if (!OidIsValid(index))
        elog(ERROR, "lstm_models has no primary key");
    ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name));
    scan = systable_beginscan(rel, index, true, GetActiveSnapshot(), 1, &key);
    tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple)) {
        bool isnull;
        Datum value = heap_getattr(tuple, owner_att, RelationGetDescr(rel), &isnull);
        owner = isnull ? InvalidOid : DatumGetObjectId(value);
    }
    systable_endscan(scan);
    return owner;
}

/*
 * Fail unless the current role may store a model under name: INSERT and
 * UPDATE on lstm_models, and membership in the owner of an existing row of
 * that name (row-level security would refuse the write anyway, but only after
 * the work that produced the model).
 */
void lstm_models_check_writable(const char *name)
{
    Relation rel = table_open(lstm_models_relation(), AccessShareLock);
    Oid owner;

    if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
        pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied for table lstm_models"),
                        errdetail("lstm_train stores the model with INSERT ... ON CONFLICT DO "
                                  "UPDATE, which needs INSERT and UPDATE on lstm_models.")));
    owner = stored_owner(rel, name);
    if (OidIsValid(owner) && !has_privs_of_role(GetUserId(), owner))
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("model \"%s\" belongs to another role", name),
                        errdetail("Only members of a model's owner role may replace it."),
                        errhint("Store the model under another name.")));
    table_close(rel, AccessShareLock);
}

/* lstm_model_by_name(name text): the model stored under name. */
Datum lstm_model_by_name(PG_FUNCTION_ARGS)
{
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    PG_RETURN_POINTER(lstm_models_fetch(name));
}
