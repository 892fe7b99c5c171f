/* SPDX-License-Identifier: MIT */
/*
 * The lab API (patchlab/lapi.h): registration, the run state's life, the
 * proxies `board` and `params`, and the helpers every binding file uses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "lapi_internal.h"

/* ------------------------------------------------------------ run state */

static void on_handle_free(uv_handle_t *h)
{
	free(h);
}

static void state_init(struct pl_run *r, void *state)
{
	struct lapi_run *a = state;

	a->run = r;
	a->board = pl_run_board(r);
	a->type = pl_run_type(r);
	a->armed_ref = LUA_NOREF;
	a->images_ref = LUA_NOREF;
}

/* The scenario ended: nothing it waited on may call back into it. */
static void state_end(struct pl_run *r, void *state)
{
	struct lapi_run *a = state;
	struct pl_lua_run *lrun = pl_run_lua(r);

	pl_run_restore_cancel(r);
	if (a->images_ref != LUA_NOREF && lrun)
		luaL_unref(pl_lua_run_stack(lrun), LUA_REGISTRYINDEX,
			   a->images_ref);
	a->images_ref = LUA_NOREF;
	lapi_triggers_end(a);
	pl_op_free(a->op);
	a->op = NULL;
	a->probe_waiting = false;
	a->compare = NULL;
	a->pending_power = 0;
	pl_board_unlisten(&a->drain_l);
	if (a->timer)
		uv_timer_stop(a->timer);
}

static void state_release(struct pl_run *r, void *state)
{
	struct lapi_run *a = state;

	if (a->timer)
		uv_close((uv_handle_t *)a->timer, on_handle_free);
	a->timer = NULL;
	free(a->triggers);
	a->triggers = NULL;
}

const struct pl_run_api pl_lapi_run_api = {
	.state_size = sizeof(struct lapi_run),
	.init = state_init,
	.end = state_end,
	.release = state_release,
};

/* -------------------------------------------------------------- proxies */

/* The run's image table: the suite's images, then the board's own under
 * the same names (its factory flash, say), made once per run so an image
 * is the same object at every look-up. Pushed on L. */
static void push_run_images(lua_State *L, struct lapi_run *a)
{
	const struct pl_image *img;

	if (a->images_ref != LUA_NOREF) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, a->images_ref);
		return;
	}
	lua_newtable(L);
	lua_getfield(L, LUA_REGISTRYINDEX, LAPI_IMAGES_MT ".suite");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, -5);
	}
	lua_pop(L, 1);
	for (size_t i = 0; (img = pl_run_board_image_at(a->run, i)); i++) {
		lapi_push_image(L, (struct pl_image *)img);
		lua_setfield(L, -2, img->name);
	}
	lua_pushvalue(L, -1);
	a->images_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* The table a per-run proxy reads: the run's params (upvalue 1 false) or
 * its images (true). Pushed on L. */
static void push_run_table(lua_State *L, struct lapi_run *a)
{
	if (lua_toboolean(L, lua_upvalueindex(1)))
		push_run_images(L, a);
	else
		lua_rawgeti(L, LUA_REGISTRYINDEX, pl_run_params_ref(a->run));
}

static int l_proxy_index(lua_State *L)
{
	struct lapi_run *a = lapi_or_raise(L);

	push_run_table(L, a);
	lua_pushvalue(L, 2);
	lua_gettable(L, -2);
	return 1;
}

static int l_proxy_pairs(lua_State *L)
{
	struct lapi_run *a = lapi_or_raise(L);

	lua_getfield(L, LUA_REGISTRYINDEX, "patchlab.next");
	push_run_table(L, a);
	lua_pushnil(L);
	return 3;
}

static int l_readonly_newindex(lua_State *L)
{
	return luaL_error(L, "lab objects are read-only");
}

/* Lock a metatable: getmetatable() answers false, so no run can change
 * what another run's lab objects do. */
static void lock_metatable(lua_State *L)
{
	lua_pushcfunction(L, l_readonly_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
}

/* A singleton proxy userdata whose metatable's __index is a method table
 * (console, probe) or a function (board), kept as the metatable's
 * "instance". */
static void make_proxy(lua_State *L, const char *mt, const luaL_Reg *methods,
		       lua_CFunction index)
{
	luaL_newmetatable(L, mt);
	lua_newtable(L);
	luaL_setfuncs(L, methods, 0);
	if (index) {
		lua_setfield(L, -2, "methods");
		lua_pushcfunction(L, index);
	}
	lua_setfield(L, -2, "__index");
	lock_metatable(L);
	lua_pushstring(L, mt);
	lua_setfield(L, -2, "__name");
	lua_newuserdatauv(L, 0, 0);
	lua_pushvalue(L, -2);
	lua_setmetatable(L, -2);
	lua_setfield(L, -2, "instance");
	lua_pop(L, 1);
}

static void set_instance_global(struct pl_lua_host *h, lua_State *L,
				const char *mt, const char *name)
{
	luaL_getmetatable(L, mt);
	lua_getfield(L, -1, "instance");
	lua_remove(L, -2);
	pl_lua_host_setglobal(h, name);
}

/* A global that reads a table of the calling run (params, images): a
 * userdata with a locked metatable, so no run sees another's. */
static void register_run_proxy(struct pl_lua_host *h, lua_State *L,
			       const char *mt, bool images, const char *name)
{
	luaL_newmetatable(L, mt);
	lua_pushboolean(L, images);
	lua_pushcclosure(L, l_proxy_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, images);
	lua_pushcclosure(L, l_proxy_pairs, 1);
	lua_setfield(L, -2, "__pairs");
	lock_metatable(L);
	lua_pop(L, 1);
	lua_newuserdatauv(L, 0, 0);
	luaL_setmetatable(L, mt);
	pl_lua_host_setglobal(h, name);
}

/* Private references to library functions the API calls, taken from fresh
 * library tables so no script can have replaced them. */
static void keep_library_functions(lua_State *L)
{
	luaL_requiref(L, "patchlab.string", luaopen_string, 0);
	lua_getfield(L, -1, "format");
	lua_setfield(L, LUA_REGISTRYINDEX, "patchlab.format");
	lua_pop(L, 1);
	luaL_requiref(L, "patchlab.base", luaopen_base, 0);
	lua_getfield(L, -1, "next");
	lua_setfield(L, LUA_REGISTRYINDEX, "patchlab.next");
	lua_pop(L, 1);
}

int pl_lapi_register(struct pl_lua_host *h, struct pl_image *const *images,
		     size_t nimages)
{
	lua_State *L = pl_lua_host_state(h);

	keep_library_functions(L);
	make_proxy(L, LAPI_BOARD_MT, lapi_board_methods, lapi_board_index);
	make_proxy(L, LAPI_CONSOLE_MT, lapi_console_methods, NULL);
	make_proxy(L, LAPI_PROBE_MT, lapi_probe_methods, NULL);
	set_instance_global(h, L, LAPI_BOARD_MT, "board");
	register_run_proxy(h, L, LAPI_PARAMS_MT, false, "params");
	lapi_register_verdict(h, L);
	lapi_register_globals(h, L);
	lapi_register_fault(h, L);
	lapi_register_image(h, L);

	/* the suite's images, hidden; `images` reads them through the run
	 * (a board's own images come first) */
	lua_createtable(L, 0, (int)nimages);
	for (size_t i = 0; i < nimages; i++) {
		lapi_push_image(L, images[i]);
		lua_setfield(L, -2, images[i]->name);
	}
	lua_setfield(L, LUA_REGISTRYINDEX, LAPI_IMAGES_MT ".suite");
	register_run_proxy(h, L, LAPI_IMAGES_MT, true, "images");
	return 0;
}
