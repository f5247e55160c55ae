/* limits: the numeric ranges cicada accepts, in one place.
 *
 * Every number a user gives cicada (a flag, a field of the web UI's
 * /swarm form, a load shape's answer, a sleep or a request timeout in a
 * scenario) has a stated range, so that no value can overflow the integer
 * nanoseconds the loop and the runner count in, or ask for more users than
 * any machine holds. The command line and the web UI refuse values out of
 * range with a message naming the flag or field; inside a scenario, sleeps
 * and timeouts longer than LIMIT_SECONDS are shortened to it (a year is
 * "forever" for a load test) and nonsense (NaN, a negative timeout) is a
 * Lua error naming the call. docs/cli.md "Numeric ranges" states them for
 * users: change both together. Header only. */
#ifndef CICADA_LIMITS_H
#define CICADA_LIMITS_H

/* The longest duration anywhere: -t, -s, --autoquit, sleeps, timeouts
 * (365 days, in seconds). */
#define LIMIT_SECONDS (365.0 * 24 * 3600)
/* Users in one run (-u, /swarm user_count, a load shape), whatever the memory. */
#define LIMIT_USERS 100000000L
/* Users started per second (-r, /swarm spawn_rate, a load shape). */
#define LIMIT_SPAWN_RATE 1e6
/* Characters in a host (-H, /swarm host): the runner keeps it in 1024 bytes. */
#define LIMIT_HOST 1023
/* Memory of one user at the least (an idle user: its coroutine and state),
 * and typically (with a keep-alive connection and its buffers), as measured
 * with 200,000 sleeping and 20,000 HTTP users. A count whose least need is
 * above the memory available is refused; above the typical need, warned. */
#define LIMIT_USER_BYTES_MIN 2048L
#define LIMIT_USER_BYTES_TYPICAL 8192L
/* User classes in one scenario, and tasks in one class: the scenario's
 * loader (lua/vm.c) takes the first LIMIT_CLASSES and LIMIT_TASKS and
 * every array indexed by a class or task (engine, runner, web UI, master
 * and worker) is this long. */
#define LIMIT_CLASSES 64
#define LIMIT_TASKS 64

#endif
