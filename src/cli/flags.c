/* flags: the table of cicada's flags, and their defaults.
 *
 * One row per flag (opts_int.h's struct flag): how messages name it, its
 * short letter, long name and LOCUST_* variable, the kind of value, where
 * it goes in opts_t and the range a number must fall in. The order is
 * --help's, grouped as Locust 2.12.1 groups them; cicada's own flags sit
 * in the group they belong to. opts_init() gives every field its default
 * (Locust's where Locust has the flag). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/limits.h"
#include "cli/opts_int.h"

#define AT(f) .off = offsetof(opts_t, f)
#define INT_MAX_D 2147483647.0
#define PORT .min = 1, .max = 65535
/* durations: at most LIMIT_SECONDS, so that no deadline overflows */
#define SECONDS(lo) .min = (lo), .max = LIMIT_SECONDS, .seconds = true

const struct flag opts_main_flags[] = {
    {"-h/--help", 'h', "help", NULL, K_HELP, .off = 0},
    /* Common options */
    {"-f/--locustfile", 'f', "locustfile", "LOCUST_LOCUSTFILE", K_STR, AT(locustfile)},
    {"-H/--host", 'H', "host", "LOCUST_HOST", K_STR, AT(host), .check = C_HOST},
    {"-u/--users", 'u', "users", "LOCUST_USERS", K_LONG, AT(users), .min = 0,
     .max = (double)LIMIT_USERS},
    {"-r/--spawn-rate", 'r', "spawn-rate", "LOCUST_SPAWN_RATE", K_FLOAT, AT(spawn_rate), .min = 0,
     .max = LIMIT_SPAWN_RATE, .min_excl = true},
    {"--arrival-rate", 0, "arrival-rate", "CICADA_ARRIVAL_RATE", K_FLOAT, AT(arrival_rate),
     .min = 0, .max = LIMIT_SPAWN_RATE, .min_excl = true},
    {"-t/--run-time", 't', "run-time", "LOCUST_RUN_TIME", K_SPAN, AT(run_time), SECONDS(0)},
    {"-l/--list", 'l', "list", NULL, K_BOOL, AT(list_classes)},
    {"-i/--iterations", 'i', "iterations", "LOCUST_ITERATIONS", K_LONG, AT(iterations), .min = 0,
     .max = 9.2e18},
    {"--config", 0, "config", NULL, K_STR, AT(config_file)},
    /* Web UI options */
    {"--web-host", 0, "web-host", "LOCUST_WEB_HOST", K_STR, AT(web_host)},
    {"--web-port/-P", 'P', "web-port", "LOCUST_WEB_PORT", K_INT, AT(web_port), PORT},
    {"--headless", 0, "headless", "LOCUST_HEADLESS", K_BOOL, AT(headless)},
    {"--autostart", 0, "autostart", "LOCUST_AUTOSTART", K_BOOL, AT(autostart)},
    {"--class-picker", 0, "class-picker", "LOCUST_USERCLASS_PICKER", K_BOOL, AT(class_picker)},
    {"--autoquit", 0, "autoquit", "LOCUST_AUTOQUIT", K_LONG, AT(autoquit), SECONDS(-1)},
    {"--web-auth", 0, "web-auth", "LOCUST_WEB_AUTH", K_STR, AT(web_auth), .check = C_AUTH},
    {"--web-login", 0, "web-login", "LOCUST_WEB_LOGIN", K_BOOL, AT(web_login)},
    {"--web-base-path", 0, "web-base-path", "LOCUST_WEB_BASE_PATH", K_STR, AT(web_base_path)},
    {"--tls-cert", 0, "tls-cert", "LOCUST_TLS_CERT", K_STR, AT(tls_cert)},
    {"--tls-key", 0, "tls-key", "LOCUST_TLS_KEY", K_STR, AT(tls_key)},
    {"--metrics-bind", 0, "metrics-bind", NULL, K_STR, AT(metrics_bind), .check = C_BIND},
    /* Master options */
    {"--master", 0, "master", "LOCUST_MODE_MASTER", K_BOOL, AT(master)},
    {"--master-bind-host", 0, "master-bind-host", "LOCUST_MASTER_BIND_HOST", K_STR,
     AT(master_bind_host)},
    {"--master-bind-port", 0, "master-bind-port", "LOCUST_MASTER_BIND_PORT", K_INT,
     AT(master_bind_port), PORT},
    {"--expect-workers", 0, "expect-workers", "LOCUST_EXPECT_WORKERS", K_INT, AT(expect_workers),
     .min = 1, .max = INT_MAX_D},
    {"--expect-workers-max-wait", 0, "expect-workers-max-wait", "LOCUST_EXPECT_WORKERS_MAX_WAIT",
     K_FLOAT, AT(expect_workers_max_wait), SECONDS(0)},
    {"--master-key", 0, "master-key", "CICADA_MASTER_KEY", K_STR, AT(master_key)},
    {"--worker-keys", 0, "worker-keys", "CICADA_WORKER_KEYS", K_STR, AT(worker_keys)},
    /* Worker options */
    {"--worker", 0, "worker", "LOCUST_MODE_WORKER", K_BOOL, AT(worker)},
    {"--master-host", 0, "master-host", "LOCUST_MASTER_NODE_HOST", K_STR, AT(master_host)},
    {"--master-port", 0, "master-port", "LOCUST_MASTER_NODE_PORT", K_INT, AT(master_port), PORT},
    {"--worker-key", 0, "worker-key", "CICADA_WORKER_KEY", K_STR, AT(worker_key)},
    {"--master-public-key", 0, "master-public-key", "CICADA_MASTER_PUBLIC_KEY", K_STR,
     AT(master_public_key)},
    /* Tag options */
    {"-T/--tags", 'T', "tags", "LOCUST_TAGS", K_LIST, AT(tags),
     .count_off = offsetof(opts_t, ntags)},
    {"-E/--exclude-tags", 'E', "exclude-tags", "LOCUST_EXCLUDE_TAGS", K_LIST, AT(exclude_tags),
     .count_off = offsetof(opts_t, nexclude_tags)},
    /* Request statistics options */
    {"--csv", 0, "csv", "LOCUST_CSV", K_STR, AT(csv_prefix)},
    {"--csv-full-history", 0, "csv-full-history", "LOCUST_CSV_FULL_HISTORY", K_BOOL,
     AT(csv_full_history)},
    {"--print-stats", 0, "print-stats", "LOCUST_PRINT_STATS", K_BOOL, AT(print_stats)},
    {"--only-summary", 0, "only-summary", "LOCUST_ONLY_SUMMARY", K_BOOL, AT(only_summary)},
    {"--reset-stats", 0, "reset-stats", "LOCUST_RESET_STATS", K_BOOL, AT(reset_stats)},
    {"--html", 0, "html", "LOCUST_HTML", K_STR, AT(html_file)},
    {"--json", 0, "json", "LOCUST_JSON", K_BOOL, AT(json_stdout)},
    {"--json-file", 0, "json-file", "LOCUST_JSON_FILE", K_STR, AT(json_file)},
    {"--summary-json", 0, "summary-json", NULL, K_STR, AT(summary_json)},
    {"--threshold", 0, "threshold", NULL, K_RULE, AT(thresholds),
     .count_off = offsetof(opts_t, nthresholds)},
    {"--exit-code-on-threshold", 0, "exit-code-on-threshold", NULL, K_INT,
     AT(exit_code_on_threshold), .min = 0, .max = 255},
    /* Logging options */
    {"--loglevel/-L", 'L', "loglevel", "LOCUST_LOGLEVEL", K_STR, AT(loglevel), .check = C_LOGLEVEL},
    {"--logfile", 0, "logfile", "LOCUST_LOGFILE", K_STR, AT(logfile)},
    /* Other options */
    {"--version/-V", 'V', "version", NULL, K_BOOL, AT(show_version)},
    {"--exit-code-on-error", 0, "exit-code-on-error", "LOCUST_EXIT_CODE_ON_ERROR", K_INT,
     AT(exit_code_on_error), .min = 0, .max = 255},
    {"-s/--stop-timeout", 's', "stop-timeout", "LOCUST_STOP_TIMEOUT", K_STOP, AT(stop_timeout),
     SECONDS(0)},
    {"--threads", 0, "threads", NULL, K_INT, AT(threads), .min = 1, .max = 1024},
    {"--processes", 0, "processes", "LOCUST_PROCESSES", K_INT, AT(processes), .min = -1,
     .max = 1024},
    {"--insecure", 0, "insecure", NULL, K_BOOL, AT(insecure)},
    {"--ca-file", 0, "ca-file", NULL, K_STR, AT(ca_file)},
    {"--resolver", 0, "resolver", "CICADA_RESOLVER", K_STR, AT(resolver)},
    {"--resolver-timeout", 0, "resolver-timeout", NULL, K_FLOAT, AT(resolver_timeout), .min = 0,
     .max = 600, .min_excl = true},
    /* Monitoring the targets (docs/monitoring.md) */
    {"--monitor", 0, "monitor", NULL, K_APPEND, AT(monitor),
     .count_off = offsetof(opts_t, nmonitor)},
    {"--monitor-interval", 0, "monitor-interval", NULL, K_FLOAT, AT(monitor_interval), .min = 0.1,
     .max = 3600},
};

const struct flag opts_demo_flags[] = {
    {"-h/--help", 'h', "help", NULL, K_HELP, .off = 0},
    {"--bind", 0, "bind", NULL, K_STR, AT(demo_host)},
    {"--port", 0, "port", NULL, K_INT, AT(demo_port), PORT},
    {"--slow-delay", 0, "slow-delay", NULL, K_FLOAT, AT(demo_slow), SECONDS(0)},
    {"--fail-ratio", 0, "fail-ratio", NULL, K_FLOAT, AT(demo_fail_ratio), .min = 0, .max = 1},
};

const size_t opts_nmain_flags = sizeof opts_main_flags / sizeof *opts_main_flags;
const size_t opts_ndemo_flags = sizeof opts_demo_flags / sizeof *opts_demo_flags;
_Static_assert(sizeof opts_main_flags / sizeof *opts_main_flags <= NFLAGS_MAX, "raise NFLAGS_MAX");

void opts_init(opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->locustfile = "locustfile.lua";
    o->users = -1;
    o->spawn_rate = -1;
    o->run_time = -1;
    o->autoquit = -1;
    o->web_host = "127.0.0.1";
    o->web_port = 8089;
    o->web_base_path = "";
    o->loglevel = "INFO";
    o->exit_code_on_error = 1;
    o->exit_code_on_threshold = 3;
    o->stop_timeout = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus < 1 ? 1 : cpus > 1024 ? 1024 : (int)cpus;
    o->master_host = "127.0.0.1";
    o->master_port = 5557;
    o->master_bind_host = "*";
    o->master_bind_port = 5557;
    o->expect_workers = 1;
    o->expect_workers_max_wait = 0;
    o->monitor_interval = 1;
    o->demo_host = "127.0.0.1";
    o->demo_port = 8080;
    o->demo_slow = 0.2;
    o->demo_fail_ratio = 0.1;
}
