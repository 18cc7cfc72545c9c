/*
 * bytes_key.h - a dynahash key that is a run of bytes held elsewhere (a
 * series value's bytes, a saved state's key): its hash and equality, for
 * hash tables whose entries copy the bytes they keep.
 */
#ifndef LSTM_RUNTIME_BYTES_KEY_H
#define LSTM_RUNTIME_BYTES_KEY_H

#include "lstm.h"

/* A run of bytes (not owned). */
typedef struct LstmBytesKey {
    const char *data;
    int len;
} LstmBytesKey;

/* lstm_bytes_key_hash: dynahash's hash function for an LstmBytesKey. */
uint32 lstm_bytes_key_hash(const void *key, Size keysize);

/* lstm_bytes_key_match: dynahash's match function (0 if the bytes are equal). */
int lstm_bytes_key_match(const void *a, const void *b, Size keysize);

/*
 * lstm_bytes_key_table: a hash table in context whose entries (entrysize
 * bytes each) start with an LstmBytesKey.
 */
struct HTAB *lstm_bytes_key_table(const char *name, Size entrysize, MemoryContext context);

#endif /* LSTM_RUNTIME_BYTES_KEY_H */
