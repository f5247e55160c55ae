/* ngx: the small part of OpenResty's `ngx` API that pure-Lua drivers for
 * OpenResty expect (lua-nginx-redis, lua-nginx-websocket), so they run
 * unmodified inside a cicada user.
 *
 * The C half here gives what needs C: base64, digests (OpenSSL), regular
 * expressions for ngx.re.match/find (POSIX extended regexes, with PCRE's
 * \d \s \w classes and (?:...) groups translated), clocks and ngx.log. The
 * Lua half (src/lua/zz_ngx.lua, part of the prelude) adds ngx.socket (the
 * cosockets), ngx.sleep, ngx.null, ngx.config, phases, and a fallback so
 * that require "resty.X" finds Debian's "nginx.X" modules. There is no
 * request, response, shared dictionary or subrequest: a load-test user is
 * not inside nginx. */
#ifndef CICADA_NGX_H
#define CICADA_NGX_H

struct lua_State;

/* Create the global `ngx` table with the C primitives. Called once per VM,
 * after the `cicada` global exists; the prelude completes the table. */
void ngx_open(struct lua_State *L);

#endif
