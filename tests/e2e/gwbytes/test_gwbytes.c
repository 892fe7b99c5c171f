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
 * bytes-triggered cut"). The suite runs with nothing exported.
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

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char *out = NULL;
	int rc;

	*state = c;
	if (!c)
		return -1;
	pl_test_become_subreaper();
	c->dir = pl_test_tmpdir("e2e-gwbytes");
	c->lab = pl_test_path(c->dir, "lab.yaml");
	rc = e2e_patchlab(NULL, &out, "vrack", "up", "--dir", c->dir,
			  "--family", "gateway", "--boards", "1", "--profile",
			  "good", "--speed", "5", NULL);
	c->pid = pl_test_rack_pid(c->dir);
	if (rc != 0 || c->pid <= 0) {
		fprintf(stderr, "vrack up --family gateway: exit %d\n%s", rc,
			out ? out : "");
		free(out);
		return -1;
	}
	free(out);
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
	free(c);
	return rc ? -1 : 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void bytes_cut_in_a_lua_transfer(void **state)
{
	struct ctx *c = *state;
	char *repo = pl_test_path(c->dir, "labrepo");
	char *scen = pl_test_path(repo, "bytes.lua");
	char *suite = pl_test_path(repo, "bytes.yaml");
	char *json = pl_test_path(c->dir, "bytes.json");
	char *out = NULL, *db = pl_test_path(c->dir, "bytes.db");
	json_error_t jerr;
	json_t *doc, *r;
	sqlite3 *h;
	int rc;

	assert_int_equal(mkdir(repo, 0755), 0);
	write_file(scen,
		   "board:power_off()\n"
		   "board:power_on()\n"
		   "local boot, why = board:wait_boot{ settled = true }\n"
		   "check(boot and boot.settled, \"no settled boot: %s\", why)\n"
		   "local t = fault.cut{ on = \"bytes\", offset = 4096 }\n"
		   "local ok, err = require(\"lib.gateway.update\").update(images.new)\n"
		   "check(t:fired(), \"the bytes trigger did not fire\")\n"
		   "check(not ok, \"the update went through a power cut\")\n"
		   "verdict.pass(\"cut at %s: %s\", t:info().detail, err)\n");
	write_file(suite,
		   "name: gw-bytes\n"
		   "images:\n"
		   "  new: {path: \"${VRACK}/images/gw-2.1.0.img\", version: 2.1.0}\n"
		   "  factory: \"${VRACK}/images/gw-factory.bin\"\n"
		   "runs:\n"
		   "  - scenario: bytes.lua\n");
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
	json_decref(doc);
	/* the trigger event: aimed by bytes, fired at or past the offset */
	h = e2e_db_open(db);
	assert_non_null(h);
	assert_int_equal(e2e_db_int(h, "SELECT count(*) FROM events WHERE "
				    "kind = 'trigger' AND json_extract(payload, "
				    "'$.kind') = 'bytes' AND json_extract("
				    "payload, '$.value') >= 4096", -1), 1);
	sqlite3_close(h);
	free(repo);
	free(scen);
	free(suite);
	free(json);
	free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bytes_cut_in_a_lua_transfer),
	};

	return cmocka_run_group_tests_name("e2e_gwbytes", tests, setup,
					   teardown);
}
