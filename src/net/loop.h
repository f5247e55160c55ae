/* loop: one epoll event loop with a timer heap, owned by one thread.
 *
 * File descriptors are registered once, edge-triggered, for both directions
 * (loop_add); the owner of an fd embeds a loop_io_t and gets called with the
 * epoll events. Timers are embedded too (loop_timer_t) and kept in a binary
 * min-heap of pointers, so a million sleeping users cost one pointer each
 * in the heap and O(log n) per arm/disarm. Time is read once per loop turn
 * (loop_now, CLOCK_MONOTONIC); code that needs precise time (latencies)
 * calls clock_ns() itself. Nothing here is thread-safe: other threads talk to
 * a loop's owner through a queue and an eventfd (see engine.c). */
#ifndef CICADA_LOOP_H
#define CICADA_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct loop loop_t;
typedef struct loop_io loop_io_t;
typedef struct loop_timer loop_timer_t;

typedef void (*loop_io_fn)(loop_t *l, loop_io_t *io, uint32_t events);
typedef void (*loop_timer_fn)(loop_t *l, loop_timer_t *t);

struct loop_io {
    loop_io_fn fn;
    int fd;
};

struct loop_timer {
    loop_timer_fn fn;
    int64_t when; /* monotonic ns */
    size_t slot;  /* index in the heap + 1; 0 when not armed */
};

/* Precise monotonic time in nanoseconds (vDSO, no system call). */
int64_t clock_ns(void);
/* Wall-clock time in seconds (fractional). */
double clock_wall(void);

/* A delay of s seconds in nanoseconds, clamped to [0, LIMIT_SECONDS]
 * (base/limits.h): NaN and negatives give 0, so that loop_now() or
 * clock_ns() plus the result never overflows. */
int64_t loop_delay_ns(double s);

/* Create a loop. Returns NULL and fills err on failure. */
loop_t *loop_new(char *err, size_t n);
void loop_free(loop_t *l);

/* Watch io->fd for EPOLLIN|EPOLLOUT|EPOLLRDHUP, edge-triggered; io->fn is
 * called with the events. io must stay valid until loop_del. Returns 0 or -1
 * (errno set). */
int loop_add(loop_t *l, loop_io_t *io);
/* Watch only readability (level-triggered), for eventfds and listeners. */
int loop_add_read(loop_t *l, loop_io_t *io);
void loop_del(loop_t *l, loop_io_t *io);

/* Arm t to fire at monotonic time when (ns); re-arming moves it. */
void loop_timer_at(loop_t *l, loop_timer_t *t, int64_t when);
void loop_timer_stop(loop_t *l, loop_timer_t *t);
static inline bool loop_timer_armed(const loop_timer_t *t)
{
    return t->slot != 0;
}
size_t loop_timer_count(const loop_t *l);

/* Time of the current loop turn (monotonic ns, read after epoll_wait). */
int64_t loop_now(const loop_t *l);

/* Since when (monotonic ns) the loop has been dispatching the current
 * turn's events, timers and whatever its owner runs after loop_run_once
 * returns; 0 while it waits in epoll_wait. The one call here that other
 * threads may make: it tells a thread stuck in a callback from an idle one. */
int64_t loop_busy_since(const loop_t *l);

/* One turn: wait for events (at most max_wait_ms, less if a timer is due,
 * 0 to poll), dispatch them, then fire due timers. Returns the number of
 * events handled, or -1 on an epoll error other than EINTR. */
int loop_run_once(loop_t *l, int max_wait_ms);

#endif
