/* rules: the run's thresholds (stats/threshold.h), loaded, evaluated each
 * second and at the end, and printed (see rules.c). Internal to
 * src/runner: everything runs on the runner's thread; the rules and their
 * live state are r->thr (r->nthr of them), read by others under r->lock. */
#ifndef CICADA_RULES_H
#define CICADA_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "runner/runner.h"

struct lua_State;

/* Take the --threshold rules and the scenario's (cicada.thresholds, read
 * from L, the VM the scenario was loaded into; L is left as it was found).
 * A worker takes none. Returns 0, or -1 after printing the bad rule. */
int rules_load(runner_t *r, struct lua_State *L);

/* Once a second, after the statistics were merged (now: monotonic ns):
 * evaluate every rule under the lock, log verdicts that change while a
 * test runs. Returns true when a rule with abort set fails while a test
 * runs, its grace after the test's start: the caller ends the run. */
bool rules_tick(runner_t *r, int64_t now);

/* Evaluate every rule over the final statistics. Returns true if all pass
 * (and when there is none). */
bool rules_final(runner_t *r);
/* Did a rule fail at its latest evaluation? Call on the runner's thread. */
bool rules_failed(runner_t *r);

/* Print "Thresholds", each rule with its verdict and value, and the count
 * of failed ones to f (nothing when there is no rule). Takes the lock. */
void rules_print(runner_t *r, FILE *f);

/* Free the rules. */
void rules_free(runner_t *r);

#endif
