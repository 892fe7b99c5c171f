/* SPDX-License-Identifier: MIT */
/*
 * Scenario runs: one coroutine each, resumed from the loop, with a single
 * wait slot, budgets and cancellation. Contracts in patchlab/luahost.h.
 *
 * The coroutine's body is run_main, a C function that calls the chunk with
 * lua_pcallk under a message handler (lua_resume has none): errors get
 * their traceback at the point they were raised, and the scenario's
 * to-be-closed variables are closed by that pcall before the run ends.
 *
 * Wait slot states (run->wstate):
 *
 *   NONE --wait_begin--> ARMED --wait_yield--> YIELDED --resume/fail--> NONE
 *                          |                                  (coroutine
 *                          +--resume/fail (synchronous)--> DONE  resumed)
 *                                          --wait_yield--> NONE (no yield)
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luahost_internal.h"
#include "patchlab/error.h"

/* Instructions the __close handlers of a cancelled run may still use. */
#define CLOSE_BUDGET (100u * PL_LUA_HOOK_STEP)

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ------------------------------------------------------------ run object */

int pl_lua_run_open(struct pl_lua_host *h, struct pl_lua_run **out,
		    const struct pl_lua_run_config *cfg)
{
	struct pl_lua_run *run;

	*out = NULL;
	run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	run->host = h;
	run->cfg = *cfg;
	run->co_ref = run->env_ref = run->loaded_ref = LUA_NOREF;
	run->source = dup_or_null(cfg->source);
	run->path = cfg->source ? NULL : dup_or_null(cfg->path);
	run->chunkname = dup_or_null(cfg->chunkname ? cfg->chunkname
						    : cfg->path);
	run->id = dup_or_null(cfg->id);
	run->board = dup_or_null(cfg->board);
	if ((!run->path && !run->source) || !run->chunkname ||
	    (cfg->id && !run->id) ||
	    (cfg->board && !run->board))
		goto err_free_run;
	run->cfg.path = run->path;
	run->cfg.source = run->source;
	run->cfg.chunkname = run->chunkname;
	run->cfg.id = run->id;
	run->cfg.board = run->board;
	if (pl_lua__acct_new(h, run, &run->acct))
		goto err_free_run;
	run->seed = cfg->seed;
	pl_lua__seed(run, cfg->seed);
	run->deadline_ns = cfg->deadline_ns;
	run->instr_limit = cfg->instr_limit ? cfg->instr_limit
					    : h->run_instr_limit;
	run->mem_limit = cfg->mem_limit ? cfg->mem_limit : h->run_mem_limit;
	run->state = PL_LUA_RUN_NEW;
	run->next = h->runs;
	if (h->runs)
		h->runs->prev = run;
	h->runs = run;
	*out = run;
	return 0;

err_free_run:
	free(run->source);
	free(run->path);
	free(run->chunkname);
	free(run->id);
	free(run->board);
	free(run);
	return -ENOMEM;
}

static void ready_remove(struct pl_lua_host *h, struct pl_lua_run *run)
{
	struct pl_lua_run **pp, *prev = NULL;

	if (!run->queued)
		return;
	for (pp = &h->ready_head; *pp != run; pp = &(*pp)->ready_next)
		prev = *pp;
	*pp = run->ready_next;
	if (h->ready_tail == run)
		h->ready_tail = prev;
	run->queued = false;
	run->ready_next = NULL;
}

void pl_lua_run_free(struct pl_lua_run *run)
{
	struct pl_lua_host *h;

	if (!run)
		return;
	h = run->host;
	assert(h->current != run);
	if (run->state == PL_LUA_RUN_RUNNING ||
	    run->state == PL_LUA_RUN_WAITING) {
		run->cfg.done = NULL;
		pl_lua_run_cancel(run, -PL_ECANCELED, "run freed");
	}
	ready_remove(h, run);
	if (run->prev)
		run->prev->next = run->next;
	else
		h->runs = run->next;
	if (run->next)
		run->next->prev = run->prev;
	luaL_unref(h->L, LUA_REGISTRYINDEX, run->co_ref);
	luaL_unref(h->L, LUA_REGISTRYINDEX, run->env_ref);
	luaL_unref(h->L, LUA_REGISTRYINDEX, run->loaded_ref);
	pl_lua__acct_release(h, run->acct);
	free(run->source);
	free(run->path);
	free(run->chunkname);
	free(run->id);
	free(run->board);
	free(run->fail_msg);
	free(run->kill_msg);
	free(run->message);
	free(run->traceback);
	free(run);
}

/* ---------------------------------------------------------------- ending */

/* Does msg start with a position, "file:line:"? */
static bool has_position(const char *msg)
{
	const char *p = msg;

	while (*p && *p != ':' && *p != '\n')
		p++;
	if (p == msg || *p != ':' || !isdigit((unsigned char)p[1]))
		return false;
	for (p++; isdigit((unsigned char)*p); p++)
		;
	return *p == ':';
}

/* Keep at most max bytes of s (cut at a UTF-8 character boundary, saying
 * that it was cut), plus a NUL. Returns a new string or NULL. */
static char *capped(const char *s, size_t len, size_t max)
{
	static const char mark[] = " [... message truncated]";
	char *out;

	if (len <= max)
		return strndup(s, len);
	max -= sizeof(mark) - 1;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	out = malloc(max + sizeof(mark));
	if (!out)
		return NULL;
	memcpy(out, s, max);
	memcpy(out + max, mark, sizeof(mark));
	return out;
}

static void set_outcome(struct pl_lua_run *run, int status, const char *tb)
{
	const char *nl;

	run->status = status;
	free(run->message);
	free(run->traceback);
	run->message = run->traceback = NULL;
	if (!status)
		return;
	if (!tb)
		tb = pl_strerror(status);
	run->traceback = capped(tb, strlen(tb), PL_LUA_TRACEBACK_MAX - 1);
	nl = strchr(tb, '\n');
	run->message = capped(tb, nl ? (size_t)(nl - tb) : strlen(tb),
			      PL_LUA_MESSAGE_MAX - 1);
}

static void finish(struct pl_lua_run *run)
{
	pl_lua_done_fn done = run->cfg.done;

	run->state = PL_LUA_RUN_DONE;
	run->wstate = PL_WAIT_NONE;
	if (run->status)
		pl_log(&run->cfg.log, PL_LOG_DEBUG, "run %s ended: %s",
		       run->id ? run->id : "?", run->message);
	if (done)
		done(run, run->cfg.user_data); /* may free run */
}

/*
 * The error that ended the coroutine, as text with a position. The
 * message handler makes every error raised in the chunk a string; what
 * reaches here otherwise was raised where no handler runs (a __close
 * handler while the stack unwinds, an error in the handler itself), so
 * the position is the scenario file, the most that is known then.
 * Never calls the script's code: the coroutine is dead.
 */
static const char *end_error(struct pl_lua_run *run, char *buf, size_t len)
{
	lua_State *co = run->co;
	const char *err;

	if (lua_type(co, -1) != LUA_TSTRING) {
		snprintf(buf, len, "%s: (error object is a %s value)",
			 run->chunkname, luaL_typename(co, -1));
		return buf;
	}
	err = lua_tostring(co, -1);
	if (has_position(err))
		return err;
	snprintf(buf, len, "%s: %s", run->chunkname, err);
	return buf;
}

/* The coroutine ended with status st (not LUA_YIELD). */
static void ended(struct pl_lua_run *run, int st)
{
	const char *err = NULL;
	char buf[PL_LUA_MESSAGE_MAX];

	if (st != LUA_OK && st != LUA_ERRMEM)
		err = end_error(run, buf, sizeof(buf));
	if (run->killed) {
		/* from the kill message on: coroutine.wrap prefixes the
		 * position of its call to the errors it passes on */
		const char *at = err && run->kill_msg ? strstr(err, run->kill_msg)
						      : NULL;

		if (at)
			set_outcome(run, run->kill_code, at);
		else
			set_outcome(run, run->kill_code, run->kill_msg);
	} else if (st == LUA_OK) {
		set_outcome(run, 0, NULL);
	} else if (st == LUA_ERRMEM) {
		/* the stack is unwound by now: use where memory ran out */
		snprintf(buf, sizeof(buf), "%s: not enough memory",
			 run->mem_where[0] ? run->mem_where : run->chunkname);
		set_outcome(run, -PL_EBUDGET, buf);
	} else if (run->fail_msg && strstr(err, run->fail_msg)) {
		set_outcome(run, run->fail_code, err);
	} else {
		set_outcome(run, -PL_ESCRIPT, err);
	}
	if (st != LUA_OK)
		lua_pop(run->co, 1);
	finish(run);
}

static void step(struct pl_lua_run *run, int nargs)
{
	struct pl_lua_host *h = run->host;
	struct pl_lua_run *prev = h->current;
	int nres = 0, st;

	run->state = PL_LUA_RUN_RUNNING;
	h->depth++;
	h->current = run;
	st = lua_resume(run->co, NULL, nargs, &nres);
	h->current = prev;
	h->depth--;
	if (st == LUA_YIELD && run->wstate == PL_WAIT_YIELDED) {
		run->state = PL_LUA_RUN_WAITING;
		return;
	}
	if (st == LUA_YIELD) { /* cannot happen with our coroutine.yield */
		lua_settop(run->co, 0);
		pl_lua__run_kill(run, -PL_ESCRIPT,
				 "scenario yielded outside a lab call");
		set_outcome(run, -PL_ESCRIPT, run->kill_msg);
		finish(run);
		return;
	}
	ended(run, st);
}

/* Run it now, or queue it when another run is executing (runs never nest);
 * the queue is drained by the outermost caller. */
static void schedule(struct pl_lua_run *run, int nargs)
{
	struct pl_lua_host *h = run->host;

	run->state = PL_LUA_RUN_RUNNING;
	if (h->depth > 0) {
		run->queued = true;
		run->queued_nargs = nargs;
		if (h->ready_tail)
			h->ready_tail->ready_next = run;
		else
			h->ready_head = run;
		h->ready_tail = run;
		return;
	}
	step(run, nargs);
	while (h->depth == 0 && h->ready_head) {
		run = h->ready_head;
		ready_remove(h, run);
		step(run, run->queued_nargs);
	}
}

/* ---------------------------------------------------------- coroutine body */

/* The text of a non-string error object: its __tostring if it has one
 * that works (called protected: it is the script's code, and may raise,
 * loop until the budget ends it, or return something else), or what it
 * is. Pushes the text. */
static const char *object_text(lua_State *L, struct pl_lua_run *run, int idx)
{
	idx = lua_absindex(L, idx);
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_pushvalue(L, idx);
		return lua_tostring(L, -1);
	}
	if (run && !run->killed &&
	    luaL_getmetafield(L, idx, "__tostring") != LUA_TNIL) {
		lua_pushvalue(L, idx);
		if (lua_pcall(L, 1, 1, 0) == LUA_OK &&
		    lua_type(L, -1) == LUA_TSTRING)
			return lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	return lua_pushfstring(L, "(error object is a %s value)",
			       luaL_typename(L, idx));
}

/*
 * The message handler of the run's chunk: every error becomes one string
 * with a position and a traceback, whatever was raised (error(nil),
 * error({}), error(obj) with a __tostring, error("text", 0)). The position
 * is the innermost Lua line, where the error was raised.
 */
static int msgh(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);
	const char *msg;
	char where[160];
	size_t len;

	if (lua_type(L, 1) != LUA_TSTRING)
		object_text(L, run, 1);
	msg = lua_tolstring(L, lua_type(L, 1) == LUA_TSTRING ? 1 : -1, &len);
	/* the run keeps at most this much: copy no more into the traceback */
	if (len > PL_LUA_TRACEBACK_MAX)
		msg = lua_pushlstring(L, msg, PL_LUA_TRACEBACK_MAX);
	if (!has_position(msg)) {
		pl_lua__where(L, where, sizeof(where));
		if (strcmp(where, "?"))
			msg = lua_pushfstring(L, "%s: %s", where, msg);
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static int run_main_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)ctx;
	if (status != LUA_OK && status != LUA_YIELD)
		return lua_error(L); /* to lua_resume, with the traceback */
	return lua_gettop(L) - 1;
}

static int run_main(lua_State *L)
{
	/* 1: chunk, 2: params */
	lua_pushcfunction(L, msgh);
	lua_insert(L, 1);
	return run_main_k(L, lua_pcallk(L, 1, LUA_MULTRET, 1, 0, run_main_k),
			  0);
}

/* Runs on the new coroutine (as a plain call, before any resume): leaves
 * run_main, the chunk and the params on its stack. */
static int prepare(lua_State *L)
{
	struct pl_lua_run *run = lua_touserdata(L, 1);
	struct pl_lua_host *h = run->host;
	char *chunkname;
	int err, rc;

	lua_settop(L, 0);
	lua_pushcfunction(L, run_main);
	chunkname = malloc(strlen(run->chunkname) + 2);
	if (!chunkname) {
		run->status = -ENOMEM;
		return luaL_error(L, "not enough memory");
	}
	chunkname[0] = '@';
	strcpy(chunkname + 1, run->chunkname);
	if (run->source) {
		rc = luaL_loadbufferx(L, run->source, strlen(run->source),
				      chunkname, "t");
		err = rc == LUA_ERRMEM ? -ENOMEM : -PL_ESCRIPT;
	} else {
		rc = pl_lua__load_file(L, run->path, chunkname, &err);
	}
	free(chunkname);
	if (rc != LUA_OK) {
		run->status = err;
		return lua_error(L);
	}
	pl_lua__push_env(h, L);
	lua_pushvalue(L, -1);
	run->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_setupvalue(L, -2, 1); /* the chunk's _ENV */
	lua_newtable(L);
	run->loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (run->cfg.params_fn) {
		rc = run->cfg.params_fn(L, run->cfg.params_ud);
		if (rc) {
			run->status = rc;
			return luaL_error(L, "scenario parameters: %s",
					  pl_strerror(rc));
		}
	} else if (run->cfg.params) {
		pl_lua_push_value(L, run->cfg.params);
	} else {
		lua_newtable(L);
	}
	return 3;
}

static int new_thread(lua_State *L)
{
	struct pl_lua_run *run = lua_touserdata(L, 1);

	run->co = lua_newthread(L);
	run->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

int pl_lua_run_start(struct pl_lua_run *run)
{
	struct pl_lua_host *h = run->host;
	struct pl_lua_run *prev = h->current;
	int st;

	assert(run->state == PL_LUA_RUN_NEW);
	h->current = run;
	run->status = -ENOMEM;
	lua_pushcfunction(h->L, new_thread);
	lua_pushlightuserdata(h->L, run);
	st = lua_pcall(h->L, 1, 0, 0);
	if (st != LUA_OK) {
		lua_pop(h->L, 1);
		goto err_not_started;
	}
	run->status = -PL_ESCRIPT;
	lua_pushcfunction(run->co, prepare);
	lua_pushlightuserdata(run->co, run);
	st = lua_pcall(run->co, 1, 3, 0);
	if (st != LUA_OK) {
		set_outcome(run, run->status ? run->status : -PL_ESCRIPT,
			    lua_tostring(run->co, -1));
		lua_settop(run->co, 0);
		goto err_not_started;
	}
	h->current = prev;
	run->status = 0;
	lua_sethook(run->co, pl_lua__count_hook, LUA_MASKCOUNT,
		    PL_LUA_HOOK_STEP);
	schedule(run, 2);
	return 0;

err_not_started:
	h->current = prev;
	if (!run->message)
		set_outcome(run, run->status, NULL);
	run->state = PL_LUA_RUN_DONE;
	return run->status;
}

/* ----------------------------------------------------------------- waits */

struct pl_lua_run *pl_lua_wait_prepare(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);

	if (!run)
		luaL_error(L, "lab call outside a scenario run");
	if (L != run->co)
		luaL_error(L, "cannot wait inside a coroutine: make lab calls "
			      "from the scenario's main body");
	if (run->killed)
		pl_lua__raise_kill(L, run);
	return run;
}

void pl_lua_wait_begin(struct pl_lua_run *run, const struct pl_lua_wait *w)
{
	assert(run->wstate == PL_WAIT_NONE);
	assert(run->state == PL_LUA_RUN_RUNNING);
	run->wait = *w;
	run->wstate = PL_WAIT_ARMED;
	run->wait_code = 0;
	run->wait_nres = 0;
}

static int wait_finish(lua_State *L, struct pl_lua_run *run)
{
	char *msg;

	run->wstate = PL_WAIT_NONE;
	if (run->killed)
		return pl_lua__raise_kill(L, run);
	if (!run->wait_code)
		return run->wait_nres;
	/* "file:line: msg", remembered so the end of the run can tell this
	 * failure (and its code) from other errors */
	msg = run->fail_msg; /* the message given to pl_lua_run_fail */
	run->fail_msg = NULL;
	run->fail_code = run->wait_code;
	luaL_where(L, 1);
	lua_pushstring(L, msg ? msg : pl_strerror(run->wait_code));
	free(msg);
	lua_concat(L, 2);
	run->fail_msg = strdup(lua_tostring(L, -1));
	return lua_error(L);
}

static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return wait_finish(L, pl_lua_run_from(L));
}

int pl_lua_wait_yield(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);

	assert(run && L == run->co);
	if (run->killed && run->wstate == PL_WAIT_ARMED) {
		/* killed while starting the operation: stop it, then end */
		run->wstate = PL_WAIT_NONE;
		if (run->wait.cancel)
			run->wait.cancel(run->wait.user_data);
		return pl_lua__raise_kill(L, run);
	}
	if (run->wstate == PL_WAIT_DONE)
		return wait_finish(L, run);
	assert(run->wstate == PL_WAIT_ARMED);
	run->wstate = PL_WAIT_YIELDED;
	return lua_yieldk(L, 0, 0, wait_k);
}

static void complete(struct pl_lua_run *run, int nresults, int code,
		     const char *msg)
{
	if (run->wstate != PL_WAIT_ARMED && run->wstate != PL_WAIT_YIELDED) {
		/* a completion after the wait was cancelled: a bug in the
		 * caller's cancel, but never worth resuming a dead thread */
		pl_log(&run->cfg.log, PL_LOG_WARN,
		       "run %s: completion of '%s' with no pending wait dropped",
		       run->id ? run->id : "?",
		       run->wait.what ? run->wait.what : "?");
		if (nresults > 0 && run->co)
			lua_pop(run->co, nresults);
		return;
	}
	run->wait_nres = nresults;
	run->wait_code = code;
	if (code) {
		free(run->fail_msg);
		run->fail_msg = dup_or_null(msg);
	}
	if (run->wstate == PL_WAIT_ARMED) { /* before the yield */
		run->wstate = PL_WAIT_DONE;
		return;
	}
	assert(run->state == PL_LUA_RUN_WAITING);
	schedule(run, nresults);
}

void pl_lua_run_resume(struct pl_lua_run *run, int nresults)
{
	complete(run, nresults, 0, NULL);
}

void pl_lua_run_fail(struct pl_lua_run *run, int code, const char *msg)
{
	assert(code < 0);
	complete(run, 0, code, msg);
}

/* ----------------------------------------------------------- cancellation */

void pl_lua_run_cancel(struct pl_lua_run *run, int code, const char *msg)
{
	struct pl_lua_host *h = run->host;
	struct pl_lua_run *prev;
	char buf[256];
	int st;

	if (!msg)
		msg = pl_strerror(code);
	snprintf(buf, sizeof(buf), "%s%s%s", run->board ? run->board : "",
		 run->board ? ": " : "", msg);
	switch (run->state) {
	case PL_LUA_RUN_DONE:
		return;
	case PL_LUA_RUN_NEW:
		run->state = PL_LUA_RUN_DONE;
		set_outcome(run, code, buf);
		return;
	case PL_LUA_RUN_RUNNING:
		if (!run->queued) { /* executing: it cancels itself */
			pl_lua__run_kill(run, code, buf);
			return;
		}
		ready_remove(h, run);
		break;
	case PL_LUA_RUN_WAITING:
		run->wstate = PL_WAIT_NONE;
		if (run->wait.cancel)
			run->wait.cancel(run->wait.user_data);
		break;
	}
	/* Close the coroutine's to-be-closed variables with a fresh budget,
	 * charged to the run; a stop request does not cut that short. */
	run->killed = false;
	run->stop_exempt = true;
	run->instr_limit = run->instr_used + CLOSE_BUDGET;
	lua_sethook(run->co, pl_lua__count_hook, LUA_MASKCOUNT,
		    PL_LUA_HOOK_STEP);
	prev = h->current;
	h->current = run;
	h->depth++;
	run->state = PL_LUA_RUN_RUNNING;
	st = lua_resetthread(run->co);
	h->depth--;
	h->current = prev;
	if (st != LUA_OK)
		pl_log(&run->cfg.log, PL_LOG_WARN,
		       "run %s: error while closing after cancel: %s",
		       run->id ? run->id : "?", lua_tostring(run->co, -1));
	lua_settop(run->co, 0);
	set_outcome(run, code, buf);
	finish(run);
	if (h->depth == 0) {
		while (h->ready_head) {
			run = h->ready_head;
			ready_remove(h, run);
			step(run, run->queued_nargs);
		}
	}
}

/* -------------------------------------------------------------- getters */

enum pl_lua_run_state pl_lua_run_get_state(const struct pl_lua_run *run)
{
	return run->state;
}

int pl_lua_run_status(const struct pl_lua_run *run)
{
	return run->status;
}

const char *pl_lua_run_message(const struct pl_lua_run *run)
{
	return run->message;
}

const char *pl_lua_run_traceback(const struct pl_lua_run *run)
{
	return run->traceback;
}

uint64_t pl_lua_run_seed(const struct pl_lua_run *run)
{
	return run->seed;
}

const char *pl_lua_run_id(const struct pl_lua_run *run)
{
	return run->id;
}

const char *pl_lua_run_board(const struct pl_lua_run *run)
{
	return run->board;
}

uint64_t pl_lua_run_deadline(const struct pl_lua_run *run)
{
	return run->deadline_ns;
}

void pl_lua_run_set_deadline(struct pl_lua_run *run, uint64_t deadline_ns)
{
	run->deadline_ns = deadline_ns;
}

void *pl_lua_run_user_data(const struct pl_lua_run *run)
{
	return run->cfg.user_data;
}

uint64_t pl_lua_run_instructions(const struct pl_lua_run *run)
{
	return run->instr_used;
}

size_t pl_lua_run_mem(const struct pl_lua_run *run)
{
	return run->host->accts[run->acct].used;
}

size_t pl_lua_run_mem_peak(const struct pl_lua_run *run)
{
	return run->host->accts[run->acct].peak;
}

lua_State *pl_lua_run_stack(struct pl_lua_run *run)
{
	return run->co;
}

/* ----------------------------------------------------------- value trees */

static void push_value_depth(lua_State *L, const struct pl_lua_value *v,
			     int depth)
{
	size_t i;
	lua_Integer n = 0;

	if (depth > 32)
		luaL_error(L, "parameter tree too deep");
	luaL_checkstack(L, 3, "parameter tree");
	switch (v->type) {
	case PL_LUA_VNIL:
		lua_pushnil(L);
		break;
	case PL_LUA_VBOOL:
		lua_pushboolean(L, v->u.b);
		break;
	case PL_LUA_VINT:
		lua_pushinteger(L, (lua_Integer)v->u.i);
		break;
	case PL_LUA_VNUM:
		lua_pushnumber(L, v->u.n);
		break;
	case PL_LUA_VSTR:
		lua_pushlstring(L, v->u.str.s ? v->u.str.s : "",
				v->u.str.len || !v->u.str.s
					? v->u.str.len
					: strlen(v->u.str.s));
		break;
	case PL_LUA_VTABLE:
		lua_createtable(L, 0, (int)v->u.table.n);
		for (i = 0; i < v->u.table.n; i++) {
			const struct pl_lua_value *it = &v->u.table.items[i];

			push_value_depth(L, it, depth + 1);
			if (it->key)
				lua_setfield(L, -2, it->key);
			else
				lua_rawseti(L, -2, ++n);
		}
		break;
	}
}

void pl_lua_push_value(lua_State *L, const struct pl_lua_value *v)
{
	push_value_depth(L, v, 0);
}
