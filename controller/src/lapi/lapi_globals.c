/* SPDX-License-Identifier: MIT */
/* The lab API: `log.*`, `now()` and `sleep()` (docs/scenario-api.md). */
#include "lapi_internal.h"
#include "patchlab/clock.h"

static int log_common(lua_State *L, enum pl_log_level level)
{
	struct lapi_run *a = lapi_or_raise(L);
	const char *msg = lapi_format_args(L, 1);

	pl_log(pl_board_log(a->board), level, "%s", msg);
	pl_board_event_json(a->board, PL_BEV_LOG, pl_now_ns(), json_pack(
		"{s:s,s:s}", "level", pl_log_level_name(level), "msg", msg));
	return 0;
}

static int l_log_info(lua_State *L)
{
	return log_common(L, PL_LOG_INFO);
}

static int l_log_warn(lua_State *L)
{
	return log_common(L, PL_LOG_WARN);
}

static int l_now(lua_State *L)
{
	struct lapi_run *a = lapi_or_raise(L);

	lua_pushnumber(L, (double)(pl_now_ns() - pl_run_started_ns(a->run)) / 1e6);
	return 1;
}

static void cancel_timer(void *ud)
{
	struct lapi_run *a = ud;

	uv_timer_stop(a->timer);
}

static void on_sleep(uv_timer_t *t)
{
	struct lapi_run *a = t->data;

	pl_lua_run_resume(pl_run_lua(a->run), 0);
}

static int l_sleep(lua_State *L)
{
	lua_Integer ms = luaL_checkinteger(L, 1);
	struct lapi_run *a = lapi_or_raise(L);

	luaL_argcheck(L, ms >= 0, 1, "negative time");
	if (lapi_ensure_timer(a))
		return luaL_error(L, "out of memory");
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "sleep", .cancel = cancel_timer, .user_data = a });
	uv_timer_start(a->timer, on_sleep, (uint64_t)ms, 0);
	return pl_lua_wait_yield(L);
}

void lapi_register_globals(struct pl_lua_host *h, lua_State *L)
{
	static const luaL_Reg log_fns[] = {
		{ "info", l_log_info },
		{ "warn", l_log_warn },
		{ NULL, NULL },
	};

	lapi_set_table_global(h, L, "log", log_fns);
	lua_pushcfunction(L, l_sleep);
	pl_lua_host_setglobal(h, "sleep");
	lua_pushcfunction(L, l_now);
	pl_lua_host_setglobal(h, "now");
}
