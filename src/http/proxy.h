/* proxy: which HTTP proxy a request goes through, by Python requests'
 * rules.
 *
 * Three sources, as requests merges them for each request
 * (Session.merge_environment_settings, then utils.select_proxy): the
 * request's own `proxies`, then the environment (HTTP_PROXY, HTTPS_PROXY,
 * ALL_PROXY, lower case winning over upper case, read once per process),
 * then the client's (self.client.proxies, requests' session.proxies). A
 * proxies table maps keys to proxy URLs; the keys tried, in order, are
 * "scheme://host", "scheme", "all://host", "all", and for each key the
 * sources in the order above: the first that has it decides (an empty
 * URL, the scenario's false, means "no proxy"). NO_PROXY (or the
 * request's `no_proxy` key) only turns the environment's proxies off for
 * the hosts it names, as in requests: a proxy the scenario names
 * explicitly is always used. The client's trust_env = false ignores the
 * environment.
 *
 * A map holds the scenario's two sources, copied into its own buffer (so
 * that a redirect later in the same logical request picks its proxy the
 * same way), reused from request to request without allocating once it
 * has grown. Pure functions but proxy_env(), which reads the environment
 * once. Proxies are plain http:// ones (CONNECT for https targets); https
 * and socks proxies are refused with a clear error. */
#ifndef CICADA_PROXY_H
#define CICADA_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PROXY_MAX_KEYS 16 /* keys of the request's and the client's tables together */

enum { PROXY_REQUEST, PROXY_CLIENT, PROXY_ENV };

typedef struct proxy_entry {
    uint32_t key, key_len, url, url_len; /* offsets in the map's text */
    unsigned char level;                 /* PROXY_REQUEST, PROXY_CLIENT or PROXY_ENV */
} proxy_entry_t;

/* The proxies of one logical request (or of the environment). */
typedef struct proxy_map {
    buf_t text; /* keys and URLs; owned, reused */
    proxy_entry_t e[PROXY_MAX_KEYS];
    int n;
    bool has_no_proxy; /* a no_proxy key was given (request first, then client) */
    uint32_t no_proxy, no_proxy_len;
    bool ignore_env; /* the client's trust_env = false */
} proxy_map_t;

/* One proxy, pointing into a map's text (valid while the map is). */
typedef struct proxy {
    const char *host; /* a name or an IP literal without brackets */
    size_t host_len;
    int port;
    const char *userinfo; /* "user:pass" as written (percent-encoded), or NULL */
    size_t userinfo_len;
} proxy_t;

/* Empty m (keeps its buffer): no keys, the environment trusted. */
void proxy_map_reset(proxy_map_t *m);
void proxy_map_free(proxy_map_t *m);

/* Add key -> url (copied) at level (PROXY_REQUEST or PROXY_CLIENT); url
 * NULL or "" means "no proxy" for that key. Key "no_proxy" sets the
 * bypass list instead (the request's wins over the client's). Returns 0,
 * or -1 with err filled when the map is full. */
int proxy_map_add(proxy_map_t *m, int level, const char *key, size_t kl, const char *url, size_t ul,
                  char *err, size_t n);

/* The environment's proxies, read the first time (thread-safe), never
 * freed. */
const proxy_map_t *proxy_env(void);
/* Read the environment again (tests only; not thread-safe). */
void proxy_env_reload(void);

/* Choose the proxy for scheme (tls: https) host:port from m (may be NULL:
 * the environment alone). Returns 1 with *out filled, 0 for a direct
 * connection, or -1 with err filled (a proxy URL that is malformed or of
 * a scheme not supported). */
int proxy_pick(const proxy_map_t *m, bool tls, const char *host, size_t hl, int port, proxy_t *out,
               char *err, size_t n);

/* Parse a proxy URL ("http://user:pass@host:port"; no scheme means
 * http://, no port 80). Returns 0, or -1 with *why (static text). */
int proxy_parse(const char *url, size_t len, proxy_t *out, const char **why);

/* Does the NO_PROXY-style list (comma separated; "*" for all, names
 * matching themselves and their subdomains, with or without ":port", IPv4
 * addresses and CIDR blocks) name host:port? As requests'
 * should_bypass_proxies. */
bool proxy_bypass(const char *list, size_t len, const char *host, size_t hl, int port);

/* Append "Basic <base64>" of p's userinfo (percent-decoded; "user" alone
 * means "user:") to w. Nothing if p has none. */
void proxy_auth(buf_t *w, const proxy_t *p);

#endif
