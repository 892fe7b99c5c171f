/* SPDX-License-Identifier: MIT */
/*
 * /pl/results/leases: two real processes share one store. A lease held by
 * one is refused to the other; after the holder dies, its lease still counts
 * until it expires, then the other takes the board over. Store time comes
 * from injected clocks (argv for the helper, a variable here): no sleeps.
 * And two processes writing runs at once both succeed (BEGIN IMMEDIATE and
 * the busy timeout, not luck).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "pl_test.h"
#include "pl_test_store.h"
#include "patchlab/error.h"
#include "patchlab/store.h"

#define T0 1700000000000000000ull
#define MS 1000000ull

static uint64_t clock_of(void *ud)
{
	return *(uint64_t *)ud;
}

static void lease_moves_only_after_the_dead_holder_expires(void **state)
{
	char *dir = pl_test_tmpdir("lease"), *db, now[32];
	char *argv[] = { STORE_HELPER, "lease", NULL, "board7", now, "1000",
			 NULL };
	uint64_t t = T0 + 500 * MS;
	struct pl_store_opts o = { .clock = clock_of, .clock_data = &t };
	struct pl_lease_row *l;
	char holder[256], *cur = NULL;
	struct pl_store *st;
	struct child c;
	uv_loop_t loop;
	size_t n;

	(void)state;
	db = pl_test_store_target(dir, "patchlab.db");
	assert_non_null(db);
	argv[2] = db;
	snprintf(now, sizeof(now), "%llu", T0);
	uv_loop_init(&loop);
	assert_int_equal(child_start(&loop, &c, argv), 0);
	assert_int_equal(pl_test_loop_until(&loop, child_has_line, &c, 30000),
			 0);
	assert_int_equal(sscanf(c.buf.s, "held %255s", holder), 1);
	assert_non_null(strchr(holder, '@'));
	pl_strbuf_free(&c.buf);

	assert_int_equal(pl_store_open(&st, db, &o), 0);
	assert_int_equal(pl_store_lease_take(st, "board7", NULL, 1000, &cur),
			 -PL_ELEASED);
	assert_string_equal(cur, holder);
	free(cur);
	/* another board is free */
	assert_int_equal(pl_store_lease_take(st, "board8", NULL, 1000, NULL),
			 0);

	child_kill(&loop, &c);
	assert_int_equal(c.signal, SIGKILL);
	/* dead, but its lease runs until T0 + 1000 ms */
	assert_int_equal(pl_store_lease_take(st, "board7", NULL, 1000, NULL),
			 -PL_ELEASED);
	t = T0 + 1000 * MS; /* expiry is exclusive: at T0+1000 it is free */
	assert_int_equal(pl_store_lease_take(st, "board7", NULL, 1000, NULL),
			 0);
	assert_int_equal(pl_store_list_leases(st, &l, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(l[0].board_id, "board7");
	assert_string_equal(l[0].holder, pl_store_holder(st));
	assert_int_equal(l[0].taken_ns, t);
	pl_store_leases_free(l, n);

	/* and now a new process is the one refused, naming us */
	snprintf(now, sizeof(now), "%llu", T0 + 1500 * MS);
	assert_int_equal(child_start(&loop, &c, argv), 0);
	assert_int_equal(pl_test_loop_until(&loop, child_has_line, &c, 30000),
			 0);
	assert_int_equal(sscanf(c.buf.s, "busy %255s", holder), 1);
	assert_string_equal(holder, pl_store_holder(st));
	pl_strbuf_free(&c.buf);
	child_kill(&loop, &c);

	pl_store_close(st);
	pl_test_loop_drain(&loop);
	pl_test_rmrf(dir);
	free(dir);
	free(db);
}

static void two_writers_at_once_both_succeed(void **state)
{
	char *dir = pl_test_tmpdir("hammer"), *db;
	char *argv[] = { STORE_HELPER, "hammer", NULL, "300", NULL };
	struct pl_run_info ri = { .board_id = "here", .board_type = "t",
				  .scenario = "s" };
	struct pl_run_row *rows;
	struct pl_run_filter f = { 0 };
	struct pl_store *st;
	struct child c;
	uv_loop_t loop;
	int64_t id;
	size_t n;

	(void)state;
	db = pl_test_store_target(dir, "patchlab.db");
	assert_non_null(db);
	argv[2] = db;
	assert_int_equal(pl_store_open(&st, db, NULL), 0);
	uv_loop_init(&loop);
	assert_int_equal(child_start(&loop, &c, argv), 0);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(pl_store_run_begin(st, &ri, &id), 0);
		assert_int_equal(pl_store_run_end(st, id, PL_VERDICT_PASS,
						  NULL), 0);
		uv_run(&loop, UV_RUN_NOWAIT); /* keep reading its stdout */
	}
	assert_int_equal(child_wait(&loop, &c, 60000), 0);
	assert_int_equal(c.status, 0);
	assert_string_equal(c.buf.s, "done 300\n");
	pl_strbuf_free(&c.buf);
	assert_int_equal(pl_store_list_runs(st, &f, &rows, &n), 0);
	assert_int_equal(n, 600);
	for (size_t i = 0; i < n; i++)
		assert_false(rows[i].open);
	pl_store_runs_free(rows, n);
	pl_store_close(st);
	pl_test_loop_drain(&loop);
	pl_test_rmrf(dir);
	free(dir);
	free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lease_moves_only_after_the_dead_holder_expires),
		cmocka_unit_test(two_writers_at_once_both_succeed),
	};
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/results/leases", tests, NULL,
					   NULL);
}
