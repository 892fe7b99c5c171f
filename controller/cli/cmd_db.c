/* SPDX-License-Identifier: MIT */
/*
 * patchlab db migrate --db URL: bring a result store's schema up to date
 * (SQLite file or PostgreSQL URI), refusing one written by a newer
 * patchlab. Opening a store migrates too; this is for the operator who
 * migrates once, with a role allowed to, before workers with less
 * privilege connect (docs/lab-service.md).
 */
#include <errno.h>
#include <stdio.h>

#include "cli.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/store.h"

static const struct pl_cli_opt db_options[] = {
	{ "db", 0, "URL", "result store: FILE (SQLite) or postgresql://... "
	  "(default runs/patchlab.db)", false },
	{ NULL },
};

static int db_migrate_run(const struct pl_cli_args *a)
{
	const char *db = pl_cli_opt(a, "db");
	int from = 0, to = 0, err;

	if (!db)
		db = PL_STORE_DEFAULT_PATH;
	err = pl_store_migrate(db, NULL, &from, &to);
	if (err == -EPROTO) {
		fprintf(stderr, "patchlab db migrate: %s has schema version %d, "
			"newer than this patchlab knows (%d): upgrade patchlab\n",
			db, from, to);
		return PL_EXIT_LAB_ERROR;
	}
	if (err) {
		fprintf(stderr, "patchlab db migrate: %s: %s\n", db,
			pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	if (from == to)
		printf("schema version %d: up to date\n", to);
	else
		printf("schema version %d -> %d\n", from, to);
	return PL_EXIT_OK;
}

const struct pl_cli_cmd pl_cmd_db_migrate = {
	.name = "db migrate",
	.run = db_migrate_run,
	.help = "bring a result store's schema up to date",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_OFFLINE,
	.options = db_options,
	.details = "Works on a SQLite file and on PostgreSQL (--db postgresql://...;\n"
		   "\"postgresql://\" alone takes PGHOST, PGUSER, PGDATABASE... from the\n"
		   "environment). Refuses a store written by a newer patchlab.\n"
		   "Exit codes: 0 up to date, 2 the store could not be migrated.",
};
