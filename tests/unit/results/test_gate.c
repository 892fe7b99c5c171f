/* SPDX-License-Identifier: MIT */
/* /pl/results/gate: the Clopper-Pearson bound against reference values, the
 * counting rules and the gate statement. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "pl_test_store.h"
#include "patchlab/gate.h"
#include "patchlab/strbuf.h"
#include "patchlab/verdict.h"
#include "results_fixture.h"

#define assert_close(a, b, tol)                                           \
	do {                                                              \
		double a_ = (a), b_ = (b);                                \
		if (fabs(a_ - b_) > (tol))                                \
			fail_msg("%s = %.12g, expected %.12g (+-%g)", #a, \
				 a_, b_, (double)(tol));                  \
	} while (0)

static void clopper_pearson_matches_reference_values(void **state)
{
	(void)state;
	/* References: exact binomial sums over rationals (Python fractions,
	 * bisection to 2^-60), and the published 1/100 -> 0.0466. */
	assert_close(pl_brick_rate_upper(0, 0, 0.95), 1, 0);
	assert_close(pl_brick_rate_upper(0, 1, 0.95), 0.95, 1e-12);
	assert_close(pl_brick_rate_upper(0, 10, 0.95), 0.2588655509, 1e-9);
	assert_close(pl_brick_rate_upper(0, 1000, 0.95), 0.0029912495, 1e-9);
	assert_close(pl_brick_rate_upper(1, 100, 0.95), 0.0465598115, 1e-9);
	assert_close(pl_brick_rate_upper(1, 10, 0.95), 0.3941633024, 1e-9);
	assert_close(pl_brick_rate_upper(2, 20, 0.95), 0.2826185249, 1e-9);
	assert_close(pl_brick_rate_upper(5, 50, 0.95), 0.1988330025, 1e-9);
	assert_close(pl_brick_rate_upper(10, 1000, 0.95), 0.0169031751, 1e-9);
	assert_close(pl_brick_rate_upper(1, 2, 0.95), 0.9746794345, 1e-9);
	assert_close(pl_brick_rate_upper(50, 100, 0.95), 0.5863782854, 1e-9);
	assert_close(pl_brick_rate_upper(3, 3, 0.95), 1, 0);
	/* the rule of three: 30,000 clean cuts bound the rate below 1e-4 */
	assert_true(pl_brick_rate_upper(0, 30000, 0.95) < 1e-4);
	assert_close(pl_brick_rate_upper(0, 30000, 0.95) * 30000, 3, 0.01);
}

static void clopper_pearson_is_the_root_of_the_binomial_cdf(void **state)
{
	(void)state;
	/* a huge n with a few bricks: the log-space sum must not underflow */
	for (unsigned long k = 1; k < 8; k++) {
		unsigned long n = 1000000;
		double u = pl_brick_rate_upper(k, n, 0.95);

		assert_close(pl_binom_cdf(k, n, u), 0.05, 1e-9);
		assert_true(u > (double)k / (double)n);
		assert_true(u < pl_brick_rate_upper(k + 1, n, 0.95));
	}
	assert_close(pl_binom_cdf(3, 10, 0.5), 176.0 / 1024, 1e-12);
	assert_close(pl_binom_cdf(0, 5, 0.2), pow(0.8, 5), 1e-12);
}

static void gate_counts_and_judges_per_board_type_and_image(void **state)
{
	struct pl_gate_thresholds th = { .max_brick_rate = 0.1,
					 .min_cuts = 5 };
	struct results_fixture fx;
	struct pl_strbuf sb = { 0 };
	const struct pl_gate_group *ab, *naive;
	struct pl_store *st;
	struct pl_gate *g;
	char *dir = pl_test_tmpdir("gate"), *db;

	(void)state;
	db = pl_test_store_target(dir, "p.db");
	assert_non_null(db);
	assert_int_equal(pl_store_open(&st, db, NULL), 0);
	assert_int_equal(results_fixture_populate(st, dir, &fx), 0);
	assert_int_equal(pl_gate_compute(st, fx.suite_id, &th, &g), 0);

	assert_int_equal(pl_gate_result(g), PL_GATE_FAIL);
	assert_int_equal(pl_gate_ngroups(g), 2);
	ab = pl_gate_group(g, 0);
	naive = pl_gate_group(g, 1);
	assert_string_equal(ab->board_type, "vboard-ab");
	assert_string_equal(ab->image, "fw-2.1.0");
	assert_int_equal(ab->runs, 84);
	assert_int_equal(ab->trials, 83); /* the lab-error is no trial */
	assert_int_equal(ab->counts[PL_VERDICT_BRICKED], 4);
	assert_int_equal(ab->counts[PL_VERDICT_RECOVERED], 1);
	assert_int_equal(ab->counts[PL_VERDICT_LAB_ERROR], 1);
	assert_int_equal(ab->counts[PL_VERDICT_FAIL], 1);
	assert_int_equal(ab->bricks, 5); /* bricked + recovered */
	assert_close(ab->upper, pl_brick_rate_upper(5, 83, 0.95), 0);
	assert_int_equal(ab->result, PL_GATE_FAIL);
	assert_non_null(strstr(ab->why, "5 bricks"));
	/* the aim histogram: 40 console/before, 40 probe/during, 3 unaimed */
	assert_int_equal(ab->naims, 3);
	for (size_t i = 0; i < ab->naims; i++)
		if (strcmp(ab->aims[i].aimed_by, "probe") == 0)
			assert_int_equal(ab->aims[i].n, 40);
	assert_int_equal(naive->open, 1);
	assert_int_equal(naive->bricks, 6);

	assert_int_equal(pl_gate_statement(g, &sb), 0);
	assert_non_null(strstr(sb.s, "GATE FAIL"));
	assert_non_null(strstr(sb.s, "board type vboard-naive"));
	assert_non_null(strstr(sb.s, "console/before 40"));
	/* every failing cut with its seed and replay command */
	assert_non_null(strstr(sb.s, "bricked on board2 (vboard-ab, "
				     "cut_every_op): during op 12 (erase) "
				     "phi=0.50, aimed by probe"));
	assert_non_null(strstr(sb.s, "replay: patchlab run suites/nightly.yaml"
				     " --only board2"));
	assert_non_null(strstr(sb.s, "never ended on board9"));
	pl_strbuf_free(&sb);
	pl_gate_free(g);
	pl_store_close(st);
	pl_test_rmrf(dir);
	free(dir);
	free(db);
}

static void record(struct pl_store *st, int64_t suite, int n,
		   enum pl_verdict v)
{
	struct pl_run_info ri = { .suite_id = suite, .board_id = "b",
				  .board_type = "t", .image = "i",
				  .scenario = "s",
				  .cut = { .phase = PL_CUT_BEFORE,
					   .op_index = 1 } };
	int64_t id;

	for (int i = 0; i < n; i++) {
		assert_int_equal(pl_store_run_begin(st, &ri, &id), 0);
		assert_int_equal(pl_store_run_end(st, id, v, NULL), 0);
	}
}

static void suite_gate_is_fail_then_incomplete_then_pass(void **state)
{
	struct pl_gate_thresholds th = { .max_brick_rate = 0.01,
					 .min_cuts = 300 };
	struct pl_suite_info si = { .name = "g" };
	char *dir = pl_test_tmpdir("gate2"), *db;
	int64_t clean, errs, fails, few, skipped, labshort;
	struct pl_store *st;
	struct pl_gate *g;

	(void)state;
	db = pl_test_store_target(dir, "p.db");
	assert_non_null(db);
	assert_int_equal(pl_store_open(&st, db, NULL), 0);
	pl_store_suite_begin(st, &si, &clean);
	record(st, clean, 300, PL_VERDICT_PASS);
	pl_store_suite_begin(st, &si, &errs);
	record(st, errs, 300, PL_VERDICT_ROLLED_BACK);
	record(st, errs, 2, PL_VERDICT_LAB_ERROR);
	pl_store_suite_begin(st, &si, &fails);
	record(st, fails, 300, PL_VERDICT_PASS);
	record(st, fails, 1, PL_VERDICT_LAB_ERROR);
	record(st, fails, 1, PL_VERDICT_FAIL);
	pl_store_suite_begin(st, &si, &few);
	record(st, few, 299, PL_VERDICT_PASS);
	pl_store_suite_begin(st, &si, &skipped);
	record(st, skipped, 300, PL_VERDICT_PASS);
	record(st, skipped, 1, PL_VERDICT_NOT_RUN);
	pl_store_suite_begin(st, &si, &labshort);
	record(st, labshort, 250, PL_VERDICT_PASS);
	record(st, labshort, 50, PL_VERDICT_LAB_ERROR);

	/* 300 clean cuts: bound 0.00994 <= 0.01 */
	assert_int_equal(pl_gate_compute(st, clean, &th, &g), 0);
	assert_int_equal(pl_gate_result(g), PL_GATE_PASS);
	pl_gate_free(g);
	/* no device failure, but the lab failed: not everything was tested */
	assert_int_equal(pl_gate_compute(st, errs, &th, &g), 0);
	assert_int_equal(pl_gate_result(g), PL_GATE_INCOMPLETE);
	assert_string_equal(pl_gate_result_name(pl_gate_result(g)),
			    "incomplete");
	pl_gate_free(g);
	/* one run not run: 300 clean cuts are not enough to pass */
	assert_int_equal(pl_gate_compute(st, skipped, &th, &g), 0);
	assert_int_equal(pl_gate_result(g), PL_GATE_INCOMPLETE);
	assert_non_null(strstr(pl_gate_group(g, 0)->why, "1 not run"));
	pl_gate_free(g);
	/* the shortfall below min_cuts comes from lab errors: INCOMPLETE,
	 * never FAIL (no device failed) */
	assert_int_equal(pl_gate_compute(st, labshort, &th, &g), 0);
	assert_int_equal(pl_gate_result(g), PL_GATE_INCOMPLETE);
	assert_non_null(strstr(pl_gate_group(g, 0)->why, "50 lab-error"));
	pl_gate_free(g);
	/* a fail wins over a lab-error */
	assert_int_equal(pl_gate_compute(st, fails, &th, &g), 0);
	assert_int_equal(pl_gate_result(g), PL_GATE_FAIL);
	pl_gate_free(g);
	/* thresholds refine: too few cuts to bound the rate; no device
	 * failed, so the suite is incomplete, not failed */
	assert_int_equal(pl_gate_compute(st, few, &th, &g), 0);
	assert_int_equal(pl_gate_result(g), PL_GATE_INCOMPLETE);
	assert_non_null(strstr(pl_gate_group(g, 0)->why, "too few cuts"));
	pl_gate_free(g);
	/* without thresholds the same suite passes */
	assert_int_equal(pl_gate_compute(st, few, NULL, &g), 0);
	assert_int_equal(pl_gate_result(g), PL_GATE_PASS);
	pl_gate_free(g);
	th.min_cuts = 0;
	th.max_brick_rate = 0.005; /* 0.01 > bound of 299 clean cuts */
	assert_int_equal(pl_gate_compute(st, few, &th, &g), 0);
	assert_int_equal(pl_gate_result(g), PL_GATE_INCOMPLETE);
	assert_non_null(strstr(pl_gate_group(g, 0)->why, "bound"));
	pl_gate_free(g);
	assert_int_equal(pl_gate_compute(st, 9999, NULL, &g), -ENOENT);
	assert_null(g);
	pl_store_close(st);
	pl_test_rmrf(dir);
	free(dir);
	free(db);
}

/* What every report prints for a cut point: an op when there is one. */
static void cut_points_read_as_words(void **state)
{
	struct pl_cut_point op = { PL_CUT_DURING, 12, 0.5, "erase", "probe" };
	struct pl_cut_point con = { PL_CUT_DURING, -1, 0, "update", "console" };
	struct pl_cut_point none = { PL_CUT_NONE, -1, 0, NULL, NULL };
	struct pl_strbuf sb = { 0 };

	(void)state;
	assert_int_equal(pl_cut_describe(&op, &sb), 0);
	assert_string_equal(sb.s, "during op 12 (erase) phi=0.50, aimed by probe");
	pl_strbuf_reset(&sb);
	assert_int_equal(pl_cut_describe(&con, &sb), 0);
	assert_string_equal(sb.s, "during the update, aimed by console");
	pl_strbuf_reset(&sb);
	assert_int_equal(pl_cut_describe(&none, &sb), 0);
	assert_string_equal(sb.s, "no cut");
	pl_strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clopper_pearson_matches_reference_values),
		cmocka_unit_test(clopper_pearson_is_the_root_of_the_binomial_cdf),
		cmocka_unit_test(gate_counts_and_judges_per_board_type_and_image),
		cmocka_unit_test(suite_gate_is_fail_then_incomplete_then_pass),
		cmocka_unit_test(cut_points_read_as_words),
	};
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/results/gate", tests, NULL,
					   NULL);
}
