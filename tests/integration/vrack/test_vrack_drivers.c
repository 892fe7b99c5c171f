/* SPDX-License-Identifier: MIT */
/*
 * /pl/vrack/drivers: the rack against the controller's own drivers, as
 * lab.yaml wires them: power `lcus` on the relay pty, console `tty` on the
 * board's pty, probe `gdb` on the board's GDB port. The cut the whole lab
 * exists for: a breakpoint on boot_decide halts the board, and the stop
 * callback cuts the power while it is still halted (an exact "before"
 * cut), then the board boots again normally. And flashing through qCRC:
 * only the erase blocks that differ from the image are erased and written
 * (the board's flash operation counter says how many), a verify is a CRC,
 * and the flash reads back as the image.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "patchlab/console.h"
#include "patchlab/error.h"
#include "patchlab/power.h"
#include "patchlab/probe.h"
#include "patchlab/strbuf.h"
#include "patchlab/vrack.h"

#define T_MS 60000u

struct fix {
	uv_loop_t loop;
	char *dir;
	struct pl_test_logcap cap;
	struct pl_vrack *rack;
	struct pl_fixture_ctx ctx;
	struct pl_power *power;
	struct pl_console *con;
	struct pl_probe *probe;
	struct pl_strbuf text;
	/* probe results */
	int pending;
	int status;
	uint8_t data[64];
	size_t len;
	uint8_t *big;      /* a copy of the whole reply when set */
	unsigned stops;
	uint64_t stop_pc;
	bool cut_in_stop;
	bool power_done;
};

static void on_text(struct pl_console *c, const uint8_t *buf, size_t len,
		    uint64_t t_ns, void *user_data)
{
	struct fix *f = user_data;

	for (size_t i = 0; i < len; i++)
		pl_strbuf_append(&f->text, buf[i] ? (const char *)&buf[i] : ".", 1);
}

static void on_power(struct pl_power *p, int status,
		     const struct pl_power_times *t, void *user_data)
{
	struct fix *f = user_data;

	f->power_done = true;
	f->status = status;
}

static void on_stop(struct pl_probe *p, uint64_t addr, unsigned hits,
		    void *user_data)
{
	struct fix *f = user_data;

	f->stops++;
	f->stop_pc = addr;
	/* the board is halted right now: cut it here, in the callback */
	f->cut_in_stop = pl_power_set(f->power, false, NULL, NULL) == 0;
}

static void on_probe(struct pl_probe *p, int status, const void *data,
		     size_t len, void *user_data)
{
	struct fix *f = user_data;

	f->pending--;
	f->status = status;
	f->len = len < sizeof(f->data) ? len : sizeof(f->data);
	if (data)
		memcpy(f->data, data, f->len);
	if (data && f->big)
		memcpy(f->big, data, len);
}

static bool probe_idle(void *ud)
{
	return ((struct fix *)ud)->pending == 0;
}

static int probe_data(struct fix *f, enum pl_probe_op op, uint64_t addr,
		      const void *data, size_t len)
{
	struct pl_probe_req r = {
		.op = op, .addr = addr, .data = data, .len = len,
		.cb = on_probe, .user_data = f,
	};
	int rc;

	f->pending++;
	rc = pl_probe_submit(f->probe, &r);
	if (rc < 0)
		return rc;
	rc = pl_test_loop_until(&f->loop, probe_idle, f, T_MS);
	return rc < 0 ? rc : f->status;
}

static int probe_do(struct fix *f, enum pl_probe_op op, uint64_t addr,
		    size_t len)
{
	return probe_data(f, op, addr, NULL, len);
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

struct text_wait {
	struct fix *f;
	size_t from;
	const char *needle;
};

static bool has_text(void *ud)
{
	struct text_wait *w = ud;

	return w->f->text.len > w->from &&
	       strstr(w->f->text.s + w->from, w->needle) != NULL;
}

static int wait_text(struct fix *f, size_t from, const char *needle)
{
	struct text_wait w = { f, from, needle };

	return pl_test_loop_until(&f->loop, has_text, &w, T_MS);
}

static bool stopped(void *ud)
{
	return ((struct fix *)ud)->stops > 0;
}

static bool power_done(void *ud)
{
	return ((struct fix *)ud)->power_done;
}

static bool board_off(void *ud)
{
	struct fix *f = ud;
	struct pl_vrack_board_info info;

	pl_vrack_board(f->rack, 2, &info);
	return !info.powered;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct pl_vrack_config cfg = { 0 };
	struct pl_vrack_board_info info;
	char chan[8], port[32];
	struct pl_opt popt[2], copt[2], gopt[1];
	struct pl_console_cbs cbs = { .data = on_text };
	int rc;

	*state = f;
	uv_loop_init(&f->loop);
	pl_test_logcap_init(&f->cap, "vrack");
	f->dir = pl_test_tmpdir("vrack-drivers");
	cfg.dir = f->dir;
	cfg.boards = 3;
	cfg.speed = 10;
	cfg.log = &f->cap.log;
	rc = pl_vrack_open(&f->rack, &f->loop, &cfg);
	if (rc < 0)
		return rc;
	pl_vrack_board(f->rack, 2, &info);
	f->ctx.loop = &f->loop;
	f->ctx.log = f->cap.log;
	f->ctx.board_id = info.id;

	snprintf(chan, sizeof(chan), "%u", info.relay_channel);
	popt[0] = (struct pl_opt){ .key = "port", .value = info.relay };
	popt[1] = (struct pl_opt){ .key = "channel", .value = chan };
	rc = pl_power_open(&f->power, &f->ctx, "lcus",
			   &(struct pl_opts){ popt, 2 });
	if (rc < 0)
		return rc;
	copt[0] = (struct pl_opt){ .key = "path", .value = info.console };
	copt[1] = (struct pl_opt){ .key = "baud", .value = "115200" };
	cbs.user_data = f;
	rc = pl_console_open(&f->con, &f->ctx, "tty",
			     &(struct pl_opts){ copt, 2 }, &cbs);
	if (rc < 0)
		return rc;
	snprintf(port, sizeof(port), "127.0.0.1:%u", info.gdb_port);
	gopt[0] = (struct pl_opt){ .key = "address", .value = port };
	rc = pl_probe_open(&f->probe, &f->ctx, "gdb",
			   &(struct pl_opts){ gopt, 1 });
	if (rc < 0)
		return rc;
	pl_probe_set_stop_cb(f->probe, on_stop, f);
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	pl_probe_close(f->probe);
	pl_console_close(f->con);
	pl_power_close(f->power);
	pl_vrack_close(f->rack);
	pl_test_loop_drain(&f->loop);
	pl_strbuf_free(&f->text);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void breakpoint_stop_cuts_power_before_boot_decide(void **state)
{
	struct fix *f = *state;
	uint32_t ops;
	size_t from;

	/* attach (halts nothing: the board is off), arm, let it run */
	assert_int_equal(probe_do(f, PL_PROBE_CONNECT, 0, 0), 0);
	assert_int_equal(probe_do(f, PL_PROBE_READ, 0x40000000, 4), 0);
	ops = le32(f->data);
	assert_int_equal(probe_do(f, PL_PROBE_BP_SET, 0x08f00200, 0), 0);
	assert_int_equal(probe_do(f, PL_PROBE_RESUME, 0, 0), 0);

	/* power on through the relay: the bootloader prints its banner and
	 * halts before deciding; the stop callback cuts the power */
	assert_int_equal(pl_power_set(f->power, true, on_power, f), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, power_done, f, T_MS), 0);
	assert_int_equal(f->status, 0);
	assert_int_equal(pl_test_loop_until(&f->loop, stopped, f, T_MS), 0);
	assert_int_equal(f->stop_pc, 0x08f00200);
	assert_true(f->cut_in_stop);
	assert_int_equal(wait_text(f, 0, "vboot 1.0 profile=good"), 0);
	/* the LCUS frame goes through the relay pty */
	assert_int_equal(pl_test_loop_until(&f->loop, board_off, f, T_MS), 0);
	/* the cut came before the slot lines: boot_decide never ran */
	assert_null(strstr(f->text.s, "vboot: slot A"));

	/* no flash operation happened during the cut boot */
	assert_int_equal(probe_do(f, PL_PROBE_READ, 0x40000000, 4), 0);
	assert_int_equal(le32(f->data), ops);

	/* clear the breakpoint, power on again: the board boots */
	assert_int_equal(probe_do(f, PL_PROBE_BP_CLEAR, 0x08f00200, 0), 0);
	from = f->text.len;
	f->power_done = false;
	assert_int_equal(pl_power_set(f->power, true, on_power, f), 0);
	assert_int_equal(wait_text(f, from, "app: version 1.0.0 slot A running"), 0);
	assert_int_equal(f->stops, 1);
	f->power_done = false;
	assert_int_equal(pl_power_set(f->power, false, on_power, f), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, power_done, f, T_MS), 0);
}

#define FLASH 0x08000000u
#define FLASH_SIZE 0x100000u
#define BLOCK 0x1000u
/* flash ops for two changed blocks stay well under one per block */
#define FEW (FLASH_SIZE / BLOCK / 4)

static uint32_t op_count(struct fix *f)
{
	assert_int_equal(probe_do(f, PL_PROBE_READ, 0x40000000, 4), 0);
	return le32(f->data);
}

static void flash_skips_unchanged_blocks(void **state)
{
	struct fix *f = *state;
	uint8_t *img = malloc(FLASH_SIZE), *back = malloc(FLASH_SIZE);
	uint8_t *orig = malloc(FLASH_SIZE);
	uint32_t ops;

	assert_non_null(img);
	assert_non_null(back);
	assert_non_null(orig);
	assert_int_equal(probe_do(f, PL_PROBE_CONNECT, 0, 0), 0);
	f->big = orig;
	assert_int_equal(probe_do(f, PL_PROBE_READ, FLASH, FLASH_SIZE), 0);
	f->big = NULL;
	memcpy(img, orig, FLASH_SIZE);

	/* the flash already holds the image: nothing erased or written */
	ops = op_count(f);
	assert_int_equal(probe_data(f, PL_PROBE_FLASH, FLASH, img, FLASH_SIZE), 0);
	assert_int_equal(op_count(f), ops);
	assert_int_equal(probe_data(f, PL_PROBE_VERIFY, FLASH, img, FLASH_SIZE), 0);

	/* two blocks differ (one byte each, far apart): their erases and
	 * page programs only -- flashing it all would take at least one
	 * erase per block, FLASH_SIZE / BLOCK -- and the whole flash reads
	 * back as the image */
	img[3 * BLOCK + 17] ^= 0x5a;
	img[200 * BLOCK + BLOCK - 1] ^= 0x01;
	assert_int_equal(probe_data(f, PL_PROBE_VERIFY, FLASH, img, FLASH_SIZE),
			 -PL_EDIFFERS);
	assert_int_equal(probe_data(f, PL_PROBE_FLASH, FLASH, img, FLASH_SIZE), 0);
	assert_true(op_count(f) > ops + 2 && op_count(f) < ops + FEW);
	f->big = back;
	assert_int_equal(probe_do(f, PL_PROBE_READ, FLASH, FLASH_SIZE), 0);
	f->big = NULL;
	assert_memory_equal(back, img, FLASH_SIZE);
	assert_int_equal(probe_data(f, PL_PROBE_VERIFY, FLASH, img, FLASH_SIZE), 0);
	assert_int_equal(probe_data(f, PL_PROBE_VERIFY, FLASH, orig, FLASH_SIZE),
			 -PL_EDIFFERS);

	/* two neighbouring blocks */
	memcpy(img + 10 * BLOCK, "PATCHLAB", 8);
	memcpy(img + 11 * BLOCK, "PATCHLAB", 8);
	ops = op_count(f);
	assert_int_equal(probe_data(f, PL_PROBE_FLASH, FLASH, img, FLASH_SIZE), 0);
	assert_true(op_count(f) > ops + 2 && op_count(f) < ops + FEW);

	/* back to where it was: the four changed blocks only */
	ops = op_count(f);
	assert_int_equal(probe_data(f, PL_PROBE_FLASH, FLASH, orig, FLASH_SIZE), 0);
	assert_true(op_count(f) > ops + 4 && op_count(f) < ops + 2 * FEW);
	f->big = back;
	assert_int_equal(probe_do(f, PL_PROBE_READ, FLASH, FLASH_SIZE), 0);
	f->big = NULL;
	assert_memory_equal(back, orig, FLASH_SIZE);

	/* a range that is not whole blocks is flashed the plain way */
	memcpy(img, orig, FLASH_SIZE);
	img[BLOCK + 1] ^= 0xff;
	ops = op_count(f);
	assert_int_equal(probe_data(f, PL_PROBE_FLASH, FLASH + BLOCK,
				    img + BLOCK, 2 * BLOCK), 0);
	assert_int_equal(probe_data(f, PL_PROBE_VERIFY, FLASH + BLOCK,
				    img + BLOCK, 2 * BLOCK), 0);
	assert_int_equal(probe_data(f, PL_PROBE_FLASH, FLASH + BLOCK,
				    orig + BLOCK, BLOCK + 16), 0);
	assert_true(op_count(f) > ops + 4);
	assert_int_equal(probe_data(f, PL_PROBE_VERIFY, FLASH + BLOCK,
				    orig + BLOCK, BLOCK + 16), 0);
	free(img);
	free(back);
	free(orig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			breakpoint_stop_cuts_power_before_boot_decide, setup,
			teardown),
		cmocka_unit_test_setup_teardown(flash_skips_unchanged_blocks,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("/pl/vrack/drivers", tests, NULL, NULL);
}
