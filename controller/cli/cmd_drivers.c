/* SPDX-License-Identifier: MIT */
/* patchlab drivers: list the fixture drivers built in, with their options. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "patchlab/exit.h"
#include "patchlab/fixture.h"

static const char *const type_names[] = {
	[PL_OPT_STRING] = "string", [PL_OPT_INT] = "int",
	[PL_OPT_BOOL] = "bool",     [PL_OPT_PATH] = "path",
	[PL_OPT_ADDRESS] = "host:port", [PL_OPT_LIST] = "list",
};

static int drivers_run(const struct pl_cli_args *a)
{
	const char *only = a->argc ? a->argv[0] : NULL;
	bool found = false;

	for (int cls = 0; cls < PL_FIXTURE_NCLASSES; cls++) {
		const struct pl_driver_info *d;
		const char *cname = pl_fixture_class_name(cls);

		if (only && strcmp(only, cname) != 0)
			continue;
		found = true;
		printf("%s drivers:\n", cname);
		for (size_t i = 0; (d = pl_driver_at(cls, i)) != NULL; i++) {
			if (d->not_built) {
				printf("  %-12s not built: %s\n", d->name,
				       d->not_built);
				continue;
			}
			printf("  %-12s %s\n", d->name, d->summary);
			for (const struct pl_opt_spec *s = d->options; s && s->key; s++)
				printf("      %-12s %-9s %s%s\n", s->key,
				       type_names[s->type], s->help,
				       s->required ? " (required)" : "");
		}
	}
	if (!found)
		return pl_cli_usage_error(a->cmd,
			"no fixture class '%s' (power, console, probe)", only);
	return PL_EXIT_OK;
}

const struct pl_cli_cmd pl_cmd_drivers = {
	.name = "drivers",
	.run = drivers_run,
	.help = "list the fixture drivers built into patchlab and their options",
	.usage = "[power|console|probe]",
	.min_args = 0,
	.max_args = 1,
	.phase = PL_CLI_OFFLINE,
};
