/* SPDX-License-Identifier: MIT */
/* Internal to the board module: the settled-boot watch (settle.c) behind
 * pl_board_unsettled() / pl_board_wait_settled(). */
#ifndef PL_BOARD_SETTLE_H
#define PL_BOARD_SETTLE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "patchlab/board.h"
#include "patchlab/config.h"

struct pl_board_settle;

/* Watch b's console for type's boot and settled lines; *out stays NULL
 * (and 0 is returned) when the type names no settled line. */
int pl_board__settle_open(struct pl_board_settle **out, struct pl_board *b,
			  const struct pl_board_type *type);
void pl_board__settle_close(struct pl_board_settle *s); /* s may be NULL */
bool pl_board__settle_pending(const struct pl_board_settle *s);
int pl_board__settle_wait(struct pl_board_settle *s, uv_loop_t *loop,
			  uint64_t timeout_ms, pl_board_settled_cb cb,
			  void *ud);
void pl_board__settle_cancel(struct pl_board_settle *s);

#endif
