/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the manual-command and lease tests: real child processes
 * (patchlab itself, the lease helper) with their stdin and stdout as pipes,
 * read line by line with poll() and a deadline (never a sleep), always
 * reaped. Blocking: for test programs only, never on a loop that has work.
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

/*
 * Run argv to completion in directory cwd (NULL: ours), with stdin_text
 * (NULL: /dev/null) on its stdin, capturing stdout and stderr (malloc'ed,
 * NUL-terminated; NULL to discard). Returns the exit code, 128+signal, or
 * -errno. Killed after C2_DEADLINE_MS.
 */
int c2_run(const char *cwd, const char *stdin_text, char **out, char **err,
	   char *const argv[]);

/* Make this process the reaper of daemons its children leave (the rack). */
void c2_become_subreaper(void);
/* pid in DIR/rack.pid, or 0. */
int c2_rack_pid(const char *dir);
/* Wait for an orphan re-parented to us; its exit code or -1. */
int c2_reap(int pid);

#endif
