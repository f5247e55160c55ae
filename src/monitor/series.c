/* series: the monitor's recorded points and what is made of them: the
 * JSON document (/stats/monitor, the push, the reports), the CSV rows of
 * PREFIX_monitor.csv and the console summary.
 *
 * A point is one interval of one target; a failed scrape is a point whose
 * figures are all NaN, written as empty CSV cells and JSON nulls, so that
 * every consumer sees the gap where it happened. Percentages and the load
 * are rounded to 2 decimals, byte rates to whole bytes. Readers take the
 * monitor's lock; the CSV rows are written by the monitor's thread. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "monitor/monitor_int.h"

const char series_csv_header[] = "Timestamp,Target,CPU %,Busiest core %,Load 1m,Memory used %,"
                                 "Net rx B/s,Net tx B/s,Disk read B/s,Disk write B/s\n";

static const char *const fields[] = {"time",       "cpu",    "busiest_core", "load1",
                                     "memory",     "net_rx", "net_tx",       "disk_read",
                                     "disk_write", "fds",    "tcp"};

void series_add(series_t *s, const monitor_point_t *p)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->pts = xrealloc(s->pts, s->cap * sizeof *s->pts);
    }
    s->pts[s->n++] = *p;
}

/* x rounded to `decimals` places; NaN stays NaN. */
static double rounded(double x, int decimals)
{
    double k = decimals == 2 ? 100 : 1;
    return isnan(x) ? x : round(x * k) / k;
}

static void cell(FILE *f, double x, int decimals)
{
    if (isnan(x))
        fputc(',', f);
    else
        fprintf(f, ",%.*f", decimals, rounded(x, decimals));
}

void series_csv_row(FILE *f, const struct target *t, const monitor_point_t *p)
{
    fprintf(f, "%.0f,", floor(p->time));
    /* a name is letters, digits and ._-: (monitor_spec): no quoting needed */
    fputs(t->name, f);
    cell(f, p->f.cpu, 2);
    cell(f, p->f.busiest, 2);
    cell(f, p->f.load1, 2);
    cell(f, p->f.mem, 2);
    cell(f, p->f.rx, 0);
    cell(f, p->f.tx, 0);
    cell(f, p->f.rd, 0);
    cell(f, p->f.wr, 0);
    fputc('\n', f);
}

static cJSON *num(double x, int decimals)
{
    return isfinite(x) ? cJSON_CreateNumber(rounded(x, decimals)) : cJSON_CreateNull();
}

static cJSON *point(const monitor_point_t *p)
{
    const node_fig_t *f = &p->f;
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber(round(p->time * 1000) / 1000));
    double v[] = {f->cpu, f->busiest, f->load1, f->mem, f->rx, f->tx, f->rd, f->wr, f->fds, f->tcp};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        cJSON_AddItemToArray(a, num(v[i], i < 4 ? 2 : 0));
    return a;
}

static cJSON *points(const series_t *s, bool last_only)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = last_only && s->n ? s->n - 1 : 0; i < s->n; i++)
        cJSON_AddItemToArray(a, point(&s->pts[i]));
    return a;
}

static cJSON *worker_points(const series_t *s, bool last_only)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = last_only && s->n ? s->n - 1 : 0; i < s->n; i++) {
        cJSON *p = cJSON_CreateArray();
        cJSON_AddItemToArray(p, cJSON_CreateNumber(round(s->pts[i].time * 1000) / 1000));
        cJSON_AddItemToArray(p, num(s->pts[i].f.cpu, 2));
        cJSON_AddItemToArray(p, num(s->pts[i].f.mem, 0));
        cJSON_AddItemToArray(a, p);
    }
    return a;
}

cJSON *monitor_json(monitor_t *m, bool last_only)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "fields",
                          cJSON_CreateStringArray(fields, (int)(sizeof fields / sizeof *fields)));
    cJSON *ts = cJSON_AddArrayToObject(j, "targets");
    cJSON *ws = cJSON_AddArrayToObject(j, "workers");
    if (m == NULL) {
        cJSON_AddNullToObject(j, "interval");
        return j;
    }
    cJSON_AddNumberToObject(j, "interval", m->interval);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nt; i++) {
        const struct target *t = &m->t[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "url", t->url);
        cJSON_AddBoolToObject(o, "active", t->active);
        cJSON_AddBoolToObject(o, "up", t->up);
        if (t->error[0])
            cJSON_AddStringToObject(o, "error", t->error);
        else
            cJSON_AddNullToObject(o, "error");
        cJSON_AddNumberToObject(o, "scrapes", (double)t->scrapes);
        cJSON_AddNumberToObject(o, "failed", (double)t->failed);
        cJSON_AddItemToObject(o, "points", points(&t->s, last_only));
        cJSON_AddItemToArray(ts, o);
    }
    for (size_t i = 0; i < m->nw; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", m->w[i].id);
        cJSON_AddItemToObject(o, "points", worker_points(&m->w[i].s, last_only));
        cJSON_AddItemToArray(ws, o);
    }
    pthread_mutex_unlock(&m->lock);
    return j;
}

void monitor_note_workers(monitor_t *m, double time, const char *const *ids, const double *cpu,
                          const double *rss, size_t n)
{
    if (m == NULL) return;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < m->nw && strcmp(m->w[k].id, ids[i]) != 0)
            k++;
        if (k == m->nw) {
            if (m->nw == MONITOR_MAX_WORKERS) continue;
            m->w = xrealloc(m->w, (m->nw + 1) * sizeof *m->w);
            memset(&m->w[k], 0, sizeof m->w[k]);
            snprintf(m->w[k].id, sizeof m->w[k].id, "%s", ids[i]);
            m->nw++;
        }
        monitor_point_t p = {.time = time};
        p.f = (node_fig_t){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
        p.f.cpu = cpu[i];
        p.f.mem = rss[i];
        series_add(&m->w[k].s, &p);
    }
    pthread_mutex_unlock(&m->lock);
}

void monitor_summary(monitor_t *m, FILE *out)
{
    if (m == NULL || m->nt == 0) return;
    fprintf(out, "Target resources (node_exporter, every %g s):\n", m->interval);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nt; i++) {
        const struct target *t = &m->t[i];
        double sum = 0, cmax = NAN, mmax = NAN;
        size_t nc = 0;
        for (size_t k = 0; k < t->s.n; k++) {
            const node_fig_t *f = &t->s.pts[k].f;
            if (!isnan(f->cpu)) {
                sum += f->cpu;
                nc++;
                cmax = isnan(cmax) || f->cpu > cmax ? f->cpu : cmax;
            }
            if (!isnan(f->mem)) mmax = isnan(mmax) || f->mem > mmax ? f->mem : mmax;
        }
        char avg[32] = "-", mx[32] = "-", mem[32] = "-";
        if (nc) snprintf(avg, sizeof avg, "%.1f %%", sum / (double)nc);
        if (nc) snprintf(mx, sizeof mx, "%.1f %%", cmax);
        if (!isnan(mmax)) snprintf(mem, sizeof mem, "%.1f %%", mmax);
        fprintf(out, "  %-24s CPU avg %-9s max %-9s memory max %-9s (%ld scrapes, %ld failed)\n",
                t->name, avg, mx, mem, t->scrapes, t->failed);
    }
    pthread_mutex_unlock(&m->lock);
}
