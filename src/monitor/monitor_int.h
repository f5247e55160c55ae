/* monitor_int: the monitor's private state, shared by monitor.c (targets,
 * the thread) and series.c (the recorded points, their JSON, CSV rows and
 * summary). Internal to src/monitor. */
#ifndef CICADA_MONITOR_INT_H
#define CICADA_MONITOR_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "monitor/monitor.h"
#include "monitor/scrape.h"

#define MONITOR_MAX_WORKERS 256

typedef struct monitor_point {
    double time; /* unix seconds: the start of the interval */
    node_fig_t f;
} monitor_point_t;

/* A series of points, grown by doubling; guarded by the monitor's lock. */
typedef struct series {
    monitor_point_t *pts;
    size_t n, cap;
} series_t;

struct target {
    char name[MONITOR_NAME_MAX], url[MONITOR_URL_MAX];
    bool active;          /* scraped (guarded by lock) */
    bool up;              /* the last scrape worked (lock) */
    char error[200];      /* why the last one failed (lock) */
    long scrapes, failed; /* (lock) */
    series_t s;           /* (lock) */
    /* the thread's own */
    scrape_job_t job;
    node_raw_t prev, cur;
    bool have_prev, warned;
};

struct worker_series {
    char id[128];
    series_t s; /* f.cpu: % of one core; f.mem: RSS bytes */
};

struct monitor {
    pthread_mutex_t lock;
    struct target t[MONITOR_MAX_TARGETS]; /* never moves: the thread keeps pointers */
    size_t nt;
    struct worker_series *w;
    size_t nw;
    double interval;
    FILE *csv;       /* the thread's; opened with the first row */
    char *csv_path;  /* NULL without --csv */
    bool csv_failed; /* could not be created: said once */
    size_t (*workers_fn)(void *, monitor_worker_t *, size_t); /* (lock) */
    void *workers_ud;
    pthread_t thread;
    bool started;
    int wake; /* eventfd: written once to stop */
    atomic_bool quit;
};

/* Append p to s. */
void series_add(series_t *s, const monitor_point_t *p);
/* Write one CSV row of t's point p. */
void series_csv_row(FILE *f, const struct target *t, const monitor_point_t *p);
/* The CSV header line, with its newline. */
extern const char series_csv_header[];

#endif
