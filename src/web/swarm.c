/* swarm: the routes that queue a runner command — /swarm, /stop and
 * /stats/reset (routes.c dispatches to them).
 *
 * /swarm reads a form, or a JSON body turned into one (json_as_form), as
 * Locust 2.12.1's web.py does, and checks every field before anything is
 * queued: user_count, spawn_rate, host, run_time, the memory the users
 * would take, the class picker's choice (user_classes, weight.<Class>,
 * fixed_count.<Class>) and cicada's monitored targets (monitor). A bad
 * field is a 400 naming it; a runner too busy to queue is a 503. These
 * handlers run on the web server's command thread, since the runner may
 * make them wait for room in its queue (server.c). */
#include "web/swarm.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "monitor/monitor.h"
#include "report/json.h"
#include "web/routes.h"

/* The form's value of key into buf; false if absent (or absurdly long). */
static bool form_get(const char *body, size_t len, const char *key, char *buf, size_t n)
{
    return http_form_var(body, len, key, buf, n) >= 0;
}

/* A whole number in [0, LIMIT_USERS]; too large for a long is out of
 * range too (strtol's ERANGE), never a saturated 9.2e18. */
static bool parse_users(const char *s, long *out)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0') return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || errno == ERANGE || v < 0 || v > LIMIT_USERS) return false;
    *out = v;
    return true;
}

/* A spawn rate in (0, LIMIT_SPAWN_RATE]. */
static bool parse_rate(const char *s, double *out)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0') return false;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || !isfinite(v) || v <= 0 || v > LIMIT_SPAWN_RATE) return false;
    *out = v;
    return true;
}

/* A number in [lo, hi] (whole if whole is set) into *out. */
static bool parse_num(const char *s, double lo, double hi, bool whole, double *out)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0') return false;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || !isfinite(v) || v < lo || v > hi || (whole && v != floor(v))) return false;
    *out = v;
    return true;
}

/* The class picker's fields (--class-picker): user_classes (repeated; none
 * means every class, as in Locust), and cicada's weight.<Class> and
 * fixed_count.<Class> (absent: the class's current value). Fills *pick
 * and the sorted names chosen; returns NULL, or the error message in msg. */
static const char *parse_pick(const char *body, size_t len, const runner_class_t *cls, size_t n,
                              runner_pick_t *pick, char *msg, size_t msgn)
{
    char name[256], key[300], v[64];
    memset(pick, 0, sizeof *pick);
    bool any = false;
    for (int occ = 0;
         http_form_var_nth(body, len, "user_classes", (size_t)occ, name, sizeof name) >= 0; occ++) {
        size_t i = 0;
        while (i < n && strcmp(cls[i].name, name) != 0)
            i++;
        if (i == n || i >= LIMIT_CLASSES) {
            snprintf(msg, msgn, "user_classes: unknown user class '%.200s'", name);
            return msg;
        }
        pick->chosen[i] = any = true;
    }
    bool runs = false;
    for (size_t i = 0; i < n && i < LIMIT_CLASSES; i++) {
        if (!any) pick->chosen[i] = true;
        double w = cls[i].weight, f = (double)cls[i].fixed_count;
        snprintf(key, sizeof key, "weight.%s", cls[i].name);
        if (http_form_var(body, len, key, v, sizeof v) >= 0 && !parse_num(v, 0, 1e6, false, &w)) {
            snprintf(msg, msgn, "%.200s must be a number from 0 to 1000000", key);
            return msg;
        }
        snprintf(key, sizeof key, "fixed_count.%s", cls[i].name);
        if (http_form_var(body, len, key, v, sizeof v) >= 0 &&
            !parse_num(v, 0, LIMIT_USERS, true, &f)) {
            snprintf(msg, msgn, "%.200s must be a whole number from 0 to 100000000", key);
            return msg;
        }
        pick->weight[i] = w;
        pick->fixed_count[i] = (long)f;
        if (pick->chosen[i] && (w > 0 || f > 0)) runs = true;
    }
    if (!runs) {
        snprintf(msg, msgn,
                 "user_classes: the chosen classes all have weight 0 and no fixed_count");
        return msg;
    }
    return NULL;
}

/* cicada's "monitor" field (docs/monitoring.md): the monitored targets,
 * repeated or one per line; absent: unchanged. Returns 0, or -1 with the
 * reason in msg. */
static int monitor_form(const char *body, size_t len, char *msg, size_t n)
{
    size_t cap = 64 * 1024, used = 0;
    char *all = xmalloc(cap), one[1024];
    int got = -1, rc = 0;
    all[0] = '\0';
    for (size_t i = 0; (got = http_form_var_nth(body, len, "monitor", i, one, sizeof one)) != -1;
         i++) {
        if (got == -2 || used + (size_t)got + 2 > cap) {
            snprintf(msg, n, "monitor: a target, or the list of them, is too long");
            rc = -1;
            break;
        }
        used += (size_t)snprintf(all + used, cap - used, "%s\n", one);
    }
    if (rc == 0 && (used > 0 || http_form_var(body, len, "monitor", one, 1) != -1) &&
        monitor_current())
        rc = monitor_set_text(monitor_current(), all, msg, n);
    xfree(all);
    return rc;
}

static int swarm_result(web_conn_t *c, int status, bool ok, const char *msg, const char *host,
                        double run_time)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", ok);
    cJSON_AddStringToObject(j, "message", msg);
    cJSON_AddStringToObject(j, "host", host);
    if (run_time > 0) cJSON_AddNumberToObject(j, "run_time", floor(run_time));
    return routes_send_json(c, status, j);
}

/* Queue a checked swarm, with the class picker's choice when it is on,
 * and answer. Like Locust, the answer then names the classes in play. */
static int swarm_go(web_conn_t *c, struct web *w, const char *body, size_t len, long users,
                    double rate, const char *host, const char *shown, double run_time)
{
    const runner_conf_t *o = runner_conf(w->r);
    runner_pick_t pick;
    char msg[512];
    const char *names[LIMIT_CLASSES];
    size_t n, nn = 0;
    bool picker = o->class_picker && !o->master;
    bool fresh = true;
    if (picker) {
        runner_lock(w->r);
        const runner_class_t *cls = runner_classes(w->r, &n);
        enum runner_state st = runner_state(w->r);
        fresh = st == RUNNER_READY || st == RUNNER_STOPPED;
        const char *bad = parse_pick(body, len, cls, n, &pick, msg, sizeof msg);
        /* a running test keeps its classes (spawn_pick) */
        for (size_t i = 0; !bad && i < n && i < LIMIT_CLASSES; i++)
            if (fresh ? pick.chosen[i] : cls[i].selected) names[nn++] = cls[i].name;
        runner_unlock(w->r);
        if (bad) return swarm_result(c, 400, false, bad, shown, 0);
    }
    if (!runner_swarm_pick(w->r, users, rate, host, run_time, picker ? &pick : NULL))
        return swarm_result(c, 503, false, "The runner is busy: try again", shown, 0);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", true);
    cJSON_AddStringToObject(j, "message", "Swarming started");
    cJSON_AddStringToObject(j, "host", shown);
    if (run_time > 0) cJSON_AddNumberToObject(j, "run_time", floor(run_time));
    if (picker) /* names are sorted: runner_classes() is */
        cJSON_AddItemToObject(j, "user_classes", cJSON_CreateStringArray(names, (int)nn));
    return routes_send_json(c, 200, j);
}

/* The form a JSON object body stands for ({"user_count": 5} ->
 * "user_count=5&"), so that /swarm takes either with the same checks.
 * Strings are %-encoded, numbers printed as JSON has them, anything else
 * left out. Returns a new string (the caller frees it) and its length. */
static char *json_as_form(const char *body, size_t *len)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    cJSON *j = cJSON_ParseWithLength(body, *len);
    cJSON *it, *obj = cJSON_IsObject(j) ? j : NULL;
    cJSON_ArrayForEach(it, obj)
    {
        char *num = cJSON_IsNumber(it) ? cJSON_PrintUnformatted(it) : NULL;
        const char *v = cJSON_IsString(it) ? it->valuestring : num;
        if (v == NULL || it->string == NULL) continue;
        for (const char *k = it->string; *k; k++)
            fprintf(f, isalnum((unsigned char)*k) || *k == '_' ? "%c" : "%%%02X",
                    (unsigned char)*k);
        fputc('=', f);
        for (; *v; v++)
            fprintf(f, isalnum((unsigned char)*v) ? "%c" : "%%%02X", (unsigned char)*v);
        fputc('&', f);
        free(num);
    }
    cJSON_Delete(j);
    fclose(f);
    char *copy = xstrndup(out, n); /* ours: freed with xfree */
    free(out);
    *len = n;
    return copy;
}

int swarm_route(web_conn_t *c, struct web *w)
{
    size_t len;
    const char *body = web_body(c, &len); /* the server bounds it (64 KB) */
    char *form = NULL;                    /* a JSON body, as the form it stands for */
    char type[64];
    if (http_header(web_request(c), "Content-Type", type, sizeof type) &&
        strncasecmp(type, "application/json", 16) == 0) {
        form = json_as_form(body, &len);
        body = form;
    }

    char users_s[64], rate_s[64], run_s[64], host[LIMIT_HOST + 1] = "", msg[512];
    /* -2: present but longer than LIMIT_HOST (the buffer), refused below */
    int host_len = http_form_var(body, len, "host", host, sizeof host);
    bool has_host = host_len >= 0;
    if (has_host) {
        /* like Locust: drop < and > to keep the host harmless in pages */
        char *d = host;
        for (const char *s = host; *s; s++)
            if (*s != '<' && *s != '>') *d++ = *s;
        *d = '\0';
    }
    char cur_host[1024];
    runner_lock(w->r);
    snprintf(cur_host, sizeof cur_host, "%s", runner_host(w->r));
    runner_unlock(w->r);
    const char *shown = has_host && *host ? host : cur_host;

    /* every number has a stated range (base/limits.h, docs/cli.md) */
    long users;
    double rate, run_time = 0;
    int status;
    if (!form_get(body, len, "user_count", users_s, sizeof users_s) ||
        !parse_users(users_s, &users))
        status = swarm_result(c, 400, false,
                              "user_count must be a whole number of users from 0 to 100000000",
                              shown, 0);
    else if (!form_get(body, len, "spawn_rate", rate_s, sizeof rate_s) ||
             !parse_rate(rate_s, &rate))
        status = swarm_result(c, 400, false,
                              "spawn_rate must be a number above 0 and at most 1000000", shown, 0);
    else if (host_len == -2)
        status =
            swarm_result(c, 400, false, "host must be at most 1023 characters long", cur_host, 0);
    else if (form_get(body, len, "run_time", run_s, sizeof run_s) && *run_s &&
             opts_timespan(run_s, &run_time) != 0)
        /* Locust's message, and its 200 */
        status = swarm_result(c, 200, false,
                              "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.",
                              shown, 0);
    else if (run_time > LIMIT_SECONDS)
        status = swarm_result(c, 400, false, "run_time must be at most 8760h (365 days)", shown, 0);
    else if (!runner_conf(w->r)->master &&
             runner_users_fit(users - runner_user_count(w->r), msg, sizeof msg) != 0)
        status = swarm_result(c, 400, false, msg, shown, 0); /* before any user starts */
    else if (monitor_form(body, len, msg, sizeof msg) != 0)
        status = swarm_result(c, 400, false, msg, shown, 0);
    else
        status = swarm_go(c, w, body, len, users, rate, has_host ? host : NULL, shown, run_time);
    xfree(form);
    return status;
}

int swarm_stop_route(web_conn_t *c, struct web *w)
{
    bool ok = runner_stop(w->r); /* false: never queued (the runner is busy) */
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", ok);
    cJSON_AddStringToObject(j, "message", ok ? "Test stopped" : "The runner is busy: try again");
    return routes_send_json(c, ok ? 200 : 503, j);
}

int swarm_reset_route(web_conn_t *c, struct web *w)
{
    /* stats and exceptions, like Locust's route */
    if (!runner_reset(w->r)) return routes_send_text(c, 503, "The runner is busy: try again");
    return routes_send_text(c, 200, "ok");
}
