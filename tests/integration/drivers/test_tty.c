/* SPDX-License-Identifier: MIT */
/*
 * console/tty against real ptys: raw bytes both ways, queued writes, bad
 * options, and a device that disappears and comes back behind a symlink
 * (what a USB adapter re-enumerating under /dev/serial/by-id looks like).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pl_test.h"
#include "drv_peer.h"
#include "patchlab/console.h"
#include "patchlab/error.h"

struct rec {
	uint8_t buf[1 << 19];
	size_t len;
	unsigned gone, back;
	int gone_status;
	uint64_t gap_ns;
};

static void on_data(struct pl_console *c, const uint8_t *buf, size_t len,
		    uint64_t t_ns, void *ud)
{
	struct rec *r = ud;

	(void)c;
	assert_true(t_ns > 0);
	assert_true(r->len + len <= sizeof(r->buf));
	memcpy(r->buf + r->len, buf, len);
	r->len += len;
}

static void on_event(struct pl_console *c, enum pl_console_event ev,
		     int status, uint64_t gap_ns, void *ud)
{
	struct rec *r = ud;

	(void)c;
	if (ev == PL_CONSOLE_GONE) {
		r->gone++;
		r->gone_status = status;
	} else {
		r->back++;
		r->gap_ns = gap_ns;
	}
}

struct want {
	struct rec *r;
	size_t len;
	unsigned gone, back;
};

static bool got_enough(void *ud)
{
	struct want *w = ud;

	return w->r->len >= w->len && w->r->gone >= w->gone &&
	       w->r->back >= w->back;
}

struct fixture {
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_fixture_ctx ctx;
	struct rec *r;
	struct pl_console_cbs cbs;
};

static void fx_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	uv_loop_init(&f->loop);
	pl_test_logcap_init(&f->cap, "test/console tty");
	f->ctx.loop = &f->loop;
	f->ctx.log = f->cap.log;
	f->ctx.board_id = "b1";
	f->r = calloc(1, sizeof(*f->r));
	f->cbs.data = on_data;
	f->cbs.event = on_event;
	f->cbs.user_data = f->r;
}

static void fx_fini(struct fixture *f)
{
	uv_run(&f->loop, UV_RUN_NOWAIT);
	pl_test_loop_drain(&f->loop);
	free(f->r);
}

static int open_tty(struct fixture *f, struct pl_console **c,
		    const char *path, const char *baud)
{
	struct pl_opt o[] = {
		{ .key = "path", .value = path },
		{ .key = "baud", .value = baud },
	};
	struct pl_opts opts = { o, baud ? 2 : 1 };

	return pl_console_open(c, &f->ctx, "tty", &opts, &f->cbs);
}

static void wait_for(struct fixture *f, size_t len, unsigned gone,
		     unsigned back)
{
	struct want w = { f->r, len, gone, back };

	assert_int_equal(drv_loop_until(&f->loop, got_enough, &w, 10000),
			 0);
}

static void read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t have = 0;

	while (have < len) {
		long n = drv_read_some(fd, buf + have, len - have, 5000);

		assert_true(n > 0);
		have += (size_t)n;
	}
}

static void tty_moves_raw_bytes_both_ways(void **state)
{
	struct fixture f;
	struct pl_console *c;
	char name[64];
	uint8_t back[8];
	int m, s;
	/* Bytes a cooked line would mangle: CR, NL, ^C, ^D, ^S, 0xff. */
	const uint8_t in[] = { 'h', '\r', '\n', 0x03, 0x04, 0x13, 0xff, 0 };

	(void)state;
	fx_init(&f);
	assert_int_equal(drv_openpty(&m, &s, name, sizeof(name)), 0);
	assert_int_equal(open_tty(&f, &c, name, "115200"), 0);
	close(s);

	assert_int_equal(drv_write_all(m, in, sizeof(in)), 0);
	wait_for(&f, sizeof(in), 0, 0);
	assert_int_equal(f.r->len, sizeof(in));
	assert_memory_equal(f.r->buf, in, sizeof(in));
	assert_int_equal(pl_console_rx_bytes(c), sizeof(in));

	assert_int_equal(pl_console_write(c, "p\ri\nng\x03\xff", 8), 0);
	read_exact(m, back, 8);
	assert_memory_equal(back, "p\ri\nng\x03\xff", 8);

	pl_console_close(c);
	close(m);
	assert_int_equal(f.cap.errors + f.cap.warnings, 0);
	fx_fini(&f);
}

struct drain {
	int fd;
	uint8_t *buf;
	size_t len, cap;
};

static void on_master_readable(uv_poll_t *h, int status, int events)
{
	struct drain *d = h->data;
	ssize_t n;

	(void)status;
	(void)events;
	n = read(d->fd, d->buf + d->len, d->cap - d->len);
	if (n > 0)
		d->len += (size_t)n;
}

static bool drained(void *ud)
{
	struct drain *d = ud;

	return d->len >= d->cap;
}

static void tty_queues_writes_bigger_than_the_line(void **state)
{
	struct fixture f;
	struct pl_console *c;
	struct drain d;
	uv_poll_t mp;
	char name[64];
	const size_t len = 256 * 1024;
	uint8_t *data;
	int m, s;

	(void)state;
	fx_init(&f);
	data = malloc(len);
	drv_fill(data, len, 3);
	assert_int_equal(drv_openpty(&m, &s, name, sizeof(name)), 0);
	assert_int_equal(open_tty(&f, &c, name, "921600"), 0);
	close(s);

	/* Far more than a pty holds: the driver must queue, not block. */
	for (size_t off = 0; off < len; off += 32768)
		assert_int_equal(pl_console_write(c, data + off, 32768), 0);

	d.fd = m;
	d.cap = len;
	d.len = 0;
	d.buf = malloc(len);
	uv_poll_init(&f.loop, &mp, m);
	mp.data = &d;
	uv_poll_start(&mp, UV_READABLE, on_master_readable);
	assert_int_equal(drv_loop_until(&f.loop, drained, &d, 20000), 0);
	assert_memory_equal(d.buf, data, len);
	uv_close((uv_handle_t *)&mp, NULL);

	pl_console_close(c);
	close(m);
	fx_fini(&f);
	free(d.buf);
	free(data);
}

static void tty_rejects_bad_options(void **state)
{
	struct fixture f;
	struct pl_console *c = NULL;
	char name[64], *dir, *file;
	int m, s;
	FILE *fp;

	(void)state;
	fx_init(&f);
	assert_int_equal(drv_openpty(&m, &s, name, sizeof(name)), 0);
	assert_int_equal(open_tty(&f, &c, name, "12345"), -PL_ECONFIG);
	assert_null(c);
	assert_non_null(strstr(f.cap.last, "unsupported baud 12345"));

	dir = pl_test_tmpdir("tty-bad");
	assert_true(asprintf(&file, "%s/not-a-tty", dir) > 0);
	assert_int_equal(open_tty(&f, &c, file, NULL), -ENOENT);
	assert_non_null(strstr(f.cap.last, file));
	fp = fopen(file, "w");
	fclose(fp);
	assert_int_equal(open_tty(&f, &c, file, NULL), -ENOTTY);

	close(m);
	close(s);
	fx_fini(&f);
	pl_test_rmrf(dir);
	free(file);
	free(dir);
}

/* Point link at a fresh pty; returns the master. */
static int new_pty_at(const char *link)
{
	char name[64];
	int m, s;

	assert_int_equal(drv_openpty(&m, &s, name, sizeof(name)), 0);
	unlink(link);
	assert_int_equal(symlink(name, link), 0);
	/* The console opens its own fd on the slave; ours goes, so that
	 * closing the master is a hangup for the console alone. */
	close(s);
	return m;
}

static void tty_reopens_after_the_device_went_away(void **state)
{
	struct fixture f;
	struct pl_console *c;
	char *dir, *link, *logp, *log = NULL;
	uint8_t b;
	int m;
	FILE *fp;
	size_t loglen = 0;

	(void)state;
	fx_init(&f);
	dir = pl_test_tmpdir("tty-reenum");
	assert_true(asprintf(&link, "%s/ttyUSB0", dir) > 0);
	assert_true(asprintf(&logp, "%s/console.log", dir) > 0);
	m = new_pty_at(link);
	assert_int_equal(open_tty(&f, &c, link, NULL), 0);
	assert_int_equal(pl_console_set_log(c, logp), 0);

	assert_int_equal(drv_write_all(m, "a", 1), 0);
	wait_for(&f, 1, 0, 0);

	/* Unplug: the device hangs up and its node goes. */
	close(m);
	unlink(link);
	wait_for(&f, 1, 1, 0);
	assert_true(f.r->gone_status == -EIO || f.r->gone_status == -ENODEV);
	assert_int_equal(pl_console_write(c, "x", 1), -ENODEV);

	/* Re-plug: a new device behind the same name. */
	m = new_pty_at(link);
	wait_for(&f, 1, 1, 1);
	assert_true(f.r->gap_ns > 0);

	assert_int_equal(drv_write_all(m, "b", 1), 0);
	wait_for(&f, 2, 1, 1);
	assert_memory_equal(f.r->buf, "ab", 2);
	assert_int_equal(pl_console_write(c, "c", 1), 0);
	read_exact(m, &b, 1);
	assert_int_equal(b, 'c');

	pl_console_close(c);
	close(m);
	fp = fopen(logp, "r");
	assert_non_null(fp);
	assert_true(getdelim(&log, &loglen, '\0', fp) > 0);
	fclose(fp);
	assert_non_null(strstr(log, " g "));
	assert_non_null(strstr(log, " b "));
	assert_non_null(strstr(log, " r 1 b\n"));
	fx_fini(&f);
	free(log);
	pl_test_rmrf(dir);
	free(logp);
	free(link);
	free(dir);
}

static void tty_notices_its_path_pointing_elsewhere(void **state)
{
	struct fixture f;
	struct pl_console *c;
	char *dir, *link;
	int m1, m2;

	(void)state;
	fx_init(&f);
	dir = pl_test_tmpdir("tty-relink");
	assert_true(asprintf(&link, "%s/ttyACM0", dir) > 0);
	m1 = new_pty_at(link);
	assert_int_equal(open_tty(&f, &c, link, NULL), 0);

	/* The old device still answers, but the name is gone... */
	unlink(link);
	wait_for(&f, 0, 1, 0);
	assert_int_equal(f.r->gone_status, -ENODEV);
	/* ...and now names another device. */
	m2 = new_pty_at(link);
	wait_for(&f, 0, 1, 1);

	assert_int_equal(drv_write_all(m1, "old", 3), 0);
	assert_int_equal(drv_write_all(m2, "new", 3), 0);
	wait_for(&f, 3, 1, 1);
	assert_memory_equal(f.r->buf, "new", 3);

	pl_console_close(c);
	close(m1);
	close(m2);
	fx_fini(&f);
	pl_test_rmrf(dir);
	free(link);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tty_moves_raw_bytes_both_ways),
		cmocka_unit_test(tty_queues_writes_bigger_than_the_line),
		cmocka_unit_test(tty_rejects_bad_options),
		cmocka_unit_test(tty_reopens_after_the_device_went_away),
		cmocka_unit_test(tty_notices_its_path_pointing_elsewhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
