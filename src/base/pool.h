/* pool: a small-object allocator for one thread, sized by the caller.
 *
 * Lua's allocator (lua/vm.c) always knows the size of the block it frees or
 * grows, so small blocks need no header: the pool keeps one free list per
 * 16-byte size class up to POOL_MAX bytes, refilled from 64 KiB chunks.
 * Allocating or freeing is a pop or a push (glibc's malloc/free cost ~10
 * times more, and add 8 to 24 bytes to each block: a table or a coroutine
 * of an idle user is such a block). Larger blocks go to xmalloc.
 *
 * What it does not do: give memory back before pool_free (a freed block
 * stays on its class's list for the next block of that class), or work
 * across threads (no locks: one pool per VM, used by the VM's thread).
 * Out of memory aborts, like every allocation (base/alloc.h). */
#ifndef CICADA_POOL_H
#define CICADA_POOL_H

#include <stddef.h>

/* Blocks up to this many bytes come from the pool's classes. */
#define POOL_MAX 512

typedef struct pool pool_t;

/* A new empty pool; free it (and every block it gave) with pool_free. */
pool_t *pool_new(void);
/* Free p's chunks, and with them every small block still allocated from
 * it. Large blocks (above POOL_MAX) must have been freed already. NULL is
 * fine. */
void pool_free(pool_t *p);

/* A block of n bytes (n > 0), 16-byte aligned. Never NULL. */
void *pool_alloc(pool_t *p, size_t n);
/* Give back block b, allocated with size n (the size it was allocated or
 * last resized with). b may be NULL. */
void pool_release(pool_t *p, void *b, size_t n);
/* Resize block b from size o to n (n > 0); b may be NULL (then o is
 * ignored). Keeps the first min(o, n) bytes. Never NULL. */
void *pool_resize(pool_t *p, void *b, size_t o, size_t n);

/* Bytes of the pool's chunks (small blocks in use and free), for tests. */
size_t pool_chunk_bytes(const pool_t *p);

#endif
