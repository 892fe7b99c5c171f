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

static int write_or_raise(lua_State *L, struct lapi_run *a, const char *s,
			  size_t len)
{
	int err = pl_console_write(pl_board_console(a->board), s, len);

	if (err)
		return luaL_error(L, "console fixture failed: %s",
				  pl_strerror(err));
	return 0;
}

static int l_console_send(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	struct lapi_run *a = lapi_or_raise(L);

	return write_or_raise(L, a, s, len);
}

static int l_console_sendline(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	struct lapi_run *a = lapi_or_raise(L);
	const char *nl = a->type->console.newline ? a->type->console.newline
						   : "\r";

	write_or_raise(L, a, s, len);
	return write_or_raise(L, a, nl, strlen(nl));
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
