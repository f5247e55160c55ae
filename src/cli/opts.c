/* opts: the command line, parsed by hand from one table of flags.
 *
 * Each flag is a row: how errors name it ("-u/--users"), its short letter,
 * its long name, its LOCUST_* variable, the kind of value and where in
 * opts_t it goes (offsetof), and the range a number must fall in. One loop
 * reads argv the way Python's argparse does, so that Locust users meet the
 * same behaviour and the same messages: "--flag value" and "--flag=value",
 * "-u5" and "-u 5", bundled short flags ("-lV"), unique prefixes of long
 * names ("--head"), negative numbers as values, "--" ending the flags, and
 * -T/-E taking every following word that is not a flag (argparse's
 * nargs='*'). Unknown flags are collected and reported together at the
 * end, like argparse's "unrecognized arguments". After argv, the variables
 * of flags not seen on the command line are applied (ConfigArgParse's
 * order), then the checks that involve two flags.
 *
 * getopt_long is not used: it prints its own messages, keeps global state
 * (optind) that tests would have to reset, and knows neither argparse's
 * negative numbers nor nargs='*'.
 *
 * Config files come last (config.c reads them): each key is a long flag
 * name, applied to the flags that neither the command line nor a variable
 * set, file after file so that a later file wins over an earlier one.
 * The table of flags is flags.c; variables and config files, sources.c. */
#include "cli/opts.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "stats/threshold.h"
#include "cli/opts_int.h"

int opts_fail(struct parser *p, const char *fmt, ...)
{
    if (p->err == NULL || p->n == 0) return -1;
    size_t k = (size_t)snprintf(p->err, p->n, "cicada: error: ");
    if (k < p->n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + k, p->n - k, fmt, ap);
        va_end(ap);
    }
    k = strlen(p->err);
    if (p->env && k < p->n) snprintf(p->err + k, p->n - k, " (from %s)", p->env);
    return -1;
}

int opts_timespan(const char *s, double *seconds)
{
    static const char units[] = "hms";
    static const double mult[] = {3600, 60, 1};
    const char *digits = "0123456789";
    if (s == NULL || *s == '\0') return -1;
    size_t nd = strspn(s, digits);
    if (s[nd] == '\0') { /* a bare number is seconds */
        if (nd > 15) return -1;
        *seconds = strtod(s, NULL);
        return 0;
    }
    double total = 0;
    size_t next = 0; /* units must come in the order h, m, s, once each */
    while (*s) {
        nd = strspn(s, digits);
        if (nd == 0 || nd > 15) return -1;
        double v = strtod(s, NULL);
        s += nd;
        const char *u = *s ? strchr(units + next, *s) : NULL;
        if (u == NULL) return -1;
        total += v * mult[u - units];
        next = (size_t)(u - units) + 1;
        s++;
    }
    *seconds = total;
    return 0;
}

/* argparse's rule: "-5" and "-.5" are values, not flags. */
static bool is_negative_number(const char *a)
{
    if (a[0] != '-') return false;
    size_t nd = strspn(a + 1, "0123456789");
    if (a[1 + nd] == '\0') return nd > 0;
    if (a[1 + nd] != '.') return false;
    size_t nf = strspn(a + 2 + nd, "0123456789");
    return nf > 0 && a[2 + nd + nf] == '\0';
}

static bool is_flag(const char *a)
{
    return a[0] == '-' && a[1] != '\0' && !is_negative_number(a);
}

/* Returns 0, -1 if v is no integer, or 1 if it is one too large for a
 * long (*out is then LONG_MAX or LONG_MIN, for the range message). */
static int parse_long(const char *v, long *out)
{
    char *end;
    if (*v != '-' && *v != '+' && (*v < '0' || *v > '9')) return -1; /* no spaces, no "" */
    errno = 0;
    *out = strtol(v, &end, 10);
    if (*end) return -1;
    return errno == ERANGE ? 1 : 0;
}

static int parse_double(const char *v, double *out)
{
    char *end;
    if (*v != '-' && *v != '+' && *v != '.' && (*v < '0' || *v > '9')) return -1;
    *out = strtod(v, &end);
    return *end || !isfinite(*out) ? -1
                                   : 0; /* also refuses "inf", "nan" and hex via the first check */
}

/* A bound as messages show it: whole numbers in full ("100000000", not
 * "1e+08"). */
static const char *bound(char *buf, size_t n, double x)
{
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(buf, n, "%.0f", x);
    else
        snprintf(buf, n, "%g", x);
    return buf;
}

static int check_range(struct parser *p, const struct flag *f, const char *v, double x)
{
    if (f->min == 0 && f->max == 0) return 0;
    if (f->min_excl ? x > f->min && x <= f->max : x >= f->min && x <= f->max) return 0;
    char lo[32], hi[32];
    const char *unit = f->seconds ? " seconds (365 days)" : "";
    bound(lo, sizeof lo, f->min);
    bound(hi, sizeof hi, f->max);
    if (f->min_excl)
        return opts_fail(
            p, "argument %s: invalid value '%s' (must be greater than %s and at most %s%s)",
            f->name, v, lo, hi, unit);
    return opts_fail(p, "argument %s: invalid value '%s' (must be between %s and %s%s)", f->name, v,
                     lo, hi, unit);
}

void *opts_field(struct parser *p, const struct flag *f)
{
    return (char *)p->o + f->off;
}

/* Split v on commas and blanks, copying each name into o->tag_store. */
int opts_add_list(struct parser *p, const struct flag *f, const char *v)
{
    const char **list = opts_field(p, f);
    size_t *count = (size_t *)(void *)((char *)p->o + f->count_off);
    for (v += strspn(v, ", \t"); *v; v += strspn(v, ", \t")) {
        size_t len = strcspn(v, ", \t");
        if (*count == OPTS_MAX_TAGS)
            return opts_fail(p, "argument %s: too many tags (at most %d)", f->name, OPTS_MAX_TAGS);
        if (p->store_used + len + 1 > sizeof p->o->tag_store)
            return opts_fail(p, "argument %s: tag names too long (%d bytes in all at most)",
                             f->name, OPTS_TAG_STORE);
        char *s = p->o->tag_store + p->store_used;
        memcpy(s, v, len);
        s[len] = '\0';
        p->store_used += len + 1;
        list[(*count)++] = s;
        v += len;
    }
    return 0;
}

/* Check one threshold rule (stats/threshold.h) and keep it (repeatable). */
static int add_rule(struct parser *p, const struct flag *f, const char *v)
{
    const char **list = opts_field(p, f);
    size_t *count = (size_t *)(void *)((char *)p->o + f->count_off);
    threshold_t t;
    char why[512];
    if (threshold_parse(v, strlen(v), &t, why, sizeof why) != 0)
        return opts_fail(p, "argument %s: invalid rule '%s': %s", f->name, v, why);
    if (*count == OPTS_MAX_THRESHOLDS)
        return opts_fail(p, "argument %s: too many rules (at most %d)", f->name,
                         OPTS_MAX_THRESHOLDS);
    list[(*count)++] = v;
    return 0;
}

/* Convert and store one value of flag f. Returns 0, or -1 with err set. */
int opts_set(struct parser *p, const struct flag *f, const char *v)
{
    long l;
    double d;
    int rc;
    enum log_level level;
    switch (f->kind) {
    case K_STR:
        if (f->check == C_LOGLEVEL && log_parse_level(v, &level) != 0)
            return opts_fail(p,
                             "argument %s: invalid choice: '%s' (choose from DEBUG, INFO, WARNING, "
                             "ERROR, CRITICAL)",
                             f->name, v);
        if (f->check == C_AUTH && strchr(v, ':') == NULL)
            return opts_fail(p, "argument %s: invalid value '%s' (expected username:password)",
                             f->name, v);
        if (f->check == C_BIND && opts_hostport(v, (char[256]){0}, 256, &(int){0}) != 0)
            return opts_fail(p, "argument %s: invalid value '%s' (expected HOST:PORT, e.g. %s)",
                             f->name, v, "127.0.0.1:9646");
        if (f->check == C_HOST && strlen(v) > LIMIT_HOST)
            return opts_fail(p, "argument %s: the host is %zu characters long (at most %d)",
                             f->name, strlen(v), LIMIT_HOST);
        *(const char **)opts_field(p, f) = v;
        return 0;
    case K_INT:
    case K_LONG:
        if ((rc = parse_long(v, &l)) < 0)
            return opts_fail(p, "argument %s: invalid int value: '%s'", f->name, v);
        if (check_range(p, f, v, rc ? (l < 0 ? -HUGE_VAL : HUGE_VAL) : (double)l) != 0) return -1;
        if (f->kind == K_INT)
            *(int *)opts_field(p, f) = (int)l;
        else
            *(long *)opts_field(p, f) = l;
        return 0;
    case K_FLOAT:
        if (parse_double(v, &d) != 0)
            return opts_fail(p, "argument %s: invalid float value: '%s'", f->name, v);
        if (check_range(p, f, v, d) != 0) return -1;
        *(double *)opts_field(p, f) = d;
        return 0;
    case K_SPAN:
        if (opts_timespan(v, &d) != 0)
            return opts_fail(
                p, "argument %s: invalid time span '%s' (valid: 20, 20s, 3m, 2h, 1h20m, 3h30m10s)",
                f->name, v);
        if (check_range(p, f, v, d) != 0) return -1;
        *(double *)opts_field(p, f) = d;
        return 0;
    case K_STOP: /* seconds, fractions allowed, or a time span */
        if (parse_double(v, &d) != 0 && opts_timespan(v, &d) != 0)
            return opts_fail(p,
                             "argument %s: invalid value '%s' (seconds, or a time span like 1m30s)",
                             f->name, v);
        if (check_range(p, f, v, d) != 0) return -1;
        *(double *)opts_field(p, f) = d;
        return 0;
    case K_LIST:
        return opts_add_list(p, f, v);
    case K_APPEND: /* repeatable: one value each time */
        if (*(size_t *)(void *)((char *)p->o + f->count_off) == OPTS_MAX_MONITOR)
            return opts_fail(p, "argument %s: given more than %d times", f->name, OPTS_MAX_MONITOR);
        ((const char **)opts_field(p, f))[(*(size_t *)(void *)((char *)p->o + f->count_off))++] = v;
        return 0;
    case K_RULE:
        return add_rule(p, f, v);
    case K_BOOL:
    case K_HELP:
        break;
    }
    return 0;
}

static const struct flag *find_short(struct parser *p, char c)
{
    for (size_t i = 0; i < p->nflags; i++)
        if (p->flags[i].shortc == c) return &p->flags[i];
    return NULL;
}

/* An exact long name, or a unique prefix of one (argparse's allow_abbrev).
 * Sets *f to NULL if unknown; returns -1 with err set if ambiguous. */
static int find_long(struct parser *p, const char *name, size_t len, const struct flag **f)
{
    const struct flag *hit = NULL;
    size_t hits = 0;
    *f = NULL;
    for (size_t i = 0; i < p->nflags; i++) {
        const char *l = p->flags[i].lng;
        if (strncmp(l, name, len) != 0) continue;
        if (l[len] == '\0') {
            *f = &p->flags[i];
            return 0;
        }
        hit = &p->flags[i];
        hits++;
    }
    if (hits == 1) *f = hit;
    if (hits <= 1) return 0;
    char list[512] = "";
    for (size_t i = 0; i < p->nflags; i++)
        if (strncmp(p->flags[i].lng, name, len) == 0) {
            size_t k = strlen(list);
            snprintf(list + k, sizeof list - k, "%s--%s", k ? ", " : "", p->flags[i].lng);
        }
    return opts_fail(p, "ambiguous option: --%.*s could match %s", (int)len, name, list);
}

/* Act on flag f met at argv[*i]; value is the text after "=" or after the
 * short letter, or NULL. Returns 0, 1 for --help, or -1 with err set. */
static int take(struct parser *p, const struct flag *f, const char *value, int argc, char **argv,
                int *i)
{
    p->seen[f - p->flags] = true;
    switch (f->kind) {
    case K_HELP:
        if (p->flags == opts_demo_flags)
            opts_help_demo();
        else
            opts_help();
        return 1;
    case K_BOOL:
        if (value)
            return opts_fail(p, "argument %s: ignored explicit argument '%s'", f->name, value);
        *(bool *)opts_field(p, f) = true;
        return 0;
    case K_LIST: /* nargs='*': every following word that is not a flag */
        if (value) return opts_add_list(p, f, value);
        while (*i + 1 < argc && !is_flag(argv[*i + 1]))
            if (opts_add_list(p, f, argv[++*i]) != 0) return -1;
        return 0;
    default:
        if (value == NULL) {
            if (*i + 1 >= argc || is_flag(argv[*i + 1]))
                return opts_fail(p, "argument %s: expected one argument", f->name);
            value = argv[++*i];
        }
        return opts_set(p, f, value);
    }
}

static void note_unknown(char *buf, size_t size, const char *arg)
{
    size_t k = strlen(buf);
    if (k + 1 < size) snprintf(buf + k, size - k, "%s%s", k ? " " : "", arg);
}

/* The argv loop. Positional words are user class names, or unknown for
 * demo-server. Returns 0, 1 for --help, or -1 with err set. */
static int parse_argv(struct parser *p, int argc, char **argv, int start)
{
    char unknown[512] = "";
    bool flags_done = false;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        const struct flag *f;
        int r = 0;
        if (flags_done || !is_flag(a)) {
            if (p->flags == opts_demo_flags)
                note_unknown(unknown, sizeof unknown, a);
            else if (p->o->nclasses == LIMIT_CLASSES)
                return opts_fail(p, "too many user classes (at most %d)", LIMIT_CLASSES);
            else
                p->o->classes[p->o->nclasses++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            f = NULL;
            if (len > 0 && find_long(p, a + 2, len, &f) != 0) return -1;
            if (f == NULL) {
                note_unknown(unknown, sizeof unknown, a);
                continue;
            }
            r = take(p, f, eq ? eq + 1 : NULL, argc, argv, &i);
            if (r != 0) return r;
            continue;
        }
        /* Short flags: "-u5", "-u=5", "-u 5", and bundles like "-lV". */
        const struct flag *prev = NULL;
        for (const char *c = a + 1; *c; c++) {
            f = find_short(p, *c);
            if (f == NULL) {
                if (prev)
                    return opts_fail(p, "argument %s: ignored explicit argument '%s'", prev->name,
                                     c);
                note_unknown(unknown, sizeof unknown, a);
                break;
            }
            bool takes_value = f->kind != K_BOOL && f->kind != K_HELP;
            if (takes_value && c[1])
                r = take(p, f, c[1] == '=' ? c + 2 : c + 1, argc, argv, &i);
            else
                r = take(p, f, NULL, argc, argv, &i);
            if (r != 0) return r;
            if (takes_value) break;
            prev = f;
        }
    }
    if (unknown[0]) return opts_fail(p, "unrecognized arguments: %s", unknown);
    return 0;
}

/* The row of long name lng (the last row if none). */
static size_t find_flag(const struct parser *p, const char *lng)
{
    size_t i = 0;
    while (i + 1 < p->nflags && strcmp(p->flags[i].lng, lng) != 0)
        i++;
    return i;
}

/* Rules that involve more than one flag, checked once everything is read. */
static int check_combinations(struct parser *p)
{
    const opts_t *o = p->o;
    if (o->csv_full_history && o->csv_prefix == NULL)
        return opts_fail(p, "argument --csv-full-history: requires --csv");
    if (o->master && o->worker)
        return opts_fail(p, "argument --worker: not allowed with argument --master");
    /* Why: keys given to the wrong side would be silently ignored. */
    if (o->master_key && !o->master)
        return opts_fail(p,
                         "argument --master-key: only with --master (a worker takes --worker-key)");
    if (o->worker_key && !o->worker)
        return opts_fail(p,
                         "argument --worker-key: only with --worker (a master takes --master-key)");
    /* Why: half a CURVE set-up would silently run without it, or admit anyone. */
    if ((o->master_key == NULL) != (o->worker_keys == NULL))
        return opts_fail(p, "argument %s: requires %s",
                         o->master_key ? "--master-key" : "--worker-keys",
                         o->master_key ? "--worker-keys" : "--master-key");
    if ((o->worker_key == NULL) != (o->master_public_key == NULL))
        return opts_fail(p, "argument %s: requires %s",
                         o->worker_key ? "--worker-key" : "--master-public-key",
                         o->worker_key ? "--master-public-key" : "--worker-key");
    if (o->metrics_bind && o->worker) /* Why: a worker's figures are its master's to serve */
        return opts_fail(p,
                         "argument --metrics-bind: not allowed with --worker (scrape the master)");
    /* Why: with only one of the pair the UI would silently serve plain HTTP. */
    if ((o->tls_cert == NULL) != (o->tls_key == NULL))
        return opts_fail(p, "argument %s: requires %s", o->tls_cert ? "--tls-cert" : "--tls-key",
                         o->tls_cert ? "--tls-key" : "--tls-cert");
    return 0;
}

/* The flags of Locust after 2.12.1: --processes becomes --threads,
 * --web-base-path is checked and loses its trailing '/', --web-login is
 * refused (docs/cli.md says why). */
static int check_recent(struct parser *p)
{
    opts_t *o = p->o;
    if (o->web_login)
        return opts_fail(p, "argument --web-login: cicada has no login page (Locust's needs Python "
                            "auth code); use --web-auth USER:PASSWORD for basic authentication");
    if (p->seen[find_flag(p, "processes")] && o->processes == 0)
        return opts_fail(
            p, "argument --processes: invalid value '0' (-1 for one per CPU, or 1 to 1024)");
    if (o->processes != 0) {
        if (p->seen[find_flag(p, "threads")])
            return opts_fail(p, "argument --processes: not allowed with --threads (both set the "
                                "number of engine threads; give one)");
        if (o->processes > 0) o->threads = o->processes;
    }
    if (o->web_base_path[0]) {
        const char *v = o->web_base_path;
        size_t len = strlen(v);
        while (len > 0 && v[len - 1] == '/')
            len--;
        if (v[0] != '/' || len >= OPTS_BASE_PATH || strstr(v, "//") ||
            strspn(v, "/-._~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
                strlen(v))
            return opts_fail(
                p,
                "argument --web-base-path: invalid value '%s' (a path like /locust: "
                "letters, digits, '-', '.', '_', '~' and single '/', at most %d bytes)",
                v, OPTS_BASE_PATH - 1);
        memcpy(o->base_path_store, v, len);
        o->base_path_store[len] = '\0';
        o->web_base_path = o->base_path_store;
    }
    return 0;
}

int opts_hostport(const char *s, char *host, size_t n, int *port)
{
    const char *colon = strrchr(s, ':'), *h = s, *he = colon;
    if (colon == NULL) return -1;
    if (*s == '[') { /* [v6]:port */
        if (colon == s || colon[-1] != ']') return -1;
        h = s + 1, he = colon - 1;
    } else if (memchr(s, ':', (size_t)(colon - s))) {
        return -1; /* a bare IPv6 address: which colon ends it? */
    }
    if (he - h == 1 && *h == '*') he = h; /* "*": every interface */
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || errno || p < 1 || p > 65535) return -1;
    if ((size_t)(he - h) >= n) return -1;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    *port = (int)p;
    return 0;
}

int opts_parse(opts_t *o, int argc, char **argv, char *err, size_t n)
{
    struct parser p = {
        .o = o, .flags = opts_main_flags, .nflags = opts_nmain_flags, .err = err, .n = n};
    opts_init(o);
    if (err && n) err[0] = '\0';
    int start = 1;
    if (argc > 1 && strcmp(argv[1], "demo-server") == 0) {
        o->command = "demo-server";
        p.flags = opts_demo_flags;
        p.nflags = opts_ndemo_flags;
        start = 2;
    }
    int r = parse_argv(&p, argc, argv, start);
    if (r == 0 && p.flags == opts_main_flags) {
        r = opts_apply_env(&p);
        if (r == 0) r = opts_apply_config(&p);
        if (r == 0) r = check_combinations(&p);
        if (r == 0) r = check_recent(&p);
    }
    return r < 0 ? 2 : r;
}
