/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/latency: console-match power cuts record their times.
 *
 * tests/data/e2e/scenarios/suites/latency.yaml arms fault.cut{on =
 * "console"} during updates on a `good` board of a real virtual rack (a
 * fixed nth, a pattern with a delay, a seeded nth window repeated). Every
 * run must pass (its scenario checks t:fired() and t:info()), and in the
 * result store every run has one `trigger` event per attempt (a run whose
 * cut missed its aim starts again, noted on its timeline) whose payload
 * records seen_ns, issued_ns and done_ns with seen <= issued <= done and
 * latency_ns = issued - seen. Only that they were recorded and ordered:
 * no timing thresholds (tests/bench/bench_trigger_latency measures).
 * The delayed cut (delay_ms: 1, an LCUS relay of the rack) is timed by the
 * cut thread (`timed_by: "thread"`) and never issued before its delay;
 * undelayed cuts fire in the console callback and name no timer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

#define NRUNS 5 /* the runs of latency.yaml */
#define NDELAYED 1 /* of which with a delay */

static int group_setup(void **state)
{
	return e2e_ctx_setup(state,
			     "tests/data/e2e/scenarios/suites/latency.yaml",
			     "e2e-latency", 1, "good");
}

static json_int_t need_int(json_t *o, const char *k, int64_t run)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		fail_msg("run %" PRId64 ": trigger event without %s", run, k);
	return json_integer_value(v);
}

static void test_console_cuts_record_times(void **state)
{
	struct e2e_ctx *c = *state;
	char out[4200], db[4200], *txt = NULL;
	sqlite3 *sdb;
	sqlite3_stmt *s = NULL;
	int rc, n = 0, delayed = 0, again;

	snprintf(out, sizeof(out), "%s/out", c->rack.dir);
	snprintf(db, sizeof(db), "%s/out/patchlab.db", c->rack.dir);
	rc = e2e_patchlab(NULL, &txt, "run", c->suite, "--lab", c->rack.lab,
			  "--out", out, "-q", NULL);
	if (rc != PL_EXIT_OK) {
		fprintf(stderr, "%s\n", txt ? txt : "");
		free(txt);
		fail_msg("latency suite: exit %d (its output above)", rc);
	}
	free(txt);
	sdb = e2e_db_open(db);
	assert_non_null(sdb);
	assert_int_equal(e2e_db_int(sdb, "SELECT count(*) FROM runs", -1),
			 NRUNS);
	assert_int_equal(e2e_db_int(sdb, "SELECT count(*) FROM runs WHERE "
				    "verdict = 'pass'", -1), NRUNS);
	/* one firing per attempt: a run whose cut missed its aim (a loaded
	 * host, the sanitizer pass) started again, and says so */
	again = e2e_db_int(sdb, "SELECT count(*) FROM events WHERE kind = "
			   "'log' AND payload LIKE '%the run starts again%'", -1);
	assert_true(again >= 0);
	assert_int_equal(e2e_db_int(sdb, "SELECT count(DISTINCT run_id) FROM "
				    "events WHERE kind = 'trigger'", -1),
			 NRUNS);
	assert_int_equal(sqlite3_prepare_v2(sdb, "SELECT run_id, payload FROM "
					    "events WHERE kind = 'trigger' "
					    "ORDER BY id", -1, &s, NULL),
			 SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		int64_t run = sqlite3_column_int64(s, 0);
		const char *p = (const char *)sqlite3_column_text(s, 1);
		json_error_t jerr;
		json_t *j = json_loads(p ? p : "", 0, &jerr);
		json_int_t seen, issued, done, lat;

		if (!j)
			fail_msg("run %" PRId64 ": payload %s: %s", run, p,
				 jerr.text);
		assert_string_equal(json_string_value(json_object_get(j, "kind")),
				    "console");
		seen = need_int(j, "seen_ns", run);
		issued = need_int(j, "issued_ns", run);
		done = need_int(j, "done_ns", run);
		lat = need_int(j, "latency_ns", run);
		if (!(seen > 0 && issued >= seen && done >= issued &&
		      lat == issued - seen))
			fail_msg("run %" PRId64 ": times out of order: %s", run,
				 p);
		if (need_int(j, "delay_us", run) > 0) {
			const char *by = json_string_value(
				json_object_get(j, "timed_by"));

			if (!by || strcmp(by, "thread"))
				fail_msg("run %" PRId64 ": the delay was not "
					 "timed by the cut thread: %s", run, p);
			if (issued - seen < need_int(j, "delay_us", run) * 1000)
				fail_msg("run %" PRId64 ": fired before its "
					 "delay: %s", run, p);
			delayed++;
		} else if (json_object_get(j, "timed_by")) {
			fail_msg("run %" PRId64 ": an undelayed cut names a "
				 "timer: %s", run, p);
		}
		json_decref(j);
		n++;
	}
	sqlite3_finalize(s);
	sqlite3_close(sdb);
	assert_int_equal(n, NRUNS + again);
	assert_in_range(delayed, NDELAYED, NDELAYED + again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_console_cuts_record_times),
	};

	return cmocka_run_group_tests_name("/pl/e2e/latency", tests,
					   group_setup, e2e_ctx_teardown);
}
