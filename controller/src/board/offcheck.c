/* SPDX-License-Identifier: MIT */
/*
 * Is the board off? A relay frame has no answer on many relay boards (LCUS,
 * a GPIO line): a power-off the relay swallowed leaves the board running
 * while the lab believes it safe. A board type with a prompt can be asked:
 * a newline on the console, and a board that is on answers with its
 * prompt. pl_board_check_off() asks; a board that answers is switched off
 * again and asked again, a few times, before it is reported still on.
 *
 *   ask: newline, PL_OFFCHECK_ASK_MS for the prompt
 *     no prompt  -> off (cb off = true)
 *     prompt     -> power off again, PL_OFFCHECK_SETTLE_MS, ask again
 *                   (at most `attempts` times, then cb off = false)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/board.h"
#include "patchlab/config.h"
#include "patchlab/console.h"
#include "linematch.h"

#define PL_OFFCHECK_ASK_MS 300u
#define PL_OFFCHECK_SETTLE_MS 700u

struct pl_board_offcheck {
	struct pl_board_listener l;
	struct pl_board *b;
	struct pl_linematch *prompt;
	uv_timer_t *timer;
	unsigned attempts, retried;
	bool asking;
	const char *newline;
	pl_board_off_cb cb;
	void *ud;
};

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void done(struct pl_board_offcheck *o, bool off)
{
	pl_board_off_cb cb = o->cb;
	void *ud = o->ud;
	struct pl_board *b = o->b;
	unsigned retried = o->retried;

	pl_board_unlisten(&o->l);
	uv_close((uv_handle_t *)o->timer, on_timer_closed);
	pl_linematch_free(o->prompt);
	free(o);
	cb(b, off, retried, ud);
}

static void on_timer(uv_timer_t *t);

static void ask(struct pl_board_offcheck *o)
{
	pl_linematch_reset(o->prompt);
	o->asking = true;
	if (pl_console_write(pl_board_console(o->b), o->newline,
			     strlen(o->newline)) != 0) {
		done(o, true); /* nobody to ask: as far as we can tell, off */
		return;
	}
	uv_timer_start(o->timer, on_timer, PL_OFFCHECK_ASK_MS, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct pl_board_offcheck *o = t->data;

	if (o->asking) {
		done(o, true); /* no answer: off */
		return;
	}
	ask(o); /* after a power-off sent again */
}

static void on_data(struct pl_board_listener *l, const uint8_t *buf,
		    size_t len, uint64_t t_ns)
{
	struct pl_board_offcheck *o = l->user_data;
	struct pl_linematch_hit hit;
	size_t used = 0;

	if (!o->asking ||
	    !pl_linematch_feed(o->prompt, buf, len, t_ns, &used, &hit))
		return;
	/* it answered: it is on */
	o->asking = false;
	uv_timer_stop(o->timer);
	if (o->retried >= o->attempts) {
		done(o, false);
		return;
	}
	o->retried++;
	pl_log(pl_board_log(o->b), PL_LOG_WARN, "still answers at its prompt "
	       "after the power-off: switching it off again (%u of %u)",
	       o->retried, o->attempts);
	pl_board_set_power(o->b, false, NULL, NULL);
	uv_timer_start(o->timer, on_timer, PL_OFFCHECK_SETTLE_MS, 0);
}

int pl_board_check_off(struct pl_board *b, const struct pl_board_type *type,
		       unsigned attempts, pl_board_off_cb cb, void *ud)
{
	struct pl_board_offcheck *o;
	const char *why = NULL;
	int err;

	if (!type || !type->console.prompt || !pl_board_console(b) ||
	    !pl_board_power(b))
		return -ENOTSUP;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->timer = malloc(sizeof(*o->timer));
	err = o->timer ? pl_linematch_new(&o->prompt, NULL,
					  &type->console.prompt->re, &why) :
			 -ENOMEM;
	if (err) {
		free(o->timer);
		free(o);
		return err;
	}
	uv_timer_init(pl_board_loop(b), o->timer);
	o->timer->data = o;
	o->b = b;
	o->attempts = attempts;
	o->newline = type->console.newline ? type->console.newline : "\r";
	o->cb = cb;
	o->ud = ud;
	o->l.data = on_data;
	o->l.user_data = o;
	pl_board_listen(b, &o->l);
	ask(o);
	return 0;
}
