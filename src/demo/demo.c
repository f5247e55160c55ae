/* demo: the demo site's server loop (see demo.h).
 *
 * One thread, one epoll set. Each connection is registered once,
 * edge-triggered for both directions, and keeps two flags, can_read and
 * can_write, that events set and EAGAIN (or a short read or write, which
 * means the same thing on Linux) clears. conn_run() then loops: read what
 * there is, answer every complete request in the input buffer in order
 * (pipelining), write what is ready, until nothing moves. Under keep-alive
 * load that is one recv and one send per request.
 *
 * Responses go into the connection's output buffer as a whole. GET /slow
 * writes its response at once too, but marks where it starts (hold): bytes
 * from there are not sent, and no later request is answered, until the
 * connection's timer fires. Timers live in one binary heap ordered by
 * deadline, and epoll_wait sleeps until the earliest. A connection stops
 * answering while 256 KiB wait to be sent, so a client that does not read
 * cannot make it buffer without bound.
 *
 * A connection that must close (Connection: close, HTTP/1.0, a bad request)
 * shuts down its write side once all is sent and reads until the client
 * closes or 2 seconds pass, so unread input cannot turn the close into a
 * reset that destroys the response in flight (nginx's lingering close).
 * SIGINT/SIGTERM arrive through a signalfd. There is no idle timeout and no
 * TLS: it serves loopback test runs only. */
#include "demo/demo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/sys.h"
#include "demo/req.h"
#include "demo/site.h"

enum {
    IN_MAX = 2 * DEMO_BODY_MAX + DEMO_HEAD_MAX, /* one request fits; doubling may overshoot */
    OUT_HIGH = 256 * 1024,                      /* stop answering past this much unsent */
    KEEP_MAX = 64 * 1024,                       /* emptied buffers larger than this are freed */
    MAX_EVENTS = 512,
    BACKLOG = 4096,
    ACCEPT_BATCH = 1024,
};
#define LINGER 2.0 /* seconds to wait for a closing client's FIN */
#define NO_HOLD SIZE_MAX
#define KEY_LISTEN UINT64_MAX
#define KEY_SIGNAL (UINT64_MAX - 1)
#define NOT_LOOPBACK                                                                               \
    "the demo site is a test target and binds only loopback addresses (127.0.0.0/8 or ::1)"

struct conn {
    int fd;
    uint32_t gen;    /* tells this conn from a later one with the same fd */
    long heap_at;    /* index in the timer heap, -1 when no timer is set */
    double deadline; /* of the timer, monotonic seconds */
    struct demo_buf in;
    size_t in_off; /* in.p[in_off, in.len) is not answered yet */
    struct demo_buf out;
    size_t out_off; /* out.p[out_off, out.len) is not sent yet */
    size_t hold;    /* out bytes from here wait for the timer, or NO_HOLD */
    unsigned can_read : 1, can_write : 1, hup : 1, eof : 1, closing : 1, draining : 1;
};

struct server {
    int ep, lfd, sfd, spare;
    uint32_t gen;
    struct conn **conns; /* by fd */
    size_t nconns;
    struct conn **heap;
    size_t nheap, heapcap;
    double now;
    int stop;
    struct demo_site site;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --- timers: a binary min-heap of connections by deadline --- */

static void heap_put(struct server *s, size_t i, struct conn *c)
{
    s->heap[i] = c;
    c->heap_at = (long)i;
}

static void sift_up(struct server *s, size_t i)
{
    struct conn *c = s->heap[i];
    while (i > 0 && c->deadline < s->heap[(i - 1) / 2]->deadline) {
        heap_put(s, i, s->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_put(s, i, c);
}

static void sift_down(struct server *s, size_t i)
{
    struct conn *c = s->heap[i];
    for (;;) {
        size_t m = 2 * i + 1;
        if (m >= s->nheap) break;
        if (m + 1 < s->nheap && s->heap[m + 1]->deadline < s->heap[m]->deadline) m++;
        if (!(s->heap[m]->deadline < c->deadline)) break;
        heap_put(s, i, s->heap[m]);
        i = m;
    }
    heap_put(s, i, c);
}

static void timer_clear(struct server *s, struct conn *c)
{
    if (c->heap_at < 0) return;
    size_t i = (size_t)c->heap_at;
    struct conn *last = s->heap[--s->nheap];
    c->heap_at = -1;
    if (i == s->nheap) return;
    heap_put(s, i, last);
    sift_up(s, i);
    sift_down(s, (size_t)last->heap_at);
}

static void timer_set(struct server *s, struct conn *c, double at)
{
    timer_clear(s, c);
    if (s->nheap == s->heapcap) {
        s->heapcap = s->heapcap ? 2 * s->heapcap : 256;
        s->heap = xrealloc(s->heap, s->heapcap * sizeof *s->heap);
    }
    c->deadline = at;
    heap_put(s, s->nheap++, c);
    sift_up(s, s->nheap - 1);
}

/* --- connections --- */

static void conn_close(struct server *s, struct conn *c)
{
    timer_clear(s, c);
    close(c->fd); /* also removes it from the epoll set */
    s->conns[c->fd] = NULL;
    demo_buf_free(&c->in);
    demo_buf_free(&c->out);
    xfree(c);
}

/* Drop what was consumed from the front of a buffer; free it when empty and
 * big, so one /bytes/1048576 does not pin a megabyte per connection. */
static void tidy(struct demo_buf *b, size_t *off, size_t *hold)
{
    if (*off == 0) return;
    if (*off == b->len) {
        if (b->cap > KEEP_MAX) demo_buf_free(b);
        b->len = 0;
    } else if (*off >= KEEP_MAX || b->len == b->cap) {
        memmove(b->p, b->p + *off, b->len - *off);
        b->len -= *off;
    } else {
        return;
    }
    if (hold && *hold != NO_HOLD) *hold -= *off;
    *off = 0;
}

/* A connection is blocked while it may not answer its next request. */
static int blocked(const struct conn *c)
{
    return c->hold != NO_HOLD || c->out.len - c->out_off >= OUT_HIGH;
}

/* Read what the socket has. Returns 1 if something happened, 0 if there was
 * nothing to read (or no room for it), -1 if the connection is finished. */
static int conn_read(struct conn *c)
{
    char sink[4096];
    char *at = sink;
    size_t room = sizeof sink;
    if (!c->draining) {
        tidy(&c->in, &c->in_off, NULL);
        room = c->in.cap - c->in.len;
        if (room == 0) {
            /* grow only for a request that does not fit; not while blocked */
            if (blocked(c) || c->in.cap >= IN_MAX) return 0;
            demo_buf_reserve(&c->in, c->in.cap ? c->in.cap : 8192);
            room = c->in.cap - c->in.len;
        }
        at = c->in.p + c->in.len;
    }
    ssize_t n = recv(c->fd, at, room, 0);
    if (n > 0) {
        if (!c->draining) c->in.len += (size_t)n;
        /* a short read emptied the socket: the next bytes bring a new edge,
         * unless the peer already hung up, which brings none */
        if ((size_t)n < room && !c->hup) c->can_read = 0;
        return 1;
    }
    if (n == 0) {
        c->eof = 1;
        c->can_read = 0;
        return c->draining ? -1 : 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->can_read = 0;
        return 0;
    }
    return errno == EINTR ? 1 : -1;
}

/* Answer a request that cannot be read, then close. */
static void fail(struct server *s, struct conn *c, int status)
{
    demo_site_error(&s->site, status, &c->out);
    c->closing = 1;
}

/* Answer the complete requests in the input, in order, until one must wait.
 * Returns how many were answered or refused. */
static int serve(struct server *s, struct conn *c)
{
    int served = 0;
    struct demo_req rq;
    while (!c->closing && !blocked(c) && c->in_off < c->in.len) {
        const char *p = c->in.p + c->in_off;
        size_t len = c->in.len - c->in_off;
        long h = demo_req_parse(p, len, &rq);
        if (h == DEMO_REQ_PARTIAL) break;
        int status = h == DEMO_REQ_TOOBIG                ? 431
                     : h < 0                             ? 400
                     : rq.has_te                         ? 501 /* chunked uploads: say so */
                     : rq.content_length > DEMO_BODY_MAX ? 413
                                                         : 0;
        if (status) {
            fail(s, c, status);
            return served + 1;
        }
        size_t total = (size_t)h + (size_t)rq.content_length;
        if (len < total) break; /* the body is still coming */
        rq.body = (struct demo_str){p + h, (size_t)rq.content_length};
        tidy(&c->out, &c->out_off, &c->hold);
        size_t start = c->out.len;
        double delay;
        if (demo_site_respond(&s->site, &rq, &c->out, &delay) & DEMO_CLOSE) c->closing = 1;
        c->in_off += total;
        served++;
        if (delay > 0) {
            c->hold = start;
            timer_set(s, c, s->now + delay);
        }
    }
    return served;
}

/* Send what is ready. Returns 1 if bytes went, 0 if none could, -1 if the
 * connection is broken. */
static int conn_write(struct conn *c)
{
    size_t end = c->hold == NO_HOLD ? c->out.len : c->hold;
    if (c->out_off >= end) return 0;
    ssize_t n = send(c->fd, c->out.p + c->out_off, end - c->out_off, MSG_NOSIGNAL);
    if (n > 0) {
        c->out_off += (size_t)n;
        if (c->out_off < end) c->can_write = 0; /* socket buffer full: wait for EPOLLOUT */
        tidy(&c->out, &c->out_off, &c->hold);
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->can_write = 0;
        return 0;
    }
    return n < 0 && errno == EINTR ? 1 : -1;
}

/* After all is sent: close, or start the lingering close. Returns -1 if the
 * connection is to be closed now, 1 if its state changed, 0 otherwise. */
static int conn_finish(struct server *s, struct conn *c)
{
    if (c->out_off != c->out.len || c->hold != NO_HOLD || c->draining) return 0;
    if (c->eof) return -1; /* the client is gone or half-closed with nothing left to ask */
    if (!c->closing) return 0;
    shutdown(c->fd, SHUT_WR);
    c->draining = 1;
    timer_set(s, c, s->now + LINGER);
    return 1;
}

static void conn_run(struct server *s, struct conn *c)
{
    for (;;) {
        int moved = 0, r;
        if (c->can_read && !c->eof && (!c->closing || c->draining)) {
            if ((r = conn_read(c)) < 0) break;
            moved |= r;
        }
        if (!c->draining) moved |= serve(s, c) > 0;
        if (c->can_write) {
            if ((r = conn_write(c)) < 0) break;
            moved |= r;
        }
        if (moved) continue;
        /* nothing moves: time to close or linger, or to wait for events */
        if ((r = conn_finish(s, c)) < 0) break;
        if (r == 0) return;
    }
    conn_close(s, c);
}

static void conn_open(struct server *s, int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if ((size_t)fd >= s->nconns) {
        size_t n = s->nconns ? s->nconns : 1024;
        while (n <= (size_t)fd)
            n *= 2;
        s->conns = xrealloc(s->conns, n * sizeof *s->conns);
        memset(s->conns + s->nconns, 0, (n - s->nconns) * sizeof *s->conns);
        s->nconns = n;
    }
    struct conn *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->gen = ++s->gen;
    c->heap_at = -1;
    c->hold = NO_HOLD;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)c->gen << 32 | (uint32_t)fd};
    s->conns[fd] = c;
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        conn_close(s, c);
        return;
    }
    /* the request is often there already: do not wait for the first event */
    c->can_read = c->can_write = 1;
    conn_run(s, c);
}

static void accept_all(struct server *s)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_open(s, fd);
        } else if (errno == EINTR || errno == ECONNABORTED) {
            continue;
        } else if ((errno == EMFILE || errno == ENFILE) && s->spare >= 0) {
            /* out of descriptors: accept and drop one with the spare, or the
             * level-triggered listener would wake us forever */
            close(s->spare);
            fd = accept(s->lfd, NULL, NULL);
            if (fd >= 0) close(fd);
            s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
        } else {
            return;
        }
    }
}

static void on_event(struct server *s, const struct epoll_event *ev)
{
    if (ev->data.u64 == KEY_LISTEN) {
        accept_all(s);
        return;
    }
    if (ev->data.u64 == KEY_SIGNAL) {
        s->stop = 1;
        return;
    }
    size_t fd = (uint32_t)ev->data.u64;
    struct conn *c = fd < s->nconns ? s->conns[fd] : NULL;
    if (!c || c->gen != (uint32_t)(ev->data.u64 >> 32)) return; /* closed earlier this turn */
    if (ev->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->hup = 1;
    if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->can_read = 1;
    if (ev->events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) c->can_write = 1;
    conn_run(s, c);
}

static void run_timers(struct server *s)
{
    while (s->nheap > 0 && s->heap[0]->deadline <= s->now) {
        struct conn *c = s->heap[0];
        timer_clear(s, c);
        if (c->draining) {
            conn_close(s, c);
        } else {
            c->hold = NO_HOLD;
            conn_run(s, c);
        }
    }
}

static int serve_forever(struct server *s)
{
    struct epoll_event ev[MAX_EVENTS];
    while (!s->stop) {
        int timeout = -1;
        if (s->nheap > 0) {
            double d = s->heap[0]->deadline - mono();
            timeout = d <= 0 ? 0 : (int)(d * 1000) + 1; /* round up: never wake early */
        }
        int n = epoll_wait(s->ep, ev, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "cicada demo-server: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        s->now = mono();
        demo_site_tick(&s->site, time(NULL));
        for (int i = 0; i < n; i++)
            on_event(s, &ev[i]);
        run_timers(s);
    }
    return 0;
}

/* --- set-up --- */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

/* Bind and listen on a loopback host:port. Returns the socket, -2 if the host
 * is not loopback, -1 on other errors; err says why. Writes the URL to url. */
static int listen_on(const char *host, int port, char *url, size_t urlcap, char *err, size_t errcap)
{
    char name[256], portstr[16], addr[INET6_ADDRSTRLEN];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') host++, n -= 2; /* "[::1]" */
    snprintf(name, sizeof name, "%.*s", (int)n, host);
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res, *ai;
    int rc = name[0] ? getaddrinfo(name, portstr, &hints, &res) : EAI_NONAME, fd = -1;
    if (rc == EAI_NONAME && !name[0]) { /* "" means every address to some tools */
        snprintf(err, errcap, "refusing to bind \"\": %s", NOT_LOOPBACK);
        return -2;
    }
    if (rc != 0) {
        snprintf(err, errcap, "cannot resolve %s: %s", name, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        if (!is_loopback(ai->ai_addr)) {
            snprintf(err, errcap, "refusing to bind %s: %s", name, NOT_LOOPBACK);
            freeaddrinfo(res);
            return -2;
        }
    }
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, BACKLOG) < 0) {
            snprintf(err, errcap, "cannot listen on %s port %d: %s", name, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
        snprintf(url, urlcap, "http://[%s]:%d", addr, ntohs(a->sin6_port));
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
        snprintf(url, urlcap, "http://%s:%d", addr, ntohs(a->sin_port));
    }
    return fd;
}

static int add_fd(struct server *s, int fd, uint64_t key)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = key};
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void teardown(struct server *s)
{
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]) conn_close(s, s->conns[i]);
    xfree(s->conns);
    xfree(s->heap);
    demo_site_free(&s->site);
    if (s->ep >= 0) close(s->ep);
    if (s->lfd >= 0) close(s->lfd);
    if (s->spare >= 0) close(s->spare);
    if (s->sfd >= 0) {
        struct signalfd_siginfo si; /* consume what came, so restoring the mask kills no one */
        while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        }
        close(s->sfd);
    }
}

int demo_run(const char *host, int port, double slow_delay, double fail_ratio)
{
    char url[128], err[512];
    if (!host) host = "127.0.0.1";
    if (port < 0 || port > 65535 || !isfinite(slow_delay) || slow_delay < 0 ||
        slow_delay > DEMO_SLOW_MAX || !(fail_ratio >= 0 && fail_ratio <= 1)) {
        fprintf(stderr,
                "cicada demo-server: want --port 0..65535, --slow-delay 0..%d seconds, "
                "--fail-ratio 0..1\n",
                DEMO_SLOW_MAX);
        return 2;
    }
    struct server s = {.ep = -1, .lfd = -1, .sfd = -1, .spare = -1, .now = mono()};
    sigset_t sigs, old;
    int rc = 1;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, &old);

    s.lfd = listen_on(host, port, url, sizeof url, err, sizeof err);
    if (s.lfd < 0) {
        fprintf(stderr, "cicada demo-server: %s\n", err);
        rc = s.lfd == -2 ? 2 : 1;
        goto out;
    }
    sys_raise_fd_limit(); /* thousands of connections need thousands of descriptors */
    s.sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    s.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s.sfd < 0 || s.ep < 0 || add_fd(&s, s.lfd, KEY_LISTEN) < 0 ||
        add_fd(&s, s.sfd, KEY_SIGNAL) < 0) {
        fprintf(stderr, "cicada demo-server: cannot set up the event loop: %s\n", strerror(errno));
        goto out;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    demo_site_init(&s.site, slow_delay, fail_ratio,
                   (uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)getpid() << 32 ^
                       (uint64_t)ts.tv_sec);
    demo_site_tick(&s.site, ts.tv_sec);
    fprintf(stderr, "demo site listening on %s\n", url);
    rc = serve_forever(&s);
out:
    teardown(&s);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}
