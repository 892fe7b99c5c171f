/* SPDX-License-Identifier: MIT */
/*
 * bench_queue [OUT.json]: the lab service's queue on a real PostgreSQL 15
 * (started here, as the tests start it: tests/integration/pg), without
 * boards: each "run" is what a worker's engine writes for a run (a suite
 * of its own, the run, three events, its end), so the figures are the
 * queue's own cost.
 *
 *   1. one worker, one board, one job at a time: the latency of submit
 *      (per job), claim, and finish (moving the run into the queued suite),
 *      and the queue's overhead per run = claim + finish + the heartbeat
 *      and reap a worker does per poll, next to the run's own writes;
 *   2. 10,000 queued runs through 20 worker processes x 8 boards: runs/s,
 *      claim latency p50/p99;
 *   3. more and more worker processes claiming and completing at once:
 *      runs/s and claim p99 per count, to see where the database saturates
 *      (claim p99 past 100 ms).
 *
 * Prints the figures and writes $PL_BENCH_OUT/queue.json (default
 * $PL_SOURCE_DIR/runs/bench/queue.json). Not a test: it asserts nothing.
 * The server runs with fsync off (a test server): durable commits would
 * add the disk's flush time to every write transaction.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "patchlab/clock.h"
#include "patchlab/store.h"
#include "pl_test_store.h"

#define BOARDS_PER_WORKER 8

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_ms(uint64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(size_t)(p * (double)(n - 1))] / 1e6;
}

/* What a worker's engine writes for one run. The run id. */
static int64_t engine_run(struct pl_store *st, const char *board)
{
	struct pl_suite_info si = { .name = "engine-own" };
	struct pl_run_info ri = { .board_id = board, .board_type = "vboard",
				  .scenario = "scenarios/update_clean.lua" };
	int64_t suite = 0, run = 0;

	if (pl_store_suite_begin(st, &si, &suite))
		return 0;
	ri.suite_id = suite;
	if (pl_store_run_begin(st, &ri, &run))
		return 0;
	pl_store_event_power(st, run, "off", 1, 2, 3);
	pl_store_event_power(st, run, "on", 4, 5, 6);
	pl_store_run_event(st, run, 7, PL_EV_LOG, "{\"msg\":\"booted\"}");
	pl_store_run_end(st, run, PL_VERDICT_PASS, NULL);
	pl_store_suite_end(st, suite, "pass");
	return run;
}

static int submit(struct pl_store *st, const char *const *boards, size_t nb,
		  size_t n, int64_t *suite)
{
	struct pl_job_info *jobs = calloc(n, sizeof(*jobs));
	struct pl_submit_info si = {
		.suite = { .name = "bench", .file = "/src/suites/bench.yaml" },
	};
	int rc;

	if (!jobs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		jobs[i] = (struct pl_job_info){
			.board_id = boards[i % nb], .board_type = "vboard",
			.scenario = "scenarios/update_clean.lua",
			.params_json = "{\"repeat_index\":1}", .seed = i };
	rc = pl_store_submit(st, &si, jobs, n, suite);
	free(jobs);
	return rc;
}

static int register_worker(struct pl_store *st, const char *name,
			   char boards[][32], size_t nb)
{
	struct pl_worker_board reg[BOARDS_PER_WORKER];

	for (size_t i = 0; i < nb; i++)
		reg[i] = (struct pl_worker_board){ .id = boards[i],
						   .type = "vboard" };
	return pl_store_worker_register(st, name, "lab.yaml", reg, nb, 2);
}

/* ------------------------------------------------------- 1. one worker */

static json_t *one_worker(const char *url, size_t n)
{
	uint64_t *claim = calloc(n, sizeof(*claim));
	uint64_t *finish = calloc(n, sizeof(*finish));
	uint64_t *own = calloc(n, sizeof(*own));
	uint64_t *poll = calloc(n, sizeof(*poll));
	uint64_t *sub = calloc(n, sizeof(*sub));
	char boards[1][32] = { "b0" };
	const char *b0 = "b0";
	struct pl_store *st = NULL;
	json_t *out = NULL;
	size_t done = 0;

	if (!claim || !finish || !own || !poll || !sub ||
	    pl_store_open(&st, url, NULL) ||
	    register_worker(st, "w-one", boards, 1))
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		struct pl_job_row *j = NULL;
		int64_t suite, run;
		uint64_t t0 = pl_now_ns(), t1, t2, t3, t4;

		if (submit(st, &b0, 1, 1, &suite))
			break;
		t1 = pl_now_ns();
		if (pl_store_claim(st, "w-one", &b0, 1, 30000, &j))
			break;
		t2 = pl_now_ns();
		run = engine_run(st, "b0");
		t3 = pl_now_ns();
		if (!run || pl_store_job_finish(st, j->id, "w-one", j->attempt,
						run)) {
			pl_store_jobs_free(j, 1);
			break;
		}
		t4 = pl_now_ns();
		pl_store_jobs_free(j, 1);
		/* a poll: the reap and the heartbeat a worker does */
		pl_store_reap(st, 2, 180000, NULL);
		pl_store_heartbeat(st, "w-one", 30000, NULL, 0, NULL);
		poll[i] = pl_now_ns() - t4;
		sub[i] = t1 - t0;
		claim[i] = t2 - t1;
		own[i] = t3 - t2;
		finish[i] = t4 - t3;
		done++;
	}
	{
		uint64_t *over = calloc(done + 1, sizeof(*over));

		for (size_t i = 0; over && i < done; i++)
			over[i] = claim[i] + finish[i];
		out = json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
				"runs", (json_int_t)done,
				"submit_one_ms_median", pct_ms(sub, done, 0.5),
				"claim_ms_median", pct_ms(claim, done, 0.5),
				"claim_ms_p99", pct_ms(claim, done, 0.99),
				"finish_ms_median", pct_ms(finish, done, 0.5),
				"poll_reap_heartbeat_ms_median",
				pct_ms(poll, done, 0.5),
				"queue_overhead_ms_median",
				over ? pct_ms(over, done, 0.5) : 0.0,
				"queue_overhead_ms_p99",
				over ? pct_ms(over, done, 0.99) : 0.0,
				"engine_writes_ms_median",
				pct_ms(own, done, 0.5));
		free(over);
	}
out_free:
	pl_store_close(st);
	free(claim);
	free(finish);
	free(own);
	free(poll);
	free(sub);
	return out;
}

/* ------------------------------------------------ 2, 3. many workers */

/* One worker process: claim for its boards, "run", finish, until nothing
 * is left; claim latencies (ns, one a line) to path. Exit 0. */
static int worker_proc(const char *url, int k, const char *path)
{
	char boards[BOARDS_PER_WORKER][32], name[32];
	const char *bp[BOARDS_PER_WORKER];
	struct pl_store *st = NULL;
	FILE *f = fopen(path, "w");
	int misses = 0;

	if (!f || pl_store_open(&st, url, NULL))
		return 1;
	snprintf(name, sizeof(name), "w%d", k);
	for (int i = 0; i < BOARDS_PER_WORKER; i++) {
		snprintf(boards[i], sizeof(boards[i]), "w%d-b%d", k, i);
		bp[i] = boards[i];
	}
	/* the boards stay busy back to back: a claim for any of them */
	while (misses < 2) {
		struct pl_job_row *j = NULL;
		uint64_t t0 = pl_now_ns();
		int rc = pl_store_claim(st, name, bp, BOARDS_PER_WORKER, 30000,
					&j);
		int64_t run;

		if (rc == -ENOENT) {
			misses++;
			continue;
		}
		if (rc)
			break;
		misses = 0;
		fprintf(f, "%" PRIu64 "\n", pl_now_ns() - t0);
		run = engine_run(st, j->board_id);
		if (run)
			pl_store_job_finish(st, j->id, name, j->attempt, run);
		pl_store_jobs_free(j, 1);
	}
	fclose(f);
	pl_store_close(st);
	return 0;
}

/* nw worker processes, per_worker runs each: runs/s and claim latency. */
static json_t *many(const char *url, const char *tmp, int nw, size_t per)
{
	struct pl_store *st = NULL;
	uint64_t *lat = NULL, t0, wall;
	size_t n = 0, cap = 0;
	pid_t *pids = calloc((size_t)nw, sizeof(*pids));
	json_t *out = NULL;

	if (!pids || pl_store_open(&st, url, NULL))
		goto out_free;
	/* a fresh queue: earlier phases' jobs are done */
	for (int k = 0; k < nw; k++) {
		char boards[BOARDS_PER_WORKER][32], name[32];
		const char *bp[BOARDS_PER_WORKER];
		int64_t suite;

		snprintf(name, sizeof(name), "w%d", k);
		for (int i = 0; i < BOARDS_PER_WORKER; i++) {
			snprintf(boards[i], sizeof(boards[i]), "w%d-b%d", k, i);
			bp[i] = boards[i];
		}
		if (register_worker(st, name, boards, BOARDS_PER_WORKER) ||
		    submit(st, bp, BOARDS_PER_WORKER, per, &suite))
			goto out_free;
	}
	t0 = pl_now_ns();
	for (int k = 0; k < nw; k++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/lat-%d-%d", tmp, nw, k);
		pids[k] = fork();
		if (pids[k] == 0)
			_exit(worker_proc(url, k, path));
	}
	for (int k = 0; k < nw; k++)
		waitpid(pids[k], NULL, 0);
	wall = pl_now_ns() - t0;
	for (int k = 0; k < nw; k++) {
		char path[512];
		unsigned long long v;
		FILE *f;

		snprintf(path, sizeof(path), "%s/lat-%d-%d", tmp, nw, k);
		f = fopen(path, "r");
		while (f && fscanf(f, "%llu", &v) == 1) {
			if (n == cap) {
				uint64_t *p;

				cap = cap ? cap * 2 : 1024;
				p = realloc(lat, cap * sizeof(*lat));
				if (!p)
					break;
				lat = p;
			}
			lat[n++] = v;
		}
		if (f)
			fclose(f);
		unlink(path);
	}
	out = json_pack("{s:i, s:i, s:I, s:f, s:f, s:f, s:f}", "workers", nw,
			"boards", nw * BOARDS_PER_WORKER, "runs", (json_int_t)n,
			"wall_s", wall / 1e9, "runs_per_s",
			wall ? n / (wall / 1e9) : 0.0, "claim_ms_p50",
			pct_ms(lat, n, 0.5), "claim_ms_p99",
			pct_ms(lat, n, 0.99));
out_free:
	free(lat);
	free(pids);
	pl_store_close(st);
	return out;
}

int main(int argc, char **argv)
{
	const char *src = getenv("PL_SOURCE_DIR"), *dir = getenv("PL_BENCH_OUT");
	char *outp = NULL, *url, tmp[] = "/tmp/pl-bench-queue-XXXXXX", host[256];
	json_t *root, *one, *big, *sat = json_array();
	static const int counts[] = { 1, 4, 16, 64, 128, 256 };

	setenv("PL_TEST_STORE", "pg", 1);
	pl_test_store_init();
	if (!mkdtemp(tmp))
		return 2;
	if (argc > 1) {
		outp = strdup(argv[1]);
	} else {
		char *d = NULL;

		if (dir)
			d = strdup(dir);
		else if (asprintf(&d, "%s/runs/bench", src ? src : ".") < 0)
			d = NULL;
		if (!d)
			return 2;
		mkdir(d, 0755);
		if (asprintf(&outp, "%s/queue.json", d) < 0)
			outp = NULL;
		free(d);
	}
	if (!outp)
		return 2;

	url = pl_test_store_target(tmp, "q");
	one = one_worker(url, 1000);
	free(url);
	url = pl_test_store_target(tmp, "q");
	/* 10,000 runs through 20 workers x 8 boards */
	big = many(url, tmp, 20, 500);
	free(url);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		json_t *r;

		url = pl_test_store_target(tmp, "q");
		r = many(url, tmp, counts[i], counts[i] >= 64 ? 20 : 200);
		free(url);
		if (!r)
			break;
		json_array_append_new(sat, r);
	}
	gethostname(host, sizeof(host));
	root = json_pack("{s:s, s:{s:i, s:s}, s:o*, s:o*, s:o}", "bench",
			 "queue", "machine", "nproc",
			 (int)sysconf(_SC_NPROCESSORS_ONLN), "host", host,
			 "one_worker", one, "runs_10000_20x8", big,
			 "saturation", sat);
	{
		char *s = json_dumps(root, JSON_INDENT(2));

		printf("%s\n", s ? s : "{}");
		free(s);
	}
	if (json_dump_file(root, outp, JSON_INDENT(2)) == 0)
		printf("wrote %s\n", outp);
	json_decref(root);
	free(outp);
	rmdir(tmp);
	return 0;
}
