/* arrival: the open model's scheduler on one engine thread (--arrival-rate).
 *
 * In the open model iterations arrive at a rate, whatever the target does;
 * each iteration (one task pick) runs on a free user of its class. Every
 * class has a stream: a rate (the class's total over the whole run, all
 * engines and workers) and this engine's place in it, slot of nslots
 * (engines × workers). Iteration g of the whole run is due when the
 * integral of the rate since the stream started reaches g; this engine
 * takes g = slot, slot + nslots, ... So at a constant rate R iteration g is
 * due at start + g/R exactly (no drift: the time is computed from the
 * start, never by adding intervals), the engines interleave evenly, and a
 * rate change re-anchors the integral where it stands, so a ramp loses or
 * gains nothing.
 *
 * One loop timer per engine fires at the earliest due iteration. Each due
 * iteration is handed to the class's most recently idle user (a LIFO: warm
 * users first); with none idle, a new user is created if the engine is under
 * its share of -u, else the iteration is dropped (counted, never run
 * later). An iteration handed out more than ARRIVAL_LATE_NS after its time
 * is counted as late. The user remembers its iteration's scheduled time in
 * u->sched: the first request that completes in the iteration measures its
 * response time from there (lua/http.c), so delay in the generator shows.
 *
 * What it does not do: it never runs an iteration twice or catches up later
 * (late ones run late, dropped ones never run), and it does not limit the
 * users' own concurrency inside an iteration. */
#ifndef CICADA_ARRIVAL_H
#define CICADA_ARRIVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/limits.h"
#include "net/loop.h"

struct engine;
struct user;

/* An iteration handed out later than this after its time is late. */
#define ARRIVAL_LATE_NS 10000000LL
/* The most time one timer callback spends handing out iterations before
 * the thread goes back to its loop (I/O, commands). */
#define ARRIVAL_BUDGET_NS 5000000LL

typedef struct arrival_stream {
    double rate;       /* iterations per second, the whole run's (0: off) */
    bool started;      /* anchored since the last arrival_off */
    int64_t anchor_ns; /* monotonic time of the last (re-)anchoring */
    double anchor_pos; /* iterations of the whole run due by anchor_ns */
    uint64_t g;        /* this engine's next iteration number */
    struct user *idle; /* its idle users, most recent first (next_ready, idle_prev) */
} arrival_stream_t;

typedef struct arrival {
    arrival_stream_t s[LIMIT_CLASSES];
    long max_users; /* this engine's share of -u */
    int slot, nslots;
    bool on; /* some stream runs: the engine is in the open model */
    loop_timer_t timer;
} arrival_t;

/* Engine thread (CMD_RATE): class cls's total rate becomes rate per
 * second, with this engine at slot of nslots and at most max_users users
 * here in all. A stream that was off starts now with iteration slot. */
void arrival_set(struct engine *e, int cls, double rate, long max_users, int slot, int nslots);
/* Stop every stream (a stop, or a new closed-model swarm). Idle users stay
 * idle until they are stopped. */
void arrival_off(struct engine *e);

/* What engine_idle tells the prelude. */
enum { IDLE_PARKED, IDLE_GO, IDLE_STOP };
/* u finished an iteration (or its on_start): take the iteration it was
 * created for (IDLE_GO), or park it among its class's idle users
 * (IDLE_PARKED: the caller yields; u is resumed with no values for its next
 * iteration, or with STOP), or IDLE_STOP when it must stop. */
int engine_idle(struct user *u);
/* Take u out of its class's idle users (it is resumed or freed). */
void arrival_unidle(struct user *u);

#endif
