/* SPDX-License-Identifier: MIT */
/*
 * A second controller process for the store's cross-process tests. It speaks
 * on stdout, one line, then either exits or waits to be killed:
 *
 *   store_helper record DB N      record N finished runs, begin one more on
 *                                 board "victim", print "ready SUITE RUN",
 *                                 then wait (for SIGKILL, or EOF on stdin)
 *   store_helper lease DB BOARD NOW_NS TTL_MS
 *                                 take BOARD at the given store time, print
 *                                 "held HOLDER" or "busy HOLDER", then wait
 *   store_helper hammer DB N      record N runs as fast as possible, print
 *                                 "done N" and exit 0 (1 on any error)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "patchlab/error.h"
#include "patchlab/store.h"

static uint64_t fixed_clock(void *ud)
{
	return *(uint64_t *)ud;
}

static int record_runs(struct pl_store *st, int64_t suite, long n,
		       const char *board)
{
	struct pl_run_info ri = {
		.suite_id = suite, .board_id = board, .board_type = "vboard",
		.image = "fw-1", .scenario = "cut_every_op",
		.cut = { .phase = PL_CUT_BEFORE, .aimed_by = "console" },
	};
	int64_t id;
	int rc = 0;

	for (long i = 0; i < n && rc == 0; i++) {
		ri.cut.op_index = i;
		ri.seed = (uint64_t)i;
		rc = pl_store_run_begin(st, &ri, &id);
		if (rc == 0)
			rc = pl_store_event_power(st, id, "off", 10, 20, 30);
		if (rc == 0)
			rc = pl_store_run_end(st, id, PL_VERDICT_PASS, "booted");
	}
	return rc;
}

/* Wait to be killed; if the test itself died first, its end of our stdin
 * closes and we exit rather than linger. */
static void wait_for_kill(void)
{
	char b;

	while (read(0, &b, 1) > 0)
		;
	_exit(3);
}

int main(int argc, char **argv)
{
	struct pl_suite_info si = { .name = "crash" };
	struct pl_store_opts o = { 0 };
	struct pl_store *st;
	uint64_t now = 0;
	int64_t suite, id;
	char *cur = NULL;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: store_helper record|lease|hammer DB "
			"...\n");
		return 64;
	}
	if (strcmp(argv[1], "lease") == 0) {
		if (argc != 6)
			return 64;
		now = strtoull(argv[4], NULL, 10);
		o.clock = fixed_clock;
		o.clock_data = &now;
	}
	rc = pl_store_open(&st, argv[2], &o);
	if (rc) {
		fprintf(stderr, "store_helper: open %s: %s\n", argv[2],
			pl_strerror(rc));
		return 1;
	}
	if (strcmp(argv[1], "record") == 0) {
		rc = pl_store_suite_begin(st, &si, &suite);
		if (rc == 0)
			rc = record_runs(st, suite, atol(argv[3]), "board1");
		struct pl_run_info ri = {
			.suite_id = suite, .board_id = "victim",
			.board_type = "vboard", .scenario = "cut_every_op",
		};
		if (rc == 0)
			rc = pl_store_run_begin(st, &ri, &id);
		if (rc == 0)
			rc = pl_store_run_event(st, id, 5, PL_EV_LOG,
						"{\"msg\": \"lost with me\"}");
		if (rc)
			goto err;
		printf("ready %lld %lld\n", (long long)suite, (long long)id);
		fflush(stdout);
		wait_for_kill();
	} else if (strcmp(argv[1], "lease") == 0) {
		rc = pl_store_lease_take(st, argv[3], NULL,
					 strtoull(argv[5], NULL, 10), &cur);
		if (rc && rc != -PL_ELEASED)
			goto err;
		printf("%s %s\n", rc ? "busy" : "held",
		       rc ? cur : pl_store_holder(st));
		fflush(stdout);
		free(cur);
		wait_for_kill();
	} else if (strcmp(argv[1], "hammer") == 0) {
		rc = record_runs(st, 0, atol(argv[3]), "hammer");
		if (rc)
			goto err;
		printf("done %s\n", argv[3]);
		pl_store_close(st);
		return 0;
	}
	rc = -EINVAL;
err:
	fprintf(stderr, "store_helper %s: %s\n", argv[1], pl_strerror(rc));
	pl_store_close(st);
	return 1;
}
