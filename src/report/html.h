/* html: the self-contained HTML test report (--html FILE, /stats/report).
 *
 * One file with everything inline, so it opens with no network and no
 * cicada: the CSS, Chart.js (the embedded asset "/chart.min.js") and the
 * data as JSON. Like Locust 2.12.1's report (research/locust-stats.md,
 * section 7): a header with the run period (UTC), target host and script;
 * Request Statistics; Response Time Statistics (50/60/70/80/90/95/99/100
 * %ile, Locust's report set); Failures; Exceptions; the three charts over
 * the whole run (requests/s and failures/s, median and 95th percentile
 * response time, users) drawn from the per-second history; and the final
 * task ratio per class and in total. Every user-provided string (names,
 * errors, tracebacks, host, script path) is HTML-escaped, and JSON inside
 * <script> has every '<' written as \u003c so no text can close the tag.
 *
 * The writers only write to f; opening and closing it is the caller's. */
#ifndef CICADA_REPORT_HTML_H
#define CICADA_REPORT_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "runner/runner.h"
#include "stats/stats.h"

/* Write the report of r's run. The caller holds runner_lock(r). With
 * download_link, the page links to "?download=1" (the web route's own
 * download), as Locust's does when served rather than downloaded. */
void html_report(FILE *f, runner_t *r, bool download_link);

/* What a report is made of, for callers (and tests) without a runner. */
typedef struct html_info {
    stats_t *st;                /* read; non-const because its sorted views are built lazily */
    const char *host;           /* target host, "" or NULL if none */
    const char *script;         /* the scenario path */
    const runner_point_t *hist; /* per-second history, oldest first */
    size_t nhist;
    const runner_class_t *cls; /* user classes, for the final ratio */
    size_t ncls;
    bool download_link;
} html_info_t;

void html_report_of(FILE *f, const html_info_t *in);

#endif
