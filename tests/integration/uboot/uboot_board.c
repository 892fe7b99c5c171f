/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <stdio.h>

#include "patchlab/console.h"
#include "patchlab/error.h"
#include "patchlab/power_qemu.h"

#include "uboot_board.h"

char *ub_uboot_dir(char **why)
{
	char *script = pl_test_source_path("scripts/build-uboot");
	char *argv[] = { script, NULL };
	char *out = NULL, *err = NULL, *nl, *dir = NULL;
	int rc;

	*why = NULL;
	rc = pl_test_run_capture(argv, &out, &err);
	free(script);
	if (rc != 0) {
		/* The script's last stderr line says why. */
		char *e = err ? err : "";
		size_t n = strlen(e);

		while (n && e[n - 1] == '\n')
			e[--n] = '\0';
		nl = strrchr(e, '\n');
		*why = strdup(nl ? nl + 1 : (*e ? e : "scripts/build-uboot failed"));
		goto out;
	}
	while (out && *out && out[strlen(out) - 1] == '\n')
		out[strlen(out) - 1] = '\0';
	nl = out ? strrchr(out, '\n') : NULL;
	dir = strdup(nl ? nl + 1 : (out ? out : ""));
out:
	free(out);
	free(err);
	return dir;
}

static void on_power(struct pl_power *p, int status,
		     const struct pl_power_times *t, void *ud)
{
	struct ub_board *b = ud;

	(void)p;
	(void)t;
	b->power_done = true;
	b->power_status = status;
}

/* ------------------------------------------------------------ console */

static void cut_now(struct ub_board *b)
{
	b->cut_fired = true;
	b->cut_text = NULL;
	b->power_done = false;
	assert_int_equal(pl_power_set(b->power, false, on_power, b), 0);
}

static void on_cut_timer(uv_timer_t *t)
{
	cut_now(t->data);
}

static void check_cut(struct ub_board *b)
{
	if (!b->cut_text || !b->out.s)
		return;
	if (!memmem(b->out.s + b->mark, b->out.len - b->mark, b->cut_text,
		    strlen(b->cut_text)))
		return;
	if (b->cut_delay_ms == 0) {
		cut_now(b);
	} else {
		b->cut_text = NULL;
		uv_timer_start(&b->cut_timer, on_cut_timer, b->cut_delay_ms, 0);
	}
}

static void on_console(uv_poll_t *h, int status, int events)
{
	struct ub_board *b = h->data;
	char buf[4096];
	ssize_t n;

	if (status < 0 || !(events & UV_READABLE))
		return;
	while ((n = read(b->con_fd, buf, sizeof(buf))) > 0) {
		if (b->xm && !b->xm_done) {
			uv_timer_again(&b->xm_timer);
			pl_xmodem_sender_input(b->xm, (uint8_t *)buf,
					       (size_t)n);
			continue; /* protocol bytes, not console text */
		}
		pl_strbuf_append(&b->out, buf, (size_t)n);
		if (getenv("PL_TEST_VERBOSE"))
			fwrite(buf, 1, (size_t)n, stderr);
	}
	check_cut(b);
}

void ub_paths(struct ub_board *b, const char *variant, char **bios)
{
	struct pl_strbuf sb = { 0 };
	char *ubdir, *why;

	ubdir = ub_uboot_dir(&why);
	if (!ubdir) {
		pl_test_print_skip("U-Boot not built: %s", why);
		free(why);
		skip();
	}
	pl_strbuf_printf(&sb, "%s/%s/u-boot.bin", ubdir, variant);
	*bios = pl_strbuf_steal(&sb);
	free(ubdir);
	b->dir = pl_test_tmpdir("uboot");
	pl_strbuf_printf(&sb, "%s/flash.img", b->dir);
	b->pflash = pl_strbuf_steal(&sb);
	pl_strbuf_printf(&sb, "%s/console", b->dir);
	b->link = pl_strbuf_steal(&sb);
}

static void open_board(struct ub_board *b, const char *variant, bool gdb)
{
	struct pl_fixture_ctx ctx = { 0 };
	char *bios;
	struct termios tio;
	struct pl_opt o[5];
	struct pl_opts opts = { o, 0 };

	ub_paths(b, variant, &bios);
	o[opts.n++] = (struct pl_opt){ .key = "bios", .value = bios };
	o[opts.n++] = (struct pl_opt){ .key = "pflash", .value = b->pflash };
	o[opts.n++] = (struct pl_opt){ .key = "console_link", .value = b->link };
	if (gdb)
		o[opts.n++] = (struct pl_opt){ .key = "gdb", .value = "true" };
	pl_test_logcap_init(&b->cap, variant);
	ctx.loop = b->loop;
	ctx.log = b->cap.log;
	ctx.board_id = variant;
	assert_int_equal(pl_power_open(&b->power, &ctx, "qemu", &opts), 0);
	free(bios);

	/* The console, opened like a USB serial adapter, before power-on. */
	b->con_fd = open(b->link, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	assert_true(b->con_fd >= 0);
	assert_int_equal(tcgetattr(b->con_fd, &tio), 0);
	cfmakeraw(&tio);
	assert_int_equal(tcsetattr(b->con_fd, TCSANOW, &tio), 0);
	assert_int_equal(uv_poll_init(b->loop, &b->con_poll, b->con_fd), 0);
	b->con_poll.data = b;
	b->con_poll_open = true;
	uv_poll_start(&b->con_poll, UV_READABLE, on_console);
}

void ub_open(struct ub_board *b, const char *variant)
{
	open_board(b, variant, false);
}

void ub_open_gdb(struct ub_board *b, const char *variant)
{
	open_board(b, variant, true);
}

int ub_count_children(const char *comm)
{
	char path[64], name[64];
	FILE *fp;
	int n = 0, c;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", getpid(),
		 getpid());
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	while (fscanf(fp, "%d", &c) == 1) {
		FILE *cf;

		snprintf(path, sizeof(path), "/proc/%d/comm", c);
		cf = fopen(path, "r");
		if (cf && fgets(name, sizeof(name), cf) &&
		    !strncmp(name, comm, strlen(comm)))
			n++;
		if (cf)
			fclose(cf);
	}
	fclose(fp);
	return n;
}

static bool no_qemu_child(void *ud)
{
	(void)ud;
	return ub_count_children("qemu-system-arm") <= 0;
}

int ub_setup(void **state)
{
	struct ub_board *b = calloc(1, sizeof(*b));

	if (!b)
		return -1;
	b->con_fd = -1;
	b->loop = &b->own_loop;
	uv_loop_init(b->loop);
	uv_timer_init(b->loop, &b->cut_timer);
	b->cut_timer.data = b;
	uv_timer_init(b->loop, &b->xm_timer);
	b->xm_timer.data = b;
	*state = b;
	return 0;
}

int ub_teardown(void **state)
{
	struct ub_board *b = *state;

	pl_console_close(b->con);
	/* pl_power_close kills QEMU; its driver reaps it on the loop: keep
	 * the loop running until it did, then drain. */
	pl_power_close(b->power);
	pl_test_loop_until(b->loop, no_qemu_child, NULL, 10000);
	if (b->con_poll_open)
		uv_close((uv_handle_t *)&b->con_poll, NULL);
	uv_close((uv_handle_t *)&b->cut_timer, NULL);
	uv_close((uv_handle_t *)&b->xm_timer, NULL);
	pl_xmodem_sender_free(b->xm);
	pl_test_loop_drain(b->loop);
	if (b->con_fd >= 0)
		close(b->con_fd);
	if (b->dir)
		pl_test_rmrf(b->dir);
	free(b->dir);
	free(b->pflash);
	free(b->link);
	pl_strbuf_free(&b->out);
	free(b);
	return 0;
}

/* ------------------------------------------------------------ power */

static bool power_done(void *ud)
{
	return ((struct ub_board *)ud)->power_done;
}

void ub_wait_power(struct ub_board *b)
{
	assert_int_equal(pl_test_loop_until(b->loop, power_done, b, 20000), 0);
	assert_int_equal(b->power_status, 0);
}

void ub_power(struct ub_board *b, bool on)
{
	b->power_done = false;
	assert_int_equal(pl_power_set(b->power, on, on_power, b), 0);
	ub_wait_power(b);
}

/* ------------------------------------------------------------ console */

void ub_mark(struct ub_board *b)
{
	b->mark = b->out.len;
}

bool ub_seen(struct ub_board *b, const char *text)
{
	return b->out.s && memmem(b->out.s + b->mark, b->out.len - b->mark,
				  text, strlen(text));
}

struct wait_ctx {
	struct ub_board *b;
	const char *text;
};

static bool seen_pred(void *ud)
{
	struct wait_ctx *w = ud;

	return ub_seen(w->b, w->text);
}

bool ub_wait(struct ub_board *b, const char *text, unsigned ms)
{
	struct wait_ctx w = { b, text };

	return pl_test_loop_until(b->loop, seen_pred, &w, ms) == 0;
}

void ub_send(struct ub_board *b, const char *s)
{
	size_t len = strlen(s);

	assert_int_equal(write(b->con_fd, s, len), (ssize_t)len);
}

void ub_boot_to_prompt(struct ub_board *b)
{
	ub_mark(b);
	ub_power(b, true);
	assert_true(ub_wait(b, "U-Boot 2023.01", 20000));
	assert_true(ub_wait(b, "Hit any key to stop autoboot", 20000));
	ub_send(b, " ");
	assert_true(ub_wait(b, "=> ", 10000));
}

void ub_cmd(struct ub_board *b, const char *cmd, unsigned ms)
{
	ub_mark(b);
	ub_send(b, cmd);
	ub_send(b, "\r");
	/* The prompt after the echo of the command. */
	assert_true(ub_wait(b, cmd, ms));
	b->mark += (size_t)((char *)memmem(b->out.s + b->mark,
					   b->out.len - b->mark, cmd,
					   strlen(cmd)) -
			    (b->out.s + b->mark)) + strlen(cmd);
	/* The prompt at the start of a line: crc32 prints "==> ". */
	assert_true(ub_wait(b, "\n=> ", ms));
}

static bool cut_fired_pred(void *ud)
{
	return ((struct ub_board *)ud)->cut_fired;
}

void ub_wait_cut(struct ub_board *b)
{
	assert_int_equal(pl_test_loop_until(b->loop, cut_fired_pred, b, 20000),
			 0);
	ub_wait_power(b);
}

void ub_arm_cut(struct ub_board *b, const char *text, unsigned delay_ms)
{
	b->cut_fired = false;
	b->cut_text = text;
	b->cut_delay_ms = delay_ms;
	check_cut(b);
}

char *ub_console_target(struct ub_board *b)
{
	char buf[256];
	ssize_t n = readlink(b->link, buf, sizeof(buf) - 1);

	assert_true(n > 0);
	buf[n] = '\0';
	return strdup(buf);
}

/* ------------------------------------------------------------ XMODEM */

static void xm_send(const uint8_t *buf, size_t len, void *ud)
{
	struct ub_board *b = ud;
	size_t off = 0;

	/* The pty takes a 1 KiB block at once; a full pty is a test bug. */
	while (off < len) {
		ssize_t n = write(b->con_fd, buf + off, len - off);

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (n > 0)
			off += (size_t)n;
	}
}

static void xm_end(int status, void *ud)
{
	struct ub_board *b = ud;

	b->xm_done = true;
	b->xm_status = status;
}

static void on_xm_timer(uv_timer_t *t)
{
	struct ub_board *b = t->data;

	if (b->xm && !b->xm_done)
		pl_xmodem_sender_timeout(b->xm);
}

static bool xm_finished(void *ud)
{
	return ((struct ub_board *)ud)->xm_done;
}

int ub_xmodem_send(struct ub_board *b, const void *data, size_t len)
{
	struct pl_xmodem_io io = { .send = xm_send, .done = xm_end,
				   .user_data = b };

	b->xm_done = false;
	assert_int_equal(pl_xmodem_sender_new(&b->xm, data, len, NULL, &io), 0);
	uv_timer_start(&b->xm_timer, on_xm_timer, PL_XMODEM_DEFAULT_TIMEOUT_MS,
		       PL_XMODEM_DEFAULT_TIMEOUT_MS);
	assert_int_equal(pl_test_loop_until(b->loop, xm_finished, b, 60000), 0);
	uv_timer_stop(&b->xm_timer);
	pl_xmodem_sender_free(b->xm);
	b->xm = NULL;
	return b->xm_status;
}

void ub_pflash_write(struct ub_board *b, long off, const void *data,
		     size_t len)
{
	int fd = open(b->pflash, O_WRONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, off), (ssize_t)len);
	close(fd);
}
