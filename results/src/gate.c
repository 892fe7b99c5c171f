/* SPDX-License-Identifier: MIT */
/* The release gate: counts, the Clopper-Pearson bound, the statement. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/gate.h"
#include "results_internal.h"

/* ------------------------------------------------------- statistics */

/* log C(n, i) */
static double log_choose(unsigned long n, unsigned long i)
{
	return lgamma((double)n + 1) - lgamma((double)i + 1) -
	       lgamma((double)(n - i) + 1);
}

double pl_binom_cdf(unsigned long k, unsigned long n, double p)
{
	double lp, lq, maxl = -INFINITY, sum = 0;

	if (k >= n || p <= 0)
		return 1;
	if (p >= 1)
		return 0;
	lp = log(p);
	lq = log1p(-p);
	/* Sum in log space (log-sum-exp): the terms span hundreds of orders
	 * of magnitude for large n, and k is small in every real gate. */
	for (unsigned long i = 0; i <= k; i++) {
		double l = log_choose(n, i) + (double)i * lp +
			   (double)(n - i) * lq;
		if (l > maxl)
			maxl = l;
	}
	for (unsigned long i = 0; i <= k; i++)
		sum += exp(log_choose(n, i) + (double)i * lp +
			   (double)(n - i) * lq - maxl);
	return fmin(1, exp(maxl + log(sum)));
}

double pl_brick_rate_upper(unsigned long k, unsigned long n,
			   double confidence)
{
	double alpha = 1 - confidence, lo, hi;

	if (n == 0 || k >= n)
		return 1;
	if (k == 0)
		return -expm1(log(alpha) / (double)n); /* 1 - alpha^(1/n) */
	/* The CDF falls strictly from 1 to 0 as p goes from k/n to 1, so
	 * bisect for CDF(p) = alpha. 200 halvings reach the double
	 * resolution long before they run out. */
	lo = (double)k / (double)n;
	hi = 1;
	for (int i = 0; i < 200 && hi - lo > 1e-15; i++) {
		double mid = (lo + hi) / 2;

		if (pl_binom_cdf(k, n, mid) > alpha)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

const char *pl_gate_result_name(enum pl_gate_result r)
{
	switch (r) {
	case PL_GATE_PASS: return "pass";
	case PL_GATE_FAIL: return "fail";
	case PL_GATE_ERROR: return "error";
	case PL_GATE_INCOMPLETE: return "incomplete";
	}
	return "?";
}

/* ------------------------------------------------------------- gate */

struct group {
	struct pl_gate_group pub;
	struct pl_gate_aim *aims;
	char why[256];
};

struct pl_gate {
	struct pl_gate_thresholds th;
	struct pl_suite_row *suite;
	struct pl_run_row *runs;
	size_t nruns;
	struct group *groups;
	size_t ngroups;
	enum pl_gate_result result;
	char why[256];
};

static const char *image_of(const struct pl_run_row *r)
{
	return r->image ? r->image : "(unknown)";
}

static struct group *find_group(struct pl_gate *g, const struct pl_run_row *r)
{
	for (size_t i = 0; i < g->ngroups; i++)
		if (strcmp(g->groups[i].pub.board_type, r->board_type) == 0 &&
		    strcmp(g->groups[i].pub.image, image_of(r)) == 0)
			return &g->groups[i];
	return NULL;
}

static int add_aim(struct group *gr, const struct pl_run_row *r)
{
	const char *by = r->cut.aimed_by ? r->cut.aimed_by : "unaimed";
	struct pl_gate_aim *p;

	for (size_t i = 0; i < gr->pub.naims; i++)
		if (gr->aims[i].phase == r->cut.phase &&
		    strcmp(gr->aims[i].aimed_by, by) == 0) {
			gr->aims[i].n++;
			return 0;
		}
	p = realloc(gr->aims, (gr->pub.naims + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	gr->aims = p;
	gr->aims[gr->pub.naims++] = (struct pl_gate_aim){
		.aimed_by = by, .phase = r->cut.phase, .n = 1
	};
	gr->pub.aims = gr->aims;
	return 0;
}

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int c = strcmp(x->pub.board_type, y->pub.board_type);

	return c ? c : strcmp(x->pub.image, y->pub.image);
}

static int count_runs(struct pl_gate *g)
{
	struct group *gr, *p;
	int rc;

	for (size_t i = 0; i < g->nruns; i++) {
		const struct pl_run_row *r = &g->runs[i];

		gr = find_group(g, r);
		if (!gr) {
			p = realloc(g->groups,
				    (g->ngroups + 1) * sizeof(*p));
			if (!p)
				return -ENOMEM;
			g->groups = p;
			gr = &g->groups[g->ngroups++];
			memset(gr, 0, sizeof(*gr));
			gr->pub.board_type = r->board_type;
			gr->pub.image = image_of(r);
		}
		gr->pub.runs++;
		if (r->open) {
			gr->pub.open++;
			continue;
		}
		gr->pub.counts[r->verdict]++;
		if (r->verdict == PL_VERDICT_LAB_ERROR ||
		    r->verdict == PL_VERDICT_NOT_RUN)
			continue;
		gr->pub.trials++;
		if (pl_verdict_is_brick(r->verdict))
			gr->pub.bricks++;
		rc = add_aim(gr, r);
		if (rc)
			return rc;
	}
	if (g->ngroups > 1)
		qsort(g->groups, g->ngroups, sizeof(*g->groups),
		      cmp_group);
	/* qsort moved the groups: point the public views at their storage */
	for (size_t i = 0; i < g->ngroups; i++)
		g->groups[i].pub.aims = g->groups[i].aims;
	return 0;
}

static void judge_group(const struct pl_gate_thresholds *th, struct group *gr)
{
	struct pl_gate_group *p = &gr->pub;
	unsigned long fails = p->counts[PL_VERDICT_FAIL];
	unsigned long lab = p->counts[PL_VERDICT_LAB_ERROR];
	unsigned long not_run = p->counts[PL_VERDICT_NOT_RUN];

	p->upper = pl_brick_rate_upper(p->bricks, p->trials, th->confidence);
	p->why = gr->why;
	p->result = PL_GATE_FAIL;
	if (p->bricks) {
		snprintf(gr->why, sizeof(gr->why), "%lu brick%s in %lu cuts",
			 p->bricks, p->bricks == 1 ? "" : "s", p->trials);
		return;
	}
	if (fails) {
		snprintf(gr->why, sizeof(gr->why), "%lu failed run%s", fails,
			 fails == 1 ? "" : "s");
		return;
	}
	/* No device failed: anything short of a full test is INCOMPLETE,
	 * never FAIL (exit 1 says a device failed). */
	p->result = PL_GATE_INCOMPLETE;
	if (lab || not_run || p->open)
		snprintf(gr->why, sizeof(gr->why),
			 "no device failure, but not everything ran: %lu "
			 "lab-error, %lu not run, %lu unfinished", lab, not_run,
			 p->open);
	else if (p->trials < th->min_cuts)
		snprintf(gr->why, sizeof(gr->why),
			 "too few cuts: %lu < %lu required", p->trials,
			 th->min_cuts);
	else if (p->upper > th->max_brick_rate)
		snprintf(gr->why, sizeof(gr->why),
			 "too few cuts to bound the brick rate: 0 bricks in "
			 "%lu cuts gives %.3g > %.3g allowed", p->trials,
			 p->upper, th->max_brick_rate);
	else {
		p->result = PL_GATE_PASS;
		snprintf(gr->why, sizeof(gr->why),
			 "0 bricks in %lu cuts, bound %.3g <= %.3g", p->trials,
			 p->upper, th->max_brick_rate);
	}
}

static void judge_suite(struct pl_gate *g)
{
	unsigned long failing = 0, incomplete = 0;

	for (size_t i = 0; i < g->ngroups; i++) {
		if (g->groups[i].pub.result == PL_GATE_FAIL)
			failing++;
		else if (g->groups[i].pub.result != PL_GATE_PASS)
			incomplete++;
	}
	if (g->nruns == 0) {
		g->result = PL_GATE_INCOMPLETE;
		snprintf(g->why, sizeof(g->why), "no runs recorded");
	} else if (failing) {
		g->result = PL_GATE_FAIL;
		snprintf(g->why, sizeof(g->why),
			 "%lu of %zu board type/image group(s) failed", failing,
			 g->ngroups);
	} else if (incomplete) {
		g->result = PL_GATE_INCOMPLETE;
		snprintf(g->why, sizeof(g->why),
			 "no device failed, but %lu group(s) not fully tested: "
			 "rerun what did not run", incomplete);
	} else {
		g->result = PL_GATE_PASS;
		snprintf(g->why, sizeof(g->why),
			 "every group met its thresholds");
	}
}

int pl_gate_compute(struct pl_store *st, int64_t suite_id,
		    const struct pl_gate_thresholds *th, struct pl_gate **out)
{
	struct pl_run_filter f = { .suite_id = suite_id };
	struct pl_gate *g;
	int rc;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->th = th ? *th : (struct pl_gate_thresholds){ .max_brick_rate = 1 };
	if (g->th.confidence <= 0 || g->th.confidence >= 1)
		g->th.confidence = 0.95;
	rc = pl_store_get_suite(st, suite_id, &g->suite);
	if (rc)
		goto err_free;
	rc = pl_store_list_runs(st, &f, &g->runs, &g->nruns);
	if (rc)
		goto err_free;
	rc = count_runs(g);
	if (rc)
		goto err_free;
	for (size_t i = 0; i < g->ngroups; i++)
		judge_group(&g->th, &g->groups[i]);
	judge_suite(g);
	*out = g;
	return 0;

err_free:
	pl_gate_free(g);
	return rc;
}

void pl_gate_free(struct pl_gate *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->ngroups; i++)
		free(g->groups[i].aims);
	free(g->groups);
	pl_store_runs_free(g->runs, g->nruns);
	pl_store_suites_free(g->suite, 1);
	free(g);
}

enum pl_gate_result pl_gate_result(const struct pl_gate *g)
{
	return g->result;
}

const char *pl_gate_why(const struct pl_gate *g)
{
	return g->why;
}

const struct pl_gate_thresholds *pl_gate_thresholds(const struct pl_gate *g)
{
	return &g->th;
}

size_t pl_gate_ngroups(const struct pl_gate *g)
{
	return g->ngroups;
}

const struct pl_gate_group *pl_gate_group(const struct pl_gate *g, size_t i)
{
	return i < g->ngroups ? &g->groups[i].pub : NULL;
}

const struct pl_run_row *pl_gate_runs(const struct pl_gate *g, size_t *n)
{
	*n = g->nruns;
	return g->runs;
}

const struct pl_suite_row *pl_gate_suite(const struct pl_gate *g)
{
	return g->suite;
}

/* -------------------------------------------------------- statement */

static const char *result_word(enum pl_gate_result r)
{
	switch (r) {
	case PL_GATE_PASS: return "PASS";
	case PL_GATE_FAIL: return "FAIL";
	default: return "INCOMPLETE";
	}
}

static int statement_group(const struct pl_gate *g,
			   const struct pl_gate_group *gr,
			   struct pl_strbuf *out)
{
	int rc;

	rc = pl_strbuf_printf(out, "\n%s  board type %s, image %s: %s\n",
			      result_word(gr->result),
			      gr->board_type, gr->image, gr->why);
	rc = rc ? rc : pl_strbuf_printf(out, "  cuts: %lu with a device verdict "
				    "(%lu runs", gr->trials, gr->runs);
	if (gr->open)
		rc = rc ? rc : pl_strbuf_printf(out, ", %lu never ended",
					    gr->open);
	rc = rc ? rc : pl_strbuf_puts(out, ")\n  aimed:");
	for (size_t i = 0; i < gr->naims && rc == 0; i++)
		rc = pl_strbuf_printf(out, "%s %s/%s %lu", i ? "," : "",
				      gr->aims[i].aimed_by,
				      pl_cut_phase_name(gr->aims[i].phase),
				      gr->aims[i].n);
	if (gr->naims == 0)
		rc = rc ? rc : pl_strbuf_puts(out, " (nothing)");
	rc = rc ? rc : pl_strbuf_puts(out, "\n  verdicts:");
	for (int v = 0; v < PL_VERDICT_COUNT && rc == 0; v++)
		rc = pl_strbuf_printf(out, " %s %lu", pl_verdict_name(v),
				      gr->counts[v]);
	rc = rc ? rc : pl_strbuf_printf(out, "\n  brick rate per cut: %lu/%lu, "
				    "%.0f%% upper bound %.4g (limit %.4g, "
				    "at least %lu cuts)\n",
				    gr->bricks, gr->trials,
				    g->th.confidence * 100, gr->upper,
				    g->th.max_brick_rate, g->th.min_cuts);
	return rc;
}

static int statement_failure(const struct pl_run_row *r,
			     struct pl_strbuf *out)
{
	int rc;

	rc = pl_strbuf_printf(out, "  run %lld %s on %s (%s, %s): ",
			      (long long)r->id,
			      r->open ? "never ended" :
					pl_verdict_name(r->verdict),
			      r->board_id, r->board_type, r->scenario);
	rc = rc ? rc : pl_cut_describe(&r->cut, out);
	rc = rc ? rc : pl_strbuf_printf(out, "\n    seed %llu; reason: %s\n"
				    "    replay: %s\n",
				    (unsigned long long)r->seed,
				    r->reason ? r->reason : "(none)",
				    r->replay ? r->replay : "(none recorded)");
	return rc;
}

int pl_gate_statement(const struct pl_gate *g, struct pl_strbuf *out)
{
	size_t nfail = 0;
	int rc;

	rc = pl_strbuf_printf(out, "GATE %s: suite %s (#%lld): %s\n",
			      result_word(g->result),
			      g->suite->name, (long long)g->suite->id, g->why);
	for (size_t i = 0; i < g->ngroups && rc == 0; i++)
		rc = statement_group(g, &g->groups[i].pub, out);
	for (size_t i = 0; i < g->nruns && rc == 0; i++) {
		const struct pl_run_row *r = &g->runs[i];

		if (r->open || r->verdict == PL_VERDICT_LAB_ERROR ||
		    r->verdict == PL_VERDICT_NOT_RUN ||
		    pl_verdict_is_failure(r->verdict)) {
			if (nfail++ == 0)
				rc = pl_strbuf_puts(out, "\nFailing, unfinished "
						    "and not-run runs:\n");
			rc = rc ? rc : statement_failure(r, out);
		}
	}
	return rc;
}
