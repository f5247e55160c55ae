/* url: split an absolute http(s) URL or a path into its parts.
 *
 * Pure: the parts point into the caller's string. Hosts in brackets
 * ([::1]) come back without the brackets. */
#ifndef CICADA_URL_H
#define CICADA_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct url {
    bool absolute; /* had scheme://host */
    bool tls;      /* https */
    const char *host;
    size_t host_len;
    int port;         /* explicit, or 80/443 by scheme; 0 for a relative URL */
    const char *path; /* path + query, starts with '/'; "/" if empty */
    size_t path_len;  /* a URL with no path gets path "/" (static) */
} url_t;

/* Parse s. Accepts "http://h[:p][/path?q]", "https://...", and relative
 * "/path?q" (absolute=false). Returns 0, or -1 with a reason in *why
 * (a static string) for anything else: unknown scheme, empty host, bad port,
 * a fragment is dropped silently. */
int url_parse(const char *s, url_t *u, const char **why);

/* Percent-encode s for a query component (application/x-www-form-urlencoded
 * rules: A-Za-z0-9-._~ kept, space as '+', the rest %XX). Like snprintf, n is
 * the size of out including the NUL (out may be NULL if n is 0), the output
 * is always NUL-terminated when n > 0, and the return value is the length the
 * whole result needs, not counting the NUL; a truncated result ends before
 * an escape that does not fit, never inside one. */
size_t url_encode(const char *s, size_t slen, char *out, size_t n);

#endif
