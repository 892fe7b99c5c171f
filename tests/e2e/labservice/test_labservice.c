/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/labservice: a lab that spans hosts, on one machine. A real
 * PostgreSQL 15 (started by the test, pl_test_store.h) is the queue and the
 * store; a virtual rack of four boards is served by two workers (`patchlab
 * worker --boards vb0,vb1` and `--boards vb2,vb3`, each its own process);
 * `patchlab submit --wait` queues scenarios/suites/smoke.yaml from a third
 * and exits like `run`. Checked:
 *
 *   - `patchlab db migrate` brings the empty database to the schema;
 *   - every run of the suite is recorded once, closed, by the worker that
 *     serves its board (the `worker` of each run);
 *   - the verdicts are those of `patchlab run` of the same suite on the
 *     same rack from one host, and so is the exit code;
 *   - without a terminal, submit --wait shows `run`'s plain progress lines
 *     (runs done/total) at `run`'s bounded rate, no line per run, and
 *     `run`'s table at the end;
 *   - a resubmission stores no image twice;
 *   - SIGTERM drains each worker: exit 0, its boards offline;
 *   - a worker killed with SIGKILL while its runs are claimed, then
 *     started again: the submitter still ends 0 with every run of the
 *     suite recorded exactly once;
 *   - a suite whose runs wait past --queue-timeout (its worker stopped
 *     with SIGSTOP): submit --wait exits 3, the runs end timed-out;
 *   - PostgreSQL restarted while a run is claimed: the worker, its run
 *     processes and the waiting submitter reconnect, the submitter ends
 *     0, every run of the suite is there once.
 *
 * Every wait is on an event with a deadline (a process exit, the store
 * polled on a timer), never a sleep. Every child is reaped.
 */
#include <inttypes.h>
#include <signal.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "patchlab/store.h"
#include "pl_test.h"
#include "pl_test_store.h"

#define BOARDS 4
#define READY_DEADLINE_MS 60000u

struct ctx {
	struct e2e_rack rack;
	char *url, *suite;
	/* workers started, killed at teardown if a failed test left them */
	int pids[16];
	int npids;
};

static int group_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	*state = c;
	if (!c)
		return -1;
	/* smoke.yaml names the factory image by $PROFILE */
	setenv("PROFILE", "good", 1);
	c->suite = pl_test_source_path("scenarios/suites/smoke.yaml");
	if (e2e_rack_up(&c->rack, "e2e-labsvc", BOARDS, "good"))
		return -1;
	c->url = pl_test_store_target(c->rack.dir, "unused");
	return c->url ? 0 : -1;
}

/* pid is a child of ours not reaped yet (not a recycled pid). */
static bool still_ours(int pid)
{
	char path[64], *stat;
	const char *p;
	bool ours = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	stat = pl_test_slurp(path);
	p = stat ? strrchr(stat, ')') : NULL;
	if (p) {
		char state;
		int ppid;

		ours = sscanf(p + 1, " %c %d", &state, &ppid) == 2 &&
		       ppid == (int)getpid();
	}
	free(stat);
	return ours;
}

static int group_teardown(void **state)
{
	struct ctx *c = *state;
	int rc;

	for (int i = 0; c && i < c->npids; i++)
		if (still_ours(c->pids[i]) && kill(c->pids[i], SIGKILL) == 0)
			pl_test_reap(c->pids[i], 30000);
	rc = c ? e2e_rack_down(&c->rack) : 0;

	if (c) {
		free(c->url);
		free(c->suite);
		free(c);
	}
	return rc;
}

struct seen {
	struct pl_store *st;
	size_t want_online;
};

/* The workers have registered their boards. */
static bool boards_online(void *ud)
{
	struct seen *s = ud;
	struct pl_board_reg *b = NULL;
	size_t n = 0, online = 0;

	if (pl_store_list_boards(s->st, &b, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		online += b[i].online;
	pl_store_boards_free(b, n);
	return online == s->want_online;
}

static void on_tick(uv_timer_t *t)
{
	(void)t; /* wakes the loop so the predicate is looked at */
}

static int start_worker(struct ctx *c, uv_loop_t *loop, struct e2e_proc *p,
			const char *name, const char *boards)
{
	char out[4200], log[4300];
	char *argv[] = { (char *)pl_test_patchlab(), "worker", "--lab",
			 c->rack.lab, "--db", c->url, "--name", (char *)name,
			 "--boards", (char *)boards, "--out", out, "--poll",
			 "100ms", "--lease", "10s", NULL };
	int rc;

	snprintf(out, sizeof(out), "%s/%s", c->rack.dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", c->rack.dir, name);
	rc = e2e_spawn(loop, p, NULL, log, argv);
	if (rc == 0 && c->npids < 16)
		c->pids[c->npids++] = p->h.pid;
	return rc;
}

static void print_file(const char *path)
{
	char *s = pl_test_slurp(path);

	fprintf(stderr, "--- %s\n%s\n", path, s ? s : "(none)");
	free(s);
}

/* board -> verdict of every run of a report. */
static json_t *verdicts_of(const char *json_path)
{
	json_t *root = json_load_file(json_path, 0, NULL), *out = json_object();
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(root, "runs"), i, r)
		json_object_set(out, json_string_value(json_object_get(r,
							"board")),
				json_object_get(r, "verdict"));
	json_decref(root);
	return out;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * What submit --wait showed without a terminal: `run`'s plain progress
 * lines ("[done/total] pass ..."), at a bounded rate (run_output.c: one
 * at most every 10 s, and the last) over wall_s seconds, ending with
 * every run; no line per run without -v; then the table `run` prints.
 */
static void shows_progress_like_run(const char *out, double wall_s)
{
	char last[32];
	size_t lines = 0;

	for (const char *l = out; l; l = strchr(l, '\n')) {
		unsigned done, total;
		char pass[5];

		l += *l == '\n';
		lines += sscanf(l, "[%u/%u] %4s", &done, &total, pass) == 3 &&
			 strcmp(pass, "pass") == 0;
	}
	snprintf(last, sizeof(last), "[%d/%d] pass ", BOARDS, BOARDS);
	if (!strstr(out, last) || lines < 1 || lines > 2 + wall_s / 10 ||
	    strstr(out, "(worker ") || !strstr(out, "update_clean"))
		fail_msg("submit --wait output (%zu progress lines in %.0f s):"
			 "\n%s", lines, wall_s, out);
}

static void suite_spread_over_two_workers_matches_one_host(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc w0 = { 0 }, w1 = { 0 };
	struct seen seen = { .want_online = BOARDS };
	struct pl_run_filter f = { 0 };
	struct pl_run_row *runs = NULL;
	char one[4200], spread[4200], onedb[4200], *out = NULL;
	json_t *v1, *v2;
	long long suite = 0, images = 0;
	size_t n = 0;
	uv_loop_t loop;
	uv_timer_t tick;
	int rc1, rc2, rc_one;
	double wall;

	/* one host, as today */
	snprintf(one, sizeof(one), "%s/one.json", c->rack.dir);
	snprintf(onedb, sizeof(onedb), "%s/one.db", c->rack.dir);
	rc1 = e2e_patchlab(NULL, &out, "run", c->suite, "--lab", c->rack.lab,
			   "--db", onedb, "--out", c->rack.dir, "--json", one,
			   "--seed", "7", "-q", NULL);
	if (rc1 != PL_EXIT_OK && rc1 != PL_EXIT_GATE_FAILED)
		fail_msg("patchlab run: exit %d\n%s", rc1, out ? out : "");
	free(out);
	out = NULL;
	rc_one = rc1;

	rc1 = e2e_patchlab(NULL, &out, "db", "migrate", "--db", c->url, NULL);
	if (rc1 != 0 || !strstr(out, "schema version 0 -> "))
		fail_msg("db migrate: exit %d\n%s", rc1, out ? out : "");
	free(out);
	out = NULL;

	uv_loop_init(&loop);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 100, 100);
	assert_int_equal(start_worker(c, &loop, &w0, "w0", "vb0,vb1"), 0);
	assert_int_equal(start_worker(c, &loop, &w1, "w1", "vb2,vb3"), 0);
	assert_int_equal(pl_store_open(&seen.st, c->url, NULL), 0);
	if (pl_test_loop_until(&loop, boards_online, &seen,
			       READY_DEADLINE_MS) != 0) {
		print_file(w0.out_path);
		print_file(w1.out_path);
		fail_msg("the workers did not register %d boards", BOARDS);
	}

	/* the lab service, from a third process */
	snprintf(spread, sizeof(spread), "%s/spread.json", c->rack.dir);
	wall = mono_s();
	rc2 = e2e_patchlab(NULL, &out, "submit", c->suite, "--db", c->url,
			   "--wait", "--timeout", "4m", "--json", spread,
			   "--seed", "7", NULL);
	if (rc2 != rc_one) {
		print_file(w0.out_path);
		print_file(w1.out_path);
		fail_msg("submit --wait: exit %d, run: %d\n%s", rc2, rc_one,
			 out ? out : "");
	}
	wall = mono_s() - wall;
	assert_int_equal(sscanf(out, "suite %lld queued", &suite), 1);
	shows_progress_like_run(out, wall);
	free(out);
	out = NULL;

	/* every run once, closed, by the worker of its board */
	f.suite_id = suite;
	assert_int_equal(pl_store_list_runs(seen.st, &f, &runs, &n), 0);
	assert_int_equal(n, BOARDS);
	for (size_t i = 0; i < n; i++) {
		const char *want = strcmp(runs[i].board_id, "vb2") < 0 ? "w0" :
									"w1";

		assert_false(runs[i].open);
		assert_non_null(runs[i].worker);
		assert_string_equal(runs[i].worker, want);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(runs[k].board_id,
						runs[i].board_id);
	}
	pl_store_runs_free(runs, n);
	/* the same verdicts as on one host */
	v1 = verdicts_of(one);
	v2 = verdicts_of(spread);
	assert_int_equal(json_object_size(v1), BOARDS);
	if (!json_equal(v1, v2)) {
		char *a = json_dumps(v1, 0), *b = json_dumps(v2, 0);

		fail_msg("verdicts differ: one host %s, lab service %s", a, b);
	}
	json_decref(v1);
	json_decref(v2);

	/* a resubmission (no wait) stores no image twice */
	assert_int_equal(pl_test_store_query_int(c->url, NULL,
		"SELECT count(*) FROM images", &images), 0);
	assert_int_equal(e2e_patchlab(NULL, &out, "submit", c->suite, "--db",
				      c->url, "--priority", "-5", NULL), 0);
	free(out);
	out = NULL;
	{
		long long again = 0;

		assert_int_equal(pl_test_store_query_int(c->url, NULL,
			"SELECT count(*) FROM images", &again), 0);
		assert_int_equal(again, images);
	}
	assert_int_equal(e2e_patchlab(NULL, &out, "queue", "--db", c->url,
				      NULL), 0);
	assert_non_null(strstr(out, "waiting or running"));
	free(out);
	out = NULL;

	/* SIGTERM drains: each worker finishes what it runs and ends 0 */
	uv_process_kill(&w0.h, SIGTERM);
	uv_process_kill(&w1.h, SIGTERM);
	assert_int_equal(e2e_wait(&loop, &w0, E2E_RUN_DEADLINE_MS), 0);
	assert_int_equal(e2e_wait(&loop, &w1, E2E_RUN_DEADLINE_MS), 0);
	seen.want_online = 0;
	assert_true(boards_online(&seen));
	pl_store_close(seen.st);
	uv_close((uv_handle_t *)&tick, NULL);
	pl_test_loop_drain(&loop);
}

struct claimed {
	struct pl_store *st;
	int64_t after, suite;
	const char *worker;
};

/* A job of the suite is claimed by the worker. */
static bool job_claimed(void *ud)
{
	struct claimed *c = ud;
	struct pl_job_row *j = NULL;
	size_t n = 0;
	bool yes = false;

	if (pl_store_list_jobs(c->st, c->suite, &j, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		yes |= j[i].state == PL_JOB_CLAIMED && j[i].worker &&
		       strcmp(j[i].worker, c->worker) == 0;
	pl_store_jobs_free(j, n);
	return yes;
}

/* The newest suite id in the store. */
static int64_t newest_suite(struct pl_store *st)
{
	struct pl_suite_row *s = NULL;
	size_t n = 0;
	int64_t id = 0;

	if (pl_store_list_suites(st, &s, &n) == 0 && n)
		id = s[0].id;
	pl_store_suites_free(s, n);
	return id;
}

/* A suite newer than c->after exists: c->suite. */
static bool suite_queued(void *ud)
{
	struct claimed *c = ud;

	c->suite = newest_suite(c->st);
	return c->suite > c->after;
}

static void killed_worker_loses_no_run(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc w = { 0 }, w2 = { 0 }, sub = { 0 };
	struct seen seen = { .want_online = 2 };
	struct claimed cl = { .worker = "wk" };
	struct pl_run_filter f = { 0 };
	struct pl_run_row *runs = NULL;
	char log[4200];
	char *argv[] = { (char *)pl_test_patchlab(), "submit", c->suite,
			 "--db", c->url, "--wait", "--timeout", "4m", NULL };
	size_t n = 0;
	uv_loop_t loop;
	uv_timer_t tick;

	assert_int_equal(pl_store_open(&seen.st, c->url, NULL), 0);
	cl.st = seen.st;
	uv_loop_init(&loop);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 50, 50);
	assert_int_equal(start_worker(c, &loop, &w, "wk", "vb0,vb1"), 0);
	assert_int_equal(pl_test_loop_until(&loop, boards_online, &seen,
					    READY_DEADLINE_MS), 0);
	snprintf(log, sizeof(log), "%s/submit-kill.log", c->rack.dir);
	assert_int_equal(e2e_spawn(&loop, &sub, NULL, log, argv), 0);
	/* its suite, once queued: newer than any before it */
	cl.after = newest_suite(seen.st);
	assert_int_equal(pl_test_loop_until(&loop, suite_queued, &cl,
					    READY_DEADLINE_MS), 0);
	assert_int_equal(pl_test_loop_until(&loop, job_claimed, &cl,
					    READY_DEADLINE_MS), 0);
	/* mid-run, whatever the run's speed: the worker and its run
	 * processes frozen, the worker killed, the runs let go on */
	{
		char path[64], *kids;
		int pids[16], np = 0;

		uv_process_kill(&w.h, SIGSTOP);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
			 w.h.pid, w.h.pid);
		kids = pl_test_slurp(path);
		for (char *p = kids, *e; p && np < 16; p = e) {
			long pid = strtol(p, &e, 10);

			if (e == p)
				break;
			pids[np++] = (int)pid;
		}
		free(kids);
		for (int i = 0; i < np; i++)
			kill(pids[i], SIGSTOP);
		uv_process_kill(&w.h, SIGKILL);
		assert_int_equal(e2e_wait(&loop, &w, E2E_RUN_DEADLINE_MS),
				 128 + 9);
		for (int i = 0; i < np; i++)
			kill(pids[i], SIGCONT);
		printf("killed worker: %d run processes in flight\n", np);
	}
	/* back again, under the same name: it takes the jobs back */
	assert_int_equal(start_worker(c, &loop, &w2, "wk", "vb0,vb1"), 0);
	if (e2e_wait(&loop, &sub, E2E_RUN_DEADLINE_MS) != 0) {
		print_file(log);
		print_file(w2.out_path);
		fail_msg("submit --wait after a killed worker: exit %d",
			 sub.code);
	}
	f.suite_id = cl.suite;
	assert_int_equal(pl_store_list_runs(seen.st, &f, &runs, &n), 0);
	assert_int_equal(n, 2); /* one per board: none lost, none twice */
	assert_string_not_equal(runs[0].board_id, runs[1].board_id);
	for (size_t i = 0; i < n; i++) {
		assert_false(runs[i].open);
		assert_int_equal(runs[i].verdict, PL_VERDICT_PASS);
		assert_string_equal(runs[i].worker, "wk");
	}
	pl_store_runs_free(runs, n);
	{
		struct pl_job_row *j = NULL;
		size_t nj = 0, again = 0;

		/* the killed worker's claimed run is taken back and run
		 * again (by its run process giving it back, or by the
		 * lease expiring when the kill came before the spawn) */
		assert_int_equal(pl_store_list_jobs(seen.st, cl.suite, &j, &nj),
				 0);
		for (size_t i = 0; i < nj; i++) {
			assert_int_equal(j[i].state, PL_JOB_DONE);
			again += j[i].attempt > 1;
		}
		printf("killed worker: %zu of %zu runs were taken back and "
		       "run again\n", again, nj);
		assert_true(again >= 1);
		pl_store_jobs_free(j, nj);
	}
	uv_process_kill(&w2.h, SIGTERM);
	assert_int_equal(e2e_wait(&loop, &w2, E2E_RUN_DEADLINE_MS), 0);
	pl_store_close(seen.st);
	uv_close((uv_handle_t *)&tick, NULL);
	pl_test_loop_drain(&loop);
}

static void runs_waiting_past_the_queue_timeout_exit_3(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc w = { 0 };
	struct seen seen = { .want_online = 2 };
	struct pl_job_row *j = NULL;
	char *out = NULL;
	size_t n = 0, timed_out = 0;
	long long suite = 0;
	uv_loop_t loop;
	uv_timer_t tick;
	int rc;

	uv_loop_init(&loop);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 50, 50);
	assert_int_equal(pl_store_open(&seen.st, c->url, NULL), 0);
	assert_int_equal(start_worker(c, &loop, &w, "wq", "vb0,vb1"), 0);
	assert_int_equal(pl_test_loop_until(&loop, boards_online, &seen,
					    READY_DEADLINE_MS), 0);
	/* online, but claiming nothing */
	uv_process_kill(&w.h, SIGSTOP);
	rc = e2e_patchlab(NULL, &out, "submit", c->suite, "--db", c->url,
			  "--wait", "--timeout", "4m", "--queue-timeout", "1s",
			  NULL);
	if (rc != 3)
		fail_msg("submit past its queue timeout: exit %d\n%s", rc,
			 out ? out : "");
	assert_non_null(strstr(out, "queue timeout"));
	assert_int_equal(sscanf(out, "suite %lld queued", &suite), 1);
	free(out);
	assert_int_equal(pl_store_list_jobs(seen.st, suite, &j, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		timed_out += j[i].state == PL_JOB_TIMED_OUT;
	assert_int_equal(timed_out, 2);
	pl_store_jobs_free(j, n);
	uv_process_kill(&w.h, SIGCONT);
	uv_process_kill(&w.h, SIGTERM);
	assert_int_equal(e2e_wait(&loop, &w, E2E_RUN_DEADLINE_MS), 0);
	pl_store_close(seen.st);
	uv_close((uv_handle_t *)&tick, NULL);
	pl_test_loop_drain(&loop);
}

static void database_restart_mid_suite_loses_nothing(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc w = { 0 }, sub = { 0 };
	struct seen seen = { .want_online = 2 };
	struct claimed cl = { .worker = "wr" };
	struct pl_run_filter f = { 0 };
	struct pl_run_row *runs = NULL;
	char log[4200];
	char *argv[] = { (char *)pl_test_patchlab(), "submit", c->suite,
			 "--db", c->url, "--wait", "--timeout", "4m", NULL };
	size_t n = 0;
	uv_loop_t loop;
	uv_timer_t tick;

	assert_int_equal(pl_store_open(&seen.st, c->url, NULL), 0);
	cl.st = seen.st;
	uv_loop_init(&loop);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 50, 50);
	assert_int_equal(start_worker(c, &loop, &w, "wr", "vb0,vb1"), 0);
	assert_int_equal(pl_test_loop_until(&loop, boards_online, &seen,
					    READY_DEADLINE_MS), 0);
	cl.after = newest_suite(seen.st);
	snprintf(log, sizeof(log), "%s/submit-restart.log", c->rack.dir);
	assert_int_equal(e2e_spawn(&loop, &sub, NULL, log, argv), 0);
	assert_int_equal(pl_test_loop_until(&loop, suite_queued, &cl,
					    READY_DEADLINE_MS), 0);
	assert_int_equal(pl_test_loop_until(&loop, job_claimed, &cl,
					    READY_DEADLINE_MS), 0);
	/* every connection cut while the worker's runs are in flight */
	assert_int_equal(pl_test_pg_restart(), 0);
	if (e2e_wait(&loop, &sub, E2E_RUN_DEADLINE_MS) != 0) {
		print_file(log);
		print_file(w.out_path);
		fail_msg("submit --wait across a restart: exit %d", sub.code);
	}
	f.suite_id = cl.suite;
	assert_int_equal(pl_store_list_runs(seen.st, &f, &runs, &n), 0);
	assert_int_equal(n, 2); /* one per board: none lost, none twice */
	assert_string_not_equal(runs[0].board_id, runs[1].board_id);
	for (size_t i = 0; i < n; i++) {
		assert_false(runs[i].open);
		assert_string_equal(runs[i].worker, "wr");
	}
	pl_store_runs_free(runs, n);
	uv_process_kill(&w.h, SIGTERM);
	assert_int_equal(e2e_wait(&loop, &w, E2E_RUN_DEADLINE_MS), 0);
	pl_store_close(seen.st);
	uv_close((uv_handle_t *)&tick, NULL);
	pl_test_loop_drain(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			suite_spread_over_two_workers_matches_one_host),
		cmocka_unit_test(killed_worker_loses_no_run),
		cmocka_unit_test(runs_waiting_past_the_queue_timeout_exit_3),
		cmocka_unit_test(database_restart_mid_suite_loses_nothing),
	};

	/* the lab service is PostgreSQL's: this program always runs on it */
	setenv("PL_TEST_STORE", "pg", 1);
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/e2e/labservice", tests,
					   group_setup, group_teardown);
}
