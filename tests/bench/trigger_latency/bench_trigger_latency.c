/* SPDX-License-Identifier: MIT */
/*
 * bench_trigger_latency: how fast a console-match power cut leaves.
 *
 * Starts a virtual rack of BOARDS `good` boards (speed x20) in a temporary
 * directory, runs scenarios/suites/trigger_latency.yaml of this folder
 * (200 runs x 5 cuts per board, each armed with fault.cut{on = "console",
 * pattern = "erase sector", nth = {1, 3}} during an update), then reads
 * every `trigger` event of the result store (payload seen_ns, issued_ns,
 * done_ns, latency_ns) and prints median / p99 / max of issued - seen (the
 * console line seen by the loop -> the power command issued) and of
 * done - seen (-> the engine's done_ns: the command written). Writes
 * runs/bench/trigger_latency.json (PL_BENCH_OUT overrides the directory).
 * Fails (exit 1) with fewer than 1,000 firings. The rack is always taken
 * down and reaped.
 *
 * Environment: PATCHLAB (the program), PL_SOURCE_DIR (the tree),
 * PL_BENCH_BOARDS (default 4), PL_BENCH_KEEP=1 keeps the directory.
 */
#include <errno.h>
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

#define MIN_CUTS 1000


int main(void)
{
	const char *pl = getenv("PATCHLAB"), *src = getenv("PL_SOURCE_DIR");
	const char *tmp = getenv("TMPDIR"), *outd = getenv("PL_BENCH_OUT");
	const char *nb = getenv("PL_BENCH_BOARDS");
	char dir[4096], suite[4300], lab[4300], out[4300], db[4300];
	char profiles[512] = "", jpath[4400], odir[4300];
	int64_t *seen_issued = NULL, *seen_done = NULL;
	size_t n = 0, cap = 0;
	int boards = nb ? atoi(nb) : 4, rc, status = 1, up = 0;
	sqlite3 *sdb = NULL;
	sqlite3_stmt *s = NULL;
	double t0, wall;
	json_t *j;

	if (!pl || !src) {
		fprintf(stderr, "bench_trigger_latency: set PATCHLAB and "
			"PL_SOURCE_DIR (make bench does)\n");
		return 2;
	}
	if (boards < 1 || boards > 64)
		boards = 4;
	for (int i = 0; i < boards; i++)
		strcat(profiles, i ? ",good" : "good");
	snprintf(dir, sizeof(dir), "%s/pl-bench-trigger-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	/* the rack daemon comes back to us: reap it after `vrack down` */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(suite, sizeof(suite), "%s/tests/bench/trigger_latency/"
		 "scenarios/suites/trigger_latency.yaml", src);
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
	setenv("VRACK", dir, 1);
	printf("bench_trigger_latency: %d good boards, speed x20, %s\n",
	       boards, suite);
	fflush(stdout);
	t0 = bench_now_s();
	{
		char *argv[] = { (char *)pl, "run", suite, "--lab", lab,
				 "--out", out, "--seed", "1", "-q", NULL };
		rc = bench_run(argv);
	}
	wall = bench_now_s() - t0;
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
		json_int_t done = json_integer_value(json_object_get(e, "done_ns"));

		if (e && seen > 0 && iss >= seen && done >= iss) {
			if (n == cap) {
				cap = cap ? 2 * cap : 1024;
				seen_issued = realloc(seen_issued,
						      cap * sizeof(int64_t));
				seen_done = realloc(seen_done,
						    cap * sizeof(int64_t));
				if (!seen_issued || !seen_done)
					goto out;
			}
			seen_issued[n] = iss - seen;
			seen_done[n] = done - seen;
			n++;
		}
		json_decref(e);
	}
	printf("  %zu console-triggered cuts in %.1f s (%.1f cuts/s)\n", n,
	       wall, (double)n / wall);
	if (n < MIN_CUTS) {
		fprintf(stderr, "bench: only %zu cuts fired (want >= %d)\n", n,
			MIN_CUTS);
		goto out;
	}
	if (outd && *outd)
		snprintf(odir, sizeof(odir), "%s", outd);
	else
		snprintf(odir, sizeof(odir), "%s/runs/bench", src);
	snprintf(jpath, sizeof(jpath), "%s/trigger_latency.json", odir);
	{
		char cmd[4400];

		snprintf(cmd, sizeof(cmd), "%s/runs", src);
		mkdir(cmd, 0755);
		mkdir(odir, 0755);
	}
	j = json_pack("{s:s,s:i,s:i,s:i,s:f,s:o,s:o,s:s}",
		      "bench", "trigger_latency", "boards", boards, "speed",
		      20, "cuts", (json_int_t)n, "wall_s", wall,
		      "issued_minus_seen", bench_stats("issued - seen", seen_issued, n),
		      "done_minus_seen", bench_stats("done - seen", seen_done, n),
		      "trigger", "console \"erase sector\", nth {1, 3}");
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
