/* SPDX-License-Identifier: MIT */
/*
 * Triggers: where precision lives (ARCHITECTURE.md "Triggers").
 *
 * A scenario arms a trigger on a board; the trigger fires inside C on the
 * event loop, in the same callback that sees the event (the console bytes,
 * the probe's stop reply, the transfer's ACK), and calls the power driver
 * directly. Each firing records when the event was seen, when the power
 * command was issued and when the driver completed it.
 *
 *   console   the n-th console match of a pattern, + optional delay
 *   breakpoint the n-th hit of a probe breakpoint (CPU halted, then cut)
 *   bytes     after byte b of an image transfer was acknowledged
 *   progress  when the board reports p % (the board type's progress pattern)
 *   time      t ms after the trigger was armed
 *
 * A window (lo..hi) instead of a value draws the value from the run's seed
 * when armed; the drawn value is recorded.
 *
 * Timing diagram of a console trigger with delay d:
 *
 *   byte read ----> match (same callback) --d--> pl_board_set_power(off)
 *   |seen_ns                                     |issued_ns     |done_ns
 */
#ifndef PATCHLAB_TRIGGER_H
#define PATCHLAB_TRIGGER_H

#include <stdbool.h>
#include <stdint.h>

#include "patchlab/board.h"

enum pl_trigger_kind {
	PL_TRIG_CONSOLE,
	PL_TRIG_BREAKPOINT,
	PL_TRIG_BYTES,
	PL_TRIG_PROGRESS,
	PL_TRIG_TIME,
};

enum pl_trigger_action {
	PL_TRIG_CUT,    /* power off */
	PL_TRIG_GLITCH, /* off for glitch_ms, then on */
};

struct pl_trigger_spec {
	enum pl_trigger_kind kind;
	enum pl_trigger_action action;
	unsigned glitch_ms;

	/* console / progress: a POSIX extended regex (progress: its first
	 * capture is the percentage) */
	const char *pattern;
	/* console: the n-th match (1-based); breakpoint: the n-th hit;
	 * bytes: offset; progress: percent; time: ms after arming.
	 * value_hi > value_lo: draw uniformly in [lo, hi] from seed. */
	uint64_t value_lo, value_hi;
	uint64_t seed;
	/* console: delay after the match, microseconds */
	uint64_t delay_us;
	/* breakpoint: the addresses to break at; hits at any of them count
	 * together (flash_erase + flash_program: "flash operation k") */
	uint64_t bp_addr[4];
	unsigned nbp;
	/* breakpoint: 0 = cut with the CPU halted (before the operation);
	 * > 0 = resume the CPU at the n-th hit and cut this many microseconds
	 * after the resume was acknowledged (during the operation) */
	uint64_t resume_us;
	/* breakpoint: > 0 = at the n-th hit, ask the probe to run into the
	 * operation for this fraction of it and halt (the virtual rack's
	 * `monitor run-fraction`, a cycle-count stop on silicon), then cut:
	 * a torn write or half erase at exactly phi. A probe without it
	 * falls back to resume_us. */
	double phi;
};

struct pl_trigger_info {
	enum pl_trigger_kind kind;
	uint64_t value;      /* the n, offset, percent or ms actually used */
	bool fired;
	bool completed;      /* its power command completed or failed */
	int status;          /* of the power command: 0 or negative */
	uint64_t armed_ns;
	uint64_t seen_ns;    /* the event: byte read, stop reply read, ACK read */
	uint64_t issued_ns;  /* the power command left patchlab */
	uint64_t done_ns;    /* the driver confirmed it */
	/* console: how long the matched line may have waited for the event
	 * loop before it was read (the loop busy with other work): a bound
	 * from the loop's own idle time, 0 when the loop was waiting for it */
	uint64_t lag_ns;
	char detail[96];     /* matched text, breakpoint pc, ... */
};

struct pl_trigger;

/*
 * Arm a trigger on board b. *out is freed with pl_trigger_free() (which
 * disarms). Returns -EINVAL for a spec that does not make sense (message in
 * *why, static), -ENODEV when the board lacks the fixture (no probe for a
 * breakpoint trigger). For a breakpoint trigger the breakpoint is set
 * through the probe here and cleared when the trigger is freed.
 */
int pl_trigger_arm(struct pl_trigger **out, struct pl_board *b,
		   const struct pl_trigger_spec *spec, const char **why);

/*
 * Stop watching (a fired trigger keeps its info). Idempotent. A breakpoint
 * trigger that has not fired halts the target and removes its breakpoints
 * through the probe (queued requests): let the probe's queue drain
 * (pl_probe_submit a PL_PROBE_CONNECT and wait for it) before switching the
 * power off, or the next boot may stop on a breakpoint.
 */
void pl_trigger_disarm(struct pl_trigger *t);

const struct pl_trigger_info *pl_trigger_info(const struct pl_trigger *t);

/* Called once when the trigger fired and its power command completed. */
void pl_trigger_set_callback(struct pl_trigger *t,
			     void (*cb)(struct pl_trigger *t, void *ud),
			     void *user_data);

/*
 * How far a fired console or time trigger may have missed its aim: the
 * line's wait for the loop (lag_ns) plus how late the command left after
 * seen + delay. 0 for other kinds (a breakpoint halts the CPU; bytes and
 * progress count what was acknowledged) and for a trigger not fired.
 */
uint64_t pl_trigger_aim_error_ns(const struct pl_trigger *t);

/* Accepts NULL. */
void pl_trigger_free(struct pl_trigger *t);

const char *pl_trigger_kind_name(enum pl_trigger_kind k);
int pl_trigger_kind_parse(const char *s, enum pl_trigger_kind *out);

#endif
