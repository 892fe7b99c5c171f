/* SPDX-License-Identifier: MIT */
/*
 * /pl/lua/limits: what a hostile or broken scenario cannot get past
 * (issue #12 items 4 and 9).
 *   - the instruction budget counts every coroutine a run creates: loops
 *     of fresh coroutines (short-lived, caught by pcall, closed, nested,
 *     created from C callbacks) end with the budget error;
 *   - a stop request (a signal through pl_lua_stop_on_signal, chained in
 *     front of libuv's handler) ends a runaway script, and libuv still
 *     gets the signal; so does a deadline that has passed;
 *   - whatever a script raises ends the run with a "file:line:" message,
 *     capped in length, and never crashes.
 * Scripts live in tests/data/lua/.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "patchlab/error.h"
#include "patchlab/luahost.h"

struct fx {
	uv_loop_t loop;
	struct pl_lua_host *h;
	struct pl_test_logcap cap;
	int raise_signum;  /* what raise_signal() raises */
	unsigned uv_signals; /* SIGTERMs libuv delivered */
	uv_signal_t sig;     /* closed by the teardown's drain */
};

static int l_raise_signal(lua_State *L)
{
	struct fx *fx = lua_touserdata(L, lua_upvalueindex(1));

	if (fx->raise_signum)
		raise(fx->raise_signum);
	else
		pl_lua_request_stop(SIGINT);
	return 0;
}

static struct pl_lua_host *open_host(struct fx *fx, uint64_t instr_limit)
{
	struct pl_lua_host *h;
	lua_State *L;
	struct pl_lua_host_config cfg = {
		.run_instr_limit = instr_limit,
		.run_mem_limit = 4u << 20,
		.log = fx->cap.log,
	};

	assert_int_equal(pl_lua_host_open(&h, &cfg), 0);
	L = pl_lua_host_state(h);
	lua_pushlightuserdata(L, fx);
	lua_pushcclosure(L, l_raise_signal, 1);
	assert_int_equal(pl_lua_host_setglobal(h, "raise_signal"), 0);
	return h;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	pl_test_logcap_init(&fx->cap, "lua");
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->h = open_host(fx, 2000000);
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

static bool run_done(void *ud)
{
	return pl_lua_run_get_state(ud) == PL_LUA_RUN_DONE;
}

/* Open tests/data/lua/NAME on host h, with a deadline (0: none). */
static struct pl_lua_run *open_script(struct fx *fx, struct pl_lua_host *h,
				      const char *name, uint64_t deadline_ns)
{
	char rel[256];
	char *path;
	struct pl_lua_run *run;
	struct pl_lua_run_config cfg = {
		.chunkname = rel,
		.id = name,
		.board = "vb0",
		.seed = 1,
		.deadline_ns = deadline_ns,
		.log = fx->cap.log,
	};

	snprintf(rel, sizeof(rel), "tests/data/lua/%s", name);
	path = pl_test_source_path(rel);
	cfg.path = path;
	assert_int_equal(pl_lua_run_open(h, &run, &cfg), 0);
	free(path);
	return run;
}

/* Start run and wait until it ends. */
static struct pl_lua_run *start_and_wait(struct fx *fx, struct pl_lua_run *run)
{
	assert_int_equal(pl_lua_run_start(run), 0);
	assert_int_equal(pl_test_loop_until(&fx->loop, run_done, run, 60000),
			 0);
	return run;
}

/* Run NAME on host h until it ends (the caller frees). */
static struct pl_lua_run *run_until(struct fx *fx, struct pl_lua_host *h,
				    const char *name, uint64_t deadline_ns)
{
	return start_and_wait(fx, open_script(fx, h, name, deadline_ns));
}

static struct pl_lua_run *run_on(struct fx *fx, struct pl_lua_host *h,
				 const char *name)
{
	return run_until(fx, h, name, 0);
}

/* NAME ends with code and a message holding "tests/data/lua/NAME:LINE:"
 * (line 0: any line of the file) and needle. */
static void expect_end(struct fx *fx, struct pl_lua_host *h,
		       const char *name, int code, int line,
		       const char *needle)
{
	struct pl_lua_run *run = run_on(fx, h, name);
	const char *msg = pl_lua_run_message(run);
	char where[300];

	if (line)
		snprintf(where, sizeof(where), "tests/data/lua/%s:%d:", name,
			 line);
	else
		snprintf(where, sizeof(where), "tests/data/lua/%s:", name);
	assert_non_null(msg);
	if (pl_lua_run_status(run) != code || strncmp(msg, where, strlen(where)) ||
	    !strstr(msg, needle))
		fail_msg("%s: status %d (want %d), message \"%s\" (want it to "
			 "start \"%s\" and hold \"%s\")", name,
			 pl_lua_run_status(run), code, msg, where, needle);
	assert_non_null(strstr(pl_lua_run_traceback(run), msg));
	pl_lua_run_free(run);
}

/* ---------------------------------------------------------- coroutines */

static void coroutine_loops_meet_the_instruction_budget(void **state)
{
	struct fx *fx = *state;
	static const char *const loops[] = {
		"co_wrap_loop.lua", "co_short_loop.lua", "co_pcall_loop.lua",
		"co_close_loop.lua", "co_close_tbc.lua", "co_nested_loop.lua",
		"co_gsub_loop.lua",
	};

	for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++)
		expect_end(fx, fx->h, loops[i], -PL_EBUDGET, 0,
			   "instruction budget exceeded (2000000)");
}

/* Counting, not only stopping: 3000 coroutines of 900 loop steps each
 * are ~2.7 million instructions, over the budget of 2 million, though no
 * coroutine runs a whole hook step (uncharged, the run counted ~21000). */
static void every_coroutine_is_counted(void **state)
{
	struct fx *fx = *state;

	expect_end(fx, fx->h, "co_counted.lua", -PL_EBUDGET, 4,
		   "instruction budget exceeded (2000000)");
}

static void hoarded_coroutines_meet_a_budget(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = run_on(fx, fx->h, "co_hoard.lua");
	const char *msg = pl_lua_run_message(run);

	assert_int_equal(pl_lua_run_status(run), -PL_EBUDGET);
	assert_non_null(strstr(msg, "tests/data/lua/co_hoard.lua:3:"));
	pl_lua_run_free(run);
}

static void coroutines_still_work(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = run_on(fx, fx->h, "co_generator.lua");
	lua_State *co = pl_lua_run_stack(run);

	if (pl_lua_run_status(run))
		fail_msg("%s", pl_lua_run_traceback(run));
	assert_int_equal(lua_gettop(co), 4);
	assert_int_equal(lua_tointeger(co, 1), 5050);
	assert_int_equal(lua_tointeger(co, 2), 2);
	assert_int_equal(lua_tointeger(co, 3), 20);
	assert_string_equal(lua_tostring(co, 4), "dead");
	/* two coroutines, a step each, besides what the script ran */
	assert_true(pl_lua_run_instructions(run) >= 2 * PL_LUA_HOOK_STEP);
	pl_lua_run_free(run);
}

/* ---------------------------------------------------------------- stop */

static void on_uv_signal(uv_signal_t *s, int signum)
{
	struct fx *fx = s->data;

	if (signum == SIGTERM)
		fx->uv_signals++;
}

static bool uv_signalled(void *ud)
{
	return ((struct fx *)ud)->uv_signals > 0;
}

/*
 * As the engine does it: libuv watches SIGTERM, and the Lua host's stop
 * handler is chained in front. A script raises SIGTERM, then loops with
 * a budget it would take hours to spend: the stop ends it, at the loop's
 * line, and libuv's callback still runs afterwards.
 */
static void sigterm_stops_a_runaway_script(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_host *big, *later;
	uv_signal_t *sig = &fx->sig;

	big = open_host(fx, UINT64_C(1) << 60);
	assert_int_equal(uv_signal_init(&fx->loop, sig), 0);
	sig->data = fx;
	assert_int_equal(uv_signal_start(sig, on_uv_signal, SIGTERM), 0);
	assert_int_equal(pl_lua_stop_on_signal(SIGTERM), 0);
	assert_int_equal(pl_lua_stop_on_signal(SIGTERM), 0); /* no loop */
	assert_int_equal(pl_lua_stop_on_signal(0), -EINVAL);
	fx->raise_signum = SIGTERM;

	expect_end(fx, big, "stop_loop.lua", -PL_ECANCELED, 2,
		   "run stopped: SIGTERM");
	assert_int_equal(pl_test_loop_until(&fx->loop, uv_signalled, fx,
					    10000), 0);
	/* a runaway inside coroutines under pcall */
	expect_end(fx, big, "stop_coroutine.lua", -PL_ECANCELED, 3,
		   "run stopped: SIGTERM");
	/* a run of that host started after the request stops too */
	fx->raise_signum = 0;
	expect_end(fx, big, "stop_later.lua", -PL_ECANCELED, 3,
		   "run stopped");
	/* a host opened after it is not affected */
	later = open_host(fx, 2000000);
	expect_end(fx, later, "co_wrap_loop.lua", -PL_EBUDGET, 2,
		   "instruction budget exceeded");
	pl_lua_host_free(later);
	pl_lua_host_free(big);
	/* the teardown closes sig: libuv restores SIG_DFL */
}

/* pl_lua_request_stop() called directly (here from a lab call). */
static void a_stop_request_names_its_signal(void **state)
{
	struct fx *fx = *state;

	fx->raise_signum = 0;
	expect_end(fx, fx->h, "stop_loop.lua", -PL_ECANCELED, 2,
		   "run stopped: SIGINT (controller stopping)");
}

/* A deadline that has passed ends a runaway script at its next hook,
 * though its budget would last hours and no loop timer can run. */
static void a_passed_deadline_ends_a_runaway_script(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_host *big = open_host(fx, UINT64_C(1) << 60);
	struct pl_lua_run *run;

	run = run_until(fx, big, "stop_later.lua", 1);
	assert_int_equal(pl_lua_run_status(run), -ETIMEDOUT);
	if (!strstr(pl_lua_run_message(run),
		    "tests/data/lua/stop_later.lua:3: run timeout"))
		fail_msg("%s", pl_lua_run_message(run));
	pl_lua_run_free(run);
	pl_lua_host_free(big);
	/* a deadline far ahead changes nothing: the budget ends this one */
	run = run_until(fx, fx->h, "co_wrap_loop.lua", UINT64_MAX);
	assert_int_equal(pl_lua_run_status(run), -PL_EBUDGET);
	pl_lua_run_free(run);
	/* set after open, as the run module arms its timer */
	big = open_host(fx, UINT64_C(1) << 60);
	run = open_script(fx, big, "stop_later.lua", 0);
	pl_lua_run_set_deadline(run, 1);
	assert_true(pl_lua_run_deadline(run) == 1);
	start_and_wait(fx, run);
	assert_int_equal(pl_lua_run_status(run), -ETIMEDOUT);
	pl_lua_run_free(run);
	pl_lua_host_free(big);
}

/* -------------------------------------------------------------- errors */

static void errors_without_position_get_one(void **state)
{
	struct fx *fx = *state;

	expect_end(fx, fx->h, "err_table.lua", -PL_ESCRIPT, 2,
		   "(error object is a table value)");
	expect_end(fx, fx->h, "err_nil.lua", -PL_ESCRIPT, 3,
		   "(error object is a nil value)");
	expect_end(fx, fx->h, "err_tostring.lua", -PL_ESCRIPT, 2,
		   "device said no");
	expect_end(fx, fx->h, "err_tostring_raises.lua", -PL_ESCRIPT, 2,
		   "(error object is a table value)");
	expect_end(fx, fx->h, "err_tostring_yields.lua", -PL_ESCRIPT, 2,
		   "(error object is a table value)");
	expect_end(fx, fx->h, "err_level0.lua", -PL_ESCRIPT, 1,
		   "plain text, no position");
	expect_end(fx, fx->h, "err_in_coroutine.lua", -PL_ESCRIPT, 2,
		   "(error object is a table value)");
	/* raised while unwinding: no line is known, the file is */
	expect_end(fx, fx->h, "err_close.lua", -PL_ESCRIPT, 0,
		   "(error object is a table value)");
}

static void a_looping_tostring_meets_the_budget(void **state)
{
	struct fx *fx = *state;

	expect_end(fx, fx->h, "err_tostring_loops.lua", -PL_EBUDGET, 1,
		   "instruction budget exceeded");
}

static void long_messages_are_capped(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = run_on(fx, fx->h, "err_long.lua");
	const char *msg = pl_lua_run_message(run);
	const char *tb = pl_lua_run_traceback(run);

	assert_int_equal(pl_lua_run_status(run), -PL_ESCRIPT);
	assert_true(strlen(msg) < PL_LUA_MESSAGE_MAX);
	assert_true(strlen(tb) < PL_LUA_TRACEBACK_MAX);
	assert_non_null(strstr(msg, "tests/data/lua/err_long.lua:1: xxx"));
	assert_non_null(strstr(msg, "[... message truncated]"));
	assert_null(strchr(msg, '\n'));
	pl_lua_run_free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(coroutine_loops_meet_the_instruction_budget),
		T(every_coroutine_is_counted),
		T(hoarded_coroutines_meet_a_budget),
		T(coroutines_still_work),
		T(sigterm_stops_a_runaway_script),
		T(a_stop_request_names_its_signal),
		T(a_passed_deadline_ends_a_runaway_script),
		T(errors_without_position_get_one),
		T(a_looping_tostring_meets_the_budget),
		T(long_messages_are_capped),
#undef T
	};

	return cmocka_run_group_tests_name("/pl/lua/limits", tests, NULL,
					   NULL);
}
