/* failure: the error texts of failed requests, in the words of Python's
 * requests and urllib3 (what Locust users see in their failures table):
 * NameResolutionError, ConnectionRefusedError(111, ...), HTTPError('404
 * Client Error: ... for url: ...'), ConnectTimeout/ReadTimeout, and
 * requests' ProxyError around what happened on the way to a proxy. The
 * texts are built in one thread-local scratch buffer: each is delivered
 * (copied into the statistics) before the next failure is written. */
#include "http/failure.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/tunnel.h"
#include "net/tls.h"

static _Thread_local char errtext[512];

/* The error of a failed lookup, in requests' words; why is the resolver's
 * reason ("Name or service not known"). */
const char *failure_name(const conn_t *c, const char *why)
{
    snprintf(errtext, sizeof errtext, "NameResolutionError(\"Failed to resolve '%s' (%s)\")",
             c->px_host ? c->px_host : c->host, why);
    return c->px_host ? tunnel_proxy_error(errtext) : errtext;
}

const char *failure_errno(const conn_t *c, int e)
{
    switch (e) {
    case ECONNREFUSED:
        return "ConnectionRefusedError(111, 'Connection refused')";
    case ECONNRESET:
        return "ConnectionResetError(104, 'Connection reset by peer')";
    case EPIPE:
        return "BrokenPipeError(32, 'Broken pipe')";
    case ENETUNREACH:
        return "OSError(101, 'Network is unreachable')";
    case EHOSTUNREACH:
        return "OSError(113, 'No route to host')";
    case EPROTO: /* set by the TLS transport, which wrote the text */
        return tls_error(c->cl->env->net);
    default:
        snprintf(errtext, sizeof errtext, "OSError(%d, '%s')", e, strerror(e));
        return errtext;
    }
}

/* A connect that failed (errno e): through a proxy, requests' ProxyError. */
const char *failure_connect(const conn_t *c, int e)
{
    const char *t = failure_errno(c, e);
    return c->px_host ? tunnel_proxy_error(t) : t;
}

/* The request's URL, rebuilt from the connection's origin and the request
 * line into out (size n > 0, NUL-terminated). Returns its length. */
size_t failure_url(const conn_t *c, char *out, size_t n)
{
    const char *p = c->wbuf.p, *sp = p ? memchr(p, ' ', c->wbuf.len) : NULL;
    const char *end = sp ? memchr(sp + 1, ' ', c->wbuf.len - (size_t)(sp + 1 - p)) : NULL;
    size_t ol = strlen(c->origin), tl = end ? (size_t)(end - sp - 1) : 0;
    if (sp) sp = client_origin_form(sp + 1, &tl) - 1; /* the absolute form's path */
    if (ol > n - 1) ol = n - 1;
    if (tl > n - 1 - ol) tl = n - 1 - ol;
    memcpy(out, c->origin, ol);
    if (tl) memcpy(out + ol, sp + 1, tl);
    out[ol + tl] = '\0';
    return ol + tl;
}

const char *failure_status(const conn_t *c, const char *reason, size_t reason_len)
{
    char url[300];
    failure_url(c, url, sizeof url);
    snprintf(errtext, sizeof errtext, "HTTPError('%d %s Error: %.*s for url: %s')", c->status,
             c->status < 500 ? "Client" : "Server", (int)reason_len, reason, url);
    return errtext;
}

const char *failure_timeout(bool connecting, double seconds)
{
    if (connecting)
        snprintf(errtext, sizeof errtext, "ConnectTimeout('connect timed out (timeout=%g)')",
                 seconds);
    else
        snprintf(errtext, sizeof errtext, "ReadTimeout('read timed out (read timeout=%g)')",
                 seconds);
    return errtext;
}
