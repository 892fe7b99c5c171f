/* SPDX-License-Identifier: MIT */
/*
 * Per-instance logging. Every log call names its context (a board, a fixture,
 * a run) so a report can attach each line to the right place; nothing here is
 * process-global except the immutable default sink used for a NULL logger.
 *
 * Messages read as sentences without a trailing period:
 *   pl_log(log, PL_LOG_WARN, "console %s: reopened after %u ms", path, gap);
 */
#ifndef PATCHLAB_LOG_H
#define PATCHLAB_LOG_H

#include <stdarg.h>

enum pl_log_level {
	PL_LOG_ERROR,
	PL_LOG_WARN,
	PL_LOG_INFO,
	PL_LOG_DEBUG,
};

/* A sink receives one formatted message; ctx names the speaker. */
typedef void (*pl_log_fn)(void *user_data, enum pl_log_level level,
			  const char *ctx, const char *msg);

/*
 * A logger: a sink plus the context name it speaks for. Loggers are plain
 * values; derive one per fixture with pl_log_child(). The ctx string is
 * borrowed and must outlive the logger.
 */
struct pl_log {
	pl_log_fn fn;          /* NULL: the default sink (stderr, WARN and up) */
	void *user_data;
	const char *ctx;       /* "board3", "board3/power lcus", ... may be NULL */
	enum pl_log_level max; /* messages above this level are dropped */
};

/* log may be NULL: the message goes to the default sink. */
void pl_log(const struct pl_log *log, enum pl_log_level level, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void pl_logv(const struct pl_log *log, enum pl_log_level level,
	     const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* The same sink as parent with a new context name (borrowed). */
struct pl_log pl_log_child(const struct pl_log *parent, const char *ctx);

/* Parse "error", "warn", "info", "debug"; returns -EINVAL otherwise. */
int pl_log_level_parse(const char *s, enum pl_log_level *out);

const char *pl_log_level_name(enum pl_log_level level);

#endif
