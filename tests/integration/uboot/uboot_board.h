/* SPDX-License-Identifier: MIT */
/*
 * A QEMU + U-Boot board for the integration tests: the `qemu` power driver
 * plus a reader on its stable console (the pty slave, opened like a USB
 * serial adapter). Everything waits on the loop with a deadline.
 */
#ifndef UBOOT_BOARD_H
#define UBOOT_BOARD_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "patchlab/power.h"
#include "patchlab/xmodem.h"
#include "patchlab/strbuf.h"

#include "pl_test.h"

struct ub_board;

/* Fires once when `text` shows up on the console after it was armed. */
typedef void (*ub_match_cb)(struct ub_board *b, void *ud);

struct ub_board {
	uv_loop_t *loop;
	uv_loop_t own_loop;
	struct pl_console *con; /* a console driver a test opened, or NULL */
	struct pl_test_logcap cap;
	struct pl_power *power;
	char *dir;           /* test tmp dir */
	char *pflash;
	char *link;          /* console symlink */
	int con_fd;
	uv_poll_t con_poll;
	bool con_poll_open;
	struct pl_strbuf out; /* console output since the last mark */
	size_t mark;

	bool power_done;
	int power_status;

	/* an armed cut: when `cut_text` appears, wait cut_delay_ms, cut */
	const char *cut_text;
	unsigned cut_delay_ms;
	uv_timer_t cut_timer;
	bool cut_fired;

	/* an XMODEM transfer in progress (fed from the console reader) */
	struct pl_xmodem_sender *xm;
	uv_timer_t xm_timer;
	bool xm_done;
	int xm_status;
};

/*
 * The U-Boot build dir (scripts/build-uboot), or NULL with *why set to the
 * script's reason (the caller skips). Both malloc'ed.
 */
char *ub_uboot_dir(char **why);

/*
 * cmocka setup/teardown: *state becomes a zeroed struct ub_board with its
 * own loop. Teardown runs even when the test failed: it closes whatever the
 * test opened, waits until every QEMU child was reaped, drains the loop and
 * removes the temp dir.
 */
int ub_setup(void **state);
int ub_teardown(void **state);

/* Open a board running DIR/variant/u-boot.bin on a fresh pflash (skips the
 * test when U-Boot cannot be built). */
void ub_open(struct ub_board *b, const char *variant);
/* The same with QEMU's gdbstub enabled (option gdb: true). */
void ub_open_gdb(struct ub_board *b, const char *variant);
/* A fresh pflash path and console link in the board's temp dir, and the
 * bios path of variant, without opening anything (malloc'ed). */
void ub_paths(struct ub_board *b, const char *variant, char **bios);

/* Our children called comm (e.g. "qemu-system-arm"); -1 without /proc. */
int ub_count_children(const char *comm);

/* Power and wait for the command to complete (fails the test otherwise). */
void ub_power(struct ub_board *b, bool on);

/* Wait for the power command in flight (e.g. an armed cut) to complete. */
void ub_wait_power(struct ub_board *b);

/* Forget the console output so far (expectations look after the mark). */
void ub_mark(struct ub_board *b);
/* Wait until text appears after the mark; returns false on timeout. */
bool ub_wait(struct ub_board *b, const char *text, unsigned ms);
/* Was text seen after the mark? */
bool ub_seen(struct ub_board *b, const char *text);
void ub_send(struct ub_board *b, const char *s);

/* Power on, see the banner, interrupt autoboot, get the prompt. */
void ub_boot_to_prompt(struct ub_board *b);
/* Send a command line and wait for the next prompt. */
void ub_cmd(struct ub_board *b, const char *cmd, unsigned ms);

/* Arm a power cut delay_ms after text appears on the console. */
void ub_arm_cut(struct ub_board *b, const char *text, unsigned delay_ms);

/* Send data with XMODEM-1K over the console (the receiver, e.g. `loadx`,
 * must already be waiting); returns the sender's status. */
int ub_xmodem_send(struct ub_board *b, const void *data, size_t len);

/* Write len bytes at file offset off of the pflash (QEMU must be off). */
void ub_pflash_write(struct ub_board *b, long off, const void *data,
		     size_t len);

/* Wait until the armed cut fired and the power is off. */
void ub_wait_cut(struct ub_board *b);

/* The target of the console symlink (malloc'ed). */
char *ub_console_target(struct ub_board *b);

#endif
