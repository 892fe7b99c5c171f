/* SPDX-License-Identifier: MIT */
/*
 * Board operations driven by the board type: wait for boot, version,
 * update over XMODEM, command. See patchlab/update.h.
 *
 * The XMODEM sender is the pure state machine of patchlab/xmodem.h driven
 * from a board listener, not the console-owning glue: the console keeps its
 * fan-out during the transfer, so console and progress triggers still see
 * what the board prints, and byte triggers hear every acknowledgement in the
 * callback that read it.
 *
 * Completion is always deferred to a fresh loop iteration: a trigger may cut
 * the power deep inside a console callback (inside the XMODEM sender), and
 * the user's callback may free the operation.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linematch.h"
#include "patchlab/clock.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/update.h"
#include "patchlab/xmodem.h"

enum op_kind { OP_BOOT, OP_VERSION, OP_UPDATE, OP_COMMAND };
enum op_phase { PH_WAIT_START, PH_SENDING, PH_WAIT_DONE };

struct pl_op {
	enum op_kind kind;
	enum op_phase phase;
	struct pl_board *b;
	const struct pl_board_type *type;
	struct pl_board_listener l;
	uv_timer_t *deadline;  /* the whole operation */
	uv_timer_t *xtimer;    /* XMODEM: silence from the receiver */
	uv_timer_t *defer;     /* runs cb on a fresh loop iteration */
	uint64_t timeout_ms;

	struct pl_linematch *m_ok, *m_fail, *m_start, *m_progress;
	/* After the deciding line, wait for the board's prompt before the
	 * operation is done: the next command is then typed at a prompt and
	 * its answer starts a line of its own. */
	struct pl_linematch *m_prompt;
	/* a boot: the type's settled line, seen between the boot line and
	 * the prompt (res.settled) */
	struct pl_linematch *m_settled;
	bool await_prompt;
	int ok_status;
	char ok_reason[256];
	const struct pl_pattern *p_ok, *p_fail;

	struct pl_xmodem_sender *tx;
	uint8_t *data;
	size_t len;
	bool sender_done;
	bool done_line;

	/* a boot wait: bytes the board sent meanwhile, whether its banner
	 * (the type's first sign of life after power-on) came, and whether
	 * it is now asking the board for its prompt (PL_OP_ALIVE_MS) */
	struct pl_linematch *m_banner;
	uint64_t rx;
	bool banner_seen;
	bool asking_alive;
	bool repowered;       /* silent all along: switched on once more */

	bool finished;
	pl_op_cb cb;
	void *user_data;
	struct pl_op_result res;
};

static void on_handle_closed(uv_handle_t *h)
{
	free(h);
}

static uv_timer_t *new_timer(struct pl_op *op)
{
	uv_timer_t *t = malloc(sizeof(*t));

	if (!t)
		return NULL;
	uv_timer_init(pl_board_loop(op->b), t);
	t->data = op;
	return t;
}

static void close_timer(uv_timer_t *t)
{
	if (t) {
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, on_handle_closed);
	}
}

static void on_defer(uv_timer_t *t)
{
	struct pl_op *op = t->data;

	if (op->cb)
		op->cb(op, &op->res, op->user_data);
}

/* Decide the result now; the callback runs on the next loop iteration. */
static void finish(struct pl_op *op, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void finish(struct pl_op *op, int status, const char *fmt, ...)
{
	va_list ap;

	if (op->finished)
		return;
	op->finished = true;
	op->res.status = status;
	if (!op->res.t_ns)
		op->res.t_ns = pl_now_ns();
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(op->res.reason, sizeof(op->res.reason), fmt, ap);
		va_end(ap);
	}
	pl_board_unlisten(&op->l);
	uv_timer_stop(op->deadline);
	if (op->xtimer)
		uv_timer_stop(op->xtimer);
	/* Cancel (CAN bytes) only a transfer the board can still hear: after
	 * a power cut they would wait in its input and garble the next
	 * command after the next boot. */
	if (op->tx && !pl_xmodem_sender_finished(op->tx) &&
	    status != -PL_ECANCELED)
		pl_xmodem_sender_cancel(op->tx);
	uv_timer_start(op->defer, on_defer, 0, 0);
}

static void capture(const struct pl_pattern *p, const char *name,
		    const struct pl_linematch_hit *hit, char *dst, size_t n)
{
	int g = p ? pl_pattern_group(p, name) : -1;

	if (g > 0)
		pl_linematch_group(hit, (unsigned)g, dst, n);
}

static int send_line(struct pl_op *op, const char *cmd);

static void on_deadline(uv_timer_t *t);

/*
 * Not one byte since the power-on, not even at the prompt: a dead board,
 * or one whose power-on the relay swallowed (the board is off). The lab
 * switches it on once more and listens for a boot timeout: a board that
 * speaks now was not switched on the first time -- a lab fault, never the
 * device's verdict. One that stays silent is the timeout it was. False
 * when the power could not be asked.
 */
static bool repower(struct pl_op *op)
{
	if (op->kind != OP_BOOT || op->rx != 0 || op->repowered ||
	    !pl_board_power(op->b) ||
	    pl_board_set_power(op->b, true, NULL, NULL) != 0)
		return false;
	op->repowered = true;
	op->asking_alive = false;
	pl_log(pl_board_log(op->b), PL_LOG_INFO, "silent since power-on: "
	       "switching it on once more to tell a dead board from a power "
	       "fixture that did not switch");
	uv_timer_start(op->deadline, on_deadline, op->timeout_ms, 0);
	return true;
}

static void on_deadline(uv_timer_t *t)
{
	struct pl_op *op = t->data;

	if (op->repowered) {
		finish(op, -ETIMEDOUT, "timeout: no boot within %" PRIu64
		       " ms, silent after a second power-on too",
		       op->timeout_ms);
		return;
	}
	if (op->asking_alive) {
		if (repower(op))
			return;
		finish(op, -ETIMEDOUT, "timeout: no boot within %" PRIu64
		       " ms, and no answer at the prompt", op->timeout_ms);
		return;
	}
	/* No sign of life in the whole boot wait (no banner; not a byte when
	 * the type names none): a dead board, or one that never saw the
	 * power switch. Only the second answers at its prompt. A board that
	 * printed its banner and stopped in a shell of its bootloader is
	 * not asked: that is the device's failure. */
	if (op->kind == OP_BOOT && op->m_prompt &&
	    (op->m_banner ? !op->banner_seen : op->rx == 0) &&
	    send_line(op, "") == 0) {
		op->asking_alive = true;
		uv_timer_start(op->deadline, on_deadline, PL_OP_ALIVE_MS, 0);
		return;
	}
	if (repower(op))
		return;
	if (op->await_prompt) {
		/* It decided, but no prompt came: report what it decided
		 * (a board whose application has no shell, say). */
		finish(op, op->ok_status, "%s (no prompt followed)",
		       op->ok_reason);
		return;
	}
	static const char *const what[] = {
		[OP_BOOT] = "no boot", [OP_VERSION] = "no version answer",
		[OP_UPDATE] = "update not finished", [OP_COMMAND] = "no answer",
	};

	finish(op, -ETIMEDOUT, "timeout: %s within %" PRIu64 " ms",
	       what[op->kind], op->timeout_ms);
}

static void on_power(struct pl_board_listener *l, bool on, uint64_t t_ns)
{
	struct pl_op *op = l->user_data;

	if (on)
		return;
	op->res.t_ns = t_ns;
	finish(op, -PL_ECANCELED, "power cut");
}

static void on_console(struct pl_board_listener *l, bool gone, int status)
{
	struct pl_op *op = l->user_data;

	if (gone) {
		op->res.fixture = "console";
		finish(op, -PL_EFIXTURE, "console of %s lost: %s",
		       pl_board_id(op->b), pl_strerror(status));
	}
}

static void decided(struct pl_op *op, int status, const char *reason);

/* ----------------------------------------------------------------- XMODEM */

static void x_send(const uint8_t *buf, size_t len, void *ud)
{
	struct pl_op *op = ud;
	int err = pl_console_write(pl_board_console(op->b), buf, len);

	if (err) {
		op->res.fixture = "console";
		finish(op, -PL_EFIXTURE, "console write failed: %s",
			pl_strerror(err));
	}
}

static void x_progress(uint64_t acked, void *ud)
{
	struct pl_op *op = ud;

	op->res.bytes = acked;
	pl_board_transfer_progress(op->b, acked, op->len, pl_now_ns());
}

static void x_done(int status, void *ud)
{
	struct pl_op *op = ud;

	op->sender_done = true;
	pl_board_event_json(op->b, PL_BEV_TRANSFER, pl_now_ns(), json_pack(
		"{s:s,s:i,s:I}", "state", "end", "status", status,
		"bytes", (json_int_t)op->res.bytes));
	if (op->finished)
		return;
	if (status) {
		finish(op, status == -ETIMEDOUT ? -ETIMEDOUT : -PL_EREFUSED,
		       "transfer failed after %" PRIu64 " bytes: %s",
		       op->res.bytes, pl_strerror(status));
		return;
	}
	op->phase = PH_WAIT_DONE;
	uv_timer_stop(op->xtimer);
	if (op->done_line || !op->type->update.done)
		decided(op, 0, "update accepted");
}

static void on_xtimer(uv_timer_t *t)
{
	struct pl_op *op = t->data;

	if (op->finished || !op->tx || op->sender_done)
		return;
	pl_xmodem_sender_timeout(op->tx);
	if (!op->finished && !op->sender_done)
		uv_timer_start(op->xtimer, on_xtimer,
			       PL_XMODEM_DEFAULT_TIMEOUT_MS, 0);
}

static int start_sender(struct pl_op *op)
{
	struct pl_xmodem_io io = { .send = x_send, .progress = x_progress,
				   .done = x_done, .user_data = op };
	struct pl_xmodem_limits lim = { .retries = 10, .start_retries = 20,
					.use_1k = op->type->update.block_size != 128 };
	int err;

	err = pl_xmodem_sender_new(&op->tx, op->data, op->len, &lim, &io);
	if (err)
		return err;
	op->phase = PH_SENDING;
	pl_board_event_json(op->b, PL_BEV_TRANSFER, pl_now_ns(),
			    json_pack("{s:s}", "state", "start"));
	uv_timer_start(op->xtimer, on_xtimer, PL_XMODEM_DEFAULT_TIMEOUT_MS, 0);
	return 0;
}

/* ------------------------------------------------------------ console data */

/* The decision is made: finish now, or once the prompt has come. */
static void decided(struct pl_op *op, int status, const char *reason)
{
	if (!op->m_prompt || status != 0) {
		finish(op, status, "%s", reason);
		return;
	}
	op->await_prompt = true;
	op->ok_status = status;
	snprintf(op->ok_reason, sizeof(op->ok_reason), "%s", reason);
}

static bool feed_lines(struct pl_op *op, const uint8_t *buf, size_t len,
		       uint64_t t_ns);

/*
 * Waiting for the prompt after the deciding line. For a boot, the board
 * may boot again before any prompt (an image that crashes right after its
 * banner resets, and the bootloader tries again or falls back): the newest
 * boot line, or a boot failure, replaces the one waiting, so the result is
 * the boot that reached its shell.
 */
static void feed_prompt(struct pl_op *op, const uint8_t *buf, size_t len,
			uint64_t t_ns)
{
	struct pl_linematch_hit hit;
	size_t used, off = 0;

	/* the settled line comes between the boot line and the prompt:
	 * these bytes follow the boot line */
	if (op->m_settled && !op->res.settled) {
		for (size_t o = 0, u; o < len; o += u)
			if (pl_linematch_feed(op->m_settled, buf + o, len - o,
					      t_ns, &u, &hit))
				op->res.settled = true;
			else
				break;
	}
	while (!op->finished && off < len) {
		if (op->kind == OP_BOOT) {
			/* the matchers keep their own line state: feed the
			 * same bytes to the boot matchers first */
			op->await_prompt = false;
			if (feed_lines(op, buf + off, len - off, t_ns))
				return; /* a new decision took it from here */
			op->await_prompt = true;
		}
		if (!pl_linematch_feed(op->m_prompt, buf + off, len - off, t_ns,
				       &used, &hit))
			return;
		finish(op, op->ok_status, "%s", op->ok_reason);
		off += used;
	}
}

/* Feed lines to the matchers of the operation; true when it finished. */
static bool feed_lines(struct pl_op *op, const uint8_t *buf, size_t len,
		       uint64_t t_ns)
{
	struct pl_linematch_hit hit;
	size_t used;

	for (size_t off = 0; off < len && !op->finished; off += used) {
		used = len - off;
		if (op->m_fail &&
		    pl_linematch_feed(op->m_fail, buf + off, len - off, t_ns, &used,
				      &hit)) {
			char why[160] = "";

			capture(op->p_fail, "reason", &hit, why, sizeof(why));
			op->res.t_ns = t_ns;
			if (op->kind == OP_BOOT)
				finish(op, -PL_EREFUSED, "%.*s", (int)hit.len,
				       hit.text);
			else
				finish(op, -PL_EREFUSED, "%s",
				       *why ? why : hit.text);
			return true;
		}
		/* m_fail consumed `used` bytes; replay them to m_ok. */
		if (op->m_ok) {
			size_t u2, o2 = 0;

			while (o2 < used) {
				if (!pl_linematch_feed(op->m_ok, buf + off + o2,
						       used - o2, t_ns, &u2, &hit))
					break;
				o2 += u2;
				capture(op->p_ok, "version", &hit, op->res.version,
					sizeof(op->res.version));
				capture(op->p_ok, "slot", &hit, op->res.slot,
					sizeof(op->res.slot));
				capture(op->p_ok, "state", &hit, op->res.state,
					sizeof(op->res.state));
				op->res.t_ns = t_ns;
				op->res.settled = false; /* a boot (again) */
				if (op->kind == OP_UPDATE) {
					op->done_line = true;
					if (op->sender_done) {
						decided(op, 0, "update accepted");
						feed_prompt(op, buf + off + o2,
							    len - off - o2, t_ns);
						return true;
					}
				} else {
					snprintf(op->res.line, sizeof(op->res.line),
						 "%.*s", (int)hit.len, hit.text);
					for (unsigned g = 1; g < 10; g++) {
						if (!pl_linematch_group(&hit, g,
									op->res.groups[g - 1],
									sizeof(op->res.groups[0])))
							break;
						op->res.ngroups = g;
					}
					char line[256];

					snprintf(line, sizeof(line), "%.*s",
						 (int)hit.len, hit.text);
					decided(op, 0, line);
					feed_prompt(op, buf + off + o2,
						    len - off - o2, t_ns);
					return true;
				}
			}
		}
		if (used == 0)
			used = 1; /* a hit at the very start: step past it */
	}
	return op->finished;
}

static void on_data(struct pl_board_listener *l, const uint8_t *buf,
		    size_t len, uint64_t t_ns)
{
	struct pl_op *op = l->user_data;

	if (op->finished)
		return;
	op->rx += len;
	if (op->repowered) {
		op->res.fixture = "power";
		finish(op, -PL_EFIXTURE, "%s stayed silent for %" PRIu64 " ms "
		       "after power-on and came up when the lab switched it on "
		       "once more: the power fixture did not switch it on",
		       pl_board_id(op->b), op->timeout_ms);
		return;
	}
	if (op->m_banner && !op->banner_seen) {
		struct pl_linematch_hit hit;
		size_t used;

		op->banner_seen = pl_linematch_feed(op->m_banner, buf, len, t_ns,
						    &used, &hit);
	}
	if (op->asking_alive) {
		struct pl_linematch_hit hit;
		size_t used;

		if (pl_linematch_feed(op->m_prompt, buf, len, t_ns, &used,
				      &hit)) {
			op->res.fixture = "power";
			finish(op, -PL_EFIXTURE, "%s did not boot within %"
			       PRIu64 " ms but answers at its prompt: it was "
			       "never switched off and on (a relay that did "
			       "not switch, or the board powered another way)",
			       pl_board_id(op->b), op->timeout_ms);
		}
		return;
	}
	if (op->await_prompt) {
		feed_prompt(op, buf, len, t_ns);
		return;
	}
	if (op->kind != OP_UPDATE) {
		feed_lines(op, buf, len, t_ns);
		return;
	}
	if (op->phase == PH_WAIT_START) {
		struct pl_linematch_hit hit;
		size_t used = 0;

		if (feed_lines(op, buf, len, t_ns))
			return;
		if (op->m_start &&
		    !pl_linematch_feed(op->m_start, buf, len, t_ns, &used, &hit))
			return;
		if (start_sender(op)) {
			finish(op, -ENOMEM, "cannot start the transfer");
			return;
		}
		buf += used;
		len -= used;
	}
	if (op->phase == PH_SENDING && len) {
		uv_timer_start(op->xtimer, on_xtimer,
			       PL_XMODEM_DEFAULT_TIMEOUT_MS, 0);
		pl_xmodem_sender_input(op->tx, buf, len);
	}
	if (!op->finished && len)
		feed_lines(op, buf, len, t_ns);
}

/* ------------------------------------------------------------- lifecycle */

static int matcher(struct pl_linematch **m, const struct pl_pattern *p)
{
	const char *why;

	if (!p)
		return 0;
	return pl_linematch_new(m, NULL, &p->re, &why);
}

static int op_new(struct pl_op **out, enum op_kind kind, struct pl_board *b,
		  const struct pl_board_type *type, uint64_t timeout_ms,
		  pl_op_cb cb, void *user_data)
{
	struct pl_op *op;

	*out = NULL;
	if (!pl_board_console(b))
		return -ENODEV;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->kind = kind;
	op->b = b;
	op->type = type;
	op->cb = cb;
	op->user_data = user_data;
	op->timeout_ms = timeout_ms;
	op->deadline = new_timer(op);
	op->defer = new_timer(op);
	op->xtimer = new_timer(op);
	if (!op->deadline || !op->defer || !op->xtimer) {
		pl_op_free(op);
		return -ENOMEM;
	}
	op->l.data = on_data;
	op->l.power = on_power;
	op->l.console = on_console;
	op->l.user_data = op;
	*out = op;
	return 0;
}

/*
 * Listen and arm the deadline. A console already lost (renamed, unplugged
 * between two operations: its loss came while nobody listened) would only
 * give a timeout, a device's failure: the operation ends at once
 * -PL_EFIXTURE instead. Returns false then (send nothing).
 */
static bool op_start(struct pl_op *op)
{
	int lost = pl_console_lost(pl_board_console(op->b));

	pl_board_listen(op->b, &op->l);
	uv_timer_start(op->deadline, on_deadline, op->timeout_ms, 0);
	if (lost) {
		op->res.fixture = "console";
		finish(op, -PL_EFIXTURE, "console of %s lost: %s",
		       pl_board_id(op->b), pl_strerror(lost));
		return false;
	}
	return true;
}

static int send_line(struct pl_op *op, const char *cmd)
{
	const char *nl = op->type->console.newline ? op->type->console.newline
						   : "\r";
	int err = pl_console_write(pl_board_console(op->b), cmd, strlen(cmd));

	if (!err)
		err = pl_console_write(pl_board_console(op->b), nl, strlen(nl));
	return err;
}

int pl_op_wait_boot(struct pl_op **out, struct pl_board *b,
		    const struct pl_board_type *type, uint64_t timeout_ms,
		    pl_op_cb cb, void *user_data)
{
	struct pl_op *op;
	int err;

	err = op_new(&op, OP_BOOT, b, type,
		     timeout_ms ? timeout_ms : type->boot_timeout_ms, cb,
		     user_data);
	if (err)
		return err;
	op->p_ok = type->console.boot_ok;
	op->p_fail = type->console.boot_fail;
	if (matcher(&op->m_ok, op->p_ok) || matcher(&op->m_fail, op->p_fail) ||
	    matcher(&op->m_prompt, type->console.prompt) ||
	    matcher(&op->m_settled, type->console.settled) ||
	    matcher(&op->m_banner, type->console.banner)) {
		pl_op_free(op);
		return -ENOMEM;
	}
	op_start(op);
	*out = op;
	return 0;
}

int pl_op_version(struct pl_op **out, struct pl_board *b,
		  const struct pl_board_type *type, pl_op_cb cb,
		  void *user_data)
{
	struct pl_op *op;
	int err;

	if (!type->version.command || !type->version.pattern)
		return -ENOTSUP;
	err = op_new(&op, OP_VERSION, b, type,
		     type->version.timeout_ms ? type->version.timeout_ms : 2000,
		     cb, user_data);
	if (err)
		return err;
	op->p_ok = type->version.pattern;
	if (matcher(&op->m_ok, op->p_ok) ||
	    matcher(&op->m_prompt, type->console.prompt)) {
		pl_op_free(op);
		return -ENOMEM;
	}
	err = op_start(op) ? send_line(op, type->version.command) : 0;
	if (err) {
		pl_op_free(op);
		return err;
	}
	*out = op;
	return 0;
}

int pl_op_command(struct pl_op **out, struct pl_board *b,
		  const struct pl_board_type *type, const char *command,
		  const char *pattern, uint64_t timeout_ms, pl_op_cb cb,
		  void *user_data)
{
	struct pl_op *op;
	const char *why;
	int err;

	err = op_new(&op, OP_COMMAND, b, type, timeout_ms ? timeout_ms : 2000,
		     cb, user_data);
	if (err)
		return err;
	if (pattern) {
		err = pl_linematch_new(&op->m_ok, pattern, NULL, &why);
		/* a command's answer is followed by the prompt; a bare expect
		 * is done at its line */
		if (!err && command)
			err = matcher(&op->m_prompt, type->console.prompt);
		if (err) {
			pl_op_free(op);
			return err;
		}
	}
	err = op_start(op) && command ? send_line(op, command) : 0;
	if (err) {
		pl_op_free(op);
		return err;
	}
	if (!pattern)
		finish(op, 0, "sent");
	*out = op;
	return 0;
}

/* An image operation: the update's timeout, a copy of the image, the
 * prompt matcher. 0 or -ENOMEM. */
static int image_op_new(struct pl_op **out, struct pl_board *b,
			const struct pl_board_type *type, const void *data,
			size_t len, pl_op_cb cb, void *user_data)
{
	struct pl_op *op;
	int err;

	err = op_new(&op, OP_UPDATE, b, type,
		     type->update.timeout_ms ? type->update.timeout_ms : 600000,
		     cb, user_data);
	if (err)
		return err;
	op->data = malloc(len ? len : 1);
	if (!op->data || matcher(&op->m_prompt, type->console.prompt)) {
		pl_op_free(op);
		return -ENOMEM;
	}
	memcpy(op->data, data, len);
	op->len = len;
	*out = op;
	return 0;
}

int pl_op_update(struct pl_op **out, struct pl_board *b,
		 const struct pl_board_type *type, const void *data, size_t len,
		 pl_op_cb cb, void *user_data)
{
	struct pl_op *op;
	int err;

	if (type->update.method != PL_UPDATE_XMODEM || !type->update.command)
		return -ENOTSUP;
	err = image_op_new(&op, b, type, data, len, cb, user_data);
	if (err)
		return err;
	op->p_ok = type->update.done;
	op->p_fail = type->update.error;
	if (matcher(&op->m_ok, op->p_ok) || matcher(&op->m_fail, op->p_fail) ||
	    matcher(&op->m_start, type->update.start)) {
		pl_op_free(op);
		return -ENOMEM;
	}
	op->phase = PH_WAIT_START;
	if (op_start(op)) {
		err = send_line(op, type->update.command);
		if (!err && !op->m_start)
			err = start_sender(op);
	}
	if (err) {
		pl_op_free(op);
		return err;
	}
	*out = op;
	return 0;
}

int pl_op_send_xmodem(struct pl_op **out, struct pl_board *b,
		      const struct pl_board_type *type, const void *data,
		      size_t len, pl_op_cb cb, void *user_data)
{
	struct pl_op *op;
	int err;

	err = image_op_new(&op, b, type, data, len, cb, user_data);
	if (err)
		return err;
	err = op_start(op) ? start_sender(op) : 0;
	if (err) {
		pl_op_free(op);
		return err;
	}
	*out = op;
	return 0;
}

void pl_op_free(struct pl_op *op)
{
	if (!op)
		return;
	pl_board_unlisten(&op->l);
	close_timer(op->deadline);
	close_timer(op->defer);
	close_timer(op->xtimer);
	pl_xmodem_sender_free(op->tx);
	pl_linematch_free(op->m_ok);
	pl_linematch_free(op->m_fail);
	pl_linematch_free(op->m_start);
	pl_linematch_free(op->m_progress);
	pl_linematch_free(op->m_prompt);
	pl_linematch_free(op->m_settled);
	pl_linematch_free(op->m_banner);
	free(op->data);
	free(op);
}
