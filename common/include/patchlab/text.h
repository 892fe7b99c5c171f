/* SPDX-License-Identifier: MIT */
/*
 * Text from outside (a board's console, a scenario's messages, a stored
 * verdict reason) made safe for where it goes: valid UTF-8 for JSON
 * (jansson refuses anything else), harmless for an operator's terminal (no
 * escape sequence reaches it: "\e[2J" must not clear the screen).
 *
 * Invalid UTF-8 (a stray byte, a truncated, overlong or surrogate sequence,
 * a code point past U+10FFFF) becomes U+FFFD, one per offending byte.
 */
#ifndef PATCHLAB_TEXT_H
#define PATCHLAB_TEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "patchlab/strbuf.h"

/* Whether s[0..len) is valid UTF-8 (NUL bytes are valid). */
bool pl_utf8_valid(const char *s, size_t len);

/* Append s[0..len) to out as valid UTF-8. Returns 0 or -ENOMEM. */
int pl_utf8_sanitize(struct pl_strbuf *out, const char *s, size_t len);

/* Length (1..4) of the valid UTF-8 sequence at s (left bytes there), or 0
 * (not shortest form, a surrogate, past U+10FFFF, cut short); *cp gets its
 * code point. */
size_t pl_utf8_seq(const char *s, size_t left, uint32_t *cp);

/* A valid UTF-8 copy of the string s (NULL for NULL), to be freed with
 * free(); NULL also when out of memory (errno ENOMEM). */
char *pl_utf8_dup(const char *s);

/*
 * Append s[0..len) to out for a terminal: valid UTF-8 (as above), and
 * every control character shown, not sent: C0 controls but tab and DEL as
 * "\xNN" (ESC is "\x1B"), C1 controls (U+0080..U+009F, an 8-bit CSI among
 * them) as "\u00NN". Newlines are kept when keep_newlines, else "\x0A".
 * Returns 0 or -ENOMEM.
 */
int pl_term_sanitize(struct pl_strbuf *out, const char *s, size_t len,
		     bool keep_newlines);

/* pl_term_sanitize() of the string s into a new string to be freed with
 * free(), newlines shown as "\x0A"; NULL for NULL and when out of memory. */
char *pl_term_dup(const char *s);

/* Write the string s sanitised for a terminal (newlines kept) to fp; a
 * NULL s writes nothing. Returns 0, or EOF on error (also out of memory). */
int pl_term_fputs(const char *s, FILE *fp);

#endif
