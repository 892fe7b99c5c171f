/* SPDX-License-Identifier: MIT */
/*
 * The sandbox a scenario runs in, built on purpose (STYLE.md R12): a list of
 * allowed names per library (like linit.c, edited), read-only proxies for
 * the shared library tables (proof against rawset, pairs and getmetatable,
 * so no run reaches what another run sees), a per-run _ENV that refuses
 * unknown names, a require that only resolves inside the scenarios root,
 * print to the run's logger, math.random from the run's seed. What is allowed and why is
 * listed in patchlab/luahost.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "luahost_internal.h"
#include "patchlab/error.h"

/* -------------------------------------------------------- read-only views */

static int ro_newindex(lua_State *L)
{
	return luaL_error(L, "table is read-only (field '%s')",
			  luaL_tolstring(L, 2, NULL));
}

/* The iterator pairs() hands out: the target table stays an upvalue, so a
 * script iterating a proxy never holds the writable table itself (the
 * generic-for state it gets is the proxy). */
static int ro_next_call(lua_State *L)
{
	lua_settop(L, 2);
	lua_pushvalue(L, 2);
	if (lua_next(L, lua_upvalueindex(1)))
		return 2;
	lua_pushnil(L);
	return 1;
}

static int ro_pairs(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1)); /* ro_next_call on the target */
	lua_pushvalue(L, 1);                   /* the proxy, not the target */
	lua_pushnil(L);
	return 3;
}

static int ro_len(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)lua_rawlen(L, lua_upvalueindex(1)));
	return 1;
}

static bool is_readonly(lua_State *L, int idx)
{
	bool ro;

	if (!lua_getmetatable(L, idx))
		return false;
	lua_pushliteral(L, "__newindex");
	lua_rawget(L, -2);
	ro = lua_tocfunction(L, -1) == ro_newindex;
	lua_pop(L, 2);
	return ro;
}

void pl_lua_readonly(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_newtable(L); /* proxy: stays empty, rawset on it is refused */
	lua_createtable(L, 0, 5);
	lua_pushvalue(L, idx);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, ro_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushvalue(L, idx);
	lua_pushcclosure(L, ro_next_call, 1);
	lua_pushcclosure(L, ro_pairs, 1);
	lua_setfield(L, -2, "__pairs");
	lua_pushvalue(L, idx);
	lua_pushcclosure(L, ro_len, 1);
	lua_setfield(L, -2, "__len");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_replace(L, idx);
}

/* ------------------------------------------------------------ the globals */

static int env_index(lua_State *L)
{
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	return luaL_error(L, "nonexistent global '%s'",
			  luaL_tolstring(L, 2, NULL));
}

static int env_newindex(lua_State *L)
{
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return luaL_error(L, "global '%s' is read-only",
				  luaL_tolstring(L, 2, NULL));
	return luaL_error(L, "nonexistent global '%s' (declare it local)",
			  luaL_tolstring(L, 2, NULL));
}

void pl_lua__push_env(struct pl_lua_host *h, lua_State *L)
{
	/* Strings share one metatable per state, and any luaopen_string
	 * (a host-side luaL_requiref of the string library, say) replaces it
	 * with an unlocked one whose __index is the full library: every run
	 * starts with the sandbox's locked one again. */
	lua_pushliteral(L, "");
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->string_mt_ref);
	lua_setmetatable(L, -2);
	lua_pop(L, 1);
	lua_newtable(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->env_mt_ref);
	lua_setmetatable(L, -2);
}

/* --------------------------------------------------------- replacements */

static struct pl_lua_run *run_or_raise(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);

	if (!run)
		luaL_error(L, "only available inside a scenario run");
	return run;
}

static int l_print(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);
	int n = lua_gettop(L);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		luaL_tolstring(L, i, NULL);
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	if (run)
		pl_log(&run->cfg.log, PL_LOG_INFO, "%s", lua_tostring(L, -1));
	return 0;
}

/* load(chunk [, chunkname [, mode [, env]]]): text only, and the default
 * environment is the run's, not the state's real globals. */
static int l_load(lua_State *L)
{
	struct pl_lua_run *run = run_or_raise(L);
	int has_env = !lua_isnone(L, 4);

	lua_settop(L, 4);
	lua_pushvalue(L, lua_upvalueindex(1)); /* the real load */
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_pushliteral(L, "t");
	if (has_env)
		lua_pushvalue(L, 4);
	else
		lua_rawgeti(L, LUA_REGISTRYINDEX, run->env_ref);
	lua_call(L, 4, LUA_MULTRET);
	return lua_gettop(L) - 4;
}

/* setmetatable without __gc: a finalizer runs whenever the collector
 * likes, inside whichever run (or none) is executing, outside any budget
 * of its own. Lua only marks an object for finalization if __gc is
 * present when the metatable is set, so checking here is enough.
 * Scenarios release things with <close> instead. */
static int l_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "__gc metamethods are not allowed "
					     "in scenarios (use <close>)");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* rawset that refuses the read-only proxies: they are shared by every
 * run, and a raw field on one would shadow the library for all of them.
 * A run's own tables (its _ENV too) stay writable. */
static int l_rawset(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checkany(L, 2);
	luaL_checkany(L, 3);
	if (is_readonly(L, 1))
		return luaL_error(L, "table is read-only (field '%s')",
				  luaL_tolstring(L, 2, NULL));
	lua_settop(L, 3);
	lua_rawset(L, 1);
	return 1;
}

/* getmetatable that hands out only metatables a script could have set
 * itself: those of tables. Strings, userdata (lab objects) and the other
 * types have host metatables, shared by every run; for them a script gets
 * the __metatable field or false, never the table. */
static int l_getmetatable(lua_State *L)
{
	luaL_checkany(L, 1);
	if (!lua_getmetatable(L, 1)) {
		lua_pushnil(L);
		return 1;
	}
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return 1;
	if (lua_type(L, 1) != LUA_TTABLE)
		lua_pushboolean(L, 0);
	else
		lua_pushvalue(L, -1);
	return 1;
}

static int l_co_yield(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);

	if (run && L == run->co)
		return luaL_error(L, "attempt to yield the scenario itself "
				     "(coroutine.yield outside a coroutine)");
	return lua_yield(L, lua_gettop(L));
}

/*
 * coroutine.create and coroutine.wrap: a new thread inherits the count
 * hook of the thread creating it, but with a fresh count, and the count
 * left in a thread when it dies is never reported. A loop creating
 * coroutines that each run fewer than PL_LUA_HOOK_STEP instructions would
 * run unseen. Each creation is charged a whole step in advance, so the
 * budget counts at least every instruction a coroutine runs; and a
 * killed run (budget, stop) cannot create one.
 */
static void charge_coroutine(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);

	luaL_checktype(L, 1, LUA_TFUNCTION);
	if (run)
		pl_lua__charge(L, run, PL_LUA_HOOK_STEP);
}

static int l_co_create(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);
	lua_State *co;

	charge_coroutine(L);
	lua_settop(L, 1);
	co = lua_newthread(L);
	/* explicit, not only inherited: the budget must not depend on
	 * which thread happens to create it */
	if (run)
		lua_sethook(co, pl_lua__count_hook, LUA_MASKCOUNT,
			    run->killed ? 1 : PL_LUA_HOOK_STEP);
	lua_pushvalue(L, 1);
	lua_xmove(L, co, 1);
	return 1;
}

static int l_co_wrap(lua_State *L)
{
	charge_coroutine(L);
	lua_settop(L, 1);
	lua_pushvalue(L, lua_upvalueindex(1)); /* the real wrap */
	lua_insert(L, 1);
	lua_call(L, 1, 1); /* its thread inherits this thread's hook */
	return 1;
}

static int l_randomseed(lua_State *L)
{
	struct pl_lua_run *run = run_or_raise(L);

	return luaL_error(L, "math.randomseed is disabled: the controller "
			     "seeds each run (this run: %I)",
			  (lua_Integer)run->seed);
}

/* Uniform integer in [0, lim] from the run's generator (rejection over
 * the smallest all-ones mask that covers lim). */
static lua_Unsigned project(struct pl_lua_run *run, lua_Unsigned lim)
{
	lua_Unsigned mask = lim, r;

	mask |= mask >> 1;
	mask |= mask >> 2;
	mask |= mask >> 4;
	mask |= mask >> 8;
	mask |= mask >> 16;
	mask |= mask >> 32;
	do
		r = pl_lua__random(run) & mask;
	while (r > lim);
	return r;
}

static int l_random(lua_State *L)
{
	struct pl_lua_run *run = run_or_raise(L);
	lua_Integer lo, up;

	switch (lua_gettop(L)) {
	case 0:
		lua_pushnumber(L, (lua_Number)(pl_lua__random(run) >> 11) *
					  0x1.0p-53);
		return 1;
	case 1:
		lo = 1;
		up = luaL_checkinteger(L, 1);
		if (up == 0) { /* random(0): a whole random integer */
			lua_pushinteger(L, (lua_Integer)pl_lua__random(run));
			return 1;
		}
		break;
	case 2:
		lo = luaL_checkinteger(L, 1);
		up = luaL_checkinteger(L, 2);
		break;
	default:
		return luaL_error(L, "wrong number of arguments");
	}
	luaL_argcheck(L, lo <= up, 1, "interval is empty");
	lua_pushinteger(L, (lua_Integer)((lua_Unsigned)lo +
					 project(run, (lua_Unsigned)up -
							      (lua_Unsigned)lo)));
	return 1;
}

/* ---------------------------------------------------------------- loading */

struct file_reader {
	FILE *f;
	char buf[4096];
};

static const char *read_file_chunk(lua_State *L, void *ud, size_t *size)
{
	struct file_reader *r = ud;

	(void)L;
	*size = fread(r->buf, 1, sizeof(r->buf), r->f);
	return *size ? r->buf : NULL;
}

int pl_lua__load_file(lua_State *L, const char *path, const char *chunkname,
		      int *err)
{
	struct file_reader *r;
	int st;

	*err = 0;
	r = malloc(sizeof(*r));
	if (!r) {
		*err = -ENOMEM;
		lua_pushliteral(L, "not enough memory");
		return LUA_ERRMEM;
	}
	r->f = fopen(path, "re");
	if (!r->f) {
		*err = -errno;
		free(r);
		lua_pushfstring(L, "cannot open %s: %s", chunkname + 1,
				strerror(-*err));
		return LUA_ERRFILE;
	}
	/* Lua raises nothing out of lua_load: it returns a status. */
	st = lua_load(L, read_file_chunk, r, chunkname, "t");
	if (st == LUA_OK && ferror(r->f)) {
		*err = -EIO;
		lua_pop(L, 1);
		lua_pushfstring(L, "cannot read %s", chunkname + 1);
		st = LUA_ERRFILE;
	} else if (st != LUA_OK) {
		*err = st == LUA_ERRMEM ? -ENOMEM : -PL_ESCRIPT;
	}
	fclose(r->f);
	free(r);
	return st;
}

/* --------------------------------------------------------------- require */

static bool module_name_ok(const char *name)
{
	bool start = true;

	if (!*name)
		return false;
	for (const char *p = name; *p; p++) {
		if (*p == '.') {
			if (start)
				return false;
			start = true;
		} else if (isalnum((unsigned char)*p) || *p == '_') {
			start = false;
		} else {
			return false;
		}
	}
	return !start;
}

static int require_k(lua_State *L, int status, lua_KContext ctx)
{
	/* 1: name, 2: loaded table, then the module's one result */
	(void)status;
	(void)ctx;
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, 2, lua_tostring(L, 1));
	return 1;
}

/* Push <root>/<a/b>.lua (4) and "@<display>/<a/b>.lua" (5) for the
 * module path at 3, if that file is inside root after symlinks; false
 * (nothing pushed) otherwise. */
static bool push_module_path(lua_State *L, const char *root,
			     const char *display)
{
	char *path;
	size_t rootlen;
	bool inside;

	if (!root)
		return false;
	lua_pushfstring(L, "%s/%s.lua", root, lua_tostring(L, 3));
	path = realpath(lua_tostring(L, -1), NULL);
	rootlen = strlen(root);
	inside = path && !strncmp(path, root, rootlen) && path[rootlen] == '/';
	free(path);
	if (!inside) {
		lua_pop(L, 1);
		return false;
	}
	lua_pushfstring(L, "@%s/%s.lua", display, lua_tostring(L, 3));
	return true;
}

static bool push_path_roots(lua_State *L, const struct pl_lua_host *h)
{
	for (size_t i = 0; h->path_roots && h->path_roots[i]; i++)
		if (push_module_path(L, h->path_roots[i], h->path_display[i]))
			return true;
	return false;
}

static int l_require(lua_State *L)
{
	struct pl_lua_run *run = run_or_raise(L);
	struct pl_lua_host *h = run->host;
	const char *name = luaL_checkstring(L, 1);
	int err, st;

	lua_settop(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, run->loaded_ref); /* 2 */
	if (lua_getfield(L, 2, name) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	if (!module_name_ok(name))
		return luaL_error(L, "module '%s' not found: a module name is "
				     "dotted words ('lib.util')", name);
	if (!h->root && !h->lib_root && !h->path_roots)
		return luaL_error(L, "module '%s' not found: no scenarios root",
				  name);
	/* <root>/a/b.lua, and "@<display>/a/b.lua" as its chunk name; then
	 * the same in each scenario_path directory and the library root */
	lua_pushstring(L, name);
	luaL_gsub(L, name, ".", "/");
	lua_remove(L, -2); /* 3: a/b */
	if (!push_module_path(L, h->root, h->root_display) &&
	    !push_path_roots(L, h) &&
	    !push_module_path(L, h->lib_root, "patchlab"))
		return luaL_error(L, "module '%s' not found under %s%s%s", name,
				  h->root_display,
				  h->path_roots ? ", the scenario_path" : "",
				  h->lib_root ? " or patchlab's library" : "");
	st = pl_lua__load_file(L, lua_tostring(L, 4), lua_tostring(L, 5), &err);
	if (st != LUA_OK)
		return luaL_error(L, "error loading module '%s': %s", name,
				  lua_tostring(L, -1));
	lua_rawgeti(L, LUA_REGISTRYINDEX, run->env_ref);
	lua_setupvalue(L, -2, 1); /* _ENV */
	lua_replace(L, 3);
	lua_settop(L, 3);
	lua_pushvalue(L, 1);
	lua_callk(L, 1, 1, 0, require_k);
	return require_k(L, LUA_OK, 0);
}

/* ------------------------------------------------------ building it all */

struct lib_allow {
	const char *name;       /* global name of the library, NULL: base */
	lua_CFunction open;
	const char *const *keep; /* names copied from the real library */
};

static const char *const base_keep[] = {
	"assert", "error", "ipairs", "next", "pairs", "pcall", "xpcall",
	"rawequal", "rawget", "rawlen", "select", "tonumber", "tostring",
	"type", "_VERSION", NULL
};
static const char *const string_keep[] = {
	"byte", "char", "find", "format", "gmatch", "gsub", "len", "lower",
	"match", "rep", "reverse", "sub", "upper", "pack", "packsize",
	"unpack", NULL
};
static const char *const table_keep[] = {
	"concat", "insert", "move", "pack", "remove", "sort", "unpack", NULL
};
static const char *const math_keep[] = {
	"abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log",
	"max", "maxinteger", "min", "mininteger", "modf", "pi", "rad", "sin",
	"sqrt", "tan", "tointeger", "type", "ult", "acos", "asin", "atan",
	NULL
};
static const char *const utf8_keep[] = {
	"char", "charpattern", "codes", "codepoint", "len", "offset", NULL
};
static const char *const coroutine_keep[] = {
	"close", "create", "isyieldable", "resume", "running", "status",
	"wrap", NULL
};
static const char *const os_keep[] = { "clock", "date", "time", NULL };

static const struct lib_allow libs[] = {
	{ NULL, luaopen_base, base_keep },
	{ "string", luaopen_string, string_keep },
	{ "table", luaopen_table, table_keep },
	{ "math", luaopen_math, math_keep },
	{ "utf8", luaopen_utf8, utf8_keep },
	{ "coroutine", luaopen_coroutine, coroutine_keep },
	{ "os", luaopen_os, os_keep },
};

static void copy_names(lua_State *L, int from, int to,
		       const char *const *keep)
{
	for (; *keep; keep++) {
		lua_getfield(L, from, *keep);
		lua_setfield(L, to, *keep);
	}
}

static int sandbox_build(lua_State *L)
{
	struct pl_lua_host *h = lua_touserdata(L, 1);
	int G, lib;

	lua_newtable(L); /* the shared globals */
	G = lua_gettop(L);
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		luaL_requiref(L, libs[i].name ? libs[i].name : "_G",
			      libs[i].open, 0);
		if (!libs[i].name) {
			copy_names(L, -1, G, libs[i].keep);
			lua_getfield(L, -1, "load");
			lua_pushcclosure(L, l_load, 1);
			lua_setfield(L, G, "load");
			lua_getfield(L, -1, "setmetatable");
			lua_pushcclosure(L, l_setmetatable, 1);
			lua_setfield(L, G, "setmetatable");
			lua_pushcfunction(L, l_rawset);
			lua_setfield(L, G, "rawset");
			lua_pushcfunction(L, l_getmetatable);
			lua_setfield(L, G, "getmetatable");
			lua_pop(L, 1);
			continue;
		}
		lua_newtable(L);
		lib = lua_gettop(L);
		copy_names(L, lib - 1, lib, libs[i].keep);
		if (!strcmp(libs[i].name, "math")) {
			lua_pushcfunction(L, l_random);
			lua_setfield(L, lib, "random");
			lua_pushcfunction(L, l_randomseed);
			lua_setfield(L, lib, "randomseed");
		} else if (!strcmp(libs[i].name, "coroutine")) {
			lua_pushcfunction(L, l_co_yield);
			lua_setfield(L, lib, "yield");
			lua_pushcfunction(L, l_co_create);
			lua_setfield(L, lib, "create");
			lua_getfield(L, lib - 1, "wrap");
			lua_pushcclosure(L, l_co_wrap, 1);
			lua_setfield(L, lib, "wrap");
		} else if (!strcmp(libs[i].name, "string")) {
			/* methods on strings use the filtered table, and the
			 * string metatable is hidden from scripts */
			lua_pushliteral(L, "");
			lua_getmetatable(L, -1);
			lua_pushvalue(L, lib);
			lua_setfield(L, -2, "__index");
			lua_pushboolean(L, 0);
			lua_setfield(L, -2, "__metatable");
			h->string_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
			lua_pop(L, 1);
		}
		pl_lua_readonly(L, lib);
		lua_setfield(L, G, libs[i].name);
		lua_pop(L, 1);
	}
	pl_lua__push_codec(L);
	for (int i = 0; i < 2; i++) {
		const char *sub = i ? "hex" : "base64";

		lua_getfield(L, -1, sub);
		pl_lua_readonly(L, -1);
		lua_setfield(L, -2, sub);
	}
	pl_lua_readonly(L, -1);
	lua_setfield(L, G, "codec");
	lua_pushcfunction(L, l_print);
	lua_setfield(L, G, "print");
	lua_pushcfunction(L, l_require);
	lua_setfield(L, G, "require");

	/* the metatable of every run's _ENV */
	lua_createtable(L, 0, 3);
	lua_pushvalue(L, G);
	lua_pushcclosure(L, env_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushvalue(L, G);
	lua_pushcclosure(L, env_newindex, 1);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	h->env_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	h->globals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

int pl_lua__sandbox_open(struct pl_lua_host *h)
{
	lua_State *L = h->L;

	lua_pushcfunction(L, sandbox_build);
	lua_pushlightuserdata(L, h);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
		pl_log(&h->log, PL_LOG_ERROR, "lua sandbox: %s",
		       lua_tostring(L, -1));
		lua_pop(L, 1);
		return -ENOMEM;
	}
	return 0;
}
