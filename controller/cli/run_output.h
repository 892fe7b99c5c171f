/* SPDX-License-Identifier: MIT */
/*
 * What `run`, `replay` and `calibrate` show while a suite runs and when it
 * ends (struct pl_engine_output): the start line and the live progress
 * line on stderr, the verdict table and the gate statement on stdout.
 */
#ifndef PL_CLI_RUN_OUTPUT_H
#define PL_CLI_RUN_OUTPUT_H

#include <stdbool.h>

#include "patchlab/engine.h"

struct pl_cli_run_output {
	struct pl_engine_output out;   /* give &out to the engine */
	bool quiet;                    /* no start or progress line */
};

/* Fill o: quiet as given. o must outlive the engine run. */
void pl_cli_run_output_init(struct pl_cli_run_output *o, bool quiet);

#endif
