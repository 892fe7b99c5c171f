/* SPDX-License-Identifier: MIT */
/*
 * /pl/cli/outputs (issue 12, item 6): a report that cannot be written is
 * an error naming the file (exit 2), and text a board or a script wrote
 * (escape sequences, invalid UTF-8) reaches neither the terminal raw nor
 * the JSON report invalid. Runs the real `patchlab report` and `patchlab
 * results` on a store made here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "pl_test.h"
#include "patchlab/exit.h"
#include "patchlab/store.h"
#include "patchlab/text.h"

/* What a hostile scenario left: a reason that clears the screen and moves
 * the cursor (7-bit ESC and 8-bit CSI), with a byte that is not UTF-8. */
#define HOSTILE_REASON "boom \x1b[2J\x1b[H\xC2\x9B" "31m \xFF end"

struct fx {
	char *dir, *db;
	int64_t suite, run;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pl_store *st;
	struct pl_suite_info si = { .name = "outputs \x1b]0;title\x07",
				    .seed = 1 };
	struct pl_run_info ri = { .board_id = "vb\x1b[31m0",
				  .board_type = "vboard",
				  .scenario = "scenarios/x.lua" };

	f->dir = pl_test_tmpdir("cli-outputs");
	assert_true(asprintf(&f->db, "%s/p.db", f->dir) > 0);
	assert_int_equal(pl_store_open(&st, f->db, NULL), 0);
	assert_int_equal(pl_store_suite_begin(st, &si, &f->suite), 0);
	ri.suite_id = f->suite;
	assert_int_equal(pl_store_run_begin(st, &ri, &f->run), 0);
	assert_int_equal(pl_store_run_end(st, f->run, PL_VERDICT_FAIL,
					  HOSTILE_REASON), 0);
	assert_int_equal(pl_store_suite_end(st, f->suite, "fail"), 0);
	pl_store_close(st);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f->db);
	free(f);
	return 0;
}

static int report(struct fx *f, const char *opt, const char *path,
		  char **err)
{
	char id[32];
	char *argv[] = { (char *)pl_test_patchlab(), "report", id, "--db",
			 f->db, (char *)opt, (char *)path, NULL };

	snprintf(id, sizeof(id), "%lld", (long long)f->suite);
	return pl_test_run_capture(argv, NULL, err);
}

static void unwritable_reports_exit_2_naming_the_file(void **state)
{
	struct fx *f = *state;
	const char *bad[][2] = {
		{ "--json", "/nonexistent/dir/r.json" },
		{ "--html", NULL }, /* a directory */
		{ "--junit", "/proc/version" },
	};
	char *err = NULL;

	for (size_t i = 0; i < 3; i++) {
		const char *path = bad[i][1] ? bad[i][1] : f->dir;
		int rc = report(f, bad[i][0], path, &err);

		if (rc != PL_EXIT_LAB_ERROR || !strstr(err, path))
			fail_msg("report %s %s: exit %d, stderr: %s", bad[i][0],
				 path, rc, err);
		free(err);
		err = NULL;
	}
}

static void json_report_of_invalid_utf8_is_valid(void **state)
{
	struct fx *f = *state;
	char *path, *err = NULL;
	json_error_t jerr;
	json_t *j, *run;
	const char *reason;

	assert_true(asprintf(&path, "%s/r.json", f->dir) > 0);
	if (report(f, "--json", path, &err) != PL_EXIT_OK)
		fail_msg("report --json: %s", err);
	free(err);
	j = json_load_file(path, 0, &jerr);
	if (!j)
		fail_msg("%s: %s", path, jerr.text);
	run = json_array_get(json_object_get(j, "runs"), 0);
	reason = json_string_value(json_object_get(run, "reason"));
	assert_non_null(reason);
	assert_non_null(strstr(reason, "\xEF\xBF\xBD end"));
	json_decref(j);
	free(path);
}

static void results_never_print_escape_sequences(void **state)
{
	struct fx *f = *state;
	char id[32], suite[32], *out = NULL;
	char *one[] = { (char *)pl_test_patchlab(), "results", id, "--db",
			f->db, NULL };
	char *list[] = { (char *)pl_test_patchlab(), "results", "--suite",
			 suite, "--db", f->db, NULL };
	char *suites[] = { (char *)pl_test_patchlab(), "results", "--db",
			   f->db, NULL };
	char *const *cmds[] = { one, list, suites };

	snprintf(id, sizeof(id), "%lld", (long long)f->run);
	snprintf(suite, sizeof(suite), "%lld", (long long)f->suite);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(pl_test_run_capture(cmds[i], &out, NULL), 0);
		if (strchr(out, '\x1b') || strstr(out, "\xC2\x9B") ||
		    !pl_utf8_valid(out, strlen(out)))
			fail_msg("results output %zu carries raw control "
				 "bytes:\n%s", i, out);
		if (i < 2 && !strstr(out, "boom \\x1B[2J"))
			fail_msg("results output %zu hides the reason:\n%s", i,
				 out);
		free(out);
		out = NULL;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unwritable_reports_exit_2_naming_the_file),
		cmocka_unit_test(json_report_of_invalid_utf8_is_valid),
		cmocka_unit_test(results_never_print_escape_sequences),
	};

	return cmocka_run_group_tests_name("/pl/cli/outputs", tests, setup,
					   teardown);
}
