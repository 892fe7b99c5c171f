/* SPDX-License-Identifier: MIT */
/*
 * /pl/common/sockpath: unix sockets under directories deeper than sun_path
 * (issue 10): bound and reached at their real path, twice in a row, and a
 * clear error (naming the limit) when even the alias cannot hold the name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patchlab/sockpath.h"
#include "pl_test.h"

/* base/aaaa.../aaaa... : a directory whose path is over len bytes. */
static char *deep_dir(const char *base, size_t len)
{
	char *dir = strdup(base);

	while (dir && strlen(dir) <= len) {
		char *next = pl_test_path(dir, "a-directory-name-of-forty-bytes-123456");

		assert_int_equal(mkdir(next, 0700), 0);
		free(dir);
		dir = next;
	}
	return dir;
}

static void round_trip(const char *path)
{
	int l, c, a;
	char b = 0;
	struct stat st;

	l = pl_unix_listen(path, 4);
	assert_true(l >= 0);
	/* the socket is at the real path, not at a cut one */
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	c = pl_unix_connect(path);
	assert_true(c >= 0);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(write(c, "x", 1), 1);
	assert_int_equal(read(a, &b, 1), 1);
	assert_int_equal(b, 'x');
	close(a);
	close(c);
	close(l);
	assert_int_equal(unlink(path), 0);
}

static void sockets_work_under_a_deep_directory_twice(void **state)
{
	char *tmp = pl_test_tmpdir("sockpath");
	char *dir = deep_dir(tmp, 300);
	char *path = pl_test_path(dir, "rack.sock");

	(void)state;
	assert_true(strlen(path) > PL_SUN_PATH_MAX);
	round_trip(path);
	round_trip(path); /* nothing left behind: the same path binds again */
	/* a short path is used as is */
	free(path);
	path = pl_test_path(tmp, "s.sock");
	if (strlen(path) <= PL_SUN_PATH_MAX)
		round_trip(path);
	free(path);
	free(dir);
	pl_test_rmrf(tmp);
	free(tmp);
}

static void nobody_listening_and_too_long_names_are_errors(void **state)
{
	char *tmp = pl_test_tmpdir("sockpath");
	char *dir = deep_dir(tmp, 150);
	char *path = pl_test_path(dir, "none.sock");
	char name[200], why[512], *longp;

	(void)state;
	assert_int_equal(pl_unix_connect(path), -ENOENT);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	longp = pl_test_path(dir, name);
	assert_int_equal(pl_unix_listen(longp, 1), -ENAMETOOLONG);
	assert_int_equal(pl_unix_connect(longp), -ENAMETOOLONG);
	pl_unix_path_error(why, sizeof(why), "x.sock", -ENAMETOOLONG);
	assert_non_null(strstr(why, "107 bytes"));
	assert_int_equal(pl_unix_listen("", 1), -EINVAL);
	free(longp);
	free(path);
	free(dir);
	pl_test_rmrf(tmp);
	free(tmp);
}

static void short_dir_is_private_and_short(void **state)
{
	char dir[PL_SUN_PATH_MAX + 1];
	struct stat st;

	(void)state;
	assert_int_equal(pl_unix_short_dir(dir, sizeof(dir)), 0);
	assert_true(strlen(dir) <= 64);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(pl_unix_short_dir(dir, 4), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sockets_work_under_a_deep_directory_twice),
		cmocka_unit_test(nobody_listening_and_too_long_names_are_errors),
		cmocka_unit_test(short_dir_is_private_and_short),
	};

	return cmocka_run_group_tests_name("/pl/common/sockpath", tests, NULL,
					   NULL);
}
