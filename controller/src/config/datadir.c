/* SPDX-License-Identifier: MIT */
/* patchlab's shipped data, relative to the program (patchlab/datadir.h). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patchlab/datadir.h"

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* <dir of the program>/../share/patchlab, resolved. */
static int next_to_program(char *buf, size_t n)
{
	char exe[PATH_MAX], cand[PATH_MAX + 32], *slash, *real;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (len <= 0)
		return -ENOENT;
	exe[len] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	snprintf(cand, sizeof(cand), "%s/../share/patchlab", exe);
	real = realpath(cand, NULL);
	if (!real)
		return -ENOENT;
	len = snprintf(buf, n, "%s", real);
	free(real);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return is_dir(buf) ? 0 : -ENOENT;
}

int pl_data_dir(char *buf, size_t n)
{
	const char *env = getenv("PL_DATA_DIR");
	int len;

	if (env && *env) {
		len = snprintf(buf, n, "%s", env);
		if (len < 0 || (size_t)len >= n)
			return -ENAMETOOLONG;
		while (len > 1 && buf[len - 1] == '/')
			buf[--len] = '\0';
		return is_dir(buf) ? 0 : -ENOENT;
	}
	return next_to_program(buf, n);
}

int pl_data_path(char *buf, size_t n, const char *rel)
{
	char dir[PATH_MAX];
	int err = pl_data_dir(dir, sizeof(dir)), len;

	if (err)
		return err;
	len = snprintf(buf, n, "%s/%s", dir, rel);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return 0;
}
