/* SPDX-License-Identifier: MIT */
/*
 * /pl/vrack/inproc: a rack inside the test process, on the test's loop
 * (patchlab/vrack.h), driven through its real interfaces: raw LCUS frames
 * on the relay pty, the console pty, and lrzsz's `sx -k` as the XMODEM-1K
 * sender (the reference implementation our receiver must understand).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "pl_test.h"
#include "patchlab/strbuf.h"
#include "patchlab/vimage.h"
#include "patchlab/vrack.h"

#define T_MS 60000u

/* A pty the test reads on the loop. */
struct tty {
	int fd;
	uv_poll_t poll;
	bool polling;
	int fwd;               /* also forward what we read here, or -1 */
	struct pl_strbuf acc;
};

struct fix {
	uv_loop_t loop;
	char *dir;
	struct pl_vrack *rack;
	struct pl_test_logcap cap;
	struct tty con[2];
	int relay;
};

static void on_tty(uv_poll_t *h, int status, int events)
{
	struct tty *t = h->data;
	char buf[4096];
	ssize_t n;

	(void)status;
	(void)events;
	while ((n = read(t->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = '.';
		if (t->fwd >= 0)
			(void)!write(t->fwd, buf, (size_t)n);
		pl_strbuf_append(&t->acc, buf, (size_t)n);
	}
}

static int tty_open(struct fix *f, struct tty *t, const char *path)
{
	struct termios tio;

	t->fwd = -1;
	t->fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	tcgetattr(t->fd, &tio);
	cfmakeraw(&tio);
	tcsetattr(t->fd, TCSANOW, &tio);
	uv_poll_init(&f->loop, &t->poll, t->fd);
	t->poll.data = t;
	uv_poll_start(&t->poll, UV_READABLE, on_tty);
	t->polling = true;
	return 0;
}

struct wait_text {
	struct tty *t;
	size_t from;
	const char *needle;
};

static bool has_text(void *ud)
{
	struct wait_text *w = ud;

	return w->t->acc.len > w->from &&
	       strstr(w->t->acc.s + w->from, w->needle) != NULL;
}

/* Run the loop until needle shows on t after position from. */
static int wait_for(struct fix *f, struct tty *t, size_t from,
		    const char *needle)
{
	struct wait_text w = { t, from, needle };
	int rc = pl_test_loop_until(&f->loop, has_text, &w, T_MS);

	if (rc < 0)
		print_message("waited for '%s'; console had:\n%s\n", needle,
			      t->acc.s ? t->acc.s + from : "(nothing)");
	return rc;
}

static void lcus(struct fix *f, const uint8_t *bytes, size_t len)
{
	assert_int_equal(write(f->relay, bytes, len), (ssize_t)len);
}

static int setup_n(void **state, const char *tag, unsigned boards,
		   double speed)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct pl_vrack_config cfg = { 0 };
	struct pl_vrack_board_info info;

	*state = f;
	uv_loop_init(&f->loop);
	pl_test_logcap_init(&f->cap, "vrack");
	f->cap.log.max = PL_LOG_INFO;
	f->dir = pl_test_tmpdir(tag);
	cfg.dir = f->dir;
	cfg.boards = boards;
	cfg.speed = speed;
	cfg.seed = 7;
	cfg.log = &f->cap.log;
	if (pl_vrack_open(&f->rack, &f->loop, &cfg) < 0)
		return -1;
	for (unsigned i = 0; i < boards && i < 2; i++) {
		pl_vrack_board(f->rack, i, &info);
		if (tty_open(f, &f->con[i], info.console) < 0)
			return -1;
	}
	pl_vrack_board(f->rack, 0, &info);
	f->relay = open(info.relay, O_RDWR | O_NOCTTY | O_CLOEXEC);
	return f->relay < 0 ? -1 : 0;
}

static int setup_relay(void **state)
{
	return setup_n(state, "vrack-relay", 2, 10.0);
}

static int setup_fast(void **state)
{
	return setup_n(state, "vrack-drop", 2, 1000.0);
}

static int setup_slow(void **state)
{
	return setup_n(state, "vrack-cut", 1, 0.05);
}

static int setup_xmodem(void **state)
{
	return setup_n(state, "vrack-xmodem", 1, 20.0);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	for (int i = 0; i < 2; i++) {
		if (f->con[i].polling) {
			uv_close((uv_handle_t *)&f->con[i].poll, NULL);
			close(f->con[i].fd);
		}
		pl_strbuf_free(&f->con[i].acc);
	}
	if (f->relay >= 0)
		close(f->relay);
	pl_vrack_close(f->rack);
	pl_test_loop_drain(&f->loop);
	/* the rack took its ptys and links with it, and left the flash */
	if (f->dir) {
		char *p;

		assert_int_equal(asprintf(&p, "%s/vb0.console", f->dir) > 0, 1);
		assert_int_equal(access(p, F_OK), -1);
		free(p);
		assert_int_equal(asprintf(&p, "%s/vb0.flash", f->dir) > 0, 1);
		assert_int_equal(access(p, F_OK), 0);
		free(p);
	}
	assert_int_equal(f->cap.errors, 0);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

struct power_wait {
	struct fix *f;
	size_t board;
	bool on;
};

static bool power_is(void *ud)
{
	struct power_wait *w = ud;
	struct pl_vrack_board_info info;

	pl_vrack_board(w->f->rack, w->board, &info);
	return info.powered == w->on;
}

static void wait_power(struct fix *f, size_t board, bool on)
{
	struct power_wait w = { f, board, on };

	assert_int_equal(pl_test_loop_until(&f->loop, power_is, &w, T_MS), 0);
}

static bool powered(struct fix *f, size_t board)
{
	struct pl_vrack_board_info info;

	pl_vrack_board(f->rack, board, &info);
	return info.powered;
}

static void lcus_frames_power_boards_and_garbage_is_ignored(void **state)
{
	struct fix *f = *state;
	/* garbage, a frame with a bad sum for channel 1, a frame for an
	 * unknown channel, a truncated frame, then a valid one for ch 2 */
	static const uint8_t noise[] = {
		0x00, 0x55, 0xff, 0x13,
		0xA0, 0x01, 0x01, 0xA3,
		0xA0, 0x09, 0x01, 0xAA,
		0xA0, 0x01,
		0xA0, 0x02, 0x01, 0xA3,
	};
	static const uint8_t on1[] = { 0xA0, 0x01, 0x01, 0xA2 };
	static const uint8_t off1[] = { 0xA0, 0x01, 0x00, 0xA1 };
	static const uint8_t off2[] = { 0xA0, 0x02, 0x00, 0xA2 };
	size_t from;

	assert_false(powered(f, 0));
	assert_false(powered(f, 1));
	lcus(f, noise, sizeof(noise));
	wait_power(f, 1, true);
	/* the bad frames before it switched nothing */
	assert_false(powered(f, 0));
	assert_int_equal(wait_for(f, &f->con[1], 0, "> "), 0);
	assert_non_null(strstr(f->con[1].acc.s, "vboot 1.0 profile=good"));
	assert_null(f->con[0].acc.s);

	/* board 0: on, the console comes */
	lcus(f, on1, sizeof(on1));
	assert_int_equal(wait_for(f, &f->con[0], 0, "> "), 0);
	from = f->con[0].acc.len;
	assert_int_equal(write(f->con[0].fd, "version\r", 8), 8);
	assert_int_equal(wait_for(f, &f->con[0], from, "version 1.0.0 slot A state="), 0);

	/* off: the console goes; what is typed meanwhile is lost */
	lcus(f, off1, sizeof(off1));
	wait_power(f, 0, false);
	from = f->con[0].acc.len;
	assert_int_equal(write(f->con[0].fd, "version\r", 8), 8);
	/* a byte-split valid frame still counts */
	lcus(f, on1, 2);
	lcus(f, on1 + 2, 2);
	assert_int_equal(wait_for(f, &f->con[0], from, "> "), 0);
	/* the next thing said is a fresh boot, not an answer to `version` */
	assert_non_null(strstr(f->con[0].acc.s + from, "vboot 1.0"));
	assert_null(strstr(f->con[0].acc.s + from, "version 1.0.0 slot A state="));

	/* the console closed and opened again still works */
	{
		struct pl_vrack_board_info info;
		struct tty again = { 0 };

		uv_close((uv_handle_t *)&f->con[0].poll, NULL);
		close(f->con[0].fd);
		f->con[0].polling = false;
		pl_vrack_board(f->rack, 0, &info);
		assert_int_equal(tty_open(f, &again, info.console), 0);
		assert_int_equal(write(again.fd, "version\r", 8), 8);
		assert_int_equal(wait_for(f, &again, 0, "version 1.0.0 slot A state="), 0);
		uv_close((uv_handle_t *)&again.poll, NULL);
		uv_run(&f->loop, UV_RUN_NOWAIT);
		close(again.fd);
		pl_strbuf_free(&again.acc);
	}

	lcus(f, off1, sizeof(off1));
	lcus(f, off2, sizeof(off2));
	wait_power(f, 0, false);
	wait_power(f, 1, false);
}

struct status_wait {
	struct fix *f;
	const char *needle;
};

static bool status_has(void *ud)
{
	struct status_wait *w = ud;
	char *st = pl_vrack_status(w->f->rack);
	bool yes = st && strstr(st, w->needle);

	free(st);
	return yes;
}

static void cut_during_erase_tears_it_and_the_board_boots(void **state)
{
	struct fix *f = *state;
	struct status_wait w = { f, "vb0 profile=good power=on" };
	char *st, *phi_at;
	double phi;
	size_t from;

	assert_int_equal(pl_vrack_power(f->rack, 0, true), 0);
	assert_int_equal(wait_for(f, &f->con[0], 0, "> "), 0);
	assert_int_equal(write(f->con[0].fd, "update xmodem\r", 14), 14);
	/* `update` starts by erasing slot B's metadata: cut during it */
	w.needle = "busy=erase";
	assert_int_equal(pl_test_loop_until(&f->loop, status_has, &w, T_MS), 0);
	assert_int_equal(pl_vrack_power(f->rack, 0, false), 0);
	st = pl_vrack_status(f->rack);
	assert_non_null(strstr(st, "vb0 profile=good power=off state=off"));
	assert_non_null(strstr(st, "cuts=1 torn=1"));
	free(st);
	/* the runtime tore it at the fraction that had elapsed */
	phi_at = strstr(f->cap.last, "phi ");
	assert_non_null(strstr(f->cap.last, "power cut during ERASE"));
	assert_non_null(phi_at);
	phi = strtod(phi_at + 4, NULL);
	assert_true(phi >= 0.0 && phi < 1.0);

	/* slot A was never touched: the board boots it */
	from = f->con[0].acc.len;
	assert_int_equal(pl_vrack_power(f->rack, 0, true), 0);
	assert_int_equal(wait_for(f, &f->con[0], from,
				  "app: version 1.0.0 slot A running"), 0);
	pl_vrack_power(f->rack, 0, false);
}

struct drop_wait {
	struct fix *f;
	size_t board;
};

static bool dropped_some(void *ud)
{
	struct drop_wait *w = ud;
	struct pl_vrack_board_info info;

	pl_vrack_board(w->f->rack, w->board, &info);
	return info.console_dropped > 0;
}

static void unread_console_drops_output_and_the_rack_goes_on(void **state)
{
	struct fix *f = *state;
	struct drop_wait w = { f, 1 };
	size_t from;

	assert_int_equal(pl_vrack_power(f->rack, 0, true), 0);
	assert_int_equal(pl_vrack_power(f->rack, 1, true), 0);
	assert_int_equal(wait_for(f, &f->con[1], 0, "> "), 0);
	/* nobody reads board 1 from now on; it talks and talks */
	uv_poll_stop(&f->con[1].poll);
	for (int i = 0; i < 600; i++)
		assert_int_equal(write(f->con[1].fd, "help\r", 5), 5);
	assert_int_equal(pl_test_loop_until(&f->loop, dropped_some, &w, T_MS), 0);
	/* board 0 still answers: the loop never blocked on board 1 */
	assert_int_equal(wait_for(f, &f->con[0], 0, "> "), 0);
	from = f->con[0].acc.len;
	assert_int_equal(write(f->con[0].fd, "version\r", 8), 8);
	assert_int_equal(wait_for(f, &f->con[0], from, "version 1.0.0 slot A state="), 0);
	pl_vrack_power(f->rack, 0, false);
	pl_vrack_power(f->rack, 1, false);
}

/* sx runs on a socketpair; we relay it to the console and see everything
 * the board says, even what it says after sx stopped listening. */
struct sx_run {
	uv_process_t proc;
	uv_poll_t poll;
	int fd;
	int con;
	bool eof;
	bool exited;
	int64_t status;
};

static void on_sx_exit(uv_process_t *p, int64_t status, int sig)
{
	struct sx_run *x = p->data;

	x->exited = true;
	x->status = sig ? 128 + sig : status;
	uv_close((uv_handle_t *)p, NULL);
}

static void on_sx_bytes(uv_poll_t *h, int status, int events)
{
	struct sx_run *x = h->data;
	char buf[4096];
	ssize_t n = read(x->fd, buf, sizeof(buf));

	(void)status;
	(void)events;
	if (n > 0) {
		(void)!write(x->con, buf, (size_t)n);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		x->eof = true;
		uv_close((uv_handle_t *)h, NULL);
	}
}

static bool sx_done(void *ud)
{
	struct sx_run *x = ud;

	return x->exited && x->eof;
}

static void sx_sends_an_image_the_board_verifies(void **state)
{
	struct fix *f = *state;
	struct tty *con = &f->con[0];
	struct sx_run x = { 0 };
	uv_process_options_t po = { 0 };
	uv_stdio_container_t stdio[3];
	char *img, *args[4];
	int sv[2], rc;
	size_t from, start;

	PL_TEST_SKIP_IF(!pl_test_have_program("sx"),
			"no sx: install lrzsz (scripts/install-deps)");
	assert_int_equal(asprintf(&img, "%s/images/v1.1.0.img", f->dir) > 0, 1);
	assert_int_equal(pl_vrack_power(f->rack, 0, true), 0);
	assert_int_equal(wait_for(f, con, 0, "> "), 0);
	start = con->acc.len;
	assert_int_equal(write(con->fd, "update xmodem\r", 14), 14);
	assert_int_equal(wait_for(f, con, start, "update: receiving into slot B"), 0);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	args[0] = "sx";
	args[1] = "-k";
	args[2] = img;
	args[3] = NULL;
	stdio[0].flags = UV_INHERIT_FD;
	stdio[0].data.fd = sv[1];
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = sv[1];
	stdio[2].flags = UV_IGNORE;
	po.file = "sx";
	po.args = args;
	po.stdio = stdio;
	po.stdio_count = 3;
	po.exit_cb = on_sx_exit;
	x.proc.data = &x;
	rc = uv_spawn(&f->loop, &x.proc, &po);
	close(sv[1]);
	assert_int_equal(rc, 0);
	x.fd = sv[0];
	x.con = con->fd;
	uv_poll_init(&f->loop, &x.poll, x.fd);
	x.poll.data = &x;
	uv_poll_start(&x.poll, UV_READABLE, on_sx_bytes);
	con->fwd = x.fd;
	assert_int_equal(pl_test_loop_until(&f->loop, sx_done, &x, T_MS), 0);
	con->fwd = -1;
	close(x.fd);
	assert_int_equal(x.status, 0);
	assert_int_equal(wait_for(f, con, start, "update: ok slot B pending"), 0);
	/* the board counted the transfer as it went */
	assert_non_null(strstr(con->acc.s + start, "write 100%"));

	/* the new image boots from slot B */
	from = con->acc.len;
	assert_int_equal(write(con->fd, "reboot\r", 7), 7);
	assert_int_equal(wait_for(f, con, from, "app: version 1.1.0 slot B running"), 0);
	assert_int_equal(pl_vrack_power(f->rack, 0, false), 0);
	free(img);
}

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
	char *path;
	FILE *fp;
	uint8_t *buf;
	long n;

	assert_int_equal(asprintf(&path, "%s/%s", dir, name) > 0, 1);
	fp = fopen(path, "rb");
	free(path);
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void ready_made_images_fail_as_their_names_say(void **state)
{
	static const struct {
		const char *name;
		enum pl_vimage_status want;
	} cases[] = {
		{ "images/v1.0.0.img", PL_VIMAGE_OK },
		{ "images/v1.1.0.img", PL_VIMAGE_OK },
		{ "images/corrupt.img", PL_VIMAGE_BAD_HASH },
		{ "images/truncated.img", PL_VIMAGE_TRUNCATED },
		{ "images/wrong-key.img", PL_VIMAGE_BAD_SIGNATURE },
		{ "images/downgrade-0.9.0.img", PL_VIMAGE_DOWNGRADE },
		{ "images/wrong-board.img", PL_VIMAGE_WRONG_BOARD },
	};
	struct fix *f = *state;
	struct pl_vimage_key *key = NULL;
	uint8_t pub[PL_VIMAGE_PUBKEY_LEN];
	char *path;

	assert_int_equal(asprintf(&path, "%s/keys/public.pem", f->dir) > 0, 1);
	assert_int_equal(pl_vimage_key_load(&key, path, &f->cap.log), 0);
	free(path);
	assert_int_equal(pl_vimage_key_public(key, pub), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pl_vimage_policy pol = {
			.pubkey = pub, .board = "virtual-mcu",
			.min_version = "1.0.0", .check_hash = true,
			.check_sig = true,
		};
		size_t len;
		uint8_t *img = slurp(f->dir, cases[i].name, &len);
		enum pl_vimage_status st = pl_vimage_verify(img, len, &pol, NULL);

		if (st != cases[i].want)
			fail_msg("%s: %s, want %s", cases[i].name,
				 pl_vimage_status_name(st),
				 pl_vimage_status_name(cases[i].want));
		free(img);
	}
	pl_vimage_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			lcus_frames_power_boards_and_garbage_is_ignored,
			setup_relay, teardown),
		cmocka_unit_test_setup_teardown(
			unread_console_drops_output_and_the_rack_goes_on,
			setup_fast, teardown),
		cmocka_unit_test_setup_teardown(
			ready_made_images_fail_as_their_names_say, setup_fast,
			teardown),
		cmocka_unit_test_setup_teardown(
			cut_during_erase_tears_it_and_the_board_boots,
			setup_slow, teardown),
		cmocka_unit_test_setup_teardown(
			sx_sends_an_image_the_board_verifies, setup_xmodem,
			teardown),
	};

	return cmocka_run_group_tests_name("/pl/vrack/inproc", tests, NULL, NULL);
}
