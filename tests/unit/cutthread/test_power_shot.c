/* SPDX-License-Identifier: MIT */
/*
 * /pl/unit/power_shot: the one-call off shot of the power layer
 * (patchlab/power.h), which the cut thread issues for a delayed cut.
 *
 * An LCUS relay on a pty: a shot fired from another thread writes exactly
 * one off frame, once; settling it leaves the layer off with the shot's
 * issued_ns; a power command takes an armed shot back and arms it again
 * after; a close cancels it (a firing thread then writes nothing, ASan
 * sees no use of the closed driver); a driver without prepare_off (exec)
 * refuses to arm one, the virtual one only stamps.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/error.h"
#include "patchlab/power.h"
#include "ptywire.h"
#include "pl_test.h"

struct fx {
	uv_loop_t loop;
	struct ptywire wire;
	struct pl_power *p;
	struct pl_fixture_ctx ctx;
	int done;           /* completion callbacks heard */
	int status;
	struct pl_power_times times;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || uv_loop_init(&f->loop))
		return -1;
	f->wire.master = -1;
	f->ctx.loop = &f->loop;
	f->ctx.board_id = "b1";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl_power_close(f->p);
	if (f->wire.master >= 0)
		ptywire_close(&f->wire);
	/* exec's last off command is reaped by the loop */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	pl_test_loop_drain(&f->loop);
	free(f);
	return 0;
}

static void open_lcus(struct fx *f)
{
	struct pl_opt o[2] = { { .key = "port" }, { .key = "channel",
						     .value = "1" } };
	struct pl_opts opts = { o, 2 };

	assert_int_equal(ptywire_open(&f->wire, &f->loop), 0);
	o[0].value = f->wire.path;
	assert_int_equal(pl_power_open(&f->p, &f->ctx, "lcus", &opts), 0);
}

static void on_done(struct pl_power *p, int status,
		    const struct pl_power_times *t, void *ud)
{
	struct fx *f = ud;

	(void)p;
	f->done++;
	f->status = status;
	f->times = *t;
}

static bool done_once(void *ud)
{
	return ((struct fx *)ud)->done > 0;
}

struct frames_want {
	struct fx *f;
	int on;
	unsigned n;
};

static bool got_frames(void *ud)
{
	struct frames_want *w = ud;

	return ptywire_frames(&w->f->wire, w->on) >= w->n;
}

/* Switch on through the layer and wait for its frame on the wire. */
static void switch_on(struct fx *f)
{
	struct frames_want w = { f, 1, 1 };

	f->done = 0;
	assert_int_equal(pl_power_set(f->p, true, on_done, f), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, done_once, f, 5000), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, got_frames, &w, 5000),
			 0);
	ptywire_clear(&f->wire);
}

static void *fire_thread(void *arg)
{
	return pl_power_shot_fire(arg) ? arg : NULL;
}

static bool fire_elsewhere(struct pl_power_shot *s)
{
	pthread_t th;
	void *r;

	assert_int_equal(pthread_create(&th, NULL, fire_thread, s), 0);
	assert_int_equal(pthread_join(th, &r), 0);
	return r != NULL;
}

static void shot_fires_once_from_another_thread(void **state)
{
	struct fx *f = *state;
	struct pl_power_shot s = { 0 };
	struct frames_want off = { f, 0, 1 };

	open_lcus(f);
	switch_on(f);
	assert_true(pl_power_is_on(f->p));
	assert_int_equal(pl_power_shot_arm(f->p, &s), 0);
	assert_int_equal(pl_power_shot_state(&s), PL_SHOT_ARMED);
	assert_true(fire_elsewhere(&s));
	assert_int_equal(pl_power_shot_state(&s), PL_SHOT_FIRED);
	assert_int_equal(s.err, 0);
	assert_true(s.issued_ns >= s.requested_ns && s.requested_ns > 0);
	/* once: a second try issues nothing */
	assert_false(fire_elsewhere(&s));
	assert_int_equal(pl_test_loop_until(&f->loop, got_frames, &off, 5000),
			 0);
	assert_int_equal(ptywire_frames(&f->wire, 0), 1);
	/* the loop side: off, with the thread's times */
	f->done = 0;
	assert_int_equal(pl_power_shot_settle(f->p, &s, on_done, f), 0);
	assert_false(pl_power_is_on(f->p));
	assert_int_equal(pl_test_loop_until(&f->loop, done_once, f, 5000), 0);
	assert_int_equal(f->status, 0);
	assert_int_equal(f->times.issued_ns, s.issued_ns);
	assert_int_equal(pl_power_current(f->p)->issued_ns, s.issued_ns);
	assert_int_equal(pl_power_shot_state(&s), PL_SHOT_IDLE);
}

static void command_takes_the_shot_back_and_rearms_it(void **state)
{
	struct fx *f = *state;
	struct pl_power_shot s = { 0 };
	struct frames_want off = { f, 0, 1 };

	open_lcus(f);
	assert_int_equal(pl_power_shot_arm(f->p, &s), 0);
	/* a command of the loop meanwhile: the shot never meets its write,
	 * and is offered again once the frame is out */
	switch_on(f);
	assert_int_equal(pl_power_shot_state(&s), PL_SHOT_ARMED);
	assert_true(fire_elsewhere(&s));
	assert_int_equal(pl_test_loop_until(&f->loop, got_frames, &off, 5000),
			 0);
	/* a command after it fired overtakes it: settling issues nothing */
	f->done = 0;
	assert_int_equal(pl_power_set(f->p, true, on_done, f), 0);
	assert_int_equal(pl_power_shot_settle(f->p, &s, NULL, NULL),
			 -PL_ECANCELED);
	assert_true(pl_power_is_on(f->p));
	assert_int_equal(pl_test_loop_until(&f->loop, done_once, f, 5000), 0);
	/* cancelled on the loop: the other thread issues nothing */
	assert_int_equal(pl_power_shot_arm(f->p, &s), 0);
	assert_int_equal(pl_power_shot_cancel(&s), PL_SHOT_CANCELLED);
	assert_false(fire_elsewhere(&s));
	pl_power_shot_release(&s);
	/* one shot a handle */
	{
		struct pl_power_shot a = { 0 }, b = { 0 };

		assert_int_equal(pl_power_shot_arm(f->p, &a), 0);
		assert_int_equal(pl_power_shot_arm(f->p, &b), -EBUSY);
		pl_power_shot_release(&a);
		assert_int_equal(pl_power_shot_arm(f->p, &b), 0);
		pl_power_shot_release(&b);
	}
}

static void close_cancels_an_armed_shot(void **state)
{
	struct fx *f = *state;
	struct pl_power_shot s = { 0 };
	struct frames_want off = { f, 0, 1 };

	open_lcus(f);
	switch_on(f);
	assert_int_equal(pl_power_shot_arm(f->p, &s), 0);
	/* the close's own off goes; the shot's fd goes with the driver */
	assert_int_equal(pl_power_close(f->p), 0);
	f->p = NULL;
	assert_int_equal(pl_power_shot_state(&s), PL_SHOT_CANCELLED);
	assert_true(s.closed);
	assert_false(fire_elsewhere(&s));
	assert_int_equal(pl_test_loop_until(&f->loop, got_frames, &off, 5000),
			 0);
	assert_int_equal(ptywire_frames(&f->wire, 0), 1);
	pl_power_shot_release(&s);
	pl_power_shot_release(&s); /* idempotent */
}

static void driver_without_the_op_refuses(void **state)
{
	struct fx *f = *state;
	const char *on[] = { "true" }, *off[] = { "true" };
	struct pl_opt o[2] = { { .key = "on", .list = on, .list_len = 1 },
			       { .key = "off", .list = off, .list_len = 1 } };
	struct pl_opts opts = { o, 2 };
	struct pl_power_shot s = { 0 };

	assert_int_equal(pl_power_open(&f->p, &f->ctx, "exec", &opts), 0);
	assert_int_equal(pl_power_shot_arm(f->p, &s), -ENOTSUP);
	assert_int_equal(pl_power_shot_state(&s), PL_SHOT_IDLE);
	pl_power_shot_release(&s);
}

static void virtual_shot_only_stamps(void **state)
{
	struct fx *f = *state;
	struct pl_opts opts = { NULL, 0 };
	struct pl_power_shot s = { 0 };
	bool on = true;

	assert_int_equal(pl_power_open(&f->p, &f->ctx, "virtual", &opts), 0);
	f->done = 0;
	assert_int_equal(pl_power_set(f->p, true, on_done, f), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, done_once, f, 5000), 0);
	assert_int_equal(pl_power_shot_arm(f->p, &s), 0);
	assert_int_equal(s.kind, PL_SHOT_STAMP);
	assert_true(fire_elsewhere(&s));
	f->done = 0;
	assert_int_equal(pl_power_shot_settle(f->p, &s, on_done, f), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, done_once, f, 5000), 0);
	assert_int_equal(f->times.issued_ns, s.issued_ns);
	assert_false(pl_power_is_on(f->p));
	pl_driver_find(PL_FIXTURE_POWER, "virtual");
	assert_int_equal(((const struct pl_power_driver *)pl_driver_find(
		PL_FIXTURE_POWER, "virtual"))->get(f->p, &on), 0);
	assert_false(on);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			shot_fires_once_from_another_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(
			command_takes_the_shot_back_and_rearms_it, setup,
			teardown),
		cmocka_unit_test_setup_teardown(close_cancels_an_armed_shot,
						setup, teardown),
		cmocka_unit_test_setup_teardown(driver_without_the_op_refuses,
						setup, teardown),
		cmocka_unit_test_setup_teardown(virtual_shot_only_stamps,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("/pl/unit/power_shot", tests, NULL,
					   NULL);
}
