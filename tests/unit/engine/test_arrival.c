/* Unit tests for the open model's schedule (engine/arrival.c, included to
 * reach due()): over 60 s at 1,000/s exactly 60,000 iterations are due,
 * 1 ms apart with no drift; two engines (slots 0 and 1 of 2) interleave
 * into the same schedule; a rate change carries on from where the
 * schedule stands (a ramp loses nothing); the idle list is a LIFO that
 * unlinks from anywhere. No thread and no VM: only the stream's arithmetic
 * and the list, on a bare engine with a loop for the timer. */
#include "engine/arrival.c"

#include "base/alloc.h"
#include "check.h"

/* Count the iterations one stream makes due before anchor + span_ns, and
 * the largest gap from the exact time (g / rate) seen. */
static uint64_t count_due(arrival_stream_t *s, int nslots, int64_t span_ns, double *worst_ns)
{
    uint64_t n = 0;
    *worst_ns = 0;
    for (;;) {
        int64_t t = due(s);
        if (t >= s->anchor_ns + span_ns) break;
        double exact = (double)s->anchor_ns + (double)s->g * 1e9 / s->rate;
        double err = (double)t - exact;
        if (err < 0) err = -err;
        if (err > *worst_ns) *worst_ns = err;
        s->g += (uint64_t)nslots;
        n++;
    }
    return n;
}

static engine_t *bare(void)
{
    char err[256];
    engine_t *e = xcalloc(1, sizeof *e);
    e->loop = loop_new(err, sizeof err);
    return e;
}

static void test_exact_count(void)
{
    engine_t *e = bare();
    arrival_set(e, 0, 1000, 10, 0, 1);
    arrival_stream_t *s = &e->arr.s[0];
    double worst;
    CHECK(count_due(s, 1, 60 * 1000000000LL, &worst) == 60000);
    CHECK(worst <= 1); /* rounding of one ns at most, never accumulated */
    CHECK(loop_timer_armed(&e->arr.timer));
    arrival_off(e);
    CHECK(!loop_timer_armed(&e->arr.timer) && !e->arr.on && s->rate == 0);
    loop_free(e->loop);
    xfree(e);
}

static void test_two_slots_interleave(void)
{
    engine_t *a = bare(), *b = bare();
    arrival_set(a, 0, 1000, 5, 0, 2);
    arrival_set(b, 0, 1000, 5, 1, 2);
    arrival_stream_t *sa = &a->arr.s[0], *sb = &b->arr.s[0];
    sb->anchor_ns = sa->anchor_ns; /* the same start, as if posted at once */
    double wa, wb;
    CHECK(sa->g == 0 && sb->g == 1);
    int64_t ta = due(sa), tb = due(sb);
    CHECK(tb - ta == 1000000); /* b's first is 1 ms after a's */
    uint64_t na = count_due(sa, 2, 60 * 1000000000LL, &wa);
    uint64_t nb = count_due(sb, 2, 60 * 1000000000LL, &wb);
    CHECK(na == 30000 && nb == 30000 && na + nb == 60000);
    loop_free(a->loop);
    loop_free(b->loop);
    xfree(a);
    xfree(b);
}

static void test_rate_change_keeps_position(void)
{
    engine_t *e = bare();
    arrival_set(e, 0, 1000, 10, 0, 1);
    arrival_stream_t *s = &e->arr.s[0];
    /* pretend the stream started 0.5 s ago and handed out what was due */
    s->anchor_ns -= 500000000LL;
    double w;
    count_due(s, 1, 500000000LL, &w);
    CHECK(s->g == 500);
    arrival_set(e, 0, 2000, 10, 0, 1); /* now: 500 (and a few ns) iterations are due */
    CHECK(s->anchor_pos >= 500 && s->anchor_pos < 500.01);
    /* the next one comes within its interval at the new rate, not later */
    int64_t next = due(s), now = clock_ns();
    CHECK(next <= now + 500000 && next >= now - 1000000);
    /* a pause (rate 0) accrues nothing; resuming carries on */
    arrival_set(e, 0, 0, 10, 0, 1);
    double pos = s->anchor_pos;
    arrival_set(e, 0, 1000, 10, 0, 1);
    CHECK(s->anchor_pos == pos);
    loop_free(e->loop);
    xfree(e);
}

static void test_idle_list(void)
{
    engine_t *e = bare();
    user_t u[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        u[i].eng = e;
        CHECK(engine_idle(&u[i]) == IDLE_PARKED && u[i].state == USER_IDLE);
    }
    arrival_stream_t *s = &e->arr.s[0];
    CHECK(s->idle == &u[2]); /* most recent first */
    arrival_unidle(&u[1]);   /* from the middle */
    CHECK(s->idle == &u[2] && u[2].next_ready == &u[0] && u[0].idle_prev == &u[2]);
    CHECK(u[1].state == USER_SLEEPING);
    CHECK(pop_idle(s) == &u[2] && pop_idle(s) == &u[0] && pop_idle(s) == NULL);
    /* a user created for an iteration begins it at once; a stopping one stops */
    user_t n = {0};
    n.eng = e;
    n.sched = -42;
    CHECK(engine_idle(&n) == IDLE_GO && n.sched == 42 && n.state != USER_IDLE);
    n.stopping = true;
    CHECK(engine_idle(&n) == IDLE_STOP);
    loop_free(e->loop);
    xfree(e);
}

int main(void)
{
    test_exact_count();
    test_two_slots_interleave();
    test_rate_change_keeps_position();
    test_idle_list();
    return check_done();
}
