/* SPDX-License-Identifier: MIT */
/*
 * patchlab calibrate: run a suite on each firmware profile's boards and
 * read, from each profile's result store, which suite entries saw a device
 * failure (patchlab/calibrate.h, docs/calibration.md).
 *
 * Each profile's suite runs through pl_engine_run() with the profile as its
 * only board tag, PROFILE set in the environment (the suites name the
 * profile's factory flash with ${PROFILE}) and OUT/PROFILE/ as its output
 * directory, so each profile has its own store and the matrix is read from
 * the suite that run recorded there. A run is mapped back to the suite
 * entry it came from by its scenario and its params without the cut point
 * and learning flag the engine adds to sweep runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calib_internal.h"
#include "patchlab/clock.h"
#include "patchlab/config.h"
#include "patchlab/engine.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/store.h"
#include "patchlab/value_json.h"
#include "patchlab/vfw.h"

#define REFERENCE_PROFILE "good"

const char *pl_calib_verdict_name(enum pl_calib_verdict v)
{
	switch (v) {
	case PL_CALIB_FIT:
		return "fit";
	case PL_CALIB_NOT_FIT:
		return "not fit";
	case PL_CALIB_INCONCLUSIVE:
		return "inconclusive";
	}
	return "?";
}

int calib_reason(struct pl_calib *c, const char *fmt, ...)
{
	char **r = realloc(c->reasons, (c->nreasons + 1) * sizeof(*r));
	va_list ap;
	int n;

	if (!r)
		return -ENOMEM;
	c->reasons = r;
	va_start(ap, fmt);
	n = vasprintf(&r[c->nreasons], fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	c->nreasons++;
	return 0;
}

/* ------------------------------------------------------------ profiles */

/* The profile a board runs: vars.profile, else a tag naming a profile. */
static const char *board_profile(const struct pl_board_cfg *b, bool *from_vars)
{
	const struct pl_value *v = pl_value_get(b->vars, "profile");

	*from_vars = false;
	if (v && v->kind == PL_VALUE_SCALAR && v->str[0]) {
		*from_vars = true;
		return v->str;
	}
	for (size_t i = 0; i < b->ntags; i++)
		if (pl_vfw_profile_find(b->tags[i]))
			return b->tags[i];
	return NULL;
}

/* Position of a profile in the table (unknown names after every known). */
static size_t profile_rank(const char *name)
{
	for (size_t i = 0; i < pl_vfw_profile_count(); i++)
		if (strcmp(pl_vfw_profile_at(i)->name, name) == 0)
			return i;
	return pl_vfw_profile_count();
}

int calib_add_profile(struct pl_calib *c, const char *name)
{
	const struct pl_vfw_profile *vp = pl_vfw_profile_find(name);
	struct pl_calib_profile *p;
	size_t at;

	for (size_t i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i].name, name) == 0) {
			c->profiles[i].nboards++;
			return 0;
		}
	p = realloc(c->profiles, (c->nprofiles + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->profiles = p;
	/* keep the table's order; unknown names in the lab's order */
	for (at = c->nprofiles; at > 0; at--)
		if (profile_rank(p[at - 1].name) <= profile_rank(name))
			break;
	memmove(&p[at + 1], &p[at], (c->nprofiles - at) * sizeof(*p));
	memset(&p[at], 0, sizeof(*p));
	c->nprofiles++;
	p[at].name = strdup(name);
	p[at].defect = strdup(vp ? vp->defect : "(unknown profile)");
	p[at].reference = strcmp(name, REFERENCE_PROFILE) == 0;
	p[at].nboards = 1;
	p[at].engine_exit = -1;
	p[at].gate = strdup("-");
	if (!p[at].name || !p[at].defect || !p[at].gate)
		return -ENOMEM;
	return 0;
}

/* Every profile of the lab's boards; a board whose vars name a profile it
 * does not carry as a tag cannot be selected, and is an error. */
static int find_profiles(struct pl_calib *c, const struct pl_lab *lab,
			 struct pl_diags *diags)
{
	bool bad = false;
	int err;

	for (size_t i = 0; i < lab->nboards; i++) {
		const struct pl_board_cfg *b = &lab->boards[i];
		bool from_vars;
		const char *name = board_profile(b, &from_vars);

		if (!name)
			continue;
		if (from_vars && !pl_board_has_tag(b, name)) {
			pl_diags_add(diags, &b->pos, "board %s: vars.profile is '%s' "
				     "but the board has no tag '%s' (calibrate "
				     "selects a profile's boards by that tag)",
				     b->id, name, name);
			bad = true;
			continue;
		}
		err = calib_add_profile(c, name);
		if (err)
			return err;
	}
	if (bad)
		return -PL_ECONFIG;
	if (c->nprofiles == 0) {
		pl_diags_add(diags, NULL, "%s: no board names a firmware profile "
			     "(vars: {profile: P} and the tag P): nothing to "
			     "calibrate", lab->file);
		return -PL_ECONFIG;
	}
	return 0;
}

/* ------------------------------------------------------------- entries */


static const char *sweep_over_name(enum pl_sweep_over o)
{
	switch (o) {
	case PL_SWEEP_FLASH_OPS:
		return "flash_ops";
	case PL_SWEEP_TIME:
		return "time";
	case PL_SWEEP_BYTES:
		return "bytes";
	case PL_SWEEP_PROGRESS:
		return "progress";
	case PL_SWEEP_CONSOLE:
		return "console";
	}
	return "?";
}

/* "cut_flash_op.lua sweep flash_ops 70 points x3 phases" and the like. */
static char *entry_label(const struct pl_run_cfg *r)
{
	struct pl_strbuf sb = { 0 };
	const struct pl_value *p = r->params;
	char *copy = strdup(r->scenario);
	int err;

	if (!copy)
		return NULL;
	err = pl_strbuf_puts(&sb, basename(copy));
	free(copy);
	for (size_t i = 0; !err && p && p->kind == PL_VALUE_MAP && i < p->n; i++) {
		const struct pl_value *v = p->items[i];

		if (v->kind == PL_VALUE_SCALAR) {
			err = pl_strbuf_printf(&sb, " %s=%s", p->keys[i], v->str);
		} else {
			json_t *j = pl_value_to_json(v);
			char *t = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY |
						 JSON_SORT_KEYS) : NULL;

			err = t ? pl_strbuf_printf(&sb, " %s=%s", p->keys[i], t)
				: -ENOMEM;
			free(t);
			json_decref(j);
		}
	}
	if (!err && r->sweep) {
		static const char *const ph[] = { "before", "during", "after" };
		const char *sep = " ";

		err = pl_strbuf_printf(&sb, " sweep %s",
				       sweep_over_name(r->sweep->over));
		for (unsigned b = 0; !err && b < 3; b++)
			if (r->sweep->phases & (1u << b)) {
				err = pl_strbuf_printf(&sb, "%s%s", sep, ph[b]);
				sep = "+";
			}
		if (!err && r->sweep->points)
			err = pl_strbuf_printf(&sb, " %u points", r->sweep->points);
		else if (!err)
			err = pl_strbuf_puts(&sb, " every point");
	}
	if (!err && r->repeat > 1)
		err = pl_strbuf_printf(&sb, " repeat %u", r->repeat);
	if (err) {
		pl_strbuf_free(&sb);
		return NULL;
	}
	return pl_strbuf_steal(&sb);
}

int calib_load_entries(struct pl_calib *c, const struct pl_suite *s)
{
	size_t l = strlen(s->scenarios_dir);

	c->entries = calloc(s->nruns ? s->nruns : 1, sizeof(*c->entries));
	if (!c->entries)
		return -ENOMEM;
	for (size_t i = 0; i < s->nruns; i++) {
		const struct pl_run_cfg *r = &s->runs[i];
		struct calib_entry *e = &c->entries[i];
		const char *scen = r->scenario;
		int n;

		c->nentries++;
		e->label = entry_label(r);
		/* the engine's chunk name: "scenarios/x.lua" */
		if (strncmp(scen, s->scenarios_dir, l) == 0 && scen[l] == '/')
			n = asprintf(&e->chunk, "scenarios%s", scen + l);
		else
			n = asprintf(&e->chunk, "%s", scen);
		e->sweep = r->sweep != NULL;
		e->params = pl_value_to_json(r->params);
		if (!json_is_object(e->params)) {
			json_decref(e->params);
			e->params = json_object();
		}
		if (n < 0 || !e->label || !e->params)
			return -ENOMEM;
	}
	return 0;
}

/*
 * The entry a recorded run came from, or -1: same scenario, same params
 * once the cut point and learning flag are taken out, and a sweep entry
 * exactly when the run carried one of them. Failing that, the first entry
 * of the scenario with the same params, then the first of the scenario.
 */
static long entry_of(const struct pl_calib *c, const struct pl_run_row *row)
{
	json_t *p = json_loads(row->params_json ? row->params_json : "{}", 0,
			       NULL);
	long best = -1;
	int best_score = 0;
	bool swept = false;

	if (p && json_is_object(p)) {
		swept = json_object_get(p, "cut") || json_object_get(p, "learn");
		json_object_del(p, "cut");
		json_object_del(p, "learn");
	}
	for (size_t i = 0; i < c->nentries && best_score < 3; i++) {
		int score;

		if (strcmp(c->entries[i].chunk, row->scenario) != 0)
			continue;
		score = 1;
		if (p && json_equal(p, c->entries[i].params))
			score = c->entries[i].sweep == swept ? 3 : 2;
		if (score > best_score) {
			best_score = score;
			best = (long)i;
		}
	}
	json_decref(p);
	return best;
}

int calib_alloc_cells(struct pl_calib *c)
{
	c->cells = calloc(c->nentries * c->nprofiles + 1, sizeof(*c->cells));
	c->unmatched = calloc(c->nprofiles + 1, sizeof(*c->unmatched));
	c->profile_db = calloc(c->nprofiles + 1, sizeof(*c->profile_db));
	return c->cells && c->unmatched && c->profile_db ? 0 : -ENOMEM;
}

/* --------------------------------------------------------------- runs */

struct env_ud {
	const char *profile;
};

/* ${PROFILE} for loading the suite's entries, before any run. */
static const char *calib_getenv(void *ud, const char *name)
{
	const struct env_ud *e = ud;

	if (strcmp(name, "PROFILE") == 0)
		return e->profile;
	return getenv(name);
}

static void mkdir_p(const char *path)
{
	char *p = strdup(path);

	if (!p)
		return;
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
	free(p);
}

/* The highest suite id in db (0 when none or no file yet). */
static int64_t last_suite(const char *db)
{
	struct pl_store *st;
	struct pl_suite_row *rows = NULL;
	size_t n = 0;
	int64_t id = 0;

	if (access(db, F_OK) != 0 || pl_store_open(&st, db, NULL) != 0)
		return 0;
	if (pl_store_list_suites(st, &rows, &n) == 0 && n > 0)
		id = rows[0].id;
	pl_store_suites_free(rows, n);
	pl_store_close(st);
	return id;
}

/* Read the runs of the suite the profile's run recorded (id > before). */
int calib_read_profile(struct pl_calib *c, size_t pi, const char *db,
		       int64_t before)
{
	struct pl_calib_profile *pr = &c->profiles[pi];
	struct pl_store *st;
	struct pl_suite_row *suites = NULL;
	struct pl_run_row *rows = NULL;
	struct pl_run_filter f = { 0 };
	size_t ns = 0, n = 0;
	int err;

	if (access(db, F_OK) != 0)
		return 0; /* the suite never started: no store */
	err = pl_store_open(&st, db, NULL);
	if (err)
		return err;
	err = pl_store_list_suites(st, &suites, &ns);
	if (err)
		goto out_close;
	if (ns == 0 || suites[0].id <= before)
		goto out_free_suites; /* nothing recorded by this run */
	pr->suite_id = suites[0].id;
	free((char *)pr->gate);
	pr->gate = strdup(suites[0].gate ? suites[0].gate : "-");
	if (!pr->gate) {
		err = -ENOMEM;
		goto out_free_suites;
	}
	f.suite_id = pr->suite_id;
	err = pl_store_list_runs(st, &f, &rows, &n);
	if (err)
		goto out_free_suites;
	for (size_t i = 0; i < n; i++) {
		long e = entry_of(c, &rows[i]);
		struct pl_calib_cell *cell;

		pr->runs++;
		if (rows[i].open || rows[i].verdict == PL_VERDICT_LAB_ERROR) {
			pr->lab_errors++;
		} else if (pl_verdict_is_failure(rows[i].verdict)) {
			pr->failures++;
		}
		if (!rows[i].open && rows[i].verdict < PL_VERDICT_COUNT)
			pr->counts[rows[i].verdict]++;
		if (e < 0) {
			c->unmatched[pi]++;
			continue;
		}
		cell = &c->cells[(size_t)e * c->nprofiles + pi];
		cell->runs++;
		if (rows[i].open || rows[i].verdict == PL_VERDICT_LAB_ERROR) {
			cell->lab_errors++;
		} else if (pl_verdict_is_failure(rows[i].verdict)) {
			cell->failures++;
			if (!cell->first)
				cell->first = cell->runs;
		}
	}
	pl_store_runs_free(rows, n);
out_free_suites:
	pl_store_suites_free(suites, ns);
out_close:
	pl_store_close(st);
	return err;
}

static int run_profile(struct pl_calib *c, size_t pi,
		       const struct pl_calib_opts *o)
{
	struct pl_calib_profile *pr = &c->profiles[pi];
	const char *tags[2] = { pr->name, NULL };
	struct pl_engine_opts eo = { 0 };
	char *dir = NULL;
	int64_t before;

	if (asprintf(&dir, "%s/%s", c->out_dir, pr->name) < 0 ||
	    (o->db_path ? asprintf(&c->profile_db[pi], "%s", o->db_path)
			: asprintf(&c->profile_db[pi], "%s/patchlab.db", dir)) < 0) {
		free(dir);
		return -ENOMEM;
	}
	mkdir_p(dir);
	before = last_suite(c->profile_db[pi]);
	eo.suite_path = c->suite_path;
	eo.lab_path = c->lab_path;
	eo.out_dir = dir;
	eo.db_path = o->db_path;
	eo.seed = c->seed;
	eo.has_seed = true;
	eo.output = o->output;
	eo.tags = tags;
	if (o->on_profile)
		o->on_profile(o->user_data, pr->name, pr->nboards, dir, false, 0);
	/* The suites name the profile's factory flash with ${PROFILE}; the
	 * engine reads the environment (single-threaded CLI). */
	setenv("PROFILE", pr->name, 1);
	pr->engine_exit = pl_engine_run(&eo);
	if (o->on_profile)
		o->on_profile(o->user_data, pr->name, pr->nboards, dir, true,
			      pr->engine_exit);
	free(dir);
	return calib_read_profile(c, pi, c->profile_db[pi], before);
}

/* ------------------------------------------------------------ verdict */

static int set_why(struct pl_calib_profile *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int set_why(struct pl_calib_profile *p, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	free((char *)p->why);
	p->why = s;
	return 0;
}

/* The label of the first entry whose cell of profile pi failed a device. */
static const char *first_failing(const struct pl_calib *c, size_t pi,
				 size_t *ndet)
{
	const char *first = NULL;

	*ndet = 0;
	for (size_t e = 0; e < c->nentries; e++)
		if (c->cells[e * c->nprofiles + pi].failures) {
			if (!first)
				first = c->entries[e].label;
			(*ndet)++;
		}
	return first;
}

int calib_decide(struct pl_calib *c)
{
	bool not_fit = false, unsure = false, have_ref = false, have_def = false;
	int err = 0;

	for (size_t i = 0; i < c->nprofiles && !err; i++) {
		struct pl_calib_profile *p = &c->profiles[i];
		size_t ndet;
		const char *first = first_failing(c, i, &ndet);
		bool ran = p->runs > 0;

		p->detected = !p->reference && p->failures > 0;
		if (p->reference) {
			have_ref = true;
			if (p->failures) {
				not_fit = true;
				err = set_why(p, "FALSE ALARM: %lu device failure(s) "
					      "in %lu runs (first in %s)",
					      p->failures, p->runs,
					      first ? first : "?");
				err = err ? err : calib_reason(c, "%s: the good "
					"firmware failed %lu of %lu runs (first "
					"in %s): the suite or the lab fails a "
					"good device", p->name, p->failures,
					p->runs, first ? first : "?");
			} else if (!ran) {
				unsure = true;
				err = set_why(p, "did not run (suite exit %d)",
					      p->engine_exit);
				err = err ? err : calib_reason(c, "%s: the suite did "
					"not run (exit %d)", p->name, p->engine_exit);
			} else if (p->lab_errors) {
				unsure = true;
				err = set_why(p, "no device failure, but %lu "
					      "lab-error(s) in %lu runs",
					      p->lab_errors, p->runs);
				err = err ? err : calib_reason(c, "%s: %lu lab-error "
					"run(s): a clean result needs every run "
					"to give a device verdict", p->name,
					p->lab_errors);
			} else {
				err = set_why(p, "clean: no device failure in "
					      "%lu runs", p->runs);
			}
			continue;
		}
		have_def = true;
		if (p->detected) {
			err = set_why(p, "detected by %zu of %zu entries "
				      "(%lu device failures in %lu runs)", ndet,
				      c->nentries, p->failures, p->runs);
			if (!err && p->lab_errors) {
				unsure = true;
				err = calib_reason(c, "%s: detected, but %lu run(s) "
						   "ended lab-error", p->name,
						   p->lab_errors);
			}
		} else if (!ran) {
			unsure = true;
			err = set_why(p, "did not run (suite exit %d)",
				      p->engine_exit);
			err = err ? err : calib_reason(c, "%s: the suite did not "
				"run (exit %d)", p->name, p->engine_exit);
		} else if (p->lab_errors) {
			unsure = true;
			err = set_why(p, "not detected, %lu of %lu runs "
				      "lab-error", p->lab_errors, p->runs);
			err = err ? err : calib_reason(c, "%s: not detected, and "
				"%lu run(s) ended lab-error: rerun", p->name,
				p->lab_errors);
		} else {
			not_fit = true;
			err = set_why(p, "MISSED: no device failure in %lu runs",
				      p->runs);
			err = err ? err : calib_reason(c, "%s (%s): MISSED by "
				"every entry of the suite: add a scenario that "
				"catches it", p->name, p->defect);
		}
	}
	if (!err && !have_ref) {
		unsure = true;
		err = calib_reason(c, "no board runs '%s': nothing shows that "
				   "the suite passes a good firmware",
				   REFERENCE_PROFILE);
	}
	if (!err && !have_def) {
		unsure = true;
		err = calib_reason(c, "no board runs a defective profile: "
				   "nothing shows that the suite catches a "
				   "defect");
	}
	c->verdict = not_fit ? PL_CALIB_NOT_FIT :
		     unsure ? PL_CALIB_INCONCLUSIVE : PL_CALIB_FIT;
	return err;
}

/* ------------------------------------------------------------- public */

int pl_calib_run(const struct pl_calib_opts *o, struct pl_calib **out)
{
	struct pl_calib *c;
	struct pl_diags *diags = NULL;
	struct pl_lab *lab = NULL;
	struct pl_suite *suite = NULL;
	struct env_ud env = { 0 };
	struct pl_config_opts copts = { .getenv = calib_getenv,
					.env_user_data = &env };
	char *saved = getenv("PROFILE") ? strdup(getenv("PROFILE")) : NULL;
	int err;

	*out = NULL;
	if (!o || !o->lab_path) {
		free(saved);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		free(saved);
		return -ENOMEM;
	}
	c->lab_path = strdup(o->lab_path);
	c->suite_path = strdup(o->suite_path ? o->suite_path
					     : PL_CALIB_DEFAULT_SUITE);
	c->out_dir = strdup(o->out_dir ? o->out_dir : PL_CALIB_DEFAULT_OUT);
	c->seed = o->has_seed ? o->seed : pl_wall_ns() % 1000000007u;
	err = pl_diags_new(&diags);
	if (err || !c->lab_path || !c->suite_path || !c->out_dir) {
		err = -ENOMEM;
		goto out_free;
	}
	err = pl_lab_load(&lab, c->lab_path, &copts, diags);
	if (!err)
		err = find_profiles(c, lab, diags);
	if (!err) {
		/* the entries are the same for every profile: load with the
		 * first one's ${PROFILE} so its images resolve */
		env.profile = c->profiles[0].name;
		copts.lab = lab;
		err = pl_suite_load(&suite, c->suite_path, &copts, diags);
	}
	if (err) {
		pl_diags_print(diags, stderr);
		goto out_free;
	}
	err = calib_load_entries(c, suite);
	if (err)
		goto out_free;
	err = calib_alloc_cells(c);
	if (err)
		goto out_free;
	for (size_t i = 0; i < c->nprofiles && !err; i++)
		err = run_profile(c, i, o);
	if (!err)
		err = calib_decide(c);
out_free:
	if (saved)
		setenv("PROFILE", saved, 1);
	else
		unsetenv("PROFILE");
	free(saved);
	pl_suite_free(suite);
	pl_lab_free(lab);
	pl_diags_free(diags);
	if (err) {
		pl_calib_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void pl_calib_free(struct pl_calib *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nentries; i++) {
		free(c->entries[i].label);
		free(c->entries[i].chunk);
		json_decref(c->entries[i].params);
	}
	free(c->entries);
	for (size_t i = 0; i < c->nprofiles; i++) {
		free((char *)c->profiles[i].name);
		free((char *)c->profiles[i].defect);
		free((char *)c->profiles[i].gate);
		free((char *)c->profiles[i].why);
		if (c->profile_db)
			free(c->profile_db[i]);
	}
	free(c->profiles);
	free(c->profile_db);
	free(c->cells);
	free(c->unmatched);
	for (size_t i = 0; i < c->nreasons; i++)
		free(c->reasons[i]);
	free(c->reasons);
	free(c->lab_path);
	free(c->suite_path);
	free(c->out_dir);
	free(c);
}

enum pl_calib_verdict pl_calib_verdict(const struct pl_calib *c)
{
	return c->verdict;
}

int pl_calib_exit_code(const struct pl_calib *c)
{
	switch (c->verdict) {
	case PL_CALIB_FIT:
		return PL_EXIT_OK;
	case PL_CALIB_NOT_FIT:
		return PL_EXIT_GATE_FAILED;
	case PL_CALIB_INCONCLUSIVE:
		break;
	}
	return PL_EXIT_LAB_ERROR;
}

uint64_t pl_calib_seed(const struct pl_calib *c)
{
	return c->seed;
}

size_t pl_calib_nentries(const struct pl_calib *c)
{
	return c->nentries;
}

const char *pl_calib_entry_label(const struct pl_calib *c, size_t i)
{
	return i < c->nentries ? c->entries[i].label : NULL;
}

size_t pl_calib_nprofiles(const struct pl_calib *c)
{
	return c->nprofiles;
}

const struct pl_calib_profile *pl_calib_profile_at(const struct pl_calib *c,
						   size_t p)
{
	return p < c->nprofiles ? &c->profiles[p] : NULL;
}

const struct pl_calib_cell *pl_calib_cell(const struct pl_calib *c,
					  size_t entry, size_t profile)
{
	if (entry >= c->nentries || profile >= c->nprofiles)
		return NULL;
	return &c->cells[entry * c->nprofiles + profile];
}
