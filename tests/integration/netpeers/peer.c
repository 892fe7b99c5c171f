/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"
#include "pl_test.h"

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct peer *pe = p->data;

	pe->running = false;
	pe->term_signal = sig;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	buf->base = malloc(4096);
	buf->len = buf->base ? 4096 : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct peer *pe = s->data;

	if (n > 0)
		pl_strbuf_append(&pe->output, buf->base, (size_t)n);
	else if (n < 0)
		uv_read_stop(s);
	free(buf->base);
}

int peer_start(struct peer *pe, uv_loop_t *loop, char *const argv[])
{
	uv_process_options_t o = { 0 };
	uv_stdio_container_t stdio[3];
	int err;

	memset(pe, 0, sizeof(*pe));
	pe->loop = loop;
	uv_pipe_init(loop, &pe->out, 0);
	pe->out.data = pe;
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&pe->out;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	o.file = argv[0];
	o.args = (char **)argv;
	o.stdio = stdio;
	o.stdio_count = 3;
	o.exit_cb = on_exit_cb;
	pe->proc.data = pe;
	err = uv_spawn(loop, &pe->proc, &o);
	pe->handles = true;
	if (err)
		return err;
	pe->running = true;
	uv_read_start((uv_stream_t *)&pe->out, on_alloc, on_read);
	/* The peer must not keep uv_run(UV_RUN_DEFAULT) alive: tests use it to
	 * wait until the fixture under test has nothing left in flight. */
	uv_unref((uv_handle_t *)&pe->proc);
	uv_unref((uv_handle_t *)&pe->out);
	return 0;
}

struct wait_ctx {
	struct peer *pe;
	const char *needle;
};

static bool seen(void *ud)
{
	struct wait_ctx *w = ud;

	return !w->pe->running ||
	       (w->pe->output.s && strstr(w->pe->output.s, w->needle));
}

bool peer_wait_output(struct peer *pe, const char *needle, unsigned timeout_ms)
{
	struct wait_ctx w = { pe, needle };

	pl_test_loop_until(pe->loop, seen, &w, timeout_ms);
	return pe->output.s && strstr(pe->output.s, needle);
}

static bool exited(void *ud)
{
	return !((struct peer *)ud)->running;
}

void peer_stop(struct peer *pe)
{
	if (pe->running) {
		uv_process_kill(&pe->proc, SIGKILL);
		/* SIGKILL cannot be ignored: the exit callback comes. */
		pl_test_loop_until(pe->loop, exited, pe, 10000);
	}
	if (pe->handles) {
		uv_close((uv_handle_t *)&pe->proc, NULL);
		uv_close((uv_handle_t *)&pe->out, NULL);
		uv_run(pe->loop, UV_RUN_NOWAIT);
		pe->handles = false;
	}
	pl_strbuf_free(&pe->output);
}

unsigned peer_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	unsigned port = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}
