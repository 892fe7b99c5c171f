/* SPDX-License-Identifier: MIT */
/*
 * /pl/vrack/cli: the virtual rack as a background process, through
 * `patchlab vrack up|status|down`, its GDB port (a minimal RSP client here,
 * raw socket) and its ptys. The rack is re-parented to this test (a child
 * subreaper), which reaps it after `down` and checks it exited cleanly.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pl_test.h"
#include "patchlab/exit.h"
#include "vrack_util.h"

#define T_MS 60000u

struct rack {
	char *dir;
	char *base; /* the tmpdir when dir is a deep directory inside it */
	int pid;
};

static void rack_up(struct rack *r, const char *boards, const char *speed)
{
	char *out = NULL, *err = NULL;
	int rc;

	rc = vt_patchlab(&out, &err, "up", "--dir", r->dir, "--boards", boards,
			 "--speed", speed, NULL);
	if (rc != 0)
		fail_msg("vrack up: exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
	assert_non_null(strstr(out, "lab: "));
	free(out);
	free(err);
	r->pid = pl_test_rack_pid(r->dir);
	assert_true(r->pid > 0);
}

static void rack_down(struct rack *r)
{
	char *out = NULL, *err = NULL;
	int rc = vt_patchlab(&out, &err, "down", "--dir", r->dir, NULL);

	if (rc != 0)
		fail_msg("vrack down: exit %d\n%s%s", rc, out, err);
	free(out);
	free(err);
	/* down returns once the process is gone: it is our zombie now, and a
	 * clean exit (0; LeakSanitizer would make it 23) */
	assert_int_equal(pl_test_reap(r->pid, PL_TEST_REAP_DEADLINE_MS), 0);
	r->pid = 0;
}

static int setup(void **state)
{
	struct rack *r = calloc(1, sizeof(*r));

	pl_test_become_subreaper();
	r->dir = pl_test_tmpdir("vrack-cli");
	*state = r;
	return r->dir ? 0 : -1;
}

static int teardown(void **state)
{
	struct rack *r = *state;

	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		pl_test_reap(r->pid, PL_TEST_REAP_DEADLINE_MS);
	}
	pl_test_rmrf(r->base ? r->base : r->dir);
	free(r->dir);
	free(r->base);
	free(r);
	return 0;
}

static void usage_errors_exit_64(void **state)
{
	struct rack *r = *state;
	static const char *const cases[][4] = {
		{ "up", NULL },
		{ "up", "--boards", "0", NULL },
		{ "up", "--boards", "many", NULL },
		{ "up", "--speed", "-2", NULL },
		{ "up", "--profile", "no-such-profile", NULL },
		{ "status", NULL },
		{ "down", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		int rc;

		if (i == 0 || i >= 5)
			rc = vt_patchlab(NULL, &err, cases[i][0], NULL);
		else
			rc = vt_patchlab(NULL, &err, cases[i][0], "--dir", r->dir,
					 cases[i][1], cases[i][2], NULL);
		if (rc != PL_EXIT_USAGE || !strstr(err, "usage: patchlab vrack"))
			fail_msg("case %zu (%s %s): exit %d\n%s", i, cases[i][0],
				 cases[i][1] ? cases[i][1] : "", rc, err);
		free(err);
	}
	/* and nothing was started */
	assert_int_equal(pl_test_rack_pid(r->dir), 0);
}

static bool is_link(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static bool present(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The gdb port of board vbN from lab.yaml. */
static unsigned gdb_port(const char *dir, int board)
{
	char *path = pl_test_path(dir, "lab.yaml"), line[512], id[32];
	FILE *f = fopen(path, "r");
	bool in = false;
	unsigned port = 0;
	char *p;

	free(path);
	assert_non_null(f);
	snprintf(id, sizeof(id), "- id: vb%d\n", board);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "- id: "))
			in = strstr(line, id) != NULL;
		if (in && (p = strstr(line, "address: 127.0.0.1:")))
			port = (unsigned)strtoul(p + 19, NULL, 10);
	}
	fclose(f);
	return port;
}

static void up_status_down_round_trip_keeps_flash(void **state)
{
	struct rack *r = *state;
	char *out = NULL, *err = NULL, *reply = NULL;
	char *lab = pl_test_path(r->dir, "lab.yaml");
	char *con = pl_test_path(r->dir, "vb1.console");
	char *relay = pl_test_path(r->dir, "relay0.tty");
	char *flash = pl_test_path(r->dir, "vb1.flash");
	char *sock = pl_test_path(r->dir, "rack.sock");
	uint32_t ops_before, ops_after, word;
	int fd;

	rack_up(r, "2", "10");
	/* a second up on the same DIR refuses */
	assert_int_equal(vt_patchlab(NULL, NULL, "up", "--dir", r->dir, NULL),
			 PL_EXIT_LAB_ERROR);
	assert_true(present(lab));
	assert_true(is_link(con));
	assert_true(is_link(relay));
	assert_true(present(flash));

	assert_int_equal(vt_patchlab(&out, &err, "status", "--dir", r->dir, NULL), 0);
	assert_non_null(strstr(out, "vb0 profile=good power=off"));
	assert_non_null(strstr(out, "vb1 profile=good power=off"));
	free(out);
	free(err);

	/* Write a marker into board 1's flash through its probe. */
	fd = vt_gdb_connect(gdb_port(r->dir, 1));
	assert_true(fd >= 0);
	assert_int_equal(vt_gdb_cmd(fd, "qSupported:swbreak+", &reply, true), 0);
	assert_non_null(strstr(reply, "QStartNoAckMode+"));
	free(reply);
	assert_int_equal(vt_gdb_cmd(fd, "QStartNoAckMode", &reply, true), 0);
	assert_string_equal(reply, "OK");
	free(reply);
	assert_int_equal(vt_gdb_read32(fd, 0x40000000, &ops_before, false), 0);
	assert_true(ops_before > 0); /* the factory provisioning */
	assert_int_equal(vt_gdb_cmd(fd, "vFlashErase:080ff000,1000", &reply, false), 0);
	assert_string_equal(reply, "OK");
	free(reply);
	assert_int_equal(vt_gdb_cmd(fd, "vFlashWrite:080ff010:PLAB", &reply, false), 0);
	assert_string_equal(reply, "OK");
	free(reply);
	assert_int_equal(vt_gdb_cmd(fd, "vFlashDone", &reply, false), 0);
	free(reply);
	assert_int_equal(vt_gdb_read32(fd, 0x080ff010, &word, false), 0);
	assert_int_equal(word, 0x42414c50); /* "PLAB" little-endian */
	assert_int_equal(vt_gdb_read32(fd, 0x40000000, &ops_after, false), 0);
	assert_int_equal(ops_after, ops_before + 2); /* one erase, one program */
	close(fd);

	rack_down(r);
	assert_false(present(con));
	assert_false(present(relay));
	assert_false(present(sock));
	assert_false(present(lab));
	assert_true(present(flash));
	assert_int_equal(vt_patchlab(NULL, &err, "status", "--dir", r->dir, NULL),
			 PL_EXIT_LAB_ERROR);
	free(err);

	/* Up again: the flash is as the probe left it. */
	rack_up(r, "2", "10");
	fd = vt_gdb_connect(gdb_port(r->dir, 1));
	assert_true(fd >= 0);
	assert_int_equal(vt_gdb_read32(fd, 0x080ff010, &word, true), 0);
	assert_int_equal(word, 0x42414c50);
	assert_int_equal(vt_gdb_read32(fd, 0x40000000, &word, true), 0);
	assert_int_equal(word, ops_after);
	close(fd);
	rack_down(r);
	/* down twice is fine */
	assert_int_equal(vt_patchlab(NULL, NULL, "down", "--dir", r->dir, NULL), 0);

	free(lab);
	free(con);
	free(relay);
	free(flash);
	free(sock);
}

static void sigterm_powers_off_and_cleans_up(void **state)
{
	struct rack *r = *state;
	char *con = pl_test_path(r->dir, "vb0.console");
	char *sock = pl_test_path(r->dir, "rack.sock");
	char *flash = pl_test_path(r->dir, "vb0.flash");

	rack_up(r, "1", "10");
	assert_true(present(con) && present(sock));
	assert_int_equal(kill(r->pid, SIGTERM), 0);
	assert_int_equal(pl_test_reap(r->pid, PL_TEST_REAP_DEADLINE_MS), 0);
	r->pid = 0;
	assert_false(present(con));
	assert_false(present(sock));
	assert_true(present(flash));
	free(con);
	free(sock);
	free(flash);
}

static void down_clears_what_a_killed_rack_left(void **state)
{
	struct rack *r = *state;
	char *con = pl_test_path(r->dir, "vb0.console");
	char *sock = pl_test_path(r->dir, "rack.sock");
	char *flash = pl_test_path(r->dir, "vb0.flash");
	char *out = NULL;

	rack_up(r, "1", "10");
	assert_int_equal(kill(r->pid, SIGKILL), 0);
	assert_int_equal(pl_test_reap(r->pid, PL_TEST_REAP_DEADLINE_MS),
			 128 + SIGKILL);
	r->pid = 0;
	assert_true(present(con) && present(sock)); /* nobody cleaned up */
	assert_int_equal(vt_patchlab(&out, NULL, "down", "--dir", r->dir, NULL), 0);
	assert_non_null(strstr(out, "removed what a dead one left"));
	free(out);
	assert_false(present(con));
	assert_false(present(sock));
	assert_true(present(flash));
	/* and a new rack starts there */
	rack_up(r, "1", "10");
	rack_down(r);
	free(con);
	free(sock);
	free(flash);
}

/*
 * Issue 10: under a directory whose rack.sock path passes the 107 bytes of
 * sun_path, the rack used to bind a cut path and refuse the second up with
 * "address already in use". Up, talk to it (status over rack.sock, a board
 * powered through its relay and heard on its console), down, and again.
 */
static void up_twice_under_a_directory_deeper_than_sun_path(void **state)
{
	struct rack *r = *state;
	struct pl_strbuf acc = { 0 };
	char *out = NULL, *err = NULL, *sock, *con_path, *relay_path;
	int con, relay;

	r->base = r->dir;
	r->dir = strdup(r->base);
	while (strlen(r->dir) <= 130) {
		char *next = pl_test_path(r->dir, "a-rather-long-ci-workspace-dir");

		assert_int_equal(mkdir(next, 0700), 0);
		free(r->dir);
		r->dir = next;
	}
	sock = pl_test_path(r->dir, "rack.sock");
	con_path = pl_test_path(r->dir, "vb0.console");
	relay_path = pl_test_path(r->dir, "relay0.tty");
	assert_true(strlen(sock) > 107);
	for (int round = 0; round < 2; round++) {
		rack_up(r, "1", "10");
		assert_true(present(sock)); /* at its real path, not a cut one */
		assert_int_equal(vt_patchlab(&out, &err, "status", "--dir",
					     r->dir, NULL), 0);
		assert_non_null(strstr(out, "vb0 profile=good power=off"));
		free(out);
		free(err);
		con = vt_open_tty(con_path, false);
		relay = vt_open_tty(relay_path, false);
		assert_true(con >= 0 && relay >= 0);
		assert_int_equal(vt_lcus(relay, 1, true), 0);
		assert_int_equal(vt_read_until(con, &acc, 0, "> ", T_MS), 0);
		assert_int_equal(vt_lcus(relay, 1, false), 0);
		close(con);
		close(relay);
		pl_strbuf_reset(&acc);
		rack_down(r);
		assert_false(present(sock));
	}
	pl_strbuf_free(&acc);
	free(sock);
	free(con_path);
	free(relay_path);
}

/* Parse the pc out of a T stop reply: "T05" ... "0f:xxxxxxxx;". */
static uint32_t stop_pc(const char *t)
{
	const char *p = strstr(t, "0f:");
	uint32_t v = 0;

	if (!p)
		return 0;
	for (int k = 3; k >= 0; k--) {
		char byte[3] = { p[3 + 2 * k], p[4 + 2 * k], 0 };

		v = v << 8 | (uint32_t)strtoul(byte, NULL, 16);
	}
	return v;
}

static void gdb_breakpoint_halts_board_at_first_page_write(void **state)
{
	struct rack *r = *state;
	struct pl_strbuf acc = { 0 };
	char *con_path = pl_test_path(r->dir, "vb0.console");
	char *relay_path = pl_test_path(r->dir, "relay0.tty");
	char *img = pl_test_path(r->dir, "images/v1.1.0.img");
	char *reply = NULL;
	uint32_t ops_at_halt, ops_later, halted, busy;
	int con, relay, gdb, sxfd, st;
	bool sx_gone = false;
	pid_t sx;

	PL_TEST_SKIP_IF(!pl_test_have_program("sx"),
			"no sx: install lrzsz (scripts/install-deps)");
	rack_up(r, "1", "5");
	con = vt_open_tty(con_path, false);
	relay = vt_open_tty(relay_path, false);
	assert_true(con >= 0 && relay >= 0);
	assert_int_equal(vt_lcus(relay, 1, true), 0);
	assert_int_equal(vt_read_until(con, &acc, 0, "> ", T_MS), 0);

	gdb = vt_gdb_connect(gdb_port(r->dir, 0));
	assert_true(gdb >= 0);
	/* attach: all-stop, the board halts */
	assert_int_equal(vt_gdb_cmd(gdb, "?", &reply, true), 0);
	assert_true(reply[0] == 'T' && reply[1] == '0' && reply[2] == '5');
	free(reply);
	assert_int_equal(vt_gdb_read32(gdb, 0x40000010, &halted, true), 0);
	assert_int_equal(halted, 1);
	assert_int_equal(vt_gdb_cmd(gdb, "Z0,8f00100,4", &reply, true), 0);
	assert_string_equal(reply, "OK");
	free(reply);
	assert_int_equal(vt_gdb_send(gdb, "c", true, 5000), 0);
	assert_int_equal(vt_gdb_read32(gdb, 0x40000010, &halted, true), 0);
	assert_int_equal(halted, 0);

	size_t from = acc.len;
	assert_int_equal(vt_write_all(con, "update xmodem\r", 14), 0);
	assert_int_equal(vt_read_until(con, &acc, from, "update: receiving", T_MS), 0);

	/* sx, relayed through us so we see every byte the board says */
	sx = vt_sx_start(img, &sxfd);
	assert_true(sx > 0);

	/* The stop reply arrives by itself when the board reaches the first
	 * page program of the update. */
	assert_int_equal(vt_pump(con, sxfd, &acc, gdb, NULL, 0, &sx_gone, T_MS), 0);
	assert_false(sx_gone);
	assert_int_equal(vt_gdb_recv(gdb, &reply, true, T_MS), 0);
	assert_true(reply[0] == 'T' && reply[1] == '0' && reply[2] == '5');
	assert_int_equal(stop_pc(reply), 0x08f00100);
	free(reply);
	assert_int_equal(vt_gdb_read32(gdb, 0x40000010, &halted, true), 0);
	assert_int_equal(halted, 1);
	assert_int_equal(vt_gdb_read32(gdb, 0x40000004, &busy, true), 0);
	assert_int_equal(busy, 0); /* halted *before* the program op */
	assert_int_equal(vt_gdb_read32(gdb, 0x40000000, &ops_at_halt, true), 0);
	assert_true(ops_at_halt > 0);
	/* registers: pc last of 17 */
	assert_int_equal(vt_gdb_cmd(gdb, "g", &reply, true), 0);
	assert_int_equal(strlen(reply), 17 * 8);
	assert_string_equal(reply + 15 * 8, "0001f008" "00000001");
	free(reply);
	/* the board stays halted: the counter does not move */
	assert_int_equal(vt_gdb_read32(gdb, 0x40000000, &ops_later, true), 0);
	assert_int_equal(ops_later, ops_at_halt);

	/* One step: exactly that page program, then halted again. */
	assert_int_equal(vt_gdb_send(gdb, "s", true, 5000), 0);
	assert_int_equal(vt_gdb_recv(gdb, &reply, true, T_MS), 0);
	assert_true(reply[0] == 'T');
	free(reply);
	assert_int_equal(vt_gdb_read32(gdb, 0x40000000, &ops_later, true), 0);
	assert_int_equal(ops_later, ops_at_halt + 1);

	/* Remove the breakpoint, let it run: the update completes. */
	assert_int_equal(vt_gdb_cmd(gdb, "z0,8f00100,4", &reply, true), 0);
	assert_string_equal(reply, "OK");
	free(reply);
	assert_int_equal(vt_gdb_send(gdb, "c", true, 5000), 0);
	assert_int_equal(vt_pump(con, sxfd, &acc, -1, "update: ok slot B", from,
				 &sx_gone, T_MS), 0);
	while (waitpid(sx, &st, 0) < 0 && errno == EINTR)
		;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sxfd);

	assert_int_equal(vt_lcus(relay, 1, false), 0);
	close(gdb);
	close(con);
	close(relay);
	rack_down(r);
	pl_strbuf_free(&acc);
	free(con_path);
	free(relay_path);
	free(img);
}

/* The text of a monitor command's O packets (hex-decoded), up to OK/Exx. */
static char *monitor(int gdb, const char *cmd, char **final)
{
	struct pl_strbuf hex = { 0 }, text = { 0 };
	char *reply = NULL;

	pl_strbuf_puts(&hex, "qRcmd,");
	for (const char *c = cmd; *c; c++)
		pl_strbuf_printf(&hex, "%02x", (unsigned char)*c);
	assert_int_equal(vt_gdb_send(gdb, hex.s, false, 5000), 0);
	for (;;) {
		assert_int_equal(vt_gdb_recv(gdb, &reply, false, 5000), 0);
		if (reply[0] != 'O' || strcmp(reply, "OK") == 0)
			break;
		for (size_t i = 1; reply[i] && reply[i + 1]; i += 2) {
			char b[3] = { reply[i], reply[i + 1], 0 };
			char ch = (char)strtoul(b, NULL, 16);

			pl_strbuf_append(&text, &ch, 1);
		}
		free(reply);
	}
	*final = reply;
	pl_strbuf_free(&hex);
	return text.s ? pl_strbuf_steal(&text) : strdup("");
}

static void gdb_framing_monitor_interrupt_and_escapes(void **state)
{
	struct rack *r = *state;
	struct pl_strbuf acc = { 0 };
	char *con_path = pl_test_path(r->dir, "vb0.console");
	char *relay_path = pl_test_path(r->dir, "relay0.tty");
	char *reply = NULL, *out, *st = NULL;
	uint8_t b;
	uint32_t v;
	size_t from;
	int gdb, other, con, relay;

	rack_up(r, "1", "10");
	gdb = vt_gdb_connect(gdb_port(r->dir, 0));
	assert_true(gdb >= 0);
	/* a bad checksum is refused with '-' */
	assert_int_equal(vt_write_all(gdb, "$qC#00", 6), 0);
	assert_int_equal(read(gdb, &b, 1), 1);
	assert_int_equal(b, '-');
	assert_int_equal(vt_gdb_cmd(gdb, "qC", &reply, true), 0);
	assert_string_equal(reply, "QC01");
	free(reply);
	assert_int_equal(vt_gdb_cmd(gdb, "QStartNoAckMode", &reply, true), 0);
	free(reply);

	/* one client at a time: a second one is hung up on */
	other = vt_gdb_connect(gdb_port(r->dir, 0));
	assert_true(other >= 0);
	assert_int_equal(vt_gdb_recv(other, &reply, false, 5000), -ECONNRESET);
	close(other);

	/* the memory map a real gdb needs for vFlash */
	assert_int_equal(vt_gdb_cmd(gdb, "qXfer:memory-map:read::0,400", &reply, false), 0);
	assert_true(reply[0] == 'l');
	assert_non_null(strstr(reply, "<memory type=\"flash\" start=\"0x8000000\""));
	free(reply);

	/* monitor commands, hex-encoded, output in O packets */
	out = monitor(gdb, "status", &reply);
	assert_non_null(strstr(out, "vb0 profile=good power=off"));
	assert_string_equal(reply, "OK");
	free(out);
	free(reply);
	out = monitor(gdb, "frobnicate", &reply);
	assert_non_null(strstr(out, "unknown command"));
	assert_string_equal(reply, "E01");
	free(out);
	free(reply);

	/* binary vFlashWrite: # $ } * travel escaped as } (byte ^ 0x20) */
	assert_int_equal(vt_gdb_cmd(gdb, "vFlashErase:080fe000,1000", &reply, false), 0);
	assert_string_equal(reply, "OK");
	free(reply);
	assert_int_equal(vt_gdb_cmd(gdb, "vFlashWrite:080fe000:}\x03}\x04}]}\x0a", &reply, false), 0);
	assert_string_equal(reply, "OK");
	free(reply);
	assert_int_equal(vt_gdb_cmd(gdb, "m80fe000,5", &reply, false), 0);
	assert_string_equal(reply, "23247d2aff");
	free(reply);
	assert_int_equal(vt_gdb_cmd(gdb, "m7000000,4", &reply, false), 0);
	assert_string_equal(reply, "E14"); /* unmapped */
	free(reply);

	/* power on; 0x03 halts with T02; input waits until `c` */
	con = vt_open_tty(con_path, false);
	relay = vt_open_tty(relay_path, false);
	assert_int_equal(vt_lcus(relay, 1, true), 0);
	assert_int_equal(vt_read_until(con, &acc, 0, "> ", T_MS), 0);
	assert_int_equal(vt_write_all(gdb, "\x03", 1), 0);
	assert_int_equal(vt_gdb_recv(gdb, &reply, false, 5000), 0);
	assert_true(strncmp(reply, "T02", 3) == 0);
	free(reply);
	assert_int_equal(vt_gdb_read32(gdb, 0x40000010, &v, false), 0);
	assert_int_equal(v, 1);
	from = acc.len;
	assert_int_equal(vt_write_all(con, "version\r", 8), 0);
	assert_int_equal(vt_gdb_send(gdb, "c", false, 5000), 0);
	assert_int_equal(vt_read_until(con, &acc, from, "version 1.0.0 slot A state=", T_MS), 0);

	/* monitor reset halt: stopped at the reset vector, then runs the
	 * bootloader from the start on `c` */
	out = monitor(gdb, "reset halt", &reply);
	assert_string_equal(reply, "OK");
	free(out);
	free(reply);
	assert_int_equal(vt_gdb_cmd(gdb, "pf", &reply, false), 0);
	assert_string_equal(reply, "0005f008");
	free(reply);
	from = acc.len;
	assert_int_equal(vt_gdb_send(gdb, "c", false, 5000), 0);
	assert_int_equal(vt_read_until(con, &acc, from, "vboot 1.0 profile=good", T_MS), 0);
	assert_int_equal(vt_read_until(con, &acc, from, "> ", T_MS), 0);

	/* attach halts; hanging up detaches and the board runs again */
	assert_int_equal(vt_gdb_cmd(gdb, "?", &reply, false), 0);
	assert_true(reply[0] == 'T');
	free(reply);
	assert_int_equal(vt_gdb_read32(gdb, 0x40000010, &v, false), 0);
	assert_int_equal(v, 1);
	from = acc.len;
	assert_int_equal(vt_write_all(con, "version\r", 8), 0);
	close(gdb);
	assert_int_equal(vt_read_until(con, &acc, from, "version 1.0.0 slot A state=", T_MS), 0);
	gdb = vt_gdb_connect(gdb_port(r->dir, 0));
	assert_true(gdb >= 0);
	assert_int_equal(vt_gdb_read32(gdb, 0x40000010, &v, true), 0);
	assert_int_equal(v, 0);
	close(gdb);
	assert_int_equal(vt_patchlab(&st, NULL, "status", "--dir", r->dir, NULL), 0);
	assert_non_null(strstr(st, "power=on state=running"));
	free(st);

	assert_int_equal(vt_lcus(relay, 1, false), 0);
	close(con);
	close(relay);
	rack_down(r);
	pl_strbuf_free(&acc);
	free(con_path);
	free(relay_path);
}

int main(void)
{
	/* a peer (sx, a GDB port) that hangs up must fail an assertion, not
	 * kill the test and orphan its rack */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(usage_errors_exit_64, setup, teardown),
		cmocka_unit_test_setup_teardown(up_status_down_round_trip_keeps_flash,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			up_twice_under_a_directory_deeper_than_sun_path, setup,
			teardown),
		cmocka_unit_test_setup_teardown(sigterm_powers_off_and_cleans_up,
						setup, teardown),
		cmocka_unit_test_setup_teardown(down_clears_what_a_killed_rack_left,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			gdb_framing_monitor_interrupt_and_escapes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			gdb_breakpoint_halts_board_at_first_page_write, setup,
			teardown),
	};

	return cmocka_run_group_tests_name("/pl/vrack/cli", tests, NULL, NULL);
}
