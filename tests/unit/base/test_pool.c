/* Unit tests for the small-object pool (Lua's allocator): blocks are
 * 16-byte aligned and never overlap while live (each is filled with its own
 * pattern and checked before it is freed); a freed block is reused by the
 * next block of its class; a resize keeps the first min(old, new) bytes,
 * across classes and to and from sizes above POOL_MAX; the pool grows by
 * chunks and pool_free gives everything back (ASan's leak check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/pool.h"
#include "check.h"

#define NBLOCKS 4000

typedef struct {
    unsigned char *p;
    size_t n;
    unsigned char tag;
} block_t;

static block_t blocks[NBLOCKS];

static void fill(block_t *b)
{
    memset(b->p, b->tag, b->n);
}

static int intact(const block_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b->p[i] != b->tag) return 0;
    return 1;
}

int main(void)
{
    pool_t *p = pool_new();
    CHECK(pool_chunk_bytes(p) == 0);

    /* a freed block comes back for the next block of its class */
    void *a = pool_alloc(p, 40);
    CHECK(((uintptr_t)a & 15) == 0);
    pool_release(p, a, 40);
    CHECK(pool_alloc(p, 33) == a); /* 33..48: the same class */
    void *b = pool_alloc(p, 48);
    CHECK(b != a);
    pool_release(p, b, 48);
    pool_release(p, a, 33);

    /* same class: resize keeps the block */
    void *c = pool_alloc(p, 20);
    CHECK(pool_resize(p, c, 20, 32) == c);
    pool_release(p, c, 32);

    /* random sizes, frees and resizes; every live block keeps its bytes */
    srand(7);
    for (int i = 0; i < NBLOCKS; i++) {
        blocks[i].n = 1 + (size_t)rand() % (i % 10 == 0 ? 3 * POOL_MAX : POOL_MAX);
        blocks[i].tag = (unsigned char)(i % 251 + 1);
        blocks[i].p = pool_alloc(p, blocks[i].n);
        CHECK(((uintptr_t)blocks[i].p & 15) == 0);
        fill(&blocks[i]);
    }
    CHECK(pool_chunk_bytes(p) > 0);
    for (int round = 0; round < 20000; round++) {
        block_t *bl = &blocks[rand() % NBLOCKS];
        size_t n = 1 + (size_t)rand() % (round % 7 == 0 ? 3 * POOL_MAX : POOL_MAX);
        CHECK(intact(bl, bl->n));
        if (round % 3 == 0) {
            pool_release(p, bl->p, bl->n);
            bl->p = pool_alloc(p, n);
        } else {
            bl->p = pool_resize(p, bl->p, bl->n, n);
            CHECK(intact(bl, bl->n < n ? bl->n : n));
        }
        bl->n = n;
        fill(bl);
    }
    for (int i = 0; i < NBLOCKS; i++) {
        CHECK(intact(&blocks[i], blocks[i].n));
        pool_release(p, blocks[i].p, blocks[i].n);
    }

    /* resize from NULL allocates; release of NULL does nothing */
    void *d = pool_resize(p, NULL, 123, 64);
    CHECK(d != NULL);
    pool_release(p, NULL, 64);
    pool_release(p, d, 64);

    pool_free(p);
    pool_free(NULL);
    return check_done();
}
