/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/check: `patchlab check` accepts every file the project ships.
 *
 * With VRACK pointing at a real virtual rack (its images exist, so the
 * suites' image paths resolve), PROFILE=good, and PL_UBOOT_DIR and PL_UBOOT_WORK set (the
 * QEMU example lab names U-Boot builds through it): `patchlab check
 * scenarios/ boards/ examples/labs/`, run in the source tree as the README
 * shows it, exits 0 with one "ok" line per .yaml/.yml/.lua file under those
 * directories; each suite with --lab of the lab it is written for (the
 * rack's, or the QEMU example lab); each shipped file checked
 * on its own; and a suites directory given with a trailing slash. The
 * U-Boot suite's images ($PL_UBOOT_IMAGES) come from the environment or
 * from tests/e2e/uboot/make-images; when neither can provide them, the
 * cases that need them say why and skip, or pass over that file aloud.
 *
 * The rack is powered off, taken down and reaped at the end.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "pl_test.h"

static const char *const shipped_dirs[] = { "scenarios/", "boards/",
					    "examples/labs/", NULL };

/* Variables naming files made by tools this machine may lack (U-Boot
 * images): a shipped file that needs one is checked when the variable is
 * set (by the environment or by uboot_images()), else its case says why
 * it skips. */
static const char *const build_vars[] = { "PL_UBOOT_IMAGES", NULL };

struct ctx {
	struct e2e_rack rack;
	char *src;
	char *uboot_why;  /* why there are no U-Boot images, or NULL */
	char *gw_dir;     /* a gateway rack, for the gateway suite */
	char *gw_lab;
	int gw_pid;
};

/*
 * A gateway rack (`vrack up --family gateway`) for the gateway suite's
 * lab, and its images linked into the default rack's images/ so that
 * ${VRACK}/images/gw-*.img resolve when a suite is checked without a lab
 * (VRACK is the default rack). 0 or -1.
 */
static int gateway_rack(struct ctx *c)
{
	char *out = NULL, *imgs = NULL, *cmd = NULL;
	int rc;

	if (asprintf(&c->gw_dir, "%s/gw", c->rack.dir) < 0 ||
	    asprintf(&c->gw_lab, "%s/gw/lab.yaml", c->rack.dir) < 0)
		return -1;
	rc = e2e_patchlab(NULL, &out, "vrack", "up", "--dir", c->gw_dir,
			  "--family", "gateway", "--boards", "1", NULL);
	c->gw_pid = pl_test_rack_pid(c->gw_dir);
	if (rc != 0 || c->gw_pid <= 0) {
		fprintf(stderr, "vrack up --family gateway: exit %d\n%s", rc,
			out ? out : "");
		free(out);
		return -1;
	}
	free(out);
	out = NULL;
	if (asprintf(&imgs, "%s/images", c->rack.dir) < 0 ||
	    asprintf(&cmd, "for f in %s/images/gw-*; do ln -s \"$f\" %s/; done",
		     c->gw_dir, imgs) < 0)
		return -1;
	{
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		rc = e2e_run_argv(NULL, &out, argv);
	}
	free(out);
	free(imgs);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

/*
 * The images of scenarios/suites/uboot.yaml: $PL_UBOOT_IMAGES when the
 * environment sets it, else made into the rack dir by the suite's own
 * tests/e2e/uboot/make-images (U-Boot tools only, no U-Boot build). When
 * that cannot run, c->uboot_why says why and the suite's cases skip.
 */
static void uboot_images(struct ctx *c)
{
	char dir[4200], *script, *out = NULL;
	int rc;

	if (getenv("PL_UBOOT_IMAGES"))
		return;
	script = pl_test_source_path("tests/e2e/uboot/make-images");
	snprintf(dir, sizeof(dir), "%s/uboot-images", c->rack.dir);
	{
		char *argv[] = { "/bin/sh", script, dir, NULL };

		rc = e2e_run_argv(NULL, &out, argv);
	}
	if (rc == 0)
		setenv("PL_UBOOT_IMAGES", dir, 1);
	else if (asprintf(&c->uboot_why, "make-images: exit %d: %s", rc,
			  out ? out : "") < 0)
		c->uboot_why = NULL;
	free(out);
	free(script);
}

static int group_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	const char *src = getenv("PL_SOURCE_DIR");

	*state = c;
	if (!c || !src)
		return -1;
	c->src = strdup(src);
	if (e2e_rack_up(&c->rack, "e2e-check", 1, "good") != 0)
		return -1;
	setenv("PROFILE", "good", 1);
	/* checked as a path only: the QEMU example lab needs no U-Boot build */
	setenv("PL_UBOOT_DIR", c->rack.dir, 1);
	setenv("PL_UBOOT_WORK", c->rack.dir, 1);
	uboot_images(c);
	return gateway_rack(c);
}

static int group_teardown(void **state)
{
	struct ctx *c = *state;
	int rc;

	if (!c)
		return 0;
	if (c->gw_pid > 0) {
		char *out = NULL;

		e2e_patchlab(NULL, &out, "vrack", "down", "--dir", c->gw_dir,
			     NULL);
		free(out);
		pl_test_reap(c->gw_pid, PL_TEST_REAP_DEADLINE_MS);
	}
	rc = e2e_rack_down(&c->rack);
	free(c->gw_dir);
	free(c->gw_lab);
	free(c->src);
	free(c->uboot_why);
	free(c);
	return rc;
}

/* Shipped files under the source dir, relative to it. */
struct filelist {
	char **v;
	size_t n;
	char *blocked;       /* a file needing an unset build_vars[] */
	const char *blocked_var;
};

/* The unset build variable that src/rel names, or NULL. */
static const char *needs_unset_var(const char *src, const char *rel)
{
	char path[4200], *text;
	const char *var = NULL;

	snprintf(path, sizeof(path), "%s/%s", src, rel);
	text = pl_test_slurp(path);
	for (size_t i = 0; text && !var && build_vars[i]; i++) {
		char ref[64];

		snprintf(ref, sizeof(ref), "${%s}", build_vars[i]);
		if (strstr(text, ref) && !getenv(build_vars[i]))
			var = build_vars[i];
	}
	free(text);
	return var;
}

static bool checkable(const char *p)
{
	size_t l = strlen(p);

	return (l > 5 && !strcmp(p + l - 5, ".yaml")) ||
	       (l > 4 && !strcmp(p + l - 4, ".yml")) ||
	       (l > 4 && !strcmp(p + l - 4, ".lua"));
}

/* Add every checkable file under src/rel (rel ends in '/'). */
static int walk(const char *src, const char *rel, struct filelist *fl)
{
	char path[4200];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", src, rel);
	d = opendir(path);
	if (!d)
		return -1;
	while (rc == 0 && (de = readdir(d))) {
		char sub[4200];
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s%s", rel, de->d_name) >=
			    (int)sizeof(sub) ||
		    snprintf(path, sizeof(path), "%s/%s", src, sub) >=
			    (int)sizeof(path) ||
		    lstat(path, &sb) != 0) {
			rc = -1;
		} else if (S_ISDIR(sb.st_mode)) {
			strncat(sub, "/", sizeof(sub) - strlen(sub) - 1);
			rc = walk(src, sub, fl);
		} else if (S_ISREG(sb.st_mode) && checkable(sub)) {
			char **v = realloc(fl->v, (fl->n + 1) * sizeof(*v));

			if (!v || !(v[fl->n] = strdup(sub))) {
				if (v)
					fl->v = v;
				rc = -1;
			} else {
				fl->v = v;
				fl->n++;
			}
		}
	}
	closedir(d);
	return rc;
}

static void list_shipped(struct ctx *c, struct filelist *fl)
{
	memset(fl, 0, sizeof(*fl));
	for (size_t i = 0; shipped_dirs[i]; i++)
		assert_int_equal(walk(c->src, shipped_dirs[i], fl), 0);
	/* there is something to check */
	assert_true(fl->n >= 10);
	for (size_t i = 0; i < fl->n && !fl->blocked; i++) {
		fl->blocked_var = needs_unset_var(c->src, fl->v[i]);
		if (fl->blocked_var)
			fl->blocked = fl->v[i];
	}
}

static void free_list(struct filelist *fl)
{
	for (size_t i = 0; i < fl->n; i++)
		free(fl->v[i]);
	free(fl->v);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* (cmocka cuts long messages: the output goes to stderr whole, and is
 * freed before the failure is reported) */
static void expect_clean(int rc, char *out, const char *what, size_t want_ok)
{
	const char *o = out ? out : "";
	size_t ok = count(o, ": ok (");
	bool bad = rc != PL_EXIT_OK || strstr(o, "error");

	if (bad || ok != want_ok)
		fprintf(stderr, "%s", o);
	if (bad || ok != want_ok)
		free(out);
	if (bad)
		fail_msg("%s: exit %d, want 0 and no error (output above)", what,
			 rc);
	if (ok != want_ok)
		fail_msg("%s: %zu 'ok' lines, want one per shipped file (%zu)",
			 what, ok, want_ok);
}

#define SKIP_IF_BLOCKED(fl)                                                  \
	do {                                                                 \
		if ((fl).blocked) {                                          \
			pl_test_print_skip("%s needs $%s, which could not "   \
					   "be made here (%s)", (fl).blocked, \
					   (fl).blocked_var, c->uboot_why ?   \
					   c->uboot_why : "?");               \
			free_list(&(fl));                                    \
			skip();                                              \
		}                                                            \
	} while (0)

static void every_shipped_file_passes(void **state)
{
	struct ctx *c = *state;
	struct filelist fl;
	char *out = NULL;
	int rc;

	list_shipped(c, &fl);
	SKIP_IF_BLOCKED(fl);
	rc = e2e_patchlab(c->src, &out, "check", "scenarios/", "boards/",
			  "examples/labs/", NULL);
	expect_clean(rc, out, "check scenarios/ boards/ examples/labs/",
		     fl.n);
	/* every file is named in the answer */
	for (size_t i = 0; i < fl.n; i++) {
		const char *base = strrchr(fl.v[i], '/');

		if (!strstr(out, base ? base + 1 : fl.v[i]))
			fail_msg("check did not report %s:\n%s", fl.v[i], out);
	}
	free(out);
	free_list(&fl);
}

/* The text of src/rel contains needle. */
static bool mentions(const char *src, const char *rel, const char *needle)
{
	char path[4200], *text;
	bool yes;

	snprintf(path, sizeof(path), "%s/%s", src, rel);
	text = pl_test_slurp(path);
	yes = text && strstr(text, needle);
	free(text);
	return yes;
}

/*
 * Each shipped suite against the lab it is written for: the suites whose
 * images come from a virtual rack (${VRACK}) against this rack's lab (the
 * gateway family's, made with `vrack up --family gateway`, against a
 * gateway rack's), the U-Boot suites (${PL_UBOOT_IMAGES}) against
 * examples/labs/qemu-uboot.yaml. Every suite is one of them.
 */
static void every_suite_passes_against_its_lab(void **state)
{
	static const struct {
		const char *var;
		const char *lab; /* NULL: the rack's; "gw": the gateway rack's */
		const char *unless; /* not a suite that mentions this */
	} kinds[] = {
		{ "${VRACK}", NULL, "--family gateway" },
		{ "--family gateway", "gw", NULL },
		{ "${PL_UBOOT_IMAGES}", "examples/labs/qemu-uboot.yaml", NULL },
	};
	struct ctx *c = *state;
	struct filelist fl;
	size_t nsuites = 0, matched = 0;

	list_shipped(c, &fl);
	SKIP_IF_BLOCKED(fl);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char *args[64], *out = NULL, what[256];
		size_t n = 0, nfiles = 0;
		int rc;

		args[n++] = "check";
		args[n++] = "--lab";
		args[n++] = (char *)(!kinds[k].lab ? c->rack.lab :
				     strcmp(kinds[k].lab, "gw") == 0 ? c->gw_lab :
				     kinds[k].lab);
		for (size_t i = 0; i < fl.n && n < 63; i++)
			if (strstr(fl.v[i], "suites/") &&
			    mentions(c->src, fl.v[i], kinds[k].var) &&
			    !(kinds[k].unless &&
			      mentions(c->src, fl.v[i], kinds[k].unless))) {
				args[n++] = fl.v[i];
				nfiles++;
			}
		args[n] = NULL;
		if (!nfiles)
			continue;
		matched += nfiles;
		rc = e2e_patchlab_argv(c->src, &out, args);
		snprintf(what, sizeof(what), "check --lab %s (the suites naming %s)",
			 args[2], kinds[k].var);
		/* the lab is reported too */
		expect_clean(rc, out, what, nfiles + 1);
		free(out);
	}
	for (size_t i = 0; i < fl.n; i++)
		nsuites += strstr(fl.v[i], "suites/") != NULL;
	free_list(&fl);
	/* no suite was left out, and there was one */
	assert_true(nsuites > 0);
	assert_int_equal(matched, nsuites);
}

static void each_shipped_file_passes_alone(void **state)
{
	struct ctx *c = *state;
	struct filelist fl;

	list_shipped(c, &fl);
	for (size_t i = 0; i < fl.n; i++) {
		const char *var = needs_unset_var(c->src, fl.v[i]);
		char *out = NULL, what[4200];
		int rc;

		if (var) {
			/* said, not silent: the other files are still checked */
			fprintf(stderr, "not checked: %s needs $%s, which "
				"could not be made here (%s)\n", fl.v[i], var,
				c->uboot_why ? c->uboot_why : "?");
			continue;
		}
		rc = e2e_patchlab(c->src, &out, "check", fl.v[i], NULL);
		snprintf(what, sizeof(what), "check %s", fl.v[i]);
		expect_clean(rc, out, what, 1);
		free(out);
	}
	free_list(&fl);
}

/*
 * `patchlab check DIR/suites/` (a trailing slash, as shell completion
 * types it) finds the scenarios next to suites/ as `DIR/suites` does. The
 * tree is a copy of links: scenarios/ (its Lua files and lib/) with only
 * quick.yaml in suites/, so no suite that needs a build gets in the way.
 */
static void a_suites_dir_with_a_slash_passes(void **state)
{
	struct ctx *c = *state;
	char top[4200], suites[4300], link[4600], target[4600];
	char *scen = pl_test_source_path("scenarios"), *out = NULL;
	struct dirent *de;
	DIR *d;
	int rc;

	snprintf(top, sizeof(top), "%s/scen", c->rack.dir);
	snprintf(suites, sizeof(suites), "%s/suites", top);
	assert_int_equal(mkdir(top, 0755), 0);
	assert_int_equal(mkdir(suites, 0755), 0);
	d = opendir(scen);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "suites"))
			continue;
		snprintf(target, sizeof(target), "%s/%s", scen, de->d_name);
		snprintf(link, sizeof(link), "%s/%s", top, de->d_name);
		assert_int_equal(symlink(target, link), 0);
	}
	closedir(d);
	snprintf(target, sizeof(target), "%s/suites/quick.yaml", scen);
	snprintf(link, sizeof(link), "%s/quick.yaml", suites);
	assert_int_equal(symlink(target, link), 0);
	free(scen);

	/* without the slash: the reference */
	rc = e2e_patchlab(NULL, &out, "check", suites, NULL);
	expect_clean(rc, out, "check DIR/suites", 1);
	free(out);
	strncat(suites, "/", sizeof(suites) - strlen(suites) - 1);
	rc = e2e_patchlab(NULL, &out, "check", suites, NULL);
	expect_clean(rc, out, "check DIR/suites/", 1);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_shipped_file_passes),
		cmocka_unit_test(every_suite_passes_against_its_lab),
		cmocka_unit_test(each_shipped_file_passes_alone),
		cmocka_unit_test(a_suites_dir_with_a_slash_passes),
	};

	return cmocka_run_group_tests_name("/pl/e2e/check", tests, group_setup,
					   group_teardown);
}
