/* SPDX-License-Identifier: MIT */
/*
 * bench_delay_accuracy: how exactly a delayed cut keeps its delay, with
 * both cores busy.
 *
 * Starts a virtual rack of BOARDS `good` boards (speed x20) and one
 * spinning process per core (the machine busy, as a CI runner is), runs
 * scenarios/suites/delay_accuracy.yaml of this folder (100 runs x 5 cuts
 * per board, each `fault.cut{on = "console", pattern = "erase sector",
 * nth = 1, delay_ms = d}` with d drawn in 0.1 .. 20 ms), then reads every
 * `trigger` event of the result store and prints, for
 * error = (issued - seen) - requested delay, median / p99 / max, and how
 * many cuts fired early (error < 0: must be none). Writes
 * runs/bench/delay_accuracy.json (PL_BENCH_OUT overrides the directory).
 * Fails (exit 1) with fewer than 500 firings or any early one.
 *
 * Environment: PATCHLAB, PL_SOURCE_DIR, PL_BENCH_BOARDS (default 2),
 * PL_BENCH_KEEP=1 keeps the directory.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "bench_util.h"

#define MIN_CUTS 500


/* One spinning child per core while the suite runs: a busy machine. */
static pid_t spinners[64];
static int nspin;

static void spin_start(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	for (long i = 0; i < n && nspin < 64; i++) {
		pid_t p = fork();

		if (p == 0) {
			/* ordinary priority, whatever the bench runs at (under
			 * chrt, the controller keeps its real-time class) */
			struct sched_param sp = { 0 };

			sched_setscheduler(0, SCHED_OTHER, &sp);
			for (volatile unsigned long x = 0;; x++)
				;
		}
		if (p > 0)
			spinners[nspin++] = p;
	}
}

static void spin_stop(void)
{
	for (int i = 0; i < nspin; i++) {
		kill(spinners[i], SIGKILL);
		waitpid(spinners[i], NULL, 0);
	}
	nspin = 0;
}

int main(void)
{
	const char *pl = getenv("PATCHLAB"), *src = getenv("PL_SOURCE_DIR");
	const char *tmp = getenv("TMPDIR"), *outd = getenv("PL_BENCH_OUT");
	const char *nb = getenv("PL_BENCH_BOARDS");
	char dir[4096], suite[4300], lab[4300], out[4300], db[4300];
	char profiles[512] = "", jpath[4400], odir[4300];
	int64_t *seen_issued = NULL, *seen_done = NULL;
	size_t early = 0;
	size_t n = 0, cap = 0;
	int boards = nb ? atoi(nb) : 2, rc, status = 1, up = 0;
	sqlite3 *sdb = NULL;
	sqlite3_stmt *s = NULL;
	double t0, wall;
	json_t *j;

	if (!pl || !src) {
		fprintf(stderr, "bench_delay_accuracy: set PATCHLAB and "
			"PL_SOURCE_DIR (make bench does)\n");
		return 2;
	}
	if (boards < 1 || boards > 64)
		boards = 2;
	for (int i = 0; i < boards; i++)
		strcat(profiles, i ? ",good" : "good");
	snprintf(dir, sizeof(dir), "%s/pl-bench-delay-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	/* the rack daemon comes back to us: reap it after `vrack down` */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(suite, sizeof(suite), "%s/tests/bench/delay_accuracy/"
		 "scenarios/suites/delay_accuracy.yaml", src);
	snprintf(lab, sizeof(lab), "%s/lab.yaml", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(db, sizeof(db), "%s/out/patchlab.db", dir);
	{
		char nbs[16];

		snprintf(nbs, sizeof(nbs), "%d", boards);
		char *argv[] = { (char *)pl, "vrack", "up", "--dir", dir,
				 "--boards", nbs, "--profile", profiles,
				 "--speed", "20", NULL };
		if (bench_run(argv) != 0) {
			fprintf(stderr, "bench: vrack up failed\n");
			goto out;
		}
		up = 1;
	}
	printf("bench_delay_accuracy: %d good boards, speed x20, both cores busy, %s\n",
	       boards, suite);
	fflush(stdout);
	spin_start();
	t0 = bench_now_s();
	{
		char *argv[] = { (char *)pl, "run", suite, "--lab", lab,
				 "--out", out, "--seed", "1", "-q", NULL };
		rc = bench_run(argv);
	}
	wall = bench_now_s() - t0;
	spin_stop();
	if (rc != 0) {
		fprintf(stderr, "bench: the suite exited %d\n", rc);
		goto out;
	}
	if (sqlite3_open_v2(db, &sdb, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(sdb, "SELECT payload FROM events WHERE kind = "
			       "'trigger'", -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench: %s: %s\n", db, sqlite3_errmsg(sdb));
		goto out;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(s, 0);
		json_t *e = json_loads(p ? p : "", 0, NULL);
		json_int_t seen = json_integer_value(json_object_get(e, "seen_ns"));
		json_int_t iss = json_integer_value(json_object_get(e, "issued_ns"));
		json_int_t want = json_integer_value(json_object_get(e, "delay_us"));

		if (e && seen > 0 && iss > 0 && want > 0) {
			if (n == cap) {
				cap = cap ? 2 * cap : 1024;
				seen_issued = realloc(seen_issued,
						      cap * sizeof(int64_t));
				seen_done = realloc(seen_done,
						    cap * sizeof(int64_t));
				if (!seen_issued || !seen_done)
					goto out;
			}
			/* error: how much later than asked the command left */
			seen_issued[n] = (iss - seen) - want * 1000;
			/* the line's wait for the loop before it was read
			 * (a bound, the trigger's lag_us): how late the cut's
			 * reference instant itself may be */
			seen_done[n] = json_integer_value(json_object_get(
				e, "lag_us")) * 1000;
			if (seen_issued[n] < 0)
				early++;
			n++;
		}
		json_decref(e);
	}
	printf("  %zu delayed cuts in %.1f s, %zu fired early\n", n, wall,
	       early);
	if (early) {
		fprintf(stderr, "bench: %zu cuts fired before their delay\n",
			early);
		goto out;
	}
	if (n < MIN_CUTS) {
		fprintf(stderr, "bench: only %zu cuts fired (want >= %d)\n", n,
			MIN_CUTS);
		goto out;
	}
	if (outd && *outd)
		snprintf(odir, sizeof(odir), "%s", outd);
	else
		snprintf(odir, sizeof(odir), "%s/runs/bench", src);
	snprintf(jpath, sizeof(jpath), "%s/delay_accuracy.json", odir);
	{
		char cmd[4400];

		snprintf(cmd, sizeof(cmd), "%s/runs", src);
		mkdir(cmd, 0755);
		mkdir(odir, 0755);
	}
	j = json_pack("{s:s,s:i,s:i,s:i,s:I,s:f,s:o,s:o,s:s,s:b}",
		      "bench", "delay_accuracy", "boards", boards, "speed",
		      20, "cuts", (json_int_t)n, "early", (json_int_t)early,
		      "wall_s", wall,
		      "delay_error", bench_stats("delay error", seen_issued, n),
		      "line_wait", bench_stats("line wait (bound)", seen_done, n),
		      "trigger", "console \"erase sector\" nth 1, delay "
		      "0.1..20 ms", "cores_busy", 1);
	json_object_set_new(j, "nproc", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	if (json_dump_file(j, jpath, JSON_INDENT(2)) != 0) {
		fprintf(stderr, "bench: cannot write %s\n", jpath);
		json_decref(j);
		goto out;
	}
	json_decref(j);
	printf("  wrote %s\n", jpath);
	status = 0;
out:
	sqlite3_finalize(s);
	sqlite3_close(sdb);
	free(seen_issued);
	free(seen_done);
	if (up) {
		char *argv[] = { (char *)pl, "vrack", "down", "--dir", dir,
				 NULL };
		int st;

		if (bench_run(argv) != 0)
			status = 1;
		/* the rack daemon, re-parented to us */
		while (waitpid(-1, &st, 0) > 0 || errno == EINTR)
			;
	}
	if (getenv("PL_BENCH_KEEP")) {
		printf("  kept %s\n", dir);
	} else {
		char *argv[] = { "/bin/rm", "-rf", dir, NULL };

		bench_run(argv);
	}
	return status;
}
