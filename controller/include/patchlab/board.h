/* SPDX-License-Identifier: MIT */
/*
 * A live board of the lab: its opened fixtures (power, console, probe) and
 * the plumbing the run engine hangs off them — console fan-out to listeners
 * (expect waits, triggers), the per-run console log, the event timeline sink
 * and power-change notifications.
 *
 * Lifetime: opened once per suite (or manual command) from the board's
 * configuration, closed at the end. pl_board_open() switches the power off
 * before anything else (a board starts in the safe state); pl_board_close()
 * switches it off again.
 *
 * Everything runs on the loop thread. Listeners may remove themselves (or
 * others) from inside their callback.
 */
#ifndef PATCHLAB_BOARD_H
#define PATCHLAB_BOARD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "patchlab/console.h"
#include "patchlab/log.h"
#include "patchlab/power.h"
#include "patchlab/probe.h"

struct pl_board;

struct pl_board_cfg; /* patchlab/config.h: a board of lab.yaml */
struct pl_board_type; /* patchlab/config.h: its board type */

/* Kinds of timeline events (they become rows of the run's event table). */
enum pl_board_event {
	PL_BEV_POWER,     /* a power command: requested/issued/done times */
	PL_BEV_TRIGGER,   /* a trigger fired */
	PL_BEV_MATCH,     /* a console expect matched */
	PL_BEV_PROBE,     /* a probe action */
	PL_BEV_TRANSFER,  /* an image transfer started/ended */
	PL_BEV_CONSOLE,   /* console lost / back */
	PL_BEV_LOG,       /* a scenario log line */
	PL_BEV_FIXTURE,   /* a fixture failed: the run is a lab error */
};

const char *pl_board_event_name(enum pl_board_event ev);

/* Receives each timeline event: t_ns monotonic, json a JSON object text. */
typedef void (*pl_board_event_fn)(void *user_data, enum pl_board_event ev,
				  uint64_t t_ns, const char *json);

struct pl_board_listener {
	/* Console bytes with the time they were read. */
	void (*data)(struct pl_board_listener *l, const uint8_t *buf,
		     size_t len, uint64_t t_ns);
	/* The power was switched (on = new state) by anyone (a trigger). */
	void (*power)(struct pl_board_listener *l, bool on, uint64_t t_ns);
	/* The console was lost (gone = true) or came back. */
	void (*console)(struct pl_board_listener *l, bool gone, int status);
	/* Everything written to the console has left for the device. */
	void (*drained)(struct pl_board_listener *l);
	/* An image transfer has had `acked` bytes of total (0: unknown)
	 * acknowledged. */
	void (*transfer)(struct pl_board_listener *l, uint64_t acked,
			 uint64_t total, uint64_t t_ns);
	/* The probe reports the target halted by itself at pc. */
	void (*stop)(struct pl_board_listener *l, uint64_t pc, unsigned hits,
		     uint64_t t_ns);
	void *user_data;
	/* private */
	struct pl_board_listener *next;
	struct pl_board *board;
};

/*
 * Open the fixtures of a lab board and switch the power off. cfg (and the
 * lab it belongs to) must outlive the board. *out must be freed with
 * pl_board_close(). On failure nothing stays open and *why (static or NULL)
 * names the fixture class that failed.
 */
int pl_board_open(struct pl_board **out, uv_loop_t *loop,
		  const struct pl_board_cfg *cfg, const struct pl_log *log,
		  const char **why);

/* Power off, close every fixture. Accepts NULL (0). Returns 0, or the
 * power close's error: the output may still be on, a lab error. */
int pl_board_close(struct pl_board *b);

const char *pl_board_id(const struct pl_board *b);
const char *pl_board_type(const struct pl_board *b);
uv_loop_t *pl_board_loop(const struct pl_board *b);
const struct pl_log *pl_board_log(const struct pl_board *b);

/* Borrowed fixture handles (probe may be NULL). */
struct pl_power *pl_board_power(struct pl_board *b);
struct pl_console *pl_board_console(struct pl_board *b);
struct pl_probe *pl_board_probe(struct pl_board *b);

/* Console listeners, called in the order added. */
void pl_board_listen(struct pl_board *b, struct pl_board_listener *l);
/* The same, ahead of every listener already there: a trigger hears the
 * bytes before anything that may run a scenario on them. */
void pl_board_listen_first(struct pl_board *b, struct pl_board_listener *l);
void pl_board_unlisten(struct pl_board_listener *l);

/* Where the timeline goes (NULL: nowhere). */
void pl_board_set_event_sink(struct pl_board *b, pl_board_event_fn fn,
			     void *user_data);
/* Record an event on the timeline (json: a JSON object text). */
void pl_board_event(struct pl_board *b, enum pl_board_event ev, uint64_t t_ns,
		    const char *json);
/* The same for a jansson object, which this call takes (decrefs); NULL
 * (a failed json_pack) records nothing. Every event the board makes goes
 * through here, so its strings are always escaped. */
void pl_board_event_json(struct pl_board *b, enum pl_board_event ev,
			 uint64_t t_ns, json_t *payload);

/*
 * Switch power through the board so listeners hear of it and the timeline
 * records it. cb as for pl_power_set(). Triggers call this from inside a
 * console or probe callback: the command is issued before it returns.
 */
int pl_board_set_power(struct pl_board *b, bool on, pl_power_cb cb,
		       void *user_data);
int pl_board_glitch(struct pl_board *b, unsigned ms, pl_power_cb cb,
		    void *user_data);

/*
 * A power-off shot (patchlab/power.h) that another thread issued: the
 * board records it and tells listeners as the off of pl_board_set_power()
 * at the shot's time (pl_power_shot_settle()). -PL_ECANCELED: a later
 * command overtook it (nothing recorded, cb not called).
 */
int pl_board_power_shot(struct pl_board *b, struct pl_power_shot *shot,
			pl_power_cb cb, void *user_data);

/*
 * The boot-mode line of the board's type (`boot_mode:` in the board type:
 * a power fixture, say a relay channel on a strap): held (switched on)
 * or not (off). The fixture is opened at the first call, its options'
 * %{NAME} resolved for this board, and stays open until
 * pl_board_boot_mode_release() or pl_board_close(), which switch it off.
 * cb as for pl_power_set(). -ENOTSUP when the type has none, -EINVAL
 * when its options do not resolve (logged), or the fixture's error.
 */
int pl_board_boot_mode(struct pl_board *b, bool hold, pl_power_cb cb,
		       void *user_data);
/* Switch the line off and close its fixture now (idempotent): the line
 * back to normal, whatever a run did. 0, or the close's error (logged:
 * the line may still be held). */
int pl_board_boot_mode_release(struct pl_board *b);
bool pl_board_has_boot_mode(const struct pl_board *b);
/* The line was last commanded held. */
bool pl_board_boot_mode_held(const struct pl_board *b);

/* The update transport reports transfer progress, acked bytes of total (0:
 * unknown), from the callback that read the acknowledgement, so byte and
 * progress triggers fire in that same callback. */
void pl_board_transfer_progress(struct pl_board *b, uint64_t acked,
				uint64_t total, uint64_t t_ns);

/*
 * A boot's commit (the type's console.settled line), watched from a power-on
 * on (board/settle.c). pl_board_settle_watch() watches b's console for its
 * type's boot and settled lines (*out NULL, 0 returned, when the type names
 * no settled line). pl_board_settle_pending(): since the last power-on the
 * board announced a boot (boot_ok) and its settled line has not come yet --
 * a power-off now would undo the commit. pl_board_settle_wait() calls cb
 * once the settled line comes (settled true), or when timeout_ms pass, the
 * power goes off, the wait is cancelled or the watch freed (settled false);
 * waited_ns is how long it waited. -EALREADY when nothing is pending (cb is
 * not called), -EBUSY while another wait runs.
 */
struct pl_board_settle;
typedef void (*pl_board_settled_cb)(struct pl_board *b, bool settled,
				    uint64_t waited_ns, void *user_data);
int pl_board_settle_watch(struct pl_board_settle **out, struct pl_board *b,
			  const struct pl_board_type *type);
void pl_board_settle_free(struct pl_board_settle *s); /* s may be NULL */
bool pl_board_settle_pending(const struct pl_board_settle *s);
int pl_board_settle_wait(struct pl_board_settle *s, uint64_t timeout_ms,
			 pl_board_settled_cb cb, void *user_data);
void pl_board_settle_cancel(struct pl_board_settle *s);

/*
 * Is the board off? (board/offcheck.c) Many relays do not answer a frame, so
 * a power-off the relay swallowed leaves a board running that the lab
 * thinks safe. A board whose type names a prompt is asked (a newline on the console): a board
 * that answers is on, and is switched off again and asked again, up to
 * attempts times. cb gets off = false when it still answers after them
 * (retried: how many power-offs were sent again). cb may be called before
 * this returns. -ENOTSUP when the board cannot be asked (no prompt in its
 * type, no console or no power fixture).
 */
typedef void (*pl_board_off_cb)(struct pl_board *b, bool off,
				unsigned retried, void *user_data);
int pl_board_check_off(struct pl_board *b, const struct pl_board_type *type,
		       unsigned attempts, pl_board_off_cb cb, void *user_data);

/* Log the console to path for the current run (NULL: stop). */
int pl_board_console_log(struct pl_board *b, const char *path);

/* A board that cannot be restored is quarantined for the rest of the suite
 * (a device outcome); a board whose fixtures failed is set aside (a lab
 * fault, never a verdict on the device). Both keep its later runs from
 * running; the engine keeps them in the store (patchlab/store.h). */
void pl_board_quarantine(struct pl_board *b, const char *why);
void pl_board_set_aside(struct pl_board *b, const char *why);
const char *pl_board_quarantined(const struct pl_board *b); /* NULL if not */
bool pl_board_set_aside_for_lab(const struct pl_board *b); /* a lab fault */

#endif
