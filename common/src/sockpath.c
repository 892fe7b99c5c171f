/* SPDX-License-Identifier: MIT */
/* Unix-domain sockets at paths of any length: see patchlab/sockpath.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "patchlab/sockpath.h"

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) ==
		       PL_SUN_PATH_MAX + 1,
	       "PL_SUN_PATH_MAX is sizeof sun_path - 1");

#define SHORT_DIR_MAX 64

/*
 * Fill sa with path, or with /proc/self/fd/N/NAME through an O_PATH
 * descriptor of path's directory (*dirfd, -1 when none was needed; the
 * caller closes it once bind/connect returned).
 */
static int address(const char *path, struct sockaddr_un *sa, int *dirfd)
{
	const char *slash, *name;
	char *dir;
	int fd, n;

	*dirfd = -1;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!*path)
		return -EINVAL;
	if (strlen(path) <= PL_SUN_PATH_MAX) {
		memcpy(sa->sun_path, path, strlen(path) + 1);
		return 0;
	}
	slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return -ENAMETOOLONG;
	name = slash + 1;
	dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s",
		     fd, name);
	if (n < 0 || (size_t)n > PL_SUN_PATH_MAX) {
		close(fd);
		return -ENAMETOOLONG;
	}
	*dirfd = fd;
	return 0;
}

/* A stream socket to bind or connect to path: the one call either does,
 * through the short address (a directory alias when path is long).
 * Returns the fd or -errno. */
static int unix_socket(const char *path, int backlog, bool listening)
{
	struct sockaddr_un sa;
	int fd, dirfd, rc;

	rc = address(path, &sa, &dirfd);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto close_dir;
	}
	if (listening ? bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			listen(fd, backlog) < 0 :
			connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		goto close_dir;
	}
	rc = fd;
close_dir:
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

int pl_unix_listen(const char *path, int backlog)
{
	return unix_socket(path, backlog, true);
}

int pl_unix_connect(const char *path)
{
	return unix_socket(path, 0, false);
}

int pl_unix_short_dir(char *out, size_t n)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int len;

	if (xdg && xdg[0] == '/' && strlen(xdg) <= SHORT_DIR_MAX &&
	    stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) &&
	    access(xdg, W_OK | X_OK) == 0) {
		len = snprintf(out, n, "%s", xdg);
		return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
	}
	len = snprintf(out, n, "/tmp/patchlab-%u", (unsigned)getuid());
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* lstat: a link planted in /tmp by someone else is not our dir */
	if (lstat(out, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 0077))
		return -EPERM;
	return 0;
}

const char *pl_unix_path_error(char *buf, size_t n, const char *path, int err)
{
	if (err == -ENAMETOOLONG)
		snprintf(buf, n,
			 "%s: a unix socket address holds at most %d bytes "
			 "(sun_path); this one does not fit even through "
			 "/proc/self/fd (shorten its file name)",
			 path, PL_SUN_PATH_MAX);
	else
		snprintf(buf, n, "%s: %s", path, strerror(-err));
	return buf;
}
