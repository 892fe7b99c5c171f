/* SPDX-License-Identifier: MIT */
/* /pl/results/store: runs and events read back, queries, leases with an
 * injected clock, schema versions. Cross-process behaviour (SIGKILL, leases
 * held by another process) is in tests/integration/results/. Runs on both
 * backends: unit_results_store (SQLite) and unit_results_store_pg (a real
 * PostgreSQL started by the test, pl_test_store.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include "pl_test.h"
#include "pl_test_store.h"
#include "patchlab/error.h"
#include "patchlab/store.h"

struct fx {
	char *dir;
	char *path;
	uint64_t now;
	struct pl_test_logcap cap;
	struct pl_store *st;
};

static uint64_t fake_clock(void *ud)
{
	return ((struct fx *)ud)->now;
}

static struct pl_store *open_store(struct fx *f, const char *holder)
{
	struct pl_store_opts o = {
		.clock = fake_clock, .clock_data = f, .log = &f->cap.log,
		.holder = holder,
	};
	struct pl_store *st = NULL;

	assert_int_equal(pl_store_open(&st, f->path, &o), 0);
	return st;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = pl_test_tmpdir("store");
	assert_non_null(f->dir);
	f->path = pl_test_store_target(f->dir, "patchlab.db");
	assert_non_null(f->path);
	f->now = 1700000000ull * 1000000000ull;
	pl_test_logcap_init(&f->cap, "store");
	f->st = open_store(f, "ctl-A");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl_store_close(f->st);
	assert_int_equal(f->cap.errors, 0);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static int64_t begin_run(struct fx *f, int64_t suite, const char *board,
			 const char *scenario)
{
	struct pl_run_info ri = {
		.suite_id = suite, .board_id = board, .board_type = "vboard",
		.image = "fw-2", .scenario = scenario,
		.params_json = "{\"slot\":\"b\",\"n\":3}",
		.cut = { .phase = PL_CUT_DURING, .op_index = 17, .phi = 0.25,
			 .kind = "erase", .aimed_by = "console" },
		.seed = 0xfeedbeefull, .console_log = "/tmp/x.log",
		.replay = "patchlab run s.yaml --seed 4276993775",
	};
	int64_t id = 0;

	assert_int_equal(pl_store_run_begin(f->st, &ri, &id), 0);
	assert_true(id > 0);
	return id;
}

static void run_is_recorded_and_read_back_with_its_events(void **state)
{
	struct fx *f = *state;
	struct pl_suite_info si = { .name = "s1", .file = "s.yaml",
				    .seed = 7, .cmdline = "patchlab run" };
	struct pl_run_row *run;
	struct pl_event_row *ev;
	size_t nev;
	int64_t suite, id;
	json_t *p;

	assert_int_equal(pl_store_suite_begin(f->st, &si, &suite), 0);
	id = begin_run(f, suite, "board1", "cut_during_swap");
	assert_int_equal(pl_store_event_power(f->st, id, "off", 100, 150, 900),
			 0);
	assert_int_equal(pl_store_event_trigger(f->st, id, "erase sector",
						90, 100), 0);
	assert_int_equal(pl_store_run_event(f->st, id, 2000, PL_EV_LOG, NULL),
			 0);
	f->now += 1500000000ull;
	assert_int_equal(pl_store_run_end(f->st, id, PL_VERDICT_BRICKED,
					  "no image boots"), 0);

	assert_int_equal(pl_store_get_run(f->st, id, &run, &ev, &nev), 0);
	assert_false(run->open);
	assert_int_equal(run->verdict, PL_VERDICT_BRICKED);
	assert_string_equal(run->reason, "no image boots");
	assert_string_equal(run->board_id, "board1");
	assert_string_equal(run->image, "fw-2");
	assert_int_equal(run->suite_id, suite);
	assert_int_equal(run->seed, 0xfeedbeefull);
	assert_int_equal(run->cut.phase, PL_CUT_DURING);
	assert_int_equal(run->cut.op_index, 17);
	assert_true(run->cut.phi == 0.25);
	assert_string_equal(run->cut.kind, "erase");
	assert_string_equal(run->cut.aimed_by, "console");
	assert_int_equal(run->duration_ns, 1500000000ull);
	assert_string_equal(run->controller, "ctl-A");
	assert_string_equal(run->replay,
			    "patchlab run s.yaml --seed 4276993775");
	p = json_loads(run->params_json, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(p, "n")), 3);
	json_decref(p);

	/* in time order: trigger match (90), power (100), log (2000) */
	assert_int_equal(nev, 3);
	assert_int_equal(ev[0].kind, PL_EV_TRIGGER);
	assert_int_equal(ev[1].kind, PL_EV_POWER);
	assert_int_equal(ev[2].kind, PL_EV_LOG);
	p = json_loads(ev[1].payload_json, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(p, "issued_ns")),
			 150);
	assert_int_equal(json_integer_value(json_object_get(p,
				"completed_ns")), 900);
	json_decref(p);
	p = json_loads(ev[0].payload_json, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(p, "latency_ns")),
			 10);
	json_decref(p);
	pl_store_run_free(run, ev, nev);
}

static void run_end_is_durable_for_a_second_connection(void **state)
{
	struct fx *f = *state;
	struct pl_store *other = open_store(f, "ctl-B");
	struct pl_run_row *run;
	struct pl_event_row *ev;
	size_t nev;
	int64_t id = begin_run(f, 0, "board2", "s");

	for (int i = 0; i < 700; i++) /* more than one batch */
		assert_int_equal(pl_store_run_event(f->st, id, (uint64_t)i,
						    PL_EV_PROBE, "{}"), 0);
	assert_int_equal(pl_store_run_end(f->st, id, PL_VERDICT_PASS, NULL),
			 0);
	assert_int_equal(pl_store_get_run(other, id, &run, &ev, &nev), 0);
	assert_false(run->open);
	assert_int_equal(run->verdict, PL_VERDICT_PASS);
	assert_null(run->reason);
	assert_int_equal(nev, 700);
	pl_store_run_free(run, ev, nev);
	pl_store_close(other);
}

static void misuse_gets_the_right_error_kind(void **state)
{
	struct fx *f = *state;
	struct pl_run_info bad = { .board_id = "b", .board_type = "t",
				   .scenario = "s", .params_json = "[1,2]" };
	int64_t id = begin_run(f, 0, "board1", "s"), x;
	struct pl_run_row *run;

	assert_int_equal(pl_store_run_begin(f->st, &bad, &x), -EINVAL);
	assert_int_equal(f->cap.errors, 1); /* logged, naming the field */
	assert_non_null(strstr(f->cap.last, "params"));
	f->cap.errors = 0;
	bad.params_json = NULL;
	bad.board_id = NULL;
	assert_int_equal(pl_store_run_begin(f->st, &bad, &x), -EINVAL);
	assert_int_equal(pl_store_run_event(f->st, id + 99, 1, PL_EV_LOG,
					    NULL), -ENOENT);
	assert_int_equal(pl_store_run_event(f->st, id, 1, PL_EV_LOG,
					    "not json"), -EINVAL);
	f->cap.errors = 0;
	assert_int_equal(pl_store_run_end(f->st, id + 99, PL_VERDICT_PASS,
					  NULL), -ENOENT);
	assert_int_equal(pl_store_run_end(f->st, id, PL_VERDICT_FAIL, "x"), 0);
	assert_int_equal(pl_store_run_end(f->st, id, PL_VERDICT_PASS, NULL),
			 -EALREADY);
	/* the second end changed nothing */
	assert_int_equal(pl_store_get_run(f->st, id, &run, NULL, NULL), 0);
	assert_int_equal(run->verdict, PL_VERDICT_FAIL);
	pl_store_run_free(run, NULL, 0);
	/* events after the end are refused: the run is closed */
	assert_int_equal(pl_store_run_event(f->st, id, 1, PL_EV_LOG, NULL),
			 -ENOENT);
	assert_int_equal(pl_store_get_run(f->st, 424242, &run, NULL, NULL),
			 -ENOENT);
	assert_int_equal(pl_store_suite_end(f->st, 424242, "pass"), -ENOENT);
	assert_int_equal(pl_store_suite_end(f->st, 1, "maybe"), -EINVAL);
}

static void runs_are_listed_by_filter(void **state)
{
	struct fx *f = *state;
	struct pl_suite_info si = { .name = "s" };
	struct pl_run_filter flt = { 0 };
	struct pl_suite_row *suites;
	struct pl_run_row *rows;
	int64_t s1, s2, id;
	size_t n;

	assert_int_equal(pl_store_suite_begin(f->st, &si, &s1), 0);
	assert_int_equal(pl_store_suite_begin(f->st, &si, &s2), 0);
	for (int i = 0; i < 6; i++) {
		id = begin_run(f, i < 4 ? s1 : s2, i % 2 ? "b1" : "b2",
			       i % 3 ? "sc-a" : "sc-b");
		assert_int_equal(pl_store_run_end(f->st, id, i == 1 ?
				PL_VERDICT_BRICKED : PL_VERDICT_PASS, NULL), 0);
	}
	begin_run(f, s2, "b1", "sc-a"); /* still open */

	assert_int_equal(pl_store_list_suites(f->st, &suites, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(suites[0].id, s2); /* newest first */
	pl_store_suites_free(suites, n);

	flt.suite_id = s1;
	assert_int_equal(pl_store_list_runs(f->st, &flt, &rows, &n), 0);
	assert_int_equal(n, 4);
	pl_store_runs_free(rows, n);
	flt.board_id = "b1";
	assert_int_equal(pl_store_list_runs(f->st, &flt, &rows, &n), 0);
	assert_int_equal(n, 2);
	pl_store_runs_free(rows, n);
	flt = (struct pl_run_filter){ .by_verdict = true,
				      .verdict = PL_VERDICT_BRICKED };
	assert_int_equal(pl_store_list_runs(f->st, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].board_id, "b1");
	pl_store_runs_free(rows, n);
	flt = (struct pl_run_filter){ .scenario = "sc-b", .suite_id = s2 };
	assert_int_equal(pl_store_list_runs(f->st, &flt, &rows, &n), 0);
	assert_int_equal(n, 0);
	pl_store_runs_free(rows, n);
	flt = (struct pl_run_filter){ .suite_id = s2 };
	assert_int_equal(pl_store_list_runs(f->st, &flt, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_true(rows[2].open);
	pl_store_runs_free(rows, n);
}

static void lease_is_exclusive_until_it_expires(void **state)
{
	struct fx *f = *state;
	struct pl_store *b = open_store(f, "ctl-B");
	struct pl_lease_row *l;
	char *cur = NULL;
	size_t n;

	assert_int_equal(pl_store_lease_take(f->st, "board1", NULL, 1000,
					     NULL), 0);
	assert_int_equal(pl_store_lease_take(b, "board1", NULL, 1000, &cur),
			 -PL_ELEASED);
	assert_string_equal(cur, "ctl-A");
	free(cur);
	/* the holder renews; a stranger cannot renew or release it */
	f->now += 900000000ull;
	assert_int_equal(pl_store_lease_renew(f->st, "board1", NULL, 1000), 0);
	assert_int_equal(pl_store_lease_renew(b, "board1", NULL, 1000),
			 -PL_ELEASED);
	assert_int_equal(pl_store_lease_release(b, "board1", NULL),
			 -PL_ELEASED);
	f->now += 900000000ull; /* 1.8 s: expired without the renewal */
	assert_int_equal(pl_store_lease_take(b, "board1", NULL, 1000, NULL),
			 -PL_ELEASED);
	f->now += 200000000ull; /* past the renewed expiry */
	f->cap.warnings = 0;
	assert_int_equal(pl_store_lease_take(b, "board1", NULL, 1000, NULL), 0);
	assert_int_equal(f->cap.warnings, 1); /* the takeover names ctl-A */
	assert_non_null(strstr(f->cap.last, "ctl-A"));
	/* the old holder learns it lost the board */
	assert_int_equal(pl_store_lease_renew(f->st, "board1", NULL, 1000),
			 -PL_ELEASED);
	assert_int_equal(pl_store_list_leases(f->st, &l, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].holder, "ctl-B");
	assert_int_equal(l[0].expires_ns, f->now + 1000000000ull);
	pl_store_leases_free(l, n);
	assert_int_equal(pl_store_lease_release(b, "board1", NULL), 0);
	assert_int_equal(pl_store_lease_release(b, "board1", NULL), -ENOENT);
	assert_int_equal(pl_store_lease_renew(b, "board1", NULL, 1), -ENOENT);
	pl_store_close(b);
}

static void quarantine_is_kept_until_released(void **state)
{
	struct fx *f = *state;
	struct pl_store *b = open_store(f, "ctl-B");
	struct pl_quarantine_row *q;
	struct pl_change_row *c;
	const struct pl_quarantine_row *one;
	int64_t seq0;
	size_t n;

	assert_int_equal(pl_store_seq(b, &seq0), 0);
	assert_int_equal(pl_store_quarantine(f->st, "board2",
					     PL_QUARANTINE_DEVICE,
					     "bricked and no recovery", 7), 0);
	assert_int_equal(pl_store_quarantine(f->st, "board1", PL_QUARANTINE_LAB,
					     "console lost", 0), 0);
	/* another process sees both, by board */
	assert_int_equal(pl_store_list_quarantine(b, &q, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(q[0].board_id, "board1");
	assert_int_equal(q[0].kind, PL_QUARANTINE_LAB);
	assert_int_equal(q[0].run_id, 0);
	one = pl_quarantine_rows_find(q, n, "board2");
	assert_non_null(one);
	assert_int_equal(one->kind, PL_QUARANTINE_DEVICE);
	assert_string_equal(one->reason, "bricked and no recovery");
	assert_string_equal(one->holder, "ctl-A");
	assert_int_equal(one->run_id, 7);
	assert_int_equal(one->since_ns, f->now);
	assert_null(pl_quarantine_rows_find(q, n, "board3"));
	pl_store_quarantine_free(q, n);
	/* set again: replaced, not doubled */
	f->now += 1000;
	assert_int_equal(pl_store_quarantine(b, "board1", PL_QUARANTINE_DEVICE,
					     "recovery: manual", 9), 0);
	assert_int_equal(pl_store_list_quarantine(f->st, &q, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(q[0].kind, PL_QUARANTINE_DEVICE);
	assert_string_equal(q[0].holder, "ctl-B");
	assert_int_equal(q[0].since_ns, f->now);
	pl_store_quarantine_free(q, n);
	/* released by anyone, once */
	assert_int_equal(pl_store_quarantine_release(b, "board2"), 0);
	assert_int_equal(pl_store_quarantine_release(b, "board2"), -ENOENT);
	assert_int_equal(pl_store_list_quarantine(f->st, &q, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(q[0].board_id, "board1");
	pl_store_quarantine_free(q, n);
	/* each is a change of its board: set, set, replaced, released */
	assert_int_equal(pl_store_changes(f->st, seq0, 0, &c, &n), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(c[i].kind, PL_CHANGE_LEASE);
	assert_string_equal(c[3].board_id, "board2");
	pl_store_changes_free(c, n);
	{
		enum pl_quarantine_kind k;

		assert_int_equal(pl_quarantine_kind_parse("lab", &k), 0);
		assert_int_equal(k, PL_QUARANTINE_LAB);
		assert_int_equal(pl_quarantine_kind_parse("bricked", &k),
				 -EINVAL);
	}
	pl_store_close(b);
}

static void every_change_gets_the_next_sequence_number(void **state)
{
	struct fx *f = *state;
	struct pl_store *b = open_store(f, "ctl-B");
	struct pl_suite_info si = { .name = "s1" };
	struct pl_change_row *c;
	struct pl_run_row *last;
	int64_t seq0, seq, suite, r1, r2;
	size_t n;

	assert_int_equal(pl_store_seq(f->st, &seq0), 0);
	assert_int_equal(seq0, 0);
	assert_int_equal(pl_store_suite_begin(f->st, &si, &suite), 0);
	r1 = begin_run(f, suite, "board1", "cut");
	assert_int_equal(pl_store_run_end(f->st, r1, PL_VERDICT_PASS, NULL), 0);
	r2 = begin_run(f, suite, "board1", "cut");
	assert_int_equal(pl_store_lease_take(f->st, "board1", NULL, 1000,
					     NULL), 0);
	/* a renewal is not a change */
	assert_int_equal(pl_store_lease_renew(f->st, "board1", NULL, 1000), 0);
	assert_int_equal(pl_store_lease_release(f->st, "board1", NULL), 0);
	/* another connection sees them all, in order */
	assert_int_equal(pl_store_seq(b, &seq), 0);
	assert_int_equal(pl_store_changes(b, seq0, 0, &c, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(c[n - 1].seq, seq);
	for (size_t i = 1; i < n; i++)
		assert_true(c[i].seq > c[i - 1].seq);
	assert_int_equal(c[0].kind, PL_CHANGE_SUITE);
	assert_int_equal(c[0].suite_id, suite);
	assert_null(c[0].board_id);
	assert_int_equal(c[1].kind, PL_CHANGE_RUN);
	assert_int_equal(c[1].run_id, r1);
	assert_int_equal(c[1].suite_id, suite);
	assert_string_equal(c[1].board_id, "board1");
	assert_int_equal(c[2].run_id, r1); /* its end */
	assert_int_equal(c[3].run_id, r2);
	assert_int_equal(c[4].kind, PL_CHANGE_LEASE);
	assert_string_equal(c[4].board_id, "board1");
	assert_int_equal(c[5].kind, PL_CHANGE_LEASE);
	assert_string_equal(pl_change_kind_name(c[5].kind), "lease");
	pl_store_changes_free(c, n);
	/* from a point on, and at most max */
	assert_int_equal(pl_store_changes(b, seq0 + 2, 2, &c, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].seq, seq0 + 3);
	pl_store_changes_free(c, n);
	assert_int_equal(pl_store_changes(b, seq, 0, &c, &n), 0);
	assert_int_equal(n, 0);
	pl_store_changes_free(c, n);
	/* the newest run of a board; the open ones */
	assert_int_equal(pl_store_board_last_run(b, "board1", &last), 0);
	assert_int_equal(last->id, r2);
	assert_true(last->open);
	pl_store_runs_free(last, 1);
	assert_int_equal(pl_store_board_last_run(b, "nope", &last), -ENOENT);
	{
		struct pl_run_filter of = { .open_only = true };
		struct pl_run_row *rows;

		assert_int_equal(pl_store_list_runs(b, &of, &rows, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(rows[0].id, r2);
		pl_store_runs_free(rows, n);
	}
	pl_store_close(b);
}

static void schema_1_gets_the_change_sequence(void **state)
{
	struct fx *f = *state;
	struct pl_suite_info si = { .name = "s1" };
	struct pl_change_row *c;
	int64_t suite, seq;
	size_t n;

	/* a store as schema 1 left it: no changes table, no triggers, no
	 * worker column */
	assert_int_equal(pl_store_suite_begin(f->st, &si, &suite), 0);
	pl_store_close(f->st);
	assert_int_equal(pl_test_store_exec(f->path,
		"DROP TABLE quarantine;"
		"DROP TRIGGER changes_suite_new; DROP TRIGGER changes_suite_set;"
		"DROP TRIGGER changes_run_new; DROP TRIGGER changes_run_set;"
		"DROP TRIGGER changes_lease_new; DROP TRIGGER changes_lease_set;"
		"DROP TRIGGER changes_lease_gone; DROP TABLE changes;"
		"ALTER TABLE runs DROP COLUMN worker;"
		"PRAGMA user_version = 1",
		"DROP TABLE submitters, quarantine, jobs, queue, boards, workers, "
		"images; DROP SEQUENCE patchlab_turn;"
		"DROP FUNCTION patchlab_job_finish;"
		"DROP FUNCTION patchlab_job_finish_once;"
		"DROP FUNCTION patchlab_job_changed;"
		"DROP FUNCTION patchlab_lock_changes;"
		"DROP FUNCTION patchlab_job_finish_sweep;"
		"DROP TABLE changes; DROP FUNCTION patchlab_change CASCADE;"
		"DROP FUNCTION patchlab_suite_changed CASCADE;"
		"DROP FUNCTION patchlab_run_changed CASCADE;"
		"DROP FUNCTION patchlab_lease_changed CASCADE;"
		"ALTER TABLE runs DROP COLUMN worker;"
		"UPDATE patchlab_schema SET version = 1"), 0);
	f->st = open_store(f, "ctl-A");
	assert_int_equal(pl_store_seq(f->st, &seq), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(pl_store_suite_end(f->st, suite, "pass"), 0);
	assert_int_equal(pl_store_changes(f->st, 0, 0, &c, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].suite_id, suite);
	pl_store_changes_free(c, n);
}

static void schema_is_versioned_and_newer_is_refused(void **state)
{
	struct fx *f = *state;
	struct pl_store *st = NULL;
	long long v = -1;
	int from = -1, to = -1, cur = -1, latest = -2;

	assert_int_equal(pl_store_schema_of(f->st, &cur, &latest), 0);
	assert_int_equal(cur, latest);
	if (!pl_test_store_is_pg())
		assert_int_equal(latest, pl_store_schema_version());
	pl_store_close(f->st);
	f->st = NULL;
	assert_int_equal(pl_test_store_query_int(f->path,
		"PRAGMA user_version", "SELECT version FROM patchlab_schema",
		&v), 0);
	assert_int_equal(v, latest);
	/* up to date: migrate finds nothing to do */
	assert_int_equal(pl_store_migrate(f->path, NULL, &from, &to), 0);
	assert_int_equal(from, v);
	assert_int_equal(to, v);
	assert_int_equal(pl_test_store_exec(f->path,
		"PRAGMA user_version = 999",
		"UPDATE patchlab_schema SET version = 999"), 0);
	assert_int_equal(pl_store_open(&st, f->path, NULL), -EPROTO);
	assert_null(st);
	assert_int_equal(pl_store_migrate(f->path, NULL, &from, NULL),
			 -EPROTO);
	assert_int_equal(from, 999);
	f->cap.errors = 0;
}

static void default_path_is_runs_patchlab_db(void **state)
{
	struct fx *f = *state;
	struct pl_store *st = NULL;
	char cwd[4096];

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(pl_store_open(&st, NULL, NULL), 0);
	pl_store_close(st);
	assert_int_equal(access("runs/patchlab.db", F_OK), 0);
	assert_int_equal(chdir(cwd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(run_is_recorded_and_read_back_with_its_events),
		T(run_end_is_durable_for_a_second_connection),
		T(misuse_gets_the_right_error_kind),
		T(runs_are_listed_by_filter),
		T(lease_is_exclusive_until_it_expires),
		T(quarantine_is_kept_until_released),
		T(every_change_gets_the_next_sequence_number),
		T(schema_1_gets_the_change_sequence),
		T(schema_is_versioned_and_newer_is_refused),
		T(default_path_is_runs_patchlab_db),
#undef T
	};
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/results/store", tests, NULL,
					   NULL);
}
