/* alloc: abort-on-OOM wrappers around the C allocator.
 *
 * Each wrapper is the C call plus one NULL test: no header, no counter, no
 * shared state, so they cost next to nothing (Lua's large blocks and the
 * Lua pool's chunks come from here, see lua/vm.c) and engines on
 * different threads never touch a common cache line. Whoever needs a byte
 * count keeps its own, on its own thread (lua/vm.c counts each VM's heap). */
#include "base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one out-of-memory policy. */
static _Noreturn void fail(size_t n)
{
    fprintf(stderr, "cicada: out of memory (%zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) fail(n);
    return p;
}

void *xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL) fail(count * n);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) fail(n);
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
    free(p);
}
