/* SPDX-License-Identifier: MIT */
/*
 * The live board: fixtures opened from configuration, console fan-out,
 * power commands that listeners hear of, and the event timeline.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/board.h"
#include "patchlab/clock.h"
#include "patchlab/config.h"
#include "patchlab/error.h"

struct pl_board {
	uv_loop_t *loop;
	char *id;
	char *type;
	char *quarantine;
	bool quarantine_lab;  /* set aside for a lab fault */
	struct pl_log log;
	char *log_ctx;
	struct pl_fixture_ctx fctx;

	struct pl_power *power;
	struct pl_console *console;
	struct pl_probe *probe;
	const struct pl_board_cfg *cfg;   /* borrowed from the lab */
	struct pl_power *boot_mode;       /* the type's boot-mode line, open
	                                   * while held (NULL: released) */

	struct pl_board_listener *listeners;
	pl_board_event_fn event_fn;
	void *event_ud;
};

static const char *const event_names[] = {
	[PL_BEV_POWER] = "power",       [PL_BEV_TRIGGER] = "trigger",
	[PL_BEV_MATCH] = "match",       [PL_BEV_PROBE] = "probe",
	[PL_BEV_TRANSFER] = "transfer", [PL_BEV_CONSOLE] = "console",
	[PL_BEV_LOG] = "log",           [PL_BEV_FIXTURE] = "fixture",
};

const char *pl_board_event_name(enum pl_board_event ev)
{
	if ((unsigned)ev >= sizeof(event_names) / sizeof(event_names[0]))
		return "?";
	return event_names[ev];
}

const char *pl_board_id(const struct pl_board *b) { return b->id; }
const char *pl_board_type(const struct pl_board *b) { return b->type; }
uv_loop_t *pl_board_loop(const struct pl_board *b) { return b->loop; }
const struct pl_log *pl_board_log(const struct pl_board *b) { return &b->log; }
struct pl_power *pl_board_power(struct pl_board *b) { return b->power; }
struct pl_console *pl_board_console(struct pl_board *b) { return b->console; }
struct pl_probe *pl_board_probe(struct pl_board *b) { return b->probe; }

void pl_board_set_event_sink(struct pl_board *b, pl_board_event_fn fn,
			     void *user_data)
{
	b->event_fn = fn;
	b->event_ud = user_data;
}

void pl_board_event(struct pl_board *b, enum pl_board_event ev, uint64_t t_ns,
		    const char *json)
{
	if (b->event_fn)
		b->event_fn(b->event_ud, ev, t_ns, json);
}

void pl_board_event_json(struct pl_board *b, enum pl_board_event ev,
			 uint64_t t_ns, json_t *payload)
{
	char *text;

	if (!payload)
		return;
	if (b->event_fn) {
		text = json_dumps(payload, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (text)
			b->event_fn(b->event_ud, ev, t_ns, text);
		free(text);
	}
	json_decref(payload);
}

/* ------------------------------------------------------------ listeners */

void pl_board_listen(struct pl_board *b, struct pl_board_listener *l)
{
	struct pl_board_listener **pp = &b->listeners;

	while (*pp)
		pp = &(*pp)->next;
	l->next = NULL;
	l->board = b;
	*pp = l;
}

void pl_board_listen_first(struct pl_board *b, struct pl_board_listener *l)
{
	l->next = b->listeners;
	l->board = b;
	b->listeners = l;
}

void pl_board_unlisten(struct pl_board_listener *l)
{
	struct pl_board_listener **pp;

	if (!l || !l->board)
		return;
	for (pp = &l->board->listeners; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	l->board = NULL;
	l->next = NULL;
}

static bool is_listening(const struct pl_board *b,
			 const struct pl_board_listener *l)
{
	for (const struct pl_board_listener *x = b->listeners; x; x = x->next)
		if (x == l)
			return true;
	return false;
}

/*
 * Listeners may unlisten themselves or others, and free them, from inside a
 * callback: dispatch works on a snapshot of pointers and only dereferences a
 * listener that is still on the list.
 */
enum dispatch_kind {
	DISPATCH_DATA,
	DISPATCH_POWER,
	DISPATCH_CONSOLE,
	DISPATCH_TRANSFER,
	DISPATCH_DRAINED,
	DISPATCH_STOP,
};

struct dispatch {
	enum dispatch_kind kind;
	const uint8_t *buf;
	size_t len;
	uint64_t t_ns;
	bool flag;
	int status;
	uint64_t value;   /* acked bytes, or the stop pc */
	uint64_t total;   /* a transfer's size, 0 if unknown */
	unsigned hits;
};

static void dispatch(struct pl_board *b, const struct dispatch *d)
{
	struct pl_board_listener *snap[32];
	size_t n = 0;

	for (struct pl_board_listener *l = b->listeners; l && n < 32; l = l->next)
		snap[n++] = l;
	for (size_t i = 0; i < n; i++) {
		struct pl_board_listener *l = snap[i];

		if (!is_listening(b, l))
			continue;
		switch (d->kind) {
		case DISPATCH_DATA:
			if (l->data)
				l->data(l, d->buf, d->len, d->t_ns);
			break;
		case DISPATCH_POWER:
			if (l->power)
				l->power(l, d->flag, d->t_ns);
			break;
		case DISPATCH_CONSOLE:
			if (l->console)
				l->console(l, d->flag, d->status);
			break;
		case DISPATCH_TRANSFER:
			if (l->transfer)
				l->transfer(l, d->value, d->total, d->t_ns);
			break;
		case DISPATCH_DRAINED:
			if (l->drained)
				l->drained(l);
			break;
		case DISPATCH_STOP:
			if (l->stop)
				l->stop(l, d->value, d->hits, d->t_ns);
			break;
		}
	}
}

static void on_console_data(struct pl_console *c, const uint8_t *buf,
			    size_t len, uint64_t t_ns, void *user_data)
{
	struct pl_board *b = user_data;
	struct dispatch d = { .kind = DISPATCH_DATA, .buf = buf, .len = len,
			      .t_ns = t_ns };

	dispatch(b, &d);
}

static void on_console_event(struct pl_console *c, enum pl_console_event ev,
			     int status, uint64_t gap_ns, void *user_data)
{
	struct pl_board *b = user_data;
	struct dispatch d = { .kind = DISPATCH_CONSOLE,
			      .flag = ev == PL_CONSOLE_GONE, .status = status };

	pl_board_event_json(b, PL_BEV_CONSOLE, pl_now_ns(), json_pack(
		"{s:s,s:i,s:I}", "state", ev == PL_CONSOLE_GONE ? "gone" : "back",
		"status", status, "gap_ns", (json_int_t)gap_ns));
	dispatch(b, &d);
}

static void on_console_drained(struct pl_console *c, void *user_data)
{
	struct dispatch d = { .kind = DISPATCH_DRAINED };

	(void)c;
	dispatch(user_data, &d);
}

void pl_board_transfer_progress(struct pl_board *b, uint64_t acked,
				uint64_t total, uint64_t t_ns)
{
	struct dispatch d = { .kind = DISPATCH_TRANSFER, .value = acked,
			      .total = total, .t_ns = t_ns };

	dispatch(b, &d);
}

static void on_probe_stop(struct pl_probe *p, uint64_t addr, unsigned hits,
			  void *user_data)
{
	struct pl_board *b = user_data;
	struct dispatch d = { .kind = DISPATCH_STOP, .value = addr,
			      .hits = hits, .t_ns = pl_now_ns() };

	dispatch(b, &d);
}

/* ---------------------------------------------------------------- power */

struct power_cmd {
	struct pl_board *b;
	bool on;
	int glitch_ms;  /* -1: a plain set */
	pl_power_cb cb;
	void *user_data;
};

static void on_power_done(struct pl_power *p, int status,
			  const struct pl_power_times *t, void *user_data)
{
	struct power_cmd *cmd = user_data;

	/* The result store's vocabulary for power events (store.h). Recorded
	 * even when a later command superseded it: it was issued. */
	pl_board_event_json(cmd->b, PL_BEV_POWER, t->requested_ns, json_pack(
		"{s:s,s:i,s:i,s:I,s:I,s:I}",
		"cmd", cmd->glitch_ms >= 0 ? "glitch" : cmd->on ? "on" : "off",
		"glitch_ms", cmd->glitch_ms, "status", status,
		"requested_ns", (json_int_t)t->requested_ns,
		"issued_ns", (json_int_t)t->issued_ns,
		"completed_ns", (json_int_t)t->done_ns));
	if (status && status != -PL_ECANCELED)
		pl_log(&cmd->b->log, PL_LOG_ERROR, "power %s failed: %s",
		       cmd->on ? "on" : "off", pl_strerror(status));
	if (cmd->cb)
		cmd->cb(p, status, t, cmd->user_data);
	free(cmd);
}

static int power_command(struct pl_board *b, bool on, int glitch_ms,
			 struct pl_power_shot *shot, pl_power_cb cb,
			 void *user_data)
{
	struct power_cmd *cmd;
	struct dispatch d = { .kind = DISPATCH_POWER };
	int err;

	if (!b->power)
		return -ENODEV;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return -ENOMEM;
	*cmd = (struct power_cmd){ b, on, glitch_ms, cb, user_data };
	if (shot)
		err = pl_power_shot_settle(b->power, shot, on_power_done, cmd);
	else if (glitch_ms >= 0)
		err = pl_power_glitch(b->power, (unsigned)glitch_ms,
				      on_power_done, cmd);
	else
		err = pl_power_set(b->power, on, on_power_done, cmd);
	if (err) {
		free(cmd);
		return err;
	}
	/* Listeners hear of the change as soon as it was issued. */
	d.flag = glitch_ms >= 0 ? false : on;
	d.t_ns = pl_power_current(b->power)->issued_ns;
	if (!d.t_ns)
		d.t_ns = pl_now_ns();
	dispatch(b, &d);
	return 0;
}

int pl_board_set_power(struct pl_board *b, bool on, pl_power_cb cb,
		       void *user_data)
{
	return power_command(b, on, -1, NULL, cb, user_data);
}

int pl_board_power_shot(struct pl_board *b, struct pl_power_shot *shot,
			pl_power_cb cb, void *user_data)
{
	return power_command(b, false, -1, shot, cb, user_data);
}

int pl_board_glitch(struct pl_board *b, unsigned ms, pl_power_cb cb,
		    void *user_data)
{
	return power_command(b, false, (int)ms, NULL, cb, user_data);
}

/* ----------------------------------------------------------- boot mode */

bool pl_board_has_boot_mode(const struct pl_board *b)
{
	return b->cfg && b->cfg->type && b->cfg->type->boot_mode.driver;
}

bool pl_board_boot_mode_held(const struct pl_board *b)
{
	return b->boot_mode && pl_power_is_on(b->boot_mode);
}

static void boot_mode_event(struct pl_board *b, bool held)
{
	pl_board_event_json(b, PL_BEV_FIXTURE, pl_now_ns(), json_pack(
		"{s:s,s:s,s:b}", "level", "info", "msg", held ?
		"boot-mode line held" : "boot-mode line released",
		"boot_mode", held));
}

/* Open the type's boot-mode fixture with its options resolved for b. */
static int boot_mode_open(struct pl_board *b)
{
	const struct pl_board_type *t = b->cfg->type;
	size_t n = t->boot_mode.nopts;
	struct pl_opt *opts = calloc(n + 1, sizeof(*opts));
	char **vals = calloc(n + 1, sizeof(*vals)), err[200];
	struct pl_opts o = { .v = opts, .n = n };
	int rc = 0;

	if (!opts || !vals) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		vals[i] = pl_board_cfg_subst(b->cfg, t->boot_mode.opts[i].value,
					     err, sizeof(err));
		if (!vals[i]) {
			pl_log(&b->log, PL_LOG_ERROR, "boot_mode.%s: %s",
			       t->boot_mode.opts[i].key, err);
			rc = -EINVAL;
			goto out_free;
		}
		opts[i].key = t->boot_mode.opts[i].key;
		opts[i].value = vals[i];
		opts[i].pos = t->boot_mode.opts[i].pos;
	}
	rc = pl_power_open(&b->boot_mode, &b->fctx, t->boot_mode.driver->name,
			   &o);
	if (rc)
		pl_log(&b->log, PL_LOG_ERROR, "cannot open the boot-mode "
		       "fixture (%s): %s", t->boot_mode.driver->name,
		       pl_strerror(rc));
out_free:
	for (size_t i = 0; vals && i < n; i++)
		free(vals[i]);
	free(vals);
	free(opts);
	return rc;
}

int pl_board_boot_mode(struct pl_board *b, bool hold, pl_power_cb cb,
		       void *user_data)
{
	int rc;

	if (!pl_board_has_boot_mode(b))
		return -ENOTSUP;
	if (!b->boot_mode) {
		rc = boot_mode_open(b);
		if (rc)
			return rc;
	}
	rc = pl_power_set(b->boot_mode, hold, cb, user_data);
	if (!rc)
		boot_mode_event(b, hold);
	return rc;
}

int pl_board_boot_mode_release(struct pl_board *b)
{
	bool held;
	int rc;

	if (!b->boot_mode)
		return 0;
	held = pl_power_is_on(b->boot_mode);
	rc = pl_power_close(b->boot_mode); /* switches off */
	b->boot_mode = NULL;
	if (rc)
		pl_log(&b->log, PL_LOG_ERROR, "releasing the boot-mode line "
		       "failed: %s (it may still be held)", pl_strerror(rc));
	if (held)
		boot_mode_event(b, false);
	return rc;
}

/* ----------------------------------------------------------- lifecycle */

int pl_board_console_log(struct pl_board *b, const char *path)
{
	if (!b->console)
		return -ENODEV;
	if (!path)
		return 0;
	return pl_console_set_log(b->console, path);
}

static void quarantine(struct pl_board *b, bool lab, const char *why)
{
	free(b->quarantine);
	b->quarantine = strdup(why ? why : "quarantined");
	b->quarantine_lab = lab;
	pl_log(&b->log, PL_LOG_WARN, "%s: %s", lab ? "set aside (a lab fault)" :
	       "quarantined", b->quarantine ? b->quarantine : "?");
}

void pl_board_quarantine(struct pl_board *b, const char *why)
{
	quarantine(b, false, why);
}

void pl_board_set_aside(struct pl_board *b, const char *why)
{
	quarantine(b, true, why);
}

const char *pl_board_quarantined(const struct pl_board *b)
{
	return b->quarantine;
}

bool pl_board_set_aside_for_lab(const struct pl_board *b)
{
	return b->quarantine && b->quarantine_lab;
}

int pl_board_open(struct pl_board **out, uv_loop_t *loop,
		  const struct pl_board_cfg *cfg, const struct pl_log *log,
		  const char **why)
{
	struct pl_console_cbs cbs = { .data = on_console_data,
				      .event = on_console_event,
				      .drained = on_console_drained };
	const struct pl_fixture_cfg *pw = cfg->fixture[PL_FIXTURE_POWER];
	const struct pl_fixture_cfg *co = cfg->fixture[PL_FIXTURE_CONSOLE];
	const struct pl_fixture_cfg *pr = cfg->fixture[PL_FIXTURE_PROBE];
	struct pl_board *b;
	int err = 0;

	*out = NULL;
	*why = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->loop = loop;
	b->id = strdup(cfg->id);
	b->type = strdup(cfg->type ? cfg->type->name : "");
	if (asprintf(&b->log_ctx, "%s", cfg->id) < 0)
		b->log_ctx = NULL;
	b->log = pl_log_child(log, b->log_ctx);
	b->fctx = (struct pl_fixture_ctx){ .loop = loop, .log = b->log,
					   .board_id = b->id };
	b->cfg = cfg;

	if (pw) {
		err = pl_power_open(&b->power, &b->fctx, pw->driver->name,
				    &pw->opts);
		if (err) {
			*why = "power";
			goto err_close;
		}
		/* The safe state first: whatever the relay was doing, off. */
		err = pl_power_set(b->power, false, NULL, NULL);
		if (err) {
			*why = "power";
			goto err_close;
		}
	}
	if (co) {
		cbs.user_data = b;
		err = pl_console_open(&b->console, &b->fctx, co->driver->name,
				      &co->opts, &cbs);
		if (err) {
			*why = "console";
			goto err_close;
		}
	}
	if (pr) {
		err = pl_probe_open(&b->probe, &b->fctx, pr->driver->name,
				    &pr->opts);
		if (err) {
			*why = "probe";
			goto err_close;
		}
		pl_probe_set_stop_cb(b->probe, on_probe_stop, b);
	}
	*out = b;
	return 0;

err_close:
	pl_log(&b->log, PL_LOG_ERROR, "cannot open %s fixture: %s", *why,
	       pl_strerror(err));
	pl_board_close(b);
	return err;
}

int pl_board_close(struct pl_board *b)
{
	int err;

	if (!b)
		return 0;
	/* Listeners belong to runs that have ended; forget them. */
	while (b->listeners)
		pl_board_unlisten(b->listeners);
	pl_probe_close(b->probe);
	pl_console_close(b->console);
	pl_board_boot_mode_release(b);
	err = pl_power_close(b->power); /* switches off */
	if (err)
		pl_log(&b->log, PL_LOG_ERROR, "power off at close failed: %s "
		       "(the output may still be on)", pl_strerror(err));
	free(b->quarantine);
	free(b->log_ctx);
	free(b->id);
	free(b->type);
	free(b);
	return err;
}
