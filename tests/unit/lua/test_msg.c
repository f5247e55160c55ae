/* Unit tests for lua/msg: the exact msgpack that cicada.send_message puts
 * on the wire for each kind of Lua value (what a Python peer will decode:
 * int vs float, str vs bin, list vs dict, nil), the Lua values a received
 * frame turns into (bin, nil inside arrays and maps, nil keys, ext), the
 * sink's arguments, cicada.workers() with many workers, the local round
 * trip without a sink, and the registry of names. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "lua/msg.h"

static unsigned char sent[256];
static size_t nsent;
static char sent_name[64], sent_client[64];

static const char *capture(void *ud, const char *name, const void *data, size_t len,
                           const char *client_id)
{
    (void)ud;
    nsent = len < sizeof sent ? len : sizeof sent;
    memcpy(sent, data, nsent);
    snprintf(sent_name, sizeof sent_name, "%s", name);
    snprintf(sent_client, sizeof sent_client, "%s", client_id ? client_id : "(none)");
    return strcmp(name, "refused") == 0 ? "refused here" : NULL;
}

/* 100 workers: more than cicada.workers() has room for at first */
static size_t hundred(void *ud, char (*ids)[MSG_MAX_ID], size_t max)
{
    (void)ud;
    for (size_t i = 0; i < 100 && i < max; i++)
        snprintf(ids[i], MSG_MAX_ID, "w%zu", i);
    return 100;
}

static lua_State *new_vm(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    msg_open(L, NULL);
    lua_setglobal(L, "cicada");
    /* the prelude's dispatcher, reduced to recording what it got */
    if (luaL_dostring(L, "function cicada._on_message(n, d, id) GOT_N, GOT_D, GOT_ID = n, d, id "
                         "return n ~= 'unhandled' end"))
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    return L;
}

/* Run Lua code that calls cicada.send_message; true if it ran. */
static bool run(lua_State *L, const char *code)
{
    if (luaL_dostring(L, code) == 0) return true;
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return false;
}

static bool sent_is(const char *code, const unsigned char *want, size_t n, lua_State *L)
{
    nsent = 0;
    if (!run(L, code)) return false;
    if (nsent != n || memcmp(sent, want, n) != 0) {
        fprintf(stderr, "%s: got", code);
        for (size_t i = 0; i < nsent; i++)
            fprintf(stderr, " %02x", sent[i]);
        fputc('\n', stderr);
        return false;
    }
    return true;
}

static void test_encoding(void)
{
    lua_State *L = new_vm();
    msg_sink_t s = {.send = capture};
    msg_set_sink(&s);
#define SENT(code, ...)                                                                            \
    do {                                                                                           \
        static const unsigned char w[] = {__VA_ARGS__};                                            \
        CHECK(sent_is("cicada.send_message('m', " code ")", w, sizeof w, L));                      \
    } while (0)
    SENT("42", 0x2a);
    SENT("-7", 0xf9);
    SENT("1.5", 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0);
    SENT("2^53", 0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0);
    SENT("true", 0xc3);
    SENT("nil", 0xc0);
    SENT("cicada.null", 0xc0);
    SENT("'\\195\\169'", 0xa2, 0xc3, 0xa9);  /* UTF-8: str */
    SENT("'\\255'", 0xc4, 0x01, 0xff);       /* not UTF-8: bin */
    SENT("'a\\0b'", 0xa3, 'a', 0, 'b');      /* NUL is valid UTF-8 */
    SENT("{}", 0x90);                        /* the empty table: [] */
    SENT("{1, 'x'}", 0x92, 0x01, 0xa1, 'x'); /* a sequence: a list */
    SENT("{1, cicada.null, 3}", 0x93, 0x01, 0xc0, 0x03);
    SENT("{a = 1}", 0x81, 0xa1, 'a', 0x01); /* a dict */
    SENT("{[2] = 1}", 0x81, 0x02, 0x01);    /* not 1..n: a dict */
    SENT("{[1.5] = true}", 0x81, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc3);
    SENT("0/0 ~= 0/0 and 1/0", 0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0); /* inf: a float */
    CHECK(strcmp(sent_name, "m") == 0 && strcmp(sent_client, "(none)") == 0);
    CHECK(run(L, "cicada.send_message('m', 1, 'w1')"));
    CHECK(strcmp(sent_client, "w1") == 0);
    /* a refusal comes back as nil, reason */
    CHECK(run(L, "R1, R2 = cicada.send_message('refused', 1)"));
    lua_getglobal(L, "R1");
    lua_getglobal(L, "R2");
    CHECK(lua_isnil(L, -2) && lua_isstring(L, -1) &&
          strcmp(lua_tostring(L, -1), "refused here") == 0);
    lua_pop(L, 2);
    /* what cannot travel raises before the sink sees anything */
    nsent = 0;
    CHECK(luaL_dostring(L, "cicada.send_message('m', { x = { print } })") != 0);
    CHECK(strstr(lua_tostring(L, -1), "cannot send data.x[1] (a function)") != NULL);
    lua_pop(L, 1);
    CHECK(nsent == 0);
    msg_set_sink(NULL);
    lua_close(L);
}

/* A frame [name, data, node_id] around the msgpack bytes of data. */
static size_t frame(unsigned char *out, const char *name, const unsigned char *data, size_t n)
{
    size_t k = 0, nl = strlen(name);
    out[k++] = 0x93;
    out[k++] = (unsigned char)(0xa0 | nl);
    memcpy(out + k, name, nl);
    k += nl;
    memcpy(out + k, data, n);
    k += n;
    out[k++] = 0xa2;
    out[k++] = 'w';
    out[k++] = '1';
    return k;
}

static void test_decoding(void)
{
    lua_State *L = new_vm();
    unsigned char buf[128];
    /* [bin "\xff", nil, {nil: 1, "k": nil}, ext] */
    static const unsigned char d[] = {0x94, 0xc4, 0x01, 0xff, 0xc0, 0x82, 0xc0,
                                      0x01, 0xa1, 'k',  0xc0, 0xd4, 0x01, 0x00};
    size_t n = frame(buf, "m", d, sizeof d);
    CHECK(msg_deliver(L, buf, n));
    CHECK(run(L, "assert(GOT_N == 'm' and GOT_ID == 'w1')\n"
                 "assert(#GOT_D == 4 and GOT_D[1] == '\\255')\n"
                 "assert(GOT_D[2] == cicada.null)\n"
                 "local nk = 0 for _ in pairs(GOT_D[3]) do nk = nk + 1 end\n"
                 "assert(nk == 1 and GOT_D[3].k == cicada.null)\n"
                 "assert(GOT_D[4] == cicada.null)"));
    /* nil as the whole data is nil, not cicada.null */
    static const unsigned char nil[] = {0xc0};
    n = frame(buf, "m", nil, 1);
    CHECK(msg_deliver(L, buf, n));
    CHECK(run(L, "assert(GOT_D == nil)"));
    /* no handler in this VM; a frame that is not [str, any, str] */
    n = frame(buf, "unhandled", nil, 1);
    CHECK(!msg_deliver(L, buf, n));
    static const unsigned char bad[] = {0x92, 0xa1, 'm', 0xc0};
    CHECK(!msg_deliver(L, bad, sizeof bad));
    CHECK(!msg_deliver(L, "\xc1", 1));
    lua_close(L);
}

static void test_local_and_registry(void)
{
    lua_State *L = new_vm();
    msg_set_sink(NULL);
    /* without a sink the message goes to this VM's own handler, after the
     * same round trip: a table with a hole goes as a map, keys kept */
    CHECK(run(L, "cicada.send_message('loc', { 1, nil, 3, n = 'x' })\n"
                 "assert(GOT_N == 'loc' and GOT_ID == 'local')\n"
                 "assert(GOT_D[1] == 1 and GOT_D[3] == 3 and GOT_D.n == 'x')"));
    CHECK(run(L, "assert(cicada.role == 'local' and cicada.thread_index == 0)\n"
                 "assert(#cicada.workers() == 0)"));
    CHECK(luaL_dostring(L, "cicada.send_message('', 1)") != 0);
    lua_pop(L, 1);
    msg_sink_t s = {.send = capture, .clients = hundred};
    msg_set_sink(&s);
    CHECK(run(L,
              "local w = cicada.workers() assert(#w == 100 and w[1] == 'w0' and w[100] == 'w99')"));
    msg_set_sink(NULL);
    CHECK(!msg_registered("ping"));
    CHECK(run(L, "cicada._msg_register('ping')"));
    CHECK(msg_registered("ping"));
    CHECK(!msg_registered("pong"));
    lua_close(L);
}

int main(void)
{
    test_encoding();
    test_decoding();
    test_local_and_registry();
    return check_done();
}
