/* SPDX-License-Identifier: MIT */
/* A real child process for the results integration tests: started with
 * uv_spawn, its stdout captured, waited for on the loop with a deadline,
 * always reaped. */
#ifndef RESULTS_CHILD_H
#define RESULTS_CHILD_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "patchlab/strbuf.h"

struct child {
	uv_process_t proc;
	uv_pipe_t in;  /* its stdin: never written; EOF when we die */
	uv_pipe_t out;
	struct pl_strbuf buf; /* everything read from its stdout */
	bool exited, eof;
	int64_t status;
	int signal;
};

/* Start argv[0] (a path or a name on PATH) with stdout captured; stderr is
 * inherited so the test log shows it; stdin is a pipe we never write, so a
 * helper that waits on it exits when this test process dies, even after a
 * failed assertion. Returns 0 or a libuv error. */
int child_start(uv_loop_t *loop, struct child *c, char **argv);

/* Predicates for pl_test_loop_until(). */
bool child_has_line(void *c);  /* stdout holds a full line */
bool child_done(void *c);      /* exited and stdout drained */

/* Wait up to timeout_ms for the child to finish; on timeout kill it
 * (SIGKILL) and reap it anyway. Returns 0 or -ETIMEDOUT. Closes handles. */
int child_wait(uv_loop_t *loop, struct child *c, unsigned timeout_ms);

/* SIGKILL the child and reap it; closes handles. */
void child_kill(uv_loop_t *loop, struct child *c);

#endif
