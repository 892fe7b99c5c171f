/* SPDX-License-Identifier: MIT */
/*
 * Line matching for the run engine: console output is cut into lines and
 * each line is matched against a POSIX extended regex (the form of every
 * console pattern of a board type, see patchlab/config.h).
 *
 * A line is checked when new bytes of it arrive, not only when it ends, so
 * a pattern matches in the very chunk that completed it (a prompt has no
 * newline; a trigger on "erase sector 12" fires before the line ends),
 * except when a capture group reaches the end of what has arrived: it
 * could still grow ("BOOT FAILED: no" of "... no bootable slot"), so that
 * match waits for the line's end (a prompt pattern must therefore have no
 * capture that ends the line). Only the first 256 bytes of a line are
 * checked as they arrive; a longer line is checked when it ends (a board
 * printing 4 KiB without a newline, one byte a read, would otherwise cost
 * 4,096 matches over a growing line: seconds of the loop for some
 * patterns). A line matches at most once. The timestamp of a hit is the
 * read time of the chunk that completed the match. Lines longer than 4 KiB are cut
 * there (the tail is matched as a new line). Control bytes other than tab
 * (an XMODEM ACK between two lines, a NUL) are left out of lines.
 */
#ifndef PL_ENGINE_LINEMATCH_H
#define PL_ENGINE_LINEMATCH_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_LINEMATCH_MAX_LINE 4096
#define PL_LINEMATCH_MAX_GROUPS 10
/* the longest line still arriving that is checked before it ends */
#define PL_LINEMATCH_PARTIAL_MAX 256

struct pl_linematch;

struct pl_linematch_hit {
	const char *text;   /* the line as matched (borrowed until next feed) */
	size_t len;
	uint64_t t_ns;
	regmatch_t groups[PL_LINEMATCH_MAX_GROUPS]; /* [0] whole match */
	long number;        /* the first capture read as a number, or -1 */
};

/*
 * A matcher for pattern (compiled here) or for re (borrowed, compiled by the
 * caller; pattern ignored). *why is a static message on -EINVAL.
 * Free with pl_linematch_free().
 */
int pl_linematch_new(struct pl_linematch **out, const char *pattern,
		     const regex_t *re, const char **why);
void pl_linematch_free(struct pl_linematch *m);

/*
 * Feed console bytes read at t_ns. Consumes up to the end of the first hit's
 * line chunk and returns true with *hit filled, or consumes everything and
 * returns false. *used says how many bytes were consumed: call again with
 * the rest to find further hits.
 */
bool pl_linematch_feed(struct pl_linematch *m, const uint8_t *buf, size_t len,
		       uint64_t t_ns, size_t *used, struct pl_linematch_hit *hit);

/* Forget the current partial line (after a power cut, say). */
void pl_linematch_reset(struct pl_linematch *m);

/* Copy capture group g of a hit into dst (size n, NUL-terminated); returns
 * false when the group did not participate. */
bool pl_linematch_group(const struct pl_linematch_hit *hit, unsigned g,
			char *dst, size_t n);

#endif
