/* rate: the runner's side of the open model (--arrival-rate, cicada.arrival).
 *
 * In the open model the runner spawns no users: it tells every engine the
 * rate of each class and the engine's place in the run (engine/arrival.h),
 * and the engines create users on demand up to -u. The rate is
 * --arrival-rate, split over the chosen classes by weight, or what the
 * scenario's cicada.arrival function returns at the current run time (a
 * total split the same way, or a rate per class name), asked every tick of
 * the runner's loop (20 ms) so a ramp moves smoothly; a class's engines are
 * told only when its rate changes. Engine i of this process is slot
 * windex + i * nworkers of neng * nworkers in all, so iterations interleave
 * evenly over engines and workers; a standalone run is worker 0 of 1. */
#ifndef CICADA_RATE_H
#define CICADA_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include "runner/runner.h"

/* -u's default in the open model (Locust's headless default of 1 user
 * would drop nearly every iteration). */
#define RATE_DEFAULT_USERS 1000

/* Does this run use the open model? */
bool rate_open(const runner_t *r);
/* Start (or re-target) the open model with at most users users in the
 * whole run: post the rates to the engines and enter running. */
void rate_begin(runner_t *r, long users);
/* Worker: the master's open-model spawn message (runner_spawn_open):
 * counts per class (their sum is this worker's share of -u), the classes'
 * rates over the whole run, this worker's place. */
void rate_worker(runner_t *r, const long *counts, const double *rates, int windex, int nworkers,
                 const char *host);
/* A tick: follow cicada.arrival's function. Returns false when it ended
 * the test (returned nil or a bad rate). */
bool rate_step(runner_t *r);
/* The iterations per second asked of the engines now (0 when stopped). */
double rate_requested(const runner_t *r);
/* Stop the streams (a stop): nothing more is posted until rate_begin. */
void rate_end(runner_t *r);

#endif
