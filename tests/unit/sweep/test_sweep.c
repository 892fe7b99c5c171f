/* SPDX-License-Identifier: MIT */
/*
 * /pl/sweep: the planner of sweep.h run against device models whose brick
 * windows are known, each point "run" at once in the order handed out:
 * which points each strategy picks, that none is run twice, and that an
 * adaptive sweep bounds every window edge to one operation (phases before
 * and after) and to a fraction of one (during) with few runs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "sweep.h"

/* A model: 1 the device fails at this cut, 0 it survives, -1 lab error. */
typedef int (*model_fn)(const struct pl_sweep_point *p);

struct trace {
	struct pl_sweep_seen *runs;
	size_t n;
};

/* Run the sweep to its end: every point handed out is run, in order. */
static void simulate(struct pl_sweep *s, model_fn model, struct trace *t)
{
	struct pl_sweep_points q = { 0 };
	size_t head = 0;

	t->runs = NULL;
	t->n = 0;
	assert_int_equal(pl_sweep_first(s, &q), 0);
	while (head < q.n) {
		struct pl_sweep_point p = q.p[head++];
		struct pl_sweep_points more = { 0 };
		int f = model(&p);

		t->runs = realloc(t->runs, (t->n + 1) * sizeof(*t->runs));
		assert_non_null(t->runs);
		t->runs[t->n++] = (struct pl_sweep_seen){ p, f };
		assert_int_equal(pl_sweep_done(s, &p, f, &more), 0);
		for (size_t i = 0; i < more.n; i++) {
			if (q.n == q.cap) {
				q.cap = q.cap ? 2 * q.cap : 64;
				q.p = realloc(q.p, q.cap * sizeof(*q.p));
				assert_non_null(q.p);
			}
			q.p[q.n++] = more.p[i];
		}
		pl_sweep_points_free(&more);
	}
	pl_sweep_points_free(&q);
}

static void assert_no_repeats(const struct trace *t)
{
	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < i; j++)
			assert_false(t->runs[i].pt.phase == t->runs[j].pt.phase &&
				     t->runs[i].pt.k == t->runs[j].pt.k &&
				     t->runs[i].pt.phi == t->runs[j].pt.phi);
}

static struct pl_sweep_cfg cfg_of(enum pl_sweep_strategy st, unsigned phases,
				  unsigned points)
{
	return (struct pl_sweep_cfg){ .strategy = st, .phases = phases,
				      .points = points, .seed = 7,
				      .has_seed = true };
}

#define BEFORE (1u << PL_SWEEP_BEFORE)
#define DURING (1u << PL_SWEEP_DURING)
#define AFTER (1u << PL_SWEEP_AFTER)

static int never(const struct pl_sweep_point *p)
{
	(void)p;
	return 0;
}

static void exhaustive_cuts_every_operation_once_per_phase(void **state)
{
	struct pl_sweep_cfg c = cfg_of(PL_STRATEGY_EXHAUSTIVE,
				       BEFORE | DURING | AFTER, 0);
	unsigned seen[3][21] = { { 0 } };
	struct pl_sweep s;
	struct trace t;

	(void)state;
	pl_sweep_init(&s, &c, 20, 7);
	simulate(&s, never, &t);
	assert_int_equal(t.n, 60);
	for (size_t i = 0; i < t.n; i++) {
		const struct pl_sweep_point *p = &t.runs[i].pt;

		assert_true(p->k >= 1 && p->k <= 20);
		seen[p->phase][p->k]++;
		if (p->phase == PL_SWEEP_DURING)
			assert_true(p->phi >= 0.05 && p->phi < 0.95);
		else
			assert_true(p->phi == 0);
	}
	for (int ph = 0; ph < 3; ph++)
		for (int k = 1; k <= 20; k++)
			assert_int_equal(seen[ph][k], 1);
	free(t.runs);
	pl_sweep_free(&s);
}

static void uniform_spreads_and_cuts_inside_the_first_and_last(void **state)
{
	struct pl_sweep_cfg c = cfg_of(PL_STRATEGY_UNIFORM, BEFORE | DURING, 5);
	const long want[] = { 1, 25, 50, 75, 100 };
	unsigned inside_first = 0, inside_last = 0, before = 0;
	struct pl_sweep s;
	struct trace t;

	(void)state;
	pl_sweep_init(&s, &c, 100, 7);
	simulate(&s, never, &t);
	/* 5 before, 5 during, and 5 fixed fractions in ops 1 and 100 */
	assert_int_equal(t.n, 5 + 5 + 10);
	assert_no_repeats(&t);
	for (size_t i = 0; i < t.n; i++) {
		const struct pl_sweep_point *p = &t.runs[i].pt;

		if (p->phase == PL_SWEEP_BEFORE)
			assert_int_equal(p->k, want[before++]);
		else if (p->k == 1)
			inside_first++;
		else if (p->k == 100)
			inside_last++;
	}
	assert_int_equal(inside_first, 6);
	assert_int_equal(inside_last, 6);
	free(t.runs);
	pl_sweep_free(&s);
}

static void random_points_replay_from_the_seed(void **state)
{
	struct pl_sweep_cfg c = cfg_of(PL_STRATEGY_RANDOM, AFTER, 12);
	struct pl_sweep a, b, d;
	struct trace ta, tb, td;
	bool differs = false;

	(void)state;
	pl_sweep_init(&a, &c, 500, 11);
	pl_sweep_init(&b, &c, 500, 11);
	pl_sweep_init(&d, &c, 500, 12);
	simulate(&a, never, &ta);
	simulate(&b, never, &tb);
	simulate(&d, never, &td);
	assert_int_equal(ta.n, tb.n);
	for (size_t i = 0; i < ta.n; i++)
		assert_int_equal(ta.runs[i].pt.k, tb.runs[i].pt.k);
	for (size_t i = 0; i < ta.n && i < td.n; i++)
		differs |= ta.runs[i].pt.k != td.runs[i].pt.k;
	assert_true(differs);
	assert_no_repeats(&ta);
	free(ta.runs);
	free(tb.runs);
	free(td.runs);
	pl_sweep_free(&a);
	pl_sweep_free(&b);
	pl_sweep_free(&d);
}

/* Bricks when cut before any of operations 45..60 of 170. */
static int window_45_60(const struct pl_sweep_point *p)
{
	return p->k >= 45 && p->k <= 60;
}

/* The outcome the trace saw at (phase, k), or -2 when never cut there. */
static int outcome_at(const struct trace *t, unsigned ph, long k)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->runs[i].pt.phase == ph && t->runs[i].pt.k == k)
			return t->runs[i].fails;
	return -2;
}

static void adaptive_bounds_each_edge_to_one_operation(void **state)
{
	struct pl_sweep_cfg c = cfg_of(PL_STRATEGY_ADAPTIVE, BEFORE, 8);
	struct pl_sweep s;
	struct trace t;

	(void)state;
	pl_sweep_init(&s, &c, 170, 7);
	simulate(&s, window_45_60, &t);
	assert_no_repeats(&t);
	/* both edges seen on adjacent operations */
	assert_int_equal(outcome_at(&t, PL_SWEEP_BEFORE, 44), 0);
	assert_int_equal(outcome_at(&t, PL_SWEEP_BEFORE, 45), 1);
	assert_int_equal(outcome_at(&t, PL_SWEEP_BEFORE, 60), 1);
	assert_int_equal(outcome_at(&t, PL_SWEEP_BEFORE, 61), 0);
	/* with at most 20% of the 170 runs of cutting before every op */
	print_message("adaptive, before: %zu runs for 170 operations\n", t.n);
	assert_true(t.n * 5 <= 170);
	free(t.runs);
	pl_sweep_free(&s);
}

/* A lab error tells nothing: the bisection goes around it. */
static int window_with_a_lab_error(const struct pl_sweep_point *p)
{
	if (p->k == 37)
		return -1;
	return window_45_60(p);
}

static void adaptive_steps_over_lab_errors(void **state)
{
	struct pl_sweep_cfg c = cfg_of(PL_STRATEGY_ADAPTIVE, BEFORE, 8);
	struct pl_sweep s;
	struct trace t;

	(void)state;
	pl_sweep_init(&s, &c, 170, 7);
	simulate(&s, window_with_a_lab_error, &t);
	assert_int_equal(outcome_at(&t, PL_SWEEP_BEFORE, 44), 0);
	assert_int_equal(outcome_at(&t, PL_SWEEP_BEFORE, 45), 1);
	assert_int_equal(outcome_at(&t, PL_SWEEP_BEFORE, 61), 0);
	free(t.runs);
	pl_sweep_free(&s);
}

/*
 * During: where the cut lands inside an operation matters. Position
 * x = k - 1 + phi on the update's timeline; the device bricks for
 * 29.6 <= x < 50.3: from 60% into op 30 to 30% into op 51.
 */
#define EDGE_IN 29.6
#define EDGE_OUT 50.3

static double pos(const struct pl_sweep_point *p)
{
	return (double)(p->k - 1) + p->phi;
}

static int window_inside_ops(const struct pl_sweep_point *p)
{
	return pos(p) >= EDGE_IN && pos(p) < EDGE_OUT;
}

/* The closest surviving and failing cuts on each side of edge e. */
static double bracket(const struct trace *t, double e, bool fails_after)
{
	double lo = -1e9, hi = 1e9;

	for (size_t i = 0; i < t->n; i++) {
		double x = pos(&t->runs[i].pt);
		int f = t->runs[i].fails;

		if (t->runs[i].pt.phase != PL_SWEEP_DURING)
			continue;
		if (x < e && f == !fails_after && x > lo)
			lo = x;
		if (x >= e && f == fails_after && x < hi)
			hi = x;
	}
	return hi - lo;
}

static void adaptive_bounds_during_edges_inside_operations(void **state)
{
	struct pl_sweep_cfg c = cfg_of(PL_STRATEGY_ADAPTIVE, DURING, 10);
	double in, out;

	(void)state;
	/* several seeds: each draws other phis for the coarse cuts */
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct pl_sweep s;
		struct trace t;

		pl_sweep_init(&s, &c, 100, seed);
		simulate(&s, window_inside_ops, &t);
		assert_no_repeats(&t);
		in = bracket(&t, EDGE_IN, true);
		out = bracket(&t, EDGE_OUT, false);
		print_message("adaptive, during, seed %llu: %zu runs, edges "
			      "bounded to %.3f and %.3f of an operation\n",
			      (unsigned long long)seed, t.n, in, out);
		assert_true(in <= 2 * PL_SWEEP_PHI_RESOLUTION);
		assert_true(out <= 2 * PL_SWEEP_PHI_RESOLUTION);
		/* far fewer than cutting every op at every eighth */
		assert_true(t.n < 100);
		free(t.runs);
		pl_sweep_free(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exhaustive_cuts_every_operation_once_per_phase),
		cmocka_unit_test(uniform_spreads_and_cuts_inside_the_first_and_last),
		cmocka_unit_test(random_points_replay_from_the_seed),
		cmocka_unit_test(adaptive_bounds_each_edge_to_one_operation),
		cmocka_unit_test(adaptive_steps_over_lab_errors),
		cmocka_unit_test(adaptive_bounds_during_edges_inside_operations),
	};

	return cmocka_run_group_tests_name("/pl/sweep", tests, NULL, NULL);
}
