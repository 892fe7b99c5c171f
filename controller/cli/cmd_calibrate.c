/* SPDX-License-Identifier: MIT */
/*
 * patchlab calibrate: prove a lab can gate a release. Runs the suite on
 * the boards of each firmware profile (good and known-defective builds)
 * and prints the detection matrix and the verdict (patchlab/calibrate.h).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "patchlab/calibrate.h"
#include "patchlab/datadir.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/fixture.h"
#include "run_output.h"

static const struct pl_cli_opt calibrate_options[] = {
	{ "lab", 'l', "LAB", "lab inventory (default lab.yaml)", false },
	{ "suite", 's', "FILE", "suite to calibrate with (default "
	  PL_CALIB_DEFAULT_SUITE ")", false },
	{ "json", 0, "FILE", "write the matrix and the verdict as JSON", false },
	{ "out", 'o', "DIR", "per-profile stores, logs and run tables (default "
	  PL_CALIB_DEFAULT_OUT ")", false },
	{ "db", 0, "FILE", "one result store for every profile (default "
	  "OUT/PROFILE/patchlab.db)", false },
	{ "seed", 0, "S", "base seed of every profile's suite (default: new)", false },
	{ "quiet", 'q', NULL, "no progress line", false },
	{ "verbose", 'v', NULL, "a line per failing run, each profile's table", false },
	{ NULL },
};

/* Where the engine's stdout goes while a profile's suite runs. */
struct calib_cli {
	int saved_stdout;
};

static void on_profile(void *ud, const char *profile, size_t nboards,
		       const char *out_dir, bool done, int exit_code)
{
	struct calib_cli *cli = ud;
	char *path = NULL;
	int fd;

	fflush(stdout);
	if (done) {
		if (cli->saved_stdout >= 0) {
			dup2(cli->saved_stdout, 1);
			close(cli->saved_stdout);
			cli->saved_stdout = -1;
		}
		printf("   suite exit %d; its run table: %s/run.txt\n", exit_code,
		       out_dir);
		fflush(stdout);
		return;
	}
	printf("== %s: %zu board%s, suite output in %s/\n", profile, nboards,
	       nboards == 1 ? "" : "s", out_dir);
	fflush(stdout);
	/* the engine prints its run table and gate on stdout: keep the
	 * calibration's own output readable, the table in a file */
	if (asprintf(&path, "%s/run.txt", out_dir) < 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	free(path);
	if (fd < 0)
		return;
	cli->saved_stdout = dup(1);
	if (cli->saved_stdout < 0 || dup2(fd, 1) < 0) {
		if (cli->saved_stdout >= 0)
			close(cli->saved_stdout);
		cli->saved_stdout = -1;
	}
	close(fd);
}

/* The default suite: relative to the working directory, else the one
 * shipped with this patchlab (patchlab/datadir.h), into buf. */
static const char *default_suite(char *buf, size_t n)
{
	if (access(PL_CALIB_DEFAULT_SUITE, R_OK) == 0)
		return PL_CALIB_DEFAULT_SUITE;
	if (pl_data_path(buf, n, PL_CALIB_DEFAULT_SUITE))
		return PL_CALIB_DEFAULT_SUITE; /* its error names the file */
	return buf;
}

static int calibrate_run(const struct pl_cli_args *a)
{
	struct calib_cli cli = { .saved_stdout = -1 };
	struct pl_calib_opts o = { 0 };
	struct pl_cli_run_output out;
	char suite_buf[PATH_MAX];
	struct pl_strbuf sb = { 0 };
	struct pl_calib *c = NULL;
	const char *v, *json = pl_cli_opt(a, "json");
	long n;
	int err, rc;

	o.lab_path = pl_cli_opt(a, "lab") ? pl_cli_opt(a, "lab") : "lab.yaml";
	o.suite_path = pl_cli_opt(a, "suite") ? pl_cli_opt(a, "suite")
					      : default_suite(suite_buf,
							      sizeof(suite_buf));
	o.out_dir = pl_cli_opt(a, "out");
	o.db_path = pl_cli_opt(a, "db");
	pl_cli_run_output_init(&out, pl_cli_flag(a, "quiet"),
			       pl_cli_flag(a, "verbose"));
	o.output = &out.out;
	if ((v = pl_cli_opt(a, "seed"))) {
		if (pl_parse_long(v, &n) || n < 0)
			return pl_cli_usage_error(a->cmd, "--seed takes a number, "
						  "not '%s'", v);
		o.seed = (uint64_t)n;
		o.has_seed = true;
	}
	o.on_profile = on_profile;
	o.user_data = &cli;
	err = pl_calib_run(&o, &c);
	if (cli.saved_stdout >= 0) {
		fflush(stdout);
		dup2(cli.saved_stdout, 1);
		close(cli.saved_stdout);
	}
	if (err) {
		if (err != -PL_ECONFIG)
			fprintf(stderr, "patchlab calibrate: %s\n", pl_strerror(err));
		return err == -PL_ECONFIG ? PL_EXIT_CONFIG : PL_EXIT_LAB_ERROR;
	}
	rc = pl_calib_exit_code(c);
	if (pl_calib_text(c, &sb) == 0 && sb.s)
		printf("\n%s", sb.s);
	pl_strbuf_free(&sb);
	if (json) {
		err = pl_calib_write_json(c, json);
		if (err) {
			fprintf(stderr, "patchlab calibrate: cannot write %s: %s\n",
				json, pl_strerror(err));
			rc = PL_EXIT_LAB_ERROR;
		}
	}
	pl_calib_free(c);
	return rc;
}

const struct pl_cli_cmd pl_cmd_calibrate = {
	.name = "calibrate",
	.run = calibrate_run,
	.help = "prove a lab can gate a release: every defect caught, good clean",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_LAB,
	.options = calibrate_options,
	.details =
		"Runs the suite on the boards of each firmware profile of the\n"
		"lab (a board's vars.profile, or its profile tag), one suite\n"
		"run per profile with PROFILE set for ${PROFILE}, and prints the\n"
		"detection matrix: per suite entry and profile, `detected (n)`\n"
		"when a run saw a device failure (n: runs of the entry up to\n"
		"the first one), `-` when none did. The lab is fit to gate a\n"
		"release when every defective profile is detected and `good`\n"
		"shows no device failure and no lab-error. See\n"
		"docs/calibration.md.\n"
		"Exit codes: 0 fit, 1 not fit (a defect missed, or good failed),\n"
		"2 lab errors (inconclusive), 64 usage, 65 bad configuration.",
};
