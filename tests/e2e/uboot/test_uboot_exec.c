/* SPDX-License-Identifier: MIT */
/*
 * The QEMU + U-Boot suite on boards with no probe and no console
 * provisioning: `scripts/uboot-lab DIR --no-probe` writes a lab of the
 * -exec board types (boards/qemu-uboot*-exec.yaml), whose baseline and
 * recovery write the factory flash file over the board's flash file while
 * QEMU is off (recovery: method: exec, dd), as an SD-card mux or an
 * external programmer would. With nothing exported (the lab's vars carry
 * every path):
 *
 *   exec_lab_same_verdicts: `patchlab check` accepts the lab and the suite;
 *     `patchlab run scenarios/suites/uboot.yaml` gives, cut by cut, the
 *     verdicts e2e_uboot (test_uboot_suite.c) asserts for the lab
 *     provisioned over the console, and zero lab-errors: the same table
 *     (expect_verdict below), not a replay of the other lab's runs: a cut
 *     aimed by a console line lands a few ms either way, and on the single
 *     environment copy that decides whether a given saveenv cut loses the
 *     environment, so neither lab gives the same 12 single-copy verdicts
 *     twice; what both must give is pass or "environment lost" on each,
 *     at least one lost, every redundant cut kept, every cp.b cut booting
 *     a valid slot, and the gate failing the single copy only (exit 1).
 *     And the baseline really went through the restore: every run has
 *     the restore's command event and no run typed `loadx` at U-Boot.
 *   saveenv_window_by_console_sweep: scenarios/suites/uboot-windows.yaml,
 *     an adaptive sweep over the delay after "Saving Environment", finds
 *     the cuts that lose the single copy's environment, every edge
 *     bounded to 1 ms; the redundant copy none.
 *   brick_recovered_by_exec: a board bricked for real (both slots erased)
 *     is restored by the dd: `recovered`, and the next run passes.
 *   failing_recovery_is_lab_error: the same lab with the -exec types'
 *     recovery command replaced by `false` (a board types directory first
 *     on the lab's boards_path): each board's first run is a lab-error
 *     naming the restore, its other 17 runs are not-run, the gate is
 *     incomplete, exit 2.
 *
 * Skips with scripts/build-uboot's reason when U-Boot cannot be built here
 * (the first run may build it: minutes).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/strbuf.h"
#include "pl_test.h"

struct ctx {
	char *dir;   /* pl_test_tmpdir() */
	char *lab;   /* DIR/lab.yaml, written by scripts/uboot-lab --no-probe */
	char *suite; /* scenarios/suites/uboot.yaml */
};

/* ------------------------------------------------------------ helpers */

/* Strip trailing newlines; the last line of s (in place). */
static char *last_line(char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *nl;

	if (!s)
		return NULL;
	while (n && s[n - 1] == '\n')
		s[--n] = '\0';
	nl = strrchr(s, '\n');
	return nl ? nl + 1 : s;
}

/* scripts/build-uboot: 0, or -1 and *why (its last stderr line). */
static int uboot_built(char **why)
{
	char *script = pl_test_source_path("scripts/build-uboot");
	char *argv[] = { script, NULL };
	char *out = NULL, *err = NULL;
	int rc = pl_test_run_capture(argv, &out, &err);

	*why = NULL;
	if (rc != 0) {
		const char *l = last_line(err);

		*why = strdup(l && *l ? l : "scripts/build-uboot failed");
	}
	free(script);
	free(out);
	free(err);
	return rc ? -1 : 0;
}

/* Processes whose parent is us (QEMUs re-parented to the subreaper):
 * reaped, SIGKILLed after 10 s. Returns how many were still alive. */
static int reap_orphans(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], buf[512], st[64] = "";
		int pid = atoi(e->d_name), ppid = -1;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(buf, sizeof(buf), f)) {
			if (!strncmp(buf, "PPid:", 5))
				ppid = atoi(buf + 5);
			else if (!strncmp(buf, "State:", 6))
				snprintf(st, sizeof(st), "%.63s", buf + 6);
		}
		fclose(f);
		if (ppid != getpid())
			continue;
		fprintf(stderr, "e2e-uboot-exec: leftover child %d (%s)\n",
			pid, st);
		if (!strchr(st, 'Z'))
			n++;
		pl_test_reap(pid, 10000);
	}
	closedir(d);
	return n;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* `patchlab run SUITE --lab LAB` into DIR/NAME.{json,db}, out/: its exit
 * code and the JSON result (asserted loaded). */
static int run_suite(struct ctx *c, const char *lab, const char *name,
		     json_t **res)
{
	struct pl_strbuf sb = { 0 };
	char *json, *db, *outdir, *out = NULL;
	json_error_t jerr;
	int rc;

	pl_strbuf_printf(&sb, "%s.json", name);
	json = pl_test_path(c->dir, sb.s);
	pl_strbuf_reset(&sb);
	pl_strbuf_printf(&sb, "%s.db", name);
	db = pl_test_path(c->dir, sb.s);
	pl_strbuf_reset(&sb);
	pl_strbuf_printf(&sb, "%s-out", name);
	outdir = pl_test_path(c->dir, sb.s);
	pl_strbuf_free(&sb);

	assert_int_equal(pl_test_become_subreaper(), 0);
	rc = e2e_patchlab(NULL, &out, "run", c->suite, "--lab", lab, "--db",
			  db, "--out", outdir, "--json", json, "--quiet", NULL);
	fprintf(stderr, "patchlab run (%s): exit %d\n%s", name, rc,
		out ? out : "");
	assert_int_equal(reap_orphans(), 0);
	*res = json_load_file(json, 0, &jerr);
	if (!*res)
		fprintf(stderr, "%s: %s\n", json, jerr.text);
	assert_non_null(*res);
	free(out);
	free(json);
	free(db);
	free(outdir);
	return rc;
}

/* How many files under DIR/NAME-out/console hold `needle`; *files: how
 * many there are. */
static unsigned console_logs_with(struct ctx *c, const char *name,
				  const char *needle, unsigned *files)
{
	struct pl_strbuf sb = { 0 };
	char *cdir;
	DIR *d;
	struct dirent *e;
	unsigned n = 0;

	pl_strbuf_printf(&sb, "%s-out/console", name);
	cdir = pl_test_path(c->dir, sb.s);
	pl_strbuf_free(&sb);
	d = opendir(cdir);
	assert_non_null(d);
	*files = 0;
	while ((e = readdir(d))) {
		char *path, *text;

		if (e->d_name[0] == '.')
			continue;
		path = pl_test_path(cdir, e->d_name);
		text = pl_test_slurp(path);
		(*files)++;
		if (text && strstr(text, needle))
			n++;
		free(text);
		free(path);
	}
	closedir(d);
	free(cdir);
	return n;
}

/*
 * The verdicts e2e_uboot (test_uboot_suite.c) asserts for each cut of
 * scenarios/suites/uboot.yaml on the lab provisioned over the console,
 * which this lab must give for the same cut. Returns whether verdict v
 * (reason why) of scenario sc is one of them; *lost counts the single
 * copy's lost environments.
 */
static bool expect_verdict(const char *sc, bool single, const char *v,
			   const char *why, unsigned *lost)
{
	if (strstr(sc, "uboot_update_clean.lua"))
		return !strcmp(v, "pass");     /* the update boots from B */
	if (strstr(sc, "uboot_cut_copy.lua"))  /* a valid slot, A or B */
		return !strcmp(v, "pass") || !strcmp(v, "rolled-back");
	if (!strstr(sc, "uboot_cut_saveenv.lua"))
		return false;
	if (!single)                           /* never lost */
		return !strcmp(v, "pass") && strstr(why, "environment kept");
	if (!strcmp(v, "fail") && !strcmp(why, "environment lost: bad CRC, "
					  "using default environment")) {
		(*lost)++;
		return true;
	}
	return !strcmp(v, "pass") && strstr(why, "environment kept");
}

/* ------------------------------------------------------------ the tests */

static void exec_lab_same_verdicts(void **state)
{
	struct ctx *c = *state;
	char *db = NULL, *out = NULL;
	json_t *res, *runs, *r, *groups, *g;
	struct pl_strbuf sb = { 0 };
	sqlite3 *sdb;
	size_t i;
	int rc, again;
	unsigned files = 0, lost = 0, saveenv[2] = { 0, 0 }, copy = 0, clean = 0;

	PL_TEST_SKIP_IF(getenv("PL_SANITIZED"), "under the sanitizers the "
			"controller cannot hold its cuts to their aim (runs end "
			"lab-error); the normal build runs this case");
	db = pl_test_path(c->dir, "exec.db");
	/* check: the lab and the suite resolve with nothing exported */
	rc = e2e_patchlab(NULL, &out, "check", "--lab", c->lab, c->suite,
			  NULL);
	fprintf(stderr, "patchlab check: exit %d\n%s", rc, out ? out : "");
	assert_int_equal(rc, 0);
	free(out);

	rc = run_suite(c, c->lab, "exec", &res);
	/* 1: the gate failed (the single copy loses its environment) */
	assert_int_equal(rc, 1);
	sdb = e2e_db_open(db);
	assert_non_null(sdb);
	runs = json_object_get(res, "runs");
	assert_int_equal(json_array_size(runs), 36);
	json_array_foreach(runs, i, r) {
		const char *type = jstr(r, "board_type"), *v = jstr(r, "verdict");
		const char *why = jstr(r, "reason"), *sc = jstr(r, "scenario");
		bool single = !strcmp(type, "qemu-uboot-exec");
		long long id = json_integer_value(json_object_get(r, "id"));
		char *pj = json_dumps(json_object_get(r, "params"), JSON_COMPACT);

		fprintf(stderr, "run %lld %s %s %s %s: %s (%s)\n", id,
			jstr(r, "board"), type, sc, pj ? pj : "", v, why);
		free(pj);
		assert_true(single || !strcmp(type, "qemu-uboot-redundant-exec"));
		assert_string_equal(jstr(r, "state"), "closed");
		assert_string_not_equal(v, "lab-error");
		assert_string_not_equal(v, "not-run");
		assert_true(expect_verdict(sc, single, v, why, &lost));
		if (strstr(sc, "uboot_update_clean.lua"))
			clean++;
		else if (strstr(sc, "uboot_cut_copy.lua"))
			copy++;
		else
			saveenv[single ? 0 : 1]++;
		/* the baseline was the restore (lib.uboot.oracle logs it),
		 * once an attempt: a run whose cut missed its aim started
		 * again (docs/scenario-api.md) and restored again */
		pl_strbuf_reset(&sb);
		pl_strbuf_printf(&sb, "select count(*) from events where "
				 "run_id=%lld and kind='log' and payload like "
				 "'%%the run starts again%%'", id);
		again = e2e_db_int(sdb, sb.s, -1);
		assert_true(again >= 0);
		pl_strbuf_reset(&sb);
		pl_strbuf_printf(&sb, "select count(*) from events where "
				 "run_id=%lld and kind='log' and payload like "
				 "'%%factory flash restored by %s''s recovery%%'",
				 id, type);
		assert_int_equal(e2e_db_int(sdb, sb.s, -1), 1 + again);
	}
	pl_strbuf_free(&sb);
	sqlite3_close(sdb);
	/* ... and not the console provisioning (its `protect off` before
	 * erasing an environment sector: nothing else types it) */
	assert_int_equal(console_logs_with(c, "exec", "protect off", &files), 0);
	assert_int_equal(files, 36);
	fprintf(stderr, "e2e-uboot-exec: single copy lost %u of %u saveenv "
		"cuts, redundant 0 of %u; %u cp.b cuts booted a valid slot\n",
		lost, saveenv[0], saveenv[1], copy);
	assert_int_equal(clean, 2);
	assert_int_equal(copy, 10);
	assert_int_equal(saveenv[0], 12);
	assert_int_equal(saveenv[1], 12);
	assert_true(lost >= 1);

	/* the gate: the single copy fails, the redundant one passes */
	groups = json_object_get(json_object_get(res, "gate"), "groups");
	assert_int_equal(json_array_size(groups), 2);
	json_array_foreach(groups, i, g) {
		const char *type = jstr(g, "board_type");

		fprintf(stderr, "gate %s: %s (%s)\n", type, jstr(g, "result"),
			jstr(g, "why"));
		assert_string_equal(jstr(g, "result"),
				    !strcmp(type, "qemu-uboot-exec") ? "fail"
								     : "pass");
	}
	json_decref(res);
	free(db);
}

/* scenarios/suites/uboot-windows.yaml on the same lab: an adaptive sweep
 * over the delay after "Saving Environment" finds where a cut loses the
 * single copy's environment, with no probe: at least one lost, every edge
 * (neighbouring delays whose verdicts differ) bounded to the sweep's 1 ms
 * resolution; the redundant copy never lost, so no edge and only the
 * coarse pass (10). Where the band lies is not asserted, nor how many runs
 * the sweep took: QEMU emulates the flash in wall-clock time, so on a
 * loaded host saveenv's erase and write stretch (a cut 150 ms after the
 * line lost the environment once), and the console line reaches us late
 * by a varying amount; a noisy band has more edges to bound. */
static double delay_of(json_t *r)
{
	json_t *d = json_object_get(json_object_get(json_object_get(r, "params"),
						    "cut"), "delay_ms");

	assert_true(json_is_number(d));
	return json_number_value(d);
}

static int by_delay(const void *a, const void *b)
{
	double x = delay_of(*(json_t *const *)a), y = delay_of(*(json_t *const *)b);

	return x < y ? -1 : x > y;
}

static void saveenv_window_by_console_sweep(void **state)
{
	struct ctx *c = *state;
	char *suite = NULL;
	char *keep = c->suite;
	json_t *res, *runs, *r, **single;
	size_t i, ns = 0, nr = 0;
	unsigned lost = 0, edges = 0;
	int rc;

	PL_TEST_SKIP_IF(getenv("PL_SANITIZED"), "under the sanitizers the "
			"controller cannot hold its cuts to their aim (runs end "
			"lab-error); the normal build runs this case");
	suite = pl_test_source_path("scenarios/suites/uboot-windows.yaml");
	c->suite = suite;
	rc = run_suite(c, c->lab, "windows", &res);
	c->suite = keep;
	assert_int_equal(rc, 1);
	runs = json_object_get(res, "runs");
	single = calloc(json_array_size(runs) + 1, sizeof(*single));
	assert_non_null(single);
	json_array_foreach(runs, i, r) {
		const char *v = jstr(r, "verdict"), *why = jstr(r, "reason");
		bool is_single = !strcmp(jstr(r, "board_type"), "qemu-uboot-exec");

		fprintf(stderr, "run %lld %s +%.3f ms: %s (%s)\n",
			(long long)json_integer_value(json_object_get(r, "id")),
			jstr(r, "board"), delay_of(r), v, why);
		assert_true(expect_verdict("uboot_cut_saveenv.lua", is_single,
					   v, why, &lost));
		if (is_single) {
			single[ns++] = r;
		} else {
			nr++;
		}
	}
	assert_true(lost >= 1);
	assert_int_equal(nr, 10);
	fprintf(stderr, "e2e-uboot-exec: sweep: %zu runs on the single copy, "
		"%u lost\n", ns, lost);
	qsort(single, ns, sizeof(single[0]), by_delay);
	for (i = 1; i < ns; i++) {
		if (!strcmp(jstr(single[i - 1], "verdict"),
			    jstr(single[i], "verdict")))
			continue;
		edges++;
		fprintf(stderr, "edge between +%.3f and +%.3f ms\n",
			delay_of(single[i - 1]), delay_of(single[i]));
		assert_true(delay_of(single[i]) - delay_of(single[i - 1]) <= 1.0001);
	}
	assert_true(edges >= 1);
	free(single);
	json_decref(res);
	free(suite);
}

/* Write text to DIR/rel (its directories made). */
static void write_file(const char *dir, const char *rel, const char *text)
{
	char *path = pl_test_path(dir, rel), *slash;
	FILE *f;

	mkdir(dir, 0755);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) < 0, 0);
	assert_int_equal(fclose(f), 0);
	free(path);
}

/* A board bricked for real (both slots erased: U-Boot says "BOOT FAILED:
 * no bootable slot") is restored by its type's recovery, the dd of the
 * factory flash file: the run ends `recovered`, and the next run on the
 * board (the clean update, baselined by the same restore) passes. The
 * bricking scenario is this test's own, in a scenarios directory of its
 * own; lib.uboot.oracle comes from patchlab's shipped library. */
static void brick_recovered_by_exec(void **state)
{
	struct ctx *c = *state;
	char *tdir = pl_test_path(c->dir, "brick");
	char *clean = pl_test_source_path("scenarios/uboot_update_clean.lua");
	char *text = pl_test_slurp(clean), *keep = c->suite;
	json_t *res, *runs, *r0, *r1;
	int rc;

	assert_non_null(text);
	write_file(tdir, "scenarios/uboot_update_clean.lua", text);
	write_file(tdir, "scenarios/uboot_brick.lua",
		"local ub = require(\"lib.uboot.oracle\")\n"
		"ub.baseline()\n"
		"for _, name in ipairs({ \"slot-a\", \"slot-b\" }) do\n"
		"  local r = board:region(name)\n"
		"  local ok, why = ub.shell.ok(string.format(\"erase 0x%08x +0x%x\",\n"
		"                                            r.address, r.size), 20000)\n"
		"  check(ok, \"erase %s: %s\", name, why)\n"
		"end\n"
		"board:power_off()\n"
		"local b, why = ub.boot()\n"
		"check(b, \"U-Boot does not reach its prompt: %s\", why)\n"
		"check(not b.slot, \"slot %s boots after both were erased\", b.slot)\n"
		"verdict.bricked(\"no slot boots: %s\", b.failed or \"no marker\")\n");
	write_file(tdir, "scenarios/suites/brick.yaml",
		"name: uboot-brick\n"
		"images:\n"
		"  golden: {path: \"${PL_UBOOT_IMAGES}/app-1.0.img\", version: \"1.0\"}\n"
		"  new: {path: \"${PL_UBOOT_IMAGES}/app-1.1.img\", version: \"1.1\"}\n"
		"defaults: {run_timeout: 1m}\n"
		"runs:\n"
		"  - {scenario: uboot_brick.lua, on: {boards: [ub0]}}\n"
		"  - {scenario: uboot_update_clean.lua, on: {boards: [ub0]}}\n");
	c->suite = pl_test_path(tdir, "scenarios/suites/brick.yaml");
	rc = run_suite(c, c->lab, "brick", &res);
	free(c->suite);
	c->suite = keep;
	assert_int_equal(rc, 1); /* recovered is a failure of the update */
	runs = json_object_get(res, "runs");
	assert_int_equal(json_array_size(runs), 2);
	r0 = json_array_get(runs, 0);
	r1 = json_array_get(runs, 1);
	if (json_integer_value(json_object_get(r0, "id")) >
	    json_integer_value(json_object_get(r1, "id"))) {
		json_t *t = r0;

		r0 = r1;
		r1 = t;
	}
	fprintf(stderr, "brick: %s (%s); then %s (%s)\n", jstr(r0, "verdict"),
		jstr(r0, "reason"), jstr(r1, "verdict"), jstr(r1, "reason"));
	assert_string_equal(jstr(r0, "verdict"), "recovered");
	assert_non_null(strstr(jstr(r0, "reason"), "no bootable slot"));
	assert_non_null(strstr(jstr(r0, "reason"), "recovery command"));
	assert_string_equal(jstr(r1, "verdict"), "pass");
	json_decref(res);
	free(text);
	free(clean);
	free(tdir);
}

/* The -exec board types with `command: [false]`, in DIR/false-boards; the
 * lab names that directory first. Returns the lab's path. */
static char *false_recovery_lab(struct ctx *c)
{
	static const char *const types[] = { "qemu-uboot-exec",
					     "qemu-uboot-redundant-exec" };
	char *bdir = pl_test_path(c->dir, "false-boards");
	char *boards = pl_test_source_path("boards");
	char *text = pl_test_slurp(c->lab), *lab, *at;
	struct pl_strbuf sb = { 0 };
	FILE *f;

	assert_int_equal(mkdir(bdir, 0755), 0);
	for (size_t i = 0; i < 2; i++) {
		char *src, *t, *cmd, *dst;

		pl_strbuf_reset(&sb);
		pl_strbuf_printf(&sb, "boards/%s.yaml", types[i]);
		src = pl_test_source_path(sb.s);
		t = pl_test_slurp(src);
		assert_non_null(t);
		cmd = strstr(t, "\n  command: [dd,");
		assert_non_null(cmd);
		pl_strbuf_reset(&sb);
		pl_strbuf_printf(&sb, "%s.yaml", types[i]);
		dst = pl_test_path(bdir, sb.s);
		f = fopen(dst, "w");
		assert_non_null(f);
		/* the type as shipped, its command replaced by `false` */
		fprintf(f, "%.*s\n  command: [\"false\"]%s", (int)(cmd - t), t,
			strchr(cmd + 1, '\n'));
		assert_int_equal(fclose(f), 0);
		free(dst);
		free(t);
		free(src);
	}
	/* boards_path: [BDIR, BOARDS] instead of [BOARDS] */
	at = strstr(text, "boards_path: [");
	assert_non_null(at);
	at += strlen("boards_path: [");
	pl_strbuf_reset(&sb);
	pl_strbuf_printf(&sb, "%.*s\"%s\", %s", (int)(at - text), text, bdir,
			 at);
	lab = pl_test_path(c->dir, "lab-false.yaml");
	f = fopen(lab, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(sb.s, 1, sb.len, f), sb.len);
	assert_int_equal(fclose(f), 0);
	pl_strbuf_free(&sb);
	free(text);
	free(boards);
	free(bdir);
	return lab;
}

static void failing_recovery_is_lab_error(void **state)
{
	struct ctx *c = *state;
	char *lab = false_recovery_lab(c);
	json_t *res, *runs, *r;
	unsigned lab_errors[2] = { 0, 0 }, not_run[2] = { 0, 0 };
	size_t i;
	int rc;

	rc = run_suite(c, lab, "false", &res);
	assert_int_equal(rc, 2);
	runs = json_object_get(res, "runs");
	assert_int_equal(json_array_size(runs), 36);
	json_array_foreach(runs, i, r) {
		const char *v = jstr(r, "verdict"), *why = jstr(r, "reason");
		int b = !strcmp(jstr(r, "board"), "ub0") ? 0 : 1;

		fprintf(stderr, "run %lld %s: %s (%s)\n",
			(long long)json_integer_value(json_object_get(r, "id")),
			jstr(r, "board"), v, why);
		if (!strcmp(v, "lab-error")) {
			/* the board's first run: its baseline's restore */
			assert_int_equal(not_run[b], 0);
			assert_non_null(strstr(why, "restore"));
			lab_errors[b]++;
		} else {
			assert_string_equal(v, "not-run");
			not_run[b]++;
		}
	}
	for (int b = 0; b < 2; b++) {
		assert_int_equal(lab_errors[b], 1);
		assert_int_equal(not_run[b], 17);
	}
	assert_string_equal(jstr(json_object_get(res, "gate"), "result"),
			    "incomplete");
	json_decref(res);
	free(lab);
}

/* *state comes in as NULL; the lab is written once for both tests. */
static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char *script = pl_test_source_path("scripts/uboot-lab");
	char *out = NULL, *err = NULL;
	int rc;

	if (!c)
		return -1;
	c->dir = pl_test_tmpdir("e2e-uboot-exec");
	c->suite = pl_test_source_path("scenarios/suites/uboot.yaml");
	{
		char *argv[] = { script, c->dir, "--no-probe", NULL };

		rc = pl_test_run_capture(argv, &out, &err);
	}
	if (rc != 0)
		fprintf(stderr, "scripts/uboot-lab: exit %d\n%s", rc,
			err ? err : "");
	else
		c->lab = strdup(last_line(out));
	free(out);
	free(err);
	free(script);
	*state = c;
	return c->lab ? 0 : -1;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	reap_orphans();
	if (getenv("PL_KEEP_RACK"))
		fprintf(stderr, "kept %s\n", c->dir);
	else
		pl_test_rmrf(c->dir);
	free(c->dir);
	free(c->lab);
	free(c->suite);
	free(c);
	return 0;
}

int main(void)
{
	const char *progs[] = { "qemu-system-arm", "mkimage", "mkenvimage",
				"setpriv", "dd" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exec_lab_same_verdicts),
		cmocka_unit_test(saveenv_window_by_console_sweep),
		cmocka_unit_test(brick_recovered_by_exec),
		cmocka_unit_test(failing_recovery_is_lab_error),
	};
	char *why = NULL;

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		if (!pl_test_have_program(progs[i])) {
			pl_test_print_skip("no %s: run scripts/install-deps",
					   progs[i]);
			return PL_TEST_SKIP_CODE;
		}
	}
	/* Builds U-Boot on the first run (minutes), reuses it after. */
	if (uboot_built(&why) != 0) {
		pl_test_print_skip("U-Boot not built: %s", why);
		free(why);
		return PL_TEST_SKIP_CODE;
	}
	/* Nothing exported: the lab's vars must carry every path. */
	unsetenv("PL_UBOOT_DIR");
	unsetenv("PL_UBOOT_WORK");
	unsetenv("PL_UBOOT_IMAGES");
	return cmocka_run_group_tests(tests, setup, teardown);
}
