/* SPDX-License-Identifier: MIT */
/*
 * Recovery of a board that did not boot (step 4 of a run's life,
 * patchlab/run.h), by its type's `recovery.method`:
 *
 *   probe   write the recovery image into its region through the probe;
 *   exec    run the type's command (a vendor flasher, an SD-card mux, a
 *           USB boot-mode tool) with the board off; exit 0: restored;
 *   lua     run the type's module (scenarios/lib, the suite's
 *           scenario_path, patchlab's library) as a Lua run of its own, in
 *           the scenarios' sandbox and budgets, with the board off: it
 *           holds the boot-mode line, powers on and talks to the board
 *           (a ROM's restore dialog); returned: restored; raised, over a
 *           budget, past its timeout or stopped: the lab failed;
 *   manual  nothing to try: the board is set aside until a person restores
 *           it;
 *   none    the same, said as "no recovery".
 *
 * Whatever the method, the boot-mode line is released and the power off
 * when the restore ends. Then power on and wait for a boot. A board that boots again ends the run
 * `recovered` (still a failure of the update). One that does not is
 * quarantined and the run stays `bricked`. When the recovery itself fails
 * through the lab (the probe write, the command, the power) nothing was
 * learned about the device: the run ends `lab-error`, naming the fixture,
 * and the board is set aside.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"
#include "patchlab/clock.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/strbuf.h"
#include "patchlab/update.h"

/* The image not restored: the board quarantined (a device outcome) or, lab
 * true, set aside (the lab failed); its power off. */
static void recovery_failed(struct pl_run *r, bool lab, const char *why)
{
	if (lab)
		pl_board_set_aside(r->board, why);
	else
		pl_board_quarantine(r->board, why);
	pl_board_set_power(r->board, false, NULL, NULL);
	r->recovery_done(r);
}

/* The lab could not recover the board: not the device's verdict. */
static void recovery_lab_fault(struct pl_run *r, const char *fixture,
			       const char *why)
{
	char q[300], was[200];

	/* the reason is rewritten: read it first (set here, not through
	 * run.c, which calls into this file) */
	snprintf(was, sizeof(was), "%.199s", r->reason);
	r->verdict = PL_VERDICT_LAB_ERROR;
	r->verdict_set = true;
	snprintf(r->reason, sizeof(r->reason), "did not boot after the run "
		 "(%s), and the recovery failed in the lab: %s: %s", was,
		 fixture, why);
	snprintf(q, sizeof(q), "set aside: recovery %s failed: %s", fixture,
		 why);
	recovery_failed(r, true, q);
}

static void on_recovery_boot(struct pl_op *op, const struct pl_op_result *res,
			     void *ud)
{
	struct pl_run *r = ud;
	char why[300];
	size_t l;

	/* res is op's own result: read it before op goes */
	pl_board_set_power(r->board, false, NULL, NULL);
	if (res->status) {
		snprintf(why, sizeof(why), "recovery image did not boot: %s",
			 res->reason);
		pl_op_free(op);
		recovery_failed(r, false, why);
		return;
	}
	l = strlen(r->reason);
	snprintf(r->reason + l, sizeof(r->reason) - l,
		 "; restored through %s%s (booted %s)",
		 r->type->recovery.method == PL_RECOVERY_EXEC ? "its recovery "
		 "command" : r->type->recovery.method == PL_RECOVERY_LUA ?
		 "its recovery module " : "the probe",
		 r->type->recovery.method == PL_RECOVERY_LUA ?
		 r->type->recovery.lua_module : "", res->version);
	pl_op_free(op);
	r->verdict = PL_VERDICT_RECOVERED;
	r->recovery_done(r);
}

/* The image is back: power on and wait for it to boot. */
static void boot_restored(struct pl_run *r)
{
	struct pl_op *op = NULL;
	int err = pl_op_wait_boot(&op, r->board, r->type, 0, on_recovery_boot, r);

	if (!err)
		err = pl_board_set_power(r->board, true, NULL, NULL);
	if (err) {
		pl_op_free(op);
		recovery_lab_fault(r, "power", pl_strerror(err));
	}
}

/* The restore ended: its owner hears of it once. */
static void rtimer_free(uv_handle_t *h)
{
	free(h);
}

static void rtimer_close(struct pl_run *r)
{
	if (!r->rtimer)
		return;
	uv_timer_stop(r->rtimer);
	uv_close((uv_handle_t *)r->rtimer, rtimer_free);
	r->rtimer = NULL;
}

/* Start the run's one recovery timer (none may be running); 0 or
 * -ENOMEM. */
static int rtimer_start(struct pl_run *r, uv_timer_cb cb, uint64_t ms)
{
	r->rtimer = malloc(sizeof(*r->rtimer));
	if (!r->rtimer)
		return -ENOMEM;
	uv_timer_init(r->env.loop, r->rtimer);
	r->rtimer->data = r;
	uv_timer_start(r->rtimer, cb, ms, 0);
	return 0;
}

/* The owner hears of the restore's end, once. */
static void restore_report(struct pl_run *r)
{
	pl_run_restore_cb cb = r->restore_cb;

	r->restore_cb = NULL;
	if (cb)
		cb(r, r->rstatus, r->rfixture, r->rwhy, r->restore_ud);
}

static void on_release_settled(uv_timer_t *t)
{
	struct pl_run *r = t->data;

	rtimer_close(r);
	restore_report(r);
}

/* The restore ended: the boot-mode line released and the power off
 * whatever the method did (issued now: a relay takes its commands in
 * order), and, when the line was held, its settle waited before the owner
 * may power the board on again (the line's relay and the power relay are
 * separate: the release must reach the board first). */
static void restore_done(struct pl_run *r, int status, const char *fixture,
			 const char *why)
{
	bool held = pl_board_boot_mode_held(r->board);

	r->rstatus = status;
	snprintf(r->rfixture, sizeof(r->rfixture), "%s", fixture);
	snprintf(r->rwhy, sizeof(r->rwhy), "%s", why);
	rtimer_close(r);
	if (held || r->type->recovery.method == PL_RECOVERY_LUA ||
	    r->type->recovery.boot_mode) {
		pl_board_set_power(r->board, false, NULL, NULL);
		pl_board_boot_mode_release(r->board);
	}
	if (held && r->type->boot_mode.settle_ms &&
	    rtimer_start(r, on_release_settled,
			 r->type->boot_mode.settle_ms) == 0)
		return;
	restore_report(r);
}

static void on_recovery_flashed(struct pl_probe *p, int status,
				const void *data, size_t len, void *ud)
{
	struct pl_run *r = ud;

	(void)p;
	(void)data;
	(void)len;
	restore_done(r, status, "probe write", status ? pl_strerror(status) : "");
}

static int restore_probe(struct pl_run *r)
{
	const struct pl_board_type *t = r->type;
	const struct pl_image *img = r->recovery_image;
	struct pl_probe_req req = { .op = PL_PROBE_FLASH,
				    .cb = on_recovery_flashed, .user_data = r };

	if (!pl_board_probe(r->board) || !t->recovery.image)
		return -ENOTSUP;
	if (!img) {
		pl_log(pl_board_log(r->board), PL_LOG_WARN,
		       "no suite image '%s' to recover with", t->recovery.image);
		return -ENOTSUP;
	}
	req.addr = t->flash.base + (t->recovery.region ? t->recovery.region->offset : 0);
	req.data = img->data;
	req.len = img->len;
	return pl_probe_submit(pl_board_probe(r->board), &req);
}

/* ------------------------------------------------------------- exec */

/* One run of the recovery command: the child, its output (the tail is
 * kept for the reason), its deadline. Freed once all three are closed. */
struct rexec {
	struct pl_run *r;
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t timer;
	int open;             /* handles not yet closed */
	bool exited, timed_out;
	int64_t status;
	int term_signal;
	char tail[200];
	size_t ntail;
	char buf[512];
};

/* The recovery command's argument with %{board}, %{type}, %{image} (the
 * recovery image's path) and %{NAME} replaced (config/schema.c); NULL with
 * why in err. */
static char *expand_arg(const struct pl_run *r, const char *arg, char *err,
			size_t nerr)
{
	char why[256];
	char *v = pl_board_cfg_subst_image(r->bcfg, arg, true,
					   r->recovery_image ?
					   r->recovery_image->path : NULL,
					   why, sizeof(why));

	if (!v)
		snprintf(err, nerr, "recovery.command: %s", why);
	return v;
}

static void rexec_closed(uv_handle_t *h)
{
	struct rexec *x = h->data;
	struct pl_run *r = x->r;
	char why[300];

	if (--x->open > 0)
		return;
	if (!r) {
		/* its run let go of it (pl_run_restore_cancel) */
		free(x);
		return;
	}
	r->rexec = NULL;
	if (x->timed_out)
		snprintf(why, sizeof(why), "timed out after %llu ms (killed)",
			 (unsigned long long)r->type->recovery.timeout_ms);
	else if (x->term_signal)
		snprintf(why, sizeof(why), "killed by signal %d", x->term_signal);
	else if (x->status)
		snprintf(why, sizeof(why), "exit %lld", (long long)x->status);
	else
		why[0] = '\0';
	if (why[0] && x->ntail) {
		size_t l = strlen(why);

		snprintf(why + l, sizeof(why) - l, ": %.*s", (int)x->ntail,
			 x->tail);
	}
	free(x);
	if (r->stopping && why[0])
		snprintf(why, sizeof(why), "the controller stopped");
	restore_done(r, why[0] ? -PL_EFIXTURE : 0, "command", why);
}

static void rexec_close_all(struct rexec *x)
{
	if (!uv_is_closing((uv_handle_t *)&x->timer))
		uv_close((uv_handle_t *)&x->timer, rexec_closed);
	if (!uv_is_closing((uv_handle_t *)&x->out))
		uv_close((uv_handle_t *)&x->out, rexec_closed);
	if (!uv_is_closing((uv_handle_t *)&x->proc))
		uv_close((uv_handle_t *)&x->proc, rexec_closed);
}

static void rexec_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct rexec *x = h->data;

	(void)hint;
	*b = uv_buf_init(x->buf, sizeof(x->buf));
}

/* Keep the last line-ish of output, printable, for the reason. */
static void rexec_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct rexec *x = s->data;

	if (n < 0) {
		uv_read_stop(s);
		if (x->exited)
			rexec_close_all(x);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = b->base[i];

		if (ch == '\n' || ch == '\r') {
			if (i + 1 < n)
				x->ntail = 0; /* a new line starts */
			continue;
		}
		if ((unsigned char)ch < 0x20 || (unsigned char)ch >= 0x7f)
			ch = '?';
		if (x->ntail < sizeof(x->tail))
			x->tail[x->ntail++] = ch;
	}
}

static void rexec_exit(uv_process_t *p, int64_t status, int sig)
{
	struct rexec *x = p->data;

	x->exited = true;
	x->status = status;
	x->term_signal = x->timed_out ? 0 : sig;
	uv_timer_stop(&x->timer);
	/* the output's EOF may still come: closing the pipe drops the rest,
	 * which only the tail would have shown */
	rexec_close_all(x);
}

static void rexec_timeout(uv_timer_t *t)
{
	struct rexec *x = t->data;

	x->timed_out = true;
	uv_process_kill(&x->proc, SIGKILL);
}

/* Start the command; 0, or an error with why filled. */
static int rexec_start(struct pl_run *r, char *why, size_t nwhy)
{
	const struct pl_board_type *t = r->type;
	uv_process_options_t o = { 0 };
	uv_stdio_container_t io[3];
	char **argv = calloc(t->recovery.ncommand + 1, sizeof(*argv));
	struct rexec *x = calloc(1, sizeof(*x));
	int err = 0;

	if (!argv || !x) {
		err = -ENOMEM;
		snprintf(why, nwhy, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < t->recovery.ncommand && !err; i++) {
		argv[i] = expand_arg(r, t->recovery.command[i], why, nwhy);
		if (!argv[i])
			err = -EINVAL;
	}
	if (err)
		goto out;
	x->r = r;
	uv_pipe_init(r->env.loop, &x->out, 0);
	uv_timer_init(r->env.loop, &x->timer);
	x->out.data = x->timer.data = x->proc.data = x;
	/* stderr says why a flasher failed: its tail goes in the reason */
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_IGNORE;
	io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[2].data.stream = (uv_stream_t *)&x->out;
	o.file = argv[0];
	o.args = argv;
	o.stdio = io;
	o.stdio_count = 3;
	o.exit_cb = rexec_exit;
	err = uv_spawn(r->env.loop, &x->proc, &o);
	x->open = 3;
	r->rexec = x;
	if (err) {
		/* reported like any failed command, once the handles that
		 * were initialised are closed */
		x->status = -1;
		x->ntail = (size_t)snprintf(x->tail, sizeof(x->tail),
					    "cannot start %s: %s", argv[0],
					    uv_strerror(err));
		if (x->ntail >= sizeof(x->tail))
			x->ntail = sizeof(x->tail) - 1;
		x->exited = true;
		rexec_close_all(x);
		x = NULL;
		err = 0;
		goto out;
	}
	uv_read_start((uv_stream_t *)&x->out, rexec_alloc, rexec_read);
	uv_timer_start(&x->timer, rexec_timeout, t->recovery.timeout_ms, 0);
	pl_log(pl_board_log(r->board), PL_LOG_INFO, "recovery: running %s",
	       argv[0]);
	x = NULL;
out:
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
	free(x);
	return err;
}

/* recovery.boot_mode: powered on in boot mode, run the command. */
static void on_on_for_exec(struct pl_power *p, int status,
			   const struct pl_power_times *t, void *ud)
{
	struct pl_run *r = ud;
	char why[300];

	(void)p;
	(void)t;
	if (status && status != -PL_ECANCELED) {
		restore_done(r, status, "power", pl_strerror(status));
		return;
	}
	if (rexec_start(r, why, sizeof(why)))
		restore_done(r, -PL_EFIXTURE, "command", why);
}

/* The line settled: power on in boot mode. */
static void on_settled_for_exec(uv_timer_t *tm)
{
	struct pl_run *r = tm->data;
	int status;

	rtimer_close(r);
	status = pl_board_set_power(r->board, true, on_on_for_exec, r);
	if (status)
		restore_done(r, status, "power", pl_strerror(status));
}

static void on_held_for_exec(struct pl_power *p, int status,
			     const struct pl_power_times *t, void *ud)
{
	struct pl_run *r = ud;

	(void)p;
	(void)t;
	if (status && status != -PL_ECANCELED) {
		restore_done(r, -PL_EFIXTURE, "boot-mode line",
			     pl_strerror(status));
		return;
	}
	if (rtimer_start(r, on_settled_for_exec, r->type->boot_mode.settle_ms))
		restore_done(r, -ENOMEM, "power", pl_strerror(-ENOMEM));
}

/* The board is off: run the command. */
static void on_off_for_exec(struct pl_power *p, int status,
			    const struct pl_power_times *t, void *ud)
{
	struct pl_run *r = ud;
	char why[300];

	(void)p;
	(void)t;
	if (status) {
		restore_done(r, status, "power", pl_strerror(status));
		return;
	}
	if (r->type->recovery.boot_mode) {
		/* the lab puts the board in boot mode for the command */
		status = pl_board_boot_mode(r->board, true, on_held_for_exec, r);
		if (status)
			restore_done(r, -PL_EFIXTURE, "boot-mode line",
				     pl_strerror(status));
		return;
	}
	if (rexec_start(r, why, sizeof(why)))
		restore_done(r, -PL_EFIXTURE, "command", why);
}

/* -------------------------------------------------------------- lua */

/* The recovery run's chunk: require the module, call its recover (or the
 * module itself when it is a function) with the argument table. It
 * returns true (or nothing): restored; false, why: not. */
static const char recovery_chunk[] =
	"local p = ...\n"
	"if p.image_name then p.image = images[p.image_name] end\n"
	"local m = require(p.module)\n"
	"local f = m\n"
	"if type(m) == 'table' then f = m.recover end\n"
	"if type(f) ~= 'function' then\n"
	"  error(p.module .. ' gives no recover function (return a function, "
	"or a table with recover)', 0)\n"
	"end\n"
	"local ok, why = f(p)\n"
	"if ok == false then\n"
	"  error(p.module .. ': recover returned false: ' .. tostring(why), 0)\n"
	"end\n"
	"return true\n";

/* The module's argument: what exec gets in its argv, as fields. */
static json_t *recovery_params(const struct pl_run *r)
{
	const struct pl_board_type *t = r->type;
	const struct pl_value *maps[2] = { r->bcfg->lab_vars, r->bcfg->vars };
	json_t *p = json_pack("{s:s,s:s,s:s,s:I,s:b}", "module",
			      t->recovery.lua_module, "board", r->bcfg->id,
			      "type", t->name, "timeout_ms",
			      (json_int_t)t->recovery.timeout_ms, "boot_mode",
			      pl_board_has_boot_mode(r->board));
	json_t *vars = json_object();

	if (!p || !vars) {
		json_decref(p);
		json_decref(vars);
		return NULL;
	}
	/* the board's vars over the lab's, as %{NAME} resolves them */
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; maps[k] && maps[k]->kind == PL_VALUE_MAP &&
				   i < maps[k]->n; i++)
			json_object_set_new(vars, maps[k]->keys[i], json_string(
				maps[k]->items[i]->str ? maps[k]->items[i]->str :
				""));
	json_object_set_new(p, "vars", vars);
	if (r->recovery_image) {
		json_object_set_new(p, "image_path",
				    json_string(r->recovery_image->path));
		json_object_set_new(p, "image_name",
				    json_string(r->recovery_image->name));
	}
	return p;
}

static int push_recovery_params(lua_State *L, void *ud)
{
	struct pl_run *r = ud;

	pl_run__push_json(L, r->rparams, 0);
	return 0;
}

/* The module's run is over (or let go of): its timer, its argument. */
static void rlua_release(struct pl_run *r)
{
	struct pl_lua_run *run = r->rlrun;

	r->rlrun = NULL;
	rtimer_close(r);
	json_decref(r->rparams);
	r->rparams = NULL;
	pl_lua_run_free(run);
}

/* Keep what went wrong on the run's timeline: the module's traceback. */
static void rlua_record_error(struct pl_run *r, struct pl_lua_run *run)
{
	const char *tb = pl_lua_run_traceback(run);
	json_t *j = json_pack("{s:s,s:s}", "level", "error", "msg", tb ? tb : "");
	char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	/* straight to the store: run.c calls into this file, not the
	 * reverse (tests/layering) */
	if (txt && r->store && r->store_id >= 0)
		pl_store_run_event(r->store, r->store_id, pl_now_ns(),
				   PL_EV_LOG, txt);
	free(txt);
	json_decref(j);
	pl_log(pl_board_log(r->board), PL_LOG_ERROR, "recovery module %s: %s",
	       r->type->recovery.lua_module, tb ? tb : "?");
}

static void rlua_finish(struct pl_run *r)
{
	struct pl_lua_run *run = r->rlrun;
	int status = pl_lua_run_status(run);
	const char *msg = pl_lua_run_message(run);
	char fixture[200], why[300];

	snprintf(fixture, sizeof(fixture), "board %s: recovery module %s",
		 r->bcfg->id, r->type->recovery.lua_module);
	if (status == 0) {
		why[0] = '\0';
	} else {
		rlua_record_error(r, run);
		if (r->stopping && status == -PL_ECANCELED)
			snprintf(why, sizeof(why), "the controller stopped (%s)",
				 msg ? msg : "");
		else
			snprintf(why, sizeof(why), "%s", msg ? msg :
				 pl_strerror(status));
	}
	rlua_release(r);
	/* a recovery after the scenario: the lab API's waits and tables
	 * of the module end here as the scenario's did (its end() also
	 * lets go of a restore: our owner hears of this one below) */
	if (r->ended && r->env.api) {
		pl_run_restore_cb cb = r->restore_cb;
		void *ud = r->restore_ud;

		r->restore_cb = NULL;
		r->env.api->end(r, r->api_state);
		r->restore_cb = cb;
		r->restore_ud = ud;
	}
	restore_done(r, status ? -PL_EFIXTURE : 0, fixture, why);
}

static void on_rlua_done(struct pl_lua_run *run, void *ud)
{
	struct pl_run *r = ud;

	(void)run;
	if (r->rstarting) {
		r->rdone_early = true;
		return;
	}
	rlua_finish(r);
}

/* A module that waits on something that never comes: killed at the
 * recovery's timeout (a runaway loop is ended by its deadline). */
static void on_rlua_timeout(uv_timer_t *t)
{
	struct pl_run *r = t->data;
	char why[120];

	snprintf(why, sizeof(why), "recovery timed out after %llu ms",
		 (unsigned long long)r->type->recovery.timeout_ms);
	if (r->rlrun)
		pl_lua_run_cancel(r->rlrun, -ETIMEDOUT, why);
}

/* Start the module; 0 (its end comes through restore_done), or an error
 * with why filled. */
static int rlua_start(struct pl_run *r, char *why, size_t nwhy)
{
	const struct pl_board_type *t = r->type;
	struct pl_lua_run_config lc = { 0 };
	char chunk[200];
	int err;

	snprintf(chunk, sizeof(chunk), "recovery(%s)", t->recovery.lua_module);
	r->rparams = recovery_params(r);
	r->rtimer = malloc(sizeof(*r->rtimer));
	if (!r->rparams || !r->rtimer) {
		free(r->rtimer);
		r->rtimer = NULL;
		json_decref(r->rparams);
		r->rparams = NULL;
		snprintf(why, nwhy, "out of memory");
		return -ENOMEM;
	}
	uv_timer_init(r->env.loop, r->rtimer);
	r->rtimer->data = r;
	lc.source = recovery_chunk;
	lc.chunkname = chunk;
	lc.board = r->bcfg->id;
	lc.seed = r->seed;
	lc.instr_limit = r->rcfg ? r->rcfg->budget.instructions : 0;
	lc.mem_limit = r->rcfg ? r->rcfg->budget.memory : 0;
	lc.params_fn = push_recovery_params;
	lc.params_ud = r;
	lc.log = *pl_board_log(r->board);
	lc.done = on_rlua_done;
	lc.user_data = r;
	err = pl_lua_run_open(r->env.host, &r->rlrun, &lc);
	if (err) {
		snprintf(why, nwhy, "cannot open its Lua run: %s",
			 pl_strerror(err));
		rlua_release(r);
		return err;
	}
	uv_update_time(r->env.loop);
	uv_timer_start(r->rtimer, on_rlua_timeout, t->recovery.timeout_ms, 0);
	pl_lua_run_set_deadline(r->rlrun, pl_now_ns() +
				t->recovery.timeout_ms * 1000000u);
	pl_log(pl_board_log(r->board), PL_LOG_INFO, "recovery: running Lua "
	       "module %s", t->recovery.lua_module);
	r->rstarting = true;
	r->rdone_early = false;
	err = pl_lua_run_start(r->rlrun);
	r->rstarting = false;
	if (err) {
		const char *msg = pl_lua_run_message(r->rlrun);

		snprintf(why, nwhy, "%s", msg ? msg : pl_strerror(err));
		rlua_release(r);
		return err;
	}
	if (r->rdone_early)
		rlua_finish(r);
	return 0;
}

/* The board is off: run the module. */
static void on_off_for_lua(struct pl_power *p, int status,
			   const struct pl_power_times *t, void *ud)
{
	struct pl_run *r = ud;
	char why[300], fixture[200];

	(void)p;
	(void)t;
	if (status) {
		restore_done(r, status, "power", pl_strerror(status));
		return;
	}
	if (rlua_start(r, why, sizeof(why))) {
		snprintf(fixture, sizeof(fixture), "board %s: recovery module %s",
			 r->bcfg->id, r->type->recovery.lua_module);
		restore_done(r, -PL_EFIXTURE, fixture, why);
	}
}

int pl_run_restore(struct pl_run *r, pl_run_restore_cb cb, void *ud)
{
	int err;

	if (r->restore_cb)
		return -EBUSY;
	r->restore_cb = cb;
	r->restore_ud = ud;
	switch (r->type->recovery.method) {
	case PL_RECOVERY_PROBE:
		err = restore_probe(r);
		break;
	case PL_RECOVERY_EXEC:
		err = pl_board_set_power(r->board, false, on_off_for_exec, r);
		break;
	case PL_RECOVERY_LUA:
		err = r->env.host && r->type->recovery.lua_module ?
		      pl_board_set_power(r->board, false, on_off_for_lua, r) :
		      -ENOTSUP;
		break;
	default:
		err = -ENOTSUP;
		break;
	}
	if (err)
		r->restore_cb = NULL;
	return err;
}

void pl_run_restore_cancel(struct pl_run *r)
{
	struct rexec *x = r->rexec;

	r->restore_cb = NULL;
	if (r->rlrun) {
		/* let go of the module (not from inside it: a run does not
		 * cancel its own restore) */
		rlua_release(r);
		pl_board_boot_mode_release(r->board);
	}
	/* a line settling (exec's before its command, any after a
	 * restore) */
	rtimer_close(r);
	if (r->type->recovery.boot_mode)
		pl_board_boot_mode_release(r->board);
	if (!x)
		return;
	/* the child is killed and reaped without its run */
	x->r = NULL;
	r->rexec = NULL;
	if (!x->exited)
		uv_process_kill(&x->proc, SIGKILL);
}

bool pl_run_can_restore(const struct pl_run *r)
{
	const struct pl_board_type *t = r->type;

	if (t->recovery.method == PL_RECOVERY_EXEC)
		return true;
	if (t->recovery.method == PL_RECOVERY_LUA)
		return r->env.host && t->recovery.lua_module;
	return t->recovery.method == PL_RECOVERY_PROBE && r->board &&
	       pl_board_probe(r->board) && t->recovery.image &&
	       r->recovery_image;
}

/* Recovery after a run: the image back, then a boot. */
static void on_restored(struct pl_run *r, int status, const char *fixture,
			const char *why, void *ud)
{
	(void)ud;
	if (status) {
		recovery_lab_fault(r, fixture, why);
		return;
	}
	boot_restored(r);
}

bool pl_run__try_recovery(struct pl_run *r, void (*done)(struct pl_run *r))
{
	int err;

	r->recovery_done = done;
	if (r->type->recovery.method == PL_RECOVERY_MANUAL) {
		pl_board_quarantine(r->board, "set aside for manual recovery "
				    "(recovery: manual): restore it by hand");
		return false;
	}
	err = pl_run_restore(r, on_restored, NULL);
	if (err == -ENOTSUP)
		return false;
	if (err)
		recovery_lab_fault(r, r->type->recovery.method ==
				   PL_RECOVERY_PROBE ? "probe" : "power",
				   pl_strerror(err));
	return true;
}
