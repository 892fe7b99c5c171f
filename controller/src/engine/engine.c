/* SPDX-License-Identifier: MIT */
/*
 * The run engine (patchlab/engine.h): configuration in, verdicts out.
 * pl_engine_run() is setup -> loop -> finish -> teardown; a run's own life
 * is the run module's (patchlab/run.h), the plan's is plan.c's, and what a
 * person sees is the CLI's (struct pl_engine_output).
 *
 * Section map:
 *   runs         a spec becomes a run; a run's end is counted
 *   scheduler    free boards, -j, quarantine, signals
 *   boards       leases, opening, lost leases
 *   setup        load, store, boards, images, Lua host, plan
 *   finish       gate, reports, teardown
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_internal.h"
#include "patchlab/clock.h"
#include "patchlab/datadir.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/gate.h"
#include "patchlab/lapi.h"
#include "patchlab/report.h"
#include "patchlab/value_json.h"

/* ------------------------------------------------------------------ runs */

static void schedule(struct pl_engine *e);

static void show_progress(struct pl_engine *e)
{
	const struct pl_engine_output *o = e->opts->output;
	struct pl_engine_progress p = {
		.done = e->done, .total = e->nspecs, .counts = e->counts,
		.elapsed_ns = pl_now_ns() - e->started_ns,
	};

	if (o && o->progress)
		o->progress(o->user_data, &p);
}

/* The run module's ended() hook: count the verdict, feed the sweep,
 * free the board for the next run. */
/* ------------------------------------------------------------ quarantine */

/* A quarantine the run just set is kept in the store, for later suites,
 * other workers and `patchlab boards` (not a lost lease: that is ours). */
static void keep_quarantine(struct pl_engine *e, struct engine_board *eb,
			    int64_t run_id)
{
	const char *why = eb->board ? pl_board_quarantined(eb->board) : NULL;
	int err;

	if (!why || eb->quarantine_kept || eb->lease_error[0])
		return;
	eb->quarantine_kept = true;
	err = pl_store_quarantine(e->store, eb->cfg->id,
				  pl_board_set_aside_for_lab(eb->board) ?
					  PL_QUARANTINE_LAB :
					  PL_QUARANTINE_DEVICE,
				  why, run_id);
	if (err)
		pl_log(&e->log, PL_LOG_ERROR, "board %s: its quarantine could "
		       "not be stored (%s): later suites will not know of it",
		       eb->cfg->id, pl_strerror(err));
}

/*
 * A board the store has set aside, now opened: a device quarantine holds
 * until a person releases it (its runs are not-run); a lab one is released,
 * since its fixtures answered again (opening the board switches its power
 * off over the relay and opens its console and probe).
 */
static void apply_stored_quarantine(struct pl_engine *e,
				    struct engine_board *eb)
{
	const struct pl_quarantine_row *q =
		pl_quarantine_rows_find(e->quarantine, e->nquarantine,
					eb->cfg->id);
	char why[700], run[32] = "";

	if (!q)
		return;
	if (q->kind == PL_QUARANTINE_LAB) {
		int err = pl_store_quarantine_release(e->store, eb->cfg->id);

		pl_log(&e->log, PL_LOG_WARN, "board %s: set aside by an "
		       "earlier suite (%s); its fixtures answer again: %s",
		       eb->cfg->id, q->reason ? q->reason : "?",
		       err ? "but the store kept the mark" :
			     "back in service");
		return;
	}
	if (q->run_id)
		snprintf(run, sizeof(run), ", run %" PRId64, q->run_id);
	snprintf(why, sizeof(why), "%s (quarantined by %s%s); release it with "
		 "`patchlab boards --release %s` once the board is restored",
		 q->reason ? q->reason : "?", q->holder ? q->holder : "?", run,
		 eb->cfg->id);
	pl_board_quarantine(eb->board, why);
	eb->quarantine_kept = true;
}

static void on_run_ended(struct pl_run *r, void *ud)
{
	struct pl_engine *e = ud;
	/* copy: a learning pass or a refining sweep adds specs, which moves
	 * the array */
	struct run_spec spec = e->specs[pl_run_index(r)];
	struct engine_board *eb = &e->boards[spec.board];
	const struct pl_engine_output *o = e->opts->output;
	const char *reason;
	enum pl_verdict v;

	pl_run_verdict(r, &v, &reason);
	if (o && o->run_ended)
		o->run_ended(o->user_data, pl_run_store_id(r), eb->cfg->id, v,
			     reason);
	if (spec.learning && (v == PL_VERDICT_NOT_RUN ||
			      v == PL_VERDICT_LAB_ERROR)) {
		char why[600];

		snprintf(why, sizeof(why), "its learning pass ended %s (%s)",
			 pl_verdict_name(v), reason);
		pl_engine__sweep_unplanned(e, spec.sweep_group, why);
	} else if (spec.learning) {
		pl_engine__expand_sweep(e, spec.sweep_group,
					pl_run_learned_ops(r));
	}
	keep_quarantine(e, eb, pl_run_store_id(r));
	e->counts[v]++;
	e->done++;
	e->running--;
	pl_engine__sweep_point_done(e, &spec, v);
	show_progress(e);
	/* a not-run record never held the board */
	if (eb->busy == r)
		eb->busy = NULL;
	schedule(e);
}

/* The image under test, the one the gate speaks for: the suite's image
 * called "new", else its first (a bad image a run injects is not gated). */
static const struct pl_image *find_image(struct pl_engine *e, const char *name)
{
	for (size_t i = 0; name && i < e->nimages; i++)
		if (strcmp(e->images[i]->name, name) == 0)
			return e->images[i];
	return NULL;
}

/* The board's own image called name (lab `images:`), or NULL. */
static const struct pl_image *board_image(const struct engine_board *eb,
					  const char *name)
{
	for (size_t i = 0; name && i < eb->nimages; i++)
		if (strcmp(eb->images[i]->name, name) == 0)
			return eb->images[i];
	return NULL;
}

static const char *image_under_test(struct pl_engine *e)
{
	const struct pl_image *img = find_image(e, "new");

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
	/* a sweep over console or time: aimed by what it names */
	v = json_object_get(s->cut, "on");
	if (v && json_is_string(v) &&
	    (strcmp(json_string_value(v), "console") == 0 ||
	     strcmp(json_string_value(v), "time") == 0)) {
		cp->phase = PL_CUT_DURING;
		cp->aimed_by = json_string_value(v);
		return;
	}
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

/* The params a run records (the suite's, its sweep's cut, learn), and
 * the ones its scenario gets (those and repeat_index; a replay gets
 * exactly what was recorded). */
static void run_params(const struct run_spec *s, json_t **recorded,
		       json_t **scenario)
{
	json_t *pj = s->params ? json_incref(s->params) :
				 pl_value_to_json(s->rcfg->params);

	if (!json_is_object(pj)) {
		json_decref(pj);
		pj = json_object();
	}
	if (s->cut && !s->params)
		json_object_set(pj, "cut", s->cut);
	if (s->learning)
		json_object_set_new(pj, "learn", json_true());
	*recorded = pj;
	*scenario = NULL;
	if (s->params)
		return;
	*scenario = json_deep_copy(pj);
	if (*scenario)
		json_object_set_new(*scenario, "repeat_index",
				    json_integer(s->repeat));
}

/* Why the board of a run cannot be used, or NULL. */
static const char *board_unusable(const struct engine_board *eb, char *buf,
				  size_t n)
{
	if (eb->board)
		return NULL;
	if (eb->lease_error[0])
		return eb->lease_error;
	snprintf(buf, n, "could not be opened: %s fixture",
		 eb->open_error ? eb->open_error : "?");
	return buf;
}

/*
 * A console log of this run's own: "DIR/BOARD-sSUITE-RUN.console.log", or,
 * when a file of that name is there already (the same out directory used
 * with another store, or a store made anew: suite ids start again at 1),
 * "...-RUN.N.console.log" for the first N free. The file is created here
 * (O_EXCL), so two controllers cannot take one name and no run's log is
 * ever appended to another's. NULL when none could be made (the run then
 * goes without a console log, as it does when asprintf fails).
 */
static char *claim_log_path(const struct pl_engine *e, const char *board,
			    size_t run)
{
	for (unsigned n = 1; n <= 1000; n++) {
		char *path = NULL;
		int fd, r;

		if (n == 1)
			r = asprintf(&path, "%s/%s-s%" PRId64 "-%zu.console.log",
				     e->log_dir, board, e->suite_id, run);
		else
			r = asprintf(&path, "%s/%s-s%" PRId64 "-%zu.%u.console.log",
				     e->log_dir, board, e->suite_id, run, n);
		if (r < 0)
			return NULL;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			close(fd);
			return path;
		}
		free(path);
		if (errno != EEXIST)
			return NULL;
	}
	return NULL;
}

/* Start spec si on its board; with not_run, record it as not run
 * instead (the board is not touched: the run never holds it). */
static void start_run(struct pl_engine *e, size_t si, const char *not_run)
{
	struct run_spec *spec = &e->specs[si];
	struct engine_board *eb = &e->boards[spec->board];
	const struct pl_board_type *t = eb->cfg->type;
	struct pl_run_spec rs = { 0 };
	struct pl_run *record = NULL;
	char chunk[512], why[256], *log_path = NULL;

	spec->started = true;
	pl_engine__chunk_name(e, spec->rcfg->scenario, chunk, sizeof(chunk));
	if (!not_run)
		log_path = claim_log_path(e, eb->cfg->id, si + 1);
	rs.suite_id = e->suite_id;
	rs.index = si;
	rs.repeat = spec->repeat;
	rs.seed = spec->seed;
	rs.bcfg = eb->cfg;
	rs.board = eb->board;
	rs.unusable = board_unusable(eb, why, sizeof(why));
	/* a board another holder keeps was never ours: nothing ran on it */
	if (!not_run && !eb->board && eb->lease_error[0])
		not_run = eb->lease_error;
	rs.not_run = not_run;
	rs.rcfg = spec->rcfg;
	rs.scenario_path = spec->rcfg->scenario;
	rs.chunk = chunk;
	run_params(spec, &rs.params, &rs.scenario_params);
	cut_point(spec, &rs.cut);
	rs.image = image_under_test(e);
	rs.console_log = log_path;
	rs.replay_db = e->db_abs ? e->db_abs : e->db_used;
	rs.replay_lab = e->lab_abs ? e->lab_abs : e->lab->file;
	rs.recovery_image = board_image(eb, t->recovery.image);
	if (!rs.recovery_image)
		rs.recovery_image = find_image(e, t->recovery.image);
	rs.board_images = (const struct pl_image *const *)eb->images;
	rs.nboard_images = eb->nimages;
	e->running++;
	/* the run module sets eb->busy first thing; a run that ends at once
	 * clears it again through on_run_ended() */
	if (pl_run_start(not_run ? &record : &eb->busy, &e->env, &rs)) {
		pl_log(&e->log, PL_LOG_ERROR, "run %zu: out of memory", si + 1);
		if (!not_run)
			eb->busy = NULL;
		e->running--;
		e->done++;
		e->counts[PL_VERDICT_LAB_ERROR]++;
	}
	json_decref(rs.params);
	json_decref(rs.scenario_params);
	free(log_path);
}

/* ------------------------------------------------------------- scheduler */

/* The spec's board is quarantined: move it to a free board of the same
 * type, if any. */
static bool move_spec(struct pl_engine *e, struct run_spec *s)
{
	const struct engine_board *eb = &e->boards[s->board];

	for (size_t b = 0; b < e->nboards; b++) {
		struct engine_board *o = &e->boards[b];

		if (o->board && !pl_board_quarantined(o->board) &&
		    o->cfg->type == eb->cfg->type &&
		    pl_run_selects(s->rcfg, o->cfg) &&
		    pl_engine__board_allowed(e->opts, o->cfg)) {
			s->board = b;
			return true;
		}
	}
	return false;
}

void pl_engine__not_run(struct pl_engine *e, size_t si, const char *why)
{
	pl_log(&e->log, PL_LOG_INFO, "run %zu not run: %s", si + 1, why);
	start_run(e, si, why);
}

/* No board of the type is left: the run is recorded as not run. */
static void skip_spec(struct pl_engine *e, size_t si)
{
	struct engine_board *eb = &e->boards[e->specs[si].board];
	char why[400];

	snprintf(why, sizeof(why), "board %s is quarantined: %s", eb->cfg->id,
		 pl_board_quarantined(eb->board));
	pl_engine__not_run(e, si, why);
}

static void schedule(struct pl_engine *e)
{
	unsigned jobs = e->opts->jobs ? e->opts->jobs : (unsigned)e->nboards;

	if (e->stopping)
		goto check_end;
	for (size_t si = 0; si < e->nspecs && e->running < jobs; si++) {
		struct run_spec *s = &e->specs[si];
		struct engine_board *eb = &e->boards[s->board];

		if (!s->started && s->not_run) {
			pl_engine__not_run(e, si, s->not_run);
			continue;
		}
		if (s->started || eb->busy || !eb->ready)
			continue;
		if (eb->board && pl_board_quarantined(eb->board)) {
			if (!move_spec(e, s))
				skip_spec(e, si);
			else
				si--; /* look at it again with its new board */
			continue;
		}
		start_run(e, si, NULL);
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
	e->stop_why = signum == SIGINT ? "SIGINT" : "SIGTERM";
	pl_log(&e->log, PL_LOG_WARN, "%s: stopping, powering every board off",
	       e->stop_why);
	for (size_t i = 0; i < e->nboards; i++) {
		struct pl_run *busy = e->boards[i].busy;

		if (e->boards[i].board)
			pl_board_set_power(e->boards[i].board, false, NULL, NULL);
		if (busy)
			pl_run_cancel(busy, -PL_ECANCELED, "controller stopped",
				      true);
	}
	schedule(e);
}

/* ---------------------------------------------------------------- boards */

/* Does any run of the suite use board b? Only those boards are opened. */
static bool suite_uses(const struct pl_suite *s, const struct pl_board_cfg *b)
{
	for (size_t r = 0; r < s->nruns; r++)
		if (pl_run_selects(&s->runs[r], b))
			return true;
	return false;
}

/* Why a lease could not be had: "leased by HOLDER" or the error. */
static void lease_refused(struct pl_leases *l, struct engine_board *eb,
			  int status)
{
	char *holder = NULL;
	uint64_t exp = 0;

	if (status == -PL_ELEASED &&
	    pl_leases_holder(l, eb->cfg->id, &holder, &exp) == 0 && holder)
		snprintf(eb->lease_error, sizeof(eb->lease_error),
			 "leased by %s", holder);
	else
		snprintf(eb->lease_error, sizeof(eb->lease_error),
			 "cannot take its lease: %s", pl_strerror(status));
	free(holder);
}

static void take_next_lease(struct pl_engine *e);

static void on_leased(struct pl_leases *l, const char *board_id, int status,
		      void *ud)
{
	struct engine_board *eb = ud;
	struct pl_engine *e = eb->e;
	const char *why = NULL;

	eb->ready = true;
	if (status) {
		lease_refused(l, eb, status);
		pl_log(&e->log, PL_LOG_ERROR, "board %s: %s", board_id,
		       eb->lease_error);
		schedule(e);
		take_next_lease(e);
		return;
	}
	if (pl_board_open(&eb->board, &e->loop, eb->cfg, &e->log, &why))
		eb->open_error = why;
	else
		apply_stored_quarantine(e, eb);
	schedule(e);
	take_next_lease(e);
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
			pl_board_set_aside(eb->board, eb->lease_error);
		if (eb->busy)
			pl_run_cancel(eb->busy, -PL_EFIXTURE, eb->lease_error,
				      false);
	}
}

/* Ask for the next board's lease in id order (0 when all are asked). One
 * at a time and in one order for every controller: two controllers that
 * want the same boards never hold one each while waiting for the other's
 * (each would wait for ever). The boards held so far run meanwhile. */
static void take_next_lease(struct pl_engine *e)
{
	while (e->next_lease < e->nlease_order) {
		struct engine_board *eb =
			&e->boards[e->lease_order[e->next_lease++]];
		int err = pl_leases_take(e->leases, eb->cfg->id,
					 !e->opts->no_wait, on_leased, eb);

		if (!err)
			return; /* on_leased asks for the next */
		lease_refused(e->leases, eb, err);
		eb->ready = true;
	}
}

static const struct pl_engine *order_engine;

static int by_board_id(const void *a, const void *b)
{
	const struct pl_engine *e = order_engine;

	return strcmp(e->boards[*(const size_t *)a].cfg->id,
		      e->boards[*(const size_t *)b].cfg->id);
}

/* A board is ours once its lease is: another controller on the same lab
 * waits (or, with --no-wait, is refused) until we release it. Opening it
 * switches its power off, so the lease comes first. */
static void take_leases(struct pl_engine *e)
{
	e->lease_order = calloc(e->nboards + 1, sizeof(*e->lease_order));
	for (size_t i = 0; e->lease_order && i < e->nboards; i++)
		if (e->boards[i].used)
			e->lease_order[e->nlease_order++] = i;
	if (!e->lease_order) {
		/* no memory for an order: every board at once, as a last
		 * resort (the waits may then cross) */
		for (size_t i = 0; i < e->nboards; i++) {
			struct engine_board *eb = &e->boards[i];

			if (eb->used && pl_leases_take(e->leases, eb->cfg->id,
						       !e->opts->no_wait,
						       on_leased, eb)) {
				eb->ready = true;
			}
		}
		return;
	}
	order_engine = e;
	qsort(e->lease_order, e->nlease_order, sizeof(*e->lease_order),
	      by_board_id);
	take_next_lease(e);
}

/* A run a dead controller left open: its board may still be powered,
 * whether or not this suite uses it, so it is leased and opened (which
 * switches it off) like the suite's own; its suite is closed below. */
static int recover_cb(void *ud, int64_t run_id, const char *board_id,
		      const char *controller)
{
	struct pl_engine *e = ud;
	struct pl_run_row *row = NULL;

	pl_log(&e->log, PL_LOG_WARN,
	       "run %" PRId64 " on %s was left open by %s: closing it as "
	       "lab-error, switching the board off", run_id, board_id,
	       controller);
	for (size_t i = 0; i < e->nboards; i++)
		if (strcmp(e->boards[i].cfg->id, board_id) == 0)
			e->boards[i].used = true;
	if (pl_store_get_run(e->store, run_id, &row, NULL, NULL) == 0 &&
	    row->suite_id > 0 && e->ndead < sizeof(e->dead_suites) /
					  sizeof(e->dead_suites[0])) {
		bool seen = false;

		for (size_t i = 0; i < e->ndead; i++)
			seen |= e->dead_suites[i] == row->suite_id;
		if (!seen)
			e->dead_suites[e->ndead++] = row->suite_id;
	}
	pl_store_run_free(row, NULL, 0);
	return 0;
}

/* A suite whose controller died never got its gate: it is INCOMPLETE
 * (its open runs were just closed as lab-error), never left open. */
static void close_dead_suites(struct pl_engine *e)
{
	for (size_t i = 0; i < e->ndead; i++) {
		struct pl_suite_row *row = NULL;

		if (pl_store_get_suite(e->store, e->dead_suites[i], &row) ||
		    row->gate) {
			pl_store_suites_free(row, row ? 1 : 0);
			continue;
		}
		pl_log(&e->log, PL_LOG_WARN, "suite %" PRId64 " (%s) was left "
		       "open by a controller that died: closing it as "
		       "incomplete", row->id, row->name);
		pl_store_suite_end(e->store, row->id, "incomplete");
		pl_store_suites_free(row, 1);
	}
}

/* ----------------------------------------------------------------- setup */

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

/* Lab, suite and their cross-checks; an exit code, 0 when loaded. */
static int load_config(struct pl_engine *e)
{
	const struct pl_engine_opts *opts = e->opts;
	struct pl_config_opts copts = { .image_overrides = opts->image_overrides };
	struct pl_diags *diags = NULL;
	int err;

	if (pl_diags_new(&diags))
		return PL_EXIT_LAB_ERROR;
	err = pl_lab_load(&e->lab, opts->lab_path ? opts->lab_path : "lab.yaml",
			  &copts, diags);
	copts.lab = e->lab; /* ${NAME}: the lab's vars, then the environment */
	if (!err)
		err = pl_suite_load(&e->suite, opts->suite_path, &copts, diags);
	if (!err)
		err = pl_suite_check_lab(e->suite, e->lab, diags);
	if (err)
		pl_diags_print(diags, stderr);
	pl_diags_free(diags);
	if (err)
		return err == -PL_ECONFIG ? PL_EXIT_CONFIG : PL_EXIT_LAB_ERROR;
	return 0;
}

/* The output directory, its console logs and the store. 0 or an error. */
static int open_store(struct pl_engine *e)
{
	const char *out = e->opts->out_dir ? e->opts->out_dir : "runs";
	int err;

	mkdir_p(out);
	if (asprintf(&e->db_path, "%s/patchlab.db", out) < 0 ||
	    asprintf(&e->log_dir, "%s/console", out) < 0)
		return -ENOMEM;
	mkdir_p(e->log_dir);
	e->db_used = e->opts->db_path ? e->opts->db_path : e->db_path;
	err = pl_store_open(&e->store, e->db_used, NULL);
	if (err)
		fprintf(stderr, "patchlab: cannot open the result store %s: %s\n",
			e->db_used, pl_strerror(err));
	return err;
}

static int open_boards(struct pl_engine *e)
{
	int err;

	e->nboards = e->lab->nboards;
	e->boards = calloc(e->nboards ? e->nboards : 1, sizeof(*e->boards));
	if (!e->boards)
		return -ENOMEM;
	for (size_t i = 0; i < e->nboards; i++) {
		e->boards[i].e = e;
		e->boards[i].cfg = &e->lab->boards[i];
		e->boards[i].used = suite_uses(e->suite, &e->lab->boards[i]) &&
				    pl_engine__board_allowed(e->opts,
							     &e->lab->boards[i]);
	}
	pl_store_recover(e->store, recover_cb, e, NULL);
	close_dead_suites(e);
	/* boards set aside by earlier suites (on_leased applies them): a
	 * store that cannot say which must not have them driven */
	err = pl_store_list_quarantine(e->store, &e->quarantine,
				       &e->nquarantine);
	if (err) {
		fprintf(stderr, "patchlab: cannot read the quarantined boards "
			"of %s: %s\n", e->db_used, pl_strerror(err));
		return err;
	}
	err = pl_leases_open(&e->leases, &e->loop, e->store, 0);
	if (err) {
		fprintf(stderr, "patchlab: cannot take board leases: %s\n",
			pl_strerror(err));
		return err;
	}
	pl_leases_set_log(e->leases, &e->log);
	pl_leases_set_lost_cb(e->leases, on_lease_lost, e);
	/* the hardware lock: no other patchlab process, whatever its store,
	 * drives these boards while we hold them */
	err = pl_leases_set_lab(e->leases, e->lab->file);
	if (err) {
		fprintf(stderr, "patchlab: cannot lock the boards of %s: %s\n",
			e->lab->file, pl_strerror(err));
		return err;
	}
	return 0;
}

/* Images in memory, so a transfer never waits on the disk. */
static int load_images(struct pl_engine *e)
{
	e->images = calloc(e->suite->nimages + 1, sizeof(*e->images));
	if (!e->images)
		return -ENOMEM;
	for (size_t i = 0; i < e->suite->nimages; i++) {
		int err = pl_image_load(&e->suite->images[i],
					&e->images[e->nimages]);

		if (err) {
			fprintf(stderr, "patchlab: %s: cannot read image %s: %s\n",
				e->suite->file, e->suite->images[i].path,
				pl_strerror(err));
			return err;
		}
		e->nimages++;
	}
	/* each board's own images, for the boards the suite uses */
	for (size_t b = 0; b < e->nboards; b++) {
		struct engine_board *eb = &e->boards[b];

		if (!eb->used || !eb->cfg->nimages)
			continue;
		eb->images = calloc(eb->cfg->nimages, sizeof(*eb->images));
		if (!eb->images)
			return -ENOMEM;
		for (size_t i = 0; i < eb->cfg->nimages; i++) {
			int err = pl_image_load(&eb->cfg->images[i],
						&eb->images[eb->nimages]);

			if (err) {
				fprintf(stderr, "patchlab: %s: board %s: cannot "
					"read image %s: %s\n", e->lab->file,
					eb->cfg->id, eb->cfg->images[i].path,
					pl_strerror(err));
				return err;
			}
			eb->nimages++;
		}
	}
	return 0;
}

static int open_host(struct pl_engine *e)
{
	struct pl_lua_host_config hc = { 0 };
	char lib_root[PATH_MAX];
	int err;

	e->scen_root = strdup(e->suite->scenarios_dir);
	if (!e->scen_root)
		return -ENOMEM;
	hc.scenarios_root = e->scen_root;
	hc.module_path = e->suite->scenario_path;
	hc.root_display = "scenarios";
	/* lib.* from patchlab's own scenario library when the suite's
	 * scenarios have none (a lab repository of its own) */
	if (pl_data_path(lib_root, sizeof(lib_root), "scenarios") == 0)
		hc.library_root = lib_root;
	hc.log = e->log;
	err = pl_lua_host_open(&e->host, &hc);
	if (err) {
		fprintf(stderr, "patchlab: cannot start the Lua host: %s\n",
			pl_strerror(err));
		return err;
	}
	pl_lapi_register(e->host, e->images, e->nimages);
	e->env = (struct pl_run_env){
		.loop = &e->loop, .host = e->host, .store = e->store,
		.api = &pl_lapi_run_api, .log = &e->log,
		.ended = on_run_ended, .user_data = e,
	};
	return 0;
}

/* --only N (replay): every spec but the N-th counts as done. */
static int select_only(struct pl_engine *e)
{
	unsigned only = e->opts->only;

	if (!only)
		return 0;
	if (only > e->nspecs) {
		fprintf(stderr, "patchlab: the suite has %zu runs, not %u\n",
			e->nspecs, only);
		return -EINVAL;
	}
	for (size_t i = 0; i < e->nspecs; i++)
		e->specs[i].started = i + 1 != only;
	e->done = e->nspecs - 1;
	return 0;
}

static void begin_suite(struct pl_engine *e)
{
	const struct pl_engine_output *o = e->opts->output;
	struct pl_suite_info si = { 0 };

	e->db_abs = realpath(e->db_used, NULL);
	e->lab_abs = realpath(e->lab->file, NULL);
	e->suite_abs = realpath(e->suite->file, NULL);
	si.name = e->suite->name;
	si.file = e->suite_abs ? e->suite_abs : e->suite->file;
	si.seed = e->opts->seed;
	si.cmdline = e->opts->cmdline;
	pl_store_suite_begin(e->store, &si, &e->suite_id);
	if (o && o->start)
		o->start(o->user_data, e->suite->name, e->lab->name, e->nspecs,
			 e->opts->seed);
}

static void watch_signals(struct pl_engine *e)
{
	uv_signal_init(&e->loop, &e->sigint);
	uv_signal_init(&e->loop, &e->sigterm);
	e->signals = true;
	e->sigint.data = e->sigterm.data = e;
	uv_signal_start(&e->sigint, on_signal, SIGINT);
	uv_signal_start(&e->sigterm, on_signal, SIGTERM);
	/* a runaway script never returns to the loop: the signal also stops
	 * it from the Lua count hook, within a bounded number of
	 * instructions (patchlab/luahost.h) */
	pl_lua_stop_on_signal(SIGINT);
	pl_lua_stop_on_signal(SIGTERM);
}

/* Everything up to the first run. An exit code, 0 when ready to run. */
static int setup(struct pl_engine *e)
{
	int rc = load_config(e);

	if (rc)
		return rc;
	if (open_store(e))
		return PL_EXIT_LAB_ERROR;
	uv_loop_init(&e->loop);
	if (open_boards(e) || load_images(e) || open_host(e) ||
	    pl_engine__expand(e))
		return PL_EXIT_LAB_ERROR;
	if (select_only(e))
		return PL_EXIT_USAGE;
	begin_suite(e);
	watch_signals(e);
	take_leases(e);
	return 0;
}

/* ---------------------------------------------------------------- finish */

static int exit_code(const struct pl_engine *e, const struct pl_gate *g)
{
	switch (pl_gate_result(g)) {
	case PL_GATE_PASS:
		/* cannot happen (the unstarted runs are not-run), but a
		 * stopped suite never passes */
		return e->stopping ? PL_EXIT_LAB_ERROR : PL_EXIT_OK;
	case PL_GATE_FAIL:
		return PL_EXIT_GATE_FAILED;
	default:
		return PL_EXIT_LAB_ERROR;
	}
}

/* Write one report; a report that cannot be written is a lab error. */
static int write_report(struct pl_engine *e, const struct pl_gate_thresholds *th,
			enum pl_report_format fmt, const char *kind,
			const char *path)
{
	const struct pl_engine_output *o = e->opts->output;
	int err;

	if (!path)
		return 0;
	err = pl_report_write(e->store, e->suite_id, th, fmt, path);
	if (err) {
		fprintf(stderr, "patchlab: cannot write the %s report %s: %s\n",
			kind, path, pl_strerror(err));
		return err;
	}
	if (o && o->report)
		o->report(o->user_data, kind, path);
	return 0;
}

/* A stopped suite: every run it did not start is recorded as not run, so
 * no output can read the suite as complete. */
static void record_unstarted(struct pl_engine *e)
{
	char why[120];

	snprintf(why, sizeof(why), "the suite was stopped (%s) before this "
		 "run started", e->stop_why ? e->stop_why : "stopped");
	for (size_t si = 0; si < e->nspecs; si++)
		if (!e->specs[si].started)
			pl_engine__not_run(e, si, why);
}

/* The gate, stored and shown, then the reports. Returns the exit code. */
static int finish(struct pl_engine *e)
{
	const struct pl_engine_output *o = e->opts->output;
	struct pl_gate_thresholds th = { .max_brick_rate = 1 };
	struct pl_gate *gate = NULL;
	int rc = PL_EXIT_LAB_ERROR;

	if (e->stopping)
		record_unstarted(e);

	if (e->suite->gate.given) {
		th.max_brick_rate = e->suite->gate.max_brick_rate;
		th.min_cuts = e->suite->gate.min_cuts;
	}
	if (pl_gate_compute(e->store, e->suite_id, &th, &gate) == 0) {
		if (o && o->gate)
			o->gate(o->user_data, gate);
		pl_store_suite_end(e->store, e->suite_id,
				   pl_gate_result_name(pl_gate_result(gate)));
		rc = exit_code(e, gate);
		pl_gate_free(gate);
	}
	if (write_report(e, &th, PL_REPORT_JSON, "json", e->opts->json_path) |
	    write_report(e, &th, PL_REPORT_JUNIT, "junit", e->opts->junit_path) |
	    write_report(e, &th, PL_REPORT_HTML, "html", e->opts->html_path))
		rc = PL_EXIT_LAB_ERROR;
	return rc;
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

/* Let the drivers finish what closing started (a killed QEMU to reap, a
 * PDU's last answer), for at most a few seconds; then close whatever is
 * left. */
static void drain_loop(struct pl_engine *e)
{
	uv_timer_t grace;

	if (e->signals) {
		uv_close((uv_handle_t *)&e->sigint, NULL);
		uv_close((uv_handle_t *)&e->sigterm, NULL);
	}
	/* a uv_stop() left from the scheduler would end the grace run at
	 * once: one pass without waiting consumes it */
	uv_run(&e->loop, UV_RUN_NOWAIT);
	uv_timer_init(&e->loop, &grace);
	uv_timer_start(&grace, on_grace, 5000, 0);
	uv_unref((uv_handle_t *)&grace);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&grace, NULL);
	uv_walk(&e->loop, close_walk, NULL);
	/* a uv_stop() made before the loop ever ran (every run refused at
	 * once) makes the first uv_run return at once: run it twice */
	uv_run(&e->loop, UV_RUN_DEFAULT);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	uv_loop_close(&e->loop);
}

/* Free everything; power off every board. Returns the number of boards
 * whose power-off failed (their output may still be on). */
static unsigned teardown(struct pl_engine *e, bool loop_ready)
{
	unsigned power_failed = 0;

	pl_lua_host_free(e->host);
	for (size_t i = 0; e->boards && i < e->nboards; i++) {
		if (pl_board_close(e->boards[i].board)) /* power off */
			power_failed++;
		for (size_t k = 0; k < e->boards[i].nimages; k++)
			pl_image_free(e->boards[i].images[k]);
		free(e->boards[i].images);
	}
	/* Released after the power is off: the next holder finds it safe. */
	pl_leases_close(e->leases);
	free(e->boards);
	free(e->lease_order);
	pl_store_quarantine_free(e->quarantine, e->nquarantine);
	for (size_t i = 0; i < e->nimages; i++)
		pl_image_free(e->images[i]);
	free(e->images);
	for (size_t i = 0; i < e->nspecs; i++) {
		json_decref(e->specs[i].cut);
		json_decref(e->specs[i].params);
		free(e->specs[i].not_run);
	}
	free(e->specs);
	for (size_t i = 0; i < e->nsweeps; i++)
		pl_sweep_free(&e->sweeps[i].plan);
	free(e->sweeps);
	if (loop_ready)
		drain_loop(e);
	pl_store_close(e->store);
	free(e->scen_root);
	free(e->db_path);
	free(e->db_abs);
	free(e->lab_abs);
	free(e->suite_abs);
	free(e->log_dir);
	pl_suite_free(e->suite);
	pl_lab_free(e->lab);
	return power_failed;
}

/* ---------------------------------------------------------- power off */

/* Power-offs sent again before a board that still answers is reported on
 * (about a second each: a relay silent for a few seconds gets through) */
#define OFF_ATTEMPTS 8

struct off_check {
	struct pl_engine *e;
	size_t pending;
	unsigned still_on;
};

static void on_off_checked(struct pl_board *b, bool off, unsigned retried,
			   void *ud)
{
	struct off_check *oc = ud;

	oc->pending--;
	if (!off) {
		oc->still_on++;
		pl_log(pl_board_log(b), PL_LOG_ERROR, "still answers at its "
		       "prompt after %u power-offs: its power fixture does not "
		       "switch it off; switch it off by hand", retried + 1);
	} else if (retried) {
		pl_log(pl_board_log(b), PL_LOG_WARN, "off after %u power-offs "
		       "sent again (a relay that swallowed a frame)",
		       retried);
	}
}

/* The runs are over and every board was switched off: ask each board that
 * can be asked whether it is (pl_board_check_off()). The number of boards
 * still on. */
static unsigned check_boards_off(struct pl_engine *e)
{
	struct off_check oc = { .e = e };

	for (size_t i = 0; e->boards && i < e->nboards; i++) {
		struct pl_board *b = e->boards[i].board;

		if (!b)
			continue;
		oc.pending++;
		if (pl_board_check_off(b, e->boards[i].cfg->type, OFF_ATTEMPTS,
				       on_off_checked, &oc))
			oc.pending--; /* cannot be asked */
	}
	while (oc.pending)
		uv_run(&e->loop, UV_RUN_ONCE);
	return oc.still_on;
}

int pl_engine_run(const struct pl_engine_opts *opts)
{
	struct pl_engine e = { .opts = opts };
	int rc;

	e.log = (struct pl_log){ .max = PL_LOG_WARN };
	/* PL_LOG=info|debug shows more of what the lab does. */
	if (getenv("PL_LOG"))
		pl_log_level_parse(getenv("PL_LOG"), &e.log.max);
	e.started_ns = pl_now_ns();
	rc = setup(&e);
	if (!rc) {
		schedule(&e);
		if (e.running > 0 || e.done < e.nspecs)
			uv_run(&e.loop, UV_RUN_DEFAULT);
		rc = finish(&e);
		if (check_boards_off(&e)) {
			fprintf(stderr, "patchlab: a board still runs after its "
				"power-off: lab error\n");
			rc = PL_EXIT_LAB_ERROR;
		}
	}
	if (teardown(&e, e.store != NULL)) {
		/* the board named itself in the log; a pass must not stand */
		fprintf(stderr, "patchlab: a board's power could not be switched "
			"off at the end: lab error\n");
		rc = PL_EXIT_LAB_ERROR;
	}
	return rc;
}
