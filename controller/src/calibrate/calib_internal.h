/* SPDX-License-Identifier: MIT */
/*
 * What calibrate.c (the runs, the store) shares with calib_report.c (text
 * and JSON). Not installed.
 */
#ifndef PATCHLAB_CALIB_INTERNAL_H
#define PATCHLAB_CALIB_INTERNAL_H

#include <jansson.h>

#include "patchlab/calibrate.h"

/* One suite entry (a row of the matrix). */
struct calib_entry {
	char *label;     /* "bad_image.lua image=corrupt" */
	char *chunk;     /* the scenario as the store names it */
	json_t *params;  /* the entry's params as the engine records them */
	bool sweep;      /* its runs carry a cut point or the learning flag */
};

struct pl_calib {
	char *lab_path, *suite_path, *out_dir;
	uint64_t seed;
	struct calib_entry *entries;
	size_t nentries;
	struct pl_calib_profile *profiles;
	char **profile_db;      /* OUT/PROFILE/patchlab.db, per profile */
	size_t nprofiles;
	/* nentries x nprofiles, entry-major */
	struct pl_calib_cell *cells;
	/* runs that matched no entry (a suite edited since), per profile */
	unsigned long *unmatched;
	enum pl_calib_verdict verdict;
	char **reasons;         /* one line each */
	size_t nreasons;
};

/*
 * The steps of pl_calib_run(), apart so tests can feed a calibration from
 * stores they wrote (tests/unit/calibrate). In order: profiles, entries,
 * cells, one read per profile, the decision. Each returns 0 or a negative
 * code.
 */
struct pl_suite;
/* Add a profile (or count one more board of it), in the table's order. */
int calib_add_profile(struct pl_calib *c, const char *name);
/* The suite's entries: labels, chunk names, params as the engine records. */
int calib_load_entries(struct pl_calib *c, const struct pl_suite *s);
/* Cells, per-profile counters and store paths, once profiles and entries
 * are known. */
int calib_alloc_cells(struct pl_calib *c);
/* Read profile pi's runs from db: the newest suite if its id > before. */
int calib_read_profile(struct pl_calib *c, size_t pi, const char *db,
		       int64_t before);
/* Each profile's `why`, the reasons and the verdict. */
int calib_decide(struct pl_calib *c);

/* Append a reason line (printf-style); -ENOMEM. */
int calib_reason(struct pl_calib *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
