/* curve: see curve.h.
 *
 * A certificate file is read the way pyzmq's zmq.auth.load_certificate
 * reads it: line by line, '#' lines skipped, and the first "public-key ="
 * and "secret-key =" lines taken, their value stripped of blanks and
 * quotes; each value must be 40 Z85 characters that decode to 32 bytes.
 *
 * The ZAP handler is a REP socket bound to inproc://zeromq.zap.01 in the
 * master's context; libzmq asks it about every CURVE client after the
 * client proved it holds the secret key of the public key it shows, so
 * comparing that key with the admitted ones is the whole check. Refusals
 * (a key not admitted, a client without CURVE, a wrong master key) are
 * logged through a socket monitor, at most once every 10 s with a count:
 * a refused peer reconnects every 100 ms and must not flood the log. */
#include "dist/curve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define MAX_KEYS 10000
#define LOG_EVERY 10.0 /* s between two warnings about refused peers */

bool curve_available(void)
{
    return zmq_has("curve") != 0;
}

/* ---- certificate files ---- */

static char *strip(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\'' || *s == '"')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\'' || s[n - 1] == '"' ||
                 s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static bool z85_key(const char *s)
{
    uint8_t raw[32];
    return strlen(s) == 40 && zmq_z85_decode(raw, s) != NULL;
}

int curve_load(const char *path, bool need_secret, curve_key_t *k, char *err, size_t n)
{
    memset(k, 0, sizeof *k);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, n, "cannot read the key file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#') continue;
        bool is_pub = strncmp(s, "public-key", 10) == 0, is_sec = strncmp(s, "secret-key", 10) == 0;
        if (!is_pub && !is_sec) continue;
        char *eq = strchr(s, '=');
        char *v = eq ? strip(eq + 1) : "";
        if (!z85_key(v)) {
            snprintf(err, n, "%s:%d: %s is not a key (40 Z85 characters)", path, lineno,
                     is_pub ? "public-key" : "secret-key");
            fclose(f);
            return -1;
        }
        char *dst = is_pub ? k->pub : k->secret;
        if (*dst == '\0') memcpy(dst, v, 41);
    }
    fclose(f);
    if (k->pub[0] == '\0') {
        snprintf(err, n, "%s: no public-key line (make key files with `cicada keygen NAME`)", path);
        return -1;
    }
    if (need_secret && k->secret[0] == '\0') {
        snprintf(err, n,
                 "%s: no secret-key line: give the NAME.key_secret file `cicada keygen` wrote",
                 path);
        return -1;
    }
    if (k->secret[0]) {
        char derived[41];
        if (zmq_curve_public(derived, k->secret) != 0 || strcmp(derived, k->pub) != 0) {
            snprintf(err, n, "%s: its public-key is not the one of its secret-key", path);
            return -1;
        }
    }
    return 0;
}

static int write_cert(const char *path, mode_t mode, const curve_key_t *k, bool secret)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&now));
    fprintf(f, "#   ****  Generated on %s by cicada  ****\n", when);
    if (secret)
        fprintf(f, "#   ZeroMQ CURVE **Secret** Certificate\n"
                   "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n");
    else
        fprintf(f, "#   ZeroMQ CURVE Public Certificate\n"
                   "#   Exchange securely, or use a secure mechanism to verify the contents\n"
                   "#   of this file after exchange.\n");
    fprintf(f, "\nmetadata\ncurve\n    public-key = \"%s\"\n", k->pub);
    if (secret) fprintf(f, "    secret-key = \"%s\"\n", k->secret);
    return fclose(f) == 0 ? 0 : -1;
}

int curve_keygen_main(int argc, char **argv)
{
    if (argc != 3 || argv[2][0] == '-' || argv[2][0] == '\0') {
        fprintf(stderr, "usage: cicada keygen NAME\n"
                        "writes a CURVE key pair: NAME.key (public, give it to the other side)\n"
                        "and NAME.key_secret (keep it; mode 0600)\n");
        return 2;
    }
    if (!curve_available()) {
        fprintf(stderr, "cicada: this libzmq was built without CURVE\n");
        return 1;
    }
    curve_key_t k;
    if (zmq_curve_keypair(k.pub, k.secret) != 0) {
        fprintf(stderr, "cicada: cannot make a key pair: %s\n", zmq_strerror(errno));
        return 1;
    }
    size_t len = strlen(argv[2]) + 16;
    char *pub = xmalloc(len), *sec = xmalloc(len);
    snprintf(pub, len, "%s.key", argv[2]);
    snprintf(sec, len, "%s.key_secret", argv[2]);
    int rc = 0;
    if (write_cert(sec, 0600, &k, true) != 0) {
        fprintf(stderr, "cicada: cannot write %s: %s\n", sec, strerror(errno));
        rc = 1;
    } else if (write_cert(pub, 0644, &k, false) != 0) {
        fprintf(stderr, "cicada: cannot write %s: %s\n", pub, strerror(errno));
        unlink(sec);
        rc = 1;
    } else {
        printf("wrote %s (public key %s) and %s\n", pub, k.pub, sec);
    }
    memset(&k, 0, sizeof k);
    xfree(pub);
    xfree(sec);
    return rc;
}

/* ---- sockets ---- */

int curve_client(void *sock, const curve_key_t *mine, const char *server_pub)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, mine->pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, mine->secret, 40) != 0)
        return -1;
    return 0;
}

struct curve_guard {
    void *sock, *zap, *mon; /* sock: the master's, not ours */
    uint8_t (*keys)[32];
    int nkeys;
    long refused; /* since the last warning */
    double logged_at;
    char last_addr[128], last_why[96];
};

static int add_key_file(curve_guard_t *g, const char *path, char *err, size_t n)
{
    curve_key_t k;
    if (curve_load(path, false, &k, err, n) != 0) return -1;
    if (g->nkeys >= MAX_KEYS) {
        snprintf(err, n, "%s: more than %d worker keys", path, MAX_KEYS);
        return -1;
    }
    g->keys = xrealloc(g->keys, (size_t)(g->nkeys + 1) * sizeof *g->keys);
    zmq_z85_decode(g->keys[g->nkeys++], k.pub);
    return 0;
}

static int load_allowed(curve_guard_t *g, const char *allow, char *err, size_t n)
{
    struct stat sb;
    if (stat(allow, &sb) != 0) {
        snprintf(err, n, "argument --worker-keys: cannot read %s: %s", allow, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) return add_key_file(g, allow, err, n);
    DIR *d = opendir(allow);
    if (d == NULL) {
        snprintf(err, n, "argument --worker-keys: cannot read %s: %s", allow, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".key") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", allow, e->d_name);
        rc = add_key_file(g, path, err, n);
    }
    closedir(d);
    if (rc == 0 && g->nkeys == 0) {
        snprintf(err, n, "argument --worker-keys: no *.key file in %s", allow);
        rc = -1;
    }
    return rc;
}

curve_guard_t *curve_guard_new(void *ctx, void *sock, const curve_key_t *k, const char *allow,
                               char *err, size_t n)
{
    curve_guard_t *g = xcalloc(1, sizeof *g);
    g->sock = sock;
    int one = 1;
    if (!curve_available()) {
        snprintf(err, n, "argument --master-key: this libzmq was built without CURVE");
        goto error;
    }
    if (load_allowed(g, allow, err, n) != 0) goto error;
    g->zap = zmq_socket(ctx, ZMQ_REP);
    if (g->zap == NULL || zmq_bind(g->zap, ZAP_ENDPOINT) != 0) {
        snprintf(err, n, "cannot start the CURVE authenticator: %s", zmq_strerror(errno));
        goto error;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret, 40) != 0) {
        snprintf(err, n, "cannot make the master a CURVE server: %s", zmq_strerror(errno));
        goto error;
    }
    /* ZAP runs only for sockets with a domain set (libzmq 4.3) */
    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "cicada", 6);
    if (zmq_socket_monitor(sock, "inproc://cicada-master-monitor",
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        (g->mon = zmq_socket(ctx, ZMQ_PAIR)) == NULL ||
        zmq_connect(g->mon, "inproc://cicada-master-monitor") != 0) {
        snprintf(err, n, "cannot monitor the master socket: %s", zmq_strerror(errno));
        goto error;
    }
    return g;
error:
    curve_guard_free(g);
    return NULL;
}

void curve_guard_items(curve_guard_t *g, zmq_pollitem_t *items)
{
    items[0] = (zmq_pollitem_t){g->zap, 0, ZMQ_POLLIN, 0};
    items[1] = (zmq_pollitem_t){g->mon, 0, ZMQ_POLLIN, 0};
}

int curve_guard_keys(const curve_guard_t *g)
{
    return g->nkeys;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Count one refused peer, and warn if the last warning is old enough. */
static void refused(curve_guard_t *g, const char *addr, const char *why)
{
    g->refused++;
    snprintf(g->last_addr, sizeof g->last_addr, "%s", addr);
    snprintf(g->last_why, sizeof g->last_why, "%s", why);
    double now = now_s();
    if (g->logged_at > 0 && now - g->logged_at < LOG_EVERY) return;
    log_warn("Refused a worker connection from %s: %s (%ld refused since the last warning; "
             "see --master-key in docs/distributed.md)",
             g->last_addr, g->last_why, g->refused);
    g->logged_at = now;
    g->refused = 0;
}

/* Receive every frame of one message into f (up to max, the rest dropped);
 * returns how many, 0 if nothing was waiting. Close them with close_all. */
static int recv_all(void *s, zmq_msg_t *f, int max)
{
    int nf = 0;
    bool more = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, s, nf ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (nf < max)
            f[nf++] = part;
        else
            zmq_msg_close(&part);
    }
    return nf;
}

static void close_all(zmq_msg_t *f, int nf)
{
    for (int i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
}

static void zap_answer(curve_guard_t *g)
{
    zmq_msg_t f[8];
    int nf;
    while ((nf = recv_all(g->zap, f, 8)) > 0) {
        char addr[64] = "?";
        if (nf > 3) {
            size_t l =
                zmq_msg_size(&f[3]) < sizeof addr - 1 ? zmq_msg_size(&f[3]) : sizeof addr - 1;
            memcpy(addr, zmq_msg_data(&f[3]), l);
            addr[l] = '\0';
        }
        bool ok = false;
        char key[41] = "";
        if (nf >= 7 && zmq_msg_size(&f[6]) == 32) {
            zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
            for (int i = 0; i < g->nkeys && !ok; i++)
                ok = memcmp(g->keys[i], zmq_msg_data(&f[6]), 32) == 0;
        }
        if (!ok) {
            char why[96];
            snprintf(why, sizeof why, "its key %s is not among --worker-keys", key[0] ? key : "?");
            refused(g, addr, why);
        }
        /* the reply: version, request id, status code and text, user id, metadata */
        const char *code = ok ? "200" : "400", *text = ok ? "OK" : "key not admitted";
        zmq_send(g->zap, "1.0", 3, ZMQ_SNDMORE);
        if (nf > 1)
            zmq_send(g->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        else
            zmq_send(g->zap, "", 0, ZMQ_SNDMORE);
        zmq_send(g->zap, code, 3, ZMQ_SNDMORE);
        zmq_send(g->zap, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(g->zap, key, strlen(key), ZMQ_SNDMORE);
        zmq_send(g->zap, "", 0, 0);
        close_all(f, nf);
    }
}

static void monitor_read(curve_guard_t *g)
{
    zmq_msg_t f[2];
    int nf;
    while ((nf = recv_all(g->mon, f, 2)) > 0) {
        uint16_t ev = 0;
        if (zmq_msg_size(&f[0]) >= 2) memcpy(&ev, zmq_msg_data(&f[0]), 2);
        char addr[128] = "?";
        if (nf > 1) {
            size_t l =
                zmq_msg_size(&f[1]) < sizeof addr - 1 ? zmq_msg_size(&f[1]) : sizeof addr - 1;
            memcpy(addr, zmq_msg_data(&f[1]), l);
            addr[l] = '\0';
        }
        /* a key refused by ZAP was counted when it was answered */
        if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            refused(g, addr, "no CURVE, or not the master's public key");
        close_all(f, nf);
    }
}

void curve_guard_handle(curve_guard_t *g)
{
    zap_answer(g);
    monitor_read(g);
}

void curve_guard_free(curve_guard_t *g)
{
    if (g == NULL) return;
    if (g->mon) {
        zmq_socket_monitor(g->sock, NULL, 0);
        zmq_close(g->mon);
    }
    if (g->zap) zmq_close(g->zap);
    xfree(g->keys);
    xfree(g);
}
