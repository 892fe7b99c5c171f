/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the manual-command and lease tests: real child processes
 * (patchlab itself, the lease helper) with their stdin and stdout as pipes,
 * read line by line with poll() and a deadline (never a sleep), always
 * reaped. Blocking: for test programs only, never on a loop that has work.
 * Running a program to completion, the rack's pid and reaping are the
 * harness's (pl_test.h).
 */
#ifndef CLI2_UTIL_H
#define CLI2_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "patchlab/strbuf.h"

#define C2_DEADLINE_MS 120000u

/* A running child talking through pipes. */
struct c2_proc {
	pid_t pid;
	int in;                /* its stdin (we write), -1 once closed */
	int out;               /* its stdout (we read), -1 at EOF */
	struct pl_strbuf buf;  /* stdout read but not yet taken as lines */
	int status;            /* exit code (128+signal) once reaped, else -1 */
};

/* Start argv[0] (a path) with stdin/stdout piped; stderr inherited, or
 * into the stdout pipe too when merge_stderr. */
int c2_start(struct c2_proc *p, char *const argv[], bool merge_stderr);

/* Write a line (fmt + "\n") to its stdin. */
int c2_send(struct c2_proc *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The next full stdout line (malloc'ed, without "\n") into *line, waiting
 * up to timeout_ms: 0, -ETIMEDOUT, or -EPIPE at EOF. */
int c2_line(struct c2_proc *p, char **line, unsigned timeout_ms);

/* Close its stdin and wait up to timeout_ms for it to exit (SIGKILL after
 * that); returns its exit code (128+signal when killed). Always reaps. */
int c2_finish(struct c2_proc *p, unsigned timeout_ms);

/* SIGKILL and reap. */
void c2_kill(struct c2_proc *p);

#endif
