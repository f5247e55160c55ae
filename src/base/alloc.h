/* alloc: the one allocation wrapper and the one out-of-memory policy.
 *
 * Every allocation in cicada goes through these functions (Lua's allocator
 * too: its small blocks come from base/pool.h's chunks, taken here; see
 * lua/vm.c). Running out of memory aborts with a message: a load
 * tester that cannot allocate cannot report anything trustworthy either.
 * The wrappers count nothing (no atomics, no malloc_usable_size): they sit
 * under every Lua allocation. A scenario's Lua heap has its own limit,
 * counted per VM in lua/vm.c: a scenario that allocates without bound gets
 * a Lua error and the run keeps its results; that is a limit, not an
 * out-of-memory. */
#ifndef CICADA_ALLOC_H
#define CICADA_ALLOC_H

#include <stddef.h>

/* Like malloc/calloc/realloc/strdup, but never return NULL: they abort.
 * A size of 0 allocates 1 byte, so the result is always a fresh block. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* free(p). Accepts NULL. */
void xfree(void *p);

#endif
