/* test_opts: the command line, through opts_parse() and opts_timespan() only.
 *
 * Each case builds an argv, parses it into a fresh opts_t and checks the
 * fields, or the return code and that the error names the flag and value.
 * LOCUST_* variables are cleared first so the outside environment cannot
 * leak in; cases that test them set and unset their own. The help text is
 * captured through a pipe-free temporary file to check every flag is there. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cli/opts.h"

extern char **environ;

static opts_t o;
static char err[512];

/* Parse a NULL-terminated list of words after "cicada". */
static int parse(const char *first, ...)
{
    static char *argv[96];
    int argc = 0;
    argv[argc++] = "cicada";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 95; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return opts_parse(&o, argc, argv, err, sizeof err);
}

static bool has(const char *s)
{
    return strstr(err, s) != NULL;
}

/* A usage error whose message contains both pieces. */
#define BAD(piece1, piece2, ...)                                                                   \
    do {                                                                                           \
        int r_ = parse(__VA_ARGS__, NULL);                                                         \
        CHECK_MSG(r_ == 2 && has("cicada: error: ") && has(piece1) && has(piece2), "%s", err);     \
    } while (0)

static void clear_locust_env(void)
{
    for (;;) {
        char **e = environ;
        while (*e && strncmp(*e, "LOCUST_", 7) != 0)
            e++;
        if (*e == NULL) return;
        char name[128];
        size_t len = strcspn(*e, "=");
        snprintf(name, sizeof name, "%.*s", (int)len, *e);
        unsetenv(name);
    }
}

static void test_defaults(void)
{
    CHECK(parse(NULL) == 0);
    CHECK(o.command == NULL);
    CHECK(strcmp(o.locustfile, "locustfile.lua") == 0);
    CHECK(o.host == NULL);
    CHECK(o.users == -1 && o.spawn_rate == -1 && o.run_time == -1);
    CHECK(!o.headless && !o.autostart && o.autoquit == -1);
    CHECK(strcmp(o.web_host, "127.0.0.1") == 0 && o.web_port == 8089);
    CHECK(o.web_auth == NULL && o.tls_cert == NULL && o.tls_key == NULL);
    CHECK(o.csv_prefix == NULL && !o.csv_full_history && !o.print_stats && !o.only_summary &&
          !o.reset_stats);
    CHECK(o.html_file == NULL && o.json_file == NULL);
    CHECK(strcmp(o.loglevel, "INFO") == 0 && o.logfile == NULL);
    CHECK(o.exit_code_on_error == 1 && o.stop_timeout == 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(o.threads == (cpus < 1 ? 1 : cpus > 1024 ? 1024 : cpus));
    CHECK(!o.list_classes && !o.show_version && !o.master && !o.worker);
    CHECK(strcmp(o.master_host, "127.0.0.1") == 0 && o.master_port == 5557);
    CHECK(strcmp(o.master_bind_host, "*") == 0 && o.master_bind_port == 5557);
    CHECK(o.expect_workers == 1 && o.expect_workers_max_wait == 0);
    CHECK(o.ntags == 0 && o.nexclude_tags == 0 && o.nclasses == 0);
    CHECK(strcmp(o.demo_host, "127.0.0.1") == 0 && o.demo_port == 8080);
    CHECK(o.demo_slow == 0.2 && o.demo_fail_ratio == 0.1);
    CHECK(err[0] == '\0');
}

/* --threshold: repeatable, each rule checked; a bad one is named. */
static void test_thresholds(void)
{
    CHECK(parse("--threshold", "p95<200", "--threshold=fail_ratio < 0.01", NULL) == 0);
    CHECK(o.nthresholds == 2 && strcmp(o.thresholds[0], "p95<200") == 0 &&
          strcmp(o.thresholds[1], "fail_ratio < 0.01") == 0);
    CHECK(o.exit_code_on_threshold == 3);
    CHECK(parse("--exit-code-on-threshold", "9", NULL) == 0 && o.exit_code_on_threshold == 9);
    CHECK(parse("--exit-code-on-threshold", "256", NULL) == 2);
    CHECK(parse("--threshold", "p96<200", NULL) == 2);
    CHECK_MSG(strstr(err, "--threshold") && strstr(err, "'p96<200'") &&
                  strstr(err, "unknown metric"),
              "%s", err);
    CHECK(parse("--threshold", "p95", NULL) == 2 && strstr(err, "'p95'"));
    CHECK(parse("--threshold", NULL) == 2 && strstr(err, "expected one argument"));
    CHECK(parse("--json", "--summary-json", "s.json", NULL) == 0 && o.json_stdout &&
          strcmp(o.summary_json, "s.json") == 0 && o.json_file == NULL);
    CHECK(parse("--json=x", NULL) == 2 && strstr(err, "ignored explicit argument"));
}

static void test_every_flag(void)
{
    int r = parse("-f", "a.lua", "-H", "http://x", "-u", "10", "-r", "2.5", "-t", "1m30s",
                  "--headless", "--autostart", "--autoquit", "5", "--web-host", "0.0.0.0", "-P",
                  "9000", "--web-auth", "u:p", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--csv",
                  "out", "--csv-full-history", "--print-stats", "--only-summary", "--reset-stats",
                  "--html", "r.html", "--json", "--json-file", "r", "-L", "debug", "--logfile",
                  "log.txt", "--exit-code-on-error", "3", "-s", "7", "--threads", "4", "-l", "-V",
                  "--master", "--master-bind-host", "10.0.0.1", "--master-bind-port", "6000",
                  "--expect-workers", "3", "--expect-workers-max-wait", "30", "-T", "a,b", "-E",
                  "c", "--", "Web", "Api", NULL);
    CHECK_MSG(r == 0, "%s", err);
    CHECK(strcmp(o.locustfile, "a.lua") == 0 && strcmp(o.host, "http://x") == 0);
    CHECK(o.users == 10 && o.spawn_rate == 2.5 && o.run_time == 90);
    CHECK(o.headless && o.autostart && o.autoquit == 5);
    CHECK(strcmp(o.web_host, "0.0.0.0") == 0 && o.web_port == 9000 &&
          strcmp(o.web_auth, "u:p") == 0);
    CHECK(strcmp(o.tls_cert, "c.pem") == 0 && strcmp(o.tls_key, "k.pem") == 0);
    CHECK(strcmp(o.csv_prefix, "out") == 0 && o.csv_full_history && o.print_stats &&
          o.only_summary);
    CHECK(o.reset_stats && strcmp(o.html_file, "r.html") == 0 && o.json_stdout &&
          strcmp(o.json_file, "r") == 0);
    CHECK(strcmp(o.loglevel, "debug") == 0 && strcmp(o.logfile, "log.txt") == 0);
    CHECK(o.exit_code_on_error == 3 && o.stop_timeout == 7 && o.threads == 4);
    CHECK(o.list_classes && o.show_version && o.master && !o.worker);
    CHECK(strcmp(o.master_bind_host, "10.0.0.1") == 0 && o.master_bind_port == 6000);
    CHECK(o.expect_workers == 3 && o.expect_workers_max_wait == 30);
    CHECK(o.ntags == 2 && strcmp(o.tags[0], "a") == 0 && strcmp(o.tags[1], "b") == 0);
    CHECK(o.nexclude_tags == 1 && strcmp(o.exclude_tags[0], "c") == 0);
    CHECK(o.nclasses == 2 && strcmp(o.classes[0], "Web") == 0 && strcmp(o.classes[1], "Api") == 0);

    r = parse("--worker", "--master-host", "m.local", "--master-port", "7000", NULL);
    CHECK(r == 0 && o.worker && strcmp(o.master_host, "m.local") == 0 && o.master_port == 7000);
}

static void test_forms(void)
{
    /* --flag=value, -xVALUE, -x=VALUE, long and short spellings. */
    CHECK(parse("--users=5", "--spawn-rate=0.5", "--run-time=2h", "--host=h", "--locustfile=x.lua",
                NULL) == 0);
    CHECK(o.users == 5 && o.spawn_rate == 0.5 && o.run_time == 7200 && strcmp(o.host, "h") == 0);
    CHECK(strcmp(o.locustfile, "x.lua") == 0);
    CHECK(parse("-u7", "-r=3", "-t30", "--web-port", "8000", "--loglevel=WARNING", NULL) == 0);
    CHECK(o.users == 7 && o.spawn_rate == 3 && o.run_time == 30 && o.web_port == 8000);
    CHECK(strcmp(o.loglevel, "WARNING") == 0);
    CHECK(parse("--stop-timeout=1m", "--list", "--version", NULL) == 0);
    CHECK(o.stop_timeout == 60 && o.list_classes && o.show_version);
    CHECK(parse("-s", "2.5", NULL) == 0 && o.stop_timeout == 2.5);
    /* bundled short flags, abbreviations, positional classes between flags */
    CHECK(parse("-lV", NULL) == 0 && o.list_classes && o.show_version);
    CHECK(parse("-lu", "4", NULL) == 0 && o.list_classes && o.users == 4);
    CHECK(parse("--head", "--only", NULL) == 0 && o.headless && o.only_summary);
    CHECK(parse("A", "-u", "1", "B", NULL) == 0 && o.nclasses == 2 &&
          strcmp(o.classes[1], "B") == 0);
    /* a value may itself start with "-" only as a negative number */
    CHECK(parse("--autoquit", "-1", NULL) == 0 && o.autoquit == -1);
    /* Tags: comma or space separated, following words, repeated. */
    CHECK(parse("-T", "a", "b,c", "-T", "d e", "--exclude-tags=x,y", "-E", "z", NULL) == 0);
    CHECK(o.ntags == 5 && strcmp(o.tags[2], "c") == 0 && strcmp(o.tags[4], "e") == 0);
    CHECK(o.nexclude_tags == 3 && strcmp(o.exclude_tags[2], "z") == 0);
    CHECK(parse("--tags=a", "Cls", NULL) == 0 && o.ntags == 1 && o.nclasses == 1);
    CHECK(parse("-T", "--headless", NULL) == 0 && o.ntags == 0 && o.headless);
    CHECK(parse("-T", ",,a,, ,", NULL) == 0 && o.ntags == 1 && strcmp(o.tags[0], "a") == 0);
}

static void test_demo_server(void)
{
    CHECK(parse("demo-server", NULL) == 0 && strcmp(o.command, "demo-server") == 0);
    CHECK(o.demo_port == 8080 && o.demo_slow == 0.2 && o.demo_fail_ratio == 0.1);
    CHECK(parse("demo-server", "--bind", "0.0.0.0", "--port=9090", "--slow-delay", "1.5",
                "--fail-ratio", "0", NULL) == 0);
    CHECK(strcmp(o.demo_host, "0.0.0.0") == 0 && o.demo_port == 9090 && o.demo_slow == 1.5);
    CHECK(o.demo_fail_ratio == 0);
    CHECK(parse("demo-server", "--fail-ratio", "1", NULL) == 0 && o.demo_fail_ratio == 1);
    BAD("--fail-ratio", "'1.5'", "demo-server", "--fail-ratio", "1.5");
    BAD("--fail-ratio", "'-0.1'", "demo-server", "--fail-ratio", "-0.1");
    BAD("--port", "'0'", "demo-server", "--port", "0");
    BAD("--port", "'70000'", "demo-server", "--port", "70000");
    BAD("--slow-delay", "invalid float value: 'x'", "demo-server", "--slow-delay", "x");
    BAD("--slow-delay", "'-1'", "demo-server", "--slow-delay", "-1");
    BAD("unrecognized arguments", "-u", "demo-server", "-u", "5");
    BAD("unrecognized arguments", "Cls", "demo-server", "Cls");
    /* the subcommand only counts as the first word */
    CHECK(parse("-u", "1", "demo-server", NULL) == 0 && o.command == NULL && o.nclasses == 1);
}

/* Issue 8 item 5/14: every number has a stated range (base/limits.h), and
 * a value out of it is a usage error naming the flag, never an overflow. */
static void test_ranges(void)
{
    BAD("argument -t/--run-time: invalid value '999999999h'",
        "(must be between 0 and 31536000 seconds (365 days))", "-t", "999999999h");
    BAD("argument -t/--run-time", "'8761h'", "-t", "8761h");
    CHECK(parse("-t", "8760h", NULL) == 0 && o.run_time == 8760 * 3600.0);
    BAD("argument -u/--users: invalid value '100000001'", "100000000", "-u", "100000001");
    CHECK(parse("-u", "100000000", NULL) == 0 && o.users == 100000000);
    BAD("argument -u/--users", "'99999999999999999999'", "-u", "99999999999999999999");
    BAD("argument -r/--spawn-rate: invalid value '1e25'",
        "(must be greater than 0 and at most 1000000)", "-r", "1e25");
    CHECK(parse("-r", "1000000", NULL) == 0 && o.spawn_rate == 1e6);
    BAD("argument -s/--stop-timeout: invalid value '1e300'", "365 days", "-s", "1e300");
    BAD("argument -s/--stop-timeout", "'-1'", "-s", "-1");
    BAD("argument -s/--stop-timeout", "'9000h'", "-s", "9000h");
    BAD("argument --autoquit: invalid value '99999999999'", "365 days", "--autoquit",
        "99999999999");
    BAD("argument --autoquit", "'-2'", "--autoquit", "-2");
    BAD("argument --expect-workers-max-wait", "'1e10'", "--expect-workers-max-wait", "1e10");
    BAD("argument --expect-workers", "'0'", "--expect-workers", "0");
    static char host[1100];
    memcpy(host, "http://", 7);
    memset(host + 7, 'a', sizeof host - 8);
    BAD("argument -H/--host: the host is 1099 characters long", "(at most 1023)", "-H", host);
    host[1023] = '\0';
    CHECK(parse("-H", host, NULL) == 0 && strlen(o.host) == 1023);
    /* the same ranges for the LOCUST_* variables */
    setenv("LOCUST_RUN_TIME", "999999h", 1);
    BAD("argument -t/--run-time", "(from LOCUST_RUN_TIME)", "--headless");
    unsetenv("LOCUST_RUN_TIME");
    BAD("argument --slow-delay", "'1e12'", "demo-server", "--slow-delay", "1e12");
}

static void test_errors(void)
{
    BAD("argument -u/--users: invalid int value: 'abc'", "", "-u", "abc");
    BAD("argument -u/--users", "'-5'", "-u", "-5");
    BAD("argument -u/--users: expected one argument", "", "-u");
    BAD("argument -u/--users: expected one argument", "", "-u", "--headless");
    BAD("argument -u/--users: invalid int value: ''", "", "--users=");
    BAD("argument -u/--users: invalid int value: '5.5'", "", "-u", "5.5");
    /* too large for a long: a range error, never a saturated 9.2e18 */
    BAD("argument -u/--users: invalid value '99999999999999999999999'",
        "(must be between 0 and 100000000)", "-u", "99999999999999999999999");
    BAD("argument -r/--spawn-rate", "'0'", "-r", "0");
    BAD("argument -r/--spawn-rate", "'-2'", "-r", "-2");
    BAD("argument -r/--spawn-rate: invalid float value: 'fast'", "", "-r", "fast");
    BAD("argument -r/--spawn-rate: invalid float value: 'nan'", "", "-r", "nan");
    BAD("argument -t/--run-time: invalid time span '5x' (valid: 20, 20s, 3m, 2h, 1h20m, 3h30m10s)",
        "", "-t", "5x");
    BAD("unrecognized arguments: --foo", "", "--foo");
    BAD("unrecognized arguments: --foo -x --bar=1", "", "--foo", "-x", "-u", "1", "--bar=1");
    BAD("ambiguous option: --web", "--web-host", "--web", "x");
    BAD("argument --web-port/-P", "'0'", "-P", "0");
    BAD("argument --web-port/-P", "'65536'", "--web-port", "65536");
    BAD("argument --master-port", "'99999'", "--master-port", "99999");
    BAD("argument --master-bind-port", "'-1'", "--master-bind-port", "-1");
    BAD("argument --threads", "'0'", "--threads", "0");
    BAD("argument --threads", "'1025'", "--threads", "1025");
    CHECK(parse("--threads", "1024", NULL) == 0 && o.threads == 1024);
    CHECK(parse("--threads", "1", NULL) == 0 && o.threads == 1);
    BAD("argument --csv-full-history: requires --csv", "", "--csv-full-history");
    BAD("--master", "--worker", "--master", "--worker");
    BAD("argument --loglevel/-L: invalid choice: 'LOUD'", "DEBUG", "-L", "LOUD");
    BAD("argument --web-auth", "'userpass'", "--web-auth", "userpass");
    BAD("argument --tls-cert: requires --tls-key", "", "--tls-cert", "c.pem");
    BAD("argument --tls-key: requires --tls-cert", "", "--tls-key", "k.pem");
    BAD("argument --headless: ignored explicit argument 'yes'", "", "--headless=yes");
    BAD("argument -l/--list: ignored explicit argument 'x'", "", "-lx");
    BAD("argument --exit-code-on-error", "'256'", "--exit-code-on-error", "256");
    BAD("argument --expect-workers", "'0'", "--expect-workers", "0");
    BAD("argument --expect-workers-max-wait", "'-3'", "--expect-workers-max-wait", "-3");
    BAD("argument --autoquit", "'-2'", "--autoquit", "-2");
    BAD("argument -s/--stop-timeout", "'soon'", "-s", "soon");
    BAD("argument -s/--stop-timeout", "'-1'", "-s", "-1");
    /* a NULL or zero-size err buffer is allowed */
    char *argv[] = {"cicada", "-u", "x", NULL};
    CHECK(opts_parse(&o, 3, argv, NULL, 0) == 2);
}

static void test_env(void)
{
    setenv("LOCUST_LOCUSTFILE", "env.lua", 1);
    setenv("LOCUST_HOST", "http://env", 1);
    setenv("LOCUST_USERS", "50", 1);
    setenv("LOCUST_SPAWN_RATE", "5", 1);
    setenv("LOCUST_RUN_TIME", "10m", 1);
    setenv("LOCUST_HEADLESS", "true", 1);
    setenv("LOCUST_CSV", "envcsv", 1);
    setenv("LOCUST_CSV_FULL_HISTORY", "1", 1);
    setenv("LOCUST_TAGS", "t1 t2,t3", 1);
    setenv("LOCUST_LOGLEVEL", "ERROR", 1);
    setenv("LOCUST_WEB_PORT", "8100", 1);
    setenv("LOCUST_MASTER_NODE_HOST", "mh", 1);
    setenv("LOCUST_MASTER_NODE_PORT", "6001", 1);
    setenv("LOCUST_STOP_TIMEOUT", "3", 1);
    setenv("LOCUST_EXIT_CODE_ON_ERROR", "0", 1);
    CHECK_MSG(parse(NULL) == 0, "%s", err);
    CHECK(strcmp(o.locustfile, "env.lua") == 0 && strcmp(o.host, "http://env") == 0);
    CHECK(o.users == 50 && o.spawn_rate == 5 && o.run_time == 600 && o.headless);
    CHECK(strcmp(o.csv_prefix, "envcsv") == 0 && o.csv_full_history);
    CHECK(o.ntags == 3 && strcmp(o.tags[2], "t3") == 0);
    CHECK(strcmp(o.loglevel, "ERROR") == 0 && o.web_port == 8100);
    CHECK(strcmp(o.master_host, "mh") == 0 && o.master_port == 6001);
    CHECK(o.stop_timeout == 3 && o.exit_code_on_error == 0);

    /* the command line wins, flag by flag; lists are replaced, not merged */
    CHECK(parse("-f", "cli.lua", "-u", "2", "--run-time=1h", "-T", "x", "--csv", "c", NULL) == 0);
    CHECK(strcmp(o.locustfile, "cli.lua") == 0 && o.users == 2 && o.run_time == 3600);
    CHECK(o.ntags == 1 && strcmp(o.tags[0], "x") == 0 && strcmp(o.csv_prefix, "c") == 0);
    CHECK(o.spawn_rate == 5 && strcmp(o.host, "http://env") == 0);
    clear_locust_env();

    /* a bad variable is an error that names the flag and the variable... */
    setenv("LOCUST_USERS", "many", 1);
    BAD("argument -u/--users: invalid int value: 'many'", "LOCUST_USERS", "-r", "1");
    /* ...unless the command line overrides it */
    CHECK(parse("-u", "3", NULL) == 0 && o.users == 3);
    clear_locust_env();

    setenv("LOCUST_HEADLESS", "no", 1);
    CHECK(parse(NULL) == 0 && !o.headless);
    setenv("LOCUST_HEADLESS", "YES", 1);
    CHECK(parse(NULL) == 0 && o.headless);
    setenv("LOCUST_HEADLESS", "maybe", 1);
    BAD("--headless", "'maybe'", "-u", "1");
    setenv("LOCUST_HEADLESS", "", 1);
    CHECK(parse(NULL) == 0 && !o.headless);
    clear_locust_env();

    setenv("LOCUST_RUN_TIME", "5x", 1);
    BAD("argument -t/--run-time: invalid time span '5x'", "LOCUST_RUN_TIME", "-u", "1");
    clear_locust_env();

    /* rules across flags see the environment too */
    setenv("LOCUST_MODE_MASTER", "1", 1);
    BAD("--master", "--worker", "--worker");
    clear_locust_env();
    setenv("LOCUST_CSV_FULL_HISTORY", "true", 1);
    BAD("--csv-full-history", "--csv", "-u", "1");
    clear_locust_env();

    /* demo-server does not read LOCUST_* */
    setenv("LOCUST_USERS", "bad", 1);
    CHECK(parse("demo-server", NULL) == 0);
    clear_locust_env();
}

static void test_timespan(void)
{
    static const struct {
        const char *s;
        double want;
    } good[] = {
        {"20", 20},      {"20s", 20},         {"3m", 180},     {"2h", 7200},
        {"1h30m", 5400}, {"3h30m10s", 12610}, {"1h20m", 4800}, {"0", 0},
        {"1m30s", 90},   {"2h5s", 7205},      {"90m", 5400},
    };
    static const char *bad[] = {"5x", "-1", "",   "1m1h", "1h1h", "h",      "1.5", "1.5h", "1h30",
                                " 5", "5 ", "1H", "m30s", "1hm",  "1h 30m", "+5",  "1e3"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        double d = -1;
        CHECK_MSG(opts_timespan(good[i].s, &d) == 0 && d == good[i].want, "'%s' -> %g", good[i].s,
                  d);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double d = -7;
        CHECK_MSG(opts_timespan(bad[i], &d) == -1 && d == -7, "'%s' accepted", bad[i]);
    }
    double d;
    CHECK(opts_timespan(NULL, &d) == -1);
    CHECK(parse("-t", "-1", NULL) == 2 && has("-t/--run-time") && has("'-1'"));
}

/* Run f with stdout sent to a temporary file and return what it wrote. */
static char *capture(void (*f)(void))
{
    static char buf[16384];
    FILE *tmp = tmpfile();
    fflush(stdout);
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    f();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    return buf;
}

static void help_via_parse(void)
{
    CHECK(parse("-u", "1", "--help", "--bogus", NULL) == 1);
}

static void demo_help_via_parse(void)
{
    CHECK(parse("demo-server", "-h", NULL) == 1);
}

static void test_help(void)
{
    static const char *flags[] = {
        "-f, --locustfile",
        "-H, --host",
        "-u, --users",
        "-r, --spawn-rate",
        "-t, --run-time",
        "-l, --list",
        "-i, --iterations",
        "--config FILE",
        "--web-base-path",
        "--processes",
        "-V",
        "-L",
        "-T, --tags",
        "-E, --exclude-tags",
        "-s, --stop-timeout",
        "-P",
        "--headless",
        "--autostart",
        "--autoquit",
        "--web-host",
        "--web-port",
        "--web-auth",
        "--tls-cert",
        "--tls-key",
        "--csv ",
        "--csv-full-history",
        "--print-stats",
        "--only-summary",
        "--reset-stats",
        "--html",
        "--json ",
        "--json-file",
        "--summary-json",
        "--threshold",
        "--exit-code-on-threshold",
        "--loglevel",
        "--logfile",
        "--exit-code-on-error",
        "--threads",
        "--master ",
        "--worker",
        "--master-host",
        "--master-port",
        "--master-bind-host",
        "--master-bind-port",
        "--expect-workers ",
        "--expect-workers-max-wait",
        "--version",
        "-h, --help",
        "demo-server",
        "--bind",
        "--port",
        "--slow-delay",
        "--fail-ratio",
        "Common options:",
        "Web UI options:",
        "Master options:",
        "Worker options:",
        "Tag options:",
        "Request statistics options:",
        "Logging options:",
        "Other options:",
    };
    char *text = capture(opts_help);
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        CHECK_MSG(strstr(text, flags[i]) != NULL, "help lacks '%s'", flags[i]);
    text = capture(help_via_parse);
    CHECK(strncmp(text, "usage: cicada", 13) == 0 && strstr(text, "--web-port") != NULL);
    text = capture(demo_help_via_parse);
    CHECK(strncmp(text, "usage: cicada demo-server", 25) == 0 &&
          strstr(text, "--fail-ratio") != NULL);
    CHECK(strstr(text, "--web-port") == NULL);
}

int main(void)
{
    clear_locust_env();
    test_defaults();
    test_every_flag();
    test_thresholds();
    test_forms();
    test_demo_server();
    test_errors();
    test_ranges();
    test_env();
    test_timespan();
    test_help();
    return check_done();
}
