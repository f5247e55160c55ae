/* pool: see pool.h.
 *
 * A small block of class c is (c + 1) * 16 bytes; a free block holds the
 * link to the next free block of its class in its first bytes. New blocks
 * are cut from the current chunk with a bump pointer; when a chunk cannot
 * hold the next block, what is left of it goes to the free list of the
 * class that fits it, and a new chunk is taken. Chunks are linked through
 * a 16-byte header so pool_free finds them all. */
#include "base/pool.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"

#define CLASS_SHIFT 4
#define NCLASSES (POOL_MAX >> CLASS_SHIFT)
#define CHUNK_BYTES (64 * 1024)
#define CHUNK_HEADER 16

typedef struct free_block {
    struct free_block *next;
} free_block_t;

typedef struct chunk {
    struct chunk *next;
} chunk_t;

struct pool {
    free_block_t *free[NCLASSES];
    char *bump, *end; /* the current chunk's uncut bytes */
    chunk_t *chunks;
    size_t nchunks;
};

pool_t *pool_new(void)
{
    return xcalloc(1, sizeof(pool_t));
}

void pool_free(pool_t *p)
{
    if (p == NULL) return;
    for (chunk_t *c = p->chunks, *next; c; c = next) {
        next = c->next;
        xfree(c);
    }
    xfree(p);
}

/* Class of a small size n (1 <= n <= POOL_MAX). */
static size_t class_of(size_t n)
{
    return (n - 1) >> CLASS_SHIFT;
}

static void push(pool_t *p, void *b, size_t c)
{
    free_block_t *f = b;
    f->next = p->free[c];
    p->free[c] = f;
}

/* A new chunk; the old one's uncut tail (a multiple of 16 bytes, less
 * than the block that did not fit) becomes a free block of its class. */
static void refill(pool_t *p)
{
    size_t left = (size_t)(p->end - p->bump);
    if (left >= (1 << CLASS_SHIFT)) push(p, p->bump, class_of(left));
    chunk_t *c = xmalloc(CHUNK_BYTES);
    c->next = p->chunks;
    p->chunks = c;
    p->nchunks++;
    p->bump = (char *)c + CHUNK_HEADER;
    p->end = (char *)c + CHUNK_BYTES;
}

void *pool_alloc(pool_t *p, size_t n)
{
    if (n > POOL_MAX) return xmalloc(n);
    size_t c = class_of(n);
    free_block_t *b = p->free[c];
    if (b) {
        p->free[c] = b->next;
        return b;
    }
    size_t size = (c + 1) << CLASS_SHIFT;
    if ((size_t)(p->end - p->bump) < size) refill(p);
    void *q = p->bump;
    p->bump += size;
    return q;
}

void pool_release(pool_t *p, void *b, size_t n)
{
    if (b == NULL) return;
    if (n > POOL_MAX)
        xfree(b);
    else
        push(p, b, class_of(n));
}

void *pool_resize(pool_t *p, void *b, size_t o, size_t n)
{
    if (b == NULL) return pool_alloc(p, n);
    if (o > POOL_MAX && n > POOL_MAX) return xrealloc(b, n);
    if (o <= POOL_MAX && n <= POOL_MAX && class_of(o) == class_of(n)) return b;
    void *q = pool_alloc(p, n);
    memcpy(q, b, o < n ? o : n);
    pool_release(p, b, o);
    return q;
}

size_t pool_chunk_bytes(const pool_t *p)
{
    return p->nchunks * CHUNK_BYTES;
}
