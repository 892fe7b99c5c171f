/* SPDX-License-Identifier: MIT */
/*
 * patchlab check: validate labs, board types, suites and Lua scenarios
 * without touching any fixture. Every error is listed on stderr as
 * FILE:LINE:COL: error: MESSAGE; the exit code is 65 when there was any.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static bool checkable(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return false;
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".lua") == 0);
}

/* Check one file, or every .yaml/.yml/.lua file under a directory (in name
 * order). Returns 0, -PL_ECONFIG or -ENOMEM. */
static int check_path(const char *path, const struct pl_lab *lab,
		      const struct pl_config_opts *opts, struct pl_diags *d,
		      int depth)
{
	struct dirent **ents;
	enum pl_config_kind kind;
	struct stat st;
	int n, rc = 0;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth < 16) {
		n = scandir(path, &ents, NULL, alphasort);
		if (n < 0) {
			pl_diags_add(d, &(struct pl_srcpos){ path, 0, 0 },
				     "cannot read directory: %s", strerror(errno));
			return -PL_ECONFIG;
		}
		for (int i = 0; i < n; i++) {
			char *sub = NULL;
			struct stat sst;
			int r = 0;

			if (ents[i]->d_name[0] != '.' &&
			    asprintf(&sub, "%s/%s", path, ents[i]->d_name) > 0 &&
			    stat(sub, &sst) == 0 &&
			    (S_ISDIR(sst.st_mode) || checkable(ents[i]->d_name)))
				r = check_path(sub, lab, opts, d, depth + 1);
			if (r == -ENOMEM || (r && !rc))
				rc = r;
			free(sub);
			free(ents[i]);
		}
		free(ents);
		return rc;
	}
	rc = pl_config_check_file(path, PL_CONFIG_AUTO, opts, d, &kind);
	if (rc == 0 && kind == PL_CONFIG_SUITE && lab)
		rc = check_suite_against(path, lab, opts, d);
	if (rc == 0)
		printf("%s: ok (%s)\n", path, pl_config_kind_name(kind));
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
		/* the suites checked with it see its vars as ${NAME} */
		opts.lab = lab;
		if (rc == 0)
			printf("%s: ok (lab, %zu boards, %zu board types)\n", lab_path,
			       lab->nboards, lab->ntypes);
		else if (rc == -ENOMEM)
			goto err_nomem;
	}
	for (int i = 0; i < a->argc; i++) {
		rc = check_path(a->argv[i], lab, &opts, d, 0);
		if (rc == -ENOMEM)
			goto err_nomem;
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
		"A directory stands for every .yaml, .yml and .lua file under it.\n"
		"Each FILE is recognised by its content (boards: = lab, runs: =\n"
		"suite, name: + console: = board type) or its place (boards/,\n"
		"suites/); .lua files get a syntax check. A lab is checked with\n"
		"the board types it names, a suite with the scenario files and\n"
		"images it names (and against --lab when given). Every error is\n"
		"printed as FILE:LINE:COL: error: MESSAGE; exit 65 when any.",
};
