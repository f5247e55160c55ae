/* scrape: one round of plain-HTTP GETs to many exporters at once.
 *
 * scrape_round() starts a non-blocking connection to every job, sends
 * "GET path HTTP/1.0" (HTTP/1.0: the answer is never chunked and ends when
 * the server closes), and waits in a small epoll loop of its own until
 * every answer is complete or the timeout has passed, whichever comes
 * first. An answer is accepted only if it is "HTTP/1.x 200", is no longer
 * than SCRAPE_MAX bytes (a longer one is cut off and counted as failed)
 * and, with a Content-Length, is complete. It runs on the monitor's
 * thread; it never touches the engines. It does not speak TLS: an
 * exporter is plain HTTP (monitor_spec refuses https:// up front). */
#ifndef CICADA_SCRAPE_H
#define CICADA_SCRAPE_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define SCRAPE_MAX (4 << 20) /* bytes of one answer, headers included */

/* One exporter's exchange. The caller fills host, port and path once;
 * the rest is scrape_round's. buf is grown as needed up to SCRAPE_MAX and
 * kept for the next round (free it with scrape_job_free). */
typedef struct scrape_job {
    char host[256], port[8], path[512];
    /* filled by scrape_round */
    struct sockaddr_storage addr; /* resolved once, again after a failure */
    socklen_t addrlen;
    bool resolved;
    int fd;
    int state;
    char *buf;
    size_t len, cap, sent, reqlen;
    char req[900];
    bool ok;          /* the round's outcome */
    const char *body; /* ok: the body, inside buf */
    size_t body_len;
    char why[200]; /* !ok: why, for the console */
} scrape_job_t;

/* Scrape every job, waiting at most timeout seconds in all. Returns after
 * each job has ok set (body, body_len) or cleared (why). wake_fd, if >= 0,
 * is an eventfd that ends the round early when readable (the jobs still
 * waiting fail with "stopped"). */
void scrape_round(scrape_job_t **jobs, size_t n, double timeout, int wake_fd);

/* Free a job's buffer and close its socket if open. */
void scrape_job_free(scrape_job_t *j);

#endif
