/* SPDX-License-Identifier: MIT */
/*
 * Suites (scenarios/suites/NAME.yaml): images, runs (scenario, board
 * selection, params, repeat, sweep), the release gate and budget defaults.
 * See docs/configuration.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patchlab/error.h"
#include "config_internal.h"

static const struct pl_config_opts no_opts;

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool valid_name(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
			     strlen(s);
}

/* ----------------------------------------------------------------- images */

static const char *override_for(const struct pl_config_opts *o, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; o->image_overrides && o->image_overrides[i]; i++) {
		const char *ov = o->image_overrides[i];

		if (strncmp(ov, name, len) == 0 && ov[len] == '=')
			return ov + len + 1;
	}
	return NULL;
}

static void load_images(struct pl_cfg *c, struct pl_suite *s,
			const struct pl_value *root)
{
	static const char *const keys[] = { "path", "version", NULL };
	const struct pl_value *v = pl_cfg_get(c, root, "images", false, "suite");
	struct pl_image_cfg *img;
	size_t n = 0;

	if (!v || !pl_cfg_expect_map(c, v, "images"))
		return;
	img = pl_arena_alloc(c->a, (v->n + 1) * sizeof(*img));
	if (!img) {
		pl_cfg_oom(c);
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct pl_value *iv = v->items[i], *pv = iv;
		struct pl_image_cfg *cur = &img[n];
		const char *path, *ov;
		char *what;

		cur->name = v->keys[i];
		cur->pos = v->key_pos[i];
		if (!valid_name(cur->name)) {
			pl_cfg_err(c, &v->key_pos[i],
				   "bad image name '%s' (letters, digits, '-', '_', '.')",
				   cur->name);
			continue;
		}
		what = pl_arena_printf(c->a, "image '%s'", cur->name);
		if (!what) {
			pl_cfg_oom(c);
			return;
		}
		if (iv->kind == PL_VALUE_MAP) {
			pl_cfg_check_keys(c, iv, keys, what);
			cur->version = pl_cfg_str(c, iv, "version", false, what, NULL);
			pv = pl_cfg_get(c, iv, "path", true, what);
			if (!pv)
				continue;
		}
		if (pv->kind != PL_VALUE_SCALAR || pl_value_is_null(pv)) {
			pl_cfg_err(c, &pv->pos,
				   "%s must be a path or {path: ..., version: ...}, got %s",
				   what, pl_value_kind_name(pv));
			continue;
		}
		ov = override_for(c->opts, cur->name);
		if (ov) {
			cur->path = ov;
			if (!is_file(ov)) {
				pl_cfg_err(c, NULL, "--image %s=%s: no such image file",
					   cur->name, ov);
				continue;
			}
		} else {
			path = pl_cfg_expand(c, pv);
			if (!path)
				continue;
			cur->path = pl_cfg_join(c, c->dir, path);
			if (!cur->path)
				return;
			if (!is_file(cur->path)) {
				pl_cfg_err(c, &pv->pos, "%s: no such file '%s'", what,
					   path);
				continue;
			}
		}
		n++;
	}
	s->images = img;
	s->nimages = n;
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

static const char *scenario_path(struct pl_cfg *c, struct pl_suite *s,
				 const struct pl_value *map, const char *what)
{
	const struct pl_value *v = pl_cfg_get(c, map, "scenario", true, what);
	const char *p, *full;

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
	full = pl_cfg_join(c, s->scenarios_dir, p);
	if (!full)
		return NULL;
	if (!is_file(full)) {
		pl_cfg_err(c, &v->pos, "scenario '%s' does not exist (looked for %s)",
			   p, full);
		return NULL;
	}
	return full;
}

/* ---------------------------------------------------------------- sweeps */

static const char *const over_words[] = { "flash_ops", "time", "bytes",
					  "progress", NULL };
static const char *const strategy_words[] = { "exhaustive", "uniform",
					      "adaptive", "random", NULL };
static const char *const phase_words[] = { "before", "during", "after", NULL };

static const struct pl_sweep_cfg *load_sweep(struct pl_cfg *c,
					     struct pl_suite *s,
					     const struct pl_value *v,
					     const char *what)
{
	static const char *const keys[] = { "scenario", "over", "phases",
					    "points", "strategy", "seed",
					    "nested", NULL };
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
		sw->nested = load_sweep(c, s, nv, nwhat);
	}
	return pl_cfg_errors(c) == before ? sw : NULL;
}

/* ------------------------------------------------------------------ runs */

static void load_budget(struct pl_cfg *c, const struct pl_value *map,
			const char *what, struct pl_budget_cfg *b)
{
	pl_cfg_duration(c, map, "run_timeout", false, what, &b->run_timeout_ms);
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
	pl_cfg_uint(c, rv, "repeat", false, what, 1, 1000000, &repeat);
	r->repeat = (unsigned)repeat;
	sw = pl_cfg_get(c, rv, "sweep", false, what);
	if (sw) {
		char *swhat = pl_arena_printf(c->a, "sweep of run %zu", i + 1);

		if (!swhat) {
			pl_cfg_oom(c);
			return;
		}
		r->sweep = load_sweep(c, s, sw, swhat);
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
					    "defaults", NULL };
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

int pl_suite_check_lab(const struct pl_suite *s, const struct pl_lab *lab,
		       struct pl_diags *diags)
{
	size_t before = pl_diags_total(diags);

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
		for (size_t j = 0; j < lab->nboards; j++)
			hits += pl_run_selects(r, &lab->boards[j]);
		if (!hits)
			pl_diags_add(diags, &r->on.pos,
				     "run %zu selects no board of the lab '%s' (%s)",
				     i + 1, lab->name, lab->file);
	}
	return pl_diags_total(diags) == before ? 0 : -PL_ECONFIG;
}
