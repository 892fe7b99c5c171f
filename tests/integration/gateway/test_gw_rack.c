/* SPDX-License-Identifier: MIT */
/*
 * The gateway family as a background rack (`patchlab vrack up --family
 * gateway`), through its real interfaces: LCUS frames on the relay pty,
 * the console pty (boot log, shell, the update as base64 lines) and the
 * factory programmer's pty; `--no-recovery`; `vrack profiles --family`.
 * The rack is re-parented to this test (a child subreaper), which reaps
 * it after `down`.
 *
 * The cuts through the relay are aimed at the middle of each profile's
 * window at --speed 0.1 (env-in-place: 160 ms wide, 80 ms from each edge;
 * split-activation 130 ms; bootcount-drain 180 ms): what is asserted is
 * the model's outcome, not the timing.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pl_test.h"
#include "patchlab/clock.h"
#include "patchlab/exit.h"
#include "patchlab/vgw.h"
#include "vrack_util.h"

#define T_MS 30000u

struct rack {
	char *dir;
	int pid;
	int relay;
	int con;
	struct pl_strbuf acc;
	size_t from;
};

static int setup(void **state)
{
	struct rack *r = calloc(1, sizeof(*r));

	pl_test_become_subreaper();
	r->dir = pl_test_tmpdir("gw-rack");
	r->relay = r->con = -1;
	*state = r;
	return r->dir ? 0 : -1;
}

static int teardown(void **state)
{
	struct rack *r = *state;

	if (r->relay >= 0)
		close(r->relay);
	if (r->con >= 0)
		close(r->con);
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		pl_test_reap(r->pid, PL_TEST_REAP_DEADLINE_MS);
	}
	pl_strbuf_free(&r->acc);
	pl_test_rmrf(r->dir);
	free(r->dir);
	free(r);
	return 0;
}

static void rack_up(struct rack *r, const char *profiles, bool no_recovery)
{
	char *out = NULL, *err = NULL;
	int rc;

	if (no_recovery)
		rc = vt_patchlab(&out, &err, "up", "--dir", r->dir, "--family",
				 "gateway", "--boards", "2", "--profile", profiles,
				 "--speed", "0.1", "--no-recovery", NULL);
	else
		rc = vt_patchlab(&out, &err, "up", "--dir", r->dir, "--family",
				 "gateway", "--boards", "2", "--profile", profiles,
				 "--speed", "0.1", NULL);
	if (rc != 0)
		fail_msg("vrack up: exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
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
	assert_int_equal(pl_test_reap(r->pid, PL_TEST_REAP_DEADLINE_MS), 0);
	r->pid = 0;
}

static int open_in(struct rack *r, const char *name)
{
	char *p = pl_test_path(r->dir, name);
	int fd = vt_open_tty(p, true);

	assert_true(fd >= 0);
	free(p);
	return fd;
}

/* Wait for needle on the console; the next wait starts after it. */
static void expect(struct rack *r, const char *needle)
{
	const char *hit;

	if (vt_read_until(r->con, &r->acc, r->from, needle, T_MS) != 0)
		fail_msg("no '%s' on the console; it said:\n%s", needle,
			 r->acc.s ? r->acc.s + r->from : "");
	hit = strstr(r->acc.s + r->from, needle);
	r->from = (size_t)(hit - r->acc.s) + strlen(needle);
}

static void say(struct rack *r, const char *line)
{
	assert_int_equal(vt_write_all(r->con, line, strlen(line)), 0);
	assert_int_equal(vt_write_all(r->con, "\n", 1), 0);
}

static void power(struct rack *r, unsigned ch, bool on)
{
	assert_int_equal(vt_lcus(r->relay, ch, on), 0);
}

/* One line from the factory programmer (deadline), or NULL when none. */
static char *factory_cmd(int fd, const char *cmd, unsigned timeout_ms)
{
	struct pl_strbuf acc = { 0 };
	char *nl;

	assert_int_equal(vt_write_all(fd, cmd, strlen(cmd)), 0);
	if (vt_read_until(fd, &acc, 0, "\n", timeout_ms) != 0) {
		pl_strbuf_free(&acc);
		return NULL;
	}
	nl = strchr(acc.s, '\r');
	if (nl)
		*nl = '\0';
	return acc.s;
}

/* The relays and the programmer are separate lines into the rack: ask
 * the programmer's status until it shows want (deadline). */
static void wait_status(int fac, const char *want)
{
	uint64_t deadline = pl_now_ns() + (uint64_t)T_MS * 1000000u;

	for (;;) {
		char *ans = factory_cmd(fac, "status\n", T_MS);
		bool ok = ans && strstr(ans, want);

		free(ans);
		if (ok)
			return;
		if (pl_now_ns() >= deadline)
			fail_msg("the programmer never showed %s", want);
	}
}

static void sync_power(int fac, bool on)
{
	wait_status(fac, on ? "power=on" : "power=off");
}

static uint8_t *slurp_img(struct rack *r, const char *name, size_t *len)
{
	char *p, *rel;
	FILE *f;
	uint8_t *buf;

	assert_true(asprintf(&rel, "images/%s", name) > 0);
	p = pl_test_path(r->dir, rel);
	f = fopen(p, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	buf = malloc(*len);
	assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	free(p);
	free(rel);
	return buf;
}

/* The update over the console, as text lines, each acknowledged. */
static void send_update(struct rack *r, const uint8_t *img, size_t len)
{
	uint8_t sha[32];
	char line[600], hex[65], ack[64];

	EVP_Digest(img, len, sha, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha[i]);
	snprintf(line, sizeof(line), "fwupdate begin %zu %s", len, hex);
	say(r, line);
	expect(r, "fwupdate: ready slot=B");
	for (size_t off = 0; off < len; off += 384) {
		size_t n = len - off < 384 ? len - off : 384;

		memcpy(line, "fwupdate data ", 14);
		EVP_EncodeBlock((unsigned char *)line + 14, img + off, (int)n);
		say(r, line);
		snprintf(ack, sizeof(ack), "fwupdate: ack %zu of ", off + n);
		expect(r, ack);
	}
	say(r, "fwupdate end");
}

/* Read the console until deadline_ns (the wait before a cut). */
static void read_until_time(struct rack *r, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = pl_now_ns();
		struct pollfd p = { .fd = r->con, .events = POLLIN };
		char buf[1024];
		ssize_t n;

		if (now >= deadline_ns)
			return;
		if (poll(&p, 1, (int)((deadline_ns - now) / 1000000u)) <= 0)
			continue;
		n = read(r->con, buf, sizeof(buf));
		if (n > 0)
			pl_strbuf_append(&r->acc, buf, (size_t)n);
	}
}

static void gw_rack_boots_updates_and_commits_over_console(void **state)
{
	struct rack *r = *state;
	uint8_t *img;
	size_t len;

	rack_up(r, "good", false);
	r->relay = open_in(r, "relay0.tty");
	r->con = open_in(r, "gw0.console");
	power(r, 1, true);
	expect(r, "U-Boot 2024.01-gw (virtual gateway, profile good)");
	expect(r, "gw: boot ok slot=A version=1.0.0\r\n");
	expect(r, "gw: boot committed\r\n");
	expect(r, "root@gw:~# ");
	img = slurp_img(r, "gw-2.1.0.img", &len);
	send_update(r, img, len);
	expect(r, "fwupdate: activating slot B");
	expect(r, "fwupdate: ok slot=B version=2.1.0");
	say(r, "reboot");
	expect(r, "gw-boot: slot=B bootcount=1 bootlimit=3 upgrade_available=1");
	expect(r, "gw: boot ok slot=B version=2.1.0\r\n");
	expect(r, "gw: boot committed");
	say(r, "version");
	expect(r, "version=2.1.0 slot=B state=committed");
	power(r, 1, false);
	free(img);
	rack_down(r);
}

static void gw_rack_cut_bricks_env_in_place_and_factory_recovers(void **state)
{
	struct rack *r = *state;
	uint8_t *img;
	size_t len;
	char *ans, *cmd, *fac_path;
	int fac;

	rack_up(r, "good,env-in-place", false);
	r->relay = open_in(r, "relay0.tty");
	r->con = open_in(r, "gw1.console");
	fac = open_in(r, "gw1.factory");
	power(r, 2, true);
	expect(r, "gw: boot committed");
	img = slurp_img(r, "gw-2.1.0.img", &len);
	send_update(r, img, len);
	expect(r, "fwupdate: activating slot B\r\n");
	/* the middle of (5 ms, 21 ms), at speed 0.1 */
	read_until_time(r, pl_now_ns() + 130000000ull);
	power(r, 2, false);
	power(r, 2, true);
	expect(r, "bad CRC, using default environment");
	expect(r, "gw-boot: BOOT FAILED: ");
	sync_power(fac, true);
	/* the programmer refuses a running board */
	fac_path = pl_test_path(r->dir, "images/gw-factory.bin");
	assert_true(asprintf(&cmd, "flash %s\n", fac_path) > 0);
	ans = factory_cmd(fac, cmd, T_MS);
	assert_non_null(ans);
	assert_non_null(strstr(ans, "error: the board is powered"));
	free(ans);
	power(r, 2, false);
	sync_power(fac, false);
	ans = factory_cmd(fac, "flash /nonexistent/factory.bin\n", T_MS);
	assert_non_null(ans);
	assert_non_null(strstr(ans, "error: /nonexistent/factory.bin"));
	free(ans);
	ans = factory_cmd(fac, cmd, T_MS);
	assert_non_null(ans);
	assert_string_equal(ans, "ok flashed 1048576 bytes");
	free(ans);
	power(r, 2, true);
	expect(r, "gw: boot ok slot=A version=1.0.0");
	expect(r, "gw: boot committed");
	power(r, 2, false);
	sync_power(fac, false);
	/* the boot-mode strap on its relay: powered in boot mode, the board
	 * says nothing and the programmer takes an image */
	{
		int strap = open_in(r, "strap0.tty");

		assert_int_equal(vt_lcus(strap, 2, true), 0);
		wait_status(fac, "strap=on");
		power(r, 2, true);
		wait_status(fac, "bootmode=on");
		ans = factory_cmd(fac, cmd, T_MS);
		assert_non_null(ans);
		assert_string_equal(ans, "ok flashed 1048576 bytes");
		free(ans);
		power(r, 2, false);
		assert_int_equal(vt_lcus(strap, 2, false), 0);
		wait_status(fac, "power=off bootmode=off strap=off");
		close(strap);
	}
	power(r, 2, true);
	expect(r, "gw: boot ok slot=A version=1.0.0");
	power(r, 2, false);
	close(fac);
	free(cmd);
	free(fac_path);
	free(img);
	rack_down(r);
}

/* Cut the board on relay channel ch, ms_after (real ms) after needle. */
static void cut_after(struct rack *r, unsigned ch, const char *needle,
		      uint64_t ms_after)
{
	expect(r, needle);
	read_until_time(r, pl_now_ns() + ms_after * 1000000ull);
	power(r, ch, false);
}

/* split-activation: [21, 47) ms after "activating", at speed 0.1 the
 * middle is 340 ms (130 ms from either edge): no slot is bootable. */
static void gw_rack_cut_bricks_split_activation(void **state)
{
	struct rack *r = *state;
	uint8_t *img;
	size_t len;

	rack_up(r, "good,split-activation", false);
	r->relay = open_in(r, "relay0.tty");
	r->con = open_in(r, "gw1.console");
	power(r, 2, true);
	expect(r, "gw: boot committed");
	img = slurp_img(r, "gw-2.1.0.img", &len);
	send_update(r, img, len);
	cut_after(r, 2, "fwupdate: activating slot B\r\n", 340);
	power(r, 2, true);
	/* bootslot=B was written, the old slot retired, the new one not
	 * yet enabled */
	expect(r, "gw-boot: slot B: not marked bootable");
	expect(r, "gw-boot: slot A: not marked bootable");
	expect(r, "gw-boot: BOOT FAILED: no bootable slot");
	power(r, 2, false);
	free(img);
	rack_down(r);
}

/* bootcount-drain: a committed update, then three boots cut 180 ms after
 * "gw: boot ok" (the window ends at 360 ms at speed 0.1): the old image
 * comes back on the next boot. */
static void gw_rack_drain_brings_the_old_image_back(void **state)
{
	struct rack *r = *state;
	uint8_t *img;
	size_t len;

	rack_up(r, "bootcount-drain", false);
	r->relay = open_in(r, "relay0.tty");
	r->con = open_in(r, "gw0.console");
	power(r, 1, true);
	expect(r, "gw: boot committed");
	img = slurp_img(r, "gw-2.1.0.img", &len);
	send_update(r, img, len);
	expect(r, "fwupdate: ok slot=B version=2.1.0");
	say(r, "reboot");
	expect(r, "gw: boot ok slot=B version=2.1.0");
	expect(r, "gw: boot committed");
	for (int i = 0; i < 3; i++) {
		power(r, 1, false);
		power(r, 1, true);
		cut_after(r, 1, "gw: boot ok slot=B version=2.1.0\r\n", 180);
	}
	power(r, 1, true);
	expect(r, "gw-boot: bootcount 4 exceeds bootlimit 3, falling back from "
	       "slot B to slot A");
	expect(r, "gw: boot ok slot=A version=1.0.0");
	power(r, 1, false);
	free(img);
	rack_down(r);
}

static void gw_rack_no_recovery_programmer_never_answers(void **state)
{
	struct rack *r = *state;
	char *ans, *out = NULL, *err = NULL, *lab, *lab_path, *fac_path;
	int fac, rc;

	rack_up(r, "good", true);
	fac = open_in(r, "gw0.factory");
	ans = factory_cmd(fac, "status\n", 1000);
	assert_null(ans);
	lab_path = pl_test_path(r->dir, "lab.yaml");
	lab = pl_test_slurp(lab_path);
	free(lab_path);
	assert_non_null(lab);
	assert_non_null(strstr(lab, "type: virtual-gateway"));
	assert_non_null(strstr(lab, "FACTORY: "));
	assert_null(strstr(lab, "probe:"));
	/* the recovery command's view of it: no answer, exit 2 */
	fac_path = pl_test_path(r->dir, "images/gw-factory.bin");
	rc = vt_patchlab(&out, &err, "factory", "--dir", r->dir, "--board", "gw0",
			 "--image", fac_path, "--timeout", "1", NULL);
	if (rc == PL_EXIT_USAGE && err && strstr(err, "which one?")) {
		pl_test_print_skip("`vrack factory` is not in commands.c yet");
	} else {
		assert_int_equal(rc, PL_EXIT_LAB_ERROR);
		assert_non_null(strstr(err, "no answer from the factory programmer"));
	}
	free(out);
	free(err);
	close(fac);
	free(fac_path);
	free(lab);
	rack_down(r);
}

static void gw_rack_factory_cli_flashes_a_powered_off_board(void **state)
{
	struct rack *r = *state;
	char *out = NULL, *err = NULL, *fac_path;
	int rc;

	rack_up(r, "good", false);
	fac_path = pl_test_path(r->dir, "images/gw-factory.bin");
	rc = vt_patchlab(&out, &err, "factory", "--dir", r->dir, "--board", "gw0",
			 "--image", fac_path, NULL);
	if (rc == PL_EXIT_USAGE && err && strstr(err, "which one?")) {
		free(out);
		free(err);
		free(fac_path);
		rack_down(r);
		skip(); /* `vrack factory` is not in commands.c yet */
		return;
	}
	if (rc != 0)
		fail_msg("vrack factory: exit %d\n%s%s", rc, out, err);
	assert_non_null(strstr(out, "gw0: ok flashed"));
	free(out);
	free(err);
	out = err = NULL;
	r->relay = open_in(r, "relay0.tty");
	r->con = open_in(r, "gw0.console");
	power(r, 1, true);
	expect(r, "U-Boot 2024.01-gw"); /* it is on */
	rc = vt_patchlab(&out, &err, "factory", "--dir", r->dir, "--board", "gw0",
			 "--image", fac_path, NULL);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "powered and not in boot mode"));
	power(r, 1, false);
	free(out);
	free(err);
	free(fac_path);
	rack_down(r);
}

static void gw_rack_profiles_and_flags_are_checked(void **state)
{
	struct rack *r = *state;
	char *out = NULL, *err = NULL;
	int rc;

	rc = vt_patchlab(&out, &err, "profiles", "--family", "gateway", NULL);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "good "));
	assert_non_null(strstr(out, "env-in-place "));
	assert_non_null(strstr(out, "split-activation "));
	assert_non_null(strstr(out, "bootcount-drain "));
	assert_null(strstr(out, "trailer-first"));
	free(out);
	free(err);
	rc = vt_patchlab(&out, &err, "profiles", NULL);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "trailer-first"));
	free(out);
	free(err);
	rc = vt_patchlab(&out, &err, "profiles", "--family", "router", NULL);
	assert_int_equal(rc, PL_EXIT_USAGE);
	free(out);
	free(err);
	rc = vt_patchlab(&out, &err, "up", "--dir", r->dir, "--no-recovery", NULL);
	assert_int_equal(rc, PL_EXIT_USAGE);
	assert_non_null(strstr(err, "--no-recovery is for --family gateway"));
	free(out);
	free(err);
	rc = vt_patchlab(&out, &err, "up", "--dir", r->dir, "--family", "gateway",
			 "--profile", "trailer-first", NULL);
	assert_int_equal(rc, PL_EXIT_USAGE);
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			gw_rack_boots_updates_and_commits_over_console, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			gw_rack_cut_bricks_env_in_place_and_factory_recovers, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			gw_rack_cut_bricks_split_activation, setup, teardown),
		cmocka_unit_test_setup_teardown(
			gw_rack_drain_brings_the_old_image_back, setup, teardown),
		cmocka_unit_test_setup_teardown(
			gw_rack_no_recovery_programmer_never_answers, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			gw_rack_factory_cli_flashes_a_powered_off_board, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			gw_rack_profiles_and_flags_are_checked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
