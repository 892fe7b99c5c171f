/* SPDX-License-Identifier: MIT */
/*
 * The engine's plan (engine_internal.h): the suite expanded into run specs
 * (board, params, seed), and the sweeps' planners (sweep.c) fed with each
 * point's verdict. Every spec gets a seed derived from the suite seed and
 * its position, so the same suite with the same seed replays the same
 * draws.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "patchlab/error.h"

/* ------------------------------------------------------------ run specs */

/* A run's seed: 53 bits, so JSON readers (and JavaScript) keep it exact
 * and it never prints negative where a report writes a signed integer. */
static uint64_t run_seed(uint64_t x)
{
	return pl_mix64(x) & ((1ull << 53) - 1);
}

static struct run_spec *add_spec(struct pl_engine *e)
{
	if (e->nspecs == e->capspecs) {
		size_t cap = e->capspecs ? e->capspecs * 2 : 64;
		struct run_spec *s = realloc(e->specs, cap * sizeof(*s));

		if (!s)
			return NULL;
		e->specs = s;
		e->capspecs = cap;
	}
	memset(&e->specs[e->nspecs], 0, sizeof(e->specs[0]));
	e->specs[e->nspecs].sweep = -1;
	return &e->specs[e->nspecs++];
}

/* Does the command line let us use board b (--tag, a worker's board)? */
bool pl_engine__board_allowed(const struct pl_engine_opts *o,
			  const struct pl_board_cfg *b)
{
	bool listed = !o->boards;

	for (size_t i = 0; o->tags && o->tags[i]; i++)
		if (!pl_board_has_tag(b, o->tags[i]))
			return false;
	for (size_t i = 0; o->boards && o->boards[i]; i++)
		listed |= strcmp(o->boards[i], b->id) == 0;
	return listed;
}

/* The chunk name a scenario path gets ("scenarios/x.lua"). */
void pl_engine__chunk_name(const struct pl_engine *e, const char *scen, char *out,
		       size_t n)
{
	const char *sdir = e->suite->scenarios_dir;
	size_t l = strlen(sdir);

	if (strncmp(scen, sdir, l) == 0 && scen[l] == '/')
		snprintf(out, n, "scenarios%s", scen + l);
	else
		snprintf(out, n, "%s", scen);
}

/* patchlab replay: one spec, the recorded run, on a board of its type. */
static int expand_replay(struct pl_engine *e)
{
	const struct pl_engine_replay *rp = e->opts->replay;
	struct run_spec *s;
	json_error_t jerr;
	char chunk[512];
	size_t r, b;

	for (r = 0; r < e->suite->nruns; r++) {
		pl_engine__chunk_name(e, e->suite->runs[r].scenario, chunk, sizeof(chunk));
		if (strcmp(chunk, rp->scenario) == 0)
			break;
	}
	if (r == e->suite->nruns) {
		fprintf(stderr, "patchlab replay: run %" PRId64 ": suite %s has no "
			"run of %s any more\n", rp->run_id, e->suite->file,
			rp->scenario);
		return -ENOENT;
	}
	/* the recorded board first: boards of one type differ (firmware,
	 * flash, wiring) and the replay must meet the same one */
	for (b = 0; b < e->nboards; b++)
		if (e->boards[b].used && rp->board_id &&
		    strcmp(e->boards[b].cfg->id, rp->board_id) == 0 &&
		    strcmp(e->boards[b].cfg->type->name, rp->board_type) == 0)
			break;
	if (b == e->nboards)
		for (b = 0; b < e->nboards; b++)
			if (e->boards[b].used &&
			    strcmp(e->boards[b].cfg->type->name, rp->board_type) == 0)
				break;
	if (b == e->nboards) {
		fprintf(stderr, "patchlab replay: run %" PRId64 ": no board of "
			"type %s in lab %s\n", rp->run_id, rp->board_type,
			e->lab->file);
		return -ENODEV;
	}
	s = add_spec(e);
	if (!s)
		return -ENOMEM;
	s->rcfg = &e->suite->runs[r];
	s->run_index = r;
	s->repeat = 1;
	s->board = b;
	s->seed = rp->seed;
	s->params = json_loads(rp->params_json ? rp->params_json : "{}", 0, &jerr);
	if (!s->params)
		s->params = json_object();
	if (json_object_get(s->params, "cut"))
		s->cut = json_incref(json_object_get(s->params, "cut"));
	return 0;
}

static int queue_points(struct pl_engine *e, size_t swi,
			struct pl_sweep_points *pts);

/* Does board b run (selected, allowed) the run rc, and is it of type? */
static bool sweep_board(struct pl_engine *e, const struct pl_run_cfg *rc,
			size_t b, const char *type)
{
	return pl_run_selects(rc, e->boards[b].cfg) &&
	       pl_engine__board_allowed(e->opts, e->boards[b].cfg) &&
	       strcmp(e->boards[b].cfg->type->name, type) == 0;
}

/* A sweep over console or time, once per board type: no learning pass
 * (the delay window is the suite's), its first points at once. */
static int expand_delay_sweep(struct pl_engine *e, size_t r, size_t b)
{
	const struct pl_run_cfg *rc = &e->suite->runs[r];
	const char *type = e->boards[b].cfg->type->name;
	struct pl_sweep_points pts = { 0 };
	struct sweep_state *sw;

	for (size_t k = 0; k < e->nsweeps; k++)
		if (e->sweeps[k].run_index == r &&
		    strcmp(e->sweeps[k].board_type, type) == 0)
			return 0;
	sw = realloc(e->sweeps, (e->nsweeps + 1) * sizeof(*sw));
	if (!sw)
		return -ENOMEM;
	e->sweeps = sw;
	sw = &e->sweeps[e->nsweeps];
	*sw = (struct sweep_state){ .rcfg = rc, .run_index = r,
				    .board_type = type, .expanded = true,
				    .delay = true };
	for (size_t o = 0; o < e->nboards && sw->nb < 256; o++)
		if (sweep_board(e, rc, o, type))
			sw->boards[sw->nb++] = o;
	pl_sweep_init(&sw->plan, rc->sweep, 0, rc->sweep->has_seed ?
		      rc->sweep->seed : e->opts->seed ^ ((uint64_t)r << 24));
	e->nsweeps++;
	if (pl_delay_first(&sw->plan, &pts)) {
		pl_sweep_points_free(&pts);
		return -ENOMEM;
	}
	if (pts.n == 0) {
		pl_sweep_points_free(&pts);
		pl_engine__sweep_unplanned(e, e->nsweeps - 1,
					   "its delay window has no point");
		return 0;
	}
	pl_log(&e->log, PL_LOG_INFO, "sweep of %s on %s over %s: %zu points",
	       rc->scenario, type, rc->sweep->over == PL_SWEEP_CONSOLE ?
	       "console" : "time", pts.n);
	return queue_points(e, e->nsweeps - 1, &pts);
}

int pl_engine__expand(struct pl_engine *e)
{
	uint64_t base = e->opts->seed;

	if (e->opts->replay)
		return expand_replay(e);

	for (size_t r = 0; r < e->suite->nruns; r++) {
		const struct pl_run_cfg *rc = &e->suite->runs[r];

		if (e->opts->sweep_run && r + 1 != e->opts->sweep_run)
			continue;
		for (size_t b = 0; b < e->nboards; b++) {
			if (!pl_run_selects(rc, e->boards[b].cfg) ||
			    !pl_engine__board_allowed(e->opts, e->boards[b].cfg))
				continue;
			if (rc->sweep && (rc->sweep->over == PL_SWEEP_CONSOLE ||
					  rc->sweep->over == PL_SWEEP_TIME)) {
				int err = expand_delay_sweep(e, r, b);

				if (err)
					return err;
				continue;
			}
			if (rc->sweep) {
				/* One learning pass per board type; the points
				 * follow once it reports the update's ops. */
				bool seen = false;
				struct sweep_state *sw;
				struct run_spec *s;

				for (size_t k = 0; k < e->nsweeps; k++)
					if (e->sweeps[k].run_index == r &&
					    strcmp(e->sweeps[k].board_type,
						   e->boards[b].cfg->type->name) == 0)
						seen = true;
				if (seen)
					continue;
				sw = realloc(e->sweeps,
					     (e->nsweeps + 1) * sizeof(*sw));
				if (!sw)
					return -ENOMEM;
				e->sweeps = sw;
				e->sweeps[e->nsweeps] = (struct sweep_state){
					.rcfg = rc, .run_index = r,
					.board_type = e->boards[b].cfg->type->name };
				s = add_spec(e);
				if (!s)
					return -ENOMEM;
				s->rcfg = rc;
				s->run_index = r;
				s->repeat = 1;
				s->board = b;
				s->learning = true;
				s->sweep_group = e->nsweeps++;
				/* salted apart from the repeats' seeds below */
				s->seed = run_seed(base ^ 0x6c6561726e000000ull ^
						   (r << 20) ^ b);
				continue;
			}
			for (unsigned k = 1; k <= rc->repeat; k++) {
				struct run_spec *s = add_spec(e);

				if (!s)
					return -ENOMEM;
				s->rcfg = rc;
				s->run_index = r;
				s->repeat = k;
				s->board = b;
				s->seed = run_seed(base ^ (r << 40) ^ ((uint64_t)k << 20) ^ b);
			}
		}
	}
	return 0;
}

static const char *const phase_names[] = { "before", "during", "after" };

/* Queue the run of one sweep point on the next board of the type. */
static int queue_point(struct pl_engine *e, size_t swi,
		       const struct pl_sweep_point *p)
{
	struct sweep_state *sw = &e->sweeps[swi];
	struct run_spec *s = add_spec(e);
	unsigned depth = 0;

	if (!s)
		return -ENOMEM;
	s->rcfg = sw->rcfg;
	s->run_index = sw->run_index;
	s->repeat = (unsigned)p->k;
	s->board = sw->boards[sw->next_board++ % sw->nb];
	/* phi in the seed too: the cuts inside one op are runs of their own */
	s->seed = run_seed(sw->plan.seed ^ ((uint64_t)p->phase << 32) ^
			   (uint64_t)p->k ^
			   ((uint64_t)(p->phi * 1048576.0) << 40));
	s->sweep = (int)swi;
	s->phase = (int)p->phase;
	s->k = p->k;
	s->phi = p->phi;
	if (sw->delay) {
		const struct pl_sweep_cfg *c = sw->rcfg->sweep;
		double ms = (double)p->k / 1000.0;

		s->repeat = 1;
		s->seed = run_seed(sw->plan.seed ^ ((uint64_t)p->k << 8));
		s->cut = c->over == PL_SWEEP_CONSOLE ?
			json_pack("{s:s,s:s,s:I,s:f}", "on", "console",
				  "pattern", c->pattern, "nth",
				  (json_int_t)c->nth, "delay_ms", ms) :
			json_pack("{s:s,s:I,s:f}", "on", "time", "after_ms",
				  (json_int_t)0, "delay_ms", ms);
		return s->cut ? 0 : -ENOMEM;
	}
	s->cut = json_pack("{s:s,s:I,s:s,s:f,s:I}", "on", "flash_op", "op",
			   (json_int_t)p->k, "phase", phase_names[p->phase],
			   "phi", p->phi, "ops", (json_int_t)sw->plan.ops);
	/* nested: cut again during the recovery boot, this many times */
	for (const struct pl_sweep_cfg *n = sw->rcfg->sweep->nested; n;
	     n = n->nested)
		depth++;
	if (depth && s->cut)
		json_object_set_new(s->cut, "nested", json_integer(depth));
	return 0;
}

static int queue_points(struct pl_engine *e, size_t swi,
			struct pl_sweep_points *pts)
{
	int err = 0;

	for (size_t i = 0; i < pts->n && !err; i++)
		err = queue_point(e, swi, &pts->p[i]);
	pl_sweep_points_free(pts);
	return err;
}

/* The sweep planned no point: one not-run record says so, so the suite
 * cannot pass on a sweep that cut nothing. */
void pl_engine__sweep_unplanned(struct pl_engine *e, size_t swi,
				const char *why)
{
	struct sweep_state *sw = &e->sweeps[swi];
	struct run_spec *s;
	size_t learn;

	pl_log(&e->log, PL_LOG_ERROR, "sweep of %s on %s planned no point: %s",
	       sw->rcfg->scenario, sw->board_type, why);
	for (learn = 0; learn < e->nspecs; learn++)
		if (e->specs[learn].learning &&
		    e->specs[learn].sweep_group == swi)
			break;
	s = add_spec(e);
	if (!s)
		return;
	s->rcfg = sw->rcfg;
	s->run_index = sw->run_index;
	s->repeat = 1;
	s->board = learn < e->nspecs - 1 ? e->specs[learn].board : 0;
	s->seed = learn < e->nspecs - 1 ? e->specs[learn].seed : 0;
	if (asprintf(&s->not_run, "sweep planned no point: %s", why) < 0)
		s->not_run = NULL;
	if (!s->not_run)
		e->nspecs--;
}

/*
 * A learning pass reported `ops` flash operations for an update: queue the
 * sweep's first points (sweep.h says which), spread over the boards of the
 * type.
 */
void pl_engine__expand_sweep(struct pl_engine *e, size_t swi, long ops)
{
	struct sweep_state *sw = &e->sweeps[swi];
	const struct pl_sweep_cfg *cfg = sw->rcfg->sweep;
	struct pl_sweep_points pts = { 0 };
	size_t n;

	sw->expanded = true;
	pl_sweep_init(&sw->plan, cfg, ops, cfg->has_seed ? cfg->seed : e->opts->seed);
	if (ops <= 0) {
		pl_engine__sweep_unplanned(e, swi, "the learning pass found "
					   "no flash operation to cut (a board "
					   "without a probe needs a console or "
					   "time sweep)");
		return;
	}
	for (size_t b = 0; b < e->nboards && sw->nb < 256; b++)
		if (pl_run_selects(sw->rcfg, e->boards[b].cfg) &&
		    pl_engine__board_allowed(e->opts, e->boards[b].cfg) &&
		    strcmp(e->boards[b].cfg->type->name, sw->board_type) == 0)
			sw->boards[sw->nb++] = b;
	if (pl_sweep_first(&sw->plan, &pts)) {
		pl_sweep_points_free(&pts);
		return;
	}
	n = pts.n;
	if (n == 0) {
		pl_sweep_points_free(&pts);
		pl_engine__sweep_unplanned(e, swi, "its plan has no point "
					   "over the update's operations "
					   "(phases, points)");
		return;
	}
	queue_points(e, swi, &pts);
	pl_log(&e->log, PL_LOG_INFO,
	       "sweep of %s on %s: %ld flash operations, %zu points",
	       sw->rcfg->scenario, sw->board_type, ops, n);
}

/* A sweep point's run ended: tell the planner; an adaptive one may want
 * more points around the window edges it now sees. */
void pl_engine__sweep_point_done(struct pl_engine *e, const struct run_spec *s,
			     enum pl_verdict v)
{
	struct pl_sweep_point p;
	struct pl_sweep_points more = { 0 };
	struct sweep_state *sw;
	int fails;

	if (s->sweep < 0)
		return;
	sw = &e->sweeps[s->sweep];
	p = (struct pl_sweep_point){ (unsigned)s->phase, s->k, s->phi };
	fails = v == PL_VERDICT_LAB_ERROR || v == PL_VERDICT_NOT_RUN ? -1 :
		pl_verdict_is_failure(v) ? 1 : 0;
	if ((sw->delay ? pl_delay_done(&sw->plan, &p, fails, &more) :
			 pl_sweep_done(&sw->plan, &p, fails, &more)) ||
	    e->stopping) {
		pl_sweep_points_free(&more);
		return;
	}
	if (more.n)
		pl_log(&e->log, PL_LOG_INFO,
		       "sweep of %s on %s, %s: %zu more points around window edges",
		       sw->rcfg->scenario, sw->board_type,
		       sw->delay ? "delay" : phase_names[p.phase], more.n);
	queue_points(e, (size_t)s->sweep, &more);
}

