/* SPDX-License-Identifier: MIT */
/*
 * A real peer process (pdudaemon, ser2net) run by a test as a libuv child:
 * spawned with its stdout captured, waited on by output, and always killed
 * and reaped (peer_stop() is safe to call twice and from teardown after a
 * failed assertion).
 */
#ifndef PL_TEST_NETPEERS_PEER_H
#define PL_TEST_NETPEERS_PEER_H

#include <stdbool.h>

#include <uv.h>

#include "patchlab/strbuf.h"

struct peer {
	uv_loop_t *loop;
	uv_process_t proc;
	uv_pipe_t out;
	struct pl_strbuf output; /* everything it printed on stdout */
	bool running;            /* spawned and not yet exited */
	bool handles;            /* proc/out need closing */
	int term_signal;
};

/* Spawn argv[0] (searched on PATH) with stdout captured, stderr inherited.
 * Returns 0 or a libuv error. */
int peer_start(struct peer *pe, uv_loop_t *loop, char *const argv[]);

/* Run the loop until the output contains needle or timeout_ms passed (or
 * the peer died). Returns true when seen. */
bool peer_wait_output(struct peer *pe, const char *needle, unsigned timeout_ms);

/* SIGKILL, reap, close the handles. Safe on a peer never started. */
void peer_stop(struct peer *pe);

/* A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0). */
unsigned peer_free_port(void);

#endif
