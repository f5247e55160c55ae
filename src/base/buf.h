/* buf: a growable byte buffer that is reused rather than freed.
 *
 * Connections and users keep their buffers for their whole life: after the
 * first requests have grown them, the hot path appends without allocating.
 * buf_reset() keeps the memory. */
#ifndef CICADA_BUF_H
#define CICADA_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

/* Make room for n more bytes after len (may move p). */
void buf_reserve(buf_t *b, size_t n);
void buf_free(buf_t *b);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void buf_reset(buf_t *b)
{
    b->len = 0;
}

static inline void buf_append(buf_t *b, const void *s, size_t n)
{
    if (b->cap - b->len < n + 1) buf_reserve(b, n + 1);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void buf_puts(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

/* Replace the contents with s (NUL-terminated copy). */
static inline void buf_set(buf_t *b, const char *s, size_t n)
{
    b->len = 0;
    buf_append(b, s, n);
}

#endif
