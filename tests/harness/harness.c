/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/select.h>
#include <sys/wait.h>

#include "pl_test.h"

extern char **environ;

void pl_test_print_skip(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "SKIP: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

struct wait {
	bool (*pred)(void *ud);
	void *ud;
	bool fired;
};

static void on_deadline(uv_timer_t *t)
{
	struct wait *w = t->data;

	w->fired = true;
	uv_stop(t->loop);
}

/*
 * The predicate is checked in a prepare handle: libuv runs prepare handles
 * after the timers and before it would block in poll, and a uv_stop() there
 * makes that poll return at once. So a completion delivered by a zero timer
 * (the power layer defers its callbacks that way) is seen in the same
 * iteration, not at the deadline.
 */
static void on_prepare(uv_prepare_t *p)
{
	struct wait *w = p->data;

	if (w->fired || w->pred(w->ud))
		uv_stop(p->loop);
}

int pl_test_loop_until(uv_loop_t *loop, bool (*pred)(void *ud), void *ud,
		       unsigned timeout_ms)
{
	struct wait w = { pred, ud, false };
	uv_timer_t timer;
	uv_prepare_t prep;
	int rc;

	if (pred(ud))
		return 0;
	uv_timer_init(loop, &timer);
	uv_prepare_init(loop, &prep);
	timer.data = prep.data = &w;
	uv_timer_start(&timer, on_deadline, timeout_ms, 0);
	uv_prepare_start(&prep, on_prepare);
	while (!w.fired && !pred(ud))
		uv_run(loop, UV_RUN_DEFAULT);
	rc = pred(ud) ? 0 : -ETIMEDOUT;
	uv_close((uv_handle_t *)&timer, NULL);
	uv_close((uv_handle_t *)&prep, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return rc;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void pl_test_loop_drain(uv_loop_t *loop)
{
	uv_walk(loop, close_walk, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
}

char *pl_test_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/pl-%s-XXXXXX", base, tag ? tag : "test") < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void pl_test_rmrf(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *pl_test_source_path(const char *rel)
{
	const char *src = getenv("PL_SOURCE_DIR");
	char *path;

	if (!src)
		src = ".";
	if (asprintf(&path, "%s/%s", src, rel) < 0)
		return NULL;
	return path;
}

const char *pl_test_patchlab(void)
{
	const char *p = getenv("PATCHLAB");

	return p ? p : "patchlab";
}

bool pl_test_have_program(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	bool found = false;

	if (!path)
		return false;
	copy = strdup(path);
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *full;

		if (asprintf(&full, "%s/%s", dir, name) < 0)
			break;
		found = access(full, X_OK) == 0;
		free(full);
	}
	free(copy);
	return found;
}

static void logcap_sink(void *ud, enum pl_log_level level, const char *ctx,
			const char *msg)
{
	struct pl_test_logcap *cap = ud;

	if (level == PL_LOG_ERROR)
		cap->errors++;
	else if (level == PL_LOG_WARN)
		cap->warnings++;
	snprintf(cap->last, sizeof(cap->last), "%s", msg);
	if (getenv("PL_TEST_VERBOSE"))
		fprintf(stderr, "[%s] %s: %s\n", pl_log_level_name(level),
			ctx ? ctx : "-", msg);
}

void pl_test_logcap_init(struct pl_test_logcap *cap, const char *ctx)
{
	memset(cap, 0, sizeof(*cap));
	cap->log.fn = logcap_sink;
	cap->log.user_data = cap;
	cap->log.ctx = ctx;
	cap->log.max = PL_LOG_DEBUG;
}

/* Read both pipes until EOF without deadlocking on a full pipe. */
static void drain_pipes(int fo, int fe, char **out, char **err)
{
	struct { int fd; char *buf; size_t len; } p[2] = { { fo, NULL, 0 },
							   { fe, NULL, 0 } };
	int open_fds = 2;

	for (int i = 0; i < 2; i++)
		p[i].buf = calloc(1, 1);
	while (open_fds > 0) {
		fd_set rd;
		int maxfd = -1;

		FD_ZERO(&rd);
		for (int i = 0; i < 2; i++) {
			if (p[i].fd >= 0) {
				FD_SET(p[i].fd, &rd);
				if (p[i].fd > maxfd)
					maxfd = p[i].fd;
			}
		}
		if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			char chunk[4096];
			ssize_t n;

			if (p[i].fd < 0 || !FD_ISSET(p[i].fd, &rd))
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			p[i].buf = realloc(p[i].buf, p[i].len + (size_t)n + 1);
			memcpy(p[i].buf + p[i].len, chunk, (size_t)n);
			p[i].len += (size_t)n;
			p[i].buf[p[i].len] = '\0';
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	if (out)
		*out = p[0].buf;
	else
		free(p[0].buf);
	if (err)
		*err = p[1].buf;
	else
		free(p[1].buf);
}

int pl_test_run_capture(char *const argv[], char **out, char **err)
{
	posix_spawn_file_actions_t fa;
	int po[2], pe[2], status, rc;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		rc = -errno;
		goto err_close_po;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (rc != 0) {
		close(po[0]);
		close(pe[0]);
		return -rc;
	}
	drain_pipes(po[0], pe[0], out, err);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);

err_close_po:
	close(po[0]);
	close(po[1]);
	return rc;
}
