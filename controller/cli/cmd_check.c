/* SPDX-License-Identifier: MIT */
/*
 * patchlab check: validate labs, board types, suites and Lua scenarios
 * without touching any fixture. Every error is listed on stderr as
 * FILE:LINE:COL: error: MESSAGE; the exit code is 65 when there was any.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"

static const struct pl_cli_opt check_opts[] = {
	{ "lab", 'l', "LAB", "also check the lab, and suites against it", false },
	{ "image", 0, "NAME=PATH", "override an image of the suites", true },
	{ NULL },
};

/* The --image values as a NULL-terminated array (malloc'ed). */
static const char **image_overrides(const struct pl_cli_args *a)
{
	const char **v;
	size_t n = 0;

	while (pl_cli_opt_at(a, "image", n))
		n++;
	v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++)
		v[i] = pl_cli_opt_at(a, "image", i);
	return v;
}

static int check_suite_against(const char *path, const struct pl_lab *lab,
			       const struct pl_config_opts *opts,
			       struct pl_diags *d)
{
	struct pl_suite *s;
	int rc = pl_suite_load(&s, path, opts, d);

	if (rc)
		return rc;
	rc = pl_suite_check_lab(s, lab, d);
	pl_suite_free(s);
	return rc;
}

static int check_run(const struct pl_cli_args *a)
{
	const char *lab_path = pl_cli_opt(a, "lab");
	struct pl_config_opts opts = { 0 };
	struct pl_lab *lab = NULL;
	struct pl_diags *d;
	const char **images;
	int exit_code = PL_EXIT_OK, rc;

	if (!lab_path && a->argc == 0)
		return pl_cli_usage_error(a->cmd, "nothing to check: give --lab LAB or files");
	images = image_overrides(a);
	if (!images || pl_diags_new(&d) < 0) {
		free(images);
		fprintf(stderr, "patchlab: check: %s\n", pl_strerror(-ENOMEM));
		return PL_EXIT_LAB_ERROR;
	}
	opts.image_overrides = images;
	if (lab_path) {
		rc = pl_lab_load(&lab, lab_path, &opts, d);
		if (rc == 0)
			printf("%s: ok (lab, %zu boards, %zu board types)\n", lab_path,
			       lab->nboards, lab->ntypes);
		else if (rc == -ENOMEM)
			goto err_nomem;
	}
	for (int i = 0; i < a->argc; i++) {
		enum pl_config_kind kind;

		rc = pl_config_check_file(a->argv[i], PL_CONFIG_AUTO, &opts, d, &kind);
		if (rc == 0 && kind == PL_CONFIG_SUITE && lab)
			rc = check_suite_against(a->argv[i], lab, &opts, d);
		if (rc == -ENOMEM)
			goto err_nomem;
		if (rc == 0)
			printf("%s: ok (%s)\n", a->argv[i], pl_config_kind_name(kind));
	}
	if (pl_diags_count(d)) {
		fflush(stdout);
		pl_diags_print(d, stderr);
		exit_code = PL_EXIT_CONFIG;
	}
	goto out_free;

err_nomem:
	fprintf(stderr, "patchlab: check: %s\n", pl_strerror(-ENOMEM));
	exit_code = PL_EXIT_LAB_ERROR;
out_free:
	pl_lab_free(lab);
	pl_diags_free(d);
	free(images);
	return exit_code;
}

const struct pl_cli_cmd pl_cmd_check = {
	.name = "check",
	.run = check_run,
	.help = "validate labs, board types, suites and Lua scenarios",
	.usage = "[FILE...]",
	.min_args = 0,
	.max_args = -1,
	.phase = PL_CLI_OFFLINE,
	.options = check_opts,
	.details =
		"Each FILE is recognised by its content (boards: = lab, runs: =\n"
		"suite, name: + console: = board type) or its place (boards/,\n"
		"suites/); .lua files get a syntax check. A lab is checked with\n"
		"the board types it names, a suite with the scenario files and\n"
		"images it names (and against --lab when given). Every error is\n"
		"printed as FILE:LINE:COL: error: MESSAGE; exit 65 when any.",
};
