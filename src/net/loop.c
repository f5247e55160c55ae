/* loop: epoll + a binary min-heap of timers. See loop.h.
 *
 * The heap holds pointers to timers embedded in their owners; each timer
 * remembers its slot so it can be removed or moved in O(log n). Timers due
 * in the same turn fire in deadline order; a timer callback may arm or stop
 * any timer, including itself. */
#include "net/loop.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"

#define MAX_EVENTS 512

struct loop {
    int epfd;
    int64_t now;
    _Atomic int64_t busy; /* now while dispatching, 0 while waiting (read by other threads) */
    loop_timer_t **heap;
    size_t n, cap;
    struct epoll_event events[MAX_EVENTS];
};

int64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double clock_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t loop_delay_ns(double s)
{
    if (!(s > 0)) return 0; /* also NaN */
    if (s > LIMIT_SECONDS) s = LIMIT_SECONDS;
    return (int64_t)(s * 1e9);
}

loop_t *loop_new(char *err, size_t n)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) {
        snprintf(err, n, "epoll_create1: %s", strerror(errno));
        return NULL;
    }
    loop_t *l = xcalloc(1, sizeof *l);
    l->epfd = fd;
    l->now = clock_ns();
    return l;
}

void loop_free(loop_t *l)
{
    if (l == NULL) return;
    close(l->epfd);
    xfree(l->heap);
    xfree(l);
}

static int add(loop_t *l, loop_io_t *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev);
}

int loop_add(loop_t *l, loop_io_t *io)
{
    return add(l, io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}

int loop_add_read(loop_t *l, loop_io_t *io)
{
    return add(l, io, EPOLLIN);
}

void loop_del(loop_t *l, loop_io_t *io)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

int64_t loop_now(const loop_t *l)
{
    return l->now;
}

size_t loop_timer_count(const loop_t *l)
{
    return l->n;
}

/* ---- heap ---- */

static void place(loop_t *l, size_t i, loop_timer_t *t)
{
    l->heap[i] = t;
    t->slot = i + 1;
}

static void sift_up(loop_t *l, size_t i)
{
    loop_timer_t *t = l->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p]->when <= t->when) break;
        place(l, i, l->heap[p]);
        i = p;
    }
    place(l, i, t);
}

static void sift_down(loop_t *l, size_t i)
{
    loop_timer_t *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n) break;
        if (c + 1 < l->n && l->heap[c + 1]->when < l->heap[c]->when) c++;
        if (t->when <= l->heap[c]->when) break;
        place(l, i, l->heap[c]);
        i = c;
    }
    place(l, i, t);
}

void loop_timer_stop(loop_t *l, loop_timer_t *t)
{
    if (t->slot == 0) return;
    size_t i = t->slot - 1;
    t->slot = 0;
    l->n--;
    if (i == l->n) return;
    loop_timer_t *last = l->heap[l->n];
    place(l, i, last);
    if (i > 0 && l->heap[(i - 1) / 2]->when > last->when)
        sift_up(l, i);
    else
        sift_down(l, i);
}

void loop_timer_at(loop_t *l, loop_timer_t *t, int64_t when)
{
    if (t->slot) {
        int64_t old = t->when;
        t->when = when;
        if (when < old)
            sift_up(l, t->slot - 1);
        else
            sift_down(l, t->slot - 1);
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->heap = xrealloc(l->heap, l->cap * sizeof *l->heap);
    }
    t->when = when;
    place(l, l->n, t);
    l->n++;
    sift_up(l, l->n - 1);
}

/* ---- turn ---- */

int64_t loop_busy_since(const loop_t *l)
{
    return atomic_load_explicit(&((loop_t *)l)->busy, memory_order_relaxed);
}

int loop_run_once(loop_t *l, int max_wait_ms)
{
    int wait = max_wait_ms;
    if (l->n > 0 && wait != 0) {
        int64_t now = clock_ns(), when = l->heap[0]->when;
        /* round up so we never wake before the deadline and spin; a
         * deadline further than epoll_wait's int milliseconds waits for
         * INT_MAX ms and looks again (no overflow for any deadline) */
        int64_t due = when <= now ? 0 : (when - now) / 1000000 + ((when - now) % 1000000 != 0);
        int ms = due > INT_MAX ? INT_MAX : (int)due;
        if (wait < 0 || ms < wait) wait = ms;
    }
    atomic_store_explicit(&l->busy, 0, memory_order_relaxed);
    int n = epoll_wait(l->epfd, l->events, MAX_EVENTS, wait);
    if (n < 0) {
        if (errno != EINTR) return -1;
        n = 0;
    }
    l->now = clock_ns();
    atomic_store_explicit(&l->busy, l->now, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        loop_io_t *io = l->events[i].data.ptr;
        io->fn(l, io, l->events[i].events);
    }
    while (l->n > 0 && l->heap[0]->when <= l->now) {
        loop_timer_t *t = l->heap[0];
        loop_timer_stop(l, t);
        t->fn(l, t);
    }
    return n;
}
