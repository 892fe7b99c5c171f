/* SPDX-License-Identifier: MIT */
/*
 * The run engine: `patchlab run SUITE --lab LAB`. It loads the lab and the
 * suite, opens every board (power off first), closes runs a dead controller
 * left open, expands the suite into runs, runs them — one at a time per
 * board, at most `jobs` at once, each a Lua coroutine on one libuv loop —
 * records each run as soon as it ends, restores bricked boards through their
 * probe when the board type says how, and ends with the release gate and
 * the reports.
 *
 * Verdicts (first matching row wins):
 *
 *   the run's board could not be opened / a fixture failed  -> lab-error
 *   run timeout, budget exceeded, controller stopping       -> lab-error
 *   the scenario chose a verdict (verdict.*, check)         -> that verdict
 *   the scenario raised an error (a bug, not a check)       -> lab-error
 *   the scenario returned without a verdict                 -> pass
 *   bricked, then restored through the probe                -> recovered
 *
 * Power is off at the end of every run, on error, and on SIGINT/SIGTERM.
 */
#ifndef PATCHLAB_ENGINE_H
#define PATCHLAB_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patchlab/verdict.h"

struct pl_gate;

/* Where a suite stands, for a progress display. */
struct pl_engine_progress {
	size_t done, total;                      /* runs ended (or not run) */
	const unsigned long *counts;             /* [PL_VERDICT_COUNT] */
	uint64_t elapsed_ns;
};

/*
 * What the engine shows a person: the CLI fills it (controller/cli/
 * run_output.c); the engine prints nothing itself but its log. Every hook
 * may be NULL; all run on the loop thread.
 */
struct pl_engine_output {
	/* The suite is about to run: its name, the lab's, runs, seed. */
	void (*start)(void *user_data, const char *suite, const char *lab,
		      size_t nruns, uint64_t seed);
	/* A run ended (after it was recorded): its id in the store, board,
	 * verdict and reason (borrowed for the call). */
	void (*run_ended)(void *user_data, int64_t run_id, const char *board,
			  enum pl_verdict v, const char *reason);
	/* A run ended, or was counted as not run. */
	void (*progress)(void *user_data, const struct pl_engine_progress *p);
	/* The release gate of the suite, as stored (borrowed). */
	void (*gate)(void *user_data, const struct pl_gate *g);
	/* A report was written (kind: "json", "junit", "html"). */
	void (*report)(void *user_data, const char *kind, const char *path);
	void *user_data;
};

struct pl_engine_opts {
	const char *suite_path;
	const char *lab_path;                 /* default "lab.yaml" */
	const char *const *image_overrides;   /* "NAME=PATH", NULL-terminated */
	const char *out_dir;                  /* default "runs" */
	const char *db_path;                  /* default <out_dir>/patchlab.db */
	const char *json_path, *junit_path, *html_path; /* may be NULL */
	uint64_t seed;                        /* base seed of the suite */
	bool has_seed;                        /* else drawn and printed */
	unsigned jobs;                        /* 0: one per board */
	bool no_wait;                         /* refuse boards leased by others */
	/* replay: run only the run with this index (1-based) of the expanded
	 * suite on any free board of its type; 0 = all */
	unsigned only;
	/* only boards carrying every one of these tags (NULL-terminated, or
	 * NULL for every board the suite selects) */
	const char *const *tags;
	/* only these boards (ids, NULL-terminated), or NULL for every board
	 * the suite selects: a lab worker's run touches its own board only */
	const char *const *boards;
	/* replay: run exactly this one run of the suite (its scenario, its
	 * params with their cut point, its seed) on any free board of its
	 * board type, instead of the suite's runs; NULL otherwise */
	const struct pl_engine_replay *replay;
	/* a lab worker's sweep job: only the suite's run with this index
	 * (1-based), planned and swept as `run` does (learning pass, every
	 * point, the same seeds from seed); 0 = every run */
	unsigned sweep_run;
	/* the command that started the run, recorded with the suite; or NULL */
	const char *cmdline;
	/* what to show while it runs and at the end; NULL: nothing */
	const struct pl_engine_output *output;
};

struct pl_engine_replay {
	int64_t run_id;          /* the run replayed, for messages */
	const char *scenario;    /* as recorded: "scenarios/x.lua" */
	const char *params_json; /* as recorded, cut point included */
	uint64_t seed;
	const char *board_type;
	const char *board_id;    /* the board it ran on: preferred */
};

/*
 * Run a suite. Returns the process exit code (patchlab/exit.h): 0 gate
 * passed, 1 gate failed, 2 lab error, 65 bad configuration.
 */
int pl_engine_run(const struct pl_engine_opts *opts);

#endif
