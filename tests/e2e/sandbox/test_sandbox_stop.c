/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/sandbox_stop: SIGTERM stops a runaway scenario (issue #12 item
 * 4: it used to be ignored until SIGKILL).
 *
 * tests/data/e2e/scenarios/suites/sandbox_stop.yaml runs sb_runaway.lua
 * on one `good` board of a real virtual rack: it boots the board, then
 * loops with an instruction budget of hours, never returning to the
 * controller's event loop. The test waits (on the store and the run's
 * console log, with a deadline: never a sleep) until the board has booted
 * in that run, then sends the controller SIGTERM and checks:
 *   - the controller exits 2 (a stopped suite is a lab error), within the
 *     deadline (it used to run until killed);
 *   - the runaway run ends `lab-error` and its reason names
 *     "scenarios/sb_runaway.lua:LINE:" and "run stopped: SIGTERM";
 *   - the run after it does not pass (the suite was stopped).
 * Needs the engine to chain the Lua host's stop handler
 * (pl_lua_stop_on_signal(), patchlab/luahost.h) after its uv_signal_start.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

#define WAIT_MS 120000u

struct ctx {
	struct e2e_ctx *e2e;
	char db[4200];
	sqlite3 *sdb;
};

static int group_setup(void **state)
{
	return e2e_ctx_setup(state,
			     "tests/data/e2e/scenarios/suites/sandbox_stop.yaml",
			     "e2e-sandbox-stop", 1, "good");
}

static bool contains_file(const char *path, const char *needle)
{
	char *s = path ? pl_test_slurp(path) : NULL;
	bool yes = s && strstr(s, needle);

	free(s);
	return yes;
}

/* The runaway run is open and its board has booted: the scenario is in
 * (or enters, in the same loop callback) its endless loop. */
static bool runaway_looping(void *ud)
{
	struct ctx *c = ud;
	sqlite3_stmt *s = NULL;
	bool found = false;

	if (!e2e_db_once(&c->sdb, c->db))
		return false;
	if (sqlite3_prepare_v2(c->sdb, "SELECT console_log FROM runs WHERE "
			       "state = 'open' AND scenario LIKE "
			       "'%sb_runaway.lua'", -1, &s, NULL) != SQLITE_OK)
		return false; /* the schema may not be there yet */
	while (sqlite3_step(s) == SQLITE_ROW)
		if (contains_file((const char *)sqlite3_column_text(s, 0),
				  " running"))
			found = true;
	sqlite3_finalize(s);
	return found;
}

static void tick(uv_timer_t *t)
{
	(void)t; /* wakes the loop so runaway_looping is checked again */
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void test_sigterm_stops_a_runaway_scenario(void **state)
{
	struct e2e_ctx *e = *state;
	struct ctx c = { .e2e = e };
	struct e2e_proc p;
	uv_loop_t loop;
	uv_timer_t timer;
	char out[4200], json[4200], log[4200], *txt;
	json_error_t jerr;
	json_t *j, *runs, *r;
	int code;

	snprintf(out, sizeof(out), "%s/out", e->rack.dir);
	snprintf(c.db, sizeof(c.db), "%s/out/patchlab.db", e->rack.dir);
	snprintf(json, sizeof(json), "%s/stop.json", e->rack.dir);
	snprintf(log, sizeof(log), "%s/stop.log", e->rack.dir);
	char *argv[] = { (char *)pl_test_patchlab(), "run", e->suite, "--lab",
			 e->rack.lab, "--out", out, "--json", json, "--jobs",
			 "1", "-q", NULL };

	uv_loop_init(&loop);
	uv_timer_init(&loop, &timer);
	uv_timer_start(&timer, tick, 5, 5);
	assert_int_equal(e2e_spawn(&loop, &p, NULL, log, argv), 0);
	if (pl_test_loop_until(&loop, runaway_looping, &c, WAIT_MS) != 0) {
		e2e_wait(&loop, &p, 1);
		pl_test_loop_drain(&loop);
		txt = pl_test_slurp(log);
		fprintf(stderr, "%s\n", txt ? txt : "");
		free(txt);
		fail_msg("the runaway run did not boot its board within %u ms",
			 WAIT_MS);
	}
	assert_int_equal(uv_kill(p.h.pid, SIGTERM), 0);
	uv_timer_stop(&timer);
	code = e2e_wait(&loop, &p, WAIT_MS);
	pl_test_loop_drain(&loop);
	if (c.sdb)
		sqlite3_close(c.sdb);
	txt = pl_test_slurp(log);
	fprintf(stderr, "%s", txt ? txt : "");
	free(txt);
	if (code == 128 + SIGKILL)
		fail_msg("the controller ignored SIGTERM with a runaway "
			 "scenario (killed after %u ms)", WAIT_MS);
	assert_int_equal(code, PL_EXIT_LAB_ERROR);

	j = json_load_file(json, 0, &jerr);
	if (!j)
		fail_msg("%s: %s", json, jerr.text);
	runs = json_object_get(j, "runs");
	assert_true(json_array_size(runs) >= 1);
	r = json_array_get(runs, 0);
	assert_string_equal(str(r, "scenario"), "scenarios/sb_runaway.lua");
	assert_string_equal(str(r, "verdict"), "lab-error");
	if (!strstr(str(r, "reason"), "scenarios/sb_runaway.lua:") ||
	    !strstr(str(r, "reason"), "run stopped: SIGTERM"))
		fail_msg("reason does not say where and why it stopped: %s",
			 str(r, "reason"));
	for (size_t i = 1; i < json_array_size(runs); i++)
		assert_string_not_equal(str(json_array_get(runs, i), "verdict"),
					"pass");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm_stops_a_runaway_scenario),
	};

	return cmocka_run_group_tests_name("/pl/e2e/sandbox_stop", tests,
					   group_setup, e2e_ctx_teardown);
}
