/*
 * stream_states.c - direct access to the rows of lstm_stream_states for
 * lstm_score_trigger (see stream_states.h): an index scan of the primary key,
 * table_tuple_lock, and a heap update with its index entries.
 */
#include "features/stream_states.h"

#include "catalog/extension.h"
#include "runtime/bytes_key.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "rewrite/rowsecurity.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* The extension's policies on lstm_stream_states (src/sql/60_trigger.sql). */
static const char *const own_policies[] = {"lstm_stream_states_read", "lstm_stream_states_create",
                                           "lstm_stream_states_change",
                                           "lstm_stream_states_delete"};

/* Does the caller see and change every row of source's states as SQL would let it? */
static bool rights_allow(Relation rel, Oid source)
{
    Oid user = GetUserId();

    if (pg_class_aclcheck(RelationGetRelid(rel), user, ACL_SELECT | ACL_UPDATE) != ACLCHECK_OK)
        return false; /* SPI raises the permission error */
    switch (check_enable_rls(RelationGetRelid(rel), InvalidOid, true)) {
    case RLS_NONE:
    case RLS_NONE_ENV:
        return true;
    default:
        /* (with row_security off the SQL raises an error: leave that to it) */
        return row_security && lstm_policies_are_own(rel, own_policies, lengthof(own_policies)) &&
               pg_class_aclcheck(source, user, ACL_INSERT) == ACLCHECK_OK;
    }
}

/* Is the table as plain as the direct path needs (see stream_states.h)? */
static bool table_is_plain(Relation rel)
{
    List *indexes = RelationGetIndexList(rel);
    bool plain = rel->rd_rel->relam == HEAP_TABLE_AM_OID && rel->rd_rules == NULL &&
                 list_length(indexes) == 1 &&
                 linitial_oid(indexes) == RelationGetPrimaryKeyIndex(rel);

    if (plain && rel->trigdesc != NULL) {
        for (int i = 0; i < rel->trigdesc->numtriggers; i++)
            plain =
                plain && RI_FKey_trigger_type(rel->trigdesc->triggers[i].tgfoid) != RI_TRIGGER_NONE;
    }
    list_free(indexes);
    return plain;
}

/* The heap column of a name, or InvalidAttrNumber. */
static AttrNumber column(Relation rel, const char *name)
{
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(desc, i);
        if (!attr->attisdropped && strcmp(NameStr(attr->attname), name) == 0)
            return attr->attnum;
    }
    return InvalidAttrNumber;
}

/* Set table up for the direct path; false if SPI must be used. */
bool lstm_state_table_direct(LstmStateTable *table, Oid schema, Oid source)
{
    static const char *const key_names[3] = {"model_name", "source", "series"};
    Oid relid = get_relname_relid("lstm_stream_states", schema);
    Relation rel, index;
    bool usable;

    memset(table, 0, sizeof(*table));
    if (!OidIsValid(relid))
        return false;
    rel = table_open(relid, AccessShareLock);
    usable = table_is_plain(rel) && rights_allow(rel, source);
    if (usable) {
        table->relid = relid;
        table->index = RelationGetPrimaryKeyIndex(rel);
        table->state = column(rel, "state");
        table->last_time = column(rel, "last_time");
        table->last_time_type = column(rel, "last_time_type");
        table->late_rows = column(rel, "late_rows");
        table->updated_at = column(rel, "updated_at");
        index = index_open(table->index, AccessShareLock);
        usable = index->rd_index->indnkeyatts == 3;
        for (int k = 0; k < 3 && usable; k++) {
            table->key[k] = column(rel, key_names[k]);
            for (int c = 0; c < 3; c++) {
                if (index->rd_index->indkey.values[c] == table->key[k])
                    table->key_column[k] = c + 1;
            }
            usable = table->key_column[k] != 0;
        }
        index_close(index, AccessShareLock);
    }
    table_close(rel, AccessShareLock);
    return usable;
}

/* Columns of lstm_stream_states next_version keeps on the stack (it has 8). */
#define STATE_COLUMNS_HERE 16

/* ---------- where each series' row is, as this backend last saw it ---------- */

/*
 * Where a series' row is, as this backend last found or wrote it: the root
 * of its HOT chain (the TID its primary key entry points to, which HOT
 * updates by any session leave in place) and the version this backend wrote
 * last, with the writing transaction. The next statement reaching the series
 * walks that chain as an index fetch would (visible version, snapshot) and
 * locks it, instead of searching the index; the key of what it finds is
 * checked first, and anything else (a non-HOT update moved the row, the line
 * pointer was reused) falls back to the index. A relcache invalidation of
 * lstm_stream_states (TRUNCATE, VACUUM's relpages, DDL) forgets every entry,
 * so no TID points past the table's end.
 */
typedef LstmBytesKey KnownRowKey; /* states table OID, source OID, model name, NUL, series */

typedef struct KnownRow {
    KnownRowKey key;
    ItemPointerData root;       /* the HOT chain's root (invalid: unknown) */
    ItemPointerData written;    /* the version this backend wrote last (invalid: none) */
    TransactionId written_xmin; /* and the transaction that wrote it */
    uint32 written_len;         /* and its length (0: not known) */
} KnownRow;

#define KNOWN_ROWS_MAX 65536 /* forget them all beyond this many series */

static HTAB *known_rows;
static uint64 known_rows_generation; /* times forgotten: entries of an older one are gone */
static Oid known_rows_relid;         /* the lstm_stream_states they are rows of */
static MemoryContext known_rows_context;
static StringInfoData known_key_buffer;

/* Forget every known row. */
static void known_rows_forget_all(void)
{
    if (known_rows_context != NULL)
        MemoryContextReset(known_rows_context);
    known_rows = NULL;
    known_rows_generation++;
}

/* Relcache invalidation: forget the rows if lstm_stream_states (or every relation) changed. */
void lstm_state_rows_invalidate(Oid relid)
{
    if (known_rows != NULL && (relid == InvalidOid || relid == known_rows_relid))
        known_rows_forget_all();
}

/* The lookup key of a series' row (in a buffer reused by every call). */
static KnownRowKey known_row_key(Oid relid, const Datum key[3])
{
    text *model = DatumGetTextPP(key[0]);
    text *series = DatumGetTextPP(key[2]);
    int model_len = VARSIZE_ANY_EXHDR(model), series_len = VARSIZE_ANY_EXHDR(series);
    Oid oids[2] = {relid, DatumGetObjectId(key[1])};
    KnownRowKey k;
    char *at;

    if (known_key_buffer.data == NULL) {
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        initStringInfo(&known_key_buffer);
        MemoryContextSwitchTo(old);
    }
    /* oids, model name, NUL, series: one copy each */
    resetStringInfo(&known_key_buffer);
    enlargeStringInfo(&known_key_buffer, sizeof(oids) + model_len + 1 + series_len);
    at = known_key_buffer.data;
    memcpy(at, oids, sizeof(oids));
    memcpy(at + sizeof(oids), VARDATA_ANY(model), model_len);
    at[sizeof(oids) + model_len] = '\0';
    memcpy(at + sizeof(oids) + model_len + 1, VARDATA_ANY(series), series_len);
    known_key_buffer.len = sizeof(oids) + model_len + 1 + series_len;
    k.data = known_key_buffer.data;
    k.len = known_key_buffer.len;
    return k;
}

/* The row of key as this backend last wrote it, or NULL. */
static KnownRow *known_row_find(Oid relid, const Datum key[3])
{
    KnownRowKey k;

    if (known_rows == NULL || relid != known_rows_relid)
        return NULL;
    k = known_row_key(relid, key);
    return hash_search(known_rows, &k, HASH_FIND, NULL);
}

/* The entry of key's row, created (nothing known yet) if there is none. */
static KnownRow *known_row_enter(Oid relid, const Datum key[3])
{
    KnownRowKey k;
    KnownRow *entry;
    bool found;

    if (known_rows != NULL &&
        (relid != known_rows_relid || hash_get_num_entries(known_rows) >= KNOWN_ROWS_MAX))
        known_rows_forget_all();
    if (known_rows == NULL) {
        if (known_rows_context == NULL)
            known_rows_context = AllocSetContextCreate(TopMemoryContext, "lstm known state rows",
                                                       ALLOCSET_DEFAULT_SIZES);
        known_rows =
            lstm_bytes_key_table("lstm known state rows", sizeof(KnownRow), known_rows_context);
        known_rows_relid = relid;
    }
    k = known_row_key(relid, key);
    entry = hash_search(known_rows, &k, HASH_ENTER, &found);
    if (!found) {
        char *copy = MemoryContextAlloc(known_rows_context, k.len);
        memcpy(copy, k.data, k.len);
        entry->key.data = copy;
        entry->key.len = k.len;
        ItemPointerSetInvalid(&entry->root);
        ItemPointerSetInvalid(&entry->written);
        entry->written_xmin = InvalidTransactionId;
        entry->written_len = 0;
    }
    return entry;
}

/*
 * Remember the version of key's row this backend just wrote; one that is not
 * heap-only (not HOT) has its own index entry and starts a new chain. entry:
 * the row's known entry if the caller has it (NULL: looked up by key).
 */
static void known_row_remember_written(Oid relid, const Datum key[3], HeapTuple written,
                                       KnownRow *entry)
{
    bool heap_only = HeapTupleIsHeapOnly(written);
    ItemPointer tid = &written->t_self;

    if (entry == NULL)
        entry = known_row_enter(relid, key);
    entry->written = *tid;
    entry->written_xmin = HeapTupleHeaderGetRawXmin(written->t_data);
    entry->written_len = written->t_len;
    if (!heap_only)
        entry->root = *tid;
}

/* Remember the root of key's HOT chain (the TID its index entry points to). */
static KnownRow *known_row_remember_root(Oid relid, const Datum key[3], ItemPointer root)
{
    KnownRow *entry = known_row_enter(relid, key);
    entry->root = *root;
    return entry;
}

/* The known row a read found (see LstmSavedRow.known), or NULL if the rows were forgotten since. */
static KnownRow *known_row_of(const LstmSavedRow *row)
{
    return row->known != NULL && row->known_generation == known_rows_generation
               ? (KnownRow *)row->known
               : NULL;
}

/*
 * Prune the page of a known row (pinned) as an index fetch would, but only
 * when the row's next version (about as long as its last one) would not fit
 * on it: pruning examines every item on the page and writes WAL, and on a
 * page with room left a HOT update needs none. Pages of lstm_stream_states
 * are filled to half (fillfactor 50), so a page is pruned once every few
 * updates rather than at every one. (The free space is read without the
 * content lock, as heap_page_prune_opt itself first reads it.)
 */
static void prune_if_full(Relation rel, Buffer buffer, const KnownRow *known)
{
    if (known->written_len == 0 ||
        PageGetHeapFreeSpace(BufferGetPage(buffer)) < MAXALIGN(known->written_len))
        heap_page_prune_opt(rel, buffer);
}

/* Find the row of key visible to snapshot into slot; false if there is none. */
static bool find_row(const LstmStateTable *table, Relation rel, Relation index, Snapshot snapshot,
                     const Datum key[3], TupleTableSlot *slot, ItemPointer root)
{
    static const Oid equal[3] = {F_TEXTEQ, F_OIDEQ, F_TEXTEQ};
    ScanKeyData keys[3]; /* in index column order */
    IndexScanDesc scan;
    bool found;

    for (int k = 0; k < 3; k++) {
        int c = table->key_column[k];
        ScanKeyInit(&keys[c - 1], c, BTEqualStrategyNumber, equal[k], key[k]);
        keys[c - 1].sk_collation = index->rd_indcollation[c - 1];
    }
    scan = index_beginscan(rel, index, snapshot, 3, 0);
    index_rescan(scan, keys, 3, NULL, 0);
    /* index_getnext_slot, keeping the TID the index entry holds: the HOT chain's root */
    found = false;
    while (!found) {
        ItemPointer tid = scan->xs_heap_continue ? &scan->xs_heaptid
                                                 : index_getnext_tid(scan, ForwardScanDirection);
        if (tid == NULL)
            break;
        if (root != NULL && !scan->xs_heap_continue)
            *root = *tid;
        found = index_fetch_heap(scan, slot);
    }
    index_endscan(scan);
    return found;
}

/* Are two text datums the same bytes (texteq under a deterministic collation)? */
static bool same_text(Datum a, Datum b)
{
    text *ta = DatumGetTextPP(a), *tb = DatumGetTextPP(b);
    return VARSIZE_ANY_EXHDR(ta) == VARSIZE_ANY_EXHDR(tb) &&
           memcmp(VARDATA_ANY(ta), VARDATA_ANY(tb), VARSIZE_ANY_EXHDR(ta)) == 0;
}

/* Is a stored value of key part k (model name, source, series) that part of key? */
static bool is_key_part(int k, Datum value, bool isnull, const Datum key[3])
{
    return !isnull && (k == 1 ? DatumGetObjectId(value) == DatumGetObjectId(key[k])
                              : same_text(value, key[k]));
}

/* Does tuple (on a locked page) have key? */
static bool tuple_has_key(const LstmStateTable *table, TupleDesc desc, HeapTuple tuple,
                          const Datum key[3])
{
    for (int k = 0; k < 3; k++) {
        bool isnull;
        Datum value = heap_getattr(tuple, table->key[k], desc, &isnull);
        if (!is_key_part(k, value, isnull, key))
            return false;
    }
    return true;
}

/* Does the row in slot still have key (after following an update)? */
static bool row_has_key(const LstmStateTable *table, TupleTableSlot *slot, const Datum key[3])
{
    return tuple_has_key(table, slot->tts_tupleDescriptor,
                         ExecFetchSlotHeapTuple(slot, false, NULL), key);
}

/* A serialization failure, as the executor reports a row changed under REPEATABLE READ. */
static void serialization_failure(void)
{
    ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                    errmsg("could not serialize access due to concurrent update")));
}

/*
 * Lock the row in slot found under snapshot as ExecLockRows does for FOR NO
 * KEY UPDATE; false if it is gone (deleted, or updated by this transaction
 * meanwhile, or its key changed).
 */
static bool lock_found_row(const LstmStateTable *table, Relation rel, Snapshot snapshot,
                           TupleTableSlot *slot, const Datum key[3])
{
    ItemPointerData tid = slot->tts_tid;
    TM_FailureData failure;
    TM_Result result;
    int flags = IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION;

    result = table_tuple_lock(rel, &tid, snapshot, slot, GetCurrentCommandId(false),
                              LockTupleNoKeyExclusive, LockWaitBlock, flags, &failure);
    switch (result) {
    case TM_Ok:
        return !failure.traversed || row_has_key(table, slot, key);
    case TM_SelfModified:
        return false; /* changed by this transaction after the snapshot: skipped */
    case TM_Updated:
    case TM_Deleted:
        if (IsolationUsesXactSnapshot())
            serialization_failure();
        return false;
    default:
        elog(ERROR, "lstm_score_trigger: unexpected result %d locking a saved state", (int)result);
    }
    return false;
}

/*
 * Lock key's row through the root of its HOT chain, at READ COMMITTED: the
 * version visible to snapshot, as an index fetch finds it, then locked and
 * followed to its newest as lock_found_row does. False if the chain does not
 * lead to the row (then the primary key decides). *written_here: the version
 * locked is the one this backend wrote last.
 */
static bool lock_known_row(const LstmStateTable *table, Relation rel, Snapshot snapshot,
                           const Datum key[3], TupleTableSlot *slot, bool *written_here)
{
    KnownRow *known;
    ItemPointerData tid;
    Buffer buffer;
    HeapTupleData tuple;
    bool usable;
    TM_Result result = TM_Invisible;
    TM_FailureData failure;

    if (IsolationUsesXactSnapshot() || (known = known_row_find(table->relid, key)) == NULL ||
        !ItemPointerIsValid(&known->root))
        return false;
    tid = known->root;
    buffer = ReadBuffer(rel, ItemPointerGetBlockNumber(&tid));
    prune_if_full(rel, buffer, known); /* keeps updates HOT */
    LockBuffer(buffer, BUFFER_LOCK_SHARE);
    usable = heap_hot_search_buffer(&tid, rel, buffer, snapshot, &tuple, NULL, true) &&
             tuple_has_key(table, RelationGetDescr(rel), &tuple, key);
    LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
    if (usable)
        result = table_tuple_lock(rel, &tid, snapshot, slot, GetCurrentCommandId(false),
                                  LockTupleNoKeyExclusive, LockWaitBlock,
                                  TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &failure);
    ReleaseBuffer(buffer);
    if (result != TM_Ok || (failure.traversed && !row_has_key(table, slot, key))) {
        ItemPointerSetInvalid(&known->root);
        return false;
    }
    if (ItemPointerEquals(&slot->tts_tid, &known->written)) {
        bool isnull;
        Datum xmin = slot_getsysattr(slot, MinTransactionIdAttributeNumber, &isnull);
        *written_here = !isnull && DatumGetTransactionId(xmin) == known->written_xmin;
    }
    return true;
}

/* Lock the row of key and read it (see stream_states.h). */
bool lstm_state_row_lock(const LstmStateTable *table, const Datum key[3], LstmSavedRow *row)
{
    Relation rel = table_open(table->relid, RowShareLock);
    TupleTableSlot *slot = table_slot_create(rel, NULL);
    Snapshot snapshot;
    bool found;

    /* The snapshot an SPI statement would take: this command's changes visible. */
    CommandCounterIncrement();
    PushActiveSnapshot(GetTransactionSnapshot());
    UpdateActiveSnapshotCommandId();
    snapshot = GetActiveSnapshot();
    row->written_here = false;
    found = lock_known_row(table, rel, snapshot, key, slot, &row->written_here);
    if (!found) {
        Relation index = index_open(table->index, AccessShareLock);
        ItemPointerData root;
        found = find_row(table, rel, index, snapshot, key, slot, &root) &&
                lock_found_row(table, rel, snapshot, slot, key);
        if (found && !IsolationUsesXactSnapshot())
            known_row_remember_root(table->relid, key, &root);
        index_close(index, NoLock);
    }
    if (found) {
        bool isnull, time_null, type_null;
        row->state = datumCopy(slot_getattr(slot, table->state, &isnull), false, -1);
        row->last_time = slot_getattr(slot, table->last_time, &time_null);
        row->last_time_type =
            DatumGetObjectId(slot_getattr(slot, table->last_time_type, &type_null));
        row->has_last_time = !time_null && !type_null;
        row->last_time = row->has_last_time ? datumCopy(row->last_time, false, -1) : (Datum)0;
        row->tid = slot->tts_tid;
    }
    PopActiveSnapshot();
    ExecDropSingleTupleTableSlot(slot);
    table_close(rel, NoLock);
    return found;
}

/*
 * Add the primary key entry of a row version that a non-HOT update put at
 * tid (the key columns are never changed, so key gives the entry), as
 * CatalogTupleUpdate would; a HOT update needs none.
 */
static void insert_index_entry(const LstmStateTable *table, Relation rel, const Datum key[3],
                               ItemPointer tid)
{
    Relation index = index_open(table->index, RowExclusiveLock);
    IndexInfo *info = BuildIndexInfo(index);
    Datum values[3]; /* in index column order */
    bool isnull[3] = {false, false, false};

    for (int k = 0; k < 3; k++)
        values[table->key_column[k] - 1] = key[k];
    index_insert(index, values, isnull, tid, rel, UNIQUE_CHECK_YES, false, info);
    index_close(index, NoLock);
}

/*
 * Write a varlena value over the one stored at `at`, as heap_fill_tuple would
 * store it (a short header where the column's storage is not plain and the
 * value fits), when that takes exactly the bytes already there in the same
 * form; false, writing nothing, otherwise.
 */
static bool write_varlena_over(char *at, Form_pg_attribute att, Datum value)
{
    struct varlena *v = (struct varlena *)DatumGetPointer(value);

    if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v) || VARATT_IS_EXTERNAL(at) ||
        VARATT_IS_COMPRESSED(at))
        return false;
    if (VARATT_IS_SHORT(v)) {
        if (!VARATT_IS_SHORT(at) || VARSIZE_SHORT(at) != VARSIZE_SHORT(v))
            return false;
        memcpy(at, v, VARSIZE_SHORT(v));
    } else if (att->attstorage != TYPSTORAGE_PLAIN && VARATT_CAN_MAKE_SHORT(v)) {
        Size len = VARATT_CONVERTED_SHORT_SIZE(v);
        if (!VARATT_IS_SHORT(at) || VARSIZE_SHORT(at) != len)
            return false;
        SET_VARSIZE_SHORT(at, len);
        memcpy(at + 1, VARDATA(v), len - 1);
    } else {
        if (VARATT_IS_SHORT(at) || VARSIZE(at) != VARSIZE(v))
            return false;
        memcpy(at, v, VARSIZE(v));
    }
    return true;
}

/* Write a column's value over the one stored at `at` (see write_varlena_over); false if not. */
static bool write_column_over(char *at, Form_pg_attribute att, Datum value)
{
    if (att->attbyval)
        store_att_byval(at, value, att->attlen);
    else if (att->attlen == -1)
        return write_varlena_over(at, att, value);
    else if (att->attlen > 0)
        memcpy(at, DatumGetPointer(value), att->attlen);
    else
        return false; /* (a cstring: not in this table) */
    return true;
}

/*
 * The next version made from the old one's bytes, its changed columns
 * (values[i] for i with changed[i]; natts each) written over theirs, when
 * every changed column keeps its null-ness and its stored size: the usual
 * case, a model's states being all of one size and a time type's too. The
 * bytes are those heap_form_tuple gives for the same values (the header as
 * it leaves it), without deforming and forming the row. NULL otherwise.
 */
static HeapTuple version_written_over(TupleDesc desc, HeapTuple old, const Datum *values,
                                      const bool *nulls, const bool *changed)
{
    HeapTupleHeader header = old->t_data;
    bool has_nulls = HeapTupleHasNulls(old);
    HeapTuple new;
    char *data;
    uint32 off = 0;

    if (HeapTupleHeaderGetNatts(header) != desc->natts)
        return NULL;
    new = palloc(HEAPTUPLESIZE + old->t_len);
    new->t_data = (HeapTupleHeader)((char *)new + HEAPTUPLESIZE);
    memcpy(new->t_data, header, old->t_len);
    data = (char *)new->t_data + header->t_hoff;
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        bool was_null = has_nulls && att_isnull(i, header->t_bits);

        if (was_null != (changed[i] ? nulls[i] : was_null)) {
            pfree(new);
            return NULL;
        }
        if (was_null)
            continue;
        off = att_align_pointer(off, att->attalign, att->attlen, data + off);
        if (changed[i] && !write_column_over(data + off, att, values[i])) {
            pfree(new);
            return NULL;
        }
        off = att_addlength_pointer(off, att->attlen, data + off);
    }
    /* the header as heap_form_tuple leaves it: the data's flags, no transaction's */
    new->t_data->t_infomask &= HEAP_HASNULL | HEAP_HASVARWIDTH | HEAP_HASEXTERNAL;
    new->t_data->t_infomask2 &= HEAP_NATTS_MASK;
    HeapTupleHeaderSetDatumLength(new->t_data, old->t_len);
    HeapTupleHeaderSetTypeId(new->t_data, desc->tdtypeid);
    HeapTupleHeaderSetTypMod(new->t_data, desc->tdtypmod);
    ItemPointerSetInvalid(&new->t_data->t_ctid);
    new->t_len = old->t_len;
    ItemPointerSetInvalid(&new->t_self);
    new->t_tableOid = InvalidOid;
    return new;
}

/*
 * The next version of a row, old (deformed into old_values and old_isnull,
 * natts each): state, last_time and last_time_type when has_state,
 * late_rows increased by late_added, updated_at the transaction's start (as
 * now()); the other columns as they were.
 */
static HeapTuple next_version(const LstmStateTable *table, TupleDesc desc, HeapTuple old,
                              const Datum *old_values, const bool *old_isnull, bool has_state,
                              Datum state, bool has_last_time, Datum last_time, Oid last_time_type,
                              int64 late_added)
{
    Datum values_here[STATE_COLUMNS_HERE];
    bool nulls_here[STATE_COLUMNS_HERE], changed_here[STATE_COLUMNS_HERE];
    bool small = desc->natts <= STATE_COLUMNS_HERE;
    Datum *values = small ? values_here : palloc(sizeof(Datum) * desc->natts);
    bool *nulls = small ? nulls_here : palloc(sizeof(bool) * desc->natts);
    bool *changed = small ? changed_here : palloc(sizeof(bool) * desc->natts);
    HeapTuple new;

    memset(changed, 0, sizeof(bool) * desc->natts);
    memcpy(values, old_values, sizeof(Datum) * desc->natts);
    memcpy(nulls, old_isnull, sizeof(bool) * desc->natts);
    values[table->late_rows - 1] =
        Int64GetDatum(DatumGetInt64(old_values[table->late_rows - 1]) + late_added);
    values[table->updated_at - 1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    changed[table->late_rows - 1] = changed[table->updated_at - 1] = true;
    if (has_state) {
        values[table->state - 1] = state;
        values[table->last_time - 1] = last_time;
        values[table->last_time_type - 1] = ObjectIdGetDatum(last_time_type);
        nulls[table->last_time - 1] = nulls[table->last_time_type - 1] = !has_last_time;
        changed[table->state - 1] = changed[table->last_time - 1] =
            changed[table->last_time_type - 1] = true;
    }
    new = version_written_over(desc, old, values, nulls, changed);
    if (new == NULL)
        new = heap_form_tuple(desc, values, nulls);
    if (!small) {
        pfree(values);
        pfree(nulls);
        pfree(changed);
    }
    return new;
}

/*
 * After an update put new at new->t_self: its index entry if it is not HOT,
 * and where it is (in known, the row's entry, when the caller has it).
 */
static void after_update(const LstmStateTable *table, Relation rel, const Datum key[3],
                         HeapTuple new, KnownRow *known)
{
    if (!HeapTupleIsHeapOnly(new))
        insert_index_entry(table, rel, key, &new->t_self); /* not HOT: the page was full */
    known_row_remember_written(table->relid, key, new, known);
}

/* Write a series' state back to its locked row (see stream_states.h). */
void lstm_state_row_update(const LstmStateTable *table, const Datum key[3], ItemPointer tid,
                           const char *series, bool has_state, Datum state, bool has_last_time,
                           Datum last_time, Oid last_time_type, int64 late_added)
{
    Relation rel = table_open(table->relid, RowExclusiveLock);
    TupleDesc desc = RelationGetDescr(rel);
    TupleTableSlot *slot = table_slot_create(rel, NULL);
    Snapshot snapshot;
    HeapTuple old, new;
    bool free_old;

    CommandCounterIncrement();
    snapshot = RegisterSnapshot(GetLatestSnapshot());
    /*
     * The version this transaction locked is still the row's newest unless a
     * statement of this transaction changed the row since (then it is no
     * longer visible): no index scan needed.
     */
    if (!(ItemPointerIsValid(tid) && table_tuple_fetch_row_version(rel, tid, snapshot, slot))) {
        Relation index = index_open(table->index, AccessShareLock);
        bool found = find_row(table, rel, index, snapshot, key, slot, NULL);
        index_close(index, NoLock);
        if (!found)
            elog(ERROR, "lstm_score_trigger: saving the state of series \"%s\" found no row",
                 series);
    }
    slot_getallattrs(slot);
    old = ExecFetchSlotHeapTuple(slot, false, &free_old);
    new = next_version(table, desc, old, slot->tts_values, slot->tts_isnull, has_state, state,
                       has_last_time, last_time, last_time_type, late_added);
    simple_heap_update(rel, &old->t_self, new);
    after_update(table, rel, key, new, NULL);
    heap_freetuple(new);
    if (free_old)
        heap_freetuple(old);
    ExecDropSingleTupleTableSlot(slot);
    UnregisterSnapshot(snapshot);
    table_close(rel, NoLock);
}

/*
 * The version of key's row visible to snapshot, reached through the root of
 * its HOT chain as an index fetch would reach it, copied; NULL if the chain
 * does not lead to the row (then the primary key decides). *written_here:
 * it is the version this backend wrote last.
 */
static HeapTuple read_known_row(const LstmStateTable *table, Relation rel, Snapshot snapshot,
                                const Datum key[3], bool *written_here, KnownRow **entry)
{
    KnownRow *known = known_row_find(table->relid, key);
    ItemPointerData tid;
    Buffer buffer;
    HeapTupleData tuple;
    HeapTuple copy = NULL;

    *entry = known;
    if (known == NULL || !ItemPointerIsValid(&known->root))
        return NULL;
    tid = known->root;
    buffer = ReadBuffer(rel, ItemPointerGetBlockNumber(&tid));
    prune_if_full(rel, buffer, known); /* keeps updates HOT */
    LockBuffer(buffer, BUFFER_LOCK_SHARE);
    if (heap_hot_search_buffer(&tid, rel, buffer, snapshot, &tuple, NULL, true)) {
        copy = heap_copytuple(&tuple);
        *written_here = ItemPointerEquals(&tid, &known->written) &&
                        HeapTupleHeaderGetRawXmin(copy->t_data) == known->written_xmin;
    }
    LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
    ReleaseBuffer(buffer);
    if (copy == NULL)
        ItemPointerSetInvalid(&known->root); /* (the caller checks the key of a copy) */
    return copy;
}

/* Do deformed columns have key? */
static bool values_have_key(const LstmStateTable *table, const Datum *values, const bool *isnull,
                            const Datum key[3])
{
    for (int k = 0; k < 3; k++) {
        int at = table->key[k] - 1;
        if (!is_key_part(k, values[at], isnull[at], key))
            return false;
    }
    return true;
}

/* Read key's row without locking it (see stream_states.h). */
bool lstm_state_row_read(const LstmStateTable *table, const Datum key[3], Snapshot snapshot,
                         LstmSavedRow *row)
{
    Relation rel = table_open(table->relid, RowExclusiveLock); /* (it is written next) */
    TupleDesc desc = RelationGetDescr(rel);
    HeapTuple version;
    KnownRow *known = NULL;

    Assert(!IsolationUsesXactSnapshot());
    row->values = palloc(sizeof(Datum) * desc->natts);
    row->isnull = palloc(sizeof(bool) * desc->natts);
    row->written_here = false;
    version = read_known_row(table, rel, snapshot, key, &row->written_here, &known);
    if (version != NULL) {
        heap_deform_tuple(version, desc, row->values, row->isnull);
        if (!values_have_key(table, row->values, row->isnull, key)) {
            /* the line pointer was reused: the primary key decides */
            ItemPointerSetInvalid(&known->root);
            heap_freetuple(version);
            version = NULL;
            row->written_here = false;
        }
    }
    if (version == NULL) {
        Relation index = index_open(table->index, AccessShareLock);
        TupleTableSlot *slot = table_slot_create(rel, NULL);
        ItemPointerData root;
        if (find_row(table, rel, index, snapshot, key, slot, &root)) {
            version = ExecCopySlotHeapTuple(slot);
            known = known_row_remember_root(table->relid, key, &root);
            heap_deform_tuple(version, desc, row->values, row->isnull);
        }
        ExecDropSingleTupleTableSlot(slot);
        index_close(index, NoLock);
    }
    row->version = version;
    row->rel = rel;
    row->known = known; /* (its generation: entries stay until the rows are forgotten) */
    row->known_generation = known_rows_generation;
    if (version == NULL) {
        lstm_state_row_release(row);
        return false;
    }
    row->tid = version->t_self;
    row->state = row->values[table->state - 1];
    row->has_last_time =
        !row->isnull[table->last_time - 1] && !row->isnull[table->last_time_type - 1];
    row->last_time = row->has_last_time ? row->values[table->last_time - 1] : (Datum)0;
    row->last_time_type = DatumGetObjectId(row->values[table->last_time_type - 1]);
    return true;
}

/* Close the table a read left open (its lock stays to the transaction's end). */
void lstm_state_row_release(LstmSavedRow *row)
{
    if (row->rel != NULL)
        table_close(row->rel, NoLock);
    row->rel = NULL;
}

/* Write a series' state over the version read (see stream_states.h). */
bool lstm_state_row_write_over(const LstmStateTable *table, const Datum key[3], LstmSavedRow *row,
                               bool has_state, Datum state, bool has_last_time, Datum last_time,
                               Oid last_time_type, int64 late_added, ItemPointer written)
{
    Relation rel = row->rel; /* (open since the read: one open and close for both) */
    HeapTuple new =
        next_version(table, RelationGetDescr(rel), row->version, row->values, row->isnull,
                     has_state, state, has_last_time, last_time, last_time_type, late_added);
    TM_FailureData failure;
    LockTupleMode lockmode;
    TM_Result result;

    result = heap_update(rel, (ItemPointer)&row->tid, new, GetCurrentCommandId(true),
                         InvalidSnapshot, true /* wait */, &failure, &lockmode);
    switch (result) {
    case TM_Ok:
        after_update(table, rel, key, new, known_row_of(row));
        *written = new->t_self;
        break;
    case TM_SelfModified: /* changed by a later command of this transaction */
    case TM_Updated:
    case TM_Deleted:
        break;
    default:
        elog(ERROR, "lstm_score_trigger: unexpected result %d saving a state", (int)result);
    }
    heap_freetuple(new);
    lstm_state_row_release(row);
    return result == TM_Ok;
}
