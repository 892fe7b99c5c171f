/* SPDX-License-Identifier: MIT */
/*
 * Recovery of a board that did not boot (step 4 of a run's life,
 * patchlab/run.h), by its type's `recovery.method`:
 *
 *   probe   write the recovery image into its region through the probe;
 *   exec    run the type's command (a vendor flasher, an SD-card mux, a
 *           USB boot-mode tool) with the board off; exit 0: restored;
 *   manual  nothing to try: the board is set aside until a person restores
 *           it;
 *   none    the same, said as "no recovery".
 *
 * Then power on and wait for a boot. A board that boots again ends the run
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
		 "; restored through %s (booted %s)",
		 r->type->recovery.method == PL_RECOVERY_EXEC ? "its recovery "
		 "command" : "the probe", res->version);
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
static void restore_done(struct pl_run *r, int status, const char *fixture,
			 const char *why)
{
	pl_run_restore_cb cb = r->restore_cb;

	r->restore_cb = NULL;
	if (cb)
		cb(r, status, fixture, why, r->restore_ud);
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

/*
 * %{board}, %{type}, %{image} (the recovery image's path) and %{NAME} of
 * the board's vars, then the lab's. NULL (why in err) for an unknown name
 * or an unterminated %{.
 */
static char *expand_arg(const struct pl_run *r, const char *arg, char *err,
			size_t nerr)
{
	struct pl_strbuf sb = { 0 };
	const char *p = arg;

	while (*p) {
		const char *open = strstr(p, "%{"), *close, *val = NULL;
		char name[128];

		if (!open) {
			pl_strbuf_puts(&sb, p);
			break;
		}
		pl_strbuf_printf(&sb, "%.*s", (int)(open - p), p);
		close = strchr(open + 2, '}');
		if (!close || (size_t)(close - open - 2) >= sizeof(name)) {
			snprintf(err, nerr, "recovery.command: bad '%%{' in '%s'",
				 arg);
			pl_strbuf_free(&sb);
			return NULL;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(close - open - 2),
			 open + 2);
		if (strcmp(name, "board") == 0)
			val = r->bcfg->id;
		else if (strcmp(name, "type") == 0)
			val = r->type->name;
		else if (strcmp(name, "image") == 0)
			val = r->recovery_image ? r->recovery_image->path : NULL;
		else
			val = pl_board_cfg_var(r->bcfg, name);
		if (!val) {
			snprintf(err, nerr, "recovery.command: %%{%s} is not "
				 "known for board %s (board, type, image, or a "
				 "var of the board or the lab)", name,
				 r->bcfg->id);
			pl_strbuf_free(&sb);
			return NULL;
		}
		pl_strbuf_puts(&sb, val);
		p = close + 1;
	}
	if (!sb.s)
		return strdup("");
	return sb.s;
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
	if (rexec_start(r, why, sizeof(why)))
		restore_done(r, -PL_EFIXTURE, "command", why);
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
