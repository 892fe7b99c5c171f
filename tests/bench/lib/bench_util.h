/* SPDX-License-Identifier: MIT */
/*
 * What the C benchmarks share (tests/bench/lib/bench_util.c): run a
 * program to its end, a monotonic clock in seconds, and a quantile table
 * (printed and as JSON) of a set of durations.
 */
#ifndef PL_BENCH_UTIL_H
#define PL_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Run argv[0] (a path) with our environment to its end: its exit code,
 * 128 + signal, or -1 when it could not be started. */
int bench_run(char *const argv[]);

/* CLOCK_MONOTONIC in seconds. */
double bench_now_s(void);

/* Sort v[n] (nanoseconds), print "  WHAT median .. p99 .. max .." in
 * microseconds and return {median_us, p99_us, max_us, min_us}. */
json_t *bench_stats(const char *what, int64_t *v, size_t n);

#endif
