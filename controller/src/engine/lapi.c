/* SPDX-License-Identifier: MIT */
/*
 * The lab API: what a scenario sees (docs/scenario-api.md is its reference;
 * keep the two in step).
 *
 * Globals are published once per host and are the same objects for every
 * run: `board`, `params`, `fault`, `verdict`, ... Per-run state is found
 * through the calling coroutine (pl_run_ctx_of(L)), never through a global a
 * script could overwrite: `board` and `params` are read-only proxies that
 * resolve the run when indexed.
 *
 * Every function checks all its arguments before it acquires anything
 * (R11): luaL_check* may longjmp. Waiting calls go through
 * pl_lua_wait_begin()/pl_lua_wait_yield().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lualib.h>

#include "engine_internal.h"
#include "patchlab/clock.h"
#include "patchlab/error.h"

#define BOARD_MT "patchlab.board"
#define CONSOLE_MT "patchlab.console"
#define PROBE_MT "patchlab.probe"
#define TRIGGER_MT "patchlab.trigger"
#define IMAGE_MT "patchlab.image"
#define PARAMS_MT "patchlab.params"

/* ------------------------------------------------------------- verdicts */

void pl_run_set_verdict(struct pl_run_ctx *rc, enum pl_verdict v,
			const char *fmt, ...)
{
	va_list ap;

	rc->verdict = v;
	rc->verdict_set = true;
	rc->reason[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(rc->reason, sizeof(rc->reason), fmt, ap);
		va_end(ap);
	}
}

static struct pl_run_ctx *ctx_or_raise(lua_State *L)
{
	struct pl_run_ctx *rc = pl_run_ctx_of(L);

	if (!rc)
		luaL_error(L, "the lab API is only available inside a run");
	return rc;
}

/* string.format(...) of the arguments from idx on, left on the stack. */
static const char *format_args(lua_State *L, int idx)
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

static int verdict_common(lua_State *L, enum pl_verdict v, int msg_idx)
{
	struct pl_run_ctx *rc = ctx_or_raise(L);
	const char *msg = format_args(L, msg_idx);

	if (rc->verdict_set)
		return luaL_error(L, "the verdict is already %s (%s)",
				  pl_verdict_name(rc->verdict), rc->reason);
	pl_run_set_verdict(rc, v, "%s", msg);
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
 *   boot == nil, why = fixture/lab problem   -> (raise: lab error)
 *   boot == nil                              -> bricked
 *   boot.version == expect                   -> pass
 *   boot.version == previous                 -> rolled-back
 *   otherwise                                -> fail (unexpected image)
 */
static int l_verdict_judge(lua_State *L)
{
	struct pl_run_ctx *rc;
	const char *expect, *previous, *version = NULL, *why;
	enum pl_verdict v;
	char reason[400];

	luaL_checktype(L, 1, LUA_TTABLE);
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
	rc = ctx_or_raise(L);
	if (rc->verdict_set)
		return luaL_error(L, "the verdict is already %s (%s)",
				  pl_verdict_name(rc->verdict), rc->reason);
	if (!version) {
		v = PL_VERDICT_BRICKED;
		snprintf(reason, sizeof(reason), "%s", why);
	} else if (expect && strcmp(version, expect) == 0) {
		v = PL_VERDICT_PASS;
		snprintf(reason, sizeof(reason), "booted %s", version);
	} else if (previous && strcmp(version, previous) == 0) {
		v = PL_VERDICT_ROLLED_BACK;
		snprintf(reason, sizeof(reason), "booted previous %s", version);
	} else {
		v = PL_VERDICT_FAIL;
		snprintf(reason, sizeof(reason),
			 "booted unexpected version %s (expected %s%s%s)", version,
			 expect ? expect : "?", previous ? " or " : "",
			 previous ? previous : "");
	}
	pl_run_set_verdict(rc, v, "%s", reason);
	lua_pushstring(L, pl_verdict_name(v));
	return 1;
}

/* check(cond, fmt, ...): a device assertion. */
static int l_check(lua_State *L)
{
	struct pl_run_ctx *rc;
	const char *msg;

	luaL_checkany(L, 1);
	if (lua_toboolean(L, 1)) {
		lua_settop(L, 1);
		return 1;
	}
	rc = ctx_or_raise(L);
	msg = format_args(L, 2);
	if (!*msg)
		msg = "check failed";
	if (!rc->verdict_set)
		pl_run_set_verdict(rc, PL_VERDICT_FAIL, "%s", msg);
	luaL_where(L, 1);
	lua_pushfstring(L, "check failed: %s", msg);
	lua_concat(L, 2);
	return lua_error(L);
}

/* ------------------------------------------------------------------ log */

static int log_common(lua_State *L, enum pl_log_level level)
{
	struct pl_run_ctx *rc = ctx_or_raise(L);
	const char *msg = format_args(L, 1);
	json_t *j;
	char *text;

	pl_log(pl_board_log(rc->board), level, "%s", msg);
	j = json_pack("{s:s,s:s}", "level", pl_log_level_name(level), "msg",
		      msg);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (text)
		pl_board_event(rc->board, PL_BEV_LOG, pl_now_ns(), text);
	free(text);
	json_decref(j);
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
	struct pl_run_ctx *rc = ctx_or_raise(L);

	lua_pushnumber(L, (double)(pl_now_ns() - rc->started_ns) / 1e6);
	return 1;
}

/* --------------------------------------------------------------- timers */


static int ensure_timer(struct pl_run_ctx *rc)
{
	if (rc->timer)
		return 0;
	rc->timer = malloc(sizeof(*rc->timer));
	if (!rc->timer)
		return -ENOMEM;
	uv_timer_init(pl_board_loop(rc->board), rc->timer);
	rc->timer->data = rc;
	return 0;
}

static void cancel_timer(void *ud)
{
	struct pl_run_ctx *rc = ud;

	uv_timer_stop(rc->timer);
}

static void on_sleep(uv_timer_t *t)
{
	struct pl_run_ctx *rc = t->data;

	pl_lua_run_resume(rc->lrun, 0);
}

static int l_sleep(lua_State *L)
{
	lua_Integer ms = luaL_checkinteger(L, 1);
	struct pl_run_ctx *rc = ctx_or_raise(L);

	luaL_argcheck(L, ms >= 0, 1, "negative time");
	if (ensure_timer(rc))
		return luaL_error(L, "out of memory");
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "sleep", .cancel = cancel_timer, .user_data = rc });
	uv_timer_start(rc->timer, on_sleep, (uint64_t)ms, 0);
	return pl_lua_wait_yield(L);
}

/* ---------------------------------------------------------------- power */

/* A power wait: the board command's callback resumes the run unless the
 * wait was cancelled (the run ended) in between. */
struct power_wait {
	struct pl_run_ctx *rc;
	unsigned cycle_ms;   /* power_cycle: the off time, then on */
	bool live;
};

static void cancel_power(void *ud)
{
	struct pl_run_ctx *rc = ud;

	rc->pending_power = 0;
	if (rc->timer)
		uv_timer_stop(rc->timer);
}

static void power_wait_done(struct pl_run_ctx *rc, int status)
{
	char msg[160];

	rc->pending_power = 0;
	if (status) {
		snprintf(msg, sizeof(msg), "power fixture failed: %s",
			 pl_strerror(status));
		pl_lua_run_fail(rc->lrun, -PL_EFIXTURE, msg);
		return;
	}
	lua_pushboolean(pl_lua_run_stack(rc->lrun), 1);
	pl_lua_run_resume(rc->lrun, 1);
}

static void on_power_cmd(struct pl_power *p, int status,
			 const struct pl_power_times *t, void *ud)
{
	struct pl_run_ctx *rc = ud;

	/* ECANCELED: superseded (a trigger cut, the run's end): if the run
	 * still waits for this command, it was overtaken: report success of
	 * the request as it stood. */
	if (!rc->pending_power)
		return;
	power_wait_done(rc, status == -PL_ECANCELED ? 0 : status);
}

static void on_cycle_wait(uv_timer_t *t)
{
	struct pl_run_ctx *rc = t->data;
	int err;

	if (!rc->pending_power)
		return;
	err = pl_board_set_power(rc->board, true, on_power_cmd, rc);
	if (err)
		power_wait_done(rc, err);
}

static void on_cycle_off(struct pl_power *p, int status,
			 const struct pl_power_times *t, void *ud)
{
	struct pl_run_ctx *rc = ud;

	if (!rc->pending_power)
		return;
	if (status && status != -PL_ECANCELED) {
		power_wait_done(rc, status);
		return;
	}
	uv_timer_start(rc->timer, on_cycle_wait, (uint64_t)rc->pending_power - 1,
		       0);
}

enum power_op { POWER_ON, POWER_OFF, POWER_CYCLE, POWER_GLITCH };

static void power_issue(struct pl_run_ctx *rc);
static void on_power_barrier(struct pl_probe *p, int status, const void *data,
			     size_t len, void *ud);

static int power_common(lua_State *L, enum power_op op)
{
	lua_Integer ms = 0;
	struct pl_run_ctx *rc;

	if (op == POWER_CYCLE || op == POWER_GLITCH) {
		ms = luaL_optinteger(L, 2, op == POWER_CYCLE ? 500 : 5);
		luaL_argcheck(L, ms >= 0 && ms < 3600000, 2, "out of range");
	}
	rc = ctx_or_raise(L);
	if (ensure_timer(rc))
		return luaL_error(L, "out of memory");
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "power", .cancel = cancel_power, .user_data = rc });
	rc->pending_power = op == POWER_CYCLE ? (int)ms + 1 : 1;
	rc->power_op = (int)op;
	rc->power_ms = (unsigned)ms;
	/* Probe requests still queued (a trigger halting the target, taking
	 * its breakpoints off) must reach the board before it powers up, or
	 * they would act on the next boot: switch after the queue drained. */
	if (pl_board_probe(rc->board)) {
		struct pl_probe_req req = { .op = PL_PROBE_CONNECT,
					    .cb = on_power_barrier,
					    .user_data = rc };

		if (pl_probe_submit(pl_board_probe(rc->board), &req) == 0)
			return pl_lua_wait_yield(L);
	}
	power_issue(rc);
	return pl_lua_wait_yield(L);
}

static void power_issue(struct pl_run_ctx *rc)
{
	enum power_op op = (enum power_op)rc->power_op;
	unsigned ms = rc->power_ms;
	int err;

	switch (op) {
	case POWER_ON:
		err = pl_board_set_power(rc->board, true, on_power_cmd, rc);
		break;
	case POWER_OFF:
		err = pl_board_set_power(rc->board, false, on_power_cmd, rc);
		break;
	case POWER_CYCLE:
		err = pl_board_set_power(rc->board, false, on_cycle_off, rc);
		break;
	default:
		err = pl_board_glitch(rc->board, ms, on_power_cmd, rc);
		break;
	}
	if (err)
		power_wait_done(rc, err);
}

static void on_power_barrier(struct pl_probe *p, int status, const void *data,
			     size_t len, void *ud)
{
	struct pl_run_ctx *rc = ud;

	if (rc->pending_power)
		power_issue(rc);
}

static int l_power_on(lua_State *L) { return power_common(L, POWER_ON); }
static int l_power_off(lua_State *L) { return power_common(L, POWER_OFF); }
static int l_power_cycle(lua_State *L) { return power_common(L, POWER_CYCLE); }
static int l_glitch(lua_State *L) { return power_common(L, POWER_GLITCH); }

/* ------------------------------------------------------ board operations */

enum op_kind { OPK_BOOT, OPK_VERSION, OPK_UPDATE, OPK_EXPECT };

struct op_wait {
	struct pl_run_ctx *rc;
	enum op_kind kind;
};

static void cancel_op(void *ud)
{
	struct pl_run_ctx *rc = ud;

	pl_op_free(rc->op);
	rc->op = NULL;
}

static void push_boot(lua_State *S, struct pl_run_ctx *rc,
		      const struct pl_op_result *r)
{
	lua_createtable(S, 0, 4);
	lua_pushstring(S, r->version);
	lua_setfield(S, -2, "version");
	lua_pushstring(S, r->slot);
	lua_setfield(S, -2, "slot");
	lua_pushstring(S, r->reason);
	lua_setfield(S, -2, "line");
	lua_pushnumber(S, (double)(r->t_ns - rc->started_ns) / 1e6);
	lua_setfield(S, -2, "t_ms");
}

static void on_op_done(struct pl_op *op, const struct pl_op_result *r,
		       void *ud)
{
	struct pl_run_ctx *rc = ud;
	lua_State *S = pl_lua_run_stack(rc->lrun);
	enum op_kind kind = (enum op_kind)rc->op_kind;
	int n = 1;

	rc->op = NULL;
	if (r->status == -PL_EFIXTURE) {
		char msg[300];

		snprintf(msg, sizeof(msg), "console fixture failed: %s", r->reason);
		pl_op_free(op);
		pl_lua_run_fail(rc->lrun, -PL_EFIXTURE, msg);
		return;
	}
	switch (kind) {
	case OPK_BOOT:
		if (r->status == 0) {
			snprintf(rc->last_version, sizeof(rc->last_version), "%s",
				 r->version);
			snprintf(rc->last_slot, sizeof(rc->last_slot), "%s",
				 r->slot);
			push_boot(S, rc, r);
		} else {
			lua_pushnil(S);
			lua_pushstring(S, r->reason);
			n = 2;
		}
		break;
	case OPK_VERSION:
		if (r->status == 0) {
			lua_pushstring(S, r->version);
			lua_pushstring(S, r->slot);
			if (r->state[0])
				lua_pushstring(S, r->state);
			else
				lua_pushnil(S);
			n = 3;
		} else {
			lua_pushnil(S);
			lua_pushstring(S, r->reason);
			n = 2;
		}
		break;
	case OPK_UPDATE:
		lua_pushboolean(S, r->status == 0);
		lua_pushstring(S, r->status == 0 ? r->slot : r->reason);
		n = 2;
		break;
	case OPK_EXPECT:
		if (r->status == 0) {
			lua_createtable(S, (int)r->ngroups, 2);
			lua_pushstring(S, r->line);
			lua_setfield(S, -2, "text");
			for (unsigned g = 0; g < r->ngroups; g++) {
				lua_pushstring(S, r->groups[g]);
				lua_rawseti(S, -2, g + 1);
			}
			lua_pushnumber(S, (double)(r->t_ns - rc->started_ns) / 1e6);
			lua_setfield(S, -2, "t_ms");
		} else {
			lua_pushnil(S);
			lua_pushstring(S, r->reason);
			n = 2;
		}
		break;
	}
	pl_op_free(op);
	pl_lua_run_resume(rc->lrun, n);
}

/* Start an operation and wait for it. start() returns 0 or a code. */
static int op_wait(lua_State *L, struct pl_run_ctx *rc, enum op_kind kind,
		   int err_from_start)
{
	(void)kind;
	if (err_from_start) {
		/* Nothing was started: the wait is begun, fail it. */
		pl_lua_run_fail(rc->lrun, err_from_start == -ENOTSUP ?
				-PL_ESCRIPT : -PL_EFIXTURE,
				err_from_start == -ENOTSUP ?
				"the board type does not describe this operation" :
				pl_strerror(err_from_start));
	}
	return pl_lua_wait_yield(L);
}

static int l_wait_boot(lua_State *L)
{
	lua_Integer timeout = 0;
	struct pl_run_ctx *rc;
	int err;

	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "timeout");
		timeout = luaL_optinteger(L, -1, 0);
		lua_pop(L, 1);
	}
	luaL_argcheck(L, timeout >= 0, 2, "negative timeout");
	rc = ctx_or_raise(L);
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "wait_boot", .cancel = cancel_op, .user_data = rc });
	rc->op_kind = OPK_BOOT;
	err = pl_op_wait_boot(&rc->op, rc->board, rc->type, (uint64_t)timeout,
			      on_op_done, rc);
	return op_wait(L, rc, OPK_BOOT, err);
}

static int l_version(lua_State *L)
{
	struct pl_run_ctx *rc = ctx_or_raise(L);
	int err;

	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "version", .cancel = cancel_op, .user_data = rc });
	rc->op_kind = OPK_VERSION;
	err = pl_op_version(&rc->op, rc->board, rc->type, on_op_done, rc);
	return op_wait(L, rc, OPK_VERSION, err);
}

static struct pl_image *check_image(lua_State *L, int idx)
{
	struct pl_image **pp = luaL_checkudata(L, idx, IMAGE_MT);

	if (!*pp)
		luaL_argerror(L, idx, "image is closed");
	return *pp;
}

static int l_update(lua_State *L)
{
	struct pl_image *img = check_image(L, 2);
	struct pl_run_ctx *rc;
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
	rc = ctx_or_raise(L);
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "update", .cancel = cancel_op, .user_data = rc });
	rc->op_kind = OPK_UPDATE;
	err = pl_op_update(&rc->op, rc->board, rc->type, img->data, img->len,
			   on_op_done, rc);
	return op_wait(L, rc, OPK_UPDATE, err);
}

/* --------------------------------------------------------------- console */

/* console:send_xmodem(img): to a receiver the scenario started (loadx) */
static int l_console_send_xmodem(lua_State *L)
{
	struct pl_image *img = check_image(L, 2);
	struct pl_run_ctx *rc = ctx_or_raise(L);
	int err;

	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "send_xmodem", .cancel = cancel_op, .user_data = rc });
	rc->op_kind = OPK_UPDATE;
	err = pl_op_send_xmodem(&rc->op, rc->board, rc->type, img->data,
				img->len, on_op_done, rc);
	return op_wait(L, rc, OPK_UPDATE, err);
}

static int l_console_send(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	struct pl_run_ctx *rc = ctx_or_raise(L);
	int err = pl_console_write(pl_board_console(rc->board), s, len);

	if (err)
		return luaL_error(L, "console fixture failed: %s",
				  pl_strerror(err));
	return 0;
}

static int l_console_sendline(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	struct pl_run_ctx *rc = ctx_or_raise(L);
	const char *nl = rc->type->console.newline ? rc->type->console.newline
						    : "\r";
	int err = pl_console_write(pl_board_console(rc->board), s, len);

	if (!err)
		err = pl_console_write(pl_board_console(rc->board), nl,
				       strlen(nl));
	if (err)
		return luaL_error(L, "console fixture failed: %s",
				  pl_strerror(err));
	return 0;
}

/* Escape a literal for a POSIX extended regex. */
static void push_escaped(lua_State *L, const char *s)
{
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (; *s; s++) {
		if (strchr("\\^$.|?*+()[]{}", *s))
			luaL_addchar(&b, '\\');
		luaL_addchar(&b, *s);
	}
	luaL_pushresult(&b);
}

static int expect_common(lua_State *L, bool literal)
{
	const char *pattern = luaL_checkstring(L, 2);
	lua_Integer timeout = 5000;
	struct pl_run_ctx *rc;
	int err;

	if (lua_istable(L, 3)) {
		lua_getfield(L, 3, "timeout");
		timeout = luaL_optinteger(L, -1, 5000);
		lua_pop(L, 1);
	}
	luaL_argcheck(L, timeout > 0, 3, "timeout must be positive");
	if (literal) {
		push_escaped(L, pattern);
		lua_replace(L, 2);
		pattern = lua_tostring(L, 2);
	} else {
		regex_t re;

		if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB))
			return luaL_argerror(L, 2,
				"not a POSIX extended regular expression");
		regfree(&re);
	}
	rc = ctx_or_raise(L);
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "expect", .cancel = cancel_op, .user_data = rc });
	rc->op_kind = OPK_EXPECT;
	err = pl_op_command(&rc->op, rc->board, rc->type, NULL, pattern,
			    (uint64_t)timeout, on_op_done, rc);
	return op_wait(L, rc, OPK_EXPECT, err);
}

static int l_console_expect(lua_State *L)
{
	return expect_common(L, false);
}

static int l_console_expect_literal(lua_State *L)
{
	return expect_common(L, true);
}

/* ----------------------------------------------------------------- probe */

static void cancel_probe(void *ud)
{
	struct pl_run_ctx *rc = ud;

	rc->probe_waiting = false;
	rc->compare = NULL;
	rc->compare_verifying = false;
}

static void on_probe_done(struct pl_probe *p, int status, const void *data,
			  size_t len, void *ud)
{
	struct pl_run_ctx *rc = ud;
	lua_State *S;
	char msg[160];

	if (!rc->probe_waiting)
		return;
	if (rc->compare && rc->compare_verifying) {
		/* the probe's verify (a CRC, no read-back) said equal; any
		 * other answer: read back to find where, or fail for real */
		struct pl_probe_req rd = {
			.op = PL_PROBE_READ, .addr = rc->compare_addr,
			.len = rc->compare->len, .cb = on_probe_done,
			.user_data = rc,
		};
		int err;

		rc->compare_verifying = false;
		if (status == 0) {
			rc->compare = NULL;
			rc->probe_waiting = false;
			lua_pushboolean(pl_lua_run_stack(rc->lrun), 1);
			pl_lua_run_resume(rc->lrun, 1);
			return;
		}
		err = pl_probe_submit(p, &rd);
		if (!err)
			return;
		status = err;
	}
	rc->probe_waiting = false;
	if (status) {
		snprintf(msg, sizeof(msg), "probe fixture failed: %s",
			 pl_strerror(status));
		pl_lua_run_fail(rc->lrun, -PL_EFIXTURE, msg);
		return;
	}
	S = pl_lua_run_stack(rc->lrun);
	if (rc->compare) {
		const struct pl_image *img = rc->compare;
		size_t n = len < img->len ? len : img->len, at = n;

		rc->compare = NULL;
		for (size_t i = 0; i < n; i++) {
			if (((const uint8_t *)data)[i] != img->data[i]) {
				at = i;
				break;
			}
		}
		if (at == n && len >= img->len) {
			lua_pushboolean(S, 1);
			pl_lua_run_resume(rc->lrun, 1);
		} else {
			lua_pushboolean(S, 0);
			lua_pushinteger(S, (lua_Integer)at);
			pl_lua_run_resume(rc->lrun, 2);
		}
		return;
	}
	if (data)
		lua_pushlstring(S, data, len);
	else
		lua_pushboolean(S, 1);
	pl_lua_run_resume(rc->lrun, 1);
}

static int probe_common(lua_State *L, enum pl_probe_op op)
{
	struct pl_probe_req req = { .op = op, .cb = on_probe_done };
	struct pl_image *img = NULL;
	struct pl_run_ctx *rc;
	int err;

	switch (op) {
	case PL_PROBE_READ:
		req.addr = (uint64_t)luaL_checkinteger(L, 2);
		req.len = (size_t)luaL_checkinteger(L, 3);
		luaL_argcheck(L, req.len > 0 && req.len <= 1u << 20, 3,
			      "1 to 1048576 bytes");
		break;
	case PL_PROBE_WRITE:
		req.addr = (uint64_t)luaL_checkinteger(L, 2);
		req.data = luaL_checklstring(L, 3, &req.len);
		break;
	case PL_PROBE_FLASH:
	case PL_PROBE_VERIFY:
		img = check_image(L, 2);
		break;
	case PL_PROBE_ERASE:
		req.addr = (uint64_t)luaL_checkinteger(L, 2);
		req.len = (size_t)luaL_checkinteger(L, 3);
		luaL_argcheck(L, req.len > 0, 3, "a positive length");
		break;
	case PL_PROBE_MONITOR:
		req.cmd = luaL_checkstring(L, 2);
		break;
	default:
		break;
	}
	rc = ctx_or_raise(L);
	if (!pl_board_probe(rc->board))
		return luaL_error(L, "board %s has no probe", pl_board_id(rc->board));
	if (img) {
		const struct pl_flash_region *r = rc->type->recovery.region;

		req.addr = rc->type->flash.base + (r ? r->offset : 0);
		if (!lua_isnoneornil(L, 3))
			req.addr = (uint64_t)luaL_checkinteger(L, 3);
		req.data = img->data;
		req.len = img->len;
	}
	if (op == PL_PROBE_VERIFY) {
		/* compare: the probe verifies (a CRC where it can); when it
		 * says the memory differs, read back and compare here, so a
		 * difference is an answer (false, offset), not a fixture
		 * failure */
		rc->compare = img;
		rc->compare_verifying = true;
		rc->compare_addr = req.addr;
	}
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "probe", .cancel = cancel_probe, .user_data = rc });
	req.user_data = rc;
	rc->probe_waiting = true;
	/* An all-stop debugger serves memory and flash only on a halted
	 * target: halt it first (a no-op when it is halted already). */
	if (op == PL_PROBE_READ || op == PL_PROBE_WRITE || op == PL_PROBE_ERASE ||
	    op == PL_PROBE_FLASH || op == PL_PROBE_VERIFY) {
		struct pl_probe_req h = { .op = PL_PROBE_HALT };

		pl_probe_submit(pl_board_probe(rc->board), &h);
	}
	err = pl_probe_submit(pl_board_probe(rc->board), &req);
	if (err)
		on_probe_done(pl_board_probe(rc->board), err, NULL, 0, rc);
	return pl_lua_wait_yield(L);
}

static int l_probe_halt(lua_State *L) { return probe_common(L, PL_PROBE_HALT); }
static int l_probe_resume(lua_State *L) { return probe_common(L, PL_PROBE_RESUME); }
static int l_probe_reset(lua_State *L) { return probe_common(L, PL_PROBE_RESET); }
static int l_probe_read(lua_State *L) { return probe_common(L, PL_PROBE_READ); }
static int l_probe_write(lua_State *L) { return probe_common(L, PL_PROBE_WRITE); }
static int l_probe_flash(lua_State *L) { return probe_common(L, PL_PROBE_FLASH); }
static int l_probe_erase(lua_State *L) { return probe_common(L, PL_PROBE_ERASE); }
static int l_probe_compare(lua_State *L) { return probe_common(L, PL_PROBE_VERIFY); }
static int l_probe_monitor(lua_State *L) { return probe_common(L, PL_PROBE_MONITOR); }

/* -------------------------------------------------------------- triggers */

struct trig_ud {
	struct pl_run_ctx *rc; /* NULL once the run ended */
	size_t index;
};

/* Read a value or a {lo, hi} window of field `key` from the spec table. */
static void window(lua_State *L, int t, const char *key, uint64_t *lo,
		   uint64_t *hi, bool required)
{
	lua_getfield(L, t, key);
	if (lua_istable(L, -1)) {
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1) ||
		    lua_tointeger(L, -2) < 0 ||
		    lua_tointeger(L, -1) < lua_tointeger(L, -2))
			luaL_error(L, "fault.cut: '%s' must be a number or "
				      "{lo, hi} with 0 <= lo <= hi", key);
		*lo = (uint64_t)lua_tointeger(L, -2);
		*hi = (uint64_t)lua_tointeger(L, -1);
		lua_pop(L, 3);
		return;
	}
	if (lua_isnil(L, -1)) {
		if (required)
			luaL_error(L, "fault.cut: '%s' is required here", key);
		lua_pop(L, 1);
		return;
	}
	if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
		luaL_error(L, "fault.cut: '%s' must be a non-negative integer",
			   key);
	*lo = *hi = (uint64_t)lua_tointeger(L, -1);
	lua_pop(L, 1);
}

static void on_trigger_armed(struct pl_probe *p, int status, const void *data,
			     size_t len, void *ud);
static void cancel_armed(void *ud);
static void record_cut(struct pl_run_ctx *rc, struct pl_trigger *t,
		       const char *action, const char *symbol);

static int l_fault_cut(lua_State *L)
{
	struct pl_trigger_spec spec = { 0 };
	const char *on, *action, *why = NULL, *symbol = NULL, *syms[4];
	int nsyms = 0;
	struct pl_run_ctx *rc;
	struct trig_ud *ud;
	struct pl_trigger *t;
	int err;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "on");
	on = luaL_checkstring(L, -1);
	if (pl_trigger_kind_parse(on, &spec.kind))
		return luaL_error(L, "fault.cut: unknown 'on' value '%s' (console, "
				  "breakpoint, bytes, progress, time)", on);
	lua_getfield(L, 1, "action");
	action = luaL_optstring(L, -1, "cut");
	if (strcmp(action, "cut") == 0)
		spec.action = PL_TRIG_CUT;
	else if (strcmp(action, "glitch") == 0)
		spec.action = PL_TRIG_GLITCH;
	else
		return luaL_error(L, "fault.cut: unknown action '%s' (cut, glitch)",
				  action);
	lua_getfield(L, 1, "glitch_ms");
	spec.glitch_ms = (unsigned)luaL_optinteger(L, -1, 5);
	lua_getfield(L, 1, "delay_ms");
	spec.delay_us = (uint64_t)(luaL_optnumber(L, -1, 0) * 1000.0);
	lua_getfield(L, 1, "pattern");
	spec.pattern = luaL_optstring(L, -1, NULL);
	lua_getfield(L, 1, "symbol");
	symbol = luaL_optstring(L, -1, NULL);
	lua_getfield(L, 1, "address");
	spec.bp_addr[0] = (uint64_t)luaL_optinteger(L, -1, 0);
	if (spec.bp_addr[0])
		spec.nbp = 1;
	lua_getfield(L, 1, "resume_us");
	spec.resume_us = (uint64_t)luaL_optinteger(L, -1, 0);
	lua_getfield(L, 1, "phi");
	spec.phi = luaL_optnumber(L, -1, 0);
	if (spec.phi < 0 || spec.phi >= 1)
		return luaL_error(L, "fault.cut: 'phi' is a fraction, 0 < phi < 1");
	lua_getfield(L, 1, "symbols");
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TTABLE);
		nsyms = (int)luaL_len(L, -1);
		if (nsyms < 1 || nsyms > 4)
			return luaL_error(L, "fault.cut: 'symbols' takes 1 to 4 names");
		for (int i = 0; i < nsyms; i++) {
			lua_rawgeti(L, -1, i + 1);
			syms[i] = luaL_checkstring(L, -1);
			lua_pop(L, 1);
		}
	}

	rc = ctx_or_raise(L);
	switch (spec.kind) {
	case PL_TRIG_CONSOLE:
		window(L, 1, "nth", &spec.value_lo, &spec.value_hi, false);
		break;
	case PL_TRIG_BREAKPOINT:
		window(L, 1, "hit", &spec.value_lo, &spec.value_hi, false);
		if (symbol) {
			syms[0] = symbol;
			nsyms = 1;
		}
		for (int i = 0; i < nsyms; i++) {
			if (pl_board_type_breakpoint(rc->type, syms[i],
						     &spec.bp_addr[i]))
				return luaL_error(L, "fault.cut: board type %s "
						  "declares no breakpoint '%s'",
						  rc->type->name, syms[i]);
		}
		if (nsyms)
			spec.nbp = (unsigned)nsyms;
		if (!spec.nbp)
			return luaL_error(L, "fault.cut: a breakpoint cut needs "
					  "'symbol', 'symbols' or 'address'");
		break;
	case PL_TRIG_BYTES:
		window(L, 1, "offset", &spec.value_lo, &spec.value_hi, true);
		break;
	case PL_TRIG_PROGRESS:
		window(L, 1, "percent", &spec.value_lo, &spec.value_hi, true);
		if (!spec.pattern && rc->type->update.progress)
			spec.pattern = rc->type->update.progress->regex;
		break;
	case PL_TRIG_TIME:
		window(L, 1, "after_ms", &spec.value_lo, &spec.value_hi, true);
		break;
	}
	if (rc->ntriggers == PL_RUN_MAX_TRIGGERS)
		return luaL_error(L, "fault.cut: at most %d triggers per run",
				  PL_RUN_MAX_TRIGGERS);
	spec.seed = rc->seed * 0x100000001b3ull + rc->ntriggers + 1;
	ud = lua_newuserdatauv(L, sizeof(*ud), 0);
	ud->rc = NULL;
	luaL_setmetatable(L, TRIGGER_MT);
	err = pl_trigger_arm(&t, rc->board, &spec, &why);
	if (err)
		return luaL_error(L, "fault.cut: %s", why ? why : pl_strerror(err));
	ud->rc = rc;
	ud->index = rc->ntriggers;
	rc->triggers[rc->ntriggers++] = t;
	if (spec.kind == PL_TRIG_BREAKPOINT) {
		/* Return once the probe has set the breakpoints and let the
		 * target run: an update started before that could run the
		 * first operations unwatched. */
		struct pl_probe_req req = { .op = PL_PROBE_CONNECT,
					    .cb = on_trigger_armed,
					    .user_data = rc };
		struct pl_lua_run *run = pl_lua_wait_prepare(L);

		record_cut(rc, t, action, symbol);
		lua_pushvalue(L, -1);
		rc->armed_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		pl_lua_wait_begin(run, &(struct pl_lua_wait){
			.what = "fault.cut", .cancel = cancel_armed,
			.user_data = rc });
		if (pl_probe_submit(pl_board_probe(rc->board), &req))
			on_trigger_armed(pl_board_probe(rc->board), 0, NULL, 0, rc);
		return pl_lua_wait_yield(L);
	}
	record_cut(rc, t, action, symbol);
	return 1;
}

/* The probe's queue drained: the breakpoints are set, the target runs.
 * Hand the trigger object to the waiting scenario. */
static void on_trigger_armed(struct pl_probe *p, int status, const void *data,
			     size_t len, void *ud)
{
	struct pl_run_ctx *rc = ud;
	lua_State *S;

	if (rc->armed_ref == LUA_NOREF)
		return; /* the wait was cancelled */
	if (rc->ntriggers &&
	    pl_trigger_info(rc->triggers[rc->ntriggers - 1])->status < 0) {
		/* A cut that cannot be aimed is the lab's failure: never let
		 * the run go on and end as if the device had passed. */
		char msg[160];

		snprintf(msg, sizeof(msg), "fault.cut: the probe could not set "
			 "the breakpoint: %s", pl_strerror(pl_trigger_info(
				 rc->triggers[rc->ntriggers - 1])->status));
		luaL_unref(pl_lua_run_stack(rc->lrun), LUA_REGISTRYINDEX,
			   rc->armed_ref);
		rc->armed_ref = LUA_NOREF;
		pl_lua_run_fail(rc->lrun, -PL_EFIXTURE, msg);
		return;
	}
	S = pl_lua_run_stack(rc->lrun);
	lua_rawgeti(S, LUA_REGISTRYINDEX, rc->armed_ref);
	luaL_unref(S, LUA_REGISTRYINDEX, rc->armed_ref);
	rc->armed_ref = LUA_NOREF;
	pl_lua_run_resume(rc->lrun, 1);
}

static void cancel_armed(void *ud)
{
	struct pl_run_ctx *rc = ud;

	if (rc->armed_ref != LUA_NOREF) {
		luaL_unref(pl_lua_run_stack(rc->lrun), LUA_REGISTRYINDEX,
			   rc->armed_ref);
		rc->armed_ref = LUA_NOREF;
	}
}

/* What the run aimed at, for its record (cut_json). */
static void record_cut(struct pl_run_ctx *rc, struct pl_trigger *t,
		       const char *action, const char *symbol)
{
	const struct pl_trigger_info *i = pl_trigger_info(t);

	snprintf(rc->cut_json, sizeof(rc->cut_json),
		 "{\"aimed_by\":\"%s\",\"value\":%" PRIu64
		 ",\"action\":\"%s\"%s%s%s}",
		 pl_trigger_kind_name(i->kind), i->value, action,
		 symbol ? ",\"symbol\":\"" : "", symbol ? symbol : "",
		 symbol ? "\"" : "");
}

/* A trigger belongs to its run: from any other run (a module table that
 * outlived its run, say) it is refused, so its freed context is never
 * touched. */
static struct pl_trigger *check_trigger(lua_State *L)
{
	struct trig_ud *ud = luaL_checkudata(L, 1, TRIGGER_MT);

	if (!ud->rc || ud->rc != pl_run_ctx_of(L) ||
	    ud->index >= ud->rc->ntriggers)
		luaL_error(L, "the trigger's run has ended");
	return ud->rc->triggers[ud->index];
}

static int l_trigger_fired(lua_State *L)
{
	lua_pushboolean(L, pl_trigger_info(check_trigger(L))->fired);
	return 1;
}

static void on_disarmed(struct pl_probe *p, int status, const void *data,
			size_t len, void *ud)
{
	/* the barrier's status does not matter: the requests before it ran */
	on_probe_done(p, 0, NULL, 0, ud);
}

/* t:disarm(): waits until the probe has removed the trigger's
 * breakpoints, so the board's next boot cannot stop on them. */
static int l_trigger_disarm(lua_State *L)
{
	struct pl_trigger *t = check_trigger(L);
	struct pl_run_ctx *rc = ctx_or_raise(L);
	struct pl_probe_req req = { .op = PL_PROBE_CONNECT, .cb = on_disarmed,
				    .user_data = rc };
	struct pl_lua_run *run = pl_lua_wait_prepare(L);

	pl_trigger_disarm(t);
	if (!pl_board_probe(rc->board))
		return 0;
	pl_lua_wait_begin(run, &(struct pl_lua_wait){
		.what = "disarm", .cancel = cancel_probe, .user_data = rc });
	rc->probe_waiting = true;
	if (pl_probe_submit(pl_board_probe(rc->board), &req))
		on_probe_done(pl_board_probe(rc->board), 0, NULL, 0, rc);
	return pl_lua_wait_yield(L);
}

static double rel_ms(const struct pl_run_ctx *rc, uint64_t t)
{
	return t ? (double)(t - rc->started_ns) / 1e6 : -1;
}

static int l_trigger_info(lua_State *L)
{
	struct trig_ud *ud = luaL_checkudata(L, 1, TRIGGER_MT);
	const struct pl_trigger_info *i;

	check_trigger(L);
	i = pl_trigger_info(ud->rc->triggers[ud->index]);
	lua_createtable(L, 0, 8);
	lua_pushstring(L, pl_trigger_kind_name(i->kind));
	lua_setfield(L, -2, "kind");
	lua_pushinteger(L, (lua_Integer)i->value);
	lua_setfield(L, -2, "value");
	lua_pushboolean(L, i->fired);
	lua_setfield(L, -2, "fired");
	lua_pushstring(L, i->detail);
	lua_setfield(L, -2, "detail");
	lua_pushnumber(L, rel_ms(ud->rc, i->seen_ns));
	lua_setfield(L, -2, "seen_ms");
	lua_pushnumber(L, rel_ms(ud->rc, i->issued_ns));
	lua_setfield(L, -2, "issued_ms");
	lua_pushnumber(L, rel_ms(ud->rc, i->done_ns));
	lua_setfield(L, -2, "done_ms");
	lua_pushnumber(L, i->issued_ns >= i->seen_ns && i->seen_ns ?
			  (double)(i->issued_ns - i->seen_ns) / 1e3 : -1);
	lua_setfield(L, -2, "latency_us");
	return 1;
}

/* ----------------------------------------------------------------- images */

static void image_free(struct pl_image *img)
{
	if (!img)
		return;
	free(img->name);
	free(img->path);
	free(img->version);
	free(img->data);
	free(img);
}

/* Mutations are owned by their Lua object; suite images by the engine. */
struct image_ud {
	struct pl_image *img;
	bool owned;
};

static int l_image_gc(lua_State *L)
{
	struct image_ud *ud = luaL_checkudata(L, 1, IMAGE_MT);

	if (ud->owned)
		image_free(ud->img);
	ud->img = NULL;
	return 0;
}

static int l_image_index(lua_State *L)
{
	struct pl_image *img = check_image(L, 1);
	const char *k = luaL_checkstring(L, 2);

	if (strcmp(k, "name") == 0)
		lua_pushstring(L, img->name);
	else if (strcmp(k, "path") == 0)
		lua_pushstring(L, img->path);
	else if (strcmp(k, "version") == 0)
		lua_pushstring(L, img->version);
	else if (strcmp(k, "size") == 0)
		lua_pushinteger(L, (lua_Integer)img->len);
	else
		lua_pushnil(L);
	return 1;
}

static int l_image_tostring(lua_State *L)
{
	struct pl_image *img = check_image(L, 1);

	lua_pushfstring(L, "image %s (%d bytes)", img->name, (int)img->len);
	return 1;
}

static void push_image(lua_State *L, struct pl_image *img, bool owned)
{
	struct image_ud *ud = lua_newuserdatauv(L, sizeof(*ud), 0);

	ud->img = img;
	ud->owned = owned;
	luaL_setmetatable(L, IMAGE_MT);
}

static int l_image_mutate(lua_State *L)
{
	struct pl_image *src = check_image(L, 1);
	lua_Integer corrupt = 0, truncate = -1;
	struct pl_run_ctx *rc;
	struct pl_image *img;
	struct image_ud *ud;
	uint64_t x;

	luaL_checktype(L, 2, LUA_TTABLE);
	lua_getfield(L, 2, "corrupt");
	corrupt = luaL_optinteger(L, -1, 0);
	lua_getfield(L, 2, "truncate");
	truncate = luaL_optinteger(L, -1, -1);
	luaL_argcheck(L, corrupt >= 0 && corrupt <= 1 << 20, 2,
		      "corrupt: 0 to 1048576 bits");
	luaL_argcheck(L, truncate >= -1, 2, "truncate: a byte count");
	rc = ctx_or_raise(L);
	/* The object first (it may raise), then the memory it will own. */
	ud = lua_newuserdatauv(L, sizeof(*ud), 0);
	ud->img = NULL;
	ud->owned = true;
	luaL_setmetatable(L, IMAGE_MT);
	img = calloc(1, sizeof(*img));
	if (!img)
		return luaL_error(L, "out of memory");
	ud->img = img;
	img->len = truncate >= 0 && (size_t)truncate < src->len ?
		   (size_t)truncate : src->len;
	img->data = malloc(img->len ? img->len : 1);
	if (!img->data || asprintf(&img->name, "%s~mutated", src->name) < 0)
		return luaL_error(L, "out of memory");
	memcpy(img->data, src->data, img->len);
	if (src->version)
		img->version = strdup(src->version);
	/* Seeded bit flips: the run's seed decides which bits, so a replay
	 * corrupts the same ones. */
	x = rc->seed ^ 0x5bd1e995u;
	for (lua_Integer i = 0; i < corrupt && img->len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		img->data[(x >> 3) % img->len] ^= (uint8_t)(1u << (x & 7));
	}
	return 1;
}

/* ------------------------------------------------------------ proxies */

static int l_board_index(lua_State *L)
{
	const char *k = luaL_checkstring(L, 2);
	struct pl_run_ctx *rc;

	/* methods first: they need no run to be looked up */
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "methods");
	lua_getfield(L, -1, k);
	if (!lua_isnil(L, -1))
		return 1;
	rc = ctx_or_raise(L);
	if (strcmp(k, "id") == 0) {
		lua_pushstring(L, pl_board_id(rc->board));
	} else if (strcmp(k, "type") == 0) {
		lua_pushstring(L, rc->type->name);
	} else if (strcmp(k, "vars") == 0) {
		const struct pl_value *v = rc->bcfg->vars;

		lua_newtable(L);
		for (size_t i = 0; v && v->kind == PL_VALUE_MAP && i < v->n; i++) {
			lua_pushstring(L, v->items[i]->str ? v->items[i]->str : "");
			lua_setfield(L, -2, v->keys[i]);
		}
	} else if (strcmp(k, "update_module") == 0) {
		/* a board type whose update YAML cannot express names a Lua
		 * module (scenarios/lib/...); lib.oracle dispatches to it */
		if (rc->type->update.method == PL_UPDATE_LUA &&
		    rc->type->update.lua_module)
			lua_pushstring(L, rc->type->update.lua_module);
		else
			lua_pushnil(L);
	} else if (strcmp(k, "flash") == 0) {
		lua_createtable(L, 0, 4);
		lua_pushinteger(L, (lua_Integer)rc->type->flash.base);
		lua_setfield(L, -2, "base");
		lua_pushinteger(L, (lua_Integer)rc->type->flash.size);
		lua_setfield(L, -2, "size");
		lua_pushinteger(L, (lua_Integer)rc->type->flash.sector);
		lua_setfield(L, -2, "sector");
		lua_pushinteger(L, (lua_Integer)rc->type->flash.page);
		lua_setfield(L, -2, "page");
	} else if (strcmp(k, "console") == 0) {
		luaL_getmetatable(L, CONSOLE_MT);
		lua_getfield(L, -1, "instance");
	} else if (strcmp(k, "probe") == 0) {
		if (pl_board_probe(rc->board)) {
			luaL_getmetatable(L, PROBE_MT);
			lua_getfield(L, -1, "instance");
		} else {
			lua_pushnil(L);
		}
	} else {
		lua_pushnil(L);
	}
	return 1;
}

static int l_params_index(lua_State *L)
{
	struct pl_run_ctx *rc = ctx_or_raise(L);

	lua_rawgeti(L, LUA_REGISTRYINDEX, rc->params_ref);
	lua_pushvalue(L, 2);
	lua_gettable(L, -2);
	return 1;
}

static int l_params_pairs(lua_State *L)
{
	struct pl_run_ctx *rc = ctx_or_raise(L);

	lua_getfield(L, LUA_REGISTRYINDEX, "patchlab.next");
	lua_rawgeti(L, LUA_REGISTRYINDEX, rc->params_ref);
	lua_pushnil(L);
	return 3;
}

static int l_readonly_newindex(lua_State *L)
{
	return luaL_error(L, "lab objects are read-only");
}

/* board:region(name) -> {address=, offset=, size=} or nil */
static int l_region(lua_State *L)
{
	const char *name = luaL_checkstring(L, 2);
	struct pl_run_ctx *rc = ctx_or_raise(L);
	const struct pl_flash_region *r = pl_board_type_region(rc->type, name);

	if (!r) {
		lua_pushnil(L);
		return 1;
	}
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, (lua_Integer)(rc->type->flash.base + r->offset));
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
	struct pl_run_ctx *rc = ctx_or_raise(L);
	uint64_t addr;

	if (pl_board_type_register(rc->type, name, &addr))
		lua_pushnil(L);
	else
		lua_pushinteger(L, (lua_Integer)addr);
	return 1;
}

/* board:confirm() -> true, or nil, reason (the type's confirm command) */
static int l_confirm(lua_State *L)
{
	struct pl_run_ctx *rc = ctx_or_raise(L);
	int err;

	if (!rc->type->confirm.command)
		return luaL_error(L, "board type %s has no confirm command",
				  rc->type->name);
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "confirm", .cancel = cancel_op, .user_data = rc });
	rc->op_kind = OPK_EXPECT;
	err = pl_op_command(&rc->op, rc->board, rc->type,
			    rc->type->confirm.command,
			    rc->type->confirm.pattern ?
			    rc->type->confirm.pattern->regex : NULL,
			    0, on_op_done, rc);
	return op_wait(L, rc, OPK_EXPECT, err);
}

static const luaL_Reg board_methods[] = {
	{ "region", l_region },
	{ "register", l_register },
	{ "confirm", l_confirm },
	{ "power_on", l_power_on },
	{ "power_off", l_power_off },
	{ "power_cycle", l_power_cycle },
	{ "glitch", l_glitch },
	{ "wait_boot", l_wait_boot },
	{ "version", l_version },
	{ "update", l_update },
	{ NULL, NULL },
};

static const luaL_Reg console_methods[] = {
	{ "send", l_console_send },
	{ "sendline", l_console_sendline },
	{ "expect", l_console_expect },
	{ "expect_literal", l_console_expect_literal },
	{ "send_xmodem", l_console_send_xmodem },
	{ NULL, NULL },
};

static const luaL_Reg probe_methods[] = {
	{ "halt", l_probe_halt },
	{ "resume", l_probe_resume },
	{ "reset", l_probe_reset },
	{ "read", l_probe_read },
	{ "write", l_probe_write },
	{ "flash", l_probe_flash },
	{ "erase", l_probe_erase },
	{ "compare", l_probe_compare },
	{ "monitor", l_probe_monitor },
	{ NULL, NULL },
};

static const luaL_Reg trigger_methods[] = {
	{ "fired", l_trigger_fired },
	{ "info", l_trigger_info },
	{ "disarm", l_trigger_disarm },
	{ NULL, NULL },
};

/* A singleton proxy userdata whose metatable's __index is a method table
 * (console, probe) or a function (board). */
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
	lua_pushcfunction(L, l_readonly_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushstring(L, mt);
	lua_setfield(L, -2, "__name");
	lua_newuserdatauv(L, 0, 0);
	lua_pushvalue(L, -2);
	lua_setmetatable(L, -2);
	lua_setfield(L, -2, "instance");
	lua_pop(L, 1);
}

static void set_table_global(struct pl_lua_host *h, lua_State *L,
			     const char *name, const luaL_Reg *fns)
{
	lua_newtable(L);
	luaL_setfuncs(L, fns, 0);
	pl_lua_readonly(L, -1);
	pl_lua_host_setglobal(h, name);
}

static void set_instance_global(struct pl_lua_host *h, lua_State *L,
				const char *mt, const char *name)
{
	luaL_getmetatable(L, mt);
	lua_getfield(L, -1, "instance");
	lua_remove(L, -2);
	pl_lua_host_setglobal(h, name);
}

int pl_lapi_register(struct pl_lua_host *h, struct pl_image *const *images,
		     size_t nimages)
{
	static const luaL_Reg verdict_fns[] = {
		{ "pass", l_verdict_pass },
		{ "rolled_back", l_verdict_rolled_back },
		{ "fail", l_verdict_fail },
		{ "bricked", l_verdict_bricked },
		{ "judge", l_verdict_judge },
		{ NULL, NULL },
	};
	static const luaL_Reg log_fns[] = {
		{ "info", l_log_info },
		{ "warn", l_log_warn },
		{ NULL, NULL },
	};
	static const luaL_Reg fault_fns[] = {
		{ "cut", l_fault_cut },
		{ NULL, NULL },
	};
	static const luaL_Reg image_fns[] = {
		{ "mutate", l_image_mutate },
		{ NULL, NULL },
	};
	lua_State *L = pl_lua_host_state(h);

	/* Private references to library functions the API calls, taken from
	 * fresh library tables so no script can have replaced them. */
	luaL_requiref(L, "patchlab.string", luaopen_string, 0);
	lua_getfield(L, -1, "format");
	lua_setfield(L, LUA_REGISTRYINDEX, "patchlab.format");
	lua_pop(L, 1);
	luaL_requiref(L, "patchlab.base", luaopen_base, 0);
	lua_getfield(L, -1, "next");
	lua_setfield(L, LUA_REGISTRYINDEX, "patchlab.next");
	lua_pop(L, 1);

	make_proxy(L, BOARD_MT, board_methods, l_board_index);
	make_proxy(L, CONSOLE_MT, console_methods, NULL);
	make_proxy(L, PROBE_MT, probe_methods, NULL);

	luaL_newmetatable(L, TRIGGER_MT);
	lua_newtable(L);
	luaL_setfuncs(L, trigger_methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);

	luaL_newmetatable(L, IMAGE_MT);
	lua_pushcfunction(L, l_image_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_image_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, l_image_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);

	luaL_newmetatable(L, PARAMS_MT);
	lua_pushcfunction(L, l_params_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_params_pairs);
	lua_setfield(L, -2, "__pairs");
	lua_pushcfunction(L, l_readonly_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pop(L, 1);

	set_instance_global(h, L, BOARD_MT, "board");
	lua_newuserdatauv(L, 0, 0);
	luaL_setmetatable(L, PARAMS_MT);
	pl_lua_host_setglobal(h, "params");

	set_table_global(h, L, "verdict", verdict_fns);
	set_table_global(h, L, "log", log_fns);
	set_table_global(h, L, "fault", fault_fns);
	set_table_global(h, L, "image", image_fns);

	lua_pushcfunction(L, l_sleep);
	pl_lua_host_setglobal(h, "sleep");
	lua_pushcfunction(L, l_now);
	pl_lua_host_setglobal(h, "now");
	lua_pushcfunction(L, l_check);
	pl_lua_host_setglobal(h, "check");

	lua_createtable(L, 0, (int)nimages);
	for (size_t i = 0; i < nimages; i++) {
		push_image(L, images[i], false);
		lua_setfield(L, -2, images[i]->name);
	}
	pl_lua_readonly(L, -1);
	pl_lua_host_setglobal(h, "images");
	return 0;
}

