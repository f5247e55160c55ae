/* help: the text of `cicada --help` and `cicada demo-server --help`.
 *
 * Plain text kept apart from the parser so that both stay short. The groups
 * and their order follow Locust's own help (common, web UI, master, worker,
 * tags, request statistics, logging, other, user classes); cicada's own
 * flags sit in the group they belong to and say so. Flags Locust has and
 * cicada does not (--show-task-ratio, ...) are absent, and so is
 * --web-login, which is refused with a message saying what to use. When a flag is added to the
 * table in opts.c it must be added here too; tests/unit/cli/test_opts.c checks that every flag is
 * mentioned. */
#include <stdio.h>

#include "cli/opts.h"

#define DEMO_USAGE                                                                                 \
    "cicada demo-server [--bind HOST] [--port N] [--slow-delay SECONDS] [--fail-ratio R]\n"

static const char usage[] = "usage: cicada [OPTIONS] [UserClass ...]\n"
                            "       " DEMO_USAGE;

static const char main_help[] =
    "\n"
    "A load tester with Locust's command line; scenarios are written in Lua.\n"
    "Flags that Locust reads from LOCUST_* environment variables read them here too.\n"
    "Config files as Locust's: ~/.locust.conf < ./locust.conf < ./pyproject.toml <\n"
    "--config FILE < LOCUST_* variables < the command line, which wins.\n"
    "\n"
    "Common options:\n"
    "  -h, --help            show this help message and exit\n"
    "  -f, --locustfile LOCUSTFILE\n"
    "                        Lua file with the user classes (default: locustfile.lua)\n"
    "  -H, --host HOST       host to load test, e.g. http://10.21.32.33\n"
    "  -u, --users NUMBER    peak number of concurrent users, 0 to 100000000 and within\n"
    "                        the memory available (headless default: 1)\n"
    "  -r, --spawn-rate RATE users started per second, above 0 and at most 1000000\n"
    "                        (headless default: 1)\n"
    "  --arrival-rate RATE   the open model: start RATE task iterations per second in all\n"
    "                        (across workers), each on a free user; -u is then the most\n"
    "                        users at once (made on demand), -r and wait_time unused\n"
    "  -t, --run-time TIME   stop after this long, e.g. 300s, 20m, 3h, 1h30m, at most 8760h\n"
    "                        (default: forever)\n"
    "  -l, --list            show the list of available user classes and exit\n"
    "  -i, --iterations N    stop each user after N tasks; the run ends when all have\n"
    "                        (default: 0, no limit)\n"
    "  --config FILE         read flags from this file after ~/.locust.conf, ./locust.conf\n"
    "                        and ./pyproject.toml ([tool.locust]); keys are the long flag\n"
    "                        names, e.g. spawn-rate = 5\n"
    "\n"
    "Web UI options:\n"
    "  --web-host WEB_HOST   host to bind the web interface to (default: 127.0.0.1)\n"
    "  --web-port, -P WEB_PORT\n"
    "                        port of the web interface (default: 8089)\n"
    "  --headless            no web interface: start at once, print stats to the console\n"
    "  --autostart           start the test at once, keeping the web interface\n"
    "  --class-picker        choose the user classes, their weights and fixed counts in the\n"
    "                        web interface's start form\n"
    "  --autoquit SECONDS    with --autostart: quit this long after the run ends (default: stay)\n"
    "  --web-auth USER:PASSWORD\n"
    "                        turn on basic authentication for the web interface\n"
    "  --web-base-path PATH  serve the web interface under this path, e.g. /locust\n"
    "  --tls-cert FILE       TLS certificate for serving the web interface over HTTPS\n"
    "  --tls-key FILE        TLS private key for serving the web interface over HTTPS\n"
    "  --metrics-bind HOST:PORT\n"
    "                        serve Prometheus metrics at /metrics on HOST:PORT, headless\n"
    "                        too (the web interface serves /metrics on its own port)\n"
    "\n"
    "Master options:\n"
    "  --master              run as the master that workers connect to\n"
    "  --master-bind-host HOST\n"
    "                        interface the master binds to (default: *, all)\n"
    "  --master-bind-port PORT\n"
    "                        port the master binds to (default: 5557)\n"
    "  --expect-workers N    with --headless: wait for N workers before starting (default: 1)\n"
    "  --expect-workers-max-wait SECONDS\n"
    "                        give up waiting for workers after this long (default: 0, forever)\n"
    "  --master-key FILE     cicada: CURVE (encrypted, authenticated): the master's key pair,\n"
    "                        NAME.key_secret as `cicada keygen NAME` writes it\n"
    "  --worker-keys PATH    cicada: with --master-key: the workers admitted, a NAME.key file or\n"
    "                        a directory of them\n"
    "\n"
    "Worker options:\n"
    "  --worker              run as a worker, taking orders from a master\n"
    "  --master-host HOST    host of the master to connect to (default: 127.0.0.1)\n"
    "  --master-port PORT    port of the master to connect to (default: 5557)\n"
    "  --worker-key FILE     cicada: CURVE: this worker's key pair (NAME.key_secret)\n"
    "  --master-public-key FILE\n"
    "                        cicada: with --worker-key: the master's public key (its NAME.key)\n"
    "\n"
    "Tag options:\n"
    "  -T, --tags [TAG ...]  run only the tasks with one of these tags (comma or space separated)\n"
    "  -E, --exclude-tags [TAG ...]\n"
    "                        run only the tasks with none of these tags\n"
    "\n"
    "Request statistics options:\n"
    "  --csv CSV_PREFIX      write the statistics to CSV files with this prefix\n"
    "  --csv-full-history    add a row per request name to PREFIX_stats_history.csv each\n"
    "                        second (--csv alone writes its Aggregated rows) (needs --csv)\n"
    "  --print-stats         print the stats table in the console while the UI runs\n"
    "  --only-summary        with --headless: print only the final summary, not every 2 s\n"
    "  --reset-stats         reset the statistics once spawning has finished\n"
    "  --html FILE           write an HTML report to this file at the end\n"
    "  --json                print the final statistics as JSON to stdout (the console\n"
    "                        tables go to stderr then)\n"
    "  --json-file PREFIX    write the final statistics as JSON to PREFIX.json\n"
    "  --summary-json FILE   write cicada's end-of-run summary (totals, every row with its\n"
    "                        percentiles, thresholds, exit code) to FILE (cicada)\n"
    "\n"
    "Threshold options (cicada):\n"
    "  --threshold EXPR      a pass/fail rule METRIC[(NAME)] OP NUMBER, e.g. 'p95<200',\n"
    "                        'p99(/cart)<=500', 'fail_ratio<0.01', 'rps>100'; repeatable\n"
    "  --exit-code-on-threshold CODE\n"
    "                        exit code when a threshold failed (default: 3)\n"
    "\n"
    "Logging options:\n"
    "  --loglevel, -L LEVEL  DEBUG, INFO, WARNING, ERROR or CRITICAL (default: INFO)\n"
    "  --logfile FILE        write the log to this file instead of stderr\n"
    "\n"
    "Other options:\n"
    "  --version, -V         show the program's version number and exit\n"
    "  --exit-code-on-error CODE\n"
    "                        exit code when the test had failures or errors (default: 1)\n"
    "  -s, --stop-timeout SECONDS\n"
    "                        let running tasks finish for up to this long on stop (default: 0)\n"
    "  --threads N           event-loop threads running the users (default: CPUs) (cicada)\n"
    "  --processes N         Locust's worker processes: here the same as --threads N\n"
    "                        (-1: one per CPU)\n"
    "  --insecure            do not verify the target's TLS certificates (cicada)\n"
    "  --ca-file FILE        verify TLS certificates against this PEM bundle instead of\n"
    "                        the system's CA store (cicada)\n"
    "  --resolver IP[:PORT]  send DNS queries to this server instead of\n"
    "                        /etc/resolv.conf's (cicada)\n"
    "  --resolver-timeout SECONDS\n"
    "                        give up on a name lookup after this long (default: 5) (cicada)\n"
    "\n"
    "Monitoring the targets (cicada; docs/monitoring.md):\n"
    "  --monitor [NAME=]URL  scrape this node_exporter (http://HOST:9100/metrics) during the\n"
    "                        run and show its CPU, memory, network and disk beside the\n"
    "                        load; repeat for more targets\n"
    "  --monitor-interval SECONDS\n"
    "                        how often to scrape, also the scrape timeout (default: 1)\n"
    "\n"
    "User classes:\n"
    "  UserClass             run only these user classes (default: all of them)\n"
    "\n"
    "Commands:\n"
    "  demo-server           serve the demo website the examples test; see\n"
    "                        `cicada demo-server --help`\n"
    "  keygen NAME           write a CURVE key pair for --master-key/--worker-key: NAME.key\n"
    "                        (public) and NAME.key_secret (mode 0600)\n";

static const char demo_about[] =
    "\n"
    "Serve the demo website that examples/ load test: fast pages, a slow page and\n"
    "pages that fail a share of the time. (cicada)\n";

static const char demo_options[] =
    "  -h, --help            show this help message and exit\n"
    "  --bind HOST           address to listen on (default: 127.0.0.1)\n"
    "  --port N              port to listen on (default: 8080)\n"
    "  --slow-delay SECONDS  how long the slow page takes (default: 0.2)\n"
    "  --fail-ratio R        share of failing-page requests that fail, 0 to 1 (default: 0.1)\n";

void opts_help(void)
{
    fputs(usage, stdout);
    fputs(main_help, stdout);
    fputs("\ndemo-server options:\n", stdout);
    fputs(demo_options, stdout);
}

void opts_help_demo(void)
{
    fputs("usage: " DEMO_USAGE, stdout);
    fputs(demo_about, stdout);
    fputs("\nOptions:\n", stdout);
    fputs(demo_options, stdout);
}
