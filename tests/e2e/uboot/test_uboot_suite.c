/* SPDX-License-Identifier: MIT */
/*
 * End to end on the real device under test: `patchlab run
 * scenarios/suites/uboot.yaml` on the two QEMU + U-Boot boards of
 * examples/labs/qemu-uboot.yaml (U-Boot from scripts/build-uboot, images
 * from tests/e2e/uboot/make-images), then the machine-readable result says
 * what the lab finds:
 *   - the single-copy environment is lost on at least one saveenv cut, and
 *     that run is a device `fail` with the "bad CRC" reason;
 *   - the redundant environment is never lost;
 *   - the A/B update without a cut boots the update from slot B;
 *   - every cut during the A/B update's cp.b boots slot A or B (pass or
 *     rolled-back), nothing is bricked, nothing is a lab error;
 *   - the gate fails the single-copy board type and passes the redundant.
 * The last run of each board is a saveenv cut: its flash file, read with
 * fw_printenv, must agree with what the console said (lost, or the value).
 *
 * The lab is the example's, with its flash files and console links moved
 * into this test's temp dir (the example names fixed /tmp paths) and its
 * boards_path made absolute. Skips with scripts/build-uboot's reason when
 * U-Boot cannot be built here.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/strbuf.h"
#include "pl_test.h"

struct ctx {
	char *dir;     /* pl_test_tmpdir() */
	char *uboot;   /* scripts/build-uboot's directory */
	char *lab;     /* DIR/lab.yaml */
	json_t *res;   /* the run's --json */
};

/* ------------------------------------------------------------ helpers */

/* scripts/build-uboot's directory, or NULL and *why (its last stderr line). */
static char *uboot_dir(char **why)
{
	char *script = pl_test_source_path("scripts/build-uboot");
	char *argv[] = { script, NULL };
	char *out = NULL, *err = NULL, *dir = NULL, *nl;
	int rc = pl_test_run_capture(argv, &out, &err);

	*why = NULL;
	free(script);
	if (rc != 0) {
		char *e = err ? err : "";
		size_t n = strlen(e);

		while (n && e[n - 1] == '\n')
			e[--n] = '\0';
		nl = strrchr(e, '\n');
		*why = strdup(nl ? nl + 1 : (*e ? e : "scripts/build-uboot failed"));
	} else {
		size_t n = out ? strlen(out) : 0;

		while (n && out[n - 1] == '\n')
			out[--n] = '\0';
		nl = out ? strrchr(out, '\n') : NULL;
		dir = strdup(nl ? nl + 1 : (out ? out : ""));
	}
	free(out);
	free(err);
	return dir;
}

/* The example lab with boards_path absolute, written to DIR/lab.yaml; its
 * flash files and consoles go to DIR (PL_UBOOT_WORK). */
static char *write_lab(const char *dir)
{
	char *src = pl_test_source_path("examples/labs/qemu-uboot.yaml");
	char *boards = pl_test_source_path("boards");
	char *text = pl_test_slurp(src), *out = pl_test_path(dir, "lab.yaml");
	struct pl_strbuf sb = { 0 };
	FILE *f;

	assert_non_null(text);
	setenv("PL_UBOOT_WORK", dir, 1);
	for (const char *p = text; *p;) {
		if (!strncmp(p, "../../boards", 12)) {
			pl_strbuf_printf(&sb, "%s", boards);
			p += 12;
		} else {
			pl_strbuf_printf(&sb, "%c", *p++);
		}
	}
	f = fopen(out, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(sb.s, 1, sb.len, f), sb.len);
	assert_int_equal(fclose(f), 0);
	pl_strbuf_free(&sb);
	free(text);
	free(src);
	free(boards);
	return out;
}

/* Processes whose parent is us (QEMUs re-parented to the subreaper when
 * patchlab exited before reaping them): wait for each (pidfd, 10 s), then
 * SIGKILL; always reaped. Returns how many were still alive (not zombies:
 * a QEMU patchlab killed but did not reap is dead already). */
static int reap_orphans(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], buf[512], name[64] = "", pst[64] = "";
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
			else if (!strncmp(buf, "Name:", 5))
				snprintf(name, sizeof(name), "%.63s", buf + 5);
			else if (!strncmp(buf, "State:", 6))
				snprintf(pst, sizeof(pst), "%.63s", buf + 6);
		}
		fclose(f);
		if (ppid != getpid())
			continue;
		name[strcspn(name, "\n")] = '\0';
		pst[strcspn(pst, "\n")] = '\0';
		fprintf(stderr, "e2e-uboot: leftover child %d:%s,%s\n", pid, name,
			pst);
		if (!strchr(pst, 'Z'))
			n++;
		pl_test_reap(pid, 10000);
		fprintf(stderr, "e2e-uboot: reaped leftover pid %d\n", pid);
	}
	closedir(d);
	return n;
}

/* `fw_printenv -c CFG pltest` on a board's flash file: the value, or NULL
 * when the flash holds no valid environment or no pltest; *readable is
 * false when fw_printenv found no valid environment copy at all (it exits
 * non-zero: libubootenv prints nothing then, not even the variable). */
static char *flash_pltest(const char *dir, const char *board, bool redundant,
			  bool *readable)
{
	struct pl_strbuf sb = { 0 };
	char *cfg, *flash, *out = NULL, *err = NULL, *val = NULL;
	FILE *f;
	int rc;

	pl_strbuf_printf(&sb, "%s.flash", board);
	flash = pl_test_path(dir, sb.s);
	pl_strbuf_reset(&sb);
	pl_strbuf_printf(&sb, "fw_env-%s.config", board);
	cfg = pl_test_path(dir, sb.s);
	pl_strbuf_free(&sb);
	f = fopen(cfg, "w");
	assert_non_null(f);
	/* device  offset  env size  sector size */
	fprintf(f, "%s 0x0 0x40000 0x40000\n", flash);
	if (redundant)
		fprintf(f, "%s 0x40000 0x40000 0x40000\n", flash);
	assert_int_equal(fclose(f), 0);
	{
		char *argv[] = { "fw_printenv", "-c", cfg, "pltest", NULL };

		rc = pl_test_run_capture(argv, &out, &err);
	}
	*readable = rc == 0;
	if (rc == 0 && out) {
		char *p = strstr(out, "pltest=");

		if (p) {
			val = strdup(p + 7);
			val[strcspn(val, "\n")] = '\0';
		}
	}
	fprintf(stderr, "e2e-uboot: fw_printenv %s: exit %d, %s%s%s\n", board,
		rc, val ? "pltest=" : "no pltest", val ? val : "",
		err && *err ? " (stderr: see above)" : "");
	if (err && *err)
		fprintf(stderr, "%s", err);
	free(out);
	free(err);
	free(cfg);
	free(flash);
	return val;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* ------------------------------------------------------------ the test */

static void suite_on_both_variants(void **state)
{
	struct ctx *c = *state;
	char *images = pl_test_path(c->dir, "images");
	char *outdir = pl_test_path(c->dir, "out");
	char *json = pl_test_path(c->dir, "result.json"), *out = NULL;
	char *mk = pl_test_source_path("tests/e2e/uboot/make-images");
	char *suite = pl_test_source_path("scenarios/suites/uboot.yaml");
	json_error_t jerr;
	json_t *runs, *groups, *r, *g;
	size_t i;
	int rc;
	unsigned lost_single = 0, saveenv_single = 0, saveenv_redund = 0;
	unsigned copy_runs = 0, clean_runs = 0;
	json_t *last[2] = { NULL, NULL }; /* ub0, ub1 */

	{
		char *argv[] = { mk, images, NULL };
		char *err = NULL;

		rc = pl_test_run_capture(argv, NULL, &err);
		if (rc)
			fprintf(stderr, "make-images: %s\n", err ? err : "");
		assert_int_equal(rc, 0);
		free(err);
	}
	setenv("PL_UBOOT_IMAGES", images, 1);
	setenv("PL_UBOOT_DIR", c->uboot, 1);
	c->lab = write_lab(c->dir);

	/* QEMUs that patchlab leaves behind become ours to reap. */
	assert_int_equal(pl_test_become_subreaper(), 0);
	rc = e2e_patchlab(NULL, &out, "run", suite, "--lab", c->lab, "--out",
			  outdir, "--json", json, "--quiet", NULL);
	fprintf(stderr, "%s", out ? out : "");
	assert_int_equal(reap_orphans(), 0);
	/* 1: the gate failed (device failures); 2 would be a lab error */
	assert_int_equal(rc, 1);

	c->res = json_load_file(json, 0, &jerr);
	if (!c->res)
		fprintf(stderr, "%s: %s\n", json, jerr.text);
	assert_non_null(c->res);
	runs = json_object_get(c->res, "runs");
	assert_true(json_is_array(runs));
	assert_int_equal(json_array_size(runs), 36);

	json_array_foreach(runs, i, r) {
		const char *type = jstr(r, "board_type"), *v = jstr(r, "verdict");
		const char *why = jstr(r, "reason"), *sc = jstr(r, "scenario");
		bool single = !strcmp(type, "qemu-uboot");
		int b = !strcmp(jstr(r, "board"), "ub0") ? 0 : 1;

		{
			char *pj = json_dumps(json_object_get(r, "params"),
					      JSON_COMPACT);

			fprintf(stderr, "run %lld %s %s %s: %s (%s)\n",
				(long long)json_integer_value(
					json_object_get(r, "id")),
				jstr(r, "board"), sc, pj ? pj : "", v, why);
			free(pj);
		}
		/* closed, and never the lab's fault */
		assert_string_equal(jstr(r, "state"), "closed");
		assert_string_not_equal(v, "lab-error");
		if (!last[b] || json_integer_value(json_object_get(r, "id")) >
				json_integer_value(json_object_get(last[b], "id")))
			last[b] = r;
		if (strstr(sc, "uboot_update_clean.lua")) {
			/* the control: the update boots from slot B */
			clean_runs++;
			assert_string_equal(v, "pass");
			continue;
		}
		if (strstr(sc, "uboot_cut_copy.lua")) {
			/* slot A (factory) or B (update) with a valid image */
			copy_runs++;
			assert_true(!strcmp(v, "pass") || !strcmp(v, "rolled-back"));
			continue;
		}
		assert_non_null(strstr(sc, "uboot_cut_saveenv.lua"));
		if (single) {
			saveenv_single++;
			if (!strcmp(v, "fail")) {
				assert_string_equal(why, "environment lost: bad CRC, "
					"using default environment");
				lost_single++;
			} else {
				assert_string_equal(v, "pass");
			}
		} else {
			saveenv_redund++;
			assert_string_equal(v, "pass");
			assert_non_null(strstr(why, "environment kept"));
		}
	}
	fprintf(stderr, "e2e-uboot: single copy lost %u of %u saveenv cuts, "
		"redundant 0 of %u; %u cp.b cuts booted a valid slot\n",
		lost_single, saveenv_single, saveenv_redund, copy_runs);
	assert_int_equal(saveenv_single, 12);
	assert_int_equal(saveenv_redund, 12);
	assert_int_equal(copy_runs, 10);
	assert_int_equal(clean_runs, 2);
	assert_true(lost_single >= 1);

	/* the gate: the single copy fails, the redundant one passes */
	groups = json_object_get(json_object_get(c->res, "gate"), "groups");
	assert_int_equal(json_array_size(groups), 2);
	json_array_foreach(groups, i, g) {
		const char *type = jstr(g, "board_type");

		fprintf(stderr, "gate %s: %s (%s)\n", type, jstr(g, "result"),
			jstr(g, "why"));
		assert_string_equal(jstr(g, "result"),
				    !strcmp(type, "qemu-uboot") ? "fail" : "pass");
	}

	/* The flash files after each board's last run (a saveenv cut): what
	 * fw_printenv reads agrees with what U-Boot said on the console. */
	for (int b = 0; b < 2; b++) {
		const char *why;
		char *val;
		bool readable;

		assert_non_null(last[b]);
		assert_non_null(strstr(jstr(last[b], "scenario"),
					"uboot_cut_saveenv.lua"));
		why = jstr(last[b], "reason");
		val = flash_pltest(c->dir, b ? "ub1" : "ub0", b == 1, &readable);
		if (strstr(why, "environment lost")) {
			assert_null(val);
			assert_false(readable);
		} else {
			assert_true(readable);
			const char *p = strstr(why, "pltest=");

			assert_non_null(p);
			assert_non_null(val);
			assert_string_equal(val, p + 7);
		}
		free(val);
	}
	free(out);
	free(mk);
	free(suite);
	free(json);
	free(outdir);
	free(images);
}

/* *state comes in as the U-Boot directory (the test's prestate). */
static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->uboot = strdup(*state);
	c->dir = pl_test_tmpdir("e2e-uboot");
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	reap_orphans();
	if (c->res)
		json_decref(c->res);
	if (getenv("PL_KEEP_RACK"))
		fprintf(stderr, "kept %s\n", c->dir);
	else
		pl_test_rmrf(c->dir);
	free(c->dir);
	free(c->lab);
	free(c->uboot);
	free(c);
	return 0;
}

int main(void)
{
	const char *progs[] = { "qemu-system-arm", "mkimage", "mkenvimage",
				"fw_printenv", "setpriv" };
	char *why = NULL, *dir;
	int rc;

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		if (!pl_test_have_program(progs[i])) {
			pl_test_print_skip("no %s: run scripts/install-deps",
					   progs[i]);
			return PL_TEST_SKIP_CODE;
		}
	}
	/* Builds U-Boot on the first run (minutes), reuses it after. */
	dir = uboot_dir(&why);
	if (!dir) {
		pl_test_print_skip("U-Boot not built: %s", why);
		free(why);
		return PL_TEST_SKIP_CODE;
	}
	{
		const struct CMUnitTest tests[] = {
			cmocka_unit_test_prestate_setup_teardown(
				suite_on_both_variants, setup, teardown, dir),
		};

		rc = cmocka_run_group_tests(tests, NULL, NULL);
	}
	free(dir);
	return rc;
}
