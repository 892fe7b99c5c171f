/* SPDX-License-Identifier: MIT */
/* The helpers every file of the lab API uses (lapi_internal.h). They call
 * nothing of the API's own: every other file may use them. */
#include <errno.h>
#include <stdlib.h>

#include "lapi_internal.h"

struct lapi_run *lapi_or_raise(lua_State *L)
{
	struct pl_run *r = pl_run_of(L);

	if (!r)
		luaL_error(L, "the lab API is only available inside a run");
	return pl_run_api_state(r);
}

const char *lapi_format_args(lua_State *L, int idx)
{
	int top = lua_gettop(L);

	if (idx > top) {
		lua_pushliteral(L, "");
		return lua_tostring(L, -1);
	}
	/* the host's own string.format: scripts cannot replace it */
	lua_getfield(L, LUA_REGISTRYINDEX, "patchlab.format");
	for (int i = idx; i <= top; i++)
		lua_pushvalue(L, i);
	lua_call(L, top - idx + 1, 1);
	return lua_tostring(L, -1);
}

int lapi_ensure_timer(struct lapi_run *a)
{
	if (a->timer)
		return 0;
	a->timer = malloc(sizeof(*a->timer));
	if (!a->timer)
		return -ENOMEM;
	uv_timer_init(pl_board_loop(a->board), a->timer);
	a->timer->data = a;
	return 0;
}

void lapi_set_table_global(struct pl_lua_host *h, lua_State *L,
			   const char *name, const luaL_Reg *fns)
{
	lua_newtable(L);
	luaL_setfuncs(L, fns, 0);
	pl_lua_readonly(L, -1);
	pl_lua_host_setglobal(h, name);
}

