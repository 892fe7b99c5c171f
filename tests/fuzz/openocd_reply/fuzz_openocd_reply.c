/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the OpenOCD TCL RPC reply reader
 * (fixtures/core/ocd_reply.c), on what OpenOCD's tcl_port sends.
 *
 * Input layout:
 *   byte 0   bits 0-5: the byte count of a read_memory (0..63) whose reply
 *            each successful reply is also read as; all bits: chunking
 *            (pieces of 1 + (b % 32) bytes, b this byte xor the piece's
 *            first byte)
 *   rest     the TCP stream
 *
 * Invariants (abort on violation): replies hold no 0x1a, the buffer only
 * shrinks by what was taken, every reply parses to 0, -PL_EREFUSED or
 * -PL_EPROTO with the message inside the reply, and a good read_memory
 * reply gives exactly the bytes it lists.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocd_reply.h"
#include "patchlab/error.h"
#include "fuzz.h"

static void check_reply(const char *text, size_t want)
{
	const char *msg;
	uint8_t out[64];
	int rc = pl_ocd_reply_parse(text, &msg);

	CHECK(!strchr(text, PL_OCD_EOM));
	CHECK(rc == 0 || rc == -PL_EREFUSED || rc == -PL_EPROTO);
	CHECK(msg == (rc == -PL_EPROTO ? text : text + 2));
	if (rc != 0)
		return;
	CHECK(text[0] == '0' || text[0] == '2');
	if (pl_ocd_parse_bytes(msg, out, want) == 0 && want) {
		/* printed back the way OpenOCD lists bytes, it parses the same */
		char again[64 * 5 + 1];
		uint8_t out2[64];
		size_t o = 0;

		for (size_t i = 0; i < want; i++)
			o += (size_t)snprintf(again + o, sizeof(again) - o,
					      "%s0x%02x", i ? " " : "", out[i]);
		CHECK(pl_ocd_parse_bytes(again, out2, want) == 0);
		CHECK(!memcmp(out, out2, want));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl_strbuf in = { 0 };
	size_t pos = 1, want;
	char *text;
	int rc;

	if (size < 1)
		return 0;
	want = data[0] & 63;
	while (pos < size) {
		size_t c = 1 + ((data[0] ^ data[pos]) % 32);

		if (c > size - pos)
			c = size - pos;
		CHECK(pl_strbuf_append(&in, data + pos, c) == 0);
		pos += c;
		for (;;) {
			size_t before = in.len;

			rc = pl_ocd_reply_next(&in, &text);
			CHECK(rc == 0 || rc == 1);
			if (!rc) {
				CHECK(in.len == before);
				break;
			}
			CHECK(in.len < before && strlen(text) < before);
			check_reply(text, want);
			free(text);
		}
		CHECK(!in.s || !memchr(in.s, PL_OCD_EOM, in.len));
	}
	pl_strbuf_free(&in);
	return 0;
}
