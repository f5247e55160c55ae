/* Unit tests for the cosocket's receive buffering (lua/cosocket.c: take,
 * recv_step), what tests/fuzz/fuzz_ws.c found in it, driven as that target
 * does: the .c is included to reach recv_step, and the connection runs on
 * the fake transport (net/fake.h), whose bytes "arrive" when the test says
 * so.
 *  - A WebSocket header (or any receive(n)) announcing 2 GB made the
 *    buffer reserve 2 GB (4 GB after rounding up) before a byte of it came:
 *    the buffer now grows with what arrives.
 *  - The first read on a new connection computed NULL + 0 (undefined;
 *    clang's UBSan reports it, gcc's does not). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lua/cosocket.c"

#include <lauxlib.h>
#include <lualib.h>

#include "net/fake.h"

#include "check.h"

static pool_t pool;       /* no engine: retiring frees at once */
static net_t *net;        /* the fake transport: bytes arrive when the test says */
static fake_peer_t *peer; /* the other end of the newest connection */
static bool feed_eof;

static cosock_t *conn(void)
{
    cosock_t *s = cosock_new(&pool, net, false, "test");
    peer = fake_peer(net, fake_connects(net));
    CHECK(sock_connect(&s->sock, NULL, 0, SOCK_STREAM) == NET_OK);
    return s;
}

static void arrive(const char *p, size_t n)
{
    fake_send(peer, p, n);
    peer->end = feed_eof ? FAKE_EOF : FAKE_OPEN;
}

static void test_claimed_size(void)
{
    lua_State *L = luaL_newstate();
    cosock_t *s = conn();
    s->rmode = R_SIZE;
    s->want = (size_t)0x7fffffff + 4; /* a 127-length WebSocket header's most */
    arrive("only a little", 13);
    CHECK(recv_step(s, L) == -1); /* waits for more */
    CHECK_MSG(s->rbuf.cap <= 64 * 1024, "reserved %zu bytes for 13", s->rbuf.cap);

    /* a big receive that does arrive still completes, in a buffer that
     * grew with the data (about twice it at most) */
    cosock_t *t = conn();
    size_t big = 3 * 1024 * 1024 + 7;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7);
    t->rmode = R_SIZE;
    t->want = big;
    int r = -1;
    for (size_t off = 0; off < big && r < 0; off += 5000) {
        arrive(data + off, big - off < 5000 ? big - off : 5000);
        r = recv_step(t, L);
    }
    CHECK(r == 1);
    size_t l;
    const char *got = lua_tolstring(L, -1, &l);
    CHECK(got && l == big && memcmp(got, data, big) == 0);
    CHECK_MSG(t->rbuf.cap <= 2 * big + 64 * 1024, "buffer %zu for %zu", t->rbuf.cap, big);
    free(data);
    cosock_retire(s);
    cosock_retire(t);
    lua_close(L);
}

static void test_first_read(void)
{
    lua_State *L = luaL_newstate();
    enum rmode modes[] = {R_LINE, R_SIZE, R_UNTIL, R_ALL};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        cosock_t *s = conn();
        s->rmode = modes[i];
        s->want = 4;
        buf_set(&s->pat, "\r\n", 2);
        CHECK(s->rbuf.p == NULL);
        arrive("", 0);
        feed_eof = false;
        CHECK(recv_step(s, L) == -1); /* nothing yet: take() ran on the empty buffer */
        feed_eof = true;
        arrive("ab\r\ncd", 6);
        int n = recv_step(s, L);
        CHECK(n >= 1);
        lua_settop(L, 0);
        if (modes[i] == R_ALL) CHECK(s->eof);
        cosock_retire(s); /* every read above completed: s is still open */
        feed_eof = false;
    }
    /* EOF before anything was read: nil, "closed", "" */
    cosock_t *s = conn();
    s->rmode = R_SIZE;
    s->want = 2;
    feed_eof = true;
    arrive("", 0);
    CHECK(recv_step(s, L) == 3);
    CHECK(lua_isnil(L, 1) && strcmp(lua_tostring(L, 2), "closed") == 0);
    CHECK(lua_objlen(L, 3) == 0);
    lua_close(L);
}

int main(void)
{
    pool.refs = 1; /* never freed: it is static */
    net = fake_net_new();
    test_claimed_size();
    test_first_read();
    fake_net_free(net);
    return check_done();
}
