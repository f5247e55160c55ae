/* test_resolve: the resolver against a tiny DNS server on 127.0.0.1 run
 * by the test's own loop. Literals and localhost answer without a query;
 * an answer is cached (one query for many requests) until its TTL runs
 * out; NXDOMAIN, a server that never answers (the deadline) and a
 * cancelled request (never called back: ASan sees any use after free);
 * /etc/hosts before DNS;
 * the TTL arithmetic of the cache with a made-up clock. */
#include "net/resolve.c"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

/* ---- the DNS server: A 10.0.0.7 (TTL 1 s) for any name but these:
 * nx.test is NXDOMAIN, silent.test never answered; AAAA is NODATA ---- */

typedef struct {
    loop_io_t io;
    int port;
    int a_queries; /* A questions seen */
    int silent_queries;
} dns_t;

/* The query's name as dotted text into out; returns the offset after the
 * question, or -1. */
static int qname(const unsigned char *p, int n, char *out, size_t cap)
{
    int i = 12;
    size_t o = 0;
    while (i < n && p[i]) {
        int l = p[i++];
        if (i + l > n || o + (size_t)l + 2 > cap) return -1;
        if (o) out[o++] = '.';
        memcpy(out + o, p + i, (size_t)l);
        o += (size_t)l;
        i += l;
    }
    out[o] = '\0';
    return i + 5 <= n ? i + 5 : -1; /* the 0, qtype, qclass */
}

static void on_dns(loop_t *l, loop_io_t *io, uint32_t ev)
{
    dns_t *d = (dns_t *)io;
    unsigned char q[512], a[600];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n;
    while ((n = recvfrom(io->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl)) > 0) {
        char name[256];
        int end = qname(q, (int)n, name, sizeof name);
        if (end < 0) continue;
        int qtype = q[end - 4] << 8 | q[end - 3];
        if (strcmp(name, "silent.test") == 0) {
            d->silent_queries++;
            continue;
        }
        bool nx = strcmp(name, "nx.test") == 0, give = qtype == 1 && !nx;
        if (qtype == 1) d->a_queries++;
        memcpy(a, q, (size_t)end);
        a[2] = 0x81;
        a[3] = nx ? 0x83 : 0x80;
        a[4] = 0, a[5] = 1, a[6] = 0, a[7] = give, a[8] = a[9] = a[10] = a[11] = 0;
        int k = end;
        if (give) {
            static const unsigned char rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 10, 0, 0, 7};
            memcpy(a + k, rr, sizeof rr);
            k += (int)sizeof rr;
        }
        sendto(io->fd, a, (size_t)k, 0, (struct sockaddr *)&from, fl);
        fl = sizeof from;
    }
}

static void dns_open(loop_t *l, dns_t *d)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    d->io.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    d->io.fn = on_dns;
    if (bind(d->io.fd, (struct sockaddr *)&sin, sizeof sin) != 0) abort();
    getsockname(d->io.fd, (struct sockaddr *)&sin, &len);
    d->port = ntohs(sin.sin_port);
    if (loop_add_read(l, &d->io) != 0) abort();
}

/* ---- a requester ---- */

typedef struct {
    resolve_req_t q;
    int calls;
    resolve_addrs_t addrs;
    char err[RESOLVE_REASON_MAX];
    bool ok;
} asker_t;

static void on_done(resolve_req_t *q, const resolve_addrs_t *addrs, const char *err)
{
    asker_t *a = q->arg;
    a->calls++;
    a->ok = err == NULL;
    if (addrs) a->addrs = *addrs;
    if (err) snprintf(a->err, sizeof a->err, "%s", err);
}

static int start(resolver_t *r, const char *host, asker_t *a)
{
    return resolve_start(r, host, 8080, &a->q, on_done, a, &a->addrs, a->err, sizeof a->err);
}

/* Run the loop until *flag is set or ms pass. */
static void run_until(loop_t *l, const int *flag, int ms)
{
    int64_t end = clock_ns() + (int64_t)ms * 1000000;
    while (!*flag && clock_ns() < end)
        loop_run_once(l, 20);
}

static bool is_v4(const resolve_addrs_t *a, int i, const char *ip, int port)
{
    const struct sockaddr_in *s = (const struct sockaddr_in *)&a->addr[i];
    char txt[INET_ADDRSTRLEN];
    return i < a->n && s->sin_family == AF_INET && ntohs(s->sin_port) == port &&
           inet_ntop(AF_INET, &s->sin_addr, txt, sizeof txt) && strcmp(txt, ip) == 0;
}

/* ---- tests ---- */

static void test_local(resolver_t *r)
{
    asker_t a = {0};
    CHECK(start(r, "192.0.2.1", &a) == RESOLVE_DONE && is_v4(&a.addrs, 0, "192.0.2.1", 8080));
    CHECK(start(r, "::1", &a) == RESOLVE_DONE && a.addrs.n == 1 &&
          a.addrs.addr[0].ss_family == AF_INET6);
    CHECK(start(r, "LocalHost", &a) == RESOLVE_DONE && a.addrs.n == 2 &&
          is_v4(&a.addrs, 0, "127.0.0.1", 8080) && a.addrs.addr[1].ss_family == AF_INET6);
    CHECK(start(r, "api.localhost.", &a) == RESOLVE_DONE && a.addrs.n == 2);
    CHECK(resolver_queries(r) == 0); /* none of these asked anyone */
    CHECK(a.calls == 0 && !resolve_pending(&a.q));
}

static void test_cache(loop_t *l, resolver_t *r, dns_t *d)
{
    asker_t a = {0}, b = {0}, c = {0};
    CHECK(start(r, "www.test", &a) == RESOLVE_PENDING && resolve_pending(&a.q));
    CHECK(start(r, "WWW.test", &b) == RESOLVE_PENDING); /* joins the same lookup */
    run_until(l, &b.calls, 3000);
    CHECK(a.calls == 1 && a.ok && is_v4(&a.addrs, 0, "10.0.0.7", 8080));
    CHECK(b.calls == 1 && b.ok && !resolve_pending(&b.q));
    CHECK_MSG(d->a_queries == 1, "%d A queries", d->a_queries);
    CHECK(start(r, "www.test", &c) == RESOLVE_DONE && is_v4(&c.addrs, 0, "10.0.0.7", 8080));
    CHECK(d->a_queries == 1 && c.calls == 0); /* from the cache */
    usleep(1100 * 1000);                      /* the record's TTL is 1 s */
    loop_run_once(l, 0);
    CHECK(start(r, "www.test", &c) == RESOLVE_PENDING);
    run_until(l, &c.calls, 3000);
    CHECK(c.calls == 1 && c.ok && d->a_queries == 2);
}

static void test_nxdomain(loop_t *l, resolver_t *r)
{
    asker_t a = {0}, b = {0};
    CHECK(start(r, "nx.test", &a) == RESOLVE_PENDING);
    run_until(l, &a.calls, 3000);
    CHECK_MSG(a.calls == 1 && !a.ok && strcmp(a.err, "Name or service not known") == 0, "%s",
              a.err);
    /* the failure is cached for a moment: an error at once, no query */
    CHECK(start(r, "nx.test", &b) == RESOLVE_ERROR && strcmp(b.err, a.err) == 0);
}

static void test_cancel(loop_t *l, resolver_t *r, dns_t *d)
{
    asker_t *a = calloc(1, sizeof *a), b = {0};
    CHECK(start(r, "gone.test", a) == RESOLVE_PENDING);
    CHECK(start(r, "gone.test", &b) == RESOLVE_PENDING);
    resolve_cancel(&a->q);
    CHECK(!resolve_pending(&a->q));
    resolve_cancel(&a->q); /* twice is harmless */
    free(a);               /* the answer must not reach it */
    run_until(l, &b.calls, 3000);
    CHECK(b.calls == 1 && b.ok);
}

static void test_deadline(loop_t *l, resolver_t *r, dns_t *d)
{
    asker_t a = {0}, b = {0};
    int64_t t0 = clock_ns();
    CHECK(start(r, "silent.test", &a) == RESOLVE_PENDING);
    run_until(l, &a.calls, 3000);
    double took = (double)(clock_ns() - t0) / 1e9;
    CHECK_MSG(a.calls == 1 && !a.ok && strcmp(a.err, "lookup timed out after 0.3s") == 0, "%s",
              a.err);
    CHECK_MSG(took > 0.25 && took < 2, "%.2f s", took);
    CHECK(d->silent_queries >= 1);
    CHECK(start(r, "silent.test", &b) == RESOLVE_ERROR); /* cached for RESOLVE_NEG_TTL_S */
}

/* /etc/hosts comes before DNS (whose server answers 10.0.0.7 to any
 * name): its first IPv4 name other than localhost answers at once. */
static void test_hosts_file(resolver_t *r, dns_t *d)
{
    FILE *f = fopen("/etc/hosts", "r");
    char line[512], ip[64] = "", name[256] = "";
    while (f && fgets(line, sizeof line, f)) {
        char a[64], b[256];
        struct in_addr v4;
        if (sscanf(line, "%63s %255s", a, b) == 2 && a[0] != '#' && inet_pton(AF_INET, a, &v4) &&
            !is_localhost(b) && strchr(b, '.') == NULL) {
            snprintf(ip, sizeof ip, "%s", a);
            snprintf(name, sizeof name, "%s", b);
            break;
        }
    }
    if (f) fclose(f);
    if (name[0] == '\0') {
        fprintf(stderr, "test_hosts_file: no name in /etc/hosts, skipped\n");
        return;
    }
    asker_t a = {0};
    int before = d->a_queries;
    CHECK_MSG(start(r, name, &a) == RESOLVE_DONE && is_v4(&a.addrs, 0, ip, 8080), "%s", name);
    CHECK(d->a_queries == before);
}

/* The cache's clock arithmetic, with times made up. */
static void test_ttl(resolver_t *r)
{
    resolve_entry_t *e = entry_for(r, "made.up", 0);
    resolve_addrs_t a = {0};
    struct in_addr ip = {htonl(0x0a000001)};
    add_v4(&a, &ip);
    int64_t s = 1000000000LL, now = 100 * s;
    store_addrs(e, &a, 30, now);
    CHECK(fresh(e, now) && fresh(e, now + 29 * s) && !fresh(e, now + 30 * s));
    store_addrs(e, &a, 0, now); /* a TTL of 0 still holds RESOLVE_MIN_TTL_S */
    CHECK(fresh(e, now + RESOLVE_MIN_TTL_S * s - 1) && !fresh(e, now + RESOLVE_MIN_TTL_S * s));
    store_failure(e, "x", now);
    CHECK(e->state == E_FAILED && !fresh(e, now + RESOLVE_NEG_TTL_S * s));
    CHECK(entry_for(r, "made.up", 0) == e);
    /* at SWEEP_AT names a sweep runs: here all are fresh, so the next
     * comes at twice as many; then the expired ones go, the fresh stay */
    store_addrs(e, &a, 3600, now);
    char name[32];
    for (int i = 0; i < SWEEP_AT + 10; i++) {
        snprintf(name, sizeof name, "n%d.test", i);
        store_failure(entry_for(r, name, now), "x", now);
    }
    CHECK(r->nentries > SWEEP_AT && r->sweep_at >= 2 * SWEEP_AT);
    sweep(r, now + 10 * s);
    CHECK_MSG(r->nentries < 20 && r->sweep_at == SWEEP_AT, "%zu entries", r->nentries);
    CHECK(entry_for(r, "made.up", now + 10 * s) == e && e->state == E_READY);
}

static void test_bad_server(loop_t *l)
{
    char err[200] = "";
    CHECK(resolver_new(l, "not-an-ip", 1, err, sizeof err) == NULL && strstr(err, "--resolver"));
    CHECK(resolver_new(l, "127.0.0.1:53,127.0.0.2", 1, err, sizeof err) == NULL);
    CHECK(!server_ok("1.2.3.4:99999") && !server_ok("1.2.3.4:") && !server_ok("[::1") &&
          !server_ok("[::1]x") && !server_ok("") && !server_ok("[]:53"));
    CHECK(server_ok("1.2.3.4") && server_ok("1.2.3.4:5353") && server_ok("::1") &&
          server_ok("[::1]") && server_ok("[::1]:53"));
    resolver_t *ok = resolver_new(l, "[::1]:5353", 1, err, sizeof err);
    CHECK_MSG(ok != NULL, "%s", err);
    resolver_free(ok);
}

int main(void)
{
    char err[200];
    loop_t *l = loop_new(err, sizeof err);
    dns_t d = {0};
    dns_open(l, &d);
    char server[64];
    snprintf(server, sizeof server, "127.0.0.1:%d", d.port);
    resolver_t *r = resolver_new(l, server, 0.3, err, sizeof err);
    CHECK_MSG(r != NULL, "%s", err);
    if (r == NULL) return check_done();
    loop_run_once(l, 0);
    test_local(r);
    test_cache(l, r, &d);
    test_nxdomain(l, r);
    test_cancel(l, r, &d);
    test_deadline(l, r, &d);
    test_hosts_file(r, &d);
    test_ttl(r);
    test_bad_server(l);
    /* a lookup still pending when the resolver goes: dropped, no callback */
    asker_t late = {0};
    CHECK(start(r, "late.test", &late) == RESOLVE_PENDING);
    resolve_cancel(&late.q);
    resolver_free(r);
    close(d.io.fd);
    loop_free(l);
    return check_done();
}
