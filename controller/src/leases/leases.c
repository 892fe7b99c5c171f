/* SPDX-License-Identifier: MIT */
/*
 * Board leases on the loop (contract: patchlab/leases.h). Each board this
 * module takes or waits for is one struct lease with its own timer (the
 * retry while waiting, or the deferred first callback); one shared timer
 * renews every held lease. A lease leaves the list when it ends, and its
 * memory goes when its timer handle has closed, so a callback that releases
 * or closes never pulls memory from under a loop that is walking the list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/error.h"
#include "patchlab/leases.h"

enum lease_state {
	LEASE_WAITING,  /* held by another; the timer asks again */
	LEASE_HELD,     /* ours in the store */
	LEASE_ENDED,    /* off the list; waiting for its handle to close */
};

struct lease {
	struct pl_leases *l;
	char *board;
	enum lease_state state;
	bool told;             /* the take callback has run */
	pl_leases_take_cb cb;
	void *user_data;
	uint64_t renewed_at;   /* loop ms of the last successful take/renew */
	uv_timer_t timer;
	struct lease *next;
};

struct pl_leases {
	uv_loop_t *loop;
	struct pl_store *st;
	uint64_t ttl_ms;
	unsigned retry_ms;
	struct pl_log log;
	pl_leases_lost_cb lost;
	void *lost_data;
	struct lease *list;
	uv_timer_t renew;
	unsigned handles;      /* open handles: renew + one per lease */
	bool closing;
};

/* ------------------------------------------------------------ helpers */

static void maybe_free(struct pl_leases *l)
{
	if (l->closing && l->handles == 0)
		free(l);
}

static void on_lease_closed(uv_handle_t *h)
{
	struct lease *ls = h->data;
	struct pl_leases *l = ls->l;

	free(ls->board);
	free(ls);
	l->handles--;
	maybe_free(l);
}

static void on_renew_closed(uv_handle_t *h)
{
	struct pl_leases *l = h->data;

	l->handles--;
	maybe_free(l);
}

static struct lease *find(const struct pl_leases *l, const char *board)
{
	for (struct lease *ls = l->list; ls; ls = ls->next)
		if (strcmp(ls->board, board) == 0)
			return ls;
	return NULL;
}

static bool any_held(const struct pl_leases *l)
{
	for (const struct lease *ls = l->list; ls; ls = ls->next)
		if (ls->state == LEASE_HELD)
			return true;
	return false;
}

static void on_renew(uv_timer_t *t);

/* The renewal timer runs exactly while some lease is held. */
static void renew_update(struct pl_leases *l)
{
	uint64_t every = l->ttl_ms / 3 ? l->ttl_ms / 3 : 1;

	if (l->closing)
		return;
	if (any_held(l)) {
		if (!uv_is_active((uv_handle_t *)&l->renew))
			uv_timer_start(&l->renew, on_renew, every, every);
	} else {
		uv_timer_stop(&l->renew);
	}
}

/* Take a lease off the list and let its handle close (memory goes then). */
static void end_lease(struct lease *ls)
{
	struct pl_leases *l = ls->l;
	struct lease **pp;

	for (pp = &l->list; *pp; pp = &(*pp)->next) {
		if (*pp == ls) {
			*pp = ls->next;
			break;
		}
	}
	ls->state = LEASE_ENDED;
	uv_timer_stop(&ls->timer);
	uv_close((uv_handle_t *)&ls->timer, on_lease_closed);
	renew_update(l);
}

/* Run the take callback once. */
static void tell(struct lease *ls, int status)
{
	if (ls->told)
		return;
	ls->told = true;
	if (ls->cb)
		ls->cb(ls->l, ls->board, status, ls->user_data);
}

/* ------------------------------------------------------------- timers */

static void on_deliver(uv_timer_t *t)
{
	struct lease *ls = t->data;

	tell(ls, 0);
}

static void on_retry(uv_timer_t *t)
{
	struct lease *ls = t->data;
	struct pl_leases *l = ls->l;
	int err;

	err = pl_store_lease_take(l->st, ls->board, NULL, l->ttl_ms, NULL);
	if (err == -PL_ELEASED)
		return;
	if (err) {
		pl_log(&l->log, PL_LOG_ERROR, "board %s: lease: %s", ls->board,
		       pl_strerror(err));
		end_lease(ls);
		tell(ls, err);
		return;
	}
	uv_timer_stop(&ls->timer);
	ls->state = LEASE_HELD;
	ls->renewed_at = uv_now(l->loop);
	pl_log(&l->log, PL_LOG_INFO, "board %s: lease taken after waiting",
	       ls->board);
	renew_update(l);
	tell(ls, 0);
}

static void lose(struct lease *ls, int status)
{
	struct pl_leases *l = ls->l;
	char *holder = NULL;

	if (status == -PL_ELEASED &&
	    pl_leases_holder(l, ls->board, &holder, NULL) != 0)
		holder = NULL;
	pl_log(&l->log, PL_LOG_ERROR, "board %s: lease lost: %s%s%s",
	       ls->board, pl_strerror(status), holder ? ", now held by " : "",
	       holder ? holder : "");
	end_lease(ls);
	/* A take not yet told is told of the loss instead of a success. */
	if (!ls->told) {
		tell(ls, status);
	} else if (l->lost) {
		l->lost(l, ls->board, status, holder, l->lost_data);
	}
	free(holder);
}

static void on_renew(uv_timer_t *t)
{
	struct pl_leases *l = t->data;
	uint64_t now = uv_now(l->loop);
	struct lease *ls, *next;

	/* Callbacks may end leases (memory stays until the handle closes)
	 * or close the module: skip what is no longer held. */
	for (ls = l->list; ls && !l->closing; ls = next) {
		int err;

		next = ls->next;
		if (ls->state != LEASE_HELD)
			continue;
		err = pl_store_lease_renew(l->st, ls->board, NULL, l->ttl_ms);
		if (err == 0) {
			ls->renewed_at = now;
			continue;
		}
		if (err == -PL_ELEASED || err == -ENOENT ||
		    now - ls->renewed_at >= l->ttl_ms) {
			lose(ls, err);
			continue;
		}
		/* A busy or failing store: two more tries before it expires. */
		pl_log(&l->log, PL_LOG_WARN, "board %s: lease renewal: %s",
		       ls->board, pl_strerror(err));
	}
}

/* ---------------------------------------------------------------- API */

int pl_leases_open(struct pl_leases **out, uv_loop_t *loop,
		   struct pl_store *st, uint64_t ttl_ms)
{
	struct pl_leases *l;
	uint64_t retry;

	*out = NULL;
	if (!loop || !st)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->loop = loop;
	l->st = st;
	l->ttl_ms = ttl_ms ? ttl_ms : PL_LEASES_DEFAULT_TTL_MS;
	retry = l->ttl_ms / 10;
	l->retry_ms = (unsigned)(retry < 10 ? 10 : retry > 1000 ? 1000 : retry);
	uv_timer_init(loop, &l->renew);
	l->renew.data = l;
	l->handles = 1;
	*out = l;
	return 0;
}

void pl_leases_set_lost_cb(struct pl_leases *l, pl_leases_lost_cb cb,
			   void *user_data)
{
	l->lost = cb;
	l->lost_data = user_data;
}

void pl_leases_set_log(struct pl_leases *l, const struct pl_log *log)
{
	if (log)
		l->log = *log;
	else
		memset(&l->log, 0, sizeof(l->log));
}

void pl_leases_set_retry_ms(struct pl_leases *l, unsigned ms)
{
	l->retry_ms = ms ? ms : 1;
}

int pl_leases_take(struct pl_leases *l, const char *board_id, bool wait,
		   pl_leases_take_cb cb, void *user_data)
{
	struct lease *ls;
	char *cur = NULL;
	int err;

	if (l->closing || !board_id)
		return l->closing ? -PL_ECANCELED : -EINVAL;
	if (find(l, board_id))
		return -EALREADY;
	err = pl_store_lease_take(l->st, board_id, NULL, l->ttl_ms, &cur);
	if (err && (err != -PL_ELEASED || !wait)) {
		free(cur);
		return err;
	}
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		goto err_release;
	ls->board = strdup(board_id);
	if (!ls->board)
		goto err_free_lease;
	ls->l = l;
	ls->cb = cb;
	ls->user_data = user_data;
	uv_timer_init(l->loop, &ls->timer);
	ls->timer.data = ls;
	l->handles++;
	ls->next = l->list;
	l->list = ls;
	if (err == 0) {
		ls->state = LEASE_HELD;
		ls->renewed_at = uv_now(l->loop);
		uv_timer_start(&ls->timer, on_deliver, 0, 0);
		renew_update(l);
	} else {
		ls->state = LEASE_WAITING;
		pl_log(&l->log, PL_LOG_INFO,
		       "board %s: leased by %s; waiting for it", board_id,
		       cur ? cur : "another controller");
		uv_timer_start(&ls->timer, on_retry, l->retry_ms, l->retry_ms);
	}
	free(cur);
	return 0;

err_free_lease:
	free(ls);
err_release:
	if (err == 0)
		pl_store_lease_release(l->st, board_id, NULL);
	free(cur);
	return -ENOMEM;
}

int pl_leases_release(struct pl_leases *l, const char *board_id)
{
	struct lease *ls = find(l, board_id);
	int err = 0;

	if (!ls)
		return -ENOENT;
	if (ls->state == LEASE_HELD)
		err = pl_store_lease_release(l->st, ls->board, NULL);
	if (err)
		pl_log(&l->log, PL_LOG_WARN, "board %s: lease release: %s",
		       ls->board, pl_strerror(err));
	end_lease(ls);
	tell(ls, -PL_ECANCELED);
	return err;
}

bool pl_leases_held(const struct pl_leases *l, const char *board_id)
{
	const struct lease *ls = find(l, board_id);

	return ls && ls->state == LEASE_HELD;
}

int pl_leases_holder(struct pl_leases *l, const char *board_id, char **holder,
		     uint64_t *expires_ns)
{
	struct pl_lease_row *rows;
	uint64_t now = pl_store_now(l->st);
	size_t n;
	int err;

	*holder = NULL;
	err = pl_store_list_leases(l->st, &rows, &n);
	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].board_id, board_id) != 0 ||
		    rows[i].expires_ns <= now)
			continue;
		*holder = strdup(rows[i].holder);
		err = *holder ? 0 : -ENOMEM;
		if (expires_ns)
			*expires_ns = rows[i].expires_ns;
		break;
	}
	pl_store_leases_free(rows, n);
	return err;
}

void pl_leases_close(struct pl_leases *l)
{
	if (!l || l->closing)
		return;
	/* Set first: a callback run from here may call close again. */
	l->closing = true;
	while (l->list)
		pl_leases_release(l, l->list->board);
	uv_timer_stop(&l->renew);
	uv_close((uv_handle_t *)&l->renew, on_renew_closed);
}
