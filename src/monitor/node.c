/* node: node_exporter's families, read and turned into figures.
 *
 * node_read() resets the counters and walks the samples once (prom_parse's
 * callback), adding each known family into its field: per-core CPU seconds
 * split into busy and total, network bytes split into lo and the rest,
 * disk bytes summed over devices. node_figures() then works on deltas:
 * CPU % is busy delta over total delta (so it needs no clock and no core
 * count), rates are byte deltas over the time between the scrapes. The
 * loopback rule: lo is left out, unless no other interface moved a byte
 * while lo did (a target measured over 127.0.0.1). */
#include "monitor/node.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "monitor/prom.h"

enum {
    NODE_CPU = 1,
    NODE_LOAD = 2,
    NODE_MEMT = 4,
    NODE_MEMA = 8,
    NODE_NET = 16,
    NODE_DISK = 32,
    NODE_FDS = 64,
    NODE_TCP = 128
};

static void grow(node_raw_t *r, size_t need)
{
    if (need <= r->cap) return;
    size_t cap = r->cap ? r->cap : 8;
    while (cap < need)
        cap *= 2;
    r->busy = xrealloc(r->busy, cap * sizeof *r->busy);
    r->total = xrealloc(r->total, cap * sizeof *r->total);
    memset(r->busy + r->cap, 0, (cap - r->cap) * sizeof *r->busy);
    memset(r->total + r->cap, 0, (cap - r->cap) * sizeof *r->total);
    r->cap = cap;
}

static void cpu(node_raw_t *r, const prom_sample_t *s)
{
    char v[16], mode[32];
    if (prom_label(s, "cpu", v, sizeof v) <= 0 || prom_label(s, "mode", mode, sizeof mode) < 0)
        return;
    char *end;
    unsigned long i = strtoul(v, &end, 10);
    if (*end || i >= NODE_MAX_CPUS || !isfinite(s->value)) return;
    grow(r, i + 1);
    if (i + 1 > r->ncpu) r->ncpu = i + 1;
    r->total[i] += s->value;
    if (strcmp(mode, "idle") != 0 && strcmp(mode, "iowait") != 0) r->busy[i] += s->value;
    r->seen |= NODE_CPU;
}

static void net(node_raw_t *r, const prom_sample_t *s, bool rx)
{
    char dev[64];
    bool lo = prom_label(s, "device", dev, sizeof dev) >= 0 && strcmp(dev, "lo") == 0;
    if (!isfinite(s->value)) return;
    *(lo ? (rx ? &r->lo_rx : &r->lo_tx) : (rx ? &r->rx : &r->tx)) += s->value;
    r->seen |= NODE_NET;
}

static void gauge(node_raw_t *r, double *field, unsigned bit, double v)
{
    *field = v;
    r->seen |= bit;
}

static void on_sample(void *ud, const prom_sample_t *s)
{
    node_raw_t *r = ud;
    if (s->name_len < 5 || memcmp(s->name, "node_", 5) != 0) return;
    if (prom_is(s, "node_cpu_seconds_total"))
        cpu(r, s);
    else if (prom_is(s, "node_load1"))
        gauge(r, &r->load1, NODE_LOAD, s->value);
    else if (prom_is(s, "node_memory_MemTotal_bytes"))
        gauge(r, &r->mem_total, NODE_MEMT, s->value);
    else if (prom_is(s, "node_memory_MemAvailable_bytes"))
        gauge(r, &r->mem_avail, NODE_MEMA, s->value);
    else if (prom_is(s, "node_network_receive_bytes_total"))
        net(r, s, true);
    else if (prom_is(s, "node_network_transmit_bytes_total"))
        net(r, s, false);
    else if (prom_is(s, "node_disk_read_bytes_total") && isfinite(s->value)) {
        r->rd += s->value;
        r->seen |= NODE_DISK;
    } else if (prom_is(s, "node_disk_written_bytes_total") && isfinite(s->value)) {
        r->wr += s->value;
        r->seen |= NODE_DISK;
    } else if (prom_is(s, "node_filefd_allocated"))
        gauge(r, &r->fds, NODE_FDS, s->value);
    else if (prom_is(s, "node_netstat_Tcp_CurrEstab"))
        gauge(r, &r->tcp, NODE_TCP, s->value);
}

int node_read(node_raw_t *r, double t, const char *body, size_t len, char *err, size_t n)
{
    if (r->cap) {
        memset(r->busy, 0, r->cap * sizeof *r->busy);
        memset(r->total, 0, r->cap * sizeof *r->total);
    }
    r->time = t;
    r->seen = 0;
    r->ncpu = 0;
    r->load1 = r->mem_total = r->mem_avail = 0;
    r->rx = r->tx = r->lo_rx = r->lo_tx = r->rd = r->wr = r->fds = r->tcp = 0;
    prom_err_t pe;
    if (prom_parse(body, len, on_sample, r, &pe) < 0) {
        snprintf(err, n, "not the Prometheus text format: line %zu: %s", pe.line, pe.why);
        return -1;
    }
    if (r->seen == 0) {
        snprintf(err, n,
                 "no node_exporter figures in the answer (node_cpu_seconds_total, "
                 "node_load1, node_memory_*...)");
        return -1;
    }
    return 0;
}

/* A counter's delta, NaN if either side is missing or it went back. */
static double delta(const node_raw_t *a, const node_raw_t *b, unsigned bit, double x, double y)
{
    if (!(a->seen & bit) || !(b->seen & bit) || y < x) return NAN;
    return y - x;
}

static void cpu_figures(const node_raw_t *a, const node_raw_t *b, node_fig_t *f)
{
    double busy = 0, total = 0, best = -1;
    size_t n = a->ncpu < b->ncpu ? a->ncpu : b->ncpu;
    for (size_t i = 0; i < n; i++) {
        double db = b->busy[i] - a->busy[i], dt = b->total[i] - a->total[i];
        if (dt <= 0 || db < 0) continue; /* an idle tick, or a reset */
        busy += db;
        total += dt;
        if (db / dt > best) best = db / dt;
    }
    if (total <= 0) return;
    f->cpu = fmin(100, 100 * busy / total);
    f->busiest = fmin(100, 100 * best);
}

void node_figures(const node_raw_t *prev, const node_raw_t *cur, node_fig_t *f)
{
    const node_raw_t *b = cur;
    *f = (node_fig_t){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    if (b->seen & NODE_LOAD) f->load1 = b->load1;
    if ((b->seen & NODE_MEMT) && (b->seen & NODE_MEMA) && b->mem_total > 0)
        f->mem = 100 * (b->mem_total - b->mem_avail) / b->mem_total;
    if (b->seen & NODE_FDS) f->fds = b->fds;
    if (b->seen & NODE_TCP) f->tcp = b->tcp;
    const node_raw_t *a = prev;
    double dt = a ? b->time - a->time : 0;
    if (a == NULL || dt <= 0) return;
    if ((a->seen & NODE_CPU) && (b->seen & NODE_CPU)) cpu_figures(a, b, f);
    double rx = delta(a, b, NODE_NET, a->rx, b->rx), tx = delta(a, b, NODE_NET, a->tx, b->tx);
    double lrx = delta(a, b, NODE_NET, a->lo_rx, b->lo_rx);
    double ltx = delta(a, b, NODE_NET, a->lo_tx, b->lo_tx);
    if (rx + tx == 0 && lrx + ltx > 0) { /* lo is the only interface with traffic */
        rx = lrx;
        tx = ltx;
    }
    f->rx = rx / dt;
    f->tx = tx / dt;
    f->rd = delta(a, b, NODE_DISK, a->rd, b->rd) / dt;
    f->wr = delta(a, b, NODE_DISK, a->wr, b->wr) / dt;
}

void node_copy(node_raw_t *dst, const node_raw_t *src)
{
    double *busy = dst->busy, *total = dst->total;
    size_t cap = dst->cap;
    *dst = *src;
    dst->busy = busy;
    dst->total = total;
    dst->cap = cap;
    grow(dst, src->ncpu);
    if (src->ncpu) {
        memcpy(dst->busy, src->busy, src->ncpu * sizeof *src->busy);
        memcpy(dst->total, src->total, src->ncpu * sizeof *src->total);
    }
}

void node_free(node_raw_t *r)
{
    xfree(r->busy);
    xfree(r->total);
    r->busy = r->total = NULL;
    r->cap = r->ncpu = 0;
}
