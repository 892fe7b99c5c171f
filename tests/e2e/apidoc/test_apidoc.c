/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/apidoc: every ```lua example of docs/scenario-api.md runs on the
 * virtual rack.
 *
 * The blocks are read from the document at test time (so the test follows
 * the document), each written as a scenario of a scenarios tree of its own
 * (a pl_test_tmpdir() with a copy of the source tree's scenarios/lib), after
 * a one-line prelude: a block that switches the power itself starts from a
 * board that is off; any other one from a board that booted (the state a
 * scenario is in after oracle.boot()). A generated suite names the images
 * the examples use (golden, old, new, factory) and runs them in document
 * order on one `good` board. Each run must end pass or rolled-back: not
 * lab-error (the example is wrong or the API is broken) and not fail.
 *
 * A block known to be wrong in the document is listed in doc_bugs[] with
 * its fix: it still runs, and the test prints why it fails, or that it now
 * works (so the entry can go). No example intentionally shows an error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

#define MAX_BLOCKS 64

/* Examples of the document that do not run as written, and the fix. */
static const struct doc_bug {
	const char *marker; /* a substring of the block */
	const char *fix;
} doc_bugs[] = {
	{ "board.id            --",
	  "bare expressions are not Lua statements (syntax error near "
	  "'board'): write `local id, ty, prof = board.id, board.type, "
	  "board.vars.profile` and keep the comments" },
	{ "op counter: (%d+)",
	  "patterns are POSIX ERE, so (%d+) never matches, and the virtual "
	  "board's `status` says `flash ops N`, not `op counter: N`: write "
	  "board.console:expect(\"flash ops ([0-9]+)\", {timeout = 2000}) "
	  "(and the comment's text accordingly)" },
	{ "board.probe:reset()",
	  "probe:flash() right after probe:reset() fails with EBUSY (gdb "
	  "probe: 'target running; halt it before flash'): call "
	  "board.probe:halt() again before board.probe:flash(...), or make "
	  "the probe's flash halt the target itself" },
};

struct block {
	char *text;
	char section[128];
	int line; /* of the first line of code in the document */
};

struct ctx {
	struct e2e_rack rack;
	struct block b[MAX_BLOCKS];
	int n;
};

static const struct doc_bug *doc_bug(const char *text)
{
	for (size_t i = 0; i < sizeof(doc_bugs) / sizeof(doc_bugs[0]); i++)
		if (strstr(text, doc_bugs[i].marker))
			return &doc_bugs[i];
	return NULL;
}

/* The ```lua blocks of the document, with the section each is under. */
static int extract(struct ctx *c, const char *doc)
{
	const char *p = doc, *start = NULL;
	char section[128] = "";
	int line = 1, first = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (!start && len >= 2 && p[0] == '#') {
			const char *h = p;

			while (*h == '#' || *h == ' ')
				h++;
			snprintf(section, sizeof(section), "%.*s",
				 (int)(len - (size_t)(h - p)), h);
		} else if (!start && len >= 6 && !strncmp(p, "```lua", 6)) {
			start = eol ? eol + 1 : p + len;
			first = line + 1;
		} else if (start && len >= 3 && !strncmp(p, "```", 3)) {
			struct block *b;

			if (c->n == MAX_BLOCKS)
				return -1;
			b = &c->b[c->n++];
			b->text = strndup(start, (size_t)(p - start));
			snprintf(b->section, sizeof(b->section), "%s",
				 section);
			b->line = first;
			start = NULL;
		}
		line++;
		p = eol ? eol + 1 : p + len;
	}
	return start ? -1 : 0;
}

static int group_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char *path, *doc;
	int rc;

	*state = c;
	if (!c)
		return -1;
	path = pl_test_source_path("docs/scenario-api.md");
	doc = pl_test_slurp(path);
	if (!doc) {
		fprintf(stderr, "cannot read %s\n", path);
		free(path);
		return -1;
	}
	rc = extract(c, doc);
	free(doc);
	free(path);
	if (rc)
		return -1;
	return e2e_rack_up(&c->rack, "e2e-apidoc", 1, "good");
}

static int group_teardown(void **state)
{
	struct ctx *c = *state;
	int rc;

	if (!c)
		return 0;
	rc = e2e_rack_down(&c->rack);
	for (int i = 0; i < c->n; i++)
		free(c->b[i].text);
	free(c);
	return rc;
}

static void write_file(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	if (!f)
		fail_msg("cannot write %s", path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
}

/* The scenarios tree: exNN.lua per block, lib/, suites/apidoc.yaml. */
static void make_tree(struct ctx *c, char *suite, size_t ssz)
{
	char path[4300], *lib = pl_test_source_path("scenarios/lib");
	FILE *f;

	snprintf(path, sizeof(path), "%s/scenarios", c->rack.dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/scenarios/suites", c->rack.dir);
	assert_int_equal(mkdir(path, 0755), 0);
	/* a copy: require refuses a module whose real path leaves the root */
	snprintf(path, sizeof(path), "%s/scenarios/lib", c->rack.dir);
	{
		char *argv[] = { "cp", "-r", lib, path, NULL };

		assert_int_equal(pl_test_run_capture(argv, NULL, NULL), 0);
	}
	free(lib);
	for (int i = 0; i < c->n; i++) {
		const char *t = c->b[i].text;
		bool powers = strstr(t, "power_on") || strstr(t, "power_cycle") ||
			      strstr(t, "wait_boot");

		snprintf(path, sizeof(path), "%s/scenarios/ex%02d.lua",
			 c->rack.dir, i + 1);
		/* one prelude line: the block's line N is line N + 1 here */
		write_file(path, "%s -- docs/scenario-api.md:%d (%s)\n%s",
			   powers ? "board:power_off()"
				  : "board:power_on(); check(board:wait_boot"
				    "(), 'the board did not boot')",
			   c->b[i].line, c->b[i].section, t);
	}
	snprintf(suite, ssz, "%s/scenarios/suites/apidoc.yaml", c->rack.dir);
	f = fopen(suite, "w");
	assert_non_null(f);
	fprintf(f, "name: apidoc\n"
		   "images:\n"
		   "  golden: {path: \"${VRACK}/images/v1.0.0.img\", "
		   "version: 1.0.0}\n"
		   "  old: {path: \"${VRACK}/images/v1.0.0.img\", "
		   "version: 1.0.0}\n"
		   "  factory: \"${VRACK}/images/factory-good.bin\"\n"
		   "  new: {path: \"${VRACK}/images/v1.1.0.img\", "
		   "version: 1.1.0}\n"
		   "defaults:\n  run_timeout: 1m\n"
		   "runs:\n");
	for (int i = 0; i < c->n; i++)
		fprintf(f, "  - scenario: ex%02d.lua\n", i + 1);
	assert_int_equal(fclose(f), 0);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void test_every_example_runs(void **state)
{
	struct ctx *c = *state;
	char suite[4300], out[4300], json[4300], *txt = NULL;
	json_error_t jerr;
	json_t *j, *runs;
	int rc, bad = 0, known = 0;

	/* the document has examples, and the extraction found them */
	assert_true(c->n >= 8);
	make_tree(c, suite, sizeof(suite));
	snprintf(out, sizeof(out), "%s/out", c->rack.dir);
	snprintf(json, sizeof(json), "%s/apidoc.json", c->rack.dir);
	rc = e2e_patchlab(NULL, &txt, "run", suite, "--lab", c->rack.lab,
			  "--out", out, "--json", json, "--jobs", "1", "-q",
			  NULL);
	j = json_load_file(json, 0, &jerr);
	if (!j) {
		fprintf(stderr, "%s\n", txt ? txt : "");
		free(txt);
		fail_msg("exit %d, no JSON (%s); its output above", rc,
			 jerr.text);
	}
	free(txt);
	assert_int_not_equal(rc, PL_EXIT_CONFIG);
	runs = json_object_get(j, "runs");
	assert_int_equal(json_array_size(runs), (size_t)c->n);
	for (int i = 0; i < c->n; i++) {
		json_t *r = json_array_get(runs, (size_t)i);
		const char *v = str(r, "verdict");
		const struct doc_bug *k = doc_bug(c->b[i].text);
		bool ok = !strcmp(v, "pass") || !strcmp(v, "rolled-back");

		if (ok && k) {
			fprintf(stderr, "apidoc: example at line %d (%s) now "
				"runs: take it out of doc_bugs[]\n",
				c->b[i].line, c->b[i].section);
		} else if (!ok && k) {
			known++;
			fprintf(stderr, "apidoc: KNOWN DOC BUG at "
				"docs/scenario-api.md:%d (%s): %s: %s\n  fix: "
				"%s\n", c->b[i].line, c->b[i].section, v,
				str(r, "reason"), k->fix);
		} else if (!ok) {
			bad++;
			fprintf(stderr, "apidoc: FAIL example at "
				"docs/scenario-api.md:%d (%s) ended %s: %s\n"
				"----\n%s----\n", c->b[i].line,
				c->b[i].section, v, str(r, "reason"),
				c->b[i].text);
		}
	}
	fprintf(stderr, "apidoc: %d examples, %d ran, %d known doc bugs, "
		"%d failed\n", c->n, c->n - known - bad, known, bad);
	json_decref(j);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_example_runs),
	};

	return cmocka_run_group_tests_name("/pl/e2e/apidoc", tests,
					   group_setup, group_teardown);
}
