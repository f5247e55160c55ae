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
 * The writer only writes to f; opening and closing it is the caller's. It
 * reads the run from a report_run_t (run.h) and takes Chart.js from the
 * caller (the web UI's embedded asset), so report/ needs neither the
 * runner nor the web server. */
#ifndef CICADA_REPORT_HTML_H
#define CICADA_REPORT_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "report/run.h"

/* How the page is made, beside the run it shows. */
typedef struct html_page {
    const unsigned char *chartjs; /* Chart.js, inlined; NULL: no charts script */
    size_t chartjs_len;
    bool download_link; /* link to "?download=1" (the web route's own download), as
                           Locust's report does when served rather than downloaded */
} html_page_t;

/* Write the report of run (read only; its pointers valid for the call). */
void html_report(FILE *f, const report_run_t *run, const html_page_t *page);

#endif
