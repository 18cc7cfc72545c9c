/*
 * bytes_key.c - hash and equality of a key that is a run of bytes (see
 * bytes_key.h).
 */
#include "runtime/bytes_key.h"

#include "common/hashfn.h"

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
