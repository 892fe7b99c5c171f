/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linematch.h"

struct pl_linematch {
	regex_t own;
	const regex_t *re;
	char line[PL_LINEMATCH_MAX_LINE + 1];
	size_t len;
	bool matched;  /* the current line has matched already */
};

int pl_linematch_new(struct pl_linematch **out, const char *pattern,
		     const regex_t *re, const char **why)
{
	struct pl_linematch *m;

	*out = NULL;
	*why = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (re) {
		m->re = re;
	} else {
		if (!pattern || regcomp(&m->own, pattern, REG_EXTENDED) != 0) {
			*why = "not a valid POSIX extended regular expression";
			free(m);
			return -EINVAL;
		}
		m->re = &m->own;
	}
	*out = m;
	return 0;
}

void pl_linematch_free(struct pl_linematch *m)
{
	if (!m)
		return;
	if (m->re == &m->own)
		regfree(&m->own);
	free(m);
}

void pl_linematch_reset(struct pl_linematch *m)
{
	m->len = 0;
	m->matched = false;
	m->line[0] = '\0';
}

/* complete: the line ended (or was cut at its maximum); else it may still
 * grow. */
static bool check(struct pl_linematch *m, uint64_t t_ns,
		  struct pl_linematch_hit *hit, bool complete)
{
	char num[32];

	if (m->matched || m->len == 0)
		return false;
	m->line[m->len] = '\0';
	if (regexec(m->re, m->line, PL_LINEMATCH_MAX_GROUPS, hit->groups, 0))
		return false;
	/* A capture that runs to the end of a line still arriving could
	 * still grow ("BOOT FAILED: no" of "... no bootable slot", "2.1"
	 * of "2.1.10"): wait for the line's end before reporting it. */
	for (size_t g = 1; !complete && g <= m->re->re_nsub &&
	     g < PL_LINEMATCH_MAX_GROUPS; g++)
		if (hit->groups[g].rm_so >= 0 &&
		    hit->groups[g].rm_eo == (regoff_t)m->len)
			return false;
	m->matched = true;
	hit->text = m->line;
	hit->len = m->len;
	hit->t_ns = t_ns;
	hit->number = -1;
	if (pl_linematch_group(hit, 1, num, sizeof(num))) {
		char *end;
		long v = strtol(num, &end, 10);

		if (end != num)
			hit->number = v;
	}
	return true;
}

bool pl_linematch_feed(struct pl_linematch *m, const uint8_t *buf, size_t len,
		       uint64_t t_ns, size_t *used, struct pl_linematch_hit *hit)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = buf[i];

		if (c == '\n' || c == '\r') {
			/* The line ends: a last check, then a new line. */
			bool hit_now = check(m, t_ns, hit, true);

			if (hit_now) {
				*used = i; /* the newline starts the next call */
				return true;
			}
			pl_linematch_reset(m);
			continue;
		}
		/* Patterns match text: protocol bytes interleaved with it (an
		 * XMODEM ACK before "update: ok") are not part of a line, and
		 * regexec works on C strings, so NULs must stay out too. */
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			continue;
		if (m->len == PL_LINEMATCH_MAX_LINE) {
			if (check(m, t_ns, hit, true)) {
				*used = i;
				return true;
			}
			pl_linematch_reset(m);
		}
		m->line[m->len++] = (char)c;
	}
	*used = len;
	/* a line still arriving is checked while it is short: every chunk
	 * of a long one would run the pattern over all of it again */
	return m->len <= PL_LINEMATCH_PARTIAL_MAX &&
	       check(m, t_ns, hit, false);
}

bool pl_linematch_group(const struct pl_linematch_hit *hit, unsigned g,
			char *dst, size_t n)
{
	const regmatch_t *r;
	size_t l;

	if (g >= PL_LINEMATCH_MAX_GROUPS || n == 0)
		return false;
	r = &hit->groups[g];
	if (r->rm_so < 0 || r->rm_eo < r->rm_so)
		return false;
	l = (size_t)(r->rm_eo - r->rm_so);
	if (l >= n)
		l = n - 1;
	memcpy(dst, hit->text + r->rm_so, l);
	dst[l] = '\0';
	return true;
}
