/* SPDX-License-Identifier: MIT */
/* UTF-8 repair and terminal-safe text (patchlab/text.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/text.h"

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

size_t pl_utf8_seq(const char *str, size_t left, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2;
		c = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		c = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		return 0;
	*cp = c;
	return n;
}

bool pl_utf8_valid(const char *s, size_t len)
{
	uint32_t cp;

	for (size_t i = 0, n; i < len; i += n) {
		n = pl_utf8_seq(s + i, len - i, &cp);
		if (!n)
			return false;
	}
	return true;
}

/* Copy s[0..len) to out: invalid bytes become U+FFFD; for a terminal
 * (term), control characters are shown instead of sent. */
static int walk(struct pl_strbuf *out, const char *s, size_t len, bool term,
		bool keep_newlines)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;
	int rc = 0;

	while (i < len && rc == 0) {
		size_t run = i;

		/* the common case: a stretch of printable ASCII */
		while (run < len && u[run] >= 0x20 && u[run] < 0x7F)
			run++;
		if (run > i) {
			rc = pl_strbuf_append(out, s + i, run - i);
			i = run;
			continue;
		}
		n = pl_utf8_seq(s + i, len - i, &cp);
		if (!n) {
			rc = pl_strbuf_puts(out, REPLACEMENT);
			n = 1;
		} else if (term && ((cp < 0x20 && cp != '\t' &&
				     !(cp == '\n' && keep_newlines)) ||
				    cp == 0x7F)) {
			rc = pl_strbuf_printf(out, "\\x%02X", (unsigned)cp);
		} else if (term && cp >= 0x80 && cp <= 0x9F) {
			rc = pl_strbuf_printf(out, "\\u%04X", (unsigned)cp);
		} else {
			rc = pl_strbuf_append(out, s + i, n);
		}
		i += n;
	}
	return rc;
}

int pl_utf8_sanitize(struct pl_strbuf *out, const char *s, size_t len)
{
	return walk(out, s, len, false, true);
}

int pl_term_sanitize(struct pl_strbuf *out, const char *s, size_t len,
		     bool keep_newlines)
{
	return walk(out, s, len, true, keep_newlines);
}

static char *dup_with(const char *s, bool term)
{
	struct pl_strbuf sb = { 0 };
	char *r;

	if (!s)
		return NULL;
	if (walk(&sb, s, strlen(s), term, false)) {
		pl_strbuf_free(&sb);
		errno = ENOMEM;
		return NULL;
	}
	r = pl_strbuf_steal(&sb);
	if (!r)
		errno = ENOMEM;
	return r;
}

char *pl_utf8_dup(const char *s)
{
	return dup_with(s, false);
}

char *pl_term_dup(const char *s)
{
	return dup_with(s, true);
}

int pl_term_fputs(const char *s, FILE *fp)
{
	struct pl_strbuf sb = { 0 };
	int rc = 0;

	if (!s)
		return 0;
	if (pl_term_sanitize(&sb, s, strlen(s), true))
		rc = EOF;
	else if (sb.len && fwrite(sb.s, 1, sb.len, fp) != sb.len)
		rc = EOF;
	pl_strbuf_free(&sb);
	return rc;
}
