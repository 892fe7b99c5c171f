/* SPDX-License-Identifier: MIT */
/*
 * patchlab boards: the boards of a lab with their type and tags, who holds
 * each one's lease (and until when), the verdict of its latest run in the
 * result store, and its quarantine (patchlab/store.h). Reads only, but for
 * --release ID, which releases a board's quarantine once a person has
 * restored it. A missing store shows no leases or runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/store.h"
#include "patchlab/strbuf.h"
#include "patchlab/text.h"

static const struct pl_cli_opt boards_options[] = {
	{ "lab", 'l', "LAB", "lab inventory (default lab.yaml)", false },
	{ "db", 0, "FILE", "result store (default runs/patchlab.db)", false },
	{ "release", 0, "ID", "release board ID's quarantine (it was restored)",
	  false },
	{ NULL },
};

/* "held by X, expires in 12.3 s" / "free (expired lease of X)" / "free" */
static void lease_text(const struct pl_lease_row *l, uint64_t now,
		       struct pl_strbuf *out)
{
	if (!l)
		pl_strbuf_puts(out, "free");
	else if (l->expires_ns > now)
		pl_strbuf_printf(out, "%s, expires in %.1f s", l->holder,
				 (double)(l->expires_ns - now) / 1e9);
	else
		pl_strbuf_printf(out, "free (lease of %s expired)", l->holder);
}

/* "pass (run 12)", "open (run 13)", "-" */
static void last_text(struct pl_store *st, const char *board,
		      struct pl_strbuf *out)
{
	struct pl_run_filter f = { .board_id = board };
	struct pl_run_row *rows;
	size_t n;

	if (!st || pl_store_list_runs(st, &f, &rows, &n) != 0) {
		pl_strbuf_puts(out, "-");
		return;
	}
	if (n == 0)
		pl_strbuf_puts(out, "-");
	else if (rows[n - 1].open)
		pl_strbuf_printf(out, "open (run %" PRId64 ")", rows[n - 1].id);
	else
		pl_strbuf_printf(out, "%s (run %" PRId64 ")",
				 pl_verdict_name(rows[n - 1].verdict),
				 rows[n - 1].id);
	pl_store_runs_free(rows, n);
}

/* "-", "device: bricked and no recovery (run 12)" */
static void quarantine_text(const struct pl_quarantine_row *q,
			    struct pl_strbuf *out)
{
	char *why;

	if (!q) {
		pl_strbuf_puts(out, "-");
		return;
	}
	why = pl_term_dup(q->reason ? q->reason : "");
	pl_strbuf_printf(out, "%s: %s", pl_quarantine_kind_name(q->kind),
			 why ? why : "?");
	if (q->run_id)
		pl_strbuf_printf(out, " (run %" PRId64 ")", q->run_id);
	free(why);
}

/* --release ID: an exit code. */
static int release(struct pl_store *st, const struct pl_lab *lab,
		   const char *db, const char *id)
{
	bool known = false;
	int err;

	for (size_t i = 0; i < lab->nboards; i++)
		known |= strcmp(lab->boards[i].id, id) == 0;
	if (!known) {
		fprintf(stderr, "patchlab boards: --release: %s is no board of "
			"%s\n", id, lab->file);
		return PL_EXIT_USAGE;
	}
	err = st ? pl_store_quarantine_release(st, id) : -ENOENT;
	if (err == -ENOENT) {
		printf("board %s was not quarantined in %s\n", id, db);
		return PL_EXIT_OK;
	}
	if (err) {
		fprintf(stderr, "patchlab boards: %s: %s\n", db,
			pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	printf("board %s: quarantine released; the next suite runs on it\n",
	       id);
	return PL_EXIT_OK;
}

static int run_boards(const struct pl_cli_args *a)
{
	const char *lab_path = pl_cli_opt(a, "lab");
	const char *db = pl_cli_opt(a, "db");
	struct pl_lease_row *leases = NULL;
	struct pl_quarantine_row *quar = NULL;
	size_t nquar = 0;
	struct pl_diags *diags = NULL;
	struct pl_store *st = NULL;
	struct pl_lab *lab = NULL;
	size_t nleases = 0;
	struct stat sb;
	uint64_t now = 0;
	int rc = PL_EXIT_OK, err;

	if (!lab_path)
		lab_path = "lab.yaml";
	if (!db)
		db = PL_STORE_DEFAULT_PATH;
	if (pl_diags_new(&diags))
		return PL_EXIT_LAB_ERROR;
	err = pl_lab_load(&lab, lab_path, NULL, diags);
	if (err) {
		pl_diags_print(diags, stderr);
		if (err != -PL_ECONFIG)
			fprintf(stderr, "patchlab boards: %s: %s\n", lab_path,
				pl_strerror(err));
		rc = PL_EXIT_CONFIG;
		goto out;
	}
	if (pl_store_is_url(db) || stat(db, &sb) == 0) {
		err = pl_store_open(&st, db, NULL);
		if (!err)
			err = pl_store_list_leases(st, &leases, &nleases);
		if (!err)
			err = pl_store_list_quarantine(st, &quar, &nquar);
		if (err) {
			fprintf(stderr, "patchlab boards: result store %s: %s\n",
				db, pl_strerror(err));
			rc = PL_EXIT_LAB_ERROR;
			goto out;
		}
		now = pl_store_now(st);
	} else {
		fprintf(stderr, "patchlab boards: no result store at %s: no "
			"leases or runs to show\n", db);
	}
	if (pl_cli_opt(a, "release")) {
		rc = release(st, lab, db, pl_cli_opt(a, "release"));
		goto out;
	}
	printf("%-12s %-16s %-24s %-48s %-20s %s\n", "board", "type", "tags",
	       "lease", "last run", "quarantine");
	for (size_t i = 0; i < lab->nboards; i++) {
		const struct pl_board_cfg *b = &lab->boards[i];
		struct pl_strbuf tags = { 0 }, lease = { 0 }, last = { 0 },
				 q = { 0 };

		for (size_t k = 0; k < b->ntags; k++)
			pl_strbuf_printf(&tags, "%s%s", k ? "," : "", b->tags[k]);
		if (!b->ntags)
			pl_strbuf_puts(&tags, "-");
		lease_text(pl_lease_rows_find(leases, nleases, b->id), now, &lease);
		last_text(st, b->id, &last);
		quarantine_text(pl_quarantine_rows_find(quar, nquar, b->id),
				&q);
		printf("%-12s %-16s %-24s %-48s %-20s %s\n", b->id,
		       b->type ? b->type->name : "?", tags.s ? tags.s : "",
		       lease.s ? lease.s : "", last.s ? last.s : "",
		       q.s ? q.s : "");
		pl_strbuf_free(&q);
		pl_strbuf_free(&tags);
		pl_strbuf_free(&lease);
		pl_strbuf_free(&last);
	}
out:
	pl_store_leases_free(leases, nleases);
	pl_store_quarantine_free(quar, nquar);
	pl_store_close(st);
	pl_lab_free(lab);
	pl_diags_free(diags);
	return rc;
}

const struct pl_cli_cmd pl_cmd_boards = {
	.name = "boards",
	.run = run_boards,
	.help = "list a lab's boards: lease holder, last verdict, quarantine",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_OFFLINE,
	.options = boards_options,
	.details = "A quarantined board (kind device: bricked with no way "
		   "back, or a manual\nrecovery; kind lab: a fixture failed) "
		   "is not run on by later suites\n(their runs are not-run) "
		   "until released: --release ID once it is restored.\nA lab "
		   "quarantine is released by the next suite that opens the "
		   "board.\n\nExit codes: 0 listed or released, 2 the result "
		   "store could not be read,\n64 usage, 65 bad lab file.",
};
