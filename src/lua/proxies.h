/* proxies: the scenario's HTTP proxies, read into the client's proxy map
 * (http/proxy.h) before each request, in the shape of requests' proxies
 * dict.
 *
 *   self.client.proxies = {http = "http://127.0.0.1:3128",
 *                          https = "http://user:pass@127.0.0.1:3128",
 *                          ["all://api.example"] = false, no_proxy = "a.example"}
 *   self.client.trust_env = false     -- ignore HTTP(S)_PROXY / NO_PROXY
 *   self.client:get("/", {proxies = {https = "http://..."}})
 *   self.client:get("/", {proxy = "http://..."})  -- {http = ..., https = ...}
 *   self.client:get("/", {proxy = false})         -- direct, whatever is set
 *
 * A key's value is a proxy URL, or false (or "") for a direct connection.
 * Which one a request uses is proxy.h's: the request's, then the
 * environment's, then the client's, as requests merges them. */
#ifndef CICADA_LUA_PROXIES_H
#define CICADA_LUA_PROXIES_H

#include <stdbool.h>
#include <stddef.h>

#include "http/proxy.h"

struct lua_State;

/* Fill m from the request's `proxies` table (stack slot tbl), its `proxy`
 * option (slot one), both nil unless opts (the request has an options
 * table), and the client table at slot 1 (`proxies`,
 * `trust_env`). A value of the wrong type is the scenario's error
 * (luaL_error, naming the key). *key is the VM's registry reference to
 * the string "proxies", 0 until the first call makes it. Returns NULL, or an error that fails the
 * request (in err: too many keys). */
const char *proxies_read(struct lua_State *L, int *key, bool opts, int tbl, int one, proxy_map_t *m,
                         char *err, size_t n);

#endif
