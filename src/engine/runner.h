/* runner: the main thread's side of a load test.
 *
 * It owns the engines and the merged statistics and runs Locust's state
 * machine: ready → spawning → running → stopping → stopped. Spawning walks
 * a weighted round-robin over the user classes (fixed_count classes first),
 * so that the class mix is right at every moment of a ramp, and deals users
 * to engines in turn. Once a second it collects the engines' stats shards;
 * every two seconds it prints Locust's console table; it rewrites the CSV
 * files every second and at the end. Stopping asks every user to stop, waits
 * for them until the stop deadline, then forces the rest (their requests in
 * flight count as failures), and always writes the final statistics. */
#ifndef CICADA_RUNNER_H
#define CICADA_RUNNER_H

#include "cli/opts.h"

/* Run a headless test as the options say. Returns the process exit code
 * (0, --exit-code-on-error when anything failed, 1 on a set-up error). */
int runner_headless(const opts_t *o);

/* Print the user classes of the scenario (-l). Returns an exit code. */
int runner_list(const opts_t *o);

#endif
