/* SPDX-License-Identifier: MIT */
/*
 * The lab API: fault.cut{...} and the trigger objects it returns
 * (fired, info, disarm). The trigger itself fires in C (trigger.c); this
 * file turns a scenario's table into a trigger spec, keeps the run's
 * triggers and records what each was aimed at.
 *
 * Limits (docs/scenario-api.md): at most LAPI_MAX_ARMED triggers armed at
 * once in a run (one that fired or was disarmed frees its place), and at
 * most LAPI_MAX_TRIGGERS in all, so a loop cannot exhaust the host.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lapi_internal.h"
#include "patchlab/error.h"

#define LAPI_MAX_ARMED 16
#define LAPI_MAX_TRIGGERS 1024

/* A trigger object: its run (checked against the calling run) and index. */
struct trig_obj {
	struct pl_run *run;
	uint64_t run_started_ns;   /* with run: tells a new run at the same address */
	size_t index;
};

static const struct pl_lua_class trigger_class;

/* ---------------------------------------------------------- the spec */

/* Read a value or a {lo, hi} window of field `key` from the spec table. */
static void window(lua_State *L, int t, const char *key, uint64_t *lo,
		   uint64_t *hi, bool required)
{
	lua_getfield(L, t, key);
	if (lua_istable(L, -1)) {
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1) ||
		    lua_tointeger(L, -2) < 0 ||
		    lua_tointeger(L, -1) < lua_tointeger(L, -2))
			luaL_error(L, "fault.cut: '%s' must be a number or "
				      "{lo, hi} with 0 <= lo <= hi", key);
		*lo = (uint64_t)lua_tointeger(L, -2);
		*hi = (uint64_t)lua_tointeger(L, -1);
		lua_pop(L, 3);
		return;
	}
	if (lua_isnil(L, -1)) {
		if (required)
			luaL_error(L, "fault.cut: '%s' is required here", key);
		lua_pop(L, 1);
		return;
	}
	if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
		luaL_error(L, "fault.cut: '%s' must be a non-negative integer",
			   key);
	*lo = *hi = (uint64_t)lua_tointeger(L, -1);
	lua_pop(L, 1);
}

/* What fault.cut's table says, before any board is looked at. */
struct cut_args {
	struct pl_trigger_spec spec;
	double tolerance_ms;
	const char *action, *symbol, *syms[4];
	int nsyms;
};

static void check_action(lua_State *L, struct cut_args *c)
{
	lua_getfield(L, 1, "action");
	c->action = luaL_optstring(L, -1, "cut");
	if (strcmp(c->action, "cut") == 0)
		c->spec.action = PL_TRIG_CUT;
	else if (strcmp(c->action, "glitch") == 0)
		c->spec.action = PL_TRIG_GLITCH;
	else
		luaL_error(L, "fault.cut: unknown action '%s' (cut, glitch)",
			   c->action);
	lua_getfield(L, 1, "glitch_ms");
	c->spec.glitch_ms = (unsigned)luaL_optinteger(L, -1, 5);
}

static void check_symbols(lua_State *L, struct cut_args *c)
{
	lua_getfield(L, 1, "symbol");
	c->symbol = luaL_optstring(L, -1, NULL);
	lua_getfield(L, 1, "symbols");
	if (lua_isnil(L, -1))
		return;
	luaL_checktype(L, -1, LUA_TTABLE);
	c->nsyms = (int)luaL_len(L, -1);
	if (c->nsyms < 1 || c->nsyms > 4)
		luaL_error(L, "fault.cut: 'symbols' takes 1 to 4 names");
	for (int i = 0; i < c->nsyms; i++) {
		lua_rawgeti(L, -1, i + 1);
		c->syms[i] = luaL_checkstring(L, -1);
		lua_pop(L, 1);
	}
}

static void check_cut_args(lua_State *L, struct cut_args *c)
{
	const char *on;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "on");
	on = luaL_checkstring(L, -1);
	if (pl_trigger_kind_parse(on, &c->spec.kind))
		luaL_error(L, "fault.cut: unknown 'on' value '%s' (console, "
			   "breakpoint, bytes, progress, time)", on);
	check_action(L, c);
	lua_getfield(L, 1, "delay_ms");
	c->spec.delay_us = (uint64_t)(luaL_optnumber(L, -1, 0) * 1000.0);
	lua_getfield(L, 1, "tolerance_ms");
	c->tolerance_ms = luaL_optnumber(L, -1, 0);
	if (!lua_isnil(L, -1) &&
	    !(c->tolerance_ms >= 0.01 && c->tolerance_ms <= 60000))
		luaL_error(L, "fault.cut: 'tolerance_ms' must be in 0.01 .. "
			   "60000");
	lua_getfield(L, 1, "pattern");
	c->spec.pattern = luaL_optstring(L, -1, NULL);
	lua_getfield(L, 1, "address");
	c->spec.bp_addr[0] = (uint64_t)luaL_optinteger(L, -1, 0);
	if (c->spec.bp_addr[0])
		c->spec.nbp = 1;
	lua_getfield(L, 1, "resume_us");
	c->spec.resume_us = (uint64_t)luaL_optinteger(L, -1, 0);
	lua_getfield(L, 1, "phi");
	c->spec.phi = luaL_optnumber(L, -1, 0);
	if (c->spec.phi < 0 || c->spec.phi >= 1)
		luaL_error(L, "fault.cut: 'phi' is a fraction, 0 < phi < 1");
	check_symbols(L, c);
}

/* The breakpoint addresses of the symbols the board type declares. */
static void resolve_breakpoints(lua_State *L, struct lapi_run *a,
				struct cut_args *c)
{
	if (c->symbol) {
		c->syms[0] = c->symbol;
		c->nsyms = 1;
	}
	for (int i = 0; i < c->nsyms; i++)
		if (pl_board_type_breakpoint(a->type, c->syms[i],
					     &c->spec.bp_addr[i]))
			luaL_error(L, "fault.cut: board type %s declares no "
				   "breakpoint '%s'", a->type->name, c->syms[i]);
	if (c->nsyms)
		c->spec.nbp = (unsigned)c->nsyms;
	if (!c->spec.nbp)
		luaL_error(L, "fault.cut: a breakpoint cut needs 'symbol', "
			   "'symbols' or 'address'");
}

/* The kind's value (or window) and what it needs of the board type. */
static void check_aim(lua_State *L, struct lapi_run *a, struct cut_args *c)
{
	struct pl_trigger_spec *s = &c->spec;

	switch (s->kind) {
	case PL_TRIG_CONSOLE:
		window(L, 1, "nth", &s->value_lo, &s->value_hi, false);
		break;
	case PL_TRIG_BREAKPOINT:
		window(L, 1, "hit", &s->value_lo, &s->value_hi, false);
		resolve_breakpoints(L, a, c);
		break;
	case PL_TRIG_BYTES:
		window(L, 1, "offset", &s->value_lo, &s->value_hi, true);
		break;
	case PL_TRIG_PROGRESS:
		window(L, 1, "percent", &s->value_lo, &s->value_hi, true);
		if (!s->pattern && a->type->update.progress)
			s->pattern = a->type->update.progress->regex;
		break;
	case PL_TRIG_TIME:
		window(L, 1, "after_ms", &s->value_lo, &s->value_hi, true);
		break;
	}
}

/* What the trigger was aimed at, for the run's record: built with
 * jansson, so a script's strings are escaped (or refused as invalid
 * UTF-8: then the field is left out). */
static json_t *aim_of(const struct cut_args *c, const struct pl_trigger *t)
{
	const struct pl_trigger_info *i = pl_trigger_info(t);
	json_t *j = json_pack("{s:s,s:s,s:I,s:[I,I]}",
			      "aimed_by", pl_trigger_kind_name(i->kind),
			      "action", c->action, "value", (json_int_t)i->value,
			      "window", (json_int_t)c->spec.value_lo,
			      (json_int_t)c->spec.value_hi);

	if (!j)
		return NULL;
	if (c->spec.pattern)
		json_object_set_new(j, "pattern", json_string(c->spec.pattern));
	if (c->spec.delay_us)
		json_object_set_new(j, "delay_ms",
				    json_real((double)c->spec.delay_us / 1000.0));
	if (c->spec.phi > 0)
		json_object_set_new(j, "phi", json_real(c->spec.phi));
	for (int k = 0; k < c->nsyms; k++) {
		if (!json_object_get(j, "symbols"))
			json_object_set_new(j, "symbols", json_array());
		json_array_append_new(json_object_get(j, "symbols"),
				      json_string(c->syms[k]));
	}
	return j;
}

/* ------------------------------------------------------- the triggers */

static bool trigger_live(const struct lapi_trigger *lt)
{
	return lt->t && !pl_trigger_info(lt->t)->fired;
}

static size_t live_triggers(const struct lapi_run *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->ntriggers; i++)
		n += trigger_live(&a->triggers[i]);
	return n;
}

/* Room for one more trigger; raises at the limits. */
static void reserve_trigger(lua_State *L, struct lapi_run *a)
{
	if (live_triggers(a) >= LAPI_MAX_ARMED)
		luaL_error(L, "fault.cut: at most %d triggers armed at once "
			   "(disarm one first)", LAPI_MAX_ARMED);
	if (a->ntriggers >= LAPI_MAX_TRIGGERS)
		luaL_error(L, "fault.cut: at most %d triggers per run",
			   LAPI_MAX_TRIGGERS);
	if (a->ntriggers == a->captriggers) {
		size_t cap = a->captriggers ? a->captriggers * 2 : 8;
		struct lapi_trigger *t = realloc(a->triggers, cap * sizeof(*t));

		if (!t)
			luaL_error(L, "out of memory");
		a->triggers = t;
		a->captriggers = cap;
	}
}

/* The probe's queue drained: the breakpoints are set, the target runs.
 * Hand the trigger object to the waiting scenario. */
static void on_trigger_armed(struct pl_probe *p, int status, const void *data,
			     size_t len, void *ud)
{
	struct lapi_run *a = ud;
	struct pl_lua_run *run = pl_run_lua(a->run);
	lua_State *S = pl_lua_run_stack(run);
	const struct pl_trigger_info *i;

	if (a->armed_ref == LUA_NOREF)
		return; /* the wait was cancelled */
	i = pl_trigger_info(a->triggers[a->ntriggers - 1].t);
	if (i->status < 0) {
		/* A cut that cannot be aimed is the lab's failure: never let
		 * the run go on and end as if the device had passed. */
		char msg[160];

		snprintf(msg, sizeof(msg), "fault.cut: the probe could not set "
			 "the breakpoint: %s", pl_strerror(i->status));
		luaL_unref(S, LUA_REGISTRYINDEX, a->armed_ref);
		a->armed_ref = LUA_NOREF;
		pl_lua_run_fail(run, -PL_EFIXTURE, msg);
		return;
	}
	lua_rawgeti(S, LUA_REGISTRYINDEX, a->armed_ref);
	luaL_unref(S, LUA_REGISTRYINDEX, a->armed_ref);
	a->armed_ref = LUA_NOREF;
	pl_lua_run_resume(run, 1);
}

static void cancel_armed(void *ud)
{
	struct lapi_run *a = ud;

	if (a->armed_ref != LUA_NOREF) {
		luaL_unref(pl_lua_run_stack(pl_run_lua(a->run)),
			   LUA_REGISTRYINDEX, a->armed_ref);
		a->armed_ref = LUA_NOREF;
	}
}

/* A breakpoint cut returns once the probe has set the breakpoints and let
 * the target run: an update started before that could run the first
 * operations unwatched. The trigger object is on top of L. */
static int wait_armed(lua_State *L, struct lapi_run *a)
{
	struct pl_probe_req req = { .op = PL_PROBE_CONNECT,
				    .cb = on_trigger_armed, .user_data = a };
	struct pl_lua_run *run = pl_lua_wait_prepare(L);

	lua_pushvalue(L, -1);
	a->armed_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	pl_lua_wait_begin(run, &(struct pl_lua_wait){
		.what = "fault.cut", .cancel = cancel_armed, .user_data = a });
	if (pl_probe_submit(pl_board_probe(a->board), &req))
		on_trigger_armed(pl_board_probe(a->board), 0, NULL, 0, a);
	return pl_lua_wait_yield(L);
}

static int l_fault_cut(lua_State *L)
{
	struct cut_args c = { 0 };
	struct lapi_run *a;
	struct trig_obj *obj;
	struct pl_trigger *t;
	const char *why = NULL;
	int err;

	check_cut_args(L, &c);
	a = lapi_or_raise(L);
	check_aim(L, a, &c);
	/* how far it may miss its instant (the line's wait for the loop
	 * plus the command's lateness): the board type's cut_tolerance
	 * unless the scenario says; past it the run starts again (run.h) */
	if (c.tolerance_ms == 0)
		c.tolerance_ms = (double)a->type->cut_tolerance_ms;
	reserve_trigger(L, a);
	c.spec.seed = pl_run_seed(a->run) * 0x100000001b3ull + a->ntriggers + 1;
	/* the object first (it may raise), then the trigger it names */
	obj = pl_lua_object_new(L, &trigger_class);
	err = pl_trigger_arm(&t, a->board, &c.spec, &why);
	if (err)
		return luaL_error(L, "fault.cut: %s", why ? why : pl_strerror(err));
	obj->run = a->run;
	obj->run_started_ns = pl_run_started_ns(a->run);
	obj->index = a->ntriggers;
	a->triggers[a->ntriggers++] = (struct lapi_trigger){
		.t = t, .aim = aim_of(&c, t),
		.tolerance_ns = (uint64_t)(c.tolerance_ms * 1e6),
		.delay_us = c.spec.delay_us };
	pl_lua_object_set_open(obj);
	if (c.spec.kind == PL_TRIG_BREAKPOINT)
		return wait_armed(L, a);
	return 1;
}

/* A console- or time-aimed cut that fired further from its instant than
 * its tolerance did not test the point it stands for: the run says so
 * (and starts again, run.h). */
static void check_aim_kept(struct lapi_run *a, const struct lapi_trigger *lt)
{
	const struct pl_trigger_info *ti = pl_trigger_info(lt->t);
	uint64_t miss = pl_trigger_aim_error_ns(lt->t);

	if (miss <= lt->tolerance_ns)
		return;
	if (ti->kind == PL_TRIG_CONSOLE)
		pl_run_aim_missed(a->run, "a cut %.3f ms after the line '%s' "
				  "left up to %.3f ms late: the line waited "
				  "%.3f ms for the controller's loop, the "
				  "command %.3f ms (tolerance %.3f ms)",
				  (double)lt->delay_us / 1e3, ti->detail,
				  (double)miss / 1e6, (double)ti->lag_ns / 1e6,
				  (double)(miss - ti->lag_ns) / 1e6,
				  (double)lt->tolerance_ns / 1e6);
	else
		pl_run_aim_missed(a->run, "a cut %" PRIu64 " ms after it was "
				  "armed left %.3f ms late (tolerance %.3f ms)",
				  ti->value + lt->delay_us / 1000u,
				  (double)miss / 1e6,
				  (double)lt->tolerance_ns / 1e6);
}

/* A cut whose power command failed (the relay's write, the exec
 * command) left the board powered: whatever the scenario concluded
 * after it, no cut was tested, and the fixture failed. The run is the
 * lab's, the board set aside as after any fixture fault. */
static void check_cut_switched(struct lapi_run *a, const struct lapi_trigger *lt)
{
	const struct pl_trigger_info *ti = pl_trigger_info(lt->t);
	char why[300];

	if (ti->status >= 0)
		return;
	pl_run_set_verdict(a->run, PL_VERDICT_LAB_ERROR, "the cut fired but "
			   "its power command failed (%s): the board was not "
			   "cut, the fixture failed",
			   pl_strerror(ti->status));
	snprintf(why, sizeof(why), "set aside: a cut's power command "
		 "failed: %s", pl_strerror(ti->status));
	pl_board_set_aside(a->board, why);
}

/* The scenario ended: a run whose scenario aimed its own cut (no sweep
 * point) records where the first cut that fired was aimed, for the
 * gate's "where"; then every trigger goes. */
void lapi_triggers_end(struct lapi_run *a)
{
	bool recorded = false;

	for (size_t i = 0; i < a->ntriggers; i++) {
		struct lapi_trigger *lt = &a->triggers[i];
		const struct pl_trigger_info *ti = pl_trigger_info(lt->t);

		if (ti->fired) {
			check_cut_switched(a, lt);
			check_aim_kept(a, lt);
		}

		if (ti->fired && !recorded) {
			struct pl_cut_point cp = {
				.phase = PL_CUT_DURING, .op_index = -1,
				.aimed_by = pl_trigger_kind_name(ti->kind),
				.kind = "update",
			};

			pl_run_record_aim(a->run, &cp, lt->aim);
			recorded = true;
		}
		pl_trigger_free(lt->t);
		json_decref(lt->aim);
	}
	a->ntriggers = 0;
}

/* ----------------------------------------------------- trigger objects */

/* A trigger belongs to its run: from any other run (a module table that
 * outlived its run, say) it is refused, so its freed run is never
 * touched. */
static struct lapi_trigger *check_trigger(lua_State *L)
{
	struct trig_obj *obj = pl_lua_object_check_open(L, 1, &trigger_class);
	struct pl_run *r = pl_run_of(L);
	struct lapi_run *a = r ? pl_run_api_state(r) : NULL;

	if (!a || obj->run != r ||
	    obj->run_started_ns != pl_run_started_ns(r) ||
	    obj->index >= a->ntriggers)
		luaL_error(L, "the trigger's run has ended");
	return &a->triggers[obj->index];
}

static int l_trigger_fired(lua_State *L)
{
	lua_pushboolean(L, pl_trigger_info(check_trigger(L)->t)->fired);
	return 1;
}

static void on_disarmed(struct pl_probe *p, int status, const void *data,
			size_t len, void *ud)
{
	/* the barrier's status does not matter: the requests before it ran */
	lapi_on_probe_done(p, 0, NULL, 0, ud);
}

/* t:disarm(): waits until the probe has removed the trigger's
 * breakpoints, so the board's next boot cannot stop on them. */
static int l_trigger_disarm(lua_State *L)
{
	struct lapi_trigger *lt = check_trigger(L);
	struct lapi_run *a = lapi_or_raise(L);
	struct pl_probe_req req = { .op = PL_PROBE_CONNECT, .cb = on_disarmed,
				    .user_data = a };

	pl_trigger_disarm(lt->t);
	if (!pl_board_probe(a->board))
		return 0;
	lapi_probe_begin(L, a, "disarm");
	if (pl_probe_submit(pl_board_probe(a->board), &req))
		lapi_on_probe_done(pl_board_probe(a->board), 0, NULL, 0, a);
	return pl_lua_wait_yield(L);
}

static double rel_ms(const struct lapi_run *a, uint64_t t)
{
	return t ? (double)(t - pl_run_started_ns(a->run)) / 1e6 : -1;
}

static int l_trigger_info(lua_State *L)
{
	const struct pl_trigger_info *i = pl_trigger_info(check_trigger(L)->t);
	struct lapi_run *a = lapi_or_raise(L);

	lua_createtable(L, 0, 8);
	lua_pushstring(L, pl_trigger_kind_name(i->kind));
	lua_setfield(L, -2, "kind");
	lua_pushinteger(L, (lua_Integer)i->value);
	lua_setfield(L, -2, "value");
	lua_pushboolean(L, i->fired);
	lua_setfield(L, -2, "fired");
	lua_pushstring(L, i->detail);
	lua_setfield(L, -2, "detail");
	lua_pushnumber(L, rel_ms(a, i->seen_ns));
	lua_setfield(L, -2, "seen_ms");
	lua_pushnumber(L, rel_ms(a, i->issued_ns));
	lua_setfield(L, -2, "issued_ms");
	lua_pushnumber(L, rel_ms(a, i->done_ns));
	lua_setfield(L, -2, "done_ms");
	lua_pushnumber(L, i->issued_ns >= i->seen_ns && i->seen_ns ?
			  (double)(i->issued_ns - i->seen_ns) / 1e3 : -1);
	lua_setfield(L, -2, "latency_us");
	return 1;
}

/* t:wait(ms) ends: fired (true) or timed out (false). */
static void wait_done(struct lapi_run *a, bool fired)
{
	struct pl_lua_run *run = pl_run_lua(a->run);

	uv_timer_stop(a->timer);
	if (a->wait_trigger)
		pl_trigger_set_callback(a->wait_trigger, NULL, NULL);
	a->wait_trigger = NULL;
	lua_pushboolean(pl_lua_run_stack(run), fired);
	pl_lua_run_resume(run, 1);
}

static void on_wait_fired(struct pl_trigger *t, void *ud)
{
	(void)t;
	wait_done(ud, true);
}

static void on_wait_timeout(uv_timer_t *timer)
{
	wait_done(timer->data, false);
}

static void cancel_wait(void *ud)
{
	struct lapi_run *a = ud;

	uv_timer_stop(a->timer);
	if (a->wait_trigger)
		pl_trigger_set_callback(a->wait_trigger, NULL, NULL);
	a->wait_trigger = NULL;
}

/* t:wait(timeout_ms): true once the trigger has fired and its power
 * command completed (at once if it already had), false when timeout_ms
 * passed first (the trigger stays armed). */
static int l_trigger_wait(lua_State *L)
{
	struct lapi_trigger *lt = check_trigger(L);
	lua_Integer ms = luaL_checkinteger(L, 2);
	struct lapi_run *a = lapi_or_raise(L);
	const struct pl_trigger_info *i = pl_trigger_info(lt->t);

	luaL_argcheck(L, ms >= 0, 2, "negative time");
	if (i->completed) {
		lua_pushboolean(L, 1);
		return 1;
	}
	if (lapi_ensure_timer(a))
		return luaL_error(L, "out of memory");
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = "trigger wait", .cancel = cancel_wait,
		.user_data = a });
	a->wait_trigger = lt->t;
	pl_trigger_set_callback(lt->t, on_wait_fired, a);
	a->timer->data = a;
	uv_timer_start(a->timer, on_wait_timeout, (uint64_t)ms, 0);
	return pl_lua_wait_yield(L);
}

static const luaL_Reg trigger_methods[] = {
	{ "fired", l_trigger_fired },
	{ "wait", l_trigger_wait },
	{ "info", l_trigger_info },
	{ "disarm", l_trigger_disarm },
	{ NULL, NULL },
};

/* Triggers are owned by their run and freed when it ends: closing the
 * object only makes it unusable. */
static const struct pl_lua_class trigger_class = {
	.name = "patchlab.trigger",
	.kind = "trigger",
	.size = sizeof(struct trig_obj),
	.methods = trigger_methods,
};

void lapi_register_fault(struct pl_lua_host *h, lua_State *L)
{
	static const luaL_Reg fault_fns[] = {
		{ "cut", l_fault_cut },
		{ NULL, NULL },
	};

	pl_lua_class_register(L, &trigger_class);
	lapi_set_table_global(h, L, "fault", fault_fns);
}
