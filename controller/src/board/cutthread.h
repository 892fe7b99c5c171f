/* SPDX-License-Identifier: MIT */
/*
 * The cut thread: the instant of a delayed or timed cut is waited out on a
 * thread of its own, which issues the power-off shot (patchlab/power.h,
 * struct pl_power_shot) itself, whatever the event loop is busy with (a
 * SQLite write, Lua, other boards' consoles), then wakes the loop.
 *
 * One thread per process, started at the first cut. It asks for SCHED_FIFO
 * at a low priority (PL_CUT_RT_PRIO) and stays an ordinary thread when that
 * is not permitted. It sleeps on a condition variable with an absolute
 * CLOCK_MONOTONIC deadline PL_CUT_LEAD_NS before the earliest instant (the
 * same hrtimer-backed absolute wait as clock_nanosleep(TIMER_ABSTIME), but
 * a new, earlier cut of another board wakes it), then spins to the instant
 * (never early),
 * fires the shot, and sends the cut's uv_async_t: the loop completes the
 * cut there (records it, settles the power layer, runs callbacks).
 *
 * All of it but the thread itself runs on the loop thread.
 */
#ifndef PL_BOARD_CUTTHREAD_H
#define PL_BOARD_CUTTHREAD_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "patchlab/log.h"
#include "patchlab/power.h"

/* Woken this long before the instant; the rest is spun. */
#define PL_CUT_LEAD_NS 200000u
/* The real-time priority asked for (SCHED_FIFO, 1 = lowest). */
#define PL_CUT_RT_PRIO 10

struct pl_cut {
	/* set by the owner before pl_cut_submit() */
	uint64_t at_ns;              /* pl_now_ns() clock */
	struct pl_power_shot *shot;  /* armed */
	uv_async_t *async;           /* sent once the instant has passed */

	/* private */
	struct pl_cut *next;
	bool queued;
};

/*
 * Hand c to the cut thread (started at the first call; log: where its one
 * line about the scheduling class goes). At at_ns it fires c->shot (if
 * still armed) and sends c->async. 0 or a negative code (no thread).
 */
int pl_cut_submit(struct pl_cut *c, const struct pl_log *log);

/*
 * Take c back: when this returns, the thread no longer touches c (it
 * waits while the thread is firing c). Idempotent. Whether the shot fired
 * is its state (pl_power_shot_cancel()).
 */
void pl_cut_withdraw(struct pl_cut *c);

/* Whether the thread runs SCHED_FIFO (false before it started). */
bool pl_cut_thread_realtime(void);

#endif
