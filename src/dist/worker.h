/* worker: a cicada worker under a master (cicada's or Locust's), speaking
 * Locust 2.12.1's protocol over a ZeroMQ DEALER.
 *
 * A dedicated thread owns the socket (never an engine thread). It sends
 * client_ready with version "2.12.1" until acked (every 5 s, 60 times, as
 * Locust), then heartbeats every second and statistics every 3 s as deltas
 * (the runner's stats are reset after each report), and exceptions as they
 * are merged. A spawn message is answered with `spawning` at once, stale
 * ones (timestamp not newer than the last) are dropped, and the absolute
 * per-class counts go to the runner, which starts or stops the difference
 * at once; the runner's hooks bring back `spawning_complete` and, after a
 * stop, `client_stopped` + `client_ready`. `quit` ends the runner; the
 * final report and `quit` go out in worker_finish(), after every engine
 * has handed over its last statistics.
 *
 * The master is considered gone when the connection (seen through
 * zmq_socket_monitor) has been down for 10 s after the ack: Locust 2.12
 * masters send nothing periodic, so silence in the protocol proves
 * nothing; instead the socket sends ZMTP pings every second, which any
 * libzmq peer answers below the application, and drops the connection
 * after 5 s without an answer, so a master whose host vanished without a
 * TCP FIN is noticed too. The worker then stops its users and exits
 * non-zero. Malformed or unknown messages are logged and dropped.
 *
 * Custom messages (lua/msg.h): one whose name the scenario registered goes
 * to every engine (runner_message), whose VM runs the handler; what the
 * engines send with cicada.send_message waits in a bounded queue
 * (dist/custom.h) that the link thread empties each turn once acked. */
#ifndef CICADA_WORKER_H
#define CICADA_WORKER_H

#include <stddef.h>

#include "cli/opts.h"
#include "runner/runner.h"

typedef struct worker worker_t;

/* Connect to o->master_host:o->master_port and start the link thread;
 * installs the runner's remote hooks. Returns NULL with a message in err
 * (size n) if ZeroMQ cannot be set up. r must outlive the worker. */
worker_t *worker_start(runner_t *r, const opts_t *o, char *err, size_t n);

/* Call after runner_run returned: send the last statistics and `quit`,
 * end the thread and free w. Returns the process exit code: 0, 1 if the
 * master was lost, 255 if it never answered (Locust's -1). */
int worker_finish(worker_t *w);

#endif
