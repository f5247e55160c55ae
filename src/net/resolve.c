/* resolve: see resolve.h.
 *
 * The cache is a fixed table of buckets of entries, one entry per name
 * (lower-cased), never freed while a c-ares query refers to it. An entry is
 * EMPTY, PENDING (a lookup under way, its waiters in a list, its deadline a
 * loop timer), READY (addresses until `expires`) or FAILED (a reason until
 * `expires`). c-ares calls back inside ares_process_fd() and sometimes
 * inside ares_getaddrinfo() itself (an /etc/hosts answer): the answer is
 * only stored there, and waiters are told afterwards (notify), outside
 * c-ares, so that a waiter may start a new lookup from its callback; an
 * answer that comes while resolve_start() runs is returned to its caller
 * directly.
 *
 * c-ares' sockets: sock_state_cb says which fds to watch for what. A
 * socket that is only read (UDP, the usual case) is registered
 * level-triggered for reading; one c-ares also wants to write (a TCP
 * connect in progress) is registered for both, edge-triggered. The watch
 * records are kept and reused, never freed before the resolver, since an
 * event of the current loop turn may still name one. */
#include "net/resolve.h"

#include <ares.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "base/alloc.h"

#define NBUCKETS 256
#define SWEEP_AT 4096 /* names cached before expired ones are dropped */
#define MAX_NAME 253  /* the longest DNS name, without a trailing dot */

enum state { E_EMPTY, E_PENDING, E_READY, E_FAILED };

struct resolve_entry {
    resolve_entry_t *next; /* bucket chain */
    resolver_t *r;
    char *name; /* lower-cased, owned */
    enum state state;
    int64_t expires;       /* READY, FAILED: monotonic ns */
    resolve_addrs_t addrs; /* READY: port 0 */
    char reason[RESOLVE_REASON_MAX];
    resolve_req_t *waiters;
    loop_timer_t deadline;
    bool inflight; /* a c-ares query will call back with this entry */
    bool queued;   /* on r->notify */
    resolve_entry_t *qnext;
};

typedef struct watch {
    loop_io_t io; /* fd -1: free */
    resolver_t *r;
    bool write;
    struct watch *next;
} watch_t;

struct resolver {
    loop_t *loop;
    ares_channel ch;
    loop_timer_t tick; /* c-ares' own timeouts and retransmissions */
    watch_t *watches;
    resolve_entry_t *buckets[NBUCKETS];
    resolve_entry_t *notify;   /* answered entries whose waiters are not told yet */
    resolve_entry_t *starting; /* the entry resolve_start() is querying for */
    size_t nentries, sweep_at;
    int64_t timeout_ns;
    double timeout_s;
    unsigned long queries;
    bool closing;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status;

static void lib_init(void)
{
    lib_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/* ---- addresses ---- */

static void set_port(struct sockaddr_storage *sa, int port)
{
    if (sa->ss_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

static void add_addr(resolve_addrs_t *a, const struct sockaddr *sa, socklen_t len)
{
    if (a->n >= RESOLVE_MAX_ADDRS || len > (socklen_t)sizeof a->addr[0]) return;
    memset(&a->addr[a->n], 0, sizeof a->addr[0]);
    memcpy(&a->addr[a->n], sa, len);
    a->len[a->n++] = len;
}

static void add_v4(resolve_addrs_t *a, const struct in_addr *ip)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = *ip};
    add_addr(a, (struct sockaddr *)&sin, sizeof sin);
}

static void add_v6(resolve_addrs_t *a, const struct in6_addr *ip)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = *ip};
    add_addr(a, (struct sockaddr *)&sin6, sizeof sin6);
}

/* Copy the addresses a into out with the port set. */
static void copy_out(const resolve_addrs_t *a, int port, resolve_addrs_t *out)
{
    *out = *a;
    for (int i = 0; i < out->n; i++)
        set_port(&out->addr[i], port);
}

static bool is_localhost(const char *h)
{
    size_t n = strlen(h);
    if (n && h[n - 1] == '.') n--;
    if (n == 9 && strncasecmp(h, "localhost", 9) == 0) return true;
    return n > 10 && strncasecmp(h + n - 10, ".localhost", 10) == 0;
}

/* An answer without a query: an IP literal or localhost. Returns true with
 * *out filled (port 0). */
static bool answer_locally(const char *host, resolve_addrs_t *out)
{
    struct in_addr v4;
    struct in6_addr v6;
    out->n = 0;
    if (inet_pton(AF_INET, host, &v4) == 1) {
        add_v4(out, &v4);
    } else if (inet_pton(AF_INET6, host, &v6) == 1) {
        add_v6(out, &v6);
    } else if (is_localhost(host)) {
        v4.s_addr = htonl(INADDR_LOOPBACK);
        add_v4(out, &v4);
        add_v6(out, &in6addr_loopback);
    }
    return out->n > 0;
}

/* ---- the cache ---- */

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

static void on_deadline(loop_t *l, loop_timer_t *t);
static bool fresh(const resolve_entry_t *e, int64_t now);

/* Free the entries nobody needs: expired, no query out, nobody waiting.
 * A scenario of endless distinct names (a host per user) stays bounded. */
static void sweep(resolver_t *r, int64_t now)
{
    for (int i = 0; i < NBUCKETS; i++)
        for (resolve_entry_t **pp = &r->buckets[i], *e; (e = *pp) != NULL;) {
            if (e->inflight || e->waiters || e->state == E_PENDING || fresh(e, now)) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            xfree(e->name);
            xfree(e);
            r->nentries--;
        }
    r->sweep_at = r->nentries * 2 > SWEEP_AT ? r->nentries * 2 : SWEEP_AT;
}

/* The entry for name (lower-cased), made EMPTY if there was none. */
static resolve_entry_t *entry_for(resolver_t *r, const char *name, int64_t now)
{
    unsigned h = hash(name);
    for (resolve_entry_t *e = r->buckets[h]; e; e = e->next)
        if (strcmp(e->name, name) == 0) return e;
    if (r->nentries >= r->sweep_at) sweep(r, now);
    r->nentries++;
    resolve_entry_t *e = xcalloc(1, sizeof *e);
    e->r = r;
    e->name = xstrdup(name);
    e->deadline.fn = on_deadline;
    e->next = r->buckets[h];
    r->buckets[h] = e;
    return e;
}

static bool fresh(const resolve_entry_t *e, int64_t now)
{
    return (e->state == E_READY || e->state == E_FAILED) && now < e->expires;
}

static void store_addrs(resolve_entry_t *e, const resolve_addrs_t *a, int ttl, int64_t now)
{
    if (ttl < RESOLVE_MIN_TTL_S) ttl = RESOLVE_MIN_TTL_S;
    e->state = E_READY;
    e->addrs = *a;
    e->expires = now + (int64_t)ttl * 1000000000LL;
}

static void store_failure(resolve_entry_t *e, const char *reason, int64_t now)
{
    e->state = E_FAILED;
    snprintf(e->reason, sizeof e->reason, "%s", reason);
    e->expires = now + (int64_t)RESOLVE_NEG_TTL_S * 1000000000LL;
}

static void unlink_waiter(resolve_req_t *q)
{
    resolve_entry_t *e = q->entry;
    if (q->prev)
        q->prev->next = q->next;
    else
        e->waiters = q->next;
    if (q->next) q->next->prev = q->prev;
    q->prev = q->next = NULL;
    q->entry = NULL;
}

/* Tell every waiter of e its answer. One at a time, unlinked first: a
 * callback may cancel other waiters or start new lookups. */
static void tell(resolve_entry_t *e)
{
    resolve_addrs_t out;
    while (e->waiters && e->state != E_PENDING) {
        resolve_req_t *q = e->waiters;
        unlink_waiter(q);
        if (e->state == E_READY) {
            copy_out(&e->addrs, q->port, &out);
            q->fn(q, &out, NULL);
        } else {
            q->fn(q, NULL, e->reason);
        }
    }
    if (e->waiters == NULL) loop_timer_stop(e->r->loop, &e->deadline);
}

/* Tell the waiters of every entry answered inside c-ares. */
static void notify(resolver_t *r)
{
    while (r->notify) {
        resolve_entry_t *e = r->notify;
        r->notify = e->qnext;
        e->queued = false;
        tell(e);
    }
}

static void on_deadline(loop_t *l, loop_timer_t *t)
{
    resolve_entry_t *e = (resolve_entry_t *)((char *)t - offsetof(resolve_entry_t, deadline));
    char why[RESOLVE_REASON_MAX];
    snprintf(why, sizeof why, "lookup timed out after %gs", e->r->timeout_s);
    store_failure(e, why, loop_now(l));
    tell(e); /* the query goes on: a late answer still fills the cache */
}

/* ---- c-ares ---- */

static const char *ares_reason(int status, double timeout_s, char *buf, size_t n)
{
    switch (status) {
    case ARES_ENOTFOUND: /* NXDOMAIN: the words of getaddrinfo, as before c-ares */
        return "Name or service not known";
    case ARES_ENODATA:
        return "No address associated with hostname";
    case ARES_ETIMEOUT:
        snprintf(buf, n, "lookup timed out after %gs", timeout_s);
        return buf;
    default:
        snprintf(buf, n, "%s", ares_strerror(status));
        return buf;
    }
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    resolve_entry_t *e = arg;
    resolver_t *r = e->r;
    e->inflight = false;
    if (r->closing) { /* ares_destroy: nobody waits any more */
        ares_freeaddrinfo(ai);
        return;
    }
    int64_t now = loop_now(r->loop);
    resolve_addrs_t a = {0};
    int ttl = -1;
    for (struct ares_addrinfo_node *p = ai ? ai->nodes : NULL; p; p = p->ai_next) {
        if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
        add_addr(&a, p->ai_addr, p->ai_addrlen);
        if (ttl < 0 || p->ai_ttl < ttl) ttl = p->ai_ttl;
    }
    ares_freeaddrinfo(ai);
    char buf[RESOLVE_REASON_MAX];
    if (status == ARES_SUCCESS && a.n > 0)
        store_addrs(e, &a, ttl, now);
    else
        store_failure(e,
                      ares_reason(status == ARES_SUCCESS ? ARES_ENODATA : status, r->timeout_s, buf,
                                  sizeof buf),
                      now);
    if (e != r->starting && e->waiters && !e->queued) {
        e->queued = true;
        e->qnext = r->notify;
        r->notify = e;
    }
}

/* Arm the tick for c-ares' next timeout, or stop it if nothing is pending. */
static void arm(resolver_t *r)
{
    struct timeval tv;
    if (ares_timeout(r->ch, NULL, &tv) == NULL) {
        loop_timer_stop(r->loop, &r->tick);
        return;
    }
    int64_t ns = (int64_t)tv.tv_sec * 1000000000LL + (int64_t)tv.tv_usec * 1000;
    loop_timer_at(r->loop, &r->tick, clock_ns() + ns);
}

static void on_tick(loop_t *l, loop_timer_t *t)
{
    resolver_t *r = (resolver_t *)((char *)t - offsetof(resolver_t, tick));
    ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm(r);
    notify(r);
}

static void on_sock_io(loop_t *l, loop_io_t *io, uint32_t ev)
{
    watch_t *w = (watch_t *)io;
    resolver_t *r = w->r;
    int fd = w->io.fd;
    if (fd < 0) return; /* closed earlier in this loop turn */
    bool rd = (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0;
    bool wr = w->write && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0;
    ares_process_fd(r->ch, rd ? fd : ARES_SOCKET_BAD, wr ? fd : ARES_SOCKET_BAD);
    arm(r);
    notify(r);
}

/* c-ares opens, changes or closes a socket. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    resolver_t *r = data;
    watch_t *w = NULL, *spare = NULL;
    for (watch_t *x = r->watches; x; x = x->next) {
        if (x->io.fd == fd)
            w = x;
        else if (x->io.fd < 0 && spare == NULL)
            spare = x;
    }
    if (w) {
        if (!readable && !writable) {
            loop_del(r->loop, &w->io);
            w->io.fd = -1;
            return;
        }
        if (w->write == (writable != 0)) return;
        loop_del(r->loop, &w->io);
    } else {
        if (!readable && !writable) return;
        w = spare;
        if (w == NULL) {
            w = xcalloc(1, sizeof *w);
            w->r = r;
            w->io.fn = on_sock_io;
            w->next = r->watches;
            r->watches = w;
        }
        w->io.fd = fd;
    }
    /* re-adding reports what is already pending, in either mode */
    w->write = writable != 0;
    if ((w->write ? loop_add(r->loop, &w->io) : loop_add_read(r->loop, &w->io)) != 0)
        w->io.fd = -1; /* c-ares' own timeout ends the query */
}

/* ---- the resolver ---- */

/* Is s "IPv4", "IPv4:PORT", "IPv6", "[IPv6]" or "[IPv6]:PORT", with PORT
 * in 1..65535? (c-ares would take a bad port modulo 65536.) */
static bool server_ok(const char *s)
{
    char ip[64];
    const char *port = NULL, *colon = strchr(s, ':');
    size_t len;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || (end[1] != '\0' && end[1] != ':')) return false;
        len = (size_t)(end - s - 1);
        s++;
        port = end[1] ? end + 2 : NULL;
    } else if (colon && strchr(colon + 1, ':') == NULL) {
        len = (size_t)(colon - s);
        port = colon + 1;
    } else {
        len = strlen(s);
    }
    if (len == 0 || len >= sizeof ip) return false;
    memcpy(ip, s, len);
    ip[len] = '\0';
    unsigned char bin[16];
    if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1) return false;
    if (port == NULL) return true;
    size_t nd = strspn(port, "0123456789");
    long p = nd && nd <= 5 && port[nd] == '\0' ? strtol(port, NULL, 10) : 0;
    return p >= 1 && p <= 65535;
}

resolver_t *resolver_new(loop_t *l, const char *server, double timeout_s, char *err, size_t n)
{
    pthread_once(&lib_once, lib_init);
    if (lib_status != ARES_SUCCESS) {
        snprintf(err, n, "c-ares: %s", ares_strerror(lib_status));
        return NULL;
    }
    resolver_t *r = xcalloc(1, sizeof *r);
    r->loop = l;
    r->tick.fn = on_tick;
    r->sweep_at = SWEEP_AT;
    r->timeout_s = timeout_s > 0 ? timeout_s : RESOLVE_TIMEOUT_S;
    r->timeout_ns = loop_delay_ns(r->timeout_s);
    /* two tries, the second after twice the first's wait (c-ares doubles
     * it): c-ares gives up about when our deadline fires */
    int try_ms = (int)(r->timeout_s * 1000 / 3);
    struct ares_options o = {.sock_state_cb = on_sock_state,
                             .sock_state_cb_data = r,
                             .timeout = try_ms < 50 ? 50 : try_ms,
                             .tries = 2,
                             .lookups = (char *)"fb"};
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
    if (server) {
        o.flags = ARES_FLAG_NOSEARCH;
        mask |= ARES_OPT_FLAGS;
    }
    int rc = ares_init_options(&r->ch, &o, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, n, "c-ares: %s", ares_strerror(rc));
        xfree(r);
        return NULL;
    }
    if (server &&
        (!server_ok(server) || ares_set_servers_ports_csv(r->ch, server) != ARES_SUCCESS)) {
        snprintf(err, n, "--resolver: '%s' is not IP[:PORT] or [IPv6]:PORT", server);
        resolver_free(r);
        return NULL;
    }
    return r;
}

void resolver_free(resolver_t *r)
{
    if (r == NULL) return;
    r->closing = true;
    loop_timer_stop(r->loop, &r->tick);
    ares_destroy(r->ch); /* closes its sockets through on_sock_state */
    for (watch_t *w = r->watches; w;) {
        watch_t *next = w->next;
        if (w->io.fd >= 0) loop_del(r->loop, &w->io);
        xfree(w);
        w = next;
    }
    for (int i = 0; i < NBUCKETS; i++)
        for (resolve_entry_t *e = r->buckets[i]; e;) {
            resolve_entry_t *next = e->next;
            loop_timer_stop(r->loop, &e->deadline);
            xfree(e->name);
            xfree(e);
            e = next;
        }
    xfree(r);
}

/* Send e's query unless one is already out; answers that come at once
 * (/etc/hosts) are stored in e before this returns. */
static void query(resolver_t *r, resolve_entry_t *e)
{
    if (e->inflight) return; /* a late answer to an earlier lookup is coming */
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    e->inflight = true;
    r->queries++;
    r->starting = e;
    ares_getaddrinfo(r->ch, e->name, NULL, &hints, on_answer, e);
    r->starting = NULL;
    arm(r);
}

int resolve_start(resolver_t *r, const char *host, int port, resolve_req_t *q, resolve_fn fn,
                  void *arg, resolve_addrs_t *out, char *err, size_t n)
{
    if (answer_locally(host, out)) {
        copy_out(out, port, out);
        return RESOLVE_DONE;
    }
    char name[MAX_NAME + 2];
    size_t len = strlen(host);
    if (len == 0 || len > MAX_NAME + 1) {
        snprintf(err, n, "%s", len ? "name too long" : "empty name");
        return RESOLVE_ERROR;
    }
    for (size_t i = 0; i <= len; i++)
        name[i] = (char)tolower((unsigned char)host[i]);
    int64_t now = loop_now(r->loop);
    resolve_entry_t *e = entry_for(r, name, now);
    if (!fresh(e, now) && e->state != E_PENDING) {
        e->state = E_PENDING;
        query(r, e);
    }
    if (e->state == E_READY) {
        copy_out(&e->addrs, port, out);
        return RESOLVE_DONE;
    }
    if (e->state == E_FAILED) {
        snprintf(err, n, "%s", e->reason);
        return RESOLVE_ERROR;
    }
    q->fn = fn;
    q->arg = arg;
    q->port = port;
    q->name = e->name;
    q->entry = e;
    q->prev = NULL;
    q->next = e->waiters;
    if (e->waiters) e->waiters->prev = q;
    e->waiters = q;
    if (!loop_timer_armed(&e->deadline)) loop_timer_at(r->loop, &e->deadline, now + r->timeout_ns);
    return RESOLVE_PENDING;
}

void resolve_cancel(resolve_req_t *q)
{
    if (q->entry == NULL) return;
    resolve_entry_t *e = q->entry;
    unlink_waiter(q);
    if (e->waiters == NULL) loop_timer_stop(e->r->loop, &e->deadline);
}

unsigned long resolver_queries(const resolver_t *r)
{
    return r->queries;
}
