/* SPDX-License-Identifier: MIT */
/*
 * The expect engine: match a console byte stream against literal strings
 * and POSIX extended regular expressions as it arrives in chunks.
 *
 * Model. An engine holds the input not yet consumed by a match (bounded,
 * see "Window") and a set of armed patterns. Each chunk arrives with the
 * monotonic time it was read (pl_expect_feed). After every chunk the
 * engine looks for the earliest match in the stream: the armed pattern
 * whose next match ends first wins (ties: the lower index). A pattern
 * armed with nth = 3 wins at its third non-overlapping match; the two
 * before it only count. A win is one-shot: every pattern is disarmed and
 * the input up to the end of the match is consumed; input after it stays
 * buffered for the next patterns (as in expect(1)). Arm the next set and
 * call pl_expect_poll() to match what is already buffered, or
 * pl_expect_discard() first to only see new input.
 *
 * Chunk boundaries do not matter: a pattern split over any number of
 * chunks matches as if it came in one.
 *
 * Regular expressions are compiled with REG_EXTENDED | REG_NEWLINE: '.'
 * and bracket lists never match '\n', '^' and '$' match at line
 * boundaries, so a regex match never spans lines. '$' does not match at
 * the end of the buffered data (the line may go on) except for
 * PL_EXPECT_EAGER patterns. When is a regex match reported?
 *   - default: once at least one byte after the match has arrived (so
 *     "sector [0-9]+" is not reported as "sector 1" while "2" is on its
 *     way). An optional tail longer than that byte can be cut short
 *     ("abc(xyz)?" on "abcx" reports "abc"): end patterns with a
 *     delimiter when that matters.
 *   - PL_EXPECT_EAGER: as soon as it matches the buffered data, even at
 *     its very end: for prompts ("=> $") and for cut triggers that must
 *     fire on the byte that completes the text.
 * Literals are always reported as soon as their last byte arrives.
 *
 * Timestamps. A match carries t_ns, the time of the chunk holding the
 * byte that completed it (its last byte), and settled_ns, the time of the
 * chunk holding the byte after the match that let a default-mode regex
 * be reported (>= t_ns; equal to t_ns for literals and eager patterns).
 *
 * Window. At most cfg.window bytes of unconsumed input are kept. When
 * more arrives, the oldest complete lines are dropped first; a single
 * line longer than that loses its oldest bytes. Chunks larger than half
 * the window are matched in slices of half the window, so any match up
 * to window/2 bytes long is found; longer ones may be missed.
 * pl_expect_dropped() counts what was dropped unmatched.
 *
 * Bytes are bytes: NULs, invalid UTF-8 and other garbage are matched like
 * any other byte (regexes run in the C locale's byte semantics unless the
 * process changed LC_CTYPE).
 *
 * The engine has no clock and no callbacks: deadlines belong to the
 * caller, which cancels with pl_expect_clear(). One engine per consumer
 * (a scenario's expect, each console trigger). Not thread-safe; no
 * blocking.
 */
#ifndef PATCHLAB_EXPECT_H
#define PATCHLAB_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patchlab/strbuf.h"

struct pl_expect;

#define PL_EXPECT_MAX_CAPTURES 9  /* \1 .. \9 */
#define PL_EXPECT_WINDOW_DEFAULT (64u * 1024u)

enum pl_expect_kind {
	PL_EXPECT_LITERAL,
	PL_EXPECT_REGEX,
};

/* Pattern flags */
#define PL_EXPECT_EAGER 0x1u /* regex: report without waiting a byte */
#define PL_EXPECT_ICASE 0x2u /* regex: ignore case */

struct pl_expect_pattern {
	enum pl_expect_kind kind;
	const char *text; /* the literal or the regex (NUL-terminated) */
	size_t len;       /* literal length (may contain NULs); 0: strlen */
	unsigned nth;     /* report the n-th match; 0 and 1: the first */
	unsigned flags;
};

struct pl_expect_config {
	size_t window; /* bytes of unconsumed input kept; 0: the default;
			  at least 64 */
};

/* A capture group; p == NULL when the group did not take part. */
struct pl_expect_span {
	const char *p;
	size_t len;
};

/*
 * A reported match. Everything points into memory owned by the engine,
 * valid until the next call on it (feed, poll, add, clear, discard, free).
 */
struct pl_expect_match {
	size_t index;          /* the pattern, in order of pl_expect_add() */
	unsigned nth;          /* which match of that pattern this is */
	const char *text;      /* the matched bytes (NUL-terminated copy) */
	size_t len;
	uint64_t offset;       /* stream offset of its first byte */
	uint64_t t_ns;         /* time of the chunk with its last byte */
	uint64_t settled_ns;   /* see "Timestamps" above */
	const char *before;    /* unconsumed input before it (NUL-terminated) */
	size_t before_len;
	unsigned ncaptures;    /* regex groups; 0 for literals */
	struct pl_expect_span cap[PL_EXPECT_MAX_CAPTURES];
};

/* Returns 0, -ENOMEM or -EINVAL (window < 64). Free with
 * pl_expect_free(). cfg may be NULL. */
int pl_expect_open(struct pl_expect **out, const struct pl_expect_config *cfg);
void pl_expect_free(struct pl_expect *e); /* accepts NULL */

/*
 * Arm a pattern; *index (may be NULL) receives its index (0, 1, ... in
 * order of arming since the last win or clear). Returns 0, -ENOMEM, or
 * -EINVAL for an empty literal, a regex that does not compile or one that
 * matches the empty string; err (may be NULL) then gets a message
 * ("regex 'a(': Unmatched ( or \(").
 */
int pl_expect_add(struct pl_expect *e, const struct pl_expect_pattern *p,
		  size_t *index, struct pl_strbuf *err);

/* Disarm every pattern (cancel a pending expect). Buffered input stays. */
void pl_expect_clear(struct pl_expect *e);

/* Drop all buffered input (it will never match). Patterns stay armed. */
void pl_expect_discard(struct pl_expect *e);

/*
 * Append a chunk read at t_ns (monotonic; chunks in order) and match.
 * *m is set to the match if one was reported, else to NULL. len may be
 * 0 (just matches, like poll). Returns 0 or -ENOMEM (the chunk is then
 * dropped and counted in pl_expect_dropped()).
 */
int pl_expect_feed(struct pl_expect *e, const void *buf, size_t len,
		   uint64_t t_ns, const struct pl_expect_match **m);

/* Match the buffered input against the armed patterns (after arming). */
int pl_expect_poll(struct pl_expect *e, const struct pl_expect_match **m);

/* true when at least one pattern is armed */
bool pl_expect_armed(const struct pl_expect *e);

/* Bytes buffered now; bytes fed in total; bytes dropped unmatched. */
size_t pl_expect_buffered(const struct pl_expect *e);
uint64_t pl_expect_total(const struct pl_expect *e);
uint64_t pl_expect_dropped(const struct pl_expect *e);

#endif
