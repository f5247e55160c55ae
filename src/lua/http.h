/* http: the scenario's HTTP client (self.client); responses are lua/response.h. */
#ifndef CICADA_LUA_HTTP_H
#define CICADA_LUA_HTTP_H

struct lua_State;
struct user;
struct pending;
struct client_result;

/* With the cicada table on top of the stack: add cicada._client_methods
 * (get, post, ..., request) and register the response metatable. */
void http_open(struct lua_State *L);

/* Settle a finished request: record it in the statistics under p's method
 * and name (or hold it in p for catch_response) and push the response
 * object onto L (a user's coroutine, running or suspended). */
void http_complete(struct lua_State *L, struct user *u, struct pending *p,
                   const struct client_result *r);

#endif
