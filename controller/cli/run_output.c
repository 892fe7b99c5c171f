/* SPDX-License-Identifier: MIT */
/* The terminal view of a suite (run_output.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run_output.h"
#include "patchlab/gate.h"
#include "patchlab/store.h"
#include "patchlab/strbuf.h"

/* Up to this many runs the table lists each; beyond, a scenario summary. */
#define TABLE_MAX_RUNS 40
/* Failing runs the terminal statement lists; the reports list them all. */
#define STATEMENT_MAX_FAILING 10

static void on_start(void *ud, const char *suite, const char *lab,
		     size_t nruns, uint64_t seed)
{
	struct pl_cli_run_output *o = ud;

	if (!o->quiet)
		fprintf(stderr, "patchlab: suite %s on lab %s: %zu runs, seed %"
			PRIu64 "\n", suite, lab, nruns, seed);
}

static void on_progress(void *ud, const struct pl_engine_progress *p)
{
	struct pl_cli_run_output *o = ud;
	double el = (double)p->elapsed_ns / 1e9;
	double eta = p->done ? el / (double)p->done *
			       (double)(p->total - p->done) : 0;

	if (o->quiet)
		return;
	fprintf(stderr,
		"\r[%zu/%zu] pass %lu  rolled-back %lu  bricked %lu  recovered %lu"
		"  fail %lu  lab-error %lu  ETA %.0fs   ",
		p->done, p->total, p->counts[PL_VERDICT_PASS],
		p->counts[PL_VERDICT_ROLLED_BACK], p->counts[PL_VERDICT_BRICKED],
		p->counts[PL_VERDICT_RECOVERED], p->counts[PL_VERDICT_FAIL],
		p->counts[PL_VERDICT_LAB_ERROR], eta);
	if (!isatty(2))
		fputc('\n', stderr);
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
		printf("%-6" PRId64 " %-10s %-14s %-30s %-18s %-12s %s\n",
		       rows[i].id, rows[i].board_id, rows[i].board_type,
		       rows[i].scenario, cut,
		       rows[i].open ? "open" : pl_verdict_name(rows[i].verdict),
		       rows[i].reason ? rows[i].reason : "");
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
		printf("%-30s", rows[i].scenario);
		for (int v = 0; v < PL_VERDICT_COUNT; v++)
			printf(" %11lu", c[v]);
		printf("\n");
	}
}

/* The gate statement, its list of failing runs cut short for a terminal. */
static void print_statement(const char *text, size_t nfail_total)
{
	const char *p = text, *list = strstr(text, "\nFailing and unfinished runs:");
	unsigned shown = 0;

	if (!list) {
		fputs(text, stdout);
		return;
	}
	fwrite(p, 1, (size_t)(list - p) + 1, stdout);
	p = list + 1;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);

		/* an entry starts with "  run " */
		if (strncmp(p, "  run ", 6) == 0 && ++shown > STATEMENT_MAX_FAILING)
			break;
		fwrite(p, 1, len, stdout);
		p += len;
	}
	if (shown > STATEMENT_MAX_FAILING)
		printf("  ... %zu failing or unfinished runs in all: see the report "
		       "or patchlab results\n", nfail_total);
}

static void on_gate(void *ud, const struct pl_gate *g)
{
	struct pl_cli_run_output *o = ud;
	struct pl_strbuf sb = { 0 };
	size_t n, nfail = 0;
	const struct pl_run_row *rows = pl_gate_runs(g, &n);

	if (!o->quiet)
		fputc('\n', stderr);
	if (n <= TABLE_MAX_RUNS)
		print_runs(rows, n);
	else
		print_summary(rows, n);
	for (size_t i = 0; i < n; i++)
		if (rows[i].open || rows[i].verdict == PL_VERDICT_LAB_ERROR ||
		    pl_verdict_is_failure(rows[i].verdict))
			nfail++;
	if (pl_gate_statement(g, &sb) == 0 && sb.s) {
		printf("\n");
		print_statement(sb.s, nfail);
	}
	pl_strbuf_free(&sb);
}

static void on_report(void *ud, const char *kind, const char *path)
{
	(void)ud;
	if (strcmp(kind, "html") == 0)
		printf("report: %s\n", path);
}

void pl_cli_run_output_init(struct pl_cli_run_output *o, bool quiet)
{
	o->out = (struct pl_engine_output){
		.start = on_start, .progress = on_progress, .gate = on_gate,
		.report = on_report, .user_data = o,
	};
	o->quiet = quiet;
}
