/* SPDX-License-Identifier: MIT */
/*
 * patchlab results [RUN]: read the result store.
 *
 *   no RUN, no filter   the suites, newest first
 *   a filter            the runs that match, as a table (--suite, --verdict,
 *                       --board, --scenario; several combine with AND)
 *   RUN                 one run: cut point, verdict and reason, replay
 *                       command, console log, and its event timeline in ms
 *                       from the run's first event
 *
 * The store is opened for reading what exists: a missing file is an error
 * (exit 2), never silently created.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "patchlab/strbuf.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/fixture.h"
#include "patchlab/store.h"
#include "patchlab/text.h"

static const struct pl_cli_opt results_options[] = {
	{ "db", 0, "FILE", "result store (default runs/patchlab.db)", false },
	{ "suite", 's', "ID", "runs of this suite", false },
	{ "verdict", 0, "V",
	  "runs with this verdict (pass, rolled-back, bricked, recovered, "
	  "fail, lab-error, open)", false },
	{ "board", 'b', "B", "runs on this board", false },
	{ "scenario", 0, "S", "runs of this scenario (its path as stored)",
	  false },
	{ NULL },
};

/* ------------------------------------------------------------ helpers */

static void wall_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;

	if (!ns || !gmtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
}

/* pl_cut_describe()'s words, or "-" for no cut */
static void cut_text(const struct pl_cut_point *c, char *buf, size_t len)
{
	struct pl_strbuf sb = { 0 };

	if (c->phase == PL_CUT_NONE || pl_cut_describe(c, &sb))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s", sb.s);
	pl_strbuf_free(&sb);
}

static const char *verdict_text(const struct pl_run_row *r)
{
	return r->open ? "open" : pl_verdict_name(r->verdict);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/*
 * Every string from the store came from a board, a scenario or a config
 * file: it reaches the terminal through pl_term_dup() (no escape sequence,
 * valid UTF-8). A pool keeps the copies of one printed line.
 */
struct term_pool {
	char *s[16];
	size_t n;
};

static const char *term(struct term_pool *p, const char *s)
{
	char *t;

	if (p->n == sizeof(p->s) / sizeof(p->s[0]))
		return "?"; /* a programming error: pool too small */
	t = pl_term_dup(or_dash(s));
	if (!t)
		return "?";
	p->s[p->n++] = t;
	return t;
}

static void term_pool_free(struct term_pool *p)
{
	while (p->n)
		free(p->s[--p->n]);
}

/* Open an existing store; exit code after a message otherwise. */
static int open_store(const struct pl_cli_args *a, struct pl_store **st)
{
	const char *db = pl_cli_opt(a, "db");
	struct stat sb;
	int err;

	if (!db)
		db = PL_STORE_DEFAULT_PATH;
	if (!pl_store_is_url(db) && stat(db, &sb) != 0) {
		fprintf(stderr, "patchlab %s: no result store at %s (%s); "
			"give --db FILE, or run a suite first\n", a->cmd->name,
			db, strerror(errno));
		return PL_EXIT_LAB_ERROR;
	}
	err = pl_store_open(st, db, NULL);
	if (err) {
		fprintf(stderr, "patchlab %s: result store %s: %s\n",
			a->cmd->name, db, pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	return 0;
}

static int parse_id(const char *s, int64_t *id)
{
	long v;

	if (pl_parse_long(s, &v) || v < 1)
		return -EINVAL;
	*id = v;
	return 0;
}

/* ------------------------------------------------------------ listings */

static int list_suites(struct pl_store *st)
{
	struct pl_suite_row *rows;
	size_t n;
	int err = pl_store_list_suites(st, &rows, &n);

	if (err)
		return err;
	if (n == 0) {
		printf("no suites in the store\n");
		return 0;
	}
	printf("%-6s %-21s %-9s %-6s %s\n", "suite", "started", "duration",
	       "gate", "name");
	for (size_t i = 0; i < n; i++) {
		struct pl_run_filter f = { .suite_id = rows[i].id };
		struct pl_run_row *runs;
		size_t nruns = 0;
		char when[32], dur[16];

		wall_time(rows[i].started_ns, when, sizeof(when));
		if (rows[i].finished_ns > rows[i].started_ns)
			snprintf(dur, sizeof(dur), "%.1f s",
				 (double)(rows[i].finished_ns -
					  rows[i].started_ns) / 1e9);
		else
			snprintf(dur, sizeof(dur), "-");
		struct term_pool tp = { 0 };

		if (pl_store_list_runs(st, &f, &runs, &nruns) == 0)
			pl_store_runs_free(runs, nruns);
		printf("%-6" PRId64 " %-21s %-9s %-6s %s (%zu runs)\n",
		       rows[i].id, when, dur,
		       term(&tp, rows[i].gate ? rows[i].gate : "open"),
		       term(&tp, rows[i].name), nruns);
		term_pool_free(&tp);
	}
	pl_store_suites_free(rows, n);
	return 0;
}

static int list_runs(struct pl_store *st, const struct pl_run_filter *f,
		     bool only_open)
{
	struct pl_run_row *rows;
	size_t n, shown = 0;
	int err = pl_store_list_runs(st, f, &rows, &n);

	if (err)
		return err;
	printf("%-6s %-6s %-10s %-14s %-30s %-34s %-11s %s\n", "run", "suite",
	       "board", "type", "scenario", "cut", "verdict", "reason");
	for (size_t i = 0; i < n; i++) {
		struct term_pool tp = { 0 };
		char cut[160];

		if (only_open && !rows[i].open)
			continue;
		cut_text(&rows[i].cut, cut, sizeof(cut));
		printf("%-6" PRId64 " %-6" PRId64 " %-10s %-14s %-30s %-34s "
		       "%-11s %s\n", rows[i].id, rows[i].suite_id,
		       term(&tp, rows[i].board_id), term(&tp, rows[i].board_type),
		       term(&tp, rows[i].scenario), term(&tp, cut),
		       verdict_text(&rows[i]), term(&tp, rows[i].reason));
		term_pool_free(&tp);
		shown++;
	}
	printf("%zu run%s\n", shown, shown == 1 ? "" : "s");
	pl_store_runs_free(rows, n);
	return 0;
}

/* ------------------------------------------------------------ one run */

static int show_run(struct pl_store *st, int64_t id)
{
	struct pl_run_row *r;
	struct pl_event_row *ev;
	size_t nev;
	struct term_pool tp = { 0 };
	char cut[200], when[32];
	int err = pl_store_get_run(st, id, &r, &ev, &nev);

	if (err)
		return err;
	cut_text(&r->cut, cut, sizeof(cut));
	wall_time(r->started_ns, when, sizeof(when));
	printf("run %" PRId64 " (suite %" PRId64 ")\n", r->id, r->suite_id);
	printf("  board      %s (%s)\n", term(&tp, r->board_id),
	       term(&tp, r->board_type));
	printf("  scenario   %s\n", term(&tp, r->scenario));
	printf("  image      %s\n", term(&tp, r->image));
	printf("  params     %s\n", term(&tp, r->params_json));
	printf("  cut        %s\n", term(&tp, cut));
	printf("  seed       %" PRIu64 "\n", r->seed);
	printf("  verdict    %s\n", verdict_text(r));
	printf("  reason     %s\n", term(&tp, r->reason));
	printf("  started    %s, took %.3f s\n", when,
	       (double)r->duration_ns / 1e9);
	printf("  controller %s\n", term(&tp, r->controller));
	printf("  replay     %s\n", term(&tp, r->replay));
	printf("  console    %s\n", term(&tp, r->console_log));
	term_pool_free(&tp);
	printf("  timeline   %zu event%s, ms from the first\n", nev,
	       nev == 1 ? "" : "s");
	for (size_t i = 0; i < nev; i++) {
		printf("  %12.3f  %-13s %s\n",
		       (double)(ev[i].t_ns - ev[0].t_ns) / 1e6,
		       pl_event_kind_name(ev[i].kind),
		       term(&tp, ev[i].payload_json));
		term_pool_free(&tp);
	}
	pl_store_run_free(r, ev, nev);
	return 0;
}

/* ---------------------------------------------------------------- run */

static int run_results(const struct pl_cli_args *a)
{
	struct pl_run_filter f = { 0 };
	struct pl_store *st = NULL;
	bool filtered = false, only_open = false;
	const char *v;
	int64_t run = 0;
	int rc, err;

	if ((v = pl_cli_opt(a, "suite"))) {
		if (parse_id(v, &f.suite_id))
			return pl_cli_usage_error(a->cmd,
				"--suite takes a suite id (a number >= 1), not '%s'", v);
		filtered = true;
	}
	if ((v = pl_cli_opt(a, "verdict"))) {
		if (strcmp(v, "open") == 0)
			only_open = true;
		else if (pl_verdict_parse(v, &f.verdict))
			return pl_cli_usage_error(a->cmd,
				"--verdict takes pass, rolled-back, bricked, "
				"recovered, fail, lab-error or open, not '%s'", v);
		else
			f.by_verdict = true;
		filtered = true;
	}
	if ((v = pl_cli_opt(a, "board"))) {
		f.board_id = v;
		filtered = true;
	}
	if ((v = pl_cli_opt(a, "scenario"))) {
		f.scenario = v;
		filtered = true;
	}
	if (a->argc == 1) {
		if (parse_id(a->argv[0], &run))
			return pl_cli_usage_error(a->cmd,
				"RUN is a run id (a number >= 1), not '%s'",
				a->argv[0]);
		if (filtered)
			return pl_cli_usage_error(a->cmd,
				"give a RUN or filters, not both");
	}
	rc = open_store(a, &st);
	if (rc)
		return rc;
	if (run)
		err = show_run(st, run);
	else if (filtered)
		err = list_runs(st, &f, only_open);
	else
		err = list_suites(st);
	if (err == -ENOENT) {
		fprintf(stderr, "patchlab results: no run %" PRId64 " in the "
			"store\n", run);
		rc = PL_EXIT_LAB_ERROR;
	} else if (err) {
		fprintf(stderr, "patchlab results: %s\n", pl_strerror(err));
		rc = PL_EXIT_LAB_ERROR;
	}
	pl_store_close(st);
	return rc;
}

const struct pl_cli_cmd pl_cmd_results = {
	.name = "results",
	.run = run_results,
	.help = "list suites and runs of the result store, or show one run",
	.usage = "[RUN]",
	.min_args = 0,
	.max_args = 1,
	.phase = PL_CLI_OFFLINE,
	.options = results_options,
	.details = "Without RUN and filters: the suites, newest first. With "
		   "filters: the matching\nruns. With RUN: its cut point, "
		   "verdict, replay command, console log and\nevent timeline "
		   "(ms from its first event).\nExit codes: 0 shown, 2 no store "
		   "or no such run, 64 usage.",
};
