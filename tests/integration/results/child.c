/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "pl_test.h"

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct child *c = p->data;

	c->exited = true;
	c->status = status;
	c->signal = sig;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(hint);
	buf->len = buf->base ? hint : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct child *c = s->data;

	if (n > 0)
		pl_strbuf_append(&c->buf, buf->base, (size_t)n);
	else if (n < 0)
		c->eof = true;
	free(buf->base);
}

int child_start(uv_loop_t *loop, struct child *c, char **argv)
{
	uv_stdio_container_t stdio[3];
	uv_process_options_t o;
	int rc;

	memset(c, 0, sizeof(*c));
	uv_pipe_init(loop, &c->in, 0);
	uv_pipe_init(loop, &c->out, 0);
	c->out.data = c;
	stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *)&c->in;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&c->out;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	memset(&o, 0, sizeof(o));
	o.file = argv[0];
	o.args = argv;
	o.exit_cb = on_exit_cb;
	o.stdio = stdio;
	o.stdio_count = 3;
	c->proc.data = c;
	rc = uv_spawn(loop, &c->proc, &o);
	if (rc) {
		uv_close((uv_handle_t *)&c->in, NULL);
		uv_close((uv_handle_t *)&c->out, NULL);
		uv_close((uv_handle_t *)&c->proc, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		return rc;
	}
	return uv_read_start((uv_stream_t *)&c->out, on_alloc, on_read);
}

bool child_has_line(void *ud)
{
	struct child *c = ud;

	return (c->buf.s && strchr(c->buf.s, '\n')) || c->exited;
}

bool child_done(void *ud)
{
	struct child *c = ud;

	return c->exited && c->eof;
}

static bool exited(void *ud)
{
	return ((struct child *)ud)->exited;
}

static void close_handles(uv_loop_t *loop, struct child *c)
{
	uv_close((uv_handle_t *)&c->in, NULL);
	uv_close((uv_handle_t *)&c->out, NULL);
	uv_close((uv_handle_t *)&c->proc, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

int child_wait(uv_loop_t *loop, struct child *c, unsigned timeout_ms)
{
	int rc = pl_test_loop_until(loop, child_done, c, timeout_ms);

	if (rc) {
		uv_process_kill(&c->proc, SIGKILL);
		pl_test_loop_until(loop, exited, c, 10000);
	}
	close_handles(loop, c);
	return rc;
}

void child_kill(uv_loop_t *loop, struct child *c)
{
	if (!c->exited)
		uv_process_kill(&c->proc, SIGKILL);
	pl_test_loop_until(loop, exited, c, 10000);
	close_handles(loop, c);
}
