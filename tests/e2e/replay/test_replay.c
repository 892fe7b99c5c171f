/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/replay: `patchlab replay RUN` runs a recorded run again, exactly.
 *
 * On a real virtual rack of two boards of one type, vb0 with the `good`
 * firmware profile and vb1 with `single-slot` (the rack of the README's
 * walk-through): scenarios/suites/quick.yaml runs on the single-slot board
 * (--tag single-slot, --json); every run that ended bricked or recovered
 * at a cut point (before/during/after an op) is replayed with `patchlab
 * replay ID --db --lab` as the report gives it, typed in / (plus --out
 * --json), and each replayed run has the same
 * scenario, params, cut point (phase, op index, phi) and seed, and ends
 * bricked or recovered again. The same for the runs of the good board that
 * rolled back: each replay rolls back again.
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

static int group_setup(void **state)
{
	return e2e_ctx_setup(state, "scenarios/suites/quick.yaml",
			     "e2e-replay", 2, "good,single-slot");
}

static bool verdict_in(json_t *run, const char *const *verdicts)
{
	const char *v = json_string_value(json_object_get(run, "verdict"));

	for (size_t i = 0; v && verdicts[i]; i++)
		if (strcmp(v, verdicts[i]) == 0)
			return true;
	return false;
}

/* Did run end in one of verdicts with a cut point before/during/after an
 * operation? */
static bool is_pick(json_t *run, const char *const *verdicts)
{
	json_t *cut = json_object_get(run, "cut");
	const char *ph = json_string_value(json_object_get(cut, "phase"));

	return verdict_in(run, verdicts) && ph &&
	       (!strcmp(ph, "before") || !strcmp(ph, "during") ||
		!strcmp(ph, "after")) &&
	       json_integer_value(json_object_get(cut, "op_index")) >= 0;
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
 * Replay run orig of the store db (`patchlab replay ID --db --lab --out
 * --json`) and check that the replay is the same run and ends in one of
 * verdicts again, with exit want. Any difference is written into why.
 */
static void replay_one(struct e2e_ctx *c, const char *name, const char *db,
		       json_t *orig, const char *const *verdicts, int want,
		       char *why, size_t n)
{
	char id[32], rout[4300], rjson[4400], cmd[9500];
	const char *recorded = json_string_value(json_object_get(orig, "replay"));
	char *args[] = { "/bin/sh", "-c", cmd, NULL };
	json_t *replay = NULL, *again, *cut0, *cut1;
	json_error_t jerr;
	char *log = NULL;
	int rc;

	(void)db;
	snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(orig, "id")));
	snprintf(rout, sizeof(rout), "%s/%s-replay-%s", c->rack.dir, name, id);
	snprintf(rjson, sizeof(rjson), "%s.json", rout);
	/* The command the report gives, as a person pastes it, from another
	 * directory ("patchlab" being $PATCHLAB here). */
	if (!recorded || strncmp(recorded, "patchlab replay ", 16) != 0) {
		snprintf(why, n, "run %s: no replay command in the report", id);
		return;
	}
	snprintf(cmd, sizeof(cmd), "exec \"$PATCHLAB\"%s --out '%s' --json '%s'",
		 recorded + 8, rout, rjson);
	/* exit 0 or 1: it ran the run (its verdict is checked below) */
	rc = e2e_run_argv("/", &log, args);
	if (rc != PL_EXIT_OK && rc != PL_EXIT_GATE_FAILED) {
		fprintf(stderr, "%s", log ? log : "");
		snprintf(why, n, "%s (from /): exit %d (output above)", recorded,
			 rc);
	}
	/* it says what it replays */
	if (!why[0] && (!log || !strstr(log, "replaying run ")))
		snprintf(why, n, "replay %s printed no 'replaying run'", id);
	free(log);
	if (why[0])
		return;
	replay = json_load_file(rjson, 0, &jerr);
	if (!replay) {
		snprintf(why, n, "patchlab replay %s wrote no report: %s: %s", id,
			 rjson, jerr.text);
		return;
	}
	if (json_array_size(json_object_get(replay, "runs")) != 1) {
		snprintf(why, n, "replay %s: %zu runs in %s, want 1", id,
			 json_array_size(json_object_get(replay, "runs")), rjson);
		json_decref(replay);
		return;
	}
	again = json_array_get(json_object_get(replay, "runs"), 0);
	/* a new run in the same store, not the old one read back */
	if (json_integer_value(json_object_get(again, "id")) <=
	    json_integer_value(json_object_get(orig, "id")))
		snprintf(why, n, "replay %s recorded no new run", id);
	same(orig, again, "scenario", "scenario", why, n);
	same(orig, again, "board_type", "board type", why, n);
	same(orig, again, "params", "params (cut point included)", why, n);
	same(orig, again, "seed", "seed", why, n);
	cut0 = json_object_get(orig, "cut");
	cut1 = json_object_get(again, "cut");
	same(cut0, cut1, "phase", "cut phase", why, n);
	same(cut0, cut1, "op_index", "cut op index", why, n);
	same(cut0, cut1, "phi", "cut phi", why, n);
	if (!why[0] && !verdict_in(again, verdicts))
		snprintf(why, n, "run %s (%s op %" JSON_INTEGER_FORMAT
			 ": %s on %s, \"%s\") replayed as run %"
			 JSON_INTEGER_FORMAT " on %s: %s \"%s\", want %s%s%s", id,
			 json_string_value(json_object_get(cut0, "phase")),
			 json_integer_value(json_object_get(cut0, "op_index")),
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
	if (!why[0] && rc != want)
		snprintf(why, n, "replay %s: exit %d, want %d", id, rc, want);
	json_decref(replay);
}

/*
 * Run quick.yaml on the boards tagged `tag` with PROFILE=profile (the
 * factory image a probe restore writes), expecting exit want_run; replay
 * every run that ended in one of verdicts at a cut point (before, during
 * or after an op), each of which must be the same run and end in one of
 * verdicts again. Every mismatch is printed; everything is released
 * before the failure is reported.
 */
static void run_then_replay(struct e2e_ctx *c, const char *name,
			    const char *tag, const char *profile, int want_run,
			    const char *const *verdicts)
{
	char db[4200], out[4200], json[4200], why[9000] = "";
	char *run_args[] = { "run", c->suite, "--lab", c->rack.lab, "--tag",
			     (char *)tag, "--db", db, "--out", out, "--json",
			     json, "-q", NULL };
	json_t *report = NULL, *run;
	json_error_t jerr;
	char *log = NULL;
	size_t i, picked = 0, bad = 0;

	setenv("PROFILE", profile, 1);
	snprintf(db, sizeof(db), "%s/%s.db", c->rack.dir, name);
	snprintf(out, sizeof(out), "%s/%s", c->rack.dir, name);
	snprintf(json, sizeof(json), "%s/%s.json", c->rack.dir, name);

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
	if (why[0])
		fail_msg("%s", why);

	json_array_foreach(json_object_get(report, "runs"), i, run) {
		if (!is_pick(run, verdicts))
			continue;
		picked++;
		why[0] = '\0';
		replay_one(c, name, db, run, verdicts, want_run, why,
			   sizeof(why));
		if (why[0]) {
			fprintf(stderr, "MISMATCH: %s\n", why);
			bad++;
		}
	}
	json_decref(report);
	if (!picked)
		fail_msg("quick.yaml on the %s board gave no %s run at a cut "
			 "point (see %s)", tag, verdicts[0], json);
	if (bad)
		fail_msg("%zu of %zu replays differ from their run (MISMATCH "
			 "lines above)", bad, picked);
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
					   group_setup, e2e_ctx_teardown);
}
