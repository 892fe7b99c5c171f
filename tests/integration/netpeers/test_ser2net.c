/* SPDX-License-Identifier: MIT */
/*
 * /pl/console/{tcp,rfc2217} against a real ser2net 4.x. Each test makes a
 * pty pair to stand for a board's serial port (the test holds the master,
 * ser2net opens the slave by name), writes a ser2net YAML config with a free
 * port, and spawns ser2net as a libuv child that is always killed and
 * reaped. Bytes written on the pty must arrive through the driver and bytes
 * written through the driver must arrive on the pty, 0xFF included; RFC 2217
 * must change the pty's baud rate; killing and restarting ser2net on the
 * same port must give PL_CONSOLE_GONE, then PL_CONSOLE_BACK with the gap,
 * and data must flow again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "peer.h"
#include "pl_test.h"
#include "patchlab/console.h"
#include "patchlab/error.h"
#include "patchlab/strbuf.h"

#define OPT(k, v) { .key = (k), .value = (v) }
#define WAIT_MS 15000

struct fx {
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_log log;        /* logcap plus the "baud set" watch */
	struct pl_fixture_ctx ctx;
	char *dir;
	char conf[512];
	char pidfile[512];
	char address[32];
	int master, slave;
	uv_poll_t pty_poll;
	struct pl_strbuf pty_rx;  /* what the "board" received */
	struct pl_strbuf con_rx;  /* what the console delivered */
	struct peer s2n;
	struct pl_console *con;
	unsigned gone, back;
	uint64_t gap_ns;
	bool baud_logged;
	unsigned baud_sets;       /* "server set baud rate" messages */
	unsigned rfc_problems;    /* rfc2217 warnings and errors */
};

static void log_sink(void *ud, enum pl_log_level lvl, const char *ctx,
		     const char *msg)
{
	struct fx *f = ud;

	if (strstr(msg, "server set baud rate 9600"))
		f->baud_logged = true;
	if (strstr(msg, "server set baud rate"))
		f->baud_sets++;
	if (lvl <= PL_LOG_WARN && strstr(msg, "rfc2217"))
		f->rfc_problems++;
	f->cap.log.fn(f->cap.log.user_data, lvl, ctx, msg);
}

static void on_pty(uv_poll_t *h, int status, int events)
{
	struct fx *f = h->data;
	char buf[512];
	ssize_t n;

	while ((n = read(f->master, buf, sizeof(buf))) > 0)
		pl_strbuf_append(&f->pty_rx, buf, (size_t)n);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct termios tio;

	if (!f)
		return -1;
	uv_loop_init(&f->loop);
	pl_test_logcap_init(&f->cap, "s2n");
	f->log = f->cap.log;
	f->log.fn = log_sink;
	f->log.user_data = f;
	f->ctx.loop = &f->loop;
	f->ctx.log = f->log;
	f->ctx.board_id = "b1";
	f->dir = pl_test_tmpdir("s2n");
	if (openpty(&f->master, &f->slave, NULL, NULL, NULL))
		return -1;
	/* Raw from the start: ser2net sets it too, but only once it opens. */
	tcgetattr(f->slave, &tio);
	cfmakeraw(&tio);
	cfsetspeed(&tio, B115200);
	tcsetattr(f->slave, TCSANOW, &tio);
	fcntl(f->master, F_SETFL, fcntl(f->master, F_GETFL) | O_NONBLOCK);
	uv_poll_init(&f->loop, &f->pty_poll, f->master);
	f->pty_poll.data = f;
	uv_poll_start(&f->pty_poll, UV_READABLE, on_pty);
	uv_unref((uv_handle_t *)&f->pty_poll);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl_console_close(f->con);
	peer_stop(&f->s2n);
	uv_poll_stop(&f->pty_poll);
	pl_test_loop_drain(&f->loop);
	close(f->master);
	close(f->slave);
	pl_strbuf_free(&f->pty_rx);
	pl_strbuf_free(&f->con_rx);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Write the config for a raw or an RFC 2217 accepter on a free port. */
static void write_config(struct fx *f, bool rfc2217)
{
	unsigned port = peer_free_port();
	FILE *fp;

	assert_true(port > 0);
	snprintf(f->address, sizeof(f->address), "127.0.0.1:%u", port);
	snprintf(f->conf, sizeof(f->conf), "%s/ser2net.yaml", f->dir);
	snprintf(f->pidfile, sizeof(f->pidfile), "%s/ser2net.pid", f->dir);
	fp = fopen(f->conf, "w");
	assert_non_null(fp);
	fprintf(fp,
		"connection: &board\n"
		"  accepter: %stcp,127.0.0.1,%u\n"
		"  connector: serialdev,%s,115200n81,local\n"
		"  options:\n"
		"    kickolduser: true\n",
		rfc2217 ? "telnet(rfc2217)," : "", port, ptsname(f->master));
	fclose(fp);
}

static void start_ser2net(struct fx *f)
{
	char *argv[] = { "ser2net", "-n", "-d", "-u", "-c", f->conf, "-P",
			 f->pidfile, NULL };

	assert_int_equal(peer_start(&f->s2n, &f->loop, argv), 0);
}

static void con_data(struct pl_console *c, const uint8_t *buf, size_t len,
		     uint64_t t_ns, void *ud)
{
	struct fx *f = ud;

	pl_strbuf_append(&f->con_rx, buf, len);
}

static void con_event(struct pl_console *c, enum pl_console_event ev,
		      int status, uint64_t gap_ns, void *ud)
{
	struct fx *f = ud;

	if (ev == PL_CONSOLE_GONE) {
		f->gone++;
	} else {
		f->back++;
		f->gap_ns = gap_ns;
	}
}

static void open_console(struct fx *f, const char *driver, const char *baud)
{
	const struct pl_opt o[] = { OPT("address", f->address), OPT("baud", baud) };
	const struct pl_console_cbs cbs = { .data = con_data,
					    .event = con_event,
					    .user_data = f };

	assert_int_equal(pl_console_open(&f->con, &f->ctx, driver,
					 &(struct pl_opts){ o, baud ? 2 : 1 }, &cbs), 0);
}

struct want {
	struct pl_strbuf *sb;
	const void *bytes;
	size_t len;
};

static bool has_bytes(void *ud)
{
	struct want *w = ud;

	return w->sb->s && memmem(w->sb->s, w->sb->len, w->bytes, w->len);
}

/* driver -> ser2net -> pty, then pty -> ser2net -> driver. The first leg
 * also proves ser2net has the pty open before the board side writes. */
static void round_trip(struct fx *f, const char *tag)
{
	char down[32], up[32];
	struct want w;
	int n;

	n = snprintf(down, sizeof(down), "to-board-%s\xff!", tag);
	assert_int_equal(pl_console_write(f->con, down, (size_t)n), 0);
	w = (struct want){ &f->pty_rx, down, (size_t)n };
	assert_int_equal(pl_test_loop_until(&f->loop, has_bytes, &w, WAIT_MS), 0);

	n = snprintf(up, sizeof(up), "from-board-%s\xff?", tag);
	assert_int_equal(write(f->master, up, (size_t)n), n);
	w = (struct want){ &f->con_rx, up, (size_t)n };
	assert_int_equal(pl_test_loop_until(&f->loop, has_bytes, &w, WAIT_MS), 0);
}

static bool is_gone(void *ud)
{
	return ((struct fx *)ud)->gone > 0;
}

static bool is_back(void *ud)
{
	return ((struct fx *)ud)->back > 0;
}

static bool baud_logged(void *ud)
{
	return ((struct fx *)ud)->baud_logged;
}

static bool two_baud_sets(void *ud)
{
	return ((struct fx *)ud)->baud_sets >= 2;
}

static void tcp_bytes_flow_both_ways_through_ser2net(void **state)
{
	struct fx *f = *state;

	write_config(f, false);
	start_ser2net(f);
	open_console(f, "tcp", NULL);
	round_trip(f, "raw");
	/* raw: 0xFF went through as one byte each way, no telnet escaping */
	assert_non_null(memmem(f->pty_rx.s, f->pty_rx.len, "raw\xff!", 5));
	assert_int_equal(pl_console_rx_bytes(f->con), f->con_rx.len);
}

static void rfc2217_sets_the_baud_and_escapes_iac(void **state)
{
	struct fx *f = *state;
	struct termios tio;

	write_config(f, true);
	start_ser2net(f);
	open_console(f, "rfc2217", "9600");
	round_trip(f, "2217");
	/* ser2net answers SET-BAUDRATE with the rate it set, after setting it */
	assert_int_equal(pl_test_loop_until(&f->loop, baud_logged, f, WAIT_MS), 0);
	assert_int_equal(tcgetattr(f->slave, &tio), 0);
	assert_int_equal(cfgetospeed(&tio), B9600);
	/* no negotiation bytes leaked into the data either way */
	assert_null(memchr(f->con_rx.s, 0xfa, f->con_rx.len));
	assert_int_equal(f->rfc_problems, 0);
	assert_int_equal(f->cap.errors, 0);
}

static void reconnects_after_restart(struct fx *f, const char *driver)
{
	open_console(f, driver, NULL);
	round_trip(f, "before");
	f->gone = f->back = 0;

	peer_stop(&f->s2n);
	assert_int_equal(pl_test_loop_until(&f->loop, is_gone, f, WAIT_MS), 0);
	assert_int_equal(pl_console_write(f->con, "lost", 4), -ENOTCONN);
	start_ser2net(f);
	assert_int_equal(pl_test_loop_until(&f->loop, is_back, f, WAIT_MS), 0);
	assert_int_equal(f->gone, 1);
	assert_int_equal(f->back, 1);
	assert_true(f->gap_ns > 0);
	round_trip(f, "after");
}

static void tcp_reconnects_after_ser2net_restart_and_records_the_gap(void **state)
{
	struct fx *f = *state;

	write_config(f, false);
	start_ser2net(f);
	reconnects_after_restart(f, "tcp");
}

static void rfc2217_renegotiates_after_ser2net_restart(void **state)
{
	struct fx *f = *state;

	write_config(f, true);
	start_ser2net(f);
	reconnects_after_restart(f, "rfc2217");
	/* the new session was negotiated again (the reply may trail the data) */
	assert_int_equal(pl_test_loop_until(&f->loop, two_baud_sets, f, WAIT_MS), 0);
	assert_int_equal(f->rfc_problems, 0);
}

static void bad_address_is_a_config_error(void **state)
{
	struct fx *f = *state;
	const struct pl_opt o[] = { OPT("address", "no-port-here") };
	struct pl_console *c;

	assert_int_equal(pl_console_open(&c, &f->ctx, "tcp", &(struct pl_opts){ o, 1 },
					 NULL), -PL_ECONFIG);
	assert_non_null(strstr(f->cap.last, "no-port-here"));
	assert_int_equal(pl_console_open(&c, &f->ctx, "rfc2217",
					 &(struct pl_opts){ o, 1 }, NULL), -PL_ECONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tcp_bytes_flow_both_ways_through_ser2net, setup, teardown),
		cmocka_unit_test_setup_teardown(rfc2217_sets_the_baud_and_escapes_iac, setup, teardown),
		cmocka_unit_test_setup_teardown(tcp_reconnects_after_ser2net_restart_and_records_the_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(rfc2217_renegotiates_after_ser2net_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_address_is_a_config_error, setup, teardown),
	};

	if (!pl_test_have_program("ser2net")) {
		pl_test_print_skip("ser2net not installed (scripts/install-deps)");
		return PL_TEST_SKIP_CODE;
	}
	return cmocka_run_group_tests_name("/pl/console/ser2net", tests, NULL, NULL);
}
