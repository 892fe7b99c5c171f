/* SPDX-License-Identifier: MIT */
/* Child processes with piped stdin/stdout for the cli2 tests (cli2_util.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli2_util.h"
#include "pl_test.h"

extern char **environ;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int c2_start(struct c2_proc *p, char *const argv[], bool merge_stderr)
{
	posix_spawn_file_actions_t fa;
	int pi[2], po[2], rc;

	memset(p, 0, sizeof(*p));
	p->in = p->out = -1;
	p->status = -1;
	if (pipe2(pi, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(po, O_CLOEXEC) < 0) {
		rc = -errno;
		close(pi[0]);
		close(pi[1]);
		return rc;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	if (merge_stderr)
		posix_spawn_file_actions_adddup2(&fa, po[1], 2);
	rc = posix_spawn(&p->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pi[0]);
	close(po[1]);
	if (rc) {
		close(pi[1]);
		close(po[0]);
		return -rc;
	}
	p->in = pi[1];
	p->out = po[0];
	return 0;
}

int c2_send(struct c2_proc *p, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1)
		return -EINVAL;
	buf[n++] = '\n';
	if (p->in < 0 || write(p->in, buf, (size_t)n) != n)
		return -EPIPE;
	return 0;
}

int c2_line(struct c2_proc *p, char **line, unsigned timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	*line = NULL;
	for (;;) {
		char *nl = p->buf.s ? memchr(p->buf.s, '\n', p->buf.len) : NULL;
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		char tmp[4096];
		int64_t left;
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - p->buf.s);

			*line = strndup(p->buf.s, len);
			memmove(p->buf.s, nl + 1, p->buf.len - len - 1);
			p->buf.len -= len + 1;
			p->buf.s[p->buf.len] = '\0';
			return *line ? 0 : -ENOMEM;
		}
		if (p->out < 0)
			return -EPIPE;
		left = end - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(p->out, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(p->out);
			p->out = -1;
			continue;
		}
		pl_strbuf_append(&p->buf, tmp, (size_t)n);
	}
}

int c2_finish(struct c2_proc *p, unsigned timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	if (p->in >= 0) {
		close(p->in);
		p->in = -1;
	}
	/* Its stdout ends when it exits: wait for that with the deadline. */
	while (p->out >= 0) {
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		char tmp[4096];
		int64_t left = end - now_ms();
		ssize_t n;

		if (left <= 0) {
			kill(p->pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(p->out, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		pl_strbuf_append(&p->buf, tmp, (size_t)n);
	}
	if (p->out >= 0) {
		close(p->out);
		p->out = -1;
	}
	/* its stdout ended or it was killed: it is going */
	p->status = pl_test_reap(p->pid, timeout_ms);
	pl_strbuf_free(&p->buf);
	return p->status;
}

void c2_kill(struct c2_proc *p)
{
	kill(p->pid, SIGKILL);
	c2_finish(p, C2_DEADLINE_MS);
}
