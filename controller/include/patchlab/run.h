/* SPDX-License-Identifier: MIT */
/*
 * One board run: the context a scenario's coroutine acts through, its
 * verdict, and its life from start to record. The engine decides what runs
 * where (engine.h); the lab API (lapi.h) is what the scenario calls; this
 * module is what both act on, and the only owner of a run's lifetime.
 *
 * Life of a run, in order:
 *
 *   1. pl_run_start(): the run is recorded (open) in the store, the board's
 *      console log and event sink are set, the scenario's Lua run is opened
 *      with its params, the run timeout is armed on its own timer, and the
 *      scenario starts.
 *   2. The scenario calls the lab API; the API keeps its per-run state
 *      (waits, triggers, timers) in the block pl_run_api_state() returns
 *      and decides verdicts through pl_run_set_verdict().
 *   3. The Lua run ends (returned, raised, over budget, cancelled, timed
 *      out): the API's end() stops its waits, the verdict is classified
 *      (table at pl_run_classify() in run.c), the probe's queue drains.
 *   4. Power off. A bricked board is restored by its board type's recovery
 *      method (recover.c): `recovered`, or the board is quarantined.
 *   5. The verdict, its reason and the run's Lua budgets are recorded in one
 *      store transaction; the owner's ended() hook runs; the run is freed.
 *
 * Ownership: a run is freed by this module after ended() returns; nothing
 * may keep a pointer to it past that. Every callback runs on the loop
 * thread. Steps 3 to 5 may run inside pl_run_start() (a board that cannot
 * be used, a scenario that never waits): ended() is then called before
 * pl_run_start() returns.
 */
#ifndef PATCHLAB_RUN_H
#define PATCHLAB_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "patchlab/log.h"
#include "patchlab/store.h"
#include "patchlab/verdict.h"

struct lua_State;
struct pl_board;
struct pl_board_cfg;
struct pl_board_type;
struct pl_image;
struct pl_lua_host;
struct pl_lua_run;
struct pl_run_cfg;
struct pl_run;

/*
 * The lab API's per-run state: state_size zeroed bytes the run allocates
 * at start and frees after release(). All three hooks are required.
 */
struct pl_run_api {
	size_t state_size;
	/* The run is about to start its scenario. */
	void (*init)(struct pl_run *r, void *state);
	/* The scenario ended: stop every wait, free triggers and operations;
	 * record where a scenario-aimed cut landed. Must not resume Lua. */
	void (*end)(struct pl_run *r, void *state);
	/* The run is being freed: close what end() left (timer handles). */
	void (*release)(struct pl_run *r, void *state);
};

/* What every run of a suite shares. Borrowed; must outlive its runs. */
struct pl_run_env {
	uv_loop_t *loop;
	struct pl_lua_host *host;
	struct pl_store *store;          /* NULL: nothing is recorded */
	const struct pl_run_api *api;
	const struct pl_log *log;        /* the controller's */
	/* Called once per run after its verdict was recorded; the run is
	 * freed when it returns. May start other runs. */
	void (*ended)(struct pl_run *r, void *user_data);
	void *user_data;
};

/* What one run is: filled by the engine, borrowed for pl_run_start(). */
struct pl_run_spec {
	int64_t suite_id;                /* 0: outside any suite */
	size_t index;                    /* the owner's index of the run */
	unsigned repeat;                 /* 1-based */
	uint64_t seed;
	const struct pl_board_cfg *bcfg;
	struct pl_board *board;          /* NULL: the board cannot be used */
	const char *unusable;            /* why board is NULL (lab-error) */
	const char *not_run;             /* non-NULL: the run cannot run (board
	                                  * quarantined, suite stopped, sweep
	                                  * without points): recorded at once
	                                  * as not-run with this reason */
	const struct pl_run_cfg *rcfg;
	const char *scenario_path;       /* the file run */
	const char *chunk;               /* its name in messages */
	json_t *params;                  /* recorded with the run */
	json_t *scenario_params;         /* given to the scenario; NULL: params */
	struct pl_cut_point cut;         /* a sweep's point; phase NONE if none */
	const char *image;               /* the image under test, or NULL */
	const char *console_log;         /* path of the console log, or NULL */
	const char *replay_db;           /* for the replay command: absolute */
	const char *replay_lab;
	const struct pl_image *recovery_image; /* NULL: no image to restore */
	/* the board's own images: `images.NAME` is one of these before a
	 * suite image of that name */
	const struct pl_image *const *board_images;
	size_t nboard_images;
};

/*
 * Start a run. *out is set before anything else happens (so an ended() hook
 * may clear the caller's slot again) and is valid until env->ended()
 * returns for the run. On 0 the run is under way, or already ended (see
 * the top comment). -ENOMEM when nothing could be allocated: no run,
 * nothing recorded, ended() not called, *out untouched.
 */
int pl_run_start(struct pl_run **out, const struct pl_run_env *env,
		 const struct pl_run_spec *spec);

/* Cancel a running scenario with code (-PL_EFIXTURE for a lost lease,
 * ...) and why. stop: the controller is stopping, so no recovery either. */
void pl_run_cancel(struct pl_run *r, int code, const char *why, bool stop);

/*
 * Restore the board's image by its type's recovery method (the probe
 * writes the recovery image; a command runs with the board off), without
 * a verdict: what a scenario's baseline does on a board without a probe.
 * cb gets 0 (restored; the board is off) or an error with the fixture
 * that failed and why. -ENOTSUP when the type has no automatic method,
 * -EBUSY while one is under way; else 0 and cb comes later, once.
 */
typedef void (*pl_run_restore_cb)(struct pl_run *r, int status,
				  const char *fixture, const char *why,
				  void *user_data);
int pl_run_restore(struct pl_run *r, pl_run_restore_cb cb, void *user_data);
/* Let go of a restore under way: cb never comes; a command is killed. */
void pl_run_restore_cancel(struct pl_run *r);
/* Can pl_run_restore() work for this run's board? */
bool pl_run_can_restore(const struct pl_run *r);

/* The run of the coroutine L runs in, or NULL outside any run. */
struct pl_run *pl_run_of(struct lua_State *L);

/* ------------------------------------------------------------ the run */

struct pl_board *pl_run_board(const struct pl_run *r);
/* The board's own image called name (the lab's `images:`), or NULL. */
const struct pl_image *pl_run_board_image(const struct pl_run *r,
					  const char *name);
/* The i-th of the board's own images, or NULL past the last. */
const struct pl_image *pl_run_board_image_at(const struct pl_run *r,
					     size_t i);
const struct pl_board_cfg *pl_run_board_cfg(const struct pl_run *r);
const struct pl_board_type *pl_run_type(const struct pl_run *r);
size_t pl_run_index(const struct pl_run *r);
uint64_t pl_run_seed(const struct pl_run *r);
/* pl_now_ns() when the run started. */
uint64_t pl_run_started_ns(const struct pl_run *r);
struct pl_lua_run *pl_run_lua(const struct pl_run *r);
/* Registry reference of the scenario's params table (LUA_NOREF: none). */
int pl_run_params_ref(const struct pl_run *r);
/* The lab API's state block (struct pl_run_api.state_size bytes). */
void *pl_run_api_state(const struct pl_run *r);
/* The run's id in the store, or -1. */
int64_t pl_run_store_id(const struct pl_run *r);

/* A learning pass returns {ops = N}: N, or -1. Valid in ended(). */
long pl_run_learned_ops(const struct pl_run *r);

/* ------------------------------------------------------------ verdict */

/* Decide the verdict (the last decision wins; the lab API refuses a
 * second one itself). fmt may be NULL: no reason. */
void pl_run_set_verdict(struct pl_run *r, enum pl_verdict v, const char *fmt,
			...) __attribute__((format(printf, 3, 4)));

/*
 * A cut of this run missed its aim by more than its tolerance (a console
 * line that waited for a busy loop, a command that left late): the point
 * the run stands for was not tested. A run the device came through (pass,
 * rolled-back) starts again on the same record, up to PL_RUN_AIM_ATTEMPTS
 * attempts in all, each noted on its timeline; when every attempt missed,
 * it is lab-error, the verdict it would have had in its reason. A brick or
 * a failure stands (the device did not survive a real cut), the miss
 * noted. The first call of an attempt counts.
 */
#define PL_RUN_AIM_ATTEMPTS 3
void pl_run_aim_missed(struct pl_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* True once a verdict was decided; *v and *reason (borrowed) then say it. */
bool pl_run_verdict(const struct pl_run *r, enum pl_verdict *v,
		    const char **reason);

/* ------------------------------------------------------------ record */

/* Add an event to the run's timeline (payload: a JSON object, borrowed). */
void pl_run_record(struct pl_run *r, enum pl_event_kind kind,
		   const json_t *payload);

/* Record where a cut the scenario aimed itself landed: the run's cut point
 * (unless a sweep gave it one) and an "aim" event with the details. */
void pl_run_record_aim(struct pl_run *r, const struct pl_cut_point *cp,
		       const json_t *aim);

#endif
