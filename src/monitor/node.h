/* node: a target's figures from two node_exporter scrapes.
 *
 * node_read() parses one /metrics answer (monitor/prom.h) into the raw
 * counters and gauges cicada uses, summed the way the figures need them;
 * node_figures() turns the previous and the current raw reading into the
 * figures shown: rates from counter deltas over the time between the two
 * scrapes, gauges as read. What each figure is, in the words an operator
 * reads, is in docs/monitoring.md. A figure the exporter does not give,
 * or a counter that went backwards (the exporter or the machine
 * restarted), is NaN: shown as an empty cell, never as a wrong number. */
#ifndef CICADA_NODE_H
#define CICADA_NODE_H

#include <stddef.h>

#define NODE_MAX_CPUS 4096 /* cpu labels above this are ignored */

/* One scrape's readings. The per-core arrays belong to the node_raw_t
 * (grown by node_read, freed by node_free); copy one with node_copy. */
typedef struct node_raw {
    double time;   /* seconds (any clock; only differences are used) */
    unsigned seen; /* which families were present (NODE_* bits in node.c) */
    size_t ncpu;   /* 1 + the highest cpu label seen */
    size_t cap;
    double *busy, *total; /* per core: non-idle (all modes but idle, iowait) and all seconds */
    double load1, mem_total, mem_avail;
    double rx, tx, lo_rx, lo_tx; /* bytes received/sent: all but lo, and lo */
    double rd, wr;               /* disk bytes read/written, all devices */
    double fds, tcp;             /* node_filefd_allocated, node_netstat_Tcp_CurrEstab */
} node_raw_t;

/* The figures of one interval; NaN where unknown. */
typedef struct node_fig {
    double cpu;     /* busy % over all cores */
    double busiest; /* busy % of the busiest core */
    double load1;
    double mem;    /* used %: (MemTotal - MemAvailable) / MemTotal */
    double rx, tx; /* network bytes/s */
    double rd, wr; /* disk bytes/s */
    double fds, tcp;
} node_fig_t;

/* Parse body (len bytes) into *r, taken at time t. Returns 0, or -1 with
 * the reason in err (n bytes): the text is not the Prometheus format
 * ("line 3: expected a value"), or holds none of node_exporter's figures. */
int node_read(node_raw_t *r, double t, const char *body, size_t len, char *err, size_t n);

/* The figures between prev (NULL: none yet; rates are then NaN) and cur. */
void node_figures(const node_raw_t *prev, const node_raw_t *cur, node_fig_t *out);

/* Copy src into *dst (whose arrays are reused or grown). */
void node_copy(node_raw_t *dst, const node_raw_t *src);

/* Free the arrays; *r may then be reused. */
void node_free(node_raw_t *r);

#endif
