/* dispatch: see dispatch.h.
 *
 * The sequence is a finite prefix (the fixed_count users, worked out once)
 * followed by one weighted cycle repeated forever, so the class of the
 * k-th user is a lookup and nothing grows with the number of users. */
#include "dist/dispatch.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

struct dispatch {
    int n;
    int *prefix; /* the fixed_count users, in order */
    long nprefix;
    int *cycle; /* one weighted cycle */
    long ncycle;
};

/* One cycle of nginx's smooth weighted round-robin (the roundrobin
 * package's smooth()) over the classes idx[0..m) with values val[]:
 * normalised to round(2*v/min), sum(normalised) picks. Returns the picks
 * (xmalloc) and their number in *len; NULL when m == 0. */
static int *smooth_cycle(const int *idx, const double *val, int m, long *len)
{
    *len = 0;
    if (m == 0) return NULL;
    double mn = val[0];
    for (int i = 1; i < m; i++)
        if (val[i] < mn) mn = val[i];
    long *w = xcalloc((size_t)m, sizeof *w), total = 0;
    for (int i = 0; i < m; i++) {
        w[i] = (long)nearbyint(2.0 * val[i] / mn); /* Python's round: ties to even */
        if (w[i] < 1) w[i] = 1;
        total += w[i];
    }
    int *out = xmalloc((size_t)total * sizeof *out);
    long *cur = xcalloc((size_t)m, sizeof *cur);
    for (long k = 0; k < total; k++) {
        if (m == 1) {
            out[k] = idx[0];
            continue;
        }
        int best = -1;
        long sum = 0;
        for (int i = 0; i < m; i++) {
            cur[i] += w[i];
            sum += w[i];
            if (best < 0 || cur[best] < cur[i]) best = i; /* first of equals wins */
        }
        cur[best] -= sum;
        out[k] = idx[best];
    }
    xfree(cur);
    xfree(w);
    *len = total;
    return out;
}

dispatch_t *dispatch_new(const dispatch_class_t *cls, int n)
{
    dispatch_t *d = xcalloc(1, sizeof *d);
    d->n = n;
    int *idx = xmalloc((size_t)(n ? n : 1) * sizeof *idx);
    double *val = xmalloc((size_t)(n ? n : 1) * sizeof *val);

    /* the weighted cycle: classes without fixed_count and a positive weight */
    int m = 0;
    for (int i = 0; i < n; i++)
        if (cls[i].fixed_count <= 0 && cls[i].weight > 0) {
            idx[m] = i;
            val[m++] = cls[i].weight;
        }
    d->cycle = smooth_cycle(idx, val, m, &d->ncycle);

    /* the fixed prefix: walk the fixed cycle, taking a class while it is
     * below its count, until all are full */
    m = 0;
    long need = 0;
    for (int i = 0; i < n; i++)
        if (cls[i].fixed_count > 0) {
            idx[m] = i;
            val[m++] = (double)cls[i].fixed_count;
            need += cls[i].fixed_count;
        }
    long flen;
    int *fcycle = smooth_cycle(idx, val, m, &flen);
    if (need > 0) {
        long *have = xcalloc((size_t)n, sizeof *have);
        d->prefix = xmalloc((size_t)need * sizeof *d->prefix);
        for (long k = 0; d->nprefix < need; k = (k + 1) % flen) {
            int c = fcycle[k];
            if (have[c] < cls[c].fixed_count) {
                have[c]++;
                d->prefix[d->nprefix++] = c;
            }
        }
        xfree(have);
    }
    xfree(fcycle);
    xfree(idx);
    xfree(val);
    return d;
}

void dispatch_free(dispatch_t *d)
{
    if (d == NULL) return;
    xfree(d->prefix);
    xfree(d->cycle);
    xfree(d);
}

long dispatch_sequence(dispatch_t *d, long n, int *seq)
{
    long k = 0;
    for (; k < n && k < d->nprefix; k++)
        seq[k] = d->prefix[k];
    if (d->ncycle == 0) return k; /* only fixed classes: no more users */
    for (; k < n; k++)
        seq[k] = d->cycle[(k - d->nprefix) % d->ncycle];
    return k;
}

typedef struct wkey {
    const char *id;
    size_t hostlen;
    int in_host; /* index within its host */
    int orig;
} wkey_t;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const wkey_t *)a)->id, ((const wkey_t *)b)->id);
}

static int by_host_index(const void *a, const void *b)
{
    const wkey_t *x = a, *y = b;
    if (x->in_host != y->in_host) return x->in_host < y->in_host ? -1 : 1;
    return strcmp(x->id, y->id);
}

void dispatch_order(const char *const *ids, int nworkers, int *order)
{
    if (nworkers <= 0) return;
    wkey_t *k = xmalloc((size_t)nworkers * sizeof *k);
    for (int i = 0; i < nworkers; i++) {
        const char *us = strchr(ids[i], '_');
        k[i] = (wkey_t){ids[i], us ? (size_t)(us - ids[i]) : strlen(ids[i]), 0, i};
    }
    qsort(k, (size_t)nworkers, sizeof *k, by_id);
    /* index within host, in id order (Locust's _sort_workers) */
    for (int i = 0; i < nworkers; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            if (k[j].hostlen == k[i].hostlen && memcmp(k[j].id, k[i].id, k[i].hostlen) == 0) seen++;
        k[i].in_host = seen;
    }
    qsort(k, (size_t)nworkers, sizeof *k, by_host_index);
    for (int i = 0; i < nworkers; i++)
        order[i] = k[i].orig;
    xfree(k);
}

long dispatch_counts(dispatch_t *d, const char *const *ids, int nworkers, long n, long *out)
{
    if (nworkers <= 0) return 0;
    memset(out, 0, (size_t)nworkers * (size_t)d->n * sizeof *out);
    int *order = xmalloc((size_t)nworkers * sizeof *order);
    dispatch_order(ids, nworkers, order);
    long placed = 0;
    int seq[1024];
    while (placed < n) {
        long want = n - placed < 1024 ? n - placed : 1024;
        /* the sequence is periodic after the prefix: fetch it in chunks */
        long got = 0;
        for (; got < want; got++) {
            long k = placed + got;
            if (k < d->nprefix)
                seq[got] = d->prefix[k];
            else if (d->ncycle)
                seq[got] = d->cycle[(k - d->nprefix) % d->ncycle];
            else
                break;
        }
        for (long i = 0; i < got; i++) {
            long k = placed + i;
            out[(long)order[k % nworkers] * d->n + seq[i]]++;
        }
        placed += got;
        if (got < want) break;
    }
    xfree(order);
    return placed;
}
