/* SPDX-License-Identifier: MIT */
/*
 * The command table: one line per command, in the order `patchlab --help`
 * lists them. Each command lives in its own file, cmd_<name>.c.
 */
#include <stddef.h>

#include "cli.h"

extern const struct pl_cli_cmd pl_cmd_drivers;
extern const struct pl_cli_cmd pl_cmd_check;
extern const struct pl_cli_cmd pl_cmd_run;
extern const struct pl_cli_cmd pl_cmd_replay;
extern const struct pl_cli_cmd pl_cmd_calibrate;
extern const struct pl_cli_cmd pl_cmd_image_keygen;
extern const struct pl_cli_cmd pl_cmd_image_pack;
extern const struct pl_cli_cmd pl_cmd_image_mutate;
extern const struct pl_cli_cmd pl_cmd_image_verify;
extern const struct pl_cli_cmd pl_cmd_image_factory;
extern const struct pl_cli_cmd pl_cmd_vrack_up;
extern const struct pl_cli_cmd pl_cmd_vrack_serve;
extern const struct pl_cli_cmd pl_cmd_vrack_status;
extern const struct pl_cli_cmd pl_cmd_vrack_down;
extern const struct pl_cli_cmd pl_cmd_vrack_profiles;
extern const struct pl_cli_cmd pl_cmd_vrack_factory;
extern const struct pl_cli_cmd pl_cmd_results;
extern const struct pl_cli_cmd pl_cmd_report;
extern const struct pl_cli_cmd pl_cmd_serve;
extern const struct pl_cli_cmd pl_cmd_boards;
extern const struct pl_cli_cmd pl_cmd_power;
extern const struct pl_cli_cmd pl_cmd_console;
extern const struct pl_cli_cmd pl_cmd_flash;
extern const struct pl_cli_cmd pl_cmd_worker;
extern const struct pl_cli_cmd pl_cmd_submit;
extern const struct pl_cli_cmd pl_cmd_queue;
extern const struct pl_cli_cmd pl_cmd_cancel;
extern const struct pl_cli_cmd pl_cmd_db_migrate;

const struct pl_cli_cmd *const pl_cli_commands[] = {
	&pl_cmd_drivers,
	&pl_cmd_check,
	&pl_cmd_run,
	&pl_cmd_replay,
	&pl_cmd_calibrate,
	&pl_cmd_image_keygen,
	&pl_cmd_image_pack,
	&pl_cmd_image_mutate,
	&pl_cmd_image_verify,
	&pl_cmd_image_factory,
	&pl_cmd_vrack_up,
	&pl_cmd_vrack_serve,
	&pl_cmd_vrack_status,
	&pl_cmd_vrack_down,
	&pl_cmd_vrack_profiles,
	&pl_cmd_vrack_factory,
	&pl_cmd_results,
	&pl_cmd_report,
	&pl_cmd_serve,
	&pl_cmd_boards,
	&pl_cmd_power,
	&pl_cmd_console,
	&pl_cmd_flash,
	&pl_cmd_worker,
	&pl_cmd_submit,
	&pl_cmd_queue,
	&pl_cmd_cancel,
	&pl_cmd_db_migrate,
	NULL,
};
