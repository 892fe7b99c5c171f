/* SPDX-License-Identifier: MIT */
/*
 * Suites (scenarios/suites/NAME.yaml): images, runs (scenario, board
 * selection, params, repeat, sweep), the release gate and budget defaults.
 * See docs/configuration.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <regex.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patchlab/datadir.h"
#include "patchlab/error.h"
#include "config_internal.h"

static const struct pl_config_opts no_opts;

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void load_images(struct pl_cfg *c, struct pl_suite *s,
			const struct pl_value *root)
{
	pl_cfg_images(c, pl_cfg_get(c, root, "images", false, "suite"), true,
		      &s->images, &s->nimages);
}

static void check_overrides(struct pl_cfg *c, const struct pl_value *root)
{
	const struct pl_value *images = pl_value_get(root, "images");

	for (size_t i = 0; c->opts->image_overrides && c->opts->image_overrides[i]; i++) {
		const char *ov = c->opts->image_overrides[i];
		const char *eq = strchr(ov, '=');
		char name[128];

		if (!eq || eq == ov || (size_t)(eq - ov) >= sizeof(name)) {
			pl_cfg_err(c, NULL, "--image %s: expected NAME=PATH", ov);
			continue;
		}
		memcpy(name, ov, (size_t)(eq - ov));
		name[eq - ov] = '\0';
		if (!pl_value_get(images, name))
			pl_cfg_err(c, NULL, "--image %s: the suite declares no image '%s'",
				   ov, name);
	}
}

/* --------------------------------------------------------------- scenarios */

/*
 * path made absolute (from the working directory) with "." and ".."
 * resolved lexically, into a new string; NULL with errno set on failure.
 * Symbolic links are kept: a scenarios directory may be a tree of links.
 */
static char *lexical_abs(const char *path)
{
	char cwd[4096], *buf, *r, *w;
	const char *pre = "";
	size_t len;

	if (path[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		pre = cwd;
	}
	len = strlen(pre) + strlen(path) + 2;
	buf = malloc(len);
	if (!buf) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(buf, len, "%s/%s", pre, path);
	/* normalise in place: the write end never passes the read end */
	for (r = w = buf; *r;) {
		const char *comp;
		size_t n;

		while (*r == '/')
			r++;
		comp = r;
		while (*r && *r != '/')
			r++;
		n = (size_t)(r - comp);
		if (n == 0 || (n == 1 && comp[0] == '.'))
			continue;
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			while (w > buf && *--w != '/')
				;
			continue;
		}
		*w++ = '/';
		memmove(w, comp, n);
		w += n;
	}
	if (w == buf)
		*w++ = '/';
	*w = '\0';
	return buf;
}

/* 1 when path lies under dir ("." and ".." resolved lexically), 0 when
 * not, -errno when it cannot be told. */
static int inside_dir(const char *path, const char *dir)
{
	char *p = lexical_abs(path), *d = p ? lexical_abs(dir) : NULL;
	int rc = -errno;
	size_t n;

	if (p && d) {
		n = strlen(d);
		rc = strcmp(d, "/") == 0 ||
		     (strncmp(p, d, n) == 0 && p[n] == '/');
	}
	free(p);
	free(d);
	return rc;
}

/* The directories scenarios are looked for in: the scenarios directory,
 * then scenario_path's. dirs has room for PL_SCEN_DIRS_MAX + 1. */
#define PL_SCEN_DIRS_MAX 16

static size_t scen_dirs(const struct pl_suite *s, const char **dirs)
{
	size_t n = 0;

	dirs[n++] = s->scenarios_dir;
	for (size_t i = 0; s->scenario_path && s->scenario_path[i] &&
			   n < PL_SCEN_DIRS_MAX; i++)
		dirs[n++] = s->scenario_path[i];
	dirs[n] = NULL;
	return n;
}

static const char *scenario_path(struct pl_cfg *c, struct pl_suite *s,
				 const struct pl_value *map, const char *what)
{
	const struct pl_value *v = pl_cfg_get(c, map, "scenario", true, what);
	const char *dirs[PL_SCEN_DIRS_MAX + 1], *p, *full = NULL, *dir = NULL;
	size_t nd;
	int in;

	if (!v)
		return NULL;
	if (v->kind != PL_VALUE_SCALAR) {
		pl_cfg_err(c, &v->pos, "'scenario' in %s must be a path under scenarios/, got %s",
			   what, pl_value_kind_name(v));
		return NULL;
	}
	p = pl_cfg_expand(c, v);
	if (!p)
		return NULL;
	nd = scen_dirs(s, dirs);
	for (size_t i = 0; i < nd && !dir; i++) {
		full = pl_cfg_join(c, dirs[i], p);
		if (!full)
			return NULL;
		if (is_file(full))
			dir = dirs[i];
	}
	if (!dir) {
		pl_cfg_err(c, &v->pos, "scenario '%s' does not exist (looked for "
			   "it in %s%s)", p, s->scenarios_dir,
			   nd > 1 ? " and the suite's scenario_path" : "");
		return NULL;
	}
	in = inside_dir(full, dir);
	if (in == -ENOMEM)
		return pl_cfg_oom(c);
	if (in < 0) {
		pl_cfg_err(c, &v->pos, "scenario '%s': cannot resolve its path: %s",
			   p, strerror(-in));
		return NULL;
	}
	if (!in) {
		pl_cfg_err(c, &v->pos,
			   "scenario '%s' is outside the scenarios directory %s (the sandbox only loads modules from there)",
			   p, dir);
		return NULL;
	}
	return full;
}

/* scenario_path: [DIR, ...], each a directory (relative to the suite's). */
static void load_scenario_path(struct pl_cfg *c, struct pl_suite *s,
			       const struct pl_value *root)
{
	const struct pl_value *v = pl_value_get(root, "scenario_path");
	static const char *const none[] = { NULL };
	const char **out;
	size_t n = 0;
	struct stat st;

	s->scenario_path = none;
	out = pl_cfg_dir_list(c, v, "scenario_path", &n);
	if (!out)
		return;
	if (n >= PL_SCEN_DIRS_MAX) {
		pl_cfg_err(c, &v->pos, "scenario_path: at most %d directories",
			   PL_SCEN_DIRS_MAX - 1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pl_value *item = v->kind == PL_VALUE_LIST ?
						      v->items[i] : v;

		if (*out[i] && (stat(out[i], &st) != 0 || !S_ISDIR(st.st_mode)))
			pl_cfg_err(c, &item->pos, "scenario_path: %s is not a "
				   "directory", out[i]);
	}
	s->scenario_path = out;
}

/* ---------------------------------------------------------------- sweeps */

static const char *const over_words[] = { "flash_ops", "time", "bytes",
					  "progress", "console", NULL };
static const char *const strategy_words[] = { "exhaustive", "uniform",
					      "adaptive", "random", NULL };
static const char *const phase_words[] = { "before", "during", "after", NULL };

/* A duration scalar with a unit ("0ms", "1.5ms", "2s"; a bare number is
 * ms) in µs; false after an error at v. */
static bool delay_us(struct pl_cfg *c, const struct pl_value *v,
		     const char *what, uint64_t *out)
{
	char *end;
	double x;

	if (!v || v->kind != PL_VALUE_SCALAR || pl_value_is_null(v))
		goto bad;
	x = strtod(v->str, &end);
	if (end == v->str || x < 0)
		goto bad;
	if (strcmp(end, "us") == 0)
		x *= 1;
	else if (*end == '\0' || strcmp(end, "ms") == 0)
		x *= 1e3;
	else if (strcmp(end, "s") == 0)
		x *= 1e6;
	else
		goto bad;
	if (x > 3600e6)
		goto bad;
	*out = (uint64_t)(x + 0.5);
	return true;
bad:
	pl_cfg_err(c, v ? &v->pos : NULL, "%s: bad delay '%s' (expected a "
		   "duration such as 0ms, 1.5ms, 250us or 2s, at most 1 h)",
		   what, v && v->kind == PL_VALUE_SCALAR ? v->str : "?");
	return false;
}

/* over: console | time: the delay window [lo, hi], its grid step and the
 * adaptive resolution; console also its pattern and nth. */
static void load_delay_sweep(struct pl_cfg *c, const struct pl_value *v,
			     struct pl_sweep_cfg *sw, const char *what)
{
	const struct pl_value *d = pl_cfg_get(c, v, "delay", true, what);
	uint64_t nth = 1;

	sw->step_us = 1000;
	sw->resolution_us = 500;
	if (sw->over == PL_SWEEP_CONSOLE) {
		regex_t re;

		sw->pattern = pl_cfg_str(c, v, "pattern", true, what, NULL);
		if (sw->pattern && regcomp(&re, sw->pattern,
					   REG_EXTENDED | REG_NOSUB) != 0)
			pl_cfg_err(c, &pl_value_get(v, "pattern")->pos,
				   "%s: pattern is not a POSIX extended "
				   "regular expression", what);
		else if (sw->pattern)
			regfree(&re);
		pl_cfg_uint(c, v, "nth", false, what, 1, 1000000, &nth);
	} else if (pl_value_get(v, "pattern") || pl_value_get(v, "nth")) {
		pl_cfg_err(c, &v->pos, "%s: pattern and nth belong to a sweep "
			   "over console, not over time", what);
	}
	sw->nth = (unsigned)nth;
	if (d && (d->kind != PL_VALUE_LIST || d->n != 2)) {
		pl_cfg_err(c, &d->pos, "%s: delay must be [FROM, TO], e.g. "
			   "[0ms, 40ms]", what);
	} else if (d && delay_us(c, d->items[0], what, &sw->delay_lo_us) &&
		   delay_us(c, d->items[1], what, &sw->delay_hi_us) &&
		   sw->delay_hi_us < sw->delay_lo_us) {
		pl_cfg_err(c, &d->pos, "%s: delay [FROM, TO] with TO before "
			   "FROM", what);
	}
	if (pl_value_get(v, "step") &&
	    delay_us(c, pl_value_get(v, "step"), what, &sw->step_us) &&
	    sw->step_us == 0)
		pl_cfg_err(c, &pl_value_get(v, "step")->pos,
			   "%s: step must be more than 0", what);
	if (pl_value_get(v, "resolution") &&
	    delay_us(c, pl_value_get(v, "resolution"), what,
		     &sw->resolution_us) && sw->resolution_us == 0)
		pl_cfg_err(c, &pl_value_get(v, "resolution")->pos,
			   "%s: resolution must be more than 0", what);
	if (pl_value_get(v, "phases"))
		pl_cfg_err(c, &pl_value_get(v, "phases")->pos,
			   "%s: phases belong to a sweep over flash_ops", what);
}

static const struct pl_sweep_cfg *load_sweep(struct pl_cfg *c,
					     struct pl_suite *s,
					     const struct pl_value *v,
					     const char *what, bool nested)
{
	static const char *const keys[] = { "scenario", "over", "phases",
					    "points", "strategy", "seed",
					    "nested", "pattern", "nth", "delay",
					    "step", "resolution", NULL };
	const struct pl_value *pv, *nv;
	struct pl_sweep_cfg *sw;
	size_t before = pl_cfg_errors(c);
	int e;

	if (!pl_cfg_expect_map(c, v, what))
		return NULL;
	sw = pl_arena_alloc(c->a, sizeof(*sw));
	if (!sw)
		return pl_cfg_oom(c);
	sw->pos = v->pos;
	pl_cfg_check_keys(c, v, keys, what);
	if (pl_value_get(v, "scenario"))
		sw->scenario = scenario_path(c, s, v, what);
	e = PL_SWEEP_FLASH_OPS;
	pl_cfg_enum(c, v, "over", true, what, over_words, &e);
	sw->over = (enum pl_sweep_over)e;
	e = PL_STRATEGY_EXHAUSTIVE;
	pl_cfg_enum(c, v, "strategy", false, what, strategy_words, &e);
	sw->strategy = (enum pl_sweep_strategy)e;
	sw->phases = PL_PHASE_DURING;
	pv = pl_cfg_get(c, v, "phases", false, what);
	if (pv) {
		const char *const *words;
		size_t n;

		sw->phases = 0;
		if (pl_cfg_str_list(c, pv, "phases", &words, &n)) {
			for (size_t i = 0; i < n; i++) {
				const struct pl_value *item =
					pv->kind == PL_VALUE_LIST ? pv->items[i] : pv;
				size_t k = 0;

				while (phase_words[k] && strcmp(phase_words[k], words[i]))
					k++;
				if (!phase_words[k]) {
					const char *near = pl_closest(words[i], phase_words, 3);

					pl_cfg_err(c, &item->pos,
						   "unknown phase '%s' (%s%s%sexpected before, during or after)",
						   words[i], near ? "did you mean '" : "",
						   near ? near : "", near ? "'? " : "");
					continue;
				}
				sw->phases |= 1u << k;
			}
		}
	}
	pv = pl_cfg_get(c, v, "points", false, what);
	if (pv && pv->kind == PL_VALUE_SCALAR && strcmp(pv->str, "all") == 0) {
		sw->points = 0;
	} else if (pv) {
		uint64_t pts = 0;

		if (pv->kind == PL_VALUE_SCALAR &&
		    (pv->str[0] < '0' || pv->str[0] > '9'))
			pl_cfg_err(c, &pv->pos,
				   "'points' in %s must be a number of cut points or 'all', got '%s'",
				   what, pv->str);
		else if (pl_cfg_uint(c, v, "points", false, what, 1, 10000000, &pts))
			sw->points = (unsigned)pts;
	}
	if (pl_value_get(v, "seed") &&
	    pl_cfg_uint(c, v, "seed", false, what, 0, UINT64_MAX, &sw->seed))
		sw->has_seed = true;
	nv = pl_cfg_get(c, v, "nested", false, what);
	if (nv) {
		char *nwhat = pl_arena_printf(c->a, "%s.nested", what);

		if (!nwhat)
			return pl_cfg_oom(c);
		sw->nested = load_sweep(c, s, nv, nwhat, true);
	}
	if (!nested && (sw->over == PL_SWEEP_CONSOLE ||
			       sw->over == PL_SWEEP_TIME))
		load_delay_sweep(c, v, sw, what);
	else if (!nested && sw->over != PL_SWEEP_FLASH_OPS)
		pl_cfg_err(c, &pl_value_get(v, "over")->pos,
			   "%s: a sweep over %s is not supported (flash_ops, "
			   "console or time; bytes and progress are aims of "
			   "fault.cut)", what, over_words[sw->over]);
	return pl_cfg_errors(c) == before ? sw : NULL;
}

/* ------------------------------------------------------------------ runs */

/*
 * params.mutate, the options of image.mutate() (scenarios/bad_image.lua):
 * {corrupt: BITS} flips that many bits, {truncate: BYTES} keeps that many.
 * An unknown key or a value the API ignores would hand the scenario the
 * image unchanged, and a good board would be called `fail`.
 */
static void check_mutate(struct pl_cfg *c, const struct pl_value *params)
{
	static const char *const keys[] = { "corrupt", "truncate", NULL };
	const struct pl_value *m = pl_value_get(params, "mutate");
	uint64_t n;

	if (!m || pl_value_is_null(m) ||
	    !pl_cfg_expect_map(c, m, "params.mutate"))
		return;
	pl_cfg_check_keys(c, m, keys, "params.mutate");
	if (m->n == 0) {
		pl_cfg_err(c, &m->pos,
			   "params.mutate changes nothing: give corrupt: BITS or truncate: BYTES");
		return;
	}
	pl_cfg_uint(c, m, "corrupt", false, "params.mutate", 1, 1u << 20, &n);
	pl_cfg_uint(c, m, "truncate", false, "params.mutate", 0,
		    (uint64_t)INT64_MAX, &n);
}

static void load_budget(struct pl_cfg *c, const struct pl_value *map,
			const char *what, struct pl_budget_cfg *b)
{
	pl_cfg_timeout(c, map, "run_timeout", false, what, &b->run_timeout_ms);
	pl_cfg_uint(c, map, "instructions", false, what, 1000, UINT64_MAX,
		    &b->instructions);
	pl_cfg_size(c, map, "memory", false, what, &b->memory);
}

static void load_on(struct pl_cfg *c, const struct pl_value *rv,
		    struct pl_run_cfg *r, const char *what)
{
	static const char *const keys[] = { "boards", "types", "tags", NULL };
	const struct pl_value *v = pl_cfg_get(c, rv, "on", false, what);
	const struct pl_value *sel = NULL;
	struct pl_srcpos *pos;
	int kind = 0;

	r->on.kind = PL_SELECT_ALL;
	r->on.pos = r->pos;
	if (!v || !pl_cfg_expect_map(c, v, "on"))
		return;
	r->on.pos = v->pos;
	pl_cfg_check_keys(c, v, keys, "on");
	for (int k = 0; keys[k]; k++) {
		const struct pl_value *e = pl_value_get(v, keys[k]);

		if (!e)
			continue;
		if (sel) {
			pl_cfg_err(c, &v->pos,
				   "'on' selects by one of boards, types or tags, not several");
			return;
		}
		sel = e;
		kind = k;
	}
	if (!sel) {
		if (v->n == 0)
			pl_cfg_err(c, &v->pos, "'on' needs boards: [...], types: [...] or tags: [...]");
		return;
	}
	if (!pl_cfg_str_list(c, sel, keys[kind], &r->on.names, &r->on.n))
		return;
	if (r->on.n == 0) {
		pl_cfg_err(c, &sel->pos, "'on.%s' is empty: the run would select no board",
			   keys[kind]);
		return;
	}
	pos = pl_arena_alloc(c->a, (r->on.n + 1) * sizeof(*pos));
	if (!pos) {
		pl_cfg_oom(c);
		return;
	}
	for (size_t i = 0; i < r->on.n; i++)
		pos[i] = sel->kind == PL_VALUE_LIST ? sel->items[i]->pos : sel->pos;
	r->on.name_pos = pos;
	r->on.kind = (enum pl_select_kind)(PL_SELECT_BOARDS + kind);
}

static void load_run(struct pl_cfg *c, struct pl_suite *s,
		     const struct pl_value *rv, struct pl_run_cfg *r, size_t i)
{
	static const char *const keys[] = { "scenario", "on", "params", "repeat",
					    "sweep", "run_timeout",
					    "instructions", "memory", NULL };
	const struct pl_value *sw;
	uint64_t repeat = 1;
	char *what = pl_arena_printf(c->a, "run %zu", i + 1);

	if (!what) {
		pl_cfg_oom(c);
		return;
	}
	r->pos = rv->pos;
	pl_cfg_check_keys(c, rv, keys, what);
	r->scenario = scenario_path(c, s, rv, what);
	load_on(c, rv, r, what);
	r->params = pl_value_get(rv, "params");
	if (pl_value_is_null(r->params))
		r->params = NULL;
	if (r->params && r->params->kind == PL_VALUE_MAP)
		check_mutate(c, r->params);
	pl_cfg_uint(c, rv, "repeat", false, what, 1, 1000000, &repeat);
	r->repeat = (unsigned)repeat;
	sw = pl_cfg_get(c, rv, "sweep", false, what);
	if (sw) {
		char *swhat = pl_arena_printf(c->a, "sweep of run %zu", i + 1);

		if (!swhat) {
			pl_cfg_oom(c);
			return;
		}
		r->sweep = load_sweep(c, s, sw, swhat, false);
	}
	r->budget = s->defaults;
	load_budget(c, rv, what, &r->budget);
}

static void load_gate(struct pl_cfg *c, struct pl_suite *s,
		      const struct pl_value *root)
{
	static const char *const keys[] = { "max_brick_rate", "min_cuts", NULL };
	const struct pl_value *v = pl_cfg_get(c, root, "gate", false, "suite");
	uint64_t cuts = 0;

	if (!v || !pl_cfg_expect_map(c, v, "gate"))
		return;
	pl_cfg_check_keys(c, v, keys, "gate");
	s->gate.given = true;
	s->gate.pos = v->pos;
	pl_cfg_double(c, v, "max_brick_rate", false, "gate", 0.0, 1.0,
		      &s->gate.max_brick_rate);
	if (pl_cfg_uint(c, v, "min_cuts", false, "gate", 0, UINT32_MAX, &cuts))
		s->gate.min_cuts = (unsigned)cuts;
}

static const char *default_scenarios_dir(struct pl_cfg *c)
{
	size_t len = strlen(c->dir);
	char *dir;
	const char *slash, *base;

	if (c->opts->scenarios_dir)
		return c->opts->scenarios_dir;
	/* "x/suites/" (from "x/suites//a.yaml") is "x/suites" */
	while (len > 1 && c->dir[len - 1] == '/')
		len--;
	dir = pl_arena_strndup(c->a, c->dir, len);
	if (!dir)
		return NULL;
	slash = strrchr(dir, '/');
	base = slash ? slash + 1 : dir;
	if (strcmp(base, "suites") != 0)
		return c->dir;
	if (!slash)
		return ".";
	if (slash == dir)
		return "/";
	return pl_arena_strndup(c->a, dir, (size_t)(slash - dir));
}

struct pl_suite *pl_suite_from_tree(struct pl_cfg *c, const struct pl_value *root)
{
	static const char *const keys[] = { "name", "images", "runs", "gate",
					    "defaults", "scenario_path", NULL };
	static const char *const budget_keys[] = { "run_timeout", "instructions",
						   "memory", NULL };
	const struct pl_value *runs, *dv;
	struct pl_run_cfg *r;
	struct pl_suite *s;
	size_t before = pl_cfg_errors(c);

	if (!root) {
		pl_cfg_err(c, &(struct pl_srcpos){ c->file, 1, 1 },
			   "empty suite (expected runs: [...])");
		return NULL;
	}
	if (!pl_cfg_expect_map(c, root, "a suite file"))
		return NULL;
	s = pl_arena_alloc(c->a, sizeof(*s));
	if (!s)
		return pl_cfg_oom(c);
	s->file = c->file;
	s->scenarios_dir = default_scenarios_dir(c);
	if (!s->scenarios_dir)
		return pl_cfg_oom(c);
	pl_cfg_check_keys(c, root, keys, "suite");
	load_scenario_path(c, s, root);
	s->name = pl_cfg_str(c, root, "name", true, "suite", NULL);
	dv = pl_cfg_get(c, root, "defaults", false, "suite");
	if (dv && pl_cfg_expect_map(c, dv, "defaults")) {
		pl_cfg_check_keys(c, dv, budget_keys, "defaults");
		load_budget(c, dv, "defaults", &s->defaults);
	}
	load_images(c, s, root);
	check_overrides(c, root);
	load_gate(c, s, root);
	runs = pl_cfg_get(c, root, "runs", true, "suite");
	if (runs && runs->kind != PL_VALUE_LIST) {
		pl_cfg_err(c, &runs->pos, "runs must be a list (- scenario: ...), got %s",
			   pl_value_kind_name(runs));
	} else if (runs) {
		r = pl_arena_alloc(c->a, (runs->n + 1) * sizeof(*r));
		if (!r)
			return pl_cfg_oom(c);
		for (size_t i = 0; i < runs->n; i++)
			if (pl_cfg_expect_map(c, runs->items[i], "a run"))
				load_run(c, s, runs->items[i], &r[i], i);
		s->runs = r;
		s->nruns = runs->n;
		if (runs->n == 0)
			pl_cfg_err(c, &runs->pos, "the suite has no runs");
	}
	return pl_cfg_errors(c) == before && !c->oom ? s : NULL;
}

static void *build_suite(struct pl_cfg *c, const struct pl_value *root)
{
	return pl_suite_from_tree(c, root);
}

int pl_suite_load(struct pl_suite **out, const char *path,
		  const struct pl_config_opts *opts, struct pl_diags *diags)
{
	struct pl_cfg_priv *priv = calloc(1, sizeof(*priv));
	void *s;
	int rc;

	*out = NULL;
	if (!priv)
		return -ENOMEM;
	rc = pl_cfg_load_file(path, opts ? opts : &no_opts, diags, priv,
			      build_suite, &s);
	if (rc) {
		free(priv);
		return rc;
	}
	*out = s;
	(*out)->priv = priv;
	return 0;
}

void pl_suite_free(struct pl_suite *s)
{
	struct pl_cfg_priv *priv;

	if (!s)
		return;
	priv = s->priv;
	pl_cfg_priv_release(priv);
	free(priv);
}

const struct pl_image_cfg *pl_suite_image(const struct pl_suite *s,
					  const char *name)
{
	for (size_t i = 0; s && i < s->nimages; i++)
		if (strcmp(s->images[i].name, name) == 0)
			return &s->images[i];
	return NULL;
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

bool pl_run_selects(const struct pl_run_cfg *r, const struct pl_board_cfg *b)
{
	switch (r->on.kind) {
	case PL_SELECT_ALL:
		return true;
	case PL_SELECT_BOARDS:
		return in_list(r->on.names, r->on.n, b->id);
	case PL_SELECT_TYPES:
		return b->type && in_list(r->on.names, r->on.n, b->type->name);
	case PL_SELECT_TAGS:
		for (size_t i = 0; i < r->on.n; i++)
			if (!pl_board_has_tag(b, r->on.names[i]))
				return false;
		return true;
	}
	return false;
}

/* Each image must fit the flash of every board type it may go to (a
 * board type that describes its flash knows its size); types already
 * checked are in seen[0..*nseen) (at most lab->ntypes). */
static void check_image_sizes(const struct pl_suite *s,
			      const struct pl_board_type *t,
			      struct pl_diags *diags,
			      const struct pl_board_type **seen, size_t *nseen)
{
	if (!t || !t->flash.size)
		return;
	for (size_t i = 0; i < *nseen; i++)
		if (seen[i] == t)
			return;
	seen[(*nseen)++] = t;
	for (size_t i = 0; i < s->nimages; i++) {
		const struct pl_image_cfg *img = &s->images[i];

		if (img->size > t->flash.size)
			pl_diags_add(diags, &img->pos,
				     "image '%s' is %" PRIu64 " bytes: more than the %" PRIu64
				     "-byte flash of board type '%s'",
				     img->name, img->size, t->flash.size,
				     t->name);
	}
}

/* A Lua module a board type names (`update: {lua: MODULE}`, `recovery:
 * {method: lua, module: MODULE}`) must be a file the runs can require:
 * under the suite's scenarios directory, its scenario_path, or patchlab's
 * own scenario library (as the Lua host resolves it). */
static void check_module(const struct pl_suite *s,
			 const struct pl_board_type *t, const char *module,
			 const struct pl_srcpos *pos, const char *what,
			 struct pl_diags *diags)
{
	char rel[512], lib[4096] = "", path[4096 + 512 + 2];
	struct stat st;
	size_t n;

	if (!module)
		return;
	n = (size_t)snprintf(rel, sizeof(rel), "%s", module);
	if (n >= sizeof(rel) - 4)
		return;
	for (char *p = rel; *p; p++)
		if (*p == '.')
			*p = '/';
	strcat(rel, ".lua");
	{
		const char *dirs[PL_SCEN_DIRS_MAX + 1];
		size_t nd = scen_dirs(s, dirs);

		for (size_t i = 0; i < nd; i++) {
			snprintf(path, sizeof(path), "%s/%s", dirs[i], rel);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				return;
		}
	}
	if (pl_data_path(lib, sizeof(lib), "scenarios") == 0) {
		snprintf(path, sizeof(path), "%s/%s", lib, rel);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			return;
	}
	pl_diags_add(diags, pos,
		     "board type %s: %s module '%s' not found (no %s in "
		     "the suite's scenarios %s%s%s)", t->name, what,
		     module, rel, s->scenarios_dir,
		     lib[0] ? " nor in " : "", lib[0] ? lib : "");
}

static void check_update_module(const struct pl_suite *s,
				const struct pl_board_type *t,
				struct pl_diags *diags)
{
	if (t->update.method == PL_UPDATE_LUA)
		check_module(s, t, t->update.lua_module, &t->update.lua_pos,
			     "update", diags);
	if (t->recovery.method == PL_RECOVERY_LUA)
		check_module(s, t, t->recovery.lua_module,
			     &t->recovery.lua_pos, "recovery", diags);
}

/* The index of the first run of s that selects board b. */
static size_t first_run_of(const struct pl_suite *s, const struct pl_lab *lab,
			   const struct pl_board_cfg *b)
{
	(void)lab;
	for (size_t i = 0; i < s->nruns; i++)
		if (pl_run_selects(&s->runs[i], b))
			return i;
	return SIZE_MAX;
}

static bool has_image(const struct pl_suite *s, const struct pl_board_cfg *b,
		      const char *name)
{
	for (size_t i = 0; i < b->nimages; i++)
		if (strcmp(b->images[i].name, name) == 0)
			return true;
	for (size_t i = 0; i < s->nimages; i++)
		if (strcmp(s->images[i].name, name) == 0)
			return true;
	return false;
}

/* What a board's recovery needs, for a board the suite runs on: a probe
 * when it recovers through one, and the image it restores (the suite's or
 * the board's own). Caught here, not as a lab-error on the first brick. */
static void check_recovery(const struct pl_suite *s,
			   const struct pl_board_cfg *b, struct pl_diags *diags)
{
	const struct pl_board_type *t = b->type;

	if (!t)
		return;
	if (t->recovery.method == PL_RECOVERY_PROBE &&
	    !b->fixture[PL_FIXTURE_PROBE])
		pl_diags_add(diags, &b->pos, "board %s has no probe, but its "
			     "type %s recovers through one (recovery: method: "
			     "probe): give it a probe, or the type a recovery "
			     "command (method: exec)", b->id, t->name);
	/* the boot-mode fixture's %{NAME}s, for this board */
	for (size_t i = 0; t->boot_mode.driver && i < t->boot_mode.nopts; i++) {
		char err[200], *v = pl_board_cfg_subst(b, t->boot_mode.opts[i].value,
						       err, sizeof(err));

		if (!v)
			pl_diags_add(diags, &t->boot_mode.opts[i].pos,
				     "board %s: boot_mode.%s: %s", b->id,
				     t->boot_mode.opts[i].key, err);
		free(v);
	}
	if ((t->recovery.method == PL_RECOVERY_PROBE ||
	     t->recovery.method == PL_RECOVERY_EXEC ||
	     t->recovery.method == PL_RECOVERY_LUA) && t->recovery.image &&
	    !has_image(s, b, t->recovery.image))
		pl_diags_add(diags, &b->pos, "board %s: its recovery restores "
			     "image '%s', which neither the suite nor the board "
			     "(images: in the lab) names", b->id,
			     t->recovery.image);
}

int pl_suite_check_lab(const struct pl_suite *s, const struct pl_lab *lab,
		       struct pl_diags *diags)
{
	size_t before = pl_diags_total(diags);
	const struct pl_board_type **seen;
	size_t nseen = 0;

	seen = calloc(lab->ntypes + 1, sizeof(*seen));
	if (!seen)
		return -ENOMEM;

	for (size_t i = 0; i < s->nruns; i++) {
		const struct pl_run_cfg *r = &s->runs[i];
		size_t hits = 0;

		for (size_t j = 0; j < r->on.n && r->on.kind != PL_SELECT_TAGS; j++) {
			const char *name = r->on.names[j];
			bool found = r->on.kind == PL_SELECT_BOARDS
					     ? pl_lab_board(lab, name) != NULL
					     : pl_lab_board_type(lab, name) != NULL;

			if (!found)
				pl_diags_add(diags, &r->on.name_pos[j],
					     "the lab '%s' (%s) has no %s '%s'",
					     lab->name, lab->file,
					     r->on.kind == PL_SELECT_BOARDS ? "board" : "board type",
					     name);
		}
		for (size_t j = 0; j < lab->nboards; j++) {
			if (!pl_run_selects(r, &lab->boards[j]))
				continue;
			hits++;
			if (i == first_run_of(s, lab, &lab->boards[j]))
				check_recovery(s, &lab->boards[j], diags);
			check_image_sizes(s, lab->boards[j].type, diags, seen,
					  &nseen);
		}
		if (!hits)
			pl_diags_add(diags, &r->on.pos,
				     "run %zu selects no board of the lab '%s' (%s)",
				     i + 1, lab->name, lab->file);
	}
	/* the update module of every board type a run uses */
	nseen = 0;
	for (size_t j = 0; j < lab->nboards; j++) {
		const struct pl_board_type *t = lab->boards[j].type;
		bool done = !t || first_run_of(s, lab, &lab->boards[j]) ==
				   SIZE_MAX;

		for (size_t k = 0; k < nseen && !done; k++)
			done = seen[k] == t;
		if (done || nseen >= lab->ntypes)
			continue;
		seen[nseen++] = t;
		check_update_module(s, t, diags);
	}
	free(seen);
	return pl_diags_total(diags) == before ? 0 : -PL_ECONFIG;
}
