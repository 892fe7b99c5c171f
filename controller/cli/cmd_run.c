/* SPDX-License-Identifier: MIT */
/* patchlab run SUITE: run a suite on a lab and gate the release on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "patchlab/clock.h"
#include "patchlab/engine.h"
#include "run_output.h"
#include "patchlab/exit.h"
#include "patchlab/fixture.h"

static const struct pl_cli_opt run_options[] = {
	{ "lab", 'l', "LAB", "lab inventory (default lab.yaml)", false },
	{ "image", 'i', "NAME=PATH", "use PATH for the suite's image NAME", true },
	{ "out", 'o', "DIR", "where logs and the result store go (default runs)", false },
	{ "db", 0, "FILE", "result store (default OUT/patchlab.db)", false },
	{ "json", 0, "FILE", "write the machine-readable result", false },
	{ "junit", 0, "FILE", "write JUnit XML for CI", false },
	{ "html", 0, "FILE", "write the HTML report", false },
	{ "seed", 0, "S", "base seed of every random draw (default: new)", false },
	{ "jobs", 'j', "N", "at most N runs at once (default: one per board)", false },
	{ "only", 0, "N", "run only the N-th run of the expanded suite", false },
	{ "tag", 't', "TAG", "only boards with this tag (repeat: all of them)", true },
	{ "quiet", 'q', NULL, "no progress line", false },
	{ "verbose", 'v', NULL, "a line per failing run, the verdict table", false },
	{ "no-wait", 0, NULL, "refuse boards another controller holds (else wait)", false },
	{ NULL },
};

static int run_run(const struct pl_cli_args *a)
{
	struct pl_engine_opts o = { 0 };
	struct pl_cli_run_output out;
	const char **images = NULL, **tags = NULL;
	size_t nimg = 0, ntags = 0;
	const char *v;
	long n;
	int rc;

	o.suite_path = a->argv[0];
	o.cmdline = a->cmdline;
	o.lab_path = pl_cli_opt(a, "lab");
	o.out_dir = pl_cli_opt(a, "out");
	o.db_path = pl_cli_opt(a, "db");
	o.json_path = pl_cli_opt(a, "json");
	o.junit_path = pl_cli_opt(a, "junit");
	o.html_path = pl_cli_opt(a, "html");
	pl_cli_run_output_init(&out, pl_cli_flag(a, "quiet"),
			       pl_cli_flag(a, "verbose"));
	o.output = &out.out;
	o.no_wait = pl_cli_flag(a, "no-wait");
	if ((v = pl_cli_opt(a, "seed"))) {
		if (pl_parse_long(v, &n) || n < 0)
			return pl_cli_usage_error(a->cmd, "--seed takes a number, not '%s'", v);
		o.seed = (uint64_t)n;
		o.has_seed = true;
	} else {
		o.seed = pl_wall_ns() % 1000000007u;
	}
	if ((v = pl_cli_opt(a, "jobs"))) {
		if (pl_parse_long(v, &n) || n < 1 || n > 100000)
			return pl_cli_usage_error(a->cmd, "--jobs takes a number >= 1, not '%s'", v);
		o.jobs = (unsigned)n;
	}
	if ((v = pl_cli_opt(a, "only"))) {
		if (pl_parse_long(v, &n) || n < 1)
			return pl_cli_usage_error(a->cmd, "--only takes a run number >= 1, not '%s'", v);
		o.only = (unsigned)n;
	}
	while (pl_cli_opt_at(a, "image", nimg))
		nimg++;
	images = calloc(nimg + 1, sizeof(*images));
	if (!images)
		return PL_EXIT_LAB_ERROR;
	for (size_t i = 0; i < nimg; i++) {
		const char *img = pl_cli_opt_at(a, "image", i);

		if (!strchr(img, '=')) {
			free(images);
			return pl_cli_usage_error(a->cmd, "--image takes NAME=PATH, not '%s'",
						  img);
		}
		images[i] = img;
	}
	o.image_overrides = images;
	while (pl_cli_opt_at(a, "tag", ntags))
		ntags++;
	tags = calloc(ntags + 1, sizeof(*tags));
	if (!tags) {
		free(images);
		return PL_EXIT_LAB_ERROR;
	}
	for (size_t i = 0; i < ntags; i++)
		tags[i] = pl_cli_opt_at(a, "tag", i);
	o.tags = ntags ? tags : NULL;
	rc = pl_engine_run(&o);
	free(tags);
	free(images);
	return rc;
}

const struct pl_cli_cmd pl_cmd_run = {
	.name = "run",
	.run = run_run,
	.help = "run a suite on a lab: power cuts, verdicts, the release gate",
	.usage = "SUITE",
	.min_args = 1,
	.max_args = 1,
	.phase = PL_CLI_LAB,
	.options = run_options,
	.details = "Exit codes: 0 the gate passed, 1 it failed (device failures),\n"
		   "2 lab error, 64 usage, 65 bad configuration.",
};
