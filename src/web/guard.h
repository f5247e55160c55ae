/* guard: who may use the web UI, as pure functions over a parsed request.
 *
 * Basic auth (--web-auth user:password) guards every route and /ws. The
 * cross-site rule guards what changes state (/swarm, /stop, /stats/reset)
 * and /ws: a browser request must come from the UI's own origin. A browser
 * says where a request comes from (Origin, Referer, Sec-Fetch-Site, which
 * a page cannot forge); a script (curl, Python, Locust-style tools) says
 * nothing, and is allowed, as it could send anything anyway. See
 * docs/architecture.md, "Cross-site requests". */
#ifndef CICADA_WEB_GUARD_H
#define CICADA_WEB_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "web/http.h"

/* True if want is NULL (no --web-auth) or the request's Authorization
 * header is Basic with exactly want ("user:password"), compared in a time
 * that depends only on want's length. */
bool guard_auth(const http_req_t *req, const char *want);

/* True if the request carries any header only browsers send (Origin,
 * Referer, Sec-Fetch-Site): it may come from a page the user visits. */
bool guard_browser(const http_req_t *req);

/* True if the request may change state: Sec-Fetch-Site, when sent, is
 * "same-origin" or "none" (typed by the user); Origin, when sent, is
 * <scheme>://<Host header>; otherwise Referer, when sent, is on that
 * origin; and, when the UI listens on loopback only (loopback true), the
 * Host is a loopback name or web_host (DNS rebinding). Otherwise false
 * with the reason in why (size n). */
bool guard_same_origin(const http_req_t *req, bool tls, bool loopback, const char *web_host,
                       char *why, size_t n);

#endif
