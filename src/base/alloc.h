/* alloc: the one allocation wrapper and the one out-of-memory policy.
 *
 * Every allocation in cicada goes through these functions (Lua's allocator
 * too, see lua/vm.c), so memory is counted in one place. Running out of
 * memory aborts with a message: a load tester that cannot allocate cannot
 * report anything trustworthy either. The one exception is the Lua heap of
 * a scenario, which has its own limit (xrealloc_try): a scenario that
 * allocates without bound gets an error, and the run keeps its results. */
#ifndef CICADA_ALLOC_H
#define CICADA_ALLOC_H

#include <stddef.h>

/* Like malloc/calloc/realloc/strdup, but never return NULL: they abort. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* realloc(p, n), counted, that returns NULL (p untouched) instead of
 * aborting: for Lua's allocator only, where running out is an error the
 * scenario sees (lua/vm.c), not the end of the run. n > 0. */
void *xrealloc_try(void *p, size_t n);
/* free(p), counted. Accepts NULL. */
void xfree(void *p);

/* Bytes currently allocated through these functions (approximate, relaxed). */
size_t alloc_used(void);

#endif
