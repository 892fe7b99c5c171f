/* SPDX-License-Identifier: MIT */
/*
 * patchlab power BOARD on|off|cycle: switch one board's power by hand. Only
 * that board's power fixture is opened, under the board's lease (manual.h),
 * and the command waits on a libuv loop for the fixture to report that the
 * command took effect, then prints its times.
 *
 * `on` and `cycle` leave the power on when the command exits (the fixture
 * is detached, not closed, since closing switches off); `off` leaves it off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "manual.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/power.h"

static const struct pl_cli_opt power_options[] = {
	PL_MANUAL_OPTIONS,
	{ "off-ms", 0, "MS", "cycle: how long the power stays off (default 1000)",
	  false },
	{ NULL },
};

enum power_action { ACT_ON, ACT_OFF, ACT_CYCLE };

struct power_wait {
	uv_loop_t *loop;
	bool done;
	int status;
	struct pl_power_times t;
};

static void on_power(struct pl_power *p, int status,
		     const struct pl_power_times *t, void *ud)
{
	struct power_wait *w = ud;

	(void)p;
	w->done = true;
	w->status = status;
	w->t = *t;
	uv_stop(w->loop);
}

static double ms_after(uint64_t t, uint64_t t0)
{
	return t && t >= t0 ? (double)(t - t0) / 1e6 : 0.0;
}

static int run_power(const struct pl_cli_args *a)
{
	const char *board = a->argv[0], *what = a->argv[1], *v;
	const struct pl_fixture_cfg *fc;
	struct power_wait w = { 0 };
	struct pl_power *p = NULL;
	struct pl_manual m;
	enum power_action act;
	long off_ms = 1000;
	int rc, err;

	if (strcmp(what, "on") == 0)
		act = ACT_ON;
	else if (strcmp(what, "off") == 0)
		act = ACT_OFF;
	else if (strcmp(what, "cycle") == 0)
		act = ACT_CYCLE;
	else
		return pl_cli_usage_error(a->cmd, "say on, off or cycle, not '%s'",
					  what);
	if ((v = pl_cli_opt(a, "off-ms")) &&
	    (pl_parse_long(v, &off_ms) || off_ms < 0 || off_ms > 3600000))
		return pl_cli_usage_error(a->cmd,
			"--off-ms takes milliseconds (0..3600000), not '%s'", v);

	rc = pl_manual_begin(&m, a, board);
	if (rc)
		return pl_manual_end(&m, rc);
	fc = pl_manual_fixture(&m, PL_FIXTURE_POWER);
	if (!fc)
		return pl_manual_end(&m, PL_EXIT_CONFIG);
	w.loop = &m.loop;
	err = pl_power_open(&p, &m.fctx, fc->driver->name, &fc->opts);
	if (err) {
		fprintf(stderr, "patchlab power: board %s: power %s: cannot open: "
			"%s\n", m.board->id, fc->driver->name, pl_strerror(err));
		return pl_manual_end(&m, PL_EXIT_LAB_ERROR);
	}
	if (act == ACT_CYCLE)
		err = pl_power_glitch(p, (unsigned)off_ms, on_power, &w);
	else
		err = pl_power_set(p, act == ACT_ON, on_power, &w);
	if (!err)
		rc = pl_manual_run(&m, &w.done);
	if (!err && !rc && !w.done)
		err = -EIO; /* the loop ran dry: the driver never answered */
	if (!err && w.done)
		err = w.status;
	if (err) {
		fprintf(stderr, "patchlab power: board %s: power %s: %s failed: "
			"%s\n", m.board->id, fc->driver->name, what,
			pl_strerror(err));
		rc = PL_EXIT_LAB_ERROR;
	} else if (!rc) {
		printf("%s: power %s", m.board->id, what);
		if (act == ACT_CYCLE)
			printf(" (off %ld ms)", off_ms);
		printf(" via %s: issued %.3f ms, done %.3f ms after the "
		       "request\n", fc->driver->name,
		       ms_after(w.t.issued_ns, w.t.requested_ns),
		       ms_after(w.t.done_ns, w.t.requested_ns));
	}
	/* Closing switches off; a person who asked for on wants it to stay. */
	if (!err && act != ACT_OFF)
		pl_power_detach(p);
	else
		pl_power_close(p);
	return pl_manual_end(&m, rc);
}

const struct pl_cli_cmd pl_cmd_power = {
	.name = "power",
	.run = run_power,
	.help = "switch a board's power on, off or through a cycle by hand",
	.usage = "BOARD on|off|cycle",
	.min_args = 2,
	.max_args = 2,
	.phase = PL_CLI_LAB,
	.options = power_options,
	.details = "Takes the board's lease first, like a run, so it never "
		   "collides with a\nsuite; waits for a leased board unless "
		   "--no-wait. `on` and `cycle` leave the\npower on after the "
		   "command exits. Exit codes: 0 done, 2 fixture error or\n"
		   "leased board (--no-wait), 64 usage, 65 bad lab file.",
};
