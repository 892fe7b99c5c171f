/* SPDX-License-Identifier: MIT */
/* The lab API: board:power_on/off/cycle, board:glitch and
 * board:boot_mode. */
#include <stdio.h>

#include "lapi_internal.h"
#include "patchlab/error.h"

/* A power wait: the board command's callback resumes the run unless the
 * wait was cancelled (the run ended) in between. */
static void cancel_power(void *ud)
{
	struct lapi_run *a = ud;

	a->pending_power = 0;
	if (a->timer)
		uv_timer_stop(a->timer);
}

static void power_wait_done(struct lapi_run *a, int status)
{
	struct pl_lua_run *run = pl_run_lua(a->run);
	char msg[160];

	a->pending_power = 0;
	if (status) {
		snprintf(msg, sizeof(msg), "power fixture failed: %s",
			 pl_strerror(status));
		pl_lua_run_fail(run, -PL_EFIXTURE, msg);
		return;
	}
	lua_pushboolean(pl_lua_run_stack(run), 1);
	pl_lua_run_resume(run, 1);
}

static void on_power_cmd(struct pl_power *p, int status,
			 const struct pl_power_times *t, void *ud)
{
	struct lapi_run *a = ud;

	/* ECANCELED: superseded (a trigger cut, the run's end): if the run
	 * still waits for this command, it was overtaken: report success of
	 * the request as it stood. */
	if (!a->pending_power)
		return;
	power_wait_done(a, status == -PL_ECANCELED ? 0 : status);
}

static void on_settled_wait(uv_timer_t *t)
{
	struct lapi_run *a = t->data;

	if (a->pending_power)
		power_wait_done(a, 0);
}

/* The boot-mode line switched: let it settle (the type's boot_mode
 * settle) before the scenario powers the board. */
static void on_boot_mode_cmd(struct pl_power *p, int status,
			     const struct pl_power_times *t, void *ud)
{
	struct lapi_run *a = ud;

	(void)p;
	(void)t;
	if (!a->pending_power)
		return;
	if (status && status != -PL_ECANCELED) {
		power_wait_done(a, status);
		return;
	}
	uv_timer_start(a->timer, on_settled_wait, a->type->boot_mode.settle_ms,
		       0);
}

static void on_cycle_wait(uv_timer_t *t)
{
	struct lapi_run *a = t->data;
	int err;

	if (!a->pending_power)
		return;
	err = pl_board_set_power(a->board, true, on_power_cmd, a);
	if (err)
		power_wait_done(a, err);
}

static void on_cycle_off(struct pl_power *p, int status,
			 const struct pl_power_times *t, void *ud)
{
	struct lapi_run *a = ud;

	if (!a->pending_power)
		return;
	if (status && status != -PL_ECANCELED) {
		power_wait_done(a, status);
		return;
	}
	uv_timer_start(a->timer, on_cycle_wait, (uint64_t)a->pending_power - 1,
		       0);
}

static void power_issue(struct lapi_run *a)
{
	int err;

	switch (a->power_op) {
	case LAPI_POWER_ON:
		err = pl_board_set_power(a->board, true, on_power_cmd, a);
		break;
	case LAPI_POWER_OFF:
		err = pl_board_set_power(a->board, false, on_power_cmd, a);
		break;
	case LAPI_POWER_CYCLE:
		err = pl_board_set_power(a->board, false, on_cycle_off, a);
		break;
	case LAPI_BOOT_MODE_HOLD:
	case LAPI_BOOT_MODE_RELEASE:
		err = pl_board_boot_mode(a->board, a->power_op ==
					 LAPI_BOOT_MODE_HOLD, on_boot_mode_cmd,
					 a);
		break;
	default:
		err = pl_board_glitch(a->board, a->power_ms, on_power_cmd, a);
		break;
	}
	if (err)
		power_wait_done(a, err);
}

static void on_power_barrier(struct pl_probe *p, int status, const void *data,
			     size_t len, void *ud)
{
	struct lapi_run *a = ud;

	if (a->pending_power)
		power_issue(a);
}

static int power_common(lua_State *L, enum lapi_power_op op)
{
	lua_Integer ms = 0;
	struct lapi_run *a;

	if (op == LAPI_POWER_CYCLE || op == LAPI_POWER_GLITCH) {
		ms = luaL_optinteger(L, 2, op == LAPI_POWER_CYCLE ? 500 : 5);
		luaL_argcheck(L, ms >= 0 && ms < 3600000, 2, "out of range");
	}
	if (op == LAPI_BOOT_MODE_HOLD || op == LAPI_BOOT_MODE_RELEASE)
		luaL_checktype(L, 2, LUA_TBOOLEAN);
	a = lapi_or_raise(L);
	if ((op == LAPI_BOOT_MODE_HOLD || op == LAPI_BOOT_MODE_RELEASE) &&
	    !pl_board_has_boot_mode(a->board))
		return luaL_error(L, "board %s: board type %s has no boot-mode "
				  "control (boot_mode: in the board type)",
				  pl_board_id(a->board), a->type->name);
	if (lapi_ensure_timer(a))
		return luaL_error(L, "out of memory");
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "power", .cancel = cancel_power, .user_data = a });
	a->pending_power = op == LAPI_POWER_CYCLE ? (int)ms + 1 : 1;
	a->power_op = op;
	a->power_ms = (unsigned)ms;
	/* Probe requests still queued (a trigger halting the target, taking
	 * its breakpoints off) must reach the board before it powers up, or
	 * they would act on the next boot: switch after the queue drained. */
	if (pl_board_probe(a->board)) {
		struct pl_probe_req req = { .op = PL_PROBE_CONNECT,
					    .cb = on_power_barrier,
					    .user_data = a };

		if (pl_probe_submit(pl_board_probe(a->board), &req) == 0)
			return pl_lua_wait_yield(L);
	}
	power_issue(a);
	return pl_lua_wait_yield(L);
}

int lapi_power_on(lua_State *L) { return power_common(L, LAPI_POWER_ON); }
int lapi_power_off(lua_State *L) { return power_common(L, LAPI_POWER_OFF); }
int lapi_power_cycle(lua_State *L) { return power_common(L, LAPI_POWER_CYCLE); }
int lapi_glitch(lua_State *L) { return power_common(L, LAPI_POWER_GLITCH); }

/* board:boot_mode(hold) -> true once the boot-mode line is held (true) or
 * released (false); raises on a type without one. The lab releases it
 * when the run or the recovery ends. */
int lapi_boot_mode(lua_State *L)
{
	luaL_checktype(L, 2, LUA_TBOOLEAN);
	return power_common(L, lua_toboolean(L, 2) ? LAPI_BOOT_MODE_HOLD :
						    LAPI_BOOT_MODE_RELEASE);
}
