/* SPDX-License-Identifier: MIT */
/*
 * /pl/results/crash: a real controller process records runs and is
 * SIGKILLed in the middle of one; the finished runs survive intact and
 * recovery closes the open one as lab-error "controller stopped", after
 * telling the caller which board to power off.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "pl_test.h"
#include "pl_test_store.h"
#include "patchlab/store.h"

#define FINISHED 25

struct seen {
	struct pl_store *st;
	int calls;
	char board[64];
	int64_t run;
	bool open_when_told; /* power first: the run was still open */
};

static int on_orphan(void *ud, int64_t run, const char *board,
		     const char *controller)
{
	struct seen *s = ud;
	struct pl_run_row *r;

	s->calls++;
	s->run = run;
	snprintf(s->board, sizeof(s->board), "%s", board);
	assert_non_null(strchr(controller, '@'));
	assert_int_equal(pl_store_get_run(s->st, run, &r, NULL, NULL), 0);
	s->open_when_told = r->open;
	pl_store_run_free(r, NULL, 0);
	return 0;
}

static void killed_controller_leaves_finished_runs_and_one_lab_error(
	void **state)
{
	char *dir = pl_test_tmpdir("crash"), *db, n[16];
	char *argv[] = { STORE_HELPER, "record", NULL, n, NULL };
	struct pl_run_filter f = { 0 };
	struct seen seen = { 0 };
	struct pl_event_row *ev;
	struct pl_run_row *rows, *run;
	struct child c;
	long long suite, open_id;
	size_t nrows, nev, nrec;
	uv_loop_t loop;

	(void)state;
	db = pl_test_store_target(dir, "patchlab.db");
	assert_non_null(db);
	argv[2] = db;
	snprintf(n, sizeof(n), "%d", FINISHED);
	uv_loop_init(&loop);
	assert_int_equal(child_start(&loop, &c, argv), 0);
	assert_int_equal(pl_test_loop_until(&loop, child_has_line, &c, 30000),
			 0);
	assert_false(c.exited);
	assert_int_equal(sscanf(c.buf.s, "ready %lld %lld", &suite, &open_id),
			 2);
	child_kill(&loop, &c);
	pl_strbuf_free(&c.buf);
	assert_true(c.exited);
	assert_int_equal(c.signal, SIGKILL);

	assert_int_equal(pl_store_open(&seen.st, db, NULL), 0);
	f.suite_id = suite;
	assert_int_equal(pl_store_list_runs(seen.st, &f, &rows, &nrows), 0);
	assert_int_equal(nrows, FINISHED + 1);
	assert_true(rows[FINISHED].open);
	pl_store_runs_free(rows, nrows);

	assert_int_equal(pl_store_recover(seen.st, on_orphan, &seen, &nrec), 0);
	assert_int_equal(nrec, 1);
	assert_int_equal(seen.calls, 1);
	assert_string_equal(seen.board, "victim");
	assert_int_equal(seen.run, open_id);
	assert_true(seen.open_when_told);

	assert_int_equal(pl_store_list_runs(seen.st, &f, &rows, &nrows), 0);
	assert_int_equal(nrows, FINISHED + 1);
	for (size_t i = 0; i < FINISHED; i++) {
		assert_false(rows[i].open);
		assert_int_equal(rows[i].verdict, PL_VERDICT_PASS);
		assert_string_equal(rows[i].reason, "booted");
		assert_int_equal(rows[i].cut.op_index, (long)i);
	}
	pl_store_runs_free(rows, nrows);
	/* the finished runs kept their events */
	assert_int_equal(pl_store_get_run(seen.st, 1, &run, &ev, &nev), 0);
	assert_int_equal(nev, 1);
	assert_int_equal(ev[0].kind, PL_EV_POWER);
	pl_store_run_free(run, ev, nev);
	assert_int_equal(pl_store_get_run(seen.st, open_id, &run, &ev, &nev),
			 0);
	assert_false(run->open);
	assert_int_equal(run->verdict, PL_VERDICT_LAB_ERROR);
	assert_string_equal(run->reason, "controller stopped");
	assert_string_equal(run->board_id, "victim");
	pl_store_run_free(run, ev, nev);

	/* a second recovery finds nothing more to do */
	seen.calls = 0;
	assert_int_equal(pl_store_recover(seen.st, on_orphan, &seen, &nrec), 0);
	assert_int_equal(nrec, 0);
	assert_int_equal(seen.calls, 0);
	pl_store_close(seen.st);
	pl_test_loop_drain(&loop);
	pl_test_rmrf(dir);
	free(dir);
	free(db);
}

static int refuse(void *ud, int64_t run, const char *board, const char *ctl)
{
	(void)ud;
	(void)run;
	(void)board;
	(void)ctl;
	return -EIO; /* the relay did not answer: the board may be powered */
}

static void run_stays_open_when_the_board_cannot_be_powered_off(void **state)
{
	char *dir = pl_test_tmpdir("crash2"), *db;
	char *argv[] = { STORE_HELPER, "record", NULL, "1", NULL };
	struct pl_run_row *run;
	struct pl_store *st;
	long long suite, open_id;
	struct child c;
	uv_loop_t loop;
	size_t nrec = 99;

	(void)state;
	db = pl_test_store_target(dir, "patchlab.db");
	assert_non_null(db);
	argv[2] = db;
	uv_loop_init(&loop);
	assert_int_equal(child_start(&loop, &c, argv), 0);
	assert_int_equal(pl_test_loop_until(&loop, child_has_line, &c, 30000),
			 0);
	assert_int_equal(sscanf(c.buf.s, "ready %lld %lld", &suite, &open_id),
			 2);
	child_kill(&loop, &c);
	pl_strbuf_free(&c.buf);
	pl_test_loop_drain(&loop);

	assert_int_equal(pl_store_open(&st, db, NULL), 0);
	assert_int_equal(pl_store_recover(st, refuse, NULL, &nrec), -EIO);
	assert_int_equal(nrec, 0);
	assert_int_equal(pl_store_get_run(st, open_id, &run, NULL, NULL), 0);
	assert_true(run->open); /* a later recovery retries */
	pl_store_run_free(run, NULL, 0);
	assert_int_equal(pl_store_recover(st, NULL, NULL, &nrec), 0);
	assert_int_equal(nrec, 1);
	pl_store_close(st);
	pl_test_rmrf(dir);
	free(dir);
	free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		killed_controller_leaves_finished_runs_and_one_lab_error),
		cmocka_unit_test(
		run_stays_open_when_the_board_cannot_be_powered_off),
	};
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/results/crash", tests, NULL,
					   NULL);
}
