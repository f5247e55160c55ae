/* table: see table.h.
 *
 * The capacity is a power of two, so a hash picks its first slot by
 * masking; probing walks forward to the item or the first free slot.
 * Growing rehashes from the stored hashes, never from the keys, so the
 * table need not know what its items are. */
#include "stats/table.h"

#include <string.h>

#include "base/alloc.h"

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (h ^ 0xff) * 0x100000001b3ull; /* separator: ("a","bc") != ("ab","c") */
}

uint64_t table_hash(const char *a, const char *b, const char *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, a);
    if (b) h = fnv(h, b);
    if (c) h = fnv(h, c);
    return h;
}

void table_free(table_t *t)
{
    xfree(t->hashes);
    xfree(t->items);
    memset(t, 0, sizeof *t);
}

/* Slot where the item with this hash is, or the free slot where it goes:
 * eq() decides among items of equal hash. */
static size_t slot(const table_t *t, uint64_t h, table_eq_fn eq, const char *a, const char *b,
                   const char *c)
{
    size_t mask = t->cap - 1, i = (size_t)h & mask;
    while (t->items[i] && !(t->hashes[i] == h && eq(t->items[i], a, b, c)))
        i = (i + 1) & mask;
    return i;
}

void table_put(table_t *t, uint64_t h, void *item)
{
    if (2 * (t->n + 1) > t->cap) {
        table_t old = *t;
        t->cap = old.cap ? 2 * old.cap : 16;
        t->hashes = xcalloc(t->cap, sizeof *t->hashes);
        t->items = xcalloc(t->cap, sizeof *t->items);
        t->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.items[i]) table_put(t, old.hashes[i], old.items[i]);
        table_free(&old);
    }
    size_t i = (size_t)h & (t->cap - 1);
    while (t->items[i])
        i = (i + 1) & (t->cap - 1);
    t->hashes[i] = h;
    t->items[i] = item;
    t->n++;
}

void *table_get(const table_t *t, uint64_t h, table_eq_fn eq, const char *a, const char *b,
                const char *c)
{
    return t->cap ? t->items[slot(t, h, eq, a, b, c)] : NULL;
}
