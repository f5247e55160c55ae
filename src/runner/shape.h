/* shape: the load shape of a scenario (see shape.c). Internal to
 * src/runner: every function runs on the runner's thread. */
#ifndef CICADA_SHAPE_H
#define CICADA_SHAPE_H

#include <stdbool.h>

#include "runner/runner.h"

struct lua_State;

/* Keep L, the VM the scenario was loaded into, if the scenario defines a
 * load shape (r->shape_L, which the runner frees); otherwise free it.
 * Either way L belongs to the runner afterwards. Returns -1 after printing
 * the reason if -u, -r or -t were given with a shape, 0 otherwise. */
int shape_adopt(runner_t *r, struct lua_State *L);

/* Start following the shape from run time 0. */
void shape_begin(runner_t *r);

/* One tick of the shape: ask it for (users, rate[, classes]) at the
 * current run time and start a swarm toward any change. A Lua error is
 * logged and the tick skipped. Returns false when the shape has ended. */
bool shape_step(runner_t *r);

#endif
