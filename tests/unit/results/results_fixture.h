/* SPDX-License-Identifier: MIT */
/* A recorded suite for the report tests: two board types, three scenarios, a
 * brick window, a lab-error, a run that never ended, console logs full of
 * bytes XML forbids. */
#ifndef RESULTS_FIXTURE_H
#define RESULTS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "patchlab/store.h"

struct results_fixture {
	int64_t suite_id;
	size_t runs;      /* every run recorded */
	size_t cuts;      /* runs with a cut point */
	size_t failures;  /* bricked + recovered + fail */
	size_t errors;    /* lab-error */
	size_t skipped;   /* never ended */
	size_t scenarios;
	size_t board_types;
	int64_t bricked_run; /* one bricked run, with events and a console log */
};

/* Record the suite in st, console logs under dir. Returns 0 or a code. */
int results_fixture_populate(struct pl_store *st, const char *dir,
			     struct results_fixture *fx);

#endif
