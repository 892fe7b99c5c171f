/* SPDX-License-Identifier: MIT */
/*
 * Calibration: `patchlab calibrate --lab LAB`. Before a lab gates releases,
 * prove that it can tell a good firmware from a defective one: run the
 * suite on the boards of every firmware profile the lab holds (the virtual
 * rack's known-good and known-defective builds, or real boards a lab tags
 * the same way), then read the result store and ask, per profile and per
 * suite entry, whether a device failure was seen and after how many runs.
 * Narrative: docs/calibration.md.
 *
 * A board's profile is its `vars: {profile: P}`, else the first of its tags
 * that names a profile of the virtual firmware table (pl_vfw_profile_find).
 * Each profile's boards are selected by the tag P (pl_engine_opts.tags), so
 * a board whose vars name a profile must also carry it as a tag. The
 * profile `good` is the reference: it must show no device failure at all.
 * Any other profile is defective; a name the table does not know is taken
 * as defective with defect "(unknown profile)".
 *
 * The lab is FIT to gate a release when every defective profile is
 * detected by at least one suite entry, `good` (when present) shows no
 * device failure, and no run anywhere ended lab-error or never ended.
 * NOT FIT when `good` failed, or a defective profile was missed although
 * all its runs gave a device verdict. Otherwise (lab errors, a profile's
 * suite that could not run) the calibration is INCONCLUSIVE.
 *
 * Threads: one thread; pl_calib_run() blocks for the whole calibration and
 * sets the environment variable PROFILE for each profile's suite (the
 * suites name their images with ${PROFILE}): call it from the CLI only.
 */
#ifndef PATCHLAB_CALIBRATE_H
#define PATCHLAB_CALIBRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patchlab/strbuf.h"
#include "patchlab/verdict.h"

/* The shipped suite calibrate runs when none is given. */
#define PL_CALIB_DEFAULT_SUITE "scenarios/suites/release.yaml"
/* Where the per-profile stores and logs go when no out_dir is given. */
#define PL_CALIB_DEFAULT_OUT "runs/calibrate"

enum pl_calib_verdict {
	PL_CALIB_FIT,          /* exit 0 */
	PL_CALIB_NOT_FIT,      /* exit 1: a defect missed, or good failed */
	PL_CALIB_INCONCLUSIVE, /* exit 2: lab errors */
};

/* "fit", "not fit", "inconclusive". */
const char *pl_calib_verdict_name(enum pl_calib_verdict v);

/*
 * Told before (done = false) and after (done = true, exit_code = what
 * pl_engine_run returned) each profile's suite run. The engine prints its
 * run table on stdout: the CLI uses this to send it to a log file.
 */
typedef void (*pl_calib_profile_fn)(void *user_data, const char *profile,
				    size_t nboards, const char *out_dir,
				    bool done, int exit_code);

struct pl_engine_output;

struct pl_calib_opts {
	const char *lab_path;   /* required */
	const char *suite_path; /* NULL: PL_CALIB_DEFAULT_SUITE */
	const char *out_dir;    /* NULL: PL_CALIB_DEFAULT_OUT; one
				 * OUT/PROFILE/ (store, console logs) each */
	/* One result store for every profile (the one other controllers
	 * take their board leases in); NULL: OUT/PROFILE/patchlab.db each.
	 * A profile's suite is then the newest one recorded after its run
	 * started. */
	const char *db_path;
	uint64_t seed;          /* base seed of every profile's suite */
	bool has_seed;          /* else drawn once, the same for all */
	/* what each profile's suite shows (progress, table, gate); NULL:
	 * nothing */
	const struct pl_engine_output *output;
	pl_calib_profile_fn on_profile; /* may be NULL */
	void *user_data;
};

struct pl_calib;

/*
 * Calibrate: find the lab's profiles, run the suite on each one's boards,
 * read each profile's store and build the matrix. Returns 0 with *out set
 * (free it with pl_calib_free()) whatever the verdict; -PL_ECONFIG when
 * the lab or suite does not load, or no board has a profile (the reasons
 * printed on stderr as FILE:LINE:COL), -ENOMEM, or the store's error.
 */
int pl_calib_run(const struct pl_calib_opts *o, struct pl_calib **out);

/* Accepts NULL. */
void pl_calib_free(struct pl_calib *c);

enum pl_calib_verdict pl_calib_verdict(const struct pl_calib *c);

/* The process exit code of the verdict (patchlab/exit.h): 0, 1 or 2. */
int pl_calib_exit_code(const struct pl_calib *c);

/* The base seed every profile's suite ran with. */
uint64_t pl_calib_seed(const struct pl_calib *c);

/* ------------------------------------------------------------ matrix */

/* One cell: a profile's runs of one suite entry. */
struct pl_calib_cell {
	unsigned long runs;     /* runs of the entry on the profile's boards */
	unsigned long failures; /* bricked + recovered + fail */
	unsigned long lab_errors; /* lab-error or never ended */
	/* 1-based position (runs in id order) of the first run with a device
	 * failure; 0 when none */
	unsigned long first;
};

struct pl_calib_profile {
	const char *name;
	const char *defect;     /* from the profile table */
	bool reference;         /* `good` */
	size_t nboards;
	int engine_exit;        /* what the suite run returned */
	const char *gate;       /* the stored suite gate: "pass", "fail",
				 * "error", or "-" when it never ran */
	int64_t suite_id;       /* in OUT/PROFILE/patchlab.db; 0 if none */
	unsigned long counts[PL_VERDICT_COUNT]; /* closed runs per verdict */
	unsigned long runs, failures, lab_errors;
	bool detected;          /* defective: some entry failed a device */
	const char *why;        /* one line: this profile's part of the verdict */
};

/* Suite entries (matrix rows), in suite order, and profiles (columns), in
 * the profile table's order. Borrowed, valid until pl_calib_free(). */
size_t pl_calib_nentries(const struct pl_calib *c);
/* "bad_image.lua image=corrupt" */
const char *pl_calib_entry_label(const struct pl_calib *c, size_t i);
size_t pl_calib_nprofiles(const struct pl_calib *c);
const struct pl_calib_profile *pl_calib_profile_at(const struct pl_calib *c,
						   size_t p);
const struct pl_calib_cell *pl_calib_cell(const struct pl_calib *c,
					  size_t entry, size_t profile);

/*
 * Append the matrix and the verdict as text: one row per suite entry, one
 * column per profile, each cell `detected (n)` (n = runs of that entry
 * until the first device failure), `-` (none), or `lab-error` (no device
 * verdict at all); then each profile's defect, runs and gate, and the
 * verdict with its reasons.
 */
int pl_calib_text(const struct pl_calib *c, struct pl_strbuf *out);

/*
 * Append the JSON document (docs/calibration.md): {"lab", "suite", "seed",
 * "verdict", "fit", "exit_code", "reasons": [...], "entries": [...],
 * "profiles": [{"name", "defect", "reference", "boards", "gate",
 * "engine_exit", "suite_id", "db", "verdicts": {...}, "detected",
 * "cells": [{"entry", "runs", "failures", "lab_errors", "first_detection"
 * (null when none), "detected"}]}]}.
 */
int pl_calib_json(const struct pl_calib *c, struct pl_strbuf *out);

/* pl_calib_json() into path, atomically (temporary file + rename).
 * Returns 0, -ENOMEM or -errno of the file. Blocking I/O. */
int pl_calib_write_json(const struct pl_calib *c, const char *path);

#endif
