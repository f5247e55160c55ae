/* Unit tests for the event loop: the timer heap fires in deadline order
 * under random arms, moves and stops, and I/O events reach their owner. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/limits.h"
#include "check.h"
#include "net/loop.h"

#define N 5000

typedef struct item {
    loop_timer_t t;
    int64_t when;
    int fired;
} item_t;

static int64_t last_when;
static int order_ok = 1, fired_total;

static void on_timer(loop_t *l, loop_timer_t *t)
{
    item_t *it = (item_t *)t;
    if (it->t.when < last_when) order_ok = 0;
    last_when = it->t.when;
    it->fired++;
    fired_total++;
}

static int io_events;
static void on_io(loop_t *l, loop_io_t *io, uint32_t ev)
{
    uint64_t v;
    if (read(io->fd, &v, sizeof v) == sizeof v) io_events += (int)v;
}

int main(void)
{
    char err[128];
    loop_t *l = loop_new(err, sizeof err);
    CHECK(l != NULL);
    static item_t items[N];
    int64_t base = clock_ns() - 1000000000LL; /* all in the past: due at once */
    srand(7);
    for (int i = 0; i < N; i++) {
        items[i].t.fn = on_timer;
        loop_timer_at(l, &items[i].t, base + rand() % 1000000);
    }
    /* move some, stop some */
    int stopped = 0;
    for (int i = 0; i < N; i += 3)
        loop_timer_at(l, &items[i].t, base + rand() % 1000000);
    for (int i = 1; i < N; i += 7) {
        loop_timer_stop(l, &items[i].t);
        stopped++;
    }
    loop_timer_stop(l, &items[1].t); /* stopping twice is harmless */
    CHECK(loop_timer_count(l) == (size_t)(N - stopped));
    loop_run_once(l, 0);
    CHECK(order_ok);
    CHECK(fired_total == N - stopped);
    int twice = 0, stopped_fired = 0;
    for (int i = 0; i < N; i++) {
        if (items[i].fired > 1) twice++;
        if (i % 7 == 1 && items[i].fired) stopped_fired++;
    }
    CHECK(twice == 0);
    CHECK(stopped_fired == 0);
    CHECK(loop_timer_count(l) == 0);

    /* a future timer does not fire early; the wait ends at its deadline */
    item_t later = {.t.fn = on_timer};
    int64_t t0 = clock_ns();
    loop_timer_at(l, &later.t, t0 + 30000000LL);
    while (!later.fired)
        loop_run_once(l, 1000);
    CHECK(clock_ns() - t0 >= 30000000LL);
    CHECK(clock_ns() - t0 < 1000000000LL);

    /* I/O reaches its owner */
    loop_io_t io = {.fn = on_io, .fd = eventfd(0, EFD_NONBLOCK)};
    /* Issue 8 item 5: a deadline as far as int64 goes neither overflows
     * the wait computation (UBSan) nor fires early. */
    item_t far = {.t.fn = on_timer};
    loop_timer_at(l, &far.t, INT64_MAX);
    CHECK(loop_run_once(l, 10) == 0);
    CHECK(!far.fired);
    loop_timer_stop(l, &far.t);
    item_t past = {.t.fn = on_timer}; /* before the fix: "signed integer overflow" */
    loop_timer_at(l, &past.t, INT64_MIN);
    loop_run_once(l, 10);
    CHECK(past.fired);
    /* delays are clamped to a year: NaN and negatives are 0 */
    CHECK(loop_delay_ns(1e10) == (int64_t)(LIMIT_SECONDS * 1e9));
    CHECK(loop_delay_ns(HUGE_VAL) == (int64_t)(LIMIT_SECONDS * 1e9));
    CHECK(loop_delay_ns(NAN) == 0);
    CHECK(loop_delay_ns(-5) == 0);
    CHECK(loop_delay_ns(1.5) == 1500000000LL);
    item_t year = {.t.fn = on_timer};
    loop_timer_at(l, &year.t, clock_ns() + loop_delay_ns(HUGE_VAL));
    CHECK(loop_run_once(l, 10) == 0);
    CHECK(!year.fired);
    loop_timer_stop(l, &year.t);

    CHECK(loop_add_read(l, &io) == 0);
    uint64_t three = 3;
    CHECK(write(io.fd, &three, sizeof three) == sizeof three);
    loop_run_once(l, 100);
    CHECK(io_events == 3);
    loop_del(l, &io);
    close(io.fd);
    loop_free(l);
    return check_done();
}
