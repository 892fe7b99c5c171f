/* SPDX-License-Identifier: MIT */
/* Internal: the run module's struct and its cross-file helpers (run.c,
 * recover.c, params.c). Nothing outside controller/src/run/ includes it. */
#ifndef PL_RUN_INTERNAL_H
#define PL_RUN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "patchlab/board.h"
#include "patchlab/image.h"
#include "patchlab/luahost.h"
#include "patchlab/run.h"

/* Log events (log.info/warn/error, scenario errors) stored per run; the
 * rest are counted and noted once at the end. */
#define PL_RUN_LOG_MAX 2000u

struct pl_run {
	struct pl_run_env env;            /* copied at start */
	struct pl_store *store;           /* env.store */
	struct pl_board *board;           /* borrowed from the engine */
	const struct pl_board_cfg *bcfg;
	const struct pl_board_type *type;
	const struct pl_run_cfg *rcfg;
	size_t index;
	unsigned repeat;
	uint64_t seed;
	uint64_t started_ns;
	int64_t store_id;                 /* -1: not recorded */
	bool has_cut;                     /* a sweep gave the cut point */
	const struct pl_image *recovery_image;
	const struct pl_image *const *board_images;
	size_t nboard_images;

	struct pl_lua_run *lrun;
	json_t *params;                   /* given to the scenario */
	int params_ref;                   /* registry ref of its Lua table */
	void *api_state;                  /* the lab API's, env.api->state_size */
	uv_timer_t *timeout;              /* the run timeout, nothing else */

	unsigned nlog;                    /* log events stored */
	unsigned long log_dropped;        /* and dropped past PL_RUN_LOG_MAX */
	bool verdict_set;
	enum pl_verdict verdict;
	char reason[512];

	/* to start the scenario again when a cut missed its aim */
	char *scenario_path, *chunk;
	unsigned attempt;                 /* 1-based */
	bool aim_missed;                  /* in this attempt */
	char aim_why[300];

	bool starting;                    /* inside pl_lua_run_start() */
	bool done_early;                  /* the scenario ended while starting */
	bool ended;                       /* the scenario's end was handled */
	bool stopping;                    /* the controller stops: no recovery */
	bool settling;                    /* the end waits for a settled boot */
	struct pl_board_settle *settle;   /* boots and their commit, or NULL */
	void (*recovery_done)(struct pl_run *r); /* recover.c's completion */
	pl_run_restore_cb restore_cb;     /* a restore under way, or NULL */
	struct rexec *rexec;              /* its command, while it runs */
	void *restore_ud;
	struct pl_lua_run *rlrun;         /* its Lua module, while it runs:
	                                   * pl_run_lua() answers it then */
	uv_timer_t *rtimer;               /* the module's timeout */
	json_t *rparams;                  /* the module's argument */
	bool rstarting, rdone_early;      /* inside its pl_lua_run_start() */
	int rstatus;                      /* how the restore ended, kept while */
	char rfixture[200], rwhy[300];    /* a released line settles */
};

/* Restore a bricked board by its type's recovery method; true when a
 * recovery started (it sets the verdict or quarantines the board, then
 * calls done, which finishes the run), false when there is none to try
 * (recover.c). */
bool pl_run__try_recovery(struct pl_run *r, void (*done)(struct pl_run *r));

/* Push a JSON value as a Lua value (objects and arrays as tables, null as
 * nil), depth-limited (params.c). */
void pl_run__push_json(lua_State *L, const json_t *j, int depth);

#endif
