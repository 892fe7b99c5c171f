/* SPDX-License-Identifier: MIT */
/*
 * Recovery of a bricked board (step 4 of a run's life, patchlab/run.h):
 * flash the board type's recovery image through the probe, power on, wait
 * for a boot. A board that boots again ends the run `recovered` (still a
 * failure of the update); one that does not is quarantined and the run
 * stays `bricked`.
 */
#include <stdio.h>
#include <string.h>

#include "run_internal.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/update.h"


static void recovery_failed(struct pl_run *r, const char *why)
{
	pl_board_quarantine(r->board, why);
	pl_board_set_power(r->board, false, NULL, NULL);
	r->recovery_done(r);
}

static void on_recovery_boot(struct pl_op *op, const struct pl_op_result *res,
			     void *ud)
{
	struct pl_run *r = ud;
	char why[300];
	size_t l;

	/* res is op's own result: read it before op goes */
	pl_board_set_power(r->board, false, NULL, NULL);
	if (res->status) {
		snprintf(why, sizeof(why), "recovery image did not boot: %s",
			 res->reason);
		pl_op_free(op);
		recovery_failed(r, why);
		return;
	}
	l = strlen(r->reason);
	snprintf(r->reason + l, sizeof(r->reason) - l,
		 "; restored through the probe (booted %s)", res->version);
	pl_op_free(op);
	r->verdict = PL_VERDICT_RECOVERED;
	r->recovery_done(r);
}

static void on_recovery_flashed(struct pl_probe *p, int status,
				const void *data, size_t len, void *ud)
{
	struct pl_run *r = ud;
	struct pl_op *op = NULL;
	char why[200];
	int err;

	if (status) {
		snprintf(why, sizeof(why), "recovery flash failed: %s",
			 pl_strerror(status));
		recovery_failed(r, why);
		return;
	}
	err = pl_op_wait_boot(&op, r->board, r->type, 0, on_recovery_boot, r);
	if (!err)
		err = pl_board_set_power(r->board, true, NULL, NULL);
	if (err) {
		pl_op_free(op);
		snprintf(why, sizeof(why), "recovery power-on failed: %s",
			 pl_strerror(err));
		recovery_failed(r, why);
	}
}

bool pl_run__try_recovery(struct pl_run *r, void (*done)(struct pl_run *r))
{
	const struct pl_board_type *t = r->type;
	const struct pl_image *img = r->recovery_image;
	struct pl_probe_req req = { .op = PL_PROBE_FLASH,
				    .cb = on_recovery_flashed, .user_data = r };

	if (t->recovery.method != PL_RECOVERY_PROBE || !pl_board_probe(r->board) ||
	    !t->recovery.image)
		return false;
	if (!img) {
		pl_log(pl_board_log(r->board), PL_LOG_WARN,
		       "no suite image '%s' to recover with", t->recovery.image);
		return false;
	}
	req.addr = t->flash.base + (t->recovery.region ? t->recovery.region->offset : 0);
	req.data = img->data;
	req.len = img->len;
	r->recovery_done = done;
	return pl_probe_submit(pl_board_probe(r->board), &req) == 0;
}
