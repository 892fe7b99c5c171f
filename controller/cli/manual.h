/* SPDX-License-Identifier: MIT */
/*
 * What the manual lab commands (power, console, flash) share: load the lab,
 * find the board, take the board's lease in the result store the way a run
 * does (so a person never collides with a running suite), keep it renewed on
 * a libuv loop, and give everything back at the end. Internal to the CLI.
 *
 *     struct pl_manual m;
 *     int rc = pl_manual_begin(&m, a, a->argv[0]);
 *     if (rc)
 *             return rc;          // message printed, exit code
 *     ... open m.board's fixture with &m.fctx, run m.loop ...
 *     return pl_manual_end(&m, rc);
 */
#ifndef PATCHLAB_CLI_MANUAL_H
#define PATCHLAB_CLI_MANUAL_H

#include <stdbool.h>

#include <uv.h>

#include "cli.h"
#include "patchlab/config.h"
#include "patchlab/fixture.h"
#include "patchlab/leases.h"
#include "patchlab/store.h"

/* Options every manual command takes; spliced into each command's table. */
#define PL_MANUAL_OPTIONS                                                     \
	{ "lab", 'l', "LAB", "lab inventory (default lab.yaml)", false },     \
	{ "db", 0, "FILE",                                                    \
	  "result store holding the leases (default runs/patchlab.db)",      \
	  false },                                                           \
	{ "no-wait", 0, NULL,                                                 \
	  "refuse a leased board (exit 2) instead of waiting for it", false }

/* Lease lifetime of a manual command; renewed every third of it. */
#define PL_MANUAL_LEASE_MS 30000u

struct pl_manual {
	const struct pl_cli_cmd *cmd;
	uv_loop_t loop;
	bool loop_ok;
	struct pl_diags *diags;
	struct pl_lab *lab;
	const struct pl_board_cfg *board;
	struct pl_store *st;
	struct pl_leases *leases;
	struct pl_log log;          /* ctx: the board id */
	struct pl_fixture_ctx fctx; /* for pl_<class>_open() */
	bool leased;                /* the take callback said yes */
	int lease_status;           /* its status */
	bool lost;                  /* the lease was lost afterwards */
	uv_signal_t sig[2];         /* SIGINT, SIGTERM: stop, clean up */
	bool sig_init;
	int signo;                  /* the signal that stopped us, or 0 */
};

/*
 * Load the lab (--lab), find board_id, open the store (--db), take the
 * board's lease (waiting unless --no-wait) and fill m. Returns 0, or the
 * exit code after printing why: 65 bad lab file, 64 unknown board, 2 a
 * leased board with --no-wait (naming the holder) or a store failure.
 * Whatever the result, finish with pl_manual_end().
 */
int pl_manual_begin(struct pl_manual *m, const struct pl_cli_args *a,
		    const char *board_id);

/* The fixture config of class cls, or NULL (message printed). */
const struct pl_fixture_cfg *pl_manual_fixture(struct pl_manual *m,
					       enum pl_fixture_class cls);

/*
 * Run the loop until *done is true, the lease is lost or SIGINT/SIGTERM
 * arrives. Returns 0; 2 after a message when the lease was lost (stop
 * touching the board); 128+signal when interrupted (the caller still
 * cleans up, so the lease is released and a terminal restored).
 */
int pl_manual_run(struct pl_manual *m, const bool *done);

/*
 * Release the lease, close the store and the lab, drain and close the loop.
 * The caller closes its fixtures first. Returns rc (or 2 when the lease was
 * lost and rc was 0).
 */
int pl_manual_end(struct pl_manual *m, int rc);

#endif
