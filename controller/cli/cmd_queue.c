/* SPDX-License-Identifier: MIT */
/*
 * patchlab queue --db URL: what waits and what runs in the lab service;
 * patchlab cancel SUITE_ID --db URL: take a queued suite's waiting runs
 * out (the ones running finish). docs/lab-service.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "patchlab/clock.h"
#include "patchlab/fixture.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/store.h"
#include "patchlab/text.h"

static const struct pl_cli_opt queue_options[] = {
	{ "db", 0, "URL", "the lab service's store (postgresql://...)", false },
	{ NULL },
};

/* Open the service's store, or print why and return an exit code. */
static int open_service(const struct pl_cli_args *a, struct pl_store **st)
{
	const char *db = pl_cli_opt(a, "db");
	int err;

	if (!db || !pl_store_is_url(db))
		return pl_cli_usage_error(a->cmd, "give --db postgresql://...: "
					  "the queue lives in PostgreSQL");
	err = pl_store_open(st, db, NULL);
	if (err) {
		fprintf(stderr, "patchlab %s: %s: %s\n", a->cmd->name, db,
			pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	return 0;
}

static int queue_run(const struct pl_cli_args *a)
{
	struct pl_store *st = NULL;
	struct pl_job_row *j = NULL;
	size_t n = 0;
	uint64_t now;
	int rc = open_service(a, &st), err;

	if (rc)
		return rc;
	err = pl_store_list_jobs(st, 0, &j, &n);
	if (err) {
		fprintf(stderr, "patchlab queue: %s\n", pl_strerror(err));
		pl_store_close(st);
		return PL_EXIT_LAB_ERROR;
	}
	now = pl_store_now(st);
	printf("%-6s %-6s %-4s %-12s %-8s %-14s %-3s %8s  %s\n", "JOB", "SUITE",
	       "PRIO", "BOARD", "STATE", "WORKER", "TRY", "WAITED", "SCENARIO");
	for (size_t i = 0; i < n; i++) {
		char *board = pl_term_dup(j[i].board_id);
		char *worker = pl_term_dup(j[i].worker ? j[i].worker : "-");
		char *scen = pl_term_dup(j[i].scenario);
		char what[32] = "";

		/* a sweep job: its runs are planned on the board, unknown
		 * until it ends */
		if (j[i].sweep)
			snprintf(what, sizeof(what), " (sweep of run %d, runs "
				 "pending)", j[i].sweep);
		printf("%-6" PRId64 " %-6" PRId64 " %-4d %-12s %-8s %-14s %-3d "
		       "%7.1fs  %s%s\n", j[i].id, j[i].suite_id, j[i].priority,
		       board ? board : "?", pl_job_state_name(j[i].state),
		       worker ? worker : "?", j[i].attempt,
		       now > j[i].queued_ns ? (now - j[i].queued_ns) / 1e9 : 0.0,
		       scen ? scen : "?", what);
		free(board);
		free(worker);
		free(scen);
	}
	printf("%zu waiting or running\n", n);
	pl_store_jobs_free(j, n);
	pl_store_close(st);
	return PL_EXIT_OK;
}

static int cancel_run(const struct pl_cli_args *a)
{
	struct pl_store *st = NULL;
	size_t n = 0;
	long id;
	int rc, err;

	if (pl_parse_long(a->argv[0], &id) || id < 1)
		return pl_cli_usage_error(a->cmd, "SUITE_ID is a suite id, not "
					  "'%s'", a->argv[0]);
	rc = open_service(a, &st);
	if (rc)
		return rc;
	err = pl_store_cancel(st, id, &n);
	pl_store_close(st);
	if (err) {
		fprintf(stderr, "patchlab cancel: suite %ld: %s\n", id,
			err == -ENOENT ? "was never queued" : pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	printf("suite %ld: %zu waiting runs cancelled\n", id, n);
	return PL_EXIT_OK;
}

const struct pl_cli_cmd pl_cmd_queue = {
	.name = "queue",
	.run = queue_run,
	.help = "list the lab service's runs that wait or run",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_OFFLINE,
	.options = queue_options,
};

const struct pl_cli_cmd pl_cmd_cancel = {
	.name = "cancel",
	.run = cancel_run,
	.help = "cancel a queued suite's waiting runs",
	.usage = "SUITE_ID",
	.min_args = 1,
	.max_args = 1,
	.phase = PL_CLI_OFFLINE,
	.options = queue_options,
	.details = "Runs already running finish and are recorded; the ones\n"
		   "waiting end cancelled, and a submitter waiting on the suite\n"
		   "exits 2 (incomplete).",
};
