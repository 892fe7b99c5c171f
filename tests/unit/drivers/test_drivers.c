/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the core drivers' protocol logic: the XMODEM sender and
 * receiver wired back to back through a wire that can corrupt and drop,
 * the LCUS relay frame, GDB RSP framing and parsing, and the option specs
 * the configuration loader validates against.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "patchlab/console.h"
#include "patchlab/error.h"
#include "patchlab/power.h"
#include "patchlab/probe.h"
#include "patchlab/xmodem.h"
#include "gdb_rsp.h"
#include "lcus_frame.h"

/* ------------------------------------------------------------ XMODEM */

static void xmodem_crc16_is_the_xmodem_variant(void **state)
{
	(void)state;
	/* The catalogued check value of CRC-16/XMODEM. */
	assert_int_equal(pl_xmodem_crc16((const uint8_t *)"123456789", 9),
			 0x31c3);
	assert_int_equal(pl_xmodem_crc16(NULL, 0), 0);
}

struct wire {
	struct pl_xmodem_sender *tx;
	struct pl_xmodem_receiver *rx;
	uint8_t s2r[2048];
	size_t s2r_len;
	uint8_t r2s[64];
	size_t r2s_len;

	unsigned frames;       /* sender writes seen */
	int corrupt_frame;     /* index of a sender write to damage, -1 none */
	unsigned acks;         /* ACK bytes seen from the receiver */
	int drop_ack;          /* index of an ACK to lose, -1 none */
	bool rx_silent;        /* the receiver's bytes never arrive */

	unsigned stx, soh;     /* first transmissions by kind */
	uint8_t *got;
	size_t got_len;
	unsigned blocks;
	bool tx_done, rx_done;
	int tx_status, rx_status;
	uint64_t acked;
};

static void tx_send(const uint8_t *buf, size_t len, void *ud)
{
	struct wire *w = ud;
	unsigned idx = w->frames++;

	assert_true(w->s2r_len + len <= sizeof(w->s2r));
	memcpy(w->s2r + w->s2r_len, buf, len);
	if ((int)idx == w->corrupt_frame && len > 10)
		w->s2r[w->s2r_len + 10] ^= 0x55;
	w->s2r_len += len;
}

static void rx_send(const uint8_t *buf, size_t len, void *ud)
{
	struct wire *w = ud;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == PL_XMODEM_ACK && (int)w->acks++ == w->drop_ack)
			continue;
		if (w->rx_silent)
			continue;
		assert_true(w->r2s_len < sizeof(w->r2s));
		w->r2s[w->r2s_len++] = buf[i];
	}
}

static void tx_progress(uint64_t acked, void *ud)
{
	struct wire *w = ud;

	assert_true(acked > w->acked);
	w->acked = acked;
}

static void tx_done(int status, void *ud)
{
	struct wire *w = ud;

	assert_false(w->tx_done);
	w->tx_done = true;
	w->tx_status = status;
}

static void rx_block(uint64_t off, const uint8_t *data, size_t len, void *ud)
{
	struct wire *w = ud;

	assert_int_equal(off, w->got_len);
	w->got = realloc(w->got, w->got_len + len);
	memcpy(w->got + w->got_len, data, len);
	w->got_len += len;
	w->blocks++;
}

static void rx_done(int status, void *ud)
{
	struct wire *w = ud;

	assert_false(w->rx_done);
	w->rx_done = true;
	w->rx_status = status;
}

static void wire_init(struct wire *w, const uint8_t *data, size_t len,
		      const struct pl_xmodem_limits *lim)
{
	struct pl_xmodem_io tio = {
		.send = tx_send, .progress = tx_progress, .done = tx_done,
		.user_data = w,
	};
	struct pl_xmodem_io rio = {
		.send = rx_send, .block = rx_block, .done = rx_done,
		.user_data = w,
	};

	memset(w, 0, sizeof(*w));
	w->corrupt_frame = -1;
	w->drop_ack = -1;
	assert_int_equal(pl_xmodem_sender_new(&w->tx, data, len, lim, &tio),
			 0);
	assert_int_equal(pl_xmodem_receiver_new(&w->rx, lim, &rio), 0);
}

static void wire_fini(struct wire *w)
{
	pl_xmodem_sender_free(w->tx);
	pl_xmodem_receiver_free(w->rx);
	free(w->got);
}

/* Deliver bytes until both ends finished; silence becomes a timeout on
 * both sides. */
static void wire_run(struct wire *w)
{
	uint8_t buf[2048];
	size_t n;

	pl_xmodem_receiver_start(w->rx);
	for (int steps = 0; steps < 10000; steps++) {
		if (w->tx_done && w->rx_done)
			return;
		if (w->s2r_len) {
			n = w->s2r_len;
			memcpy(buf, w->s2r, n);
			if (buf[0] == PL_XMODEM_STX)
				w->stx++;
			else if (buf[0] == PL_XMODEM_SOH)
				w->soh++;
			w->s2r_len = 0;
			if (!w->rx_done)
				pl_xmodem_receiver_input(w->rx, buf, n);
		} else if (w->r2s_len) {
			n = w->r2s_len;
			memcpy(buf, w->r2s, n);
			w->r2s_len = 0;
			if (!w->tx_done)
				pl_xmodem_sender_input(w->tx, buf, n);
		} else {
			if (!w->tx_done)
				pl_xmodem_sender_timeout(w->tx);
			if (!w->rx_done && w->s2r_len == 0)
				pl_xmodem_receiver_timeout(w->rx);
		}
	}
	fail_msg("the transfer never ended");
}

static void assert_payload(const struct wire *w, const uint8_t *data,
			   size_t len)
{
	assert_true(w->got_len >= len);
	assert_memory_equal(w->got, data, len);
	for (size_t i = len; i < w->got_len; i++)
		assert_int_equal(w->got[i], PL_XMODEM_SUB);
}

static void xmodem_back_to_back_for_many_sizes(void **state)
{
	static const struct {
		size_t len;
		unsigned stx, soh;
	} cases[] = {
		{ 0, 0, 0 },       { 1, 0, 1 },     { 128, 0, 1 },
		{ 129, 0, 2 },     { 896, 0, 7 },   { 897, 1, 0 },
		{ 1024, 1, 0 },    { 1025, 1, 1 },  { 5000, 5, 0 },
		{ 4096 + 300, 4, 3 },
		{ 3 * 1024 + 1000, 4, 0 },
	};
	uint8_t data[8192];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 8));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct wire w;

		wire_init(&w, data, cases[c].len, NULL);
		wire_run(&w);
		assert_int_equal(w.tx_status, 0);
		assert_int_equal(w.rx_status, 0);
		assert_int_equal(pl_xmodem_sender_acked(w.tx), cases[c].len);
		assert_int_equal(pl_xmodem_sender_sent(w.tx), cases[c].len);
		assert_int_equal(w.stx, cases[c].stx);
		assert_int_equal(w.soh, cases[c].soh);
		assert_payload(&w, data, cases[c].len);
		assert_true(pl_xmodem_sender_finished(w.tx));
		assert_true(pl_xmodem_receiver_finished(w.rx));
		assert_int_equal(pl_xmodem_sender_input(w.tx, data, 1),
				 -EALREADY);
		wire_fini(&w);
	}
}

static void xmodem_recovers_a_corrupt_block_and_a_lost_ack(void **state)
{
	uint8_t data[4000];
	struct wire w;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ 0xa5);

	/* Block 2 damaged on the way: NAK, resent, accepted once. */
	wire_init(&w, data, sizeof(data), NULL);
	w.corrupt_frame = 1;
	wire_run(&w);
	assert_int_equal(w.tx_status, 0);
	assert_int_equal(w.rx_status, 0);
	assert_payload(&w, data, sizeof(data));
	assert_int_equal(w.frames, 4 + 1 + 1); /* blocks, resend, EOT */
	wire_fini(&w);

	/* The ACK of block 1 is lost: the sender resends it after a
	 * timeout, the receiver acks the duplicate without keeping it. */
	wire_init(&w, data, sizeof(data), NULL);
	w.drop_ack = 0;
	wire_run(&w);
	assert_int_equal(w.tx_status, 0);
	assert_int_equal(w.rx_status, 0);
	assert_int_equal(w.blocks, 4);
	assert_int_equal(w.got_len, 4 * 1024);
	assert_payload(&w, data, sizeof(data));
	wire_fini(&w);
}

static void xmodem_gives_up_and_cancels(void **state)
{
	struct pl_xmodem_limits lim = { .retries = 3, .start_retries = 5,
					.use_1k = true };
	uint8_t data[3000] = { 1, 2, 3 };
	uint8_t can2[2] = { PL_XMODEM_CAN, PL_XMODEM_CAN };
	struct wire w;

	(void)state;
	/* Nobody answers: the sender waits start_retries timeouts. */
	wire_init(&w, data, sizeof(data), &lim);
	w.rx_silent = true;
	for (int i = 0; i < 6 && !w.tx_done; i++)
		pl_xmodem_sender_timeout(w.tx);
	assert_true(w.tx_done);
	assert_int_equal(w.tx_status, -ETIMEDOUT);
	assert_int_equal(w.frames, 0);
	wire_fini(&w);

	/* Every copy of a block is damaged: retries, then CAN. */
	wire_init(&w, data, sizeof(data), &lim);
	pl_xmodem_sender_input(w.tx, (const uint8_t *)"C", 1);
	for (unsigned i = 0; i < lim.retries + 1; i++) {
		uint8_t nak = PL_XMODEM_NAK;

		assert_false(w.tx_done);
		w.s2r_len = 0;
		pl_xmodem_sender_input(w.tx, &nak, 1);
	}
	assert_true(w.tx_done);
	assert_int_equal(w.tx_status, -ETIMEDOUT);
	assert_int_equal(w.s2r[w.s2r_len - 1], PL_XMODEM_CAN);
	wire_fini(&w);

	/* The receiver cancels: CAN CAN ends the sender. */
	wire_init(&w, data, sizeof(data), NULL);
	pl_xmodem_sender_input(w.tx, (const uint8_t *)"C", 1);
	pl_xmodem_sender_input(w.tx, can2, 2);
	assert_int_equal(w.tx_status, -ECONNABORTED);
	wire_fini(&w);

	/* We cancel the receiver: CANs out, -PL_ECANCELED. */
	wire_init(&w, data, sizeof(data), NULL);
	pl_xmodem_receiver_start(w.rx);
	pl_xmodem_receiver_cancel(w.rx);
	assert_int_equal(w.rx_status, -PL_ECANCELED);
	assert_int_equal(w.r2s[w.r2s_len - 1], PL_XMODEM_CAN);
	wire_fini(&w);
}

static void xmodem_receiver_refuses_a_block_out_of_sequence(void **state)
{
	uint8_t data[300];
	uint8_t frame[3 + 128 + 2];
	uint16_t crc;
	struct wire w;

	(void)state;
	memset(data, 0x42, sizeof(data));
	wire_init(&w, data, sizeof(data), NULL);
	pl_xmodem_receiver_start(w.rx);
	frame[0] = PL_XMODEM_SOH;
	frame[1] = 3; /* 1 expected */
	frame[2] = (uint8_t)~3;
	memset(frame + 3, 0x42, 128);
	crc = pl_xmodem_crc16(frame + 3, 128);
	frame[131] = (uint8_t)(crc >> 8);
	frame[132] = (uint8_t)crc;
	pl_xmodem_receiver_input(w.rx, frame, sizeof(frame));
	assert_true(w.rx_done);
	assert_int_equal(w.rx_status, -PL_EPROTO);
	assert_int_equal(w.blocks, 0);
	wire_fini(&w);
}

static void xmodem_sender_speaks_checksum_mode_on_nak(void **state)
{
	uint8_t data[200];
	uint8_t nak = PL_XMODEM_NAK, sum = 0;
	struct wire w;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	wire_init(&w, data, sizeof(data), NULL);
	/* Banner noise first, then the NAK that starts checksum mode. */
	pl_xmodem_sender_input(w.tx, (const uint8_t *)"## Ready\r\n", 10);
	assert_int_equal(w.s2r_len, 0);
	pl_xmodem_sender_input(w.tx, &nak, 1);
	assert_int_equal(w.s2r_len, 3 + 128 + 1);
	assert_int_equal(w.s2r[0], PL_XMODEM_SOH);
	assert_int_equal(w.s2r[1], 1);
	assert_int_equal(w.s2r[2], 0xfe);
	for (size_t i = 0; i < 128; i++)
		sum = (uint8_t)(sum + data[i]);
	assert_int_equal(w.s2r[131], sum);
	wire_fini(&w);
}

/* -------------------------------------------------------------- LCUS */

static void lcus_frames_carry_their_checksum(void **state)
{
	uint8_t f[PL_LCUS_FRAME_LEN];

	(void)state;
	assert_int_equal(pl_lcus_frame(f, 1, true), 0);
	assert_memory_equal(f, "\xA0\x01\x01\xA2", 4);
	assert_int_equal(pl_lcus_frame(f, 1, false), 0);
	assert_memory_equal(f, "\xA0\x01\x00\xA1", 4);
	assert_int_equal(pl_lcus_frame(f, 16, true), 0);
	assert_memory_equal(f, "\xA0\x10\x01\xB1", 4);
	for (long ch = 1; ch <= PL_LCUS_MAX_CHANNEL; ch++) {
		for (int on = 0; on < 2; on++) {
			assert_int_equal(pl_lcus_frame(f, ch, on), 0);
			assert_int_equal(f[1], ch);
			assert_int_equal(f[2], on);
			assert_int_equal(f[3], (0xA0 + ch + on) & 0xff);
		}
	}
	assert_int_equal(pl_lcus_frame(f, 0, true), -EINVAL);
	assert_int_equal(pl_lcus_frame(f, PL_LCUS_MAX_CHANNEL + 1, true),
			 -EINVAL);
}

/* --------------------------------------------------------------- RSP */

static enum pl_rsp_event feed_all(struct pl_rsp_parser *ps, const char *s,
				  size_t len)
{
	enum pl_rsp_event ev = PL_RSP_NONE;

	for (size_t i = 0; i < len; i++) {
		ev = pl_rsp_feed(ps, (uint8_t)s[i]);
		if (ev != PL_RSP_NONE && i + 1 < len)
			fail_msg("event before the end at %zu", i);
	}
	return ev;
}

static void rsp_frames_and_escapes(void **state)
{
	struct pl_strbuf sb = { 0 };
	struct pl_rsp_parser ps = { 0 };

	(void)state;
	assert_int_equal(pl_rsp_frame(&sb, "m0,4", 4), 0);
	assert_string_equal(sb.s, "$m0,4#fd");
	pl_strbuf_reset(&sb);
	/* '$' '#' '}' '*' go as '}' + (c ^ 0x20); the sum covers the
	 * escaped bytes. */
	assert_int_equal(pl_rsp_frame(&sb, "X$#}*\x03", 6), 0);
	assert_memory_equal(sb.s, "$X}\x04}\x03}]}\x0a\x03#", 12);
	{
		uint8_t sum = pl_rsp_sum((const uint8_t *)sb.s + 1, 10);
		char want[3] = { pl_rsp_hexdigit(sum >> 4),
				 pl_rsp_hexdigit(sum), 0 };

		assert_string_equal(sb.s + 12, want);
	}
	/* Our own frames parse back to the payload. */
	assert_int_equal(feed_all(&ps, sb.s, sb.len), PL_RSP_PACKET);
	assert_int_equal(ps.pkt.len, 6);
	assert_memory_equal(ps.pkt.s, "X$#}*\x03", 6);
	pl_strbuf_free(&sb);
	pl_strbuf_free(&ps.pkt);
}

static void rsp_parses_rle_acks_and_bad_sums(void **state)
{
	struct pl_rsp_parser ps = { 0 };
	char buf[64];
	uint8_t sum;

	(void)state;
	assert_int_equal(pl_rsp_feed(&ps, '+'), PL_RSP_ACK);
	assert_int_equal(pl_rsp_feed(&ps, '-'), PL_RSP_NAK);
	/* "0* " = '0' then 3 more ("' ' - 29"): 0000; then "1*!" = 11111 */
	sum = pl_rsp_sum((const uint8_t *)"0* 1*!", 6);
	snprintf(buf, sizeof(buf), "$0* 1*!#%02x", sum);
	assert_int_equal(feed_all(&ps, buf, strlen(buf)), PL_RSP_PACKET);
	assert_string_equal(ps.pkt.s, "000011111");
	/* Noise between packets is skipped; a wrong sum is reported. */
	assert_int_equal(feed_all(&ps, "xx$OK#9b", 8), PL_RSP_BADSUM);
	assert_int_equal(feed_all(&ps, "$OK#9a", 6), PL_RSP_PACKET);
	assert_string_equal(ps.pkt.s, "OK");
	assert_int_equal(feed_all(&ps, "$#00", 4), PL_RSP_PACKET);
	assert_int_equal(ps.pkt.len, 0);
	pl_strbuf_free(&ps.pkt);
}

static void rsp_hex_round_trip(void **state)
{
	struct pl_strbuf sb = { 0 };
	uint8_t in[4] = { 0x00, 0x7f, 0x80, 0xff }, out[4];

	(void)state;
	assert_int_equal(pl_rsp_hex_append(&sb, in, 4), 0);
	assert_string_equal(sb.s, "007f80ff");
	assert_int_equal(pl_rsp_hex_decode("007F80fF", out, 4), 0);
	assert_memory_equal(out, in, 4);
	assert_int_equal(pl_rsp_hex_decode("0g", out, 1), -1);
	pl_strbuf_free(&sb);
}

/* ------------------------------------------------------ option specs */

struct want_opt {
	const char *key;
	enum pl_opt_type type;
	bool required;
};

static void assert_options(enum pl_fixture_class cls, const char *name,
			   const struct want_opt *want, size_t n)
{
	const struct pl_driver_info *d = pl_driver_find(cls, name);
	size_t count = 0;

	assert_non_null(d);
	assert_string_equal(d->name, name);
	assert_int_equal(d->cls, cls);
	for (const struct pl_opt_spec *s = d->options; s->key; s++)
		count++;
	assert_int_equal(count, n);
	for (size_t i = 0; i < n; i++) {
		const struct pl_opt_spec *s = pl_driver_option(d, want[i].key);

		assert_non_null(s);
		assert_int_equal(s->type, want[i].type);
		assert_int_equal(s->required, want[i].required);
		assert_non_null(s->help);
	}
}

static void drivers_declare_the_agreed_options(void **state)
{
	static const struct want_opt lcus[] = {
		{ "port", PL_OPT_PATH, true },
		{ "channel", PL_OPT_INT, true },
		{ "baud", PL_OPT_INT, false },
	};
	static const struct want_opt exec[] = {
		{ "on", PL_OPT_LIST, true },
		{ "off", PL_OPT_LIST, true },
		{ "timeout_ms", PL_OPT_INT, false },
	};
	static const struct want_opt tty[] = {
		{ "path", PL_OPT_PATH, true },
		{ "baud", PL_OPT_INT, false },
		{ "reopen", PL_OPT_BOOL, false },
	};
	static const struct want_opt gdb[] = {
		{ "address", PL_OPT_ADDRESS, true },
		{ "timeout_ms", PL_OPT_INT, false },
	};

	(void)state;
	assert_options(PL_FIXTURE_POWER, "lcus", lcus, 3);
	assert_options(PL_FIXTURE_POWER, "exec", exec, 3);
	assert_options(PL_FIXTURE_CONSOLE, "tty", tty, 3);
	assert_options(PL_FIXTURE_PROBE, "gdb", gdb, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xmodem_crc16_is_the_xmodem_variant),
		cmocka_unit_test(xmodem_back_to_back_for_many_sizes),
		cmocka_unit_test(xmodem_recovers_a_corrupt_block_and_a_lost_ack),
		cmocka_unit_test(xmodem_gives_up_and_cancels),
		cmocka_unit_test(xmodem_receiver_refuses_a_block_out_of_sequence),
		cmocka_unit_test(xmodem_sender_speaks_checksum_mode_on_nak),
		cmocka_unit_test(lcus_frames_carry_their_checksum),
		cmocka_unit_test(rsp_frames_and_escapes),
		cmocka_unit_test(rsp_parses_rle_acks_and_bad_sums),
		cmocka_unit_test(rsp_hex_round_trip),
		cmocka_unit_test(drivers_declare_the_agreed_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
