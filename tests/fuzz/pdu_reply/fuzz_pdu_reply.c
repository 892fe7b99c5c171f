/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the pdudaemon answer reader
 * (fixtures/core/pdu_reply.c): the status and body libcurl hands over.
 *
 * Input layout:
 *   bytes 0-1  the HTTP status, big-endian (200 when both are 0xC8 0x00
 *              as a shorthand: see code_of)
 *   byte 2     chunking: body pieces of 1 + (b % 128) bytes, as libcurl's
 *              write callback gets them
 *   rest       the body
 *
 * Invariants (abort on violation): the body never passes PL_PDU_BODY_MAX
 * and a refused piece leaves it unchanged; an accepted piece is appended
 * as is; success exactly for 200 with a body starting "OK"; a failure
 * leaves the body without a trailing CR or LF.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/error.h"
#include "pdu_reply.h"
#include "fuzz.h"

static long code_of(const uint8_t *b)
{
	if (b[0] == 0xC8 && b[1] == 0)
		return 200;
	return (long)(b[0] << 8 | b[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl_strbuf body = { 0 };
	size_t pos = 3;
	bool refused = false;
	long code;
	int rc;

	if (size < 3)
		return 0;
	code = code_of(data);
	while (pos < size && !refused) {
		size_t c = 1 + ((data[2] ^ data[pos]) % 128), before = body.len;

		if (c > size - pos)
			c = size - pos;
		if (pl_pdu_body_add(&body, (const char *)data + pos, c) == c) {
			CHECK(body.len == before + c);
			CHECK(!memcmp(body.s + before, data + pos, c));
		} else {
			CHECK(body.len == before && before + c > PL_PDU_BODY_MAX);
			refused = true; /* libcurl stops the transfer */
		}
		CHECK(body.len <= PL_PDU_BODY_MAX);
		pos += c;
	}
	if (refused) {
		pl_strbuf_free(&body);
		return 0;
	}
	rc = pl_pdu_reply_judge(code, &body);
	if (rc == 0) {
		CHECK(code == 200 && body.len >= 2 && !memcmp(body.s, "OK", 2));
	} else {
		CHECK(rc == -PL_EFIXTURE);
		CHECK(code != 200 || size - 3 < 2 || memcmp(data + 3, "OK", 2));
		CHECK(!body.len || (body.s[body.len - 1] != '\n' &&
				    body.s[body.len - 1] != '\r'));
	}
	pl_strbuf_free(&body);
	return 0;
}
