/* server: civetweb set-up, Basic auth, TLS and the WebSocket push.
 *
 * civetweb runs a pool of worker threads; every request goes through
 * begin_request(), which checks the credentials first (so /ws is guarded
 * too), then hands plain routes to routes.c and lets civetweb upgrade /ws.
 * civetweb's own authentication is Digest, so Basic is done here: decode
 * the header and compare it with "user:password" in constant time.
 *
 * The push: the runner calls on_tick() on the main thread once a second;
 * it only bumps a counter and signals the pusher thread, which builds the
 * /stats/requests JSON (under runner_lock) and writes it to each client.
 * So the main thread never waits for a slow browser. Two locks, never held
 * together by one thread: tick_lock for the counter, w->lock for the
 * client list (held while writing, which keeps each connection alive
 * until its close handler can take the lock and drop it).
 *
 * TLS: Debian's civetweb crashes on HTTPS connections with OpenSSL 3
 * (tls.h says why), so with --tls-cert/--tls-key civetweb listens on
 * 127.0.0.1 on a port of the kernel's choosing, and tls.c terminates TLS
 * on the user's address and relays to it. */
#include "web/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/log.h"
#include "report/json.h"
#include "web/routes.h"
#include "web/tls.h"

static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- Basic auth ---- */

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

/* Decode base64 s (stopping at '=' or whitespace) into out. Returns the
 * length, or -1 if s is malformed or does not fit. */
static long b64decode(const char *s, unsigned char *out, size_t cap)
{
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '=' && *s != ' ' && *s != '\r' && *s != '\n'; s++) {
        int v = b64val((unsigned char)*s);
        if (v < 0) return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap) return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)n;
}

/* Equal, in a time that depends only on the expected length. */
static bool same(const unsigned char *got, size_t ngot, const char *want)
{
    size_t nwant = strlen(want);
    volatile unsigned char diff = ngot != nwant;
    for (size_t i = 0; i < nwant; i++)
        diff |= (unsigned char)((i < ngot ? got[i] : 0) ^ (unsigned char)want[i]);
    return diff == 0;
}

static bool authorized(struct web *w, struct mg_connection *c)
{
    if (w->auth == NULL) return true;
    const char *h = mg_get_header(c, "Authorization");
    if (h == NULL || strncasecmp(h, "Basic ", 6) != 0) return false;
    h += 6;
    while (*h == ' ')
        h++;
    unsigned char dec[1024];
    long n = b64decode(h, dec, sizeof dec);
    return n >= 0 && same(dec, (size_t)n, w->auth);
}

/* ---- requests ---- */

static int begin_request(struct mg_connection *c)
{
    struct web *w = mg_get_request_info(c)->user_data;
    if (!authorized(w, c)) {
        static const char body[] = "Unauthorized";
        web_reply(c, 401, "text/plain; charset=utf-8",
                  "WWW-Authenticate: Basic realm=\"cicada\"\r\n", body, sizeof body - 1);
        return 401;
    }
    const char *uri = mg_get_request_info(c)->local_uri;
    if (uri && strcmp(uri, "/ws") == 0) return 0; /* civetweb upgrades it */
    return routes_handle(c, w);
}

/* civetweb's last message on this thread: mg_start2() reports "Failed to
 * setup server ports" but logs the reason (the bind error) just before. */
static _Thread_local char last_msg[256];

static int log_message(const struct mg_connection *c, const char *msg)
{
    log_debug("civetweb: %s", msg);
    snprintf(last_msg, sizeof last_msg, "%s", msg);
    return 1; /* handled: civetweb prints nothing itself */
}

/* ---- WebSocket ---- */

/* The current /stats/requests document, compact; the caller frees it. */
static char *snapshot(struct web *w)
{
    runner_lock(w->r);
    cJSON *j = json_stats_requests(w->r);
    runner_unlock(w->r);
    return json_print(j, false);
}

static void ws_ready(struct mg_connection *c, void *ud)
{
    struct web *w = ud;
    /* a new page gets the current numbers at once, not in up to 1 s */
    char *msg = snapshot(w);
    mg_websocket_write(c, MG_WEBSOCKET_OPCODE_TEXT, msg, strlen(msg));
    free(msg);
    pthread_mutex_lock(&w->lock);
    if (w->nclients == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->clients = xrealloc(w->clients, w->cap * sizeof *w->clients);
    }
    w->clients[w->nclients++] = c;
    pthread_mutex_unlock(&w->lock);
}

static int ws_data(struct mg_connection *c, int bits, char *data, size_t len, void *ud)
{
    return 1; /* the page sends nothing we need; keep the connection */
}

static void ws_close(const struct mg_connection *c, void *ud)
{
    struct web *w = ud;
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->nclients; i++)
        if (w->clients[i] == c) {
            w->clients[i] = w->clients[--w->nclients];
            break;
        }
    pthread_mutex_unlock(&w->lock);
}

static void on_tick(void *ud)
{
    struct web *w = ud;
    pthread_mutex_lock(&tick_lock);
    w->ticks++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&tick_lock);
}

static void *push_loop(void *ud)
{
    struct web *w = ud;
    for (;;) {
        pthread_mutex_lock(&tick_lock);
        while (!w->quit && w->ticks == 0)
            pthread_cond_wait(&w->wake, &tick_lock);
        bool quit = w->quit;
        w->ticks = 0;
        pthread_mutex_unlock(&tick_lock);
        if (quit) return NULL;

        pthread_mutex_lock(&w->lock);
        size_t n = w->nclients;
        pthread_mutex_unlock(&w->lock);
        if (n == 0) continue; /* nobody watches: build nothing */
        char *msg = snapshot(w);
        size_t len = strlen(msg);
        pthread_mutex_lock(&w->lock);
        /* a failed write means the client is going; its close handler
         * removes it */
        for (size_t i = 0; i < w->nclients; i++)
            mg_websocket_write(w->clients[i], MG_WEBSOCKET_OPCODE_TEXT, msg, len);
        pthread_mutex_unlock(&w->lock);
        free(msg);
    }
}

/* ---- start and stop ---- */

/* The IPv4 address to listen on: "0.0.0.0" for ""/"*", names resolved
 * (civetweb wants an address). */
static int resolve(const char *host, char *ip, size_t n, char *err, size_t errn)
{
    if (host == NULL || *host == '\0' || strcmp(host, "*") == 0) {
        snprintf(ip, n, "0.0.0.0");
        return 0;
    }
    if (strchr(host, ':')) {
        snprintf(err, errn,
                 "--web-host %s: IPv6 is not supported (Debian's civetweb is built "
                 "without it)",
                 host);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errn, "--web-host %s: %s", host, gai_strerror(rc));
        return -1;
    }
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, (socklen_t)n);
    freeaddrinfo(res);
    return 0;
}

web_t *web_start(const opts_t *o, runner_t *r, char *err, size_t n)
{
    /* like Locust: HTTPS when both are given (opts refuses one alone) */
    bool tls = o->tls_cert && *o->tls_cert && o->tls_key && *o->tls_key;
    struct web *w = xcalloc(1, sizeof *w);
    w->r = r;
    w->o = o;
    w->auth = o->web_auth && *o->web_auth ? o->web_auth : NULL;
    if (o->csv_prefix && o->csv_full_history) {
        size_t len = strlen(o->csv_prefix) + sizeof "_stats_history.csv";
        w->history_path = xmalloc(len);
        snprintf(w->history_path, len, "%s_stats_history.csv", o->csv_prefix);
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);

    char ip[INET_ADDRSTRLEN], ports[64], ebuf[256] = "";
    if (resolve(o->web_host, ip, sizeof ip, err, n) != 0) goto error;
    if (tls) /* civetweb serves plain HTTP to the TLS front only (tls.h) */
        snprintf(ports, sizeof ports, "127.0.0.1:0");
    else
        snprintf(ports, sizeof ports, "%s:%d", ip, o->web_port);
    /* clang-format off */
    const char *conf[] = {"listening_ports", ports,
                          "num_threads", "32",
                          "enable_keep_alive", "yes",
                          "request_timeout_ms", "10000",
                          "websocket_timeout_ms", "30000",
                          "enable_websocket_ping_pong", "yes",
                          NULL};
    /* clang-format on */
    struct mg_callbacks cb = {.begin_request = begin_request, .log_message = log_message};
    struct mg_init_data init = {.callbacks = &cb, .user_data = w, .configuration_options = conf};
    struct mg_error_data ed = {.text = ebuf, .text_buffer_size = sizeof ebuf};
    mg_init_library(0);
    w->lib = true;
    last_msg[0] = '\0';
    w->ctx = mg_start2(&init, &ed);
    if (w->ctx == NULL) {
        bool same_msg = strcmp(last_msg, ebuf) == 0;
        snprintf(err, n, "cannot start the web interface on %s: %s%s%s%s", ports,
                 *ebuf ? ebuf : "unknown error", *last_msg && !same_msg ? ": " : "",
                 same_msg ? "" : last_msg,
                 strstr(ebuf, "ports") ? " (is the port in use, or the address not local?)" : "");
        goto error;
    }
    struct mg_server_port sp;
    int port = mg_get_server_ports(w->ctx, 1, &sp) == 1 ? sp.port : o->web_port;
    if (tls) {
        w->tls = tls_front_start(ip, o->web_port, o->tls_cert, o->tls_key, port, err, n);
        if (w->tls == NULL) goto error;
        port = tls_front_port(w->tls);
    }
    mg_set_websocket_handler(w->ctx, "/ws", NULL, ws_ready, ws_data, ws_close, w);
    if (pthread_create(&w->pusher, NULL, push_loop, w) != 0) {
        snprintf(err, n, "cannot start the web interface's thread");
        goto error;
    }
    w->pusher_started = true;
    runner_on_tick(r, on_tick, w);

    const char *scheme = tls ? "https" : "http";
    if (o->web_host == NULL || *o->web_host == '\0' || strcmp(o->web_host, "*") == 0)
        log_info("Starting web interface at %s://0.0.0.0:%d (accepting connections from all "
                 "network interfaces)",
                 scheme, port);
    else
        log_info("Starting web interface at %s://%s:%d", scheme, o->web_host, port);
    return w;
error:
    web_stop(w);
    return NULL;
}

void web_stop(web_t *w)
{
    if (w == NULL) return;
    runner_on_tick(w->r, NULL, NULL);
    if (w->pusher_started) {
        pthread_mutex_lock(&tick_lock);
        w->quit = true;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&tick_lock);
        pthread_join(w->pusher, NULL);
    }
    tls_front_stop(w->tls);
    if (w->ctx) mg_stop(w->ctx); /* closes the WebSockets: ws_close runs for each */
    if (w->lib) mg_exit_library();
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    xfree(w->clients);
    xfree(w->history_path);
    xfree(w);
}
