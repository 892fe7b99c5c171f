/* SPDX-License-Identifier: MIT */
/*
 * The lab API: the `board` proxy (id, type, vars, flash, console, probe)
 * and the board operations that wait on the console: wait_boot, version,
 * update, confirm. lapi_console.c's waits go through the same machinery.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lapi_internal.h"
#include "patchlab/clock.h"
#include "patchlab/error.h"

/* ------------------------------------------------------ operation waits */

static void cancel_op(void *ud)
{
	struct lapi_run *a = ud;

	pl_op_free(a->op);
	a->op = NULL;
}

static void push_boot(lua_State *S, struct lapi_run *a,
		      const struct pl_op_result *r)
{
	lua_createtable(S, 0, 4);
	lua_pushstring(S, r->version);
	lua_setfield(S, -2, "version");
	lua_pushstring(S, r->slot);
	lua_setfield(S, -2, "slot");
	lua_pushstring(S, r->reason);
	lua_setfield(S, -2, "line");
	lua_pushnumber(S, (double)(r->t_ns - pl_run_started_ns(a->run)) / 1e6);
	lua_setfield(S, -2, "t_ms");
}

/* nil, reason: the operation did not get its answer. */
static int push_failure(lua_State *S, const struct pl_op_result *r)
{
	lua_pushnil(S);
	lua_pushstring(S, r->reason);
	return 2;
}

static int push_version(lua_State *S, const struct pl_op_result *r)
{
	lua_pushstring(S, r->version);
	lua_pushstring(S, r->slot);
	if (r->state[0])
		lua_pushstring(S, r->state);
	else
		lua_pushnil(S);
	return 3;
}

static void push_match(lua_State *S, struct lapi_run *a,
		       const struct pl_op_result *r)
{
	lua_createtable(S, (int)r->ngroups, 2);
	lua_pushstring(S, r->line);
	lua_setfield(S, -2, "text");
	for (unsigned g = 0; g < r->ngroups; g++) {
		lua_pushstring(S, r->groups[g]);
		lua_rawseti(S, -2, g + 1);
	}
	lua_pushnumber(S, (double)(r->t_ns - pl_run_started_ns(a->run)) / 1e6);
	lua_setfield(S, -2, "t_ms");
}

/* The scenario's results of an operation, by kind; returns their count. */
static int push_result(lua_State *S, struct lapi_run *a,
		       const struct pl_op_result *r)
{
	switch (a->op_kind) {
	case LAPI_OP_BOOT:
		if (r->status)
			return push_failure(S, r);
		snprintf(a->last_boot, sizeof(a->last_boot), "%s", r->version);
		push_boot(S, a, r);
		if (r->settled) {
			lua_pushboolean(S, 1);
			lua_setfield(S, -2, "settled");
		}
		return 1;
	case LAPI_OP_SETTLE:
		if (r->status) {
			char why[400];

			snprintf(why, sizeof(why), "booted %.63s but did not "
				 "settle: %.255s", a->settle_boot.version,
				 r->reason);
			lua_pushnil(S);
			lua_pushstring(S, why);
			return 2;
		}
		/* settled: the boot is committed (the type says so) */
		memcpy(a->committed, a->settle_boot.version,
		       sizeof(a->committed));
		push_boot(S, a, &a->settle_boot);
		lua_pushboolean(S, 1);
		lua_setfield(S, -2, "settled");
		return 1;
	case LAPI_OP_CONFIRM:
		if (r->status)
			return push_failure(S, r);
		/* the image that booted last is now the permanent one */
		memcpy(a->committed, a->last_boot, sizeof(a->committed));
		push_match(S, a, r);
		return 1;
	case LAPI_OP_VERSION:
		return r->status ? push_failure(S, r) : push_version(S, r);
	case LAPI_OP_UPDATE:
		lua_pushboolean(S, r->status == 0);
		lua_pushstring(S, r->status == 0 ? r->slot : r->reason);
		return 2;
	case LAPI_OP_EXPECT:
		if (r->status)
			return push_failure(S, r);
		push_match(S, a, r);
		return 1;
	}
	return 0;
}

void lapi_on_op_done(struct pl_op *op, const struct pl_op_result *r, void *ud)
{
	struct lapi_run *a = ud;
	struct pl_lua_run *run = pl_run_lua(a->run);
	int n;

	a->op = NULL;
	if (r->status == -PL_EFIXTURE) {
		char msg[300];

		snprintf(msg, sizeof(msg), "%s fixture failed: %s",
			 r->fixture ? r->fixture : "console", r->reason);
		pl_op_free(op);
		pl_lua_run_fail(run, -PL_EFIXTURE, msg);
		return;
	}
	if (a->op_kind == LAPI_OP_BOOT && r->status == 0 && r->settled) {
		/* the settled line came before the prompt: the board says
		 * this boot is committed, asked or not */
		a->settle = false;
		memcpy(a->committed, r->version, sizeof(a->committed));
	} else if (a->op_kind == LAPI_OP_BOOT && r->status == 0 && a->settle) {
		int err;

		/* booted: now the settled line, the boot kept meanwhile */
		a->settle = false;
		a->settle_boot = *r;
		snprintf(a->last_boot, sizeof(a->last_boot), "%s", r->version);
		pl_op_free(op);
		a->op_kind = LAPI_OP_SETTLE;
		err = pl_op_command(&a->op, a->board, a->type, NULL,
				    a->type->console.settled->regex,
				    a->settle_timeout_ms, lapi_on_op_done, a);
		if (err)
			pl_lua_run_fail(run, -PL_EFIXTURE, pl_strerror(err));
		return;
	}
	n = push_result(pl_lua_run_stack(run), a, r);
	pl_op_free(op);
	pl_lua_run_resume(run, n);
}

void lapi_op_begin(lua_State *L, struct lapi_run *a, const char *what,
		   enum lapi_op_kind kind)
{
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = what, .cancel = cancel_op, .user_data = a });
	a->op_kind = kind;
}

int lapi_op_wait(lua_State *L, struct lapi_run *a, int err_from_start)
{
	if (err_from_start) {
		/* Nothing was started: the wait is begun, fail it. */
		bool unsupported = err_from_start == -ENOTSUP;

		pl_lua_run_fail(pl_run_lua(a->run),
				unsupported ? -PL_ESCRIPT : -PL_EFIXTURE,
				unsupported ?
				"the board type does not describe this operation" :
				pl_strerror(err_from_start));
	}
	return pl_lua_wait_yield(L);
}

/* ------------------------------------------------------ board operations */

static int l_wait_boot(lua_State *L)
{
	lua_Integer timeout = 0;
	struct lapi_run *a;
	bool settle = false;
	int err;

	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "timeout");
		timeout = luaL_optinteger(L, -1, 0);
		lua_getfield(L, 2, "settled");
		settle = lua_toboolean(L, -1);
		lua_pop(L, 2);
	}
	luaL_argcheck(L, timeout >= 0, 2, "negative timeout");
	a = lapi_or_raise(L);
	if (settle && !a->type->console.settled)
		return luaL_error(L, "wait_boot{settled = true}: board type %s "
				  "names no console.settled pattern",
				  a->type->name);
	a->settle = settle;
	a->settle_timeout_ms = timeout ? (uint64_t)timeout :
			       a->type->boot_timeout_ms;
	lapi_op_begin(L, a, "wait_boot", LAPI_OP_BOOT);
	err = pl_op_wait_boot(&a->op, a->board, a->type, (uint64_t)timeout,
			      lapi_on_op_done, a);
	return lapi_op_wait(L, a, err);
}

static int l_version(lua_State *L)
{
	struct lapi_run *a = lapi_or_raise(L);
	int err;

	lapi_op_begin(L, a, "version", LAPI_OP_VERSION);
	err = pl_op_version(&a->op, a->board, a->type, lapi_on_op_done, a);
	return lapi_op_wait(L, a, err);
}

static int l_update(lua_State *L)
{
	struct pl_image *img = lapi_check_image(L, 2);
	struct lapi_run *a;
	int err;

	if (!lua_isnoneornil(L, 3)) {
		const char *tr;

		luaL_checktype(L, 3, LUA_TTABLE);
		lua_getfield(L, 3, "transport");
		tr = luaL_optstring(L, -1, "xmodem");
		if (strcmp(tr, "xmodem") != 0)
			return luaL_error(L, "unknown transport '%s' (known: xmodem)",
					  tr);
		lua_pop(L, 1);
	}
	a = lapi_or_raise(L);
	lapi_op_begin(L, a, "update", LAPI_OP_UPDATE);
	err = pl_op_update(&a->op, a->board, a->type, img->data, img->len,
			   lapi_on_op_done, a);
	return lapi_op_wait(L, a, err);
}

/* board:confirm() -> true, or nil, reason (the type's confirm command) */
static int l_confirm(lua_State *L)
{
	struct lapi_run *a = lapi_or_raise(L);
	int err;

	if (!a->type->confirm.command)
		return luaL_error(L, "board type %s has no confirm command",
				  a->type->name);
	lapi_op_begin(L, a, "confirm", LAPI_OP_CONFIRM);
	err = pl_op_command(&a->op, a->board, a->type, a->type->confirm.command,
			    a->type->confirm.pattern ?
			    a->type->confirm.pattern->regex : NULL,
			    0, lapi_on_op_done, a);
	return lapi_op_wait(L, a, err);
}

static void on_restored(struct pl_run *r, int status, const char *fixture,
			const char *why, void *ud)
{
	struct pl_lua_run *run = pl_run_lua(r);
	char msg[400];

	(void)ud;
	if (status) {
		/* the lab could not restore the board: not the device's fault */
		snprintf(msg, sizeof(msg), "board:restore(): %s failed: %s",
			 fixture, why);
		pl_lua_run_fail(run, -PL_EFIXTURE, msg);
		return;
	}
	lua_pushboolean(pl_lua_run_stack(run), 1);
	pl_lua_run_resume(run, 1);
}

static void cancel_restore(void *ud)
{
	struct lapi_run *a = ud;

	pl_run_restore_cancel(a->run);
}

/* board:restore() -> true: the board's image restored by its type's
 * recovery method (a command, or the probe), the board off. A restore
 * that fails is the lab's: the run ends lab-error. */
static int l_restore(lua_State *L)
{
	struct lapi_run *a = lapi_or_raise(L);
	int err;

	if (!pl_run_can_restore(a->run))
		return luaL_error(L, "board %s: board type %s has no recovery "
				  "method that can restore it (recovery: "
				  "probe with a probe and an image, or exec)",
				  pl_run_board_cfg(a->run)->id, a->type->name);
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "restore", .cancel = cancel_restore, .user_data = a });
	err = pl_run_restore(a->run, on_restored, a);
	if (err)
		pl_lua_run_fail(pl_run_lua(a->run), -PL_EFIXTURE,
				pl_strerror(err));
	return pl_lua_wait_yield(L);
}

/* board:transfer_progress(bytes[, total]): a Lua update module reports how
 * many bytes of the image (of total) the board acknowledged, as the
 * built-in transfers do: a fault.cut{on = "bytes", offset = N} fires here,
 * and with total a fault.cut{on = "progress", percent = P} on a board type
 * without progress lines, the cut leaving before this returns. */
static int l_transfer_progress(lua_State *L)
{
	struct lapi_run *a = lapi_or_raise(L);
	lua_Integer n = luaL_checkinteger(L, 2);
	lua_Integer total = luaL_optinteger(L, 3, 0);

	luaL_argcheck(L, n >= 0, 2, "bytes acknowledged: 0 or more");
	luaL_argcheck(L, total >= 0, 3, "the image's size: 0 or more");
	pl_board_transfer_progress(a->board, (uint64_t)n, (uint64_t)total,
				   pl_now_ns());
	return 0;
}

/* board:can_restore() -> whether board:restore() has a method to use */
static int l_can_restore(lua_State *L)
{
	struct lapi_run *a = lapi_or_raise(L);

	lua_pushboolean(L, pl_run_can_restore(a->run));
	return 1;
}

/* board:region(name) -> {address=, offset=, size=} or nil */
static int l_region(lua_State *L)
{
	const char *name = luaL_checkstring(L, 2);
	struct lapi_run *a = lapi_or_raise(L);
	const struct pl_flash_region *r = pl_board_type_region(a->type, name);

	if (!r) {
		lua_pushnil(L);
		return 1;
	}
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, (lua_Integer)(a->type->flash.base + r->offset));
	lua_setfield(L, -2, "address");
	lua_pushinteger(L, (lua_Integer)r->offset);
	lua_setfield(L, -2, "offset");
	lua_pushinteger(L, (lua_Integer)r->size);
	lua_setfield(L, -2, "size");
	return 1;
}

/* board:register(name) -> address, or nil */
static int l_register(lua_State *L)
{
	const char *name = luaL_checkstring(L, 2);
	struct lapi_run *a = lapi_or_raise(L);
	uint64_t addr;

	if (pl_board_type_register(a->type, name, &addr))
		lua_pushnil(L);
	else
		lua_pushinteger(L, (lua_Integer)addr);
	return 1;
}

const luaL_Reg lapi_board_methods[] = {
	{ "region", l_region },
	{ "register", l_register },
	{ "confirm", l_confirm },
	{ "restore", l_restore },
	{ "can_restore", l_can_restore },
	{ "transfer_progress", l_transfer_progress },
	{ "power_on", lapi_power_on },
	{ "power_off", lapi_power_off },
	{ "power_cycle", lapi_power_cycle },
	{ "glitch", lapi_glitch },
	{ "boot_mode", lapi_boot_mode },
	{ "wait_boot", l_wait_boot },
	{ "version", l_version },
	{ "update", l_update },
	{ NULL, NULL },
};

/* ----------------------------------------------------------- the proxy */

static void push_vars(lua_State *L, const struct pl_value *v)
{
	lua_newtable(L);
	for (size_t i = 0; v && v->kind == PL_VALUE_MAP && i < v->n; i++) {
		lua_pushstring(L, v->items[i]->str ? v->items[i]->str : "");
		lua_setfield(L, -2, v->keys[i]);
	}
}

static void push_flash(lua_State *L, const struct pl_board_type *t)
{
	lua_createtable(L, 0, 4);
	lua_pushinteger(L, (lua_Integer)t->flash.base);
	lua_setfield(L, -2, "base");
	lua_pushinteger(L, (lua_Integer)t->flash.size);
	lua_setfield(L, -2, "size");
	lua_pushinteger(L, (lua_Integer)t->flash.sector);
	lua_setfield(L, -2, "sector");
	lua_pushinteger(L, (lua_Integer)t->flash.page);
	lua_setfield(L, -2, "page");
}

static void push_instance(lua_State *L, const char *mt)
{
	luaL_getmetatable(L, mt);
	lua_getfield(L, -1, "instance");
}

int lapi_board_index(lua_State *L)
{
	const char *k = luaL_checkstring(L, 2);
	struct lapi_run *a;

	/* methods first: they need no run to be looked up */
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "methods");
	lua_getfield(L, -1, k);
	if (!lua_isnil(L, -1))
		return 1;
	a = lapi_or_raise(L);
	if (strcmp(k, "id") == 0)
		lua_pushstring(L, pl_board_id(a->board));
	else if (strcmp(k, "type") == 0)
		lua_pushstring(L, a->type->name);
	else if (strcmp(k, "vars") == 0)
		push_vars(L, pl_run_board_cfg(a->run)->vars);
	else if (strcmp(k, "update_module") == 0 &&
		 a->type->update.method == PL_UPDATE_LUA &&
		 a->type->update.lua_module)
		/* a board type whose update YAML cannot express names a Lua
		 * module (scenarios/lib/...); lib.oracle dispatches to it */
		lua_pushstring(L, a->type->update.lua_module);
	else if (strcmp(k, "flash") == 0)
		push_flash(L, a->type);
	else if (strcmp(k, "has_boot_mode") == 0)
		lua_pushboolean(L, pl_board_has_boot_mode(a->board));
	else if (strcmp(k, "console") == 0)
		push_instance(L, LAPI_CONSOLE_MT);
	else if (strcmp(k, "probe") == 0 && pl_board_probe(a->board))
		push_instance(L, LAPI_PROBE_MT);
	else
		lua_pushnil(L);
	return 1;
}
