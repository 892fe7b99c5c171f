/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the expect engine (controller/src/expect/).
 *
 * Input layout:
 *   byte 0      flags: bit 0 eager regex, bit 1 ignore case,
 *               bits 2-3 nth - 1, bits 4-6 window = 64 << n
 *   ...\n       a POSIX ERE (skipped if it does not compile)
 *   ...\n       a literal (skipped if empty)
 *   rest        the console stream, cut into chunks whose sizes come from
 *               the stream's own bytes
 *
 * Invariants checked (abort on violation): the window bound, matches
 * inside the stream and in order, the reported text equal to the stream
 * at the reported offset, and for a literal alone the same first match
 * whether the stream comes in one chunk or many.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/expect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c))                                                    \
			abort();                                             \
	} while (0)

static const uint8_t *take_line(const uint8_t **p, const uint8_t *end,
				size_t *len)
{
	const uint8_t *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

	if (!nl)
		return NULL;
	*len = (size_t)(nl - s);
	*p = nl + 1;
	return s;
}

/* Feed the stream in chunks (whole when chunked is false); returns the
 * offset of the first match or UINT64_MAX. */
static uint64_t run(const uint8_t *stream, size_t n, size_t window,
		    const char *regex, unsigned rflags, const char *lit,
		    size_t litlen, unsigned nth, int chunked)
{
	struct pl_expect *e;
	const struct pl_expect_match *m = NULL;
	uint64_t first = UINT64_MAX, t = 0, last_end = 0;
	size_t pos = 0, armed = 0;

	if (pl_expect_open(&e, &(struct pl_expect_config){ .window = window }))
		return UINT64_MAX;
	if (regex && !pl_expect_add(e, &(struct pl_expect_pattern){
					  .kind = PL_EXPECT_REGEX, .text = regex,
					  .nth = nth, .flags = rflags },
				    NULL, NULL))
		armed++;
	if (lit && !pl_expect_add(e, &(struct pl_expect_pattern){
					.kind = PL_EXPECT_LITERAL, .text = lit,
					.len = litlen, .nth = nth },
				  NULL, NULL))
		armed++;
	while (pos < n) {
		size_t c = chunked ? 1 + (stream[pos] ^ pos) % 13 : n - pos;

		if (c > n - pos)
			c = n - pos;
		CHECK(pl_expect_feed(e, stream + pos, c, ++t, &m) == 0);
		CHECK(pl_expect_buffered(e) <= window);
		if (m) {
			CHECK(m->index < armed);
			CHECK(m->offset + m->len <= pos + c);
			CHECK(m->offset >= last_end);
			CHECK(!memcmp(m->text, stream + m->offset, m->len));
			CHECK(m->t_ns <= t && m->settled_ns >= m->t_ns);
			CHECK(m->ncaptures <= PL_EXPECT_MAX_CAPTURES);
			for (unsigned k = 0; k < m->ncaptures; k++)
				CHECK(!m->cap[k].p || m->cap[k].len <= m->len);
			if (first == UINT64_MAX)
				first = m->offset;
			last_end = m->offset + m->len;
			/* re-arm and keep going over the rest */
			armed = 0;
			if (lit && !pl_expect_add(e, &(struct pl_expect_pattern){
						.kind = PL_EXPECT_LITERAL,
						.text = lit, .len = litlen },
					  NULL, NULL))
				armed++;
		}
		pos += c;
	}
	CHECK(pl_expect_total(e) == n);
	pl_expect_free(e);
	return first;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size, *rx, *lt;
	size_t rxlen, ltlen, window;
	unsigned flags, rflags, nth;
	char *regex = NULL, *lit = NULL;

	if (size < 1)
		return 0;
	flags = data[0];
	rflags = (flags & 1 ? PL_EXPECT_EAGER : 0) |
		 (flags & 2 ? PL_EXPECT_ICASE : 0);
	nth = 1 + ((flags >> 2) & 3);
	window = (size_t)64 << ((flags >> 4) & 7);
	rx = take_line(&p, end, &rxlen);
	lt = rx ? take_line(&p, end, &ltlen) : NULL;
	if (!rx || !lt || rxlen > 200 || ltlen > 200)
		return 0;
	regex = strndup((const char *)rx, rxlen);
	if (ltlen) {
		lit = malloc(ltlen);
		CHECK(lit);
		memcpy(lit, lt, ltlen);
	}
	CHECK(regex);
	if (memchr(rx, 0, rxlen)) { /* a C string cannot hold it */
		free(regex);
		regex = NULL;
	}
	run(p, (size_t)(end - p), window, regex, rflags, lit, ltlen, nth, 1);
	/* a literal alone: chunking must not change the first match */
	if (lit && (size_t)(end - p) <= 16384)
		CHECK(run(p, (size_t)(end - p), 65536, NULL, 0, lit, ltlen, nth,
			  1) == run(p, (size_t)(end - p), 65536, NULL, 0, lit,
				    ltlen, nth, 0));
	free(regex);
	free(lit);
	return 0;
}
