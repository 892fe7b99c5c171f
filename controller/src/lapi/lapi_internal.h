/* SPDX-License-Identifier: MIT */
/*
 * Internal: the lab API's per-run state and the helpers its files share
 * (lapi.c registers everything; one file per object: lapi_board.c,
 * lapi_power.c, lapi_console.c, lapi_probe.c, lapi_fault.c, lapi_image.c,
 * lapi_verdict.c, lapi_globals.c). Nothing outside controller/src/lapi/
 * includes it.
 *
 * Every function checks all its arguments before it acquires anything
 * (R11): luaL_check* may longjmp. Waiting calls go through
 * pl_lua_wait_begin()/pl_lua_wait_yield(); a run waits on one thing at a
 * time, whose state lives in struct lapi_run.
 */
#ifndef PL_LAPI_INTERNAL_H
#define PL_LAPI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <uv.h>

#include "patchlab/board.h"
#include "patchlab/config.h"
#include "patchlab/image.h"
#include "patchlab/lapi.h"
#include "patchlab/luahost.h"
#include "patchlab/run.h"
#include "patchlab/trigger.h"
#include "patchlab/update.h"

/* Registry names of the proxies' metatables (board, console, probe and
 * params are one userdata each, resolving the run when used). */
#define LAPI_BOARD_MT "patchlab.board"
#define LAPI_CONSOLE_MT "patchlab.console"
#define LAPI_PROBE_MT "patchlab.probe"
#define LAPI_PARAMS_MT "patchlab.params"
#define LAPI_IMAGES_MT "patchlab.images"

/* What a board operation's result is turned into for the scenario. */
enum lapi_op_kind { LAPI_OP_BOOT, LAPI_OP_VERSION, LAPI_OP_UPDATE, LAPI_OP_EXPECT,
		   LAPI_OP_CONFIRM, LAPI_OP_SETTLE };

enum lapi_power_op { LAPI_POWER_ON, LAPI_POWER_OFF, LAPI_POWER_CYCLE,
		     LAPI_POWER_GLITCH, LAPI_BOOT_MODE_HOLD,
		     LAPI_BOOT_MODE_RELEASE };

/* One armed trigger of a run and what the scenario aimed it at. */
struct lapi_trigger {
	struct pl_trigger *t;
	json_t *aim;               /* kind, value window, pattern, ... */
	uint64_t tolerance_ns;     /* how far it may miss its aim */
	uint64_t delay_us;         /* the delay it was asked for */
};

/* The lab API's state of one run (struct pl_run_api.state_size). */
struct lapi_run {
	struct pl_run *run;
	struct pl_board *board;              /* pl_run_board(run) */
	const struct pl_board_type *type;

	/* board and console operations */
	struct pl_op *op;
	enum lapi_op_kind op_kind;
	/* probe */
	bool probe_waiting;
	const struct pl_image *compare;      /* probe:compare() reading back */
	bool compare_verifying;              /* ... asking the probe first */
	uint64_t compare_addr;
	/* fault.cut waiting for its breakpoints */
	int armed_ref;
	/* sleep, power cycle and console:send's wait for its bytes to leave
	 * (never the run timeout: run.c has its own) */
	uv_timer_t *timer;
	struct pl_board_listener drain_l;
	int pending_power;
	enum lapi_power_op power_op;
	unsigned power_ms;
	/* triggers, in the order armed; a trigger object holds its index */
	struct pl_trigger *wait_trigger;     /* t:wait() waits on it */
	struct lapi_trigger *triggers;
	size_t ntriggers, captriggers;
	/* `images` of this run: the suite's, the board's own over them;
	 * made at first use (registry ref) */
	int images_ref;
	/* what the run saw of the update: the version of the last boot, and
	 * the version a confirm (or a settled boot) made permanent; "" none */
	char last_boot[64];
	char committed[64];
	/* wait_boot{settled = true}: after the boot, wait for the type's
	 * settled line; the boot's result is kept meanwhile */
	bool settle;
	uint64_t settle_timeout_ms;
	struct pl_op_result settle_boot;
};

/* The run state of the calling coroutine; raises outside a run. */
struct lapi_run *lapi_or_raise(lua_State *L);

/* string.format(...) of the arguments from idx on, left on the stack. */
const char *lapi_format_args(lua_State *L, int idx);

/* The (sleep, power) timer of the run, created on first use; 0 or -ENOMEM. */
int lapi_ensure_timer(struct lapi_run *a);

/* Begin a board operation wait; after the start call, hand its code to
 * lapi_op_wait(), which yields (and fails the wait if nothing started). */
void lapi_op_begin(lua_State *L, struct lapi_run *a, const char *what,
		   enum lapi_op_kind kind);
int lapi_op_wait(lua_State *L, struct lapi_run *a, int err_from_start);
void lapi_on_op_done(struct pl_op *op, const struct pl_op_result *r, void *ud);

/* Probe waits (lapi_probe.c): begin one, and its completion. */
void lapi_probe_begin(lua_State *L, struct lapi_run *a, const char *what);
void lapi_on_probe_done(struct pl_probe *p, int status, const void *data,
			size_t len, void *ud);

/* An image argument (suite image or mutation) at idx; raises otherwise. */
struct pl_image *lapi_check_image(lua_State *L, int idx);
/* Push a suite image (borrowed) as an image object. */
void lapi_push_image(lua_State *L, struct pl_image *img);

/* Per-file registration, called once by pl_lapi_register(). */
void lapi_register_verdict(struct pl_lua_host *h, lua_State *L);
void lapi_register_globals(struct pl_lua_host *h, lua_State *L);
void lapi_register_fault(struct pl_lua_host *h, lua_State *L);
void lapi_register_image(struct pl_lua_host *h, lua_State *L);
extern const luaL_Reg lapi_board_methods[];
extern const luaL_Reg lapi_console_methods[];
extern const luaL_Reg lapi_probe_methods[];
int lapi_board_index(lua_State *L);

/* Board methods defined in lapi_power.c. */
int lapi_power_on(lua_State *L);
int lapi_power_off(lua_State *L);
int lapi_power_cycle(lua_State *L);
int lapi_glitch(lua_State *L);
int lapi_boot_mode(lua_State *L);

/* The end of a run's scenario (lapi_fault.c): record the aim of the first
 * trigger that fired, free every trigger. */
void lapi_triggers_end(struct lapi_run *a);

/* Publish the table on top as a read-only global `name`. */
void lapi_set_table_global(struct pl_lua_host *h, lua_State *L,
			   const char *name, const luaL_Reg *fns);

#endif
