/* SPDX-License-Identifier: MIT */
/* What the C benchmarks share (bench_util.h). */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bench_util.h"

extern char **environ;

int bench_run(char *const argv[])
{
	pid_t pid;
	int st;

	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0) {
		fprintf(stderr, "bench: cannot start %s: %s\n", argv[0],
			strerror(errno));
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of sorted v[n], in microseconds. */
static double q_us(const int64_t *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

json_t *bench_stats(const char *what, int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("  %-16s median %9.1f us   p99 %9.1f us   max %9.1f us\n", what,
	       q_us(v, n, 0.5), q_us(v, n, 0.99), q_us(v, n, 1.0));
	return json_pack("{s:f,s:f,s:f,s:f}", "median_us", q_us(v, n, 0.5),
			 "p99_us", q_us(v, n, 0.99), "max_us", q_us(v, n, 1.0),
			 "min_us", q_us(v, n, 0.0));
}
