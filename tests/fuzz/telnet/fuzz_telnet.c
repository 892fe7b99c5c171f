/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the telnet parser and negotiator and the RFC 2217
 * reply reader (fixtures/core/telnet.c), as the rfc2217 console drives them
 * on what a ser2net telnet(rfc2217) port sends.
 *
 * Input layout: byte 0 picks the chunking (pieces of 1 + (b % 32) bytes, b
 * this byte xor the piece's first byte); the rest is the server's stream.
 * Every WILL/WONT/DO/DONT is answered (options accepted when even), every
 * COM-PORT-OPTION subnegotiation goes through pl_rfc2217_parse_reply.
 *
 * Invariants (abort on violation): data out is never longer than data in;
 * subnegotiation payloads are at most PL_TELNET_SB_MAX; answers are 0 or 3
 * bytes of IAC verb opt; and escaping the data out with pl_telnet_escape
 * and parsing it again with a fresh parser gives the same data back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telnet.h"
#include "fuzz.h"

struct state {
	struct pl_telnet t;
	uint8_t *out;   /* data bytes seen */
	size_t nout, cap;
};

static void on_data(void *ud, const uint8_t *buf, size_t len)
{
	struct state *s = ud;

	CHECK(len > 0 && s->nout + len <= s->cap);
	memcpy(s->out + s->nout, buf, len);
	s->nout += len;
}

static void on_option(void *ud, uint8_t verb, uint8_t opt)
{
	struct state *s = ud;
	uint8_t out[3];
	size_t n;

	CHECK(verb >= PL_TELNET_WILL && verb <= PL_TELNET_DONT);
	n = pl_telnet_answer(&s->t, verb, opt, opt % 2 == 0, out);
	CHECK(n == 0 || n == 3);
	if (n)
		CHECK(out[0] == PL_TELNET_IAC && out[1] >= PL_TELNET_WILL &&
		      out[1] <= PL_TELNET_DONT && out[2] == opt);
}

static void on_subneg(void *ud, uint8_t opt, const uint8_t *payload,
		      size_t len, bool truncated)
{
	enum pl_rfc2217_cmd cmd;
	uint32_t value;

	(void)ud;
	CHECK(len <= PL_TELNET_SB_MAX);
	CHECK(!truncated || len == PL_TELNET_SB_MAX);
	if (opt == PL_TELNET_OPT_COM_PORT &&
	    pl_rfc2217_parse_reply(payload, len, &cmd, &value) == 0)
		CHECK((unsigned)cmd < PL_RFC2217_SERVER);
}

static void on_command(void *ud, uint8_t cmd)
{
	(void)ud;
	(void)cmd;
}

static const struct pl_telnet_cbs cbs = {
	.data = on_data, .option = on_option, .subneg = on_subneg,
	.command = on_command,
};

static void feed(struct state *s, const uint8_t *buf, size_t len,
		 uint8_t seed)
{
	size_t pos = 0;

	while (pos < len) {
		size_t c = 1 + ((seed ^ buf[pos]) % 32);

		if (c > len - pos)
			c = len - pos;
		pl_telnet_feed(&s->t, buf + pos, c, &cbs, s);
		pos += c;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state a = { 0 }, b = { 0 };
	uint8_t *esc;
	size_t nesc;

	if (size < 1)
		return 0;
	a.cap = size;
	a.out = malloc(size);
	CHECK(a.out);
	pl_telnet_init(&a.t);
	feed(&a, data + 1, size - 1, data[0]);

	/* the data out, escaped and parsed again, comes back unchanged */
	esc = malloc(2 * a.nout + 1);
	b.cap = a.nout;
	b.out = malloc(a.nout + 1);
	CHECK(esc && b.out);
	nesc = pl_telnet_escape(esc, a.out, a.nout);
	CHECK(nesc >= a.nout && nesc <= 2 * a.nout);
	pl_telnet_init(&b.t);
	feed(&b, esc, nesc, data[0]);
	CHECK(b.nout == a.nout && !memcmp(a.out, b.out, a.nout));

	free(esc);
	free(b.out);
	free(a.out);
	return 0;
}
