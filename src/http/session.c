/* session: see session.h.
 *
 * Redirects follow requests' Session.resolve_redirects: 303 (and 302 for
 * any method but HEAD, as browsers do) become GET, 301 turns POST into GET;
 * unless the status is 307 or 308 the body and its Content-Length,
 * Content-Type and Transfer-Encoding headers are dropped; Authorization is
 * dropped when the host changes (except http -> https on default ports);
 * Cookie is recomputed from the jar for the new URL. The Location is
 * resolved against the URL of the request it answers (absolute,
 * scheme-relative, absolute path, relative path, query only), with dot
 * segments removed and unsafe bytes percent-encoded.
 *
 * The build buffers are the client environment's (client_env_t: reused,
 * never shrunk below what redirects needed, freed with it). Each response
 * that is followed is kept (status, URL, header block) in the client's
 * hops buffer for the result's history (requests' r.history). */
#include "http/session.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/cookie.h"
#include "http/parse.h"
#include "http/url.h"

/* ---- small helpers ---- */

int session_encoding(const char *v, size_t n)
{
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if ((n == 4 && strncasecmp(v, "gzip", 4) == 0) || (n == 6 && strncasecmp(v, "x-gzip", 6) == 0))
        return SESSION_GZIP;
    if (n == 7 && strncasecmp(v, "deflate", 7) == 0) return SESSION_DEFLATE;
    return 0;
}

/* The request line of the request in c->wbuf: method and target. */
static void request_line(const conn_t *c, const char **m, size_t *ml, const char **t, size_t *tl)
{
    const char *p = c->wbuf.p, *sp = memchr(p, ' ', c->wbuf.len);
    const char *end = sp ? memchr(sp + 1, ' ', c->wbuf.len - (size_t)(sp + 1 - p)) : NULL;
    *m = p, *ml = sp ? (size_t)(sp - p) : 0;
    *t = sp ? sp + 1 : "/", *tl = end ? (size_t)(end - sp - 1) : 1;
    *t = client_origin_form(*t, tl); /* through a proxy: the path of the absolute form */
}

/* Append p with the bytes a request target must not carry raw
 * percent-encoded (requests' requote_uri: '%' and reserved characters
 * stay as they are). */
static void append_quoted(buf_t *w, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch <= 0x20 || ch >= 0x7f || strchr("\"<>\\^`{|}", ch)) {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(w, e, 3);
        } else {
            buf_append(w, p + i, 1);
        }
    }
}

/* RFC 3986 5.2.4: remove "." and ".." segments from the path at
 * w->p[from..) up to its query, in place. */
static void remove_dots(buf_t *w, size_t from)
{
    char *p = w->p + from, *q = memchr(p, '?', w->len - from);
    size_t plen = q ? (size_t)(q - p) : w->len - from, out = 0;
    if (plen == 0 || p[0] != '/') return;
    char *tmp = p; /* output never outruns input: write in place */
    size_t i = 0;
    while (i < plen) {
        /* p[i] == '/': look at the segment after it */
        size_t j = i + 1;
        while (j < plen && p[j] != '/')
            j++;
        size_t sl = j - i - 1;
        const char *seg = p + i + 1;
        if (sl == 1 && seg[0] == '.') {
            if (j == plen) tmp[out++] = '/';
        } else if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > 0 && tmp[--out] != '/') {
            }
            if (j == plen) tmp[out++] = '/';
        } else {
            memmove(tmp + out, p + i, j - i);
            out += j - i;
        }
        i = j;
    }
    if (out == 0) tmp[out++] = '/';
    size_t rest = w->len - from - plen;
    memmove(tmp + out, p + plen, rest);
    w->len = from + out + rest;
    w->p[w->len] = '\0';
}

/* ---- cookies ---- */

void session_store_cookies(conn_t *c)
{
    http_response_t *res = &c->cl->env->parsed;
    if (http_parse_response(c->rbuf.p, (size_t)c->hdr_len, res) < 0) return;
    client_t *cl = c->cl;
    const char *m, *t;
    size_t ml, tl;
    request_line(c, &m, &ml, &t, &tl);
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < res->num_headers; i++) {
        const http_header_t *h = &res->headers[i];
        if (h->name_len != 10 || strncasecmp(h->name, "set-cookie", 10) != 0) continue;
        if (cl->jar == NULL) cl->jar = cookie_jar_new();
        cookie_jar_set(cl->jar, h->value, h->value_len, c->host, strlen(c->host), t, tl, c->tls,
                       now);
    }
}

void session_cookie_header(struct cookie_jar *jar, buf_t *w, const char *host, size_t hlen,
                           const char *path, size_t plen, bool tls)
{
    if (jar == NULL || jar->n == 0) return;
    size_t mark = w->len;
    buf_puts(w, "Cookie: ");
    if (cookie_jar_header(jar, w, host, hlen, path, plen, tls, (int64_t)time(NULL)) == 0) {
        w->len = mark;
        w->p[mark] = '\0';
        return;
    }
    buf_puts(w, "\r\n");
}

/* ---- redirects ---- */

void session_resolve(buf_t *out, const char *origin, bool tls, const char *t, size_t tl,
                     const char *l, size_t ll)
{
    const char *hash;
    if ((hash = memchr(l, '#', ll)) != NULL) ll = (size_t)(hash - l);
    size_t sl = 0;
    while (sl < ll &&
           (isalnum((unsigned char)l[sl]) || l[sl] == '+' || l[sl] == '-' || l[sl] == '.'))
        sl++;
    buf_reset(out);
    size_t path_from;
    if (sl > 0 && sl + 2 < ll && memcmp(l + sl, "://", 3) == 0) { /* absolute */
        const char *slash = memchr(l + sl + 3, '/', ll - sl - 3);
        path_from = slash ? (size_t)(slash - l) : ll;
        buf_append(out, l, path_from);
        append_quoted(out, l + path_from, ll - path_from);
        remove_dots(out, path_from);
        return;
    }
    if (ll >= 2 && l[0] == '/' && l[1] == '/') { /* scheme-relative */
        buf_puts(out, tls ? "https:" : "http:");
        const char *slash = memchr(l + 2, '/', ll - 2);
        size_t hl = slash ? (size_t)(slash - l) : ll;
        buf_append(out, l, hl);
        path_from = out->len;
        append_quoted(out, l + hl, ll - hl);
        remove_dots(out, path_from);
        return;
    }
    const char *q = memchr(t, '?', tl);
    size_t base = q ? (size_t)(q - t) : tl; /* the current path without its query */
    buf_puts(out, origin);
    path_from = out->len;
    if (ll == 0) {
        buf_append(out, t, tl);
    } else if (l[0] == '/') {
        append_quoted(out, l, ll);
    } else if (l[0] == '?') {
        buf_append(out, t, base);
        append_quoted(out, l, ll);
    } else { /* relative to the current path's directory */
        size_t dir = base;
        while (dir > 0 && t[dir - 1] != '/')
            dir--;
        if (dir == 0)
            buf_puts(out, "/");
        else
            buf_append(out, t, dir);
        append_quoted(out, l, ll);
    }
    remove_dots(out, path_from);
}

const char *session_redirect_method(int status, const char *m, size_t ml, size_t *len)
{
    bool head = ml == 4 && memcmp(m, "HEAD", 4) == 0;
    bool post = ml == 4 && memcmp(m, "POST", 4) == 0;
    *len = ml;
    if ((status == 303 && !head) || (status == 302 && !head) || (status == 301 && post)) {
        *len = 3;
        return "GET";
    }
    return m;
}

bool session_keeps_auth(const char *host, size_t hl, int port, bool tls, const url_t *to)
{
    bool same_host = hl == to->host_len && strncasecmp(host, to->host, hl) == 0;
    return same_host && ((port == to->port && tls == to->tls) ||
                         (!tls && to->tls && port == 80 && to->port == 443));
}

/* Copy the headers of the request in c->wbuf to next but those a redirect
 * drops (Host and Cookie, which are made again; the body's unless kept;
 * Authorization unless kept). Returns where the request's body starts. */
static const char *copy_headers(const conn_t *c, buf_t *next, bool keep_body, bool keep_auth)
{
    const char *w = c->wbuf.p, *wend = w + c->wbuf.len;
    const char *line = memchr(w, '\n', c->wbuf.len);
    line = line ? line + 1 : wend;
    while (line < wend) {
        const char *eol = memchr(line, '\n', (size_t)(wend - line));
        if (eol == NULL) break;
        size_t len = (size_t)(eol + 1 - line);
        if (len <= 2) return eol + 1; /* the empty line: the body follows */
        const char *colon = memchr(line, ':', len);
        size_t nl = colon ? (size_t)(colon - line) : 0;
#define IS(name) (nl == sizeof name - 1 && strncasecmp(line, name, nl) == 0)
        bool drop = IS("host") || IS("cookie") || IS("proxy-authorization") ||
                    (!keep_body &&
                     (IS("content-length") || IS("content-type") || IS("transfer-encoding"))) ||
                    (!keep_auth && IS("authorization"));
#undef IS
        if (!drop) buf_append(next, line, len);
        line = eol + 1;
    }
    return wend;
}

/* Build the next hop's request to u, going out on n, in next from the
 * request on c. Returns whether it is a HEAD. */
static bool build_hop(const conn_t *c, const conn_t *n, const url_t *u, buf_t *next)
{
    const char *m, *t;
    size_t ml, tl;
    request_line(c, &m, &ml, &t, &tl);
    m = session_redirect_method(c->status, m, ml, &ml);
    bool keep_body = session_keeps_body(c->status);
    bool keep_auth = session_keeps_auth(c->host, strlen(c->host), c->port, c->tls, u);
    buf_reset(next);
    buf_append(next, m, ml);
    buf_append(next, " ", 1);
    if (client_absolute(n)) buf_puts(next, n->origin); /* through a proxy */
    buf_append(next, u->path, u->path_len);
    buf_puts(next, " HTTP/1.1\r\n");
    bool v6 = memchr(u->host, ':', u->host_len) != NULL;
    buf_printf(next, "Host: %s%.*s%s", v6 ? "[" : "", (int)u->host_len, u->host, v6 ? "]" : "");
    if (u->port != (u->tls ? 443 : 80)) buf_printf(next, ":%d", u->port);
    buf_puts(next, "\r\n");
    if (client_absolute(n) && n->px_auth)
        buf_printf(next, "Proxy-Authorization: %s\r\n", n->px_auth);
    const char *body = copy_headers(c, next, keep_body, keep_auth);
    const char *wend = c->wbuf.p + c->wbuf.len;
    session_cookie_header(c->cl->jar, next, u->host, u->host_len, u->path, u->path_len, u->tls);
    buf_puts(next, "\r\n");
    if (keep_body && body < wend) buf_append(next, body, (size_t)(wend - body));
    return ml == 4 && memcmp(m, "HEAD", 4) == 0;
}

void client_note_hop(conn_t *c, const char *url, size_t url_len)
{
    buf_t *b = &c->cl->hops;
    client_hop_t h = {.status = c->status,
                      .url_len = (uint32_t)url_len,
                      .hdr_len = (uint32_t)c->hdr_len,
                      .elapsed_ns = clock_ns() - c->start_ns};
    buf_append(b, (const char *)&h, sizeof h);
    buf_append(b, url, url_len);
    buf_append(b, c->rbuf.p, (size_t)c->hdr_len);
}

bool session_redirect(conn_t *c, client_result_t *r)
{
    client_env_t *env = c->cl->env;
    char *err = env->error;
    size_t errlen = sizeof env->error;
    buf_t *loc = &env->location, *next = &env->hop;
    if (c->nredirects >= CLIENT_MAX_REDIRECTS) {
        snprintf(err, errlen, "TooManyRedirects('Exceeded %d redirects.')", CLIENT_MAX_REDIRECTS);
        r->error = err;
        return false;
    }
    const char *m, *t;
    size_t ml, tl;
    request_line(c, &m, &ml, &t, &tl);
    session_resolve(loc, c->origin, c->tls, t, tl, c->rbuf.p + c->loc_off, c->loc_len);
    url_t u;
    const char *why = NULL;
    if (url_parse(loc->p, &u, &why) != 0 || !u.absolute) {
        snprintf(err, errlen, "InvalidURL(\"cannot follow the redirect to '%.500s': %s\")", loc->p,
                 why ? why : "not a URL");
        r->error = err;
        return false;
    }
    conn_t *n = client_conn(c->cl, u.host, u.host_len, u.port, u.tls, err, errlen);
    if (n == NULL) {
        r->error = err;
        return false;
    }
    client_req_t req = c->req;
    req.head = build_hop(c, n, &u, next);
    /* the new request takes the connection's write buffer; the old one
     * becomes the next build space (no copy, no allocation) */
    buf_t tmp = n->wbuf;
    n->wbuf = *next;
    *next = tmp;
    /* r->url is this hop's URL (finish() wrote it before calling here) */
    client_note_hop(c, r->url ? r->url : "", r->url ? r->url_len : 0);
    client_result_t res;
    if (client_send(n, &req, c, &res) == 0) client_deliver(n, &res);
    return true;
}
