/* SPDX-License-Identifier: MIT */
/*
 * One board run (patchlab/run.h): start, end, verdict, record.
 *
 * Section map:
 *   accessors    what the lab API and the engine read of a run
 *   verdict      pl_run_set_verdict() and the classification table
 *   record       timeline events, the aim, the final record
 *   life         start -> Lua run -> end -> power off -> recovery -> record
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"
#include "patchlab/clock.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/strbuf.h"

/* Without a run_timeout in the suite, a run may take this long. */
#define RUN_TIMEOUT_DEFAULT_MS (10 * 60 * 1000)

/* ------------------------------------------------------------ accessors */

struct pl_board *pl_run_board(const struct pl_run *r) { return r->board; }
const struct pl_board_cfg *pl_run_board_cfg(const struct pl_run *r) { return r->bcfg; }
const struct pl_board_type *pl_run_type(const struct pl_run *r) { return r->type; }
size_t pl_run_index(const struct pl_run *r) { return r->index; }
uint64_t pl_run_seed(const struct pl_run *r) { return r->seed; }
uint64_t pl_run_started_ns(const struct pl_run *r) { return r->started_ns; }
struct pl_lua_run *pl_run_lua(const struct pl_run *r)
{
	/* a recovery module running for the run acts through the lab API
	 * as the scenario does */
	return r->rlrun ? r->rlrun : r->lrun;
}
int pl_run_params_ref(const struct pl_run *r) { return r->params_ref; }
void *pl_run_api_state(const struct pl_run *r) { return r->api_state; }
int64_t pl_run_store_id(const struct pl_run *r) { return r->store_id; }

struct pl_run *pl_run_of(lua_State *L)
{
	struct pl_lua_run *run = pl_lua_run_from(L);

	return run ? pl_lua_run_user_data(run) : NULL;
}

const struct pl_image *pl_run_board_image(const struct pl_run *r,
					  const char *name)
{
	for (size_t i = 0; name && i < r->nboard_images; i++)
		if (strcmp(r->board_images[i]->name, name) == 0)
			return r->board_images[i];
	return NULL;
}

const struct pl_image *pl_run_board_image_at(const struct pl_run *r,
					     size_t i)
{
	return i < r->nboard_images ? r->board_images[i] : NULL;
}

long pl_run_learned_ops(const struct pl_run *r)
{
	lua_State *S;
	long ops = -1;

	if (!r->lrun || pl_lua_run_status(r->lrun) != 0)
		return -1;
	S = pl_lua_run_stack(r->lrun);
	if (lua_gettop(S) >= 1 && lua_istable(S, 1)) {
		lua_getfield(S, 1, "ops");
		if (lua_isinteger(S, -1))
			ops = (long)lua_tointeger(S, -1);
		lua_pop(S, 1);
	}
	return ops;
}

/* -------------------------------------------------------------- verdict */

void pl_run_set_verdict(struct pl_run *r, enum pl_verdict v, const char *fmt,
			...)
{
	va_list ap;

	r->verdict = v;
	r->verdict_set = true;
	r->reason[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
		va_end(ap);
	}
}

void pl_run_aim_missed(struct pl_run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->aim_missed)
		return;
	r->aim_missed = true;
	va_start(ap, fmt);
	vsnprintf(r->aim_why, sizeof(r->aim_why), fmt, ap);
	va_end(ap);
}

bool pl_run_verdict(const struct pl_run *r, enum pl_verdict *v,
		    const char **reason)
{
	if (v)
		*v = r->verdict;
	if (reason)
		*reason = r->reason;
	return r->verdict_set;
}

/* A scenario error that is not a check(): its traceback goes to the
 * timeline and the board's log, the verdict is the lab's. */
static void scenario_error(struct pl_run *r, const char *msg)
{
	const char *tb = pl_lua_run_traceback(r->lrun);
	json_t *j = json_pack("{s:s,s:s}", "level", "error", "msg", tb ? tb : "");

	if (j)
		pl_run_record(r, PL_EV_LOG, j);
	json_decref(j);
	pl_log(pl_board_log(r->board), PL_LOG_INFO, "%s", tb ? tb : "");
	pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "scenario error: %s",
			   msg ? msg : "?");
}

/*
 * The verdict of a run whose scenario ended, from how it ended. First
 * matching row wins:
 *
 *   status                    verdict already decided?  verdict
 *   0 (returned)              yes                       kept
 *   0                         no                        pass
 *   -PL_ESCRIPT (raised)      yes (a check() failed)    kept
 *   -PL_ESCRIPT               no                        lab-error (scenario bug)
 *   -PL_EBUDGET               either                    lab-error
 *   -ETIMEDOUT                either                    lab-error
 *   -PL_EFIXTURE              either                    lab-error, and
 *                                                       the board set aside
 *   -PL_ECANCELED             either                    lab-error
 *   any other code            yes                       kept
 *   any other code            no                        lab-error
 */
static void classify(struct pl_run *r)
{
	int status = pl_lua_run_status(r->lrun);
	const char *msg = pl_lua_run_message(r->lrun);

	switch (status) {
	case 0:
		if (!r->verdict_set)
			pl_run_set_verdict(r, PL_VERDICT_PASS,
					   "scenario ended without a verdict");
		break;
	case -PL_ESCRIPT:
		if (!r->verdict_set)
			scenario_error(r, msg);
		break;
	case -PL_EBUDGET:
		pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "%s",
				   msg ? msg : "budget");
		break;
	case -ETIMEDOUT:
		pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "run timeout: %s",
				   msg ? msg : "");
		break;
	case -PL_EFIXTURE:
		pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "%s",
				   msg ? msg : pl_strerror(status));
		/* a fixture that failed (console lost, relay silent, probe
		 * gone, rack frozen) would make every later run on the board
		 * fail the same way, or worse look like the device's fault:
		 * the board is set aside; its later runs are not-run */
		if (r->board && !r->stopping) {
			char why[300];

			snprintf(why, sizeof(why), "set aside after a lab "
				 "fault: %.250s", r->reason);
			pl_board_set_aside(r->board, why);
		}
		break;
	case -PL_ECANCELED:
		pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "%s",
				   msg ? msg : pl_strerror(status));
		break;
	default:
		if (!r->verdict_set)
			pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "%s",
					   msg ? msg : pl_strerror(status));
		break;
	}
}

/* --------------------------------------------------------------- record */

void pl_run_record(struct pl_run *r, enum pl_event_kind kind,
		   const json_t *payload)
{
	char *txt;

	if (!r->store || r->store_id < 0 || !payload)
		return;
	txt = json_dumps(payload, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (txt)
		pl_store_run_event(r->store, r->store_id, pl_now_ns(), kind, txt);
	free(txt);
}

void pl_run_record_aim(struct pl_run *r, const struct pl_cut_point *cp,
		       const json_t *aim)
{
	if (!r->store || r->store_id < 0)
		return;
	if (!r->has_cut)
		pl_store_run_set_cut(r->store, r->store_id, cp);
	if (aim) {
		json_t *ev = json_pack("{s:s,s:s,s:O}", "level", "info",
				       "msg", "cut aimed", "aim", (json_t *)aim);

		/* a log event: the trigger event is the firing's own */
		pl_run_record(r, PL_EV_LOG, ev);
		json_decref(ev);
	}
}

static void on_board_event(void *ud, enum pl_board_event ev, uint64_t t_ns,
			   const char *json)
{
	struct pl_run *r = ud;
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

	if (!r || !r->store || r->store_id < 0)
		return;
	/* a script's log lines are capped per run (a loop of log.info must
	 * not grow the store without bound); the drop is noted at the end */
	if (ev == PL_BEV_LOG && r->nlog >= PL_RUN_LOG_MAX) {
		r->log_dropped++;
		return;
	}
	if (ev == PL_BEV_LOG)
		r->nlog++;
	pl_store_run_event(r->store, r->store_id, t_ns, map[ev], json);
}

/* The verdict event carries the evidence the gate does not: the reason
 * and what the scenario used of its Lua budgets. */
static json_t *verdict_event(const struct pl_run *r)
{
	const struct pl_run_cfg *c = r->rcfg;
	json_t *j = json_pack("{s:s,s:s}", "verdict",
			      pl_verdict_name(r->verdict), "reason", r->reason);

	if (j && r->lrun)
		json_object_set_new(j, "budget", json_pack(
			"{s:I,s:I,s:I,s:I}",
			"instructions", (json_int_t)pl_lua_run_instructions(r->lrun),
			"instr_limit", (json_int_t)(c ? c->budget.instructions : 0),
			"mem_peak", (json_int_t)pl_lua_run_mem_peak(r->lrun),
			"mem_limit", (json_int_t)(c ? c->budget.memory : 0)));
	return j;
}

/* ----------------------------------------------------------------- life */

static void on_handle_free(uv_handle_t *h)
{
	free(h);
}

/* The last step of every run: record it, tell the owner, free it. Power
 * is off already (or the board was never opened). */
static void finish(struct pl_run *r)
{
	json_t *ev = verdict_event(r);

	if (r->store && r->store_id >= 0) {
		if (r->log_dropped) {
			json_t *note = json_pack("{s:s,s:s,s:I}", "level",
						 "warn", "msg", "log capped: "
						 "later lines not stored",
						 "dropped",
						 (json_int_t)r->log_dropped);

			pl_run_record(r, PL_EV_LOG, note);
			json_decref(note);
		}
		pl_run_record(r, PL_EV_VERDICT, ev);
		pl_store_run_end(r->store, r->store_id, r->verdict, r->reason);
	}
	json_decref(ev);
	pl_board_settle_free(r->settle);
	if (r->board)
		pl_board_set_event_sink(r->board, NULL, NULL);
	if (r->env.ended)
		r->env.ended(r, r->env.user_data);
	if (r->api_state && r->env.api)
		r->env.api->release(r, r->api_state);
	if (r->lrun) {
		if (r->params_ref != LUA_NOREF)
			luaL_unref(pl_lua_host_state(r->env.host),
				   LUA_REGISTRYINDEX, r->params_ref);
		pl_lua_run_free(r->lrun);
	}
	if (r->timeout)
		uv_close((uv_handle_t *)r->timeout, on_handle_free);
	json_decref(r->params);
	free(r->api_state);
	free(r->scenario_path);
	free(r->chunk);
	free(r);
}

static int start_scenario(struct pl_run *r, const struct pl_run_spec *s);
static void on_lua_done(struct pl_lua_run *run, void *ud);

/* Did the device come through the cut? Only such a verdict claims the
 * point was survived; a brick or a failure under any cut is the device's,
 * wherever the cut landed. */
static bool survived(enum pl_verdict v)
{
	return v == PL_VERDICT_PASS || v == PL_VERDICT_ROLLED_BACK;
}

/* The run ends. A cut that missed its aim on every attempt leaves the
 * point it stands for untested: a survival is not the device's verdict
 * then, but the lab's. A brick or a failure stands, the miss noted. */
static void finish_attempts(struct pl_run *r)
{
	char was[200];

	if (r->aim_missed && survived(r->verdict)) {
		char tries[48] = "";

		snprintf(was, sizeof(was), "%s: %.180s",
			 pl_verdict_name(r->verdict), r->reason);
		if (r->attempt > 1)
			snprintf(tries, sizeof(tries), " on each of %u attempts",
				 r->attempt);
		pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "the cut missed its "
				   "aim%s (%s): the point was not tested, and "
				   "what the device did is not its verdict (%s)",
				   tries, r->aim_why, was);
	} else if (r->aim_missed && r->verdict != PL_VERDICT_LAB_ERROR &&
		   r->verdict != PL_VERDICT_NOT_RUN) {
		json_t *note = json_pack("{s:s,s:s,s:s}", "level", "warn",
					 "msg", "the cut missed its aim; the "
					 "device's verdict stands (it did not "
					 "survive a cut)", "why", r->aim_why);

		pl_run_record(r, PL_EV_LOG, note);
		json_decref(note);
	}
	finish(r);
}

/* Start the scenario again on the same record. */
static void on_restart(uv_timer_t *t)
{
	struct pl_run *r = t->data;
	struct pl_run_spec s = { .scenario_path = r->scenario_path,
				 .chunk = r->chunk, .bcfg = r->bcfg,
				 .seed = r->seed, .rcfg = r->rcfg };
	int err;

	if (r->stopping || pl_board_quarantined(r->board) ||
	    pl_board_set_aside_for_lab(r->board)) {
		finish_attempts(r);
		return;
	}
	if (r->lrun) {
		if (r->params_ref != LUA_NOREF)
			luaL_unref(pl_lua_host_state(r->env.host),
				   LUA_REGISTRYINDEX, r->params_ref);
		r->params_ref = LUA_NOREF;
		pl_lua_run_free(r->lrun);
		r->lrun = NULL;
	}
	if (r->env.api) {
		r->env.api->release(r, r->api_state);
		memset(r->api_state, 0, r->env.api->state_size ?
			r->env.api->state_size : 1);
		r->env.api->init(r, r->api_state);
	}
	r->attempt++;
	r->aim_missed = false;
	r->aim_why[0] = '\0';
	r->verdict_set = false;
	r->verdict = PL_VERDICT_PASS;
	r->reason[0] = '\0';
	r->ended = false;
	r->done_early = false;
	err = start_scenario(r, &s);
	if (!err && r->done_early) {
		on_lua_done(r->lrun, r);
		return;
	}
	if (err) {
		const char *msg = r->lrun ? pl_lua_run_message(r->lrun) : NULL;

		pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "attempt %u could "
				   "not start: %s", r->attempt,
				   msg ? msg : pl_strerror(err));
		r->ended = true;
		if (r->env.api)
			r->env.api->end(r, r->api_state);
		pl_board_set_power(r->board, false, NULL, NULL);
		finish(r);
	}
}

/* A cut missed its aim and attempts are left: note it, then the scenario
 * runs again from its start (on the next loop pass: not from inside the
 * callbacks of the attempt that ended). */
static void again(struct pl_run *r)
{
	json_t *note = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s}", "level", "warn",
				 "msg", "the cut missed its aim: the run "
				 "starts again", "why", r->aim_why,
				 "attempt", (int)r->attempt,
				 "would_be", pl_verdict_name(r->verdict),
				 "reason", r->reason);

	pl_run_record(r, PL_EV_LOG, note);
	json_decref(note);
	pl_log(pl_board_log(r->board), PL_LOG_WARN, "run %zu attempt %u: %s; "
	       "again", r->index + 1, r->attempt, r->aim_why);
	uv_timer_start(r->timeout, on_restart, 0, 0);
}

static void power_off_and_judge(struct pl_run *r)
{
	bool retry = r->aim_missed && survived(r->verdict) && !r->stopping &&
		     r->attempt < PL_RUN_AIM_ATTEMPTS && r->timeout;

	/* Power off, whatever happened, and the boot-mode line released
	 * (a scenario may have held it) */
	pl_board_set_power(r->board, false, NULL, NULL);
	pl_board_boot_mode_release(r->board);
	if (retry) {
		again(r);
		return;
	}
	if (r->verdict == PL_VERDICT_BRICKED && !r->stopping &&
	    pl_run__try_recovery(r, finish_attempts))
		return;
	if (r->verdict == PL_VERDICT_BRICKED)
		pl_board_quarantine(r->board, "bricked and no recovery");
	finish_attempts(r);
}

/* The settled line came (or not) after the scenario ended: say so, then
 * the power goes. */
static void on_settled(struct pl_board *b, bool settled, uint64_t waited_ns,
		       void *ud)
{
	struct pl_run *r = ud;
	json_t *note;

	(void)b;
	r->settling = false;
	note = json_pack("{s:s,s:s,s:I,s:b}", "level", settled ? "info" :
			 "warn", "msg", settled ?
			 "end of run: the lab's power-off waited for the boot "
			 "to settle" :
			 "end of run: the lab's power-off came before the "
			 "boot settled (the commit may be undone)",
			 "waited_us", (json_int_t)(waited_ns / 1000u),
			 "settled", settled);
	pl_run_record(r, PL_EV_LOG, note);
	json_decref(note);
	power_off_and_judge(r);
}

/* The scenario is done. A boot the board announced but has not committed
 * yet (its type's settled line) is let settle first, up to the type's
 * boot timeout, so that the lab's own power-off does not undo it; a
 * controller that stops does not wait. */
static void after_run(struct pl_run *r)
{
	uint64_t wait_ms = r->type->boot_timeout_ms ? r->type->boot_timeout_ms :
						       10000u;

	if (!r->stopping && pl_board_settle_pending(r->settle) &&
	    pl_board_settle_wait(r->settle, wait_ms, on_settled, r) == 0) {
		r->settling = true;
		return;
	}
	power_off_and_judge(r);
}

/* The health check's answer: a probe that cannot read the board after a
 * device verdict says the lab failed (a rack frozen, a probe gone), so
 * the verdict is not the device's. */
static void on_health(struct pl_probe *p, int status, const void *data,
		      size_t len, void *ud)
{
	struct pl_run *r = ud;
	char was[200], why[300];

	(void)p;
	(void)data;
	(void)len;
	if (status && status != -PL_ECANCELED) {
		snprintf(was, sizeof(was), "%.199s", r->reason);
		pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "%s after the run, "
				   "but the probe did not answer a health check "
				   "(%s): the lab, not the device, failed",
				   was, pl_strerror(status));
		snprintf(why, sizeof(why), "set aside: probe health check "
			 "failed: %s", pl_strerror(status));
		pl_board_set_aside(r->board, why);
	}
	after_run(r);
}

static void on_probe_barrier(struct pl_probe *p, int status, const void *data,
			     size_t len, void *ud)
{
	struct pl_run *r = ud;
	struct pl_probe_req halt = { .op = PL_PROBE_HALT };
	struct pl_probe_req read = { .op = PL_PROBE_READ, .len = 4,
				     .cb = on_health, .user_data = r };

	(void)status;
	(void)data;
	(void)len;
	/* A device verdict from a lab that stopped answering would blame
	 * the device: before it stands, the probe must read the board. */
	if ((r->verdict == PL_VERDICT_FAIL ||
	     r->verdict == PL_VERDICT_BRICKED) && !r->stopping &&
	    r->type->flash.size) {
		read.addr = r->type->flash.base;
		pl_probe_submit(p, &halt);
		if (pl_probe_submit(p, &read) == 0)
			return;
	}
	after_run(r);
}

static void on_lua_done(struct pl_lua_run *run, void *ud)
{
	struct pl_run *r = ud;

	/* A scenario that never waits ends inside pl_lua_run_start():
	 * finish once pl_run_start() is done with r. */
	if (r->starting) {
		r->done_early = true;
		return;
	}
	if (r->ended)
		return;
	r->ended = true;
	if (r->timeout)
		uv_timer_stop(r->timeout);
	if (r->env.api)
		r->env.api->end(r, r->api_state);
	classify(r);
	/* Freed triggers may have queued probe requests (halt, breakpoints
	 * off) that need the power on: let the probe's queue drain first. */
	if (pl_board_probe(r->board)) {
		struct pl_probe_req req = { .op = PL_PROBE_CONNECT,
					    .cb = on_probe_barrier,
					    .user_data = r };

		if (pl_probe_submit(pl_board_probe(r->board), &req) == 0)
			return;
	}
	after_run(r);
}

/* The run timeout has its own timer: no wait of the scenario's (sleep,
 * power cycle) can stop or re-arm it. */
static void on_run_timeout(uv_timer_t *t)
{
	struct pl_run *r = t->data;

	pl_lua_run_cancel(r->lrun, -ETIMEDOUT, "the run took too long");
}

void pl_run_cancel(struct pl_run *r, int code, const char *why, bool stop)
{
	if (stop)
		r->stopping = true;
	/* a stop does not wait for a boot to settle: the power goes now */
	if (stop && r->settling)
		pl_board_settle_cancel(r->settle);
	/* a recovery module after the scenario: the recovery fails (the
	 * lab's fault), which releases the board */
	if (r->rlrun && r->ended) {
		pl_lua_run_cancel(r->rlrun, code, why); /* may free r */
		return;
	}
	if (r->lrun)
		pl_lua_run_cancel(r->lrun, code, why);
}

/* The command that replays the run: it names the run, so it comes once
 * the run has its id; absolute paths, so it works from any directory. */
static void record_replay(struct pl_run *r, const struct pl_run_spec *s)
{
	struct pl_strbuf cmd = { 0 };

	pl_strbuf_printf(&cmd, "patchlab replay %" PRId64 " --db ", r->store_id);
	pl_strbuf_shell_word(&cmd, s->replay_db ? s->replay_db : "?");
	pl_strbuf_puts(&cmd, " --lab ");
	pl_strbuf_shell_word(&cmd, s->replay_lab ? s->replay_lab : "?");
	if (cmd.s)
		pl_store_run_set_replay(r->store, r->store_id, cmd.s);
	pl_strbuf_free(&cmd);
}

static void record_begin(struct pl_run *r, const struct pl_run_spec *s)
{
	struct pl_run_info info = { 0 };
	char *params_txt = NULL;
	int err;

	if (!r->store)
		return;
	if (s->params)
		params_txt = json_dumps(s->params, JSON_COMPACT | JSON_SORT_KEYS);
	info.suite_id = s->suite_id;
	info.board_id = s->bcfg->id;
	info.board_type = s->bcfg->type->name;
	info.scenario = s->chunk;
	info.params_json = params_txt;
	info.seed = s->seed;
	info.console_log = s->console_log;
	info.cut = s->cut;
	info.image = s->image;
	err = pl_store_run_begin(r->store, &info, &r->store_id);
	free(params_txt);
	if (err) {
		r->store_id = -1;
		pl_log(r->env.log, PL_LOG_ERROR, "cannot record run: %s",
		       pl_strerror(err));
		return;
	}
	record_replay(r, s);
}

/* The chunk's argument and the `params` global. */
static int build_params(lua_State *L, void *ud)
{
	struct pl_run *r = ud;

	pl_run__push_json(L, r->params, 0);
	lua_pushvalue(L, -1);
	r->params_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

static int open_lua(struct pl_run *r, const struct pl_run_spec *s)
{
	struct pl_lua_run_config lc = { 0 };

	lc.path = s->scenario_path;
	lc.chunkname = s->chunk;
	lc.board = s->bcfg->id;
	lc.seed = s->seed;
	lc.instr_limit = s->rcfg->budget.instructions;
	lc.mem_limit = s->rcfg->budget.memory;
	lc.params_fn = build_params;
	lc.params_ud = r;
	lc.log = *pl_board_log(r->board);
	lc.done = on_lua_done;
	lc.user_data = r;
	return pl_lua_run_open(r->env.host, &r->lrun, &lc);
}

/* Open the scenario and start it; 0 or why it could not start. */
static int start_scenario(struct pl_run *r, const struct pl_run_spec *s)
{
	uint64_t timeout = s->rcfg->budget.run_timeout_ms ?
			   s->rcfg->budget.run_timeout_ms : RUN_TIMEOUT_DEFAULT_MS;
	int err = open_lua(r, s);

	if (err)
		return err;
	if (!r->timeout) {
		r->timeout = malloc(sizeof(*r->timeout));
		if (!r->timeout)
			return -ENOMEM;
		uv_timer_init(r->env.loop, r->timeout);
		r->timeout->data = r;
	}
	/* armed before the scenario runs: its first instruction counts */
	uv_update_time(r->env.loop);
	uv_timer_start(r->timeout, on_run_timeout, timeout, 0);
	/* the same deadline in the Lua count hook: a runaway script that
	 * never returns to the loop is still stopped at run_timeout */
	pl_lua_run_set_deadline(r->lrun, pl_now_ns() + timeout * 1000000u);
	r->starting = true;
	err = pl_lua_run_start(r->lrun);
	r->starting = false;
	return err;
}

static struct pl_run *run_new(const struct pl_run_env *env,
			      const struct pl_run_spec *s)
{
	struct pl_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (env->api) {
		r->api_state = calloc(1, env->api->state_size ?
					 env->api->state_size : 1);
		if (!r->api_state) {
			free(r);
			return NULL;
		}
	}
	r->env = *env;
	r->store = env->store;
	r->board = s->board;
	r->bcfg = s->bcfg;
	r->type = s->bcfg->type;
	r->rcfg = s->rcfg;
	r->index = s->index;
	r->repeat = s->repeat;
	r->seed = s->seed;
	r->params_ref = LUA_NOREF;
	r->store_id = -1;
	r->has_cut = s->cut.phase != PL_CUT_NONE;
	r->recovery_image = s->recovery_image;
	r->board_images = s->board_images;
	r->nboard_images = s->nboard_images;
	r->params = json_incref(s->scenario_params ? s->scenario_params :
				s->params);
	if (!r->params)
		r->params = json_object();
	r->started_ns = pl_now_ns();
	r->attempt = 1;
	r->scenario_path = s->scenario_path ? strdup(s->scenario_path) : NULL;
	r->chunk = s->chunk ? strdup(s->chunk) : NULL;
	return r;
}

int pl_run_start(struct pl_run **out, const struct pl_run_env *env,
		 const struct pl_run_spec *s)
{
	struct pl_run *r = run_new(env, s);
	int err;

	if (!r)
		return -ENOMEM;
	*out = r;
	record_begin(r, s);
	if (s->not_run) {
		pl_run_set_verdict(r, PL_VERDICT_NOT_RUN, "%s", s->not_run);
		finish(r);
		return 0;
	}
	if (!r->board) {
		pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR, "board %s: %s",
				   s->bcfg->id, s->unusable ? s->unusable : "?");
		finish(r);
		return 0;
	}
	pl_board_set_event_sink(r->board, on_board_event, r);
	if (s->console_log)
		pl_board_console_log(r->board, s->console_log);
	/* boots and their commit, for the end's power-off (no watch, no
	 * wait: a board type without a settled line) */
	if (pl_board_settle_watch(&r->settle, r->board, r->type))
		pl_log(pl_board_log(r->board), PL_LOG_WARN, "cannot watch "
		       "for settled boots: the end of the run will not wait "
		       "for one");
	if (env->api)
		env->api->init(r, r->api_state);
	err = start_scenario(r, s);
	if (!err && r->done_early) {
		on_lua_done(r->lrun, r); /* may free r */
		return 0;
	}
	if (err) {
		const char *msg = r->lrun ? pl_lua_run_message(r->lrun) : NULL;

		pl_run_set_verdict(r, PL_VERDICT_LAB_ERROR,
				   "scenario could not start: %s",
				   msg ? msg : pl_strerror(err));
		r->ended = true;
		if (env->api)
			env->api->end(r, r->api_state);
		pl_board_set_power(r->board, false, NULL, NULL);
		finish(r);
	}
	return 0;
}
