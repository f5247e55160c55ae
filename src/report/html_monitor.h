/* html_monitor: the "Target resources" part of the HTML report (--html,
 * /stats/report): the monitored targets' CPU %, memory % and network/disk
 * bytes/s over the run (monitor/monitor.h), drawn offline by Chart.js like
 * the request charts and on the same time span, plus a master's workers'
 * CPU. Writes nothing when no target was monitored and no worker seen. */
#ifndef CICADA_HTML_MONITOR_H
#define CICADA_HTML_MONITOR_H

#include <stdio.h>

#include "monitor/monitor.h"

/* The section's heading, summary table and chart boxes (m may be NULL). */
void html_monitor_section(FILE *f, monitor_t *m);

/* Inside the report's <script>, after Chart.js: the series as JSON
 * (window.cicadaMonitor, every '<' escaped) and the code that draws them. */
void html_monitor_script(FILE *f, monitor_t *m);

#endif
