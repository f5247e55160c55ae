/* exclog: Lua errors shown in the console and the log file (--logfile),
 * as Locust logs a task's traceback, but without flooding either.
 *
 * Engines never print an exception: they count it in their stats shard.
 * The runner's thread looks at the merged exceptions after each merge
 * (exclog_scan, about once a second). An error seen for the first time is
 * logged once in full: an ERROR line with the message, then the traceback
 * and an empty line, like Locust's "locust.user.task" logger. Later
 * occurrences are only counted and summed into one line per error at most
 * every EXCLOG_EVERY_S seconds and at the end of the run ("<message>
 * (N more times, T in total)"). At most EXCLOG_MAX_FULL distinct errors are
 * printed in full in a run; the ones past that are counted together. */
#ifndef CICADA_EXCLOG_H
#define CICADA_EXCLOG_H

#include <stdint.h>

#include "stats/stats.h"

#define EXCLOG_MAX_FULL 100 /* distinct errors printed in full per run */
#define EXCLOG_MAX_NEW 10   /* ... per scan; the rest wait for the next one */
#define EXCLOG_EVERY_S 10   /* seconds between two count lines of an error */

typedef struct exclog_err {
    uint64_t hash;     /* of the traceback, which starts with the message */
    char *message;     /* its first line, for the count lines; owned */
    uint64_t total;    /* occurrences seen */
    uint64_t reported; /* ... of which printed or counted in a line */
} exclog_err_t;

typedef struct exclog {
    exclog_err_t errs[EXCLOG_MAX_FULL];
    int n;
    uint64_t other_total, other_reported; /* errors past EXCLOG_MAX_FULL */
    int64_t next_counts;                  /* monotonic ns of the next count lines */
} exclog_t;

/* Look at st's exceptions (caller holds the lock that guards st): log new
 * errors in full, count the others, and print the count lines when they
 * are due. now is monotonic ns. Marks what it saw in each exception's
 * `logged` field. x starts zeroed. */
void exclog_scan(exclog_t *x, stats_t *st, int64_t now);
/* The end of the run: scan st with no limit per scan, then print every
 * count not printed yet. */
void exclog_flush(exclog_t *x, stats_t *st);
/* Free what x holds; it can be used again (zeroed). */
void exclog_free(exclog_t *x);

#endif
