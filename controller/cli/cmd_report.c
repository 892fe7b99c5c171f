/* SPDX-License-Identifier: MIT */
/*
 * patchlab report SUITE_ID: write a stored suite's report again, as HTML,
 * JSON and/or JUnit (pl_report_write, formats in docs/results.md).
 *
 * The store keeps no gate thresholds, so the report is gated against none
 * (max_brick_rate 1, min_cuts 0) unless --max-brick-rate/--min-cuts say
 * otherwise. The gate's result is printed; the exit code says only whether
 * the reports were written (use `patchlab run` to gate a release).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/fixture.h"
#include "patchlab/gate.h"
#include "patchlab/report.h"
#include "patchlab/store.h"

static const struct pl_cli_opt report_options[] = {
	{ "html", 0, "FILE", "write the HTML report", false },
	{ "json", 0, "FILE", "write the JSON report", false },
	{ "junit", 0, "FILE", "write JUnit XML", false },
	{ "db", 0, "FILE", "result store (default runs/patchlab.db)", false },
	{ "max-brick-rate", 0, "R",
	  "gate: 95% upper bound on bricks per cut, 0..1 (default 1)", false },
	{ "min-cuts", 0, "N", "gate: at least N cuts per group (default 0)",
	  false },
	{ NULL },
};

static const struct {
	const char *opt;
	enum pl_report_format fmt;
} formats[] = {
	{ "html", PL_REPORT_HTML },
	{ "json", PL_REPORT_JSON },
	{ "junit", PL_REPORT_JUNIT },
};

static int parse_thresholds(const struct pl_cli_args *a,
			    struct pl_gate_thresholds *th)
{
	const char *v;
	char *end;
	long n;

	*th = (struct pl_gate_thresholds){ .max_brick_rate = 1.0 };
	if ((v = pl_cli_opt(a, "max-brick-rate"))) {
		errno = 0;
		th->max_brick_rate = strtod(v, &end);
		if (errno || end == v || *end || th->max_brick_rate < 0 ||
		    th->max_brick_rate > 1)
			return pl_cli_usage_error(a->cmd,
				"--max-brick-rate takes a number in 0..1, not '%s'", v);
	}
	if ((v = pl_cli_opt(a, "min-cuts"))) {
		if (pl_parse_long(v, &n) || n < 0)
			return pl_cli_usage_error(a->cmd,
				"--min-cuts takes a count >= 0, not '%s'", v);
		th->min_cuts = (unsigned long)n;
	}
	return 0;
}

static int run_report(const struct pl_cli_args *a)
{
	const char *db = pl_cli_opt(a, "db");
	struct pl_gate_thresholds th;
	struct pl_gate *g = NULL;
	struct pl_store *st = NULL;
	struct stat sb;
	int64_t suite;
	size_t nout = 0;
	long v;
	int rc, err;

	if (pl_parse_long(a->argv[0], &v) || v < 1)
		return pl_cli_usage_error(a->cmd,
			"SUITE_ID is a suite id (a number >= 1), not '%s'",
			a->argv[0]);
	suite = v;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		nout += pl_cli_opt(a, formats[i].opt) != NULL;
	if (nout == 0)
		return pl_cli_usage_error(a->cmd,
			"say what to write: --html FILE, --json FILE or --junit FILE");
	rc = parse_thresholds(a, &th);
	if (rc)
		return rc;
	if (!db)
		db = PL_STORE_DEFAULT_PATH;
	if (!pl_store_is_url(db) && stat(db, &sb) != 0) {
		fprintf(stderr, "patchlab report: no result store at %s (%s); "
			"give --db FILE\n", db, strerror(errno));
		return PL_EXIT_LAB_ERROR;
	}
	err = pl_store_open(&st, db, NULL);
	if (err) {
		fprintf(stderr, "patchlab report: result store %s: %s\n", db,
			pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	err = pl_gate_compute(st, suite, &th, &g);
	if (err == -ENOENT) {
		fprintf(stderr, "patchlab report: no suite %" PRId64 " in %s\n",
			suite, db);
		rc = PL_EXIT_LAB_ERROR;
		goto out;
	}
	if (err) {
		fprintf(stderr, "patchlab report: suite %" PRId64 ": %s\n",
			suite, pl_strerror(err));
		rc = PL_EXIT_LAB_ERROR;
		goto out;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		const char *path = pl_cli_opt(a, formats[i].opt);

		if (!path)
			continue;
		err = pl_report_write(st, suite, &th, formats[i].fmt, path);
		if (err) {
			fprintf(stderr, "patchlab report: %s: %s\n", path,
				pl_strerror(err));
			rc = PL_EXIT_LAB_ERROR;
			goto out;
		}
		printf("%s: %s\n", pl_report_format_name(formats[i].fmt), path);
	}
	printf("gate %s: %s\n", pl_gate_result_name(pl_gate_result(g)),
	       pl_gate_why(g));
	rc = PL_EXIT_OK;
out:
	pl_gate_free(g);
	pl_store_close(st);
	return rc;
}

const struct pl_cli_cmd pl_cmd_report = {
	.name = "report",
	.run = run_report,
	.help = "write a stored suite's report as HTML, JSON or JUnit XML",
	.usage = "SUITE_ID",
	.min_args = 1,
	.max_args = 1,
	.phase = PL_CLI_OFFLINE,
	.options = report_options,
	.details = "The store keeps no thresholds: the gate uses none unless "
		   "--max-brick-rate\nor --min-cuts are given; its result is "
		   "printed. Exit codes: 0 written,\n2 no store, no such suite "
		   "or a file not written, 64 usage.",
};
