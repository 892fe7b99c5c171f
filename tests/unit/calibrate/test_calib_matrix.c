/* SPDX-License-Identifier: MIT */
/*
 * The calibration's matrix and verdict from result stores written here
 * (controller/src/calibrate, through calib_internal.h): runs traced back to
 * their suite entry (sweep runs by their cut point and learning flag), the
 * first detection counted in id order, and the verdict for a fit lab, a
 * missed defect, a good firmware that fails, and lab errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "calib_internal.h"
#include "pl_test.h"
#include "patchlab/config.h"
#include "patchlab/store.h"

struct fx {
	char *dir;
	struct pl_suite *suite;
	int ndb;
};

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/*
 * Entries: 1 a.lua, 2 b.lua image=corrupt, 3 b.lua image=truncated,
 * 4 a.lua swept (the same scenario and params as entry 1).
 */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pl_diags *d = NULL;
	char path[4096], sub[4096];

	if (!f)
		return -1;
	f->dir = pl_test_tmpdir("calib-matrix");
	snprintf(sub, sizeof(sub), "%s/scenarios", f->dir);
	if (mkdir(sub, 0755) != 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s/scenarios/suites", f->dir);
	if (mkdir(sub, 0755) != 0)
		return -1;
	write_file(f->dir, "img.bin", "image");
	write_file(f->dir, "scenarios/a.lua", "-- a\n");
	write_file(f->dir, "scenarios/b.lua", "-- b\n");
	write_file(f->dir, "scenarios/suites/s.yaml",
		   "name: t\n"
		   "images:\n"
		   "  new: {path: ../../img.bin, version: 1.1.0}\n"
		   "runs:\n"
		   "  - scenario: a.lua\n"
		   "  - scenario: b.lua\n"
		   "    params: {image: corrupt}\n"
		   "  - scenario: b.lua\n"
		   "    params: {image: truncated}\n"
		   "  - scenario: a.lua\n"
		   "    sweep: {over: flash_ops, phases: [during], points: 3}\n");
	snprintf(path, sizeof(path), "%s/scenarios/suites/s.yaml", f->dir);
	if (pl_diags_new(&d) || pl_suite_load(&f->suite, path, NULL, d)) {
		pl_diags_print(d, stderr);
		pl_diags_free(d);
		return -1;
	}
	pl_diags_free(d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl_suite_free(f->suite);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* One profile's store: a suite and its runs, "scenario|params|verdict"
 * ("open" for a run that never ended). Returns the db path (malloc'ed). */
static char *store_with(struct fx *f, const char *const *runs)
{
	struct pl_store *st;
	char *db = NULL;
	int64_t suite, id;

	assert_true(asprintf(&db, "%s/p%d.db", f->dir, f->ndb++) > 0);
	assert_int_equal(pl_store_open(&st, db, NULL), 0);
	assert_int_equal(pl_store_suite_begin(st, &(struct pl_suite_info){
				.name = "t" }, &suite), 0);
	for (size_t i = 0; runs[i]; i++) {
		char scen[64], params[256], verdict[32];
		enum pl_verdict v;

		assert_int_equal(sscanf(runs[i], "%63[^|]|%255[^|]|%31s", scen,
					params, verdict), 3);
		assert_int_equal(pl_store_run_begin(st, &(struct pl_run_info){
					.suite_id = suite, .board_id = "vb0",
					.board_type = "virtual-mcu",
					.scenario = scen, .params_json = params },
					&id), 0);
		if (strcmp(verdict, "open") == 0)
			continue;
		assert_int_equal(pl_verdict_parse(verdict, &v), 0);
		assert_int_equal(pl_store_run_end(st, id, v, NULL), 0);
	}
	assert_int_equal(pl_store_suite_end(st, suite, "fail"), 0);
	pl_store_close(st);
	return db;
}

static const char *const clean_runs[] = {
	"scenarios/a.lua|{}|pass",
	"scenarios/b.lua|{\"image\":\"corrupt\"}|pass",
	"scenarios/b.lua|{\"image\":\"truncated\"}|pass",
	"scenarios/a.lua|{\"learn\":true}|pass",
	"scenarios/a.lua|{\"cut\":{\"op\":1}}|rolled-back",
	"scenarios/a.lua|{\"cut\":{\"op\":2}}|rolled-back",
	NULL,
};

/* A calibration of the given profiles, each from its runs. */
static struct pl_calib *calibrate(struct fx *f, const char *const *names,
				  const char *const *const *runs)
{
	struct pl_calib *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->lab_path = strdup("lab.yaml");
	c->suite_path = strdup("s.yaml");
	c->out_dir = strdup(f->dir);
	c->seed = 7;
	for (size_t i = 0; names[i]; i++)
		assert_int_equal(calib_add_profile(c, names[i]), 0);
	assert_int_equal(calib_load_entries(c, f->suite), 0);
	assert_int_equal(calib_alloc_cells(c), 0);
	for (size_t i = 0; names[i]; i++) {
		/* profiles are kept in the table's order: find ours */
		size_t p = 0;

		while (strcmp(c->profiles[p].name, names[i]) != 0)
			p++;
		c->profile_db[p] = store_with(f, runs[i]);
		c->profiles[p].engine_exit = 0;
		assert_int_equal(calib_read_profile(c, p, c->profile_db[p], 0), 0);
	}
	assert_int_equal(calib_decide(c), 0);
	return c;
}

static size_t profile_index(const struct pl_calib *c, const char *name)
{
	for (size_t p = 0; p < pl_calib_nprofiles(c); p++)
		if (strcmp(pl_calib_profile_at(c, p)->name, name) == 0)
			return p;
	fail_msg("no profile %s", name);
	return 0;
}

static void entries_carry_scenario_params_and_sweep(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "good", NULL };
	const char *const *runs[] = { clean_runs };
	struct pl_calib *c = calibrate(f, names, runs);

	assert_int_equal(pl_calib_nentries(c), 4);
	assert_string_equal(pl_calib_entry_label(c, 0), "a.lua");
	assert_string_equal(pl_calib_entry_label(c, 1), "b.lua image=corrupt");
	assert_string_equal(pl_calib_entry_label(c, 3),
			    "a.lua sweep flash_ops during 3 points");
	/* the plain and the swept a.lua are told apart by the cut point */
	assert_int_equal(pl_calib_cell(c, 0, 0)->runs, 1);
	assert_int_equal(pl_calib_cell(c, 3, 0)->runs, 3);
	assert_int_equal(pl_calib_cell(c, 1, 0)->runs, 1);
	assert_int_equal(pl_calib_cell(c, 2, 0)->runs, 1);
	pl_calib_free(c);
}

static void fit_when_every_defect_is_seen_and_good_is_clean(void **state)
{
	struct fx *f = *state;
	static const char *const slot_runs[] = {
		"scenarios/a.lua|{}|pass",
		"scenarios/b.lua|{\"image\":\"corrupt\"}|pass",
		"scenarios/b.lua|{\"image\":\"truncated\"}|pass",
		"scenarios/a.lua|{\"learn\":true}|pass",
		"scenarios/a.lua|{\"cut\":{\"op\":1}}|rolled-back",
		"scenarios/a.lua|{\"cut\":{\"op\":2}}|recovered",
		"scenarios/a.lua|{\"cut\":{\"op\":3}}|bricked",
		NULL,
	};
	static const char *const verify_runs[] = {
		"scenarios/a.lua|{}|pass",
		"scenarios/b.lua|{\"image\":\"corrupt\"}|fail",
		"scenarios/b.lua|{\"image\":\"truncated\"}|pass",
		NULL,
	};
	const char *names[] = { "single-slot", "good", "no-verify", NULL };
	const char *const *runs[] = { slot_runs, clean_runs, verify_runs };
	struct pl_calib *c = calibrate(f, names, runs);
	struct pl_strbuf sb = { 0 };
	size_t slot = profile_index(c, "single-slot");
	size_t ver = profile_index(c, "no-verify");
	json_t *doc;

	/* the table's order, good first */
	assert_string_equal(pl_calib_profile_at(c, 0)->name, "good");
	assert_true(pl_calib_profile_at(c, 0)->reference);
	assert_int_equal(pl_calib_cell(c, 3, slot)->first, 3);
	assert_int_equal(pl_calib_cell(c, 3, slot)->failures, 2);
	assert_int_equal(pl_calib_cell(c, 1, ver)->first, 1);
	assert_int_equal(pl_calib_cell(c, 3, ver)->runs, 0);
	assert_true(pl_calib_profile_at(c, slot)->detected);
	assert_int_equal(pl_calib_verdict(c), PL_CALIB_FIT);
	assert_int_equal(pl_calib_exit_code(c), 0);

	assert_int_equal(pl_calib_text(c, &sb), 0);
	assert_non_null(strstr(sb.s, "detected (3)"));
	assert_non_null(strstr(sb.s, "not run"));
	assert_non_null(strstr(sb.s, "overwrites the running image in place"));
	assert_non_null(strstr(sb.s, "\nFIT: "));
	pl_strbuf_reset(&sb);
	assert_int_equal(pl_calib_json(c, &sb), 0);
	doc = json_loads(sb.s, 0, NULL);
	assert_non_null(doc);
	assert_true(json_is_true(json_object_get(doc, "fit")));
	{
		json_t *p = json_array_get(json_object_get(doc, "profiles"), slot);
		json_t *cells = json_object_get(p, "cells");

		assert_int_equal(json_integer_value(json_object_get(
			json_array_get(cells, 3), "first_detection")), 3);
		assert_true(json_is_null(json_object_get(
			json_array_get(cells, 0), "first_detection")));
		assert_int_equal(json_integer_value(json_object_get(
			json_object_get(p, "verdicts"), "recovered")), 1);
	}
	json_decref(doc);
	pl_strbuf_free(&sb);
	pl_calib_free(c);
}

static void not_fit_when_a_defect_is_missed(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "good", "torn-trailer", NULL };
	const char *const *runs[] = { clean_runs, clean_runs };
	struct pl_calib *c = calibrate(f, names, runs);
	struct pl_strbuf sb = { 0 };

	assert_int_equal(pl_calib_verdict(c), PL_CALIB_NOT_FIT);
	assert_int_equal(pl_calib_exit_code(c), 1);
	assert_false(pl_calib_profile_at(c, 1)->detected);
	assert_int_equal(pl_calib_text(c, &sb), 0);
	assert_non_null(strstr(sb.s, "torn-trailer (takes a half-written"));
	assert_non_null(strstr(sb.s, "MISSED"));
	pl_strbuf_free(&sb);
	pl_calib_free(c);
}

static void not_fit_when_good_fails(void **state)
{
	struct fx *f = *state;
	static const char *const bad_good[] = {
		"scenarios/a.lua|{}|pass",
		"scenarios/b.lua|{\"image\":\"corrupt\"}|pass",
		"scenarios/b.lua|{\"image\":\"truncated\"}|fail",
		NULL,
	};
	static const char *const caught[] = {
		"scenarios/a.lua|{}|bricked",
		NULL,
	};
	const char *names[] = { "good", "no-rollback", NULL };
	const char *const *runs[] = { bad_good, caught };
	struct pl_calib *c = calibrate(f, names, runs);
	struct pl_strbuf sb = { 0 };

	assert_int_equal(pl_calib_verdict(c), PL_CALIB_NOT_FIT);
	assert_int_equal(pl_calib_text(c, &sb), 0);
	assert_non_null(strstr(sb.s, "FAILED (1)"));
	assert_non_null(strstr(sb.s, "FALSE ALARM"));
	pl_strbuf_free(&sb);
	pl_calib_free(c);
}

static void inconclusive_on_lab_errors(void **state)
{
	struct fx *f = *state;
	static const char *const flaky[] = {
		"scenarios/a.lua|{}|pass",
		"scenarios/b.lua|{\"image\":\"corrupt\"}|lab-error",
		"scenarios/b.lua|{\"image\":\"truncated\"}|open",
		NULL,
	};
	const char *names[] = { "good", "counter-drain", NULL };
	const char *const *runs[] = { clean_runs, flaky };
	struct pl_calib *c = calibrate(f, names, runs);
	size_t p = profile_index(c, "counter-drain");
	struct pl_strbuf sb = { 0 };

	/* a missed defect whose runs the lab could not all judge */
	assert_int_equal(pl_calib_verdict(c), PL_CALIB_INCONCLUSIVE);
	assert_int_equal(pl_calib_exit_code(c), 2);
	assert_int_equal(pl_calib_profile_at(c, p)->lab_errors, 2);
	assert_int_equal(pl_calib_cell(c, 1, p)->lab_errors, 1);
	assert_int_equal(pl_calib_text(c, &sb), 0);
	assert_non_null(strstr(sb.s, "lab-error"));
	pl_strbuf_free(&sb);
	pl_calib_free(c);
}

static void a_store_without_a_new_suite_means_the_suite_did_not_run(void **state)
{
	struct fx *f = *state;
	struct pl_calib *c = calloc(1, sizeof(*c));
	char *db;

	assert_non_null(c);
	assert_int_equal(calib_add_profile(c, "good"), 0);
	assert_int_equal(calib_add_profile(c, "single-slot"), 0);
	assert_int_equal(calib_load_entries(c, f->suite), 0);
	assert_int_equal(calib_alloc_cells(c), 0);
	db = store_with(f, clean_runs);
	/* the store's suite is older than the run: nothing of ours in it */
	assert_int_equal(calib_read_profile(c, 0, db, 1), 0);
	assert_int_equal(calib_read_profile(c, 1, db, 1), 0);
	assert_int_equal(pl_calib_profile_at(c, 0)->runs, 0);
	assert_int_equal(calib_decide(c), 0);
	assert_int_equal(pl_calib_verdict(c), PL_CALIB_INCONCLUSIVE);
	free(db);
	pl_calib_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(entries_carry_scenario_params_and_sweep,
						setup, teardown),
		cmocka_unit_test_setup_teardown(fit_when_every_defect_is_seen_and_good_is_clean,
						setup, teardown),
		cmocka_unit_test_setup_teardown(not_fit_when_a_defect_is_missed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(not_fit_when_good_fails,
						setup, teardown),
		cmocka_unit_test_setup_teardown(inconclusive_on_lab_errors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_store_without_a_new_suite_means_the_suite_did_not_run,
			setup, teardown),
	};

	return cmocka_run_group_tests_name("unit_calibrate", tests, NULL, NULL);
}
