/* alloc: abort-on-OOM wrappers around the C allocator with a byte count.
 *
 * The count uses malloc_usable_size so no header is added to each block;
 * it is a relaxed atomic because engines allocate on their own threads
 * (never per request on the hot path). */
#include "base/alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic size_t used;

static void *check(void *p, size_t n)
{
    if (p == NULL && n != 0) {
        fprintf(stderr, "cicada: out of memory (%zu bytes)\n", n);
        abort();
    }
    if (p) atomic_fetch_add_explicit(&used, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *xmalloc(size_t n)
{
    return check(malloc(n ? n : 1), n ? n : 1);
}

void *xcalloc(size_t count, size_t n)
{
    size_t total = count * n;
    return check(calloc(count ? count : 1, n ? n : 1), total ? total : 1);
}

void *xrealloc(void *p, size_t n)
{
    if (n == 0) n = 1;
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, n);
    if (q == NULL) return check(NULL, n);
    atomic_fetch_sub_explicit(&used, old, memory_order_relaxed);
    return check(q, n);
}

void *xrealloc_try(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = p ? realloc(p, n) : malloc(n);
    if (q == NULL) return NULL;
    /* one atomic add of the difference (modulo 2^N, so a shrink works too):
     * Lua allocates often */
    atomic_fetch_add_explicit(&used, malloc_usable_size(q) - old, memory_order_relaxed);
    return q;
}

char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

void xfree(void *p)
{
    if (p == NULL) return;
    atomic_fetch_sub_explicit(&used, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

size_t alloc_used(void)
{
    return atomic_load_explicit(&used, memory_order_relaxed);
}
