/* scrape: see scrape.h.
 *
 * Each job walks CONNECT → SEND → RECV → DONE (or FAIL) on its own
 * non-blocking socket, registered in a per-round epoll set; one epoll_wait
 * loop serves all of them until the deadline. Names are resolved with
 * getaddrinfo before the round, once per job and again after a failure
 * (the thread is the monitor's own, so a slow resolver delays only the
 * monitor). The answer is read whole into the job's buffer and checked
 * at the end: status line, Content-Length, size. */
#include "monitor/scrape.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"

enum { S_IDLE, S_CONNECT, S_SEND, S_RECV, S_DONE, S_FAIL };

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool has_socket(const scrape_job_t *j)
{
    return j->state == S_CONNECT || j->state == S_SEND || j->state == S_RECV;
}

__attribute__((format(printf, 2, 3))) static void fail(scrape_job_t *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->why, sizeof j->why, fmt, ap);
    va_end(ap);
    if (has_socket(j)) close(j->fd);
    j->fd = -1;
    j->state = S_FAIL;
    j->resolved = false; /* resolve again next round: the address may have moved */
}

static bool resolve(scrape_job_t *j)
{
    if (j->resolved) return true;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(j->host, j->port, &hints, &ai);
    if (rc != 0) {
        fail(j, "cannot resolve the host: %s", gai_strerror(rc));
        return false;
    }
    memcpy(&j->addr, ai->ai_addr, ai->ai_addrlen);
    j->addrlen = ai->ai_addrlen;
    j->resolved = true;
    freeaddrinfo(ai);
    return true;
}

static void start(scrape_job_t *j, int ep)
{
    j->ok = false;
    j->why[0] = '\0';
    j->len = j->sent = 0;
    j->fd = -1;
    if (!resolve(j)) return;
    bool v6 = strchr(j->host, ':') != NULL;
    j->reqlen =
        (size_t)snprintf(j->req, sizeof j->req,
                         "GET %s HTTP/1.0\r\nHost: %s%s%s:%s\r\nUser-Agent: cicada-monitor\r\n"
                         "Accept: text/plain\r\n\r\n",
                         j->path, v6 ? "[" : "", j->host, v6 ? "]" : "", j->port);
    int fd = socket(j->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(j, "socket: %s", strerror(errno));
        return;
    }
    j->fd = fd;
    j->state = S_CONNECT;
    if (connect(j->fd, (struct sockaddr *)&j->addr, j->addrlen) != 0 && errno != EINPROGRESS) {
        fail(j, "cannot connect: %s", strerror(errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = j};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, j->fd, &ev) != 0) fail(j, "epoll: %s", strerror(errno));
}

static void on_send(scrape_job_t *j, int ep)
{
    if (j->state == S_CONNECT) {
        int e = 0;
        socklen_t l = sizeof e;
        getsockopt(j->fd, SOL_SOCKET, SO_ERROR, &e, &l);
        if (e) {
            fail(j, "cannot connect: %s", strerror(e));
            return;
        }
        j->state = S_SEND;
    }
    ssize_t w = send(j->fd, j->req + j->sent, j->reqlen - j->sent, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) fail(j, "cannot send: %s", strerror(errno));
        return;
    }
    j->sent += (size_t)w;
    if (j->sent < j->reqlen) return;
    j->state = S_RECV;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = j};
    epoll_ctl(ep, EPOLL_CTL_MOD, j->fd, &ev);
}

/* The whole answer is in: check it and point body at it. */
static void finish(scrape_job_t *j)
{
    close(j->fd);
    j->fd = -1;
    j->state = S_DONE;
    const char *b = j->buf;
    const char *end = j->len >= 4 ? memmem(b, j->len, "\r\n\r\n", 4) : NULL;
    int status = 0;
    if (j->len < 12 || memcmp(b, "HTTP/1.", 7) != 0 || end == NULL ||
        sscanf(b + 9, "%3d", &status) != 1) {
        fail(j, "%s", j->len ? "not an HTTP answer" : "the connection closed without an answer");
        return;
    }
    if (status != 200) {
        char s[8];
        snprintf(s, sizeof s, "%d", status);
        fail(j, "HTTP status %s", s);
        return;
    }
    j->body = end + 4;
    j->body_len = j->len - (size_t)(j->body - b);
    /* headers: Content-Length (a short body is a cut answer), chunked (not for HTTP/1.0) */
    for (const char *h = memchr(b, '\n', (size_t)(end - b)); h && h < end;
         h = memchr(h + 1, '\n', (size_t)(end - h))) {
        if (strncasecmp(h + 1, "Content-Length:", 15) == 0 &&
            strtoull(h + 16, NULL, 10) != j->body_len) {
            fail(j, "%s", "the answer is shorter than its Content-Length");
            return;
        }
        if (strncasecmp(h + 1, "Transfer-Encoding:", 18) == 0) {
            fail(j, "%s", "a chunked answer to an HTTP/1.0 request");
            return;
        }
    }
    j->ok = true;
    j->state = S_DONE;
}

static void on_recv(scrape_job_t *j)
{
    for (;;) {
        if (j->len == j->cap) {
            if (j->cap == SCRAPE_MAX) {
                fail(j, "the answer is over %s: cut off", "4 MB");
                return;
            }
            j->cap = j->cap ? j->cap * 2 : 64 * 1024;
            if (j->cap > SCRAPE_MAX) j->cap = SCRAPE_MAX;
            j->buf = xrealloc(j->buf, j->cap + 1);
        }
        ssize_t r = recv(j->fd, j->buf + j->len, j->cap - j->len, 0);
        if (r > 0) {
            j->len += (size_t)r;
            continue;
        }
        if (r == 0) {
            j->buf[j->len] = '\0'; /* for sscanf and strtoull in the headers */
            finish(j);
        } else if (errno != EAGAIN && errno != EINTR)
            fail(j, "cannot read: %s", strerror(errno));
        return;
    }
}

void scrape_round(scrape_job_t **jobs, size_t n, double timeout, int wake_fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    size_t open = 0;
    for (size_t i = 0; i < n; i++) {
        jobs[i]->state = S_IDLE;
        if (ep < 0) {
            fail(jobs[i], "epoll: %s", strerror(errno));
            continue;
        }
        start(jobs[i], ep);
        open += jobs[i]->state == S_CONNECT;
    }
    if (ep >= 0 && wake_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd, &ev);
    }
    double deadline = mono() + timeout;
    bool woken = false;
    while (open > 0 && !woken) {
        int ms = (int)((deadline - mono()) * 1000);
        if (ms <= 0) break;
        struct epoll_event evs[32];
        int k = epoll_wait(ep, evs, 32, ms);
        for (int i = 0; i < k; i++) {
            scrape_job_t *j = evs[i].data.ptr;
            if (j == NULL) {
                woken = true;
                continue;
            }
            if (j->state == S_RECV)
                on_recv(j);
            else
                on_send(j, ep);
            if (j->state == S_DONE || j->state == S_FAIL) open--;
        }
    }
    for (size_t i = 0; i < n; i++) {
        scrape_job_t *j = jobs[i];
        if (j->state != S_DONE && j->state != S_FAIL)
            fail(j, "%s", woken ? "stopped" : "no complete answer within the interval (timeout)");
    }
    if (ep >= 0) close(ep);
}

void scrape_job_free(scrape_job_t *j)
{
    if (has_socket(j)) close(j->fd);
    j->fd = -1;
    j->state = S_IDLE;
    xfree(j->buf);
    j->buf = NULL;
    j->cap = j->len = 0;
}
