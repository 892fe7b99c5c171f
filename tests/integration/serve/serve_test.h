/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the `patchlab serve` tests and bench: the real program started
 * and stopped, plain HTTP/1.1 over a socket (every read waits on poll() with
 * a deadline, never a sleep), a server-sent event reader, and runs written
 * into a store the way a controller writes them.
 */
#ifndef PL_SERVE_TEST_H
#define PL_SERVE_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patchlab/store.h"

/* A `patchlab serve` process. */
struct serve_proc {
	int pid;
	char url[160];  /* "http://127.0.0.1:PORT/" from its first line */
	char port[8];
};

/*
 * Start `patchlab serve --db DB --listen 127.0.0.1:PORT [extra...]` (port
 * "0": a free one) and wait (deadline) for the URL on its first stdout line.
 * extra is NULL-terminated or NULL. 0 or -errno / -ETIMEDOUT.
 */
int serve_start(struct serve_proc *p, const char *db, const char *port,
		const char *const *extra);
/* SIGTERM (or SIGKILL when hard) and reap; returns its exit status as
 * pl_test_reap() does. */
int serve_stop(struct serve_proc *p, bool hard);

/*
 * One request: METHOD path with the extra header lines (each ending in
 * "\r\n", may be NULL), Connection: close, read to the end. *status gets
 * the status code, *body the body (malloc'ed, de-chunked). 0 or -errno.
 */
int http_req(const struct serve_proc *p, const char *method,
	     const char *path, const char *headers, int *status, char **body);

/* An open event stream on /events. */
struct sse_conn {
	int fd;
	char *buf;   /* bytes read, not yet parsed */
	size_t len, cap;
};

/* Connect to path (e.g. "/events?since=3") with an optional Last-Event-ID
 * (NULL: none); waits for the response header. 0 or -errno. */
int sse_open(struct sse_conn *c, const struct serve_proc *p, const char *path,
	     const char *last_event_id);
/*
 * The next event with an id (comments and retry lines are skipped): *id and
 * *data (malloc'ed). Waits until deadline_ms (CLOCK_MONOTONIC ms).
 * 0, -ETIMEDOUT, -EPIPE when the server closed the stream.
 */
int sse_next(struct sse_conn *c, int64_t deadline_ms, int64_t *id,
	     char **data);
void sse_close(struct sse_conn *c);

/* CLOCK_MONOTONIC in ms. */
int64_t serve_now_ms(void);

/*
 * Write one run of suite into st, begun and ended at once (committed when
 * this returns): board, scenario, a cut at op_index (-1: none), verdict,
 * reason, console log path (may be NULL). *run_id gets its id.
 */
int serve_write_run(struct pl_store *st, int64_t suite, const char *board,
		    const char *scenario, long op_index, enum pl_verdict v,
		    const char *reason, const char *console_log,
		    int64_t *run_id);

#endif
