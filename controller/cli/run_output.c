/* SPDX-License-Identifier: MIT */
/* The terminal view of a suite (run_output.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_output.h"
#include "patchlab/gate.h"
#include "patchlab/store.h"
#include "patchlab/strbuf.h"
#include "patchlab/text.h"

/* Up to this many runs the table lists each; beyond, a scenario summary. */
#define TABLE_MAX_RUNS 40

static void on_start(void *ud, const char *suite, const char *lab,
		     size_t nruns, uint64_t seed)
{
	struct pl_cli_run_output *o = ud;
	char *s, *l;

	if (o->quiet)
		return;
	s = pl_term_dup(suite);
	l = pl_term_dup(lab);
	fprintf(stderr, "patchlab: suite %s on lab %s: %zu runs, seed %" PRIu64
		"\n", s ? s : "?", l ? l : "?", nruns, seed);
	free(s);
	free(l);
}

/* A plain progress line at most this often without a terminal. */
#define PROGRESS_PLAIN_S 10

static void on_progress(void *ud, const struct pl_engine_progress *p)
{
	struct pl_cli_run_output *o = ud;
	double el = (double)p->elapsed_ns / 1e9;
	double eta = p->done ? el / (double)p->done *
			       (double)(p->total - p->done) : 0;
	bool last = p->done >= p->total;

	if (o->quiet)
		return;
	if (!o->tty) {
		if (!last && o->last_plain_ns &&
		    p->elapsed_ns - o->last_plain_ns < PROGRESS_PLAIN_S * 1000000000ull)
			return;
		o->last_plain_ns = p->elapsed_ns ? p->elapsed_ns : 1;
	}
	fprintf(stderr,
		"%s[%zu/%zu] pass %lu  rolled-back %lu  bricked %lu  recovered %lu"
		"  fail %lu  lab-error %lu  not-run %lu  %.0fs, %.0fs left   ",
		o->tty ? "\r" : "", p->done, p->total,
		p->counts[PL_VERDICT_PASS], p->counts[PL_VERDICT_ROLLED_BACK],
		p->counts[PL_VERDICT_BRICKED], p->counts[PL_VERDICT_RECOVERED],
		p->counts[PL_VERDICT_FAIL], p->counts[PL_VERDICT_LAB_ERROR],
		p->counts[PL_VERDICT_NOT_RUN], el, eta);
	if (!o->tty)
		fputc('\n', stderr);
}

/* -v: a line per run that did not pass (lab errors too). */
static void on_run_ended(void *ud, int64_t run_id, const char *board,
			 enum pl_verdict v, const char *reason)
{
	struct pl_cli_run_output *o = ud;
	char *clean;

	if (!o->verbose || (v != PL_VERDICT_LAB_ERROR && v != PL_VERDICT_NOT_RUN &&
			    !pl_verdict_is_failure(v)))
		return;
	clean = pl_term_dup(reason);
	fprintf(stderr, "%srun %" PRId64 " on %s: %s: %s\n", o->tty ? "\r" : "",
		run_id, board, pl_verdict_name(v), clean ? clean : "");
	free(clean);
}

static void print_runs(const struct pl_run_row *rows, size_t n)
{
	printf("%-6s %-10s %-14s %-30s %-18s %-12s %s\n", "run", "board",
	       "type", "scenario", "cut", "verdict", "reason");
	for (size_t i = 0; i < n; i++) {
		char cut[64] = "-";

		if (rows[i].cut.phase != PL_CUT_NONE && rows[i].cut.op_index >= 0)
			snprintf(cut, sizeof(cut), "%s op %ld",
				 pl_cut_phase_name(rows[i].cut.phase),
				 rows[i].cut.op_index);
		else if (rows[i].cut.phase != PL_CUT_NONE)
			/* aimed by the console, time, bytes...: no op index */
			snprintf(cut, sizeof(cut), "by %s",
				 rows[i].cut.aimed_by ? rows[i].cut.aimed_by : "?");
		/* ids, names and reasons come from files and boards: shown,
		 * never sent to the terminal as control sequences */
		char *board = pl_term_dup(rows[i].board_id);
		char *type = pl_term_dup(rows[i].board_type);
		char *scen = pl_term_dup(rows[i].scenario);
		char *why = pl_term_dup(rows[i].reason ? rows[i].reason : "");

		printf("%-6" PRId64 " %-10s %-14s %-30s %-18s %-12s %s\n",
		       rows[i].id, board ? board : "?", type ? type : "?",
		       scen ? scen : "?", cut,
		       rows[i].open ? "open" : pl_verdict_name(rows[i].verdict),
		       why ? why : "?");
		free(board);
		free(type);
		free(scen);
		free(why);
	}
}

/* One line per scenario: how many runs ended in each verdict. */
static void print_summary(const struct pl_run_row *rows, size_t n)
{
	const char *done[256];
	size_t nd = 0;

	printf("%-30s", "scenario");
	for (int v = 0; v < PL_VERDICT_COUNT; v++)
		printf(" %11s", pl_verdict_name(v));
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		unsigned long c[PL_VERDICT_COUNT] = { 0 };
		bool seen = false;

		for (size_t k = 0; k < nd; k++)
			if (strcmp(done[k], rows[i].scenario) == 0)
				seen = true;
		if (seen || nd == 256)
			continue;
		done[nd++] = rows[i].scenario;
		for (size_t j = i; j < n; j++)
			if (!rows[j].open &&
			    strcmp(rows[j].scenario, rows[i].scenario) == 0)
				c[rows[j].verdict]++;
		{
			char *scen = pl_term_dup(rows[i].scenario);

			printf("%-30s", scen ? scen : "?");
			free(scen);
		}
		for (int v = 0; v < PL_VERDICT_COUNT; v++)
			printf(" %11lu", c[v]);
		printf("\n");
	}
}

/* The gate statement without its list of every failing run (that list
 * is the report's and `patchlab results`'s). */
static void print_statement(const char *text)
{
	const char *list = strstr(text, "\nFailing and unfinished runs:");

	if (!list)
		pl_term_fputs(text, stdout);
	else
		fwrite(text, 1, (size_t)(list - text), stdout);
}

/* Failing runs of one scenario with one verdict, and where they were cut. */
struct fail_group {
	const struct pl_run_row *first;  /* the one whose replay is shown */
	size_t n;
	long op_lo, op_hi;               /* op indexes seen; lo > hi: none */
	unsigned phases;                 /* bit per enum pl_cut_phase */
	bool unaimed;                    /* some run had no cut point */
};

static bool is_failing(const struct pl_run_row *r)
{
	return r->open || r->verdict == PL_VERDICT_LAB_ERROR ||
	       r->verdict == PL_VERDICT_NOT_RUN ||
	       pl_verdict_is_failure(r->verdict);
}

static bool same_group(const struct pl_run_row *a, const struct pl_run_row *b)
{
	return a->open == b->open && (a->open || a->verdict == b->verdict) &&
	       strcmp(a->scenario, b->scenario) == 0;
}

static void group_add(struct fail_group *g, const struct pl_run_row *r)
{
	if (!g->n++) {
		g->first = r;
		g->op_lo = 1;
		g->op_hi = 0;
	}
	if (r->cut.phase == PL_CUT_NONE) {
		g->unaimed = true;
		return;
	}
	g->phases |= 1u << r->cut.phase;
	if (r->cut.op_index < 0)
		return;
	if (g->op_lo > g->op_hi) {
		g->op_lo = g->op_hi = r->cut.op_index;
	} else {
		if (r->cut.op_index < g->op_lo)
			g->op_lo = r->cut.op_index;
		if (r->cut.op_index > g->op_hi)
			g->op_hi = r->cut.op_index;
	}
}

/* "cuts before/during operations 3-170 of the update", "cuts aimed by
 * console", "no cut" */
static void print_region(const struct fail_group *g)
{
	const char *sep = "";

	if (!g->phases) {
		printf("no cut");
		return;
	}
	printf("cuts ");
	for (int ph = 0; ph < 32; ph++)
		if (g->phases & (1u << ph)) {
			printf("%s%s", sep, pl_cut_phase_name((enum pl_cut_phase)ph));
			sep = "/";
		}
	if (g->op_lo <= g->op_hi && g->op_lo == g->op_hi)
		printf(" operation %ld of the update", g->op_lo);
	else if (g->op_lo <= g->op_hi)
		printf(" operations %ld-%ld of the update", g->op_lo, g->op_hi);
	else {
		printf(" the update, aimed by ");
		pl_term_fputs(g->first->cut.aimed_by ? g->first->cut.aimed_by :
			      "the scenario", stdout);
	}
	if (g->unaimed)
		printf(", and runs without a cut");
}

/* The failing runs by scenario, verdict and cut region: one line and one
 * replay command a group. */
static void print_failing_groups(const struct pl_run_row *rows, size_t n)
{
	struct fail_group *groups = calloc(n ? n : 1, sizeof(*groups));
	size_t ng = 0;

	if (!groups)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (!is_failing(&rows[i]))
			continue;
		for (k = 0; k < ng && !same_group(groups[k].first, &rows[i]); k++)
			;
		if (k == ng)
			ng++;
		group_add(&groups[k], &rows[i]);
	}
	if (ng)
		printf("\nFailing runs by scenario and cut region (every run: the "
		       "report, or patchlab results --suite %" PRId64 "):\n",
		       rows[0].suite_id);
	for (size_t k = 0; k < ng; k++) {
		const struct pl_run_row *r = groups[k].first;

		printf("  %zu %s  ", groups[k].n,
		       r->open ? "never ended" : pl_verdict_name(r->verdict));
		pl_term_fputs(r->scenario, stdout);
		printf(": ");
		/* a run that did not run was cut nowhere: why it did not is
		 * what the reader needs (the first one's reason) */
		if (!r->open && r->verdict == PL_VERDICT_NOT_RUN)
			pl_term_fputs(r->reason ? r->reason : "not run",
				      stdout);
		else
			print_region(&groups[k]);
		printf("\n    replay one: ");
		pl_term_fputs(r->replay ? r->replay : "(none recorded)", stdout);
		printf("\n");
	}
	free(groups);
}

static void on_gate(void *ud, const struct pl_gate *g)
{
	struct pl_cli_run_output *o = ud;
	struct pl_strbuf sb = { 0 };
	size_t n;
	const struct pl_run_row *rows = pl_gate_runs(g, &n);

	if (!o->quiet && o->tty)
		fputc('\n', stderr);
	if (n <= TABLE_MAX_RUNS)
		print_runs(rows, n);
	else if (o->verbose)
		print_summary(rows, n);
	if (pl_gate_statement(g, &sb) == 0 && sb.s) {
		if (n <= TABLE_MAX_RUNS || o->verbose)
			printf("\n");
		print_statement(sb.s);
	}
	pl_strbuf_free(&sb);
	print_failing_groups(rows, n);
}

static void on_report(void *ud, const char *kind, const char *path)
{
	(void)ud;
	if (strcmp(kind, "html") == 0)
		printf("report: %s\n", path);
}

void pl_cli_run_output_init(struct pl_cli_run_output *o, bool quiet,
			    bool verbose)
{
	o->out = (struct pl_engine_output){
		.start = on_start, .run_ended = on_run_ended,
		.progress = on_progress, .gate = on_gate, .report = on_report,
		.user_data = o,
	};
	o->quiet = quiet;
	o->verbose = verbose;
	o->tty = isatty(2);
	o->last_plain_ns = 0;
}
