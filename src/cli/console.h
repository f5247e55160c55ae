/* console: Locust 2.12.1's console tables, line for line.
 *
 * Three tables (research/locust-stats.md, section 5): the request stats
 * (printed every 2 s with current req/s, and once at the end with total
 * req/s), "Response time percentiles (approximated)" and "Error report".
 * Each function hands its lines, without newline, to a callback, so the
 * caller can send them to a log or a FILE (console_to_file). Like Locust's
 * print_* functions, each table ends with an empty line. Widths follow
 * Locust's STATS_NAME_WIDTH, which the caller passes (console_name_width). */
#ifndef CICADA_CONSOLE_H
#define CICADA_CONSOLE_H

#include <stdbool.h>
#include <stdio.h>

#include "stats/stats.h"

/* Receives one line (NUL-terminated, no newline); the line is only valid
 * during the call. */
typedef void (*console_line_fn)(void *ud, const char *line);

/* A console_line_fn writing the line and "\n" to the FILE * ud. */
void console_to_file(void *ud, const char *line);

/* Locust's STATS_NAME_WIDTH for output on fd: 80 if fd is not a terminal,
 * else max(min(columns - 80, 80), 0). Call again after SIGWINCH. */
int console_name_width(int fd);

/* The stats table: rows sorted by (name, method), a separator, Aggregated,
 * then an empty line. current selects current req/s and failures/s (the
 * periodic table) or total ones (the final table). */
void console_stats(stats_t *st, int name_width, bool current, console_line_fn fn, void *ud);

/* "Response time percentiles (approximated)": the rows with timed
 * requests, a separator, Aggregated (if it has timed requests), an empty
 * line. */
void console_percentiles(stats_t *st, int name_width, console_line_fn fn, void *ud);

/* "Error report", only if there are failures (nothing otherwise). */
void console_errors(stats_t *st, int name_width, console_line_fn fn, void *ud);

#endif
