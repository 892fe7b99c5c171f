/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/notrun: a run that could not run is recorded and shown in every
 * output, and a suite with one cannot pass (issue 11 "No run goes
 * missing"). On a real virtual rack of one board:
 *
 *   sweep_without_points: a sweep whose learning pass finds no flash
 *       operation (its scenario says ops = 0, as on a board with no probe)
 *       plans no point: exit 2, gate "incomplete" in the JSON, a not-run
 *       run saying so in the JSON, JUnit (<skipped>), HTML and `patchlab
 *       results`. The scenario lives outside the project tree, in a lab
 *       repository of its own, and still finds the shipped lib.oracle.
 *   recovery_command_fails: a board type recovered by `method: exec`
 *       whose command fails (`false`): the cut that bricks the
 *       single-slot board ends lab-error naming the command (the lab
 *       could not recover it: nothing was learned), the board is set
 *       aside, the runs after it are not-run (quarantined) in the JSON,
 *       and the gate is incomplete, exit 2.
 *   recovery_command_restores: the same with a command that writes the
 *       factory flash file while the board is off (`dd`, as an external
 *       programmer or an SD mux would). The factory image is the board's
 *       own (the `images:` the rack's lab gives each board, its path
 *       through the lab's `vars:`), not the suite's: the oracle's baseline
 *       and the recovery both get it.
 *       Each bricking cut ends
 *       `recovered` through the command, the runs after it run and pass,
 *       exit 1 (a brick is a device failure).
 *   quarantine_outlives_the_suite: a quarantine is kept in the store
 *       until released (by hand for a device one, by the next suite whose
 *       fixtures answer for a lab one); `patchlab boards` shows it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "patchlab/strbuf.h"
#include "pl_test.h"

static int setup(void **state)
{
	return e2e_ctx_setup(state, "scenarios/suites/quick.yaml", "e2e-notrun",
			     2, "good,single-slot");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* The run of doc whose reason contains what, or NULL. */
static json_t *run_with_reason(json_t *doc, const char *verdict,
			       const char *what)
{
	json_t *runs = json_object_get(doc, "runs"), *r;
	size_t i;

	json_array_foreach(runs, i, r) {
		const char *v = json_string_value(json_object_get(r, "verdict"));
		const char *why = json_string_value(json_object_get(r, "reason"));

		if (v && strcmp(v, verdict) == 0 && why && strstr(why, what))
			return r;
	}
	return NULL;
}

static void sweep_without_points(void **state)
{
	struct e2e_ctx *c = *state;
	char *repo = pl_test_path(c->rack.dir, "labrepo");
	char *scen = pl_test_path(repo, "learn_nothing.lua");
	char *suite = pl_test_path(repo, "sweep.yaml");
	char *json = pl_test_path(c->rack.dir, "sweep.json");
	char *junit = pl_test_path(c->rack.dir, "sweep.xml");
	char *html = pl_test_path(c->rack.dir, "sweep.html");
	char *db = pl_test_path(c->rack.dir, "sweep.db");
	char *out = NULL, *text, yaml[2048];
	json_error_t jerr;
	json_t *doc;
	int rc;

	assert_int_equal(mkdir(repo, 0755), 0);
	/* a learning pass that finds no operation to cut, as on a board
	 * without a probe; lib.oracle comes from patchlab's own library */
	write_file(scen,
		   "local oracle = require(\"lib.oracle\")\n"
		   "check(type(oracle.baseline) == \"function\", \"no oracle\")\n"
		   "if params.learn then\n"
		   "  verdict.pass(\"learned nothing\")\n"
		   "  return { ops = 0 }\n"
		   "end\n"
		   "verdict.pass(\"a point ran\")\n");
	snprintf(yaml, sizeof(yaml),
		 "name: sweep-no-points\n"
		 "images:\n"
		 "  golden: {path: \"%s/images/v1.0.0.img\", version: 1.0.0}\n"
		 "  new: {path: \"%s/images/v1.1.0.img\", version: 1.1.0}\n"
		 "runs:\n"
		 "  - scenario: learn_nothing.lua\n"
		 "    sweep: {over: flash_ops, phases: [during], points: 5}\n",
		 c->rack.dir, c->rack.dir);
	write_file(suite, yaml);

	rc = e2e_patchlab(NULL, &out, "run", suite, "--lab", c->rack.lab,
			  "--tag", "good", "--db", db, "--out", c->rack.dir,
			  "--json", json, "--junit", junit, "--html", html, "-q",
			  NULL);
	if (rc != PL_EXIT_LAB_ERROR)
		fprintf(stderr, "patchlab run: exit %d\n%s", rc, out ? out : "");
	assert_int_equal(rc, PL_EXIT_LAB_ERROR);
	free(out);

	doc = json_load_file(json, 0, &jerr);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(doc, "gate"), "result")), "incomplete");
	assert_non_null(run_with_reason(doc, "pass", "learned nothing"));
	assert_non_null(run_with_reason(doc, "not-run",
					"sweep planned no point"));
	/* no point ran */
	assert_null(run_with_reason(doc, "pass", "a point ran"));
	json_decref(doc);

	text = pl_test_slurp(junit);
	assert_non_null(text);
	assert_non_null(strstr(text, "<skipped message=\"not-run: sweep "
				     "planned no point"));
	assert_non_null(strstr(text, "skipped=\"1\""));
	free(text);
	text = pl_test_slurp(html);
	assert_non_null(text);
	assert_non_null(strstr(text, "not-run"));
	assert_non_null(strstr(text, "gate-incomplete"));
	free(text);
	rc = e2e_patchlab(NULL, &out, "results", "--db", db, "--suite", "1",
			  NULL);
	assert_int_equal(rc, PL_EXIT_OK);
	assert_non_null(strstr(out, "not-run"));
	free(out);

	free(repo);
	free(scen);
	free(suite);
	free(json);
	free(junit);
	free(html);
	free(db);
}

static size_t count_verdict(json_t *doc, const char *verdict)
{
	json_t *runs = json_object_get(doc, "runs"), *r;
	size_t i, n = 0;

	json_array_foreach(runs, i, r) {
		const char *v = json_string_value(json_object_get(r, "verdict"));

		if (v && strcmp(v, verdict) == 0)
			n++;
	}
	return n;
}

/* A copy of the rack's lab whose boards use board type `vmcu-exec` (the
 * virtual MCU with the recovery block rec, YAML) from dir. */
static char *recovery_lab(struct e2e_ctx *c, const char *dir, const char *rec_yaml)
{
	char *bdir = pl_test_source_path("boards");
	char *src = pl_test_path(bdir, "virtual-mcu.yaml");
	char *type = pl_test_slurp(src), *lab = pl_test_slurp(c->rack.lab);
	char *rec, *p, *path;
	struct pl_strbuf sb = { 0 };

	assert_non_null(type);
	assert_non_null(lab);
	/* the type: renamed, its recovery replaced */
	p = strstr(type, "name: virtual-mcu");
	assert_non_null(p);
	rec = strstr(type, "\nrecovery:");
	assert_non_null(rec);
	*rec = '\0';
	pl_strbuf_printf(&sb, "%.*sname: vmcu-exec%s\nrecovery:\n%s",
			 (int)(p - type), type, p + strlen("name: virtual-mcu"),
			 rec_yaml);
	path = pl_test_path(dir, "vmcu-exec.yaml");
	write_file(path, sb.s);
	free(path);
	pl_strbuf_free(&sb);
	/* the lab: the same boards, that type, found in dir, each with its
	 * own factory flash (the suite names none: the board's own image is
	 * what recovery writes and what the oracle's baseline flashes) */
	pl_strbuf_printf(&sb, "lab: {name: exec, boards_path: [\"%s\"], "
			 "vars: {VRACK: \"%s\"}}\n", dir, c->rack.dir);
	p = strstr(lab, "boards:");
	assert_non_null(p);
	/* the rack's boards carry their own factory image already */
	assert_non_null(strstr(p, "images:  {factory: \"${VRACK}/images/"
				  "factory-single-slot.bin\"}"));
	for (; *p; p++) {
		if (strncmp(p, "type: virtual-mcu", 17) == 0) {
			pl_strbuf_puts(&sb, "type: vmcu-exec");
			p += 16;
			continue;
		}
		pl_strbuf_printf(&sb, "%c", *p);
	}
	path = pl_test_path(dir, "lab.yaml");
	write_file(path, sb.s);
	pl_strbuf_free(&sb);
	free(type);
	free(lab);
	free(src);
	free(bdir);
	return path;
}

/* recovery_lab() recovered by command: argv, a YAML list. */
static char *exec_lab(struct e2e_ctx *c, const char *dir, const char *argv)
{
	char rec[512];

	snprintf(rec, sizeof(rec), "  method: exec\n  image: factory\n"
		 "  command: %s\n  timeout: 20s\n", argv);
	return recovery_lab(c, dir, rec);
}

/* The suite: two cuts that brick a single-slot board, two clean runs. */
static char *exec_suite(struct e2e_ctx *c, const char *dir)
{
	char *src = pl_test_source_path("scenarios/cut_flash_op.lua");
	char *text = pl_test_slurp(src), *path, yaml[2048];

	assert_non_null(text);
	path = pl_test_path(dir, "cut_flash_op.lua");
	write_file(path, text);
	free(path);
	free(text);
	free(src);
	path = pl_test_path(dir, "ok.lua");
	write_file(path, "verdict.pass(\"nothing to do\")\n");
	free(path);
	snprintf(yaml, sizeof(yaml),
		 "name: exec-recovery\n"
		 "images:\n"
		 "  golden: {path: \"%s/images/v1.0.0.img\", version: 1.0.0}\n"
		 "  new: {path: \"%s/images/v1.1.0.img\", version: 1.1.0}\n"
		 "defaults: {run_timeout: 2m}\n"
		 "runs:\n"
		 "  - scenario: cut_flash_op.lua\n"
		 "    params: {cut: {op: 40, phase: during, phi: 0.5}}\n"
		 "    repeat: 2\n"
		 "  - scenario: ok.lua\n"
		 "    repeat: 2\n",
		 c->rack.dir, c->rack.dir);
	path = pl_test_path(dir, "suite.yaml");
	write_file(path, yaml);
	return path;
}

static json_t *run_exec(struct e2e_ctx *c, const char *tag, const char *argv,
			int want_rc)
{
	char *dir = pl_test_path(c->rack.dir, tag);
	char *lab, *suite, *json = pl_test_path(dir, "r.json");
	char *db = pl_test_path(dir, "r.db"), *out = NULL;
	json_error_t jerr;
	json_t *doc;
	int rc;

	assert_int_equal(mkdir(dir, 0755), 0);
	lab = exec_lab(c, dir, argv);
	suite = exec_suite(c, dir);
	rc = e2e_patchlab(NULL, &out, "run", suite, "--lab", lab, "--tag",
			  "single-slot", "--db", db, "--out", dir, "--json",
			  json, "-q", NULL);
	if (rc != want_rc)
		fprintf(stderr, "patchlab run: exit %d\n%s", rc, out ? out : "");
	assert_int_equal(rc, want_rc);
	free(out);
	doc = json_load_file(json, 0, &jerr);
	assert_non_null(doc);
	free(dir);
	free(lab);
	free(suite);
	free(json);
	free(db);
	return doc;
}

static void recovery_command_fails(void **state)
{
	json_t *doc = run_exec(*state, "exec-fails", "[\"false\"]",
			       PL_EXIT_LAB_ERROR);

	assert_string_equal(json_string_value(json_object_get(
		json_object_get(doc, "gate"), "result")), "incomplete");
	/* the lab could not recover the board: not a device verdict */
	assert_non_null(run_with_reason(doc, "lab-error",
					"recovery failed in the lab: command: "
					"exit 1"));
	assert_int_equal(count_verdict(doc, "bricked"), 0);
	assert_int_equal(count_verdict(doc, "lab-error"), 1);
	/* the board was set aside: the three runs after it did not run */
	assert_int_equal(count_verdict(doc, "not-run"), 3);
	assert_non_null(run_with_reason(doc, "not-run", "quarantined"));
	json_decref(doc);
}

static void recovery_command_restores(void **state)
{
	json_t *doc = run_exec(*state, "exec-ok",
			       "[dd, \"if=%{image}\", \"of=%{flash}\", "
			       "conv=notrunc, status=none]",
			       PL_EXIT_GATE_FAILED);

	assert_string_equal(json_string_value(json_object_get(
		json_object_get(doc, "gate"), "result")), "fail");
	assert_int_equal(count_verdict(doc, "recovered"), 2);
	assert_non_null(run_with_reason(doc, "recovered",
					"restored through its recovery "
					"command"));
	assert_int_equal(count_verdict(doc, "pass"), 2);
	assert_int_equal(count_verdict(doc, "not-run"), 0);
	json_decref(doc);
}

/* `patchlab run SUITE --lab LAB --db DB` (single-slot board) with its
 * JSON in dir/NAME.json; *err (may be NULL) gets its output. */
static json_t *run_on(const char *dir, const char *name, const char *lab,
		      const char *suite, const char *db, int want_rc,
		      char **err)
{
	char file[64], *json, *out = NULL;
	json_error_t jerr;
	json_t *doc;
	int rc;

	snprintf(file, sizeof(file), "%s.json", name);
	json = pl_test_path(dir, file);
	rc = e2e_patchlab(NULL, &out, "run", suite, "--lab", lab, "--tag",
			  "single-slot", "--db", db, "--out", dir, "--json",
			  json, NULL);
	if (rc != want_rc)
		fprintf(stderr, "patchlab run (%s): exit %d\n%s", name, rc,
			out ? out : "");
	assert_int_equal(rc, want_rc);
	doc = json_load_file(json, 0, &jerr);
	assert_non_null(doc);
	if (err)
		*err = out;
	else
		free(out);
	free(json);
	return doc;
}

/* `patchlab boards --lab LAB --db DB [--release ID]`: its output. */
static char *boards(const char *lab, const char *db, const char *release,
		    int want_rc)
{
	char *out = NULL;
	int rc = release ?
		e2e_patchlab(NULL, &out, "boards", "--lab", lab, "--db", db,
			     "--release", release, NULL) :
		e2e_patchlab(NULL, &out, "boards", "--lab", lab, "--db", db,
			     NULL);

	if (rc != want_rc)
		fprintf(stderr, "patchlab boards: exit %d\n%s", rc,
			out ? out : "");
	assert_int_equal(rc, want_rc);
	return out;
}

static const char *first_board(json_t *doc)
{
	return json_string_value(json_object_get(
		json_array_get(json_object_get(doc, "runs"), 0), "board"));
}

/*
 * A quarantine outlives its suite. A brick that needs a person (`method:
 * manual`) quarantines the board in the store: `patchlab boards` shows it,
 * the next suite runs nothing on it (every run not-run saying how to
 * release it, exit 2), `patchlab boards --release` releases it, and the
 * suite after that runs. A lab fault (a recovery command that fails) sets
 * the board aside in the store too; the next suite, whose fixtures answer,
 * takes it back into service by itself and runs.
 */
static void quarantine_outlives_the_suite(void **state)
{
	struct e2e_ctx *c = *state;
	char *dir = pl_test_path(c->rack.dir, "kept");
	char *db = pl_test_path(dir, "kept.db"), *lab, *suite, *out, *err;
	char board[32];
	json_t *doc;

	assert_int_equal(mkdir(dir, 0755), 0);
	lab = recovery_lab(c, dir, "  method: manual\n");
	suite = exec_suite(c, dir);
	/* the brick: a device failure, then nothing more on the board */
	doc = run_on(dir, "first", lab, suite, db, PL_EXIT_GATE_FAILED, NULL);
	assert_int_equal(count_verdict(doc, "bricked"), 1);
	assert_int_equal(count_verdict(doc, "not-run"), 3);
	snprintf(board, sizeof(board), "%s", first_board(doc));
	json_decref(doc);
	out = boards(lab, db, NULL, PL_EXIT_OK);
	if (!strstr(out, "device: bricked and no recovery (run "))
		fail_msg("patchlab boards:\n%s", out);
	free(out);
	/* a later suite: not one run on it, and it says how to go on */
	doc = run_on(dir, "second", lab, suite, db, PL_EXIT_LAB_ERROR, NULL);
	assert_int_equal(count_verdict(doc, "not-run"), 4);
	assert_non_null(run_with_reason(doc, "not-run",
					"patchlab boards --release"));
	json_decref(doc);
	/* released by hand: a name not in the lab is refused */
	free(boards(lab, db, "no-such-board", PL_EXIT_USAGE));
	out = boards(lab, db, board, PL_EXIT_OK);
	assert_non_null(strstr(out, "quarantine released"));
	free(out);
	doc = run_on(dir, "third", lab, suite, db, PL_EXIT_GATE_FAILED, NULL);
	assert_int_equal(count_verdict(doc, "bricked"), 1);
	assert_int_equal(count_verdict(doc, "not-run"), 3);
	json_decref(doc);
	free(boards(lab, db, board, PL_EXIT_OK));
	free(lab);
	/* a lab fault: set aside in the store, then back by itself */
	lab = exec_lab(c, dir, "[\"false\"]");
	doc = run_on(dir, "lab-fault", lab, suite, db, PL_EXIT_LAB_ERROR, NULL);
	assert_int_equal(count_verdict(doc, "lab-error"), 1);
	json_decref(doc);
	out = boards(lab, db, NULL, PL_EXIT_OK);
	assert_non_null(strstr(out, "lab: set aside: recovery command "
				    "failed"));
	free(out);
	free(lab);
	lab = exec_lab(c, dir, "[dd, \"if=%{image}\", \"of=%{flash}\", "
		       "conv=notrunc, status=none]");
	doc = run_on(dir, "back", lab, suite, db, PL_EXIT_GATE_FAILED, &err);
	assert_non_null(strstr(err, "back in service"));
	assert_int_equal(count_verdict(doc, "recovered"), 2);
	assert_int_equal(count_verdict(doc, "pass"), 2);
	assert_int_equal(count_verdict(doc, "not-run"), 0);
	json_decref(doc);
	out = boards(lab, db, NULL, PL_EXIT_OK);
	assert_null(strstr(out, "set aside"));
	free(out);
	free(err);
	free(lab);
	free(suite);
	free(db);
	free(dir);
}

/*
 * scenario_path: a lab repository keeps its suites, its scenarios and its
 * shared Lua modules in directories of its own. The suite names them in
 * scenario_path; its scenario is found in the first, `require` finds a
 * module in the second (and lib.oracle in patchlab's library); a suite
 * whose scenario is in none of them is refused naming the scenario_path.
 */
static void scenario_path_finds_scenarios_and_modules(void **state)
{
	struct e2e_ctx *c = *state;
	char *repo = pl_test_path(c->rack.dir, "labrepo2"), *d, *p, *json;
	char *db = pl_test_path(repo, "r.db"), *out = NULL, yaml[1024];
	json_error_t jerr;
	json_t *doc;
	int rc;

	assert_int_equal(mkdir(repo, 0755), 0);
	for (const char *sub = "suites\0tests\0shared\0shared/helpers\0";
	     *sub; sub += strlen(sub) + 1) {
		d = pl_test_path(repo, sub);
		assert_int_equal(mkdir(d, 0755), 0);
		free(d);
	}
	d = pl_test_path(repo, "tests");
	p = pl_test_path(d, "hello.lua");
	write_file(p, "local say = require(\"helpers.say\")\n"
		      "local oracle = require(\"lib.oracle\")\n"
		      "check(type(oracle.baseline) == \"function\", "
		      "\"no lib.oracle\")\n"
		      "verdict.pass(say.msg())\n");
	free(p);
	free(d);
	d = pl_test_path(repo, "shared/helpers");
	p = pl_test_path(d, "say.lua");
	write_file(p, "return { msg = function() return "
		      "\"found through scenario_path\" end }\n");
	free(p);
	free(d);
	d = pl_test_path(repo, "suites");
	snprintf(yaml, sizeof(yaml),
		 "name: from-anywhere\n"
		 "scenario_path: [../tests, ../shared]\n"
		 "images:\n"
		 "  new: {path: \"%s/images/v1.1.0.img\", version: 1.1.0}\n"
		 "runs:\n"
		 "  - scenario: hello.lua\n", c->rack.dir);
	p = pl_test_path(d, "s.yaml");
	write_file(p, yaml);
	json = pl_test_path(repo, "r.json");
	rc = e2e_patchlab(NULL, &out, "run", p, "--lab", c->rack.lab,
			  "--tag", "good", "--db", db, "--out", repo,
			  "--json", json, "-q", NULL);
	if (rc != PL_EXIT_OK)
		fprintf(stderr, "patchlab run: exit %d\n%s", rc, out ? out : "");
	assert_int_equal(rc, PL_EXIT_OK);
	free(out);
	doc = json_load_file(json, 0, &jerr);
	assert_non_null(doc);
	assert_non_null(run_with_reason(doc, "pass",
					"found through scenario_path"));
	json_decref(doc);
	free(p);
	/* not in any of the directories: refused, saying where it looked */
	snprintf(yaml, sizeof(yaml),
		 "name: missing\n"
		 "scenario_path: [../shared]\n"
		 "runs:\n"
		 "  - scenario: hello.lua\n");
	p = pl_test_path(d, "missing.yaml");
	write_file(p, yaml);
	rc = e2e_patchlab(NULL, &out, "check", "--lab", c->rack.lab, p, NULL);
	assert_int_equal(rc, PL_EXIT_CONFIG);
	assert_non_null(strstr(out, "scenario_path"));
	free(out);
	free(p);
	free(d);
	free(json);
	free(db);
	free(repo);
}

/*
 * console:send keeps the console's pace: 4 MiB sent in 4 KiB pieces from a
 * loop that never waits otherwise, to a board switched off (the rack reads
 * and drops it). Each send returns once its bytes have left for the
 * device, so the controller's queue never holds more than a piece; before,
 * the loop queued everything and the console's 1 MiB queue limit ended the
 * run lab-error ("output queue full").
 */
static void console_send_keeps_the_consoles_pace(void **state)
{
	struct e2e_ctx *c = *state;
	char *dir = pl_test_path(c->rack.dir, "pace"), *scen, *suite, *json;
	char *db, *out = NULL, yaml[512];
	json_error_t jerr;
	json_t *doc;
	int rc;

	assert_int_equal(mkdir(dir, 0755), 0);
	scen = pl_test_path(dir, "flood.lua");
	write_file(scen, "board:power_off()\n"
			 "local piece = string.rep(\"x\", 4096)\n"
			 "for i = 1, 1024 do board.console:send(piece) end\n"
			 "verdict.pass(\"sent 4 MiB\")\n");
	snprintf(yaml, sizeof(yaml), "name: pace\nruns:\n"
		 "  - scenario: flood.lua\n");
	suite = pl_test_path(dir, "suite.yaml");
	write_file(suite, yaml);
	json = pl_test_path(dir, "r.json");
	db = pl_test_path(dir, "r.db");
	rc = e2e_patchlab(NULL, &out, "run", suite, "--lab", c->rack.lab,
			  "--tag", "good", "--db", db, "--out", dir, "--json",
			  json, "-q", NULL);
	if (rc != PL_EXIT_OK)
		fprintf(stderr, "patchlab run: exit %d\n%s", rc, out ? out : "");
	assert_int_equal(rc, PL_EXIT_OK);
	free(out);
	doc = json_load_file(json, 0, &jerr);
	assert_non_null(doc);
	assert_non_null(run_with_reason(doc, "pass", "sent 4 MiB"));
	json_decref(doc);
	free(scen);
	free(suite);
	free(json);
	free(db);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sweep_without_points),
		cmocka_unit_test(recovery_command_fails),
		cmocka_unit_test(recovery_command_restores),
		cmocka_unit_test(quarantine_outlives_the_suite),
		cmocka_unit_test(scenario_path_finds_scenarios_and_modules),
		cmocka_unit_test(console_send_keeps_the_consoles_pace),
	};

	return cmocka_run_group_tests_name("e2e_notrun", tests, setup,
					   e2e_ctx_teardown);
}
