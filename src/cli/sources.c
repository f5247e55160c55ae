/* sources: flag values from outside the command line — the LOCUST_*
 * variables (ConfigArgParse's rules: a variable applies only to a flag the
 * command line did not set) and the config files (config.c reads them:
 * ~/.locust.conf, ./locust.conf, ./pyproject.toml, --config), whose keys
 * are long flag names, applied only to flags that neither the command
 * line nor a variable set, a later file winning over an earlier one.
 * Every value goes through the same setters as argv's (opts_int.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/config.h"
#include "cli/opts_int.h"

/* ConfigArgParse's rules for a variable of a flag without a value. */
static int env_bool(struct parser *p, const struct flag *f, const char *v)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1"))
        *(bool *)opts_field(p, f) = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0"))
        *(bool *)opts_field(p, f) = false;
    else
        return opts_fail(p,
                         "unexpected value for %s: '%s' (expecting true, false, yes, no, 1 or 0)",
                         f->name, v);
    return 0;
}

int opts_apply_env(struct parser *p)
{
    for (size_t i = 0; i < p->nflags; i++) {
        const struct flag *f = &p->flags[i];
        const char *v = f->env ? getenv(f->env) : NULL;
        if (p->seen[i] || v == NULL || *v == '\0') continue; /* the command line wins */
        p->env = f->env;
        int r = f->kind == K_BOOL ? env_bool(p, f, v) : opts_set(p, f, v);
        p->env = NULL;
        if (r != 0) return -1;
        p->seen[i] = true; /* config files cannot override it */
    }
    return 0;
}

/* A copy of v in o->config_store, or NULL with err set. */
static const char *keep(struct parser *p, const char *v)
{
    size_t len = strlen(v) + 1;
    if (p->config_used + len > sizeof p->o->config_store) {
        opts_fail(p, "config files: string values too long (%d bytes in all at most)",
                  OPTS_CONFIG_STORE);
        return NULL;
    }
    char *s = memcpy(p->o->config_store + p->config_used, v, len);
    p->config_used += len;
    return s;
}

/* One key = value of a config file (config_fn). Keys are long flag names,
 * with or without their "--", never abbreviated. */
static int config_item(void *ud, const char *where, const char *key, const char *const *vals,
                       size_t n, bool list)
{
    struct parser *p = ud;
    const char *name = strncmp(key, "--", 2) == 0 ? key + 2 : key;
    const struct flag *f = NULL;
    for (size_t i = 0; i < p->nflags && f == NULL; i++)
        if (strcmp(p->flags[i].lng, name) == 0 && p->flags[i].kind != K_HELP) f = &p->flags[i];
    if (f == NULL) {
        opts_fail(p,
                  "%s: unknown key '%s' (keys are the long flag names without '--', e.g. "
                  "spawn-rate; see cicada --help)",
                  where, key);
        return -1;
    }
    if (f->off == offsetof(opts_t, config_file)) {
        opts_fail(p, "%s: 'config' is read from the command line only (--config FILE)", where);
        return -1;
    }
    if (p->seen[f - p->flags]) return 0; /* the command line or a variable set it */
    p->env = where;
    int r = 0;
    if (list && f->kind != K_LIST) {
        r = opts_fail(p, "argument %s: takes one value, not a list", f->name);
    } else if (f->kind == K_LIST) {
        *(size_t *)(void *)((char *)p->o + f->count_off) = 0; /* a later file replaces it */
        for (size_t i = 0; i < n && r == 0; i++)
            r = opts_add_list(p, f, vals[i]);
    } else if (f->kind == K_BOOL) {
        r = env_bool(p, f, vals[0]);
    } else {
        const char *v = f->kind == K_STR ? keep(p, vals[0]) : vals[0];
        r = v ? opts_set(p, f, v) : -1;
    }
    p->env = NULL;
    return r;
}

/* The default files, then --config's; a later one wins over an earlier. */
int opts_apply_config(struct parser *p)
{
    const char *paths[CONFIG_MAX_FILES];
    char home[4096];
    size_t k = config_defaults(paths, home, sizeof home);
    if (p->o->config_file) paths[k++] = p->o->config_file;
    for (size_t i = 0; i < k; i++) {
        bool asked = p->o->config_file && i == k - 1;
        int r = config_read(paths[i], asked, config_item, p, p->err, p->n);
        if (r != 0) return -1;
    }
    return 0;
}
