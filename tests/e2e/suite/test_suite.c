/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/suite: the controller issue's acceptance on a real virtual rack of
 * four boards, one per firmware profile (good, single-slot, trailer-first,
 * torn-trailer), speed x20.
 *
 * One controller per profile, all four at once (--tag PROFILE, --json),
 * with VRACK and PROFILE removed from their environment: the rack's lab
 * names the images' directory and each board's factory image: the `good` board and the
 * trailer-first and torn-trailer boards run scenarios/suites/release.yaml;
 * the single-slot board runs scenarios/suites/quick.yaml, because on it
 * nearly every one of release's 210 cuts bricks the board and each brick
 * costs a boot timeout plus a probe recovery (~3.5 min alone), and quick's
 * twelve cuts already brick it. The JSON report of each is checked:
 *
 *   good: >= 200 runs aimed at flash operations with cut phases before,
 *         during and after all present, no bricked/recovered, no
 *         lab-error, gate pass (exit 0);
 *   each defective profile: at least one run bricked or recovered, gate
 *         fail (exit 1).
 *
 * (trailer-first boots the half-written slot it marked pending: the
 * oracle's intact() check calls that a brick, FAULT-MODEL.md rule 1.)
 *
 * The wall time of the four suites is printed (never asserted). Every child
 * is reaped; the rack is powered off, taken down and reaped.
 * PL_KEEP_RACK=1 keeps the rack directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

#define NPROF 4
/* ASan makes a controller several times slower */
#define SUITE_DEADLINE_MS 900000u

static const char *const profiles[NPROF] = { "good", "single-slot",
					     "trailer-first", "torn-trailer" };
static const char *const suites[NPROF] = {
	"scenarios/suites/release.yaml", "scenarios/suites/quick.yaml",
	"scenarios/suites/release.yaml", "scenarios/suites/release.yaml" };

struct ctx {
	struct e2e_rack rack;
	char *suite[NPROF];
	char json[NPROF][4200], outdir[NPROF][4200], log[NPROF][4200];
	int rc[NPROF];
	double wall_s;
	unsigned failures;
	json_t *doc[NPROF]; /* the reports, released at teardown */
};

static int group_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	*state = c;
	if (!c)
		return -1;
	for (int i = 0; i < NPROF; i++)
		c->suite[i] = pl_test_source_path(suites[i]);
	return e2e_rack_up(&c->rack, "e2e-suite", NPROF,
			   "good,single-slot,trailer-first,torn-trailer");
}

static int group_teardown(void **state)
{
	struct ctx *c = *state;
	int rc;

	if (!c)
		return 0;
	rc = e2e_rack_down(&c->rack);
	for (int i = 0; i < NPROF; i++) {
		free(c->suite[i]);
		json_decref(c->doc[i]);
	}
	free(c);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The four controllers, at once; each one's exit code in c->rc[]. */
static void run_all(struct ctx *c)
{
	struct e2e_proc p[NPROF];
	uv_loop_t loop;
	double t0 = now_s();

	uv_loop_init(&loop);
	for (int i = 0; i < NPROF; i++) {
		snprintf(c->json[i], sizeof(c->json[i]), "%s/%s.json",
			 c->rack.dir, profiles[i]);
		snprintf(c->outdir[i], sizeof(c->outdir[i]), "%s/out-%s",
			 c->rack.dir, profiles[i]);
		snprintf(c->log[i], sizeof(c->log[i]), "%s/run-%s.log",
			 c->rack.dir, profiles[i]);
		/* nothing exported: the rack's lab carries VRACK and each
		 * board's own factory image (issue 10) */
		char *argv[] = { "/usr/bin/env", "-u", "VRACK", "-u",
				 "PROFILE", (char *)pl_test_patchlab(), "run",
				 c->suite[i], "--lab", c->rack.lab, "--tag",
				 (char *)profiles[i], "--out", c->outdir[i],
				 "--json", c->json[i], "--seed", "7", "-q",
				 NULL };
		int rc = e2e_spawn(&loop, &p[i], NULL, c->log[i], argv);

		if (rc != 0)
			fprintf(stderr, "spawn %s: %s\n", profiles[i],
				uv_strerror(rc));
	}
	for (int i = 0; i < NPROF; i++)
		c->rc[i] = e2e_wait(&loop, &p[i], SUITE_DEADLINE_MS);
	pl_test_loop_drain(&loop);
	c->wall_s = now_s() - t0;
	fprintf(stderr, "e2e_suite: 4 suites (release on good, trailer-first, "
		"torn-trailer; quick on single-slot) took %.1f s wall\n",
		c->wall_s);
}

static json_t *load(struct ctx *c, int i)
{
	json_error_t jerr;
	json_t *j = json_load_file(c->json[i], 0, &jerr);

	if (!j) {
		char *log = pl_test_slurp(c->log[i]);

		fprintf(stderr, "%s\n", log ? log : "");
		free(log);
		fail_msg("%s: no JSON report %s (%s), exit %d (its output "
			 "above)", profiles[i], c->json[i], jerr.text,
			 c->rc[i]);
	}
	c->doc[i] = j; /* an assertion may leave before we are done */
	return j;
}

static unsigned count_verdict(json_t *runs, const char *v)
{
	size_t i;
	json_t *r;
	unsigned n = 0;

	json_array_foreach(runs, i, r)
		if (!strcmp(json_string_value(json_object_get(r, "verdict")) ?: "",
			    v))
			n++;
	return n;
}

/* A check of a defective profile: each failure is counted and said. */
static void expect(struct ctx *c, const char *profile, bool ok,
		   const char *what)
{
	if (!ok) {
		fprintf(stderr, "e2e_suite: FAIL %s: %s\n", profile, what);
		c->failures++;
	}
}

static void test_acceptance(void **state)
{
	struct ctx *c = *state;
	json_t *j, *runs;
	size_t i;
	json_t *r;
	unsigned flash = 0, before = 0, during = 0, after = 0;

	run_all(c);

	/* good: the whole release suite, nothing bricks, gate passes */
	j = load(c, 0);
	runs = json_object_get(j, "runs");
	assert_true(json_is_array(runs));
	json_array_foreach(runs, i, r) {
		json_t *cut = json_object_get(r, "cut");
		const char *kind = json_string_value(json_object_get(cut, "kind"));
		const char *ph = json_string_value(json_object_get(cut, "phase"));

		if (!kind || strcmp(kind, "flash-op") || !ph)
			continue;
		flash++;
		before += !strcmp(ph, "before");
		during += !strcmp(ph, "during");
		after += !strcmp(ph, "after");
	}
	fprintf(stderr, "e2e_suite: good: %zu runs, %u aimed at flash ops "
		"(before %u, during %u, after %u), exit %d\n",
		json_array_size(runs), flash, before, during, after, c->rc[0]);
	if (c->rc[0] != PL_EXIT_OK) {
		char *log = pl_test_slurp(c->log[0]);

		fprintf(stderr, "%s\n", log ? log : "");
		free(log);
	}
	assert_int_equal(c->rc[0], PL_EXIT_OK);
	assert_true(flash >= 200);
	assert_true(before > 0 && during > 0 && after > 0);
	assert_int_equal(count_verdict(runs, "bricked"), 0);
	assert_int_equal(count_verdict(runs, "recovered"), 0);
	assert_int_equal(count_verdict(runs, "lab-error"), 0);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(j, "gate"), "result")), "pass");

	/* each defective profile: a device brick, the gate fails */
	for (int p = 1; p < NPROF; p++) {
		unsigned bricks, fails, labe;
		const char *gate;
		char what[256];

		j = load(c, p);
		runs = json_object_get(j, "runs");
		assert_true(json_is_array(runs));
		bricks = count_verdict(runs, "bricked") +
			 count_verdict(runs, "recovered");
		fails = count_verdict(runs, "fail");
		labe = count_verdict(runs, "lab-error");
		gate = json_string_value(json_object_get(
			json_object_get(j, "gate"), "result"));
		fprintf(stderr, "e2e_suite: %s: %zu runs, bricked+recovered "
			"%u, fail %u, lab-error %u, gate %s, exit %d\n",
			profiles[p], json_array_size(runs), bricks, fails, labe,
			gate ? gate : "?", c->rc[p]);
		snprintf(what, sizeof(what), "%u runs bricked or recovered "
			 "(want >= 1; fail %u)", bricks, fails);
		expect(c, profiles[p], bricks >= 1, what);
		snprintf(what, sizeof(what), "exit %d, gate %s (want exit 1, "
			 "gate fail)", c->rc[p], gate ? gate : "?");
		expect(c, profiles[p],
		       c->rc[p] == PL_EXIT_GATE_FAILED && gate &&
			       !strcmp(gate, "fail"), what);
		}
	assert_int_equal(c->failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acceptance),
	};

	return cmocka_run_group_tests_name("/pl/e2e/suite", tests,
					   group_setup, group_teardown);
}
