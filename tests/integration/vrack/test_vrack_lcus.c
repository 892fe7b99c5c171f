/* SPDX-License-Identifier: MIT */
/*
 * /pl/vrack/lcus: the virtual relay's frame parser on its own (the same
 * frames reach it through a pty in integration_vrack_inproc).
 */
#include <string.h>

#include "pl_test.h"
#include "vrack_internal.h"

struct seen {
	unsigned n;
	unsigned ch[16];
	bool on[16];
};

static void record(void *ud, unsigned ch, bool on)
{
	struct seen *s = ud;

	if (s->n < 16) {
		s->ch[s->n] = ch;
		s->on[s->n] = on;
	}
	s->n++;
}

static void valid_frames_switch_their_channel(void **state)
{
	static const uint8_t in[] = { 0xA0, 0x01, 0x01, 0xA2,
				      0xA0, 0x08, 0x00, 0xA8 };
	struct pl_lcus_parser ps = { 0 };
	struct seen s = { 0 };

	(void)state;
	pl_lcus_feed(&ps, in, sizeof(in), record, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ch[0], 1);
	assert_true(s.on[0]);
	assert_int_equal(s.ch[1], 8);
	assert_false(s.on[1]);
	assert_int_equal(ps.frames, 2);
	assert_int_equal(ps.bad, 0);
}

static void bad_sum_channel_or_state_is_ignored(void **state)
{
	static const uint8_t in[] = {
		0xA0, 0x01, 0x01, 0xA3, /* sum off by one */
		0xA0, 0x00, 0x01, 0xA1, /* channel 0 */
		0xA0, 0x09, 0x01, 0xAA, /* channel 9 */
		0xA0, 0x01, 0x02, 0xA3, /* state 2 */
	};
	struct pl_lcus_parser ps = { 0 };
	struct seen s = { 0 };

	(void)state;
	pl_lcus_feed(&ps, in, sizeof(in), record, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(ps.bad, 4);
}

static void garbage_is_skipped_and_frames_resync(void **state)
{
	/* noise; a truncated frame whose tail starts a real one; a bad frame
	 * holding the start of the next */
	static const uint8_t in[] = {
		0x13, 0x37, 0xff,
		0xA0, 0x03,
		0xA0, 0x02, 0x01, 0xA3,
		0xA0, 0xA0, 0x04, 0x01, 0xA5,
	};
	struct pl_lcus_parser ps = { 0 };
	struct seen s = { 0 };

	(void)state;
	pl_lcus_feed(&ps, in, sizeof(in), record, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ch[0], 2);
	assert_int_equal(s.ch[1], 4);
	assert_int_equal(ps.garbage, 3);
	assert_int_equal(ps.bad, 2);
}

static void a_frame_split_in_single_bytes_counts(void **state)
{
	static const uint8_t in[] = { 0xA0, 0x05, 0x01, 0xA6 };
	struct pl_lcus_parser ps = { 0 };
	struct seen s = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		pl_lcus_feed(&ps, in + i, 1, record, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ch[0], 5);
	assert_true(s.on[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_frames_switch_their_channel),
		cmocka_unit_test(bad_sum_channel_or_state_is_ignored),
		cmocka_unit_test(garbage_is_skipped_and_frames_resync),
		cmocka_unit_test(a_frame_split_in_single_bytes_counts),
	};

	return cmocka_run_group_tests_name("/pl/vrack/lcus", tests, NULL, NULL);
}
