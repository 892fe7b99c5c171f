/* SPDX-License-Identifier: MIT */
/*
 * /pl/results/queue: the lab service's queue on a real PostgreSQL (the
 * server this test starts; pl_test_store.h). A claimed job goes to no
 * other worker; a lease that expires gives the job back and the
 * late worker's result is dropped, never recorded twice; a job out of
 * attempts ends lab-error naming the worker; a queue timeout ends the
 * suite's waiting jobs; images are stored once per content; every job
 * queued, claimed, ended or cancelled is a change (one per suite and
 * board and transaction); the queue lists the waiting jobs in the order
 * claims take them; a sweep job's many runs land together on its
 * finish, once, or not at all when its lease was lost. The clock is
 * injected: lease expiry needs no sleep.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "pl_test_store.h"
#include "patchlab/error.h"
#include "patchlab/store.h"

#define MS 1000000ull

struct fx {
	char *dir, *url;
	uint64_t now;
	struct pl_test_logcap cap;
	struct pl_store *a, *b; /* two workers' connections */
};

static uint64_t clock_of(void *ud)
{
	return ((struct fx *)ud)->now;
}

static struct pl_store *open_as(struct fx *f, const char *holder)
{
	struct pl_store_opts o = { .clock = clock_of, .clock_data = f,
				   .log = &f->cap.log, .holder = holder };
	struct pl_store *st = NULL;

	assert_int_equal(pl_store_open(&st, f->url, &o), 0);
	return st;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pl_worker_board wa[] = { { "b1", "vboard", NULL },
					{ "b2", "vboard", NULL } };
	struct pl_worker_board wb[] = { { "b3", "vboard", NULL } };

	f->dir = pl_test_tmpdir("queue");
	f->url = pl_test_store_target(f->dir, "q.db");
	assert_non_null(f->url);
	f->now = 1700000000ull * 1000000000ull;
	pl_test_logcap_init(&f->cap, "store");
	f->a = open_as(f, "worker-a");
	f->b = open_as(f, "worker-b");
	assert_int_equal(pl_store_worker_register(f->a, "wa", "lab-a.yaml",
						  wa, 2, 2), 0);
	assert_int_equal(pl_store_worker_register(f->b, "wb", "lab-b.yaml",
						  wb, 1, 2), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl_store_close(f->a);
	pl_store_close(f->b);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f->url);
	free(f);
	return 0;
}

/* Queue n jobs on board (all on it), priority p; the suite id. */
static int64_t submit(struct fx *f, const char *board, size_t n, int p,
		      uint64_t timeout_ns)
{
	struct pl_job_info jobs[16];
	struct pl_submit_info si = {
		.suite = { .name = "release", .file = "/src/suite.yaml" },
		.priority = p, .images_json = "{\"new\":\"abc\"}",
		.queue_timeout_ns = timeout_ns,
	};
	int64_t suite = 0;

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		jobs[i] = (struct pl_job_info){
			.board_id = board, .board_type = "vboard",
			.scenario = "scenarios/cut.lua",
			.params_json = "{\"n\":1}", .seed = 100 + i };
	assert_int_equal(pl_store_submit(f->a, &si, jobs, n, &suite), 0);
	assert_true(suite > 0);
	return suite;
}

/* One job on board b1 queued by submitter who, priority p; the suite id. */
static int64_t submit_as(struct fx *f, const char *who, int p)
{
	struct pl_job_info job = {
		.board_id = "b1", .board_type = "vboard",
		.scenario = "scenarios/cut.lua", .params_json = "{}",
		.seed = 1 };
	struct pl_submit_info si = {
		.suite = { .name = "release", .file = "/src/suite.yaml" },
		.priority = p, .images_json = "{}", .submitter = who,
	};
	int64_t suite = 0;

	assert_int_equal(pl_store_submit(f->a, &si, &job, 1, &suite), 0);
	return suite;
}

/* What a worker's engine does: a run under a suite of its own. */
static int64_t engine_run(struct pl_store *st, const char *board,
			  enum pl_verdict v)
{
	struct pl_suite_info si = { .name = "engine-own" };
	struct pl_run_info ri = { .board_id = board, .board_type = "vboard",
				  .scenario = "scenarios/cut.lua" };
	int64_t suite, run;

	assert_int_equal(pl_store_suite_begin(st, &si, &suite), 0);
	ri.suite_id = suite;
	assert_int_equal(pl_store_run_begin(st, &ri, &run), 0);
	assert_int_equal(pl_store_run_event(st, run, 1, PL_EV_LOG, NULL), 0);
	assert_int_equal(pl_store_run_end(st, run, v, NULL), 0);
	return run;
}

static void a_claimed_job_goes_to_no_other_worker(void **state)
{
	struct fx *f = *state;
	const char *both[] = { "b1", "b2" };
	struct pl_job_row *j1, *j2, *j3;
	int64_t suite = submit(f, "b1", 2, 0, 0);

	/* job 1 is a's: b gets the next one */
	assert_int_equal(pl_store_claim(f->a, "wa", both, 2, 1000, &j1), 0);
	assert_int_equal(pl_store_claim(f->b, "wb", both, 2, 1000, &j2), 0);
	assert_int_not_equal(j1->id, j2->id);
	assert_int_equal(j1->suite_id, suite);
	assert_int_equal(j1->state, PL_JOB_CLAIMED);
	assert_int_equal(j1->attempt, 1);
	assert_string_equal(j1->suite_file, "/src/suite.yaml");
	assert_string_equal(j1->images_json, "{\"new\":\"abc\"}");
	assert_string_equal(j1->worker, "wa");
	assert_int_equal(pl_store_claim(f->a, "wa", both, 2, 1000, &j3),
			 -ENOENT);
	/* a board nobody queued for takes nothing */
	assert_int_equal(pl_store_claim(f->b, "wb", (const char *[]){ "b3" },
					1, 1000, &j3), -ENOENT);
	pl_store_jobs_free(j1, 1);
	pl_store_jobs_free(j2, 1);
}

static void priority_then_age(void **state)
{
	struct fx *f = *state;
	const char *b1[] = { "b1" };
	struct pl_job_row *j;
	int64_t low, high;

	low = submit(f, "b1", 1, 0, 0);
	f->now += 1000 * MS;
	high = submit(f, "b1", 1, 5, 0);
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j), 0);
	assert_int_equal(j->suite_id, high);
	pl_store_jobs_free(j, 1);
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j), 0);
	assert_int_equal(j->suite_id, low);
	pl_store_jobs_free(j, 1);
}

/* Three suites of submitter "ci-a" queued before two of "ci-b", all on one
 * board, one priority: the claims take turns between the submitters, not
 * ci-a's three first; a higher priority still goes before any turn. */
static void submitters_take_turns_within_a_priority(void **state)
{
	struct fx *f = *state;
	const char *b1[] = { "b1" };
	/* after ci-a's urgent one, ci-b's turn */
	const char *want[] = { "ci-b", "ci-a", "ci-b", "ci-a", "ci-a" };
	struct pl_job_row *j;
	int64_t urgent;

	for (int i = 0; i < 3; i++) {
		submit_as(f, "ci-a", 0);
		f->now += MS;
	}
	for (int i = 0; i < 2; i++) {
		submit_as(f, "ci-b", 0);
		f->now += MS;
	}
	urgent = submit_as(f, "ci-a", 5);
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j), 0);
	assert_int_equal(j->suite_id, urgent);
	pl_store_jobs_free(j, 1);
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		assert_int_equal(pl_store_claim(i % 2 ? f->b : f->a, "wa", b1,
						1, 1000, &j), 0);
		assert_string_equal(j->submitter, want[i]);
		pl_store_jobs_free(j, 1);
	}
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j), -ENOENT);
}

static void finished_run_lands_in_the_queued_suite(void **state)
{
	struct fx *f = *state;
	const char *b1[] = { "b1" };
	struct pl_run_filter flt = { 0 };
	struct pl_job_row *j, *jobs;
	struct pl_run_row *rows;
	struct pl_suite_row *suites;
	int64_t suite = submit(f, "b1", 1, 0, 0), run;
	size_t n, nsuites;

	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j), 0);
	run = engine_run(f->a, "b1", PL_VERDICT_BRICKED);
	assert_int_equal(pl_store_job_finish(f->a, j->id, "wa", j->attempt,
					     run), 0);
	flt.suite_id = suite;
	assert_int_equal(pl_store_list_runs(f->b, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, run);
	assert_string_equal(rows[0].worker, "wa");
	assert_int_equal(rows[0].verdict, PL_VERDICT_BRICKED);
	pl_store_runs_free(rows, n);
	/* the engine's own suite is gone: one suite for the submitter */
	assert_int_equal(pl_store_list_suites(f->b, &suites, &nsuites), 0);
	assert_int_equal(nsuites, 1);
	pl_store_suites_free(suites, nsuites);
	assert_int_equal(pl_store_list_jobs(f->b, suite, &jobs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(jobs[0].state, PL_JOB_DONE);
	assert_int_equal(jobs[0].run_id, run);
	/* the claim and the end, for the benches' latencies */
	assert_int_equal(jobs[0].claimed_ns, f->now);
	assert_int_equal(jobs[0].ended_ns, f->now);
	pl_store_jobs_free(jobs, n);
	/* the same end asked again (its answer lost with a connection):
	 * the run stays the job's */
	assert_int_equal(pl_store_job_finish(f->a, j->id, "wa", j->attempt,
					     run), 0);
	assert_int_equal(pl_store_get_run(f->b, run, &rows, NULL, NULL), 0);
	pl_store_run_free(rows, NULL, 0);
	/* another run for a job already done: no longer held */
	assert_int_equal(pl_store_job_finish(f->a, j->id, "wa", j->attempt,
					     engine_run(f->a, "b1",
							PL_VERDICT_PASS)),
			 -PL_ELEASED);
	pl_store_jobs_free(j, 1);
}

static void expired_lease_requeues_and_the_late_result_is_dropped(
	void **state)
{
	struct fx *f = *state;
	const char *b1[] = { "b1" };
	struct pl_run_filter flt = { 0 };
	struct pl_job_row *j1, *j2, *jobs;
	struct pl_run_row *rows;
	int64_t suite = submit(f, "b1", 1, 0, 0), late, run;
	size_t n, reaped;

	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j1), 0);
	/* a heartbeat within the lease keeps it */
	f->now += 800 * MS;
	assert_int_equal(pl_store_heartbeat(f->a, "wa", 1000, &j1->id, 1, &n),
			 0);
	assert_int_equal(n, 1);
	f->now += 800 * MS;
	assert_int_equal(pl_store_reap(f->b, 2, 0, &reaped), 0);
	assert_int_equal(reaped, 0);
	/* then worker a goes silent: its lease expires, the job requeues */
	f->now += 300 * MS;
	f->cap.warnings = 0;
	assert_int_equal(pl_store_reap(f->b, 2, 0, &reaped), 0);
	assert_int_equal(reaped, 1);
	assert_int_equal(f->cap.warnings, 1);
	assert_non_null(strstr(f->cap.last, "wa"));
	/* a late heartbeat does not revive an expired lease */
	assert_int_equal(pl_store_heartbeat(f->a, "wa", 1000, &j1->id, 1, &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(pl_store_claim(f->b, "wb", b1, 1, 1000, &j2), 0);
	assert_int_equal(j2->id, j1->id);
	assert_int_equal(j2->attempt, 2);
	assert_non_null(strstr(j2->reason, "worker wa stopped"));
	/* a's run comes in late: dropped, nothing recorded */
	late = engine_run(f->a, "b1", PL_VERDICT_PASS);
	assert_int_equal(pl_store_job_finish(f->a, j1->id, "wa", j1->attempt,
					     late), -PL_ELEASED);
	assert_int_equal(pl_store_get_run(f->b, late, &rows, NULL, NULL),
			 -ENOENT);
	run = engine_run(f->b, "b1", PL_VERDICT_FAIL);
	assert_int_equal(pl_store_job_finish(f->b, j2->id, "wb", j2->attempt,
					     run), 0);
	flt.suite_id = suite;
	assert_int_equal(pl_store_list_runs(f->b, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].worker, "wb");
	pl_store_runs_free(rows, n);
	/* out of attempts: the next expiry ends the job lab-error */
	submit(f, "b1", 1, 0, 0);
	pl_store_jobs_free(j1, 1);
	pl_store_jobs_free(j2, 1);
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j1), 0);
	pl_store_jobs_free(j1, 1);
	assert_int_equal(pl_store_list_jobs(f->b, 0, &jobs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(jobs[0].state, PL_JOB_CLAIMED);
	pl_store_jobs_free(jobs, n);
	f->now += 2000 * MS;
	assert_int_equal(pl_store_reap(f->b, 1, 0, &reaped), 0);
	assert_int_equal(reaped, 1);
	assert_int_equal(pl_store_list_jobs(f->b, 0, &jobs, &n), 0);
	assert_int_equal(n, 0); /* nothing waits or runs */
	pl_store_jobs_free(jobs, n);
	flt = (struct pl_run_filter){ .by_verdict = true,
				      .verdict = PL_VERDICT_LAB_ERROR };
	assert_int_equal(pl_store_list_runs(f->b, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].worker, "wa");
	assert_non_null(strstr(rows[0].reason, "worker wa stopped"));
	assert_false(rows[0].open);
	pl_store_runs_free(rows, n);
}

/* One sweep job (the suite's run 2) on b1; the suite id. */
static int64_t submit_sweep(struct fx *f)
{
	struct pl_job_info job = {
		.board_id = "b1", .board_type = "vboard",
		.scenario = "scenarios/cut.lua", .params_json = "{}",
		.seed = 7, .sweep = 2 };
	struct pl_submit_info si = {
		.suite = { .name = "release", .file = "/src/suite.yaml" },
		.images_json = "{}",
	};
	int64_t suite = 0;

	assert_int_equal(pl_store_submit(f->a, &si, &job, 1, &suite), 0);
	return suite;
}

/* What a worker's engine does for a sweep: n runs under a suite of its
 * own (a learning pass, then points); the suite id, the runs in ids. */
static int64_t engine_sweep(struct pl_store *st, size_t n, int64_t *ids)
{
	struct pl_suite_info si = { .name = "engine-own" };
	struct pl_run_info ri = { .board_id = "b1", .board_type = "vboard",
				  .scenario = "scenarios/cut.lua" };
	int64_t suite;

	assert_int_equal(pl_store_suite_begin(st, &si, &suite), 0);
	ri.suite_id = suite;
	for (size_t i = 0; i < n; i++) {
		ri.cut.op_index = (long)i;
		assert_int_equal(pl_store_run_begin(st, &ri, &ids[i]), 0);
		assert_int_equal(pl_store_run_event(st, ids[i], 1, PL_EV_LOG,
						    NULL), 0);
		assert_int_equal(pl_store_run_end(st, ids[i], i == n - 1 ?
						  PL_VERDICT_BRICKED :
						  PL_VERDICT_PASS, NULL), 0);
	}
	return suite;
}

static size_t runs_of(struct pl_store *st, int64_t suite)
{
	struct pl_run_filter flt = { .suite_id = suite };
	struct pl_run_row *rows = NULL;
	size_t n = 0;

	assert_int_equal(pl_store_list_runs(st, &flt, &rows, &n), 0);
	pl_store_runs_free(rows, n);
	return n;
}

static void a_sweep_jobs_runs_land_once_on_finish(void **state)
{
	struct fx *f = *state;
	const char *b1[] = { "b1" };
	struct pl_job_row *j, *jobs;
	struct pl_suite_row *suites;
	struct pl_event_row *ev;
	struct pl_run_row *row;
	int64_t suite = submit_sweep(f), own, ids[6], more[2];
	size_t n, nev;

	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j), 0);
	assert_int_equal(j->sweep, 2);
	assert_int_equal(j->nruns, 0);
	own = engine_sweep(f->a, 6, ids);
	/* nothing lands while the sweep runs */
	assert_int_equal(runs_of(f->b, suite), 0);
	/* a queued suite is no attempt's own */
	assert_int_equal(pl_store_job_finish_sweep(f->a, j->id, "wa",
						   j->attempt, suite),
			 -EINVAL);
	assert_int_equal(pl_store_job_finish_sweep(f->a, j->id, "wa",
						   j->attempt, own), 0);
	assert_int_equal(runs_of(f->b, suite), 6);
	assert_int_equal(pl_store_get_run(f->b, ids[5], &row, &ev, &nev), 0);
	assert_int_equal(row->suite_id, suite);
	assert_string_equal(row->worker, "wa");
	assert_int_equal(row->verdict, PL_VERDICT_BRICKED);
	assert_int_equal(nev, 1); /* its events came with it */
	pl_store_run_free(row, ev, nev);
	/* the job is done with every run, in id order */
	assert_int_equal(pl_store_list_jobs(f->b, suite, &jobs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(jobs[0].state, PL_JOB_DONE);
	assert_int_equal(jobs[0].run_id, 0);
	assert_int_equal(jobs[0].nruns, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(jobs[0].runs[i], ids[i]);
	pl_store_jobs_free(jobs, n);
	/* the engine's own suite is gone */
	assert_int_equal(pl_store_list_suites(f->b, &suites, &n), 0);
	assert_int_equal(n, 1);
	pl_store_suites_free(suites, n);
	/* the same end again (its answer lost with a connection): nothing
	 * moves twice, nothing is dropped */
	assert_int_equal(pl_store_job_finish_sweep(f->a, j->id, "wa",
						   j->attempt, own), 0);
	assert_int_equal(runs_of(f->b, suite), 6);
	/* another sweep's runs for the job done: no longer held, dropped */
	own = engine_sweep(f->a, 2, more);
	f->now += 1 * MS;
	assert_int_equal(pl_store_job_finish_sweep(f->a, j->id, "wb",
						   j->attempt, own),
			 -PL_ELEASED);
	assert_int_equal(pl_store_get_run(f->b, more[0], &row, NULL, NULL),
			 -ENOENT);
	assert_int_equal(runs_of(f->b, suite), 6);
	pl_store_jobs_free(j, 1);
}

static void a_sweep_job_that_lost_its_lease_records_nothing(void **state)
{
	struct fx *f = *state;
	const char *b1[] = { "b1" };
	struct pl_job_row *j1, *j2;
	struct pl_suite_row *suites;
	struct pl_run_row *row;
	int64_t suite = submit_sweep(f), own, ids[5], half[3];
	size_t n, reaped;

	/* worker a goes silent mid-sweep: its lease expires, the job is
	 * requeued and b starts the sweep over */
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j1), 0);
	own = engine_sweep(f->a, 5, ids);
	f->now += 1100 * MS;
	assert_int_equal(pl_store_reap(f->b, 2, 0, &reaped), 0);
	assert_int_equal(reaped, 1);
	assert_int_equal(pl_store_claim(f->b, "wb", b1, 1, 1000, &j2), 0);
	assert_int_equal(j2->id, j1->id);
	assert_int_equal(j2->attempt, 2);
	/* a's whole sweep comes in late: none of it lands, all of it goes */
	assert_int_equal(pl_store_job_finish_sweep(f->a, j1->id, "wa",
						   j1->attempt, own),
			 -PL_ELEASED);
	assert_int_equal(runs_of(f->b, suite), 0);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(pl_store_get_run(f->b, ids[i], &row, NULL,
						  NULL), -ENOENT);
	/* b's attempt: its worker stops after three points; the attempt's
	 * points go with it (the sweep starts over), the job requeues */
	own = engine_sweep(f->b, 3, half);
	assert_int_equal(pl_store_job_fail(f->b, j2->id, "wb", j2->attempt,
					   half[0], "worker wb stopped", true,
					   3), 0);
	assert_int_equal(runs_of(f->b, suite), 0);
	assert_int_equal(pl_store_get_run(f->b, half[2], &row, NULL, NULL),
			 -ENOENT);
	/* an attempt that stops after its job was taken back (its worker
	 * restarted first): no longer its job, but its points go all the
	 * same */
	engine_sweep(f->b, 3, half);
	assert_int_equal(pl_store_job_fail(f->b, j2->id, "wb", j2->attempt,
					   half[0], "worker wb stopped", true,
					   3), -PL_ELEASED);
	assert_int_equal(pl_store_get_run(f->b, half[2], &row, NULL, NULL),
			 -ENOENT);
	/* the attempts' own suites are gone: the submitter's alone is left */
	assert_int_equal(pl_store_list_suites(f->b, &suites, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(suites[0].id, suite);
	pl_store_suites_free(suites, n);
	pl_store_jobs_free(j1, 1);
	pl_store_jobs_free(j2, 1);
	/* the third attempt runs it whole */
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j1), 0);
	assert_int_equal(j1->attempt, 3);
	own = engine_sweep(f->a, 4, ids);
	assert_int_equal(pl_store_job_finish_sweep(f->a, j1->id, "wa",
						   j1->attempt, own), 0);
	assert_int_equal(runs_of(f->b, suite), 4);
	pl_store_jobs_free(j1, 1);
}

static void a_restarted_worker_gives_back_what_it_held(void **state)
{
	struct fx *f = *state;
	struct pl_worker_board wa[] = { { "b1", "vboard", NULL } };
	const char *b1[] = { "b1" };
	struct pl_job_row *j, *again;
	size_t n;
	int64_t late;

	submit(f, "b1", 1, 0, 0);
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 60000, &j), 0);
	/* its next life registers long before the lease would expire, and
	 * does not renew what the dead one held: the job is queued again */
	f->cap.warnings = 0;
	assert_int_equal(pl_store_worker_register(f->b, "wa", "lab-a.yaml",
						  wa, 1, 2), 0);
	assert_int_equal(f->cap.warnings, 1);
	assert_int_equal(pl_store_heartbeat(f->b, "wa", 60000, NULL, 0, &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(pl_store_claim(f->b, "wa", b1, 1, 60000, &again), 0);
	assert_int_equal(again->id, j->id);
	assert_int_equal(again->attempt, 2);
	assert_non_null(strstr(again->reason, "restarted"));
	/* the dead life's run process ends late: dropped */
	late = engine_run(f->a, "b1", PL_VERDICT_PASS);
	assert_int_equal(pl_store_job_finish(f->a, j->id, "wa", j->attempt,
					     late), -PL_ELEASED);
	pl_store_jobs_free(j, 1);
	pl_store_jobs_free(again, 1);
}

static void a_claim_the_worker_never_heard_of_is_given_back(void **state)
{
	struct fx *f = *state;
	const char *b1[] = { "b1" }, *b2[] = { "b2" };
	struct pl_job_row *lost, *run, *again;
	size_t n, reaped;

	submit(f, "b1", 1, 0, 0);
	submit(f, "b2", 1, 0, 0);
	/* the store claimed both for wa; wa heard of the second only (the
	 * answer to the first was lost with its connection) */
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 60000, &lost), 0);
	assert_int_equal(pl_store_claim(f->a, "wa", b2, 1, 60000, &run), 0);
	f->cap.warnings = 0;
	assert_int_equal(pl_store_heartbeat(f->a, "wa", 60000, &run->id, 1,
					    &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f->cap.warnings, 1);
	assert_non_null(strstr(f->cap.last, "not running"));
	/* long before its lease would have ended, the unknown one is
	 * queued again; the one wa runs is not touched */
	assert_int_equal(pl_store_reap(f->b, 2, 0, &reaped), 0);
	assert_int_equal(reaped, 1);
	assert_int_equal(pl_store_claim(f->b, "wa", b1, 1, 60000, &again), 0);
	assert_int_equal(again->id, lost->id);
	assert_int_equal(again->attempt, 2);
	pl_store_jobs_free(again, 1);
	assert_int_equal(pl_store_claim(f->b, "wa", b2, 1, 60000, &again),
			 -ENOENT);
	pl_store_jobs_free(lost, 1);
	pl_store_jobs_free(run, 1);
}

/* The suite's runs that did not run, each with a reason containing why:
 * how many (a job that ended without running must still show). */
static size_t not_run_with(struct fx *f, int64_t suite, const char *why)
{
	struct pl_run_filter rf = { .suite_id = suite, .by_verdict = true,
				    .verdict = PL_VERDICT_NOT_RUN };
	struct pl_run_row *r = NULL;
	size_t n = 0, k = 0;

	assert_int_equal(pl_store_list_runs(f->b, &rf, &r, &n), 0);
	for (size_t i = 0; i < n; i++)
		k += r[i].reason && strstr(r[i].reason, why);
	pl_store_runs_free(r, n);
	return k;
}

static void queue_timeout_ends_waiting_jobs(void **state)
{
	struct fx *f = *state;
	const char *b2[] = { "b2" };
	struct pl_job_row *j, *jobs;
	int64_t suite = submit(f, "b2", 3, 0, 5000 * MS);
	size_t n, reaped;

	assert_int_equal(pl_store_claim(f->a, "wa", b2, 1, 60000, &j), 0);
	pl_store_jobs_free(j, 1);
	f->now += 6000 * MS;
	/* past the deadline nothing more is claimed */
	assert_int_equal(pl_store_claim(f->a, "wa", b2, 1, 1000, &j), -ENOENT);
	assert_int_equal(pl_store_reap(f->b, 2, 0, &reaped), 0);
	assert_int_equal(reaped, 2);
	assert_int_equal(pl_store_list_jobs(f->b, suite, &jobs, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(jobs[0].state, PL_JOB_CLAIMED);
	assert_int_equal(jobs[1].state, PL_JOB_TIMED_OUT);
	assert_int_equal(jobs[2].state, PL_JOB_TIMED_OUT);
	assert_string_equal(pl_job_state_name(jobs[2].state), "timed-out");
	pl_store_jobs_free(jobs, n);
	/* each shows as a run not run, so the suite cannot pass */
	assert_int_equal(not_run_with(f, suite, "queue timeout"), 2);
}

static void cancel_takes_the_waiting_jobs(void **state)
{
	struct fx *f = *state;
	struct pl_job_row *jobs;
	int64_t suite = submit(f, "b1", 4, 0, 0);
	size_t n;

	assert_int_equal(pl_store_cancel(f->b, suite, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(pl_store_cancel(f->b, suite + 1000, &n), -ENOENT);
	assert_int_equal(pl_store_list_jobs(f->b, suite, &jobs, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(jobs[i].state, PL_JOB_CANCELLED);
	pl_store_jobs_free(jobs, n);
	/* each shows as a run not run, so the suite cannot pass */
	assert_int_equal(not_run_with(f, suite, "cancelled before it ran"), 4);
}

/* The job changes after *since (advanced to the newest seq): how many,
 * each checked to name suite and board. */
static size_t job_changes(struct fx *f, int64_t *since, int64_t suite,
			  const char *board)
{
	struct pl_change_row *c;
	size_t n, jobs = 0;

	assert_int_equal(pl_store_changes(f->b, *since, 0, &c, &n), 0);
	for (size_t i = 0; i < n; i++) {
		assert_true(c[i].seq > *since);
		if (c[i].kind != PL_CHANGE_JOB)
			continue;
		assert_string_equal(pl_change_kind_name(c[i].kind), "job");
		assert_int_equal(c[i].suite_id, suite);
		assert_string_equal(c[i].board_id, board);
		assert_int_equal(c[i].run_id, 0);
		jobs++;
	}
	if (n)
		*since = c[n - 1].seq;
	pl_store_changes_free(c, n);
	return jobs;
}

static void a_jobs_change_is_a_change(void **state)
{
	struct fx *f = *state;
	const char *b1[] = { "b1" };
	struct pl_job_row *j;
	int64_t since = 0, seq, suite, run;
	size_t n;

	assert_int_equal(pl_store_seq(f->b, &since), 0);
	/* a submit of three jobs on one board: one change */
	suite = submit(f, "b1", 3, 0, 0);
	assert_int_equal(job_changes(f, &since, suite, "b1"), 1);
	/* a claim: one; the heartbeat that renews its lease: none */
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j), 0);
	assert_int_equal(job_changes(f, &since, suite, "b1"), 1);
	assert_int_equal(pl_store_heartbeat(f->a, "wa", 1000, &j->id, 1, &n),
			 0);
	assert_int_equal(pl_store_seq(f->b, &seq), 0);
	assert_int_equal(seq, since);
	/* its end: one (among the run's own changes) */
	run = engine_run(f->a, "b1", PL_VERDICT_PASS);
	assert_int_equal(pl_store_job_finish(f->a, j->id, "wa", j->attempt,
					     run), 0);
	assert_int_equal(job_changes(f, &since, suite, "b1"), 1);
	pl_store_jobs_free(j, 1);
	/* a cancel of the two waiting: one */
	assert_int_equal(pl_store_cancel(f->b, suite, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(job_changes(f, &since, suite, "b1"), 1);
	/* again, nothing to cancel: none */
	assert_int_equal(pl_store_cancel(f->b, suite, &n), 0);
	assert_int_equal(job_changes(f, &since, suite, "b1"), 0);
}

static void the_queue_lists_in_claim_order(void **state)
{
	struct fx *f = *state;
	const char *b1[] = { "b1" };
	int64_t mine, alice1, bob, alice2, carol, want[5];
	struct pl_job_row *j, *q;
	size_t n, k = 0, cancelled;

	/* worker-a (this store's holder, the default submitter) is served
	 * once; the others never were */
	submit(f, "b1", 1, 0, 0);
	assert_int_equal(pl_store_claim(f->a, "wa", b1, 1, 1000, &j), 0);
	pl_store_jobs_free(j, 1);
	f->now += MS;
	assert_int_equal(pl_store_cancel(f->b, submit(f, "b1", 2, 0, 0),
					 &cancelled), 0);
	f->now += MS;
	mine = submit(f, "b1", 1, 0, 0);
	f->now += MS;
	alice1 = submit_as(f, "alice", 0);
	f->now += MS;
	bob = submit_as(f, "bob", 0);
	f->now += MS;
	alice2 = submit_as(f, "alice", 0);
	f->now += MS;
	carol = submit_as(f, "carol", 5);
	assert_int_equal(pl_store_list_queue(f->b, 1, &q, &n), 0);
	/* 5 queued, 1 claimed, at most 1 of the 2 that ended */
	assert_int_equal(n, 7);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(q[i].state, PL_JOB_QUEUED);
		assert_string_equal(q[i].suite_name, "release");
	}
	/* priority first; then one job of each submitter in the order of
	 * their turn (never served, oldest first), then the next round */
	assert_int_equal(q[0].suite_id, carol);
	assert_int_equal(q[0].priority, 5);
	assert_int_equal(q[1].suite_id, alice1);
	assert_int_equal(q[2].suite_id, bob);
	assert_int_equal(q[3].suite_id, mine);
	assert_int_equal(q[4].suite_id, alice2);
	assert_int_equal(q[5].state, PL_JOB_CLAIMED);
	assert_string_equal(q[5].worker, "wa");
	assert_true(q[5].expires_ns > q[5].claimed_ns);
	assert_int_equal(q[6].state, PL_JOB_CANCELLED);
	assert_int_equal(q[6].ended_ns, f->now - 5 * MS);
	for (size_t i = 0; i < 5; i++)
		want[i] = q[i].id;
	pl_store_jobs_free(q, n);
	/* and that is the order in which the store hands them out */
	while (pl_store_claim(f->a, "wa", b1, 1, 1000, &j) == 0) {
		assert_true(k < 5);
		assert_int_equal(j->id, want[k]);
		k++;
		pl_store_jobs_free(j, 1);
	}
	assert_int_equal(k, 5);
}

static void images_are_stored_once_per_content(void **state)
{
	struct fx *f = *state;
	char sha1[65], sha2[65];
	unsigned char img[70000];
	void *back;
	size_t len;
	long long rows = 0;

	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (unsigned char)(i * 7 + (i >> 8)); /* NULs too */
	assert_int_equal(pl_store_image_put(f->a, img, sizeof(img), sha1), 0);
	assert_int_equal(pl_store_image_put(f->b, img, sizeof(img), sha2), 0);
	assert_string_equal(sha1, sha2);
	assert_int_equal(strlen(sha1), 64);
	assert_int_equal(pl_test_store_query_int(f->url, NULL,
		"SELECT count(*) FROM images", &rows), 0);
	assert_int_equal(rows, 1);
	assert_int_equal(pl_store_image_get(f->b, sha1, &back, &len), 0);
	assert_int_equal(len, sizeof(img));
	assert_memory_equal(back, img, len);
	free(back);
	assert_int_equal(pl_store_image_get(f->b, "00", &back, &len), -ENOENT);
}

static void a_submit_wakes_a_listening_worker(void **state)
{
	struct fx *f = *state;
	size_t n = 0, got = 0;
	int fd = -1;

	assert_int_equal(pl_store_listen(f->b, "patchlab_queue", &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(pl_store_listen(f->b, "no;way", &fd), -EINVAL);
	assert_int_equal(pl_store_notified(f->b, &n), 0);
	assert_int_equal(n, 0);
	submit(f, "b3", 1, 0, 0);
	/* the notification comes on the socket: wait for it, with a
	 * deadline, as a worker's loop does */
	while (got == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		assert_int_equal(poll(&p, 1, 10000), 1);
		assert_int_equal(pl_store_notified(f->b, &n), 0);
		got += n;
	}
	assert_int_equal(got, 1);
}

static void boards_registered_by_workers_are_listed(void **state)
{
	struct fx *f = *state;
	struct pl_board_reg *b;
	size_t n;

	assert_int_equal(pl_store_list_boards(f->a, &b, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(b[2].id, "b3");
	assert_string_equal(b[2].worker, "wb");
	assert_true(b[2].online);
	pl_store_boards_free(b, n);
	assert_int_equal(pl_store_worker_offline(f->b, "wb"), 0);
	assert_int_equal(pl_store_list_boards(f->a, &b, &n), 0);
	assert_false(b[2].online);
	pl_store_boards_free(b, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(a_claimed_job_goes_to_no_other_worker),
		T(priority_then_age),
		T(submitters_take_turns_within_a_priority),
		T(finished_run_lands_in_the_queued_suite),
		T(expired_lease_requeues_and_the_late_result_is_dropped),
		T(a_sweep_jobs_runs_land_once_on_finish),
		T(a_sweep_job_that_lost_its_lease_records_nothing),
		T(a_restarted_worker_gives_back_what_it_held),
		T(a_claim_the_worker_never_heard_of_is_given_back),
		T(queue_timeout_ends_waiting_jobs),
		T(cancel_takes_the_waiting_jobs),
		T(a_jobs_change_is_a_change),
		T(the_queue_lists_in_claim_order),
		T(images_are_stored_once_per_content),
		T(a_submit_wakes_a_listening_worker),
		T(boards_registered_by_workers_are_listed),
#undef T
	};

	/* the queue is PostgreSQL's: this program always runs on it */
	setenv("PL_TEST_STORE", "pg", 1);
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/results/queue", tests, NULL,
					   NULL);
}
