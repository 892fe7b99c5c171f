/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/gwrecover: recovery by a Lua module (`recovery: {method: lua}`)
 * through the board type's boot-mode control, on a real gateway rack
 * started with --rom-recovery (no probe, no programmer in the board type:
 * the strap relay and the console). Issue 11, item 1. In order, on one
 * board of the env-in-place profile:
 *
 *   rom_module_restores: a cut aimed 13 ms after
 *       "fwupdate: activating slot" bricks the board; the shipped
 *       lib.gateway.rom_recover holds the strap, restores the factory image
 *       through the ROM download mode and the lab's verifying boot finds
 *       1.0.0: the run is `recovered` naming the module, the next run runs
 *       and passes (not not-run), exit 1 (a brick is a device failure).
 *   module_raises: the same brick with a module that holds the strap,
 *       powers on and raises: the run is lab-error naming the board and
 *       the module's file:line, the next run is not-run, the gate
 *       incomplete, exit 2; the board is left off with its strap released.
 *   module_loops: a module that loops forever ends by its instruction
 *       budget the same way.
 *   module_that_lies_cannot_recover: a module that returns true and did
 *       nothing: the lab's verifying boot fails, the run stays bricked,
 *       the board is quarantined and the next run not-run.
 *   exec_with_boot_mode_restores: recovery: {method: exec, boot_mode:
 *       true}: the lab holds the strap and powers the board on around a
 *       command that refuses to flash unless the rack shows the board
 *       powered in boot mode: recovered, the next run passes.
 *   check_finds_a_misspelt_module: `patchlab check` on the suite and a lab
 *       whose type names lib.bad.rasie: FILE:LINE:COL, exit 65.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/clock.h"
#include "patchlab/exit.h"
#include "pl_test.h"

struct ctx {
	char *dir, *lab, *repo;
	int pid;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char *out = NULL;
	int rc;

	*state = c;
	if (!c)
		return -1;
	pl_test_become_subreaper();
	c->dir = pl_test_tmpdir("e2e-gwrecover");
	c->lab = pl_test_path(c->dir, "lab.yaml");
	c->repo = pl_test_path(c->dir, "repo");
	rc = e2e_patchlab(NULL, &out, "vrack", "up", "--dir", c->dir,
			  "--family", "gateway", "--rom-recovery", "--boards",
			  "1", "--profile", "env-in-place", NULL);
	c->pid = pl_test_rack_pid(c->dir);
	if (rc != 0 || c->pid <= 0) {
		fprintf(stderr, "vrack up --rom-recovery: exit %d\n%s", rc,
			out ? out : "");
		free(out);
		return -1;
	}
	free(out);
	if (mkdir(c->repo, 0755) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char *out = NULL;
	int rc = 0;

	if (!c)
		return 0;
	if (c->pid > 0) {
		rc = e2e_patchlab(NULL, &out, "vrack", "down", "--dir", c->dir,
				  NULL);
		free(out);
		if (pl_test_reap(c->pid, PL_TEST_REAP_DEADLINE_MS) < 0)
			rc = -1;
	}
	if (!getenv("PL_KEEP_RACK"))
		pl_test_rmrf(c->dir);
	free(c->dir);
	free(c->lab);
	free(c->repo);
	free(c);
	return rc ? -1 : 0;
}

static void write_in(const char *dir, const char *name, const char *text)
{
	char *path = pl_test_path(dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	free(path);
}

/* s with the first `from` replaced by `to` (malloc'ed); from must be in s. */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *r;

	assert_non_null(at);
	assert_true(asprintf(&r, "%.*s%s%s", (int)(at - s), s, to,
			     at + strlen(from)) > 0);
	return r;
}

/* The brick: an update cut in the middle of env-in-place's window (5, 21)
 * ms after the activation line (--speed 1: 8 ms of margin either side for
 * the controller's reaction), then a run that only has to run. */
static void write_suite(struct ctx *c, const char *name)
{
	char text[1024];

	write_in(c->repo, "brick.lua",
		 "local gw = require(\"lib.gateway.oracle\")\n"
		 "local oracle = require(\"lib.oracle\")\n"
		 "-- a controller starved past the window's 8 ms margin cuts too\n"
		 "-- late: the board survives, and the brick is tried again\n"
		 "for attempt = 1, 5 do\n"
		 "  board:power_off()\n"
		 "  local boot, why = gw.boot()\n"
		 "  check(boot, \"no boot before the cut: %s\", why)\n"
		 "  local t = fault.cut({ on = \"console\", pattern = "
		 "\"^fwupdate: activating slot\", nth = 1, delay_ms = 13 })\n"
		 "  oracle.update(images.new)\n"
		 "  t:wait(500)\n"
		 "  t:disarm()\n"
		 "  board:power_off()\n"
		 "  if not gw.boot() then\n"
		 "    verdict.bricked(\"attempt %d: no boot after the cut\", attempt)\n"
		 "    return\n"
		 "  end\n"
		 "end\n"
		 "error(\"five cuts and no brick\")\n");
	write_in(c->repo, "after.lua", "verdict.pass(\"ran after the brick\")\n");
	snprintf(text, sizeof(text),
		 "name: %s\n"
		 "images:\n"
		 "  new: {path: \"${VRACK}/images/gw-2.1.0.img\", version: 2.1.0}\n"
		 "  factory: \"${VRACK}/images/gw-factory.bin\"\n"
		 "defaults: {instructions: 50000000, run_timeout: 1m}\n"
		 "runs:\n"
		 "  - scenario: brick.lua\n"
		 "  - scenario: after.lua\n", name);
	write_in(c->repo, "suite.yaml", text);
}

/* A lab of the rack's board with the board type gw-bad, whose text is
 * type_text (name: gw-bad). */
static char *write_lab_of_type(struct ctx *c, const char *type_text)
{
	char *lab, *l1, *l2, *boards;
	char *lab_path = pl_test_path(c->repo, "lab.yaml"), to[600];

	boards = pl_test_path(c->repo, "boards");
	mkdir(boards, 0755);
	write_in(boards, "gw-bad.yaml", type_text);
	lab = pl_test_slurp(c->lab);
	assert_non_null(lab);
	snprintf(to, sizeof(to), "  name: vrack-gateway\n  boards_path: [\"%s\"]\n",
		 boards);
	l1 = replace(lab, "  name: vrack-gateway\n", to);
	l2 = replace(l1, "type: virtual-gateway-rom", "type: gw-bad");
	write_in(c->repo, "lab.yaml", l2);
	free(lab);
	free(l1);
	free(l2);
	free(boards);
	return lab_path;
}

/* The same with virtual-gateway-rom whose recovery module is module. */
static char *write_bad_lab(struct ctx *c, const char *module)
{
	char *src = pl_test_source_path("boards/virtual-gateway-rom.yaml");
	char *type = pl_test_slurp(src), *t1, *t2, *lab, to[200];

	assert_non_null(type);
	t1 = replace(type, "name: virtual-gateway-rom", "name: gw-bad");
	snprintf(to, sizeof(to), "module: %s", module);
	t2 = replace(t1, "module: lib.gateway.rom_recover", to);
	lab = write_lab_of_type(c, t2);
	free(src);
	free(type);
	free(t1);
	free(t2);
	return lab;
}

/* Run the repo's suite on lab; the JSON report, *rc the exit code. */
static json_t *run_suite(struct ctx *c, const char *lab, const char *name,
			 int *rc)
{
	char file[64];
	char *suite = pl_test_path(c->repo, "suite.yaml"), *json, *db;
	char *out = NULL;
	json_error_t jerr;
	json_t *doc;

	snprintf(file, sizeof(file), "%s.json", name);
	json = pl_test_path(c->dir, file);
	snprintf(file, sizeof(file), "%s.db", name);
	db = pl_test_path(c->dir, file);
	{
		char *argv[] = { "/usr/bin/env", "-u", "VRACK",
				 (char *)pl_test_patchlab(), "run", suite,
				 "--lab", (char *)lab, "--db", db, "--out",
				 c->dir, "--json", json, "-q", NULL };

		*rc = e2e_run_argv(NULL, &out, argv);
	}
	doc = json_load_file(json, 0, &jerr);
	if (!doc)
		fprintf(stderr, "patchlab run: exit %d\n%s", *rc, out ? out : "");
	assert_non_null(doc);
	free(out);
	free(suite);
	free(json);
	free(db);
	return doc;
}

static const char *run_field(json_t *doc, size_t i, const char *key)
{
	json_t *r = json_array_get(json_object_get(doc, "runs"), i);

	assert_non_null(r);
	return json_string_value(json_object_get(r, key));
}

/* The rack's view of gw0 shows it off with its strap released (the rack
 * reads the strap relay's frames on its own: wait for them, bounded). */
static void assert_off_and_released(struct ctx *c)
{
	uint64_t deadline = pl_now_ns() + 10000000000ull;
	char *out = NULL;

	for (;;) {
		int rc = e2e_patchlab(NULL, &out, "vrack", "status", "--dir",
				      c->dir, NULL);

		if (rc == 0 && out && strstr(out, "gw0 profile=env-in-place "
					     "power=off state=off"))
			break;
		if (pl_now_ns() >= deadline)
			fail_msg("gw0 not off with its strap released:\n%s",
				 out ? out : "");
		free(out);
		out = NULL;
	}
	free(out);
}

static void rom_module_restores(void **state)
{
	struct ctx *c = *state;
	json_t *doc;
	int rc;

	write_suite(c, "gwrec-rom");
	doc = run_suite(c, c->lab, "rom", &rc);
	assert_string_equal(run_field(doc, 0, "verdict"), "recovered");
	assert_non_null(strstr(run_field(doc, 0, "reason"),
			       "restored through its recovery module "
			       "lib.gateway.rom_recover (booted 1.0.0)"));
	assert_string_equal(run_field(doc, 1, "verdict"), "pass");
	assert_int_equal(rc, PL_EXIT_GATE_FAILED);
	json_decref(doc);
	assert_off_and_released(c);
}

/* A module that fails as the lab: lab-error naming board and file:line,
 * the rest not run, incomplete, exit 2, off and released; then the board
 * is flashed back by its programmer for the next case. */
static void bad_module(struct ctx *c, const char *name, const char *file,
		       const char *text, const char *where)
{
	char *lab, *libdir = pl_test_path(c->repo, "lib"), *bad, *out = NULL;
	char *factory = pl_test_path(c->dir, "images/gw-factory.bin");
	const char *reason;
	json_t *doc;
	int rc;

	mkdir(libdir, 0755);
	bad = pl_test_path(libdir, "bad");
	mkdir(bad, 0755);
	write_in(bad, file, text);
	write_suite(c, name);
	{
		char mod[64];

		snprintf(mod, sizeof(mod), "lib.bad.%.*s",
			 (int)(strlen(file) - 4), file);
		lab = write_bad_lab(c, mod);
	}
	doc = run_suite(c, lab, name, &rc);
	assert_string_equal(run_field(doc, 0, "verdict"), "lab-error");
	reason = run_field(doc, 0, "reason");
	assert_non_null(strstr(reason, "board gw0: recovery module lib.bad."));
	if (!strstr(reason, where))
		fail_msg("reason without %s: %s", where, reason);
	assert_string_equal(run_field(doc, 1, "verdict"), "not-run");
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(doc, "gate"), "result")), "incomplete");
	assert_int_equal(rc, PL_EXIT_LAB_ERROR);
	json_decref(doc);
	assert_off_and_released(c);
	rc = e2e_patchlab(NULL, &out, "vrack", "factory", "--dir", c->dir,
			  "--board", "gw0", "--image", factory, NULL);
	if (rc != 0)
		fail_msg("vrack factory: exit %d\n%s", rc, out ? out : "");
	free(out);
	free(lab);
	free(bad);
	free(libdir);
	free(factory);
}

static void module_raises(void **state)
{
	bad_module(*state, "gwrec-raise", "raise.lua",
		   "return { recover = function(args)\n"
		   "  board:boot_mode(true)\n"
		   "  board:power_on()\n"
		   "  error(\"no ROM today for \" .. args.board)\n"
		   "end }\n", "raise.lua:4: no ROM today for gw0");
}

static void module_loops(void **state)
{
	bad_module(*state, "gwrec-loop", "loop.lua",
		   "return function(args)\n"
		   "  board:boot_mode(true)\n"
		   "  while true do end\n"
		   "end\n", "loop.lua:3: instruction budget");
}

/* A module that returns true without restoring anything: the lab's own
 * boot finds the board still bricked, so the run stays bricked (a device
 * outcome) and the board is quarantined; the next run is not-run. */
static void module_that_lies_cannot_recover(void **state)
{
	struct ctx *c = *state;
	char *lab, *libdir = pl_test_path(c->repo, "lib"), *bad, *out = NULL;
	char *factory = pl_test_path(c->dir, "images/gw-factory.bin");
	json_t *doc;
	int rc;

	mkdir(libdir, 0755);
	bad = pl_test_path(libdir, "bad");
	mkdir(bad, 0755);
	write_in(bad, "lie.lua", "return function(args) return true end\n");
	write_suite(c, "gwrec-lie");
	lab = write_bad_lab(c, "lib.bad.lie");
	doc = run_suite(c, lab, "lie", &rc);
	assert_string_equal(run_field(doc, 0, "verdict"), "bricked");
	assert_null(strstr(run_field(doc, 0, "reason"), "restored"));
	assert_string_equal(run_field(doc, 1, "verdict"), "not-run");
	assert_non_null(strstr(run_field(doc, 1, "reason"), "quarantined"));
	assert_int_not_equal(rc, PL_EXIT_OK);
	json_decref(doc);
	assert_off_and_released(c);
	rc = e2e_patchlab(NULL, &out, "vrack", "factory", "--dir", c->dir,
			  "--board", "gw0", "--image", factory, NULL);
	if (rc != 0)
		fail_msg("vrack factory: exit %d\n%s", rc, out ? out : "");
	free(out);
	free(lab);
	free(bad);
	free(libdir);
	free(factory);
}

/* recovery: {method: exec, boot_mode: true}: the lab holds the strap and
 * powers the board on for the command, which finds it in boot mode (the
 * rack's own view) before the programmer writes the factory image. */
static void exec_with_boot_mode_restores(void **state)
{
	struct ctx *c = *state;
	char *src = pl_test_source_path("boards/virtual-gateway.yaml");
	char *type = pl_test_slurp(src), *t1, *t2, *lab, cmd[2048];
	json_t *doc;
	int rc;

	assert_non_null(type);
	t1 = replace(type, "name: virtual-gateway\n", "name: gw-bad\n"
		     "boot_mode: {driver: lcus, port: \"%{STRAP_PORT}\", "
		     "channel: \"%{STRAP_CHANNEL}\", settle: 100ms}\n");
	snprintf(cmd, sizeof(cmd),
		 "  command: [/bin/sh, -c, '\"$0\" vrack status --dir "
		 "\"$1\" | grep -q \"^gw0 .*power=on bootmode\" && \"$0\" "
		 "vrack factory --dir \"$1\" --board gw0 --image \"$2\" "
		 "--timeout 20', \"%%{PATCHLAB}\", \"%%{VRACK}\", "
		 "\"%%{image}\"]\n  boot_mode: true\n  image: factory\n");
	t2 = replace(t1, "  command: [\"%{PATCHLAB}\", vrack, factory, --dir, "
		     "\"%{VRACK}\", --board, \"%{board}\",\n"
		     "            --image, \"%{image}\", --timeout, \"20\"]\n"
		     "  image: factory\n", cmd);
	lab = write_lab_of_type(c, t2);
	write_suite(c, "gwrec-execbm");
	doc = run_suite(c, lab, "execbm", &rc);
	if (strcmp(run_field(doc, 0, "verdict"), "recovered") != 0)
		fail_msg("run 1: %s: %s", run_field(doc, 0, "verdict"),
			 run_field(doc, 0, "reason"));
	assert_non_null(strstr(run_field(doc, 0, "reason"),
			       "restored through its recovery command"));
	assert_string_equal(run_field(doc, 1, "verdict"), "pass");
	assert_int_equal(rc, PL_EXIT_GATE_FAILED);
	json_decref(doc);
	assert_off_and_released(c);
	free(src);
	free(type);
	free(t1);
	free(t2);
	free(lab);
}

static void check_finds_a_misspelt_module(void **state)
{
	struct ctx *c = *state;
	char *lab, *suite = pl_test_path(c->repo, "suite.yaml"), *out = NULL;
	char *type = pl_test_path(c->repo, "boards/gw-bad.yaml"), want[600];
	int rc;

	write_suite(c, "gwrec-check");
	lab = write_bad_lab(c, "lib.bad.rasie");
	rc = e2e_patchlab(NULL, &out, "check", suite, "--lab", lab, NULL);
	assert_int_equal(rc, PL_EXIT_CONFIG);
	/* FILE:LINE:COL of the module's name in the board type */
	snprintf(want, sizeof(want), "%s:", type);
	assert_non_null(out);
	if (!strstr(out, want) || !strstr(out, ": error: board type gw-bad: "
					  "recovery module 'lib.bad.rasie' not "
					  "found"))
		fail_msg("check said:\n%s", out);
	free(out);
	free(lab);
	free(suite);
	free(type);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rom_module_restores),
		cmocka_unit_test(module_raises),
		cmocka_unit_test(module_loops),
		cmocka_unit_test(module_that_lies_cannot_recover),
		cmocka_unit_test(exec_with_boot_mode_restores),
		cmocka_unit_test(check_finds_a_misspelt_module),
	};

	return cmocka_run_group_tests_name("e2e_gwrecover", tests, setup,
					   teardown);
}
