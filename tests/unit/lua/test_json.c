/* Unit tests for lua/json: cicada.json.encode/decode through the Lua API
 * as a scenario calls them. Exact texts for the rules of json.h (null,
 * empty array vs object, number formatting, sorted keys), round trips
 * text -> Lua -> text and Lua -> text -> Lua, and the error messages (NaN,
 * inf, a cycle, a function, a bad key, invalid JSON) with where they are. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <string.h>

#include "check.h"
#include "lua/json.h"

static lua_State *L;

/* Run chunk (which returns one string) and compare with want, exactly; a
 * want naming cicada.json is an error message, found inside the error. */
static void expect(const char *chunk, const char *want)
{
    /* the result, or the error message */
    if (luaL_loadstring(L, chunk) == 0) lua_pcall(L, 0, 1, 0);
    const char *got = lua_tostring(L, -1);
    CHECK_MSG(got && strstr(got, want) && (strstr(want, "cicada.json") || strcmp(got, want) == 0),
              "%s\n  got  %s\n  want %s", chunk, got ? got : "(not a string)", want);
    lua_settop(L, 0);
}

static void test_encode(void)
{
    expect("return cicada.json.encode({})", "{}");
    expect("return cicada.json.encode(cicada.json.array{})", "[]");
    expect("return cicada.json.encode(cicada.json.array())", "[]");
    expect("return cicada.json.encode({1, 2, 'x', true, false})", "[1,2,\"x\",true,false]");
    expect("return cicada.json.encode({a = cicada.json.null, b = cicada.null})",
           "{\"a\":null,\"b\":null}");
    expect("return cicada.json.encode(nil)", "null");
    expect("return cicada.json.encode({b = 1, a = 2, c = {z = 1, y = 2}, [10] = 3})",
           "{\"10\":3,\"a\":2,\"b\":1,\"c\":{\"y\":2,\"z\":1}}");
    expect("return cicada.json.encode({[1] = 'a', [3] = 'c'})", "{\"1\":\"a\",\"3\":\"c\"}");
    /* more keys than the encoder's small array, number keys among them */
    expect("local t = {}; for i = 40, 1, -1 do t[('k%02d'):format(i)] = i end; t[2.5] = 'x'; "
           "t[100] = 'y'\n"
           "local s = cicada.json.encode(t)\n"
           "return s:sub(1, 29) .. '|' .. s:sub(-18)",
           "{\"100\":\"y\",\"2.5\":\"x\",\"k01\":1,|\"k39\":39,\"k40\":40}");
    expect("return cicada.json.encode(cicada.json.array{[1] = 'a', [3] = 'c'})",
           "[\"a\",null,\"c\"]");
    /* numbers: integers without a fraction, floats round-trip */
    expect("return cicada.json.encode({42, -7, 0, 1e15, 2^53 - 1})",
           "[42,-7,0,1000000000000000,9007199254740991]");
    expect("return cicada.json.encode({0.1, 1.5, -2.25, 1/3})",
           "[0.1,1.5,-2.25,0.3333333333333333]");
    expect("return cicada.json.encode(2^53)", "9007199254740992");
    expect("return cicada.json.encode(1e300)", "1e+300");
    expect("return cicada.json.encode('a\"b\\\\c\\n\\1\\t/é')", "\"a\\\"b\\\\c\\n\\u0001\\t/é\"");
    /* refused, with where */
    expect("return cicada.json.encode({x = {0/0}})",
           "cicada.json.encode: cannot encode NaN (JSON has no NaN) at $.x[1]");
    expect("return cicada.json.encode(1/0)",
           "cicada.json.encode: cannot encode an infinite number");
    expect("local t = {}; t.self = t; return cicada.json.encode(t)",
           "cicada.json.encode: tables nested more than 64 deep (a cycle?) at $.self.self");
    expect("return cicada.json.encode({a = {b = print}})",
           "cicada.json.encode: cannot encode a function at $.a.b");
    expect("return cicada.json.encode({[true] = 1})",
           "cicada.json.encode: cannot encode a table key of type boolean");
    expect("local t = cicada.json.array{1}; t.x = 1; return cicada.json.encode(t)",
           "cicada.json.encode: a table marked cicada.json.array has a key that is not 1..n");
    /* depth 64 is fine, 65 is not */
    expect("local t = 1; for i = 1, 64 do t = {t} end; return #cicada.json.encode(t) == 129 and "
           "'ok' or 'bad'",
           "ok");
    expect("local t = 1; for i = 1, 65 do t = {t} end; return cicada.json.encode(t)",
           "cicada.json.encode: tables nested more than 64 deep");
}

static void test_decode(void)
{
    expect("local v = cicada.json.decode('{\"a\":[1,null,3],\"b\":null,\"c\":\"x\"}')\n"
           "return tostring(#v.a) .. tostring(v.a[2] == cicada.null) .. tostring(v.b) .. v.c",
           "3truenilx");
    expect("return cicada.json.decode('  \"only\"  ')", "only");
    expect("return cicada.json.decode('{\"a\":1')", "cicada.json.decode: invalid JSON at byte");
    expect("return cicada.json.decode('[1] x')", "cicada.json.decode: invalid JSON");
    expect("return cicada.json.decode(42)", "42" /* a number is a string to Lua: valid JSON */);
    /* text -> Lua -> text: the same text (keys in order, [] and {} kept) */
    static const char *same[] = {
        "{\"a\":[],\"b\":{},\"c\":[[],[{}]],\"d\":[1,2.5,-3,true,false,null],\"e\":\"\\u0001\"}",
        "[0.1,1e+300,123456789012,-0.5,\"caf\xc3\xa9\"]",
        "[]",
        "{}",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        lua_settop(L, 0);
        luaL_loadstring(L, "return cicada.json.encode(cicada.json.decode(...))");
        lua_pushstring(L, same[i]);
        int rc = lua_pcall(L, 1, 1, 0);
        const char *got = lua_tostring(L, -1);
        CHECK_MSG(rc == 0 && got && strcmp(got, same[i]) == 0, "round trip of %s gave %s", same[i],
                  got);
    }
    lua_settop(L, 0);
    /* Lua -> text -> Lua: the same values */
    expect(
        "local v = { n = 1/3, big = 2^52 + 0.5, neg = -1e-7, s = 'x\\0y', list = {1, {2, {3}}} }\n"
        "local w = cicada.json.decode(cicada.json.encode(v))\n"
        "return tostring(w.n == v.n and w.big == v.big and w.neg == v.neg and w.list[2][2][1] == "
        "3)",
        "true");
}

int main(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    json_open(L);
    lua_setglobal(L, "cicada");
    test_encode();
    test_decode();
    lua_close(L);
    return check_done();
}
