/* table: the open-addressing table of pointers that stats rows, failures
 * and exceptions are found in, on the engine threads and on the main one.
 *
 * Items are keyed by up to three strings. The caller hashes the key once
 * (table_hash: FNV-1a over the strings, with a separator so ("a", "bc")
 * and ("ab", "c") differ) and passes an eq function that compares an item
 * with the key, since the table stores only the item pointers and their
 * hashes. Linear probing; the table doubles at half load. There is no
 * removal: rows live as long as their table. Callers walk every item by
 * scanning items[0 .. cap) for non-NULL slots. Not thread-safe. */
#ifndef CICADA_TABLE_H
#define CICADA_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct table {
    uint64_t *hashes;
    void **items; /* NULL = free slot */
    size_t cap, n;
} table_t;

/* True if item's key is (a, b, c); b and c may be NULL for shorter keys. */
typedef bool (*table_eq_fn)(const void *item, const char *a, const char *b, const char *c);

/* The hash of the key (a, b, c); b and c may be NULL. */
uint64_t table_hash(const char *a, const char *b, const char *c);

/* Free the arrays (not the items) and leave t empty. A zeroed table_t is
 * an empty table. */
void table_free(table_t *t);

/* Add item (not NULL) under hash h; the caller has checked it is not
 * there. The table keeps the pointer; the item stays the caller's. */
void table_put(table_t *t, uint64_t h, void *item);

/* The item under key (a, b, c) with hash h, as eq decides, or NULL. */
void *table_get(const table_t *t, uint64_t h, table_eq_fn eq, const char *a, const char *b,
                const char *c);

#endif
