/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/replay: `patchlab replay RUN` runs a recorded run again, exactly.
 *
 * On a real virtual rack of two boards of one type, vb0 with the `good`
 * firmware profile and vb1 with `single-slot` (the rack of the README's
 * walk-through): scenarios/suites/quick.yaml runs on the single-slot board
 * (--tag single-slot, --json); a run that ended bricked or recovered at a
 * cut point (before/during/after an op) is replayed with `patchlab replay
 * ID --db --lab --json`, and the replayed run has the same scenario,
 * params, cut point (phase, op index, phi) and seed, and ends bricked or
 * recovered again. The same for a run of the good board that rolled back:
 * its replay rolls back again.
 *
 * Every child is reaped; the rack is powered off, taken down and reaped.
 * PL_KEEP_RACK=1 keeps the rack directory (logs, stores, reports).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

struct ctx {
	struct e2e_rack rack;
	char *suite;
};

static int group_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	*state = c;
	if (!c)
		return -1;
	c->suite = pl_test_source_path("scenarios/suites/quick.yaml");
	return e2e_rack_up(&c->rack, "e2e-replay", 2, "good,single-slot");
}

static int group_teardown(void **state)
{
	struct ctx *c = *state;
	int rc;

	if (!c)
		return 0;
	rc = e2e_rack_down(&c->rack);
	free(c->suite);
	free(c);
	return rc;
}

static json_t *load_json(const char *path)
{
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);

	if (!j)
		fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
	return j;
}

static bool verdict_in(json_t *run, const char *const *verdicts)
{
	const char *v = json_string_value(json_object_get(run, "verdict"));

	for (size_t i = 0; v && verdicts[i]; i++)
		if (strcmp(v, verdicts[i]) == 0)
			return true;
	return false;
}

/* A run of the report ending in one of verdicts with a cut point
 * before/during/after an operation. */
static json_t *pick(json_t *report, const char *const *verdicts)
{
	size_t i;
	json_t *run;

	json_array_foreach(json_object_get(report, "runs"), i, run) {
		json_t *cut = json_object_get(run, "cut");
		const char *ph = json_string_value(json_object_get(cut, "phase"));

		if (verdict_in(run, verdicts) && ph &&
		    (!strcmp(ph, "before") || !strcmp(ph, "during") ||
		     !strcmp(ph, "after")) &&
		    json_integer_value(json_object_get(cut, "op_index")) >= 0)
			return run;
	}
	return NULL;
}

static void same(json_t *a, json_t *b, const char *key, const char *what)
{
	json_t *x = json_object_get(a, key), *y = json_object_get(b, key);

	if (!x || !y || !json_equal(x, y)) {
		char *sx = json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT);
		char *sy = json_dumps(y, JSON_ENCODE_ANY | JSON_COMPACT);

		fail_msg("replayed %s differs: %s was %s, replay %s", what, key,
			 sx ? sx : "(none)", sy ? sy : "(none)");
	}
}

/*
 * Run quick.yaml on the boards tagged `tag` with PROFILE=profile (the
 * factory image a probe restore writes), expecting exit want_run; pick a
 * run ending in one of verdicts at a cut point, replay it and check that
 * the replay is the same run and ends in one of verdicts again.
 */
static void run_then_replay(struct ctx *c, const char *name, const char *tag,
			    const char *profile, int want_run,
			    const char *const *verdicts)
{
	char db[4200], out[4200], json[4200], rout[4200], rjson[4200], id[32];
	json_t *report, *orig, *replay, *again, *cut0, *cut1;
	char *log = NULL;
	int rc;

	setenv("PROFILE", profile, 1);
	snprintf(db, sizeof(db), "%s/%s.db", c->rack.dir, name);
	snprintf(out, sizeof(out), "%s/%s", c->rack.dir, name);
	snprintf(json, sizeof(json), "%s/%s.json", c->rack.dir, name);
	snprintf(rout, sizeof(rout), "%s/%s-replay", c->rack.dir, name);
	snprintf(rjson, sizeof(rjson), "%s/%s-replay.json", c->rack.dir, name);

	rc = e2e_patchlab(NULL, &log, "run", c->suite, "--lab", c->rack.lab,
			  "--tag", tag, "--db", db, "--out", out, "--json", json,
			  "-q", NULL);
	if (rc != want_run)
		fail_msg("run --tag %s: exit %d, want %d\n%s", tag, rc, want_run,
			 log ? log : "");
	free(log);
	report = load_json(json);
	orig = pick(report, verdicts);
	if (!orig)
		fail_msg("quick.yaml on the %s board gave no %s run at a cut "
			 "point (see %s)", tag, verdicts[0], json);
	snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(orig, "id")));

	rc = e2e_patchlab(NULL, &log, "replay", id, "--db", db, "--lab",
			  c->rack.lab, "--out", rout, "--json", rjson, NULL);
	/* exit 0 or 1: it ran the run (which verdict is checked below) */
	if (rc != PL_EXIT_OK && rc != PL_EXIT_GATE_FAILED)
		fail_msg("replay %s: exit %d\n%s", id, rc, log ? log : "");
	/* it says what it replays */
	if (!log || !strstr(log, "replaying run "))
		fail_msg("replay %s printed no 'replaying run': %s", id,
			 log ? log : "");
	free(log);
	replay = load_json(rjson);
	assert_int_equal(json_array_size(json_object_get(replay, "runs")), 1);
	again = json_array_get(json_object_get(replay, "runs"), 0);
	/* a new run in the same store, not the old one read back */
	assert_true(json_integer_value(json_object_get(again, "id")) >
		    json_integer_value(json_object_get(orig, "id")));
	same(orig, again, "scenario", "scenario");
	same(orig, again, "board_type", "board type");
	same(orig, again, "params", "params (cut point included)");
	same(orig, again, "seed", "seed");
	cut0 = json_object_get(orig, "cut");
	cut1 = json_object_get(again, "cut");
	same(cut0, cut1, "phase", "cut phase");
	same(cut0, cut1, "op_index", "cut op index");
	same(cut0, cut1, "phi", "cut phi");
	if (!verdict_in(again, verdicts))
		fail_msg("run %s (%s on %s, %s) replayed as run %" JSON_INTEGER_FORMAT
			 " on %s: %s \"%s\", want %s%s%s",
			 id, json_string_value(json_object_get(orig, "verdict")),
			 json_string_value(json_object_get(orig, "board")),
			 json_string_value(json_object_get(orig, "reason")),
			 json_integer_value(json_object_get(again, "id")),
			 json_string_value(json_object_get(again, "board")),
			 json_string_value(json_object_get(again, "verdict")),
			 json_string_value(json_object_get(again, "reason")),
			 verdicts[0], verdicts[1] ? " or " : "",
			 verdicts[1] ? verdicts[1] : "");
	/* and its gate says so */
	if (rc != want_run)
		fail_msg("replay %s: exit %d, want %d", id, rc, want_run);
	json_decref(report);
	json_decref(replay);
}

static void a_bricking_cut_bricks_again(void **state)
{
	static const char *const bricks[] = { "bricked", "recovered", NULL };

	run_then_replay(*state, "single", "single-slot", "single-slot",
			PL_EXIT_GATE_FAILED, bricks);
}

static void a_rolled_back_cut_rolls_back_again(void **state)
{
	static const char *const rolled[] = { "rolled-back", NULL };

	run_then_replay(*state, "good", "good", "good", PL_EXIT_OK, rolled);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_bricking_cut_bricks_again),
		cmocka_unit_test(a_rolled_back_cut_rolls_back_again),
	};

	return cmocka_run_group_tests_name("/pl/e2e/replay", tests,
					   group_setup, group_teardown);
}
