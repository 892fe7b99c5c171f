/* SPDX-License-Identifier: MIT */
/* Helpers shared by the files of pl_results; never installed. */
#ifndef PL_RESULTS_INTERNAL_H
#define PL_RESULTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "patchlab/strbuf.h"
#include "patchlab/verdict.h"

/* The cut point as the JSON object stored in runs.cut:
 * {"phase", "op_index", "phi", "kind", "aimed_by"} (kind/aimed_by omitted
 * when NULL). Returns a new reference or NULL on -ENOMEM. */
json_t *pl_cut_to_json(const struct pl_cut_point *c);

/* Parse runs.cut into c with malloc'ed strings (free with pl_cut_clear()).
 * Unknown or missing fields leave defaults (phase none, op_index -1). */
int pl_cut_from_text(const char *text, struct pl_cut_point *c);
void pl_cut_clear(struct pl_cut_point *c);


/*
 * The last max bytes (at most) of the file at path, starting on a UTF-8
 * character boundary, and at a line start when one is within 256 bytes.
 * *out is malloc'ed (len in *len); -ENOENT etc. when unreadable.
 */
int pl_file_tail(const char *path, size_t max, char **out, size_t *len);

/*
 * Append text to out escaped for XML 1.0 / HTML character data and attribute
 * values: & < > " ' become entities; bytes that XML forbids (C0 controls
 * other than tab, LF, CR; DEL is allowed but shown) and invalid UTF-8 become
 * the visible text "\xNN" so nothing is silently lost.
 */
int pl_xml_escape(struct pl_strbuf *out, const char *text, size_t len);
int pl_xml_escape_str(struct pl_strbuf *out, const char *text);

/* "2026-11-21T20:11:10" (UTC) for a wall-clock time in ns. */
void pl_iso8601(uint64_t wall_ns, char buf[32]);

#endif
