/* SPDX-License-Identifier: MIT */
/*
 * The sweep planner: which cut points a sweep runs, given the number of
 * flash operations its learning pass counted and, for an adaptive sweep,
 * the outcomes of the points already run. Pure: no loop, no runs, no Lua;
 * the engine turns each point into a run and reports its outcome back.
 *
 * A point is (phase, operation k, phi): cut before operation k, during it
 * at the fraction phi of its duration, or after it (FAULT-MODEL.md).
 *
 *   exhaustive  every k in 1..ops, per phase (during: phi from the seed)
 *   uniform     `points` values of k spread evenly over 1..ops
 *   random      `points` values of k drawn from the seed
 *   adaptive    a uniform coarse pass (plus the first and last three
 *               operations, where an update writes its metadata: a window
 *               between two coarse points is never seen), then, once a
 *               phase has no point in flight, bisection between
 *               neighbouring operations whose
 *               outcome differs (an operation's outcome in the during
 *               phase: any of its phis failed), until every window edge
 *               lies between two adjacent operations; then, in the during
 *               phase, bisection of phi: between two cuts inside one
 *               operation whose outcomes differ, or, at an edge between
 *               two operations, inside both toward the edge, until the edge
 *               is bounded to PL_SWEEP_PHI_RESOLUTION of an operation on
 *               each side
 *
 * Non-exhaustive sweeps also cut inside the first and last operations (the
 * update's trailer erase and trailer record: the short writes that brick)
 * at five fixed fractions.
 */
#ifndef PL_ENGINE_SWEEP_H
#define PL_ENGINE_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "patchlab/config.h"

#define PL_SWEEP_PHI_RESOLUTION 0.125

/* splitmix64's finaliser: seeds and draws derived from a suite's seed. */
static inline uint64_t pl_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

enum { PL_SWEEP_BEFORE, PL_SWEEP_DURING, PL_SWEEP_AFTER, PL_SWEEP_NPHASES };

struct pl_sweep_point {
	unsigned phase;
	long k;        /* 1..ops */
	double phi;    /* during: 0 < phi < 1; else 0 */
};

struct pl_sweep_points {
	struct pl_sweep_point *p;
	size_t n, cap;
};

struct pl_sweep_seen {
	struct pl_sweep_point pt;
	int fails;     /* 1 device failure, 0 survived, -1 unknown (lab error) */
};

struct pl_sweep {
	const struct pl_sweep_cfg *cfg;
	long ops;
	uint64_t seed;
	/* every point handed out (no point is run twice), and those back */
	struct pl_sweep_points asked;
	struct pl_sweep_seen *seen;
	size_t nseen, capseen;
	unsigned pending[PL_SWEEP_NPHASES];
};

void pl_sweep_init(struct pl_sweep *s, const struct pl_sweep_cfg *cfg,
		   long ops, uint64_t seed);
void pl_sweep_free(struct pl_sweep *s);
void pl_sweep_points_free(struct pl_sweep_points *pts);

/* The first points of the sweep, appended to out. 0 or -ENOMEM. */
int pl_sweep_first(struct pl_sweep *s, struct pl_sweep_points *out);

/*
 * Point p came back with outcome fails (1, 0, or -1 for a lab error). For
 * an adaptive sweep whose phase has no other point in flight, the next
 * points are appended to out (none: that phase is done). 0 or -ENOMEM.
 */
int pl_sweep_done(struct pl_sweep *s, const struct pl_sweep_point *p,
		  int fails, struct pl_sweep_points *out);

/* A sweep over console or time (delay.c): its first points, and the
 * outcome of one (an adaptive sweep then bisects the window edges). The
 * point's k is the delay in µs. 0 or -ENOMEM. */
int pl_delay_first(struct pl_sweep *s, struct pl_sweep_points *out);
int pl_delay_done(struct pl_sweep *s, const struct pl_sweep_point *p,
		  int fails, struct pl_sweep_points *out);

/* The phi a during cut at operation k gets when none is chosen: drawn
 * from the seed, in [0.05, 0.95). */
double pl_sweep_phi(uint64_t seed, long k);

#endif
