/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the XMODEM receiver (fixtures/core/xmodem.c).
 *
 * Input layout:
 *   byte 0   chunking: the stream is cut into pieces of 1 + (b % 64) bytes,
 *            where b is this byte xor the piece's first byte
 *   rest     the bytes from the sender; a piece whose first byte is 0xFE is
 *            not fed but taken as the sender staying silent (timeout)
 *
 * Invariants (abort on violation): blocks are 128 or 1024 bytes, handed out
 * in order at consecutive offsets, never after done; done is called at most
 * once; received() is the sum of the blocks; input after done is refused
 * with -EALREADY; everything the receiver sends is one of C ACK NAK CAN.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "patchlab/xmodem.h"
#include "fuzz.h"

struct sink {
	uint64_t next;
	uint64_t sum;
	unsigned done;
};

static void on_send(const uint8_t *buf, size_t len, void *ud)
{
	(void)ud;
	for (size_t i = 0; i < len; i++)
		CHECK(buf[i] == PL_XMODEM_CRC || buf[i] == PL_XMODEM_ACK ||
		      buf[i] == PL_XMODEM_NAK || buf[i] == PL_XMODEM_CAN);
}

static void on_block(uint64_t offset, const uint8_t *data, size_t len,
		     void *ud)
{
	struct sink *s = ud;

	CHECK(!s->done);
	CHECK(len == 128 || len == 1024);
	CHECK(offset == s->next);
	for (size_t i = 0; i < len; i++) /* all of it readable (ASan) */
		s->sum += data[i];
	s->next += len;
}

static void on_done(int status, void *ud)
{
	struct sink *s = ud;

	CHECK(status <= 0);
	s->done++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink s = { 0 };
	struct pl_xmodem_io io = { .send = on_send, .block = on_block,
				   .done = on_done, .user_data = &s };
	struct pl_xmodem_limits lim = { .retries = 3, .start_retries = 3 };
	struct pl_xmodem_receiver *r;
	size_t pos = 1;

	if (size < 1 || pl_xmodem_receiver_new(&r, &lim, &io))
		return 0;
	pl_xmodem_receiver_start(r);
	while (pos < size) {
		size_t c = 1 + ((data[0] ^ data[pos]) % 64);
		unsigned done_before = s.done;
		int rc;

		if (c > size - pos)
			c = size - pos;
		if (data[pos] == 0xFE)
			rc = pl_xmodem_receiver_timeout(r);
		else
			rc = pl_xmodem_receiver_input(r, data + pos, c);
		CHECK(rc == 0 || rc == -EALREADY);
		CHECK((rc == -EALREADY) == (done_before != 0));
		CHECK(s.done <= 1);
		CHECK(pl_xmodem_receiver_finished(r) == (s.done == 1));
		CHECK(pl_xmodem_receiver_received(r) == s.next);
		pos += c;
	}
	if (!s.done) {
		pl_xmodem_receiver_cancel(r);
		CHECK(s.done == 1);
	}
	pl_xmodem_receiver_free(r);
	return 0;
}
