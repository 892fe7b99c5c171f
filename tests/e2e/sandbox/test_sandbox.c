/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/sandbox: scenario bugs and sandbox escapes are lab errors that
 * name the file and line, and the controller keeps going.
 *
 * tests/data/e2e/scenarios/suites/sandbox.yaml runs, in order on one
 * `good` board of a real virtual rack (--jobs 1): os.execute, io.open,
 * require of a module outside scenarios/ (through a symlink that leads out
 * of the root), a misspelt global, an endless loop and a memory bomb (the
 * suite's defaults set small instruction and memory budgets), an image
 * mutation that changes nothing, loops of fresh coroutines (they used to
 * escape the budget), an error object that is a table (it used to have
 * no line); then the codec table on a booted board, a good scenario, then
 * a failed check(). From the JSON report:
 *   - each bad run ends `lab-error` and its reason carries the exact
 *     "scenarios/FILE.lua:LINE:" of the offending line;
 *   - the good run after them passes (the controller kept running);
 *   - the failed check() ends `fail` (a device assertion, not lab-error);
 *   - the controller exits 1 (a device failure, not a lab error), and no
 *     file was created by os.execute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

static const struct expect {
	const char *scenario, *verdict, *where, *what;
} expected[] = {
	{ "scenarios/sb_os_execute.lua", "lab-error",
	  "scenarios/sb_os_execute.lua:3:", "execute" },
	{ "scenarios/sb_io_open.lua", "lab-error",
	  "scenarios/sb_io_open.lua:3:", "'io'" },
	{ "scenarios/sb_require_outside.lua", "lab-error",
	  "scenarios/sb_require_outside.lua:4:", "escape.secret" },
	{ "scenarios/sb_global_typo.lua", "lab-error",
	  "scenarios/sb_global_typo.lua:3:", "'bord'" },
	{ "scenarios/sb_endless.lua", "lab-error",
	  "scenarios/sb_endless.lua:5:", "instruction budget" },
	{ "scenarios/sb_membomb.lua", "lab-error",
	  "scenarios/sb_membomb.lua:5:", "memory budget" },
	{ "scenarios/sb_mutate_nothing.lua", "lab-error",
	  "scenarios/sb_mutate_nothing.lua:4:", "fewer bytes than the image" },
	{ "scenarios/sb_coroutine_loop.lua", "lab-error",
	  "scenarios/sb_coroutine_loop.lua:4:", "instruction budget" },
	{ "scenarios/sb_coroutine_short.lua", "lab-error",
	  "scenarios/sb_coroutine_short.lua:4:", "instruction budget" },
	{ "scenarios/sb_error_table.lua", "lab-error",
	  "scenarios/sb_error_table.lua:4:", "(error object is a table value)" },
	{ "scenarios/sb_codec.lua", "pass", NULL,
	  "codec ok: cGF0Y2hsYWI= 6c6162" },
	{ "scenarios/sb_good.lua", "pass", NULL, "lib.helper" },
	{ "scenarios/sb_check_fail.lua", "fail", NULL, "expected 9.9.9" },
};
#define NEXP (sizeof(expected) / sizeof(expected[0]))

static int group_setup(void **state)
{
	return e2e_ctx_setup(state,
			     "tests/data/e2e/scenarios/suites/sandbox.yaml",
			     "e2e-sandbox", 1, "good");
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void test_sandbox_suite(void **state)
{
	struct e2e_ctx *c = *state;
	char out[4200], json[4200], mark[4200], *txt = NULL;
	json_error_t jerr;
	json_t *j, *runs;
	int rc;

	snprintf(out, sizeof(out), "%s/out", c->rack.dir);
	snprintf(json, sizeof(json), "%s/sandbox.json", c->rack.dir);
	/* what sb_os_execute.lua would create if os.execute existed */
	snprintf(mark, sizeof(mark), "/tmp/patchlab-sandbox-escaped");
	rc = e2e_patchlab(NULL, &txt, "run", c->suite, "--lab", c->rack.lab,
			  "--out", out, "--json", json, "--jobs", "1", "-q",
			  NULL);
	fprintf(stderr, "%s", txt ? txt : "");
	free(txt);
	assert_int_equal(rc, PL_EXIT_GATE_FAILED);
	assert_int_equal(access(mark, F_OK), -1);

	j = json_load_file(json, 0, &jerr);
	if (!j)
		fail_msg("%s: %s", json, jerr.text);
	runs = json_object_get(j, "runs");
	assert_int_equal(json_array_size(runs), NEXP);
	for (size_t i = 0; i < NEXP; i++) {
		json_t *r = json_array_get(runs, i);
		const char *reason = str(r, "reason");

		assert_string_equal(str(r, "scenario"), expected[i].scenario);
		if (strcmp(str(r, "verdict"), expected[i].verdict))
			fail_msg("%s: verdict %s (want %s): %s",
				 expected[i].scenario, str(r, "verdict"),
				 expected[i].verdict, reason);
		if (expected[i].where && !strstr(reason, expected[i].where))
			fail_msg("%s: reason does not name %s: %s",
				 expected[i].scenario, expected[i].where,
				 reason);
		if (!strstr(reason, expected[i].what))
			fail_msg("%s: reason does not say '%s': %s",
				 expected[i].scenario, expected[i].what,
				 reason);
	}
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox_suite),
	};

	return cmocka_run_group_tests_name("/pl/e2e/sandbox", tests,
					   group_setup, e2e_ctx_teardown);
}
