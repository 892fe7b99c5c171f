/* SPDX-License-Identifier: MIT */
/*
 * The HTML report: one self-contained page (inline CSS and SVG, no script,
 * no network) that a QA lead reads top to bottom: the gate, the verdict
 * matrix, the cut map, then every failing run. Every string that came from
 * a suite, a board, a scenario or a console is escaped.
 *
 * The cut map, per board type:
 *
 *        op index (the update timeline, first to last flash operation)
 *        k0    k0+1   ...                                   kN
 *   pass     |  ||  | ||   |    ||                      |  |
 *   bricked              ||||||||                               <- a band:
 *   ...                 [ shaded brick band ]                      the window
 *
 * A cut at (k, phase) sits at x = k + offset: before 0.05, during
 * 0.1 + 0.8 phi, after 0.95, so the cuts of one operation share its cell.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "patchlab/report.h"
#include "results_internal.h"

/* How many failing runs get a detailed section; the rest are listed. */
#define MAX_DETAILED 300
/* How many events of one run the timeline shows. */
#define MAX_EVENTS 200
/* The console excerpt of a failing run, in bytes. */
#define HTML_CONSOLE_TAIL 2048

/* Lanes of the cut map, top to bottom; "open" is a run that never ended. */
#define NLANES (PL_VERDICT_COUNT + 1)
static const char *const lane_names[NLANES] = {
	"pass", "rolled-back", "bricked", "recovered", "fail", "lab-error",
	"not-run", "open",
};

static const char css[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
	"margin:0;color:#1d2329;background:#f6f7f9}"
	"main{max-width:1240px;margin:0 auto;padding:0 20px 40px}"
	"h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #d5d9de;"
	"padding-bottom:4px}"
	".gate{padding:18px 24px;color:#fff}"
	".gate h1{margin:0;font-size:30px;letter-spacing:.5px}"
	".gate p{margin:4px 0 0;font-size:15px}"
	".gate-pass{background:#2e7d32}.gate-fail{background:#c62828}"
	".gate-error{background:#616161}"
	".gate-incomplete{background:#8d6e00}"
	"table{border-collapse:collapse;background:#fff;margin:6px 0}"
	"th,td{border:1px solid #d5d9de;padding:4px 8px;text-align:left;"
	"vertical-align:top}"
	"th{background:#eceff3;font-weight:600}"
	"td.num{text-align:right;font-variant-numeric:tabular-nums}"
	".res{font-weight:700}.res-pass{color:#2e7d32}.res-fail{color:#c62828}"
	".res-error{color:#616161}"
	".badge{display:inline-block;min-width:18px;padding:0 6px;margin:1px;"
	"border-radius:9px;color:#fff;font-size:12px;text-align:center}"
	".v-pass{background:#2e7d32;fill:#2e7d32}"
	".v-rolled-back{background:#0277bd;fill:#0277bd}"
	".v-bricked{background:#c62828;fill:#c62828}"
	".v-recovered{background:#ef6c00;fill:#ef6c00}"
	".v-fail{background:#6a1b9a;fill:#6a1b9a}"
	".v-lab-error{background:#757575;fill:#757575}"
	".v-not-run{background:#fff;fill:#fff;color:#616161;"
	"outline:1px dashed #616161}"
	".v-open{background:#b0b7bf;fill:#b0b7bf}"
	"figure{margin:12px 0}figcaption{margin-bottom:4px}"
	"svg{background:#fff;border:1px solid #d5d9de;width:100%;height:auto}"
	"svg text{font:11px system-ui,sans-serif;fill:#39424c}"
	"svg .lane{fill:#f6f7f9}svg .axis{stroke:#8a939c;stroke-width:1}"
	"svg .brick-band{fill:#c62828;fill-opacity:.12}"
	"svg .cut{fill-opacity:.75}"
	"pre{background:#1e2329;color:#e8eaed;padding:8px 10px;overflow-x:auto;"
	"white-space:pre-wrap;word-break:break-all;font-size:12px;"
	"border-radius:4px}"
	"pre.console{max-height:22em;overflow-y:auto}"
	"pre.statement{background:#fff;color:#1d2329;border:1px solid #d5d9de}"
	"article.run{background:#fff;border:1px solid #d5d9de;"
	"border-left:6px solid #c62828;padding:4px 14px 10px;margin:12px 0}"
	"article.run h3{margin:8px 0}"
	"dl{display:grid;grid-template-columns:120px 1fr;gap:2px 10px;margin:0}"
	"dt{font-weight:600}dd{margin:0}"
	"code{font-size:12px}"
	".legend span{margin-right:10px}"
	".note{color:#5f6b76}";

static int esc(struct pl_strbuf *out, const char *s)
{
	return pl_xml_escape_str(out, s ? s : "");
}

/* ------------------------------------------------------------ header */

static int html_limits(struct pl_strbuf *out,
		       const struct pl_gate_thresholds *th)
{
	int rc = pl_strbuf_puts(out, "</table>\n<p class=\"note\">");

	if (th->max_brick_rate >= 1 && th->min_cuts == 0)
		rc = rc ? rc : pl_strbuf_puts(out, "No thresholds given: any brick "
					  "or failure fails the gate.");
	else
		rc = rc ? rc : pl_strbuf_printf(out, "Thresholds: brick-rate bound "
					    "at most %.3g, at least %lu cuts "
					    "per group.", th->max_brick_rate,
					    th->min_cuts);
	return rc ? rc : pl_strbuf_puts(out, " Bricks = bricked + recovered; "
				    "lab-errors and runs not run are not cuts; "
				    "a suite with either is INCOMPLETE.</p>\n");
}

static int html_banner(struct pl_strbuf *out, const struct pl_gate *g)
{
	const struct pl_suite_row *s = pl_gate_suite(g);
	const char *res = pl_gate_result_name(pl_gate_result(g));
	char ts[32];
	int rc;

	pl_iso8601(s->started_ns, ts);
	rc = pl_strbuf_printf(out, "<header id=\"gate\" class=\"gate gate-%s\" "
			      "data-gate=\"%s\"><h1>GATE ", res, res);
	for (const char *p = res; *p && rc == 0; p++)
		rc = pl_strbuf_printf(out, "%c", *p - 'a' + 'A');
	rc = rc ? rc : pl_strbuf_puts(out, " &mdash; ");
	rc = rc ? rc : esc(out, s->name);
	rc = rc ? rc : pl_strbuf_puts(out, "</h1><p>");
	rc = rc ? rc : esc(out, pl_gate_why(g));
	rc = rc ? rc : pl_strbuf_printf(out, "</p><p>suite #%lld, started %s UTC, "
				    "seed %llu", (long long)s->id, ts,
				    (unsigned long long)s->seed);
	if (s->file) {
		rc = rc ? rc : pl_strbuf_puts(out, ", file ");
		rc = rc ? rc : esc(out, s->file);
	}
	return rc ? rc : pl_strbuf_puts(out, "</p></header>\n");
}

/* The per-group table, the thresholds and the gate statement. */
static int html_groups(struct pl_strbuf *out, const struct pl_gate *g)
{
	struct pl_strbuf stmt = { 0 };
	int rc;

	rc = pl_strbuf_printf(out, "<h2>Release gate per board type and "
				    "image</h2>\n<table id=\"groups\"><tr>"
				    "<th>board type</th><th>image</th>"
				    "<th>result</th><th>cuts</th>"
				    "<th>bricks</th><th>%.0f%% bound on brick "
				    "rate</th><th>why</th></tr>\n",
				    pl_gate_thresholds(g)->confidence * 100);
	for (size_t i = 0; i < pl_gate_ngroups(g) && rc == 0; i++) {
		const struct pl_gate_group *gr = pl_gate_group(g, i);
		const char *r = pl_gate_result_name(gr->result);

		rc = pl_strbuf_puts(out, "<tr><td>");
		rc = rc ? rc : esc(out, gr->board_type);
		rc = rc ? rc : pl_strbuf_puts(out, "</td><td>");
		rc = rc ? rc : esc(out, gr->image);
		rc = rc ? rc : pl_strbuf_printf(out, "</td><td class=\"res res-%s\">"
					    "%s</td><td class=\"num\">%lu</td>"
					    "<td class=\"num\">%lu</td>"
					    "<td class=\"num\">%.3g</td><td>",
					    r, r, gr->trials, gr->bricks,
					    gr->upper);
		rc = rc ? rc : esc(out, gr->why);
		rc = rc ? rc : pl_strbuf_puts(out, "</td></tr>\n");
	}
	rc = rc ? rc : html_limits(out, pl_gate_thresholds(g));
	rc = rc ? rc : pl_gate_statement(g, &stmt);
	rc = rc ? rc : pl_strbuf_puts(out, "<details><summary>Gate statement "
				  "(text)</summary><pre class=\"statement\">");
	rc = rc ? rc : esc(out, stmt.s);
	rc = rc ? rc : pl_strbuf_puts(out, "</pre></details>\n");
	pl_strbuf_free(&stmt);
	return rc;
}

/* ------------------------------------------------------------ matrix */

/* Distinct values of a run field, first appearance order. */
static int distinct(const struct pl_run_row *runs, size_t n, bool types,
		    const char ***out, size_t *count)
{
	const char **v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s = types ? runs[i].board_type : runs[i].scenario;
		size_t j = 0;

		while (j < k && strcmp(v[j], s) != 0)
			j++;
		if (j == k)
			v[k++] = s;
	}
	*out = v;
	*count = k;
	return 0;
}

static size_t lane_of(const struct pl_run_row *r)
{
	return r->open ? PL_VERDICT_COUNT : (size_t)r->verdict;
}

static int html_legend(struct pl_strbuf *out)
{
	int rc = pl_strbuf_puts(out, "<p class=\"legend\">");

	for (size_t l = 0; l < NLANES && rc == 0; l++)
		rc = pl_strbuf_printf(out, "<span><span class=\"badge v-%s\">"
				      "&nbsp;</span> %s</span>", lane_names[l],
				      lane_names[l]);
	return rc ? rc : pl_strbuf_puts(out, "</p>\n");
}

static int html_matrix(struct pl_strbuf *out, const struct pl_gate *g)
{
	const struct pl_run_row *runs;
	const char **types = NULL, **scen = NULL;
	size_t n, nt = 0, ns = 0;
	int rc;

	runs = pl_gate_runs(g, &n);
	rc = distinct(runs, n, true, &types, &nt);
	rc = rc ? rc : distinct(runs, n, false, &scen, &ns);
	rc = rc ? rc : pl_strbuf_puts(out, "<h2>Verdict matrix</h2>\n<table "
				  "id=\"verdict-matrix\" class=\"matrix\">"
				  "<tr><th>board type \\ scenario</th>");
	for (size_t j = 0; j < ns && rc == 0; j++) {
		rc = pl_strbuf_puts(out, "<th>");
		rc = rc ? rc : esc(out, scen[j]);
		rc = rc ? rc : pl_strbuf_puts(out, "</th>");
	}
	rc = rc ? rc : pl_strbuf_puts(out, "</tr>\n");
	for (size_t i = 0; i < nt && rc == 0; i++) {
		rc = pl_strbuf_puts(out, "<tr><th>");
		rc = rc ? rc : esc(out, types[i]);
		rc = rc ? rc : pl_strbuf_puts(out, "</th>");
		for (size_t j = 0; j < ns && rc == 0; j++) {
			unsigned long c[NLANES] = { 0 };

			for (size_t k = 0; k < n; k++)
				if (strcmp(runs[k].board_type, types[i]) == 0 &&
				    strcmp(runs[k].scenario, scen[j]) == 0)
					c[lane_of(&runs[k])]++;
			rc = pl_strbuf_puts(out, "<td class=\"cell\">");
			for (size_t l = 0; l < NLANES && rc == 0; l++)
				if (c[l])
					rc = pl_strbuf_printf(out,
						"<span class=\"badge v-%s\" "
						"title=\"%s\">%lu</span>",
						lane_names[l], lane_names[l],
						c[l]);
			rc = rc ? rc : pl_strbuf_puts(out, "</td>");
		}
		rc = rc ? rc : pl_strbuf_puts(out, "</tr>\n");
	}
	rc = rc ? rc : pl_strbuf_puts(out, "</table>\n");
	rc = rc ? rc : html_legend(out);
	free(types);
	free(scen);
	return rc;
}

/* ----------------------------------------------------------- cut map */

#define MAP_W 1180.0
#define MAP_LEFT 96.0
#define MAP_RIGHT 16.0
#define MAP_TOP 10.0
#define LANE_H 22.0
#define AXIS_H 34.0
#define UNKNOWN_W 28.0 /* a column left of the axis for op index unknown */

static double phase_offset(const struct pl_cut_point *c)
{
	switch (c->phase) {
	case PL_CUT_BEFORE: return 0.05;
	case PL_CUT_DURING: {
		double phi = c->phi < 0 ? 0 : c->phi > 1 ? 1 : c->phi;

		return 0.1 + 0.8 * phi;
	}
	case PL_CUT_AFTER: return 0.95;
	default: return 0.5;
	}
}

struct map_geom {
	long kmin, kmax;
	double x0, plot_w, scale; /* x = x0 + (pos - kmin) * scale */
};

static double map_x(const struct map_geom *m, double pos)
{
	return m->x0 + (pos - (double)m->kmin) * m->scale;
}

/* Shade every run of adjacent op indexes that hold a brick. */
static int map_bands(struct pl_strbuf *out, const struct map_geom *m,
		     const struct pl_run_row *runs, size_t n, const char *type,
		     double height)
{
	size_t span = (size_t)(m->kmax - m->kmin + 1);
	unsigned long *bricks = calloc(span, sizeof(*bricks));
	int rc = 0;

	if (!bricks)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (strcmp(runs[i].board_type, type) == 0 && !runs[i].open &&
		    runs[i].cut.phase != PL_CUT_NONE &&
		    runs[i].cut.op_index >= 0 &&
		    pl_verdict_is_brick(runs[i].verdict))
			bricks[runs[i].cut.op_index - m->kmin]++;
	for (size_t k = 0; k < span && rc == 0; k++) {
		size_t end = k;
		unsigned long total = 0;

		if (!bricks[k])
			continue;
		while (end < span && bricks[end])
			total += bricks[end++];
		rc = pl_strbuf_printf(out, "<rect class=\"brick-band\" x=\"%.1f\""
				      " y=\"%.1f\" width=\"%.1f\" "
				      "height=\"%.1f\"><title>brick window: "
				      "ops %ld&#8211;%ld, %lu brick(s)</title>"
				      "</rect>\n",
				      map_x(m, (double)(m->kmin + (long)k)),
				      MAP_TOP,
				      (double)(end - k) * m->scale, height,
				      m->kmin + (long)k,
				      m->kmin + (long)end - 1, total);
		k = end;
	}
	free(bricks);
	return rc;
}

static int map_axis(struct pl_strbuf *out, const struct map_geom *m,
		    double y, bool unknown)
{
	long span = m->kmax - m->kmin + 1;
	static const long nice[3] = { 1, 2, 5 };
	long base = 1, step;
	int i = 0, rc;

	/* ticks every 1, 2, 5, 10, 20, ... ops: at most a dozen labels */
	while (span / (nice[i] * base) > 12)
		if (++i == 3) {
			i = 0;
			base *= 10;
		}
	step = nice[i] * base;
	rc = pl_strbuf_printf(out, "<line class=\"axis\" x1=\"%.1f\" "
			      "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			      m->x0, y, m->x0 + m->plot_w, y);
	for (long k = m->kmin; k <= m->kmax + 1 && rc == 0; k += step) {
		double x = map_x(m, (double)k);

		rc = pl_strbuf_printf(out, "<line class=\"axis\" x1=\"%.1f\" "
				      "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				      "<text x=\"%.1f\" y=\"%.1f\" "
				      "text-anchor=\"middle\">%ld</text>\n",
				      x, y, x, y + 4, x, y + 16, k);
	}
	if (unknown)
		rc = rc ? rc : pl_strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" "
					    "text-anchor=\"middle\">?</text>\n",
					    MAP_LEFT + UNKNOWN_W / 2, y + 16);
	rc = rc ? rc : pl_strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" "
				    "text-anchor=\"middle\">flash operation "
				    "index (cut before | during | after "
				    "each op)</text>\n",
				    m->x0 + m->plot_w / 2, y + 30);
	return rc;
}

static int map_mark(struct pl_strbuf *out, const struct map_geom *m,
		    const struct pl_run_row *r, double mark_w)
{
	struct pl_strbuf cut = { 0 };
	size_t lane = lane_of(r);
	double x, y = MAP_TOP + (double)lane * LANE_H + 3;
	int rc;

	if (r->cut.op_index >= 0)
		x = map_x(m, (double)r->cut.op_index + phase_offset(&r->cut)) -
		    mark_w / 2;
	else
		x = MAP_LEFT + UNKNOWN_W / 2 - mark_w / 2;
	rc = pl_cut_describe(&r->cut, &cut);
	rc = rc ? rc : pl_strbuf_printf(out, "<rect class=\"cut v-%s\" "
				    "data-run=\"%lld\" data-op=\"%ld\" "
				    "data-phase=\"%s\" x=\"%.2f\" y=\"%.1f\" "
				    "width=\"%.2f\" height=\"%.1f\"><title>"
				    "run %lld, ",
				    lane_names[lane], (long long)r->id,
				    r->cut.op_index,
				    pl_cut_phase_name(r->cut.phase), x, y,
				    mark_w, LANE_H - 6, (long long)r->id);
	rc = rc ? rc : esc(out, r->board_id);
	rc = rc ? rc : pl_strbuf_puts(out, ", ");
	rc = rc ? rc : esc(out, r->scenario);
	rc = rc ? rc : pl_strbuf_puts(out, ": ");
	rc = rc ? rc : esc(out, cut.s);
	rc = rc ? rc : pl_strbuf_printf(out, " &#8594; %s</title></rect>\n",
				    lane_names[lane]);
	pl_strbuf_free(&cut);
	return rc;
}

static int map_one(struct pl_strbuf *out, const struct pl_run_row *runs,
		   size_t n, const char *type)
{
	struct map_geom m = { .kmin = -1, .kmax = -1 };
	unsigned long lanes[NLANES] = { 0 }, ncuts = 0, nocut = 0;
	bool unknown = false;
	double height = NLANES * LANE_H, mark_w;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct pl_run_row *r = &runs[i];

		if (strcmp(r->board_type, type) != 0)
			continue;
		if (r->cut.phase == PL_CUT_NONE) {
			nocut++;
			continue;
		}
		ncuts++;
		lanes[lane_of(r)]++;
		if (r->cut.op_index < 0) {
			unknown = true;
			continue;
		}
		if (m.kmin < 0 || r->cut.op_index < m.kmin)
			m.kmin = r->cut.op_index;
		if (r->cut.op_index > m.kmax)
			m.kmax = r->cut.op_index;
	}
	if (m.kmin < 0)
		m.kmin = m.kmax = 0;
	m.x0 = MAP_LEFT + (unknown ? UNKNOWN_W + 8 : 0);
	m.plot_w = MAP_W - MAP_RIGHT - m.x0;
	m.scale = m.plot_w / (double)(m.kmax - m.kmin + 1);
	mark_w = m.scale * 0.12;
	mark_w = mark_w < 2 ? 2 : mark_w > 10 ? 10 : mark_w;

	rc = pl_strbuf_puts(out, "<figure class=\"cutmap\" data-board-type=\"");
	rc = rc ? rc : esc(out, type);
	rc = rc ? rc : pl_strbuf_puts(out, "\"><figcaption><b>");
	rc = rc ? rc : esc(out, type);
	rc = rc ? rc : pl_strbuf_printf(out, "</b>: %lu cut(s) over operations "
				    "%ld&#8211;%ld", ncuts, m.kmin, m.kmax);
	if (nocut)
		rc = rc ? rc : pl_strbuf_printf(out, "; %lu run(s) without a cut "
					    "are not drawn", nocut);
	rc = rc ? rc : pl_strbuf_printf(out, "</figcaption>\n<svg xmlns=\"http://"
				    "www.w3.org/2000/svg\" width=\"%.0f\" "
				    "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
				    "role=\"img\">\n", MAP_W,
				    MAP_TOP + height + AXIS_H + 6, MAP_W,
				    MAP_TOP + height + AXIS_H + 6);
	for (size_t l = 0; l < NLANES && rc == 0; l++)
		rc = pl_strbuf_printf(out, "<rect class=\"lane\" x=\"%.1f\" "
				      "y=\"%.1f\" width=\"%.1f\" "
				      "height=\"%.1f\"/><text x=\"6\" "
				      "y=\"%.1f\">%s (%lu)</text>\n",
				      MAP_LEFT, MAP_TOP + (double)l * LANE_H + 1,
				      MAP_W - MAP_RIGHT - MAP_LEFT, LANE_H - 2,
				      MAP_TOP + (double)l * LANE_H + 15,
				      lane_names[l], lanes[l]);
	rc = rc ? rc : map_bands(out, &m, runs, n, type, height);
	rc = rc ? rc : map_axis(out, &m, MAP_TOP + height + 2, unknown);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (strcmp(runs[i].board_type, type) == 0 &&
		    runs[i].cut.phase != PL_CUT_NONE)
			rc = map_mark(out, &m, &runs[i], mark_w);
	rc = rc ? rc : pl_strbuf_puts(out, "</svg></figure>\n");
	return rc;
}

static int html_cutmap(struct pl_strbuf *out, const struct pl_gate *g)
{
	const struct pl_run_row *runs;
	const char **types = NULL;
	size_t n, nt = 0;
	int rc;

	runs = pl_gate_runs(g, &n);
	rc = distinct(runs, n, true, &types, &nt);
	rc = rc ? rc : pl_strbuf_puts(out, "<h2>Cut map</h2>\n<p class=\"note\">"
				  "One mark per cut, placed by the flash "
				  "operation it hit and coloured by verdict; "
				  "shaded columns are brick windows. Hover a "
				  "mark for its run.</p>\n<div id=\"cutmap\">\n");
	for (size_t i = 0; i < nt && rc == 0; i++)
		rc = map_one(out, runs, n, types[i]);
	rc = rc ? rc : pl_strbuf_puts(out, "</div>\n");
	free(types);
	return rc;
}

/* ---------------------------------------------------------- failures */

static bool is_failing(const struct pl_run_row *r)
{
	return r->open || r->verdict == PL_VERDICT_LAB_ERROR ||
	       r->verdict == PL_VERDICT_NOT_RUN ||
	       pl_verdict_is_failure(r->verdict);
}

/* "0.040 ms" reads as zero: small spans in microseconds. */
static const char *span(double ns, char buf[32])
{
	if (ns > -1e6 && ns < 1e6)
		snprintf(buf, 32, "%.1f &#181;s", ns / 1e3);
	else
		snprintf(buf, 32, "%.3f ms", ns / 1e6);
	return buf;
}

/* A readable line for the events whose payload we define (power, trigger);
 * nothing for the others, whose JSON is shown as it is. */
static int event_summary(struct pl_strbuf *out, const struct pl_event_row *e)
{
	json_t *o = json_loads(e->payload_json, 0, NULL);
	double req, iss, done, match, cmd;
	char b1[32], b2[32];
	int rc = 0;

	if (!o)
		return 0;
	req = (double)json_integer_value(json_object_get(o, "requested_ns"));
	iss = (double)json_integer_value(json_object_get(o, "issued_ns"));
	done = (double)json_integer_value(json_object_get(o, "completed_ns"));
	match = (double)json_integer_value(json_object_get(o, "match_ns"));
	cmd = (double)json_integer_value(json_object_get(o, "command_ns"));
	if (e->kind == PL_EV_POWER && req > 0) {
		rc = pl_strbuf_puts(out, "<b>power ");
		rc = rc ? rc : esc(out, json_string_value(json_object_get(o,
								      "cmd")));
		rc = rc ? rc : pl_strbuf_printf(out, "</b>: issued %s, "
					    "completed %s after the request<br>",
					    iss > 0 ? span(iss - req, b1) : "never",
					    done > 0 ? span(done - req, b2) :
						       "never");
	} else if (e->kind == PL_EV_TRIGGER && match > 0) {
		rc = pl_strbuf_puts(out, "<b>trigger ");
		rc = rc ? rc : esc(out, json_string_value(json_object_get(o,
								      "trigger")));
		rc = rc ? rc : pl_strbuf_printf(out, "</b>: power command %s "
					    "after the match<br>",
					    span(cmd - match, b1));
	}
	json_decref(o);
	return rc;
}

static int html_events(struct pl_strbuf *out, struct pl_store *st,
		       const struct pl_run_row *r)
{
	struct pl_event_row *ev = NULL;
	struct pl_run_row *run = NULL;
	size_t nev = 0;
	int rc;

	rc = pl_store_get_run(st, r->id, &run, &ev, &nev);
	if (rc)
		return rc == -ENOMEM ? rc :
		       pl_strbuf_puts(out, "<p class=\"note\">(events "
				      "unavailable)</p>\n");
	if (nev == 0) {
		rc = pl_strbuf_puts(out, "<p class=\"note\">No events "
				    "recorded.</p>\n");
		goto out_free;
	}
	rc = pl_strbuf_puts(out, "<table class=\"events\"><tr><th>t (ms)</th>"
			    "<th>event</th><th>details</th></tr>\n");
	for (size_t i = 0; i < nev && i < MAX_EVENTS && rc == 0; i++) {
		rc = pl_strbuf_printf(out, "<tr><td class=\"num\">%.3f</td>"
				      "<td>%s</td><td>",
				      (double)(ev[i].t_ns - ev[0].t_ns) / 1e6,
				      pl_event_kind_name(ev[i].kind));
		rc = rc ? rc : event_summary(out, &ev[i]);
		rc = rc ? rc : pl_strbuf_puts(out, "<code>");
		rc = rc ? rc : esc(out, ev[i].payload_json);
		rc = rc ? rc : pl_strbuf_puts(out, "</code></td></tr>\n");
	}
	rc = rc ? rc : pl_strbuf_puts(out, "</table>\n");
	if (nev > MAX_EVENTS)
		rc = rc ? rc : pl_strbuf_printf(out, "<p class=\"note\">%zu more "
					    "events not shown.</p>\n",
					    nev - MAX_EVENTS);
out_free:
	pl_store_run_free(run, ev, nev);
	return rc;
}

static int html_console(struct pl_strbuf *out, const struct pl_run_row *r)
{
	size_t len;
	char *tail;
	int rc;

	if (!r->console_log)
		return pl_strbuf_puts(out, "<p class=\"note\">No console log "
				      "recorded.</p>\n");
	rc = pl_file_tail(r->console_log, HTML_CONSOLE_TAIL, &tail, &len);
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		rc = pl_strbuf_puts(out, "<p class=\"note\">Console log ");
		rc = rc ? rc : esc(out, r->console_log);
		return rc ? rc : pl_strbuf_puts(out, " is unreadable.</p>\n");
	}
	rc = pl_strbuf_printf(out, "<p>Console, last %zu bytes of <code>",
			      len);
	rc = rc ? rc : esc(out, r->console_log);
	rc = rc ? rc : pl_strbuf_puts(out, "</code>:</p><pre class=\"console\">");
	rc = rc ? rc : pl_xml_escape(out, tail, len);
	rc = rc ? rc : pl_strbuf_puts(out, "</pre>\n");
	free(tail);
	return rc;
}

static int html_dd(struct pl_strbuf *out, const char *term, const char *v)
{
	int rc = pl_strbuf_printf(out, "<dt>%s</dt><dd>", term);

	rc = rc ? rc : esc(out, v);
	return rc ? rc : pl_strbuf_puts(out, "</dd>");
}

static int html_run(struct pl_strbuf *out, struct pl_store *st,
		    const struct pl_run_row *r)
{
	const char *v = r->open ? "open" : pl_verdict_name(r->verdict);
	struct pl_strbuf cut = { 0 };
	char seed[32];
	int rc;

	rc = pl_cut_describe(&r->cut, &cut);
	rc = rc ? rc : pl_strbuf_printf(out, "<article class=\"run\" id=\"run-%lld\""
				    " data-verdict=\"%s\"><h3>run %lld "
				    "<span class=\"badge v-%s\">%s</span> ",
				    (long long)r->id, v, (long long)r->id, v,
				    v);
	rc = rc ? rc : esc(out, r->board_id);
	rc = rc ? rc : pl_strbuf_puts(out, " (");
	rc = rc ? rc : esc(out, r->board_type);
	rc = rc ? rc : pl_strbuf_puts(out, "), ");
	rc = rc ? rc : esc(out, r->scenario);
	rc = rc ? rc : pl_strbuf_puts(out, "</h3><dl>");
	rc = rc ? rc : html_dd(out, "cut point", cut.s);
	rc = rc ? rc : html_dd(out, "reason", r->reason ? r->reason :
					 r->open ? "never ended" : "(none)");
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)r->seed);
	rc = rc ? rc : html_dd(out, "seed", seed);
	rc = rc ? rc : html_dd(out, "image", r->image ? r->image : "(unknown)");
	rc = rc ? rc : html_dd(out, "params", r->params_json);
	rc = rc ? rc : pl_strbuf_puts(out, "</dl><p>Replay:</p><pre class=\"replay\">");
	rc = rc ? rc : esc(out, r->replay ? r->replay : "(no replay command "
						  "recorded)");
	rc = rc ? rc : pl_strbuf_puts(out, "</pre>\n");
	rc = rc ? rc : html_events(out, st, r);
	rc = rc ? rc : html_console(out, r);
	rc = rc ? rc : pl_strbuf_puts(out, "</article>\n");
	pl_strbuf_free(&cut);
	return rc;
}

static int html_failures(struct pl_strbuf *out, struct pl_store *st,
			 const struct pl_gate *g)
{
	const struct pl_run_row *runs;
	size_t n, shown = 0, failing = 0;
	int rc;

	runs = pl_gate_runs(g, &n);
	for (size_t i = 0; i < n; i++)
		failing += is_failing(&runs[i]);
	rc = pl_strbuf_printf(out, "<h2 id=\"failures\">Failing runs (%zu)"
			      "</h2>\n", failing);
	if (failing == 0)
		rc = rc ? rc : pl_strbuf_puts(out, "<p>None: every run passed or "
					  "rolled back.</p>\n");
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!is_failing(&runs[i]))
			continue;
		if (shown++ == MAX_DETAILED) {
			rc = pl_strbuf_printf(out, "<p class=\"note\">%zu more "
					      "failing runs: see the JSON "
					      "report.</p>\n",
					      failing - MAX_DETAILED);
			break;
		}
		rc = html_run(out, st, &runs[i]);
	}
	return rc;
}

/* ------------------------------------------------ shared with serve */

const char *pl_report_html_css(void)
{
	return css;
}

int pl_report_html_gate(const struct pl_gate *g, struct pl_strbuf *out)
{
	return html_banner(out, g);
}

int pl_report_html_suite(const struct pl_gate *g, struct pl_strbuf *out)
{
	int rc = html_groups(out, g);

	rc = rc ? rc : html_matrix(out, g);
	return rc ? rc : html_cutmap(out, g);
}

int pl_report_html(struct pl_store *st, const struct pl_gate *g,
		   struct pl_strbuf *out)
{
	int rc;

	rc = pl_strbuf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
			    "<meta charset=\"utf-8\"><title>patchlab: ");
	rc = rc ? rc : esc(out, pl_gate_suite(g)->name);
	rc = rc ? rc : pl_strbuf_printf(out, ": gate %s</title>\n<style>%s"
				    "</style></head>\n<body>\n",
				    pl_gate_result_name(pl_gate_result(g)), css);
	rc = rc ? rc : pl_report_html_gate(g, out);
	rc = rc ? rc : pl_strbuf_puts(out, "<main>\n");
	rc = rc ? rc : pl_report_html_suite(g, out);
	rc = rc ? rc : html_failures(out, st, g);
	rc = rc ? rc : pl_strbuf_puts(out, "</main></body></html>\n");
	return rc;
}
