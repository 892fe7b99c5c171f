/* SPDX-License-Identifier: MIT */
/*
 * Board leases on the event loop: one controller (a suite run, or a person's
 * `patchlab power|console|flash`) holds a board at a time. The lease rows live
 * in the result store (pl_store_lease_take() and friends, docs/results.md
 * "Leases"); this module adds what a live process needs around them:
 *
 *   - take now, or wait: retry on a timer until the holder releases the board
 *     or its lease expires, never blocking the loop;
 *   - keep every held lease alive: one renewal timer renews them all every
 *     ttl/3, and a lease that could not be kept (taken over after it expired,
 *     or the store failed for a whole ttl) is reported through a callback;
 *   - give boards back (one, or all at close).
 *
 * How the engine uses it (one struct pl_leases per controller, one store):
 *
 *     pl_leases_open(&e->leases, loop, e->store, 30000);
 *     pl_leases_set_lost_cb(e->leases, on_lease_lost, e);
 *     // before a run on board b: the run starts in on_leased(status == 0)
 *     err = pl_leases_take(e->leases, b, true, on_leased, run);
 *     // at the end of the last run on b (or of each run)
 *     pl_leases_release(e->leases, b);
 *     // at suite end, before pl_store_close() and the last uv_run()
 *     pl_leases_close(e->leases);
 *
 * on_lease_lost means another controller may now be driving that board: end
 * the board's run as lab-error ("lease lost") and touch its fixtures no more.
 *
 * Holder identity is the store's (pl_store_holder(): "PID@HOST/TOKEN"); lease
 * expiry uses the store's clock (injectable in tests), the retry and renewal
 * timers the loop's.
 *
 * Leases in a store bind only the controllers that share that store. The
 * hardware lock binds every patchlab process on the machine, whatever its
 * --db: after pl_leases_set_lab(), a take first locks the board's file in
 * the lab's lock directory (flock; the kernel releases it when the holder
 * dies), then takes the store lease; a board locked by another process is
 * -PL_ELEASED (or waited for) and pl_leases_holder() names that process
 * ("pid N on HOST, since TIME: COMMAND", held until it lets go). Every
 * process that drives boards (runs and the manual commands) must call it.
 *
 * Threads and the loop: everything runs on the loop thread. Store calls are
 * blocking SQLite transactions (milliseconds; a busy database is waited for
 * up to the store's busy timeout), made from the calling function or a timer
 * callback. Callbacks never run inside pl_leases_take(); they may call any
 * function of this module, pl_leases_close() included.
 */
#ifndef PATCHLAB_LEASES_H
#define PATCHLAB_LEASES_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "patchlab/log.h"
#include "patchlab/store.h"

struct pl_leases;

/*
 * The outcome of pl_leases_take(): status 0 when the board is ours (the
 * renewal timer keeps it from then on), -PL_ECANCELED when the take was
 * released or the module closed before it succeeded, or the store's error
 * (-EIO, ...). Called exactly once per successful pl_leases_take(), on the
 * loop. board_id is borrowed for the call.
 */
typedef void (*pl_leases_take_cb)(struct pl_leases *l, const char *board_id,
				  int status, void *user_data);

/*
 * A held lease is gone: status -PL_ELEASED when another controller took the
 * board over (holder names it, may be NULL if it released it again),
 * -ENOENT when the lease row vanished, or the store's error when renewal
 * failed for a whole ttl. The board is no longer held: stop using it. Both
 * strings are borrowed for the call.
 */
typedef void (*pl_leases_lost_cb)(struct pl_leases *l, const char *board_id,
				  int status, const char *holder,
				  void *user_data);

/* Renewals happen every ttl/3; the retry while waiting is ttl/10, clamped
 * to 10..1000 ms, unless set with pl_leases_set_retry_ms(). */
#define PL_LEASES_DEFAULT_TTL_MS 30000u

/*
 * A lease manager on loop over store st (both borrowed: they must outlive
 * it). ttl_ms (> 0; 0 means PL_LEASES_DEFAULT_TTL_MS) is the lifetime of
 * every lease taken and renewed. *out must be closed with pl_leases_close().
 * Returns 0, -EINVAL or -ENOMEM.
 */
int pl_leases_open(struct pl_leases **out, uv_loop_t *loop,
		   struct pl_store *st, uint64_t ttl_ms);

/*
 * Bind takes to the hardware of the lab in lab_path (its realpath names the
 * lock directory: $PATCHLAB_LOCK_DIR/<hash> when that is set, else
 * /tmp/patchlab-<euid>/locks/<hash>; directories 0700, ours, not links).
 * Call before the first take. Returns 0 or -errno (the lab file or the
 * directory).
 */
int pl_leases_set_lab(struct pl_leases *l, const char *lab_path);

/* The lock directory in use, or NULL before pl_leases_set_lab(). */
const char *pl_leases_lock_dir(const struct pl_leases *l);

/* Where lost leases are reported (NULL: only logged). */
void pl_leases_set_lost_cb(struct pl_leases *l, pl_leases_lost_cb cb,
			   void *user_data);
/* Log through log (copied; its ctx string is borrowed). Default: NULL sink. */
void pl_leases_set_log(struct pl_leases *l, const struct pl_log *log);
/* How often a waiting take asks again (ms, >= 1). */
void pl_leases_set_retry_ms(struct pl_leases *l, unsigned ms);

/*
 * Take board_id for this controller. The first attempt is made before this
 * returns:
 *   - free, expired, or already ours in the store: returns 0 and cb(0) runs
 *     on the next loop iteration;
 *   - held by another and wait is false: returns -PL_ELEASED at once (cb is
 *     not called); pl_leases_holder() says who holds it;
 *   - held by another and wait is true: returns 0, logs who holds it, and
 *     asks again every retry period until the board is free or the lease
 *     expires (then cb(0)), or the take is released/closed (cb(-PL_ECANCELED)).
 * Other returns, cb not called: -EALREADY when this module already holds or
 * waits for board_id, -ENOMEM, or the store's error. board_id is copied.
 */
int pl_leases_take(struct pl_leases *l, const char *board_id, bool wait,
		   pl_leases_take_cb cb, void *user_data);

/*
 * Give board_id back: a held lease is released in the store, a waiting take
 * is stopped. A take whose cb has not run yet gets cb(-PL_ECANCELED) before
 * this returns. Returns 0, -ENOENT when this module neither holds nor waits
 * for it, or the store's answer (-PL_ELEASED: it had been taken over).
 */
int pl_leases_release(struct pl_leases *l, const char *board_id);

/* Does this module hold board_id now (taken and not lost)? */
bool pl_leases_held(const struct pl_leases *l, const char *board_id);

/*
 * Who holds board_id: another process on its hardware lock (*expires_ns
 * 0: until that process lets go or dies), else the store's lease, ours
 * included: *holder (malloc'ed, caller frees) and *expires_ns (store clock;
 * may be NULL). Returns 0, -ENOENT when nobody holds it, or an error.
 */
int pl_leases_holder(struct pl_leases *l, const char *board_id, char **holder,
		     uint64_t *expires_ns);

/*
 * Release every held lease, cancel every waiting take (their callbacks run
 * with -PL_ECANCELED from inside this call), stop the timers and free. The
 * handles close asynchronously: run the loop once more before
 * uv_loop_close(). Accepts NULL.
 */
void pl_leases_close(struct pl_leases *l);

#endif
