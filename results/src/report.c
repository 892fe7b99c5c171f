/* SPDX-License-Identifier: MIT */
/* JUnit XML and JSON writers, and writing any report to a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "patchlab/error.h"
#include "patchlab/report.h"
#include "patchlab/text.h"
#include "results_internal.h"

static const char *const format_names[] = {
	[PL_REPORT_JUNIT] = "junit",
	[PL_REPORT_JSON] = "json",
	[PL_REPORT_HTML] = "html",
};

const char *pl_report_format_name(enum pl_report_format f)
{
	return (unsigned)f <= PL_REPORT_HTML ? format_names[f] : "?";
}

int pl_report_format_parse(const char *s, enum pl_report_format *out)
{
	for (int i = 0; s && i <= PL_REPORT_HTML; i++)
		if (strcmp(s, format_names[i]) == 0) {
			*out = (enum pl_report_format)i;
			return 0;
		}
	return -EINVAL;
}

/* ------------------------------------------------------------ JUnit */

/* Distinct scenarios in order of first appearance (pointers into runs). */
static int scenarios_of(const struct pl_run_row *runs, size_t n,
			const char ***out, size_t *count)
{
	const char **s = calloc(n ? n : 1, sizeof(*s));
	size_t k = 0;

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < k && strcmp(s[j], runs[i].scenario) != 0)
			j++;
		if (j == k)
			s[k++] = runs[i].scenario;
	}
	*out = s;
	*count = k;
	return 0;
}

struct tally {
	unsigned long tests, failures, errors, skipped;
	uint64_t time_ns, first_ns;
};

static void tally_run(struct tally *t, const struct pl_run_row *r)
{
	t->tests++;
	if (r->open || r->verdict == PL_VERDICT_NOT_RUN)
		t->skipped++;
	else if (r->verdict == PL_VERDICT_LAB_ERROR)
		t->errors++;
	else if (pl_verdict_is_failure(r->verdict))
		t->failures++;
	t->time_ns += r->duration_ns;
	if (t->first_ns == 0 || r->started_ns < t->first_ns)
		t->first_ns = r->started_ns;
}

static int xml_attr(struct pl_strbuf *out, const char *name, const char *v)
{
	int rc = pl_strbuf_printf(out, " %s=\"", name);

	if (rc == 0)
		rc = pl_xml_escape_str(out, v ? v : "");
	if (rc == 0)
		rc = pl_strbuf_puts(out, "\"");
	return rc;
}

static int xml_tally(struct pl_strbuf *out, const struct tally *t)
{
	char ts[32];

	pl_iso8601(t->first_ns, ts);
	return pl_strbuf_printf(out, " tests=\"%lu\" failures=\"%lu\" "
				"errors=\"%lu\" skipped=\"%lu\" time=\"%.3f\" "
				"timestamp=\"%s\"", t->tests, t->failures,
				t->errors, t->skipped, (double)t->time_ns / 1e9,
				ts);
}

static int xml_property(struct pl_strbuf *out, const char *indent,
			const char *name, const char *value)
{
	int rc = pl_strbuf_printf(out, "%s<property", indent);

	if (rc == 0)
		rc = xml_attr(out, "name", name);
	if (rc == 0)
		rc = xml_attr(out, "value", value);
	if (rc == 0)
		rc = pl_strbuf_puts(out, "/>\n");
	return rc;
}

/* The console tail of r as escaped character data, or a note saying why
 * there is none. */
static int console_tail(struct pl_strbuf *out, const struct pl_run_row *r)
{
	size_t len;
	char *tail;
	int rc;

	if (!r->console_log)
		return pl_strbuf_puts(out, "(no console log recorded)");
	rc = pl_file_tail(r->console_log, PL_REPORT_CONSOLE_TAIL, &tail, &len);
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		rc = pl_strbuf_puts(out, "(console log unreadable: ");
		if (rc == 0)
			rc = pl_xml_escape_str(out, r->console_log);
		if (rc == 0)
			rc = pl_strbuf_printf(out, ": %s)",
					      pl_strerror(rc));
		return rc;
	}
	rc = pl_xml_escape(out, tail, len);
	free(tail);
	return rc;
}

static int junit_problem(struct pl_strbuf *out, const struct pl_run_row *r,
			 const char *cut)
{
	struct pl_strbuf msg = { 0 };
	const char *elem;
	int rc;

	if (r->open || r->verdict == PL_VERDICT_NOT_RUN)
		elem = "skipped";
	else if (r->verdict == PL_VERDICT_LAB_ERROR)
		elem = "error";
	else if (pl_verdict_is_failure(r->verdict))
		elem = "failure";
	else
		return 0;
	rc = pl_strbuf_printf(&msg, "%s: %s",
			      r->open ? "run never ended (still open, or its "
					"controller died before recovery)" :
					pl_verdict_name(r->verdict),
			      r->reason ? r->reason : "no reason recorded");
	rc = rc ? rc : pl_strbuf_printf(out, "      <%s", elem);
	rc = rc ? rc : xml_attr(out, "message", msg.s);
	if (!r->open)
		rc = rc ? rc : xml_attr(out, "type", pl_verdict_name(r->verdict));
	rc = rc ? rc : pl_strbuf_puts(out, ">cut point: ");
	rc = rc ? rc : pl_xml_escape_str(out, cut);
	rc = rc ? rc : pl_strbuf_printf(out, "\nseed: %llu\nreplay: ",
				    (unsigned long long)r->seed);
	rc = rc ? rc : pl_xml_escape_str(out, r->replay ? r->replay :
						      "(none recorded)");
	rc = rc ? rc : pl_strbuf_printf(out, "</%s>\n", elem);
	pl_strbuf_free(&msg);
	return rc;
}

/* " 'erase sector' #3 +4.000 ms" of a run whose params.cut is aimed by
 * console or time (a sweep over console or time). */
static int aim_suffix(struct pl_strbuf *name, const struct pl_run_row *r)
{
	json_t *p = r->params_json ? json_loads(r->params_json, 0, NULL) : NULL;
	json_t *cut = json_object_get(p, "cut");
	const char *pat = json_string_value(json_object_get(cut, "pattern"));
	json_t *nth = json_object_get(cut, "nth");
	json_t *delay = json_object_get(cut, "delay_ms");
	int rc = 0;

	if (json_object_get(cut, "delay_ms")) {
		if (pat)
			rc = pl_strbuf_printf(name, " '%s'", pat);
		if (!rc && json_is_integer(nth))
			rc = pl_strbuf_printf(name, " #%lld",
					      (long long)json_integer_value(nth));
		if (!rc && json_is_number(delay))
			rc = pl_strbuf_printf(name, " +%.3f ms",
					      json_number_value(delay));
	}
	json_decref(p);
	return rc;
}

static int junit_case(struct pl_strbuf *out, const struct pl_gate *g,
		      const struct pl_run_row *r)
{
	struct pl_strbuf name = { 0 }, cut = { 0 }, cls = { 0 };
	char id[32], seed[32];
	int rc;

	rc = pl_cut_describe(&r->cut, &cut);
	/* unique per run: the aim a sweep gave (console/time: its pattern,
	 * nth and delay) and the run id */
	rc = rc ? rc : pl_strbuf_printf(&name, "%s: %s", r->board_id, cut.s);
	rc = rc ? rc : aim_suffix(&name, r);
	rc = rc ? rc : pl_strbuf_printf(&name, " [run %lld]", (long long)r->id);
	rc = rc ? rc : pl_strbuf_printf(&cls, "%s.%s.%s", pl_gate_suite(g)->name,
				    r->scenario, r->board_type);
	rc = rc ? rc : pl_strbuf_puts(out, "    <testcase");
	rc = rc ? rc : xml_attr(out, "name", name.s);
	rc = rc ? rc : xml_attr(out, "classname", cls.s);
	rc = rc ? rc : pl_strbuf_printf(out, " time=\"%.3f\">\n",
				    (double)r->duration_ns / 1e9);
	snprintf(id, sizeof(id), "%lld", (long long)r->id);
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)r->seed);
	rc = rc ? rc : pl_strbuf_puts(out, "      <properties>\n");
	rc = rc ? rc : xml_property(out, "        ", "run_id", id);
	rc = rc ? rc : xml_property(out, "        ", "verdict",
				r->open ? "open" : pl_verdict_name(r->verdict));
	rc = rc ? rc : xml_property(out, "        ", "seed", seed);
	rc = rc ? rc : xml_property(out, "        ", "image", r->image);
	rc = rc ? rc : xml_property(out, "        ", "params", r->params_json);
	rc = rc ? rc : xml_property(out, "        ", "replay", r->replay);
	rc = rc ? rc : pl_strbuf_puts(out, "      </properties>\n");
	rc = rc ? rc : junit_problem(out, r, cut.s);
	rc = rc ? rc : pl_strbuf_puts(out, "      <system-out>");
	rc = rc ? rc : console_tail(out, r);
	rc = rc ? rc : pl_strbuf_puts(out, "</system-out>\n    </testcase>\n");
	pl_strbuf_free(&name);
	pl_strbuf_free(&cut);
	pl_strbuf_free(&cls);
	return rc;
}

static int junit_suite(struct pl_strbuf *out, const struct pl_gate *g,
		       const char *scenario, size_t index)
{
	const struct pl_suite_row *s = pl_gate_suite(g);
	struct tally t = { 0 };
	const struct pl_run_row *runs;
	char buf[32];
	size_t n;
	int rc;

	runs = pl_gate_runs(g, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(runs[i].scenario, scenario) == 0)
			tally_run(&t, &runs[i]);
	rc = pl_strbuf_printf(out, "  <testsuite id=\"%zu\"", index);
	rc = rc ? rc : xml_attr(out, "name", scenario);
	rc = rc ? rc : xml_attr(out, "package", s->name);
	rc = rc ? rc : xml_tally(out, &t);
	rc = rc ? rc : pl_strbuf_puts(out, ">\n    <properties>\n");
	snprintf(buf, sizeof(buf), "%lld", (long long)s->id);
	rc = rc ? rc : xml_property(out, "      ", "suite_id", buf);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->seed);
	rc = rc ? rc : xml_property(out, "      ", "suite_seed", buf);
	rc = rc ? rc : xml_property(out, "      ", "suite_file", s->file);
	rc = rc ? rc : xml_property(out, "      ", "gate",
				pl_gate_result_name(pl_gate_result(g)));
	rc = rc ? rc : pl_strbuf_puts(out, "    </properties>\n");
	for (size_t i = 0; i < n && rc == 0; i++)
		if (strcmp(runs[i].scenario, scenario) == 0)
			rc = junit_case(out, g, &runs[i]);
	rc = rc ? rc : pl_strbuf_puts(out, "  </testsuite>\n");
	return rc;
}

int pl_report_junit(const struct pl_gate *g, struct pl_strbuf *out)
{
	const struct pl_run_row *runs;
	const char **scen = NULL;
	struct tally t = { 0 };
	size_t n, nscen = 0;
	int rc;

	runs = pl_gate_runs(g, &n);
	rc = scenarios_of(runs, n, &scen, &nscen);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		tally_run(&t, &runs[i]);
	rc = pl_strbuf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<testsuites");
	rc = rc ? rc : xml_attr(out, "name", pl_gate_suite(g)->name);
	rc = rc ? rc : xml_tally(out, &t);
	rc = rc ? rc : pl_strbuf_puts(out, ">\n");
	for (size_t i = 0; i < nscen && rc == 0; i++)
		rc = junit_suite(out, g, scen[i], i);
	rc = rc ? rc : pl_strbuf_puts(out, "</testsuites>\n");
	free(scen);
	return rc;
}

/* ------------------------------------------------------------- JSON */

/* A JSON string of s, made valid UTF-8 first when it is not (a board's or
 * a script's text can hold any byte; jansson takes only UTF-8), or null
 * for NULL. NULL only when out of memory. */
static json_t *json_text(const char *s)
{
	json_t *j;
	char *fixed;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	fixed = pl_utf8_dup(s);
	if (!fixed)
		return NULL;
	j = json_string(fixed);
	free(fixed);
	return j;
}


static json_t *json_parsed(const char *text)
{
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;

	return o ? o : json_object();
}

static json_t *gate_json(const struct pl_gate *g)
{
	const struct pl_gate_thresholds *th = pl_gate_thresholds(g);
	json_t *groups = json_array(), *o;

	for (size_t i = 0; i < pl_gate_ngroups(g); i++) {
		const struct pl_gate_group *gr = pl_gate_group(g, i);
		json_t *counts = json_object(), *aims = json_array();

		for (int v = 0; v < PL_VERDICT_COUNT; v++)
			json_object_set_new(counts, pl_verdict_name(v),
					    json_integer((json_int_t)gr->counts[v]));
		for (size_t a = 0; a < gr->naims; a++)
			json_array_append_new(aims, json_pack(
				"{s:o, s:s, s:I}", "aimed_by",
				json_text(gr->aims[a].aimed_by), "phase",
				pl_cut_phase_name(gr->aims[a].phase), "n",
				(json_int_t)gr->aims[a].n));
		json_array_append_new(groups, json_pack(
			"{s:o, s:o, s:s, s:o, s:I, s:I, s:I, s:I, s:f, s:o, "
			"s:o}",
			"board_type", json_text(gr->board_type), "image",
			json_text(gr->image), "result",
			pl_gate_result_name(gr->result), "why",
			json_text(gr->why), "runs", (json_int_t)gr->runs, "cuts",
			(json_int_t)gr->trials, "bricks",
			(json_int_t)gr->bricks, "open", (json_int_t)gr->open,
			"brick_rate_upper", gr->upper, "verdicts", counts,
			"aimed", aims));
	}
	o = json_pack("{s:s, s:o, s:{s:f, s:I, s:f}, s:o}", "result",
		      pl_gate_result_name(pl_gate_result(g)), "why",
		      json_text(pl_gate_why(g)), "thresholds", "max_brick_rate",
		      th->max_brick_rate, "min_cuts", (json_int_t)th->min_cuts,
		      "confidence", th->confidence, "groups", groups);
	return o;
}

static json_t *run_json(const struct pl_run_row *r)
{
	char ts[32];
	json_t *cut = pl_cut_to_json(&r->cut);

	pl_iso8601(r->started_ns, ts);
	return json_pack(
		"{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:s, s:o, "
		"s:s, s:f, s:o, s:o, s:o}",
		"id", (json_int_t)r->id, "board", json_text(r->board_id),
		"board_type", json_text(r->board_type), "image",
		json_text(r->image), "scenario",
		json_text(r->scenario), "params", json_parsed(r->params_json),
		"cut", cut ? cut : json_null(), "seed", (json_int_t)r->seed,
		"verdict", r->open ? json_null() :
				     json_string(pl_verdict_name(r->verdict)),
		"state", r->open ? "open" : "closed", "reason",
		json_text(r->reason), "started", ts, "duration_s",
		(double)r->duration_ns / 1e9, "console_log",
		json_text(r->console_log), "replay",
		json_text(r->replay),
		/* the lab worker that ran it (patchlab worker); null for
		 * patchlab run */
		"worker", json_text(r->worker));
}

int pl_report_json(const struct pl_gate *g, struct pl_strbuf *out)
{
	const struct pl_suite_row *s = pl_gate_suite(g);
	const struct pl_run_row *runs;
	json_t *root, *arr;
	char started[32];
	char *text;
	size_t n;
	int rc;

	runs = pl_gate_runs(g, &n);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, run_json(&runs[i]));
	pl_iso8601(s->started_ns, started);
	root = json_pack("{s:{s:I, s:o, s:o, s:I, s:s, s:o, s:o}, s:o, s:o}",
			 "suite", "id", (json_int_t)s->id, "name",
			 json_text(s->name),
			 "file", json_text(s->file), "seed",
			 (json_int_t)s->seed, "started", started, "cmdline",
			 json_text(s->cmdline), "recorded_gate",
			 json_text(s->gate), "gate", gate_json(g),
			 "runs", arr);
	if (!root || json_array_size(arr) != n) {
		json_decref(root);
		return -ENOMEM;
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	rc = pl_strbuf_puts(out, text);
	rc = rc ? rc : pl_strbuf_puts(out, "\n");
	free(text);
	return rc;
}

/* ------------------------------------------------------------ files */

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int write_atomic(const char *path, const struct pl_strbuf *sb)
{
	char *tmp;
	int fd, rc;

	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = write_all(fd, sb->s ? sb->s : "", sb->len);
	if (rc == 0 && fchmod(fd, 0644) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
out_free:
	free(tmp);
	return rc;
}

int pl_report_write(struct pl_store *st, int64_t suite_id,
		    const struct pl_gate_thresholds *th,
		    enum pl_report_format fmt, const char *path)
{
	struct pl_strbuf sb = { 0 };
	struct pl_gate *g;
	int rc;

	rc = pl_gate_compute(st, suite_id, th, &g);
	if (rc)
		return rc;
	switch (fmt) {
	case PL_REPORT_JUNIT: rc = pl_report_junit(g, &sb); break;
	case PL_REPORT_JSON: rc = pl_report_json(g, &sb); break;
	case PL_REPORT_HTML: rc = pl_report_html(st, g, &sb); break;
	default: rc = -EINVAL;
	}
	if (rc == 0)
		rc = write_atomic(path, &sb);
	pl_strbuf_free(&sb);
	pl_gate_free(g);
	return rc;
}
