/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the end-to-end tests (every folder of tests/e2e): a real
 * virtual rack per test program (`patchlab vrack up` in a pl_test_tmpdir(),
 * re-parented to the test and reaped after `vrack down`), the group
 * fixture of one suite on one rack, `patchlab` run to completion
 * (pl_test_run) or spawned through libuv with its output in a file (never
 * a sleep: every wait is on an event with a deadline), and read-only SQL on
 * the result store. Test programs only: these block.
 */
#ifndef E2E_UTIL_H
#define E2E_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>
#include <uv.h>

#include "pl_test.h"

/* Deadline of one `patchlab run` / `replay` (ASan builds are slow). */
#define E2E_RUN_DEADLINE_MS 240000u

/* A virtual rack in its own directory. */
struct e2e_rack {
	char *dir;  /* pl_test_tmpdir(), removed at e2e_rack_down */
	char *lab;  /* DIR/lab.yaml, written by the rack */
	int pid;    /* the rack daemon (re-parented to us), 0 when down */
	int boards;
};

/*
 * Make this process the subreaper of the rack, then `patchlab vrack up
 * --dir TMP --boards N --profile PROFILES --speed 20` and set $VRACK to its
 * directory (the shipped suites name their images through it). 0, or -1
 * with the reason printed on stderr.
 */
int e2e_rack_up(struct e2e_rack *r, const char *tag, int boards,
		const char *profiles);

/*
 * Power every board off (`patchlab power vbI off --no-wait`), `vrack down`,
 * reap the rack and any other orphan left to us, remove the directory
 * (kept when PL_KEEP_RACK is set). 0 when every step succeeded.
 */
int e2e_rack_down(struct e2e_rack *r);

/* The fixture of the e2e programs that run one suite on one rack. */
struct e2e_ctx {
	struct e2e_rack rack;
	char *suite; /* $PL_SOURCE_DIR/SUITE */
};

/*
 * cmocka group setup: *state gets a new e2e_ctx for the suite file suite
 * (relative to the source tree) with its rack up (e2e_rack_up(tag,
 * boards, profiles)). 0 or -1; e2e_ctx_teardown frees it either way.
 */
int e2e_ctx_setup(void **state, const char *suite, const char *tag,
		  int boards, const char *profiles);
/* cmocka group teardown of e2e_ctx_setup: the rack down, all freed. */
int e2e_ctx_teardown(void **state);

/* A `patchlab` (or any) process started through libuv. */
struct e2e_proc {
	uv_process_t h;
	bool started;
	bool exited;
	int code;          /* exit status, or 128 + signal */
	char out_path[4096]; /* its stdout and stderr, together */
};

/*
 * Start argv (argv[0] a path) on loop in cwd (NULL: ours), stdin from
 * /dev/null, stdout and stderr appended to out_path. 0 or a negative
 * libuv error.
 */
int e2e_spawn(uv_loop_t *loop, struct e2e_proc *p, const char *cwd,
	      const char *out_path, char *const argv[]);

/* Run loop until p exited or timeout_ms passed (then SIGKILL it and wait
 * for that): always reaped. Returns its code. */
int e2e_wait(uv_loop_t *loop, struct e2e_proc *p, unsigned timeout_ms);

/*
 * Run `patchlab ARGS...` (NULL-terminated) to completion (pl_test_run)
 * in cwd (NULL: ours), within E2E_RUN_DEADLINE_MS; *out (may be NULL)
 * gets its stdout and stderr together (malloc'ed). Returns the exit code
 * (128 + signal when killed) or a negative error.
 */
int e2e_patchlab(const char *cwd, char **out, ...) __attribute__((sentinel));

/* The same with the arguments in a NULL-terminated array. */
int e2e_patchlab_argv(const char *cwd, char **out, char *const args[]);

/* The same for any program: argv[0] is its path. */
int e2e_run_argv(const char *cwd, char **out, char *const argv[]);

/* The store, read-only, with a busy timeout (NULL on failure, printed). */
sqlite3 *e2e_db_open(const char *path);
/* *db open on path once the controller has made it: true when open (now
 * or before), false while the file is not there yet or cannot be opened. */
bool e2e_db_once(sqlite3 **db, const char *path);
/* The first column of the first row of sql as an integer (default when no
 * row or on error). */
int64_t e2e_db_int(sqlite3 *db, const char *sql, int64_t dflt);
/* The same as a string to free(), or NULL (no row, NULL, or an error). */
char *e2e_db_text(sqlite3 *db, const char *sql);

#endif
