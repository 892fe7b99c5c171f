/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/log.h"
#include "patchlab/text.h"

static const char *const level_names[] = {
	[PL_LOG_ERROR] = "error",
	[PL_LOG_WARN] = "warn",
	[PL_LOG_INFO] = "info",
	[PL_LOG_DEBUG] = "debug",
};

const char *pl_log_level_name(enum pl_log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

int pl_log_level_parse(const char *s, enum pl_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum pl_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* stderr is an operator's terminal: a context or message that came from
 * a board or a scenario is shown there sanitised (patchlab/text.h). */
static void default_sink(enum pl_log_level level, const char *ctx,
			 const char *msg)
{
	struct pl_strbuf m = { 0 };
	char *c = ctx ? pl_term_dup(ctx) : NULL;
	const char *text = "(message lost: out of memory)";

	/* a traceback keeps its lines */
	if (pl_term_sanitize(&m, msg, strlen(msg), true) == 0)
		text = m.s ? m.s : "";
	if (ctx)
		fprintf(stderr, "patchlab: %s: %s: %s\n", pl_log_level_name(level),
			c ? c : "?", text);
	else
		fprintf(stderr, "patchlab: %s: %s\n", pl_log_level_name(level),
			text);
	free(c);
	pl_strbuf_free(&m);
}

void pl_logv(const struct pl_log *log, enum pl_log_level level,
	     const char *fmt, va_list ap)
{
	char small[512];
	char *msg = small;
	va_list ap2;
	int n;

	if (log ? level > log->max : level > PL_LOG_WARN)
		return;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= (int)sizeof(small)) {
		/* Long message: format again into a buffer of the right size. */
		msg = malloc((size_t)n + 1);
		if (msg)
			vsnprintf(msg, (size_t)n + 1, fmt, ap2);
		else
			msg = small; /* truncated is better than lost */
	}
	va_end(ap2);

	if (log && log->fn)
		log->fn(log->user_data, level, log->ctx, msg);
	else
		default_sink(level, log ? log->ctx : NULL, msg);

	if (msg != small)
		free(msg);
}

void pl_log(const struct pl_log *log, enum pl_log_level level, const char *fmt,
	    ...)
{
	va_list ap;

	va_start(ap, fmt);
	pl_logv(log, level, fmt, ap);
	va_end(ap);
}

struct pl_log pl_log_child(const struct pl_log *parent, const char *ctx)
{
	struct pl_log child = { .fn = NULL, .user_data = NULL, .ctx = ctx,
				.max = PL_LOG_WARN };

	if (parent) {
		child = *parent;
		child.ctx = ctx;
	}
	return child;
}
