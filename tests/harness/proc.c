/* SPDX-License-Identifier: MIT */
/*
 * Real processes for the tests (pl_test.h): run a program to completion
 * with its output captured, the rack's pid, reaping, files. The e2e, cli2
 * and vrack tests each had their own copy of these; this is the one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "patchlab/strbuf.h"
#include "pl_test.h"

extern char **environ;

/* The most arguments pl_test_patchlab_* pass on. */
#define MAX_ARGS 64
/* How long the pipes may stay open once the child is gone (a daemon it
 * left holding them) and how long a SIGKILLed child may take to go. */
#define GRACE_MS 5000

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

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* What one run is doing while we wait on it. */
struct running {
	pid_t pid;
	const char *name;
	int fd[2];          /* its stdout, stderr (-1 once at EOF) */
	struct pl_strbuf buf[2];
	int in;             /* its stdin while we still have text for it */
	const char *text;
	size_t text_left;
	int pidfd;          /* readable once it exited; -1 when unsupported */
	bool exited, killed;
};

static void read_one(struct running *r, int i)
{
	char tmp[4096];
	ssize_t n = read(r->fd[i], tmp, sizeof(tmp));

	if (n > 0)
		pl_strbuf_append(&r->buf[i], tmp, (size_t)n);
	else if (n == 0 || errno != EINTR)
		close_fd(&r->fd[i]);
}

static void write_some(struct running *r)
{
	ssize_t n = write(r->in, r->text, r->text_left);

	if (n > 0) {
		r->text += n;
		r->text_left -= (size_t)n;
	}
	if ((n < 0 && errno != EINTR) || !r->text_left)
		close_fd(&r->in);
}

/*
 * Read both pipes until EOF and feed stdin, on events only. At the
 * deadline the child is SIGKILLed; once it is gone, pipes still held open
 * by something it left behind are given GRACE_MS, then abandoned.
 */
static void pump(struct running *r, unsigned deadline_ms)
{
	int64_t end = now_ms() + deadline_ms;

	while (r->fd[0] >= 0 || r->fd[1] >= 0) {
		struct pollfd p[4] = {
			{ .fd = r->fd[0], .events = POLLIN },
			{ .fd = r->fd[1], .events = POLLIN },
			{ .fd = r->in, .events = POLLOUT },
			{ .fd = r->exited ? -1 : r->pidfd, .events = POLLIN },
		};
		int64_t left = end - now_ms();

		if (left <= 0) {
			if (r->exited || r->killed)
				break;
			fprintf(stderr, "pl_test: %s (pid %d) still running "
				"after %u ms: killed\n", r->name, (int)r->pid,
				deadline_ms);
			kill(r->pid, SIGKILL);
			r->killed = true;
			end = now_ms() + GRACE_MS;
			continue;
		}
		if (poll(p, 4, (int)left) <= 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (r->fd[i] >= 0 && (p[i].revents & (POLLIN | POLLHUP)))
				read_one(r, i);
		if (r->in >= 0 && (p[2].revents & (POLLOUT | POLLERR)))
			write_some(r);
		if (p[3].fd >= 0 && (p[3].revents & POLLIN)) {
			r->exited = true;
			if (end > now_ms() + GRACE_MS)
				end = now_ms() + GRACE_MS;
		}
	}
	close_fd(&r->fd[0]);
	close_fd(&r->fd[1]);
	close_fd(&r->in);
	close_fd(&r->pidfd);
}

static int spawn(struct running *r, const struct pl_test_run *o,
		 char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int po[2], pe[2] = { -1, -1 }, pi[2] = { -1, -1 }, rc = 0;

	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	if ((!o->merge_err && pipe2(pe, O_CLOEXEC) < 0) ||
	    (o->stdin_text && pipe2(pi, O_CLOEXEC) < 0)) {
		rc = -errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	if (o->stdin_text)
		posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
						 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, o->merge_err ? po[1] : pe[1], 2);
	if (o->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	rc = -posix_spawnp(&r->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc == 0) {
		r->fd[0] = po[0];
		r->fd[1] = pe[0];
		r->in = pi[1];
		po[0] = pe[0] = pi[1] = -1;
	}
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&po[i]);
		close_fd(&pe[i]);
		close_fd(&pi[i]);
	}
	return rc;
}

int pl_test_run(const struct pl_test_run *o, char *const argv[], char **out,
		char **err)
{
	static const struct pl_test_run dflt;
	struct running r = { .name = argv[0], .fd = { -1, -1 }, .in = -1 };
	int rc;

	if (!o)
		o = &dflt;
	if (out)
		*out = NULL;
	if (err)
		*err = NULL;
	rc = spawn(&r, o, argv);
	if (rc < 0)
		return rc;
	r.pidfd = pidfd_of(r.pid);
	r.text = o->stdin_text;
	r.text_left = r.text ? strlen(r.text) : 0;
	if (r.in >= 0 && !r.text_left)
		close_fd(&r.in);
	/* a child that exits early must not kill us with SIGPIPE */
	if (r.in >= 0)
		signal(SIGPIPE, SIG_IGN);
	pump(&r, o->deadline_ms ? o->deadline_ms : PL_TEST_RUN_DEADLINE_MS);
	/* killed (or exited) above unless something kept the pipes: then
	 * the deadline of a reap */
	rc = pl_test_reap(r.pid, r.killed ? GRACE_MS : PL_TEST_RUN_DEADLINE_MS);
	if (out)
		*out = pl_strbuf_steal(&r.buf[0]);
	if (err)
		*err = pl_strbuf_steal(&r.buf[1]);
	pl_strbuf_free(&r.buf[0]);
	pl_strbuf_free(&r.buf[1]);
	return rc;
}

int pl_test_run_capture(char *const argv[], char **out, char **err)
{
	return pl_test_run(NULL, argv, out, err);
}

int pl_test_patchlab_argv(const struct pl_test_run *o, char *const args[],
			  char **out, char **err)
{
	char *argv[MAX_ARGS + 2];
	int n = 0;

	argv[n++] = (char *)pl_test_patchlab();
	for (size_t i = 0; args[i] && n <= MAX_ARGS; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return pl_test_run(o, argv, out, err);
}

int pl_test_patchlab_va(const struct pl_test_run *o, char **out, char **err,
			va_list ap)
{
	char *args[MAX_ARGS + 1];
	int n = 0;

	for (char *a = va_arg(ap, char *); a && n < MAX_ARGS;
	     a = va_arg(ap, char *))
		args[n++] = a;
	args[n] = NULL;
	return pl_test_patchlab_argv(o, args, out, err);
}

int pl_test_patchlab_run(const struct pl_test_run *o, char **out, char **err,
			 ...)
{
	va_list ap;
	int rc;

	va_start(ap, err);
	rc = pl_test_patchlab_va(o, out, err, ap);
	va_end(ap);
	return rc;
}

int pl_test_become_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ? -errno : 0;
}

char *pl_test_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

int pl_test_rack_pid(const char *dir)
{
	char *path = pl_test_path(dir, "rack.pid");
	FILE *f = path ? fopen(path, "r") : NULL;
	int pid = 0;

	free(path);
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

int pl_test_reap(int pid, unsigned timeout_ms)
{
	int fd = pidfd_of(pid), st;

	/* its pidfd becomes readable when it exits: no sleep */
	if (fd >= 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t end = now_ms() + timeout_ms, left;
		int n;

		while ((left = end - now_ms()) > 0 &&
		       (n = poll(&pfd, 1, (int)left)) <= 0 &&
		       (n == 0 || errno == EINTR))
			;
		if (!(pfd.revents & POLLIN)) {
			fprintf(stderr, "pl_test: pid %d did not exit within "
				"%u ms: killed\n", pid, timeout_ms);
			kill(pid, SIGKILL);
		}
		close(fd);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return exit_code(st);
}

char *pl_test_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct pl_strbuf sb = { 0 };
	char buf[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		pl_strbuf_append(&sb, buf, n);
	fclose(f);
	return pl_strbuf_steal(&sb);
}
