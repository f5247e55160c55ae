/* main: parse the command line and hand over to the right part: the demo
 * site, a class listing, or a load test (headless for now; the web UI and
 * master/worker modes come in later parts). */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "base/log.h"
#include "cli/opts.h"
#include "demo/demo.h"
#include "engine/runner.h"

#define CICADA_VERSION "0.1.0"

/* Many users need many sockets: raise the soft limit to the hard one. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static opts_t o;
    char err[1024];
    int rc = opts_parse(&o, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc != 0) {
        fprintf(stderr, "usage: cicada [options] [UserClass ...]  (see cicada --help)\n%s\n", err);
        return 2;
    }
    if (o.show_version) {
        printf("cicada %s\n", CICADA_VERSION);
        return 0;
    }
    enum log_level level = LOG_INFO;
    if (o.loglevel) log_parse_level(o.loglevel, &level);
    log_set_level(level);
    if (o.logfile && log_set_file(o.logfile) != 0) {
        fprintf(stderr, "cicada: error: argument --logfile: cannot open '%s'\n", o.logfile);
        return 2;
    }
    if (o.command && strcmp(o.command, "demo-server") == 0)
        return demo_run(o.demo_host, o.demo_port, o.demo_slow, o.demo_fail_ratio);
    raise_fd_limit();
    if (o.list_classes) return runner_list(&o);
    if (o.master || o.worker) {
        fprintf(stderr, "cicada: --master/--worker are not available yet\n");
        return 2;
    }
    if (o.html_file || o.json_file) {
        fprintf(stderr, "cicada: --html and --json reports are not available yet\n");
        return 2;
    }
    if (!o.headless && !o.autostart)
        log_info("the web UI is not available yet: running headless");
    runner_t *r = runner_new(&o);
    if (r == NULL) return 1;
    int code = runner_run(r);
    runner_free(r);
    return code;
}
