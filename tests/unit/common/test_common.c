/* SPDX-License-Identifier: MIT */
/* /pl/common: error codes, string buffers, loggers, clocks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "patchlab/clock.h"
#include "patchlab/crc.h"
#include "patchlab/error.h"
#include "patchlab/strbuf.h"
#include "patchlab/text.h"

static void strerror_covers_both_sign_and_project_codes(void **state)
{
	(void)state;
	assert_string_equal(pl_strerror(0), "success");
	assert_string_equal(pl_strerror(-PL_EFIXTURE), "fixture failure");
	assert_string_equal(pl_strerror(PL_EFIXTURE), "fixture failure");
	assert_string_equal(pl_strerror(-ETIMEDOUT), strerror(ETIMEDOUT));
	for (int c = PL_EBASE + 1; c < PL_EMAX; c++)
		assert_non_null(pl_strerror(-c));
}

static void strbuf_grows_and_stays_terminated(void **state)
{
	struct pl_strbuf sb = { 0 };
	char *s;

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(pl_strbuf_printf(&sb, "%d,", i % 10), 0);
	assert_int_equal(sb.len, 2000);
	assert_int_equal(sb.s[sb.len], '\0');
	assert_memory_equal(sb.s, "0,1,2,", 6);
	pl_strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.s, "");
	assert_int_equal(pl_strbuf_puts(&sb, "tail"), 0);
	s = pl_strbuf_steal(&sb);
	assert_string_equal(s, "tail");
	assert_null(sb.s);
	free(s);
	pl_strbuf_free(&sb);
}

static void logger_filters_by_level_and_names_context(void **state)
{
	struct pl_test_logcap cap;
	struct pl_log child;
	char longmsg[2000];

	(void)state;
	pl_test_logcap_init(&cap, "board1");
	cap.log.max = PL_LOG_WARN;
	pl_log(&cap.log, PL_LOG_INFO, "dropped");
	assert_int_equal(cap.warnings + cap.errors, 0);
	child = pl_log_child(&cap.log, "board1/power");
	pl_log(&child, PL_LOG_WARN, "relay %d slow", 3);
	assert_int_equal(cap.warnings, 1);
	assert_string_equal(cap.last, "relay 3 slow");
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	pl_log(&child, PL_LOG_ERROR, "%s", longmsg);
	assert_int_equal(cap.errors, 1);
	assert_int_equal(strlen(cap.last), sizeof(cap.last) - 1);
}

static void log_levels_parse_round_trip(void **state)
{
	enum pl_log_level l;

	(void)state;
	assert_int_equal(pl_log_level_parse("debug", &l), 0);
	assert_int_equal(l, PL_LOG_DEBUG);
	assert_string_equal(pl_log_level_name(l), "debug");
	assert_int_equal(pl_log_level_parse("loud", &l), -EINVAL);
}

static void monotonic_clock_does_not_go_back(void **state)
{
	uint64_t a, b;

	(void)state;
	a = pl_now_ns();
	b = pl_now_ns();
	assert_true(b >= a);
	assert_true(pl_wall_ns() > 1600000000ull * 1000000000ull);
}

/* GDB's qCRC: CRC-32/MPEG-2's check value, and chunking does not matter. */
static void gdb_crc_is_crc32_mpeg2(void **state)
{
	const char *check = "123456789";
	uint32_t c;

	(void)state;
	assert_int_equal(pl_gdb_crc32(PL_GDB_CRC_INIT, check, 9), 0x0376e6e7u);
	c = pl_gdb_crc32(PL_GDB_CRC_INIT, check, 4);
	assert_int_equal(pl_gdb_crc32(c, check + 4, 5), 0x0376e6e7u);
	assert_int_equal(pl_gdb_crc32(PL_GDB_CRC_INIT, check, 0),
			 PL_GDB_CRC_INIT);
	/* one bit changed changes it */
	assert_int_not_equal(pl_gdb_crc32(PL_GDB_CRC_INIT, "123456788", 9),
			     0x0376e6e7u);
}

/* A command line a person can paste back into a shell. */
static void shell_words_quote_only_when_needed(void **state)
{
	struct pl_strbuf sb = { 0 };

	(void)state;
	assert_int_equal(pl_strbuf_shell_word(&sb, "runs/patchlab.db"), 0);
	assert_string_equal(sb.s, "runs/patchlab.db");
	pl_strbuf_reset(&sb);
	assert_int_equal(pl_strbuf_shell_word(&sb, "my lab.yaml"), 0);
	assert_string_equal(sb.s, "'my lab.yaml'");
	pl_strbuf_reset(&sb);
	assert_int_equal(pl_strbuf_shell_word(&sb, "it's $HOME"), 0);
	assert_string_equal(sb.s, "'it'\\''s $HOME'");
	pl_strbuf_reset(&sb);
	assert_int_equal(pl_strbuf_shell_word(&sb, ""), 0);
	assert_string_equal(sb.s, "''");
	pl_strbuf_free(&sb);
}

/* Issue 12 item 6: invalid UTF-8 becomes U+FFFD (so jansson takes it);
 * for the terminal, no escape sequence gets through. */
static void text_is_made_valid_and_terminal_safe(void **state)
{
	struct pl_strbuf sb = { 0 };
	char *s;

	(void)state;
	assert_true(pl_utf8_valid("caf\xC3\xA9 \xE2\x82\xAC", 9));
	assert_false(pl_utf8_valid("a\xFF", 2));
	assert_false(pl_utf8_valid("\xC0\xAF", 2));     /* overlong '/' */
	assert_false(pl_utf8_valid("\xED\xA0\x80", 3)); /* surrogate */
	assert_false(pl_utf8_valid("\xE2\x82", 2));     /* truncated */

	s = pl_utf8_dup("ok \xFF\xFE" "end \xE2\x82");
	assert_string_equal(s, "ok \xEF\xBF\xBD\xEF\xBF\xBD" "end "
			       "\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_true(pl_utf8_valid(s, strlen(s)));
	free(s);
	assert_null(pl_utf8_dup(NULL));

	/* ESC [2J clears a screen; 0x9B is an 8-bit CSI (U+009B in UTF-8) */
	s = pl_term_dup("a\x1b[2Jb\tc\nd\x07\x7f\xC2\x9B" "6n\xFF\xC3\xA9");
	assert_string_equal(s, "a\\x1B[2Jb\tc\\x0Ad\\x07\\x7F\\u009B" "6n"
			       "\xEF\xBF\xBD\xC3\xA9");
	assert_null(strchr(s, 0x1b));
	free(s);
	assert_int_equal(pl_term_sanitize(&sb, "l1\nl2\r", 6, true), 0);
	assert_string_equal(sb.s, "l1\nl2\\x0D");
	pl_strbuf_free(&sb);
	s = pl_term_dup("");
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strerror_covers_both_sign_and_project_codes),
		cmocka_unit_test(strbuf_grows_and_stays_terminated),
		cmocka_unit_test(logger_filters_by_level_and_names_context),
		cmocka_unit_test(log_levels_parse_round_trip),
		cmocka_unit_test(monotonic_clock_does_not_go_back),
		cmocka_unit_test(gdb_crc_is_crc32_mpeg2),
		cmocka_unit_test(shell_words_quote_only_when_needed),
		cmocka_unit_test(text_is_made_valid_and_terminal_safe),
	};

	return cmocka_run_group_tests_name("/pl/common", tests, NULL, NULL);
}
