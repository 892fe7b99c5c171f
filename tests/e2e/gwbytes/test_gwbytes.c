/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/gwbytes: on a real gateway rack (`vrack up --family gateway`, no
 * probe), a scenario outside the project tree boots the board with
 * wait_boot{settled = true}, arms fault.cut{on = "bytes", offset = 4096}
 * and runs the shipped Lua update module (lib.gateway.update: the image as
 * base64 lines read with img:read, each acknowledged count reported with
 * board:transfer_progress). The trigger fires in the transfer, the update
 * reports the power cut, and the run's trigger event says bytes: issue 11
 * ("a Lua update module that sends an image as base64 lines with a
 * bytes-triggered cut"). The suite runs with nothing exported. The same
 * with fault.cut{on = "progress", percent = 50}: the gateway prints no
 * progress lines, so the trigger reads the share of the image the module
 * reports acknowledged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

struct ctx {
	char *dir, *lab;
	int pid;
};

/* A gateway rack of one good board at speed in dir: its pid, or -1. */
static int rack_up(const char *dir, const char *speed)
{
	char *out = NULL;
	int rc, pid;

	rc = e2e_patchlab(NULL, &out, "vrack", "up", "--dir", dir,
			  "--family", "gateway", "--boards", "1", "--profile",
			  "good", "--speed", speed, NULL);
	pid = pl_test_rack_pid(dir);
	if (rc != 0 || pid <= 0) {
		fprintf(stderr, "vrack up --family gateway: exit %d\n%s", rc,
			out ? out : "");
		pid = -1;
	}
	free(out);
	return pid;
}

/* 0, or -1 when the rack did not go down and end. */
static int rack_down(const char *dir, int pid)
{
	char *out = NULL;
	int rc;

	rc = e2e_patchlab(NULL, &out, "vrack", "down", "--dir", dir, NULL);
	free(out);
	if (pl_test_reap(pid, PL_TEST_REAP_DEADLINE_MS) < 0)
		rc = -1;
	return rc ? -1 : 0;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	*state = c;
	if (!c)
		return -1;
	pl_test_become_subreaper();
	c->dir = pl_test_tmpdir("e2e-gwbytes");
	c->lab = pl_test_path(c->dir, "lab.yaml");
	c->pid = rack_up(c->dir, "5");
	return c->pid > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	int rc = 0;

	if (!c)
		return 0;
	if (c->pid > 0)
		rc = rack_down(c->dir, c->pid);
	if (!getenv("PL_KEEP_RACK"))
		pl_test_rmrf(c->dir);
	free(c->dir);
	free(c->lab);
	free(c);
	return rc;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* A suite of one run on the rack's board, outside the project tree: the
 * scenario arms aim (Lua), runs lib.gateway.update and passes when the
 * trigger cut the transfer. Its trigger events matching sql_where, in
 * NAME.db, are counted into *events; the run's reason is returned. */
static char *aimed_cut(struct ctx *c, const char *name, const char *aim,
		       const char *sql_where, long *events)
{
	char file[64], sql[512], scen_text[1024], suite_text[512];
	char *repo = pl_test_path(c->dir, name);
	char *scen = pl_test_path(repo, "cut.lua");
	char *suite = pl_test_path(repo, "suite.yaml");
	char *json, *db, *out = NULL, *reason;
	json_error_t jerr;
	json_t *doc, *r;
	sqlite3 *h;
	int rc;

	snprintf(file, sizeof(file), "%s.json", name);
	json = pl_test_path(c->dir, file);
	snprintf(file, sizeof(file), "%s.db", name);
	db = pl_test_path(c->dir, file);
	assert_int_equal(mkdir(repo, 0755), 0);
	snprintf(scen_text, sizeof(scen_text),
		 "board:power_off()\n"
		 "board:power_on()\n"
		 "local boot, why = board:wait_boot{ settled = true }\n"
		 "check(boot and boot.settled, \"no settled boot: %%s\", why)\n"
		 "local t = fault.cut%s\n"
		 "local ok, err = require(\"lib.gateway.update\").update(images.new)\n"
		 "check(t:fired(), \"the trigger did not fire\")\n"
		 "check(not ok, \"the update went through a power cut\")\n"
		 "verdict.pass(\"cut at %%s: %%s\", t:info().detail, err)\n",
		 aim);
	write_file(scen, scen_text);
	snprintf(suite_text, sizeof(suite_text),
		 "name: gw-%s\n"
		 "images:\n"
		 "  new: {path: \"${VRACK}/images/gw-2.1.0.img\", version: 2.1.0}\n"
		 "  factory: \"${VRACK}/images/gw-factory.bin\"\n"
		 "runs:\n"
		 "  - scenario: cut.lua\n", name);
	write_file(suite, suite_text);
	{
		char *argv[] = { "/usr/bin/env", "-u", "VRACK", "-u", "PROFILE",
				 (char *)pl_test_patchlab(), "run", suite,
				 "--lab", c->lab, "--db", db, "--out", c->dir,
				 "--json", json, "-q", NULL };

		rc = e2e_run_argv(NULL, &out, argv);
	}
	if (rc != PL_EXIT_OK)
		fprintf(stderr, "patchlab run: exit %d\n%s", rc, out ? out : "");
	free(out);
	assert_int_equal(rc, PL_EXIT_OK);
	doc = json_load_file(json, 0, &jerr);
	assert_non_null(doc);
	r = json_array_get(json_object_get(doc, "runs"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "verdict")),
			    "pass");
	reason = strdup(json_string_value(json_object_get(r, "reason")));
	assert_non_null(reason);
	json_decref(doc);
	h = e2e_db_open(db);
	assert_non_null(h);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE kind = "
		 "'trigger' AND %s", sql_where);
	*events = e2e_db_int(h, sql, -1);
	sqlite3_close(h);
	free(repo);
	free(scen);
	free(suite);
	free(json);
	free(db);
	return reason;
}

static void bytes_cut_in_a_lua_transfer(void **state)
{
	long n = 0;

	/* aimed by bytes, fired at or past the offset */
	free(aimed_cut(*state, "bytes", "{ on = \"bytes\", offset = 4096 }",
		       "json_extract(payload, '$.kind') = 'bytes' AND "
		       "json_extract(payload, '$.value') >= 4096", &n));
	assert_int_equal(n, 1);
}

/* The gateway prints no progress lines: a progress cut fires on the share
 * of the image the module reports acknowledged (transfer_progress's
 * total), at or past half of it. */
static void progress_cut_in_a_lua_transfer(void **state)
{
	long n = 0;

	unsigned long acked = 0, total = 0;
	char *why = aimed_cut(*state, "progress",
			      "{ on = \"progress\", percent = 50 }",
			      "json_extract(payload, '$.kind') = 'progress' AND "
			      "json_extract(payload, '$.value') = 50", &n);

	assert_int_equal(n, 1);
	/* the scenario's reason names what fired it: t:info().detail */
	if (sscanf(why, "cut at acked %lu of %lu bytes", &acked, &total) != 2)
		fail_msg("reason: %s", why);
	assert_true(total > 0);
	assert_true(2 * acked >= total);
	assert_true(acked <= total);
	free(why);
}

/* A scenario that ends right after the boot line, before the board
 * commits the boot: the lab's own power-off waits for the settled line
 * and never cuts before it: the commit line is in the run's console log.
 * The case has a rack of its own at speed 1, where "gw: boot committed"
 * comes 20 ms after "gw: boot ok" (4 ms on the group's rack at speed 5):
 * a run's end is quicker than that, so without the wait the lab's
 * power-off lands inside the commit and the line is missing. */
static void end_of_run_waits_for_the_settled_line(void **state)
{
	struct ctx *c = *state;
	char *rack = pl_test_path(c->dir, "settle-rack");
	char *lab = pl_test_path(rack, "lab.yaml");
	char *repo = pl_test_path(c->dir, "settle");
	char *scen = pl_test_path(repo, "early.lua");
	char *suite = pl_test_path(repo, "suite.yaml");
	char *db = pl_test_path(c->dir, "settle.db"), *out = NULL;
	sqlite3 *h;
	int rc, pid;

	assert_int_equal(mkdir(rack, 0755), 0);
	pid = rack_up(rack, "1");
	assert_true(pid > 0);
	assert_int_equal(mkdir(repo, 0755), 0);
	write_file(scen,
		   "board:power_off()\n"
		   "board:power_on()\n"
		   "local m = board.console:expect(\"^gw: boot ok\", "
		   "{timeout = 5000})\n"
		   "check(m, \"no boot line\")\n"
		   "verdict.pass(\"booted: %s\", m.text)\n");
	write_file(suite,
		   "name: gw-settle\n"
		   "images:\n"
		   "  new: {path: \"${VRACK}/images/gw-2.1.0.img\", version: 2.1.0}\n"
		   "  factory: \"${VRACK}/images/gw-factory.bin\"\n"
		   "runs:\n"
		   "  - scenario: early.lua\n");
	rc = e2e_patchlab(NULL, &out, "run", suite, "--lab", lab, "--db",
			  db, "--out", c->dir, "-q", NULL);
	if (rc != PL_EXIT_OK)
		fprintf(stderr, "patchlab run: exit %d\n%s", rc, out ? out : "");
	free(out);
	assert_int_equal(rack_down(rack, pid), 0);
	assert_int_equal(rc, PL_EXIT_OK);
	h = e2e_db_open(db);
	assert_non_null(h);
	/* the lab never switched it off inside the commit (a power-off
	 * there ends the wait with settled = 0) */
	assert_int_equal(e2e_db_int(h, "SELECT count(*) FROM events WHERE "
				    "kind = 'log' AND json_extract(payload, "
				    "'$.settled') = 0", -1), 0);
	/* and the commit line is in the run's console log, before its
	 * power-off */
	{
		sqlite3_stmt *st = NULL;
		char *log = NULL;

		assert_int_equal(sqlite3_prepare_v2(h, "SELECT console_log FROM "
						    "runs", -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		log = pl_test_slurp((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		assert_non_null(log);
		if (!strstr(log, "gw: boot committed"))
			fail_msg("no commit line in the console log:\n%s", log);
		/* the earlier cases ran suite 1 of other stores into the same
		 * out directory: their logs are theirs, not appended here */
		if (strstr(log, "fwupdate"))
			fail_msg("another run's console in this run's log:\n%s",
				 log);
		free(log);
	}
	sqlite3_close(h);
	free(rack);
	free(lab);
	free(repo);
	free(scen);
	free(suite);
	free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bytes_cut_in_a_lua_transfer),
		cmocka_unit_test(progress_cut_in_a_lua_transfer),
		cmocka_unit_test(end_of_run_waits_for_the_settled_line),
	};

	return cmocka_run_group_tests_name("e2e_gwbytes", tests, setup,
					   teardown);
}
