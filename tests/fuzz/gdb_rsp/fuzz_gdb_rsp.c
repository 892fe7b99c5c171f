/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the GDB remote protocol reader of probe/gdb
 * (pl_rsp_feed in fixtures/core/gdb_rsp.h): the bytes a GDB server (QEMU's
 * gdbstub, gdbserver, OpenOCD, the virtual rack's) sends back.
 *
 * The whole input is the stream from the server, fed a byte at a time as
 * the driver does. Invariants (abort on violation):
 *  - a good packet, framed again with pl_rsp_frame and read back by a
 *    fresh parser, gives the same payload (escapes round-trip);
 *  - a packet's hex payload decodes with pl_rsp_hex_decode only when every
 *    digit is hex, and pl_rsp_hex_append gives the digits back (lowercase);
 *  - acks and packets are never reported inside a packet.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gdb_rsp.h"
#include "fuzz.h"

static void round_trip(const struct pl_strbuf *pkt)
{
	struct pl_strbuf framed = { 0 };
	struct pl_rsp_parser ps = { 0 };
	int packets = 0;

	CHECK(pl_rsp_frame(&framed, pkt->s ? pkt->s : "", pkt->len) == 0);
	for (size_t i = 0; i < framed.len; i++) {
		enum pl_rsp_event ev = pl_rsp_feed(&ps, (uint8_t)framed.s[i]);

		CHECK(ev == PL_RSP_NONE || ev == PL_RSP_PACKET);
		if (ev == PL_RSP_PACKET) {
			CHECK(i == framed.len - 1);
			CHECK(ps.pkt.len == pkt->len);
			CHECK(!pkt->len || !memcmp(ps.pkt.s, pkt->s, pkt->len));
			packets++;
		}
	}
	CHECK(packets == 1);
	pl_strbuf_free(&ps.pkt);
	pl_strbuf_free(&framed);
}

static void hex(const struct pl_strbuf *pkt)
{
	size_t n = pkt->len / 2;
	uint8_t *bin;
	bool all_hex = true;
	struct pl_strbuf back = { 0 };

	if (!n)
		return;
	bin = malloc(n);
	CHECK(bin);
	for (size_t i = 0; i < 2 * n; i++)
		all_hex = all_hex && isxdigit((unsigned char)pkt->s[i]);
	CHECK((pl_rsp_hex_decode(pkt->s, bin, n) == 0) == all_hex);
	if (all_hex) {
		CHECK(pl_rsp_hex_append(&back, bin, n) == 0);
		CHECK(back.len == 2 * n);
		for (size_t i = 0; i < 2 * n; i++)
			CHECK(back.s[i] == tolower((unsigned char)pkt->s[i]));
		pl_strbuf_free(&back);
	}
	free(bin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl_rsp_parser ps = { 0 };

	for (size_t i = 0; i < size; i++) {
		enum pl_rsp_state before = ps.state;
		enum pl_rsp_event ev = pl_rsp_feed(&ps, data[i]);

		switch (ev) {
		case PL_RSP_ACK:
		case PL_RSP_NAK:
			CHECK(before == PL_RSP_IDLE);
			break;
		case PL_RSP_PACKET:
			CHECK(before == PL_RSP_SUM2);
			round_trip(&ps.pkt);
			hex(&ps.pkt);
			break;
		case PL_RSP_BADSUM:
			CHECK(before == PL_RSP_SUM2);
			break;
		case PL_RSP_NONE:
			break;
		case PL_RSP_NOMEM:
			abort();
		}
	}
	pl_strbuf_free(&ps.pkt);
	return 0;
}
