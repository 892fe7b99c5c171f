/* SPDX-License-Identifier: MIT */
/*
 * Unix-domain sockets at paths of any length.
 *
 * An AF_UNIX address holds at most PL_SUN_PATH_MAX bytes of path (sun_path
 * is 108 bytes with its NUL); bind(2) and connect(2) cannot name a longer
 * one, and libuv's uv_pipe_bind cuts it silently. So:
 *
 *  - pl_unix_listen / pl_unix_connect reach a socket at any path: a path
 *    that fits is used as is; a longer one through a short alias of its
 *    directory, /proc/self/fd/N/NAME (N an O_PATH descriptor of the
 *    directory, closed again before returning). The socket file is created
 *    at the real path, so other processes find it there and unlink(2) of
 *    the real path removes it. Only NAME itself must be short.
 *
 *  - pl_unix_short_dir gives a private directory with a short path, for
 *    sockets another program must reach by name (QEMU's chardevs).
 *
 * Errors are -errno; -ENAMETOOLONG means that even the alias does not fit,
 * and pl_unix_path_error() says so in a sentence naming the limit.
 */
#ifndef PATCHLAB_SOCKPATH_H
#define PATCHLAB_SOCKPATH_H

#include <stddef.h>

/* The longest path an AF_UNIX address holds (sizeof sun_path - 1). */
#define PL_SUN_PATH_MAX 107

/*
 * A listening SOCK_STREAM socket bound at path (any length), close-on-exec,
 * with backlog. Returns the descriptor (>= 0; close(2) it, and unlink(2)
 * path when done) or -errno.
 */
int pl_unix_listen(const char *path, int backlog);

/* A SOCK_STREAM socket connected to path (any length), close-on-exec,
 * blocking. Returns the descriptor or -errno (-ENOENT, -ECONNREFUSED when
 * nobody listens). */
int pl_unix_connect(const char *path);

/*
 * A private directory with a short path, for sockets named to another
 * program: $XDG_RUNTIME_DIR when it is set, absolute and at most 64 bytes,
 * else /tmp/patchlab-<uid>, created with mode 0700 (an existing one must be
 * a directory owned by us and not open to others). Writes it to out (size
 * n). Returns 0, -ENAMETOOLONG (n too small), -EPERM (the /tmp one is not
 * ours) or -errno.
 */
int pl_unix_short_dir(char *out, size_t n);

/* A message for an error of the functions above on path: for
 * -ENAMETOOLONG it names the limit. Writes to buf (size n); returns buf. */
const char *pl_unix_path_error(char *buf, size_t n, const char *path, int err);

#endif
