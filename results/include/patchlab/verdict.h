/* SPDX-License-Identifier: MIT */
/*
 * Verdicts and cut points: the vocabulary every result speaks
 * (docs/results.md, ../shared/design/FAULT-MODEL.md).
 *
 * The names returned by pl_verdict_name() and pl_cut_phase_name() are written
 * to the result store, JUnit, JSON and HTML files: never rename one, only add.
 */
#ifndef PATCHLAB_VERDICT_H
#define PATCHLAB_VERDICT_H

#include <stdbool.h>

/* Each run ends in exactly one verdict. The order is the order of the
 * columns in every report; NB: keep pl_verdict_name()'s table in step. */
enum pl_verdict {
	PL_VERDICT_PASS,        /* booted the expected image */
	PL_VERDICT_ROLLED_BACK, /* booted the previous image: no brick */
	PL_VERDICT_BRICKED,     /* no image boots within the board's timeout */
	PL_VERDICT_RECOVERED,   /* bricked, restored only through the probe */
	PL_VERDICT_FAIL,        /* another scenario assertion failed */
	PL_VERDICT_LAB_ERROR,   /* the lab failed, not the device */
	PL_VERDICT_NOT_RUN,     /* never started: board quarantined or set
	                         * aside, lease lost, suite stopped; the
	                         * reason says which */
	PL_VERDICT_COUNT
};

/* "pass", "rolled-back", "bricked", "recovered", "fail", "lab-error",
 * "not-run";
 * "?" for an out-of-range value. Static strings. */
const char *pl_verdict_name(enum pl_verdict v);

/* Parse a verdict name; returns 0 or -EINVAL. */
int pl_verdict_parse(const char *s, enum pl_verdict *out);

/* bricked or recovered: both count as a device brick in the brick rate. */
bool pl_verdict_is_brick(enum pl_verdict v);

/* bricked, recovered or fail: the device failed (a lab-error is not). */
bool pl_verdict_is_failure(enum pl_verdict v);

/* Where a cut lands relative to flash operation k. */
enum pl_cut_phase {
	PL_CUT_NONE,   /* the run had no power cut */
	PL_CUT_BEFORE, /* before operation k starts */
	PL_CUT_DURING, /* at fraction phi of operation k: torn write, half erase */
	PL_CUT_AFTER,  /* after k completes, before the software records it */
};

/* "none", "before", "during", "after". Static strings. */
const char *pl_cut_phase_name(enum pl_cut_phase p);
/* Returns 0 or -EINVAL. */
int pl_cut_phase_parse(const char *s, enum pl_cut_phase *out);

/*
 * A cut point (FAULT-MODEL.md "Where a cut can land"). Strings are borrowed
 * when the struct is passed in; in rows read back from the store they are
 * owned by the row (freed with the row's free function).
 */
struct pl_cut_point {
	enum pl_cut_phase phase;
	long op_index;        /* k, the flash operation index; -1 unknown */
	double phi;           /* fraction of operation k, for PL_CUT_DURING */
	const char *kind;     /* operation kind: "erase", "program", "trailer"; may be NULL */
	const char *aimed_by; /* "console", "probe", "transfer", "progress",
	                       * "time", "random"; may be NULL */
};

struct pl_strbuf;

/* Append "during op 12 (erase) phi=0.50, aimed by probe", "during the
 * update, aimed by console" (no operation index), or "no cut". */
int pl_cut_describe(const struct pl_cut_point *c, struct pl_strbuf *out);

#endif
