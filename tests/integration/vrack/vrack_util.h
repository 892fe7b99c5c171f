/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the virtual rack's tests that run the rack as its own process
 * (`patchlab vrack up`): blocking reads with deadlines (poll, never sleep),
 * raw LCUS frames, and a minimal GDB remote-protocol client. Not for use on
 * a loop: the rack these talk to runs elsewhere.
 */
#ifndef VRACK_UTIL_H
#define VRACK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patchlab/strbuf.h"
#include "pl_test.h"

/* Run `patchlab vrack ARGS...` (NULL-terminated), capturing output; the
 * rest (subreaper, rack pid, reaping, paths) is the harness's (pl_test.h). */
#define vt_patchlab(out, err, ...) \
	pl_test_patchlab_run(NULL, out, err, "vrack", __VA_ARGS__)

/* A board's console being read by vt_wait_all. */
struct vt_con {
	int fd;
	struct pl_strbuf acc; /* all it said */
	size_t from;          /* where the wait for the next needle starts */
	bool done;
};

/* Read every console until each shows needle after its from, or
 * timeout_ms passed (then the first that did not is printed): 0 or
 * -ETIMEDOUT. */
int vt_wait_all(struct vt_con *c, size_t n, const char *needle,
		unsigned timeout_ms);

/* Open a pty (console or relay) by path: raw, non-blocking, input flushed.
 * Returns the fd or -errno. */
int vt_open_tty(const char *path, bool nonblock);

/* vt_open_tty on the rack's DIR/<stem><n><ext>: a console ("vb", n,
 * ".console") or a relay ("relay", n, ".tty"). */
int vt_open_nth(const char *dir, const char *stem, size_t n, const char *ext,
		bool nonblock);

/* Read from fd into acc until needle appears after position from, or
 * timeout_ms passes: 0 or -ETIMEDOUT. */
int vt_read_until(int fd, struct pl_strbuf *acc, size_t from,
		  const char *needle, unsigned timeout_ms);

/* Write all of s. */
int vt_write_all(int fd, const void *buf, size_t len);

/* Send LCUS frame A0 ch state sum. */
int vt_lcus(int fd, unsigned ch, bool on);

/*
 * Start `sx -k file` on one end of a socketpair (sx works on any byte
 * stream); *peer gets our end. Returns the pid or -errno.
 */
int vt_sx_start(const char *file, int *peer);

/*
 * Relay bytes between a console fd and a peer fd (sx's socket) both ways,
 * recording what the console said in acc, until: stop_fd (>= 0) is
 * readable, or the peer closed and needle (if not NULL) appeared in acc
 * after from. *peer_eof tells whether the peer is gone. 0 or -ETIMEDOUT.
 */
int vt_pump(int con, int peer, struct pl_strbuf *acc, int stop_fd,
	    const char *needle, size_t from, bool *peer_eof,
	    unsigned timeout_ms);

/* ---- GDB remote protocol client ---- */

/* Connect to 127.0.0.1:port with TCP_NODELAY; fd or -errno. */
int vt_gdb_connect(unsigned port);
/* Send $data#cs; when acks is true wait for the '+'. */
int vt_gdb_send(int fd, const char *data, bool acks, unsigned timeout_ms);
/* Receive one packet's data (malloc'ed, NUL-terminated) into *out; checks
 * the checksum; sends '+' when acks is true. */
int vt_gdb_recv(int fd, char **out, bool acks, unsigned timeout_ms);
/* send + recv */
int vt_gdb_cmd(int fd, const char *data, char **reply, bool acks);
/* Read a little-endian u32 at addr through `m`. */
int vt_gdb_read32(int fd, uint32_t addr, uint32_t *out, bool acks);

#endif
