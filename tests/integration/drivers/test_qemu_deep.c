/* SPDX-License-Identifier: MIT */
/*
 * /pl/drivers/qemu-deep: the qemu power driver when $TMPDIR is deeper than
 * an AF_UNIX address holds (issue 10). Its serial and QMP sockets, which
 * QEMU reaches by name, then go to a short private directory: power on
 * completes only after QMP answered (qmp_capabilities, cont), and the
 * console pty carries U-Boot's banner. Twice, to see nothing left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patchlab/power.h"
#include "patchlab/power_qemu.h"
#include "patchlab/sockpath.h"
#include "patchlab/strbuf.h"
#include "pl_test.h"

#define UBOOT "/usr/lib/u-boot/qemu_arm/u-boot.bin"

struct done {
	bool done;
	int status;
};

static void on_power(struct pl_power *p, int status,
		     const struct pl_power_times *t, void *ud)
{
	struct done *d = ud;

	(void)p;
	(void)t;
	d->done = true;
	d->status = status;
}

static bool is_done(void *ud)
{
	return ((struct done *)ud)->done;
}

static void power(uv_loop_t *loop, struct pl_power *p, bool on)
{
	struct done d = { false, 0 };

	assert_int_equal(pl_power_set(p, on, on_power, &d), 0);
	assert_int_equal(pl_test_loop_until(loop, is_done, &d, 30000), 0);
	assert_int_equal(d.status, 0);
}

struct banner {
	int fd;
	struct pl_strbuf seen;
};

static bool banner_seen(void *ud)
{
	struct banner *b = ud;
	char buf[512];
	ssize_t n = read(b->fd, buf, sizeof(buf));

	if (n > 0)
		pl_strbuf_append(&b->seen, buf, (size_t)n);
	return b->seen.s && strstr(b->seen.s, "U-Boot");
}

static void qemu_power_works_under_a_deep_tmpdir(void **state)
{
	char *tmp, *deep, *pflash, *link;
	const char *old_tmpdir = getenv("TMPDIR");
	char *saved = old_tmpdir ? strdup(old_tmpdir) : NULL;
	struct pl_test_logcap cap;
	struct pl_fixture_ctx ctx = { 0 };
	uv_loop_t loop;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("qemu-system-arm"),
			"qemu-system-arm not installed");
	PL_TEST_SKIP_IF(access(UBOOT, R_OK) != 0, "%s missing (u-boot-qemu)",
			UBOOT);
	tmp = pl_test_tmpdir("qemu-deep");
	assert_non_null(tmp);
	deep = strdup(tmp);
	while (strlen(deep) <= PL_SUN_PATH_MAX) {
		char *next = pl_test_path(deep, "a-rather-long-ci-workspace-dir");

		assert_int_equal(mkdir(next, 0700), 0);
		free(deep);
		deep = next;
	}
	pflash = pl_test_path(deep, "flash.img");
	link = pl_test_path(deep, "console");
	assert_int_equal(setenv("TMPDIR", deep, 1), 0);

	assert_int_equal(uv_loop_init(&loop), 0);
	pl_test_logcap_init(&cap, "qemu-deep");
	ctx.loop = &loop;
	ctx.log = cap.log;
	ctx.board_id = "deep";
	for (int round = 0; round < 2; round++) {
		struct pl_opt o[] = {
			{ .key = "bios", .value = UBOOT },
			{ .key = "pflash", .value = pflash },
			{ .key = "console_link", .value = link },
		};
		struct pl_opts opts = { o, 3 };
		struct pl_power *p = NULL;
		struct banner b = { -1, { 0 } };

		assert_int_equal(pl_power_open(&p, &ctx, "qemu", &opts), 0);
		power(&loop, p, true);
		b.fd = open(link, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		assert_true(b.fd >= 0);
		assert_int_equal(pl_test_loop_until(&loop, banner_seen, &b,
						    30000), 0);
		close(b.fd);
		pl_strbuf_free(&b.seen);
		power(&loop, p, false);
		assert_int_equal(pl_power_close(p), 0);
	}
	assert_int_equal(cap.errors, 0);
	pl_test_loop_drain(&loop);

	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	pl_test_rmrf(tmp);
	free(tmp);
	free(deep);
	free(pflash);
	free(link);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qemu_power_works_under_a_deep_tmpdir),
	};

	return cmocka_run_group_tests_name("/pl/drivers/qemu-deep", tests,
					   NULL, NULL);
}
