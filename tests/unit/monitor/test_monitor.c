/* Unit tests for monitor/monitor.c, series.c and scrape.c: --monitor specs,
 * the CSV rows and JSON of the series, the web UI's target list, and
 * scrape rounds against a local server thread that answers each
 * connection with a canned reply (or not at all). */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "monitor/monitor_int.h"

static void test_spec(void)
{
    monitor_spec_t s;
    char err[256];
    CHECK(monitor_spec("web1=http://10.0.0.5:9100/metrics", &s, err, sizeof err) == 0);
    CHECK(!strcmp(s.name, "web1") && !strcmp(s.host, "10.0.0.5") && !strcmp(s.port, "9100"));
    CHECK(!strcmp(s.path, "/metrics"));
    CHECK(monitor_spec("10.0.0.5:9100", &s, err, sizeof err) == 0);
    CHECK(!strcmp(s.name, "10.0.0.5:9100") && !strcmp(s.path, "/metrics"));
    CHECK(!strcmp(s.url, "http://10.0.0.5:9100"));
    CHECK(monitor_spec("http://h/x?a=b", &s, err, sizeof err) == 0);
    CHECK(!strcmp(s.name, "h:80") && !strcmp(s.path, "/x?a=b"));
    CHECK(monitor_spec("http://h:9100/", &s, err, sizeof err) == 0 && !strcmp(s.path, "/"));
    CHECK(monitor_spec("http://[::1]:9100/metrics", &s, err, sizeof err) == 0);
    CHECK(!strcmp(s.host, "::1") && !strcmp(s.name, "::1:9100"));
    CHECK(monitor_spec("https://h/", &s, err, sizeof err) == -1 && strstr(err, "https"));
    CHECK(monitor_spec("a b=http://h/", &s, err, sizeof err) == -1 && strstr(err, "name"));
    CHECK(monitor_spec("x=", &s, err, sizeof err) == -1);
    CHECK(monitor_spec("ftp://h/", &s, err, sizeof err) == -1 && strstr(err, "'ftp://h/'"));
}

static void test_csv_and_json(void)
{
    struct target t = {.name = "db"};
    monitor_point_t p = {.time = 1700000000.7};
    p.f = (node_fig_t){12.345, 99.999, 0.5, 40, 1234.4, NAN, 0, 5e9, NAN, NAN};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    series_csv_row(f, &t, &p);
    fclose(f);
    CHECK_MSG(!strcmp(buf, "1700000000,db,12.35,100.00,0.50,40.00,1234,,0,5000000000\n"), "%s",
              buf);
    free(buf);
    CHECK(!strncmp(series_csv_header, "Timestamp,Target,CPU %,Busiest core %,", 38));
    cJSON *j = monitor_json(NULL, false);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "targets")) == 0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "fields")) == 11);
    cJSON_Delete(j);
}

static void test_set_text(void)
{
    char err[512];
    const char *none[] = {NULL};
    monitor_t *m = monitor_start(none, 0, 60, NULL, err, sizeof err);
    CHECK(m != NULL && monitor_current() == m);
    CHECK(monitor_set_text(m, "a=http://127.0.0.1:1/\nb=http://127.0.0.1:2/metrics, ", err,
                           sizeof err) == 0);
    CHECK(m->nt == 2 && m->t[0].active && m->t[1].active);
    CHECK(monitor_set_text(m, "b=http://127.0.0.1:2/metrics", err, sizeof err) == 0);
    CHECK(m->nt == 2 && !m->t[0].active && m->t[1].active);
    CHECK(monitor_set_text(m, "b=https://x/", err, sizeof err) == -1 && strstr(err, "monitor: "));
    CHECK(m->t[1].active); /* nothing changed */
    CHECK(monitor_set_text(m, "", err, sizeof err) == 0 && !m->t[1].active);
    const char *ids[] = {"w1"};
    double cpu[] = {50}, rss[] = {1e6};
    monitor_note_workers(m, 1, ids, cpu, rss, 1);
    cJSON *j = monitor_json(m, true);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "targets")) == 2);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "workers")) == 1);
    cJSON_Delete(j);
    monitor_free(m);
    CHECK(monitor_current() == NULL);
}

/* ---- scrape rounds against a local server ---- */

struct server {
    int fd, port;
    const char *reply; /* NULL: accept and stay silent */
    size_t reply_len;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) return NULL;
    char req[2048];
    if (recv(c, req, sizeof req, 0) <= 0) goto done;
    if (s->reply == NULL) {
        usleep(600 * 1000);
        goto done;
    }
    for (size_t off = 0; off < s->reply_len;) {
        ssize_t w = send(c, s->reply + off, s->reply_len - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
done:
    close(c);
    return NULL;
}

static void round_with(const char *reply, size_t len, double timeout, scrape_job_t *j)
{
    struct server s = {.reply = reply, .reply_len = len};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    s.fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(s.fd, (struct sockaddr *)&a, sizeof a);
    listen(s.fd, 4);
    getsockname(s.fd, (struct sockaddr *)&a, &al);
    snprintf(j->host, sizeof j->host, "127.0.0.1");
    snprintf(j->port, sizeof j->port, "%d", ntohs(a.sin_port));
    snprintf(j->path, sizeof j->path, "/metrics");
    j->resolved = false;
    pthread_t th;
    pthread_create(&th, NULL, serve, &s);
    scrape_job_t *jobs[] = {j};
    scrape_round(jobs, 1, timeout, -1);
    shutdown(s.fd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(s.fd);
}

static void test_scrape(void)
{
    scrape_job_t j = {.fd = -1};
    const char ok[] = "HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nnode_load1 1";
    round_with(ok, sizeof ok - 1, 2, &j);
    CHECK_MSG(j.ok && j.body_len == 12 && !memcmp(j.body, "node_load1 1", 12), "%s", j.why);
    const char short_[] = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nnode_load1 1";
    round_with(short_, sizeof short_ - 1, 2, &j);
    CHECK(!j.ok && strstr(j.why, "Content-Length"));
    const char nf[] = "HTTP/1.0 404 Not Found\r\n\r\nno";
    round_with(nf, sizeof nf - 1, 2, &j);
    CHECK(!j.ok && strstr(j.why, "404"));
    const char junk[] = "<html>hello</html>";
    round_with(junk, sizeof junk - 1, 2, &j);
    CHECK(!j.ok && strstr(j.why, "not an HTTP answer"));
    size_t big = SCRAPE_MAX + 100000;
    char *huge = malloc(big);
    memset(huge, 'x', big);
    memcpy(huge, "HTTP/1.0 200 OK\r\n\r\n", 19);
    round_with(huge, big, 5, &j);
    CHECK_MSG(!j.ok && strstr(j.why, "over 4 MB"), "%s", j.why);
    CHECK(j.cap <= SCRAPE_MAX); /* the buffer never grew past the cap */
    free(huge);
    round_with(NULL, 0, 0.3, &j);
    CHECK_MSG(!j.ok && strstr(j.why, "timeout"), "%s", j.why);
    /* nobody listening */
    snprintf(j.port, sizeof j.port, "1");
    j.resolved = false;
    scrape_job_t *jobs[] = {&j};
    scrape_round(jobs, 1, 1, -1);
    CHECK_MSG(!j.ok && strstr(j.why, "connect"), "%s", j.why);
    scrape_job_free(&j);
}

int main(void)
{
    test_spec();
    test_csv_and_json();
    test_set_text();
    test_scrape();
    return check_done();
}
