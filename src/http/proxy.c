/* proxy: see proxy.h.
 *
 * The map is a flat array of (key, url, level) over one text buffer:
 * requests' dicts have a handful of keys, so picking scans it (four keys
 * tried, each against at most PROXY_MAX_KEYS entries), with no hashing
 * and no allocation. The environment is one more map, built once under
 * pthread_once, whose entries have level PROXY_ENV. */
#include "http/proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"

void proxy_map_reset(proxy_map_t *m)
{
    buf_reset(&m->text);
    m->n = 0;
    m->has_no_proxy = false;
    m->no_proxy = m->no_proxy_len = 0;
    m->ignore_env = false;
}

void proxy_map_free(proxy_map_t *m)
{
    buf_free(&m->text);
    m->n = 0;
}

static uint32_t put(proxy_map_t *m, const char *s, size_t n)
{
    uint32_t at = (uint32_t)m->text.len;
    if (n) buf_append(&m->text, s, n);
    return at;
}

int proxy_map_add(proxy_map_t *m, int level, const char *key, size_t kl, const char *url, size_t ul,
                  char *err, size_t n)
{
    if (url == NULL) ul = 0;
    if (kl == 8 && strncasecmp(key, "no_proxy", 8) == 0) {
        if (m->has_no_proxy) return 0; /* the request's came first */
        m->has_no_proxy = true;
        m->no_proxy = put(m, url, ul);
        m->no_proxy_len = (uint32_t)ul;
        return 0;
    }
    if (m->n == PROXY_MAX_KEYS) {
        snprintf(err, n, "proxies: more than %d keys", PROXY_MAX_KEYS);
        return -1;
    }
    proxy_entry_t *e = &m->e[m->n++];
    e->level = (unsigned char)level;
    e->key = put(m, key, kl);
    e->key_len = (uint32_t)kl;
    e->url = put(m, url, ul);
    e->url_len = (uint32_t)ul;
    return 0;
}

/* ---- the environment ---- */

static proxy_map_t env_map;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* requests (urllib's getproxies_environment): the lower-case name wins */
static const char *env_get(const char *lower, const char *upper)
{
    const char *v = getenv(lower);
    if (v == NULL || *v == '\0') v = getenv(upper);
    return v && *v ? v : NULL;
}

void proxy_env_reload(void)
{
    static const char *const vars[][3] = {
        {"http", "http_proxy", "HTTP_PROXY"},
        {"https", "https_proxy", "HTTPS_PROXY"},
        {"all", "all_proxy", "ALL_PROXY"},
        {"no_proxy", "no_proxy", "NO_PROXY"},
    };
    char err[64];
    proxy_map_reset(&env_map);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = env_get(vars[i][1], vars[i][2]);
        if (v)
            proxy_map_add(&env_map, PROXY_ENV, vars[i][0], strlen(vars[i][0]), v, strlen(v), err,
                          sizeof err);
    }
    for (int i = 0; i < env_map.n; i++)
        env_map.e[i].level = PROXY_ENV;
}

const proxy_map_t *proxy_env(void)
{
    pthread_once(&env_once, proxy_env_reload);
    return &env_map;
}

/* ---- NO_PROXY ---- */

/* Does IPv4 ip fall in "a.b.c.d/bits"? False for anything else. */
static bool in_cidr(const char *ip, const char *net)
{
    char addr[32];
    const char *slash = strchr(net, '/');
    if (slash == NULL || (size_t)(slash - net) >= sizeof addr) return false;
    memcpy(addr, net, (size_t)(slash - net));
    addr[slash - net] = '\0';
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    struct in_addr a, b;
    if (*end || end == slash + 1 || bits < 1 || bits > 32) return false;
    if (inet_pton(AF_INET, addr, &b) != 1 || inet_pton(AF_INET, ip, &a) != 1) return false;
    uint32_t mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
    return (ntohl(a.s_addr) & mask) == (ntohl(b.s_addr) & mask);
}

static bool ends_with_ci(const char *s, size_t n, const char *t, size_t tn)
{
    return n >= tn && strncasecmp(s + n - tn, t, tn) == 0;
}

/* One entry (spaces removed, non-empty) against the host. */
static bool entry_matches(const char *e, const char *host, const char *hp, bool ipv4)
{
    if (strcmp(e, "*") == 0) return true;
    if (ipv4 && strchr(e, '/')) return in_cidr(host, e);
    while (*e == '.')
        e++;
    if (*e == '\0') return false;
    if (strcasecmp(host, e) == 0 || strcasecmp(hp, e) == 0) return true;
    char dotted[300];
    int dl = snprintf(dotted, sizeof dotted, ".%s", e);
    if (dl <= 0 || (size_t)dl >= sizeof dotted) return false;
    return ends_with_ci(host, strlen(host), dotted, (size_t)dl) ||
           ends_with_ci(hp, strlen(hp), dotted, (size_t)dl);
}

bool proxy_bypass(const char *list, size_t len, const char *host, size_t hl, int port)
{
    char h[260], hp[270], e[300];
    if (hl >= sizeof h) return false;
    memcpy(h, host, hl);
    h[hl] = '\0';
    snprintf(hp, sizeof hp, "%s:%d", h, port);
    struct in_addr tmp;
    bool ipv4 = inet_pton(AF_INET, h, &tmp) == 1;
    size_t i = 0;
    while (i < len) {
        size_t k = 0;
        for (; i < len && list[i] != ','; i++)
            if (list[i] != ' ' && list[i] != '\t' && k < sizeof e - 1) e[k++] = list[i];
        i++; /* the comma */
        e[k] = '\0';
        if (k && entry_matches(e, h, hp, ipv4)) return true;
    }
    return false;
}

/* ---- picking ---- */

int proxy_parse(const char *url, size_t len, proxy_t *out, const char **why)
{
    const char *p = url, *end = url + len;
    const char *sep = len >= 3 ? memmem(url, len, "://", 3) : NULL;
    *out = (proxy_t){.port = 80};
    if (sep) {
        size_t sl = (size_t)(sep - url);
        if (!(sl == 4 && strncasecmp(url, "http", 4) == 0)) {
            *why = sl == 5 && strncasecmp(url, "https", 5) == 0
                       ? "https:// proxies (TLS to the proxy) are not supported: use http://"
                   : sl >= 5 && strncasecmp(url, "socks", 5) == 0
                       ? "SOCKS proxies are not supported: use an http:// proxy"
                       : "a proxy URL must start with http://";
            return -1;
        }
        p = sep + 3;
    }
    const char *auth_end = p;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
        auth_end++;
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@') at = q;
    if (at) {
        out->userinfo = p;
        out->userinfo_len = (size_t)(at - p);
        p = at + 1;
    }
    const char *hend;
    if (p < auth_end && *p == '[') {
        hend = memchr(p, ']', (size_t)(auth_end - p));
        if (hend == NULL) goto malformed;
        out->host = p + 1;
        out->host_len = (size_t)(hend - p - 1);
        hend++;
    } else {
        hend = p;
        while (hend < auth_end && *hend != ':')
            hend++;
        out->host = p;
        out->host_len = (size_t)(hend - p);
    }
    if (out->host_len == 0 || out->host_len > 253) goto malformed;
    if (hend < auth_end) {
        if (*hend != ':' || hend + 1 == auth_end) goto malformed;
        int port = 0;
        for (const char *q = hend + 1; q < auth_end; q++) {
            if (*q < '0' || *q > '9' || (port = port * 10 + (*q - '0')) > 65535) goto malformed;
        }
        if (port == 0) goto malformed;
        out->port = port;
    }
    return 0;
malformed:
    /* requests' InvalidProxyURL */
    *why = "Please check proxy URL. It is malformed and could be missing the host.";
    return -1;
}

/* The entry of key at level in m, or NULL. */
static const proxy_entry_t *find(const proxy_map_t *m, int level, const char *key, size_t kl)
{
    for (int i = 0; i < m->n; i++) {
        const proxy_entry_t *e = &m->e[i];
        if (e->level == level && e->key_len == kl && strncasecmp(m->text.p + e->key, key, kl) == 0)
            return e;
    }
    return NULL;
}

/* Is the environment's map in use for host:port (trusted, not bypassed)? */
static bool env_applies(const proxy_map_t *m, const proxy_map_t *env, const char *host, size_t hl,
                        int port)
{
    if (env->n == 0 || (m && m->ignore_env)) return false;
    const proxy_map_t *np = m && m->has_no_proxy ? m : env;
    if (!np->has_no_proxy) return true;
    return !proxy_bypass(np->text.p + np->no_proxy, np->no_proxy_len, host, hl, port);
}

int proxy_pick(const proxy_map_t *m, bool tls, const char *host, size_t hl, int port, proxy_t *out,
               char *err, size_t n)
{
    const proxy_map_t *env = proxy_env();
    bool use_env = env_applies(m, env, host, hl, port);
    if ((m == NULL || m->n == 0) && !use_env) return 0; /* the common case */
    const char *scheme = tls ? "https" : "http";
    char keys[4][280];
    snprintf(keys[0], sizeof keys[0], "%s://%.*s", scheme, (int)(hl < 255 ? hl : 255), host);
    snprintf(keys[1], sizeof keys[1], "%s", scheme);
    snprintf(keys[2], sizeof keys[2], "all://%.*s", (int)(hl < 255 ? hl : 255), host);
    snprintf(keys[3], sizeof keys[3], "all");
    const struct {
        const proxy_map_t *m;
        int level;
    } src[3] = {{m, PROXY_REQUEST}, {use_env ? env : NULL, PROXY_ENV}, {m, PROXY_CLIENT}};
    for (int k = 0; k < 4; k++) {
        size_t kl = strlen(keys[k]);
        for (int s = 0; s < 3; s++) {
            if (src[s].m == NULL) continue;
            const proxy_entry_t *e = find(src[s].m, src[s].level, keys[k], kl);
            if (e == NULL) continue;
            if (e->url_len == 0) return 0;
            const char *why = NULL, *url = src[s].m->text.p + e->url;
            if (proxy_parse(url, e->url_len, out, &why) == 0) return 1;
            snprintf(err, n, "InvalidProxyURL(\"proxy '%.*s' for '%s': %s\")",
                     (int)(e->url_len < 200 ? e->url_len : 200), url, keys[k], why);
            return -1;
        }
    }
    return 0;
}

void proxy_auth(buf_t *w, const proxy_t *p)
{
    if (p->userinfo == NULL) return;
    char plain[512];
    size_t k = 0;
    bool colon = false;
    for (size_t i = 0; i < p->userinfo_len && k < sizeof plain - 1; i++) {
        char c = p->userinfo[i];
        if (c == ':') colon = true;
        if (c == '%' && i + 2 < p->userinfo_len && isxdigit((unsigned char)p->userinfo[i + 1]) &&
            isxdigit((unsigned char)p->userinfo[i + 2])) {
            char hex[3] = {p->userinfo[i + 1], p->userinfo[i + 2], 0};
            plain[k++] = (char)strtol(hex, NULL, 16);
            i += 2;
            continue;
        }
        plain[k++] = c;
    }
    if (!colon && k < sizeof plain - 1) plain[k++] = ':';
    buf_puts(w, "Basic ");
    buf_reserve(w, BASE64_LEN(k) + 1);
    w->len += base64_encode(w->p + w->len, plain, k, true);
}
