/* monitor: the targets and the scraping thread (contract in monitor.h).
 *
 * The thread runs rounds on a fixed beat: at each beat it copies the list
 * of active targets (under the lock), scrapes them all at once with the
 * interval as the timeout, then turns each answer into a point, appends
 * it (under the lock) and writes the CSV rows, and sleeps until the next
 * beat on an eventfd that monitor_stop writes. Targets live in a fixed
 * array, so the thread may keep pointers to them while the web UI adds
 * or deactivates targets; a target is never removed, only deactivated, so
 * its series stays for the reports. */
#include "monitor/monitor.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "http/url.h"
#include "monitor/monitor_int.h"

static monitor_t *current;

monitor_t *monitor_current(void)
{
    return current;
}

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- specs ---- */

static bool name_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!memchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:", s[i], 66))
            return false;
    return n > 0;
}

int monitor_spec(const char *text, monitor_spec_t *out, char *err, size_t n)
{
    memset(out, 0, sizeof *out);
    const char *u = text, *eq = strchr(text, '=');
    /* NAME=URL: what is before '=' holds no "/" (a URL's query may hold '=') */
    if (eq && memchr(text, '/', (size_t)(eq - text)) == NULL) {
        size_t nl = (size_t)(eq - text);
        if (!name_ok(text, nl) || nl >= sizeof out->name) {
            snprintf(err, n, "'%s': a target's name is 1 to %d letters, digits or ._-:", text,
                     MONITOR_NAME_MAX - 1);
            return -1;
        }
        memcpy(out->name, text, nl);
        u = eq + 1;
    }
    if (strncasecmp(u, "https://", 8) == 0) {
        snprintf(err, n, "'%s': https is not supported (node_exporter serves plain HTTP)", text);
        return -1;
    }
    int w = snprintf(out->url, sizeof out->url, "%s%s", strstr(u, "://") ? "" : "http://", u);
    url_t p;
    const char *why = "too long";
    if (w >= (int)sizeof out->url || url_parse(out->url, &p, &why) != 0 || p.host_len >= 256) {
        snprintf(err, n, "'%s': not an exporter URL (%s); e.g. http://10.0.0.5:9100/metrics", text,
                 why);
        return -1;
    }
    snprintf(out->host, sizeof out->host, "%.*s", (int)p.host_len, p.host);
    snprintf(out->port, sizeof out->port, "%d", p.port);
    bool bare = p.path_len == 1 && p.path[0] == '/' && out->url[strlen(out->url) - 1] != '/';
    if (bare) /* a URL without a path: node_exporter's */
        snprintf(out->path, sizeof out->path, "/metrics");
    else
        snprintf(out->path, sizeof out->path, "%.*s", (int)p.path_len, p.path);
    if (out->name[0] == '\0') { /* host:port, with any other byte as '_' (CSV-safe) */
        snprintf(out->name, sizeof out->name, "%.48s:%s", out->host, out->port);
        for (char *c = out->name; *c; c++)
            if (!name_ok(c, 1)) *c = '_';
    }
    return 0;
}

/* ---- targets ---- */

static struct target *find(monitor_t *m, const monitor_spec_t *sp)
{
    for (size_t i = 0; i < m->nt; i++)
        if (strcmp(m->t[i].name, sp->name) == 0 && strcmp(m->t[i].url, sp->url) == 0)
            return &m->t[i];
    return NULL;
}

static void add(monitor_t *m, const monitor_spec_t *sp)
{
    struct target *t = &m->t[m->nt++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", sp->name);
    snprintf(t->url, sizeof t->url, "%s", sp->url);
    snprintf(t->job.host, sizeof t->job.host, "%s", sp->host);
    snprintf(t->job.port, sizeof t->job.port, "%s", sp->port);
    snprintf(t->job.path, sizeof t->job.path, "%s", sp->path);
    t->job.fd = -1;
    t->active = true;
}

int monitor_set(monitor_t *m, const char *const *specs, size_t n, char *err, size_t errn)
{
    monitor_spec_t *sp = xcalloc(n ? n : 1, sizeof *sp);
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        if (monitor_spec(specs[i], &sp[i], err, errn) != 0) goto done;
    pthread_mutex_lock(&m->lock);
    size_t fresh = 0;
    for (size_t i = 0; i < n; i++)
        fresh += find(m, &sp[i]) == NULL;
    if (m->nt + fresh > MONITOR_MAX_TARGETS) {
        pthread_mutex_unlock(&m->lock);
        snprintf(err, errn, "at most %d monitored targets over a run", MONITOR_MAX_TARGETS);
        goto done;
    }
    for (size_t i = 0; i < m->nt; i++)
        m->t[i].active = false;
    for (size_t i = 0; i < n; i++) {
        struct target *t = find(m, &sp[i]);
        if (t)
            t->active = true;
        else
            add(m, &sp[i]);
    }
    pthread_mutex_unlock(&m->lock);
    rc = 0;
done:
    xfree(sp);
    return rc;
}

int monitor_set_text(monitor_t *m, const char *text, char *err, size_t errn)
{
    char *copy = xstrdup(text);
    const char *specs[MONITOR_MAX_TARGETS];
    size_t n = 0;
    int rc = -1;
    for (char *save = NULL, *w = strtok_r(copy, "\r\n\t ,", &save); w;
         w = strtok_r(NULL, "\r\n\t ,", &save)) {
        if (n == MONITOR_MAX_TARGETS) {
            snprintf(err, errn, "monitor: at most %d targets", MONITOR_MAX_TARGETS);
            goto done;
        }
        specs[n++] = w;
    }
    char why[512];
    rc = monitor_set(m, specs, n, why, sizeof why);
    if (rc != 0) snprintf(err, errn, "monitor: %s", why);
done:
    xfree(copy);
    return rc;
}

/* Create PREFIX_monitor.csv with its header. Returns 0, or -1 with err. */
static int open_csv(monitor_t *m, char *err, size_t errn)
{
    m->csv = fopen(m->csv_path, "w");
    if (m->csv == NULL) {
        snprintf(err, errn, "cannot write %s: %s", m->csv_path, strerror(errno));
        return -1;
    }
    fputs(series_csv_header, m->csv);
    fflush(m->csv);
    return 0;
}

/* ---- the thread ---- */

/* Turn t's scrape into a point (the thread's side), taken at mono time. */
static void take(monitor_t *m, struct target *t, double wall, double mono)
{
    monitor_point_t p = {.time = wall};
    char why[200] = "";
    bool ok = t->job.ok;
    if (ok && node_read(&t->cur, mono, t->job.body, t->job.body_len, why, sizeof why) != 0)
        ok = false;
    if (!ok && why[0] == '\0') snprintf(why, sizeof why, "%s", t->job.why);
    if (ok) {
        node_figures(t->have_prev ? &t->prev : NULL, &t->cur, &p.f);
        node_raw_t tmp = t->prev; /* the current reading becomes the previous one */
        t->prev = t->cur;
        t->cur = tmp;
        t->have_prev = true;
    } else {
        p.f = (node_fig_t){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    }
    pthread_mutex_lock(&m->lock);
    bool was_up = t->up || t->scrapes == 0;
    t->scrapes++;
    t->failed += !ok;
    t->up = ok;
    snprintf(t->error, sizeof t->error, "%s", ok ? "" : why);
    series_add(&t->s, &p);
    pthread_mutex_unlock(&m->lock);
    if (!ok && !t->warned) {
        log_warn("monitor: %s (%s): %s; its figures stay empty until it answers (this warning "
                 "is given once)",
                 t->name, t->url, why);
        t->warned = true;
    } else if (ok && !was_up)
        log_info("monitor: %s answers again", t->name);
    if (m->csv == NULL && m->csv_path && !m->csv_failed) {
        char err[512];
        if (open_csv(m, err, sizeof err) != 0) log_error("monitor: %s", err);
        m->csv_failed = m->csv == NULL;
    }
    if (m->csv) series_csv_row(m->csv, t, &p);
}

void monitor_workers_from(monitor_t *m, size_t (*fn)(void *ud, monitor_worker_t *out, size_t max),
                          void *ud)
{
    pthread_mutex_lock(&m->lock);
    m->workers_fn = fn;
    m->workers_ud = ud;
    pthread_mutex_unlock(&m->lock);
}

/* A master's workers' CPU and memory, beside the targets. */
static void take_workers(monitor_t *m, double wall)
{
    monitor_worker_t w[64];
    const char *ids[64];
    double cpu[64], rss[64];
    pthread_mutex_lock(&m->lock);
    size_t (*fn)(void *, monitor_worker_t *, size_t) = m->workers_fn;
    void *ud = m->workers_ud;
    pthread_mutex_unlock(&m->lock);
    size_t n = fn ? fn(ud, w, 64) : 0;
    if (n > 64) n = 64;
    for (size_t i = 0; i < n; i++) {
        ids[i] = w[i].id;
        cpu[i] = w[i].cpu;
        rss[i] = w[i].rss;
    }
    if (n) monitor_note_workers(m, wall, ids, cpu, rss, n);
}

static void *run(void *arg)
{
    monitor_t *m = arg;
    struct target *act[MONITOR_MAX_TARGETS];
    scrape_job_t *jobs[MONITOR_MAX_TARGETS];
    double beat = now_mono();
    while (!atomic_load(&m->quit)) {
        double wall = now_wall(), mono = now_mono();
        size_t n = 0;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->nt; i++)
            if (m->t[i].active) {
                act[n] = &m->t[i];
                jobs[n++] = &m->t[i].job;
            }
        pthread_mutex_unlock(&m->lock);
        if (n) scrape_round(jobs, n, m->interval, m->wake);
        if (atomic_load(&m->quit)) break;
        for (size_t i = 0; i < n; i++)
            take(m, act[i], wall, mono);
        take_workers(m, wall);
        if (m->csv) fflush(m->csv);
        beat += m->interval;
        double left = beat - now_mono();
        if (left < 0) beat = now_mono(); /* behind (a suspended process): no burst of rounds */
        struct pollfd pf = {.fd = m->wake, .events = POLLIN};
        if (left > 0) poll(&pf, 1, (int)(left * 1000));
    }
    return NULL;
}

monitor_t *monitor_start(const char *const *specs, size_t n, double interval,
                         const char *csv_prefix, char *err, size_t errn)
{
    monitor_t *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->interval = interval;
    m->wake = -1;
    if (monitor_set(m, specs, n, err, errn) != 0) goto error;
    if (csv_prefix) { /* created with the first row: a UI run with no target writes none */
        size_t len = strlen(csv_prefix) + sizeof "_monitor.csv";
        m->csv_path = xmalloc(len);
        snprintf(m->csv_path, len, "%s_monitor.csv", csv_prefix);
        if (n > 0 && open_csv(m, err, errn) != 0) goto error;
    }
    m->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m->wake < 0 || pthread_create(&m->thread, NULL, run, m) != 0) {
        snprintf(err, errn, "cannot start the monitor's thread: %s", strerror(errno));
        goto error;
    }
    m->started = true;
    current = m;
    return m;
error:
    monitor_free(m);
    return NULL;
}

void monitor_stop(monitor_t *m)
{
    if (m == NULL) return;
    if (m->started) {
        atomic_store(&m->quit, true);
        uint64_t one = 1;
        if (write(m->wake, &one, sizeof one) < 0) log_debug("monitor: wake: %s", strerror(errno));
        pthread_join(m->thread, NULL);
        m->started = false;
    }
    if (m->csv) fclose(m->csv);
    m->csv = NULL;
}

void monitor_free(monitor_t *m)
{
    if (m == NULL) return;
    monitor_stop(m);
    if (current == m) current = NULL;
    for (size_t i = 0; i < m->nt; i++) {
        scrape_job_free(&m->t[i].job);
        node_free(&m->t[i].prev);
        node_free(&m->t[i].cur);
        xfree(m->t[i].s.pts);
    }
    for (size_t i = 0; i < m->nw; i++)
        xfree(m->w[i].s.pts);
    xfree(m->w);
    if (m->wake >= 0) close(m->wake);
    xfree(m->csv_path);
    pthread_mutex_destroy(&m->lock);
    xfree(m);
}
