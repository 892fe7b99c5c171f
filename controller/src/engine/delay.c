/* SPDX-License-Identifier: MIT */
/*
 * The delay planner (sweep.h): the points of a sweep over console or time,
 * a delay in µs in [delay_lo_us, delay_hi_us] after the pattern's nth line
 * (console) or after the scenario arms the cut (time). No learning pass:
 * the window is the suite's. A point is { PL_SWEEP_DURING, k = delay in
 * µs, phi = 0 }.
 *
 *   exhaustive  lo, lo + step, ... up to hi
 *   uniform     `points` delays spread evenly over [lo, hi] (default 10)
 *   random      `points` delays drawn from the seed
 *   adaptive    a uniform coarse pass of `points` (default 10); then, each
 *               time no point is in flight, the midpoint between every two
 *               neighbouring delays whose outcomes differ and lie more
 *               than `resolution` apart, until every edge of every window
 *               is bounded to `resolution` (default 0.5 ms)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

/* More would be a suite's mistake (a 1 µs grid over an hour). */
#define DELAY_MAX_POINTS 100000u

static int add(struct pl_sweep *s, struct pl_sweep_points *out, uint64_t us)
{
	struct pl_sweep_point p = { PL_SWEEP_DURING, (long)us, 0 };
	struct pl_sweep_point *np;

	for (size_t i = 0; i < s->asked.n; i++)
		if (s->asked.p[i].k == p.k)
			return 0; /* never the same delay twice */
	for (struct pl_sweep_points *v = &s->asked;; v = out) {
		if (v->n == v->cap) {
			size_t cap = v->cap ? v->cap * 2 : 32;

			np = realloc(v->p, cap * sizeof(*np));
			if (!np)
				return -ENOMEM;
			v->p = np;
			v->cap = cap;
		}
		v->p[v->n++] = p;
		if (v == out)
			break;
	}
	s->pending[PL_SWEEP_DURING]++;
	return 0;
}

static int spread(struct pl_sweep *s, struct pl_sweep_points *out,
		  unsigned n)
{
	uint64_t lo = s->cfg->delay_lo_us, hi = s->cfg->delay_hi_us;
	int err = 0;

	if (n <= 1 || hi == lo)
		return add(s, out, lo);
	for (unsigned i = 0; i < n && !err; i++)
		err = add(s, out, lo + (uint64_t)((double)(hi - lo) * i /
						  (n - 1) + 0.5));
	return err;
}

int pl_delay_first(struct pl_sweep *s, struct pl_sweep_points *out)
{
	const struct pl_sweep_cfg *c = s->cfg;
	uint64_t lo = c->delay_lo_us, hi = c->delay_hi_us;
	unsigned n = c->points ? c->points : 10;
	int err = 0;

	switch (c->strategy) {
	case PL_STRATEGY_EXHAUSTIVE:
		for (uint64_t us = lo, i = 0; us <= hi && !err &&
		     i < DELAY_MAX_POINTS; us += c->step_us, i++)
			err = add(s, out, us);
		return err;
	case PL_STRATEGY_RANDOM:
		for (unsigned i = 0; i < n && !err; i++)
			err = add(s, out, lo + pl_mix64(s->seed ^ (0x9e37ull * i))
					   % (hi - lo + 1));
		return err;
	default: /* uniform, and adaptive's coarse pass */
		return spread(s, out, n);
	}
}

static int cmp_seen(const void *a, const void *b)
{
	const struct pl_sweep_seen *x = a, *y = b;

	return (x->pt.k > y->pt.k) - (x->pt.k < y->pt.k);
}

int pl_delay_done(struct pl_sweep *s, const struct pl_sweep_point *p,
		  int fails, struct pl_sweep_points *out)
{
	struct pl_sweep_seen *ns;
	int err = 0;

	if (s->nseen == s->capseen) {
		size_t cap = s->capseen ? s->capseen * 2 : 32;

		ns = realloc(s->seen, cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		s->seen = ns;
		s->capseen = cap;
	}
	s->seen[s->nseen++] = (struct pl_sweep_seen){ *p, fails };
	if (s->pending[PL_SWEEP_DURING])
		s->pending[PL_SWEEP_DURING]--;
	if (s->cfg->strategy != PL_STRATEGY_ADAPTIVE ||
	    s->pending[PL_SWEEP_DURING])
		return 0;
	/* every point is back: bisect between neighbours that differ (a
	 * lab error tells nothing, so it is skipped, not bisected) */
	qsort(s->seen, s->nseen, sizeof(*s->seen), cmp_seen);
	for (size_t i = 0, prev = SIZE_MAX; i < s->nseen && !err; i++) {
		const struct pl_sweep_seen *a, *b = &s->seen[i];

		if (b->fails < 0)
			continue;
		if (prev != SIZE_MAX) {
			a = &s->seen[prev];
			if (a->fails != b->fails &&
			    (uint64_t)(b->pt.k - a->pt.k) > s->cfg->resolution_us)
				err = add(s, out, (uint64_t)(a->pt.k +
							     (b->pt.k - a->pt.k) / 2));
		}
		prev = i;
	}
	return err;
}
