/* test_config: config files through opts_parse(), one case per rule.
 *
 * The test makes a scratch directory with a home/ inside, points HOME at
 * it and changes into the directory, so ~/.locust.conf, ./locust.conf and
 * ./pyproject.toml are the ones each case writes (and removes). LOCUST_*
 * variables are cleared first; cases that use one set and unset it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cli/opts.h"

static opts_t o;
static char err[512];

static int parse(const char *first, ...)
{
    static char *argv[32];
    int argc = 0;
    argv[argc++] = "cicada";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return opts_parse(&o, argc, argv, err, sizeof err);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL) return;
    fputs(text, f);
    fclose(f);
}

static void clean(void)
{
    unlink("home/.locust.conf");
    unlink("locust.conf");
    unlink("pyproject.toml");
    unlink("extra.conf");
    unlink("extra.toml");
    unsetenv("LOCUST_USERS");
    unsetenv("LOCUST_HEADLESS");
}

#define HAS(piece) CHECK_MSG(strstr(err, piece) != NULL, "'%s' lacks '%s'", err, piece)

/* Each source over the one before it: defaults < ~/.locust.conf <
 * ./locust.conf < ./pyproject.toml < --config < LOCUST_* < command line. */
static void test_precedence(void)
{
    CHECK(parse(NULL) == 0 && o.users == -1);
    put("home/.locust.conf", "users = 1\nspawn-rate = 7\n");
    CHECK(parse(NULL) == 0 && o.users == 1 && o.spawn_rate == 7);
    put("locust.conf", "users = 2\n");
    CHECK(parse(NULL) == 0 && o.users == 2 && o.spawn_rate == 7);
    put("pyproject.toml", "[tool.locust]\nusers = 3\n");
    CHECK(parse(NULL) == 0 && o.users == 3);
    put("extra.conf", "users = 4\n");
    CHECK(parse("--config", "extra.conf", NULL) == 0 && o.users == 4);
    CHECK(parse("--config=extra.conf", NULL) == 0 && o.users == 4);
    setenv("LOCUST_USERS", "5", 1);
    CHECK(parse("--config", "extra.conf", NULL) == 0 && o.users == 5);
    CHECK(parse("--config", "extra.conf", "-u", "6", NULL) == 0 && o.users == 6);
    unsetenv("LOCUST_USERS");
    CHECK(parse("-u", "6", NULL) == 0 && o.users == 6);
    CHECK(o.spawn_rate == 7); /* untouched by the later sources */
    clean();
}

static void test_values(void)
{
    put("locust.conf", "# comment\n; comment too\n[section ignored]\nheadless\n"
                       "host = \"http://127.0.0.1:1\"  # inline\nrun-time: 1m30s\n"
                       "tags = [a, 'b', \"c\"]\n--exclude-tags = [x]\nthreads = 3\n"
                       "stop-timeout = 2.5\ncsv = out/x\ncsv-full-history = yes\n"
                       "--loglevel WARNING\nlogfile   x.log\n");
    CHECK_MSG(parse(NULL) == 0, "%s", err);
    CHECK(o.headless && strcmp(o.host, "http://127.0.0.1:1") == 0 && o.run_time == 90);
    CHECK(o.ntags == 3 && strcmp(o.tags[1], "b") == 0 && strcmp(o.tags[2], "c") == 0);
    CHECK(o.nexclude_tags == 1 && strcmp(o.exclude_tags[0], "x") == 0);
    CHECK(o.threads == 3 && o.stop_timeout == 2.5 && o.csv_full_history);
    CHECK(strcmp(o.csv_prefix, "out/x") == 0);
    CHECK(strcmp(o.loglevel, "WARNING") == 0 && strcmp(o.logfile, "x.log") == 0);
    /* a list from the command line replaces the file's (not added to it) */
    CHECK(parse("-T", "z", NULL) == 0 && o.ntags == 1 && strcmp(o.tags[0], "z") == 0);
    /* TOML: arrays, booleans, numbers, cicada-only keys */
    put("pyproject.toml", "[tool.locust]\ntags = [\"p\", \"q\"]\nheadless = false\n"
                          "processes = 2\n");
    CHECK_MSG(parse(NULL) == 0, "%s", err);
    CHECK(o.ntags == 2 && strcmp(o.tags[0], "p") == 0 && !o.headless && o.threads == 2);
    /* booleans: a later file's false turns off an earlier true; the
     * variable beats both */
    setenv("LOCUST_HEADLESS", "true", 1);
    CHECK(parse(NULL) == 0 && o.headless);
    clean();
}

static void test_errors(void)
{
    put("locust.conf", "users = 1\nbogus = 2\n");
    CHECK(parse(NULL) == 2);
    HAS("cicada: error: locust.conf:2: unknown key 'bogus'");
    /* even when the command line sets everything else */
    CHECK(parse("-u", "3", NULL) == 2);
    HAS("locust.conf:2");
    put("locust.conf", "\n\nusers = many\n");
    CHECK(parse(NULL) == 2);
    HAS("argument -u/--users: invalid int value: 'many' (from locust.conf:3)");
    put("locust.conf", "u = 1\n");
    CHECK(parse(NULL) == 2);
    HAS("locust.conf:1: unknown key 'u'"); /* long names only, as Locust */
    put("locust.conf", "users = [1, 2]\n");
    CHECK(parse(NULL) == 2);
    HAS("takes one value, not a list");
    put("locust.conf", "headless = maybe\n");
    CHECK(parse(NULL) == 2);
    HAS("locust.conf:1");
    put("locust.conf", "config = other.conf\n");
    CHECK(parse(NULL) == 2);
    HAS("command line only");
    put("locust.conf", "[unclosed\n");
    CHECK(parse(NULL) == 2);
    HAS("locust.conf:1: cannot parse");
    unlink("locust.conf");
    put("home/.locust.conf", "spawn-rate = 1\nspawnrate = 1\n");
    CHECK(parse(NULL) == 2);
    HAS("home/.locust.conf:2: unknown key 'spawnrate'");
    unlink("home/.locust.conf");
    put("pyproject.toml", "[project]\nname = \"x\"\n[tool.locust]\nuser = 5\n");
    CHECK(parse(NULL) == 2);
    HAS("pyproject.toml:4: unknown key 'user'");
    put("pyproject.toml", "[tool.locust]\nusers = 0x10\n");
    CHECK(parse(NULL) == 2);
    HAS("pyproject.toml:2: unsupported value");
    unlink("pyproject.toml");
    CHECK(parse("--config", "missing.conf", NULL) == 2);
    HAS("cannot read missing.conf");
    put("extra.toml", "[tool.locust]\nweb-login = true\n");
    CHECK(parse("--config", "extra.toml", NULL) == 2);
    HAS("--web-auth");
    /* --help reads no file (Locust's order too) */
    put("locust.conf", "bogus = 1\n");
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    CHECK(parse("--help", NULL) == 1);
    fclose(stdout);
    stdout = saved;
    /* demo-server reads none either */
    CHECK(parse("demo-server", NULL) == 0);
    clean();
}

/* The flags of Locust after 2.12.1, from the command line. */
static void test_recent_flags(void)
{
    CHECK(parse("-i", "3", NULL) == 0 && o.iterations == 3);
    CHECK(parse("--iterations=7", NULL) == 0 && o.iterations == 7);
    CHECK(parse(NULL) == 0 && o.iterations == 0);
    CHECK(parse("-i", "-1", NULL) == 2);
    HAS("-i/--iterations");
    CHECK(parse("--processes", "3", NULL) == 0 && o.threads == 3 && o.processes == 3);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(parse("--processes", "-1", NULL) == 0 && o.threads == (cpus > 1024 ? 1024 : cpus));
    CHECK(parse("--processes", "2", "--threads", "2", NULL) == 2);
    HAS("not allowed with --threads");
    CHECK(parse("--processes", "0", NULL) == 2);
    CHECK(parse("--web-base-path", "/locust/", NULL) == 0 &&
          strcmp(o.web_base_path, "/locust") == 0);
    CHECK(parse("--web-base-path", "/a/b-c", NULL) == 0 && strcmp(o.web_base_path, "/a/b-c") == 0);
    CHECK(parse("--web-base-path", "/", NULL) == 0 && strcmp(o.web_base_path, "") == 0);
    CHECK(parse(NULL) == 0 && strcmp(o.web_base_path, "") == 0);
    CHECK(parse("--web-base-path", "locust", NULL) == 2);
    HAS("--web-base-path: invalid value 'locust'");
    CHECK(parse("--web-base-path", "/a b", NULL) == 2);
    CHECK(parse("--web-base-path", "/a//b", NULL) == 2);
    CHECK(parse("--web-base-path", "/a?b", NULL) == 2);
    CHECK(parse("--web-login", NULL) == 2);
    HAS("use --web-auth USER:PASSWORD");
    setenv("LOCUST_WEB_BASE_PATH", "/env", 1);
    CHECK(parse(NULL) == 0 && strcmp(o.web_base_path, "/env") == 0);
    unsetenv("LOCUST_WEB_BASE_PATH");
    setenv("LOCUST_ITERATIONS", "4", 1);
    CHECK(parse(NULL) == 0 && o.iterations == 4);
    unsetenv("LOCUST_ITERATIONS");
}

int main(void)
{
    char dir[] = "/tmp/cicada-config-XXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) != 0) return 1;
    if (system("mkdir home") != 0) return 1;
    char home[64];
    snprintf(home, sizeof home, "%s/home", dir);
    setenv("HOME", home, 1);
    extern char **environ;
    for (char **e = environ; *e;)
        if (strncmp(*e, "LOCUST_", 7) == 0) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
            unsetenv(name);
            e = environ;
        } else {
            e++;
        }
    test_precedence();
    test_values();
    test_errors();
    test_recent_flags();
    clean();
    rmdir("home");
    if (chdir("/") != 0) return 1;
    rmdir(dir);
    return check_done();
}
