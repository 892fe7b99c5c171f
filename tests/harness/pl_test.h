/* SPDX-License-Identifier: MIT */
/*
 * The test harness on top of cmocka. Rules every test follows:
 *   - no sleeps as synchronisation: wait on events with a deadline
 *     (pl_test_loop_until) and fail with the deadline's name;
 *   - no timed assertions (speed lives in tests/bench/);
 *   - a test that cannot run here skips with a one-line reason
 *     (PL_TEST_SKIP_IF), never passes silently;
 *   - every object is released, so the suite runs clean under ASan.
 */
#ifndef PL_TEST_H
#define PL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <uv.h>

#include "patchlab/log.h"

/* Exit code that ctest reports as "skipped" for a whole test program. */
#define PL_TEST_SKIP_CODE 77

/* Inside a cmocka test: skip this test with a reason printed on one line. */
#define PL_TEST_SKIP_IF(cond, ...)                                           \
	do {                                                                 \
		if (cond) {                                                  \
			pl_test_print_skip(__VA_ARGS__);                     \
			skip();                                              \
		}                                                            \
	} while (0)

void pl_test_print_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * Run the loop until pred(ud) is true or timeout_ms passes. Returns 0 or
 * -ETIMEDOUT. pred is checked after every loop iteration.
 */
int pl_test_loop_until(uv_loop_t *loop, bool (*pred)(void *ud), void *ud,
		       unsigned timeout_ms);

/* Close every handle still open on the loop and run it until they are gone,
 * then uv_loop_close() it (so ASan sees no leak). */
void pl_test_loop_drain(uv_loop_t *loop);

/* A fresh directory under $TMPDIR (or /tmp), malloc'ed path. */
char *pl_test_tmpdir(const char *tag);
/* rm -rf path (a directory made by pl_test_tmpdir). */
void pl_test_rmrf(const char *path);

/* $PL_SOURCE_DIR/rel (malloc'ed); the source tree, as ctest passes it. */
char *pl_test_source_path(const char *rel);
/* The patchlab executable ($PATCHLAB). */
const char *pl_test_patchlab(void);

/* pl_test_run(NULL, argv, out, err): stdin from /dev/null, stdout and
 * stderr apart, the default deadline. */
int pl_test_run_capture(char *const argv[], char **out, char **err);

/*
 * Processes of the tests that start real programs (tests/harness/proc.c):
 * one implementation for the e2e, cli2 and vrack tests. Blocking: for
 * test programs only, never on a loop that has work.
 */

/* Deadline of one run when struct pl_test_run gives none (ASan builds of
 * `patchlab run` are slow). */
#define PL_TEST_RUN_DEADLINE_MS 240000u

/* How a program is run; { 0 } (or NULL) is: our cwd, stdin from
 * /dev/null, stderr apart, PL_TEST_RUN_DEADLINE_MS. */
struct pl_test_run {
	const char *cwd;        /* NULL: ours */
	const char *stdin_text; /* NULL: /dev/null */
	bool merge_err;         /* stderr into *out too, interleaved */
	unsigned deadline_ms;   /* then SIGKILLed, still reaped; 0: default */
};

/*
 * Run argv (argv[0] looked up on PATH) to completion as o says, capturing
 * stdout and stderr (each malloc'ed, NUL-terminated, "" when silent; NULL
 * to discard; set to NULL when it could not start). Returns the exit
 * code, 128+signal when killed, or -errno when it could not be started.
 * Every wait is on an event (pipe, pidfd) with the deadline, never a sleep.
 */
int pl_test_run(const struct pl_test_run *o, char *const argv[], char **out,
		char **err);
/* The same for `patchlab ARGS...`: args NULL-terminated (array, va_list
 * or the variadic tail). */
int pl_test_patchlab_argv(const struct pl_test_run *o, char *const args[],
			  char **out, char **err);
int pl_test_patchlab_va(const struct pl_test_run *o, char **out, char **err,
			va_list ap);
int pl_test_patchlab_run(const struct pl_test_run *o, char **out, char **err,
			 ...) __attribute__((sentinel));

/* Make this process the reaper of the daemons its children leave (the
 * rack leaves `vrack up` for its own session and comes back to us). 0 or
 * -errno. */
int pl_test_become_subreaper(void);
/* The pid in DIR/rack.pid, or 0. */
int pl_test_rack_pid(const char *dir);
/*
 * Wait up to timeout_ms for pid (a child, or an orphan re-parented to us)
 * to exit, SIGKILL it after that, and reap it: its exit code, 128+signal,
 * or -1.
 */
int pl_test_reap(int pid, unsigned timeout_ms);
/* A deadline for pl_test_reap() of a rack after `vrack down`. */
#define PL_TEST_REAP_DEADLINE_MS 60000u
/* The whole file (malloc'ed, NUL-terminated, "" when empty) or NULL. */
char *pl_test_slurp(const char *path);
/* dir/name (malloc'ed), or NULL. */
char *pl_test_path(const char *dir, const char *name);

/* true when an executable is on PATH. */
bool pl_test_have_program(const char *name);

/*
 * A logger that keeps count of what it saw, for "no unexpected warnings":
 * assert_int_equal(cap.warnings, 0) in teardown. Messages are echoed to
 * stderr when PL_TEST_VERBOSE is set.
 */
struct pl_test_logcap {
	struct pl_log log;
	unsigned errors;
	unsigned warnings;
	char last[512];
};
void pl_test_logcap_init(struct pl_test_logcap *cap, const char *ctx);

#endif
