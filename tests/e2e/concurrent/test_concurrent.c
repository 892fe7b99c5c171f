/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/concurrent: two controllers on one lab and one result store.
 *
 * On a real 2-board virtual rack (profile good), two `patchlab run
 * scenarios/suites/quick.yaml --db SAME` started at once through libuv
 * both pass, and the store shows that no board was driven by both at
 * once: on each board, the [started, finished] intervals of the two
 * suites' runs never overlap; no lease is left behind; each run has a
 * console log of its own although both share one --out dir. Then, while one
 * controller holds the boards (seen in the store's leases table, no
 * sleep), a third `run --no-wait` exits 2 and every run it recorded is
 * lab-error "leased by pid PID on HOST, since ...: COMMAND" naming that
 * controller (its hardware lock is met before its store lease).
 *
 * Every child is reaped; the rack is powered off, taken down and reaped.
 * PL_KEEP_RACK=1 keeps the rack directory (logs, stores) for a post-mortem.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

static int group_setup(void **state)
{
	/* the suite's images are those of profile good */
	setenv("PROFILE", "good", 1);
	return e2e_ctx_setup(state, "scenarios/suites/quick.yaml", "e2e-conc",
			     2, "good");
}

/* `patchlab run SUITE --lab LAB --db DB --out DIR/runs --json
 * DIR/NAME.json -q [--no-wait]`, its console into DIR/NAME.out. Every
 * controller shares one out dir, as they share `runs` by default. */
static int start_run(struct e2e_ctx *c, uv_loop_t *loop, struct e2e_proc *p,
		     const char *db, const char *name, bool no_wait)
{
	char out[4200], json[4200], log[4200];
	char *argv[] = { (char *)pl_test_patchlab(), "run", c->suite, "--lab",
			 c->rack.lab, "--db", (char *)db, "--out", out,
			 "--json", json, "-q", no_wait ? "--no-wait" : NULL,
			 NULL };

	snprintf(out, sizeof(out), "%s/runs", c->rack.dir);
	snprintf(json, sizeof(json), "%s/%s.json", c->rack.dir, name);
	snprintf(log, sizeof(log), "%s/%s.out", c->rack.dir, name);
	return e2e_spawn(loop, p, NULL, log, argv);
}

static void expect_exit(struct e2e_proc *p, int want, const char *what)
{
	if (p->code != want) {
		char *log = pl_test_slurp(p->out_path);

		fprintf(stderr, "%s", log ? log : "(no output)\n");
		free(log);
		fail_msg("%s (pid %d): exit %d, want %d; its output above", what,
			 p->h.pid, p->code, want);
	}
}

struct run_iv {
	int64_t suite, start, end;
	char board[32];
};

static void two_runs_at_once_never_share_a_board(void **state)
{
	struct e2e_ctx *c = *state;
	struct e2e_proc a, b;
	struct run_iv *iv = NULL;
	sqlite3_stmt *s = NULL;
	sqlite3 *db;
	uv_loop_t loop;
	char path[4200], why[512];
	size_t n = 0, cap = 0;
	int64_t nsuites, nopen, nleases, nshared, nlogs;
	int ra, rb;

	snprintf(path, sizeof(path), "%s/together.db", c->rack.dir);
	uv_loop_init(&loop);
	/* both at once, on a store neither has created yet */
	ra = start_run(c, &loop, &a, path, "together-a", false);
	rb = start_run(c, &loop, &b, path, "together-b", false);
	e2e_wait(&loop, &a, E2E_RUN_DEADLINE_MS);
	e2e_wait(&loop, &b, E2E_RUN_DEADLINE_MS);
	pl_test_loop_drain(&loop);
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	expect_exit(&a, PL_EXIT_OK, "first run");
	expect_exit(&b, PL_EXIT_OK, "second run");

	db = e2e_db_open(path);
	assert_non_null(db);
	nsuites = e2e_db_int(db, "SELECT count(*) FROM suites", -1);
	nopen = e2e_db_int(db, "SELECT count(*) FROM runs WHERE state != 'closed'"
			   " OR finished IS NULL", -1);
	nleases = e2e_db_int(db, "SELECT count(*) FROM leases", -1);
	/* each run keeps its own console log: a run of one suite never
	 * names (or overwrites) the log of a run of the other */
	nshared = e2e_db_int(db, "SELECT count(*) FROM runs r1 JOIN runs r2 "
			     "ON r1.console_log = r2.console_log AND r1.id < r2.id",
			     -1);
	nlogs = e2e_db_int(db, "SELECT count(*) FROM runs WHERE console_log "
			   "IS NOT NULL", -1);
	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT suite_id, board_id, started, finished FROM runs "
		"ORDER BY board_id, started", -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			iv = realloc(iv, cap * sizeof(*iv));
			assert_non_null(iv);
		}
		iv[n].suite = sqlite3_column_int64(s, 0);
		snprintf(iv[n].board, sizeof(iv[n].board), "%s",
			 (const char *)sqlite3_column_text(s, 1));
		iv[n].start = sqlite3_column_int64(s, 2);
		iv[n].end = sqlite3_column_int64(s, 3);
		n++;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);

	/* problems are written into why, so iv is freed before failing */
	why[0] = '\0';
	/* each suite drove each board: the overlap check below means
	 * something only then */
	for (int64_t su = 1; su <= 2; su++)
		for (int bd = 0; bd < 2; bd++) {
			char id[8];
			size_t k = 0;

			snprintf(id, sizeof(id), "vb%d", bd);
			for (size_t i = 0; i < n; i++)
				k += iv[i].suite == su && !strcmp(iv[i].board, id);
			if (!k && !why[0])
				snprintf(why, sizeof(why), "suite %" PRId64
					 " ran nothing on %s", su, id);
		}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			if (iv[i].suite == iv[j].suite ||
			    strcmp(iv[i].board, iv[j].board) != 0)
				continue;
			if (iv[i].start > iv[i].end && !why[0])
				snprintf(why, sizeof(why), "a run on %s ended "
					 "before it started", iv[i].board);
			if (iv[i].start < iv[j].end && iv[j].start < iv[i].end &&
			    !why[0])
				snprintf(why, sizeof(why),
					 "board %s driven by suites %" PRId64
					 " and %" PRId64 " at once: [%" PRId64
					 ", %" PRId64 "] overlaps [%" PRId64
					 ", %" PRId64 "]", iv[i].board,
					 iv[i].suite, iv[j].suite, iv[i].start,
					 iv[i].end, iv[j].start, iv[j].end);
		}
	free(iv);
	if (why[0])
		fail_msg("%s", why);
	assert_int_equal(nsuites, 2);
	assert_int_equal(nopen, 0);
	/* both released their boards */
	assert_int_equal(nleases, 0);
	assert_int_equal(nlogs, (int64_t)n);
	if (nshared != 0)
		fail_msg("%" PRId64 " pairs of runs name the same console log "
			 "(in %s/runs/console): the later run overwrote the "
			 "earlier one's", nshared, c->rack.dir);
}

struct hold_watch {
	const char *db;
	char wal[4300];
	char like[64];
	struct e2e_proc *holder;
	bool holds;
};

/* Does the holder hold both boards' leases yet? Read the store only once
 * its WAL exists (the store is created and in WAL mode), so this reader
 * never races the holder's own opening of the file. */
static bool holds_both(void *ud)
{
	struct hold_watch *w = ud;
	char sql[256];
	sqlite3 *db;

	if (w->holder->exited)
		return true;
	if (access(w->wal, F_OK) != 0)
		return false;
	db = e2e_db_open(w->db);
	if (!db)
		return false;
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM leases WHERE holder LIKE '%s'", w->like);
	/* the tables come a moment after the WAL (the holder migrates) */
	w->holds = e2e_db_int(db, "SELECT count(*) FROM sqlite_master WHERE "
			      "name = 'leases'", 0) == 1 &&
		   e2e_db_int(db, sql, 0) == 2;
	sqlite3_close(db);
	return w->holds;
}

static void tick(uv_timer_t *t)
{
	(void)t; /* only wakes the loop, so the store is read again */
}

static void no_wait_is_refused_naming_the_holder(void **state)
{
	struct e2e_ctx *c = *state;
	struct hold_watch w = { 0 };
	struct e2e_proc a, third;
	sqlite3_stmt *s = NULL;
	uv_timer_t timer;
	uv_loop_t loop;
	sqlite3 *db;
	char path[4200], sql[256], bad[512] = "";
	int nruns = 0;
	bool a_alive;

	snprintf(path, sizeof(path), "%s/held.db", c->rack.dir);
	uv_loop_init(&loop);
	assert_int_equal(start_run(c, &loop, &a, path, "holder", false), 0);
	w.db = path;
	w.holder = &a;
	snprintf(w.wal, sizeof(w.wal), "%s-wal", path);
	snprintf(w.like, sizeof(w.like), "%d@%%", a.h.pid);
	uv_timer_init(&loop, &timer);
	uv_timer_start(&timer, tick, 10, 10);
	if (pl_test_loop_until(&loop, holds_both, &w, 60000) != 0 || !w.holds) {
		uv_timer_stop(&timer);
		e2e_wait(&loop, &a, E2E_RUN_DEADLINE_MS);
		fail_msg("the first controller (exit %d) was never seen holding "
			 "both boards' leases in %s", a.code, path);
	}
	uv_timer_stop(&timer);

	assert_int_equal(start_run(c, &loop, &third, path, "refused", true), 0);
	e2e_wait(&loop, &third, E2E_RUN_DEADLINE_MS);
	a_alive = !a.exited;
	e2e_wait(&loop, &a, E2E_RUN_DEADLINE_MS);
	pl_test_loop_drain(&loop);
	if (!a_alive && third.code != PL_EXIT_LAB_ERROR)
		fail_msg("the holder ended before the --no-wait run did: the "
			 "order this case needs was not established");
	expect_exit(&third, PL_EXIT_LAB_ERROR, "--no-wait run");
	expect_exit(&a, PL_EXIT_OK, "holding run");

	db = e2e_db_open(path);
	assert_non_null(db);
	snprintf(sql, sizeof(sql), "SELECT board_id, verdict, reason FROM runs "
		 "WHERE controller_pid = %d", third.h.pid);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *board = (const char *)sqlite3_column_text(s, 0);
		const char *v = (const char *)sqlite3_column_text(s, 1);
		const char *why = (const char *)sqlite3_column_text(s, 2);
		char want[64];

		snprintf(want, sizeof(want), "leased by pid %d on ", a.h.pid);
		/* nothing ran on a board another holder keeps: not-run,
		 * with the holder named */
		if ((!v || strcmp(v, "not-run") != 0 || !why ||
		     !strstr(why, want)) && !bad[0])
			snprintf(bad, sizeof(bad), "run of the --no-wait "
				 "controller on %s: %s \"%s\", want not-run "
				 "\"%s...\"", board, v ? v : "open",
				 why ? why : "", want);
		nruns++;
	}
	sqlite3_finalize(s);
	if (bad[0]) {
		sqlite3_close(db);
		fail_msg("%s", bad);
	}
	/* it recorded its refused runs (an empty suite proves nothing) */
	assert_true(nruns > 0);
	/* and no run of the holder was disturbed or left open */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM runs WHERE "
		 "controller_pid = %d AND (state = 'open' OR verdict = "
		 "'lab-error')", a.h.pid);
	assert_int_equal(e2e_db_int(db, sql, -1), 0);
	assert_int_equal(e2e_db_int(db, "SELECT count(*) FROM leases", -1), 0);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_runs_at_once_never_share_a_board),
		cmocka_unit_test(no_wait_is_refused_naming_the_holder),
	};

	return cmocka_run_group_tests_name("/pl/e2e/concurrent", tests,
					   group_setup, e2e_ctx_teardown);
}
