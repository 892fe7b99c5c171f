/* SPDX-License-Identifier: MIT */
/*
 * The Lua host object: the lua_State and the host-level setup calls. The
 * allocator and its accounts live in budget.c, the sandbox in sandbox.c,
 * runs in run.c, userdata classes in class.c.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lualib.h>

#include "luahost_internal.h"
#include "patchlab/error.h"

/* ------------------------------------------------------------------ host */

static int host_panic(lua_State *L)
{
	const char *msg = lua_tostring(L, -1);

	/* Every entry into Lua is protected; reaching this is a bug. */
	fprintf(stderr, "patchlab: unprotected Lua error: %s\n",
		msg ? msg : "(not a string)");
	abort();
}

static void free_module_path(struct pl_lua_host *h)
{
	for (size_t i = 0; h->path_roots && h->path_roots[i]; i++)
		free(h->path_roots[i]);
	for (size_t i = 0; h->path_display && h->path_display[i]; i++)
		free(h->path_display[i]);
	free(h->path_roots);
	free(h->path_display);
	h->path_roots = h->path_display = NULL;
}

/* The scenario_path directories, as realpaths (and as given). 0, -ENOMEM,
 * or -EINVAL (logged) for one that is not a directory. */
static int copy_module_path(struct pl_lua_host *h, const char *const *dirs)
{
	size_t n = 0;
	struct stat st;

	while (dirs && dirs[n])
		n++;
	if (!n)
		return 0;
	h->path_roots = calloc(n + 1, sizeof(*h->path_roots));
	h->path_display = calloc(n + 1, sizeof(*h->path_display));
	if (!h->path_roots || !h->path_display)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		h->path_display[i] = strdup(dirs[i]);
		h->path_roots[i] = realpath(dirs[i], NULL);
		if (!h->path_display[i])
			return -ENOMEM;
		if (!h->path_roots[i] || stat(h->path_roots[i], &st) ||
		    !S_ISDIR(st.st_mode)) {
			pl_log(&h->log, PL_LOG_ERROR, "scenario_path %s is not "
			       "a directory", dirs[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* What a host owns besides its Lua state. */
static void free_host(struct pl_lua_host *h)
{
	free_module_path(h);
	free(h->accts);
	free(h->root);
	free(h->lib_root);
	free(h->root_display);
	free(h);
}

int pl_lua_host_open(struct pl_lua_host **out,
		     const struct pl_lua_host_config *cfg)
{
	struct pl_lua_host *h;
	uint32_t slot;
	struct stat st;
	int rc;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->log = cfg->log;
	h->host_mem_limit = cfg->host_mem_limit ? cfg->host_mem_limit
						 : 256u << 20;
	h->run_mem_limit = cfg->run_mem_limit ? cfg->run_mem_limit : 32u << 20;
	h->run_instr_limit = cfg->run_instr_limit ? cfg->run_instr_limit
						  : 200000000u;
	h->env_mt_ref = LUA_NOREF;
	h->globals_ref = LUA_NOREF;
	h->string_mt_ref = LUA_NOREF;
	h->stop_mark = pl_lua__stop_mark();
	rc = -ENOMEM;
	h->root_display = strdup(cfg->root_display ? cfg->root_display
						   : "scenarios");
	if (!h->root_display)
		goto err_free_host;
	if (cfg->scenarios_root) {
		h->root = realpath(cfg->scenarios_root, NULL);
		if (!h->root || stat(h->root, &st) || !S_ISDIR(st.st_mode)) {
			pl_log(&h->log, PL_LOG_ERROR,
			       "scenarios root %s is not a directory",
			       cfg->scenarios_root);
			rc = -EINVAL;
			goto err_free_host;
		}
	}
	rc = copy_module_path(h, cfg->module_path);
	if (rc)
		goto err_free_host;
	rc = -ENOMEM;
	/* a shipped library that is not there is no error: none is used */
	if (cfg->library_root)
		h->lib_root = realpath(cfg->library_root, NULL);
	rc = pl_lua__acct_new(h, NULL, &slot); /* slot 0: the host */
	if (rc)
		goto err_free_host;
	h->L = lua_newstate(pl_lua__alloc, h);
	if (!h->L) {
		rc = -ENOMEM;
		goto err_free_host;
	}
	lua_atpanic(h->L, host_panic);
	rc = pl_lua__sandbox_open(h);
	if (rc)
		goto err_close_state;
	*out = h;
	return 0;

err_close_state:
	lua_close(h->L);
err_free_host:
	free_host(h);
	return rc;
}

void pl_lua_host_free(struct pl_lua_host *h)
{
	struct pl_lua_run *run;

	if (!h)
		return;
	assert(h->depth == 0);
	for (;;) {
		for (run = h->runs; run; run = run->next)
			if (run->state == PL_LUA_RUN_RUNNING ||
			    run->state == PL_LUA_RUN_WAITING)
				break;
		if (!run)
			break;
		pl_lua_run_cancel(run, -PL_ECANCELED, "controller stopping");
	}
	while (h->runs)
		pl_lua_run_free(h->runs);
	lua_close(h->L);
	free_host(h);
}

lua_State *pl_lua_host_state(struct pl_lua_host *h)
{
	return h->L;
}

static int setglobal_protected(lua_State *L)
{
	/* 1: globals table, 2: name (light userdata), 3: value */
	lua_settop(L, 3);
	lua_pushstring(L, lua_touserdata(L, 2));
	lua_replace(L, 2);
	lua_rawset(L, 1);
	return 0;
}

int pl_lua_host_setglobal(struct pl_lua_host *h, const char *name)
{
	lua_State *L = h->L;
	int rc;

	lua_pushcfunction(L, setglobal_protected);
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->globals_ref);
	lua_pushlightuserdata(L, (void *)name); /* pushed as a string inside */
	lua_rotate(L, -4, -1); /* value goes last */
	rc = lua_pcall(L, 3, 0, 0);
	if (rc != LUA_OK) {
		lua_pop(L, 1);
		return -ENOMEM;
	}
	return 0;
}

size_t pl_lua_host_mem(const struct pl_lua_host *h)
{
	return h->mem_total;
}

size_t pl_lua_host_mem_peak(const struct pl_lua_host *h)
{
	return h->mem_peak;
}
