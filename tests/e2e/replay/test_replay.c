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

/* Is key the same in a and b? Else say so in why (when still empty). */
static void same(json_t *a, json_t *b, const char *key, const char *what,
		 char *why, size_t n)
{
	json_t *x = json_object_get(a, key), *y = json_object_get(b, key);

	if ((!x || !y || !json_equal(x, y)) && !why[0]) {
		char *sx = json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT);
		char *sy = json_dumps(y, JSON_ENCODE_ANY | JSON_COMPACT);

		snprintf(why, n, "replayed %s differs: %s was %s, replay %s",
			 what, key, sx ? sx : "(none)", sy ? sy : "(none)");
		free(sx);
		free(sy);
	}
}

/* Run `patchlab ARGS` (NULL-terminated); *log gets its output. On an exit
 * other than want (other than 0 and 1 when want is -1) print the output
 * and say so in why. Returns the exit code. */
static int pl_run(char *why, size_t n, char **log, int want,
		  char *const args[])
{
	int rc = e2e_patchlab_argv(NULL, log, args);

	if (want >= 0 ? rc != want :
			(rc != PL_EXIT_OK && rc != PL_EXIT_GATE_FAILED)) {
		fprintf(stderr, "%s", *log ? *log : "");
		snprintf(why, n, "patchlab %s %s: exit %d (output above)",
			 args[0], args[1], rc);
	}
	return rc;
}

/*
 * Run quick.yaml on the boards tagged `tag` with PROFILE=profile (the
 * factory image a probe restore writes), expecting exit want_run; pick a
 * run ending in one of verdicts at a cut point, replay it and check that
 * the replay is the same run and ends in one of verdicts again. Everything
 * is released before a failure is reported.
 */
static void run_then_replay(struct ctx *c, const char *name, const char *tag,
			    const char *profile, int want_run,
			    const char *const *verdicts)
{
	char db[4200], out[4200], json[4200], rout[4200], rjson[4200], id[32];
	char why[9000] = "";
	json_t *report = NULL, *orig, *replay = NULL, *again, *cut0, *cut1;
	json_error_t jerr;
	char *log = NULL;
	int rc;

	setenv("PROFILE", profile, 1);
	snprintf(db, sizeof(db), "%s/%s.db", c->rack.dir, name);
	snprintf(out, sizeof(out), "%s/%s", c->rack.dir, name);
	snprintf(json, sizeof(json), "%s/%s.json", c->rack.dir, name);
	snprintf(rout, sizeof(rout), "%s/%s-replay", c->rack.dir, name);
	snprintf(rjson, sizeof(rjson), "%s/%s-replay.json", c->rack.dir, name);

	char *run_args[] = { "run", c->suite, "--lab", c->rack.lab, "--tag",
			     (char *)tag, "--db", db, "--out", out, "--json",
			     json, "-q", NULL };
	char *replay_args[] = { "replay", id, "--db", db, "--lab",
				c->rack.lab, "--out", rout, "--json", rjson,
				NULL };

	pl_run(why, sizeof(why), &log, want_run, run_args);
	if (!why[0]) {
		report = json_load_file(json, 0, &jerr);
		if (!report) {
			/* (a controller that crashed also exits 1) */
			fprintf(stderr, "%s", log ? log : "");
			snprintf(why, sizeof(why), "patchlab run wrote no report: "
				 "%s: %s (its output above)", json, jerr.text);
		}
	}
	free(log);
	log = NULL;
	if (why[0])
		goto out;
	orig = pick(report, verdicts);
	if (!orig) {
		snprintf(why, sizeof(why), "quick.yaml on the %s board gave no "
			 "%s run at a cut point (see %s)", tag, verdicts[0], json);
		goto out;
	}
	snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(orig, "id")));

	/* exit 0 or 1: it ran the run (its verdict is checked below) */
	rc = pl_run(why, sizeof(why), &log, -1, replay_args);
	/* it says what it replays */
	if (!why[0] && (!log || !strstr(log, "replaying run ")))
		snprintf(why, sizeof(why), "replay %s printed no 'replaying "
			 "run'", id);
	free(log);
	log = NULL;
	if (why[0])
		goto out;
	replay = json_load_file(rjson, 0, &jerr);
	if (!replay) {
		snprintf(why, sizeof(why), "patchlab replay wrote no report: "
			 "%s: %s", rjson, jerr.text);
		goto out;
	}
	if (json_array_size(json_object_get(replay, "runs")) != 1) {
		snprintf(why, sizeof(why), "replay %s: %zu runs in %s, want 1",
			 id, json_array_size(json_object_get(replay, "runs")),
			 rjson);
		goto out;
	}
	again = json_array_get(json_object_get(replay, "runs"), 0);
	/* a new run in the same store, not the old one read back */
	if (json_integer_value(json_object_get(again, "id")) <=
	    json_integer_value(json_object_get(orig, "id")))
		snprintf(why, sizeof(why), "replay %s recorded no new run", id);
	same(orig, again, "scenario", "scenario", why, sizeof(why));
	same(orig, again, "board_type", "board type", why, sizeof(why));
	same(orig, again, "params", "params (cut point included)", why,
	     sizeof(why));
	same(orig, again, "seed", "seed", why, sizeof(why));
	cut0 = json_object_get(orig, "cut");
	cut1 = json_object_get(again, "cut");
	same(cut0, cut1, "phase", "cut phase", why, sizeof(why));
	same(cut0, cut1, "op_index", "cut op index", why, sizeof(why));
	same(cut0, cut1, "phi", "cut phi", why, sizeof(why));
	if (!why[0] && !verdict_in(again, verdicts))
		snprintf(why, sizeof(why), "run %s (%s on %s, %s) replayed as "
			 "run %" JSON_INTEGER_FORMAT " on %s: %s \"%s\", want "
			 "%s%s%s", id,
			 json_string_value(json_object_get(orig, "verdict")),
			 json_string_value(json_object_get(orig, "board")),
			 json_string_value(json_object_get(orig, "reason")),
			 json_integer_value(json_object_get(again, "id")),
			 json_string_value(json_object_get(again, "board")),
			 json_string_value(json_object_get(again, "verdict")),
			 json_string_value(json_object_get(again, "reason")),
			 verdicts[0], verdicts[1] ? " or " : "",
			 verdicts[1] ? verdicts[1] : "");
	/* and its gate says so */
	if (!why[0] && rc != want_run)
		snprintf(why, sizeof(why), "replay %s: exit %d, want %d", id, rc,
			 want_run);
out:
	json_decref(report);
	json_decref(replay);
	if (why[0])
		fail_msg("%s", why);
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
