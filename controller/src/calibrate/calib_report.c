/* SPDX-License-Identifier: MIT */
/*
 * The calibration as text (the detection matrix, each profile's defect,
 * the verdict) and as JSON (docs/calibration.md "JSON").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib_internal.h"

/* Widest entry label shown; longer ones are cut with "...". */
#define LABEL_MAX 60

/* What a cell shows: "detected (n)", "-", "lab-error", "not run". */
static void cell_text(const struct pl_calib_profile *p,
		      const struct pl_calib_cell *cell, char *out, size_t n)
{
	if (cell->failures)
		snprintf(out, n, "%s (%lu)", p->reference ? "FAILED" : "detected",
			 cell->first);
	else if (cell->runs == 0)
		snprintf(out, n, "not run");
	else if (cell->lab_errors == cell->runs)
		snprintf(out, n, "lab-error");
	else
		snprintf(out, n, "-");
}

static int put_label(struct pl_strbuf *sb, size_t i, const char *label,
		     int width)
{
	size_t len = strlen(label);

	if (len <= LABEL_MAX)
		return pl_strbuf_printf(sb, "%3zu %-*s", i + 1, width, label);
	return pl_strbuf_printf(sb, "%3zu %.*s...%*s", i + 1, LABEL_MAX - 3,
				label, width - LABEL_MAX, "");
}

int pl_calib_text(const struct pl_calib *c, struct pl_strbuf *out)
{
	int lw = 5, err, *cw;
	char buf[64];

	cw = calloc(c->nprofiles + 1, sizeof(*cw));
	if (!cw)
		return -ENOMEM;
	for (size_t e = 0; e < c->nentries; e++) {
		size_t l = strlen(c->entries[e].label);

		if ((int)l > lw)
			lw = l > LABEL_MAX ? LABEL_MAX : (int)l;
	}
	for (size_t p = 0; p < c->nprofiles; p++) {
		cw[p] = (int)strlen(c->profiles[p].name);
		for (size_t e = 0; e < c->nentries; e++) {
			cell_text(&c->profiles[p], pl_calib_cell(c, e, p), buf,
				  sizeof(buf));
			if ((int)strlen(buf) > cw[p])
				cw[p] = (int)strlen(buf);
		}
	}
	err = pl_strbuf_printf(out, "calibration of lab %s with suite %s "
			       "(seed %" PRIu64 ")\n\n", c->lab_path,
			       c->suite_path, c->seed);
	err = err ? err : pl_strbuf_printf(out, "%3s %-*s", "#", lw, "suite entry");
	for (size_t p = 0; !err && p < c->nprofiles; p++)
		err = pl_strbuf_printf(out, "  %-*s",
				       p + 1 < c->nprofiles ? cw[p] : 0,
				       c->profiles[p].name);
	err = err ? err : pl_strbuf_puts(out, "\n");
	for (size_t e = 0; !err && e < c->nentries; e++) {
		err = put_label(out, e, c->entries[e].label, lw);
		for (size_t p = 0; !err && p < c->nprofiles; p++) {
			cell_text(&c->profiles[p], pl_calib_cell(c, e, p), buf,
				  sizeof(buf));
			/* no trailing blanks after the last column */
			err = pl_strbuf_printf(out, "  %-*s",
					       p + 1 < c->nprofiles ? cw[p] : 0, buf);
		}
		err = err ? err : pl_strbuf_puts(out, "\n");
	}
	err = err ? err : pl_strbuf_printf(out, "%3s %-*s", "", lw, "runs");
	for (size_t p = 0; !err && p < c->nprofiles; p++)
		err = pl_strbuf_printf(out, "  %-*lu",
				       p + 1 < c->nprofiles ? cw[p] : 0,
				       c->profiles[p].runs);
	err = err ? err : pl_strbuf_printf(out, "\n%3s %-*s", "", lw, "gate");
	for (size_t p = 0; !err && p < c->nprofiles; p++)
		err = pl_strbuf_printf(out, "  %-*s",
				       p + 1 < c->nprofiles ? cw[p] : 0,
				       c->profiles[p].gate);
	err = err ? err : pl_strbuf_puts(out, "\n\n(detected (n): a device failure "
		"-- bricked, recovered or fail -- first in the n-th run of the "
		"entry; -: none)\n\nprofiles:\n");
	for (size_t p = 0; !err && p < c->nprofiles; p++) {
		const struct pl_calib_profile *pr = &c->profiles[p];

		err = pl_strbuf_printf(out, "  %-16s %s%s\n  %-16s %s\n", pr->name,
				       pr->reference ? "(reference) " : "defect: ",
				       pr->defect, "", pr->why ? pr->why : "");
		if (!err && c->unmatched[p])
			err = pl_strbuf_printf(out, "  %-16s %lu run(s) matched no "
					       "entry of the suite\n", "",
					       c->unmatched[p]);
	}
	if (!err) {
		switch (c->verdict) {
		case PL_CALIB_FIT:
			err = pl_strbuf_puts(out, "\nFIT: the lab can gate a release "
					     "with this suite: every defective "
					     "profile was detected and the good "
					     "firmware showed no device failure\n");
			break;
		case PL_CALIB_NOT_FIT:
			err = pl_strbuf_puts(out, "\nNOT FIT: the lab cannot gate a "
					     "release with this suite:\n");
			break;
		case PL_CALIB_INCONCLUSIVE:
			err = pl_strbuf_puts(out, "\nINCONCLUSIVE: the lab failed "
					     "where it should have judged a "
					     "device:\n");
			break;
		}
	}
	for (size_t i = 0; !err && i < c->nreasons; i++)
		err = pl_strbuf_printf(out, "  - %s\n", c->reasons[i]);
	free(cw);
	return err;
}

/* ---------------------------------------------------------------- JSON */

static json_t *profile_json(const struct pl_calib *c, size_t p)
{
	const struct pl_calib_profile *pr = &c->profiles[p];
	json_t *j, *verdicts, *cells;

	verdicts = json_object();
	for (int v = 0; verdicts && v < PL_VERDICT_COUNT; v++)
		json_object_set_new(verdicts, pl_verdict_name(v),
				    json_integer((json_int_t)pr->counts[v]));
	cells = json_array();
	for (size_t e = 0; cells && e < c->nentries; e++) {
		const struct pl_calib_cell *cell = pl_calib_cell(c, e, p);

		json_array_append_new(cells, json_pack(
			"{s:I,s:s,s:I,s:I,s:I,s:o,s:b}",
			"entry", (json_int_t)e + 1,
			"label", c->entries[e].label,
			"runs", (json_int_t)cell->runs,
			"failures", (json_int_t)cell->failures,
			"lab_errors", (json_int_t)cell->lab_errors,
			"first_detection", cell->first
				? json_integer((json_int_t)cell->first) : json_null(),
			"detected", cell->failures > 0));
	}
	j = json_pack("{s:s,s:s,s:b,s:I,s:s,s:i,s:I,s:s,s:I,s:I,s:I,s:I,s:b,s:s}",
		      "name", pr->name, "defect", pr->defect,
		      "reference", pr->reference,
		      "boards", (json_int_t)pr->nboards,
		      "gate", pr->gate,
		      "engine_exit", pr->engine_exit,
		      "suite_id", (json_int_t)pr->suite_id,
		      "db", c->profile_db && c->profile_db[p] ? c->profile_db[p] : "",
		      "runs", (json_int_t)pr->runs,
		      "failures", (json_int_t)pr->failures,
		      "lab_errors", (json_int_t)pr->lab_errors,
		      "unmatched_runs", (json_int_t)c->unmatched[p],
		      "detected", pr->detected,
		      "why", pr->why ? pr->why : "");
	if (!j || !verdicts || !cells) {
		json_decref(j);
		json_decref(verdicts);
		json_decref(cells);
		return NULL;
	}
	json_object_set_new(j, "verdicts", verdicts);
	json_object_set_new(j, "cells", cells);
	return j;
}

int pl_calib_json(const struct pl_calib *c, struct pl_strbuf *out)
{
	json_t *root, *entries, *profiles, *reasons;
	char *text;
	int err = -ENOMEM;

	root = json_pack("{s:s,s:s,s:I,s:s,s:b,s:i}", "lab", c->lab_path,
			 "suite", c->suite_path, "seed", (json_int_t)c->seed,
			 "verdict", pl_calib_verdict_name(c->verdict),
			 "fit", c->verdict == PL_CALIB_FIT,
			 "exit_code", pl_calib_exit_code(c));
	entries = json_array();
	profiles = json_array();
	reasons = json_array();
	if (!root || !entries || !profiles || !reasons)
		goto out_free;
	for (size_t e = 0; e < c->nentries; e++)
		if (json_array_append_new(entries, json_pack("{s:I,s:s,s:s,s:O}",
				"entry", (json_int_t)e + 1,
				"label", c->entries[e].label,
				"scenario", c->entries[e].chunk,
				"params", c->entries[e].params)))
			goto out_free;
	for (size_t p = 0; p < c->nprofiles; p++) {
		json_t *pj = profile_json(c, p);

		if (!pj || json_array_append_new(profiles, pj))
			goto out_free;
	}
	for (size_t i = 0; i < c->nreasons; i++)
		if (json_array_append_new(reasons, json_string(c->reasons[i])))
			goto out_free;
	json_object_set_new(root, "reasons", reasons);
	json_object_set_new(root, "entries", entries);
	json_object_set_new(root, "profiles", profiles);
	reasons = entries = profiles = NULL;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text) {
		err = pl_strbuf_puts(out, text);
		err = err ? err : pl_strbuf_puts(out, "\n");
		free(text);
	}
out_free:
	json_decref(reasons);
	json_decref(entries);
	json_decref(profiles);
	json_decref(root);
	return err;
}

int pl_calib_write_json(const struct pl_calib *c, const char *path)
{
	struct pl_strbuf sb = { 0 };
	char *tmp = NULL;
	FILE *f;
	int err = pl_calib_json(c, &sb);

	if (err)
		goto out_free;
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		err = -ENOMEM;
		goto out_free;
	}
	f = fopen(tmp, "w");
	if (!f) {
		err = -errno;
		goto out_free;
	}
	if (fwrite(sb.s, 1, sb.len, f) != sb.len)
		err = -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
out_free:
	free(tmp);
	pl_strbuf_free(&sb);
	return err;
}
