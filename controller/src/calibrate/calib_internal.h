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

/* Append a reason line (printf-style); -ENOMEM. */
int calib_reason(struct pl_calib *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
