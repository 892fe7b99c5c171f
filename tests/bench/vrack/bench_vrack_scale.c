/* SPDX-License-Identifier: MIT */
/*
 * bench_vrack_scale [BOARDS] [OUT.json]: what a rack of many virtual boards
 * costs. Starts `patchlab vrack up --boards BOARDS` (1000 by default) in a
 * fresh directory and reports:
 *   - up_s:        `vrack up` wall time until the rack said ready (the first
 *                  up on a fresh DIR: key generation, images, flash files);
 *   - rss_kib:     the rack's resident set after start, and its peak (HWM)
 *                  after every board booted and answered `version`;
 *   - fds:         descriptors the rack holds;
 *   - boot_all_s:  from the first relay frame to the last board's prompt;
 *   - version_all_s: from the first `version` typed to the last answer;
 *   - up2_s:       a second `up` on the same DIR (flash files exist);
 *   - down_s:      `vrack down` until the process is gone.
 * Prints the figures and writes them as JSON (default
 * $PL_SOURCE_DIR/runs/bench/vrack_scale.json). Not a test: it asserts
 * nothing and is not registered with ctest.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patchlab/clock.h"
#include "pl_test.h"
#include "vrack_util.h"

/* How long 1,000 boards may take to answer. */
#define WAIT_MS 600000u

static double secs(uint64_t a, uint64_t b)
{
	return (double)(b - a) / 1e9;
}

static long status_kib(int pid, const char *key)
{
	char path[64], line[256];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

static long count_fds(int pid)
{
	char path[64];
	DIR *d;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2;
}

static int up(const char *dir, const char *nb)
{
	char *out = NULL, *err = NULL;
	int rc = vt_patchlab(&out, &err, "up", "--dir", dir, "--boards", nb,
			     NULL);

	if (rc != 0)
		fprintf(stderr, "vrack up: exit %d\n%s%s", rc, out, err);
	free(out);
	free(err);
	return rc;
}

static int down(const char *dir, int pid)
{
	int rc = vt_patchlab(NULL, NULL, "down", "--dir", dir, NULL);

	pl_test_reap(pid, PL_TEST_REAP_DEADLINE_MS);
	return rc;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	size_t nrelays = (n + 7) / 8;
	char *dir = pl_test_tmpdir("bench-vrack");
	char nb[16], *outp = NULL;
	struct vt_con *c = calloc(n, sizeof(*c));
	int *relay = calloc(nrelays, sizeof(*relay));
	uint64_t t0, t1, t2, t3, t4, t5, t6, t7, t8;
	long rss_up, rss_anon, rss_file, rss_peak, fds;
	struct rlimit rl;
	FILE *f;
	int pid;

	if (!getenv("PATCHLAB"))
		setenv("PATCHLAB", PL_BENCH_PATCHLAB, 1);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	pl_test_become_subreaper();
	snprintf(nb, sizeof(nb), "%zu", n);

	t0 = pl_now_ns();
	if (up(dir, nb) != 0)
		return 1;
	t1 = pl_now_ns();
	pid = pl_test_rack_pid(dir);
	rss_up = status_kib(pid, "VmRSS:");
	rss_anon = status_kib(pid, "RssAnon:");
	rss_file = status_kib(pid, "RssFile:");
	fds = count_fds(pid);

	for (size_t i = 0; i < n; i++)
		c[i].fd = vt_open_nth(dir, "vb", i, ".console", true);
	t2 = pl_now_ns();
	for (size_t k = 0; k < nrelays; k++) {
		relay[k] = vt_open_nth(dir, "relay", k, ".tty", false);
		for (unsigned ch = 1; ch <= 8 && k * 8 + ch - 1 < n; ch++)
			vt_lcus(relay[k], ch, true);
	}
	if (vt_wait_all(c, n, "> ", WAIT_MS) < 0)
		fprintf(stderr, "not every board booted\n");
	t3 = pl_now_ns();
	for (size_t i = 0; i < n; i++) {
		c[i].from = c[i].acc.len;
		vt_write_all(c[i].fd, "version\r", 8);
	}
	if (vt_wait_all(c, n, "version 1.0.0", WAIT_MS) < 0)
		fprintf(stderr, "not every board answered\n");
	t4 = pl_now_ns();
	rss_peak = status_kib(pid, "VmHWM:");
	for (size_t k = 0; k < nrelays; k++)
		close(relay[k]);
	for (size_t i = 0; i < n; i++) {
		close(c[i].fd);
		pl_strbuf_free(&c[i].acc);
	}
	t5 = pl_now_ns();
	down(dir, pid);
	t6 = pl_now_ns();
	if (up(dir, nb) != 0)
		return 1;
	t7 = pl_now_ns();
	down(dir, pl_test_rack_pid(dir));
	t8 = pl_now_ns();

	printf("vrack scale: %zu boards\n", n);
	printf("  up (fresh DIR)     %8.3f s\n", secs(t0, t1));
	printf("  up (existing DIR)  %8.3f s\n", secs(t6, t7));
	printf("  rss after up       %8ld KiB (%.1f KiB per board)\n", rss_up,
	       (double)rss_up / (double)n);
	printf("    of which anon    %8ld KiB (%.1f KiB per board)\n", rss_anon,
	       (double)rss_anon / (double)n);
	printf("    of which file    %8ld KiB (the mapped flash files)\n",
	       rss_file);
	printf("  rss peak           %8ld KiB\n", rss_peak);
	printf("  fds                %8ld\n", fds);
	printf("  all booted         %8.3f s after the first relay frame\n",
	       secs(t2, t3));
	printf("  all answered       %8.3f s after the first `version`\n",
	       secs(t3, t4));
	printf("  down               %8.3f s\n", secs(t5, t6));
	printf("  down (2nd)         %8.3f s\n", secs(t7, t8));

	if (argc > 2) {
		outp = strdup(argv[2]);
	} else {
		const char *src = getenv("PL_SOURCE_DIR");
		char *runs;

		if (asprintf(&runs, "%s/runs", src ? src : ".") > 0) {
			mkdir(runs, 0755);
			free(runs);
		}
		if (asprintf(&runs, "%s/runs/bench", src ? src : ".") > 0) {
			mkdir(runs, 0755);
			free(runs);
		}
		if (asprintf(&outp, "%s/runs/bench/vrack_scale.json",
			     src ? src : ".") < 0)
			outp = NULL;
	}
	f = outp ? fopen(outp, "w") : NULL;
	if (f) {
		fprintf(f, "{\n  \"bench\": \"vrack_scale\",\n  \"boards\": %zu,\n"
			"  \"up_s\": %.4f,\n  \"up2_s\": %.4f,\n"
			"  \"rss_kib\": %ld,\n  \"rss_anon_kib\": %ld,\n"
			"  \"rss_file_kib\": %ld,\n  \"rss_peak_kib\": %ld,\n"
			"  \"fds\": %ld,\n  \"boot_all_s\": %.4f,\n"
			"  \"version_all_s\": %.4f,\n  \"down_s\": %.4f\n}\n",
			n, secs(t0, t1), secs(t6, t7), rss_up, rss_anon, rss_file,
			rss_peak, fds,
			secs(t2, t3), secs(t3, t4), secs(t5, t6));
		fclose(f);
		printf("  written to %s\n", outp);
	}
	free(outp);
	pl_test_rmrf(dir);
	free(dir);
	free(c);
	free(relay);
	return 0;
}
