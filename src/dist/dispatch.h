/* dispatch: how a master splits users over its workers, as Locust 2.12.1's
 * UsersDispatcher does (locust/dispatch.py).
 *
 * Users are an endless sequence of classes: fixed_count classes first (a
 * smooth weighted round-robin over their counts, skipping classes already
 * full), then the weighted classes. A round-robin cycle is nginx's smooth
 * weighted round-robin over weights normalised so the smallest is 2
 * (round(2*w/min), ties to even), and one cycle of sum(normalised) picks is
 * repeated forever. The k-th user of the sequence goes to the k-th worker of
 * a cycle over the workers sorted by (index within host, id), where a
 * worker's host is its id up to the first '_'. So the counts for n users are
 * a function of n and the worker list alone, which is what a rebalance
 * recomputes "from scratch" when workers come or go, and ramping down by
 * lowering n removes the newest users first (Locust's LIFO).
 *
 * Pure computation: no I/O, no clock, no locks. */
#ifndef CICADA_DISPATCH_H
#define CICADA_DISPATCH_H

#include <stddef.h>

typedef struct dispatch_class {
    const char *name; /* classes are given sorted by name */
    double weight;
    long fixed_count; /* > 0: exactly this many users of the class */
} dispatch_class_t;

typedef struct dispatch dispatch_t;

/* A dispatcher for n classes (copied; names must outlive it). */
dispatch_t *dispatch_new(const dispatch_class_t *cls, int n);
void dispatch_free(dispatch_t *d);

/* The class index of each of the first n users into seq (n ints). Returns
 * how many could be placed: fewer than n when only fixed_count classes
 * exist and all are full. */
long dispatch_sequence(dispatch_t *d, long n, int *seq);

/* Locust's worker order: order[k] is the index into ids of the k-th
 * worker (sorted by index within host, then id). */
void dispatch_order(const char *const *ids, int nworkers, int *order);

/* The absolute per-worker per-class counts for n users:
 * out[w * nclasses + c] for worker w of ids (in the caller's order).
 * Returns the number of users placed (see dispatch_sequence). With no
 * workers nothing is placed. */
long dispatch_counts(dispatch_t *d, const char *const *ids, int nworkers, long n, long *out);

#endif
