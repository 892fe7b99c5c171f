/* SPDX-License-Identifier: MIT */
/* Internal: the run engine's shared structs (engine.c, lapi.c, recover.c). */
#ifndef PL_ENGINE_INTERNAL_H
#define PL_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "patchlab/board.h"
#include "patchlab/config.h"
#include "patchlab/luahost.h"
#include "patchlab/trigger.h"
#include "patchlab/update.h"
#include "patchlab/verdict.h"

struct pl_engine;

/* An image in memory: a suite image or a mutation of one. */
struct pl_image {
	char *name;
	char *path;      /* NULL for a mutation */
	char *version;   /* NULL when unknown */
	uint8_t *data;
	size_t len;
};

#define PL_RUN_MAX_TRIGGERS 16

/* One board run: the Lua run, its board, what it decided. */
struct pl_run_ctx {
	struct pl_engine *eng;
	struct pl_board *board;
	const struct pl_board_cfg *bcfg;
	const struct pl_board_type *type;
	const struct pl_run_cfg *rcfg;
	size_t index;             /* position in the suite's run list */
	unsigned repeat;          /* 1-based */
	struct pl_lua_run *lrun;
	int params_ref;           /* registry ref of the params table */
	uint64_t seed;
	int64_t store_id;         /* run id in the result store, or -1 */
	uint64_t started_ns, started_wall_ns;
	char *log_path;

	bool verdict_set;
	enum pl_verdict verdict;
	char reason[512];

	/* what the scenario is waiting on (one at a time) */
	struct pl_op *op;
	int op_kind;              /* lapi.c's enum op_kind of op */
	bool probe_waiting;
	const struct pl_image *compare; /* probe:compare() reading back */
	bool compare_verifying;         /* ... asking the probe to verify first */
	uint64_t compare_addr;
	int armed_ref;            /* fault.cut waiting for its breakpoints */
	uv_timer_t *timer;        /* sleep, power cycle */
	int pending_power;        /* power command being waited for */
	int power_op;             /* lapi.c's enum power_op of it */
	unsigned power_ms;
	struct pl_trigger *triggers[PL_RUN_MAX_TRIGGERS];
	size_t ntriggers;
	char cut_json[512];       /* the cut point the run aimed at, or "" */

	char last_version[64];    /* from the last wait_boot */
	char last_slot[16];
	bool recovering;
	bool ended;
	bool starting;            /* inside pl_lua_run_start() */
	bool done_early;          /* the run ended while starting */
};

/* Verdict helpers (lapi.c) */
void pl_run_set_verdict(struct pl_run_ctx *rc, enum pl_verdict v,
			const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Register the lab API in the host (lapi.c). images: the suite's. */
int pl_lapi_register(struct pl_lua_host *h, struct pl_image *const *images,
		     size_t nimages);

/* The engine's lookups for the lab API (engine.c). */
struct pl_run_ctx *pl_run_ctx_of(lua_State *L);

#endif
