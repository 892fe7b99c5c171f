/* SPDX-License-Identifier: MIT */
/*
 * /pl/virtual/boot: the bootloader decision table of every firmware
 * profile, the shell, and the update path, run through vsim.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "patchlab/error.h"
#include "vtest.h"

#define SMALL 20000 /* payload bytes of the images below */

/* ---------------------------------------------------------------- helpers */

static bool said(struct pl_vsim *sim, const char *text)
{
	if (!strstr(pl_vsim_console(sim), text)) {
		print_error("console lacks \"%s\":\n%s\n", text,
			    pl_vsim_console(sim));
		return false;
	}
	return true;
}

static void boot(struct pl_vsim *sim, struct pl_vsim_boot *b)
{
	pl_vsim_console_clear(sim);
	assert_int_equal(pl_vsim_power_on(sim, b), 0);
}

/* Board with 1.0.0 confirmed in A and `version` installed by the app. */
static struct pl_vsim *installed(struct vt *t, const char *profile,
				 const char *version, int crash)
{
	struct pl_vsim *sim = vt_board_a(t, profile, 1);
	size_t len;
	uint8_t *img = vt_image(t, version, SMALL, crash, &len);

	assert_int_equal(pl_vsim_install(sim, img, len), 0);
	free(img);
	return sim;
}

static void plant(struct vt *t, struct pl_vsim *sim, int slot,
		  const char *version, const char *state, int how)
{
	size_t len;
	uint8_t *img = vt_image(t, version, SMALL, 0, &len);

	if (how == 1)
		pl_vimage_corrupt(img, len, 3, 5);
	if (how == 2)
		assert_int_equal(pl_vimage_resign(t->other, img, len, false), 0);
	if (how == 3) {
		free(img);
		img = vt_image_for(t, version, "other-mcu", SMALL, 0, &len);
	}
	assert_int_equal(pl_vfw_plant(pl_vsim_fw(sim), slot, img, len, state), 0);
	free(img);
}

static void view(struct pl_vsim *sim, int slot, struct pl_vfw_slot_view *v)
{
	assert_int_equal(pl_vfw_slot_view(pl_vsim_fw(sim), slot, v), 0);
}

/* ------------------------------------------------------------ the table */

static void profiles_table_lists_eight_profiles_by_index_and_name(void **state)
{
	static const char *const names[] = {
		"good", "single-slot", "trailer-first", "no-verify",
		"no-rollback", "torn-trailer", "single-metadata", "counter-drain",
	};

	(void)state;
	assert_int_equal(pl_vfw_profile_count(), 8);
	for (size_t i = 0; i < 8; i++) {
		const struct pl_vfw_profile *p = pl_vfw_profile_at(i);

		assert_string_equal(p->name, names[i]);
		assert_ptr_equal(pl_vfw_profile_find(names[i]), p);
		assert_true(strlen(p->defect) > 3);
		assert_true(i == 0 ? p->defects == 0 : p->defects != 0);
	}
	assert_null(pl_vfw_profile_at(8));
	assert_null(pl_vfw_profile_find("great"));
}

static void call_ops_run_before_ops_queued_after_them(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vfw *fw = pl_vsim_fw(sim);
	struct pl_vfw_plan *plan;
	struct pl_vfw_op op;

	assert_int_equal(pl_vfw_plan_new(&plan), 0);
	pl_vfw_power_off(fw);
	assert_int_equal(pl_vfw_power_on(fw, plan), 0);
	assert_int_equal(pl_vfw_plan_tx(plan, "\x06", 1), 0);
	assert_int_equal(pl_vfw_plan_pop(plan, &op), 0);
	assert_int_equal(op.kind, PL_VFW_OP_PRINT);
	assert_memory_equal(op.data, "vboot 1.0 profile=good\r\n", op.len);
	assert_int_equal(pl_vfw_op_duration_us(&op, pl_vsim_flash(sim)),
			 87u * op.len);
	pl_vfw_op_release(&op);
	assert_int_equal(pl_vfw_plan_pop(plan, &op), 0);
	assert_int_equal(op.kind, PL_VFW_OP_CALL);
	assert_int_equal(op.pc, PL_VFW_PC_BOOT_DECIDE);
	assert_string_equal(op.name, "boot_decide");
	assert_int_equal(pl_vfw_call(fw, &op, plan), 0);
	pl_vfw_op_release(&op);
	assert_int_equal(pl_vfw_plan_peek(plan)->kind, PL_VFW_OP_PRINT);
	/* the TX queued before the CALL ran is still last */
	while (pl_vfw_plan_len(plan) > 1) {
		assert_int_equal(pl_vfw_plan_pop(plan, &op), 0);
		assert_int_not_equal(op.kind, PL_VFW_OP_TX);
		pl_vfw_op_release(&op);
	}
	assert_int_equal(pl_vfw_plan_peek(plan)->kind, PL_VFW_OP_TX);
	pl_vfw_plan_free(plan);
	pl_vsim_close(sim);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void default_layout_matches_the_design_table(void **state)
{
	struct pl_vflash_geom g = { 1024 * 1024, 4096, 256 };
	struct pl_vfw_layout l;

	(void)state;
	assert_int_equal(pl_vfw_layout(&g, &l), 0);
	assert_int_equal(l.boot_size, 0x4000);
	assert_int_equal(l.meta_off[0], 0x4000);
	assert_int_equal(l.meta_off[1], 0x5000);
	assert_int_equal(l.config_off, 0x6000);
	assert_int_equal(l.config_size, 0x2000);
	assert_int_equal(l.slot_off[0], 0x8000);
	assert_int_equal(l.slot_off[1], 0x84000);
	assert_int_equal(l.slot_size, 496 * 1024);
	g.size = 32 * 1024;
	assert_int_equal(pl_vfw_layout(&g, &l), -EINVAL);
}

/* WRITTEN TO FLASH: the trailer record of vfw_boot.c, byte for byte. */
static void trailer_record_bytes_match_the_documented_layout(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	const uint8_t *m = pl_vflash_data(pl_vsim_flash(sim)) + 0x4000;
	const uint8_t *cfg = pl_vflash_data(pl_vsim_flash(sim)) + 0x6000;

	assert_memory_equal(m, "PLVTRLR1", 8);
	assert_int_equal(le32(m + 8), 1);      /* seq */
	assert_int_equal(m[12], 0);            /* slot A */
	assert_int_equal(m[13], 'C');          /* confirmed */
	assert_int_equal(m[14], 0);            /* attempts */
	for (int i = 15; i < 28; i++)
		assert_int_equal(m[i], 0);
	assert_int_not_equal(le32(m + 28), 0xffffffffu); /* crc32 */
	for (int i = 32; i < 4096; i++)        /* nothing else written */
		assert_int_equal(m[i], 0xff);
	assert_memory_equal(cfg, "PLCF", 4);   /* config block */
	pl_vsim_close(sim);
}

/* ------------------------------------------------------------------ good */

static void good_fresh_board_boots_confirmed_slot_a(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vsim_boot b;

	boot(sim, &b);
	assert_true(said(sim, "vboot 1.0 profile=good\r\n"));
	assert_true(said(sim, "vboot: slot A: version 1.0.0 state=confirmed\r\n"));
	assert_true(said(sim, "vboot: slot B: empty\r\n"));
	assert_true(said(sim, "vboot: booting slot A (confirmed)\r\n"));
	assert_true(said(sim, "app: version 1.0.0 slot A running\r\n> "));
	assert_true(b.booted);
	assert_int_equal(b.slot, 0);
	assert_string_equal(b.version, "1.0.0");
	assert_string_equal(b.state, "confirmed");
	pl_vsim_close(sim);
}

static void good_update_goes_to_the_other_slot_and_boots_pending(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = installed(t, "good", "1.1.0", 0);
	struct pl_vsim_boot b;

	assert_true(said(sim, "update: receiving into slot B\r\n"));
	assert_true(said(sim, "erase sector 1/5\r\n"));
	assert_true(said(sim, "erase sector 5/5\r\n"));
	assert_true(said(sim, "write 50%\r\n"));
	assert_true(said(sim, "write 100%\r\n"));
	assert_true(said(sim, "update: ok slot B pending\r\n> "));
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot A: version 1.0.0 state=confirmed\r\n"));
	assert_true(said(sim, "vboot: slot B: version 1.1.0 state=pending attempts=1/3\r\n"));
	assert_true(said(sim, "vboot: booting slot B (pending, attempt 1 of 3)\r\n"));
	assert_true(said(sim, "app: version 1.1.0 slot B running\r\n"));
	assert_int_equal(b.slot, 1);
	assert_string_equal(b.state, "pending");
	pl_vsim_console_clear(sim);
	assert_int_equal(pl_vsim_command(sim, "version"), 0);
	assert_true(said(sim, "version 1.1.0 slot B state=pending\r\n> "));
	pl_vsim_close(sim);
}

static void good_unconfirmed_pending_slot_reverts_after_three_attempts(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = installed(t, "good", "1.1.0", 0);
	struct pl_vfw_slot_view v;
	struct pl_vsim_boot b;

	for (int i = 1; i <= 3; i++) {
		char line[64];

		boot(sim, &b);
		snprintf(line, sizeof(line), "(pending, attempt %d of 3)", i);
		assert_true(said(sim, line));
		assert_int_equal(b.slot, 1);
	}
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot B: pending attempts exhausted, reverting\r\n"));
	assert_true(said(sim, "vboot: booting slot A (confirmed)"));
	assert_int_equal(b.slot, 0);
	view(sim, 1, &v);
	assert_string_equal(v.state, "bad");
	boot(sim, &b);
	assert_int_equal(b.slot, 0);
	pl_vsim_close(sim);
}

static void good_confirmed_slot_boots_after_reboot(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = installed(t, "good", "1.1.0", 0);
	struct pl_vsim_boot b;

	boot(sim, &b);
	pl_vsim_console_clear(sim);
	assert_int_equal(pl_vsim_command(sim, "confirm"), 0);
	assert_true(said(sim, "confirmed slot B\r\n> "));
	assert_int_equal(pl_vsim_command(sim, "reboot"), 0);
	assert_true(said(sim, "rebooting\r\n"));
	assert_true(said(sim, "vboot: slot B: version 1.1.0 state=confirmed\r\n"));
	assert_true(said(sim, "vboot: booting slot B (confirmed)"));
	for (int i = 0; i < 5; i++) {
		boot(sim, &b);
		assert_int_equal(b.slot, 1);
		assert_string_equal(b.state, "confirmed");
	}
	pl_vsim_close(sim);
}

static void good_pending_slot_with_bad_hash_falls_back_to_confirmed(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vsim_boot b;

	plant(t, sim, 1, "1.1.0", "pending", 1);
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot B: refused: bad hash\r\n"));
	assert_true(said(sim, "vboot: booting slot A (confirmed)"));
	assert_int_equal(b.slot, 0);
	assert_true(b.image_valid);
	pl_vsim_close(sim);
}

static void good_pending_slot_with_bad_signature_falls_back_to_confirmed(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vsim_boot b;

	plant(t, sim, 1, "1.1.0", "pending", 2);
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot B: refused: bad signature\r\n"));
	assert_int_equal(b.slot, 0);
	pl_vsim_close(sim);
}

static void good_pending_slot_for_another_board_falls_back_to_confirmed(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vsim_boot b;

	plant(t, sim, 1, "1.1.0", "pending", 3);
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot B: refused: wrong board\r\n"));
	assert_int_equal(b.slot, 0);
	pl_vsim_close(sim);
}

static void good_pending_downgrade_is_refused_and_confirmed_boots(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vsim_boot b;

	plant(t, sim, 1, "0.9.0", "pending", 0);
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot B: refused: downgrade\r\n"));
	assert_int_equal(b.slot, 0);
	pl_vsim_close(sim);
}

static void good_pending_slot_left_empty_falls_back_to_confirmed(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vsim_boot b;

	assert_int_equal(pl_vfw_plant(pl_vsim_fw(sim), 1, NULL, 0, "pending"), 0);
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot B: refused: empty\r\n"));
	assert_int_equal(b.slot, 0);
	pl_vsim_close(sim);
}

static void good_app_refuses_downgrade_and_foreign_images(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vfw_slot_view v;
	size_t len;
	uint8_t *img = vt_image(t, "0.9.0", SMALL, 0, &len);

	assert_int_equal(pl_vsim_install(sim, img, len), -PL_EREFUSED);
	assert_true(said(sim, "update: failed: downgrade\r\n> "));
	free(img);
	img = vt_image(t, "1.1.0", SMALL, 0, &len);
	pl_vimage_corrupt(img, len, 1, 3);
	assert_int_equal(pl_vsim_install(sim, img, len), -PL_EREFUSED);
	assert_true(said(sim, "update: failed: bad hash\r\n"));
	view(sim, 1, &v);
	assert_string_equal(v.state, "none"); /* no trailer for a bad image */
	free(img);
	pl_vsim_close(sim);
}

static void good_both_slots_unusable_says_boot_failed_with_reasons(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board(t, "good", 1, NULL);
	struct pl_vsim_boot b;

	plant(t, sim, 0, "1.0.0", "confirmed", 1);
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot A: refused: bad hash\r\n"));
	assert_true(said(sim, "BOOT FAILED: no bootable slot (A: bad hash, B: empty)\r\n"));
	assert_false(b.booted);
	assert_string_equal(b.reason, "BOOT FAILED: no bootable slot (A: bad hash, B: empty)");
	pl_vsim_close(sim);
}

static void good_refuses_update_while_running_pending(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = installed(t, "good", "1.1.0", 0);
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, "1.2.0", SMALL, 0, &len);

	boot(sim, &b);
	assert_int_equal(pl_vsim_install(sim, img, len), -PL_EREFUSED);
	assert_true(said(sim, "update: failed: slot B is pending, confirm first"));
	assert_int_equal(pl_vsim_command(sim, "confirm"), 0);
	assert_int_equal(pl_vsim_install(sim, img, len), 0);
	assert_true(said(sim, "update: receiving into slot A"));
	boot(sim, &b);
	assert_int_equal(b.slot, 0);
	assert_string_equal(b.version, "1.2.0");
	free(img);
	pl_vsim_close(sim);
}

static void good_crashing_update_rolls_back_to_confirmed(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = installed(t, "good", "1.1.0", 1);
	struct pl_vsim_boot b;

	boot(sim, &b);
	assert_true(said(sim, "app: fatal: crashed"));
	assert_true(said(sim, "pending attempts exhausted, reverting"));
	assert_int_equal(b.resets, 3);
	assert_int_equal(b.slot, 0);
	assert_string_equal(b.version, "1.0.0");
	pl_vsim_close(sim);
}

static void good_shell_answers_help_status_and_unknown(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);

	assert_int_equal(pl_vsim_command(sim, "help"), 0);
	assert_true(said(sim, "commands: help, version, status, update xmodem, confirm, reboot\r\n> "));
	assert_int_equal(pl_vsim_command(sim, "status"), 0);
	assert_true(said(sim, "flash ops "));
	assert_true(said(sim, "slot A: version 1.0.0 image=ok state=confirmed attempts=0/3\r\n"));
	assert_true(said(sim, "slot B: empty\r\n"));
	assert_true(said(sim, "config crc=ok 0x"));
	assert_int_equal(pl_vsim_command(sim, "frobnicate"), 0);
	assert_true(said(sim, "unknown command: frobnicate\r\n> "));
	pl_vsim_close(sim);
}

static void good_torn_trailer_record_is_refused_not_trusted(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vsim_cut cut = { 0, PL_VSIM_DURING, 0.2 };
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", SMALL, 0, &len);
	uint32_t base = pl_vflash_op_count(pl_vsim_flash(sim)), n;

	assert_int_equal(pl_vsim_install(sim, img, len), 0);
	n = pl_vflash_op_count(pl_vsim_flash(sim)) - base;
	pl_vsim_close(sim);
	/* same update, cut in the middle of its last op: the pending record */
	sim = vt_board_a(t, "good", 1);
	cut.op = base + n;
	pl_vsim_arm(sim, &cut);
	assert_int_equal(pl_vsim_install(sim, img, len), -PL_ECANCELED);
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot B: refused: torn trailer\r\n"));
	assert_int_equal(b.slot, 0);
	free(img);
	pl_vsim_close(sim);
}

static void update_says_erase_sector_before_erasing_it(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "good", 1);
	struct pl_vfw *fw = pl_vsim_fw(sim);
	struct pl_vfw_plan *plan;
	struct pl_vfw_op op;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", SMALL, 0, &len);
	unsigned programs = 0;

	assert_int_equal(pl_vfw_plan_new(&plan), 0);
	assert_int_equal(pl_vfw_console_line(fw, "update xmodem", plan), 0);
	pl_vfw_plan_clear(plan);
	assert_int_equal(pl_vfw_update_begin(fw, plan), 0);
	assert_int_equal(pl_vfw_plan_len(plan), 1);
	assert_int_equal(pl_vfw_plan_peek(plan)->kind, PL_VFW_OP_ERASE);
	assert_int_equal(pl_vfw_plan_peek(plan)->addr, 0x5000); /* trailer B */
	pl_vfw_plan_clear(plan);
	assert_int_equal(pl_vfw_update_data(fw, 0, img, 1024, plan), 0);
	assert_int_equal(pl_vfw_plan_pop(plan, &op), 0);
	assert_int_equal(op.kind, PL_VFW_OP_PRINT);
	assert_memory_equal(op.data, "erase sector 1/5\r\n", op.len);
	pl_vfw_op_release(&op);
	assert_int_equal(pl_vfw_plan_pop(plan, &op), 0);
	assert_int_equal(op.kind, PL_VFW_OP_ERASE);
	assert_int_equal(op.addr, 0x84000);
	assert_int_equal(op.pc, PL_VFW_PC_FLASH_ERASE);
	assert_int_equal(pl_vfw_op_duration_us(&op, pl_vsim_flash(sim)), 45000);
	pl_vfw_op_release(&op);
	while (pl_vfw_plan_pop(plan, &op) == 0) {
		if (op.kind == PL_VFW_OP_PROGRAM) {
			assert_int_equal(op.addr, 0x84000 + 256 * programs);
			assert_int_equal(op.len, 256);
			assert_int_equal(op.pc, PL_VFW_PC_FLASH_PROGRAM);
			programs++;
		}
		pl_vfw_op_release(&op);
	}
	assert_int_equal(programs, 4);
	/* out of order data is refused */
	assert_int_equal(pl_vfw_update_data(fw, 4096, img, 16, plan), -EPROTO);
	pl_vfw_plan_free(plan);
	free(img);
	pl_vsim_close(sim);
}

/* ----------------------------------------------------------- single-slot */

static void single_slot_update_overwrites_the_running_slot(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = installed(t, "single-slot", "1.1.0", 0);
	struct pl_vfw_slot_view v;
	struct pl_vsim_boot b;

	assert_true(said(sim, "update: receiving into slot A\r\n"));
	view(sim, 1, &v);
	assert_int_equal(v.image, PL_VIMAGE_EMPTY);
	boot(sim, &b);
	assert_int_equal(b.slot, 0);
	assert_string_equal(b.version, "1.1.0");
	pl_vsim_close(sim);
}

static void single_slot_interrupted_update_leaves_nothing_to_boot(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "single-slot", 1);
	struct pl_vsim_cut cut = { 0, PL_VSIM_AFTER, 0 };
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", SMALL, 0, &len);

	cut.op = pl_vflash_next_index(pl_vsim_flash(sim)) + 10;
	pl_vsim_arm(sim, &cut);
	assert_int_equal(pl_vsim_install(sim, img, len), -PL_ECANCELED);
	boot(sim, &b);
	assert_false(b.booted);
	assert_true(said(sim, "BOOT FAILED: no bootable slot (A: bad hash, B: empty)"));
	free(img);
	pl_vsim_close(sim);
}

/* --------------------------------------------------------- trailer-first */

static void trailer_first_marks_slot_pending_before_any_data(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "trailer-first", 1);
	struct pl_vsim_cut cut = { 0, PL_VSIM_BEFORE, 0 };
	struct pl_vfw_slot_view v;
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", SMALL, 0, &len);

	/* ops: erase metadata B, program the pending record, erase sector 1 */
	cut.op = pl_vflash_next_index(pl_vsim_flash(sim)) + 2;
	pl_vsim_arm(sim, &cut);
	assert_int_equal(pl_vsim_install(sim, img, len), -PL_ECANCELED);
	view(sim, 1, &v);
	assert_string_equal(v.state, "pending");
	assert_int_equal(v.image, PL_VIMAGE_EMPTY);
	boot(sim, &b);
	assert_true(said(sim, "vboot: slot B: refused: empty"));
	assert_int_equal(b.slot, 0);
	free(img);
	pl_vsim_close(sim);
}

static void trailer_first_boots_a_half_written_pending_slot(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "trailer-first", 1);
	struct pl_vsim_cut cut = { 0, PL_VSIM_AFTER, 0 };
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", SMALL, 0, &len);

	cut.op = pl_vflash_next_index(pl_vsim_flash(sim)) + 10;
	pl_vsim_arm(sim, &cut);
	assert_int_equal(pl_vsim_install(sim, img, len), -PL_ECANCELED);
	boot(sim, &b);
	assert_true(b.booted);
	assert_int_equal(b.slot, 1);
	assert_false(b.image_valid); /* a corrupt image is running */
	free(img);
	pl_vsim_close(sim);
}

/* ------------------------------------------------------------- no-verify */

static void no_verify_boots_pending_slot_with_bad_hash(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "no-verify", 1);
	struct pl_vsim_boot b;

	plant(t, sim, 1, "1.1.0", "pending", 1);
	boot(sim, &b);
	assert_true(said(sim, "vboot: booting slot B (pending, attempt 1 of 3)"));
	assert_int_equal(b.slot, 1);
	assert_false(b.image_valid);
	pl_vsim_close(sim);
}

static void no_verify_boots_a_half_written_slot_by_its_header(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "no-verify", 1);
	struct pl_vsim_cut cut = { 0, PL_VSIM_BEFORE, 0 };
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", SMALL, 0, &len);

	cut.op = pl_vflash_next_index(pl_vsim_flash(sim)) + 10;
	pl_vsim_arm(sim, &cut);
	assert_int_equal(pl_vsim_install(sim, img, len), -PL_ECANCELED);
	boot(sim, &b);
	assert_true(said(sim, "vboot: booting slot B (no trailer)"));
	assert_int_equal(b.slot, 1);
	assert_false(b.image_valid);
	free(img);
	pl_vsim_close(sim);
}

/* ----------------------------------------------------------- no-rollback */

static void no_rollback_keeps_booting_an_exhausted_pending_slot(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = installed(t, "no-rollback", "1.1.0", 0);
	struct pl_vsim_boot b;

	for (int i = 0; i < 4; i++)
		boot(sim, &b);
	assert_true(said(sim, "vboot: booting slot B (pending, attempt 4 of 3)"));
	assert_int_equal(b.slot, 1);
	pl_vsim_close(sim);
}

static void no_rollback_crashing_update_is_a_reset_loop(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = installed(t, "no-rollback", "1.1.0", 1);
	struct pl_vsim_boot b;

	boot(sim, &b);
	assert_false(b.booted);
	assert_string_equal(b.reason, "reset loop");
	pl_vsim_close(sim);
}

static void no_rollback_pending_slot_with_bad_hash_is_boot_failure(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "no-rollback", 1);
	struct pl_vsim_boot b;

	plant(t, sim, 1, "1.1.0", "pending", 1);
	boot(sim, &b);
	assert_true(said(sim, "BOOT FAILED: pending slot B refused (bad hash)"));
	assert_false(b.booted);
	pl_vsim_close(sim);
}

/* ---------------------------------------------------------- torn-trailer */

static void torn_trailer_takes_half_written_pending_record_as_confirmed(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "torn-trailer", 1);
	struct pl_vsim_cut cut = { 0, PL_VSIM_DURING, 0.2 };
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", SMALL, 0, &len);
	uint32_t base = pl_vflash_op_count(pl_vsim_flash(sim)), n;

	assert_int_equal(pl_vsim_install(sim, img, len), 0);
	n = pl_vflash_op_count(pl_vsim_flash(sim)) - base;
	pl_vsim_close(sim);
	sim = vt_board_a(t, "torn-trailer", 1);
	cut.op = base + n;
	pl_vsim_arm(sim, &cut);
	assert_int_equal(pl_vsim_install(sim, img, len), -PL_ECANCELED);
	boot(sim, &b);
	/* never tried, never confirmed, yet booted as the confirmed image */
	assert_true(said(sim, "vboot: booting slot B (confirmed)"));
	assert_int_equal(b.slot, 1);
	/* the fields after the tear read as erased: sequence 0xffffffff,
	 * state byte 0xff, which this build decodes as confirmed */
	{
		struct pl_vfw_slot_view v;

		view(sim, 1, &v);
		assert_int_equal(v.seq, 0xffffffffu);
		assert_int_equal(v.attempts, 0xff);
	}
	free(img);
	pl_vsim_close(sim);
}

/* ------------------------------------------------------- single-metadata */

static void single_metadata_keeps_both_states_in_metadata_a(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = installed(t, "single-metadata", "1.1.0", 0);
	const uint8_t *m = pl_vflash_data(pl_vsim_flash(sim));
	struct pl_vfw_slot_view v;

	for (uint32_t i = 0x5000; i < 0x6000; i++)
		assert_int_equal(m[i], 0xff);
	view(sim, 0, &v);
	assert_string_equal(v.state, "confirmed");
	view(sim, 1, &v);
	assert_string_equal(v.state, "pending");
	pl_vsim_close(sim);
}

static void single_metadata_cut_between_erase_and_rewrite_loses_both_slots(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "single-metadata", 1);
	struct pl_vsim_cut cut = { 0, PL_VSIM_AFTER, 0 };
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", SMALL, 0, &len);
	uint32_t base = pl_vflash_op_count(pl_vsim_flash(sim)), n;

	assert_int_equal(pl_vsim_install(sim, img, len), 0);
	n = pl_vflash_op_count(pl_vsim_flash(sim)) - base;
	pl_vsim_close(sim);
	sim = vt_board_a(t, "single-metadata", 1);
	cut.op = base + n - 1; /* the erase before the final table write */
	pl_vsim_arm(sim, &cut);
	assert_int_equal(pl_vsim_install(sim, img, len), -PL_ECANCELED);
	boot(sim, &b);
	assert_false(b.booted);
	assert_true(said(sim, "BOOT FAILED: no bootable slot (A: no trailer, B: no trailer)"));
	free(img);
	pl_vsim_close(sim);
}

/* --------------------------------------------------------- counter-drain */

/* Power on, cut right after the first flash op of the boot. */
static void cut_boot(struct pl_vsim *sim)
{
	struct pl_vsim_cut cut = { 0, PL_VSIM_AFTER, 0 };

	cut.op = pl_vflash_next_index(pl_vsim_flash(sim));
	pl_vsim_arm(sim, &cut);
	(void)pl_vsim_power_on(sim, NULL);
	pl_vsim_disarm(sim);
}

static void counter_drain_counts_attempts_on_confirmed_boots(void **state)
{
	struct vt *t = *state;
	struct pl_vsim *sim = vt_board_a(t, "counter-drain", 1);
	struct pl_vfw_slot_view v;
	struct pl_vsim_boot b;

	view(sim, 0, &v);
	assert_int_equal(v.attempts, 0); /* the app called itself healthy */
	cut_boot(sim);
	assert_true(pl_vsim_was_cut(sim));
	view(sim, 0, &v);
	assert_string_equal(v.state, "confirmed");
	assert_int_equal(v.attempts, 1);
	boot(sim, &b);
	view(sim, 0, &v);
	assert_int_equal(v.attempts, 0);
	pl_vsim_close(sim);
}

static void counter_drain_falls_back_after_three_interrupted_boots(void **state)
{
	struct vt *t = *state;
	const char *profiles[] = { "good", "counter-drain" };

	for (int p = 0; p < 2; p++) {
		struct pl_vsim *sim = installed(t, profiles[p], "1.1.0", 0);
		struct pl_vsim_boot b;

		boot(sim, &b);
		assert_int_equal(pl_vsim_command(sim, "confirm"), 0);
		for (int i = 0; i < 3; i++)
			cut_boot(sim);
		boot(sim, &b);
		if (p == 0) {
			assert_int_equal(b.slot, 1);
			assert_string_equal(b.version, "1.1.0");
		} else {
			assert_true(said(sim, "vboot: slot B: boot attempts exhausted, falling back"));
			assert_int_equal(b.slot, 0);
			assert_string_equal(b.version, "1.0.0");
		}
		pl_vsim_close(sim);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(profiles_table_lists_eight_profiles_by_index_and_name),
		cmocka_unit_test(call_ops_run_before_ops_queued_after_them),
		cmocka_unit_test(default_layout_matches_the_design_table),
		cmocka_unit_test(trailer_record_bytes_match_the_documented_layout),
		cmocka_unit_test(good_fresh_board_boots_confirmed_slot_a),
		cmocka_unit_test(good_update_goes_to_the_other_slot_and_boots_pending),
		cmocka_unit_test(good_unconfirmed_pending_slot_reverts_after_three_attempts),
		cmocka_unit_test(good_confirmed_slot_boots_after_reboot),
		cmocka_unit_test(good_pending_slot_with_bad_hash_falls_back_to_confirmed),
		cmocka_unit_test(good_pending_slot_with_bad_signature_falls_back_to_confirmed),
		cmocka_unit_test(good_pending_slot_for_another_board_falls_back_to_confirmed),
		cmocka_unit_test(good_pending_downgrade_is_refused_and_confirmed_boots),
		cmocka_unit_test(good_pending_slot_left_empty_falls_back_to_confirmed),
		cmocka_unit_test(good_app_refuses_downgrade_and_foreign_images),
		cmocka_unit_test(good_both_slots_unusable_says_boot_failed_with_reasons),
		cmocka_unit_test(good_refuses_update_while_running_pending),
		cmocka_unit_test(good_crashing_update_rolls_back_to_confirmed),
		cmocka_unit_test(good_shell_answers_help_status_and_unknown),
		cmocka_unit_test(good_torn_trailer_record_is_refused_not_trusted),
		cmocka_unit_test(update_says_erase_sector_before_erasing_it),
		cmocka_unit_test(single_slot_update_overwrites_the_running_slot),
		cmocka_unit_test(single_slot_interrupted_update_leaves_nothing_to_boot),
		cmocka_unit_test(trailer_first_marks_slot_pending_before_any_data),
		cmocka_unit_test(trailer_first_boots_a_half_written_pending_slot),
		cmocka_unit_test(no_verify_boots_pending_slot_with_bad_hash),
		cmocka_unit_test(no_verify_boots_a_half_written_slot_by_its_header),
		cmocka_unit_test(no_rollback_keeps_booting_an_exhausted_pending_slot),
		cmocka_unit_test(no_rollback_crashing_update_is_a_reset_loop),
		cmocka_unit_test(no_rollback_pending_slot_with_bad_hash_is_boot_failure),
		cmocka_unit_test(torn_trailer_takes_half_written_pending_record_as_confirmed),
		cmocka_unit_test(single_metadata_keeps_both_states_in_metadata_a),
		cmocka_unit_test(single_metadata_cut_between_erase_and_rewrite_loses_both_slots),
		cmocka_unit_test(counter_drain_counts_attempts_on_confirmed_boots),
		cmocka_unit_test(counter_drain_falls_back_after_three_interrupted_boots),
	};

	return cmocka_run_group_tests_name("/pl/virtual/boot", tests, vt_setup,
					   vt_teardown);
}
