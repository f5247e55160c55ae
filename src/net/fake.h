/* fake: a scripted transport behind the seam of net.h, for unit tests of
 * what sits on it (the HTTP client, cosockets) without sockets, a loop or
 * a server.
 *
 * A fake net_t has no loop. Each sock_connect() on it opens the next
 * "peer" (0, 1, 2... in the order of the connects), which the test may
 * script before or after: the bytes the peer sends (handed out at most
 * `chunk` at a time, so chunk = 1 gives a read per byte), a RETRY before
 * each read if `again` (EAGAIN), and what follows the bytes (nothing yet,
 * the end of the stream, or a reset). What the owner writes lands in the
 * peer's `out`. The test drives the owner's state machine itself, calling
 * its readiness handler (s->io.fn) as the loop would after an edge.
 *
 * Nothing here is thread-safe or fast; it is for tests only. */
#ifndef CICADA_FAKE_H
#define CICADA_FAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "net/net.h"

enum fake_end {
    FAKE_OPEN,  /* after the bytes: RETRY (nothing yet) */
    FAKE_EOF,   /* after the bytes: the end of the stream */
    FAKE_RESET, /* after the bytes: ERROR, ECONNRESET */
};

typedef struct fake_peer {
    /* script: set by the test */
    size_t chunk; /* bytes per read at most; 0: as many as fit */
    bool again;   /* a RETRY before every read that has bytes to give */
    enum fake_end end;
    int connect_err;    /* connect fails with this errno (0: succeeds) */
    bool connect_later; /* connect answers RETRY; connected() then OK */
    int write_err;      /* writes fail with this errno (0: they succeed) */
    /* state: read by the test */
    buf_t in; /* what the peer sends (fake_send), consumed from in_off */
    size_t in_off;
    buf_t out;    /* what the owner wrote */
    bool open;    /* connected and not closed */
    bool tls;     /* sock_tls ran on it */
    bool retried; /* the last read was a RETRY (for `again`) */
    int reads;    /* read calls that returned bytes */
    int calls;    /* read calls, whatever they returned */
} fake_peer_t;

/* A fake transport context; free with fake_net_free. */
net_t *fake_net_new(void);
void fake_net_free(net_t *n);

/* The k-th connection opened on n (0-based), made on first mention so that
 * a test can script it before the connect. Owned by n. */
fake_peer_t *fake_peer(net_t *n, int k);
/* How many connects were made on n. */
int fake_connects(const net_t *n);

/* The peer sends len bytes (appended to what it has not sent yet). */
void fake_send(fake_peer_t *p, const char *s, size_t len);

#endif
