/* SPDX-License-Identifier: MIT */
/*
 * A growable byte string, NUL-terminated at all times. Start it zeroed
 * (struct pl_strbuf sb = {0};) and release it with pl_strbuf_free().
 */
#ifndef PATCHLAB_STRBUF_H
#define PATCHLAB_STRBUF_H

#include <stddef.h>

struct pl_strbuf {
	char *s;     /* NULL until the first append; then NUL-terminated */
	size_t len;
	size_t cap;
};

/* Each returns 0 or -ENOMEM; on -ENOMEM the buffer is unchanged. */
int pl_strbuf_append(struct pl_strbuf *sb, const void *data, size_t len);
int pl_strbuf_puts(struct pl_strbuf *sb, const char *s);
int pl_strbuf_printf(struct pl_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append s as one POSIX shell word: as is when it needs no quoting, else
 * in single quotes ('\'' for a quote inside). */
int pl_strbuf_shell_word(struct pl_strbuf *sb, const char *s);

/* Make room for extra more bytes (and the NUL) without moving later. */
int pl_strbuf_reserve(struct pl_strbuf *sb, size_t extra);

/* One byte: inline while there is room (byte-at-a-time parsers). */
static inline int pl_strbuf_putc(struct pl_strbuf *sb, char c)
{
	if (sb->len + 1 < sb->cap) {
		sb->s[sb->len++] = c;
		sb->s[sb->len] = '\0';
		return 0;
	}
	return pl_strbuf_append(sb, &c, 1);
}

/* Empty the buffer, keeping its memory. */
void pl_strbuf_reset(struct pl_strbuf *sb);

/* Hand the string to the caller (free() it); the buffer becomes empty. Never
 * returns NULL unless memory ran out: an empty buffer yields "". */
char *pl_strbuf_steal(struct pl_strbuf *sb);

void pl_strbuf_free(struct pl_strbuf *sb);

#endif
