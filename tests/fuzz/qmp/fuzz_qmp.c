/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the QMP reader of power/qemu
 * (fixtures/core/qmp_reader.c): QEMU's monitor socket.
 *
 * Input layout: byte 0 picks the chunking (pieces of 1 + (b % 64) bytes, b
 * this byte xor the piece's first byte); the rest is the socket's stream.
 *
 * Invariants (abort on violation): a line holds no LF, takes what it says
 * (its length plus its end of line), lines come in stream order with
 * nothing lost (the lines and their ends add up to the stream up to its
 * last LF), and the class is what the line says read as JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "qmp_reader.h"
#include "fuzz.h"

/* The class against jansson's reading of the line: a JSON object with
 * "QMP" is the greeting, else with "return" a reply, else with "error" a
 * failure; anything else (events, chatter, broken JSON) is an event. */
static void check_class(const char *line)
{
	const char *rest;
	enum pl_qmp_msg m = pl_qmp_classify(line, &rest), want;
	json_t *j;

	CHECK(rest >= line && rest <= line + strlen(line));
	CHECK(*rest != ' ' && *rest != '\t');
	if (!*rest) {
		CHECK(m == PL_QMP_EMPTY);
		return;
	}
	j = json_loads(rest, JSON_REJECT_DUPLICATES, NULL);
	want = PL_QMP_EVENT;
	if (json_is_object(j)) {
		if (json_object_get(j, "QMP"))
			want = PL_QMP_GREETING;
		else if (json_object_get(j, "return"))
			want = PL_QMP_RETURN;
		else if (json_object_get(j, "error"))
			want = PL_QMP_ERROR;
	}
	json_decref(j);
	CHECK(m == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl_strbuf in = { 0 };
	size_t pos = 1, taken = 1, used;
	const uint8_t *last_nl;
	char *line;

	if (size < 1)
		return 0;
	while (pos < size) {
		size_t c = 1 + ((data[0] ^ data[pos]) % 64);

		if (c > size - pos)
			c = size - pos;
		CHECK(pl_strbuf_append(&in, data + pos, c) == 0);
		pos += c;
		while ((line = pl_qmp_line_next(&in, &used))) {
			size_t len = strlen(line);

			CHECK(used >= 1 && len + 1 <= used);
			CHECK(data[taken + used - 1] == '\n');
			/* NUL bytes in a line cut it short; otherwise the line
			 * is the stream's bytes up to its CR LF or LF */
			CHECK(!memcmp(line, data + taken, len));
			if (!memchr(data + taken, '\0', used))
				CHECK(len + 1 == used ||
				      (len + 2 == used &&
				       data[taken + len] == '\r'));
			check_class(line);
			pl_qmp_line_drop(&in, used);
			taken += used;
		}
	}
	last_nl = size > 1 ? memrchr(data + 1, '\n', size - 1) : NULL;
	CHECK(taken == (last_nl ? (size_t)(last_nl - data) + 1 : 1));
	CHECK(in.len == size - taken);
	pl_strbuf_free(&in);
	return 0;
}
