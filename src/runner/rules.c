/* rules: the run's thresholds, evaluated live (see rules.h).
 *
 * The rules come from --threshold (checked by cli/ already) and from the
 * scenario's cicada.thresholds (prelude_thresholds.lua), read once from
 * the VM the runner loads the scenario into; a scenario rule with a bad
 * grammar stops cicada before the run, naming the rule. Only the process
 * that holds the whole run's statistics evaluates them: a standalone
 * process, or a master over its workers' merged reports; a worker has
 * none. Each second, after the engines' shards (or the workers' reports)
 * were merged, every rule is evaluated under the runner's lock, so the
 * web UI's push and the reports see a consistent set; a rule whose verdict
 * changes is logged. A rule with abort set that fails while a test runs,
 * at least its grace after the test started, ends the run (k6's
 * abortOnFail with delayAbortEval). At the end the rules are evaluated
 * once more over the final statistics: that verdict decides the exit
 * code. */
#include "runner/rules.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "runner/runner_int.h"
#include "stats/threshold.h"

#include <lauxlib.h>
#include <lua.h>

static threshold_t *grow(runner_t *r)
{
    r->thr = xrealloc(r->thr, (r->nthr + 1) * sizeof *r->thr);
    return &r->thr[r->nthr];
}

/* The scenario's rules: cicada._thresholds() is a list of {expr, abort,
 * grace}. Returns 0, or -1 after printing which rule is wrong. */
static int load_scenario(runner_t *r, lua_State *L)
{
    char why[512];
    lua_getglobal(L, "cicada");
    lua_getfield(L, -1, "_thresholds");
    if (!lua_isfunction(L, -1)) {
        lua_settop(L, 0);
        return 0;
    }
    lua_call(L, 0, 1);
    size_t n = lua_objlen(L, -1);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        lua_getfield(L, -1, "expr");
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        lua_getfield(L, -2, "abort");
        lua_getfield(L, -3, "grace");
        bool abort = lua_toboolean(L, -2);
        double grace = lua_tonumber(L, -1);
        if (r->nthr == THRESHOLD_MAX) {
            fprintf(stderr, "cicada: %s: cicada.thresholds: too many rules (at most %d in all)\n",
                    r->rc.locustfile, THRESHOLD_MAX);
            return -1;
        }
        threshold_t *t = grow(r);
        if (s == NULL || threshold_parse(s, len, t, why, sizeof why) != 0) {
            fprintf(stderr, "cicada: %s: cicada.thresholds: invalid rule '%s': %s\n",
                    r->rc.locustfile, s ? s : "?", s ? why : "not a string");
            return -1;
        }
        t->abort = abort;
        t->grace = grace;
        t->scenario = true;
        r->nthr++;
        lua_pop(L, 4);
    }
    lua_settop(L, 0);
    return 0;
}

int rules_load(runner_t *r, lua_State *L)
{
    if (r->rc.worker) return 0; /* its master holds the whole run's figures */
    char why[512];
    for (size_t i = 0; i < r->rc.nthresholds; i++) {
        const char *s = r->rc.thresholds[i];
        threshold_t *t = grow(r);
        if (threshold_parse(s, strlen(s), t, why, sizeof why) != 0) { /* cli/ checked it */
            fprintf(stderr, "cicada: error: argument --threshold: invalid rule '%s': %s\n", s, why);
            return -1;
        }
        r->nthr++;
    }
    return load_scenario(r, L);
}

static double elapsed(const runner_t *r, int64_t now)
{
    return r->thr_start ? (double)(now - r->thr_start) / 1e9 : 0;
}

bool rules_tick(runner_t *r, int64_t now)
{
    if (r->nthr == 0) return false;
    bool abort = false;
    pthread_mutex_lock(&r->lock);
    bool running = r->state == RUNNER_SPAWNING || r->state == RUNNER_RUNNING;
    if (!running) r->thr_start = 0;
    if (running && r->thr_start == 0) r->thr_start = now;
    for (size_t i = 0; i < r->nthr; i++) {
        threshold_t *t = &r->thr[i];
        bool was = t->ok;
        threshold_eval(t, r->stats);
        if (was && !t->ok && running)
            log_warn("threshold '%s' fails: %s = %g", t->expr, t->metric_name, t->value);
        else if (!was && t->ok && running)
            log_info("threshold '%s' passes again: %s = %g", t->expr, t->metric_name, t->value);
        if (t->abort && !t->ok && running && elapsed(r, now) >= t->grace && !abort) {
            log_warn("threshold '%s' failed (abort = true): stopping the run", t->expr);
            abort = true;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return abort;
}

bool rules_final(runner_t *r)
{
    bool ok = true;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nthr; i++)
        ok &= threshold_eval(&r->thr[i], r->stats);
    pthread_mutex_unlock(&r->lock);
    return ok;
}

/* A rule's value in its unit: times in ms, rates per second. */
static void put_value(FILE *f, const threshold_t *t)
{
    if (!t->has_value) {
        fputs("no request", f);
        return;
    }
    switch (t->metric) {
    case TM_REQUESTS:
    case TM_FAILURES:
    case TM_DROPPED:
    case TM_LATE:
        fprintf(f, "%.0f", t->value);
        return;
    case TM_RPS:
    case TM_FAIL_RPS:
        fprintf(f, "%.2f/s", t->value);
        return;
    case TM_FAIL_RATIO:
        fprintf(f, "%.4f", t->value);
        return;
    default:
        fprintf(f, "%.1f ms", t->value);
        return;
    }
}

void rules_print(runner_t *r, FILE *f)
{
    if (r->nthr == 0) return;
    pthread_mutex_lock(&r->lock);
    size_t w = 10, failed = 0;
    for (size_t i = 0; i < r->nthr; i++)
        if (strlen(r->thr[i].expr) > w) w = strlen(r->thr[i].expr);
    if (w > 60) w = 60;
    fprintf(f, "Thresholds\n");
    for (size_t i = 0; i < r->nthr; i++) {
        const threshold_t *t = &r->thr[i];
        failed += !t->ok;
        fprintf(f, "  %s  %-*s  ", t->ok ? "pass" : "FAIL", (int)w, t->expr);
        put_value(f, t);
        fputc('\n', f);
    }
    fprintf(f, "%zu of %zu threshold%s failed\n\n", failed, r->nthr, r->nthr == 1 ? "" : "s");
    pthread_mutex_unlock(&r->lock);
    fflush(f);
}

bool rules_failed(runner_t *r)
{
    for (size_t i = 0; i < r->nthr; i++)
        if (!r->thr[i].ok) return true;
    return false;
}

void rules_free(runner_t *r)
{
    xfree(r->thr);
    r->thr = NULL;
    r->nthr = 0;
}
