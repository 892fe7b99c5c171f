/* SPDX-License-Identifier: MIT */
/*
 * /pl/linematch: the console line matcher the triggers and the board
 * operations use (controller/src/board/linematch.h), held to each promise
 * of its header: a match in the chunk that completes it (no newline
 * needed), once per line, the chunk's time, long lines cut at 4 KiB,
 * control bytes left out, captures and the number, reset after a cut.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "linematch.h"

static struct pl_linematch *new_or_fail(const char *pattern)
{
	struct pl_linematch *m = NULL;
	const char *why = NULL;

	assert_int_equal(pl_linematch_new(&m, pattern, NULL, &why), 0);
	assert_non_null(m);
	return m;
}

/* Feed a whole string; count the hits, keep the last one's text. */
static unsigned feed_all(struct pl_linematch *m, const char *s, uint64_t t,
			 char *last, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t len = strlen(s), used;
	struct pl_linematch_hit hit;
	unsigned hits = 0;

	while (len) {
		bool h = pl_linematch_feed(m, p, len, t, &used, &hit);

		assert_true(used <= len);
		if (h) {
			hits++;
			if (last) {
				size_t l = hit.len < n - 1 ? hit.len : n - 1;

				memcpy(last, hit.text, l);
				last[l] = '\0';
			}
		} else {
			assert_int_equal(used, len);
		}
		p += used;
		len -= used;
	}
	return hits;
}

static void a_bad_pattern_is_refused_with_a_reason(void **state)
{
	struct pl_linematch *m = (void *)1;
	const char *why = NULL;

	(void)state;
	assert_int_equal(pl_linematch_new(&m, "([", NULL, &why), -EINVAL);
	assert_null(m);
	assert_non_null(why);
}

static void a_prompt_matches_without_a_newline(void **state)
{
	struct pl_linematch *m = new_or_fail("^=> $");
	struct pl_linematch_hit hit;
	size_t used;

	(void)state;
	assert_false(pl_linematch_feed(m, (const uint8_t *)"=", 1, 10, &used, &hit));
	assert_true(pl_linematch_feed(m, (const uint8_t *)"> ", 2, 20, &used, &hit));
	/* the time of the chunk that completed the match */
	assert_int_equal(hit.t_ns, 20);
	assert_int_equal(hit.len, 3);
	pl_linematch_free(m);
}

static void a_line_matches_once_however_it_grows(void **state)
{
	struct pl_linematch *m = new_or_fail("erase sector");
	char last[64];

	(void)state;
	assert_int_equal(feed_all(m, "erase sector 1", 1, last, sizeof(last)), 1);
	/* more of the same line: no second hit */
	assert_int_equal(feed_all(m, "2 done", 2, NULL, 0), 0);
	/* a new line: a new hit */
	assert_int_equal(feed_all(m, "\r\nerase sector 13\n", 3, last,
				  sizeof(last)), 1);
	assert_string_equal(last, "erase sector 13");
	pl_linematch_free(m);
}

static void every_matching_line_of_a_chunk_is_a_hit(void **state)
{
	struct pl_linematch *m = new_or_fail("^erase sector [0-9]+$");

	(void)state;
	assert_int_equal(feed_all(m, "erase sector 1\nprogram 1\r\nerase sector 2"
				  "\nerase sector 3\n", 5, NULL, 0), 3);
	pl_linematch_free(m);
}

static void control_bytes_are_not_part_of_a_line(void **state)
{
	struct pl_linematch *m = new_or_fail("^update: ok$");
	static const uint8_t chunk[] = { 0x06, 'u', 'p', 'd', 0x00, 'a', 't',
					 'e', ':', ' ', 0x15, 'o', 'k', '\n' };
	struct pl_linematch_hit hit;
	size_t used;

	(void)state;
	assert_true(pl_linematch_feed(m, chunk, sizeof(chunk), 1, &used, &hit));
	assert_int_equal(hit.len, strlen("update: ok"));
	assert_memory_equal(hit.text, "update: ok", hit.len);
	pl_linematch_free(m);
}

static void a_tab_stays_in_the_line(void **state)
{
	struct pl_linematch *m = new_or_fail("^a\tb$");

	(void)state;
	assert_int_equal(feed_all(m, "a\tb\n", 1, NULL, 0), 1);
	pl_linematch_free(m);
}

static void captures_and_the_first_as_a_number(void **state)
{
	struct pl_linematch *m = new_or_fail("progress ([0-9]+)% of (.*)$");
	struct pl_linematch_hit hit;
	const char *s = "progress 42% of slot-b\n";
	char g[32];
	size_t used;

	(void)state;
	assert_true(pl_linematch_feed(m, (const uint8_t *)s, strlen(s), 7, &used,
				      &hit));
	assert_int_equal(hit.number, 42);
	assert_true(pl_linematch_group(&hit, 2, g, sizeof(g)));
	assert_string_equal(g, "slot-b");
	assert_false(pl_linematch_group(&hit, 3, g, sizeof(g)));
	/* a short buffer gets a cut, terminated copy */
	assert_true(pl_linematch_group(&hit, 2, g, 3));
	assert_string_equal(g, "sl");
	pl_linematch_free(m);
}

/* A line split across reads: a capture that reaches the end of what has
 * arrived could still grow, so the hit waits for the line's end and
 * carries the whole reason (a CI host under load split "BOOT FAILED: no
 * bootable slot" after "no"). A capture that ends before the end of the
 * arrived bytes is reported at once. */
static void a_capture_at_the_end_of_a_partial_line_waits(void **state)
{
	struct pl_linematch *m = new_or_fail("^BOOT FAILED: (.*)$");
	struct pl_linematch *v = new_or_fail("version ([0-9.]+) slot");
	struct pl_linematch_hit hit;
	const char *a = "BOOT FAILED: no", *b = " bootable slot\n";
	const char *c = "app: version 1.1.0 slot B run";
	char g[64];
	size_t used;

	(void)state;
	assert_false(pl_linematch_feed(m, (const uint8_t *)a, strlen(a), 1,
				       &used, &hit));
	assert_true(pl_linematch_feed(m, (const uint8_t *)b, strlen(b), 2,
				      &used, &hit));
	assert_true(pl_linematch_group(&hit, 1, g, sizeof(g)));
	assert_string_equal(g, "no bootable slot");
	assert_int_equal(hit.t_ns, 2);
	assert_true(pl_linematch_feed(v, (const uint8_t *)c, strlen(c), 3,
				      &used, &hit));
	assert_true(pl_linematch_group(&hit, 1, g, sizeof(g)));
	assert_string_equal(g, "1.1.0");
	pl_linematch_free(m);
	pl_linematch_free(v);
}

static void no_capture_means_no_number(void **state)
{
	struct pl_linematch *m = new_or_fail("booted");
	struct pl_linematch_hit hit;
	size_t used;

	(void)state;
	assert_true(pl_linematch_feed(m, (const uint8_t *)"booted 7", 8, 1,
				      &used, &hit));
	assert_int_equal(hit.number, -1);
	pl_linematch_free(m);
}

static void a_long_line_is_cut_at_4_kib(void **state)
{
	struct pl_linematch *m = new_or_fail("^TAIL");
	char *s = malloc(PL_LINEMATCH_MAX_LINE + 16);
	char last[16];

	(void)state;
	assert_non_null(s);
	memset(s, 'x', PL_LINEMATCH_MAX_LINE);
	strcpy(s + PL_LINEMATCH_MAX_LINE, "TAIL\n");
	/* the tail after 4 KiB is matched as a line of its own */
	assert_int_equal(feed_all(m, s, 1, last, sizeof(last)), 1);
	assert_string_equal(last, "TAIL");
	free(s);
	pl_linematch_free(m);
}

/* A line still arriving is checked while it is short; past
 * PL_LINEMATCH_PARTIAL_MAX bytes, at its end only (a board printing a long
 * line a byte a read would have the pattern run over all of it each time:
 * seconds of the loop for "(x+)$" over 4 KiB). */
static void a_long_line_is_checked_when_it_ends(void **state)
{
	struct pl_linematch *m = new_or_fail("(x+)y$");
	struct pl_linematch_hit hit;
	size_t used, n = PL_LINEMATCH_PARTIAL_MAX + 100;

	(void)state;
	for (size_t i = 0; i < n; i++)
		assert_false(pl_linematch_feed(m, (const uint8_t *)"x", 1, 1,
					       &used, &hit));
	/* the pattern matches now, but the line is long: not yet */
	assert_false(pl_linematch_feed(m, (const uint8_t *)"y", 1, 2, &used,
				       &hit));
	assert_true(pl_linematch_feed(m, (const uint8_t *)"\n", 1, 3, &used,
				      &hit));
	assert_int_equal(hit.len, n + 1);
	assert_int_equal(hit.t_ns, 3);
	pl_linematch_free(m);
	/* a short one matches as it arrives, as prompts need */
	m = new_or_fail("(x+)y$");
	assert_false(pl_linematch_feed(m, (const uint8_t *)"xx", 2, 1, &used,
				       &hit));
	assert_true(pl_linematch_feed(m, (const uint8_t *)"y", 1, 2, &used,
				      &hit));
	pl_linematch_free(m);
}

static void reset_forgets_the_partial_line(void **state)
{
	struct pl_linematch *m = new_or_fail("^booted$");

	(void)state;
	assert_int_equal(feed_all(m, "boo", 1, NULL, 0), 0);
	pl_linematch_reset(m);
	/* "boo" + "ted" would have matched; after the cut it must not */
	assert_int_equal(feed_all(m, "ted\n", 2, NULL, 0), 0);
	assert_int_equal(feed_all(m, "booted\n", 3, NULL, 0), 1);
	pl_linematch_free(m);
}

static void a_caller_compiled_regex_is_borrowed(void **state)
{
	struct pl_linematch *m = NULL;
	const char *why = NULL;
	regex_t re;

	(void)state;
	assert_int_equal(regcomp(&re, "ok", REG_EXTENDED), 0);
	assert_int_equal(pl_linematch_new(&m, "ignored([", &re, &why), 0);
	assert_int_equal(feed_all(m, "ok\n", 1, NULL, 0), 1);
	pl_linematch_free(m);
	/* still ours to use and free */
	assert_int_equal(regexec(&re, "ok", 0, NULL, 0), 0);
	regfree(&re);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_bad_pattern_is_refused_with_a_reason),
		cmocka_unit_test(a_prompt_matches_without_a_newline),
		cmocka_unit_test(a_line_matches_once_however_it_grows),
		cmocka_unit_test(every_matching_line_of_a_chunk_is_a_hit),
		cmocka_unit_test(control_bytes_are_not_part_of_a_line),
		cmocka_unit_test(a_tab_stays_in_the_line),
		cmocka_unit_test(captures_and_the_first_as_a_number),
		cmocka_unit_test(a_capture_at_the_end_of_a_partial_line_waits),
		cmocka_unit_test(no_capture_means_no_number),
		cmocka_unit_test(a_long_line_is_cut_at_4_kib),
		cmocka_unit_test(a_long_line_is_checked_when_it_ends),
		cmocka_unit_test(reset_forgets_the_partial_line),
		cmocka_unit_test(a_caller_compiled_regex_is_borrowed),
	};

	return cmocka_run_group_tests_name("/pl/linematch", tests, NULL, NULL);
}
