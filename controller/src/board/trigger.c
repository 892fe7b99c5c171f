/* SPDX-License-Identifier: MIT */
/*
 * Triggers fire in C, in the callback that sees the event. See trigger.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "patchlab/clock.h"
#include "patchlab/error.h"
#include "patchlab/trigger.h"
#include "cutthread.h"
#include "linematch.h"

struct pl_trigger {
	struct pl_board *b;
	struct pl_trigger_spec spec;
	char *pattern;
	struct pl_trigger_info info;
	struct pl_board_listener listener;
	bool armed;
	bool bp_set;
	unsigned count;            /* matches or breakpoint hits seen */
	uv_timer_t *timer;         /* a breakpoint's resume delay */
	/* A time trigger or a delay after an event fires at an instant, to
	 * the µs: a timerfd (CLOCK_MONOTONIC, absolute, so never early) on
	 * the loop; libuv's timers count whole ms from a cached time. */
	struct precise *precise;
	/* console: when the loop last looked at its fds, for lag_ns */
	struct looklag *lag;
	struct pl_linematch *match;
	void (*cb)(struct pl_trigger *t, void *ud);
	void *cb_ud;
	/* Callbacks still to come from the power or probe layer hold t:
	 * pl_trigger_free() of a busy trigger only marks it, the last
	 * callback frees it. */
	unsigned pending;
	bool zombie;
	bool resumed;  /* the target was let run before the cut */
};

static void destroy(struct pl_trigger *t);

struct precise {
	uv_poll_t poll;
	int fd;
	struct pl_trigger *t;
	uint64_t at_ns;        /* the instant to fire at */
	/* A cut whose driver can make its off one system call is timed on
	 * the cut thread instead (cutthread.h): it issues the shot at the
	 * instant and wakes the loop through async, whatever the loop is
	 * doing then. */
	struct pl_cut cut;
	struct pl_power_shot shot;
	uv_async_t async;
	bool threaded;         /* the instant is the thread's, not over */
	bool firing;           /* inside fire() */
	const char *timed_by;  /* "thread" or "loop" (the trigger event) */
	int handles;           /* poll and async, until closed */
};

/*
 * How long a console line may have waited for the loop. libuv counts the
 * time its poll blocked (UV_METRICS_IDLE_TIME); a prepare callback notes
 * the instant before each poll. A line read after a poll that blocked was
 * there when the poll returned (prep_ns + what it blocked) at the
 * earliest; one read after a poll that did not block (the loop busy) came
 * in after the poll before returned, at the earliest.
 */
struct looklag {
	uv_prepare_t prep;
	uint64_t prep_ns;      /* before this iteration's poll */
	uint64_t idle_at_prep; /* the loop's idle time then */
	uint64_t prev_ret_ns;  /* when the previous iteration's poll returned */
};

/* The timerfd wakes the loop this long before the instant; the rest is
 * waited out on the clock, so a wake-up late by less than this (a busy
 * machine) still fires on time. */
#define PRECISE_LEAD_NS 200000u

/* Drop one pending callback; true when t is gone and must not be touched. */
static bool put(struct pl_trigger *t)
{
	t->pending--;
	if (t->zombie && t->pending == 0) {
		destroy(t);
		return true;
	}
	return t->zombie;
}

static const char *const kind_names[] = {
	[PL_TRIG_CONSOLE] = "console",   [PL_TRIG_BREAKPOINT] = "breakpoint",
	[PL_TRIG_BYTES] = "bytes",       [PL_TRIG_PROGRESS] = "progress",
	[PL_TRIG_TIME] = "time",
};

const char *pl_trigger_kind_name(enum pl_trigger_kind k)
{
	if ((unsigned)k >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "?";
	return kind_names[k];
}

int pl_trigger_kind_parse(const char *s, enum pl_trigger_kind *out)
{
	for (unsigned i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum pl_trigger_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

const struct pl_trigger_info *pl_trigger_info(const struct pl_trigger *t)
{
	return &t->info;
}

void pl_trigger_set_callback(struct pl_trigger *t,
			     void (*cb)(struct pl_trigger *t, void *ud),
			     void *user_data)
{
	t->cb = cb;
	t->cb_ud = user_data;
}

/* splitmix64: a full-period mix of the seed, enough to draw one value. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t draw(const struct pl_trigger_spec *s)
{
	uint64_t span;

	if (s->value_hi <= s->value_lo)
		return s->value_lo;
	span = s->value_hi - s->value_lo + 1;
	return s->value_lo + mix64(s->seed) % span;
}

/*
 * Remove the trigger's breakpoints, halting the target first when it runs
 * under them (halt = false when it is known to be halted: at the hit).
 * Queued on the probe; later requests of anyone run after them.
 */
static void clear_bps(struct pl_trigger *t, bool halt)
{
	struct pl_probe *p;

	/* no board look-up without breakpoints: a trigger without any may
	 * be freed after its board was closed */
	if (!t->bp_set)
		return;
	p = pl_board_probe(t->b);
	if (!p)
		return;
	t->bp_set = false;
	if (halt) {
		struct pl_probe_req h = { .op = PL_PROBE_HALT };

		pl_probe_submit(p, &h);
	}
	for (unsigned i = 0; i < t->spec.nbp; i++) {
		struct pl_probe_req req = { .op = PL_PROBE_BP_CLEAR,
					    .addr = t->spec.bp_addr[i] };

		pl_probe_submit(p, &req);
	}
}

/* ---------------------------------------------------------------- firing */

static void record(struct pl_trigger *t)
{
	const struct pl_trigger_info *i = &t->info;
	json_t *j;

	/* trigger/match_ns/command_ns are the result store's names
	 * (store.h); seen/issued/done the trigger's own. */
	j = json_pack("{s:s,s:s,s:I,s:s,s:i}",
		      "trigger", pl_trigger_kind_name(i->kind),
		      "kind", pl_trigger_kind_name(i->kind),
		      "value", (json_int_t)i->value,
		      "action", t->spec.action == PL_TRIG_GLITCH ? "glitch" : "cut",
		      "status", i->status);
	if (j) {
		const struct { const char *k; uint64_t v; } times[] = {
			{ "armed_ns", i->armed_ns }, { "seen_ns", i->seen_ns },
			{ "issued_ns", i->issued_ns }, { "done_ns", i->done_ns },
			{ "match_ns", i->seen_ns }, { "command_ns", i->issued_ns },
			{ "delay_us", t->spec.delay_us },
			{ "latency_ns", i->issued_ns > i->seen_ns ?
					i->issued_ns - i->seen_ns : 0 },
			/* requested delay_us; what it was, event to command */
			{ "actual_delay_us", i->issued_ns > i->seen_ns ?
					     (i->issued_ns - i->seen_ns) / 1000 : 0 },
			/* the line's wait for the loop, and the whole miss */
			{ "lag_us", i->lag_ns / 1000 },
			{ "aim_error_us", pl_trigger_aim_error_ns(t) / 1000 },
		};

		for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++)
			json_object_set_new(j, times[k].k,
					    json_integer((json_int_t)times[k].v));
		/* what waited out the delay: the cut thread or the loop */
		if (t->precise)
			json_object_set_new(j, "timed_by",
					    json_string(t->precise->timed_by));
	}
	pl_board_event_json(t->b, PL_BEV_TRIGGER, i->seen_ns, j);
}

static void on_power_done(struct pl_power *p, int status,
			  const struct pl_power_times *times, void *ud)
{
	struct pl_trigger *t = ud;

	if (put(t))
		return;
	if (status == -PL_ECANCELED)
		status = 0; /* superseded by a later command: the cut happened */
	t->info.status = status;
	t->info.done_ns = times->done_ns;
	if (!t->info.issued_ns)
		t->info.issued_ns = times->issued_ns;
	t->info.completed = true;
	record(t);
	if (t->cb)
		t->cb(t, t->cb_ud);
}

static void fire(struct pl_trigger *t, uint64_t seen_ns);

/* Take the instant back from the cut thread (it no longer touches p when
 * this returns). True when the thread fired the shot. */
static bool cut_over(struct precise *p)
{
	pl_cut_withdraw(&p->cut);
	p->threaded = false;
	uv_unref((uv_handle_t *)&p->async);
	return pl_power_shot_cancel(&p->shot) == PL_SHOT_FIRED;
}

static void precise_stop(struct pl_trigger *t)
{
	struct precise *p = t->precise;
	struct itimerspec off = { 0 };

	if (!p)
		return;
	uv_poll_stop(&p->poll);
	timerfd_settime(p->fd, 0, &off, NULL);
	/* Stopped while the thread waits: the shot is cancelled. If it fired
	 * already (the instant passed, the loop had not heard yet), the cut
	 * happened and is recorded as one; not when the power was closed
	 * under it (its board is gone). */
	if (p->threaded && cut_over(p) && !p->shot.closed && !p->firing)
		fire(t, t->info.seen_ns);
}

static void stop_watching(struct pl_trigger *t)
{
	t->armed = false;
	if (t->lag)
		uv_prepare_stop(&t->lag->prep);
	pl_board_unlisten(&t->listener);
	if (t->timer)
		uv_timer_stop(t->timer);
	precise_stop(t);
}

/* The cut thread issued the off: the board records it at the shot's
 * time. A command of the loop that came first (it overtook the news)
 * leaves nothing to issue: the cut is recorded with the shot's times. */
static int fire_shot(struct pl_trigger *t, bool *recorded)
{
	struct pl_power_shot *s = &t->precise->shot;
	uint64_t issued = s->issued_ns;
	int serr = s->err, err;

	err = pl_board_power_shot(t->b, s, on_power_done, t);
	if (err != -PL_ECANCELED)
		return err;
	t->pending--;
	t->info.status = serr;
	t->info.issued_ns = t->info.done_ns = issued;
	t->info.completed = true;
	record(t);
	*recorded = true;
	if (t->cb)
		t->cb(t, t->cb_ud);
	return 0;
}

static void fire(struct pl_trigger *t, uint64_t seen_ns)
{
	bool resumed, recorded = false;
	int err;

	if (t->precise)
		t->precise->firing = true;
	stop_watching(t);
	t->info.fired = true;
	if (!t->info.seen_ns)
		t->info.seen_ns = seen_ns;
	resumed = t->resumed;
	t->pending++;
	if (t->spec.action == PL_TRIG_GLITCH)
		err = pl_board_glitch(t->b, t->spec.glitch_ms, on_power_done, t);
	else if (t->precise &&
		 pl_power_shot_state(&t->precise->shot) == PL_SHOT_FIRED)
		err = fire_shot(t, &recorded);
	else
		err = pl_board_set_power(t->b, false, on_power_done, t);
	if (recorded)
		return; /* t may be gone with its callback */
	if (err)
		t->pending--;
	/* The command left before set_power returned: stamp it now (the
	 * command in flight, not the last one completed: an asynchronous
	 * driver such as qemu completes later). */
	t->info.issued_ns = pl_power_current(pl_board_power(t->b))->issued_ns;
	if (resumed) {
		/* A cut during an operation left the debugger waiting on a
		 * running target: take the session back (a halt of a board
		 * without power answers at once). */
		struct pl_probe_req h = { .op = PL_PROBE_HALT };

		pl_probe_submit(pl_board_probe(t->b), &h);
	}
	if (err) {
		t->info.status = err;
		pl_log(pl_board_log(t->b), PL_LOG_ERROR,
		       "trigger %s could not switch the power: %s",
		       pl_trigger_kind_name(t->info.kind), pl_strerror(err));
		t->info.completed = true;
		record(t);
		if (t->cb)
			t->cb(t, t->cb_ud);
	}
}

static void on_timer(uv_timer_t *timer)
{
	struct pl_trigger *t = timer->data;

	fire(t, t->info.seen_ns);
}

static void on_precise(uv_poll_t *h, int status, int events)
{
	struct precise *p = h->data;
	uint64_t n;

	(void)events;
	if (status == 0 && read(p->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return; /* not expired yet (a spurious wake-up) */
	uv_poll_stop(h);
	/* at most PRECISE_LEAD_NS of spinning, only when the wake-up came
	 * early enough: never fire before the instant */
	while (pl_now_ns() < p->at_ns)
		;
	fire(p->t, p->t->info.seen_ns);
}

/* The cut thread is past the instant (loop). */
static void on_cut_async(uv_async_t *h)
{
	struct precise *p = h->data;
	bool fired;

	if (!p->threaded)
		return; /* taken back meanwhile */
	fired = cut_over(p);
	if (p->shot.closed) {
		/* the power was closed under the shot: nothing to switch,
		 * and its board is not ours to touch any more */
		pl_power_shot_release(&p->shot);
		return;
	}
	if (!fired) {
		/* a power command took the shot back and the driver could
		 * not offer it again: switch off on the loop, late */
		pl_power_shot_release(&p->shot);
		p->timed_by = "loop";
	}
	fire(p->t, p->t->info.seen_ns);
}

/* A cut (a glitch is off then on: the loop's) whose driver can make its
 * off one system call: the cut thread waits out the instant and issues
 * it. 0, or a negative code: the loop times it. */
static int thread_at(struct pl_trigger *t)
{
	struct precise *p = t->precise;
	int err;

	if (t->spec.action != PL_TRIG_CUT)
		return -ENOTSUP;
	err = pl_power_shot_arm(pl_board_power(t->b), &p->shot);
	if (err)
		return err;
	p->cut.at_ns = p->at_ns;
	p->cut.shot = &p->shot;
	p->cut.async = &p->async;
	p->threaded = true;
	uv_ref((uv_handle_t *)&p->async);
	err = pl_cut_submit(&p->cut, pl_board_log(t->b));
	if (err) {
		p->threaded = false;
		uv_unref((uv_handle_t *)&p->async);
		pl_power_shot_release(&p->shot);
		return err;
	}
	p->timed_by = "thread";
	return 0;
}

/* Fire at at_ns (pl_now_ns() clock). 0 or -errno. */
static int precise_at(struct pl_trigger *t, uint64_t at_ns)
{
	struct itimerspec its = { 0 };
	uint64_t wake;

	t->precise->at_ns = at_ns;
	if (thread_at(t) == 0)
		return 0;
	t->precise->timed_by = "loop";
	wake = at_ns > PRECISE_LEAD_NS ? at_ns - PRECISE_LEAD_NS : 1;
	/* an instant already past expires at once: the next loop pass */
	its.it_value.tv_sec = (time_t)(wake / 1000000000u);
	its.it_value.tv_nsec = (long)(wake % 1000000000u);
	if (timerfd_settime(t->precise->fd, TFD_TIMER_ABSTIME, &its, NULL))
		return -errno;
	return uv_poll_start(&t->precise->poll, UV_READABLE, on_precise);
}

static void on_prep(uv_prepare_t *h)
{
	struct looklag *lg = h->data;
	uint64_t idle = uv_metrics_idle_time(h->loop);

	if (lg->prep_ns)
		lg->prev_ret_ns = lg->prep_ns + (idle - lg->idle_at_prep);
	lg->prep_ns = pl_now_ns();
	lg->idle_at_prep = idle;
}

/* A bound on how long data read at t_ns waited for the loop (0: unknown
 * or none). */
static uint64_t loop_lag(const struct looklag *lg, uv_loop_t *loop,
			 uint64_t t_ns)
{
	uint64_t blocked, from;

	if (!lg || !lg->prep_ns)
		return 0;
	blocked = uv_metrics_idle_time(loop) - lg->idle_at_prep;
	from = blocked ? lg->prep_ns + blocked : lg->prev_ret_ns;
	return from && t_ns > from ? t_ns - from : 0;
}

static void looklag_start(struct pl_trigger *t)
{
	uv_loop_t *loop = pl_board_loop(t->b);

	t->lag = calloc(1, sizeof(*t->lag));
	if (!t->lag)
		return; /* then no bound: lag_ns stays 0 */
	/* the flag only makes libuv count its poll's blocked time */
	uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
	/* armed inside a callback: the loop last looked at its fds no
	 * later than now (a line read before the next poll waited since) */
	t->lag->prep_ns = pl_now_ns();
	t->lag->prev_ret_ns = t->lag->prep_ns;
	t->lag->idle_at_prep = uv_metrics_idle_time(loop);
	uv_prepare_init(loop, &t->lag->prep);
	t->lag->prep.data = t->lag;
	uv_prepare_start(&t->lag->prep, on_prep);
}

static void on_lag_closed(uv_handle_t *h)
{
	free(h->data);
}

uint64_t pl_trigger_aim_error_ns(const struct pl_trigger *t)
{
	const struct pl_trigger_info *i = &t->info;
	uint64_t aim, late;

	if (!i->fired || !i->issued_ns ||
	    (i->kind != PL_TRIG_CONSOLE && i->kind != PL_TRIG_TIME))
		return 0;
	aim = i->seen_ns + t->spec.delay_us * 1000u;
	late = i->issued_ns > aim ? i->issued_ns - aim : 0;
	return i->lag_ns + late;
}

/* The event happened at seen_ns: fire now, or once the delay after it
 * has passed (never before: the delay is counted from seen_ns). */
static void event_seen(struct pl_trigger *t, uint64_t seen_ns)
{
	int err;

	if (t->spec.delay_us == 0) {
		fire(t, seen_ns);
		return;
	}
	t->info.seen_ns = seen_ns;
	pl_board_unlisten(&t->listener);
	err = precise_at(t, seen_ns + t->spec.delay_us * 1000u);
	if (err) {
		pl_log(pl_board_log(t->b), PL_LOG_ERROR, "trigger %s: cannot "
		       "time its delay: %s", pl_trigger_kind_name(t->info.kind),
		       pl_strerror(err));
		fire(t, seen_ns);
	}
}

/* ------------------------------------------------------------- listeners */

static void on_data(struct pl_board_listener *l, const uint8_t *buf,
		    size_t len, uint64_t t_ns)
{
	struct pl_trigger *t = l->user_data;
	struct pl_linematch_hit hit;
	size_t off = 0;

	while (t->armed && off < len) {
		size_t used = 0;

		if (!pl_linematch_feed(t->match, buf + off, len - off, t_ns,
				       &used, &hit))
			break;
		off += used;
		if (t->info.kind == PL_TRIG_CONSOLE) {
			if (++t->count < t->info.value)
				continue;
		} else if (hit.number < (long)t->info.value) {
			continue; /* progress below the mark */
		}
		snprintf(t->info.detail, sizeof(t->info.detail), "%.*s",
			 (int)hit.len, hit.text);
		t->info.lag_ns = loop_lag(t->lag, pl_board_loop(t->b),
					  hit.t_ns);
		event_seen(t, hit.t_ns);
	}
}

static void on_transfer(struct pl_board_listener *l, uint64_t acked,
			uint64_t total, uint64_t t_ns)
{
	struct pl_trigger *t = l->user_data;

	(void)total;
	if (!t->armed || acked < t->info.value)
		return;
	snprintf(t->info.detail, sizeof(t->info.detail), "acked %" PRIu64,
		 acked);
	event_seen(t, t_ns);
}

/* A progress trigger with no console pattern: the percent of the image the
 * transfer reports acknowledged (a transfer of unknown size never fires
 * it). */
static void on_transfer_percent(struct pl_board_listener *l, uint64_t acked,
				uint64_t total, uint64_t t_ns)
{
	struct pl_trigger *t = l->user_data;

	if (!t->armed || total == 0 || acked > total ||
	    acked * 100u < t->info.value * total)
		return;
	snprintf(t->info.detail, sizeof(t->info.detail), "acked %" PRIu64
		 " of %" PRIu64 " bytes", acked, total);
	event_seen(t, t_ns);
}

static void on_bp_resumed(struct pl_probe *p, int status, const void *data,
			  size_t len, void *ud)
{
	(void)ud;
	(void)data;
	(void)len;
	if (status)
		pl_log(&pl_probe_ctx(p)->log, PL_LOG_ERROR,
		       "could not resume after breakpoint: %s",
		       pl_strerror(status));
}

static void on_resumed(struct pl_probe *p, int status, const void *data,
		       size_t len, void *ud);
static void on_fraction(struct pl_probe *p, int status, const void *data,
			size_t len, void *ud);
static void resume_then_cut(struct pl_trigger *t);

static void on_stop(struct pl_board_listener *l, uint64_t pc, unsigned hits,
		    uint64_t t_ns)
{
	struct pl_trigger *t = l->user_data;
	struct pl_probe_req req = { .op = PL_PROBE_RESUME, .cb = on_bp_resumed };

	bool ours = false;

	for (unsigned i = 0; i < t->spec.nbp; i++)
		if (pc == t->spec.bp_addr[i])
			ours = true;
	if (!t->armed || !ours)
		return;
	if (++t->count < t->info.value) {
		/* Not our hit yet: let the target run on. */
		pl_probe_submit(pl_board_probe(t->b), &req);
		return;
	}
	snprintf(t->info.detail, sizeof(t->info.detail),
		 "pc 0x%" PRIx64 " hit %u", pc, t->count);
	if (t->spec.phi > 0) {
		/* A cut at a fraction of the operation: the probe runs the
		 * target into it and halts there; the cut follows. */
		char cmd[48];
		struct pl_probe_req run = { .op = PL_PROBE_MONITOR, .cmd = cmd,
					    .cb = on_fraction, .user_data = t };

		snprintf(cmd, sizeof(cmd), "run-fraction %.4f", t->spec.phi);
		t->info.seen_ns = t_ns;
		pl_board_unlisten(&t->listener);
		clear_bps(t, false);
		t->pending++;
		if (pl_probe_submit(pl_board_probe(t->b), &run)) {
			t->pending--;
			resume_then_cut(t);
		}
		return;
	}
	if (t->spec.resume_us) {
		t->info.seen_ns = t_ns;
		pl_board_unlisten(&t->listener);
		clear_bps(t, false);
		resume_then_cut(t);
		return;
	}
	fire(t, t_ns); /* the CPU is halted: a cut exactly before the op */
	/* Halted at the hit: the breakpoints can go at once, so the next
	 * boot does not stop on them. */
	clear_bps(t, false);
}

/* A cut during the operation by timing: let it run, then cut after the
 * delay. The breakpoints are gone already, so it runs to the cut. */
static void resume_then_cut(struct pl_trigger *t)
{
	struct pl_probe_req go = { .op = PL_PROBE_RESUME, .cb = on_resumed,
				   .user_data = t };

	t->resumed = true;
	t->pending++;
	if (pl_probe_submit(pl_board_probe(t->b), &go)) {
		t->pending--;
		fire(t, t->info.seen_ns);
	}
}

static void on_fraction(struct pl_probe *p, int status, const void *data,
			size_t len, void *ud)
{
	struct pl_trigger *t = ud;

	if (put(t))
		return;
	if (status == 0) {
		/* halted inside the operation: cut there */
		snprintf(t->info.detail + strlen(t->info.detail),
			 sizeof(t->info.detail) - strlen(t->info.detail),
			 " phi %.3f", t->spec.phi);
		fire(t, t->info.seen_ns);
		return;
	}
	/* This probe cannot stop inside an operation: fall back to timing. */
	pl_log(pl_board_log(t->b), PL_LOG_INFO,
	       "probe has no run-fraction (%s): cutting by timing",
	       pl_strerror(status));
	resume_then_cut(t);
}

static void on_resumed(struct pl_probe *p, int status, const void *data,
		       size_t len, void *ud)
{
	struct pl_trigger *t = ud;

	if (put(t))
		return;
	/* libuv timers count whole milliseconds: a shorter delay is as soon
	 * as the resume is acknowledged. */
	if (t->spec.resume_us < 1000 || status)
		fire(t, t->info.seen_ns);
	else
		uv_timer_start(t->timer, on_timer, t->spec.resume_us / 1000, 0);
}

static void on_bp_set(struct pl_probe *p, int status, const void *data,
		      size_t len, void *ud)
{
	struct pl_trigger *t = ud;

	(void)data;
	(void)len;
	if (put(t) || status == -PL_ECANCELED)
		return;
	if (status) {
		t->info.status = status;
		stop_watching(t);
		pl_log(&pl_probe_ctx(p)->log, PL_LOG_ERROR,
		       "cannot set a breakpoint: %s", pl_strerror(status));
		if (t->cb)
			t->cb(t, t->cb_ud);
	}
}

/* ------------------------------------------------------------- lifecycle */

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

/* Can spec be armed on b? 0, or an error with *why. */
static int check_spec(struct pl_board *b, const struct pl_trigger_spec *spec,
		      const char **why)
{
	if (spec->kind == PL_TRIG_CONSOLE &&
	    (!spec->pattern || !*spec->pattern)) {
		*why = "a console trigger needs a pattern";
		return -EINVAL;
	}
	if (spec->kind == PL_TRIG_BREAKPOINT && !pl_board_probe(b)) {
		*why = "a breakpoint trigger needs a probe on the board";
		return -ENODEV;
	}
	if (spec->kind == PL_TRIG_BREAKPOINT &&
	    (spec->nbp == 0 || spec->nbp > 4)) {
		*why = "a breakpoint trigger needs 1 to 4 addresses";
		return -EINVAL;
	}
	if (!pl_board_power(b)) {
		*why = "the board has no power fixture";
		return -ENODEV;
	}
	return 0;
}

/* The timerfd a delayed or timed trigger fires by (sub-millisecond,
 * where the loop's timers have milliseconds). 0 or an error with *why. */
static int make_precise(struct pl_trigger *t, const char **why)
{
	int err;

	t->precise = calloc(1, sizeof(*t->precise));
	if (!t->precise)
		return -ENOMEM;
	t->precise->fd = timerfd_create(CLOCK_MONOTONIC,
					TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->precise->fd < 0) {
		err = -errno;
		free(t->precise);
		t->precise = NULL;
		*why = "no timerfd for its delay";
		return err;
	}
	t->precise->t = t;
	t->precise->timed_by = "loop";
	uv_poll_init(pl_board_loop(t->b), &t->precise->poll, t->precise->fd);
	t->precise->poll.data = t->precise;
	/* the cut thread's wake-up; it holds the loop only while a cut
	 * waits there */
	uv_async_init(pl_board_loop(t->b), &t->precise->async, on_cut_async);
	uv_unref((uv_handle_t *)&t->precise->async);
	t->precise->async.data = t->precise;
	t->precise->handles = 2;
	return 0;
}

/* What the trigger listens to on its board, by kind; a time trigger has
 * its timer set instead. 0 or an error with *why. */
static int set_listener(struct pl_trigger *t, const char **why)
{
	int err;

	t->listener.user_data = t;
	switch (t->spec.kind) {
	case PL_TRIG_CONSOLE:
		t->listener.data = on_data;
		break;
	case PL_TRIG_PROGRESS:
		/* the board's progress lines, else the transfer's own count */
		if (t->match)
			t->listener.data = on_data;
		else
			t->listener.transfer = on_transfer_percent;
		break;
	case PL_TRIG_BYTES:
		t->listener.transfer = on_transfer;
		break;
	case PL_TRIG_BREAKPOINT:
		t->listener.stop = on_stop;
		break;
	case PL_TRIG_TIME:
		/* the time is reached at arm + value; the delay, if any,
		 * counts from there */
		t->info.seen_ns = pl_now_ns() + t->info.value * 1000000u;
		err = precise_at(t, t->info.seen_ns +
				 t->spec.delay_us * 1000u);
		if (err) {
			*why = "cannot time it";
			return err;
		}
		break;
	}
	return 0;
}

/* All-stop GDB semantics: breakpoints are set on a halted target, then
 * `c`; the stop reply of the hit answers the `c`. The target may run
 * already (another trigger resumed it): halt it first (a no-op on a
 * halted one). 0 or an error with *why. */
static int set_breakpoints(struct pl_trigger *t, const char **why)
{
	struct pl_probe *p = pl_board_probe(t->b);
	struct pl_probe_req go = { .op = PL_PROBE_RESUME, .cb = on_bp_resumed };
	struct pl_probe_req halt = { .op = PL_PROBE_HALT };
	int err;

	pl_probe_submit(p, &halt);
	for (unsigned i = 0; i < t->spec.nbp; i++) {
		struct pl_probe_req req = { .op = PL_PROBE_BP_SET,
					    .addr = t->spec.bp_addr[i],
					    .cb = on_bp_set, .user_data = t };

		t->pending++;
		err = pl_probe_submit(p, &req);
		if (err) {
			t->pending--;
			*why = "the probe refused the breakpoint";
			return err;
		}
	}
	t->bp_set = true;
	err = pl_probe_submit(p, &go);
	if (err)
		*why = "the probe could not resume the target";
	return err;
}

int pl_trigger_arm(struct pl_trigger **out, struct pl_board *b,
		   const struct pl_trigger_spec *spec, const char **why)
{
	struct pl_trigger *t;
	int err;

	*out = NULL;
	*why = NULL;
	err = check_spec(b, spec, why);
	if (err)
		return err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->b = b;
	t->spec = *spec;
	t->info.kind = spec->kind;
	t->info.value = draw(spec);
	t->info.armed_ns = pl_now_ns();
	if (spec->kind == PL_TRIG_CONSOLE && t->info.value == 0)
		t->info.value = 1;
	if (spec->kind == PL_TRIG_BREAKPOINT && t->info.value == 0)
		t->info.value = 1;
	if (spec->pattern) {
		t->pattern = strdup(spec->pattern);
		t->spec.pattern = t->pattern;
		err = pl_linematch_new(&t->match, t->pattern, NULL, why);
		if (err)
			goto err_free;
	}
	t->timer = malloc(sizeof(*t->timer));
	if (!t->timer) {
		err = -ENOMEM;
		goto err_free;
	}
	uv_timer_init(pl_board_loop(b), t->timer);
	t->timer->data = t;
	if (spec->kind == PL_TRIG_TIME || spec->delay_us) {
		err = make_precise(t, why);
		if (err) {
			destroy(t);
			return err;
		}
	}
	err = set_listener(t, why);
	if (err) {
		destroy(t);
		return err;
	}
	t->armed = true;
	if (spec->kind == PL_TRIG_CONSOLE)
		looklag_start(t);
	/* first: no scenario code the same bytes wake runs before it */
	if (spec->kind != PL_TRIG_TIME)
		pl_board_listen_first(b, &t->listener);
	if (spec->kind == PL_TRIG_BREAKPOINT) {
		err = set_breakpoints(t, why);
		if (err) {
			pl_trigger_free(t);
			return err;
		}
	}
	*out = t;
	return 0;

err_free:
	pl_linematch_free(t->match);
	free(t->pattern);
	free(t);
	return err;
}

void pl_trigger_disarm(struct pl_trigger *t)
{
	if (!t)
		return;
	stop_watching(t);
	/* Never fired: the target runs under our breakpoints. */
	clear_bps(t, true);
}

static void on_precise_closed(uv_handle_t *h)
{
	struct precise *p = h->data;

	if (--p->handles)
		return;
	close(p->fd);
	free(p);
}

/* The cut thread lets go of the precise timer before its memory goes (at
 * the second of its handles' close callbacks). */
static void precise_close(struct pl_trigger *t)
{
	if (!t->precise)
		return;
	if (t->precise->threaded)
		cut_over(t->precise);
	pl_power_shot_release(&t->precise->shot);
	uv_close((uv_handle_t *)&t->precise->async, on_precise_closed);
}

static void destroy(struct pl_trigger *t)
{
	if (t->lag)
		uv_close((uv_handle_t *)&t->lag->prep, on_lag_closed);
	if (t->precise)
		uv_close((uv_handle_t *)&t->precise->poll, on_precise_closed);
	if (t->timer)
		uv_close((uv_handle_t *)t->timer, on_timer_closed);
	precise_close(t);
	pl_linematch_free(t->match);
	free(t->pattern);
	free(t);
}

void pl_trigger_free(struct pl_trigger *t)
{
	if (!t || t->zombie)
		return;
	pl_trigger_disarm(t);
	t->cb = NULL;
	if (t->pending) {
		t->zombie = true;
		return;
	}
	destroy(t);
}
