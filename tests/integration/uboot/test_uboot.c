/* SPDX-License-Identifier: MIT */
/*
 * QEMU virt + U-Boot (built by scripts/build-uboot) as a real device under
 * test, through the `qemu` power driver and its stable pty console.
 *
 * The environment-cut tests run `saveenv` and pull the power at points aimed
 * by console output (the moment "Erasing" or "Writing" is printed, or some
 * milliseconds after), power up again and judge twice: from the console
 * ("bad CRC, using default environment", `printenv`) and from the flash file
 * with fw_printenv. The single-copy environment loses everything on some
 * cuts; the redundant one never does.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/console.h"
#include "patchlab/error.h"
#include "patchlab/power_qemu.h"
#include "patchlab/strbuf.h"

#include "uboot_board.h"

#define ENV_BLOCK "0x40000" /* QEMU's erase block; one env copy per block */

/* ------------------------------------------------------------ helpers */

static char *write_fw_env_config(struct ub_board *b, bool redundant)
{
	struct pl_strbuf sb = { 0 };
	char *path;
	FILE *f;

	pl_strbuf_printf(&sb, "%s/fw_env.config", b->dir);
	path = pl_strbuf_steal(&sb);
	f = fopen(path, "w");
	assert_non_null(f);
	/* device  offset  env size  sector size */
	fprintf(f, "%s 0x0 %s %s\n", b->pflash, ENV_BLOCK, ENV_BLOCK);
	if (redundant)
		fprintf(f, "%s 0x40000 %s %s\n", b->pflash, ENV_BLOCK,
			ENV_BLOCK);
	fclose(f);
	return path;
}

/* Value of `name` in the flash file's environment per fw_printenv, or NULL
 * when it has none (no valid copy, or the variable is unset). */
static char *flash_env_get(const char *cfg, const char *name)
{
	char *argv[] = { "fw_printenv", "-c", (char *)cfg, (char *)name, NULL };
	char *out = NULL, *err = NULL, *val = NULL;
	size_t nl = strlen(name);
	int rc;

	rc = pl_test_run_capture(argv, &out, &err);
	if (rc == 0 && out && !strncmp(out, name, nl) && out[nl] == '=') {
		val = strdup(out + nl + 1);
		val[strcspn(val, "\n")] = '\0';
	}
	free(out);
	free(err);
	return val;
}

/* Boot to the prompt and read `printenv name` from the console. */
static char *console_env_get(struct ub_board *b, const char *name,
			     bool *bad_crc)
{
	struct pl_strbuf sb = { 0 };
	char *cmd, *p, *val = NULL;

	ub_boot_to_prompt(b);
	*bad_crc = ub_seen(b, "bad CRC");
	pl_strbuf_printf(&sb, "printenv %s", name);
	cmd = pl_strbuf_steal(&sb);
	ub_cmd(b, cmd, 5000);
	pl_strbuf_printf(&sb, "%s=", name);
	p = memmem(b->out.s + b->mark, b->out.len - b->mark, sb.s, sb.len);
	if (p) {
		val = strdup(p + sb.len);
		val[strcspn(val, "\r\n")] = '\0';
	}
	pl_strbuf_free(&sb);
	free(cmd);
	return val;
}

static void save_env(struct ub_board *b, const char *name, const char *val)
{
	struct pl_strbuf sb = { 0 };

	pl_strbuf_printf(&sb, "setenv %s %s", name, val);
	ub_cmd(b, sb.s, 5000);
	ub_cmd(b, "saveenv", 20000);
	assert_true(ub_seen(b, "OK"));
	assert_false(ub_seen(b, "timeout"));
	pl_strbuf_free(&sb);
}

/* ------------------------------------------------------------ tests */

static void console_survives_power_cycles(void **state)
{
	struct ub_board *b = *state;
	char *t1, *t2;

	ub_open(b, "single");
	assert_string_equal(pl_power_qemu_console(b->power), b->link);
	t1 = ub_console_target(b);

	ub_boot_to_prompt(b);
	ub_cmd(b, "version", 5000);
	assert_true(ub_seen(b, "U-Boot 2023.01"));
	ub_power(b, false);
	assert_false(pl_power_is_on(b->power));

	/* Same fd, same pty: the second boot's banner arrives on it. */
	ub_boot_to_prompt(b);
	t2 = ub_console_target(b);
	assert_string_equal(t1, t2);
	ub_power(b, false);
	free(t1);
	free(t2);
	assert_int_equal(b->cap.errors, 0);
}

/* One RSP exchange with QEMU's gdbstub: '?' -> a stop reply ("T05..."). */
struct rsp {
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t w;
	char buf[256];
	size_t len;
	bool connected, failed;
};

static void rsp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct rsp *r = h->data;

	(void)hint;
	*b = uv_buf_init(r->buf + r->len, (unsigned)(sizeof(r->buf) - 1 -
						    r->len));
}

static void rsp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct rsp *r = s->data;

	(void)b;
	if (n > 0)
		r->len += (size_t)n;
	else if (n < 0)
		r->failed = true;
	r->buf[r->len] = '\0';
}

static void rsp_connected(uv_connect_t *c, int status)
{
	struct rsp *r = c->data;
	uv_buf_t msg = uv_buf_init("$?#3f", 5);

	if (status < 0) {
		r->failed = true;
		return;
	}
	r->connected = true;
	uv_read_start((uv_stream_t *)&r->tcp, rsp_alloc, rsp_read);
	uv_write(&r->w, (uv_stream_t *)&r->tcp, &msg, 1, NULL);
}

static bool rsp_answered(void *ud)
{
	struct rsp *r = ud;

	return r->failed || strstr(r->buf, "#");
}

static void gdbstub_answers(uv_loop_t *loop, unsigned port)
{
	struct rsp *r = calloc(1, sizeof(*r));
	struct sockaddr_in a;

	uv_tcp_init(loop, &r->tcp);
	r->tcp.data = r->conn.data = r;
	uv_ip4_addr("127.0.0.1", (int)port, &a);
	assert_int_equal(uv_tcp_connect(&r->conn, &r->tcp,
					(struct sockaddr *)&a, rsp_connected),
			 0);
	assert_int_equal(pl_test_loop_until(loop, rsp_answered, r, 10000), 0);
	assert_false(r->failed);
	assert_non_null(strstr(r->buf, "$T"));
	uv_close((uv_handle_t *)&r->tcp, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	free(r);
}

static void gdbstub_port_is_stable_and_reset_line_works(void **state)
{
	struct ub_board *b = *state;
	unsigned p1 = 0, p2 = 0;

	ub_open_gdb(b, "single");
	assert_int_equal(pl_power_qemu_gdb_port(b->power, &p1), 0);
	assert_true(p1 > 0);
	assert_int_equal(pl_power_qemu_reset(b->power), -ENOTCONN);

	ub_boot_to_prompt(b);
	/* The reset line: U-Boot starts over in the same process. */
	ub_mark(b);
	assert_int_equal(pl_power_qemu_reset(b->power), 0);
	assert_true(ub_wait(b, "U-Boot 2023.01", 20000));
	/* Last: a gdb connection halts the CPU until it says continue. */
	gdbstub_answers(b->loop, p1);
	ub_power(b, false);

	ub_boot_to_prompt(b);
	assert_int_equal(pl_power_qemu_gdb_port(b->power, &p2), 0);
	assert_int_equal(p1, p2);
	gdbstub_answers(b->loop, p2);
	ub_power(b, false);
}

/* The other engineers' `tty` console driver on our stable pty, across a
 * power cycle: the way a lab wires a QEMU board. */
struct tty_seen {
	struct pl_strbuf out;
	unsigned gone;
	bool power_done;
};

static void tty_data(struct pl_console *c, const uint8_t *buf, size_t len,
		     uint64_t t_ns, void *ud)
{
	struct tty_seen *t = ud;

	(void)c;
	(void)t_ns;
	pl_strbuf_append(&t->out, buf, len);
}

static void tty_event(struct pl_console *c, enum pl_console_event ev,
		      int status, uint64_t gap_ns, void *ud)
{
	struct tty_seen *t = ud;

	(void)c;
	(void)status;
	(void)gap_ns;
	if (ev == PL_CONSOLE_GONE)
		t->gone++;
}

struct tty_wait {
	struct tty_seen *t;
	const char *text;
	unsigned count;
};

static bool tty_seen_n(void *ud)
{
	struct tty_wait *w = ud;
	const char *p = w->t->out.s;
	unsigned n = 0;

	while (p && (p = strstr(p, w->text))) {
		n++;
		p++;
	}
	return n >= w->count;
}

static void tty_power_cb(struct pl_power *p, int status,
			 const struct pl_power_times *tm, void *ud)
{
	(void)p;
	(void)tm;
	assert_int_equal(status, 0);
	((struct tty_seen *)ud)->power_done = true;
}

static bool tty_power_done(void *ud)
{
	return ((struct tty_seen *)ud)->power_done;
}

static void tty_power(uv_loop_t *loop, struct pl_power *p,
		      struct tty_seen *t, bool on)
{
	t->power_done = false;
	assert_int_equal(pl_power_set(p, on, tty_power_cb, t), 0);
	assert_int_equal(pl_test_loop_until(loop, tty_power_done, t, 20000), 0);
}

static void tty_console_driver_across_power_cycles(void **state)
{
	struct ub_board *b = *state;
	struct pl_fixture_ctx ctx = { 0 };
	struct tty_seen t = { { 0 }, 0, false };
	struct pl_console_cbs cbs = { .data = tty_data, .event = tty_event,
				      .user_data = &t };
	struct tty_wait w = { &t, "U-Boot 2023.01", 1 };
	char *bios;

	PL_TEST_SKIP_IF(!pl_driver_find(PL_FIXTURE_CONSOLE, "tty"),
			"no tty console driver in this build");
	ub_paths(b, "single", &bios);
	{
		struct pl_opt po[] = {
			{ .key = "bios", .value = bios },
			{ .key = "pflash", .value = b->pflash },
			{ .key = "console_link", .value = b->link },
		};
		struct pl_opt co[] = { { .key = "path", .value = b->link } };
		struct pl_opts popts = { po, 3 }, copts = { co, 1 };

		pl_test_logcap_init(&b->cap, "tty");
		ctx.loop = b->loop;
		ctx.log = b->cap.log;
		ctx.board_id = "ub-tty";
		assert_int_equal(pl_power_open(&b->power, &ctx, "qemu", &popts),
				 0);
		assert_int_equal(pl_console_open(&b->con, &ctx, "tty", &copts,
						 &cbs), 0);
	}
	free(bios);
	tty_power(b->loop, b->power, &t, true);
	assert_int_equal(pl_test_loop_until(b->loop, tty_seen_n, &w, 20000), 0);
	w.text = "Hit any key";
	assert_int_equal(pl_test_loop_until(b->loop, tty_seen_n, &w, 20000), 0);
	assert_int_equal(pl_console_write(b->con, " ", 1), 0);
	w.text = "=> ";
	assert_int_equal(pl_test_loop_until(b->loop, tty_seen_n, &w, 20000), 0);
	tty_power(b->loop, b->power, &t, false);

	/* Power cycle: the same console object sees the second banner. */
	tty_power(b->loop, b->power, &t, true);
	w.text = "U-Boot 2023.01";
	w.count = 2;
	assert_int_equal(pl_test_loop_until(b->loop, tty_seen_n, &w, 20000), 0);
	assert_int_equal(t.gone, 0);
	tty_power(b->loop, b->power, &t, false);
	pl_console_close(b->con);
	b->con = NULL;
	pl_strbuf_free(&t.out);
}

static void on_failed_power(struct pl_power *p, int status,
			    const struct pl_power_times *t, void *ud)
{
	struct ub_board *b = ud;

	(void)p;
	(void)t;
	b->power_done = true;
	b->power_status = status;
}

static bool failed_power_done(void *ud)
{
	return ((struct ub_board *)ud)->power_done;
}

/* QEMU that dies while starting (no such firmware) is a lab error, the
 * child is reaped, and the console stays usable for the next attempt. */
static void qemu_that_cannot_start_is_a_lab_error(void **state)
{
	struct ub_board *b = *state;
	struct pl_fixture_ctx ctx = { 0 };
	struct pl_strbuf sb = { 0 };
	struct pl_opt o[3];
	struct pl_opts opts = { o, 0 };

	b->dir = pl_test_tmpdir("uboot-bad");
	pl_strbuf_printf(&sb, "%s/flash.img", b->dir);
	b->pflash = pl_strbuf_steal(&sb);
	pl_strbuf_printf(&sb, "%s/console", b->dir);
	b->link = pl_strbuf_steal(&sb);
	o[opts.n++] = (struct pl_opt){ .key = "bios", .value = "/nonexistent.bin" };
	o[opts.n++] = (struct pl_opt){ .key = "pflash", .value = b->pflash };
	o[opts.n++] = (struct pl_opt){ .key = "console_link", .value = b->link };
	pl_test_logcap_init(&b->cap, "bad");
	ctx.loop = b->loop;
	ctx.log = b->cap.log;
	assert_int_equal(pl_power_open(&b->power, &ctx, "qemu", &opts), 0);
	b->power_done = false;
	assert_int_equal(pl_power_set(b->power, true, on_failed_power, b), 0);
	assert_int_equal(pl_test_loop_until(b->loop, failed_power_done, b,
					    20000), 0);
	assert_int_equal(b->power_status, -PL_EFIXTURE);
	assert_true(b->cap.errors >= 1);
	assert_string_equal(pl_power_qemu_console(b->power), b->link);
}

static void patched_saveenv_persists(void **state)
{
	struct ub_board *b = *state;
	char *cfg, *v;
	bool bad;

	ub_open(b, "single");
	cfg = write_fw_env_config(b, false);

	/* A blank flash: the first boot has no environment. */
	v = console_env_get(b, "pltest", &bad);
	assert_true(bad);
	assert_null(v);
	save_env(b, "pltest", "hello");
	ub_power(b, false);

	v = flash_env_get(cfg, "pltest");
	assert_non_null(v);
	assert_string_equal(v, "hello");
	free(v);

	v = console_env_get(b, "pltest", &bad);
	assert_false(bad);
	assert_non_null(v);
	assert_string_equal(v, "hello");
	free(v);
	ub_power(b, false);
	free(cfg);
}

/* Where to pull the plug during `saveenv`: delay_ms after text. */
struct cut_point {
	const char *text;
	unsigned delay_ms;
};

static const struct cut_point cut_points[] = {
	{ "Erasing", 0 },
	{ "Erasing", 1 },
	{ "Erasing", 3 },
	{ "Writing", 0 },
	{ "Writing", 5 },
	{ "Writing", 20 },
	{ "Writing", 50 },
	{ "Saving Environment", 0 },
	{ "Saving Environment", 10 },
	{ "Saving Environment", 30 },
	{ "Writing", 300 },
	{ "OK\r\n", 0 }, /* after saveenv finished: the new value */
};
#define N_CUTS (sizeof(cut_points) / sizeof(cut_points[0]))

struct cut_tally {
	unsigned kept_old, got_new, lost;
};

static void run_cuts(struct ub_board *b, const char *variant,
		     struct cut_tally *t)
{
	char *cfg, *v, *fv;
	bool bad;
	size_t i;

	memset(t, 0, sizeof(*t));
	ub_open(b, variant);
	cfg = write_fw_env_config(b, !strcmp(variant, "redundant"));

	/* A good environment to lose. */
	ub_boot_to_prompt(b);
	save_env(b, "pltest", "old");
	if (!strcmp(variant, "redundant"))
		save_env(b, "pltest", "old"); /* both copies valid */
	ub_power(b, false);

	for (i = 0; i < N_CUTS; i++) {
		const struct cut_point *c = &cut_points[i];

		ub_boot_to_prompt(b);
		ub_cmd(b, "setenv pltest new", 5000);
		ub_mark(b);
		ub_arm_cut(b, c->text, c->delay_ms);
		ub_send(b, "saveenv\r");
		ub_wait_cut(b);

		fv = flash_env_get(cfg, "pltest");
		v = console_env_get(b, "pltest", &bad);
		/* The two judges agree. */
		if (v)
			assert_non_null(fv);
		if (fv)
			assert_string_equal(v ? v : "(none)", fv);
		fprintf(stderr, "%s cut %zu (%.*s +%u ms): %s%s\n", variant, i,
			(int)strcspn(c->text, "\r\n"), c->text, c->delay_ms,
			v ? v : "LOST",
			bad ? " (bad CRC)" : "");
		if (!v) {
			assert_true(bad);
			t->lost++;
			save_env(b, "pltest", "old");
		} else if (!strcmp(v, "old")) {
			t->kept_old++;
		} else {
			assert_string_equal(v, "new");
			t->got_new++;
			save_env(b, "pltest", "old");
		}
		ub_power(b, false);
		free(v);
		free(fv);
	}
	free(cfg);
	fprintf(stderr, "%s: %zu cuts: kept old %u, got new %u, lost %u\n",
		variant, N_CUTS, t->kept_old, t->got_new, t->lost);
}

static void single_env_is_lost_on_some_cuts(void **state)
{
	struct cut_tally t;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("fw_printenv"),
			"no fw_printenv: install libubootenv-tool");
	run_cuts(*state, "single", &t);
	assert_true(t.lost >= 1);
}

static void redundant_env_survives_every_cut(void **state)
{
	struct cut_tally t;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("fw_printenv"),
			"no fw_printenv: install libubootenv-tool");
	run_cuts(*state, "redundant", &t);
	assert_int_equal(t.lost, 0);
	assert_int_equal(t.kept_old + t.got_new, N_CUTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			console_survives_power_cycles, ub_setup, ub_teardown),
		cmocka_unit_test_setup_teardown(
			gdbstub_port_is_stable_and_reset_line_works, ub_setup, ub_teardown),
		cmocka_unit_test_setup_teardown(
			tty_console_driver_across_power_cycles, ub_setup, ub_teardown),
		cmocka_unit_test_setup_teardown(
			qemu_that_cannot_start_is_a_lab_error, ub_setup,
			ub_teardown),
		cmocka_unit_test_setup_teardown(
			patched_saveenv_persists, ub_setup, ub_teardown),
		cmocka_unit_test_setup_teardown(
			single_env_is_lost_on_some_cuts, ub_setup, ub_teardown),
		cmocka_unit_test_setup_teardown(
			redundant_env_survives_every_cut, ub_setup, ub_teardown),
	};

	if (!pl_test_have_program("qemu-system-arm")) {
		pl_test_print_skip("no qemu-system-arm: run scripts/install-deps");
		return PL_TEST_SKIP_CODE;
	}
	{
		/* Builds U-Boot on the first run (minutes), reuses it after. */
		char *why, *dir = ub_uboot_dir(&why);

		if (!dir) {
			pl_test_print_skip("U-Boot not built: %s", why);
			free(why);
			return PL_TEST_SKIP_CODE;
		}
		free(dir);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
