/* http: the scenario's HTTP client (self.client); responses are lua/response.h. */
#ifndef CICADA_LUA_HTTP_H
#define CICADA_LUA_HTTP_H

struct lua_State;

/* With the cicada table on top of the stack: add cicada._client_methods
 * (get, post, ..., request) and register the response metatable. */
void http_open(struct lua_State *L);

#endif
