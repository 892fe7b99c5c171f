/* SPDX-License-Identifier: MIT */
/*
 * Report writers: a suite from the result store as JUnit XML (for CI), JSON
 * (for machines) and one self-contained HTML page (for people: the gate, the
 * verdict matrix, the cut map, every failing run). Formats: docs/results.md.
 *
 * Each writer appends to a pl_strbuf; pl_report_write() puts one in a file
 * atomically (temporary file + rename). They read the store and the runs'
 * console log files, never modify them. Blocking file I/O: call them off the
 * event loop (from the CLI, or at suite end).
 */
#ifndef PATCHLAB_REPORT_H
#define PATCHLAB_REPORT_H

#include <stdint.h>

#include "patchlab/gate.h"
#include "patchlab/store.h"
#include "patchlab/strbuf.h"

/* How much of a run's console log the reports quote: its last bytes. */
#define PL_REPORT_CONSOLE_TAIL 4096

enum pl_report_format {
	PL_REPORT_JUNIT,
	PL_REPORT_JSON,
	PL_REPORT_HTML,
};

/* "junit", "json", "html"; parse returns 0 or -EINVAL. */
const char *pl_report_format_name(enum pl_report_format f);
int pl_report_format_parse(const char *s, enum pl_report_format *out);

/*
 * JUnit XML: <testsuites> for the suite, one <testsuite> per scenario, one
 * <testcase> per run named "BOARD: CUT POINT"; <failure> for bricked,
 * recovered and fail, <error> for lab-error, <skipped> with a message for a
 * run that never ended; the console tail in <system-out>. Valid against
 * tests/data/junit/junit.xsd.
 */
int pl_report_junit(const struct pl_gate *g, struct pl_strbuf *out);

/* JSON: {"suite", "gate": {...groups}, "runs": [...]} (docs/results.md). */
int pl_report_json(const struct pl_gate *g, struct pl_strbuf *out);

/*
 * One HTML page, inline CSS and SVG, no script, no network: the gate, the
 * verdict matrix (board type x scenario), the cut map per board type (one
 * <rect class="cut v-VERDICT" data-run="ID"> per run with a cut point), and
 * each failing run with its cut point, reason, events, console tail and
 * replay command. The store is read again for the failing runs' events.
 */
int pl_report_html(struct pl_store *st, const struct pl_gate *g,
		   struct pl_strbuf *out);

/*
 * The parts of that page that `patchlab serve` shows too, so a suite reads
 * the same in the report and in the web console (one rendering, not two):
 *   pl_report_html_css()   the page's style sheet (static text);
 *   pl_report_html_gate()  the gate banner: <header id="gate" ...>;
 *   pl_report_html_suite() the gate per group, the verdict matrix
 *                          (id="verdict-matrix") and the cut map
 *                          (id="cutmap"), as HTML elements to put in <main>.
 * Every string from the store is escaped and the output is valid UTF-8
 * (invalid bytes of the input appear as the text "\xNN").
 */
const char *pl_report_html_css(void);
int pl_report_html_gate(const struct pl_gate *g, struct pl_strbuf *out);
int pl_report_html_suite(const struct pl_gate *g, struct pl_strbuf *out);

/*
 * Compute the gate of suite_id (th may be NULL) and write the report in
 * format fmt to path, atomically. Returns 0 or a negative code (-ENOENT for
 * an unknown suite, -errno for the file).
 */
int pl_report_write(struct pl_store *st, int64_t suite_id,
		    const struct pl_gate_thresholds *th,
		    enum pl_report_format fmt, const char *path);

#endif
