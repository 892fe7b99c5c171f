/* SPDX-License-Identifier: MIT */
/*
 * The release gate (../shared/design/FAULT-MODEL.md "The release gate",
 * docs/results.md): per board type and image, how many cuts ran, where they
 * were aimed, the verdict counts, and the 95% upper bound on the brick rate
 * per cut; then PASS or FAIL against thresholds, and the suite's gate.
 *
 * Counting rules:
 *   - bricks = bricked + recovered (both are device bricks);
 *   - trials n = runs with a device verdict: every closed run except
 *     lab-error (the lab failed, the device was not tested) and not-run;
 *   - the bound is the exact one-sided Clopper-Pearson upper limit.
 */
#ifndef PATCHLAB_GATE_H
#define PATCHLAB_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "patchlab/store.h"
#include "patchlab/strbuf.h"
#include "patchlab/verdict.h"

/*
 * One-sided Clopper-Pearson upper bound on a binomial proportion: the p for
 * which P(X <= k | n, p) = 1 - confidence. k = 0 gives
 * 1 - (1 - confidence)^(1/n) (about 3/n at 95%); k >= n and n = 0 give 1.
 * Accurate to about 1e-12 absolute (bisection on the binomial CDF summed in
 * log space); confidence in (0, 1).
 */
double pl_brick_rate_upper(unsigned long k, unsigned long n,
			   double confidence);

/* P(X <= k) for X ~ Binomial(n, p). */
double pl_binom_cdf(unsigned long k, unsigned long n, double p);

enum pl_gate_result {
	PL_GATE_PASS,
	PL_GATE_FAIL,
	PL_GATE_ERROR, /* stored by older versions only: read as INCOMPLETE */
	PL_GATE_INCOMPLETE, /* no device failed, but not everything was
	                     * tested: lab errors, runs not run or never
	                     * ended, too few cuts for the thresholds */
};

/* "pass", "fail", "error", "incomplete" (as stored in suites.gate). */
const char *pl_gate_result_name(enum pl_gate_result r);

struct pl_gate_thresholds {
	double max_brick_rate; /* the 95% upper bound must be <= this; 1: any */
	unsigned long min_cuts; /* at least this many trials per group */
	double confidence;     /* 0: 0.95 */
};

/* One bar of the "where aimed" histogram. */
struct pl_gate_aim {
	const char *aimed_by; /* "console", ..., or "unaimed" */
	enum pl_cut_phase phase;
	unsigned long n;
};

struct pl_gate_group {
	const char *board_type;
	const char *image;     /* "(unknown)" when runs named none */
	unsigned long runs;    /* every run, lab-errors and open ones included */
	unsigned long trials;  /* n of the bound */
	unsigned long counts[PL_VERDICT_COUNT];
	unsigned long open;    /* runs never ended (shown, never counted) */
	unsigned long bricks;
	double upper;          /* brick-rate upper bound at the confidence */
	const struct pl_gate_aim *aims;
	size_t naims;
	enum pl_gate_result result;
	const char *why;       /* one line: why this result */
};

struct pl_gate;

/*
 * Compute the gate of suite_id from the store. th may be NULL (no thresholds:
 * max_brick_rate 1, min_cuts 0). The gate is a snapshot; free with
 * pl_gate_free(). Returns -ENOENT for an unknown suite.
 *
 * Suite result: FAIL when any run ended bricked, recovered or fail (the
 * device failed); else INCOMPLETE when any run ended lab-error or not-run
 * or never ended, when there are no runs, or when a group has too few cuts
 * for its thresholds (min_cuts, or a brick-rate bound that 0 bricks in n
 * cuts cannot meet); else PASS. A shortfall is never a FAIL: exit 1 says
 * a device failed, and none did.
 */
int pl_gate_compute(struct pl_store *st, int64_t suite_id,
		    const struct pl_gate_thresholds *th, struct pl_gate **out);
void pl_gate_free(struct pl_gate *g);

enum pl_gate_result pl_gate_result(const struct pl_gate *g);
/* One line: why the suite got its result. Borrowed from g. */
const char *pl_gate_why(const struct pl_gate *g);
const struct pl_gate_thresholds *pl_gate_thresholds(const struct pl_gate *g);

/* Groups in board type, image order; borrowed from g. */
size_t pl_gate_ngroups(const struct pl_gate *g);
const struct pl_gate_group *pl_gate_group(const struct pl_gate *g, size_t i);

/* The runs the gate was computed from (suite's runs, id order); borrowed. */
const struct pl_run_row *pl_gate_runs(const struct pl_gate *g, size_t *n);
/* The suite row; borrowed. */
const struct pl_suite_row *pl_gate_suite(const struct pl_gate *g);

/*
 * Append the printable gate statement (plain text, for a terminal or a CI
 * log): the suite result, per group the cuts, aim histogram, verdict counts,
 * the bound against the thresholds, and every failing cut point with its
 * seed and replay command.
 */
int pl_gate_statement(const struct pl_gate *g, struct pl_strbuf *out);

#endif
