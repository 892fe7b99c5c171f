/* SPDX-License-Identifier: MIT */
/*
 * /pl/results/store-alloc: the result store under allocation failure
 * (issue 10). A whole recording -- open (creating the schema), suite begin,
 * run begin, three events, run end, suite end, close -- runs with
 * allocation n failed, for n = 1, 2, ... until it runs through without
 * meeting the failure. Our code, SQLite (SQLITE_CONFIG_MALLOC) and jansson
 * (json_set_alloc_funcs) all allocate through the counting allocator.
 *
 * Each failed recording must stop with -ENOMEM, or -EIO with an error
 * logged that names the database (or -EINVAL "params not a JSON object"
 * when jansson's parser took its failure for a syntax error), or succeed whole (SQLite does without
 * some allocations: lookaside, page-cache bulk); leave nothing allocated (LeakSanitizer,
 * in build-asan); and leave a database that
 * opens, passes PRAGMA integrity_check and holds no half-written run: a run
 * is ended with its verdict and all three events, or still open with the
 * events recorded before the failure (as after a crash).
 *
 * unit_results_store_alloc_pg sweeps the same recording on PostgreSQL
 * (pl_test_store.h): there our code and jansson are swept, libpq's own
 * allocations are not (a shared library's calls are not wrapped).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "failalloc.h"
#include "patchlab/error.h"
#include "patchlab/store.h"
#include "pl_test.h"
#include "pl_test_store.h"

/* Under ASan, LeakSanitizer checks every LEAK_EVERY failed operations
 * (a check scans the heap: after each one the sweep would take minutes),
 * so a leak is pinned to the last LEAK_EVERY allocations swept; and at
 * exit. Without ASan there is no leak check. */
#define LEAK_EVERY 256
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAKED(n) ((n) % LEAK_EVERY == 0 && \
		   __lsan_do_recoverable_leak_check() != 0)
#else
#define LEAKED(n) false
#endif

/* ---------------------------------------------- SQLite through failalloc */

#define HDR 16 /* keeps SQLite's 8-byte alignment; holds the size */

static void *sq_malloc(int n)
{
	char *p = pl_fa_malloc((size_t)n + HDR);

	if (!p)
		return NULL;
	*(size_t *)p = (size_t)n;
	return p + HDR;
}

static void sq_free(void *p)
{
	if (p)
		pl_fa_free((char *)p - HDR);
}

static void *sq_realloc(void *p, int n)
{
	char *q;

	if (!p)
		return sq_malloc(n);
	q = pl_fa_realloc((char *)p - HDR, (size_t)n + HDR);
	if (!q)
		return NULL;
	*(size_t *)q = (size_t)n;
	return q + HDR;
}

static int sq_size(void *p)
{
	return p ? (int)*(size_t *)((char *)p - HDR) : 0;
}

static int sq_roundup(int n)
{
	return (n + 7) & ~7;
}

static int sq_init(void *ud)
{
	(void)ud;
	return SQLITE_OK;
}

static void sq_shutdown(void *ud)
{
	(void)ud;
}

static const sqlite3_mem_methods sq_methods = {
	sq_malloc, sq_free, sq_realloc, sq_size, sq_roundup, sq_init,
	sq_shutdown, NULL,
};

/* ------------------------------------------------------------ the sweep */

struct fx {
	char *dir;
	char *path;
	struct pl_test_logcap cap;
};

static uint64_t fixed_clock(void *ud)
{
	(void)ud;
	return 1700000000ull * 1000000000ull;
}

/* The recording; returns 0 or the first error (and stops there). */
static int record(struct fx *f)
{
	struct pl_store_opts o = { .clock = fixed_clock, .log = &f->cap.log,
				   .holder = "ctl-alloc" };
	struct pl_suite_info si = { .name = "s", .file = "s.yaml", .seed = 1 };
	struct pl_run_info ri = {
		.board_id = "vb0", .board_type = "virtual-mcu",
		.scenario = "cut", .params_json = "{\"n\":3}",
		.cut = { .phase = PL_CUT_DURING, .op_index = 2, .phi = 0.5,
			 .kind = "erase", .aimed_by = "console" },
	};
	struct pl_store *st = NULL;
	int64_t suite = 0, run = 0;
	int rc;

	rc = pl_store_open(&st, f->path, &o);
	if (rc)
		return rc;
	rc = pl_store_suite_begin(st, &si, &suite);
	ri.suite_id = suite;
	if (!rc)
		rc = pl_store_run_begin(st, &ri, &run);
	if (!rc)
		rc = pl_store_event_power(st, run, "off", 100, 150, 900);
	if (!rc)
		rc = pl_store_event_trigger(st, run, "erase sector", 90, 100);
	if (!rc)
		rc = pl_store_run_event(st, run, 2000, PL_EV_LOG,
					"{\"msg\":\"hello\"}");
	if (!rc)
		rc = pl_store_run_end(st, run, PL_VERDICT_BRICKED, "no boot");
	if (!rc)
		rc = pl_store_suite_end(st, suite, "fail");
	pl_store_close(st);
	return rc;
}

/* What a recording left: whole or absent, never half; complete says it
 * reported success, so the ended run must be there. */
static void check_db(struct fx *f, bool complete)
{
	struct pl_store_opts o = { .clock = fixed_clock, .log = &f->cap.log,
				   .holder = "ctl-check" };
	struct pl_store *st = NULL;
	struct pl_run_row *runs, *run;
	struct pl_event_row *ev;
	size_t n, nev;
	sqlite3 *db;
	sqlite3_stmt *s;

	if (pl_test_store_is_pg())
		goto check_store; /* the server checks its own pages */
	if (access(f->path, F_OK) != 0) {
		assert_false(complete);
		return; /* failed before the file was made */
	}
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1,
					    &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
	sqlite3_close(db);
check_store:
	/* the schema is whole: the store opens it as it is */
	assert_int_equal(pl_store_open(&st, f->path, &o), 0);
	assert_int_equal(pl_store_list_runs(st, NULL, &runs, &n), 0);
	assert_true(n <= 1);
	assert_true(!complete || (n == 1 && !runs[0].open));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(pl_store_get_run(st, runs[i].id, &run, &ev,
						  &nev), 0);
		if (!run->open) {
			assert_int_equal(run->verdict, PL_VERDICT_BRICKED);
			assert_string_equal(run->reason, "no boot");
			assert_int_equal(nev, 3);
		} else {
			/* stopped mid-run: what was recorded before the
			 * failure, flushed on close, as after a crash */
			assert_true(nev <= 3);
		}
		pl_store_run_free(run, ev, nev);
	}
	pl_store_runs_free(runs, n);
	pl_store_close(st);
}

static void store_survives_every_allocation_failure(void **state)
{
	struct fx f = { 0 };
	unsigned long points = 0, enomem = 0, eio = 0, einval = 0, absorbed = 0;
	int rc;

	(void)state;
	f.dir = pl_test_tmpdir("store-alloc");
	assert_non_null(f.dir);
	f.path = pl_test_store_target(f.dir, "patchlab.db");
	assert_non_null(f.path);
	pl_test_logcap_init(&f.cap, "store");

	/* without failures it records (and warms SQLite's one-time state) */
	assert_int_equal(record(&f), 0);
	check_db(&f, true);
	for (unsigned long n = 1;; n++) {
		if (pl_test_store_is_pg())
			assert_int_equal(pl_test_store_exec(f.path, NULL,
				"DROP SCHEMA public CASCADE;"
				"CREATE SCHEMA public"), 0);
		else
			unlink(f.path);
		f.cap.errors = 0;
		f.cap.last[0] = '\0';
		pl_fa_arm(n);
		rc = record(&f);
		pl_fa_disarm();
		if (!pl_fa_failed()) {
			assert_int_equal(rc, 0);
			points = n - 1;
			break;
		}
		if (rc == -EIO) {
			/* a logged error that names the database */
			assert_true(f.cap.errors > 0);
			if (!strstr(f.cap.last, f.path))
				fail_msg("allocation %lu: error not naming %s: %s",
					 n, f.path, f.cap.last);
			eio++;
		} else if (rc == -ENOMEM) {
			enomem++;
		} else if (rc == -EINVAL) {
			/* jansson's parser reports some of its allocation
			 * failures as a syntax error: the store can only say
			 * the params did not parse (logged, naming the db) */
			assert_true(f.cap.errors > 0);
			assert_non_null(strstr(f.cap.last, f.path));
			assert_non_null(strstr(f.cap.last, "not a JSON object"));
			einval++;
		} else if (rc == 0) {
			absorbed++; /* SQLite's benign allocations: it does
				     * without; the recording must be whole */
		} else {
			fail_msg("allocation %lu failed: rc %d (%s)", n, rc,
				 f.cap.last);
		}
		if (LEAKED(n))
			fail_msg("allocation %lu failed: memory leaked (in "
				 "the last %d failures)", n, LEAK_EVERY);
		check_db(&f, rc == 0);
		assert_true(n < 1000000);
	}
	printf("store: %lu allocations swept: %lu -ENOMEM, %lu -EIO, %lu "
	       "-EINVAL (jansson), %lu absorbed\n", points, enomem, eio,
	       einval, absorbed);
	assert_true(points > 100);
	pl_test_rmrf(f.dir);
	free(f.path);
	free(f.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(store_survives_every_allocation_failure),
	};

	/* thousands of databases are written: in memory when we can (the
	 * sweep checks memory handling, not the disk) */
	if (access("/dev/shm", W_OK | X_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
	/* before SQLite initialises: every allocation of it is counted */
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &sq_methods) != SQLITE_OK)
		return 1;
	json_set_alloc_funcs(pl_fa_malloc, pl_fa_free);
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/results/store-alloc", tests,
					   NULL, NULL);
}
