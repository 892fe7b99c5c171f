/* SPDX-License-Identifier: MIT */
/*
 * bench_labservice [ROUNDS] [OUT.json]: the lab service end to end on a
 * virtual rack of two boards (speed 20) and a real PostgreSQL 15 started
 * here: one `patchlab worker` (--poll 500ms, the default), and ROUNDS
 * (default 10) of `patchlab submit scenarios/suites/smoke.yaml --wait`,
 * then the same suite with `patchlab run` from one host, as many times.
 * From the store (times of the store's wall clock):
 *
 *   queue-to-claim   a job's claim - its queueing (the poll interval shows)
 *   claim-to-start   the run's start - the job's claim: spawning the run
 *                    process and the engine's set-up, up to the run's begin
 *   service overhead per run: the job's end - its claim - the run's own
 *                    duration (run process, engine set-up and tear-down,
 *                    the finishing transaction)
 *
 * and the wall time per round of submit --wait next to run's. Prints the
 * figures and writes $PL_BENCH_OUT/labservice.json (default
 * $PL_SOURCE_DIR/runs/bench/labservice.json). Not a test.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/clock.h"
#include "patchlab/store.h"
#include "pl_test_store.h"

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

static json_t *dist(uint64_t *v, size_t n)
{
	return json_pack("{s:I, s:f, s:f, s:f}", "n", (json_int_t)n,
			 "median_ms", pct_ms(v, n, 0.5), "p90_ms",
			 pct_ms(v, n, 0.9), "max_ms", pct_ms(v, n, 1.0));
}

int main(int argc, char **argv)
{
	const char *src = getenv("PL_SOURCE_DIR"), *dir = getenv("PL_BENCH_OUT");
	int rounds = argc > 1 ? atoi(argv[1]) : 10;
	struct e2e_rack rack;
	struct e2e_proc w = { 0 };
	struct pl_store *st = NULL;
	uint64_t *q2c, *c2s, *over, *svc_wall, *run_wall;
	size_t n = 0;
	char *url, *suite, *outp = NULL, wout[4200], wlog[4300], onedb[4200];
	uv_loop_t loop;
	json_t *root;

	if (rounds < 1)
		rounds = 10;
	setenv("PL_TEST_STORE", "pg", 1);
	setenv("PROFILE", "good", 1);
	pl_test_store_init();
	suite = pl_test_source_path("scenarios/suites/smoke.yaml");
	if (e2e_rack_up(&rack, "bench-labsvc", 2, "good"))
		return 2;
	url = pl_test_store_target(rack.dir, "x");
	q2c = calloc((size_t)rounds * 2 + 1, sizeof(*q2c));
	c2s = calloc((size_t)rounds * 2 + 1, sizeof(*c2s));
	over = calloc((size_t)rounds * 2 + 1, sizeof(*over));
	svc_wall = calloc((size_t)rounds + 1, sizeof(*svc_wall));
	run_wall = calloc((size_t)rounds + 1, sizeof(*run_wall));
	if (!url || !q2c || !c2s || !over || !svc_wall || !run_wall)
		return 2;
	snprintf(wout, sizeof(wout), "%s/w", rack.dir);
	snprintf(wlog, sizeof(wlog), "%s/w.log", rack.dir);
	snprintf(onedb, sizeof(onedb), "%s/one.db", rack.dir);
	uv_loop_init(&loop);
	{
		char *av[] = { (char *)pl_test_patchlab(), "worker", "--lab",
			       rack.lab, "--db", url, "--name", "bench", "--out",
			       wout, NULL };

		if (e2e_spawn(&loop, &w, NULL, wlog, av))
			return 2;
	}
	if (pl_store_open(&st, url, NULL))
		return 2;
	for (int r = 0; r < rounds; r++) {
		struct pl_job_row *j = NULL;
		struct pl_run_row *run = NULL;
		uint64_t t0 = pl_now_ns();
		char *out = NULL;
		long long sid = 0;
		size_t nj = 0;
		int rc;

		/* the first rounds may come before the worker registered */
		do {
			free(out);
			out = NULL;
			rc = e2e_patchlab(NULL, &out, "submit", suite, "--db", url,
					  "--wait", "--timeout", "5m", "-q", NULL);
		} while (rc == 2 && out && strstr(out, "selects no board") &&
			 pl_now_ns() - t0 < 60000000000ull);
		svc_wall[r] = pl_now_ns() - t0;
		if (rc != 0 || sscanf(out, "suite %lld queued", &sid) != 1) {
			fprintf(stderr, "submit: exit %d\n%s", rc, out ? out : "");
			free(out);
			break;
		}
		free(out);
		out = NULL;
		if (pl_store_list_jobs(st, sid, &j, &nj) == 0) {
			for (size_t i = 0; i < nj; i++) {
				if (!j[i].run_id || pl_store_get_run(st,
						j[i].run_id, &run, NULL, NULL))
					continue;
				q2c[n] = j[i].claimed_ns - j[i].queued_ns;
				c2s[n] = run->started_ns - j[i].claimed_ns;
				over[n] = j[i].ended_ns - j[i].claimed_ns -
					  run->duration_ns;
				n++;
				pl_store_run_free(run, NULL, 0);
			}
		}
		pl_store_jobs_free(j, nj);
		t0 = pl_now_ns();
		rc = e2e_patchlab(NULL, &out, "run", suite, "--lab", rack.lab,
				  "--db", onedb, "--out", rack.dir, "-q", NULL);
		run_wall[r] = pl_now_ns() - t0;
		free(out);
	}
	uv_process_kill(&w.h, SIGTERM);
	e2e_wait(&loop, &w, 60000);
	pl_test_loop_drain(&loop);
	pl_store_close(st);
	root = json_pack("{s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o}", "bench",
			 "labservice", "nproc",
			 (int)sysconf(_SC_NPROCESSORS_ONLN), "rounds", rounds,
			 "queue_to_claim", dist(q2c, n), "claim_to_start",
			 dist(c2s, n), "service_overhead_per_run", dist(over, n),
			 "submit_wait_wall_per_round", dist(svc_wall,
							    (size_t)rounds),
			 "run_wall_per_round", dist(run_wall, (size_t)rounds));
	if (argc > 2)
		outp = strdup(argv[2]);
	else if (asprintf(&outp, "%s/labservice.json", dir ? dir : "runs/bench")
		 < 0)
		outp = NULL;
	if (!dir && argc <= 2 && src) {
		char *d;

		free(outp);
		outp = NULL;
		if (asprintf(&d, "%s/runs/bench", src) > 0) {
			mkdir(d, 0755);
			if (asprintf(&outp, "%s/labservice.json", d) < 0)
				outp = NULL;
			free(d);
		}
	}
	{
		char *s = json_dumps(root, JSON_INDENT(2));

		printf("%s\n", s ? s : "{}");
		free(s);
	}
	if (outp && json_dump_file(root, outp, JSON_INDENT(2)) == 0)
		printf("wrote %s\n", outp);
	json_decref(root);
	free(outp);
	e2e_rack_down(&rack);
	free(url);
	free(suite);
	free(q2c);
	free(c2s);
	free(over);
	free(svc_wall);
	free(run_wall);
	return 0;
}
