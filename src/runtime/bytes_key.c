/*
 * bytes_key.c - hash and equality of a key that is a run of bytes (see
 * bytes_key.h).
 */
#include "runtime/bytes_key.h"

#include "common/hashfn.h"
#include "utils/hsearch.h"

/* Hash of the key's bytes. */
uint32 lstm_bytes_key_hash(const void *key, Size keysize)
{
    const LstmBytesKey *k = key;
    return hash_bytes((const unsigned char *)k->data, k->len);
}

/* Are two keys' bytes equal? (0 if so, as dynahash wants) */
int lstm_bytes_key_match(const void *a, const void *b, Size keysize)
{
    const LstmBytesKey *x = a, *y = b;
    return x->len != y->len || memcmp(x->data, y->data, x->len) != 0;
}

/* A hash table keyed by the LstmBytesKey each entry starts with. */
HTAB *lstm_bytes_key_table(const char *name, Size entrysize, MemoryContext context)
{
    HASHCTL ctl;

    memset(&ctl, 0, sizeof(ctl));
    ctl.keysize = sizeof(LstmBytesKey);
    ctl.entrysize = entrysize;
    ctl.hash = lstm_bytes_key_hash;
    ctl.match = lstm_bytes_key_match;
    ctl.hcxt = context;
    return hash_create(name, 256, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}
