/* opts_int: what opts.c, flags.c and sources.c share — the row of the
 * flag table, the parser's state, and the setters every source of values
 * (argv, LOCUST_* variables, config files) goes through, so that a value
 * is checked and stored the same way wherever it came from. Internal to
 * src/cli. */
#ifndef CICADA_OPTS_INT_H
#define CICADA_OPTS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/opts.h"

enum kind {
    K_HELP,
    K_BOOL,
    K_STR,
    K_INT,
    K_LONG,
    K_FLOAT,
    K_SPAN,
    K_STOP,
    K_LIST,
    K_APPEND,
    K_RULE
};
enum check { C_NONE, C_LOGLEVEL, C_AUTH, C_HOST, C_BIND };

struct flag {
    const char *name; /* as messages show it, in Locust's order of spellings */
    char shortc;      /* 0 if none */
    const char *lng;  /* long name without "--" */
    const char *env;  /* LOCUST_* variable, or NULL */
    enum kind kind;
    size_t off;       /* field in opts_t */
    size_t count_off; /* K_LIST: its count */
    double min, max;  /* numbers must lie in [min, max]; no check if both 0 */
    bool min_excl;    /* (min, max] instead */
    bool seconds;     /* a duration: messages say so */
    enum check check;
};

#define NFLAGS_MAX 96 /* rows of a table at most */

struct parser {
    opts_t *o;
    const struct flag *flags;
    size_t nflags;
    bool seen[NFLAGS_MAX];
    const char *env; /* the variable being applied, for messages */
    size_t store_used;
    size_t config_used; /* bytes of o->config_store */
    char *err;
    size_t n;
};

/* The tables (flags.c): cicada's flags, and demo-server's. */
extern const struct flag opts_main_flags[];
extern const size_t opts_nmain_flags;
extern const struct flag opts_demo_flags[];
extern const size_t opts_ndemo_flags;

/* Write "cicada: error: ..." (and the source being applied) to p->err;
 * returns -1. */
__attribute__((format(printf, 2, 3))) int opts_fail(struct parser *p, const char *fmt, ...);
/* Where f's value lives in p->o. */
void *opts_field(struct parser *p, const struct flag *f);
/* Check v for f (kind, range, the flag's own check) and store it;
 * 0, or -1 with p->err set. */
int opts_set(struct parser *p, const struct flag *f, const char *v);
/* Add one value to a list flag (-T, -E); 0 or -1. */
int opts_add_list(struct parser *p, const struct flag *f, const char *v);

/* The LOCUST_* variables of flags the command line did not set, then the
 * config files (sources.c); 0 or -1 with p->err set. */
int opts_apply_env(struct parser *p);
int opts_apply_config(struct parser *p);

#endif
