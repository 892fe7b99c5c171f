/* SPDX-License-Identifier: MIT */
/* Helpers for the driver tests: pty pairs and child processes on a loop. */
#ifndef DRV_PEER_H
#define DRV_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

/* A child spawned on a loop; reaped by drv_child_reap(). */
struct drv_child {
	uv_process_t proc;
	bool spawned;
	bool exited;
	bool closed;
	int64_t status;
	int term_signal;
};

/* A pty pair, both ends raw (no echo, no CR/LF mangling), master
 * non-blocking. name receives the slave's path. Returns 0 or -errno. */
int drv_openpty(int *master, int *slave, char *name, size_t name_len);

/* Spawn argv[0] (PATH searched) with stdin/stdout on fd_io (-1: /dev/null)
 * and stderr on fd_err (-1: inherited). Returns 0 or a libuv code. */
int drv_spawn(uv_loop_t *loop, struct drv_child *ch, char *const argv[],
	      int fd_io, int fd_err);

/* As drv_spawn(), with the child's working directory set to @cwd (NULL:
 * ours). Peers that refuse absolute paths (lrzsz's rx since Debian's
 * 0.12.21-10+deb12u1) are run in their directory with a relative name. */
int drv_spawn_in(uv_loop_t *loop, struct drv_child *ch, const char *cwd,
		 char *const argv[], int fd_io, int fd_err);

/* Spawn with caller-built options (exit_cb is set by the helper). */
int drv_spawn_opts(uv_loop_t *loop, struct drv_child *ch,
		   uv_process_options_t *o);

/* Wait (deadline timeout_ms) for the child to exit; SIGKILL it when the
 * deadline passes; always waits for the exit and closes the handle.
 * Returns true when it exited on its own before the deadline. */
bool drv_child_reap(uv_loop_t *loop, struct drv_child *ch,
		    unsigned timeout_ms);

/*
 * pl_test_loop_until() with one difference: it returns as soon as pred is
 * true even when pred became true in a timer callback. (In UV_RUN_ONCE
 * libuv runs due timers first and then still blocks in poll until the
 * next event or timer, so pl_test_loop_until() returns only at its
 * deadline when a zero timer completed the awaited operation; a prepare
 * handle that calls uv_stop() when pred holds prevents that.)
 */
int drv_loop_until(uv_loop_t *loop, bool (*pred)(void *ud), void *ud,
		   unsigned timeout_ms);

/* A free TCP port on 127.0.0.1 (bind to 0, read, close). */
int drv_free_port(void);

/* Write all of buf to a (possibly non-blocking) fd, polling on EAGAIN. */
int drv_write_all(int fd, const void *buf, size_t len);

/* Read what is available from a non-blocking fd into buf (up to cap),
 * waiting at most timeout_ms for the first byte. Returns bytes read
 * (0 on timeout) or -errno. */
long drv_read_some(int fd, void *buf, size_t cap, unsigned timeout_ms);

/* Deterministic pseudo-random test data. */
void drv_fill(uint8_t *buf, size_t len, uint32_t seed);

#endif
