/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/strbuf.h"

static int reserve(struct pl_strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	size_t cap = sb->cap ? sb->cap : 64;
	char *s;

	if (need <= sb->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	s = realloc(sb->s, cap);
	if (!s)
		return -ENOMEM;
	sb->s = s;
	sb->cap = cap;
	return 0;
}

int pl_strbuf_reserve(struct pl_strbuf *sb, size_t extra)
{
	return reserve(sb, extra);
}

int pl_strbuf_append(struct pl_strbuf *sb, const void *data, size_t len)
{
	if (reserve(sb, len))
		return -ENOMEM;
	memcpy(sb->s + sb->len, data, len);
	sb->len += len;
	sb->s[sb->len] = '\0';
	return 0;
}

int pl_strbuf_shell_word(struct pl_strbuf *sb, const char *s)
{
	size_t len = sb->len;
	int err;

	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_-+=./:,@%") == strlen(s))
		return pl_strbuf_puts(sb, s);
	err = pl_strbuf_putc(sb, '\'');
	for (const char *p = s; !err && *p; p++)
		err = *p == '\'' ? pl_strbuf_puts(sb, "'\\''")
				 : pl_strbuf_putc(sb, *p);
	err = err ? err : pl_strbuf_putc(sb, '\'');
	if (err) {
		sb->len = len; /* unchanged, as the other appends */
		if (sb->s)
			sb->s[len] = '\0';
	}
	return err;
}

int pl_strbuf_puts(struct pl_strbuf *sb, const char *s)
{
	return pl_strbuf_append(sb, s, strlen(s));
}

int pl_strbuf_printf(struct pl_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (reserve(sb, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

void pl_strbuf_reset(struct pl_strbuf *sb)
{
	sb->len = 0;
	if (sb->s)
		sb->s[0] = '\0';
}

char *pl_strbuf_steal(struct pl_strbuf *sb)
{
	char *s = sb->s;

	if (!s)
		s = strdup("");
	sb->s = NULL;
	sb->len = sb->cap = 0;
	return s;
}

void pl_strbuf_free(struct pl_strbuf *sb)
{
	if (!sb)
		return;
	free(sb->s);
	sb->s = NULL;
	sb->len = sb->cap = 0;
}
