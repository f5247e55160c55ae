/* master: a cicada master driving workers (cicada's or Locust's) over a
 * ZeroMQ ROUTER, with Locust 2.12.1's protocol.
 *
 * A dedicated thread owns the socket. It acks every client_ready (any
 * version, including Debian Locust's ""), keeps each worker's state, user
 * counts, CPU and memory from its heartbeats and reports, and merges every
 * `stats` report into the runner's statistics (under the runner lock) and
 * every `exception` into its exceptions with the worker's id as node.
 *
 * The runner's swarm/stop/quit reach it through hooks (runner_remote_t).
 * A swarm is dispatched as Locust does (dist/dispatch.h): the ramp moves
 * max(1, floor(rate)) users every that/rate seconds, and each step sends
 * every worker its absolute per-class counts. A worker that has not sent a
 * heartbeat for 3.5 s is marked missing (so within 5 s of its death), its
 * users are dealt again to the others at once, and it is dropped after
 * 60 s; one that heartbeats again self-heals and gets users back; joining
 * workers get users at once too. Undecodable frames are answered with
 * `reconnect`, unknown types logged and dropped. On quit every worker gets
 * `quit`, and the master waits up to 2 s for their final reports (each
 * worker sends its last `stats` before its `quit`).
 *
 * The scenario also runs in a VM of the master's own (master_custom.c):
 * handlers of custom messages from workers, and the test_start,
 * spawning_complete and test_stop listeners, run there on the thread. */
#ifndef CICADA_MASTER_H
#define CICADA_MASTER_H

#include <stddef.h>

#include "cli/opts.h"
#include "runner/runner.h"

typedef struct master master_t;

/* Bind o->master_bind_host:o->master_bind_port, start the thread and
 * install the runner's remote hooks (r must come from runner_new with
 * o->master set). Returns NULL with a message in err (size n). */
master_t *master_start(runner_t *r, const opts_t *o, char *err, size_t n);

/* End the thread and close the socket; call after runner_run and after the
 * web UI has stopped (its pages read the workers through the hooks). */
void master_free(master_t *m);

#endif
