/*
 * models_table.c - the lstm_models table: models stored as rows under a
 * name. The table itself is created by the install script and registered
 * with pg_extension_config_dump so that pg_dump keeps its rows; this file
 * reads a model by name for the name overloads of every inference function.
 *
 * On Citus, lstm_models may be a reference table: on a node holding a copy
 * (a placement, the shard lstm_models_<shardid> beside the table), lookups by
 * name read that copy, so that a query Citus pushed down to the node reads
 * the node's own copy instead of starting a distributed query from inside
 * one. Citus is found through its catalog tables only (no link or load
 * dependency), once per backend until the table's metadata changes.
 */
#include "catalog/models_table.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
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
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog/extension.h"

PG_FUNCTION_INFO_V1(lstm_model_by_name);

/* ---------- the relation lookups read ---------- */

/*
 * The relation lookups by name read, kept for the life of the backend until
 * a relcache invalidation of lstm_models or of that relation (Citus sends
 * one for the table whenever its metadata or placements change). An
 * invalidation that arrives while the target is being found (any relation's:
 * the one concerned may not be known yet) leaves it unkept.
 */
typedef struct ModelsReadTarget {
    bool valid;
    Oid table;  /* lstm_models */
    Oid relid;  /* what to read: the table, or its placement on this node */
    char *name; /* relid's quoted, schema-qualified name (TopMemoryContext) */
} ModelsReadTarget;

static ModelsReadTarget read_target;
static bool read_target_finding;         /* lstm_models_read_relation is at work */
static uint64 read_target_invalidations; /* invalidations seen that concern it */

/* Relcache invalidation: forget the target if it concerns either relation. */
static void read_target_invalidate(Oid relid)
{
    if (read_target_finding || !OidIsValid(relid) || relid == read_target.table ||
        relid == read_target.relid) {
        read_target.valid = false;
        read_target_invalidations++;
    }
}

/*
 * The shard id of table's placement on this node when Citus is installed in
 * this database and table is a Citus reference table placed here; 0 otherwise
 * (plain PostgreSQL, a plain table, or a node without a copy).
 */
static int64 citus_local_placement(Oid table)
{
    const char *query =
        "SELECT s.shardid FROM pg_catalog.pg_dist_partition p "
        "JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid "
        "JOIN pg_catalog.pg_dist_placement pl ON pl.shardid OPERATOR(pg_catalog.=) s.shardid "
        "WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1 "
        "AND p.partmethod OPERATOR(pg_catalog.=) 'n'::pg_catalog.\"char\" "
        "AND p.repmodel OPERATOR(pg_catalog.=) 't'::pg_catalog.\"char\" "
        "AND pl.groupid OPERATOR(pg_catalog.=) "
        "(SELECT groupid FROM pg_catalog.pg_dist_local_group)";
    Oid argtypes[1] = {REGCLASSOID};
    Datum args[1] = {ObjectIdGetDatum(table)};
    int64 shardid = 0;
    int rc;

    if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)) ||
        !OidIsValid(get_extension_oid("citus", true)))
        return 0;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    rc = SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "reading Citus's placements of lstm_models failed: %s",
             SPI_result_code_string(rc));
    if (SPI_processed > 0) {
        bool isnull;
        Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        if (!isnull)
            shardid = DatumGetInt64(value);
    }
    SPI_finish();
    return shardid;
}

/*
 * The relation lookups by name read: lstm_models, or on a Citus node holding
 * a copy of it as a reference table, that copy (lstm_models_<shardid> in the
 * extension's schema). Looked up once and kept until an invalidation.
 */
Oid lstm_models_read_relation(void)
{
    Oid table, relid;
    int64 shardid;
    char *name;
    uint64 invalidations = read_target_invalidations;

    if (read_target.valid)
        return read_target.relid;
    /* (after an error here it stays set, which only forgets a target not yet kept) */
    read_target_finding = true;
    table = lstm_models_relation();
    shardid = citus_local_placement(table);
    read_target_finding = false;
    relid = table;
    if (shardid != 0) {
        Oid shard = get_relname_relid(psprintf("lstm_models_" INT64_FORMAT, shardid),
                                      get_rel_namespace(table));
        if (OidIsValid(shard))
            relid = shard;
    }
    name = MemoryContextStrdup(
        TopMemoryContext, quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                                     get_rel_name(relid)));
    if (read_target.name != NULL)
        pfree(read_target.name);
    read_target.name = name;
    read_target.table = table;
    read_target.relid = relid;
    read_target.valid = read_target_invalidations == invalidations;
    return relid;
}

/* Quoted, schema-qualified name of lstm_models_read_relation(), for SQL. */
const char *lstm_models_read_name(void)
{
    lstm_models_read_relation();
    return read_target.name;
}

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
                     lstm_models_read_name());
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

/* The columns lstm_models_read_direct reads, and the primary key, of one models relation. */
typedef struct ModelColumns {
    Oid relid; /* InvalidOid: not known */
    AttrNumber name, model, owner, shared_with;
    Oid index;
} ModelColumns;

static ModelColumns known_columns; /* of the relation read last, until its next invalidation */

/* The columns of rel (looked up when rel is not the relation known, or it changed since). */
static const ModelColumns *model_columns(Relation rel)
{
    TupleDesc desc = RelationGetDescr(rel);

    if (known_columns.relid == RelationGetRelid(rel))
        return &known_columns;
    memset(&known_columns, 0, sizeof(known_columns));
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(desc, i);
        if (attr->attisdropped)
            continue;
        if (strcmp(NameStr(attr->attname), "name") == 0)
            known_columns.name = attr->attnum;
        else if (strcmp(NameStr(attr->attname), "model") == 0)
            known_columns.model = attr->attnum;
        else if (strcmp(NameStr(attr->attname), "owner") == 0)
            known_columns.owner = attr->attnum;
        else if (strcmp(NameStr(attr->attname), "shared_with") == 0)
            known_columns.shared_with = attr->attnum;
    }
    known_columns.index = RelationGetPrimaryKeyIndex(rel);
    known_columns.relid = RelationGetRelid(rel);
    return &known_columns;
}

/*
 * How lstm_models_read_direct may read the relation read last, decided for
 * one role, security context and row_security setting: directly or not (no
 * SELECT privilege, policies other than the extension's own, row_security
 * off where they apply, an older version's table), and with the policies
 * applied in C or not (no row-level security for the role). A relcache
 * invalidation of the relation (GRANT, REVOKE, policies, ownership, row
 * security settings) and any change of a role or a membership (superuser,
 * BYPASSRLS, inherited privileges) make it be decided again.
 */
typedef struct ModelAccess {
    Oid relid; /* InvalidOid: nothing decided */
    Oid user;
    int security_context;
    bool row_security;
    bool direct;   /* read through the primary key (else through SQL) */
    bool filtered; /* applying the extension's policies in C */
} ModelAccess;

static ModelAccess known_access;
static bool access_callbacks; /* the role callbacks are registered */

/* A role or a membership changed: decide the access again. */
static void model_access_forget(Datum arg, int cacheid, uint32 hashvalue)
{
    (void)arg;
    (void)cacheid;
    (void)hashvalue;
    known_access.relid = InvalidOid;
}

/* The access to rel (whose columns are columns) for the current role, decided if need be. */
static const ModelAccess *model_access(Relation rel, const ModelColumns *columns)
{
    Oid relid = RelationGetRelid(rel), user;
    int security_context;
    ModelAccess decided;

    GetUserIdAndSecContext(&user, &security_context);
    if (known_access.relid == relid && known_access.user == user &&
        known_access.security_context == security_context &&
        known_access.row_security == row_security)
        return &known_access;
    if (!access_callbacks) {
        CacheRegisterSyscacheCallback(AUTHOID, model_access_forget, (Datum)0);
        CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, model_access_forget, (Datum)0);
        access_callbacks = true;
    }
    memset(&decided, 0, sizeof(decided));
    decided.relid = relid;
    decided.user = user;
    decided.security_context = security_context;
    decided.row_security = row_security;
    if (columns->name != InvalidAttrNumber && columns->model != InvalidAttrNumber &&
        columns->owner != InvalidAttrNumber && columns->shared_with != InvalidAttrNumber &&
        OidIsValid(columns->index) && pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK) {
        switch (check_enable_rls(relid, InvalidOid, true)) {
        case RLS_NONE:
        case RLS_NONE_ENV:
            decided.direct = true;
            break;
        default:
            decided.direct = row_security &&
                             lstm_policies_are_own(rel, model_policies, lengthof(model_policies));
            decided.filtered = true;
        }
    }
    known_access = decided;
    return &known_access;
}

/* Relcache invalidation: forget the hints of relid's rows (all for InvalidOid). */
static void model_row_hints_invalidate(Oid relid)
{
    if (relid == InvalidOid || known_columns.relid == relid)
        known_columns.relid = InvalidOid;
    if (relid == InvalidOid || known_access.relid == relid)
        known_access.relid = InvalidOid;
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
bool lstm_models_read_direct(Oid relid, const char *name, Snapshot snapshot, MemoryContext context,
                             Datum *model, bool *found)
{
    Relation rel = table_open(relid, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    const ModelColumns *columns = model_columns(rel);
    AttrNumber name_att = columns->name, model_att = columns->model, owner_att = columns->owner,
               shared_att = columns->shared_with;
    const ModelAccess *access = model_access(rel, columns);
    bool filtered = access->filtered;
    Oid index = columns->index;
    ScanKeyData key;
    SysScanDesc scan = NULL;
    bool own_snapshot = snapshot == InvalidSnapshot;
    HeapTuple tuple = NULL;
    HeapTupleData fetched;
    Buffer buffer = InvalidBuffer;
    ModelRowHint *hint;

    if (!access->direct) {
        table_close(rel, NoLock);
        return false;
    }

    if (own_snapshot) {
        /* The snapshot an SPI statement would take: this command's changes visible. */
        CommandCounterIncrement();
        snapshot = RegisterSnapshot(GetTransactionSnapshot());
    }
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
        bool model_null;
        Datum value = heap_getattr(tuple, model_att, desc, &model_null);

        *found = true;
        if (filtered) {
            bool owner_null, shared_null;
            Datum owner = heap_getattr(tuple, owner_att, desc, &owner_null);
            Datum shared = heap_getattr(tuple, shared_att, desc, &shared_null);
            *found = !owner_null && !shared_null &&
                     model_visible(DatumGetObjectId(owner), DatumGetArrayTypeP(shared));
        }
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
    if (own_snapshot)
        UnregisterSnapshot(snapshot);
    table_close(rel, NoLock); /* the lock is held to the transaction's end, as a SELECT's */
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
 * UPDATE on lstm_models, the table of this version (with notes), and
 * membership in the owner of an existing row of that name (row-level security
 * would refuse the write anyway, but only after the work that produced the
 * model).
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
    if (get_attnum(RelationGetRelid(rel), "notes") == InvalidAttrNumber)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("lstm_train needs the extension's version 0.3 objects"),
                        errdetail("The installed library stores the training report in "
                                  "lstm_models.notes; the table in this database is still that of "
                                  "an older version."),
                        errhint("Run ALTER EXTENSION lstm UPDATE.")));
    owner = stored_owner(rel, name);
    if (OidIsValid(owner) && !has_privs_of_role(GetUserId(), owner))
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("model \"%s\" belongs to another role", name),
                        errdetail("Only members of a model's owner role may replace it."),
                        errhint("Store the model under another name.")));
    table_close(rel, AccessShareLock);
}

/* lstm_models_invalidate: a relcache invalidation of relid (see models_table.h). */
void lstm_models_invalidate(Oid relid)
{
    read_target_invalidate(relid);
    model_row_hints_invalidate(relid);
}

/* lstm_model_by_name(name text): the model stored under name. */
Datum lstm_model_by_name(PG_FUNCTION_ARGS)
{
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    PG_RETURN_POINTER(lstm_models_fetch(name));
}
