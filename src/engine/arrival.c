/* arrival: see arrival.h.
 *
 * The due time of this engine's next iteration g of a stream is
 * anchor_ns + (g - anchor_pos) / rate: computed afresh each time from the
 * anchor, so rounding never accumulates. The timer callback hands out every
 * iteration due by now, in order, then re-arms at the earliest next one.
 * Handing out resumes the user at once: a task that never blocks runs to
 * its end and parks back among the idle users before the next iteration is
 * handed out, so one user can take several iterations of one callback. */
#include "engine/arrival.h"
#include "engine/engine.h"

#include <math.h>

/* When iteration s->g is due (monotonic ns). */
static int64_t due(const arrival_stream_t *s)
{
    return s->anchor_ns + (int64_t)llround(((double)s->g - s->anchor_pos) * 1e9 / s->rate);
}

static user_t *pop_idle(arrival_stream_t *s)
{
    user_t *u = s->idle;
    if (u) arrival_unidle(u);
    return u;
}

/* Hand iteration (scheduled at sched) of class cls to a free user, a new
 * one, or count it dropped. */
static void dispatch(engine_t *e, int cls, int64_t sched)
{
    arrival_t *a = &e->arr;
    int64_t now = clock_ns();
    bool late = now - sched > ARRIVAL_LATE_NS;
    user_t *u = pop_idle(&a->s[cls]);
    if (u) {
        if (late) stats_shard_iteration(e->shard, true, false);
        u->sched = sched;
        engine_resume(u, 0);
    } else if (atomic_load_explicit(&e->live_users, memory_order_relaxed) < a->max_users) {
        if (late) stats_shard_iteration(e->shard, true, false);
        engine_spawn(e, cls, sched);
    } else {
        stats_shard_iteration(e->shard, false, true);
    }
}

/* Arm the timer at the earliest due iteration, if any stream runs. */
static void arm(engine_t *e)
{
    arrival_t *a = &e->arr;
    int64_t first = INT64_MAX;
    for (int c = 0; c < LIMIT_CLASSES; c++) {
        arrival_stream_t *s = &a->s[c];
        if (s->rate > 0) {
            int64_t t = due(s);
            if (t < first) first = t;
        }
    }
    if (first == INT64_MAX) {
        loop_timer_stop(e->loop, &a->timer);
        return;
    }
    /* a backlog (the thread is saturated) is taken up at the next turn, not
     * in this one: the loop fires again every timer due by its turn's time,
     * and the thread must see its I/O and commands in between */
    int64_t turn = loop_now(e->loop);
    loop_timer_at(e->loop, &a->timer, first > turn ? first : turn + 1);
}

/* The class whose next iteration is due first, or -1 if no stream runs. */
static int earliest(const arrival_t *a, int64_t *when)
{
    int best = -1;
    for (int c = 0; c < LIMIT_CLASSES; c++) {
        const arrival_stream_t *s = &a->s[c];
        if (s->rate <= 0) continue;
        int64_t t = due(s);
        if (best < 0 || t < *when) best = c, *when = t;
    }
    return best;
}

static void on_timer(loop_t *l, loop_timer_t *t)
{
    engine_t *e = (engine_t *)((char *)t - offsetof(engine_t, arr.timer));
    arrival_t *a = &e->arr;
    int64_t start = clock_ns(), when = 0;
    int c;
    /* in order of their times over all classes; a dispatch may stop the
     * run (cicada.quit), so `on` is read again each time */
    while (a->on && (c = earliest(a, &when)) >= 0 && when <= start) {
        /* a saturated thread (iterations that take longer than their
         * interval) would stay here for ever, every pass finding more due:
         * after ARRIVAL_BUDGET_NS it goes back to its loop (I/O, commands
         * such as a stop) and carries on at the next turn */
        if (clock_ns() - start > ARRIVAL_BUDGET_NS) break;
        a->s[c].g += (uint64_t)a->nslots;
        dispatch(e, c, when);
    }
    if (a->on) arm(e);
}

void arrival_set(engine_t *e, int cls, double rate, long max_users, int slot, int nslots)
{
    arrival_t *a = &e->arr;
    arrival_stream_t *s = &a->s[cls];
    int64_t now = clock_ns();
    a->timer.fn = on_timer;
    a->max_users = max_users;
    a->slot = slot;
    a->nslots = nslots > 0 ? nslots : 1;
    if (!s->started) {
        s->started = true;
        s->anchor_ns = now;
        s->anchor_pos = 0;
        s->g = (uint64_t)slot;
    } else if (s->rate > 0) {
        /* re-anchor where the integral stands: a ramp loses nothing */
        s->anchor_pos += (double)(now - s->anchor_ns) / 1e9 * s->rate;
        s->anchor_ns = now;
    } else {
        s->anchor_ns = now; /* it was paused at rate 0: nothing accrued */
    }
    s->rate = rate > 0 ? rate : 0;
    a->on = true;
    arm(e);
}

void arrival_off(engine_t *e)
{
    arrival_t *a = &e->arr;
    for (int c = 0; c < LIMIT_CLASSES; c++) {
        a->s[c].rate = 0;
        a->s[c].started = false;
    }
    a->on = false;
    loop_timer_stop(e->loop, &a->timer);
}

int engine_idle(user_t *u)
{
    engine_t *e = u->eng;
    if (u->stopping && !u->in_on_stop) return IDLE_STOP;
    if (u->sched < 0) { /* created for an iteration: it begins now */
        u->sched = -u->sched;
        return IDLE_GO;
    }
    u->sched = 0; /* an iteration that made no request */
    arrival_stream_t *s = &e->arr.s[u->cls];
    u->idle_prev = NULL;
    u->next_ready = s->idle;
    if (s->idle) s->idle->idle_prev = u;
    s->idle = u;
    /* parked like a user between tasks: a stop wakes it with STOP at once */
    u->state = USER_IDLE;
    u->between = true;
    u->parked = false;
    return IDLE_PARKED;
}

void arrival_unidle(user_t *u)
{
    arrival_stream_t *s = &u->eng->arr.s[u->cls];
    if (u->idle_prev)
        u->idle_prev->next_ready = u->next_ready;
    else
        s->idle = u->next_ready;
    if (u->next_ready) u->next_ready->idle_prev = u->idle_prev;
    u->state = USER_SLEEPING; /* parked, in no list: resumed or freed next */
    u->idle_prev = u->next_ready = NULL;
}
