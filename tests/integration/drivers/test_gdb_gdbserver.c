/* SPDX-License-Identifier: MIT */
/*
 * probe/gdb against a second real server: gdbserver debugging a small x86-64
 * program. Unlike QEMU it offers QStartNoAckMode and a target description
 * (i386:x86-64, pc = register 0x10 in its stop replies) and run-length
 * encodes its replies heavily.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pl_test.h"
#include "drv_peer.h"
#include "patchlab/error.h"
#include "patchlab/probe.h"

struct result {
	bool done;
	int status;
	uint8_t data[64];
	size_t len;
};

static void on_req(struct pl_probe *p, int status, const void *data,
		   size_t len, void *ud)
{
	struct result *r = ud;

	(void)p;
	r->done = true;
	r->status = status;
	r->len = len < sizeof(r->data) ? len : sizeof(r->data);
	if (data)
		memcpy(r->data, data, r->len);
}

static bool req_done(void *ud)
{
	return ((struct result *)ud)->done;
}

static int run(uv_loop_t *loop, struct pl_probe *p, struct result *r,
	       enum pl_probe_op op, uint64_t addr, size_t len)
{
	struct pl_probe_req req = {
		.op = op, .addr = addr, .len = len, .cb = on_req,
		.user_data = r,
	};

	r->done = false;
	assert_int_equal(pl_probe_submit(p, &req), 0);
	assert_int_equal(drv_loop_until(loop, req_done, r, 20000), 0);
	return r->status;
}

struct stops {
	unsigned want, n, hits;
	uint64_t pc;
};

static void on_stop(struct pl_probe *p, uint64_t addr, unsigned hits,
		    void *ud)
{
	struct stops *s = ud;

	(void)p;
	s->n++;
	s->pc = addr;
	s->hits = hits;
}

static bool stopped(void *ud)
{
	struct stops *s = ud;

	return s->n >= s->want;
}

/* A pipe from the child, kept as text. */
struct text {
	uv_pipe_t pipe;
	char buf[4096];
	size_t len;
	bool eof;
};

static void text_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct text *t = h->data;

	(void)hint;
	*b = uv_buf_init(t->buf + t->len, (unsigned)(sizeof(t->buf) - 1 -
						     t->len));
}

static void text_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct text *t = s->data;

	(void)b;
	if (n < 0) {
		t->eof = true;
		uv_read_stop(s);
		return;
	}
	t->len += (size_t)n;
	t->buf[t->len] = 0;
	if (t->len + 1 >= sizeof(t->buf))
		t->len = 0; /* only the latest text matters */
}

static bool has_port(void *ud)
{
	return strstr(((struct text *)ud)->buf, "Listening on port ") &&
	       strchr(strstr(((struct text *)ud)->buf, "Listening on port "),
		      '\n');
}

static bool has_line(void *ud)
{
	return strchr(((struct text *)ud)->buf, '\n') != NULL;
}

static bool exited(void *ud)
{
	return strstr(((struct pl_test_logcap *)ud)->last,
		      "target has exited") != NULL;
}

static void poke(uv_pipe_t *in, const char *byte)
{
	uv_buf_t b = uv_buf_init((char *)byte, 1);

	assert_int_equal(uv_try_write((uv_stream_t *)in, &b, 1), 1);
}

static void gdb_drives_gdbserver(void **state)
{
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_fixture_ctx ctx = { 0 };
	struct drv_child ch;
	struct pl_probe *p;
	struct result r = { 0 };
	struct stops st = { .want = 1 };
	struct text out = { 0 }, err = { 0 };
	uv_pipe_t in;
	uv_process_options_t o;
	uv_stdio_container_t io[3];
	char addr[32];
	unsigned port;
	uint64_t marker;
	uint8_t code[8];
	char *s;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("gdbserver"),
			"gdbserver not installed");
	uv_loop_init(&loop);
	pl_test_logcap_init(&cap, "test/probe gdb");
	ctx.loop = &loop;
	ctx.log = cap.log;

	uv_pipe_init(&loop, &in, 0);
	uv_pipe_init(&loop, &out.pipe, 0);
	uv_pipe_init(&loop, &err.pipe, 0);
	out.pipe.data = &out;
	err.pipe.data = &err;
	char *argv[] = { "gdbserver", "--once", "127.0.0.1:0", GDB_INFERIOR,
			 NULL };
	memset(&o, 0, sizeof(o));
	io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	io[0].data.stream = (uv_stream_t *)&in;
	io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[1].data.stream = (uv_stream_t *)&out.pipe;
	io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[2].data.stream = (uv_stream_t *)&err.pipe;
	o.file = argv[0];
	o.args = argv;
	o.stdio = io;
	o.stdio_count = 3;
	assert_int_equal(drv_spawn_opts(&loop, &ch, &o), 0);
	uv_read_start((uv_stream_t *)&out.pipe, text_alloc, text_read);
	uv_read_start((uv_stream_t *)&err.pipe, text_alloc, text_read);
	assert_int_equal(drv_loop_until(&loop, has_port, &err, 20000), 0);
	port = (unsigned)atoi(strstr(err.buf, "Listening on port ") + 18);
	assert_true(port > 0);

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct pl_opt opt[] = { { .key = "address", .value = addr } };
	struct pl_opts opts = { opt, 1 };
	assert_int_equal(pl_probe_open(&p, &ctx, "gdb", &opts), 0);
	pl_probe_set_stop_cb(p, on_stop, &st);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_CONNECT, 0, 0), 0);
	assert_non_null(strstr(cap.last, "i386:x86-64"));
	assert_non_null(strstr(cap.last, "no acks"));

	/* Let it run to its prompt; it tells where marker() is. */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_RESUME, 0, 0), 0);
	assert_int_equal(drv_loop_until(&loop, has_line, &out, 20000), 0);
	marker = strtoull(out.buf, &s, 16);
	for (int i = 0; i < 8; i++)
		code[i] = (uint8_t)strtoul(s, &s, 16);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_HALT, 0, 0), 0);
	assert_int_equal(st.n, 0);

	assert_int_equal(run(&loop, p, &r, PL_PROBE_READ, marker, 8), 0);
	assert_int_equal(r.len, 8);
	assert_memory_equal(r.data, code, 8);

	/* Break in marker(): the pc comes from the stop reply itself. */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_BP_SET, marker, 0), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_RESUME, 0, 0), 0);
	poke(&in, "a");
	assert_int_equal(drv_loop_until(&loop, stopped, &st, 20000), 0);
	assert_int_equal(st.pc, marker);
	assert_int_equal(st.hits, 1);

	/* Runs off the breakpoint and hits it on the next call. */
	st.want = 2;
	assert_int_equal(run(&loop, p, &r, PL_PROBE_RESUME, 0, 0), 0);
	poke(&in, "b");
	assert_int_equal(drv_loop_until(&loop, stopped, &st, 20000), 0);
	assert_int_equal(st.pc, marker);
	assert_int_equal(st.hits, 2);

	/* The program ends: the session is a lab error from then on. */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_BP_CLEAR, marker, 0), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_RESUME, 0, 0), 0);
	uv_close((uv_handle_t *)&in, NULL);
	assert_int_equal(drv_loop_until(&loop, exited, &cap, 20000), 0);
	assert_int_equal(cap.errors, 1);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_READ, marker, 8),
			 -PL_EFIXTURE);

	pl_probe_close(p);
	assert_true(drv_child_reap(&loop, &ch, 20000));
	uv_close((uv_handle_t *)&out.pipe, NULL);
	uv_close((uv_handle_t *)&err.pipe, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	pl_test_loop_drain(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gdb_drives_gdbserver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
