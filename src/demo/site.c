/* site: the demo site's routes (see site.h).
 *
 * A fixed table maps a path (exact, or a prefix like "/item/") and the
 * methods it accepts to a handler; a path not in it is 404, a method a route
 * does not take is 405. Every handler writes the whole response, head and
 * body, into the connection's output buffer; HEAD is GET without the body.
 * Bodies whose length is not known up front (/login, /echo) are built in the
 * site's scratch buffer first, so no handler allocates per request once the
 * buffers have grown. Form and JSON bodies are read by small lenient
 * scanners that look for the user name only: this is a target to load, not a
 * reference implementation of either format (input helpers are in form.c). */
#include "demo/site.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "demo/form.h"

char *demo_buf_reserve(struct demo_buf *b, size_t extra)
{
    if (b->cap - b->len < extra) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < extra)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    return b->p + b->len;
}

void demo_buf_add(struct demo_buf *b, const void *data, size_t n)
{
    memcpy(demo_buf_reserve(b, n), data, n);
    b->len += n;
}

void demo_buf_free(struct demo_buf *b)
{
    xfree(b->p);
    *b = (struct demo_buf){0};
}

static void add_str(struct demo_buf *b, const char *s)
{
    demo_buf_add(b, s, strlen(s));
}

static void add_num(struct demo_buf *b, unsigned long long v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    demo_buf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

void demo_site_init(struct demo_site *site, double slow_delay, double fail_ratio, uint64_t seed)
{
    memset(site, 0, sizeof *site);
    site->slow_delay = slow_delay;
    site->fail_ratio = fail_ratio;
    site->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    site->date_at = -1;
}

void demo_site_free(struct demo_site *site)
{
    demo_buf_free(&site->scratch);
}

void demo_site_tick(struct demo_site *site, time_t now)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (now == site->date_at) return;
    site->date_at = now;
    gmtime_r(&now, &tm);
    /* by hand, not strftime: the names must not follow the locale */
    snprintf(site->date, sizeof site->date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static double random01(struct demo_site *site)
{
    uint64_t x = site->rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    site->rng = x;
    return (double)(x >> 11) * 0x1.0p-53;
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    }
    static const char *cls[] = {"Status",      "Informational", "Success",
                                "Redirection", "Client Error",  "Server Error"};
    return cls[status / 100 <= 5 ? status / 100 : 0];
}

/* One request being answered: what a handler reads and writes. */
struct ctx {
    struct demo_site *site;
    const struct demo_req *rq; /* NULL for demo_site_error */
    struct demo_buf *out;
    struct demo_str arg; /* the path after a prefix route's prefix */
    double delay;
};

static int is_method(const struct demo_req *rq, const char *m)
{
    return rq && rq->method.n == strlen(m) && memcmp(rq->method.p, m, rq->method.n) == 0;
}

/* Write the status line and headers. length < 0 leaves out Content-Length
 * (chunked, 204, 304); extra is more header lines, each ending in CRLF. */
static void head(struct ctx *c, int status, const char *type, long length, const char *extra)
{
    struct demo_buf *b = c->out;
    add_str(b, "HTTP/1.1 ");
    add_num(b, (unsigned)status);
    demo_buf_add(b, " ", 1);
    add_str(b, reason(status));
    add_str(b, "\r\nServer: cicada-demo\r\nDate: ");
    add_str(b, c->site->date);
    if (type) {
        add_str(b, "\r\nContent-Type: ");
        add_str(b, type);
    }
    if (length >= 0) {
        add_str(b, "\r\nContent-Length: ");
        add_num(b, (unsigned long)length);
    }
    if (!c->rq || !c->rq->keep_alive)
        add_str(b, "\r\nConnection: close");
    else if (c->rq->minor == 0)
        add_str(b, "\r\nConnection: keep-alive");
    add_str(b, "\r\n");
    if (extra) add_str(b, extra);
    add_str(b, "\r\n");
}

static void reply(struct ctx *c, int status, const char *type, const void *body, size_t n,
                  const char *extra)
{
    head(c, status, type, (long)n, extra);
    if (!is_method(c->rq, "HEAD")) demo_buf_add(c->out, body, n);
}

#define TEXT "text/plain; charset=utf-8"
#define HTML "text/html; charset=utf-8"
#define JSON "application/json"

static void text(struct ctx *c, int status, const char *body)
{
    reply(c, status, TEXT, body, strlen(body), NULL);
}

/* Reply with the scratch buffer as body. */
static void reply_scratch(struct ctx *c, int status, const char *type, const char *extra)
{
    reply(c, status, type, c->site->scratch.p, c->site->scratch.len, extra);
}

static const char index_html[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>cicada demo site</title></head>\n"
    "<body><h1>cicada demo site</h1>\n<p>A target for <code>cicada</code> load tests.</p>\n<ul>\n"
    "<li><a href=\"/fast\">GET /fast</a> answers at once</li>\n"
    "<li><a href=\"/slow\">GET /slow</a> answers after --slow-delay seconds "
    "(<a href=\"/slow?delay=0.5\">/slow?delay=0.5</a> to choose)</li>\n"
    "<li><a href=\"/login\">GET /login</a> a form; POST /login with user=NAME (form or JSON) "
    "sets a session cookie</li>\n"
    "<li><a href=\"/me\">GET /me</a> who the session cookie says you are</li>\n"
    "<li><a href=\"/flaky\">GET /flaky</a> fails with 500 now and then (--fail-ratio)</li>\n"
    "<li><a href=\"/item/42\">GET /item/&lt;n&gt;</a> JSON {\"id\": n}</li>\n"
    "<li><a href=\"/status/503\">GET /status/&lt;code&gt;</a> answers that status</li>\n"
    "<li><a href=\"/bytes/1024\">GET /bytes/&lt;n&gt;</a> n bytes (at most 1 MiB)</li>\n"
    "<li><a href=\"/chunked\">GET /chunked</a> a chunked response</li>\n"
    "<li><a href=\"/echo\">ANY /echo</a> the request back as JSON</li>\n"
    "</ul></body></html>\n";

static const char login_html[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Log in</title></head>\n"
    "<body><h1>Log in</h1>\n<form method=\"post\" action=\"/login\">\n"
    "<label>User <input name=\"user\"></label>\n<button type=\"submit\">Log in</button>\n"
    "</form></body></html>\n";

static void get_index(struct ctx *c)
{
    reply(c, 200, HTML, index_html, sizeof index_html - 1, NULL);
}

static void get_fast(struct ctx *c)
{
    text(c, 200, "fast page: ok\n");
}

static void get_slow(struct ctx *c)
{
    double d = c->site->slow_delay;
    struct demo_str v;
    if (demo_form_get(c->rq->query, "delay", &v)) {
        char tmp[32], *end;
        if (v.n == 0 || v.n >= sizeof tmp) goto bad;
        memcpy(tmp, v.p, v.n);
        tmp[v.n] = 0;
        d = strtod(tmp, &end);
        if (*end || !isfinite(d) || d < 0 || d > DEMO_SLOW_MAX) goto bad;
    }
    c->delay = d;
    text(c, 200, "slow page: done\n");
    return;
bad:
    text(c, 400, "bad delay: want seconds from 0 to 60\n");
}

static void get_flaky(struct ctx *c)
{
    if (random01(c->site) < c->site->fail_ratio)
        text(c, 500, "flaky page: failed this time\n");
    else
        text(c, 200, "flaky page: done\n");
}

/* Digits only, at most max_digits of them; -1 otherwise. */
static long long number(struct demo_str s, size_t max_digits)
{
    long long v = 0;
    if (s.n == 0 || s.n > max_digits) return -1;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return -1;
        v = v * 10 + (s.p[i] - '0');
    }
    return v;
}

static void not_found(struct ctx *c)
{
    text(c, 404, "not found\n");
}

static void get_item(struct ctx *c)
{
    long long id = number(c->arg, 18);
    if (id < 0) {
        not_found(c);
        return;
    }
    struct demo_buf *s = &c->site->scratch;
    s->len = 0;
    add_str(s, "{\"id\": ");
    add_num(s, (unsigned long long)id);
    add_str(s, "}");
    reply_scratch(c, 200, JSON, NULL);
}

static void get_status(struct ctx *c)
{
    long long code = number(c->arg, 3);
    if (code < 200 || code > 599) {
        text(c, 400, "bad status: want 200 to 599\n");
        return;
    }
    if (code == 204 || code == 304) {
        head(c, (int)code, NULL, -1, NULL);
        return;
    }
    char body[32];
    snprintf(body, sizeof body, "status %lld\n", code);
    text(c, (int)code, body);
}

static void get_bytes(struct ctx *c)
{
    long long n = number(c->arg, 8);
    if (n < 0) {
        not_found(c);
        return;
    }
    if (n > DEMO_BODY_MAX) {
        text(c, 400, "too many bytes: at most 1048576\n");
        return;
    }
    head(c, 200, "application/octet-stream", (long)n, NULL);
    if (is_method(c->rq, "HEAD") || n == 0) return;
    /* a repeating alphabet, filled by doubling copies */
    char *p = demo_buf_reserve(c->out, (size_t)n);
    size_t have = (size_t)n < 26 ? (size_t)n : 26;
    for (size_t i = 0; i < have; i++)
        p[i] = (char)('a' + i);
    while (have < (size_t)n) {
        size_t k = have < (size_t)n - have ? have : (size_t)n - have;
        memcpy(p + have, p, k);
        have += k;
    }
    c->out->len += (size_t)n;
}

static void get_chunked(struct ctx *c)
{
    static const char *parts[] = {"chunk 1 of 4\n", "chunk 2 of 4\n", "chunk 3 of 4\n",
                                  "chunk 4 of 4: done\n"};
    struct demo_buf *s = &c->site->scratch;
    if (c->rq->minor == 0) { /* HTTP/1.0 has no chunked coding: send it whole */
        s->len = 0;
        for (size_t i = 0; i < 4; i++)
            add_str(s, parts[i]);
        reply_scratch(c, 200, TEXT, NULL);
        return;
    }
    head(c, 200, TEXT, -1, "Transfer-Encoding: chunked\r\n");
    if (is_method(c->rq, "HEAD")) return;
    for (size_t i = 0; i < 4; i++) {
        char size[24];
        snprintf(size, sizeof size, "%zx\r\n", strlen(parts[i]));
        add_str(c->out, size);
        add_str(c->out, parts[i]);
        add_str(c->out, "\r\n");
    }
    add_str(c->out, "0\r\n\r\n");
}

static void get_login(struct ctx *c)
{
    reply(c, 200, HTML, login_html, sizeof login_html - 1, NULL);
}

static void post_login(struct ctx *c)
{
    char user[DEMO_USER_MAX + 1];
    const struct demo_req *rq = c->rq;
    long n = demo_find_user(rq->content_type, rq->body, user, sizeof user);
    if (n == -2) {
        text(c, 400, "user name too long: at most 64 bytes\n");
        return;
    }
    if (n <= 0) {
        reply(c, 400, JSON, "{\"ok\":false,\"error\":\"missing user\"}", 35, NULL);
        return;
    }
    struct demo_buf *s = &c->site->scratch;
    s->len = 0;
    add_str(s, "{\"ok\":true,\"user\":");
    demo_json_quote(s, user, (size_t)n);
    add_str(s, "}");
    char cookie[2 * DEMO_USER_MAX + 64];
    int k = snprintf(cookie, sizeof cookie, "Set-Cookie: session=");
    demo_hex(cookie + k, user, (size_t)n);
    strcat(cookie, "; Path=/; HttpOnly\r\n");
    reply_scratch(c, 200, JSON, cookie);
}

static void login(struct ctx *c)
{
    if (is_method(c->rq, "POST"))
        post_login(c);
    else
        get_login(c);
}

static void get_me(struct ctx *c)
{
    char user[DEMO_USER_MAX + 1];
    long n = demo_session_user(c->rq->cookie, user, sizeof user);
    if (n <= 0) {
        reply(c, 401, JSON, "{\"ok\":false,\"error\":\"not logged in\"}", 36, NULL);
        return;
    }
    struct demo_buf *s = &c->site->scratch;
    s->len = 0;
    add_str(s, "{\"ok\":true,\"user\":");
    demo_json_quote(s, user, (size_t)n);
    add_str(s, "}");
    reply_scratch(c, 200, JSON, NULL);
}

static void any_echo(struct ctx *c)
{
    const struct demo_req *rq = c->rq;
    struct demo_buf *s = &c->site->scratch;
    s->len = 0;
    add_str(s, "{\"method\":");
    demo_json_quote(s, rq->method.p, rq->method.n);
    add_str(s, ",\"path\":");
    demo_json_quote(s, rq->path.p, rq->path.n);
    add_str(s, ",\"query\":");
    demo_json_quote(s, rq->query.p, rq->query.n);
    add_str(s, ",\"headers\":{");
    for (size_t i = 0; i < rq->nheaders; i++) {
        if (i) add_str(s, ",");
        demo_json_quote_lower(s, rq->name[i].p, rq->name[i].n);
        add_str(s, ":");
        demo_json_quote(s, rq->value[i].p, rq->value[i].n);
    }
    add_str(s, "},\"body\":");
    demo_json_quote(s, rq->body.p, rq->body.n);
    add_str(s, "}\n");
    reply_scratch(c, 200, JSON, NULL);
}

enum { GET = 1, POST = 2, ANY = 4 };

static const struct route {
    const char *path;
    int prefix; /* path is a prefix; the rest is the handler's arg */
    int methods;
    const char *allow; /* for 405 */
    void (*fn)(struct ctx *c);
} routes[] = {
    {"/", 0, GET, "GET, HEAD", get_index},
    {"/fast", 0, GET, "GET, HEAD", get_fast},
    {"/slow", 0, GET, "GET, HEAD", get_slow},
    {"/login", 0, GET | POST, "GET, HEAD, POST", login},
    {"/me", 0, GET, "GET, HEAD", get_me},
    {"/flaky", 0, GET, "GET, HEAD", get_flaky},
    {"/item/", 1, GET, "GET, HEAD", get_item},
    {"/status/", 1, GET, "GET, HEAD", get_status},
    {"/bytes/", 1, GET, "GET, HEAD", get_bytes},
    {"/chunked", 0, GET, "GET, HEAD", get_chunked},
    {"/echo", 0, ANY, NULL, any_echo},
};

static const struct route *find_route(struct demo_str path, struct demo_str *arg)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        size_t n = strlen(r->path);
        if (r->prefix ? path.n < n : path.n != n) continue;
        if (memcmp(path.p, r->path, n) != 0) continue;
        *arg = (struct demo_str){path.p + n, path.n - n};
        return r;
    }
    return NULL;
}

static int allowed(const struct route *r, const struct demo_req *rq)
{
    if (r->methods & ANY) return 1;
    if ((r->methods & GET) && (is_method(rq, "GET") || is_method(rq, "HEAD"))) return 1;
    return (r->methods & POST) && is_method(rq, "POST");
}

int demo_site_respond(struct demo_site *site, const struct demo_req *rq, struct demo_buf *out,
                      double *delay)
{
    struct ctx c = {site, rq, out, {NULL, 0}, 0};
    const struct route *r = find_route(rq->path, &c.arg);
    if (!r) {
        not_found(&c);
    } else if (!allowed(r, rq)) {
        char allow[64];
        snprintf(allow, sizeof allow, "Allow: %s\r\n", r->allow);
        reply(&c, 405, TEXT, "method not allowed\n", 19, allow);
    } else {
        r->fn(&c);
    }
    *delay = c.delay;
    return rq->keep_alive ? 0 : DEMO_CLOSE;
}

void demo_site_error(struct demo_site *site, int status, struct demo_buf *out)
{
    struct ctx c = {site, NULL, out, {NULL, 0}, 0};
    switch (status) {
    case 413:
        text(&c, 413, "request body too large: at most 1048576 bytes\n");
        break;
    case 431:
        text(&c, 431, "request head too large\n");
        break;
    case 501:
        text(&c, 501, "Transfer-Encoding is not supported; send Content-Length\n");
        break;
    default:
        text(&c, status, "bad request\n");
    }
}
