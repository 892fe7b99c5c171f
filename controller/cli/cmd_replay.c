/* SPDX-License-Identifier: MIT */
/*
 * patchlab replay RUN: run one recorded run again, exactly: the same
 * scenario, parameters (cut point included) and seed, on any free board of
 * the same type. A failing cut of a sweep replays the same way.
 */
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "patchlab/engine.h"
#include "run_output.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/fixture.h"
#include "patchlab/store.h"

static const struct pl_cli_opt replay_options[] = {
	{ "lab", 'l', "LAB", "lab inventory (default lab.yaml)", false },
	{ "db", 0, "FILE", "result store of the run (default runs/patchlab.db)", false },
	{ "out", 'o', "DIR", "where logs and the result store go (default runs)", false },
	{ "json", 0, "FILE", "write the machine-readable result", false },
	{ "image", 'i', "NAME=PATH", "use PATH for the suite's image NAME", true },
	{ NULL },
};

static int replay_run(const struct pl_cli_args *a)
{
	const char *db = pl_cli_opt(a, "db") ? pl_cli_opt(a, "db") : PL_STORE_DEFAULT_PATH;
	struct pl_engine_opts o = { 0 };
	struct pl_cli_run_output out;
	struct pl_engine_replay rp = { 0 };
	struct pl_store *st = NULL;
	struct pl_run_row *run = NULL;
	struct pl_event_row *ev = NULL;
	struct pl_suite_row *suite = NULL;
	const char **images = NULL;
	char *out_dir = NULL;
	size_t nev = 0, nimg = 0;
	long id;
	int err, rc = PL_EXIT_LAB_ERROR;

	if (pl_parse_long(a->argv[0], &id) || id < 1)
		return pl_cli_usage_error(a->cmd, "RUN is a run id, not '%s'",
					  a->argv[0]);
	err = pl_store_open(&st, db, NULL);
	if (err) {
		fprintf(stderr, "patchlab replay: %s: %s\n", db, pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	err = pl_store_get_run(st, id, &run, &ev, &nev);
	if (!err)
		err = pl_store_get_suite(st, run->suite_id, &suite);
	if (err) {
		fprintf(stderr, "patchlab replay: run %ld in %s: %s\n", id, db,
			pl_strerror(err));
		goto out_close;
	}
	if (!suite->file) {
		fprintf(stderr, "patchlab replay: run %ld: its suite file is not "
			"recorded\n", id);
		goto out_close;
	}
	while (pl_cli_opt_at(a, "image", nimg))
		nimg++;
	images = calloc(nimg + 1, sizeof(*images));
	if (!images)
		goto out_close;
	for (size_t i = 0; i < nimg; i++)
		images[i] = pl_cli_opt_at(a, "image", i);

	rp.run_id = id;
	rp.scenario = run->scenario;
	rp.params_json = run->params_json;
	rp.seed = run->seed;
	rp.board_type = run->board_type;
	rp.board_id = run->board_id;
	o.suite_path = suite->file;
	o.lab_path = pl_cli_opt(a, "lab");
	o.out_dir = pl_cli_opt(a, "out");
	o.db_path = pl_cli_opt(a, "db");
	/* the replay's logs go next to the store it is recorded in, not
	 * into runs/ of wherever the command was typed */
	if (!o.out_dir && o.db_path) {
		out_dir = strdup(o.db_path);
		if (!out_dir)
			goto out_close;
		o.out_dir = dirname(out_dir);
	}
	o.json_path = pl_cli_opt(a, "json");
	o.cmdline = a->cmdline;
	o.seed = suite->seed;
	o.has_seed = true;
	pl_cli_run_output_init(&out, true, false);
	o.output = &out.out;
	o.image_overrides = images;
	o.replay = &rp;
	printf("replaying run %ld: %s on a %s board, params %s, seed %" PRIu64
	       " (was %s on %s)\n", id, run->scenario, run->board_type,
	       run->params_json, run->seed,
	       run->open ? "open" : pl_verdict_name(run->verdict), run->board_id);
	/* The engine opens the store again: close ours first. */
	pl_store_close(st);
	st = NULL;
	rc = pl_engine_run(&o);
out_close:
	free(out_dir);
	free(images);
	pl_store_suites_free(suite, suite ? 1 : 0);
	pl_store_run_free(run, ev, nev);
	pl_store_close(st);
	return rc;
}

const struct pl_cli_cmd pl_cmd_replay = {
	.name = "replay",
	.run = replay_run,
	.help = "run one recorded run again: same scenario, cut point and seed",
	.usage = "RUN",
	.min_args = 1,
	.max_args = 1,
	.phase = PL_CLI_LAB,
	.options = replay_options,
	.details = "The run's suite file, scenario, parameters and seed come from\n"
		   "the result store; the board is any free one of the run's type.",
};
