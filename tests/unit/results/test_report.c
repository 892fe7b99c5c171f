/* SPDX-License-Identifier: MIT */
/* /pl/results/report: escaping, JUnit counts, JSON fields, HTML marks. The
 * schema check (xmllint) and the browser check (Chromium) are integration
 * tests with the real programs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "pl_test.h"
#include "pl_test_store.h"
#include "patchlab/report.h"
#include "patchlab/text.h"
#include "results_fixture.h"
#include "results_internal.h"

struct fx {
	char *dir, *db;
	struct pl_store *st;
	struct results_fixture rf;
	struct pl_gate *g;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = pl_test_tmpdir("report");
	f->db = pl_test_store_target(f->dir, "p.db");
	assert_non_null(f->db);
	assert_int_equal(pl_store_open(&f->st, f->db, NULL), 0);
	assert_int_equal(results_fixture_populate(f->st, f->dir, &f->rf), 0);
	assert_int_equal(pl_gate_compute(f->st, f->rf.suite_id, NULL, &f->g),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl_gate_free(f->g);
	pl_store_close(f->st);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f->db);
	free(f);
	return 0;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void xml_escape_shows_forbidden_bytes(void **state)
{
	static const char in[] = "a<b>&\"'\x01\x1b[0m\t\n\xff\xc3\xa9"
				 "\xed\xa0\x80\xef\xbf\xbf\xc0\xaf!";
	struct pl_strbuf sb = { 0 };

	(void)state;
	assert_int_equal(pl_xml_escape(&sb, in, sizeof(in) - 1), 0);
	assert_string_equal(sb.s, "a&lt;b&gt;&amp;&quot;&#39;\\x01\\x1B[0m\t\n"
				  "\\xFF\xc3\xa9" /* é kept */
				  "\\xED\\xA0\\x80" /* a surrogate */
				  "\\xEF\\xBF\\xBF" /* U+FFFF */
				  "\\xC0\\xAF!"); /* overlong */
	pl_strbuf_free(&sb);
}

static void file_tail_starts_on_a_character(void **state)
{
	char *dir = pl_test_tmpdir("tail"), *path, *tail;
	FILE *fp;
	size_t len;

	(void)state;
	assert_true(asprintf(&path, "%s/log", dir) > 0);
	fp = fopen(path, "w");
	fputs("xx\xe2\x9a\xa1yz", fp); /* 2 + 3 + 2 bytes */
	fclose(fp);
	assert_int_equal(pl_file_tail(path, 4, &tail, &len), 0);
	assert_string_equal(tail, "yz"); /* not half a U+26A1 */
	free(tail);
	assert_int_equal(pl_file_tail(path, 100, &tail, &len), 0);
	assert_int_equal(len, 7);
	free(tail);
	assert_int_equal(pl_file_tail("/nonexistent/x", 4, &tail, &len),
			 -ENOENT);
	pl_test_rmrf(dir);
	free(dir);
	free(path);
}

static void junit_has_one_case_per_run_and_tallies(void **state)
{
	struct fx *f = *state;
	struct pl_strbuf sb = { 0 };
	char want[128];

	assert_int_equal(pl_report_junit(f->g, &sb), 0);
	assert_int_equal(count(sb.s, "<testcase "), f->rf.runs);
	assert_int_equal(count(sb.s, "<testsuite "), f->rf.scenarios);
	assert_int_equal(count(sb.s, "<failure "), f->rf.failures);
	assert_int_equal(count(sb.s, "<error "), f->rf.errors);
	assert_int_equal(count(sb.s, "<skipped "), f->rf.skipped);
	snprintf(want, sizeof(want), "tests=\"%zu\" failures=\"%zu\" "
		 "errors=\"%zu\" skipped=\"%zu\"", f->rf.runs, f->rf.failures,
		 f->rf.errors, f->rf.skipped);
	assert_non_null(strstr(sb.s, want));
	/* a testcase's name is unique: the run's id ends it */
	assert_non_null(strstr(sb.s, "name=\"board2: during op 12 (erase) "
				     "phi=0.50, aimed by probe [run "));
	assert_non_null(strstr(sb.s, "name=\"nightly &lt;swap&gt; &amp; co\""));
	/* console bytes XML forbids are shown, never written raw */
	assert_null(memchr(sb.s, '\x01', sb.len));
	assert_null(memchr(sb.s, '\x1b', sb.len));
	assert_non_null(strstr(sb.s, "\\x1B[1;31mU-Boot"));
	assert_non_null(strstr(sb.s, "]]&gt;"));
	/* the tail is the last 4 KiB: the first lines of the log are gone */
	assert_null(strstr(sb.s, "[0000] board1"));
	assert_non_null(strstr(sb.s, "[0119] board1"));
	pl_strbuf_free(&sb);
}

static void json_carries_every_run_field(void **state)
{
	struct fx *f = *state;
	struct pl_strbuf sb = { 0 };
	json_error_t err;
	json_t *root, *runs, *r, *gate;
	size_t i;

	assert_int_equal(pl_report_json(f->g, &sb), 0);
	root = json_loads(sb.s, 0, &err);
	assert_non_null(root);
	gate = json_object_get(root, "gate");
	assert_string_equal(json_string_value(json_object_get(gate, "result")),
			    "fail");
	assert_int_equal(json_array_size(json_object_get(gate, "groups")), 2);
	runs = json_object_get(root, "runs");
	assert_int_equal(json_array_size(runs), f->rf.runs);
	json_array_foreach(runs, i, r) {
		if (json_integer_value(json_object_get(r, "id")) !=
		    f->rf.bricked_run)
			continue;
		assert_string_equal(json_string_value(json_object_get(r,
					"verdict")), "bricked");
		assert_string_equal(json_string_value(json_object_get(r,
					"board")), "board2");
		assert_string_equal(json_string_value(json_object_get(r,
					"board_type")), "vboard-ab");
		assert_string_equal(json_string_value(json_object_get(r,
					"scenario")), "cut_every_op");
		assert_int_equal(json_integer_value(json_object_get(
			json_object_get(r, "cut"), "op_index")), 12);
		assert_string_equal(json_string_value(json_object_get(
			json_object_get(r, "params"), "slot")), "b");
		assert_true(json_is_integer(json_object_get(r, "seed")));
		assert_true(json_is_real(json_object_get(r, "duration_s")));
		assert_true(json_is_string(json_object_get(r, "started")));
		assert_non_null(strstr(json_string_value(json_object_get(r,
					"replay")), "--only board2"));
		assert_non_null(json_string_value(json_object_get(r,
					"reason")));
		/* recorded by `run`, not by a lab worker: present, null */
		assert_non_null(json_object_get(r, "worker"));
		assert_true(json_is_null(json_object_get(r, "worker")));
	}
	json_decref(root);
	pl_strbuf_free(&sb);
}

static void html_has_one_mark_per_cut_and_escapes(void **state)
{
	struct fx *f = *state;
	struct pl_strbuf sb = { 0 };

	assert_int_equal(pl_report_html(f->st, f->g, &sb), 0);
	assert_int_equal(count(sb.s, "class=\"cut v-"), f->rf.cuts);
	assert_int_equal(count(sb.s, "class=\"cut v-bricked\""), 10);
	assert_int_equal(count(sb.s, "<article class=\"run\""),
			 f->rf.failures + f->rf.errors + f->rf.skipped);
	assert_non_null(strstr(sb.s, "class=\"brick-band\""));
	assert_null(strstr(sb.s, "<swap>"));
	assert_null(strstr(sb.s, "<script"));
	/* no network: the only URL is the SVG namespace */
	assert_int_equal(count(sb.s, "http"),
			 count(sb.s, "http://www.w3.org/2000/svg"));
	assert_null(memchr(sb.s, '\x1b', sb.len));
	pl_strbuf_free(&sb);
}

static void report_write_is_atomic_and_names_formats(void **state)
{
	struct fx *f = *state;
	enum pl_report_format fmt;
	char *path;

	assert_int_equal(pl_report_format_parse("html", &fmt), 0);
	assert_int_equal(fmt, PL_REPORT_HTML);
	assert_int_equal(pl_report_format_parse("xml", &fmt), -EINVAL);
	assert_true(asprintf(&path, "%s/r.json", f->dir) > 0);
	assert_int_equal(pl_report_write(f->st, f->rf.suite_id, NULL,
					 PL_REPORT_JSON, path), 0);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(pl_report_write(f->st, 9999, NULL, PL_REPORT_JSON,
					 path), -ENOENT);
	free(path);
	assert_int_equal(pl_report_write(f->st, f->rf.suite_id, NULL,
					 PL_REPORT_JSON, "/nonexistent/r"),
			 -ENOENT);
}

/* Issue 12 item 6: a verdict reason, scenario and board with invalid
 * UTF-8 and escape sequences still give valid JSON (U+FFFD for the bad
 * bytes), and JUnit and HTML stay well-formed UTF-8. */
static void reports_take_any_bytes(void **state)
{
	struct fx *f = *state;
	struct pl_strbuf sb = { 0 };
	struct pl_run_info ri = {
		.suite_id = f->rf.suite_id,
		.board_id = "board\xFF" "9",
		.board_type = "vboard-ab",
		.scenario = "hostile\xC3",
		.seed = 7,
	};
	struct pl_gate *g;
	json_error_t err;
	json_t *root, *runs, *r, *found = NULL;
	size_t i;
	int64_t id;

	assert_int_equal(pl_store_run_begin(f->st, &ri, &id), 0);
	assert_int_equal(pl_store_run_end(f->st, id, PL_VERDICT_FAIL,
					  "expected 1.2.\xE2\x82 got \x1b[2J\xFF"),
			 0);
	assert_int_equal(pl_gate_compute(f->st, f->rf.suite_id, NULL, &g), 0);
	assert_int_equal(pl_report_json(g, &sb), 0);
	root = json_loads(sb.s, 0, &err);
	if (!root)
		fail_msg("invalid JSON: %s", err.text);
	runs = json_object_get(root, "runs");
	json_array_foreach(runs, i, r)
		if (json_integer_value(json_object_get(r, "id")) == id)
			found = r;
	assert_non_null(found);
	assert_string_equal(json_string_value(json_object_get(found, "reason")),
			    "expected 1.2.\xEF\xBF\xBD\xEF\xBF\xBD got "
			    "\x1b[2J\xEF\xBF\xBD");
	assert_string_equal(json_string_value(json_object_get(found, "board")),
			    "board\xEF\xBF\xBD" "9");
	assert_string_equal(json_string_value(json_object_get(found,
					"scenario")), "hostile\xEF\xBF\xBD");
	json_decref(root);
	pl_strbuf_reset(&sb);
	assert_int_equal(pl_report_junit(g, &sb), 0);
	assert_true(pl_utf8_valid(sb.s, sb.len));
	assert_null(memchr(sb.s, 0x1b, sb.len));
	pl_strbuf_reset(&sb);
	assert_int_equal(pl_report_html(f->st, g, &sb), 0);
	assert_true(pl_utf8_valid(sb.s, sb.len));
	assert_null(memchr(sb.s, 0x1b, sb.len));
	pl_strbuf_free(&sb);
	pl_gate_free(g);
}

/* Issue 12 item 6: a report that cannot be written is an error with the
 * cause, never a silent success; nothing is left behind. */
static void report_write_fails_loudly(void **state)
{
	struct fx *f = *state;
	char *dir;

	assert_int_equal(pl_report_write(f->st, f->rf.suite_id, NULL,
					 PL_REPORT_JSON,
					 "/nonexistent/dir/r.json"), -ENOENT);
	/* a directory: the temporary file is made, the rename refused */
	assert_true(asprintf(&dir, "%s/adir", f->dir) > 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(pl_report_write(f->st, f->rf.suite_id, NULL,
					 PL_REPORT_HTML, dir), -EISDIR);
	assert_int_equal(rmdir(dir), 0); /* still empty, and no temp file */
	free(dir);
	assert_true(pl_report_write(f->st, f->rf.suite_id, NULL,
				    PL_REPORT_JUNIT, "/proc/version") < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xml_escape_shows_forbidden_bytes),
		cmocka_unit_test(file_tail_starts_on_a_character),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(junit_has_one_case_per_run_and_tallies),
		T(json_carries_every_run_field),
		T(html_has_one_mark_per_cut_and_escapes),
		T(report_write_is_atomic_and_names_formats),
		T(reports_take_any_bytes),
		T(report_write_fails_loudly),
#undef T
	};
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/results/report", tests, NULL,
					   NULL);
}
