/* SPDX-License-Identifier: MIT */
/*
 * Board operations driven by the board type (boards/NAME.yaml): wait for a
 * boot, read the version, install an update. Each is asynchronous on the
 * loop and ends through one callback with a result the scenario layer turns
 * into Lua values.
 *
 * A power cut while an operation waits ends it at once with
 * -PL_ECANCELED and reason "power cut": the scenario hears of the cut
 * right away rather than after a timeout.
 */
#ifndef PATCHLAB_UPDATE_H
#define PATCHLAB_UPDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "patchlab/board.h"

struct pl_board_type;
struct pl_op;

/* What an operation found. Strings are empty when unknown. */
struct pl_op_result {
	int status;          /* 0, -ETIMEDOUT, -PL_ECANCELED (power cut),
	                      * -PL_EREFUSED (the board said no),
	                      * -PL_EFIXTURE (a lab error: the console lost,
	                      * or a boot wait whose board answered at its
	                      * prompt: the power never switched) */
	const char *fixture; /* -PL_EFIXTURE: "console" or "power" */
	char reason[256];    /* for a person: "BOOT FAILED: ...", "timeout ..." */
	char version[64];
	char slot[16];
	char state[24];      /* version: the "state" capture, if any */
	uint64_t t_ns;       /* when the deciding line was read */
	bool settled;        /* boot: the type's settled line came before
	                      * the prompt */
	uint64_t bytes;      /* update: bytes acknowledged */
	char line[512];      /* the line that decided (command, boot) */
	unsigned ngroups;    /* command: capture groups of the pattern */
	char groups[9][128];
};

typedef void (*pl_op_cb)(struct pl_op *op, const struct pl_op_result *r,
			 void *user_data);

/*
 * Wait for the board to boot: boot_ok (version, slot) or boot_fail
 * (reason) of the board type, within timeout_ms (0: the type's
 * boot_timeout). Watches the console from now on: call it before or right
 * after power on.
 *
 * A wait that saw no sign of life (the type's banner; not a byte when it
 * names none), on a type with a prompt, asks before it gives up: it types
 * a newline and waits up to PL_OP_ALIVE_MS for the prompt. A board that
 * answers was never switched off and on (a relay that did not switch, a
 * board powered another way): -PL_EFIXTURE, fixture "power", a lab error.
 * One that stays silent -- not one byte since the power-on -- is switched
 * on once more and listened to for another timeout_ms: a board that
 * speaks then never got the first power-on (a relay that swallowed it):
 * -PL_EFIXTURE, fixture "power". Silent again: the timeout it was (a dead
 * board).
 */
#define PL_OP_ALIVE_MS 2000u
int pl_op_wait_boot(struct pl_op **out, struct pl_board *b,
		    const struct pl_board_type *type, uint64_t timeout_ms,
		    pl_op_cb cb, void *user_data);

/* Ask the running firmware for its version (the type's version command). */
int pl_op_version(struct pl_op **out, struct pl_board *b,
		  const struct pl_board_type *type, pl_op_cb cb,
		  void *user_data);

/* Send the update command and the image (XMODEM), then wait for the done or
 * error line. data is copied. */
int pl_op_update(struct pl_op **out, struct pl_board *b,
		 const struct pl_board_type *type, const void *data, size_t len,
		 pl_op_cb cb, void *user_data);

/* Send data over XMODEM-1K/CRC to a receiver the caller already started
 * (U-Boot's loadx), then wait for the board's prompt when its type has
 * one. No command is sent. data is copied. */
int pl_op_send_xmodem(struct pl_op **out, struct pl_board *b,
		      const struct pl_board_type *type, const void *data,
		      size_t len, pl_op_cb cb, void *user_data);

/* Send a command line (NULL: send nothing) and wait for a line matching
 * pattern (NULL: finish once sent). Captures go to result groups. */
int pl_op_command(struct pl_op **out, struct pl_board *b,
		  const struct pl_board_type *type, const char *command,
		  const char *pattern, uint64_t timeout_ms, pl_op_cb cb,
		  void *user_data);

/* Cancel without calling cb, and free. Accepts NULL. After cb has run the
 * operation must still be freed with this. */
void pl_op_free(struct pl_op *op);

#endif
