/* SPDX-License-Identifier: MIT */
/*
 * Internal: the engine's struct and what its two files share. engine.c is
 * the suite's life (setup -> loop -> finish) and the scheduler; plan.c
 * expands the suite into run specs and drives the sweeps' planners.
 * Nothing outside controller/src/engine/ includes it.
 */
#ifndef PL_ENGINE_INTERNAL_H
#define PL_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "sweep.h"
#include "patchlab/board.h"
#include "patchlab/config.h"
#include "patchlab/engine.h"
#include "patchlab/image.h"
#include "patchlab/leases.h"
#include "patchlab/luahost.h"
#include "patchlab/run.h"
#include "patchlab/store.h"

/* One run to do: which run of the suite, on which board, with what. */
struct run_spec {
	const struct pl_run_cfg *rcfg;
	size_t run_index;      /* in suite->runs */
	unsigned repeat;       /* 1-based */
	size_t board;          /* index in eng->boards; the one it must use */
	json_t *cut;           /* params.cut added by a sweep, or NULL */
	json_t *params;        /* replay: the recorded params, whole */
	int sweep;             /* index into eng->sweeps of a point, or -1 */
	int phase;             /* of a sweep point: 0 before, 1 during, 2 after */
	long k;                /* of a sweep point: the flash operation */
	double phi;            /* of a during point: where in the operation */
	bool learning;         /* a sweep's learning pass */
	size_t sweep_group;    /* index into eng->sweeps when learning */
	uint64_t seed;
	bool started;
	char *not_run;         /* owned: recorded as not-run with this reason
	                        * (a sweep that planned no point) */
};

/* A sweep on one board type: its learning pass, then its planner's points
 * (sweep.c), spread round robin over the free boards of the type. */
struct sweep_state {
	const struct pl_run_cfg *rcfg;
	size_t run_index;
	const char *board_type;
	bool expanded;
	bool delay;               /* over console or time: delay.c plans it */
	size_t boards[256], nb, next_board;
	struct pl_sweep plan;
};

struct engine_board {
	struct pl_engine *e;
	const struct pl_board_cfg *cfg;
	struct pl_board *board;   /* NULL: not (yet) opened */
	const char *open_error;
	char lease_error[200];    /* why the lease was refused or lost */
	bool used;                /* some run of the suite selects it */
	bool ready;               /* leased and opened, or failed: runs may go */
	struct pl_run *busy;      /* the run using it */
	bool quarantine_kept;     /* its quarantine is the store's already */
	struct pl_image **images; /* the board's own (lab `images:`), loaded */
	size_t nimages;
};

struct pl_engine {
	const struct pl_engine_opts *opts;
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct pl_lab *lab;
	struct pl_suite *suite;
	struct pl_store *store;
	struct pl_leases *leases;
	int64_t suite_id;
	struct pl_lua_host *host;
	struct pl_log log;
	struct pl_run_env env;

	struct engine_board *boards;
	size_t nboards;
	struct pl_image **images;
	size_t nimages;

	struct run_spec *specs;
	size_t nspecs, capspecs;
	struct sweep_state *sweeps;
	size_t nsweeps;

	size_t *lease_order;      /* used boards by id: leases taken so */
	size_t nlease_order, next_lease;
	struct pl_quarantine_row *quarantine; /* the store's, at start */
	size_t nquarantine;
	int64_t dead_suites[64];  /* suites of runs left open by the dead */
	size_t ndead;
	size_t running, done;
	unsigned long counts[PL_VERDICT_COUNT];
	uint64_t started_ns;
	bool stopping;
	const char *stop_why;     /* "SIGTERM", "SIGINT" */
	bool signals;             /* sigint/sigterm handles are initialised */
	char *db_path;
	const char *db_used;
	char *db_abs, *lab_abs, *suite_abs; /* realpath()s, or NULL */
	char *log_dir;
	char *scen_root;
};

/* ----------------------------------------------------------- plan.c */

/* Expand the suite (or the replayed run) into specs. 0 or -errno. */
int pl_engine__expand(struct pl_engine *e);

/* A learning pass reported ops flash operations: queue its sweep's
 * first points. */
void pl_engine__expand_sweep(struct pl_engine *e, size_t swi, long ops);

/* A sweep can plan no point (why): one not-run record says so. */
void pl_engine__sweep_unplanned(struct pl_engine *e, size_t swi,
				const char *why);

/* A sweep point's run ended with v: tell its planner (more points). */
void pl_engine__sweep_point_done(struct pl_engine *e, const struct run_spec *s,
				 enum pl_verdict v);

/* The chunk name a scenario path gets ("scenarios/x.lua"). */
void pl_engine__chunk_name(const struct pl_engine *e, const char *scen,
			   char *out, size_t n);

/* Record spec si as not run, with why: stored, counted and shown like
 * any run, without touching its board (which may be another run's). */
void pl_engine__not_run(struct pl_engine *e, size_t si, const char *why);

/* Does the command line let us use board b (--tag)? */
bool pl_engine__board_allowed(const struct pl_engine_opts *o,
			      const struct pl_board_cfg *b);

#endif
