/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the LCUS relay frame reader (pl_lcus_feed, the
 * virtual relay's parser) and the frame builder of power/lcus.
 *
 * Input layout: byte 0 picks the chunking (pieces of 1 + (b % 16) bytes, b
 * this byte xor the piece's first byte); the rest is the serial stream.
 *
 * Invariants (abort on violation): every switch is for channel 1..8; the
 * parser's counters add up (4 bytes per good frame, no more frames than
 * input allows); the result does not depend on the chunking (the stream
 * fed whole gives the same switches and counters); and every frame the
 * driver builds (pl_lcus_frame) for a channel of the relay is read back as
 * exactly that switch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lcus_frame.h"
#include "vrack_internal.h"
#include "fuzz.h"

struct log {
	uint64_t hash;
	uint64_t n;
	unsigned ch;
	bool on;
};

static void on_switch(void *ud, unsigned channel, bool on)
{
	struct log *l = ud;

	CHECK(channel >= 1 && channel <= PL_VRELAY_CHANNELS);
	l->hash = l->hash * 31 + channel * 2 + on;
	l->n++;
	l->ch = channel;
	l->on = on;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl_lcus_parser a = { 0 }, b = { 0 }, c = { 0 };
	struct log la = { 0 }, lb = { 0 }, lc = { 0 };
	size_t pos = 1;
	uint8_t f[PL_LCUS_FRAME_LEN];

	if (size < 1)
		return 0;
	while (pos < size) {
		size_t n = 1 + ((data[0] ^ data[pos]) % 16);

		if (n > size - pos)
			n = size - pos;
		pl_lcus_feed(&a, data + pos, n, on_switch, &la);
		pos += n;
	}
	pl_lcus_feed(&b, data + 1, size - 1, on_switch, &lb);

	CHECK(la.n == a.frames && la.hash == lb.hash && la.n == lb.n);
	CHECK(a.frames == b.frames && a.bad == b.bad &&
	      a.garbage == b.garbage && a.n == b.n);
	CHECK(a.n < 4);
	CHECK(4 * a.frames + a.garbage <= size - 1);

	/* what the driver sends is what the relay does */
	for (long ch = 1; ch <= PL_VRELAY_CHANNELS; ch++) {
		bool on = (data[0] >> (ch % 8)) & 1;

		CHECK(pl_lcus_frame(f, ch, on) == 0);
		pl_lcus_feed(&c, f, sizeof(f), on_switch, &lc);
		CHECK(lc.ch == (unsigned)ch && lc.on == on);
	}
	CHECK(pl_lcus_frame(f, 0, true) == -EINVAL);
	CHECK(pl_lcus_frame(f, PL_LCUS_MAX_CHANNEL + 1, true) == -EINVAL);
	return 0;
}
