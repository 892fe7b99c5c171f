/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pl_test.h"

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

	return pl_test_path(src ? src : ".", rel);
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
