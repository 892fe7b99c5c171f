/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/calibrate: `patchlab calibrate` on a real virtual rack holding
 * one board of each of the eight firmware profiles (speed 20), with the
 * small calibration suite tests/data/calibrate/scenarios/suites/calib.yaml.
 * The shipped scenarios are copied next to that suite in the test's
 * directory (a suite's scenarios are the parent of its suites/). Asserts
 * the matrix: every defective profile detected by some entry, `good` clean
 * (no device failure, no lab-error), the verdict `fit` and exit 0; and the
 * text names each profile's defect from the profile table.
 *
 * Every process is a real `patchlab` started through libuv and waited for
 * on the loop with a deadline; the rack is re-parented to the test and
 * reaped after `vrack down`, every board switched off first, whatever
 * failed. PL_KEEP_RACK=1 keeps the directory (stores, console logs).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e_util.h"
#include "pl_test.h"
#include "patchlab/vfw.h"

/* Deadline of the whole calibration (ASan builds are slow). */
#define CALIBRATE_DEADLINE_MS 900000u
/* Deadline of a short command (vrack up/down, power, cp). */
#define SHORT_DEADLINE_MS 60000u

struct rack {
	char *dir, *rack, *lab, *scen, *suite, *out, *json, *log;
	int pid;      /* the rack daemon, re-parented to us; 0 when down */
	size_t nboards;
};

/* --------------------------------------------------------- processes */

/*
 * Run argv (argv[0] a path or a program on PATH) to its end, stdin from
 * /dev/null, stdout and stderr appended to log; killed (and still reaped)
 * after timeout_ms. Returns its exit code, 128+signal, or -1.
 */
static int run_log(char *const argv[], const char *log, unsigned timeout_ms)
{
	struct e2e_proc p;
	uv_loop_t loop;
	int rc;

	if (uv_loop_init(&loop) != 0)
		return -1;
	rc = e2e_spawn(&loop, &p, NULL, log, argv);
	if (rc != 0) {
		fprintf(stderr, "cannot start %s: %s\n", argv[0],
			uv_strerror(rc));
		rc = -1;
	} else {
		rc = e2e_wait(&loop, &p, timeout_ms);
	}
	pl_test_loop_drain(&loop);
	return rc;
}

/* `patchlab ARGS...` (NULL-terminated), output appended to r->log. */
static int pl(struct rack *r, unsigned timeout_ms, ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;

	argv[n++] = (char *)pl_test_patchlab();
	va_start(ap, timeout_ms);
	for (char *a = va_arg(ap, char *); a && n < 31; a = va_arg(ap, char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return run_log(argv, r->log, timeout_ms);
}

/* ------------------------------------------------------------ fixture */

/* "good,single-slot,..." : every profile of the table, once. */
static char *all_profiles(void)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < pl_vfw_profile_count(); i++)
		len += strlen(pl_vfw_profile_at(i)->name) + 1;
	s = calloc(1, len);
	for (size_t i = 0; s && i < pl_vfw_profile_count(); i++) {
		if (i)
			strcat(s, ",");
		strcat(s, pl_vfw_profile_at(i)->name);
	}
	return s;
}

static int group_setup(void **state)
{
	struct rack *r = calloc(1, sizeof(*r));
	char *src = pl_test_source_path("scenarios");
	char *calib = pl_test_source_path(
		"tests/data/calibrate/scenarios/suites/calib.yaml");
	char *profiles = all_profiles();
	char nb[16];
	int rc = -1;

	*state = r;
	/* the rack daemon leaves `vrack up` for us to reap */
	pl_test_become_subreaper();
	r->dir = pl_test_tmpdir("calibrate");
	if (!r || !src || !calib || !profiles || !r->dir ||
	    asprintf(&r->rack, "%s/rack", r->dir) < 0 ||
	    asprintf(&r->lab, "%s/rack/lab.yaml", r->dir) < 0 ||
	    asprintf(&r->scen, "%s/scenarios", r->dir) < 0 ||
	    asprintf(&r->suite, "%s/scenarios/suites/calib.yaml", r->dir) < 0 ||
	    asprintf(&r->out, "%s/out", r->dir) < 0 ||
	    asprintf(&r->json, "%s/calibration.json", r->dir) < 0 ||
	    asprintf(&r->log, "%s/commands.log", r->dir) < 0)
		goto out;
	r->nboards = pl_vfw_profile_count();
	/* the shipped scenarios and their library, next to our suite */
	{
		char *cp_tree[] = { "cp", "-R", src, r->scen, NULL };
		char *cp_suite[] = { "cp", calib, r->suite, NULL };

		if (run_log(cp_tree, r->log, SHORT_DEADLINE_MS) != 0 ||
		    run_log(cp_suite, r->log, SHORT_DEADLINE_MS) != 0) {
			fprintf(stderr, "cannot copy the scenarios\n");
			goto out;
		}
	}
	snprintf(nb, sizeof(nb), "%zu", r->nboards);
	rc = pl(r, SHORT_DEADLINE_MS, "vrack", "up", "--dir", r->rack, "--boards",
		nb, "--profile", profiles, "--speed", "20", "--seed", "1", NULL);
	r->pid = pl_test_rack_pid(r->rack);
	if (rc != 0 || r->pid <= 0) {
		char *log = pl_test_slurp(r->log);

		fprintf(stderr, "vrack up: exit %d\n%s", rc, log ? log : "");
		free(log);
		rc = -1;
		goto out;
	}
	/* nothing exported: the rack's lab carries VRACK and each board's
	 * factory image (issue 10: calibrate --lab DIR/lab.yaml as is) */
	unsetenv("VRACK");
	unsetenv("PROFILE");
	rc = 0;
out:
	free(src);
	free(calib);
	free(profiles);
	return rc;
}

static int group_teardown(void **state)
{
	struct rack *r = *state;
	int rc = 0;

	if (!r)
		return -1;
	if (r->pid > 0) {
		char *db = NULL;

		/* power always left off, then the rack goes down and is reaped */
		if (asprintf(&db, "%s/power.db", r->dir) < 0)
			db = NULL;
		for (size_t b = 0; db && b < r->nboards; b++) {
			char id[32];

			snprintf(id, sizeof(id), "vb%zu", b);
			if (pl(r, SHORT_DEADLINE_MS, "power", id, "off", "--lab",
			       r->lab, "--db", db, "--no-wait", NULL) != 0)
				rc = -1;
		}
		free(db);
		if (pl(r, SHORT_DEADLINE_MS, "vrack", "down", "--dir", r->rack,
		       NULL) != 0)
			rc = -1;
		/* vrack down stopped it: this wait returns */
		pl_test_reap(r->pid, SHORT_DEADLINE_MS);
		/* and any other orphan handed to us */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	if (getenv("PL_KEEP_RACK"))
		fprintf(stderr, "kept %s\n", r->dir);
	else if (r->dir)
		pl_test_rmrf(r->dir);
	free(r->dir);
	free(r->rack);
	free(r->lab);
	free(r->scen);
	free(r->suite);
	free(r->out);
	free(r->json);
	free(r->log);
	free(r);
	return rc;
}

/* -------------------------------------------------------------- tests */

static void calibrate_rejects_a_bad_seed(void **state)
{
	struct rack *r = *state;

	assert_int_equal(pl(r, SHORT_DEADLINE_MS, "calibrate", "--lab", r->lab,
			    "--seed", "x", NULL), 64);
}

static void calibrate_names_a_missing_suite(void **state)
{
	struct rack *r = *state;
	char *missing = NULL, *log;

	assert_true(asprintf(&missing, "%s/nope.yaml", r->dir) > 0);
	assert_int_equal(pl(r, SHORT_DEADLINE_MS, "calibrate", "--lab", r->lab,
			    "--suite", missing, "--out", r->out, NULL), 65);
	log = pl_test_slurp(r->log);
	assert_non_null(log);
	assert_non_null(strstr(log, missing));
	free(log);
	free(missing);
}

/* The cell of profile p for every entry, as the JSON has them. */
static void check_profile(json_t *p, size_t nentries)
{
	const char *name = json_string_value(json_object_get(p, "name"));
	const struct pl_vfw_profile *vp = pl_vfw_profile_find(name);
	json_t *cells = json_object_get(p, "cells");
	size_t ndet = 0;

	assert_non_null(vp);
	assert_string_equal(json_string_value(json_object_get(p, "defect")),
			    vp->defect);
	assert_int_equal(json_array_size(cells), nentries);
	for (size_t i = 0; i < nentries; i++) {
		json_t *c = json_array_get(cells, i);
		json_int_t first = json_integer_value(
			json_object_get(c, "first_detection"));

		assert_true(json_integer_value(json_object_get(c, "runs")) > 0);
		if (json_is_true(json_object_get(c, "detected"))) {
			ndet++;
			assert_true(first >= 1);
			assert_true(first <= json_integer_value(
					json_object_get(c, "runs")));
		} else {
			assert_true(json_is_null(json_object_get(c, "first_detection")));
		}
	}
	assert_int_equal(json_integer_value(json_object_get(p, "lab_errors")), 0);
	if (strcmp(name, "good") == 0) {
		if (ndet || json_integer_value(json_object_get(p, "failures")))
			fail_msg("good failed a device in %zu entries", ndet);
		assert_string_equal(json_string_value(json_object_get(p, "gate")),
				    "pass");
	} else {
		if (!ndet || !json_is_true(json_object_get(p, "detected")))
			fail_msg("profile %s (%s) was not detected", name, vp->defect);
		assert_string_equal(json_string_value(json_object_get(p, "gate")),
				    "fail");
	}
}

static void calibrate_detects_every_defect_and_passes_good(void **state)
{
	struct rack *r = *state;
	json_error_t jerr;
	json_t *doc, *profiles;
	char *log, *text;
	size_t nentries;
	int rc;

	rc = pl(r, CALIBRATE_DEADLINE_MS, "calibrate", "--lab", r->lab, "--suite",
		r->suite, "--out", r->out, "--json", r->json, "--seed", "7", NULL);
	log = pl_test_slurp(r->log);
	assert_non_null(log);
	if (rc != 0) {
		/* the whole output: the matrix says what was missed */
		fputs(log, stderr);
		free(log);
		fail_msg("calibrate: exit %d (output above)", rc);
	}
	/* the matrix and every profile's defect, by name */
	text = strstr(log, "calibration of lab");
	assert_non_null(text);
	for (size_t i = 0; i < pl_vfw_profile_count(); i++) {
		assert_non_null(strstr(text, pl_vfw_profile_at(i)->name));
		assert_non_null(strstr(text, pl_vfw_profile_at(i)->defect));
	}
	assert_non_null(strstr(text, "detected ("));
	assert_non_null(strstr(text, "\nFIT: "));
	fputs(text, stderr); /* the matrix, for the test log */

	doc = json_load_file(r->json, 0, &jerr);
	if (!doc)
		fail_msg("%s:%d: %s", r->json, jerr.line, jerr.text);
	assert_string_equal(json_string_value(json_object_get(doc, "verdict")), "fit");
	assert_true(json_is_true(json_object_get(doc, "fit")));
	assert_int_equal(json_integer_value(json_object_get(doc, "exit_code")), 0);
	nentries = json_array_size(json_object_get(doc, "entries"));
	assert_true(nentries >= 1);
	profiles = json_object_get(doc, "profiles");
	assert_int_equal(json_array_size(profiles), pl_vfw_profile_count());
	for (size_t i = 0; i < json_array_size(profiles); i++)
		check_profile(json_array_get(profiles, i), nentries);
	json_decref(doc);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(calibrate_rejects_a_bad_seed),
		cmocka_unit_test(calibrate_names_a_missing_suite),
		cmocka_unit_test(calibrate_detects_every_defect_and_passes_good),
	};

	return cmocka_run_group_tests_name("e2e_calibrate", tests, group_setup,
					   group_teardown);
}
