/* SPDX-License-Identifier: MIT */
/* The lab API: `verdict.*` and `check()` (docs/scenario-api.md). */
#include <stdio.h>
#include <string.h>

#include "lapi_internal.h"

/* Raise if the run has its verdict already: a run decides once. */
static struct lapi_run *undecided_or_raise(lua_State *L)
{
	struct lapi_run *a = lapi_or_raise(L);
	enum pl_verdict v;
	const char *reason;

	if (pl_run_verdict(a->run, &v, &reason))
		luaL_error(L, "the verdict is already %s (%s)",
			   pl_verdict_name(v), reason);
	return a;
}

static int verdict_common(lua_State *L, enum pl_verdict v, int msg_idx)
{
	struct lapi_run *a = undecided_or_raise(L);
	const char *msg = lapi_format_args(L, msg_idx);

	pl_run_set_verdict(a->run, v, "%s", msg);
	lua_pushstring(L, pl_verdict_name(v));
	return 1;
}

static int l_verdict_pass(lua_State *L)
{
	return verdict_common(L, PL_VERDICT_PASS, 1);
}

static int l_verdict_rolled_back(lua_State *L)
{
	return verdict_common(L, PL_VERDICT_ROLLED_BACK, 1);
}

static int l_verdict_fail(lua_State *L)
{
	return verdict_common(L, PL_VERDICT_FAIL, 1);
}

static int l_verdict_bricked(lua_State *L)
{
	return verdict_common(L, PL_VERDICT_BRICKED, 1);
}

/*
 * The oracle's first rule (FAULT-MODEL.md): the board boots a valid,
 * expected image. Decision table, first matching row wins:
 *
 *   boot == nil                              -> bricked
 *   boot.version == expect                   -> pass
 *   boot.version == previous, after the new
 *     image booted and was committed         -> fail (silent downgrade)
 *   boot.version == previous                 -> rolled-back
 *   otherwise                                -> fail (unexpected image)
 *
 * committed: the version the run saw made permanent (board:confirm() after
 * its boot, or `committed =` given), or NULL. `rolled-back` means a failed
 * update kept the old image; an update that completed, booted and was
 * committed and then boots the old image was silently downgraded.
 */
static enum pl_verdict judge(const char *version, const char *expect,
			     const char *previous, const char *committed,
			     const char *why, char *reason, size_t n)
{
	if (!version) {
		snprintf(reason, n, "%s", why);
		return PL_VERDICT_BRICKED;
	}
	if (expect && strcmp(version, expect) == 0) {
		snprintf(reason, n, "booted %s", version);
		return PL_VERDICT_PASS;
	}
	if (previous && strcmp(version, previous) == 0 && committed &&
	    *committed && strcmp(committed, previous) != 0 &&
	    (!expect || strcmp(committed, expect) == 0)) {
		snprintf(reason, n, "silent downgrade: booted previous %s after "
			 "%s had booted and been committed", version, committed);
		return PL_VERDICT_FAIL;
	}
	if (previous && strcmp(version, previous) == 0) {
		snprintf(reason, n, "booted previous %s", version);
		return PL_VERDICT_ROLLED_BACK;
	}
	snprintf(reason, n, "booted unexpected version %s (expected %s%s%s)",
		 version, expect ? expect : "?", previous ? " or " : "",
		 previous ? previous : "");
	return PL_VERDICT_FAIL;
}

static int l_verdict_judge(lua_State *L)
{
	const char *expect, *previous, *version = NULL, *why, *committed;
	struct lapi_run *a;
	enum pl_verdict v;
	char reason[400];

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "committed");
	committed = luaL_optstring(L, -1, NULL);
	lua_getfield(L, 1, "expect");
	expect = luaL_optstring(L, -1, NULL);
	lua_getfield(L, 1, "previous");
	previous = luaL_optstring(L, -1, NULL);
	lua_getfield(L, 1, "why");
	why = luaL_optstring(L, -1, "no boot");
	lua_getfield(L, 1, "boot");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "version");
		version = lua_tostring(L, -1);
	}
	a = undecided_or_raise(L);
	if (!committed && a->committed[0])
		committed = a->committed;
	v = judge(version, expect, previous, committed, why, reason,
		  sizeof(reason));
	pl_run_set_verdict(a->run, v, "%s", reason);
	lua_pushstring(L, pl_verdict_name(v));
	return 1;
}

/* check(cond, fmt, ...): a device assertion. */
static int l_check(lua_State *L)
{
	struct lapi_run *a;
	const char *msg;

	luaL_checkany(L, 1);
	if (lua_toboolean(L, 1)) {
		lua_settop(L, 1);
		return 1;
	}
	a = lapi_or_raise(L);
	msg = lapi_format_args(L, 2);
	if (!*msg)
		msg = "check failed";
	if (!pl_run_verdict(a->run, NULL, NULL))
		pl_run_set_verdict(a->run, PL_VERDICT_FAIL, "%s", msg);
	luaL_where(L, 1);
	lua_pushfstring(L, "check failed: %s", msg);
	lua_concat(L, 2);
	return lua_error(L);
}

void lapi_register_verdict(struct pl_lua_host *h, lua_State *L)
{
	static const luaL_Reg verdict_fns[] = {
		{ "pass", l_verdict_pass },
		{ "rolled_back", l_verdict_rolled_back },
		{ "fail", l_verdict_fail },
		{ "bricked", l_verdict_bricked },
		{ "judge", l_verdict_judge },
		{ NULL, NULL },
	};

	lapi_set_table_global(h, L, "verdict", verdict_fns);
	lua_pushcfunction(L, l_check);
	pl_lua_host_setglobal(h, "check");
}
