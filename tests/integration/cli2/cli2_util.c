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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli2_util.h"

extern char **environ;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int exit_code(int st)
{
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
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
	int st;

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
	while (waitpid(p->pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	p->status = exit_code(st);
	pl_strbuf_free(&p->buf);
	return p->status;
}

void c2_kill(struct c2_proc *p)
{
	kill(p->pid, SIGKILL);
	c2_finish(p, C2_DEADLINE_MS);
}

static void drain(int fo, int fe, const char *in, struct pl_strbuf *out,
		  struct pl_strbuf *err, int fi, pid_t pid)
{
	int64_t end = now_ms() + C2_DEADLINE_MS;
	size_t in_left = in ? strlen(in) : 0;

	if (fi >= 0 && !in_left) {
		close(fi);
		fi = -1;
	}
	while (fo >= 0 || fe >= 0) {
		struct pollfd pfd[3] = { { .fd = fo, .events = POLLIN },
					 { .fd = fe, .events = POLLIN },
					 { .fd = fi, .events = POLLOUT } };
		int64_t left = end - now_ms();

		if (left <= 0) {
			kill(pid, SIGKILL);
			end = now_ms() + C2_DEADLINE_MS;
		}
		if (poll(pfd, 3, (int)(left > 0 ? left : 1000)) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			int *fd = i ? &fe : &fo;
			char tmp[4096];
			ssize_t n;

			if (*fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(*fd, tmp, sizeof(tmp));
			if (n > 0)
				pl_strbuf_append(i ? err : out, tmp, (size_t)n);
			else if (n == 0 || errno != EINTR) {
				close(*fd);
				*fd = -1;
			}
		}
		if (fi >= 0 && (pfd[2].revents & (POLLOUT | POLLERR))) {
			ssize_t n = write(fi, in, in_left);

			if (n > 0) {
				in += n;
				in_left -= (size_t)n;
			}
			if (n < 0 || !in_left) {
				close(fi);
				fi = -1;
			}
		}
	}
	if (fi >= 0)
		close(fi);
}

int c2_run(const char *cwd, const char *stdin_text, char **out, char **err,
	   char *const argv[])
{
	posix_spawn_file_actions_t fa;
	struct pl_strbuf so = { 0 }, se = { 0 };
	int pi[2] = { -1, -1 }, po[2], pe[2], st, rc;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return -errno;
	}
	if (stdin_text && pipe2(pi, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		close(pe[0]);
		close(pe[1]);
		return -errno;
	}
	posix_spawn_file_actions_init(&fa);
	if (stdin_text)
		posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (pi[0] >= 0)
		close(pi[0]);
	if (rc) {
		close(po[0]);
		close(pe[0]);
		if (pi[1] >= 0)
			close(pi[1]);
		return -rc;
	}
	/* a child that exits early must not kill us with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	drain(po[0], pe[0], stdin_text, &so, &se, pi[1], pid);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (out)
		*out = pl_strbuf_steal(&so);
	if (err)
		*err = pl_strbuf_steal(&se);
	pl_strbuf_free(&so);
	pl_strbuf_free(&se);
	return exit_code(st);
}

void c2_become_subreaper(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

int c2_rack_pid(const char *dir)
{
	char path[4096];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/rack.pid", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

int c2_reap(int pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return exit_code(st);
}
