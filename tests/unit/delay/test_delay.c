/* SPDX-License-Identifier: MIT */
/*
 * /pl/delay: the planner of sweeps over console or time (sweep.h,
 * delay.c) run against device models whose brick windows are known, each
 * point "run" at once in the order handed out: the points of each
 * strategy, that none is run twice, and that an adaptive sweep finds
 * every window edge to its resolution in far fewer runs than an
 * exhaustive 1 ms grid (issue 11: edges within 1 ms, in at most 20% of
 * the grid's runs).
 */
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "sweep.h"

/* A window model: the device fails for a delay in [lo, hi) µs. */
struct window { uint64_t lo, hi; };

static const struct window *model_windows;
static size_t model_n;

static int model(uint64_t us)
{
	for (size_t i = 0; i < model_n; i++)
		if (us >= model_windows[i].lo && us < model_windows[i].hi)
			return 1;
	return 0;
}

struct trace {
	struct pl_sweep_seen *runs;
	size_t n;
};

static void simulate(struct pl_sweep *s, struct trace *t)
{
	struct pl_sweep_points q = { 0 };
	size_t head = 0;

	t->runs = NULL;
	t->n = 0;
	assert_int_equal(pl_delay_first(s, &q), 0);
	while (head < q.n) {
		struct pl_sweep_point p = q.p[head++];
		struct pl_sweep_points more = { 0 };
		int f = model((uint64_t)p.k);

		t->runs = realloc(t->runs, (t->n + 1) * sizeof(*t->runs));
		assert_non_null(t->runs);
		t->runs[t->n++] = (struct pl_sweep_seen){ p, f };
		assert_int_equal(pl_delay_done(s, &p, f, &more), 0);
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
			assert_false(t->runs[i].pt.k == t->runs[j].pt.k);
}

/* The failing delay nearest to edge on the failing side and the passing
 * one on the other: |their distance| bounds how well the edge is known. */
static uint64_t edge_bound(const struct trace *t, uint64_t edge, bool rising)
{
	uint64_t best_in = UINT64_MAX, best_out = UINT64_MAX;

	for (size_t i = 0; i < t->n; i++) {
		uint64_t us = (uint64_t)t->runs[i].pt.k;
		bool in = rising ? us >= edge : us < edge;
		uint64_t d = us > edge ? us - edge : edge - us;

		if (t->runs[i].fails && in && d < best_in)
			best_in = d;
		if (!t->runs[i].fails && !in && d < best_out)
			best_out = d;
	}
	if (best_in == UINT64_MAX || best_out == UINT64_MAX)
		return UINT64_MAX;
	return best_in + best_out;
}

static struct pl_sweep_cfg cfg(enum pl_sweep_strategy st, unsigned points)
{
	return (struct pl_sweep_cfg){ .over = PL_SWEEP_CONSOLE,
				      .strategy = st, .points = points,
				      .delay_lo_us = 0, .delay_hi_us = 100000,
				      .step_us = 1000, .resolution_us = 500,
				      .seed = 7, .has_seed = true };
}

static void exhaustive_is_the_grid(void **state)
{
	struct pl_sweep_cfg c = cfg(PL_STRATEGY_EXHAUSTIVE, 0);
	struct pl_sweep s;
	struct trace t;

	(void)state;
	model_n = 0;
	pl_sweep_init(&s, &c, 0, 7);
	simulate(&s, &t);
	assert_int_equal(t.n, 101); /* 0, 1, ..., 100 ms */
	assert_int_equal(t.runs[0].pt.k, 0);
	assert_int_equal(t.runs[100].pt.k, 100000);
	assert_no_repeats(&t);
	free(t.runs);
	pl_sweep_free(&s);
}

static void uniform_and_random_stay_in_the_window(void **state)
{
	struct pl_sweep_cfg c = cfg(PL_STRATEGY_UNIFORM, 5);
	struct pl_sweep s;
	struct trace t;

	(void)state;
	model_n = 0;
	pl_sweep_init(&s, &c, 0, 7);
	simulate(&s, &t);
	assert_int_equal(t.n, 5);
	assert_int_equal(t.runs[0].pt.k, 0);
	assert_int_equal(t.runs[2].pt.k, 50000);
	assert_int_equal(t.runs[4].pt.k, 100000);
	free(t.runs);
	pl_sweep_free(&s);

	c = cfg(PL_STRATEGY_RANDOM, 30);
	c.delay_lo_us = 20000;
	c.delay_hi_us = 30000;
	pl_sweep_init(&s, &c, 0, 7);
	simulate(&s, &t);
	assert_true(t.n >= 25 && t.n <= 30); /* a repeat draw is dropped */
	for (size_t i = 0; i < t.n; i++)
		assert_true(t.runs[i].pt.k >= 20000 && t.runs[i].pt.k <= 30000);
	assert_no_repeats(&t);
	free(t.runs);
	pl_sweep_free(&s);
}

/* A window 21.2 ms wide in 100 ms after the line: an adaptive sweep of 8
 * coarse points (one lands in it) bounds both edges to the 0.5 ms
 * resolution (so each is known within 1 ms) in at most 20% of the 101
 * runs of the exhaustive 1 ms grid. A window narrower than the coarse
 * spacing can be missed: the coarse pass must be finer than the
 * narrowest window looked for (two windows, 6.2 and 3.3 ms wide, with
 * 40 points: every edge found, below). */
static void adaptive_finds_every_edge_in_few_runs(void **state)
{
	static const struct window w[] = { { 31700, 52900 } };
	static const struct window w2[] = { { 31700, 37900 }, { 80100, 83400 } };
	struct pl_sweep_cfg c = cfg(PL_STRATEGY_ADAPTIVE, 8);
	struct pl_sweep s;
	struct trace t;

	(void)state;
	model_windows = w;
	model_n = 1;
	pl_sweep_init(&s, &c, 0, 7);
	simulate(&s, &t);
	assert_no_repeats(&t);
	assert_true(edge_bound(&t, w[0].lo, true) <= 1000);
	assert_true(edge_bound(&t, w[0].hi, false) <= 1000);
	print_message("one window: %zu runs; exhaustive 1 ms grid: 101 "
		      "(%.0f%%)\n", t.n, 100.0 * (double)t.n / 101);
	assert_true(t.n * 5 <= 101);
	free(t.runs);
	pl_sweep_free(&s);

	c = cfg(PL_STRATEGY_ADAPTIVE, 40);
	model_windows = w2;
	model_n = 2;
	pl_sweep_init(&s, &c, 0, 7);
	simulate(&s, &t);
	assert_no_repeats(&t);
	for (size_t i = 0; i < 2; i++) {
		uint64_t up = edge_bound(&t, w2[i].lo, true);
		uint64_t down = edge_bound(&t, w2[i].hi, false);

		print_message("window %zu: edges [%llu, %llu) us bounded to "
			      "%llu and %llu us\n", i,
			      (unsigned long long)w2[i].lo,
			      (unsigned long long)w2[i].hi,
			      (unsigned long long)up, (unsigned long long)down);
		assert_true(up <= 1000);
		assert_true(down <= 1000);
	}
	print_message("two windows: %zu runs; exhaustive 1 ms grid: 101 "
		      "(%.0f%%)\n", t.n, 100.0 * (double)t.n / 101);
	assert_true(t.n < 101);
	free(t.runs);
	pl_sweep_free(&s);
}

/* A lab error tells nothing: it is not bisected toward. */
static void lab_errors_are_not_edges(void **state)
{
	struct pl_sweep_cfg c = cfg(PL_STRATEGY_ADAPTIVE, 5);
	struct pl_sweep_points q = { 0 }, more = { 0 };
	struct pl_sweep s;

	(void)state;
	pl_sweep_init(&s, &c, 0, 7);
	assert_int_equal(pl_delay_first(&s, &q), 0);
	assert_int_equal(q.n, 5);
	for (size_t i = 0; i < q.n; i++) {
		assert_int_equal(pl_delay_done(&s, &q.p[i], i == 2 ? -1 : 0,
					       &more), 0);
		assert_int_equal(more.n, 0);
	}
	pl_sweep_points_free(&q);
	pl_sweep_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exhaustive_is_the_grid),
		cmocka_unit_test(uniform_and_random_stay_in_the_window),
		cmocka_unit_test(adaptive_finds_every_edge_in_few_runs),
		cmocka_unit_test(lab_errors_are_not_edges),
	};

	return cmocka_run_group_tests_name("delay", tests, NULL, NULL);
}
