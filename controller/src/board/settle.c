/* SPDX-License-Identifier: MIT */
/*
 * A boot's commit, as the board's console tells it (the type's
 * console.settled line). Some boards commit a boot after they announce it
 * (boot counting reset, the new slot marked good): a power-off between the
 * boot line and the settled line undoes it, and a lab that switches the
 * board off at the end of a run in that window would make the next run
 * find a board the lab itself set back. A run watches, from each power-on,
 * for the board's boot line and then its settled line, so that its end
 * can wait for the commit before the lab's own power-off
 * (pl_board_settle_wait()).
 *
 *   power on  -> ON      power off -> OFF (a wait ends: not settled)
 *   ON      + boot_ok line  -> BOOTED
 *   ON/BOOTED + settled line -> SETTLED (a wait ends: settled)
 */
#include <errno.h>
#include <stdlib.h>

#include "patchlab/board.h"
#include "patchlab/clock.h"
#include "patchlab/config.h"
#include "linematch.h"

enum settle_state { ST_OFF, ST_ON, ST_BOOTED, ST_SETTLED };

struct pl_board_settle {
	struct pl_board_listener l;
	struct pl_board *b;
	struct pl_linematch *boot, *settled;
	enum settle_state state;
	/* a wait: its timer (closed when it ends), start and callback */
	uv_timer_t *timer;
	uint64_t wait_start_ns;
	pl_board_settled_cb cb;
	void *ud;
};

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void end_wait(struct pl_board_settle *s, bool settled)
{
	pl_board_settled_cb cb = s->cb;
	void *ud = s->ud;
	uint64_t waited = pl_now_ns() - s->wait_start_ns;

	if (!s->timer)
		return;
	uv_close((uv_handle_t *)s->timer, on_timer_closed);
	s->timer = NULL;
	s->cb = NULL;
	if (cb)
		cb(s->b, settled, waited, ud);
}

static void on_timeout(uv_timer_t *t)
{
	end_wait(t->data, false);
}

static void on_data(struct pl_board_listener *l, const uint8_t *buf,
		    size_t len, uint64_t t_ns)
{
	struct pl_board_settle *s = l->user_data;
	struct pl_linematch_hit hit;
	size_t off = 0, used;

	while (off < len && (s->state == ST_ON || s->state == ST_BOOTED)) {
		/* the settled line ends the watch wherever it comes; the
		 * boot line only moves ON to BOOTED */
		if (s->state == ST_ON && s->boot) {
			used = 0;
			if (pl_linematch_feed(s->boot, buf + off, len - off,
					      t_ns, &used, &hit)) {
				s->state = ST_BOOTED;
				pl_linematch_reset(s->settled);
				off += used;
				continue;
			}
		}
		used = 0;
		if (!pl_linematch_feed(s->settled, buf + off, len - off, t_ns,
				       &used, &hit))
			break;
		s->state = ST_SETTLED;
		/* the waiter may free s (its run ends): touch nothing after */
		end_wait(s, true);
		return;
	}
}

static void on_power(struct pl_board_listener *l, bool on, uint64_t t_ns)
{
	struct pl_board_settle *s = l->user_data;

	(void)t_ns;
	if (s->boot)
		pl_linematch_reset(s->boot);
	pl_linematch_reset(s->settled);
	s->state = on ? ST_ON : ST_OFF;
	if (!on)
		end_wait(s, false); /* someone else switched it off */
}

int pl_board_settle_watch(struct pl_board_settle **out, struct pl_board *b,
			  const struct pl_board_type *type)
{
	struct pl_board_settle *s;
	const char *why = NULL;
	int err;

	*out = NULL;
	if (!type || !type->console.settled)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = pl_linematch_new(&s->settled, NULL, &type->console.settled->re,
			       &why);
	if (!err && type->console.boot_ok)
		err = pl_linematch_new(&s->boot, NULL,
				       &type->console.boot_ok->re, &why);
	if (err) {
		pl_board_settle_free(s);
		return err;
	}
	s->b = b;
	s->l.data = on_data;
	s->l.power = on_power;
	s->l.user_data = s;
	pl_board_listen(b, &s->l);
	*out = s;
	return 0;
}

void pl_board_settle_free(struct pl_board_settle *s)
{
	if (!s)
		return;
	end_wait(s, false);
	pl_board_unlisten(&s->l);
	pl_linematch_free(s->boot);
	pl_linematch_free(s->settled);
	free(s);
}

bool pl_board_settle_pending(const struct pl_board_settle *s)
{
	return s && s->state == ST_BOOTED;
}

int pl_board_settle_wait(struct pl_board_settle *s, uint64_t timeout_ms,
			 pl_board_settled_cb cb, void *ud)
{
	if (!pl_board_settle_pending(s))
		return -EALREADY;
	if (s->timer)
		return -EBUSY;
	s->timer = malloc(sizeof(*s->timer));
	if (!s->timer)
		return -ENOMEM;
	uv_timer_init(pl_board_loop(s->b), s->timer);
	s->timer->data = s;
	s->cb = cb;
	s->ud = ud;
	s->wait_start_ns = pl_now_ns();
	uv_timer_start(s->timer, on_timeout, timeout_ms, 0);
	return 0;
}

void pl_board_settle_cancel(struct pl_board_settle *s)
{
	if (s)
		end_wait(s, false);
}
