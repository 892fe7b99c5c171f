/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the console line matcher of the run engine
 * (controller/src/board/linematch.c), the one the triggers use.
 *
 * Input layout:
 *   ...\n   a POSIX ERE (at most 200 bytes; input skipped if pl_regex_lint
 *           refuses it or it does not compile)
 *   rest    console bytes, cut into chunks whose sizes come from the
 *           stream's own bytes
 *
 * Invariants (abort on violation): every call consumes bytes or reports a
 * hit, all bytes are consumed in the end; a hit's text is a NUL-terminated
 * line of at most PL_LINEMATCH_MAX_LINE bytes without control bytes other
 * than tab, its groups lie inside it, and the pattern matches it; the hit's
 * time is the time of the chunk that completed it.
 */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linematch.h"
#include "patchlab/regex_lint.h"
#include "fuzz.h"

static void check_hit(const regex_t *re, const struct pl_linematch_hit *h,
		      uint64_t t)
{
	char grp[16];

	CHECK(h->len > 0 && h->len <= PL_LINEMATCH_MAX_LINE);
	CHECK(h->text[h->len] == '\0' && strlen(h->text) == h->len);
	for (size_t i = 0; i < h->len; i++) {
		unsigned char c = (unsigned char)h->text[i];

		CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
	}
	CHECK(h->t_ns == t);
	for (unsigned g = 0; g < PL_LINEMATCH_MAX_GROUPS; g++) {
		const regmatch_t *r = &h->groups[g];

		if (r->rm_so < 0)
			continue;
		CHECK(r->rm_so <= r->rm_eo && (size_t)r->rm_eo <= h->len);
		CHECK(pl_linematch_group(h, g, grp, sizeof(grp)));
		CHECK(strlen(grp) < sizeof(grp));
	}
	CHECK(h->groups[0].rm_so >= 0);
	CHECK(regexec(re, h->text, 0, NULL, 0) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size), *s;
	struct pl_linematch *m;
	const char *why;
	char pat[201];
	size_t plen, n, pos = 0;
	uint64_t t = 0;
	regex_t re;

	if (!nl || (plen = (size_t)(nl - data)) > 200)
		return 0;
	memcpy(pat, data, plen);
	pat[plen] = '\0';
	/* patterns go through the lint first, as the loader does: glibc's
	 * regcomp takes minutes on stacked quantifiers (regression_
	 * regcomp_stacked_quantifiers_timeout) */
	if (strlen(pat) != plen || pl_regex_lint(pat) ||
	    regcomp(&re, pat, REG_EXTENDED | REG_NOSUB))
		return 0;
	if (pl_linematch_new(&m, pat, NULL, &why)) {
		regfree(&re);
		return 0;
	}
	s = nl + 1;
	n = size - plen - 1;
	while (pos < n) {
		size_t c = 1 + (s[pos] ^ pos) % 97, off = 0, used;
		struct pl_linematch_hit hit;

		if (c > n - pos)
			c = n - pos;
		unsigned empty = 0;

		t++;
		while (off < c) {
			bool h = pl_linematch_feed(m, s + pos + off, c - off, t,
						   &used, &hit);

			CHECK(used <= c - off);
			if (h) {
				check_hit(&re, &hit, t);
				/* a hit at a newline consumes nothing; the
				 * next call must move on */
				CHECK(used > 0 || ++empty < 2);
				if (used)
					empty = 0;
			} else {
				CHECK(used == c - off);
			}
			off += used;
		}
		pos += c;
		if (s[pos - 1] == 0x04) /* a power cut: forget the line */
			pl_linematch_reset(m);
	}
	pl_linematch_free(m);
	regfree(&re);
	return 0;
}
