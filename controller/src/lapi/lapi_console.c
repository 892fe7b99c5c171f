/* SPDX-License-Identifier: MIT */
/* The lab API: board.console (send, sendline, expect, send_xmodem). */
#include <regex.h>
#include <string.h>

#include "lapi_internal.h"
#include "patchlab/error.h"

/* console:send_xmodem(img): to a receiver the scenario started (loadx) */
static int l_console_send_xmodem(lua_State *L)
{
	struct pl_image *img = lapi_check_image(L, 2);
	struct lapi_run *a = lapi_or_raise(L);
	int err;

	lapi_op_begin(L, a, "send_xmodem", LAPI_OP_UPDATE);
	err = pl_op_send_xmodem(&a->op, a->board, a->type, img->data, img->len,
				lapi_on_op_done, a);
	return lapi_op_wait(L, a, err);
}

/* How long console:send waits for its bytes to leave (a console that
 * takes nothing for this long has failed: a lab error). */
#define DRAIN_TIMEOUT_MS 30000u

static void drain_end(struct lapi_run *a)
{
	pl_board_unlisten(&a->drain_l);
	uv_timer_stop(a->timer);
}

static void drain_cancel(void *ud)
{
	drain_end(ud);
}

static void on_drained(struct pl_board_listener *l)
{
	struct lapi_run *a = l->user_data;

	if (pl_console_queued(pl_board_console(a->board)))
		return;
	drain_end(a);
	pl_lua_run_resume(pl_run_lua(a->run), 0);
}

/* The console was lost while bytes waited to leave: they never will. */
static void on_drain_console(struct pl_board_listener *l, bool gone,
			     int status)
{
	struct lapi_run *a = l->user_data;
	char msg[160];

	if (!gone)
		return;
	drain_end(a);
	snprintf(msg, sizeof(msg), "console fixture failed: the console of %s "
		 "was lost (%s) while a send waited for its bytes to leave",
		 pl_board_id(a->board), status ? pl_strerror(status) : "closed");
	pl_lua_run_fail(pl_run_lua(a->run), -PL_EFIXTURE, msg);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct lapi_run *a = t->data;
	char msg[160];

	drain_end(a);
	snprintf(msg, sizeof(msg), "console fixture failed: %zu bytes written "
		 "to the console of %s did not leave in %u ms",
		 pl_console_queued(pl_board_console(a->board)),
		 pl_board_id(a->board), DRAIN_TIMEOUT_MS);
	pl_lua_run_fail(pl_run_lua(a->run), -PL_EFIXTURE, msg);
}

/* Write s then nl (may be NULL) and return once they have left for the
 * device (the console's own pace: a line protocol grows no queue), or
 * raise: a console that failed, that is lost while it waits, or that takes
 * nothing for DRAIN_TIMEOUT_MS, is a lab fault. */
static int send_and_drain(lua_State *L, const char *s, size_t len,
			  const char *nl)
{
	struct lapi_run *a = lapi_or_raise(L);
	struct pl_console *c = pl_board_console(a->board);
	struct pl_lua_run *run;
	int err;

	if (lapi_ensure_timer(a))
		return luaL_error(L, "out of memory");
	/* a lab call that may wait: from the scenario's main body */
	run = pl_lua_wait_prepare(L);
	err = pl_console_write(c, s, len);
	if (!err && nl)
		err = pl_console_write(c, nl, strlen(nl));
	if (err)
		return luaL_error(L, "console fixture failed: %s",
				  pl_strerror(err));
	if (!pl_console_queued(c))
		return 0;
	pl_lua_wait_begin(run, &(struct pl_lua_wait){
		.what = "console send", .cancel = drain_cancel,
		.user_data = a });
	a->drain_l = (struct pl_board_listener){ .drained = on_drained,
						 .console = on_drain_console,
						 .user_data = a };
	pl_board_listen(a->board, &a->drain_l);
	uv_timer_start(a->timer, on_drain_timeout, DRAIN_TIMEOUT_MS, 0);
	return pl_lua_wait_yield(L);
}

static int l_console_send(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);

	return send_and_drain(L, s, len, NULL);
}

static int l_console_sendline(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	struct lapi_run *a = lapi_or_raise(L);
	const char *nl = a->type->console.newline ? a->type->console.newline
						   : "\r";

	return send_and_drain(L, s, len, nl);
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
	struct lapi_run *a;
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
	a = lapi_or_raise(L);
	lapi_op_begin(L, a, "expect", LAPI_OP_EXPECT);
	err = pl_op_command(&a->op, a->board, a->type, NULL, pattern,
			    (uint64_t)timeout, lapi_on_op_done, a);
	return lapi_op_wait(L, a, err);
}

static int l_console_expect(lua_State *L)
{
	return expect_common(L, false);
}

static int l_console_expect_literal(lua_State *L)
{
	return expect_common(L, true);
}

const luaL_Reg lapi_console_methods[] = {
	{ "send", l_console_send },
	{ "sendline", l_console_sendline },
	{ "expect", l_console_expect },
	{ "expect_literal", l_console_expect_literal },
	{ "send_xmodem", l_console_send_xmodem },
	{ NULL, NULL },
};
