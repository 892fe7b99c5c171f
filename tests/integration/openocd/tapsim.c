/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tapsim.h"

enum tap_state {
	TLR, RTI,
	SELDR, CAPDR, SHIFTDR, EXIT1DR, PAUSEDR, EXIT2DR, UPDDR,
	SELIR, CAPIR, SHIFTIR, EXIT1IR, PAUSEIR, EXIT2IR, UPDIR,
};

/* Next state for TMS = 0 and TMS = 1 (IEEE 1149.1 figure 6-1). */
static const enum tap_state next_state[][2] = {
	[TLR] = { RTI, TLR },         [RTI] = { RTI, SELDR },
	[SELDR] = { CAPDR, SELIR },   [CAPDR] = { SHIFTDR, EXIT1DR },
	[SHIFTDR] = { SHIFTDR, EXIT1DR }, [EXIT1DR] = { PAUSEDR, UPDDR },
	[PAUSEDR] = { PAUSEDR, EXIT2DR }, [EXIT2DR] = { SHIFTDR, UPDDR },
	[UPDDR] = { RTI, SELDR },     [SELIR] = { CAPIR, TLR },
	[CAPIR] = { SHIFTIR, EXIT1IR }, [SHIFTIR] = { SHIFTIR, EXIT1IR },
	[EXIT1IR] = { PAUSEIR, UPDIR }, [PAUSEIR] = { PAUSEIR, EXIT2IR },
	[EXIT2IR] = { SHIFTIR, UPDIR }, [UPDIR] = { RTI, SELDR },
};

struct tapsim {
	uv_loop_t *loop;
	uv_tcp_t server;
	uv_tcp_t *conn;
	unsigned port;
	int handles;
	bool closing;
	uint64_t requests;

	uint32_t idcode;
	enum tap_state st;
	bool tck;
	uint8_t ir;
	uint64_t sr;   /* the shift register in use */
	unsigned len;  /* its length */
};

static void on_closed(uv_handle_t *h)
{
	struct tapsim *s = h->data;

	if (h != (uv_handle_t *)&s->server)
		free(h);
	if (--s->handles == 0 && s->closing)
		free(s);
}

static void tap_reset(struct tapsim *s)
{
	s->st = TLR;
	s->ir = TAPSIM_IR_IDCODE;
}

static void rising_edge(struct tapsim *s, bool tms, bool tdi)
{
	if (s->st == SHIFTDR || s->st == SHIFTIR)
		s->sr = (s->sr >> 1) | ((uint64_t)tdi << (s->len - 1));
	s->st = next_state[s->st][tms];
	switch (s->st) {
	case TLR:
		tap_reset(s);
		break;
	case CAPIR:
		s->sr = 0x1;
		s->len = 4;
		break;
	case CAPDR:
		if (s->ir == TAPSIM_IR_IDCODE) {
			s->sr = s->idcode;
			s->len = 32;
		} else {
			s->sr = 0; /* BYPASS captures 0 */
			s->len = 1;
		}
		break;
	case UPDIR:
		s->ir = (uint8_t)(s->sr & 0xf);
		break;
	default:
		break;
	}
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void reply(struct tapsim *s, char c)
{
	uv_write_t *w = malloc(sizeof(*w) + 1);
	uv_buf_t b;

	if (!w)
		return;
	*(char *)(w + 1) = c;
	b = uv_buf_init((char *)(w + 1), 1);
	if (uv_write(w, (uv_stream_t *)s->conn, &b, 1, on_written))
		free(w);
}

static void handle(struct tapsim *s, char c)
{
	s->requests++;
	if (c >= '0' && c <= '7') {
		bool tck = c & 4, tms = c & 2, tdi = c & 1;

		if (tck && !s->tck)
			rising_edge(s, tms, tdi);
		s->tck = tck;
	} else if (c == 'R') {
		reply(s, (s->sr & 1) ? '1' : '0');
	} else if (c >= 'r' && c <= 'u') {
		if ((c - 'r') & 2)
			tap_reset(s);
	} else if (c == 'Q') {
		uv_close((uv_handle_t *)s->conn, on_closed);
		s->conn = NULL;
	}
	/* 'B' 'b' (blink) and anything newer: nothing to do. */
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(hint);
	buf->len = buf->base ? hint : 0;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct tapsim *s = st->data;
	ssize_t i;

	for (i = 0; i < n && s->conn == (uv_tcp_t *)st; i++)
		handle(s, buf->base[i]);
	if (n < 0 && s->conn == (uv_tcp_t *)st) {
		uv_close((uv_handle_t *)st, on_closed);
		s->conn = NULL;
	}
	free(buf->base);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct tapsim *s = server->data;
	uv_tcp_t *c;

	if (status < 0 || !(c = malloc(sizeof(*c))))
		return;
	uv_tcp_init(s->loop, c);
	c->data = s;
	s->handles++;
	if (uv_accept(server, (uv_stream_t *)c) || s->conn) {
		uv_close((uv_handle_t *)c, on_closed);
		return;
	}
	uv_tcp_nodelay(c, 1);
	s->conn = c;
	tap_reset(s);
	uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

int tapsim_open(struct tapsim **out, uv_loop_t *loop, uint32_t idcode)
{
	struct sockaddr_in a;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	struct tapsim *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->idcode = idcode;
	tap_reset(s);
	uv_tcp_init(loop, &s->server);
	s->server.data = s;
	s->handles = 1;
	uv_ip4_addr("127.0.0.1", 0, &a);
	err = uv_tcp_bind(&s->server, (struct sockaddr *)&a, 0);
	err = err ? err : uv_listen((uv_stream_t *)&s->server, 4,
				     on_connection);
	err = err ? err : uv_tcp_getsockname(&s->server,
					      (struct sockaddr *)&ss, &len);
	if (err) {
		tapsim_close(s);
		return err;
	}
	s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*out = s;
	return 0;
}

unsigned tapsim_port(const struct tapsim *s)
{
	return s->port;
}

uint64_t tapsim_requests(const struct tapsim *s)
{
	return s->requests;
}

void tapsim_close(struct tapsim *s)
{
	if (!s)
		return;
	s->closing = true;
	if (s->conn) {
		uv_close((uv_handle_t *)s->conn, on_closed);
		s->conn = NULL;
	}
	uv_close((uv_handle_t *)&s->server, on_closed);
}
