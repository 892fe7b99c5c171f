/* SPDX-License-Identifier: MIT */
/*
 * /pl/lua/host: the sandbox, budgets, waits on a real libuv loop,
 * cancellation, seeded randomness and userdata classes. Scenario scripts
 * live in tests/data/lua/; require resolves under the real scenarios/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lualib.h>

#include "pl_test.h"
#include "patchlab/error.h"
#include "patchlab/luahost.h"

/* ---------------------------------------------------------------- fixture */

struct fx {
	uv_loop_t loop;
	struct pl_lua_host *h;
	struct pl_test_logcap cap;
	unsigned closes;         /* relay objects closed */
	unsigned cancels;        /* waits cancelled */
	unsigned done;           /* done callbacks */
	char order[64];          /* first letters of runs as they end */
	struct pl_lua_run *parked, *unparked;
};

struct sleeper {
	uv_timer_t timer;
	struct pl_lua_run *run;
	struct fx *fx;
	lua_Integer ms;
	bool fail;
	char msg[64];
};

static void sleeper_closed(uv_handle_t *h)
{
	free(h->data);
}

static void sleeper_fired(uv_timer_t *t)
{
	struct sleeper *s = t->data;

	if (s->fail) {
		pl_lua_run_fail(s->run, -PL_EFIXTURE, s->msg);
	} else {
		lua_pushinteger(pl_lua_run_stack(s->run), s->ms);
		pl_lua_run_resume(s->run, 1);
	}
	uv_close((uv_handle_t *)t, sleeper_closed);
}

static void sleeper_cancel(void *ud)
{
	struct sleeper *s = ud;

	s->fx->cancels++;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, sleeper_closed);
}

/* sleep(ms) and sleepfail(ms, msg): a waiting lab call on a uv timer */
static int start_sleep(lua_State *L, bool fail, bool cancellable)
{
	struct fx *fx = lua_touserdata(L, lua_upvalueindex(1));
	lua_Integer ms = luaL_checkinteger(L, 1);
	const char *msg = fail ? luaL_checkstring(L, 2) : "";
	struct pl_lua_run *run = pl_lua_wait_prepare(L);
	struct sleeper *s;

	s = calloc(1, sizeof(*s));
	if (!s) {
		pl_lua_wait_begin(run, &(struct pl_lua_wait){ .what = "sleep" });
		pl_lua_run_fail(run, -ENOMEM, "no memory for a timer");
		return pl_lua_wait_yield(L);
	}
	s->run = run;
	s->fx = fx;
	s->ms = ms;
	s->fail = fail;
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
	uv_timer_init(&fx->loop, &s->timer);
	s->timer.data = s;
	pl_lua_wait_begin(run, &(struct pl_lua_wait){
		.what = "sleep",
		.cancel = cancellable ? sleeper_cancel : NULL,
		.user_data = s });
	uv_timer_start(&s->timer, sleeper_fired, (uint64_t)ms, 0);
	return pl_lua_wait_yield(L);
}

static int l_sleep(lua_State *L)
{
	return start_sleep(L, false, true);
}

static int l_sleepfail(lua_State *L)
{
	return start_sleep(L, true, true);
}

static int l_sleep_nocancel(lua_State *L)
{
	return start_sleep(L, false, false);
}

/* now(...): completes synchronously, returning its arguments */
static int l_now(lua_State *L)
{
	int n = lua_gettop(L);
	struct pl_lua_run *run = pl_lua_wait_prepare(L);

	pl_lua_wait_begin(run, &(struct pl_lua_wait){ .what = "now" });
	/* the completion pushes its results on the run's stack: copy the
	 * arguments there as a callback would */
	for (int i = 1; i <= n; i++)
		lua_pushvalue(pl_lua_run_stack(run), i);
	pl_lua_run_resume(run, n);
	return pl_lua_wait_yield(L);
}

/* failnow(msg): fails synchronously */
static int l_failnow(lua_State *L)
{
	const char *msg = luaL_checkstring(L, 1);
	struct pl_lua_run *run = pl_lua_wait_prepare(L);

	pl_lua_wait_begin(run, &(struct pl_lua_wait){ .what = "failnow" });
	pl_lua_run_fail(run, -PL_EFIXTURE, msg);
	return pl_lua_wait_yield(L);
}

/* park(): waits until unpark(v) from another run returns v to it */
static int l_park(lua_State *L)
{
	struct fx *fx = lua_touserdata(L, lua_upvalueindex(1));
	struct pl_lua_run *run = pl_lua_wait_prepare(L);

	pl_lua_wait_begin(run, &(struct pl_lua_wait){ .what = "park" });
	fx->parked = run;
	return pl_lua_wait_yield(L);
}

static int l_unpark(lua_State *L)
{
	struct fx *fx = lua_touserdata(L, lua_upvalueindex(1));
	lua_Integer v = luaL_checkinteger(L, 1);
	struct pl_lua_run *run = fx->parked;
	unsigned done = fx->done;

	if (!run)
		return luaL_error(L, "nothing parked");
	fx->parked = NULL;
	fx->unparked = run;
	lua_pushinteger(pl_lua_run_stack(run), v);
	pl_lua_run_resume(run, 1);
	/* queued, not executed: runs never nest */
	if (pl_lua_run_get_state(run) != PL_LUA_RUN_RUNNING || fx->done != done)
		return luaL_error(L, "the woken run ran inside this one");
	return 0;
}

static int l_cancel_unparked(lua_State *L)
{
	struct fx *fx = lua_touserdata(L, lua_upvalueindex(1));

	pl_lua_run_cancel(fx->unparked, -PL_ECANCELED, "cancelled in queue");
	return 0;
}

/* relay_object(): a class object whose close counts in the fixture */
struct relay {
	struct fx *fx;
};

static void relay_close(void *payload)
{
	struct relay *r = payload;

	r->fx->closes++;
}

static int relay_state(lua_State *L);

static const luaL_Reg relay_methods[] = {
	{ "state", relay_state },
	{ NULL, NULL },
};

static const struct pl_lua_class relay_class = {
	.name = "patchlab.test.relay",
	.kind = "relay",
	.size = sizeof(struct relay),
	.methods = relay_methods,
	.close = relay_close,
};

static int relay_state(lua_State *L)
{
	pl_lua_object_check_open(L, 1, &relay_class);
	lua_pushliteral(L, "on");
	return 1;
}

static int l_relay_object(lua_State *L)
{
	struct fx *fx = lua_touserdata(L, lua_upvalueindex(1));
	struct relay *r = pl_lua_object_new(L, &relay_class);

	r->fx = fx;
	pl_lua_object_set_open(r);
	return 1;
}

static void add_fn(struct fx *fx, const char *name, lua_CFunction f)
{
	lua_State *L = pl_lua_host_state(fx->h);

	lua_pushlightuserdata(L, fx);
	lua_pushcclosure(L, f, 1);
	assert_int_equal(pl_lua_host_setglobal(fx->h, name), 0);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char *root = pl_test_source_path("scenarios");
	struct pl_lua_host_config cfg = {
		.scenarios_root = root,
		.run_instr_limit = 2000000,
		.run_mem_limit = 4u << 20,
	};

	assert_non_null(fx);
	pl_test_logcap_init(&fx->cap, "lua");
	cfg.log = fx->cap.log;
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	assert_int_equal(pl_lua_host_open(&fx->h, &cfg), 0);
	free(root);
	assert_int_equal(pl_lua_class_register(pl_lua_host_state(fx->h),
					       &relay_class), 0);
	assert_int_equal(pl_lua_class_register(pl_lua_host_state(fx->h),
					       &relay_class), -EEXIST);
	add_fn(fx, "sleep", l_sleep);
	add_fn(fx, "sleepfail", l_sleepfail);
	add_fn(fx, "sleep_nocancel", l_sleep_nocancel);
	add_fn(fx, "now", l_now);
	add_fn(fx, "failnow", l_failnow);
	add_fn(fx, "relay_object", l_relay_object);
	add_fn(fx, "park", l_park);
	add_fn(fx, "unpark", l_unpark);
	add_fn(fx, "cancel_unparked", l_cancel_unparked);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	pl_lua_host_free(fx->h);
	pl_test_loop_drain(&fx->loop);
	assert_int_equal(fx->cap.errors, 0);
	free(fx);
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static void on_done(struct pl_lua_run *run, void *ud)
{
	struct fx *fx = ud;
	size_t n = strlen(fx->order);

	if (n + 1 < sizeof(fx->order) && pl_lua_run_id(run)) {
		fx->order[n] = pl_lua_run_id(run)[0];
		fx->order[n + 1] = '\0';
	}
	fx->done++;
}

static bool run_done(void *ud)
{
	return pl_lua_run_get_state(ud) == PL_LUA_RUN_DONE;
}

static struct pl_lua_run *open_run(struct fx *fx, const char *name,
				   uint64_t seed,
				   const struct pl_lua_value *params)
{
	char rel[256];
	char *path;
	struct pl_lua_run *run;
	struct pl_lua_run_config cfg = {
		.chunkname = rel,
		.id = name,
		.board = "vb0",
		.seed = seed,
		.params = params,
		.log = fx->cap.log,
		.done = on_done,
		.user_data = fx,
	};

	snprintf(rel, sizeof(rel), "tests/data/lua/%s", name);
	path = pl_test_source_path(rel);
	cfg.path = path;
	assert_int_equal(pl_lua_run_open(fx->h, &run, &cfg), 0);
	free(path);
	return run;
}

/* Start a scenario and run the loop until it ends. */
static struct pl_lua_run *run_script(struct fx *fx, const char *name,
				     uint64_t seed,
				     const struct pl_lua_value *params)
{
	struct pl_lua_run *run = open_run(fx, name, seed, params);
	unsigned done = fx->done;

	assert_int_equal(pl_lua_run_start(run), 0);
	assert_int_equal(pl_test_loop_until(&fx->loop, run_done, run, 10000),
			 0);
	assert_int_equal(fx->done, done + 1);
	return run;
}

static const struct pl_lua_value good_items[] = {
	{ .type = PL_LUA_VINT, .key = "n", .u.i = 21 },
	{ .type = PL_LUA_VSTR, .key = "name", .u.str = { "vb0", 0 } },
	{ .type = PL_LUA_VBOOL, .u.b = true },
	{ .type = PL_LUA_VNUM, .u.n = 2.5 },
};
static const struct pl_lua_value good_params = {
	.type = PL_LUA_VTABLE, .u.table = { good_items, 4 },
};

/* The host still runs well-behaved scenarios. */
static void two_good_runs(struct fx *fx)
{
	for (int i = 0; i < 2; i++) {
		struct pl_lua_run *run = run_script(fx, "ok_params.lua", 1,
						    &good_params);
		lua_State *co = pl_lua_run_stack(run);

		assert_int_equal(pl_lua_run_status(run), 0);
		assert_null(pl_lua_run_message(run));
		assert_int_equal(lua_gettop(co), 1);
		lua_getfield(co, 1, "doubled");
		assert_int_equal(lua_tointeger(co, -1), 42);
		lua_getfield(co, 1, "count");
		assert_int_equal(lua_tointeger(co, -1), 2);
		lua_getfield(co, 1, "clamped");
		assert_int_equal(lua_tointeger(co, -1), 10);
		lua_getfield(co, 1, "name");
		assert_string_equal(lua_tostring(co, -1), "vb0");
		pl_lua_run_free(run);
	}
}

/* A bad scenario ends with code and a message containing each needle;
 * then two good runs pass. */
static void expect_bad(struct fx *fx, const char *name, int code,
		       const char *needle1, const char *needle2)
{
	struct pl_lua_run *run = run_script(fx, name, 1, NULL);
	const char *msg = pl_lua_run_message(run);

	assert_non_null(msg);
	if (!strstr(msg, needle1) || (needle2 && !strstr(msg, needle2)))
		fail_msg("%s: message \"%s\" lacks \"%s\" / \"%s\"", name, msg,
			 needle1, needle2 ? needle2 : "");
	assert_int_equal(pl_lua_run_status(run), code);
	assert_non_null(strstr(pl_lua_run_traceback(run), msg));
	pl_lua_run_free(run);
	two_good_runs(fx);
}

/* ------------------------------------------------------------------ tests */

static void params_reach_scenario_and_results_come_back(void **state)
{
	two_good_runs(*state);
}

static void os_execute_and_io_open_end_the_run(void **state)
{
	expect_bad(*state, "bad_os_execute.lua", -PL_ESCRIPT,
		   "tests/data/lua/bad_os_execute.lua:3:", "execute");
	expect_bad(*state, "bad_io_open.lua", -PL_ESCRIPT,
		   "tests/data/lua/bad_io_open.lua:2:", "nonexistent global 'io'");
}

static void require_resolves_only_under_the_root(void **state)
{
	expect_bad(*state, "bad_require_dotdot.lua", -PL_ESCRIPT,
		   "bad_require_dotdot.lua:1:", "module '../x' not found");
	expect_bad(*state, "bad_require_abs.lua", -PL_ESCRIPT,
		   "bad_require_abs.lua:1:", "module '/etc/passwd' not found");
	expect_bad(*state, "bad_require_missing.lua", -PL_ESCRIPT,
		   "bad_require_missing.lua:2:",
		   "module 'lib.does_not_exist' not found");
}

static void require_refuses_a_symlink_out_of_the_root(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_host *h;
	struct pl_lua_run *run;
	char *dir = pl_test_tmpdir("luaroot");
	char *target = pl_test_source_path("tests/data/lua/ok_params.lua");
	char path[600], root[520], scen[600];
	FILE *f;
	struct pl_lua_run_config cfg = { .chunkname = "escape.lua",
					 .log = fx->cap.log };

	assert_true(strlen(dir) < 500);
	snprintf(root, sizeof(root), "%.500s/root", dir);
	assert_int_equal(mkdir(root, 0700), 0);
	snprintf(path, sizeof(path), "%s/evil.lua", root);
	assert_int_equal(symlink(target, path), 0);
	snprintf(scen, sizeof(scen), "%.500s/escape.lua", dir);
	f = fopen(scen, "w");
	assert_non_null(f);
	fputs("return require 'evil'\n", f);
	fclose(f);
	assert_int_equal(pl_lua_host_open(&h, &(struct pl_lua_host_config){
					  .scenarios_root = root,
					  .log = fx->cap.log }), 0);
	cfg.path = scen;
	assert_int_equal(pl_lua_run_open(h, &run, &cfg), 0);
	assert_int_equal(pl_lua_run_start(run), 0);
	assert_int_equal(pl_lua_run_get_state(run), PL_LUA_RUN_DONE);
	assert_int_equal(pl_lua_run_status(run), -PL_ESCRIPT);
	assert_non_null(strstr(pl_lua_run_message(run),
			       "escape.lua:1: module 'evil' not found"));
	pl_lua_run_free(run);
	pl_lua_host_free(h);
	pl_test_rmrf(dir);
	free(dir);
	free(target);
}

static void global_typos_raise_nonexistent_global(void **state)
{
	expect_bad(*state, "bad_global_read.lua", -PL_ESCRIPT,
		   "bad_global_read.lua:2:", "nonexistent global 'pirnt'");
	expect_bad(*state, "bad_global_write.lua", -PL_ESCRIPT,
		   "bad_global_write.lua:2:", "nonexistent global 'counter'");
}

static void endless_loops_exhaust_the_instruction_budget(void **state)
{
	expect_bad(*state, "loop.lua", -PL_EBUDGET, "loop.lua:2:",
		   "instruction budget exceeded (2000000)");
	expect_bad(*state, "loop_pcall.lua", -PL_EBUDGET, "loop_pcall.lua:4:",
		   "instruction budget exceeded (2000000)");
}

static void memory_bombs_exhaust_the_memory_budget(void **state)
{
	struct fx *fx = *state;

	expect_bad(fx, "membomb_string.lua", -PL_EBUDGET,
		   "membomb_string.lua:2:", "memory budget exceeded (4194304");
	expect_bad(fx, "membomb_table.lua", -PL_EBUDGET,
		   "membomb_table.lua:2:", "memory budget exceeded");
	expect_bad(fx, "membomb_pcall.lua", -PL_EBUDGET,
		   "membomb_pcall.lua:", "memory budget exceeded");
	/* the killed runs' memory goes back once collected */
	lua_gc(pl_lua_host_state(fx->h), LUA_GCCOLLECT);
	if (pl_lua_host_mem(fx->h) > (1u << 20))
		fail_msg("%zu bytes still allocated", pl_lua_host_mem(fx->h));
}

static void syntax_errors_and_missing_files_do_not_start(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = open_run(fx, "syntax_error.lua", 1, NULL);

	assert_int_equal(pl_lua_run_start(run), -PL_ESCRIPT);
	assert_non_null(strstr(pl_lua_run_message(run),
			       "tests/data/lua/syntax_error.lua:1:"));
	assert_int_equal(fx->done, 0);
	pl_lua_run_free(run);
	run = open_run(fx, "no_such_file.lua", 1, NULL);
	assert_int_equal(pl_lua_run_start(run), -ENOENT);
	assert_non_null(strstr(pl_lua_run_message(run),
			       "cannot open tests/data/lua/no_such_file.lua"));
	pl_lua_run_free(run);
	two_good_runs(fx);
}

static void waiting_call_resumes_from_a_uv_timer(void **state)
{
	struct fx *fx = *state;
	static const struct pl_lua_value items[] = {
		{ .type = PL_LUA_VINT, .key = "ms", .u.i = 5 },
	};
	static const struct pl_lua_value params = {
		.type = PL_LUA_VTABLE, .u.table = { items, 1 },
	};
	struct pl_lua_run *run = open_run(fx, "wait.lua", 1, &params);

	assert_int_equal(pl_lua_run_start(run), 0);
	assert_int_equal(pl_lua_run_get_state(run), PL_LUA_RUN_WAITING);
	assert_int_equal(pl_test_loop_until(&fx->loop, run_done, run, 5000), 0);
	assert_int_equal(pl_lua_run_status(run), 0);
	assert_int_equal(lua_tointeger(pl_lua_run_stack(run), -1), 6);
	pl_lua_run_free(run);
}

static bool all_done(void *ud)
{
	struct fx *fx = ud;

	return fx->done == 1000;
}

static void a_thousand_runs_wait_at_once(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run **runs = calloc(1000, sizeof(*runs));
	struct pl_lua_value items[1] = {
		{ .type = PL_LUA_VINT, .key = "ms" },
	};
	struct pl_lua_value params = {
		.type = PL_LUA_VTABLE, .u.table = { items, 1 },
	};
	unsigned waiting = 0;

	assert_non_null(runs);
	for (int i = 0; i < 1000; i++) {
		items[0].u.i = 1 + i % 20;
		runs[i] = open_run(fx, "wait.lua", (uint64_t)i, &params);
		assert_int_equal(pl_lua_run_start(runs[i]), 0);
		waiting += pl_lua_run_get_state(runs[i]) == PL_LUA_RUN_WAITING;
	}
	assert_int_equal(waiting, 1000);
	assert_int_equal(pl_test_loop_until(&fx->loop, all_done, fx, 30000), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(pl_lua_run_status(runs[i]), 0);
		assert_int_equal(lua_tointeger(pl_lua_run_stack(runs[i]), -1),
				 1 + i % 20 + 1);
		pl_lua_run_free(runs[i]);
	}
	free(runs);
}

static void cancel_closes_to_be_closed_variables(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = open_run(fx, "tbc_cancel.lua", 1, NULL);

	assert_int_equal(pl_lua_run_start(run), 0);
	assert_int_equal(pl_lua_run_get_state(run), PL_LUA_RUN_WAITING);
	assert_int_equal(fx->closes, 0);
	pl_lua_run_cancel(run, -PL_ECANCELED, "board vanished");
	assert_int_equal(fx->cancels, 1);
	assert_int_equal(fx->closes, 1);
	assert_int_equal(fx->done, 1);
	assert_int_equal(pl_lua_run_status(run), -PL_ECANCELED);
	assert_string_equal(pl_lua_run_message(run), "vb0: board vanished");
	pl_lua_run_cancel(run, -PL_ECANCELED, "again"); /* no effect */
	assert_int_equal(fx->done, 1);
	pl_lua_run_free(run);
	/* an error closes it too (the scenario's pcall does) */
	run = run_script(fx, "tbc_error.lua", 1, NULL);
	assert_int_equal(fx->closes, 2);
	assert_int_equal(pl_lua_run_status(run), -PL_ESCRIPT);
	assert_non_null(strstr(pl_lua_run_message(run),
			       "tbc_error.lua:2: scenario gave up"));
	assert_non_null(strstr(pl_lua_run_traceback(run), "stack traceback"));
	pl_lua_run_free(run);
	two_good_runs(fx);
}

static void a_run_woken_from_another_run_is_queued(void **state)
{
	struct fx *fx = *state;
	static const struct pl_lua_value no = { .type = PL_LUA_VTABLE };
	static const struct pl_lua_value yes_item = {
		.type = PL_LUA_VBOOL, .key = "cancel", .u.b = true };
	static const struct pl_lua_value yes = {
		.type = PL_LUA_VTABLE, .u.table = { &yes_item, 1 } };
	struct pl_lua_run *a = open_run(fx, "park.lua", 1, NULL);
	struct pl_lua_run *b = open_run(fx, "unpark.lua", 1, &no);

	assert_int_equal(pl_lua_run_start(a), 0);
	assert_int_equal(pl_lua_run_get_state(a), PL_LUA_RUN_WAITING);
	assert_int_equal(pl_lua_run_start(b), 0);
	/* b ended first, then the queue ran a */
	assert_string_equal(fx->order, "up");
	if (pl_lua_run_status(b))
		fail_msg("%s", pl_lua_run_message(b));
	assert_int_equal(pl_lua_run_status(a), 0);
	assert_int_equal(lua_tointeger(pl_lua_run_stack(a), -1), 42);
	assert_int_equal(fx->closes, 1);
	pl_lua_run_free(a);
	pl_lua_run_free(b);
	/* cancelled while queued: never resumes, still closes */
	a = open_run(fx, "park.lua", 1, NULL);
	b = open_run(fx, "unpark.lua", 1, &yes);
	assert_int_equal(pl_lua_run_start(a), 0);
	assert_int_equal(pl_lua_run_start(b), 0);
	if (pl_lua_run_status(b))
		fail_msg("%s", pl_lua_run_message(b));
	assert_int_equal(pl_lua_run_status(a), -PL_ECANCELED);
	assert_string_equal(pl_lua_run_message(a), "vb0: cancelled in queue");
	assert_int_equal(fx->closes, 2);
	pl_lua_run_free(a);
	pl_lua_run_free(b);
}

static bool warned(void *ud)
{
	struct fx *fx = ud;

	return fx->cap.warnings > 0;
}

static void a_completion_after_cancel_is_dropped(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = open_run(fx, "sleep_nocancel.lua", 1, NULL);

	assert_int_equal(pl_lua_run_start(run), 0);
	pl_lua_run_cancel(run, -ETIMEDOUT, "deadline");
	assert_int_equal(pl_lua_run_status(run), -ETIMEDOUT);
	/* the timer still fires and completes a wait that is gone */
	assert_int_equal(pl_test_loop_until(&fx->loop, warned, fx, 5000), 0);
	assert_non_null(strstr(fx->cap.last, "no pending wait dropped"));
	assert_int_equal(lua_gettop(pl_lua_run_stack(run)), 0);
	pl_lua_run_free(run);
	two_good_runs(fx);
}

static void host_free_cancels_waiting_runs(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = open_run(fx, "tbc_cancel.lua", 1, NULL);

	assert_int_equal(pl_lua_run_start(run), 0);
	pl_lua_host_free(fx->h); /* frees run too */
	fx->h = NULL;
	assert_int_equal(fx->done, 1);
	assert_int_equal(fx->cancels, 1);
	assert_int_equal(fx->closes, 1);
}

static void seeded_random_is_reproducible_per_seed(void **state)
{
	struct fx *fx = *state;
	lua_Integer a[10], b[10], c[10];
	lua_Integer *out[3] = { a, b, c };
	uint64_t seeds[3] = { 7, 7, 8 };

	for (int k = 0; k < 3; k++) {
		struct pl_lua_run *run = run_script(fx, "random.lua", seeds[k],
						    NULL);
		lua_State *co = pl_lua_run_stack(run);

		assert_int_equal(pl_lua_run_status(run), 0);
		assert_int_equal(pl_lua_run_seed(run), seeds[k]);
		for (int i = 1; i <= 10; i++) {
			lua_rawgeti(co, 1, i);
			if (i == 9) {
				double d = lua_tonumber(co, -1);

				assert_true(d >= 0.0 && d < 1.0);
				out[k][i - 1] = (lua_Integer)(d * 1e9);
			} else {
				out[k][i - 1] = lua_tointeger(co, -1);
			}
			if (i <= 8)
				assert_true(out[k][i - 1] >= 1 &&
					    out[k][i - 1] <= 1000000);
			lua_pop(co, 1);
		}
		pl_lua_run_free(run);
	}
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
	expect_bad(fx, "randomseed.lua", -PL_ESCRIPT, "randomseed.lua:1:",
		   "math.randomseed is disabled");
}

static void synchronous_completion_and_failures(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = run_script(fx, "sync_wait.lua", 1, NULL);
	lua_State *co = pl_lua_run_stack(run);

	assert_int_equal(pl_lua_run_status(run), 0);
	assert_int_equal(lua_gettop(co), 4);
	assert_int_equal(lua_tointeger(co, 1), 7);
	assert_string_equal(lua_tostring(co, 2), "x");
	assert_false(lua_toboolean(co, 3));
	assert_non_null(strstr(lua_tostring(co, 4), "relay jammed"));
	pl_lua_run_free(run);
	/* an uncaught failing wait ends the run with the wait's code */
	expect_bad(fx, "fail_uncaught.lua", -PL_EFIXTURE,
		   "fail_uncaught.lua:2:", "console vanished");
}

static void sandbox_holds_only_what_it_should(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = run_script(fx, "sandbox.lua", 1, NULL);
	lua_State *co = pl_lua_run_stack(run);
	unsigned checked = 0;

	if (pl_lua_run_status(run))
		fail_msg("%s", pl_lua_run_traceback(run));
	lua_pushnil(co);
	while (lua_next(co, 1)) {
		if (!lua_toboolean(co, -1))
			fail_msg("sandbox check %s failed", lua_tostring(co, -2));
		checked++;
		lua_pop(co, 1);
	}
	assert_int_equal(checked, 24);
	pl_lua_run_free(run);
}

static int plainobj_hello(lua_State *L)
{
	lua_pushliteral(L, "hello");
	return 1;
}

/* A host object as the lab API makes them (lapi.c make_proxy): a userdata
 * whose metatable has no __metatable field. */
static void add_plainobj(lua_State *L)
{
	lua_newuserdatauv(L, 0, 0);
	lua_createtable(L, 0, 1);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, plainobj_hello);
	lua_setfield(L, -2, "hello");
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
}

/* Counts the entries of the table a run returned; fails naming every
 * false one. */
static unsigned all_true(struct pl_lua_run *run, const char *what)
{
	lua_State *co = pl_lua_run_stack(run);
	unsigned checked = 0;
	char failed[512] = "";

	if (pl_lua_run_status(run))
		fail_msg("%s: %s", what, pl_lua_run_traceback(run));
	lua_pushnil(co);
	while (lua_next(co, 1)) {
		if (!lua_toboolean(co, -1)) {
			size_t n = strlen(failed);

			snprintf(failed + n, sizeof(failed) - n, " %s",
				 lua_tostring(co, -2));
		}
		checked++;
		lua_pop(co, 1);
	}
	if (failed[0])
		fail_msg("%s: checks failed:%s", what, failed);
	return checked;
}

/* Issue 12 item 1: a hostile run (rawset on library proxies, pairs()
 * state, getmetatable of strings and host objects, globals, a mutated
 * lib.oracle) changes nothing another run sees. The host first reopens
 * the string library as the lab API does, which replaces the string
 * metatable with an unlocked one. */
static void one_run_cannot_reach_another(void **state)
{
	struct fx *fx = *state;
	lua_State *L = pl_lua_host_state(fx->h);
	struct pl_lua_run *run;

	luaL_requiref(L, "test.string", luaopen_string, 0);
	lua_pop(L, 1);
	add_plainobj(L);
	assert_int_equal(pl_lua_host_setglobal(fx->h, "plainobj"), 0);
	for (int i = 0; i < 2; i++) {
		run = run_script(fx, "hostile_isolation.lua", 1, NULL);
		assert_int_equal(all_true(run, "hostile"), 19);
		pl_lua_run_free(run);
		run = run_script(fx, "victim_isolation.lua", 1, NULL);
		assert_int_equal(all_true(run, "victim"), 11);
		pl_lua_run_free(run);
	}
}

static void print_goes_to_the_run_logger(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run;

	fx->cap.log.max = PL_LOG_INFO;
	run = run_script(fx, "print.lua", 1, NULL);
	assert_int_equal(pl_lua_run_status(run), 0);
	assert_string_equal(fx->cap.last, "hello\t42\tnil");
	pl_lua_run_free(run);
}

static void objects_close_once_and_check_their_type(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = run_script(fx, "objects.lua", 1, NULL);
	lua_State *co = pl_lua_run_stack(run);

	if (pl_lua_run_status(run))
		fail_msg("%s", pl_lua_run_traceback(run));
	assert_false(lua_toboolean(co, 1));
	assert_non_null(strstr(lua_tostring(co, 2), "relay object is closed"));
	assert_false(lua_toboolean(co, 3));
	assert_non_null(strstr(lua_tostring(co, 4), "relay expected"));
	assert_string_equal(lua_tostring(co, 5), "on");
	/* a: closed once despite two close() calls; b: by <close> */
	assert_int_equal(fx->closes, 2);
	pl_lua_run_free(run);
	pl_lua_host_free(fx->h); /* __gc closes the rest exactly once */
	fx->h = NULL;
	assert_int_equal(fx->closes, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(params_reach_scenario_and_results_come_back),
		T(os_execute_and_io_open_end_the_run),
		T(require_resolves_only_under_the_root),
		T(require_refuses_a_symlink_out_of_the_root),
		T(global_typos_raise_nonexistent_global),
		T(endless_loops_exhaust_the_instruction_budget),
		T(memory_bombs_exhaust_the_memory_budget),
		T(syntax_errors_and_missing_files_do_not_start),
		T(waiting_call_resumes_from_a_uv_timer),
		T(a_thousand_runs_wait_at_once),
		T(cancel_closes_to_be_closed_variables),
		T(a_run_woken_from_another_run_is_queued),
		T(a_completion_after_cancel_is_dropped),
		T(host_free_cancels_waiting_runs),
		T(seeded_random_is_reproducible_per_seed),
		T(synchronous_completion_and_failures),
		T(sandbox_holds_only_what_it_should),
		T(one_run_cannot_reach_another),
		T(print_goes_to_the_run_logger),
		T(objects_close_once_and_check_their_type),
#undef T
	};

	return cmocka_run_group_tests_name("/pl/lua/host", tests, NULL, NULL);
}
