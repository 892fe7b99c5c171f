/* SPDX-License-Identifier: MIT */
/*
 * /pl/expect: stream matching across chunk boundaries, captures, the
 * timestamp of the completing byte, n-th matches, several patterns at
 * once, garbage, the bounded window and a 1 MiB stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "patchlab/error.h"
#include "patchlab/expect.h"

static struct pl_expect *open_or_fail(size_t window)
{
	struct pl_expect *e;

	assert_int_equal(pl_expect_open(&e, &(struct pl_expect_config){
						    .window = window }), 0);
	return e;
}

static void add_or_fail(struct pl_expect *e, enum pl_expect_kind kind,
			const char *text, unsigned nth, unsigned flags)
{
	struct pl_strbuf err = { 0 };
	int rc = pl_expect_add(e, &(struct pl_expect_pattern){
				       .kind = kind, .text = text, .nth = nth,
				       .flags = flags }, NULL, &err);

	if (rc)
		fail_msg("add %s: %s", text, err.s ? err.s : pl_strerror(rc));
	pl_strbuf_free(&err);
}

static const struct pl_expect_match *feed(struct pl_expect *e, const char *s,
					  size_t len, uint64_t t)
{
	const struct pl_expect_match *m;

	assert_int_equal(pl_expect_feed(e, s, len, t, &m), 0);
	return m;
}

/* "erase sector 12" split at every point, matched by a literal and by
 * regexes: the match, its captures and the time of its last byte. */
static void a_line_split_at_every_point_matches(void **state)
{
	static const char line[] = "flash: erase sector 12 at 0x40000\r\n";
	const size_t len = sizeof(line) - 1;
	const char *sector = strstr(line, "sector 12");
	const size_t last = (size_t)(sector - line) + strlen("sector 12") - 1;

	(void)state;
	for (size_t k = 0; k <= len; k++) {
		for (int kind = 0; kind < 3; kind++) {
			struct pl_expect *e = open_or_fail(0);
			const struct pl_expect_match *m1, *m2, *m;
			uint64_t want_t = last < k ? 100 : 200;

			if (kind == 0)
				add_or_fail(e, PL_EXPECT_LITERAL, "sector 12",
					    1, 0);
			else if (kind == 1)
				add_or_fail(e, PL_EXPECT_REGEX,
					    "sector ([0-9]+)", 1, 0);
			else
				add_or_fail(e, PL_EXPECT_REGEX,
					    "erase sector ([0-9]+)", 1,
					    PL_EXPECT_EAGER);
			m1 = feed(e, line, k, 100);
			m = m1;
			if (m1) {
				/* reported from the first part: consumed,
				 * the second part must not match again */
				assert_int_equal(m1->offset,
						 (uint64_t)(sector - line) -
							 (kind == 2 ? 6 : 0));
				m2 = feed(e, line + k, len - k, 200);
				assert_null(m2);
			} else {
				m = m2 = feed(e, line + k, len - k, 200);
			}
			if (!m)
				fail_msg("split %zu kind %d: no match", k, kind);
			assert_int_equal(m->index, 0);
			assert_int_equal(m->nth, 1);
			if (kind == 2) {
				/* eager: may report "sector 1" when the
				 * split falls before "2" */
				assert_true(m->t_ns == (last - 1 < k ? 100 : 200) ||
					    m->t_ns == want_t);
			} else {
				assert_string_equal(m->text, "sector 12");
				assert_int_equal(m->t_ns, want_t);
			}
			if (kind == 0)
				assert_int_equal(m->settled_ns, m->t_ns);
			if (kind == 1) {
				assert_int_equal(m->ncaptures, 1);
				assert_int_equal(m->cap[0].len, 2);
				assert_memory_equal(m->cap[0].p, "12", 2);
				/* settled by the byte after the match */
				assert_int_equal(m->settled_ns,
						 last + 1 < k ? 100 : 200);
			}
			assert_string_equal(m->before, kind == 2 ? "flash: "
								 : "flash: erase ");
			pl_expect_free(e);
		}
	}
}

/* Three-way splits of a literal across three chunks. */
static void a_literal_split_in_three_matches(void **state)
{
	static const char s[] = "xxHit any key to stop autobootyy";
	const size_t len = sizeof(s) - 1;

	(void)state;
	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b++) {
			struct pl_expect *e = open_or_fail(0);
			const struct pl_expect_match *m;
			int found = 0;

			add_or_fail(e, PL_EXPECT_LITERAL,
				    "Hit any key to stop autoboot", 1, 0);
			m = feed(e, s, a, 1);
			found += m != NULL;
			m = feed(e, s + a, b - a, 2);
			found += m != NULL;
			m = feed(e, s + b, len - b, 3);
			found += m != NULL;
			assert_int_equal(found, 1);
			assert_int_equal(pl_expect_buffered(e), 2);
			pl_expect_free(e);
		}
	}
}

static void regex_captures_report_absent_groups(void **state)
{
	struct pl_expect *e = open_or_fail(0);
	const struct pl_expect_match *m;
	static const char boot[] = "\r\n\r\nU-Boot 2023.01 (Jan 11 2023)\r\n";

	(void)state;
	add_or_fail(e, PL_EXPECT_REGEX,
		    "^U-Boot ([0-9]{4})\\.([0-9]{2})(-rc[0-9]+)? \\(([A-Z][a-z]+)",
		    1, 0);
	m = feed(e, boot, sizeof(boot) - 1, 5);
	assert_non_null(m);
	assert_int_equal(m->ncaptures, 4);
	assert_memory_equal(m->cap[0].p, "2023", 4);
	assert_memory_equal(m->cap[1].p, "01", 2);
	assert_null(m->cap[2].p);
	assert_int_equal(m->cap[3].len, 3);
	assert_memory_equal(m->cap[3].p, "Jan", 3);
	assert_string_equal(m->text, "U-Boot 2023.01 (Jan");
	/* the rest of the line stays buffered */
	assert_int_equal(pl_expect_buffered(e), strlen(" 11 2023)\r\n"));
	pl_expect_free(e);
}

/* One byte per chunk, each with its own time. */
static void the_completing_byte_carries_the_timestamp(void **state)
{
	static const char s[] = "progress 37%\nprogress 38%\n";
	const char *at = strstr(s, "38%");

	(void)state;
	for (int eager = 0; eager < 2; eager++) {
		struct pl_expect *e = open_or_fail(0);
		const struct pl_expect_match *m = NULL;
		size_t i;

		add_or_fail(e, PL_EXPECT_REGEX, "progress (3[89])%", 1,
			    eager ? PL_EXPECT_EAGER : 0);
		for (i = 0; s[i] && !m; i++)
			m = feed(e, s + i, 1, 1000 + i);
		assert_non_null(m);
		/* '%' is byte (at - s) + 2 */
		assert_int_equal(m->t_ns, 1000 + (size_t)(at - s) + 2);
		assert_int_equal(m->settled_ns,
				 1000 + (size_t)(at - s) + 2 + (eager ? 0 : 1));
		assert_int_equal(i, (size_t)(at - s) + 3 + (eager ? 0 : 1));
		assert_memory_equal(m->cap[0].p, "38", 2);
		pl_expect_free(e);
	}
}

static void the_nth_match_fires_and_the_rest_stays(void **state)
{
	struct pl_expect *e = open_or_fail(0);
	const struct pl_expect_match *m;
	char text[256] = "";
	size_t at;

	(void)state;
	for (int i = 0; i < 6; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "erase sector %d\n", i);
	add_or_fail(e, PL_EXPECT_REGEX, "^erase sector ([0-9]+)$", 3, 0);
	m = feed(e, text, strlen(text), 9);
	assert_non_null(m);
	assert_int_equal(m->nth, 3);
	assert_memory_equal(m->cap[0].p, "2", 1);
	at = (size_t)(strstr(text, "erase sector 2") - text);
	assert_int_equal(m->offset, at);
	assert_false(pl_expect_armed(e));
	/* re-armed: the buffered rest is matched by poll */
	add_or_fail(e, PL_EXPECT_LITERAL, "sector 4", 1, 0);
	assert_int_equal(pl_expect_poll(e, &m), 0);
	assert_non_null(m);
	assert_int_equal(m->offset, at + 2 * strlen("erase sector 2\n") + 6);
	assert_string_equal(m->before, "\nerase sector 3\nerase ");
	pl_expect_free(e);
}

static void the_earliest_of_several_patterns_wins(void **state)
{
	struct pl_expect *e = open_or_fail(0);
	const struct pl_expect_match *m;
	size_t idx;

	(void)state;
	add_or_fail(e, PL_EXPECT_LITERAL, "login:", 1, 0);
	add_or_fail(e, PL_EXPECT_REGEX, "=> $", 1, PL_EXPECT_EAGER);
	add_or_fail(e, PL_EXPECT_LITERAL, "Hit any key", 1, 0);
	assert_null(feed(e, "U-Boot\r\n", 8, 1));
	m = feed(e, "Hit any key to stop\r\n=> ", 24, 2);
	assert_non_null(m);
	assert_int_equal(m->index, 2);
	/* the next expect sees the prompt already buffered */
	assert_int_equal(pl_expect_add(e, &(struct pl_expect_pattern){
				       .kind = PL_EXPECT_LITERAL,
				       .text = "login:" }, &idx, NULL), 0);
	assert_int_equal(idx, 0);
	add_or_fail(e, PL_EXPECT_REGEX, "=> $", 1, PL_EXPECT_EAGER);
	assert_int_equal(pl_expect_poll(e, &m), 0);
	assert_non_null(m);
	assert_int_equal(m->index, 1);
	assert_string_equal(m->text, "=> ");
	/* a tie on the end byte goes to the lower index */
	add_or_fail(e, PL_EXPECT_LITERAL, "boot", 1, 0);
	add_or_fail(e, PL_EXPECT_LITERAL, "oot", 1, 0);
	m = feed(e, "reboot", 6, 3);
	assert_non_null(m);
	assert_int_equal(m->index, 0);
	pl_expect_free(e);
}

static void a_non_eager_dollar_waits_for_the_line_end(void **state)
{
	struct pl_expect *e = open_or_fail(0);
	const struct pl_expect_match *m;

	(void)state;
	add_or_fail(e, PL_EXPECT_REGEX, "=> $", 1, 0);
	assert_null(feed(e, "=> ", 3, 1));
	m = feed(e, "\n", 1, 2);
	assert_non_null(m);
	assert_int_equal(m->t_ns, 1);
	assert_int_equal(m->settled_ns, 2);
	pl_expect_free(e);
}

static void clear_cancels_and_discard_forgets(void **state)
{
	struct pl_expect *e = open_or_fail(0);
	const struct pl_expect_match *m;

	(void)state;
	add_or_fail(e, PL_EXPECT_LITERAL, "done", 1, 0);
	assert_true(pl_expect_armed(e));
	pl_expect_clear(e);
	assert_false(pl_expect_armed(e));
	assert_null(feed(e, "done\n", 5, 1));
	pl_expect_discard(e);
	assert_int_equal(pl_expect_buffered(e), 0);
	add_or_fail(e, PL_EXPECT_LITERAL, "done", 1, 0);
	assert_int_equal(pl_expect_poll(e, &m), 0);
	assert_null(m);
	assert_null(feed(e, "do", 2, 2));
	m = feed(e, "ne", 2, 3);
	assert_non_null(m);
	assert_int_equal(m->t_ns, 3);
	assert_int_equal(m->offset, 5);
	pl_expect_free(e);
}

static void bad_patterns_are_refused_with_a_reason(void **state)
{
	struct pl_expect *e = open_or_fail(0);
	struct pl_strbuf err = { 0 };
	static const struct {
		enum pl_expect_kind kind;
		const char *text, *needle;
	} bad[] = {
		{ PL_EXPECT_REGEX, "a(", "regex 'a('" },
		{ PL_EXPECT_REGEX, "x*", "matches the empty string" },
		{ PL_EXPECT_REGEX, "a\nb", "cannot span lines" },
		{ PL_EXPECT_LITERAL, "", "empty literal" },
		{ PL_EXPECT_REGEX, "a+++++++++", "quantifier on a quantifier" },
		{ PL_EXPECT_REGEX, "((a{255}){255})", "repetition counts" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pl_strbuf_reset(&err);
		assert_int_equal(pl_expect_add(e, &(struct pl_expect_pattern){
					       .kind = bad[i].kind,
					       .text = bad[i].text }, NULL, &err),
				 -EINVAL);
		assert_non_null(strstr(err.s, bad[i].needle));
	}
	assert_false(pl_expect_armed(e));
	assert_int_equal(pl_expect_open(&(struct pl_expect *){ NULL },
					&(struct pl_expect_config){ .window = 8 }),
			 -EINVAL);
	pl_strbuf_free(&err);
	pl_expect_free(e);
}

static uint64_t lcg(uint64_t *x)
{
	*x = *x * 6364136223846793005u + 1442695040888963407u;
	return *x >> 33;
}

static void binary_garbage_and_nuls_do_not_break_it(void **state)
{
	struct pl_expect *e = open_or_fail(1024);
	const struct pl_expect_match *m = NULL;
	char junk[8192];
	uint64_t x = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++) {
		junk[i] = (char)lcg(&x);
		if (junk[i] == 'b' || junk[i] == 'a')
			junk[i] = 0; /* keep the needles out of the noise */
	}
	/* a literal with a NUL in it, and a regex after NULs */
	assert_int_equal(pl_expect_add(e, &(struct pl_expect_pattern){
				       .kind = PL_EXPECT_LITERAL,
				       .text = "a\0b", .len = 3 }, NULL, NULL), 0);
	for (size_t i = 0; i < sizeof(junk); i += 100)
		assert_null(feed(e, junk + i,
				 sizeof(junk) - i < 100 ? sizeof(junk) - i : 100,
				 i));
	assert_true(pl_expect_buffered(e) <= 1024);
	m = feed(e, "xa\0by", 5, 99999);
	assert_non_null(m);
	assert_int_equal(m->len, 3);
	assert_memory_equal(m->text, "a\0b", 3);
	add_or_fail(e, PL_EXPECT_REGEX, "boot (ok|failed)", 1, PL_EXPECT_EAGER);
	assert_null(feed(e, "\0\0\xff\xfe boo", 8, 1));
	m = feed(e, "t ok\0\0", 6, 2);
	assert_non_null(m);
	assert_string_equal(m->text, "boot ok");
	pl_expect_free(e);
}

static void the_window_drops_old_lines_first(void **state)
{
	struct pl_expect *e = open_or_fail(64);
	const struct pl_expect_match *m;

	(void)state;
	assert_null(feed(e, "old line one\nold line two\n", 26, 1));
	assert_null(feed(e, "0123456789012345678901234567890123456789", 40, 2));
	assert_true(pl_expect_buffered(e) <= 64);
	/* line one went first, whole; line two still there */
	assert_int_equal(pl_expect_dropped(e), 13);
	add_or_fail(e, PL_EXPECT_LITERAL, "old line two", 1, 0);
	assert_int_equal(pl_expect_poll(e, &m), 0);
	assert_non_null(m);
	assert_int_equal(m->offset, 13);
	assert_int_equal(m->t_ns, 1);
	/* a partial line longer than the window loses its oldest bytes */
	for (int i = 0; i < 10; i++)
		assert_null(feed(e, "abcdefghijklmnopqrstuvwxyz", 26, 3 + i));
	assert_true(pl_expect_buffered(e) <= 64);
	assert_int_equal(pl_expect_total(e), 26 + 40 + 260);
	pl_expect_free(e);
}

/* 1 MiB of console noise in uneven chunks through a 4 KiB window; a
 * trigger on the 500th "erase sector" line and the final marker. */
static void a_mebibyte_stream_through_a_small_window(void **state)
{
	const size_t total = 1u << 20;
	char *s = malloc(total + 64);
	struct pl_expect *e = open_or_fail(4096);
	const struct pl_expect_match *m = NULL;
	size_t n = 0, pos = 0, erase_at = 0;
	unsigned erases = 0;
	uint64_t x = 42, t = 0;

	(void)state;
	assert_non_null(s);
	while (n < total) {
		if (lcg(&x) % 8 == 0) {
			if (++erases == 500)
				erase_at = n;
			n += (size_t)snprintf(s + n, 64, "erase sector %u\r\n",
					      erases);
		} else {
			n += (size_t)snprintf(s + n, 64, "write %08lx ok\r\n",
					      (unsigned long)lcg(&x));
		}
	}
	assert_true(erases > 500);
	add_or_fail(e, PL_EXPECT_REGEX, "erase sector ([0-9]+)", 500, 0);
	while (pos < n && !m) {
		size_t c = 1 + lcg(&x) % 3000;

		if (c > n - pos)
			c = n - pos;
		m = feed(e, s + pos, c, ++t);
		pos += c;
		assert_true(pl_expect_buffered(e) <= 4096);
	}
	assert_non_null(m);
	assert_int_equal(m->offset, erase_at);
	assert_memory_equal(m->cap[0].p, "500", 3);
	/* then a marker after the whole stream */
	add_or_fail(e, PL_EXPECT_LITERAL, "MAGIC-END", 1, 0);
	m = NULL;
	while (pos < n) {
		size_t c = 1 + lcg(&x) % 3000;

		if (c > n - pos)
			c = n - pos;
		assert_null(feed(e, s + pos, c, ++t));
		pos += c;
	}
	m = feed(e, "MAGIC-END\r\n", 11, ++t);
	assert_non_null(m);
	assert_int_equal(m->offset, n);
	assert_int_equal(m->t_ns, t);
	assert_true(pl_expect_dropped(e) > 0);
	assert_int_equal(pl_expect_total(e), n + 11);
	pl_expect_free(e);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_line_split_at_every_point_matches),
		cmocka_unit_test(a_literal_split_in_three_matches),
		cmocka_unit_test(regex_captures_report_absent_groups),
		cmocka_unit_test(the_completing_byte_carries_the_timestamp),
		cmocka_unit_test(the_nth_match_fires_and_the_rest_stays),
		cmocka_unit_test(the_earliest_of_several_patterns_wins),
		cmocka_unit_test(a_non_eager_dollar_waits_for_the_line_end),
		cmocka_unit_test(clear_cancels_and_discard_forgets),
		cmocka_unit_test(bad_patterns_are_refused_with_a_reason),
		cmocka_unit_test(binary_garbage_and_nuls_do_not_break_it),
		cmocka_unit_test(the_window_drops_old_lines_first),
		cmocka_unit_test(a_mebibyte_stream_through_a_small_window),
	};

	return cmocka_run_group_tests_name("/pl/expect", tests, NULL, NULL);
}
