/* SPDX-License-Identifier: MIT */
/*
 * What a command's handler asks of its parsed arguments, and its usage
 * (cli.h). The frame (cli.c) and every command use these; they use
 * nothing of either.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/strbuf.h"

const char *pl_cli_opt_at(const struct pl_cli_args *a, const char *name,
			  size_t i)
{
	for (size_t k = 0; k < a->nopts; k++) {
		if (strcmp(a->opts[k].opt->name, name) != 0)
			continue;
		if (i-- == 0)
			return a->opts[k].value;
	}
	return NULL;
}

const char *pl_cli_opt(const struct pl_cli_args *a, const char *name)
{
	const char *v = NULL;

	for (size_t k = 0; k < a->nopts; k++)
		if (strcmp(a->opts[k].opt->name, name) == 0)
			v = a->opts[k].value;
	return v;
}

bool pl_cli_flag(const struct pl_cli_args *a, const char *name)
{
	return pl_cli_opt(a, name) != NULL;
}

void pl_cli_print_usage(const struct pl_cli_cmd *cmd, void *file)
{
	FILE *f = file;
	const struct pl_cli_opt *o;

	fprintf(f, "usage: patchlab %s%s%s%s\n", cmd->name,
		cmd->options && cmd->options->name ? " [options]" : "",
		cmd->usage && *cmd->usage ? " " : "",
		cmd->usage ? cmd->usage : "");
	fprintf(f, "\n%s\n", cmd->help);
	if (cmd->details)
		fprintf(f, "\n%s\n", cmd->details);
	fprintf(f, "\noptions:\n");
	for (o = cmd->options; o && o->name; o++) {
		char left[64];

		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name,
				 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-26s %s%s\n", left, o->help,
			o->repeat ? " (repeatable)" : "");
	}
	fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}

int pl_cli_usage_error(const struct pl_cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "patchlab %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	pl_cli_print_usage(cmd, stderr);
	return PL_EXIT_USAGE;
}


/* The diagnostics of a load, printed; err as an exit code. */
static int loaded(struct pl_diags *d, int err)
{
	if (err)
		pl_diags_print(d, stderr);
	pl_diags_free(d);
	if (err)
		return err == -PL_ECONFIG ? PL_EXIT_CONFIG : PL_EXIT_LAB_ERROR;
	return 0;
}

int pl_cli_load_lab(const char *path, const struct pl_config_opts *o,
		    struct pl_lab **lab)
{
	struct pl_diags *d = NULL;

	if (pl_diags_new(&d))
		return PL_EXIT_LAB_ERROR;
	return loaded(d, pl_lab_load(lab, path, o, d));
}

int pl_cli_load_suite(const char *path, const struct pl_config_opts *o,
		      struct pl_suite **s)
{
	struct pl_diags *d = NULL;

	if (pl_diags_new(&d))
		return PL_EXIT_LAB_ERROR;
	return loaded(d, pl_suite_load(s, path, o, d));
}
