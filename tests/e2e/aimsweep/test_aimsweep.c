/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/aimsweep: cuts aimed by what a board says or by time, swept
 * without a learning pass (issue 11 "Sweeps without a probe"), on a real
 * virtual rack (the shipped release suite's images, the rack's own lab:
 * nothing exported):
 *
 *   console_sweep: `sweep: {over: console, pattern: "erase sector", nth:
 *       3, delay: [0ms, 12ms], strategy: uniform, points: 4}` on a good
 *       board runs 4 points, each recorded with its aim (params.cut: on,
 *       pattern, nth, delay_ms), cut aimed by console in the JSON, the
 *       trigger's requested and actual delay in its event, and no actual
 *       delay shorter than the requested one (a cut never fires early);
 *       the gate passes (a good board survives every cut).
 *   time_sweep: the same over time ([5ms, 50ms], exhaustive, step 15ms:
 *       4 points), aimed by time.
 *   silent_downgrade: a scenario that updates to 1.1.0, boots it,
 *       confirms it, then restores the factory flash (1.0.0) behind the
 *       device's back and boots: verdict.judge says fail, "silent
 *       downgrade", never rolled-back; exit 1.
 *   log_is_capped: 5,000 log lines from one run: 2,000 stored and one
 *       "log capped" note with the 3,000 dropped.
 *   missed_aim: a cut 1 ms after the boot banner, while the scenario
 *       holds the controller's loop for 300 ms (a busy controller): the
 *       banner waits to be read, the cut lands far past its aim; the run
 *       starts again twice (two notes on its timeline, the trigger's
 *       lag_us and aim_error_us recorded) and ends lab-error naming the
 *       miss, the gate incomplete (exit 2), never a device verdict. With
 *       tolerance_ms = 5000 the same run passes (exit 0), one attempt.
 *       One that ends `fail` keeps it (a device that did not survive a
 *       cut failed wherever it landed), one attempt, the miss noted.
 *       The scenario waits with t:wait(ms): true once fired (at once
 *       for a fired trigger), false when the time passed first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

static int setup(void **state)
{
	return e2e_ctx_setup(state, "scenarios/suites/quick.yaml",
			     "e2e-aimsweep", 1, "good");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* Updated, booted and confirmed 1.1.0; then the device quietly goes back
 * to its old image (as a drained boot counter would) and boots it. */
static const char downgrade_lua[] =
	"local oracle = require(\"lib.oracle\")\n"
	"local base = oracle.baseline()\n"
	"local boot, why = oracle.update_and_reboot(images.new)\n"
	"check(boot and boot.version == images.new.version, \"update: %s\", why)\n"
	"check(board:confirm(), \"confirm failed\")\n"
	"board:power_off()\n"
	"board.probe:flash(images.factory, board.flash.base)\n"
	"local again = oracle.boot()\n"
	"verdict.judge{ boot = again, expect = images.new.version,\n"
	"               previous = base.version }\n";

static void link_in(const char *dir, const char *src, const char *name)
{
	char *from = pl_test_path(src, name), *to = pl_test_path(dir, name);

	assert_int_equal(symlink(from, to), 0);
	free(from);
	free(to);
}

static void write_in(const char *dir, const char *name, const char *text)
{
	char *p = pl_test_path(dir, name);

	write_file(p, text);
	free(p);
}

/* A suite in DIR/suites/s.yaml over links to the shipped scenarios,
 * run on the rack's lab with nothing exported; its JSON report. */
static json_t *run_suite(struct e2e_ctx *c, const char *name,
			 const char *runs, int want_rc)
{
	char *dir = pl_test_path(c->rack.dir, name);
	char *sdir = pl_test_path(dir, "suites");
	/* DIR/suites/s.yaml finds its scenarios in DIR (the parent of a
	 * suites directory) */
	char *scen = strdup(dir);
	char *src = pl_test_source_path("scenarios");
	char *suite = pl_test_path(sdir, "s.yaml");
	char *json = pl_test_path(dir, "r.json");
	char *out = NULL, yaml[4096];
	json_error_t jerr;
	json_t *doc;
	int rc;

	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(sdir, 0755), 0);
	link_in(scen, src, "lib");
	link_in(scen, src, "cut_console.lua");
	write_in(scen, "downgrade.lua", downgrade_lua);
	write_in(scen, "busy.lua",
		 "local t = fault.cut{ on = \"console\", pattern = \"^vboot \",\n"
		 "  delay_ms = 1, tolerance_ms = params.tol }\n"
		 "board:power_on()\n"
		 "local t0 = now()\n"
		 "while now() - t0 < 300 do end\n"
		 "check(t:wait(1000), \"the cut did not fire\")\n"
		 "check(t:wait(0), \"a fired trigger's wait is over at once\")\n"
		 "local never = fault.cut{ on = \"console\", pattern = \"^no such\" }\n"
		 "check(never:wait(30) == false, \"a wait on nothing timed out\")\n"
		 "check(not never:fired(), \"it still waits\")\n"
		 "never:disarm()\n"
		 "if params.fail then verdict.fail(\"gone after the cut\")\n"
		 "else verdict.pass(\"cut\") end\n");
	write_in(scen, "nocut.lua",
		 "local t = fault.cut{ on = \"console\", pattern = \"^vboot \",\n"
		 "  tolerance_ms = 60000 }\n"
		 "board:power_on()\n"
		 "check(t:wait(5000), \"the cut did not fire\")\n"
		 "verdict.pass(\"the board is still running\")\n");
	write_in(scen, "chatty.lua", "for i = 1, 5000 do log.info(\"line %d\", i) "
		 "end\nverdict.pass(\"said a lot\")\n");
	snprintf(yaml, sizeof(yaml),
		 "name: %s\n"
		 "images:\n"
		 "  golden: {path: \"${VRACK}/images/v1.0.0.img\", version: 1.0.0}\n"
		 "  new: {path: \"${VRACK}/images/v1.1.0.img\", version: 1.1.0}\n"
		 "defaults: {run_timeout: 2m}\n"
		 "runs:\n%s", name, runs);
	write_file(suite, yaml);
	rc = e2e_patchlab(NULL, &out, "run", suite, "--lab", c->rack.lab,
			  "--out", dir, "--json", json, "-q", NULL);
	if (rc != want_rc)
		fprintf(stderr, "patchlab run: exit %d\n%s", rc, out ? out : "");
	assert_int_equal(rc, want_rc);
	free(out);
	doc = json_load_file(json, 0, &jerr);
	assert_non_null(doc);
	free(dir);
	free(sdir);
	free(scen);
	free(src);
	free(suite);
	free(json);
	return doc;
}

/* Every run is a sweep point aimed by `by`, with its aim in params.cut;
 * the delays, in ms, into ms[] (sorted as run). Returns the count. */
static size_t check_aims(json_t *doc, const char *by, double *ms, size_t max)
{
	json_t *runs = json_object_get(doc, "runs"), *r;
	size_t i, n = 0;

	json_array_foreach(runs, i, r) {
		json_t *cut = json_object_get(json_object_get(r, "params"),
					      "cut");
		const char *aimed = json_string_value(json_object_get(
			json_object_get(r, "cut"), "aimed_by"));

		assert_non_null(cut);
		assert_string_equal(json_string_value(json_object_get(cut, "on")),
				    by);
		assert_non_null(aimed);
		assert_string_equal(aimed, by);
		if (n < max)
			ms[n] = json_number_value(json_object_get(cut,
								  "delay_ms"));
		n++;
	}
	return n;
}

static void console_sweep(void **state)
{
	double ms[16];
	json_t *doc = run_suite(*state, "console",
		"  - scenario: cut_console.lua\n"
		"    sweep: {over: console, pattern: \"erase sector\", nth: 3,\n"
		"            delay: [0ms, 12ms], strategy: uniform, points: 4}\n",
		PL_EXIT_OK);
	size_t n = check_aims(doc, "console", ms, 16);

	assert_int_equal(n, 4);
	/* 0, 4, 8, 12 ms */
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t k = 0; k < 4; k++)
			found |= ms[k] > 4.0 * (double)i - 0.01 &&
				 ms[k] < 4.0 * (double)i + 0.01;
		assert_true(found);
	}
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(doc, "gate"), "result")), "pass");
	json_decref(doc);
}

static void time_sweep(void **state)
{
	double ms[16];
	json_t *doc = run_suite(*state, "time",
		"  - scenario: cut_console.lua\n"
		"    sweep: {over: time, delay: [5ms, 50ms], step: 15ms}\n",
		PL_EXIT_OK);
	size_t n = check_aims(doc, "time", ms, 16);

	assert_int_equal(n, 4); /* 5, 20, 35, 50 ms */
	json_decref(doc);
}

static void silent_downgrade(void **state)
{
	struct e2e_ctx *c = *state;
	json_t *doc, *r;
	const char *why;

	doc = run_suite(c, "downgrade",
		"  - scenario: downgrade.lua\n", PL_EXIT_GATE_FAILED);
	r = json_array_get(json_object_get(doc, "runs"), 0);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "verdict")),
			    "fail");
	why = json_string_value(json_object_get(r, "reason"));
	assert_non_null(why);
	assert_non_null(strstr(why, "silent downgrade"));
	json_decref(doc);
}

/* 5,000 log lines from one run: 2,000 stored, then one note of the rest
 * (issue 12: a run's log volume is capped, with a note). */
static void log_is_capped(void **state)
{
	struct e2e_ctx *c = *state;
	char *db = NULL;
	sqlite3 *h;
	json_t *doc = run_suite(c, "chatty", "  - scenario: chatty.lua\n",
				PL_EXIT_OK);

	json_decref(doc);
	assert_true(asprintf(&db, "%s/chatty/patchlab.db", c->rack.dir) > 0);
	h = e2e_db_open(db);
	assert_non_null(h);
	assert_int_equal(e2e_db_int(h, "SELECT count(*) FROM events WHERE "
				    "kind = 'log' AND payload LIKE '%line %'",
				    -1), 2000);
	assert_int_equal(e2e_db_int(h, "SELECT json_extract(payload, "
				    "'$.dropped') FROM events WHERE kind = "
				    "'log' AND payload LIKE '%log capped%'",
				    -1), 3000);
	sqlite3_close(h);
	free(db);
}

/* The run's timeline: how many "starts again" notes, how many "verdict
 * stands" notes, and the largest aim error a trigger recorded. */
static void missed_notes(struct e2e_ctx *c, const char *name, int *notes,
			 int *stands, long *worst_us)
{
	char *db = NULL;
	sqlite3 *h;

	assert_true(asprintf(&db, "%s/%s/patchlab.db", c->rack.dir, name) > 0);
	h = e2e_db_open(db);
	assert_non_null(h);
	*notes = e2e_db_int(h, "SELECT count(*) FROM events WHERE kind = "
			    "'log' AND payload LIKE '%missed its aim: the run "
			    "starts again%'", -1);
	*stands = e2e_db_int(h, "SELECT count(*) FROM events WHERE kind = "
			     "'log' AND payload LIKE '%verdict stands%'", -1);
	*worst_us = e2e_db_int(h, "SELECT max(json_extract(payload, "
			       "'$.aim_error_us')) FROM events WHERE kind = "
			       "'trigger'", -1);
	sqlite3_close(h);
	free(db);
}

static void missed_aim(void **state)
{
	struct e2e_ctx *c = *state;
	json_t *doc, *r;
	const char *why;
	long worst;
	int notes, stands;

	doc = run_suite(c, "busy", "  - scenario: busy.lua\n"
			"    params: {tol: 1}\n", PL_EXIT_LAB_ERROR);
	r = json_array_get(json_object_get(doc, "runs"), 0);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "verdict")),
			    "lab-error");
	why = json_string_value(json_object_get(r, "reason"));
	assert_non_null(why);
	assert_non_null(strstr(why, "missed its aim on each of 3 attempts"));
	assert_non_null(strstr(why, "waited"));
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(doc, "gate"), "result")), "incomplete");
	json_decref(doc);
	missed_notes(c, "busy", &notes, &stands, &worst);
	assert_int_equal(notes, 2);
	assert_int_equal(stands, 0);
	assert_true(worst > 100000); /* the 300 ms the loop was held */

	doc = run_suite(c, "busy-ok", "  - scenario: busy.lua\n"
			"    params: {tol: 5000}\n", PL_EXIT_OK);
	r = json_array_get(json_object_get(doc, "runs"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "verdict")),
			    "pass");
	json_decref(doc);
	missed_notes(c, "busy-ok", &notes, &stands, &worst);
	assert_int_equal(notes, 0);
	assert_true(worst > 100000);

	/* a device that did not survive the cut failed wherever it landed:
	 * its verdict stands, one attempt, the miss noted */
	doc = run_suite(c, "busy-fail", "  - scenario: busy.lua\n"
			"    params: {tol: 1, fail: true}\n",
			PL_EXIT_GATE_FAILED);
	r = json_array_get(json_object_get(doc, "runs"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "verdict")),
			    "fail");
	json_decref(doc);
	missed_notes(c, "busy-fail", &notes, &stands, &worst);
	assert_int_equal(notes, 0);
	assert_int_equal(stands, 1);
	assert_true(worst > 100000);
}

/* The rack's lab with vb0 switched by `exec` commands that write the
 * relay's LCUS frames themselves, and whose off fails once the board has
 * been switched on (a relay that stopped obeying). */
static char *exec_power_lab(struct e2e_ctx *c)
{
	char *text = pl_test_slurp(c->rack.lab), *line, *end, *out = NULL;
	char *lab = pl_test_path(c->rack.dir, "exec-lab.yaml");
	char power[2048];
	FILE *f;

	assert_non_null(text);
	line = strstr(text, "    power:");
	assert_non_null(line);
	end = strchr(line, '\n');
	assert_non_null(end);
	snprintf(power, sizeof(power),
		 "    power: {driver: exec, timeout_ms: 5000,\n"
		 "      on: [sh, -c, \"printf '\\\\240\\\\001\\\\001\\\\242' > %s/relay0.tty "
		 "&& touch %s/relay-stuck\"],\n"
		 "      off: [sh, -c, \"test ! -e %s/relay-stuck && printf "
		 "'\\\\240\\\\001\\\\000\\\\241' > %s/relay0.tty\"]}",
		 c->rack.dir, c->rack.dir, c->rack.dir, c->rack.dir);
	assert_true(asprintf(&out, "%.*s%s%s", (int)(line - text), text,
			     power, end) > 0);
	f = fopen(lab, "w");
	assert_non_null(f);
	assert_true(fputs(out, f) >= 0);
	assert_int_equal(fclose(f), 0);
	free(out);
	free(text);
	return lab;
}

/* A cut whose power command failed left the board running: the
 * scenario's pass is not the device's, the run is lab-error and the gate
 * incomplete. */
static void failed_cut_is_lab_error(void **state)
{
	struct e2e_ctx *c = *state;
	char *lab = exec_power_lab(c), *keep = c->rack.lab;
	json_t *doc, *r;
	const char *why;

	c->rack.lab = lab;
	doc = run_suite(c, "nocut", "  - scenario: nocut.lua\n",
			PL_EXIT_LAB_ERROR);
	c->rack.lab = keep;
	r = json_array_get(json_object_get(doc, "runs"), 0);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "verdict")),
			    "lab-error");
	why = json_string_value(json_object_get(r, "reason"));
	assert_non_null(why);
	assert_non_null(strstr(why, "power command failed"));
	json_decref(doc);
	free(lab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(console_sweep),
		cmocka_unit_test(time_sweep),
		cmocka_unit_test(silent_downgrade),
		cmocka_unit_test(log_is_capped),
		cmocka_unit_test(missed_aim),
		cmocka_unit_test(failed_cut_is_lab_error),
	};

	return cmocka_run_group_tests_name("e2e_aimsweep", tests, setup,
					   e2e_ctx_teardown);
}
