/* SPDX-License-Identifier: MIT */
/*
 * power/lcus against a pty standing in for the relay module's CH340: the
 * test reads the other side and checks every frame byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "pl_test.h"
#include "drv_peer.h"
#include "patchlab/error.h"
#include "patchlab/power.h"

struct done {
	unsigned calls;
	int status;
	struct pl_power_times t;
};

static void on_done(struct pl_power *p, int status,
		    const struct pl_power_times *t, void *ud)
{
	struct done *d = ud;

	(void)p;
	d->calls++;
	d->status = status;
	d->t = *t;
}

struct wait_calls {
	struct done *d;
	unsigned calls;
};

static bool called(void *ud)
{
	struct wait_calls *w = ud;

	return w->d->calls >= w->calls;
}

static void read_frame(int m, uint8_t out[4])
{
	size_t have = 0;

	while (have < 4) {
		long n = drv_read_some(m, out + have, 4 - have, 5000);

		assert_true(n > 0);
		have += (size_t)n;
	}
}

static int open_lcus(uv_loop_t *loop, struct pl_test_logcap *cap,
		     struct pl_power **p, const char *port, const char *ch,
		     const char *baud)
{
	struct pl_fixture_ctx ctx = { 0 };
	struct pl_opt o[] = {
		{ .key = "port", .value = port },
		{ .key = "channel", .value = ch },
		{ .key = "baud", .value = baud },
	};
	struct pl_opts opts = { o, baud ? 3 : 2 };

	ctx.loop = loop;
	ctx.log = cap->log;
	ctx.board_id = "b1";
	return pl_power_open(p, &ctx, "lcus", &opts);
}

static void lcus_writes_exact_frames(void **state)
{
	static const struct {
		const char *ch;
		bool on;
		uint8_t frame[4];
	} cases[] = {
		{ "1", true, { 0xA0, 0x01, 0x01, 0xA2 } },
		{ "1", false, { 0xA0, 0x01, 0x00, 0xA1 } },
		{ "2", true, { 0xA0, 0x02, 0x01, 0xA3 } },
		{ "4", false, { 0xA0, 0x04, 0x00, 0xA4 } },
		{ "8", true, { 0xA0, 0x08, 0x01, 0xA9 } },
	};
	uv_loop_t loop;
	struct pl_test_logcap cap;
	char name[64];
	int m, s;

	(void)state;
	uv_loop_init(&loop);
	pl_test_logcap_init(&cap, "test/power lcus");
	assert_int_equal(drv_openpty(&m, &s, name, sizeof(name)), 0);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pl_power *p;
		struct done d = { 0 };
		struct wait_calls w = { &d, 1 };
		struct termios tio;
		uint8_t got[4];

		assert_int_equal(open_lcus(&loop, &cap, &p, name, cases[i].ch,
					   NULL), 0);
		/* The line was set to 9600 8N1 raw. */
		assert_int_equal(tcgetattr(s, &tio), 0);
		assert_int_equal(cfgetospeed(&tio), B9600);
		assert_int_equal(tio.c_cflag & CSIZE, CS8);
		assert_false(tio.c_cflag & PARENB);

		assert_int_equal(pl_power_set(p, cases[i].on, on_done, &d), 0);
		/* Issued before pl_power_set() returned. */
		read_frame(m, got);
		assert_memory_equal(got, cases[i].frame, 4);
		assert_int_equal(drv_loop_until(&loop, called, &w, 5000),
				 0);
		assert_int_equal(d.status, 0);
		assert_true(d.t.requested_ns <= d.t.issued_ns);
		assert_true(d.t.issued_ns <= d.t.done_ns);
		assert_true(pl_power_is_on(p) == cases[i].on);

		/* Closing always switches off. */
		pl_power_close(p);
		read_frame(m, got);
		assert_int_equal(got[0], 0xA0);
		assert_int_equal(got[2], 0x00);
		assert_int_equal(got[3], (uint8_t)(0xA0 + got[1]));
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	assert_int_equal(cap.errors + cap.warnings, 0);
	close(m);
	close(s);
	pl_test_loop_drain(&loop);
}

static void lcus_supersedes_a_command(void **state)
{
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_power *p;
	struct done d1 = { 0 }, d2 = { 0 };
	struct wait_calls w = { &d2, 1 };
	uint8_t got[4];
	char name[64];
	int m, s;

	(void)state;
	uv_loop_init(&loop);
	pl_test_logcap_init(&cap, "test/power lcus");
	assert_int_equal(drv_openpty(&m, &s, name, sizeof(name)), 0);
	assert_int_equal(open_lcus(&loop, &cap, &p, name, "3", "9600"), 0);
	assert_int_equal(pl_power_set(p, true, on_done, &d1), 0);
	assert_int_equal(pl_power_set(p, false, on_done, &d2), 0);
	assert_int_equal(drv_loop_until(&loop, called, &w, 5000), 0);
	assert_int_equal(d1.calls, 1);
	assert_int_equal(d1.status, -PL_ECANCELED);
	assert_int_equal(d2.status, 0);
	read_frame(m, got);
	assert_memory_equal(got, "\xA0\x03\x01\xA4", 4);
	read_frame(m, got);
	assert_memory_equal(got, "\xA0\x03\x00\xA3", 4);
	pl_power_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	close(m);
	close(s);
	pl_test_loop_drain(&loop);
}

static void lcus_rejects_bad_options(void **state)
{
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_power *p = NULL;
	char name[64];
	int m, s;

	(void)state;
	uv_loop_init(&loop);
	pl_test_logcap_init(&cap, "test/power lcus");
	assert_int_equal(drv_openpty(&m, &s, name, sizeof(name)), 0);
	assert_int_equal(open_lcus(&loop, &cap, &p, name, "0", NULL),
			 -PL_ECONFIG);
	assert_null(p);
	assert_non_null(strstr(cap.last, "channel 0 out of range"));
	assert_int_equal(open_lcus(&loop, &cap, &p, name, "1", "9601"),
			 -PL_ECONFIG);
	assert_non_null(strstr(cap.last, "unsupported baud 9601"));
	assert_int_equal(open_lcus(&loop, &cap, &p, "/nonexistent/ttyUSB9",
				   "1", NULL), -ENOENT);
	assert_non_null(strstr(cap.last, "/nonexistent/ttyUSB9"));
	uv_run(&loop, UV_RUN_DEFAULT);
	close(m);
	close(s);
	pl_test_loop_drain(&loop);
}

static void lcus_reports_a_lost_module_as_a_fixture_error(void **state)
{
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_power *p;
	char name[64];
	int m, s;

	(void)state;
	uv_loop_init(&loop);
	pl_test_logcap_init(&cap, "test/power lcus");
	assert_int_equal(drv_openpty(&m, &s, name, sizeof(name)), 0);
	assert_int_equal(open_lcus(&loop, &cap, &p, name, "1", NULL), 0);
	/* Unplugged: the tty hangs up and writes fail with EIO. */
	close(m);
	close(s);
	assert_int_equal(pl_power_set(p, true, NULL, NULL), -PL_EFIXTURE);
	assert_non_null(strstr(cap.last, name));
	pl_power_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	pl_test_loop_drain(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lcus_writes_exact_frames),
		cmocka_unit_test(lcus_supersedes_a_command),
		cmocka_unit_test(lcus_rejects_bad_options),
		cmocka_unit_test(lcus_reports_a_lost_module_as_a_fixture_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
