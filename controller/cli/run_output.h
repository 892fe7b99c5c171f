/* SPDX-License-Identifier: MIT */
/*
 * What `run`, `replay` and `calibrate` show while a suite runs and when it
 * ends (struct pl_engine_output), to read at a glance; `submit --wait`
 * calls the same hooks as it follows a queued suite:
 *
 *   while it runs  one live progress line on stderr (a terminal), or a
 *                  plain line at most every PROGRESS_PLAIN_S seconds
 *                  (CI logs); a line per failing run only with -v;
 *   at the end     the gate statement (per board type and image: cuts,
 *                  where they were aimed, verdicts, brick-rate bound),
 *                  then the failing runs grouped by scenario, verdict and
 *                  cut region, one replay command a group; every run is
 *                  in the report and in `patchlab results`.
 */
#ifndef PL_CLI_RUN_OUTPUT_H
#define PL_CLI_RUN_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "patchlab/engine.h"

struct pl_cli_run_output {
	struct pl_engine_output out;   /* give &out to the engine */
	bool quiet;                    /* no start or progress line */
	bool verbose;                  /* a line per failing run, the table */
	bool tty;                      /* stderr is a terminal */
	uint64_t last_plain_ns;        /* last plain progress line */
};

/* Fill o. o must outlive the engine run. */
void pl_cli_run_output_init(struct pl_cli_run_output *o, bool quiet,
			    bool verbose);

#endif
