/* SPDX-License-Identifier: MIT */
/* /pl/console/telnet: telnet framing, option negotiation and RFC 2217
 * messages of the rfc2217 console (fixtures/core/telnet.c). */
#include <errno.h>
#include <string.h>

#include "pl_test.h"
#include "telnet.h"

struct rec {
	uint8_t data[256];
	size_t data_len;
	unsigned data_calls;
	uint8_t opts[16][2];
	size_t nopts;
	uint8_t sb_opt;
	uint8_t sb[PL_TELNET_SB_MAX];
	size_t sb_len;
	bool sb_trunc;
	unsigned nsb;
	uint8_t cmds[8];
	size_t ncmds;
};

static void r_data(void *ud, const uint8_t *buf, size_t len)
{
	struct rec *r = ud;

	assert_true(len > 0);
	memcpy(r->data + r->data_len, buf, len);
	r->data_len += len;
	r->data_calls++;
}

static void r_option(void *ud, uint8_t verb, uint8_t opt)
{
	struct rec *r = ud;

	r->opts[r->nopts][0] = verb;
	r->opts[r->nopts][1] = opt;
	r->nopts++;
}

static void r_subneg(void *ud, uint8_t opt, const uint8_t *p, size_t len,
		     bool truncated)
{
	struct rec *r = ud;

	r->sb_opt = opt;
	memcpy(r->sb, p, len);
	r->sb_len = len;
	r->sb_trunc = truncated;
	r->nsb++;
}

static void r_command(void *ud, uint8_t cmd)
{
	struct rec *r = ud;

	r->cmds[r->ncmds++] = cmd;
}

static const struct pl_telnet_cbs cbs = {
	.data = r_data, .option = r_option, .subneg = r_subneg,
	.command = r_command,
};

/* Feed a stream cut at every possible point into two chunks; the result
 * must not depend on where the cut is. */
static void feed_split(const uint8_t *s, size_t len, size_t cut, struct rec *r)
{
	struct pl_telnet t;

	memset(r, 0, sizeof(*r));
	pl_telnet_init(&t);
	pl_telnet_feed(&t, s, cut, &cbs, r);
	pl_telnet_feed(&t, s + cut, len - cut, &cbs, r);
}

static void escaped_iac_in_data_survives_any_chunk_split(void **state)
{
	static const uint8_t s[] = { 'a', 'b', 0xff, 0xff, 'c', 0xff, 0xff,
				     0xff, 0xff, 'd' };
	static const uint8_t want[] = { 'a', 'b', 0xff, 'c', 0xff, 0xff, 'd' };
	struct rec r;

	(void)state;
	for (size_t cut = 0; cut <= sizeof(s); cut++) {
		feed_split(s, sizeof(s), cut, &r);
		assert_int_equal(r.data_len, sizeof(want));
		assert_memory_equal(r.data, want, sizeof(want));
		assert_int_equal(r.nopts + r.nsb + r.ncmds, 0);
	}
}

static void options_and_commands_are_taken_out_of_the_data(void **state)
{
	static const uint8_t s[] = { 'x', 0xff, PL_TELNET_WILL, 3, 'y', 0xff,
				     PL_TELNET_NOP, 0xff, PL_TELNET_DO, 44, 'z' };
	struct rec r;

	(void)state;
	for (size_t cut = 0; cut <= sizeof(s); cut++) {
		feed_split(s, sizeof(s), cut, &r);
		assert_int_equal(r.data_len, 3);
		assert_memory_equal(r.data, "xyz", 3);
		assert_int_equal(r.nopts, 2);
		assert_int_equal(r.opts[0][0], PL_TELNET_WILL);
		assert_int_equal(r.opts[0][1], 3);
		assert_int_equal(r.opts[1][0], PL_TELNET_DO);
		assert_int_equal(r.opts[1][1], 44);
		assert_int_equal(r.ncmds, 1);
		assert_int_equal(r.cmds[0], PL_TELNET_NOP);
	}
}

static void subnegotiation_with_escaped_iac_parses_across_chunks(void **state)
{
	/* ser2net's answer to SET-BAUDRATE 0x0001ff00 (an IAC in the value),
	 * between data bytes. */
	static const uint8_t s[] = { 'k', 0xff, PL_TELNET_SB, 44, 101, 0x00, 0x01,
				     0xff, 0xff, 0x00, 0xff, PL_TELNET_SE, 'l' };
	static const uint8_t want[] = { 101, 0x00, 0x01, 0xff, 0x00 };
	enum pl_rfc2217_cmd cmd;
	uint32_t v;
	struct rec r;

	(void)state;
	for (size_t cut = 0; cut <= sizeof(s); cut++) {
		feed_split(s, sizeof(s), cut, &r);
		assert_int_equal(r.nsb, 1);
		assert_int_equal(r.sb_opt, 44);
		assert_int_equal(r.sb_len, sizeof(want));
		assert_memory_equal(r.sb, want, sizeof(want));
		assert_false(r.sb_trunc);
		assert_int_equal(r.data_len, 2);
		assert_memory_equal(r.data, "kl", 2);
	}
	assert_int_equal(pl_rfc2217_parse_reply(want, sizeof(want), &cmd, &v), 0);
	assert_int_equal(cmd, PL_RFC2217_SET_BAUDRATE);
	assert_int_equal(v, 0x0001ff00);
}

static void overlong_subnegotiation_is_cut_and_flagged(void **state)
{
	uint8_t s[PL_TELNET_SB_MAX + 20];
	struct rec r;
	size_t n = 0;

	(void)state;
	s[n++] = 0xff;
	s[n++] = PL_TELNET_SB;
	s[n++] = 44;
	while (n < sizeof(s) - 2)
		s[n++] = 'S';
	s[n++] = 0xff;
	s[n++] = PL_TELNET_SE;
	feed_split(s, n, n / 2, &r);
	assert_int_equal(r.nsb, 1);
	assert_int_equal(r.sb_len, PL_TELNET_SB_MAX);
	assert_true(r.sb_trunc);
}

static void escape_doubles_iac_only(void **state)
{
	static const uint8_t in[] = { 1, 0xff, 2, 0xff, 0xff };
	static const uint8_t want[] = { 1, 0xff, 0xff, 2, 0xff, 0xff, 0xff, 0xff };
	uint8_t out[10];

	(void)state;
	assert_int_equal(pl_telnet_escape(out, in, sizeof(in)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(pl_telnet_escape(out, in, 0), 0);
}

static void negotiation_answers_changes_only_and_never_loops(void **state)
{
	struct pl_telnet t;
	uint8_t m[3];

	(void)state;
	pl_telnet_init(&t);
	/* our request, then the peer's acknowledgement: no reply */
	assert_int_equal(pl_telnet_request(&t, PL_TELNET_WILL, 44, m), 3);
	assert_memory_equal(m, ((uint8_t[]){ 0xff, PL_TELNET_WILL, 44 }), 3);
	assert_int_equal(pl_telnet_request(&t, PL_TELNET_WILL, 44, m), 0);
	assert_false(pl_telnet_us(&t, 44));
	assert_int_equal(pl_telnet_answer(&t, PL_TELNET_DO, 44, true, m), 0);
	assert_true(pl_telnet_us(&t, 44));
	/* ser2net repeats DO for an option already on: still no reply */
	assert_int_equal(pl_telnet_answer(&t, PL_TELNET_DO, 44, true, m), 0);
	/* peer offers SGA: we accept once */
	assert_int_equal(pl_telnet_answer(&t, PL_TELNET_WILL, 3, true, m), 3);
	assert_memory_equal(m, ((uint8_t[]){ 0xff, PL_TELNET_DO, 3 }), 3);
	assert_true(pl_telnet_him(&t, 3));
	assert_int_equal(pl_telnet_answer(&t, PL_TELNET_WILL, 3, true, m), 0);
	/* an option we refuse: DONT, and the state stays off */
	assert_int_equal(pl_telnet_answer(&t, PL_TELNET_WILL, 24, false, m), 3);
	assert_memory_equal(m, ((uint8_t[]){ 0xff, PL_TELNET_DONT, 24 }), 3);
	assert_false(pl_telnet_him(&t, 24));
	/* DONT for something off: no reply; WONT for something on: DONT */
	assert_int_equal(pl_telnet_answer(&t, PL_TELNET_DONT, 1, true, m), 0);
	assert_int_equal(pl_telnet_answer(&t, PL_TELNET_WONT, 3, true, m), 3);
	assert_memory_equal(m, ((uint8_t[]){ 0xff, PL_TELNET_DONT, 3 }), 3);
	assert_false(pl_telnet_him(&t, 3));
	/* our request refused: back to off, no reply */
	assert_int_equal(pl_telnet_request(&t, PL_TELNET_DO, 0, m), 3);
	assert_int_equal(pl_telnet_answer(&t, PL_TELNET_WONT, 0, true, m), 0);
	assert_false(pl_telnet_him(&t, 0));
}

static void rfc2217_commands_are_built_escaped(void **state)
{
	uint8_t out[32];
	size_t n;

	(void)state;
	assert_int_equal(pl_rfc2217_set_baud(out, sizeof(out), &n, 9600), 0);
	assert_int_equal(n, 10);
	assert_memory_equal(out, ((uint8_t[]){ 0xff, 0xfa, 44, 1, 0, 0, 0x25, 0x80,
					       0xff, 0xf0 }), 10);
	assert_int_equal(pl_rfc2217_set_baud(out, sizeof(out), &n, 0xff), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(out, ((uint8_t[]){ 0xff, 0xfa, 44, 1, 0, 0, 0, 0xff,
					       0xff, 0xff, 0xf0 }), 11);
	assert_int_equal(pl_rfc2217_set_u8(out, sizeof(out), &n,
					   PL_RFC2217_SET_PARITY, 3), 0);
	assert_memory_equal(out, ((uint8_t[]){ 0xff, 0xfa, 44, 3, 3, 0xff, 0xf0 }), 7);
	assert_int_equal(pl_rfc2217_set_baud(out, 8, &n, 9600), -ENOBUFS);
}

static void rfc2217_replies_and_formats_parse(void **state)
{
	enum pl_rfc2217_cmd cmd;
	uint32_t v;
	uint8_t ds, par, stop;

	(void)state;
	assert_int_equal(pl_rfc2217_parse_reply((uint8_t[]){ 102, 7 }, 2, &cmd, &v), 0);
	assert_int_equal(cmd, PL_RFC2217_SET_DATASIZE);
	assert_int_equal(v, 7);
	assert_int_equal(pl_rfc2217_parse_reply((uint8_t[]){ 101, 0, 0 }, 3, &cmd, &v),
			 -EPROTO);
	assert_int_equal(pl_rfc2217_parse_reply((uint8_t[]){ 1, 0 }, 2, &cmd, &v),
			 -EPROTO);
	assert_int_equal(pl_rfc2217_parse_reply(NULL, 0, &cmd, &v), -EPROTO);
	/* found by tests/fuzz/telnet: a code past 112 (PURGE-DATA's reply)
	 * is no server reply, not client code 131 */
	assert_int_equal(pl_rfc2217_parse_reply((uint8_t[]){ 112, 1 }, 2, &cmd, &v), 0);
	assert_int_equal(cmd, PL_RFC2217_PURGE_DATA);
	assert_int_equal(pl_rfc2217_parse_reply((uint8_t[]){ 113, 1 }, 2, &cmd, &v),
			 -EPROTO);
	assert_int_equal(pl_rfc2217_parse_reply((uint8_t[]){ 0xe7, 1 }, 2, &cmd, &v),
			 -EPROTO);
	assert_int_equal(pl_rfc2217_parse_format("8N1", &ds, &par, &stop), 0);
	assert_int_equal(ds, 8);
	assert_int_equal(par, PL_RFC2217_PARITY_NONE);
	assert_int_equal(stop, PL_RFC2217_STOP_1);
	assert_int_equal(pl_rfc2217_parse_format("7e2", &ds, &par, &stop), 0);
	assert_int_equal(par, PL_RFC2217_PARITY_EVEN);
	assert_int_equal(stop, PL_RFC2217_STOP_2);
	assert_int_equal(pl_rfc2217_parse_format("9N1", &ds, &par, &stop), -EINVAL);
	assert_int_equal(pl_rfc2217_parse_format("8X1", &ds, &par, &stop), -EINVAL);
	assert_int_equal(pl_rfc2217_parse_format("8N", &ds, &par, &stop), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escaped_iac_in_data_survives_any_chunk_split),
		cmocka_unit_test(options_and_commands_are_taken_out_of_the_data),
		cmocka_unit_test(subnegotiation_with_escaped_iac_parses_across_chunks),
		cmocka_unit_test(overlong_subnegotiation_is_cut_and_flagged),
		cmocka_unit_test(escape_doubles_iac_only),
		cmocka_unit_test(negotiation_answers_changes_only_and_never_loops),
		cmocka_unit_test(rfc2217_commands_are_built_escaped),
		cmocka_unit_test(rfc2217_replies_and_formats_parse),
	};

	return cmocka_run_group_tests_name("/pl/console/telnet", tests, NULL, NULL);
}
