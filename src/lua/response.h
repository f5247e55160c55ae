/* response: the Lua object a request returns (see response.c). */
#ifndef CICADA_LUA_RESPONSE_H
#define CICADA_LUA_RESPONSE_H

#include <stdint.h>

#include "http/client.h"

struct lua_State;

/* Push a response object for result r onto L. Everything r points to is
 * copied into Lua strings, so r may be reused once this returns. seq is
 * the catch_response sequence number that success()/failure() check, or
 * 0 for a result already recorded. response_open must have run in L. */
void response_push(struct lua_State *L, const client_result_t *r, uint64_t seq);

/* Register the response metatable in L's registry. */
void response_open(struct lua_State *L);

#endif
