/* SPDX-License-Identifier: MIT */
/*
 * The run engine (patchlab/engine.h): configuration in, verdicts out.
 *
 * Section map:
 *   run specs    the suite expanded into runs (board, params, seed)
 *   events       board timeline -> result store
 *   run life     start, done, verdict, recovery, finish
 *   scheduler    free boards, -j, quarantine
 *   setup        load, open boards, recover, host, images
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "engine_internal.h"
#include "sweep.h"
#include "patchlab/clock.h"
#include "patchlab/engine.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/gate.h"
#include "patchlab/leases.h"
#include "patchlab/report.h"
#include "patchlab/store.h"
#include "patchlab/strbuf.h"
#include "patchlab/value_json.h"

/* One run to do: which run of the suite, on which board, with what. */
struct run_spec {
	const struct pl_run_cfg *rcfg;
	size_t run_index;      /* in suite->runs */
	unsigned repeat;       /* 1-based */
	size_t board;          /* index in eng->boards; the one it must use */
	json_t *cut;           /* params.cut added by a sweep, or NULL */
	json_t *params;        /* replay: the recorded params, whole */
	int sweep;             /* index into eng->sweeps of a point, or -1 */
	int phase;             /* of a sweep point: 0 before, 1 during, 2 after */
	long k;                /* of a sweep point: the flash operation */
	double phi;            /* of a during point: where in the operation */
	bool learning;         /* a sweep's learning pass */
	size_t sweep_group;    /* index into eng->sweeps when learning */
	uint64_t seed;
	bool started;
};

/* A sweep on one board type: its learning pass, then its planner's points
 * (sweep.c), spread round robin over the free boards of the type. */
struct sweep_state {
	const struct pl_run_cfg *rcfg;
	size_t run_index;
	const char *board_type;
	bool expanded;
	size_t boards[256], nb, next_board;
	struct pl_sweep plan;
};

struct engine_board {
	struct pl_engine *e;
	const struct pl_board_cfg *cfg;
	struct pl_board *board;   /* NULL: not (yet) opened */
	const char *open_error;
	char lease_error[200];    /* why the lease was refused or lost */
	bool used;                /* some run of the suite selects it */
	bool ready;               /* leased and opened, or failed: runs may go */
	struct pl_run_ctx *busy;  /* the run using it */
};

struct pl_engine {
	const struct pl_engine_opts *opts;
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct pl_lab *lab;
	struct pl_suite *suite;
	struct pl_store *store;
	struct pl_leases *leases;
	int64_t suite_id;
	struct pl_lua_host *host;
	struct pl_log log;

	struct engine_board *boards;
	size_t nboards;
	struct pl_image **images;
	size_t nimages;

	struct run_spec *specs;
	size_t nspecs, capspecs;
	struct sweep_state *sweeps;
	size_t nsweeps;

	size_t running, done;
	unsigned long counts[PL_VERDICT_COUNT];
	uint64_t started_ns;
	bool stopping;
	bool signals;             /* sigint/sigterm handles are initialised */
	char *db_path;
	const char *db_used;
	char *db_abs, *lab_abs, *suite_abs; /* realpath()s, or NULL */
	char *log_dir;
};

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

/* Does the command line let us use board b (--tag)? */
static bool board_allowed(const struct pl_engine_opts *o,
			  const struct pl_board_cfg *b)
{
	for (size_t i = 0; o->tags && o->tags[i]; i++)
		if (!pl_board_has_tag(b, o->tags[i]))
			return false;
	return true;
}

/* Every spec gets a seed derived from the suite seed and its position, so
 * the same suite with the same seed replays the same draws. */
/* The chunk name a scenario path gets ("scenarios/x.lua"). */
static void chunk_name(const struct pl_engine *e, const char *scen, char *out,
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
		chunk_name(e, e->suite->runs[r].scenario, chunk, sizeof(chunk));
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

static int expand(struct pl_engine *e)
{
	uint64_t base = e->opts->seed;

	if (e->opts->replay)
		return expand_replay(e);

	for (size_t r = 0; r < e->suite->nruns; r++) {
		const struct pl_run_cfg *rc = &e->suite->runs[r];

		for (size_t b = 0; b < e->nboards; b++) {
			if (!pl_run_selects(rc, e->boards[b].cfg) ||
			    !board_allowed(e->opts, e->boards[b].cfg))
				continue;
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

/*
 * A learning pass reported `ops` flash operations for an update: queue the
 * sweep's first points (sweep.h says which), spread over the boards of the
 * type.
 */
static void expand_sweep(struct pl_engine *e, size_t swi, long ops)
{
	struct sweep_state *sw = &e->sweeps[swi];
	const struct pl_sweep_cfg *cfg = sw->rcfg->sweep;
	struct pl_sweep_points pts = { 0 };
	size_t n;

	sw->expanded = true;
	pl_sweep_init(&sw->plan, cfg, ops, cfg->has_seed ? cfg->seed : e->opts->seed);
	if (ops <= 0) {
		pl_log(&e->log, PL_LOG_ERROR,
		       "sweep of %s on %s: the learning pass found no flash "
		       "operation; no points", sw->rcfg->scenario, sw->board_type);
		return;
	}
	for (size_t b = 0; b < e->nboards && sw->nb < 256; b++)
		if (pl_run_selects(sw->rcfg, e->boards[b].cfg) &&
		    board_allowed(e->opts, e->boards[b].cfg) &&
		    strcmp(e->boards[b].cfg->type->name, sw->board_type) == 0)
			sw->boards[sw->nb++] = b;
	if (pl_sweep_first(&sw->plan, &pts)) {
		pl_sweep_points_free(&pts);
		return;
	}
	n = pts.n;
	queue_points(e, swi, &pts);
	pl_log(&e->log, PL_LOG_INFO,
	       "sweep of %s on %s: %ld flash operations, %zu points",
	       sw->rcfg->scenario, sw->board_type, ops, n);
}

/* A sweep point's run ended: tell the planner; an adaptive one may want
 * more points around the window edges it now sees. */
static void sweep_point_done(struct pl_engine *e, const struct run_spec *s,
			     enum pl_verdict v)
{
	struct pl_sweep_point p;
	struct pl_sweep_points more = { 0 };
	struct sweep_state *sw;

	if (s->sweep < 0)
		return;
	sw = &e->sweeps[s->sweep];
	p = (struct pl_sweep_point){ (unsigned)s->phase, s->k, s->phi };
	if (pl_sweep_done(&sw->plan, &p, v == PL_VERDICT_LAB_ERROR ? -1 :
				       pl_verdict_is_failure(v) ? 1 : 0,
			  &more) || e->stopping) {
		pl_sweep_points_free(&more);
		return;
	}
	if (more.n)
		pl_log(&e->log, PL_LOG_INFO,
		       "sweep of %s on %s, %s: %zu more points around window edges",
		       sw->rcfg->scenario, sw->board_type, phase_names[p.phase],
		       more.n);
	queue_points(e, (size_t)s->sweep, &more);
}

/* ---------------------------------------------------------------- params */

static void push_value(lua_State *L, const struct pl_value *v, int depth)
{
	double num;
	bool isint, b;

	if (!v || depth > 32) {
		lua_pushnil(L);
		return;
	}
	switch (v->kind) {
	case PL_VALUE_SCALAR:
		if (v->plain && pl_value_is_null(v))
			lua_pushnil(L);
		else if (v->plain && pl_value_bool(v, &b) == 0)
			lua_pushboolean(L, b);
		else if (v->plain && pl_value_number(v, &num, &isint) == 0) {
			if (isint)
				lua_pushinteger(L, (lua_Integer)num);
			else
				lua_pushnumber(L, num);
		} else
			lua_pushstring(L, v->str);
		break;
	case PL_VALUE_LIST:
		lua_createtable(L, (int)v->n, 0);
		for (size_t i = 0; i < v->n; i++) {
			push_value(L, v->items[i], depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	case PL_VALUE_MAP:
		lua_createtable(L, 0, (int)v->n);
		for (size_t i = 0; i < v->n; i++) {
			push_value(L, v->items[i], depth + 1);
			lua_setfield(L, -2, v->keys[i]);
		}
		break;
	}
}

static void push_json(lua_State *L, json_t *j, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (!j || depth > 32) {
		lua_pushnil(L);
		return;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		lua_newtable(L);
		json_object_foreach(j, k, v) {
			push_json(L, v, depth + 1);
			lua_setfield(L, -2, k);
		}
		break;
	case JSON_ARRAY:
		lua_newtable(L);
		json_array_foreach(j, i, v) {
			push_json(L, v, depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	case JSON_STRING:
		lua_pushstring(L, json_string_value(j));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(j));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(j));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		lua_pushboolean(L, json_is_true(j));
		break;
	default:
		lua_pushnil(L);
	}
}

struct params_ud {
	struct pl_run_ctx *rc;
	const struct run_spec *spec;
};

/* The chunk's argument and the `params` global: the suite's params with
 * the sweep's cut and the run's position added. */
static int build_params(lua_State *L, void *ud)
{
	struct params_ud *p = ud;

	if (p->spec->params) {
		push_json(L, p->spec->params, 0);
		lua_pushvalue(L, -1);
		p->rc->params_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		return 0;
	}
	if (p->spec->rcfg->params && p->spec->rcfg->params->kind == PL_VALUE_MAP)
		push_value(L, p->spec->rcfg->params, 0);
	else
		lua_newtable(L);
	if (p->spec->cut) {
		push_json(L, p->spec->cut, 0);
		lua_setfield(L, -2, "cut");
	}
	if (p->spec->learning) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "learn");
	}
	lua_pushinteger(L, p->spec->repeat);
	lua_setfield(L, -2, "repeat_index");
	lua_pushvalue(L, -1);
	p->rc->params_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* ---------------------------------------------------------------- events */

static void on_board_event(void *ud, enum pl_board_event ev, uint64_t t_ns,
			   const char *json)
{
	struct pl_run_ctx *rc = ud;
	static const enum pl_event_kind map[] = {
		[PL_BEV_POWER] = PL_EV_POWER,
		[PL_BEV_TRIGGER] = PL_EV_TRIGGER,
		[PL_BEV_MATCH] = PL_EV_CONSOLE_MATCH,
		[PL_BEV_PROBE] = PL_EV_PROBE,
		[PL_BEV_TRANSFER] = PL_EV_TRANSFER,
		[PL_BEV_CONSOLE] = PL_EV_LOG,
		[PL_BEV_LOG] = PL_EV_LOG,
		[PL_BEV_FIXTURE] = PL_EV_LOG,
	};

	if (!rc || rc->store_id < 0)
		return;
	pl_store_run_event(rc->eng->store, rc->store_id, t_ns, map[ev], json);
}

/* -------------------------------------------------------------- run life */

static void schedule(struct pl_engine *e);

struct pl_run_ctx *pl_run_ctx_of(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);

	return run ? pl_lua_run_user_data(run) : NULL;
}

static void on_handle_free(uv_handle_t *h)
{
	free(h);
}

static void progress_line(struct pl_engine *e)
{
	double el = (double)(pl_now_ns() - e->started_ns) / 1e9;
	double eta = e->done ? el / (double)e->done *
			       (double)(e->nspecs - e->done) : 0;

	if (e->opts->quiet)
		return;
	fprintf(stderr,
		"\r[%zu/%zu] pass %lu  rolled-back %lu  bricked %lu  recovered %lu"
		"  fail %lu  lab-error %lu  ETA %.0fs   ",
		e->done, e->nspecs, e->counts[PL_VERDICT_PASS],
		e->counts[PL_VERDICT_ROLLED_BACK], e->counts[PL_VERDICT_BRICKED],
		e->counts[PL_VERDICT_RECOVERED], e->counts[PL_VERDICT_FAIL],
		e->counts[PL_VERDICT_LAB_ERROR], eta);
	if (!isatty(2))
		fputc('\n', stderr);
}

/* The last step of every run: record it, free it, power stays off. */
static void finish_run(struct pl_run_ctx *rc)
{
	struct pl_engine *e = rc->eng;
	struct engine_board *eb = NULL;

	for (size_t i = 0; i < e->nboards; i++)
		if (e->boards[i].busy == rc)
			eb = &e->boards[i];
	if (rc->store_id >= 0) {
		json_t *j = json_pack("{s:s,s:s}", "verdict",
				      pl_verdict_name(rc->verdict), "reason",
				      rc->reason);
		char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;

		pl_store_run_event(e->store, rc->store_id, pl_now_ns(),
				   PL_EV_VERDICT, txt);
		free(txt);
		json_decref(j);
		pl_store_run_end(e->store, rc->store_id, rc->verdict, rc->reason);
	}
	if (rc->verdict == PL_VERDICT_LAB_ERROR || pl_verdict_is_failure(rc->verdict))
		pl_log(&e->log, PL_LOG_WARN, "run %" PRId64 " on %s: %s: %s",
		       rc->store_id, eb ? eb->cfg->id : "?",
		       pl_verdict_name(rc->verdict), rc->reason);
	e->counts[rc->verdict]++;
	e->done++;
	e->running--;
	{
		/* copy: refining may add specs, which moves the array */
		struct run_spec spec = e->specs[rc->index];

		sweep_point_done(e, &spec, rc->verdict);
	}
	progress_line(e);
	if (eb) {
		if (eb->board)
			pl_board_set_event_sink(eb->board, NULL, NULL);
		eb->busy = NULL;
	}
	if (rc->lrun) {
		if (rc->params_ref != LUA_NOREF)
			luaL_unref(pl_lua_host_state(e->host), LUA_REGISTRYINDEX,
				   rc->params_ref);
		pl_lua_run_free(rc->lrun);
	}
	if (rc->timer)
		uv_close((uv_handle_t *)rc->timer, on_handle_free);
	free(rc->log_path);
	free(rc);
	schedule(e);
}

/* ---- recovery: bricked -> flash the recovery image through the probe */

static void recovery_failed(struct pl_run_ctx *rc, const char *why)
{
	struct engine_board *eb = NULL;

	for (size_t i = 0; i < rc->eng->nboards; i++)
		if (rc->eng->boards[i].busy == rc)
			eb = &rc->eng->boards[i];
	if (eb && eb->board)
		pl_board_quarantine(eb->board, why);
	pl_board_set_power(rc->board, false, NULL, NULL);
	finish_run(rc);
}

static void on_recovery_boot(struct pl_op *op, const struct pl_op_result *r,
			     void *ud)
{
	struct pl_run_ctx *rc = ud;
	char why[300];
	size_t l;

	/* r is op's own result: read it before op goes */
	rc->op = NULL;
	pl_board_set_power(rc->board, false, NULL, NULL);
	if (r->status) {
		snprintf(why, sizeof(why), "recovery image did not boot: %s",
			 r->reason);
		pl_op_free(op);
		recovery_failed(rc, why);
		return;
	}
	l = strlen(rc->reason);
	snprintf(rc->reason + l, sizeof(rc->reason) - l,
		 "; restored through the probe (booted %s)", r->version);
	pl_op_free(op);
	rc->verdict = PL_VERDICT_RECOVERED;
	finish_run(rc);
}

static void on_recovery_flashed(struct pl_probe *p, int status,
				const void *data, size_t len, void *ud)
{
	struct pl_run_ctx *rc = ud;
	char why[200];
	int err;

	if (status) {
		snprintf(why, sizeof(why), "recovery flash failed: %s",
			 pl_strerror(status));
		recovery_failed(rc, why);
		return;
	}
	err = pl_op_wait_boot(&rc->op, rc->board, rc->type, 0, on_recovery_boot,
			      rc);
	if (!err)
		err = pl_board_set_power(rc->board, true, NULL, NULL);
	if (err) {
		snprintf(why, sizeof(why), "recovery power-on failed: %s",
			 pl_strerror(err));
		recovery_failed(rc, why);
	}
}

static struct pl_image *find_image(struct pl_engine *e, const char *name)
{
	for (size_t i = 0; i < e->nimages; i++)
		if (strcmp(e->images[i]->name, name) == 0)
			return e->images[i];
	return NULL;
}

/* Returns true when recovery started (it finishes the run itself). */
static bool try_recovery(struct pl_run_ctx *rc)
{
	const struct pl_board_type *t = rc->type;
	struct pl_image *img;
	struct pl_probe_req req = { .op = PL_PROBE_FLASH,
				    .cb = on_recovery_flashed, .user_data = rc };

	if (t->recovery.method != PL_RECOVERY_PROBE || !pl_board_probe(rc->board) ||
	    !t->recovery.image)
		return false;
	img = find_image(rc->eng, t->recovery.image);
	if (!img) {
		pl_log(pl_board_log(rc->board), PL_LOG_WARN,
		       "no suite image '%s' to recover with", t->recovery.image);
		return false;
	}
	req.addr = t->flash.base + (t->recovery.region ? t->recovery.region->offset : 0);
	req.data = img->data;
	req.len = img->len;
	rc->recovering = true;
	return pl_probe_submit(pl_board_probe(rc->board), &req) == 0;
}

static void classify(struct pl_run_ctx *rc)
{
	struct pl_lua_run *run = rc->lrun;
	int status = pl_lua_run_status(run);
	const char *msg = pl_lua_run_message(run);

	switch (status) {
	case 0:
		if (!rc->verdict_set)
			pl_run_set_verdict(rc, PL_VERDICT_PASS,
					   "scenario ended without a verdict");
		break;
	case -PL_ESCRIPT:
		/* A check() sets its verdict, then raises: keep the verdict.
		 * Any other error is a scenario bug: the lab's fault. */
		if (!rc->verdict_set) {
			const char *tb = pl_lua_run_traceback(run);
			json_t *j = json_pack("{s:s,s:s}", "level", "error",
					      "msg", tb ? tb : "");
			char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;

			if (txt && rc->store_id >= 0)
				pl_store_run_event(rc->eng->store, rc->store_id,
						   pl_now_ns(), PL_EV_LOG, txt);
			pl_log(pl_board_log(rc->board), PL_LOG_INFO, "%s", tb);
			free(txt);
			json_decref(j);
			pl_run_set_verdict(rc, PL_VERDICT_LAB_ERROR,
					   "scenario error: %s", msg ? msg : "?");
		}
		break;
	case -PL_EBUDGET:
		pl_run_set_verdict(rc, PL_VERDICT_LAB_ERROR, "%s", msg ? msg : "budget");
		break;
	case -ETIMEDOUT:
		pl_run_set_verdict(rc, PL_VERDICT_LAB_ERROR, "run timeout: %s",
				   msg ? msg : "");
		break;
	default:
		if (!rc->verdict_set || status == -PL_EFIXTURE ||
		    status == -PL_ECANCELED)
			pl_run_set_verdict(rc, PL_VERDICT_LAB_ERROR, "%s",
					   msg ? msg : pl_strerror(status));
		break;
	}
}

/* A learning pass returns {ops = N}: read it off the run's stack. */
static long learned_ops(struct pl_run_ctx *rc)
{
	lua_State *S = pl_lua_run_stack(rc->lrun);
	long ops = -1;

	if (pl_lua_run_status(rc->lrun) == 0 && lua_gettop(S) >= 1 &&
	    lua_istable(S, 1)) {
		lua_getfield(S, 1, "ops");
		if (lua_isinteger(S, -1))
			ops = (long)lua_tointeger(S, -1);
		lua_pop(S, 1);
	}
	return ops;
}

static void after_run(struct pl_run_ctx *rc);

static void on_probe_barrier(struct pl_probe *p, int status, const void *data,
			     size_t len, void *ud)
{
	after_run(ud);
}

static void on_run_done(struct pl_lua_run *run, void *ud)
{
	struct pl_run_ctx *rc = ud;
	struct run_spec *spec = &rc->eng->specs[rc->index];

	/* A scenario that never waits ends inside pl_lua_run_start():
	 * finish after start_run is done with rc. */
	if (rc->starting) {
		rc->done_early = true;
		return;
	}
	if (rc->ended)
		return;
	rc->ended = true;
	/* A run whose scenario aimed its own cut (no sweep point): record
	 * where the first cut that fired was aimed, for the gate's "where". */
	if (!spec->cut && rc->store_id >= 0) {
		for (size_t i = 0; i < rc->ntriggers; i++) {
			const struct pl_trigger_info *ti =
				pl_trigger_info(rc->triggers[i]);
			struct pl_cut_point cp = { .phase = PL_CUT_DURING,
						   .op_index = -1 };

			if (!ti->fired)
				continue;
			cp.aimed_by = pl_trigger_kind_name(ti->kind);
			cp.kind = "update";
			pl_store_run_set_cut(rc->eng->store, rc->store_id, &cp);
			break;
		}
	}
	for (size_t i = 0; i < rc->ntriggers; i++)
		pl_trigger_free(rc->triggers[i]);
	rc->ntriggers = 0;
	pl_op_free(rc->op);
	rc->op = NULL;
	if (rc->timer)
		uv_timer_stop(rc->timer);
	classify(rc);
	if (spec->learning) {
		long ops = learned_ops(rc);

		expand_sweep(rc->eng, spec->sweep_group, ops);
	}
	/* Freed triggers may have queued probe requests (halt, breakpoints
	 * off) that need the power on: let the probe's queue drain first. */
	if (pl_board_probe(rc->board)) {
		struct pl_probe_req req = { .op = PL_PROBE_CONNECT,
					    .cb = on_probe_barrier,
					    .user_data = rc };

		if (pl_probe_submit(pl_board_probe(rc->board), &req) == 0)
			return;
	}
	after_run(rc);
}

static void after_run(struct pl_run_ctx *rc)
{
	/* Power off, whatever happened. */
	pl_board_set_power(rc->board, false, NULL, NULL);
	if (rc->verdict == PL_VERDICT_BRICKED && !rc->eng->stopping &&
	    try_recovery(rc))
		return;
	if (rc->verdict == PL_VERDICT_BRICKED)
		pl_board_quarantine(rc->board, "bricked and no probe recovery");
	finish_run(rc);
}

static void on_run_timeout(uv_timer_t *t)
{
	struct pl_run_ctx *rc = t->data;

	pl_lua_run_cancel(rc->lrun, -ETIMEDOUT, "the run took too long");
}

static struct pl_image *find_image(struct pl_engine *e, const char *name);

static const char *image_under_test(struct pl_engine *e)
{
	struct pl_image *img = find_image(e, "new");

	if (!img && e->nimages)
		img = e->images[0];
	return img ? img->name : NULL;
}

static void cut_point(const struct run_spec *s, struct pl_cut_point *cp)
{
	json_t *v;

	memset(cp, 0, sizeof(*cp));
	cp->op_index = -1;
	if (!s->cut)
		return;
	v = json_object_get(s->cut, "phase");
	if (v && json_is_string(v))
		pl_cut_phase_parse(json_string_value(v), &cp->phase);
	v = json_object_get(s->cut, "op");
	if (v && json_is_integer(v))
		cp->op_index = (long)json_integer_value(v);
	v = json_object_get(s->cut, "phi");
	if (v && json_is_number(v))
		cp->phi = json_number_value(v);
	cp->aimed_by = "probe";
	cp->kind = "flash-op";
}

static void start_run(struct pl_engine *e, size_t si, size_t bi)
{
	struct run_spec *spec = &e->specs[si];
	struct engine_board *eb = &e->boards[bi];
	struct pl_run_ctx *rc;
	struct pl_run_info info = { 0 };
	struct params_ud pud;
	json_t *pj;
	char *params_txt = NULL, chunk[512];
	const char *scen = spec->rcfg->scenario;
	struct pl_lua_run_config lc = { 0 };
	uint64_t timeout;
	int err;

	spec->started = true;
	rc = calloc(1, sizeof(*rc));
	if (!rc)
		return;
	rc->eng = e;
	rc->board = eb->board;
	rc->bcfg = eb->cfg;
	rc->type = eb->cfg->type;
	rc->rcfg = spec->rcfg;
	rc->index = si;
	rc->repeat = spec->repeat;
	rc->seed = spec->seed;
	rc->params_ref = LUA_NOREF;
	rc->armed_ref = LUA_NOREF;
	rc->store_id = -1;
	rc->started_ns = pl_now_ns();
	rc->started_wall_ns = pl_wall_ns();
	eb->busy = rc;
	e->running++;

	pj = spec->params ? json_incref(spec->params) :
			    pl_value_to_json(spec->rcfg->params);
	if (!json_is_object(pj)) {
		json_decref(pj);
		pj = json_object();
	}
	if (spec->cut && !spec->params)
		json_object_set(pj, "cut", spec->cut);
	if (spec->learning)
		json_object_set_new(pj, "learn", json_true());
	params_txt = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(pj);

	/* Chunk names read "scenarios/x.lua" whatever the working directory. */
	chunk_name(e, scen, chunk, sizeof(chunk));

	if (asprintf(&rc->log_path, "%s/%s-s%" PRId64 "-%zu.console.log",
		     e->log_dir, eb->cfg->id, e->suite_id, si + 1) < 0)
		rc->log_path = NULL;

	info.suite_id = e->suite_id;
	info.board_id = eb->cfg->id;
	info.board_type = eb->cfg->type->name;
	info.scenario = chunk;
	info.params_json = params_txt;
	info.seed = spec->seed;
	info.console_log = rc->log_path;
	info.replay = NULL; /* set below, once the run has its id */
	cut_point(spec, &info.cut);
	/* The image under test, the one the gate speaks for: the suite's
	 * image called "new" (a bad image a run injects is not gated). */
	info.image = image_under_test(e);
	err = pl_store_run_begin(e->store, &info, &rc->store_id);
	/* The replay command names the run, so it comes once the id does. */
	if (!err) {
		/* absolute paths: the command works from any directory */
		struct pl_strbuf cmd = { 0 };

		pl_strbuf_printf(&cmd, "patchlab replay %" PRId64 " --db ",
				 rc->store_id);
		pl_strbuf_shell_word(&cmd, e->db_abs ? e->db_abs : e->db_used);
		pl_strbuf_puts(&cmd, " --lab ");
		pl_strbuf_shell_word(&cmd, e->lab_abs ? e->lab_abs : e->lab->file);
		if (cmd.s)
			pl_store_run_set_replay(e->store, rc->store_id, cmd.s);
		pl_strbuf_free(&cmd);
	}
	free(params_txt);
	if (err)
		pl_log(&e->log, PL_LOG_ERROR, "cannot record run: %s",
		       pl_strerror(err));

	if (!eb->board) {
		if (eb->lease_error[0])
			pl_run_set_verdict(rc, PL_VERDICT_LAB_ERROR, "board %s: %s",
					   eb->cfg->id, eb->lease_error);
		else
			pl_run_set_verdict(rc, PL_VERDICT_LAB_ERROR,
					   "board %s could not be opened: %s fixture",
					   eb->cfg->id,
					   eb->open_error ? eb->open_error : "?");
		finish_run(rc);
		return;
	}
	pl_board_set_event_sink(eb->board, on_board_event, rc);
	if (rc->log_path)
		pl_board_console_log(eb->board, rc->log_path);

	pud.rc = rc;
	pud.spec = spec;
	lc.path = scen;
	lc.chunkname = chunk;
	lc.board = eb->cfg->id;
	lc.seed = spec->seed;
	lc.instr_limit = spec->rcfg->budget.instructions;
	lc.mem_limit = spec->rcfg->budget.memory;
	lc.params_fn = build_params;
	lc.params_ud = &pud;
	lc.log = *pl_board_log(eb->board);
	lc.done = on_run_done;
	lc.user_data = rc;
	err = pl_lua_run_open(e->host, &rc->lrun, &lc);
	if (!err) {
		timeout = spec->rcfg->budget.run_timeout_ms ?
			  spec->rcfg->budget.run_timeout_ms : 10 * 60 * 1000;
		rc->timer = malloc(sizeof(*rc->timer));
		if (rc->timer) {
			uv_timer_init(&e->loop, rc->timer);
			rc->timer->data = rc;
		}
		rc->starting = true;
		err = pl_lua_run_start(rc->lrun);
		rc->starting = false;
		if (!err && rc->done_early) {
			on_run_done(rc->lrun, rc); /* may free rc */
			return;
		}
		if (!err && rc->timer)
			uv_timer_start(rc->timer, on_run_timeout, timeout, 0);
	}
	if (err) {
		const char *msg = rc->lrun ? pl_lua_run_message(rc->lrun) : NULL;

		pl_run_set_verdict(rc, PL_VERDICT_LAB_ERROR,
				   "scenario could not start: %s",
				   msg ? msg : pl_strerror(err));
		rc->ended = true;
		pl_board_set_power(rc->board, false, NULL, NULL);
		finish_run(rc);
	}
}

/* ------------------------------------------------------------- scheduler */

static void schedule(struct pl_engine *e)
{
	unsigned jobs = e->opts->jobs ? e->opts->jobs : (unsigned)e->nboards;

	if (e->stopping)
		goto check_end;
	for (size_t si = 0; si < e->nspecs && e->running < jobs; si++) {
		struct run_spec *s = &e->specs[si];
		struct engine_board *eb = &e->boards[s->board];

		if (s->started || eb->busy || !eb->ready)
			continue;
		if (eb->board && pl_board_quarantined(eb->board)) {
			/* Move it to a free board of the same type, if any. */
			bool moved = false;

			for (size_t b = 0; b < e->nboards; b++) {
				struct engine_board *o = &e->boards[b];

				if (o->board && !pl_board_quarantined(o->board) &&
				    o->cfg->type == eb->cfg->type &&
				    pl_run_selects(s->rcfg, o->cfg) &&
				    board_allowed(e->opts, o->cfg)) {
					s->board = b;
					moved = true;
					break;
				}
			}
			if (!moved) {
				s->started = true;
				e->done++;
				e->counts[PL_VERDICT_LAB_ERROR]++;
				pl_log(&e->log, PL_LOG_WARN,
				       "run %zu skipped: board %s is quarantined (%s)",
				       si + 1, eb->cfg->id,
				       pl_board_quarantined(eb->board));
				continue;
			}
			si--; /* look at it again with its new board */
			continue;
		}
		start_run(e, si, s->board);
	}
check_end:
	if (e->running == 0 && (e->stopping || e->done >= e->nspecs))
		uv_stop(&e->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct pl_engine *e = h->data;

	if (e->stopping)
		return;
	e->stopping = true;
	pl_log(&e->log, PL_LOG_WARN, "%s: stopping, powering every board off",
	       signum == SIGINT ? "SIGINT" : "SIGTERM");
	for (size_t i = 0; i < e->nboards; i++) {
		if (e->boards[i].board)
			pl_board_set_power(e->boards[i].board, false, NULL, NULL);
		if (e->boards[i].busy && e->boards[i].busy->lrun)
			pl_lua_run_cancel(e->boards[i].busy->lrun, -PL_ECANCELED,
					  "controller stopped");
	}
	schedule(e);
}

/* ----------------------------------------------------------------- setup */

/* Does any run of the suite use board b? Only those boards are opened. */
static bool suite_uses(const struct pl_suite *s, const struct pl_board_cfg *b)
{
	for (size_t r = 0; r < s->nruns; r++)
		if (pl_run_selects(&s->runs[r], b))
			return true;
	return false;
}

static int load_image(const struct pl_image_cfg *ic, struct pl_image **out)
{
	struct pl_image *img = calloc(1, sizeof(*img));
	FILE *f;
	long sz;

	if (!img)
		return -ENOMEM;
	f = fopen(ic->path, "rb");
	if (!f) {
		free(img);
		return -errno;
	}
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	img->data = malloc(sz > 0 ? (size_t)sz : 1);
	img->len = sz > 0 ? (size_t)sz : 0;
	if (!img->data || fread(img->data, 1, img->len, f) != img->len) {
		fclose(f);
		free(img->data);
		free(img);
		return -EIO;
	}
	fclose(f);
	img->name = strdup(ic->name);
	img->path = strdup(ic->path);
	img->version = ic->version ? strdup(ic->version) : NULL;
	*out = img;
	return 0;
}

static void on_leased(struct pl_leases *l, const char *board_id, int status,
		      void *ud)
{
	struct engine_board *eb = ud;
	struct pl_engine *e = eb->e;
	const char *why = NULL;
	char *holder = NULL;
	uint64_t exp = 0;
	int err;

	eb->ready = true;
	if (status) {
		if (status == -PL_ELEASED &&
		    pl_leases_holder(l, board_id, &holder, &exp) == 0 && holder)
			snprintf(eb->lease_error, sizeof(eb->lease_error),
				 "leased by %s", holder);
		else
			snprintf(eb->lease_error, sizeof(eb->lease_error),
				 "no lease: %s", pl_strerror(status));
		free(holder);
		pl_log(&e->log, PL_LOG_ERROR, "board %s: %s", board_id,
		       eb->lease_error);
		schedule(e);
		return;
	}
	err = pl_board_open(&eb->board, &e->loop, eb->cfg, &e->log, &why);
	if (err)
		eb->open_error = why;
	schedule(e);
}

static void on_lease_lost(struct pl_leases *l, const char *board_id,
			  int status, const char *holder, void *ud)
{
	struct pl_engine *e = ud;

	for (size_t i = 0; i < e->nboards; i++) {
		struct engine_board *eb = &e->boards[i];

		if (strcmp(eb->cfg->id, board_id) != 0)
			continue;
		snprintf(eb->lease_error, sizeof(eb->lease_error),
			 "lease lost to %s", holder ? holder : "?");
		pl_log(&e->log, PL_LOG_ERROR, "board %s: %s: stopping its runs",
		       board_id, eb->lease_error);
		if (eb->board)
			pl_board_quarantine(eb->board, eb->lease_error);
		if (eb->busy && eb->busy->lrun)
			pl_lua_run_cancel(eb->busy->lrun, -PL_EFIXTURE,
					  eb->lease_error);
	}
}

static int recover_cb(void *ud, int64_t run_id, const char *board_id,
		      const char *controller)
{
	struct pl_engine *e = ud;

	/* The boards were opened with their power off: nothing left to do
	 * but say so. */
	pl_log(&e->log, PL_LOG_WARN,
	       "run %" PRId64 " on %s was left open by %s: closing it as lab-error",
	       run_id, board_id, controller);
	return 0;
}

/* Up to this many runs the table lists each; beyond, a scenario summary. */
#define TABLE_MAX_RUNS 40
/* Failing runs the terminal statement lists; the reports list them all. */
#define STATEMENT_MAX_FAILING 10

static void print_runs(const struct pl_run_row *rows, size_t n)
{
	printf("%-6s %-10s %-14s %-30s %-18s %-12s %s\n", "run", "board",
	       "type", "scenario", "cut", "verdict", "reason");
	for (size_t i = 0; i < n; i++) {
		char cut[64] = "-";

		if (rows[i].cut.phase != PL_CUT_NONE && rows[i].cut.op_index >= 0)
			snprintf(cut, sizeof(cut), "%s op %ld",
				 pl_cut_phase_name(rows[i].cut.phase),
				 rows[i].cut.op_index);
		else if (rows[i].cut.phase != PL_CUT_NONE)
			/* aimed by the console, time, bytes...: no op index */
			snprintf(cut, sizeof(cut), "by %s",
				 rows[i].cut.aimed_by ? rows[i].cut.aimed_by : "?");
		printf("%-6" PRId64 " %-10s %-14s %-30s %-18s %-12s %s\n",
		       rows[i].id, rows[i].board_id, rows[i].board_type,
		       rows[i].scenario, cut,
		       rows[i].open ? "open" : pl_verdict_name(rows[i].verdict),
		       rows[i].reason ? rows[i].reason : "");
	}
}

/* One line per scenario: how many runs ended in each verdict. */
static void print_summary(const struct pl_run_row *rows, size_t n)
{
	const char *done[256];
	size_t nd = 0;

	printf("%-30s", "scenario");
	for (int v = 0; v < PL_VERDICT_COUNT; v++)
		printf(" %11s", pl_verdict_name(v));
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		unsigned long c[PL_VERDICT_COUNT] = { 0 };
		bool seen = false;

		for (size_t k = 0; k < nd; k++)
			if (strcmp(done[k], rows[i].scenario) == 0)
				seen = true;
		if (seen || nd == 256)
			continue;
		done[nd++] = rows[i].scenario;
		for (size_t j = i; j < n; j++)
			if (!rows[j].open &&
			    strcmp(rows[j].scenario, rows[i].scenario) == 0)
				c[rows[j].verdict]++;
		printf("%-30s", rows[i].scenario);
		for (int v = 0; v < PL_VERDICT_COUNT; v++)
			printf(" %11lu", c[v]);
		printf("\n");
	}
}

/* The gate statement, its list of failing runs cut short for a terminal. */
static void print_statement(const char *text, size_t nfail_total)
{
	const char *p = text, *list = strstr(text, "\nFailing and unfinished runs:");
	unsigned shown = 0;

	if (!list) {
		fputs(text, stdout);
		return;
	}
	fwrite(p, 1, (size_t)(list - p) + 1, stdout);
	p = list + 1;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);

		/* an entry starts with "  run " */
		if (strncmp(p, "  run ", 6) == 0 && ++shown > STATEMENT_MAX_FAILING)
			break;
		fwrite(p, 1, len, stdout);
		p += len;
	}
	if (shown > STATEMENT_MAX_FAILING)
		printf("  ... %zu failing or unfinished runs in all: see the report "
		       "or patchlab results\n", nfail_total);
}

static void print_table(struct pl_engine *e, struct pl_gate *g)
{
	struct pl_strbuf sb = { 0 };
	size_t n, nfail = 0;
	const struct pl_run_row *rows = pl_gate_runs(g, &n);

	if (!e->opts->quiet)
		fputc('\n', stderr);
	if (n <= TABLE_MAX_RUNS)
		print_runs(rows, n);
	else
		print_summary(rows, n);
	for (size_t i = 0; i < n; i++)
		if (rows[i].open || rows[i].verdict == PL_VERDICT_LAB_ERROR ||
		    pl_verdict_is_failure(rows[i].verdict))
			nfail++;
	if (pl_gate_statement(g, &sb) == 0 && sb.s) {
		printf("\n");
		print_statement(sb.s, nfail);
	}
	pl_strbuf_free(&sb);
}

static int mkdir_p(const char *path)
{
	char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
	free(p);
	return 0;
}

static void on_grace(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int pl_engine_run(const struct pl_engine_opts *opts)
{
	struct pl_engine e = { .opts = opts };
	struct pl_config_opts copts = { .image_overrides = opts->image_overrides };
	struct pl_lua_host_config hc = { 0 };
	struct pl_diags *diags = NULL;
	struct pl_gate_thresholds th = { 0 };
	struct pl_gate *gate = NULL;
	struct pl_suite_info si = { 0 };
	const char *out = opts->out_dir ? opts->out_dir : "runs";
	char *scen_root = NULL;
	int rc = PL_EXIT_LAB_ERROR, err;

	e.log = (struct pl_log){ .max = PL_LOG_WARN };
	/* PL_LOG=info|debug shows more of what the lab does. */
	if (getenv("PL_LOG"))
		pl_log_level_parse(getenv("PL_LOG"), &e.log.max);
	e.started_ns = pl_now_ns();
	if (pl_diags_new(&diags))
		return PL_EXIT_LAB_ERROR;
	err = pl_lab_load(&e.lab, opts->lab_path ? opts->lab_path : "lab.yaml",
			  &copts, diags);
	if (!err)
		err = pl_suite_load(&e.suite, opts->suite_path, &copts, diags);
	if (!err)
		err = pl_suite_check_lab(e.suite, e.lab, diags);
	if (err) {
		pl_diags_print(diags, stderr);
		rc = err == -PL_ECONFIG ? PL_EXIT_CONFIG : PL_EXIT_LAB_ERROR;
		goto out_free_config;
	}

	mkdir_p(out);
	if (asprintf(&e.db_path, "%s/patchlab.db", out) < 0 ||
	    asprintf(&e.log_dir, "%s/console", out) < 0)
		goto out_free_config;
	mkdir_p(e.log_dir);
	e.db_used = opts->db_path ? opts->db_path : e.db_path;
	err = pl_store_open(&e.store, e.db_used, NULL);
	if (err) {
		fprintf(stderr, "patchlab: cannot open the result store %s: %s\n",
			opts->db_path ? opts->db_path : e.db_path, pl_strerror(err));
		goto out_free_config;
	}

	uv_loop_init(&e.loop);
	e.nboards = e.lab->nboards;
	e.boards = calloc(e.nboards ? e.nboards : 1, sizeof(*e.boards));
	for (size_t i = 0; e.boards && i < e.nboards; i++) {
		e.boards[i].e = &e;
		e.boards[i].cfg = &e.lab->boards[i];
		e.boards[i].used = suite_uses(e.suite, &e.lab->boards[i]) &&
				   board_allowed(opts, &e.lab->boards[i]);
	}
	pl_store_recover(e.store, recover_cb, &e, NULL);
	err = pl_leases_open(&e.leases, &e.loop, e.store, 0);
	if (err) {
		fprintf(stderr, "patchlab: cannot take board leases: %s\n",
			pl_strerror(err));
		goto out_close_boards;
	}
	pl_leases_set_log(e.leases, &e.log);
	pl_leases_set_lost_cb(e.leases, on_lease_lost, &e);

	/* Images in memory, so a transfer never waits on the disk. */
	e.images = calloc(e.suite->nimages + 1, sizeof(*e.images));
	for (size_t i = 0; e.images && i < e.suite->nimages; i++) {
		err = load_image(&e.suite->images[i], &e.images[e.nimages]);
		if (err) {
			fprintf(stderr, "patchlab: %s: cannot read image %s: %s\n",
				e.suite->file, e.suite->images[i].path,
				pl_strerror(err));
			goto out_close_boards;
		}
		e.nimages++;
	}

	scen_root = strdup(e.suite->scenarios_dir);
	hc.scenarios_root = scen_root;
	hc.root_display = "scenarios";
	hc.log = e.log;
	err = pl_lua_host_open(&e.host, &hc);
	if (err) {
		fprintf(stderr, "patchlab: cannot start the Lua host: %s\n",
			pl_strerror(err));
		goto out_close_boards;
	}
	pl_lapi_register(e.host, e.images, e.nimages);

	err = expand(&e);
	if (err)
		goto out_close_host;
	if (opts->only) {
		if (opts->only > e.nspecs) {
			fprintf(stderr, "patchlab: the suite has %zu runs, not %u\n",
				e.nspecs, opts->only);
			rc = PL_EXIT_USAGE;
			goto out_close_host;
		}
		for (size_t i = 0; i < e.nspecs; i++)
			e.specs[i].started = i + 1 != opts->only;
		e.done = e.nspecs - 1;
	}

	e.db_abs = realpath(e.db_used, NULL);
	e.lab_abs = realpath(e.lab->file, NULL);
	e.suite_abs = realpath(e.suite->file, NULL);
	si.name = e.suite->name;
	si.file = e.suite_abs ? e.suite_abs : e.suite->file;
	si.seed = opts->seed;
	si.cmdline = opts->cmdline;
	pl_store_suite_begin(e.store, &si, &e.suite_id);

	uv_signal_init(&e.loop, &e.sigint);
	uv_signal_init(&e.loop, &e.sigterm);
	e.signals = true;
	e.sigint.data = e.sigterm.data = &e;
	uv_signal_start(&e.sigint, on_signal, SIGINT);
	uv_signal_start(&e.sigterm, on_signal, SIGTERM);

	if (!opts->quiet)
		fprintf(stderr, "patchlab: suite %s on lab %s: %zu runs, seed %" PRIu64
			"\n", e.suite->name, e.lab->name, e.nspecs, opts->seed);
	/* A board is ours once its lease is: another controller on the same
	 * lab waits (or, with --no-wait, is refused) until we release it.
	 * Opening it switches its power off, so the lease comes first. */
	for (size_t i = 0; i < e.nboards; i++) {
		if (!e.boards[i].used)
			continue;
		err = pl_leases_take(e.leases, e.boards[i].cfg->id, !opts->no_wait,
				     on_leased, &e.boards[i]);
		if (err == -PL_ELEASED) {
			char *holder = NULL;
			uint64_t exp = 0;

			if (pl_leases_holder(e.leases, e.boards[i].cfg->id,
					     &holder, &exp) == 0 && holder)
				snprintf(e.boards[i].lease_error,
					 sizeof(e.boards[i].lease_error),
					 "leased by %s", holder);
			else
				snprintf(e.boards[i].lease_error,
					 sizeof(e.boards[i].lease_error),
					 "cannot take its lease: %s", pl_strerror(err));
			free(holder);
			e.boards[i].ready = true;
		} else if (err) {
			snprintf(e.boards[i].lease_error,
				 sizeof(e.boards[i].lease_error),
				 "cannot take its lease: %s", pl_strerror(err));
			e.boards[i].ready = true;
		}
	}
	schedule(&e);
	if (e.running > 0 || e.done < e.nspecs)
		uv_run(&e.loop, UV_RUN_DEFAULT);

	if (e.suite->gate.given) {
		th.max_brick_rate = e.suite->gate.max_brick_rate;
		th.min_cuts = e.suite->gate.min_cuts;
	} else {
		th.max_brick_rate = 1;
	}
	err = pl_gate_compute(e.store, e.suite_id, &th, &gate);
	if (!err) {
		print_table(&e, gate);
		pl_store_suite_end(e.store, e.suite_id,
				   pl_gate_result_name(pl_gate_result(gate)));
		switch (pl_gate_result(gate)) {
		case PL_GATE_PASS:
			rc = PL_EXIT_OK;
			break;
		case PL_GATE_FAIL:
			rc = PL_EXIT_GATE_FAILED;
			break;
		default:
			rc = PL_EXIT_LAB_ERROR;
		}
		if (e.stopping)
			rc = PL_EXIT_LAB_ERROR;
		pl_gate_free(gate);
	}
	if (opts->json_path)
		pl_report_write(e.store, e.suite_id, &th, PL_REPORT_JSON,
				opts->json_path);
	if (opts->junit_path)
		pl_report_write(e.store, e.suite_id, &th, PL_REPORT_JUNIT,
				opts->junit_path);
	if (opts->html_path) {
		pl_report_write(e.store, e.suite_id, &th, PL_REPORT_HTML,
				opts->html_path);
		printf("report: %s\n", opts->html_path);
	}

out_close_host:
	pl_lua_host_free(e.host);
out_close_boards:
	for (size_t i = 0; e.boards && i < e.nboards; i++)
		pl_board_close(e.boards[i].board); /* power off */
	/* Released after the power is off: the next holder finds it safe. */
	pl_leases_close(e.leases);
	free(e.boards);
	for (size_t i = 0; i < e.nimages; i++) {
		free(e.images[i]->name);
		free(e.images[i]->path);
		free(e.images[i]->version);
		free(e.images[i]->data);
		free(e.images[i]);
	}
	free(e.images);
	for (size_t i = 0; i < e.nspecs; i++) {
		json_decref(e.specs[i].cut);
		json_decref(e.specs[i].params);
	}
	free(e.specs);
	for (size_t i = 0; i < e.nsweeps; i++)
		pl_sweep_free(&e.sweeps[i].plan);
	free(e.sweeps);
	/* Let the drivers finish what closing started (a killed QEMU to
	 * reap, a PDU's last answer), for at most a few seconds; then close
	 * whatever is left. */
	if (e.signals) {
		uv_close((uv_handle_t *)&e.sigint, NULL);
		uv_close((uv_handle_t *)&e.sigterm, NULL);
	}
	/* a uv_stop() left from the scheduler would end the grace run at
	 * once: one pass without waiting consumes it */
	uv_run(&e.loop, UV_RUN_NOWAIT);
	{
		uv_timer_t grace;

		uv_timer_init(&e.loop, &grace);
		uv_timer_start(&grace, on_grace, 5000, 0);
		uv_unref((uv_handle_t *)&grace);
		uv_run(&e.loop, UV_RUN_DEFAULT);
		uv_close((uv_handle_t *)&grace, NULL);
	}
	uv_walk(&e.loop, close_walk, NULL);
	/* a uv_stop() made before the loop ever ran (every run refused at
	 * once) makes the first uv_run return at once: run it twice */
	uv_run(&e.loop, UV_RUN_DEFAULT);
	uv_run(&e.loop, UV_RUN_DEFAULT);
	uv_loop_close(&e.loop);
	pl_store_close(e.store);
	free(scen_root);
out_free_config:
	free(e.db_path);
	free(e.db_abs);
	free(e.lab_abs);
	free(e.suite_abs);
	free(e.log_dir);
	pl_suite_free(e.suite);
	pl_lab_free(e.lab);
	pl_diags_free(diags);
	return rc;
}
