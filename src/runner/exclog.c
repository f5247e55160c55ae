/* exclog: see exclog.h.
 *
 * Which occurrences are new: each stats_exception_t carries `logged`, the
 * count already taken in here. Rows are created with 0, so a row that
 * reappears after stats_clear_exceptions (a reset, or a worker that sends
 * its exceptions to its master every second) is taken in from zero. An
 * error is recognized across such clears by the hash of its traceback, so
 * it is printed in full once per run, not once per clear. */
#include "runner/exclog.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "stats/table.h"

#define LOGGER "cicada.user"
#define SEC 1000000000LL

static exclog_err_t *find(exclog_t *x, uint64_t h)
{
    for (int i = 0; i < x->n; i++)
        if (x->errs[i].hash == h) return &x->errs[i];
    return NULL;
}

/* Where the error happened: the first frame of the scenario in the
 * traceback ("a.lua:12" of "\ta.lua:12: in function ..."); its length in
 * *n, or NULL. */
static const char *where(const char *tb, size_t *n)
{
    const char *p = strstr(tb, "\nstack traceback:\n");
    if (p == NULL) return NULL;
    for (p = strchr(p + 1, '\n'); p && p[1] == '\t'; p = strchr(p + 1, '\n')) {
        const char *f = p + 2, *end = strstr(f, ": in ");
        const char *nl = strchr(f, '\n');
        /* skip [C], [builtin#..] and cicada's own prelude */
        if (f[0] == '[' || strncmp(f, "prelude:", 8) == 0 || end == NULL || (nl && end > nl))
            continue;
        *n = (size_t)(end - f);
        return f;
    }
    return NULL;
}

/* The first line of msg (at most 300 bytes), followed by " (at file:line)"
 * when the message does not name where it happened (error(nil), error({})),
 * so that count lines tell errors with one message apart. Owned. */
static char *label(const char *msg, const char *tb)
{
    size_t n = strcspn(msg, "\n"), wn = 0;
    if (n > 300) n = 300;
    const char *w = where(tb, &wn);
    if (w && wn < 200) {
        char at[200];
        snprintf(at, sizeof at, "%.*s", (int)wn, w);
        if (strstr(msg, at) == NULL) {
            size_t len = n + wn + 8;
            char *s = xmalloc(len);
            snprintf(s, len, "%.*s (at %s)", (int)n, msg, at);
            return s;
        }
    }
    char *s = xmalloc(n + 1);
    memcpy(s, msg, n);
    s[n] = '\0';
    return s;
}

static void counts(exclog_t *x)
{
    for (int i = 0; i < x->n; i++) {
        exclog_err_t *e = &x->errs[i];
        if (e->total == e->reported) continue;
        log_msg(LOG_ERROR, LOGGER, "%s (%llu more times, %llu in total)", e->message,
                (unsigned long long)(e->total - e->reported), (unsigned long long)e->total);
        e->reported = e->total;
    }
    if (x->other_total != x->other_reported) {
        log_msg(LOG_ERROR, LOGGER,
                "%llu more exceptions of other kinds (more than %d distinct errors: see the "
                "exceptions table, or _exceptions.csv with --csv)",
                (unsigned long long)(x->other_total - x->other_reported), EXCLOG_MAX_FULL);
        x->other_reported = x->other_total;
    }
}

static void scan(exclog_t *x, stats_t *st, int max_new)
{
    size_t n;
    stats_exception_t **ex = stats_exceptions(st, &n);
    int printed = 0;
    for (size_t i = 0; i < n; i++) {
        stats_exception_t *s = ex[i];
        if (s->count <= s->logged) continue;
        uint64_t delta = s->count - s->logged;
        uint64_t h = table_hash(s->traceback, NULL, NULL);
        exclog_err_t *e = find(x, h);
        if (e == NULL && x->n == EXCLOG_MAX_FULL) {
            x->other_total += delta;
        } else if (e == NULL) {
            if (printed == max_new) continue; /* next scan: its count waits in the row */
            printed++;
            e = &x->errs[x->n++];
            e->hash = h;
            e->message = label(s->msg, s->traceback);
            e->total = delta;
            e->reported = 1; /* this one, in full */
            /* the traceback's first line is the message, as in Locust's
             * "<message>\nTraceback ...\n" */
            log_msg(LOG_ERROR, LOGGER, "%s\n", s->traceback);
        } else {
            e->total += delta;
        }
        s->logged = s->count;
    }
}

void exclog_scan(exclog_t *x, stats_t *st, int64_t now)
{
    scan(x, st, EXCLOG_MAX_NEW);
    if (x->next_counts == 0) x->next_counts = now + EXCLOG_EVERY_S * SEC;
    if (now >= x->next_counts) {
        counts(x);
        x->next_counts = now + EXCLOG_EVERY_S * SEC;
    }
}

void exclog_flush(exclog_t *x, stats_t *st)
{
    scan(x, st, EXCLOG_MAX_FULL);
    counts(x);
}

void exclog_free(exclog_t *x)
{
    for (int i = 0; i < x->n; i++)
        xfree(x->errs[i].message);
    memset(x, 0, sizeof *x);
}
