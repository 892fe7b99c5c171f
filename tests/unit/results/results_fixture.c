/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results_fixture.h"

/* A console log: 6 KiB of boot chatter (so the 4 KiB tail cuts it), then
 * bytes a console really produces and XML forbids. */
static int write_console(const char *path, const char *board, long op)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	for (int i = 0; i < 120; i++)
		fprintf(f, "[%04d] %s: erase sector %d ... ok\n", i, board, i);
	fprintf(f, "\x1b[1;31mU-Boot 2023.01\x1b[0m <board> & \"quotes\" "
		"]]> \x01\x02\x07\x0b\x0c\x7f bad utf-8 \xff\xfe end\n");
	fprintf(f, "caf\xc3\xa9 \xe2\x9a\xa1 cut at op %ld\nno image boots\n",
		op);
	return fclose(f) ? -errno : 0;
}

struct plan {
	const char *board, *type, *image, *scenario;
	enum pl_cut_phase phase;
	long op;
	double phi;
	const char *aim;
	enum pl_verdict v;
	const char *reason;
	bool end;
};

static int record(struct pl_store *st, const char *dir,
		  struct results_fixture *fx, const struct plan *p)
{
	char log[512], replay[512], params[128];
	struct pl_run_info ri = {
		.suite_id = fx->suite_id,
		.board_id = p->board,
		.board_type = p->type,
		.image = p->image,
		.scenario = p->scenario,
		.params_json = params,
		.cut = { .phase = p->phase, .op_index = p->op, .phi = p->phi,
			 .kind = p->op % 4 == 3 ? "program" : "erase",
			 .aimed_by = p->aim },
		.seed = 1000 + fx->runs,
		.console_log = log,
		.replay = replay,
	};
	int64_t id;
	uint64_t t = 1000000000ull * (fx->runs + 1);
	int rc;

	snprintf(log, sizeof(log), "%s/console-%zu.log", dir, fx->runs);
	snprintf(replay, sizeof(replay), "patchlab run suites/nightly.yaml "
		 "--only %s --seed %zu --cut '%ld:%s' <replay>", p->board,
		 1000 + fx->runs, p->op, pl_cut_phase_name(p->phase));
	snprintf(params, sizeof(params), "{\"slot\": \"b\", \"op\": %ld}",
		 p->op);
	rc = write_console(log, p->board, p->op);
	if (rc == 0)
		rc = pl_store_run_begin(st, &ri, &id);
	if (rc)
		return rc;
	fx->runs++;
	if (p->phase != PL_CUT_NONE)
		fx->cuts++;
	rc = pl_store_event_power(st, id, "on", t, t + 1000, t + 50000);
	if (rc == 0)
		rc = pl_store_run_event(st, id, t + 2000000,
					PL_EV_CONSOLE_MATCH,
					"{\"pattern\": \"erase sector\", "
					"\"line\": \"erase <12> & ok\"}");
	if (rc == 0 && p->phase != PL_CUT_NONE)
		rc = pl_store_event_trigger(st, id, "console", t + 3000000,
					    t + 3000040);
	if (rc == 0 && p->phase != PL_CUT_NONE)
		rc = pl_store_event_power(st, id, "off", t + 3000040,
					  t + 3000050, t + 3090000);
	if (rc || !p->end) {
		if (!p->end)
			fx->skipped++;
		return rc;
	}
	rc = pl_store_run_event(st, id, t + 9000000, PL_EV_VERDICT,
				"{\"verdict\": \"done\"}");
	if (rc == 0)
		rc = pl_store_run_end(st, id, p->v, p->reason);
	if (pl_verdict_is_failure(p->v))
		fx->failures++;
	if (p->v == PL_VERDICT_LAB_ERROR)
		fx->errors++;
	if (p->v == PL_VERDICT_BRICKED && fx->bricked_run == 0)
		fx->bricked_run = id;
	return rc;
}

int results_fixture_populate(struct pl_store *st, const char *dir,
			     struct results_fixture *fx)
{
	struct pl_suite_info si = {
		.name = "nightly <swap> & co",
		.file = "suites/nightly.yaml",
		.seed = 42,
		.cmdline = "patchlab run suites/nightly.yaml --seed 42",
	};
	struct plan p;
	int rc;

	memset(fx, 0, sizeof(*fx));
	rc = pl_store_suite_begin(st, &si, &fx->suite_id);
	/* A correct A/B updater with a brick window in ops 12..15 (during)
	 * and one recovered brick at op 20. */
	for (long k = 0; k < 40 && rc == 0; k++) {
		p = (struct plan){ "board1", "vboard-ab", "fw-2.1.0",
				   "cut_every_op", PL_CUT_BEFORE, k, 0,
				   "console", k % 5 ? PL_VERDICT_PASS :
						      PL_VERDICT_ROLLED_BACK,
				   NULL, true };
		rc = record(st, dir, fx, &p);
		p.board = "board2";
		p.phase = PL_CUT_DURING;
		p.phi = 0.5;
		p.aim = "probe";
		if (k >= 12 && k <= 15) {
			p.v = PL_VERDICT_BRICKED;
			p.reason = "no image boots within 30 s";
		} else if (k == 20) {
			p.v = PL_VERDICT_RECOVERED;
			p.reason = "restored through the probe";
		}
		if (rc == 0)
			rc = record(st, dir, fx, &p);
	}
	/* A naive in-place updater: bricks on most cuts. */
	for (long k = 0; k < 10 && rc == 0; k++) {
		p = (struct plan){ "board3", "vboard-naive", "fw-2.1.0",
				   "cut_every_op", PL_CUT_AFTER, k, 0,
				   "random", k % 3 ? PL_VERDICT_BRICKED :
						     PL_VERDICT_PASS,
				   k % 3 ? "no image boots" : NULL, true };
		rc = record(st, dir, fx, &p);
	}
	/* Transfer faults: no cut; one fail, one lab-error. */
	for (int i = 0; i < 4 && rc == 0; i++) {
		p = (struct plan){ "board1", "vboard-ab", "fw-2.1.0",
				   "transfer_faults", PL_CUT_NONE, -1, 0, NULL,
				   i == 2 ? PL_VERDICT_FAIL :
				   i == 3 ? PL_VERDICT_LAB_ERROR :
					    PL_VERDICT_PASS,
				   i == 2 ? "image accepted with a bad hash" :
				   i == 3 ? "relay lcus0: no reply" : NULL,
				   true };
		rc = record(st, dir, fx, &p);
	}
	/* A cut with an unknown op index, and a run that never ended. */
	if (rc == 0) {
		p = (struct plan){ "board3", "vboard-naive", "fw-2.1.0",
				   "soak", PL_CUT_DURING, -1, 0.3, "time",
				   PL_VERDICT_PASS, NULL, true };
		rc = record(st, dir, fx, &p);
	}
	if (rc == 0) {
		p = (struct plan){ "board9", "vboard-naive", "fw-2.1.0",
				   "soak", PL_CUT_BEFORE, 4, 0, "time",
				   PL_VERDICT_PASS, NULL, false };
		rc = record(st, dir, fx, &p);
	}
	fx->scenarios = 3;
	fx->board_types = 2;
	if (rc == 0)
		rc = pl_store_suite_end(st, fx->suite_id, "fail");
	return rc;
}
