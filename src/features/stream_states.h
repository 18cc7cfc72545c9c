/*
 * stream_states.h - lstm_score_trigger's direct access to the rows of
 * lstm_stream_states: find a series' row through the primary key, lock it as
 * SELECT ... FOR NO KEY UPDATE does, and update it in place, with the table
 * and index access methods instead of SPI statements (no parse, plan or
 * executor per series; and a plan cannot pick a sequential scan because the
 * table was empty when it was prepared).
 *
 * The direct path is taken only when it does exactly what the SQL statements
 * would: the table is a heap with its primary key as its only index, no
 * triggers but the foreign key's, no rules, and the caller has SELECT and
 * UPDATE on it and either bypasses its row-level security or has INSERT on
 * the scored table while the policies are the extension's own four (which
 * then let every row of that table through). Otherwise the trigger keeps
 * using SPI, which applies whatever the catalog says.
 */
#ifndef LSTM_FEATURES_STREAM_STATES_H
#define LSTM_FEATURES_STREAM_STATES_H

#include "lstm.h"

#include "access/attnum.h"
#include "access/htup.h"
#include "utils/relcache.h"
#include "storage/itemptr.h"
#include "utils/snapshot.h"

/* lstm_stream_states as the direct path uses it (resolved once per statement). */
typedef struct LstmStateTable {
    Oid relid;         /* lstm_stream_states */
    Oid index;         /* its primary key (model_name, source, series) */
    int key_column[3]; /* index column (1-based) of model_name, source, series */
    AttrNumber state;  /* the heap columns read and written */
    AttrNumber last_time;
    AttrNumber last_time_type;
    AttrNumber late_rows;
    AttrNumber updated_at;
    AttrNumber key[3]; /* model_name, source, series */
} LstmStateTable;

/* A series' saved state as the locked row holds it (copies in the caller's context). */
typedef struct LstmSavedRow {
    Datum state;
    bool has_last_time; /* last_time and last_time_type are set */
    Datum last_time;
    Oid last_time_type;
    ItemPointerData tid; /* the version locked (or read: lstm_state_row_read) */
    bool written_here;   /* it is the version this backend wrote last (state already validated) */
    HeapTuple version;   /* lstm_state_row_read: a copy of the version read (the datums point in) */
    Datum *values;       /* and its columns, deformed (natts) */
    bool *isnull;
    Relation rel; /* lstm_state_row_read: the table, open until written over or released */
    void *known;  /* lstm_state_row_read: what this backend knows of the row (stream_states.c) */
    uint64 known_generation; /* valid while no invalidation made the backend forget it */
} LstmSavedRow;

/*
 * lstm_state_table_direct: set table up for the direct path of a statement
 * scoring source as the current user; false if SPI must be used instead.
 */
bool lstm_state_table_direct(LstmStateTable *table, Oid schema, Oid source);

/*
 * lstm_state_row_lock: find the row of key (model name text, source oid,
 * series text) and lock it FOR NO KEY UPDATE, waiting for other writers and
 * following their updates (READ COMMITTED) or failing with 40001 (REPEATABLE
 * READ, SERIALIZABLE), and read it into row; false if there is no such row.
 */
bool lstm_state_row_lock(const LstmStateTable *table, const Datum key[3], LstmSavedRow *row);

/*
 * lstm_state_row_read: read the version of key's row visible to a new
 * snapshot, at READ COMMITTED, without locking it; false if there is none.
 * lstm_state_row_write_over then updates that version, which takes the
 * row's lock as any UPDATE does: one heap operation (and WAL record) fewer
 * than a lock followed by an update, for a statement that applies one row.
 * snapshot is the caller's (registered, taken after CommandCounterIncrement:
 * this command's changes visible, as to an SPI statement).
 */
bool lstm_state_row_read(const LstmStateTable *table, const Datum key[3], Snapshot snapshot,
                         LstmSavedRow *row);

/* lstm_state_row_release: close what lstm_state_row_read left open, without writing. */
void lstm_state_row_release(LstmSavedRow *row);

/*
 * lstm_state_row_write_over: write a series' state (as lstm_state_row_update
 * does) over the version lstm_state_row_read gave in row, waiting for a
 * transaction that is changing it. False, with nothing written, if another
 * transaction changed or deleted the row since it was read (then lock it and
 * start again). On success *written is the new version: the row is locked by
 * this transaction until it ends.
 */
bool lstm_state_row_write_over(const LstmStateTable *table, const Datum key[3], LstmSavedRow *row,
                               bool has_state, Datum state, bool has_last_time, Datum last_time,
                               Oid last_time_type, int64 late_added, ItemPointer written);

/*
 * lstm_state_row_update: write a series' state back to its row (locked by
 * this transaction; tid, when valid, the version locked: used if it is still
 * the newest, else the row is found by key): state, last_time and last_time_type when has_state,
 * and late_rows increased by late_added; updated_at is now(). Error if the row is gone.
 */
void lstm_state_row_update(const LstmStateTable *table, const Datum key[3], ItemPointer tid,
                           const char *series, bool has_state, Datum state, bool has_last_time,
                           Datum last_time, Oid last_time_type, int64 late_added);

/*
 * lstm_state_rows_invalidate: forget where this backend wrote the rows of
 * lstm_stream_states when relid is that table, or for InvalidOid (every
 * relation). Called from the module's one relcache callback (module.c).
 */
void lstm_state_rows_invalidate(Oid relid);

#endif /* LSTM_FEATURES_STREAM_STATES_H */
