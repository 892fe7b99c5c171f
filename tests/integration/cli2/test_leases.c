/* SPDX-License-Identifier: MIT */
/*
 * /pl/leases: two real processes (lease_helper, each with its own store
 * handle and struct pl_leases on its own loop) contend for one board in one
 * database. Ordering comes from their stdout lines, expiry from the
 * injected store clocks they are told to move: no sleeps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli2_util.h"
#include "patchlab/error.h"
#include "pl_test.h"

#define T0 1700000000000000000ull
#define MS 1000000ull
#define WAIT C2_DEADLINE_MS

struct pair {
	char *dir, *db;
	struct c2_proc a, b;
	char ha[256], hb[256]; /* their holder names */
};

static void start(struct c2_proc *p, const char *db, const char *ttl,
		  uint64_t now, char *holder)
{
	char nows[32], *line;
	char *argv[] = { LEASE_HELPER, (char *)db, (char *)ttl, nows, "5",
			 NULL };

	snprintf(nows, sizeof(nows), "%llu", (unsigned long long)now);
	assert_int_equal(c2_start(p, argv, false), 0);
	assert_int_equal(c2_line(p, &line, WAIT), 0);
	assert_int_equal(sscanf(line, "ready %255s", holder), 1);
	free(line);
}

/* The next line of p is exactly want. */
static void expect(struct c2_proc *p, const char *want)
{
	char *line = NULL;
	int err = c2_line(p, &line, WAIT);

	if (err)
		fail_msg("waiting for '%s': %s", want, strerror(-err));
	if (strcmp(line, want) != 0)
		fail_msg("got '%s', want '%s'", line, want);
	free(line);
}

/*
 * Issue 12 item 3: leases bind the hardware, not a store. Two controllers
 * with different stores on one lab: the second cannot take a board the
 * first holds, a manual command on a third store is refused naming the
 * holder, and the board comes free the moment the holder dies (SIGKILL:
 * the kernel drops its lock; no lease expiry to wait out).
 */
static void two_stores_on_one_lab_never_share_a_board(void **state)
{
	struct pair *p = *state;
	char *dba, *dbb, *dbc, *lab, *locks, *err = NULL, *line = NULL;
	char nows[32], want[128];
	FILE *f;
	int rc;

	assert_true(asprintf(&dba, "%s/a.db", p->dir) > 0);
	assert_true(asprintf(&dbb, "%s/b.db", p->dir) > 0);
	assert_true(asprintf(&dbc, "%s/c.db", p->dir) > 0);
	assert_true(asprintf(&lab, "%s/lab.yaml", p->dir) > 0);
	assert_true(asprintf(&locks, "%s/locks", p->dir) > 0);
	assert_int_equal(setenv("PATCHLAB_LOCK_DIR", locks, 1), 0);
	f = fopen(lab, "w");
	assert_non_null(f);
	fprintf(f, "boards:\n  - id: vb0\n    type: virtual-mcu\n"
		   "    power: {driver: virtual}\n"
		   "    console: {driver: tty, path: %s/vb0.console}\n",
		p->dir);
	fclose(f);
	snprintf(nows, sizeof(nows), "%llu", (unsigned long long)T0);
	{
		char *a[] = { LEASE_HELPER, dba, "30000", nows, "5", lab, NULL };
		char *b[] = { LEASE_HELPER, dbb, "30000", nows, "5", lab, NULL };

		assert_int_equal(c2_start(&p->a, a, false), 0);
		assert_int_equal(c2_line(&p->a, &line, WAIT), 0);
		free(line);
		assert_int_equal(c2_start(&p->b, b, false), 0);
		assert_int_equal(c2_line(&p->b, &line, WAIT), 0);
		free(line);
	}
	c2_send(&p->a, "take vb0");
	expect(&p->a, "taken vb0");
	/* another store, the same board: refused, naming a's process */
	c2_send(&p->b, "try vb0");
	assert_int_equal(c2_line(&p->b, &line, WAIT), 0);
	snprintf(want, sizeof(want), "busy vb0 pid %d on ", (int)p->a.pid);
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("got '%s', want '%s...'", line, want);
	free(line);
	/* a person's `patchlab power` on a third store: exit 2, says whom */
	{
		char *argv[] = { (char *)pl_test_patchlab(), "power", "vb0",
				 "off", "--lab", lab, "--db", dbc, "--no-wait",
				 NULL };

		rc = pl_test_run_capture(argv, NULL, &err);
		snprintf(want, sizeof(want), "board vb0 is driven by pid %d on ",
			 (int)p->a.pid);
		if (rc != 2 || !err || !strstr(err, want))
			fail_msg("power vb0 off: exit %d, stderr: %s (want "
				 "'%s...')", rc, err ? err : "", want);
		free(err);
	}
	c2_send(&p->b, "take vb0");
	expect(&p->b, "waiting vb0");
	c2_kill(&p->a); /* dies holding it */
	expect(&p->b, "taken vb0");
	assert_int_equal(c2_finish(&p->b, WAIT), 0);
	unsetenv("PATCHLAB_LOCK_DIR");
	free(dba);
	free(dbb);
	free(dbc);
	free(lab);
	free(locks);
}

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	p->dir = pl_test_tmpdir("leases");
	if (asprintf(&p->db, "%s/patchlab.db", p->dir) < 0)
		return -1;
	p->a.pid = p->b.pid = 0;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	if (p->a.pid > 0 && p->a.status < 0)
		c2_kill(&p->a);
	if (p->b.pid > 0 && p->b.status < 0)
		c2_kill(&p->b);
	pl_test_rmrf(p->dir);
	free(p->dir);
	free(p->db);
	free(p);
	return 0;
}

static void waiting_take_gets_the_board_when_the_holder_releases(void **state)
{
	struct pair *p = *state;
	char want[512];

	start(&p->a, p->db, "30000", T0, p->ha);
	start(&p->b, p->db, "30000", T0, p->hb);
	assert_string_not_equal(p->ha, p->hb);

	c2_send(&p->a, "take vb0");
	expect(&p->a, "taken vb0");
	c2_send(&p->b, "try vb0");
	snprintf(want, sizeof(want), "busy vb0 %s", p->ha);
	expect(&p->b, want);
	c2_send(&p->b, "take vb0");
	expect(&p->b, "waiting vb0");
	/* a's second take of the same board is refused, not re-queued */
	c2_send(&p->a, "take vb0");
	snprintf(want, sizeof(want), "failed vb0 %d", -EALREADY);
	expect(&p->a, want);

	c2_send(&p->a, "release vb0");
	expect(&p->a, "released vb0 0");
	expect(&p->b, "taken vb0");
	/* and now a is the one refused, naming b */
	c2_send(&p->a, "try vb0");
	snprintf(want, sizeof(want), "busy vb0 %s", p->hb);
	expect(&p->a, want);

	assert_int_equal(c2_finish(&p->a, WAIT), 0);
	assert_int_equal(c2_finish(&p->b, WAIT), 0);
}

static void expired_lease_of_a_dead_holder_is_taken_over(void **state)
{
	struct pair *p = *state;
	char want[512];

	start(&p->a, p->db, "1000", T0, p->ha);
	start(&p->b, p->db, "1000", T0 + 100 * MS, p->hb);
	c2_send(&p->a, "take vb0");
	expect(&p->a, "taken vb0");
	c2_kill(&p->a);
	assert_int_equal(p->a.status, 128 + 9);

	/* dead, but its lease runs until T0 + 1000 ms of store time */
	c2_send(&p->b, "try vb0");
	snprintf(want, sizeof(want), "busy vb0 %s", p->ha);
	expect(&p->b, want);
	c2_send(&p->b, "take vb0");
	expect(&p->b, "waiting vb0");
	snprintf(want, sizeof(want), "clock %llu",
		 (unsigned long long)(T0 + 1000 * MS));
	c2_send(&p->b, "clock %llu", (unsigned long long)(T0 + 1000 * MS));
	expect(&p->b, want);
	expect(&p->b, "taken vb0");
	assert_int_equal(c2_finish(&p->b, WAIT), 0);
}

static void holder_whose_lease_expired_hears_it_was_taken_over(void **state)
{
	struct pair *p = *state;
	char want[512];

	/* a's clock stands still at T0: its renewals (every 100 ms of real
	 * time) keep the lease ending at T0 + 300 ms of store time; b lives
	 * at T0 + 300 ms, where that lease has expired */
	start(&p->a, p->db, "300", T0, p->ha);
	start(&p->b, p->db, "300", T0 + 300 * MS, p->hb);
	c2_send(&p->a, "take vb0");
	expect(&p->a, "taken vb0");
	c2_send(&p->b, "try vb0");
	expect(&p->b, "taken vb0");
	/* a's next renewal finds b holding the board */
	snprintf(want, sizeof(want), "lost vb0 %d %s", -PL_ELEASED, p->hb);
	expect(&p->a, want);
	c2_send(&p->a, "release vb0");
	snprintf(want, sizeof(want), "released vb0 %d", -ENOENT);
	expect(&p->a, want);
	assert_int_equal(c2_finish(&p->a, WAIT), 0);
	assert_int_equal(c2_finish(&p->b, WAIT), 0);
}

static void waiting_take_is_cancelled_by_release_and_by_close(void **state)
{
	struct pair *p = *state;
	char want[512];

	start(&p->a, p->db, "30000", T0, p->ha);
	start(&p->b, p->db, "30000", T0, p->hb);
	c2_send(&p->a, "take vb0");
	expect(&p->a, "taken vb0");
	c2_send(&p->b, "take vb0");
	expect(&p->b, "waiting vb0");
	/* the callback hears of the cancel from inside release */
	c2_send(&p->b, "release vb0");
	snprintf(want, sizeof(want), "failed vb0 %d", -PL_ECANCELED);
	expect(&p->b, want);
	expect(&p->b, "released vb0 0");
	/* a release did not give the board away */
	c2_send(&p->b, "try vb0");
	snprintf(want, sizeof(want), "busy vb0 %s", p->ha);
	expect(&p->b, want);
	/* and closing the module cancels a waiting take too */
	c2_send(&p->b, "take vb0");
	expect(&p->b, "waiting vb0");
	close(p->b.in);
	p->b.in = -1;
	snprintf(want, sizeof(want), "failed vb0 %d", -PL_ECANCELED);
	expect(&p->b, want);
	assert_int_equal(c2_finish(&p->b, WAIT), 0);
	assert_int_equal(c2_finish(&p->a, WAIT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			waiting_take_gets_the_board_when_the_holder_releases,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			expired_lease_of_a_dead_holder_is_taken_over, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			holder_whose_lease_expired_hears_it_was_taken_over,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			waiting_take_is_cancelled_by_release_and_by_close,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			two_stores_on_one_lab_never_share_a_board, setup,
			teardown),
	};

	return cmocka_run_group_tests_name("/pl/leases", tests, NULL, NULL);
}
