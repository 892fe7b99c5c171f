/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/notrun: a run that could not run is recorded and shown in every
 * output, and a suite with one cannot pass (issue 11 "No run goes
 * missing"). On a real virtual rack of one board:
 *
 *   sweep_without_points: a sweep whose learning pass finds no flash
 *       operation (its scenario says ops = 0, as on a board with no probe)
 *       plans no point: exit 2, gate "incomplete" in the JSON, a not-run
 *       run saying so in the JSON, JUnit (<skipped>), HTML and `patchlab
 *       results`. The scenario lives outside the project tree, in a lab
 *       repository of its own, and still finds the shipped lib.oracle.
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
	return e2e_ctx_setup(state, "scenarios/suites/quick.yaml", "e2e-notrun",
			     1, "good");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* The run of doc whose reason contains what, or NULL. */
static json_t *run_with_reason(json_t *doc, const char *verdict,
			       const char *what)
{
	json_t *runs = json_object_get(doc, "runs"), *r;
	size_t i;

	json_array_foreach(runs, i, r) {
		const char *v = json_string_value(json_object_get(r, "verdict"));
		const char *why = json_string_value(json_object_get(r, "reason"));

		if (v && strcmp(v, verdict) == 0 && why && strstr(why, what))
			return r;
	}
	return NULL;
}

static void sweep_without_points(void **state)
{
	struct e2e_ctx *c = *state;
	char *repo = pl_test_path(c->rack.dir, "labrepo");
	char *scen = pl_test_path(repo, "learn_nothing.lua");
	char *suite = pl_test_path(repo, "sweep.yaml");
	char *json = pl_test_path(c->rack.dir, "sweep.json");
	char *junit = pl_test_path(c->rack.dir, "sweep.xml");
	char *html = pl_test_path(c->rack.dir, "sweep.html");
	char *db = pl_test_path(c->rack.dir, "sweep.db");
	char *out = NULL, *text, yaml[2048];
	json_error_t jerr;
	json_t *doc;
	int rc;

	assert_int_equal(mkdir(repo, 0755), 0);
	/* a learning pass that finds no operation to cut, as on a board
	 * without a probe; lib.oracle comes from patchlab's own library */
	write_file(scen,
		   "local oracle = require(\"lib.oracle\")\n"
		   "check(type(oracle.baseline) == \"function\", \"no oracle\")\n"
		   "if params.learn then\n"
		   "  verdict.pass(\"learned nothing\")\n"
		   "  return { ops = 0 }\n"
		   "end\n"
		   "verdict.pass(\"a point ran\")\n");
	snprintf(yaml, sizeof(yaml),
		 "name: sweep-no-points\n"
		 "images:\n"
		 "  golden: {path: \"%s/images/v1.0.0.img\", version: 1.0.0}\n"
		 "  new: {path: \"%s/images/v1.1.0.img\", version: 1.1.0}\n"
		 "runs:\n"
		 "  - scenario: learn_nothing.lua\n"
		 "    sweep: {over: flash_ops, phases: [during], points: 5}\n",
		 c->rack.dir, c->rack.dir);
	write_file(suite, yaml);

	rc = e2e_patchlab(NULL, &out, "run", suite, "--lab", c->rack.lab,
			  "--db", db, "--out", c->rack.dir, "--json", json,
			  "--junit", junit, "--html", html, "-q", NULL);
	if (rc != PL_EXIT_LAB_ERROR)
		fprintf(stderr, "patchlab run: exit %d\n%s", rc, out ? out : "");
	assert_int_equal(rc, PL_EXIT_LAB_ERROR);
	free(out);

	doc = json_load_file(json, 0, &jerr);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(doc, "gate"), "result")), "incomplete");
	assert_non_null(run_with_reason(doc, "pass", "learned nothing"));
	assert_non_null(run_with_reason(doc, "not-run",
					"sweep planned no point"));
	/* no point ran */
	assert_null(run_with_reason(doc, "pass", "a point ran"));
	json_decref(doc);

	text = pl_test_slurp(junit);
	assert_non_null(text);
	assert_non_null(strstr(text, "<skipped message=\"not-run: sweep "
				     "planned no point"));
	assert_non_null(strstr(text, "skipped=\"1\""));
	free(text);
	text = pl_test_slurp(html);
	assert_non_null(text);
	assert_non_null(strstr(text, "not-run"));
	assert_non_null(strstr(text, "gate-incomplete"));
	free(text);
	rc = e2e_patchlab(NULL, &out, "results", "--db", db, "--suite", "1",
			  NULL);
	assert_int_equal(rc, PL_EXIT_OK);
	assert_non_null(strstr(out, "not-run"));
	free(out);

	free(repo);
	free(scen);
	free(suite);
	free(json);
	free(junit);
	free(html);
	free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sweep_without_points),
	};

	return cmocka_run_group_tests_name("e2e_notrun", tests, setup,
					   e2e_ctx_teardown);
}
