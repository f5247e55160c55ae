/* csv: Locust 2.12.1's four CSV files, byte for byte.
 *
 * Rows follow Python's csv module defaults: "," between fields, "\r\n"
 * after each row, and minimal quoting (a field is quoted only if it holds
 * a comma, a double quote, CR or LF; quotes inside are doubled). Numbers
 * are written as Python's str() writes them: ints plainly, floats in the
 * shortest form that reads back to the same double, with ".0" when
 * integral ("41.0", "3.7042793336419124", "1e-05"). Which value is an int
 * and which a float follows Locust (research/locust-stats.md, section 6).
 *
 * The writers only write: opening, rewinding and truncating the files
 * (_stats, _failures and _exceptions are rewritten every second, history is
 * appended to) is the caller's job. They take stats_t non-const because
 * its sorted views are built lazily. */
#ifndef CICADA_CSV_H
#define CICADA_CSV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "stats/stats.h"

/* Write s (NULL = empty) as one field, quoted if it needs to be. */
void csv_field(FILE *f, const char *s);

/* Format x like Python's repr(float)/str(float) into buf (32 bytes are
 * always enough); returns buf. */
char *csv_pyfloat(char *buf, size_t size, double x);

/* PREFIX_stats.csv, whole: the header, one row per entry sorted by
 * (name, method), then Aggregated. Requests/s are the total rates. */
void csv_write_stats(FILE *f, stats_t *st);

/* PREFIX_stats_history.csv: the header row, written once at start-up. */
void csv_write_history_header(FILE *f);
/* Append one batch at now_unix: without full_history only the Aggregated
 * row with cumulative percentiles; with it, a row per entry and then
 * Aggregated, all with the percentiles of the last ~10 s. */
void csv_write_history(FILE *f, stats_t *st, int64_t now_unix, long user_count, bool full_history);

/* PREFIX_open_model.csv (cicada's own, only in the open model: Locust's
 * files keep their headers): the header, then one row appended per second
 * with the users, the requested iterations per second and the late and
 * dropped iterations so far (docs/cli.md, "The open model"). */
void csv_write_open_header(FILE *f);
void csv_write_open(FILE *f, stats_t *st, int64_t now_unix, long user_count, double rate);

/* PREFIX_failures.csv, whole: Method,Name,Error,Occurrences. */
void csv_write_failures(FILE *f, stats_t *st);
/* PREFIX_exceptions.csv, whole: Count,Message,Traceback,Nodes. */
void csv_write_exceptions(FILE *f, stats_t *st);

#endif
