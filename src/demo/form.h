/* form: small readers and writers of the formats the demo site's routes see
 * (query strings, url-encoded forms, a JSON object's "user", the session
 * cookie) and JSON string quoting for what they answer.
 *
 * All are pure functions over (pointer, length) pieces of the request; they
 * never allocate except by growing a caller's demo_buf. They are lenient
 * scanners for one job each, not general parsers. */
#ifndef CICADA_DEMO_FORM_H
#define CICADA_DEMO_FORM_H

#include <stddef.h>

#include "demo/req.h"
#include "demo/site.h"

enum { DEMO_USER_MAX = 64 }; /* longest user name /login takes, in bytes */

/* Find key in a "k=v&k2=v2" string (keys compared raw, not decoded). Returns
 * 1 and the raw (still encoded) value in *value, or 0 if key is absent. */
int demo_form_get(struct demo_str form, const char *key, struct demo_str *value);

/* The user name in a POST /login body: the "user" (or "username") field of
 * a JSON object if content_type says json, else of a url-encoded form.
 * Writes it decoded and NUL-terminated to dst[0, cap). Returns its length
 * (0 if empty), -1 if absent, or -2 if it does not fit in cap - 1 bytes. */
long demo_find_user(struct demo_str content_type, struct demo_str body, char *dst, size_t cap);

/* The user name in the "session" cookie of a Cookie header value (set by
 * POST /login as hex); same returns as demo_find_user. */
long demo_session_user(struct demo_str cookie, char *dst, size_t cap);

/* Write 2n lower-case hex digits of p[0, n) and a NUL to dst. */
void demo_hex(char *dst, const char *p, size_t n);

/* Append p[0, n) to b as a quoted JSON string (control bytes, '"' and '\\'
 * escaped; other bytes as they are). The _lower variant lower-cases ASCII. */
void demo_json_quote(struct demo_buf *b, const char *p, size_t n);
void demo_json_quote_lower(struct demo_buf *b, const char *p, size_t n);

#endif
