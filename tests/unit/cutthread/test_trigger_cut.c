/* SPDX-License-Identifier: MIT */
/*
 * /pl/unit/trigger_cut: delayed cuts of a board through the cut thread.
 *
 * A board of two ptys: an LCUS relay (power) and a tty console. A console
 * cut with a delay and a time cut fire through the cut thread (their
 * trigger event says "timed_by": "thread"), never before the instant, and
 * the relay gets its off frame; disarmed before the instant, or with the
 * board closed under it, nothing is written and nothing is recorded (and
 * ASan sees no use of the closed board); a power driver without a shot
 * (exec) and a glitch keep the loop's timer ("timed_by": "loop").
 * Deadlines only wait for events; nothing here is timed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "patchlab/board.h"
#include "patchlab/clock.h"
#include "patchlab/config.h"
#include "patchlab/trigger.h"
#include "ptywire.h"
#include "pl_test.h"

/* The instant of a cut taken back before it: far enough that the loop
 * thread is not preempted that long between arming and taking back (if it
 * was, the cut thread rightly fired: the test skips, it proves nothing). */
#define LATER_MS 200
/* Past that instant, to show that nothing happened. */
#define QUIET_MS 600

/* Skip when the instant may have passed before the cut was taken back. */
#define SKIP_IF_STALLED(f)                                                   \
	PL_TEST_SKIP_IF(pl_now_ns() - pl_trigger_info((f)->t)->armed_ns >=   \
			LATER_MS * 1000000ull / 2,                           \
			"the loop stalled between arming and taking back")

struct fx {
	uv_loop_t loop;
	struct ptywire power, console;
	struct pl_opt popt[2], copt[1];
	const char *on_argv[1], *off_argv[1];
	struct pl_fixture_cfg pcfg, ccfg;
	struct pl_board_cfg cfg;
	struct pl_board *b;
	struct pl_trigger *t;
	json_t *trig_event;     /* the last trigger event */
	unsigned trig_events;
	unsigned fired;         /* trigger callbacks */
};

static void sink(void *ud, enum pl_board_event ev, uint64_t t_ns,
		 const char *json)
{
	struct fx *f = ud;

	(void)t_ns;
	if (ev != PL_BEV_TRIGGER)
		return;
	f->trig_events++;
	json_decref(f->trig_event);
	f->trig_event = json_loads(json, 0, NULL);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || uv_loop_init(&f->loop))
		return -1;
	f->power.master = f->console.master = -1;
	f->cfg.id = "b1";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl_trigger_free(f->t);
	pl_board_close(f->b);
	if (f->power.master >= 0)
		ptywire_close(&f->power);
	if (f->console.master >= 0)
		ptywire_close(&f->console);
	/* exec's last off command is reaped by the loop */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	pl_test_loop_drain(&f->loop);
	json_decref(f->trig_event);
	free(f);
	return 0;
}

struct frames_want {
	struct ptywire *w;
	int on;
	unsigned n;
};

static bool got_frames(void *ud)
{
	struct frames_want *w = ud;

	return ptywire_frames(w->w, w->on) >= w->n;
}

static bool never(void *ud)
{
	(void)ud;
	return false;
}

static void on_power(struct pl_power *p, int status,
		     const struct pl_power_times *t, void *ud)
{
	(void)p;
	(void)t;
	*(int *)ud = status + 1;
}

static bool power_done(void *ud)
{
	return *(int *)ud != 0;
}

/* The board: an LCUS relay (lcus = true) or exec power, a tty console;
 * switched on. */
static void open_board(struct fx *f, bool lcus)
{
	struct frames_want off = { &f->power, 0, 1 };
	const char *why = NULL;
	int done = 0;

	if (lcus) {
		assert_int_equal(ptywire_open(&f->power, &f->loop), 0);
		f->popt[0] = (struct pl_opt){ .key = "port",
					      .value = f->power.path };
		f->popt[1] = (struct pl_opt){ .key = "channel", .value = "1" };
		f->pcfg.opts = (struct pl_opts){ f->popt, 2 };
	} else {
		f->on_argv[0] = f->off_argv[0] = "true";
		f->popt[0] = (struct pl_opt){ .key = "on",
					      .list = f->on_argv,
					      .list_len = 1 };
		f->popt[1] = (struct pl_opt){ .key = "off",
					      .list = f->off_argv,
					      .list_len = 1 };
		f->pcfg.opts = (struct pl_opts){ f->popt, 2 };
	}
	f->pcfg.cls = PL_FIXTURE_POWER;
	f->pcfg.driver = pl_driver_find(PL_FIXTURE_POWER,
					lcus ? "lcus" : "exec");
	assert_non_null(f->pcfg.driver);
	assert_int_equal(ptywire_open(&f->console, &f->loop), 0);
	f->copt[0] = (struct pl_opt){ .key = "path", .value = f->console.path };
	f->ccfg.cls = PL_FIXTURE_CONSOLE;
	f->ccfg.driver = pl_driver_find(PL_FIXTURE_CONSOLE, "tty");
	f->ccfg.opts = (struct pl_opts){ f->copt, 1 };
	assert_non_null(f->ccfg.driver);
	f->cfg.fixture[PL_FIXTURE_POWER] = &f->pcfg;
	f->cfg.fixture[PL_FIXTURE_CONSOLE] = &f->ccfg;
	assert_int_equal(pl_board_open(&f->b, &f->loop, &f->cfg, NULL, &why),
			 0);
	pl_board_set_event_sink(f->b, sink, f);
	if (lcus)
		assert_int_equal(pl_test_loop_until(&f->loop, got_frames, &off,
						    5000), 0);
	assert_int_equal(pl_board_set_power(f->b, true, on_power, &done), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, power_done, &done,
					    10000), 0);
	assert_int_equal(done, 1);
	ptywire_clear(&f->power);
}

static void on_fired(struct pl_trigger *t, void *ud)
{
	(void)t;
	((struct fx *)ud)->fired++;
}

static bool fired(void *ud)
{
	return ((struct fx *)ud)->fired > 0;
}

static void arm(struct fx *f, const struct pl_trigger_spec *spec)
{
	const char *why = NULL;

	assert_int_equal(pl_trigger_arm(&f->t, f->b, spec, &why), 0);
	pl_trigger_set_callback(f->t, on_fired, f);
}

static const char *timed_by(struct fx *f)
{
	assert_non_null(f->trig_event);
	return json_string_value(json_object_get(f->trig_event, "timed_by"));
}

/* Fired once, recorded, never before its delay. */
static void check_fired(struct fx *f, uint64_t delay_us, const char *by)
{
	const struct pl_trigger_info *i = pl_trigger_info(f->t);

	assert_int_equal(pl_test_loop_until(&f->loop, fired, f, 10000), 0);
	assert_true(i->fired);
	assert_int_equal(i->status, 0);
	assert_true(i->seen_ns > 0);
	assert_true(i->issued_ns >= i->seen_ns + delay_us * 1000u);
	assert_true(i->done_ns >= i->issued_ns);
	assert_int_equal(f->trig_events, 1);
	assert_string_equal(timed_by(f), by);
	assert_int_equal(json_integer_value(json_object_get(f->trig_event,
							    "issued_ns")),
			 (json_int_t)i->issued_ns);
}

static void console_cut_fires_from_the_thread(void **state)
{
	struct fx *f = *state;
	struct pl_trigger_spec spec = { .kind = PL_TRIG_CONSOLE,
					.pattern = "erase sector",
					.value_lo = 2, .delay_us = 3000 };
	struct frames_want off = { &f->power, 0, 1 };
	const char line[] = "erase sector 0\r\nerase sector 1\r\n";

	open_board(f, true);
	arm(f, &spec);
	assert_int_equal(write(f->console.master, line, sizeof(line) - 1),
			 (ssize_t)(sizeof(line) - 1));
	check_fired(f, spec.delay_us, "thread");
	assert_int_equal(pl_test_loop_until(&f->loop, got_frames, &off, 5000),
			 0);
	assert_false(pl_power_is_on(pl_board_power(f->b)));
	assert_int_equal(pl_power_current(pl_board_power(f->b))->issued_ns,
			 pl_trigger_info(f->t)->issued_ns);
}

static void time_cut_fires_from_the_thread(void **state)
{
	struct fx *f = *state;
	struct pl_trigger_spec spec = { .kind = PL_TRIG_TIME, .value_lo = 5,
					.delay_us = 1000 };
	struct frames_want off = { &f->power, 0, 1 };

	open_board(f, true);
	arm(f, &spec);
	check_fired(f, spec.delay_us, "thread");
	assert_int_equal(pl_test_loop_until(&f->loop, got_frames, &off, 5000),
			 0);
	assert_false(pl_power_is_on(pl_board_power(f->b)));
}

static void disarmed_before_the_instant_cuts_nothing(void **state)
{
	struct fx *f = *state;
	struct pl_trigger_spec spec = { .kind = PL_TRIG_TIME,
					.value_lo = LATER_MS,
					.delay_us = 500 };

	open_board(f, true);
	arm(f, &spec);
	pl_trigger_disarm(f->t);
	SKIP_IF_STALLED(f);
	assert_int_equal(pl_test_loop_until(&f->loop, never, NULL, QUIET_MS),
			 -ETIMEDOUT);
	assert_int_equal(ptywire_frames(&f->power, 0), 0);
	assert_false(pl_trigger_info(f->t)->fired);
	assert_int_equal(f->trig_events, 0);
	assert_true(pl_power_is_on(pl_board_power(f->b)));
	/* and freed while the thread waits */
	pl_trigger_free(f->t);
	f->t = NULL;
	arm(f, &spec);
	SKIP_IF_STALLED(f);
	pl_trigger_free(f->t);
	f->t = NULL;
	assert_int_equal(pl_test_loop_until(&f->loop, never, NULL, QUIET_MS),
			 -ETIMEDOUT);
	assert_int_equal(ptywire_frames(&f->power, 0), 0);
	assert_int_equal(f->fired, 0);
}

static void board_closed_with_a_shot_pending(void **state)
{
	struct fx *f = *state;
	struct pl_trigger_spec spec = { .kind = PL_TRIG_TIME,
					.value_lo = LATER_MS,
					.delay_us = 500 };
	struct frames_want off = { &f->power, 0, 1 };

	open_board(f, true);
	arm(f, &spec);
	/* the close switches off itself and takes the shot back */
	assert_int_equal(pl_board_close(f->b), 0);
	f->b = NULL;
	SKIP_IF_STALLED(f);
	assert_int_equal(pl_test_loop_until(&f->loop, got_frames, &off, 5000),
			 0);
	/* the instant passes: the thread issues nothing, the loop side
	 * touches nothing of the closed board */
	assert_int_equal(pl_test_loop_until(&f->loop, never, NULL, QUIET_MS),
			 -ETIMEDOUT);
	assert_int_equal(ptywire_frames(&f->power, 0), 1);
	assert_false(pl_trigger_info(f->t)->fired);
	assert_int_equal(f->fired, 0);
	assert_int_equal(f->trig_events, 0);
}

static void exec_driver_times_on_the_loop(void **state)
{
	struct fx *f = *state;
	struct pl_trigger_spec spec = { .kind = PL_TRIG_TIME, .value_lo = 5,
					.delay_us = 1000 };

	open_board(f, false);
	arm(f, &spec);
	check_fired(f, spec.delay_us, "loop");
	assert_false(pl_power_is_on(pl_board_power(f->b)));
}

static void glitch_times_on_the_loop(void **state)
{
	struct fx *f = *state;
	struct pl_trigger_spec spec = { .kind = PL_TRIG_TIME, .value_lo = 5,
					.delay_us = 1000,
					.action = PL_TRIG_GLITCH,
					.glitch_ms = 1 };
	struct frames_want offon = { &f->power, 1, 1 };

	open_board(f, true);
	arm(f, &spec);
	check_fired(f, spec.delay_us, "loop");
	/* off, then on again */
	assert_int_equal(pl_test_loop_until(&f->loop, got_frames, &offon,
					    5000), 0);
	assert_int_equal(ptywire_frames(&f->power, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			console_cut_fires_from_the_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(
			time_cut_fires_from_the_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(
			disarmed_before_the_instant_cuts_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			board_closed_with_a_shot_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(
			exec_driver_times_on_the_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(glitch_times_on_the_loop,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("/pl/unit/trigger_cut", tests, NULL,
					   NULL);
}
