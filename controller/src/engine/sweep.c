/* SPDX-License-Identifier: MIT */
/* The sweep planner: see sweep.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

/* The first and last operations of an update, where non-exhaustive sweeps
 * also cut at these fractions. */
static const double edge_phis[] = { 0.1, 0.3, 0.5, 0.7, 0.9 };

void pl_sweep_init(struct pl_sweep *s, const struct pl_sweep_cfg *cfg,
		   long ops, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->ops = ops;
	s->seed = seed;
}

void pl_sweep_points_free(struct pl_sweep_points *pts)
{
	free(pts->p);
	memset(pts, 0, sizeof(*pts));
}

void pl_sweep_free(struct pl_sweep *s)
{
	pl_sweep_points_free(&s->asked);
	free(s->seen);
	s->seen = NULL;
	s->nseen = s->capseen = 0;
}

double pl_sweep_phi(uint64_t seed, long k)
{
	return 0.05 + 0.9 * (double)(pl_mix64(seed ^ 0x9e37u ^ (uint64_t)k) >> 11) /
		      (double)(1ull << 53);
}

static bool same_point(const struct pl_sweep_point *a, unsigned ph, long k,
		       double phi)
{
	double d = a->phi - phi;

	return a->phase == ph && a->k == k && d < 1e-9 && d > -1e-9;
}

/* p, grown to hold more than n elements of size sz when it holds n (its
 * capacity *cap updated), or NULL when memory ran out (p untouched). */
static void *grow(void *p, size_t *cap, size_t n, size_t sz)
{
	size_t c = *cap ? *cap * 2 : 64;

	if (n < *cap)
		return p;
	p = realloc(p, c * sz);
	if (p)
		*cap = c;
	return p;
}

static int append(struct pl_sweep_points *pts, const struct pl_sweep_point *p)
{
	struct pl_sweep_point *a = grow(pts->p, &pts->cap, pts->n, sizeof(*a));

	if (!a)
		return -ENOMEM;
	pts->p = a;
	pts->p[pts->n++] = *p;
	return 0;
}

/* Hand out point (ph, k, phi) unless it was handed out before. Returns 1
 * when added, 0 when not, -ENOMEM. */
static int push(struct pl_sweep *s, struct pl_sweep_points *out, unsigned ph,
		long k, double phi)
{
	struct pl_sweep_point p = { ph, k, phi };
	int err;

	if (k < 1 || k > s->ops)
		return 0;
	for (size_t i = 0; i < s->asked.n; i++)
		if (same_point(&s->asked.p[i], ph, k, phi))
			return 0;
	err = append(&s->asked, &p);
	if (!err)
		err = append(out, &p);
	if (err)
		return err;
	s->pending[ph]++;
	return 1;
}

int pl_sweep_first(struct pl_sweep *s, struct pl_sweep_points *out)
{
	const struct pl_sweep_cfg *cfg = s->cfg;
	unsigned npoints;
	int err = 0;

	if (s->ops <= 0)
		return 0;
	npoints = cfg->points ? cfg->points : (unsigned)s->ops;
	if (cfg->strategy == PL_STRATEGY_EXHAUSTIVE || npoints > (unsigned)s->ops)
		npoints = (unsigned)s->ops;
	for (unsigned ph = 0; ph < PL_SWEEP_NPHASES; ph++) {
		if (!(cfg->phases & (1u << ph)))
			continue;
		for (unsigned i = 0; i < npoints && err >= 0; i++) {
			long k;

			if (cfg->strategy == PL_STRATEGY_RANDOM)
				k = 1 + (long)(pl_mix64(s->seed ^ ((uint64_t)ph << 24) ^ i) %
					       (uint64_t)s->ops);
			else if (npoints == 1)
				k = (s->ops + 1) / 2;
			else
				k = 1 + (long)((uint64_t)i * (uint64_t)(s->ops - 1) /
					       (npoints - 1));
			err = push(s, out, ph, k,
				   ph == PL_SWEEP_DURING ? pl_sweep_phi(s->seed, k) : 0);
		}
		/* adaptive: a window narrower than the coarse spacing goes
		 * unseen, so the coarse pass also cuts at the first and last
		 * three operations, where an update writes its metadata */
		if (cfg->strategy == PL_STRATEGY_ADAPTIVE)
			for (long d = 0; d < 3 && err >= 0; d++) {
				err = push(s, out, ph, 1 + d, ph == PL_SWEEP_DURING
					   ? pl_sweep_phi(s->seed, 1 + d) : 0);
				if (err >= 0)
					err = push(s, out, ph, s->ops - d,
						   ph == PL_SWEEP_DURING
						   ? pl_sweep_phi(s->seed, s->ops - d) : 0);
			}
		if (ph == PL_SWEEP_DURING && cfg->strategy != PL_STRATEGY_EXHAUSTIVE)
			for (size_t i = 0; i < sizeof(edge_phis) / sizeof(edge_phis[0]) &&
					   err >= 0; i++) {
				err = push(s, out, ph, 1, edge_phis[i]);
				if (err >= 0)
					err = push(s, out, ph, s->ops, edge_phis[i]);
			}
	}
	return err < 0 ? err : 0;
}

/* An operation's outcome in one phase: any known point failed (1), all
 * known survived (0), nothing known (-1). */
struct op_outcome {
	long k;
	int fails;
};

static int op_cmp(const void *a, const void *b)
{
	const struct op_outcome *x = a, *y = b;

	return (x->k > y->k) - (x->k < y->k);
}

/* The outcomes of the operations seen in phase ph, sorted by k. */
static struct op_outcome *op_outcomes(const struct pl_sweep *s, unsigned ph,
				      size_t *n)
{
	struct op_outcome *o = malloc((s->nseen + 1) * sizeof(*o));
	size_t m = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < s->nseen; i++) {
		const struct pl_sweep_seen *e = &s->seen[i];
		size_t j;

		if (e->pt.phase != ph)
			continue;
		for (j = 0; j < m && o[j].k != e->pt.k; j++)
			;
		if (j == m)
			o[m++] = (struct op_outcome){ e->pt.k, -1 };
		if (e->fails > o[j].fails)
			o[j].fails = e->fails;
	}
	qsort(o, m, sizeof(*o), op_cmp);
	*n = m;
	return o;
}

static int op_fails(const struct op_outcome *o, size_t n, long k)
{
	for (size_t i = 0; i < n; i++)
		if (o[i].k == k)
			return o[i].fails;
	return -1;
}

static bool asked_op(const struct pl_sweep *s, unsigned ph, long k)
{
	for (size_t i = 0; i < s->asked.n; i++)
		if (s->asked.p[i].phase == ph && s->asked.p[i].k == k)
			return true;
	return false;
}

/* The operation nearest the middle of (lo, hi) not cut yet, or 0: a cut
 * that ended in a lab error is not retried, its neighbours are. */
static long gap_point(const struct pl_sweep *s, unsigned ph, long lo, long hi)
{
	long mid = lo + (hi - lo) / 2;

	for (long d = 0; mid - d > lo || mid + d < hi; d++) {
		if (mid - d > lo && !asked_op(s, ph, mid - d))
			return mid - d;
		if (mid + d < hi && !asked_op(s, ph, mid + d))
			return mid + d;
	}
	return 0;
}

/* Bisect between neighbouring operations whose outcomes differ. */
static int refine_ops(struct pl_sweep *s, unsigned ph,
		      const struct op_outcome *o, size_t n,
		      struct pl_sweep_points *out, unsigned *added)
{
	const struct op_outcome *prev = NULL;

	for (size_t i = 0; i < n; i++) {
		if (o[i].fails < 0)
			continue;
		if (prev && prev->fails != o[i].fails && o[i].k - prev->k > 1) {
			long mid = gap_point(s, ph, prev->k, o[i].k);
			int r = mid ? push(s, out, ph, mid,
					   ph == PL_SWEEP_DURING
						   ? pl_sweep_phi(s->seed, mid) : 0)
				    : 0;

			if (r < 0)
				return r;
			*added += (unsigned)r;
		}
		prev = &o[i];
	}
	return 0;
}

static int seen_phi_cmp(const void *a, const void *b)
{
	const struct pl_sweep_seen *x = a, *y = b;

	return (x->pt.phi > y->pt.phi) - (x->pt.phi < y->pt.phi);
}

/* The known during cuts inside operation k, sorted by phi; whether two
 * of them disagree. */
static size_t cuts_in(const struct pl_sweep *s, long k, struct pl_sweep_seen *c,
		      bool *mixed)
{
	size_t m = 0;

	for (size_t j = 0; j < s->nseen; j++)
		if (s->seen[j].pt.phase == PL_SWEEP_DURING &&
		    s->seen[j].pt.k == k && s->seen[j].fails >= 0)
			c[m++] = s->seen[j];
	qsort(c, m, sizeof(*c), seen_phi_cmp);
	*mixed = false;
	for (size_t j = 1; j < m; j++)
		if (c[j].fails != c[j - 1].fails)
			*mixed = true;
	return m;
}

/*
 * The during phase, once every window edge lies between two adjacent
 * operations: bound it inside them too. In an operation whose cuts
 * disagree, bisect phi between two neighbouring cuts that differ. At an
 * edge between two operations whose cuts each agree, bisect toward the
 * other one in both: phi 0 for the one after the edge, phi 1 for the one
 * before it. Each bisection stops at PL_SWEEP_PHI_RESOLUTION.
 */
static int refine_phi(struct pl_sweep *s, const struct op_outcome *o, size_t n,
		      struct pl_sweep_points *out, unsigned *added)
{
	const double res = PL_SWEEP_PHI_RESOLUTION;
	struct pl_sweep_seen *c = malloc(2 * (s->nseen + 1) * sizeof(*c));
	struct pl_sweep_seen *nc = c + s->nseen + 1;
	int err = 0;

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n && err >= 0; i++) {
		bool mixed, nmixed;
		size_t m;
		int r;

		if (o[i].fails < 0)
			continue;
		m = cuts_in(s, o[i].k, c, &mixed);
		if (m == 0)
			continue;
		if (mixed) {
			for (size_t j = 1; j < m && err >= 0; j++) {
				if (c[j].fails == c[j - 1].fails ||
				    c[j].pt.phi - c[j - 1].pt.phi <= res)
					continue;
				r = push(s, out, PL_SWEEP_DURING, o[i].k,
					 (c[j].pt.phi + c[j - 1].pt.phi) / 2);
				err = r < 0 ? r : 0;
				*added += r > 0;
			}
			continue;
		}
		for (int side = -1; side <= 1 && err >= 0; side += 2) {
			long nk = o[i].k + side;
			int nf = op_fails(o, n, nk);
			double phi;

			if (nf < 0 || nf == c[0].fails)
				continue;
			cuts_in(s, nk, nc, &nmixed);
			if (nmixed)
				continue; /* the edge is inside the neighbour */
			if (side < 0 && c[0].pt.phi > res)
				phi = c[0].pt.phi / 2;
			else if (side > 0 && 1 - c[m - 1].pt.phi > res)
				phi = (c[m - 1].pt.phi + 1) / 2;
			else
				continue;
			r = push(s, out, PL_SWEEP_DURING, o[i].k, phi);
			err = r < 0 ? r : 0;
			*added += r > 0;
		}
	}
	free(c);
	return err;
}

int pl_sweep_done(struct pl_sweep *s, const struct pl_sweep_point *p,
		  int fails, struct pl_sweep_points *out)
{
	struct pl_sweep_seen *seen;
	struct op_outcome *o;
	unsigned added = 0;
	size_t n;
	int err;

	seen = grow(s->seen, &s->capseen, s->nseen, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	s->seen = seen;
	s->seen[s->nseen++] = (struct pl_sweep_seen){ *p, fails };
	if (p->phase < PL_SWEEP_NPHASES && s->pending[p->phase])
		s->pending[p->phase]--;
	if (s->cfg->strategy != PL_STRATEGY_ADAPTIVE || p->phase >= PL_SWEEP_NPHASES ||
	    s->pending[p->phase])
		return 0;
	o = op_outcomes(s, p->phase, &n);
	if (!o)
		return -ENOMEM;
	err = refine_ops(s, p->phase, o, n, out, &added);
	if (!err && !added && p->phase == PL_SWEEP_DURING)
		err = refine_phi(s, o, n, out, &added);
	free(o);
	return err;
}
