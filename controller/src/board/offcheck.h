/* SPDX-License-Identifier: MIT */
/* Internal to the board module: is the board off? (offcheck.c, behind
 * pl_board_check_off()). */
#ifndef PL_BOARD_OFFCHECK_H
#define PL_BOARD_OFFCHECK_H

#include <uv.h>

#include "patchlab/board.h"
#include "patchlab/config.h"

int pl_board__check_off(struct pl_board *b, uv_loop_t *loop,
			const struct pl_board_type *type, unsigned attempts,
			pl_board_off_cb cb, void *ud);

#endif
