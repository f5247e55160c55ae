/* log: leveled logging in Locust's line format.
 *
 * Lines look like Locust's: "[2026-11-26 10:00:00,123] host/INFO/cicada.main: msg".
 * Output goes to stderr, or to --logfile. Thread-safe (one lock per line;
 * never called on the hot path). The console stats tables are not log
 * lines: the runner prints them to stdout (cli/console.c), like Locust's
 * stats_logger.
 *
 * The last LOG_RING lines logged (at or above the level) are also kept in
 * memory, each numbered, for the web UI's Logs tab: a fixed ring, so
 * logging allocates nothing and old lines are overwritten. */
#ifndef CICADA_LOG_H
#define CICADA_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_CRITICAL };

/* Parse "DEBUG"/"info"/... into *level. Returns 0, or -1 if unknown. */
int log_parse_level(const char *s, enum log_level *level);
void log_set_level(enum log_level level);
/* Send log lines to path (appending). Returns 0, or -1 with errno set. */
int log_set_file(const char *path);

void log_msg(enum log_level level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_RING 500     /* lines kept for the web UI */
#define LOG_LINE_MAX 400 /* bytes kept of each line, with its prefix */

typedef struct log_line {
    unsigned long seq;       /* 1 for the first line logged, then +1 per line */
    double time;             /* unix seconds */
    char text[LOG_LINE_MAX]; /* the whole line as printed, without '\n' (may be cut) */
} log_line_t;

/* Copy into out (max entries, oldest first) the newest kept lines whose
 * seq is above after and whose time is at or after since (0: any).
 * Returns how many were copied. Thread-safe. */
size_t log_recent(log_line_t *out, size_t max, unsigned long after, double since);

#define log_debug(...) log_msg(LOG_DEBUG, "cicada", __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, "cicada", __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, "cicada", __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, "cicada", __VA_ARGS__)

#endif
