/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/killrack: the lab dies under a running suite.
 *
 * On a real virtual rack of two `good` boards, scenarios/suites/quick.yaml
 * runs in a child controller. The test waits (on the store and the run's
 * console log, with a deadline: never a sleep) until a run is in the
 * middle of an update, then SIGKILLs the rack process (DIR/rack.pid) and
 * checks:
 *   - the controller exits 2 (lab error);
 *   - every run it opened is recorded and closed; the runs that were in
 *     flight at the kill end `lab-error` (a run seen open that closed
 *     before the kill landed may keep its device verdict);
 *   - no run anywhere ends bricked or recovered: a dead lab is never a
 *     dead device;
 *   - `vrack up` again on the same directory keeps each board's flash
 *     file byte for byte, and every board boots from it
 *     (tests/data/e2e/scenarios/suites/boot.yaml, exit 0).
 * Then the rack frozen (SIGSTOP) under a suite: the run in flight ends
 * lab-error, never bricked (test_freeze_rack_mid_suite); and the
 * controller SIGKILLed: the next one switches off a board it does not use
 * and closes the killed suite incomplete
 * (test_killed_controller_is_cleaned_up). And a rack of its own killed
 * while console:send waits for its bytes to leave: the run ends lab-error
 * at once, saying the console was lost (test_console_lost_while_send_waits).
 * Every child is reaped (the killed rack too); the rack is powered off,
 * taken down and reaped. PL_KEEP_RACK=1 keeps the rack directory.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

#define WAIT_MS 120000u
#define MAX_OPEN 16

struct ctx {
	struct e2e_rack rack;
	char *quick, *boot;
	char db[4200], out[4200], log[4200];
	/* the wait for a run in flight */
	sqlite3 *sdb;
	int64_t open_ids[MAX_OPEN];
	int nopen;
};

static int group_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	*state = c;
	if (!c)
		return -1;
	c->quick = pl_test_source_path("scenarios/suites/quick.yaml");
	c->boot = pl_test_source_path("tests/data/e2e/scenarios/suites/boot.yaml");
	setenv("PROFILE", "good", 1);
	return e2e_rack_up(&c->rack, "e2e-killrack", 2, "good,good");
}

static int group_teardown(void **state)
{
	struct ctx *c = *state;
	int rc;

	if (!c)
		return 0;
	rc = e2e_rack_down(&c->rack);
	free(c->quick);
	free(c->boot);
	free(c);
	return rc;
}

static bool contains_file(const char *path, const char *needle)
{
	char *s = path ? pl_test_slurp(path) : NULL;
	bool yes = s && strstr(s, needle);

	free(s);
	return yes;
}

/* A run is open in the store and its console shows an update under way. */
static bool run_in_flight(void *ud)
{
	struct ctx *c = ud;
	sqlite3_stmt *s = NULL;
	bool found = false;

	if (!e2e_db_once(&c->sdb, c->db))
		return false;
	if (sqlite3_prepare_v2(c->sdb, "SELECT id, console_log FROM runs "
			       "WHERE state = 'open' ORDER BY id", -1, &s,
			       NULL) != SQLITE_OK)
		return false; /* the schema may not be there yet */
	c->nopen = 0;
	while (sqlite3_step(s) == SQLITE_ROW && c->nopen < MAX_OPEN) {
		const char *log = (const char *)sqlite3_column_text(s, 1);

		c->open_ids[c->nopen++] = sqlite3_column_int64(s, 0);
		if (contains_file(log, "erase sector"))
			found = true;
	}
	sqlite3_finalize(s);
	return found;
}

static void tick(uv_timer_t *t)
{
	(void)t; /* wakes the loop so run_in_flight is checked again */
}

/* Start quick.yaml in a child controller (out, log: c's) and wait, on
 * the store with a deadline, until a run is in the middle of an update. */
static void start_until_in_flight(struct ctx *c, uv_loop_t *loop,
				  uv_timer_t *timer, struct e2e_proc *p)
{
	char *argv[] = { (char *)pl_test_patchlab(), "run", c->quick, "--lab",
			 c->rack.lab, "--out", c->out, "-q", NULL };
	char *log;

	uv_loop_init(loop);
	uv_timer_init(loop, timer);
	uv_timer_start(timer, tick, 5, 5);
	assert_int_equal(e2e_spawn(loop, p, NULL, c->log, argv), 0);
	if (pl_test_loop_until(loop, run_in_flight, c, WAIT_MS) == 0)
		return;
	e2e_wait(loop, p, 1);
	pl_test_loop_drain(loop);
	log = pl_test_slurp(c->log);
	fprintf(stderr, "%s\n", log ? log : "");
	free(log);
	fail_msg("no run in the middle of an update within %u ms", WAIT_MS);
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reap the killed rack (re-parented to us: we are its subreaper). */
static void reap_killed_rack(struct ctx *c)
{
	assert_int_equal(pl_test_reap(c->rack.pid, PL_TEST_REAP_DEADLINE_MS),
			 128 + SIGKILL);
	c->rack.pid = 0;
}

static void test_kill_rack_mid_suite(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc p;
	uv_loop_t loop;
	uv_timer_t timer;
	char sql[256], *log;
	int code;
	int64_t kill_ns;

	snprintf(c->out, sizeof(c->out), "%s/out", c->rack.dir);
	snprintf(c->db, sizeof(c->db), "%s/out/patchlab.db", c->rack.dir);
	snprintf(c->log, sizeof(c->log), "%s/run.log", c->rack.dir);
	start_until_in_flight(c, &loop, &timer, &p);
	/* the lab dies */
	assert_true(c->rack.pid > 0);
	assert_int_equal(kill(c->rack.pid, SIGKILL), 0);
	kill_ns = realtime_ns();
	uv_timer_stop(&timer);
	code = e2e_wait(&loop, &p, WAIT_MS);
	pl_test_loop_drain(&loop);
	reap_killed_rack(c);
	log = pl_test_slurp(c->log);
	fprintf(stderr, "killrack: %d run(s) open at the kill, controller "
		"exit %d\n", c->nopen, code);
	if (code != PL_EXIT_LAB_ERROR)
		fprintf(stderr, "%s\n", log ? log : "");
	free(log);
	assert_int_equal(code, PL_EXIT_LAB_ERROR);

	/* every run recorded and closed; nothing bricked */
	assert_true(e2e_db_int(c->sdb, "SELECT count(*) FROM runs", 0) >= 1);
	assert_int_equal(e2e_db_int(c->sdb, "SELECT count(*) FROM runs WHERE "
				    "state <> 'closed' OR verdict IS NULL", -1),
			 0);
	assert_int_equal(e2e_db_int(c->sdb, "SELECT count(*) FROM runs WHERE "
				    "verdict IN ('bricked', 'recovered')", -1),
			 0);
	assert_true(e2e_db_int(c->sdb, "SELECT count(*) FROM runs WHERE "
			       "verdict = 'lab-error'", 0) >= 1);
	for (int i = 0; i < c->nopen; i++) {
		snprintf(sql, sizeof(sql), "SELECT verdict = 'lab-error' OR "
			 "finished < %" PRId64 " FROM runs WHERE id = %" PRId64,
			 kill_ns, c->open_ids[i]);
		if (e2e_db_int(c->sdb, sql, 0) != 1)
			fail_msg("run %" PRId64 " was in flight at the kill "
				 "and did not end lab-error", c->open_ids[i]);
	}
	/* the suite is closed too */
	assert_int_equal(e2e_db_int(c->sdb, "SELECT count(*) FROM suites "
				    "WHERE finished IS NULL", -1), 0);
	sqlite3_close(c->sdb);
	c->sdb = NULL;
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n)) &&
	    fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	*len = b ? (size_t)n : 0;
	fclose(f);
	return b;
}

static void test_rack_comes_back(void **state)
{
	struct ctx *c = *state;
	unsigned char *before[2], *after[2];
	size_t lb[2], la[2];
	char path[4200], out[4200], db[4200], *txt = NULL;
	sqlite3 *sdb;
	int rc;

	assert_int_equal(c->rack.pid, 0); /* killed and reaped above */
	for (int b = 0; b < 2; b++) {
		snprintf(path, sizeof(path), "%s/vb%d.flash", c->rack.dir, b);
		before[b] = read_all(path, &lb[b]);
		assert_non_null(before[b]);
	}
	rc = e2e_patchlab(NULL, &txt, "vrack", "up", "--dir", c->rack.dir,
			  "--boards", "2", "--profile", "good,good", "--speed",
			  "20", NULL);
	c->rack.pid = pl_test_rack_pid(c->rack.dir);
	if (rc != 0 || c->rack.pid <= 0) {
		fprintf(stderr, "%s\n", txt ? txt : "");
		free(txt);
		fail_msg("vrack up again: exit %d (its output above)", rc);
	}
	free(txt);
	for (int b = 0; b < 2; b++) {
		snprintf(path, sizeof(path), "%s/vb%d.flash", c->rack.dir, b);
		after[b] = read_all(path, &la[b]);
		assert_non_null(after[b]);
		assert_int_equal(la[b], lb[b]);
		if (memcmp(before[b], after[b], la[b]))
			fail_msg("vb%d.flash changed across the restart", b);
		free(before[b]);
		free(after[b]);
	}
	/* the boards boot from what their flash kept */
	snprintf(out, sizeof(out), "%s/out-boot", c->rack.dir);
	snprintf(db, sizeof(db), "%s/out-boot/patchlab.db", c->rack.dir);
	rc = e2e_patchlab(NULL, &txt, "run", c->boot, "--lab", c->rack.lab,
			  "--out", out, "-q", NULL);
	if (rc != PL_EXIT_OK) {
		fprintf(stderr, "%s\n", txt ? txt : "");
		free(txt);
		fail_msg("boot suite after the restart: exit %d (its output "
			 "above)", rc);
	}
	free(txt);
	sdb = e2e_db_open(db);
	assert_non_null(sdb);
	assert_int_equal(e2e_db_int(sdb, "SELECT count(*) FROM runs WHERE "
				    "verdict = 'pass'", -1), 2);
	sqlite3_close(sdb);
}

/*
 * The rack frozen (SIGSTOP) under a running suite, for longer than a boot
 * and a probe request wait: the run in flight sees no boot and its
 * recovery gets no answer from the probe. That is the lab's failure, not
 * the device's (issue 12: it ended `bricked`, exit 1): the run ends
 * lab-error, the board is set aside, the runs after it are not-run, the
 * gate is stored `incomplete` and the controller exits 2. The rack is
 * let go on (SIGCONT) once the controller is done.
 */
static void test_freeze_rack_mid_suite(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc p;
	uv_loop_t loop;
	uv_timer_t timer;
	char *log;
	int code;

	assert_true(c->rack.pid > 0); /* back up after the test above */
	if (c->sdb) {
		sqlite3_close(c->sdb);
		c->sdb = NULL;
	}
	snprintf(c->out, sizeof(c->out), "%s/out-freeze", c->rack.dir);
	snprintf(c->db, sizeof(c->db), "%s/out-freeze/patchlab.db",
		 c->rack.dir);
	snprintf(c->log, sizeof(c->log), "%s/run-freeze.log", c->rack.dir);
	start_until_in_flight(c, &loop, &timer, &p);
	/* the lab freezes, and stays frozen until the controller is done */
	assert_int_equal(kill(c->rack.pid, SIGSTOP), 0);
	uv_timer_stop(&timer);
	code = e2e_wait(&loop, &p, WAIT_MS);
	assert_int_equal(kill(c->rack.pid, SIGCONT), 0);
	pl_test_loop_drain(&loop);
	log = pl_test_slurp(c->log);
	fprintf(stderr, "freezerack: %d run(s) open at the freeze, controller "
		"exit %d\n", c->nopen, code);
	if (code != PL_EXIT_LAB_ERROR)
		fprintf(stderr, "%s\n", log ? log : "");
	free(log);
	assert_int_equal(code, PL_EXIT_LAB_ERROR);
	/* no device verdict came out of a frozen lab */
	assert_int_equal(e2e_db_int(c->sdb, "SELECT count(*) FROM runs WHERE "
				    "state <> 'closed'", -1), 0);
	assert_int_equal(e2e_db_int(c->sdb, "SELECT count(*) FROM runs WHERE "
				    "verdict IN ('bricked', 'recovered', "
				    "'fail')", -1), 0);
	assert_true(e2e_db_int(c->sdb, "SELECT count(*) FROM runs WHERE "
			       "verdict = 'lab-error'", 0) >= 1);
	assert_int_equal(e2e_db_int(c->sdb, "SELECT count(*) FROM suites "
				    "WHERE gate = 'incomplete'", -1), 1);
	sqlite3_close(c->sdb);
	c->sdb = NULL;
}

/* The run's console log (the newest open run's) shows a write: the
 * scenario's flood has begun. */
static bool flood_started(void *ud)
{
	struct ctx *c = ud;
	sqlite3_stmt *s = NULL;
	bool found = false;

	if (!e2e_db_once(&c->sdb, c->db))
		return false;
	if (sqlite3_prepare_v2(c->sdb, "SELECT console_log FROM runs WHERE "
			       "state = 'open'", -1, &s, NULL) != SQLITE_OK)
		return false;
	while (!found && sqlite3_step(s) == SQLITE_ROW)
		found = contains_file((const char *)sqlite3_column_text(s, 0),
				      " w 4096 ");
	sqlite3_finalize(s);
	return found;
}

/*
 * The console lost while console:send waits for its bytes to leave: a rack
 * of its own, frozen (SIGSTOP) before the run, so the scenario's flood of
 * 4 KiB sends soon waits on a console that takes nothing; once a send is
 * in the console log the rack is SIGKILLed (its ptys close). The wait
 * listens for the loss: the run ends lab-error saying the console was
 * lost, not after the 30 s drain timeout ("did not leave in 30000 ms"),
 * and never with a device verdict.
 */
static void test_console_lost_while_send_waits(void **state)
{
	struct ctx *c = *state;
	struct e2e_rack rack = { 0 };
	struct e2e_proc p;
	uv_loop_t loop;
	uv_timer_t timer;
	char scen[4300], suite[4300], *log, *reason;
	char *argv[] = { (char *)pl_test_patchlab(), "run", suite, "--lab",
			 NULL, "--out", c->out, "--db", c->db, "-q", NULL };
	FILE *f;
	int code;

	if (c->sdb) {
		sqlite3_close(c->sdb);
		c->sdb = NULL;
	}
	assert_int_equal(e2e_rack_up(&rack, "e2e-killrack-send", 1, "good"), 0);
	argv[4] = rack.lab;
	snprintf(c->out, sizeof(c->out), "%s/out-send", rack.dir);
	snprintf(c->db, sizeof(c->db), "%s/send.db", rack.dir);
	snprintf(c->log, sizeof(c->log), "%s/run-send.log", rack.dir);
	snprintf(scen, sizeof(scen), "%s/flood.lua", rack.dir);
	snprintf(suite, sizeof(suite), "%s/flood.yaml", rack.dir);
	f = fopen(scen, "w");
	assert_non_null(f);
	fputs("local piece = string.rep(\"x\", 4096)\n"
	      "for i = 1, 4096 do board.console:send(piece) end\n"
	      "verdict.pass(\"sent 16 MiB to a frozen rack\")\n", f);
	assert_int_equal(fclose(f), 0);
	f = fopen(suite, "w");
	assert_non_null(f);
	fputs("name: flood\nruns:\n  - scenario: flood.lua\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(kill(rack.pid, SIGSTOP), 0);
	uv_loop_init(&loop);
	uv_timer_init(&loop, &timer);
	uv_timer_start(&timer, tick, 5, 5);
	assert_int_equal(e2e_spawn(&loop, &p, NULL, c->log, argv), 0);
	if (pl_test_loop_until(&loop, flood_started, c, WAIT_MS) != 0) {
		kill(rack.pid, SIGCONT);
		e2e_wait(&loop, &p, 1);
		fail_msg("no console write within %u ms", WAIT_MS);
	}
	assert_int_equal(kill(rack.pid, SIGKILL), 0);
	uv_timer_stop(&timer);
	code = e2e_wait(&loop, &p, WAIT_MS);
	pl_test_loop_drain(&loop);
	assert_int_equal(pl_test_reap(rack.pid, PL_TEST_REAP_DEADLINE_MS),
			 128 + SIGKILL);
	rack.pid = 0;
	log = pl_test_slurp(c->log);
	if (code != PL_EXIT_LAB_ERROR)
		fprintf(stderr, "%s\n", log ? log : "");
	free(log);
	assert_int_equal(code, PL_EXIT_LAB_ERROR);
	assert_int_equal(e2e_db_int(c->sdb, "SELECT count(*) FROM runs WHERE "
				    "verdict <> 'lab-error'", -1), 0);
	reason = e2e_db_text(c->sdb, "SELECT reason FROM runs LIMIT 1");
	assert_non_null(reason);
	fprintf(stderr, "consolelost-send: %s\n", reason);
	if (strstr(reason, "did not leave") || !strstr(reason, "lost"))
		fail_msg("the send's wait did not see the console go: %s",
			 reason);
	free(reason);
	sqlite3_close(c->sdb);
	c->sdb = NULL;
	assert_int_equal(e2e_rack_down(&rack), 0);
}

/* "vb0 profile=good power=on ..." of `vrack status`: is board id on? */
static int board_power(struct ctx *c, const char *id)
{
	char *out = NULL, key[64];
	const char *line;
	int on = -1;

	assert_int_equal(e2e_patchlab(NULL, &out, "vrack", "status", "--dir",
				      c->rack.dir, NULL), 0);
	snprintf(key, sizeof(key), "%s profile=", id);
	line = out ? strstr(out, key) : NULL;
	if (line) {
		const char *p = strstr(line, " power=");

		if (p)
			on = strncmp(p + 7, "on", 2) == 0;
	}
	free(out);
	return on;
}

/*
 * The controller SIGKILLed under a suite (the rack stays up): its boards
 * may stay powered, its suite open. The next controller on the same store,
 * running only on the other board, switches the dead controller's board
 * off too (a board of the lab left powered by a dead controller, though
 * this suite does not use it), closes the killed runs lab-error and the
 * killed suite `incomplete` (issue 12 item 5).
 */
static void test_killed_controller_is_cleaned_up(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc p;
	uv_loop_t loop;
	uv_timer_t timer;
	char *dir = NULL, *suite = NULL, *link = NULL, *src, *txt = NULL;
	char target[16], other[16];
	int rc;
	int64_t left;
	FILE *f;

	snprintf(c->out, sizeof(c->out), "%s/out-killctl", c->rack.dir);
	snprintf(c->db, sizeof(c->db), "%s/out-killctl/patchlab.db",
		 c->rack.dir);
	snprintf(c->log, sizeof(c->log), "%s/run-killctl.log", c->rack.dir);
	start_until_in_flight(c, &loop, &timer, &p);
	assert_int_equal(kill(p.h.pid, SIGKILL), 0);
	uv_timer_stop(&timer);
	assert_int_equal(e2e_wait(&loop, &p, WAIT_MS), 128 + SIGKILL);
	pl_test_loop_drain(&loop);
	/* a board the dead controller had a run open on, and the other */
	if (!c->sdb)
		c->sdb = e2e_db_open(c->db);
	assert_non_null(c->sdb);
	left = e2e_db_int(c->sdb, "SELECT CAST(substr(board_id, 3) AS "
			  "INTEGER) FROM runs WHERE state = 'open' ORDER BY "
			  "id LIMIT 1", -1);
	assert_true(left == 0 || left == 1);
	snprintf(target, sizeof(target), "vb%d", (int)left);
	snprintf(other, sizeof(other), "vb%d", 1 - (int)left);
	/* left powered (its run may have just cut it: then on by hand, as
	 * a dead controller may leave it) */
	if (board_power(c, target) != 1) {
		char *pdb = NULL;

		assert_true(asprintf(&pdb, "%s/power.db", c->rack.dir) > 0);
		assert_int_equal(e2e_patchlab(NULL, &txt, "power", target, "on",
					      "--lab", c->rack.lab, "--db", pdb,
					      NULL), 0);
		free(txt);
		txt = NULL;
		free(pdb);
	}
	assert_int_equal(board_power(c, target), 1);

	/* the next controller, on the other board only, same store */
	assert_true(asprintf(&dir, "%s/otheronly", c->rack.dir) > 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	src = pl_test_source_path("tests/data/e2e/scenarios/boot_only.lua");
	assert_true(asprintf(&link, "%s/boot_only.lua", dir) > 0);
	assert_int_equal(symlink(src, link), 0);
	assert_true(asprintf(&suite, "%s/other.yaml", dir) > 0);
	f = fopen(suite, "w");
	assert_non_null(f);
	fprintf(f, "name: other-only\nruns:\n  - scenario: boot_only.lua\n"
		"    on: {boards: [%s]}\n", other);
	assert_int_equal(fclose(f), 0);
	rc = e2e_patchlab(NULL, &txt, "run", suite, "--lab", c->rack.lab,
			  "--out", c->out, "-q", NULL);
	if (rc != PL_EXIT_OK)
		fprintf(stderr, "%s\n", txt ? txt : "");
	free(txt);
	assert_int_equal(rc, PL_EXIT_OK);
	/* the dead controller's board, not in this suite, was switched off */
	assert_int_equal(board_power(c, target), 0);
	/* the killed suite is closed incomplete; its runs closed */
	if (!c->sdb)
		c->sdb = e2e_db_open(c->db);
	assert_non_null(c->sdb);
	assert_int_equal(e2e_db_int(c->sdb, "SELECT count(*) FROM suites "
				    "WHERE name = 'quick' AND gate = "
				    "'incomplete'", -1), 1);
	assert_int_equal(e2e_db_int(c->sdb, "SELECT count(*) FROM runs "
				    "WHERE state = 'open'", -1), 0);
	sqlite3_close(c->sdb);
	c->sdb = NULL;
	free(src);
	free(link);
	free(suite);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_rack_mid_suite),
		cmocka_unit_test(test_rack_comes_back),
		cmocka_unit_test(test_freeze_rack_mid_suite),
		cmocka_unit_test(test_killed_controller_is_cleaned_up),
		cmocka_unit_test(test_console_lost_while_send_waits),
	};

	return cmocka_run_group_tests_name("/pl/e2e/killrack", tests,
					   group_setup, group_teardown);
}
