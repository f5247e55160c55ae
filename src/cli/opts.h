/* opts: the command line, with Locust's flag names and meanings.
 *
 * opts_parse() fills an opts_t from argv; every bad flag or value becomes a
 * usage error that names it. Strings in opts_t point into argv, into the
 * environment or at static defaults, and are never freed; tag names are
 * copied into the opts_t's own tag_store (a list like "a,b" must be split),
 * so they live as long as that opts_t, like the strings read from config
 * files (config_store). Sources, weakest first, as Locust and ConfigArgParse
 * order them: defaults, ~/.locust.conf, ./locust.conf, ./pyproject.toml
 * ([tool.locust]), --config FILE, LOCUST_* environment variables (for the
 * flags Locust reads them for), the command line. */
#ifndef CICADA_OPTS_H
#define CICADA_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/limits.h"

#define OPTS_MAX_TAGS 64
#define OPTS_MAX_THRESHOLDS 32  /* --threshold rules */
#define OPTS_TAG_STORE 2048     /* bytes for all tag names of -T and -E together */
#define OPTS_MAX_MONITOR 64     /* --monitor values */
#define OPTS_CONFIG_STORE 16384 /* bytes for the string values read from config files */
#define OPTS_BASE_PATH 128      /* --web-base-path, at most this long */

typedef struct opts {
    const char *command;    /* NULL for a load test, "demo-server" for the demo site */
    const char *locustfile; /* -f/--locustfile, default "locustfile.lua" */
    const char *host;       /* -H/--host, NULL if not given */
    long users;             /* -u/--users, -1 if not given */
    double spawn_rate;      /* -r/--spawn-rate, -1 if not given */
    double arrival_rate;    /* --arrival-rate: iterations per second (open model), 0 if not given */
    double run_time;        /* -t/--run-time in seconds, -1 for no limit */
    bool headless;          /* --headless */
    bool autostart;         /* --autostart */
    bool class_picker;      /* --class-picker: choose user classes in the web UI */
    long autoquit;          /* --autoquit, -1 if not given */
    const char *web_host;   /* --web-host, default "127.0.0.1" */
    int web_port;           /* --web-port/-P, default 8089 */
    const char *web_auth;   /* --web-auth user:password */
    const char *web_base_path; /* --web-base-path: "" or "/a/b" (no trailing '/') */
    bool web_login;            /* --web-login: refused (see docs/cli.md) */
    const char *tls_cert, *tls_key;
    const char *metrics_bind; /* --metrics-bind HOST:PORT (checked), NULL if not given */
    const char *csv_prefix;   /* --csv */
    bool csv_full_history;    /* --csv-full-history (requires --csv) */
    bool print_stats;         /* --print-stats */
    bool only_summary;        /* --only-summary */
    bool reset_stats;         /* --reset-stats */
    const char *html_file;    /* --html */
    bool json_stdout;         /* --json: Locust's JSON statistics on stdout at the end */
    const char *json_file;    /* --json-file PREFIX: the same in PREFIX.json */
    const char *summary_json; /* --summary-json FILE: cicada's end-of-run document */
    const char *thresholds[OPTS_MAX_THRESHOLDS]; /* --threshold EXPR (checked), repeatable */
    size_t nthresholds;
    int exit_code_on_threshold; /* --exit-code-on-threshold, default 3 */
    const char *loglevel;       /* -L/--loglevel, default "INFO" (validated) */
    const char *logfile;        /* --logfile */
    int exit_code_on_error;     /* --exit-code-on-error, default 1 */
    double stop_timeout;        /* -s/--stop-timeout seconds, default 0 */
    int threads;                /* --threads, default: number of online CPUs */
    int processes;           /* --processes N (-1: one per CPU) as given, 0 if not; sets threads */
    long iterations;         /* -i/--iterations: task iterations per user, 0 = no limit */
    const char *config_file; /* --config FILE, read after the default config files */
    bool insecure;           /* --insecure: no TLS certificate verification */
    const char *ca_file;     /* --ca-file: CA bundle (PEM) instead of the system's */
    const char *resolver;    /* --resolver IP[:PORT]: DNS server instead of resolv.conf's */
    double resolver_timeout; /* --resolver-timeout SECONDS per lookup, 0 = default (5) */
    bool list_classes;       /* -l/--list */
    bool show_version;       /* -V/--version */
    bool master, worker;     /* --master, --worker */
    const char *master_host; /* --master-host, default "127.0.0.1" */
    int master_port;         /* --master-port, default 5557 */
    const char *master_bind_host;   /* default "*" */
    int master_bind_port;           /* default 5557 */
    int expect_workers;             /* default 1 */
    double expect_workers_max_wait; /* default 0 = forever */
    const char *master_key;  /* --master-key FILE: the master's CURVE key pair (NAME.key_secret) */
    const char *worker_keys; /* --worker-keys PATH: admitted worker keys (a .key file or a dir) */
    const char *worker_key;  /* --worker-key FILE: a worker's CURVE key pair */
    const char *master_public_key;   /* --master-public-key FILE: the master's NAME.key */
    const char *tags[OPTS_MAX_TAGS]; /* -T/--tags (space or comma separated) */
    size_t ntags;
    const char *exclude_tags[OPTS_MAX_TAGS]; /* -E/--exclude-tags */
    size_t nexclude_tags;
    char tag_store[OPTS_TAG_STORE];       /* tags[] and exclude_tags[] point here */
    char config_store[OPTS_CONFIG_STORE]; /* strings read from config files */
    char base_path_store[OPTS_BASE_PATH]; /* web_base_path points here */
    const char *classes[LIMIT_CLASSES];   /* positional user class names */
    size_t nclasses;
    const char
        *monitor[OPTS_MAX_MONITOR]; /* --monitor [NAME=]URL, repeatable (docs/monitoring.md) */
    size_t nmonitor;
    double monitor_interval; /* --monitor-interval seconds, default 1 */
    /* demo-server */
    const char *demo_host;  /* --bind, default "127.0.0.1" */
    int demo_port;          /* --port, default 8080 */
    double demo_slow;       /* --slow-delay seconds, default 0.2 */
    double demo_fail_ratio; /* --fail-ratio, default 0.1 */
} opts_t;

/* Fill *o with the defaults above, ignoring argv and the environment. */
void opts_init(opts_t *o);

/* Parse argv into *o (argv[0] is the program name; it calls opts_init
 * first). Returns 0 on success. On a usage error returns 2 and writes
 * "cicada: error: <what>, naming the flag or value" to err (size n; err
 * may be NULL). On -h/--help returns 1 after writing the help text to
 * stdout (the demo-server help for `demo-server --help`). argv is only
 * read, and must outlive *o. -V and -l only set show_version and
 * list_classes: the caller acts on them. The config files are read from
 * $HOME and the working directory (not for demo-server); an error in one,
 * an unknown key included, is a usage error naming FILE:LINE. */
int opts_parse(opts_t *o, int argc, char **argv, char *err, size_t n);

/* Parse a Locust timespan ("20", "20s", "3m", "2h", "1h30m", "3h30m10s":
 * a bare integer is seconds, otherwise integers with units h, m, s in that
 * order, each at most once) into seconds. Returns 0, or -1 if malformed
 * (empty, negative, fractional, unknown unit, units out of order). */
int opts_timespan(const char *s, double *seconds);

/* Split a checked HOST:PORT ("127.0.0.1:9646", "[::1]:9646", ":9646" or
 * "*:9646" for every interface) into host (size n; "" for every
 * interface, brackets removed) and *port (1 .. 65535). Returns 0, or -1
 * if s is not of that form or host does not fit. */
int opts_hostport(const char *s, char *host, size_t n, int *port);

/* Print the full help (every flag with a one-line description, grouped
 * like Locust's, and the demo-server command) to stdout. */
void opts_help(void);
/* Print the help of the demo-server command to stdout. */
void opts_help_demo(void);

#endif
