/* fuzz_ws: libFuzzer target for the WebSocket frame reader a scenario uses:
 * OpenResty's lua-resty-websocket (Debian's lua-nginx-websocket, pure
 * Lua: client:recv_frame, and the handshake's receiveuntil("\r\n\r\n"))
 * running in a cicada VM on a real cicada cosocket, fed by the fuzzer.
 *
 * Why this target: cicada has no WebSocket frame reader in C. The web UI's
 * frames are read by civetweb (not cicada's code), and a scenario's client
 * is that Lua library, which parses frames with sock:receive(n) and
 * sock:receiveuntil(). What cicada itself brings to hostile frames is the
 * code under those calls: the cosocket's receive buffering in
 * src/lua/cosocket.c (take, recv_step, recv_fail: partial data, a frame
 * split anywhere across reads, a length claimed but never sent, EOF) and
 * the Lua methods in src/lua/cosocket_lua.c, plus the VM and ngx shim the
 * library runs in. So the target drives exactly that stack: the library's
 * own code, unmodified, over a cicada tcp object and its connection. This
 * file includes cosocket.c to reach recv_step and puts a transport of its
 * own under it (net/net.h's seam, reading from the fuzzer's bytes: a
 * socketpair cost two syscalls a piece and capped the target at a few
 * thousand execs/s), and plays the engine's loop: when a receive
 * parks the coroutine, it lets the next piece of the stream "arrive" (or
 * the close, at the end), runs the read step as on_io() does, and resumes
 * the coroutine.
 *
 * Input: byte 0 chooses how the stream is cut into pieces (0: one piece;
 * n: pseudo-random sizes 1..n), byte 1 the client's max_payload_len (bits
 * 0-1) and the mode (bit 2); the rest is what the server sends: a
 * handshake response, then frames. In the second mode the stream starts
 * with a count k (mod 16) and k op bytes instead: a sequence of raw
 * receives (line, n bytes, all, until a pattern -- whole, inclusive, or in
 * chunks of n) that lua-resty-websocket does not use but other drivers do,
 * checked against a model of the stream (what each returns, and what is
 * left for the next).
 *
 * Invariants checked besides "no crash, no sanitizer report, no Lua
 * error": the header is the stream up to the first CRLFCRLF (or, without
 * one, the call fails with "closed" and the whole stream as partial data);
 * then every frame's result (payload, type, close code or "again") equals
 * what an independent C reading of RFC 6455 with the library's rules gives,
 * and the first failure happens at the same frame -- however the stream
 * was cut.
 *
 * Build: make fuzz. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The stream's bytes that have "arrived" and not been read yet. */
static const uint8_t *feed;
static size_t feed_avail;
static bool feed_eof;

#include "lua/cosocket.c"

/* The transport's read: what has arrived, the end once feed_eof. */
static net_status_t feed_read(sock_t *s, char *buf, size_t n, size_t *got)
{
    *got = 0;
    if (feed_avail == 0) return feed_eof ? NET_OK : NET_RETRY;
    if (n > feed_avail) n = feed_avail;
    memcpy(buf, feed, n);
    feed += n;
    feed_avail -= n;
    *got = n;
    return NET_OK;
}

static void feed_close(sock_t *s, bool clean)
{
    s->io.fd = -1;
}

static const sock_ops_t feed_ops = {.read = feed_read, .close = feed_close};

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "lua/api.h"
#include "lua/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* LuaJIT's objects hold each other through tagged pointers that
 * LeakSanitizer does not recognise, so what Lua allocates looks leaked
 * until its GC runs; leaks of cicada's own C allocations are still
 * reported. */
const char *__lsan_default_suppressions(void)
{
    return "leak:libluajit-5.1.so\n";
}

#include "must.h"

#define MAX_FRAMES 64

static const char driver[] =
    "local client = require 'resty.websocket.client'\n"
    "local function make(max_len)\n"
    "  local ws = client:new { max_payload_len = max_len }\n"
    "  return ws, ws.sock\n"
    "end\n"
    "local function run(ws, sock, out)\n"
    "  local reader = sock:receiveuntil('\\r\\n\\r\\n')\n"
    "  local header, err, partial = reader()\n"
    "  out.header, out.err, out.partial = header, err, partial\n"
    "  if not header then return end\n"
    "  for i = 1, " /* MAX_FRAMES */ "64 do\n"
    "    local data, typ, third = ws:recv_frame()\n"
    "    out[i] = { data = data, typ = typ, third = third }\n"
    "    if not data then return end\n"
    "  end\n"
    "end\n"
    "local pats = { '\\r\\n', '--b', 'aab', 'a' }\n"
    "local function ops(ws, sock, out, list)\n"
    "  for i, op in ipairs(list) do\n"
    "    local kind, arg, pat = op % 8, math.floor(op / 8) % 8 + 1, pats[math.floor(op / 64) + 1]\n"
    "    local r = {}\n"
    "    if kind == 0 then r.data, r.err, r.partial = sock:receive('*l')\n"
    "    elseif kind == 1 then r.data, r.err, r.partial = sock:receive(arg)\n"
    "    elseif kind == 2 then r.data, r.err, r.partial = sock:receiveuntil(pat)()\n"
    "    elseif kind == 3 then\n"
    "      r.data, r.err, r.partial = sock:receiveuntil(pat, { inclusive = true })()\n"
    "    elseif kind == 4 then\n"
    "      local it, parts = sock:receiveuntil(pat), {}\n"
    "      for k = 1, 10000 do\n"
    "        local d, e, p = it(arg)\n"
    "        if not d then r.err, r.partial = e, p break end\n"
    "        parts[k] = d\n"
    "      end\n"
    "      r.chunks = parts\n"
    "    elseif kind == 5 then r.data, r.err, r.partial = sock:receive('*a')\n"
    "    else r.data, r.err, r.partial = sock:receive(0) end\n"
    "    out[i] = r\n"
    "  end\n"
    "end\n"
    "return make, run, ops\n";

static lua_State *L;
static engine_t *eng;
static user_t *usr;
static int make_ref, run_ref, ops_ref;

static void setup(void)
{
    eng = xcalloc(1, sizeof *eng);
    eng->net = net_new(NULL, NULL, false); /* no loop: retiring frees at once */
    eng->net->ops = &feed_ops;
    usr = xcalloc(1, sizeof *usr);
    usr->eng = eng;
    eng->current = usr;
    engine_bind(eng);
    char path[] = "/tmp/cicada-fuzz-ws-XXXXXX";
    int fd = mkstemp(path);
    MUST(fd >= 0);
    static const char scenario[] = "U = cicada.user {}\nU:task(1, function() end)\n";
    MUST(write(fd, scenario, sizeof scenario - 1) == (ssize_t)(sizeof scenario - 1));
    close(fd);
    char err[512];
    vm_conf_t conf = {.locustfile = path};
    L = vm_new(eng, &conf, err, sizeof err);
    unlink(path);
    if (L == NULL) fprintf(stderr, "vm_new: %s\n", err);
    MUST(L != NULL);
    if (luaL_loadbuffer(L, driver, sizeof driver - 1, "=fuzz_ws") != 0 ||
        lua_pcall(L, 0, 3, 0) != 0) {
        fprintf(stderr, "driver: %s\n", lua_tostring(L, -1));
        abort();
    }
    ops_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    make_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ---- the reference reading of the frames ---- */

typedef struct frame {
    bool ok;
    const char *typ;
    uint8_t *data;
    size_t len;
    long code;  /* close: the status code, -1 if none */
    bool again; /* not FIN */
} frame_t;

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* One frame of s[*off..n) as lua-resty-websocket's recv_frame reads it. */
static frame_t ref_frame(const uint8_t *s, size_t n, size_t *off, uint64_t max_len)
{
    static const char *const types[16] = {[0] = "continuation", [1] = "text", [2] = "binary",
                                          [8] = "close",        [9] = "ping", [10] = "pong"};
    frame_t f = {.ok = false, .code = -1};
    size_t p = *off;
    if (n - p < 2) return f;
    uint8_t fst = s[p], snd = s[p + 1];
    p += 2;
    bool fin = fst & 0x80, mask = snd & 0x80;
    int opcode = fst & 0x0f;
    if (fst & 0x70 || types[opcode] == NULL) return f;
    uint64_t len = snd & 0x7f;
    if (len == 126) {
        if (n - p < 2) return f;
        len = be(s + p, 2);
        p += 2;
    } else if (len == 127) {
        if (n - p < 8) return f;
        if (be(s + p, 4) != 0 || s[p + 4] & 0x80) return f;
        len = be(s + p + 4, 4);
        p += 8;
    }
    if ((opcode & 8) && (len > 125 || !fin)) return f;
    if (len > max_len) return f;
    uint64_t rest = len + (mask ? 4 : 0);
    if (rest > n - p) return f;
    f.data = malloc(len + 1);
    for (uint64_t i = 0; i < len; i++)
        f.data[i] = mask ? s[p + 4 + i] ^ s[p + i % 4] : s[p + i];
    p += rest;
    f.len = len;
    f.typ = types[opcode];
    if (opcode == 8 && len > 0) {
        if (len < 2) {
            free(f.data);
            f.data = NULL;
            return f;
        }
        f.code = (long)be(f.data, 2);
        memmove(f.data, f.data + 2, len - 2);
        f.len = len - 2;
    }
    f.again = opcode != 8 && !fin;
    f.ok = true;
    *off = p;
    return f;
}

/* ---- driving ---- */

static uint32_t rng;

static size_t piece(unsigned mode)
{
    if (mode == 0) return SIZE_MAX;
    rng = rng * 1103515245 + 12345;
    return 1 + (rng >> 16) % mode;
}

static void check_results(lua_State *co, int out, const uint8_t *s, size_t n, uint64_t max_len)
{
    lua_getfield(co, out, "header");
    size_t hl;
    const char *header = lua_tolstring(co, -1, &hl);
    lua_pop(co, 1);
    const uint8_t *end = memmem(s, n, "\r\n\r\n", 4);
    if (end == NULL) {
        MUST(header == NULL);
        lua_getfield(co, out, "err");
        MUST(lua_isstring(co, -1) && strcmp(lua_tostring(co, -1), "closed") == 0);
        lua_getfield(co, out, "partial");
        size_t pl;
        const char *partial = lua_tolstring(co, -1, &pl);
        MUST(partial && pl == n && memcmp(partial, s, n) == 0);
        lua_pop(co, 2);
        return;
    }
    MUST(header && hl == (size_t)(end - s) && memcmp(header, s, hl) == 0);
    size_t off = hl + 4;
    for (int i = 1; i <= MAX_FRAMES; i++) {
        frame_t f = ref_frame(s, n, &off, max_len);
        lua_rawgeti(co, out, i);
        MUST(lua_istable(co, -1));
        lua_getfield(co, -1, "data");
        lua_getfield(co, -2, "typ");
        lua_getfield(co, -3, "third");
        size_t dl;
        const char *d = lua_tolstring(co, -3, &dl);
        if (!f.ok) {
            MUST(d == NULL && lua_isnil(co, -2) && lua_isstring(co, -1));
            lua_pop(co, 4);
            return;
        }
        MUST(d != NULL && dl == f.len && memcmp(d, f.data, dl) == 0);
        MUST(lua_isstring(co, -2) && strcmp(lua_tostring(co, -2), f.typ) == 0);
        if (f.code >= 0)
            MUST(lua_isnumber(co, -1) && lua_tonumber(co, -1) == (lua_Number)f.code);
        else if (f.again)
            MUST(lua_isstring(co, -1) && strcmp(lua_tostring(co, -1), "again") == 0);
        else
            MUST(lua_isnil(co, -1));
        lua_pop(co, 4);
        free(f.data);
    }
}

/* ---- the model of raw receives (ops mode) ---- */

static const char *const pats[] = {"\r\n", "--b", "aab", "a"};

static bool str_is(lua_State *co, int idx, const char *s)
{
    return lua_isstring(co, idx) && strcmp(lua_tostring(co, idx), s) == 0;
}

/* Field f of the table on top is a string of exactly p[0..n). */
static bool field_is(lua_State *co, const char *f, const uint8_t *p, size_t n)
{
    lua_getfield(co, -1, f);
    size_t l;
    const char *v = lua_tolstring(co, -1, &l);
    bool ok = v && l == n && (n == 0 || memcmp(v, p, n) == 0);
    lua_pop(co, 1);
    return ok;
}

static bool field_nil(lua_State *co, const char *f)
{
    lua_getfield(co, -1, f);
    bool nil = lua_isnil(co, -1);
    lua_pop(co, 1);
    return nil;
}

/* A failed read: nil, "closed", and everything left as partial (or no
 * partial at all once the connection is gone). */
static void check_closed(lua_State *co, bool gone, const uint8_t *rest, size_t nrest)
{
    MUST(field_nil(co, "data"));
    lua_getfield(co, -1, "err");
    MUST(str_is(co, -1, "closed"));
    lua_pop(co, 1);
    if (gone)
        MUST(field_nil(co, "partial"));
    else
        MUST(field_is(co, "partial", rest, nrest));
}

static void check_ops(lua_State *co, int out, const uint8_t *ops, size_t nops, const uint8_t *s,
                      size_t n)
{
    size_t pos = 0;
    bool gone = false;
    for (size_t i = 0; i < nops; i++) {
        unsigned kind = ops[i] % 8, arg = ops[i] / 8 % 8 + 1;
        const char *pat = pats[ops[i] / 64];
        size_t pl = strlen(pat);
        const uint8_t *rest = s + pos;
        size_t nrest = n - pos;
        lua_rawgeti(co, out, (int)i + 1);
        MUST(lua_istable(co, -1));
        if (gone) { /* every call on a closed connection */
            check_closed(co, true, NULL, 0);
            lua_pop(co, 1);
            continue;
        }
        const uint8_t *at = NULL;
        if (kind == 0) at = memchr(rest, '\n', nrest);
        if (kind >= 2 && kind <= 4) at = memmem(rest, nrest, pat, pl);
        switch (kind) {
        case 0: /* a line, CRs dropped */
            if (at) {
                lua_getfield(co, -1, "data");
                size_t l;
                const char *d = lua_tolstring(co, -1, &l);
                MUST(d != NULL);
                size_t k = 0;
                for (const uint8_t *p = rest; p < at; p++)
                    if (*p != '\r') MUST(k < l && (uint8_t)d[k++] == *p);
                MUST(k == l);
                lua_pop(co, 1);
                pos += (size_t)(at - rest) + 1;
            }
            break;
        case 1:
            if (nrest >= arg) {
                MUST(field_is(co, "data", rest, arg));
                pos += arg;
            }
            break;
        case 2:
        case 3:
            if (at) {
                size_t before = (size_t)(at - rest);
                MUST(field_is(co, "data", rest, before + (kind == 3 ? pl : 0)));
                pos += before + pl;
            }
            break;
        case 4: { /* chunks of at most arg bytes, then nil at the pattern */
            lua_getfield(co, -1, "chunks");
            size_t k = 0, nchunks = lua_objlen(co, -1);
            for (size_t c = 1; c <= nchunks; c++) {
                lua_rawgeti(co, -1, (int)c);
                size_t l;
                const char *d = lua_tolstring(co, -1, &l);
                MUST(d && l >= 1 && l <= arg && k + l <= nrest && memcmp(d, rest + k, l) == 0);
                k += l;
                lua_pop(co, 1);
            }
            lua_pop(co, 1);
            if (at) {
                MUST(k == (size_t)(at - rest) && field_nil(co, "err"));
                pos += k + pl;
            } else { /* the chunks and then the partial data are the rest */
                check_closed(co, false, rest + k, nrest - k);
                pos = n;
                gone = true;
            }
            lua_pop(co, 1);
            continue;
        }
        case 5: /* all: the rest, and the connection stays (at EOF) */
            MUST(field_is(co, "data", rest, nrest));
            pos = n;
            break;
        default:
            MUST(field_is(co, "data", (const uint8_t *)"", 0));
            break;
        }
        bool ok = kind >= 5 || at != NULL || (kind == 1 && nrest >= arg);
        if (!ok) {
            check_closed(co, false, rest, nrest);
            pos = n;
            gone = true;
        }
        lua_pop(co, 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (L == NULL) setup();
    if (size < 2) return 0;
    static const uint64_t max_lens[] = {125, 65535, 1 << 24, 0x7fffffff};
    unsigned mode = data[0];
    uint64_t max_len = max_lens[data[1] & 3];
    rng = (uint32_t)data[1] * 2654435761u;
    const uint8_t *s = data + 2, *ops = NULL;
    size_t n = size - 2, nops = 0;
    bool ops_mode = data[1] & 4;
    if (ops_mode) {
        if (n == 0) return 0;
        nops = s[0] % 16;
        if (nops > n - 1) nops = n - 1;
        ops = s + 1;
        s += 1 + nops;
        n -= 1 + nops;
    }

    feed = s;
    feed_avail = 0;
    feed_eof = false;
    int top = lua_gettop(L);
    lua_State *co = lua_newthread(L);
    int co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    usr->co = co;

    lua_rawgeti(co, LUA_REGISTRYINDEX, make_ref);
    lua_pushnumber(co, (lua_Number)max_len);
    MUST(lua_pcall(co, 1, 2, 0) == 0);
    box_t *b = lua_touserdata(co, -1);
    MUST(b != NULL);
    /* connect it to our end of the socketpair, as l_tcp_connect would */
    cosock_t *c = cosock_new(b->pool, eng->net, false, "fuzz"); /* reads feed_read */
    c->user = usr;
    c->next = usr->cosocks;
    if (usr->cosocks) usr->cosocks->prev = c;
    usr->cosocks = c;
    c->box = b;
    b->s = c;
    b->tmo[T_READ] = 0; /* no timer: the fuzzer is the loop */

    int ws = lua_gettop(co) - 1;
    lua_newtable(co);
    int out = lua_gettop(co);
    lua_rawgeti(co, LUA_REGISTRYINDEX, ops_mode ? ops_ref : run_ref);
    lua_pushvalue(co, ws);
    lua_pushvalue(co, ws + 1);
    lua_pushvalue(co, out);
    lua_createtable(co, (int)nops, 0);
    for (size_t i = 0; i < nops; i++) {
        lua_pushinteger(co, ops[i]);
        lua_rawseti(co, -2, (int)i + 1);
    }
    lua_State *runner = lua_newthread(co);
    int runner_ref = luaL_ref(co, LUA_REGISTRYINDEX);
    lua_xmove(co, runner, 5);
    usr->co = runner;
    size_t fed = 0;
    int st = lua_resume(runner, 4);
    while (st == LUA_YIELD) {
        /* parked in a receive: deliver the next piece, or the close */
        MUST(b->s != NULL && b->s->op == OP_RECV);
        cosock_t *sk = b->s;
        int r = -1;
        while (r < 0) {
            if (fed < n) {
                size_t k = piece(mode);
                if (k > n - fed) k = n - fed;
                feed_avail += k;
                fed += k;
            } else if (fed == n) {
                feed_eof = true;
                fed++;
            }
            sk->op = OP_NONE;
            r = recv_step(sk, runner);
            if (r < 0) {
                MUST(fed <= n); /* after EOF a read always completes */
                sk->op = OP_RECV;
            }
        }
        usr->parked = false;
        st = lua_resume(runner, r);
    }
    if (st != 0) {
        fprintf(stderr, "Lua error: %s\n", lua_tostring(runner, -1));
        abort();
    }
    if (ops_mode)
        check_ops(co, out, ops, nops, s, n);
    else
        check_results(co, out, s, n, max_len);

    cosocket_release(usr); /* retires what is still open */
    luaL_unref(co, LUA_REGISTRYINDEX, runner_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, co_ref);
    lua_settop(L, top);
    usr->co = NULL;
    return 0;
}
