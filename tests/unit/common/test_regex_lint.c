/* SPDX-License-Identifier: MIT */
/* /pl/common/regex-lint: patterns glibc's regcomp would take minutes on are
 * refused before it sees them; the patterns of the shipped boards pass. */
#include <regex.h>
#include <string.h>

#include "patchlab/regex_lint.h"
#include "pl_test.h"

static void stacked_quantifiers_and_huge_repeats_are_refused(void **state)
{
	char big[PL_REGEX_MAX_LEN + 2];

	(void)state;
	/* found by tests/fuzz/linematch: regcomp ran past libFuzzer's 12 s */
	assert_non_null(pl_regex_lint("^AP++++++++++++++++++++++++++++++++"));
	assert_non_null(pl_regex_lint("a*+"));
	assert_non_null(pl_regex_lint("x{2}{3}"));
	assert_non_null(pl_regex_lint("((a{255}){255}){255}"));
	assert_non_null(pl_regex_lint("a{256}"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_non_null(pl_regex_lint(big));
}

static void console_patterns_pass(void **state)
{
	static const char *const ok[] = {
		"^=> ?$", "^APP: slot ([AB]) version ([0-9]+\\.[0-9]+)",
		"^BOOT FAILED: (.*)$", "erase sector ([0-9]+)", "a\\+\\+",
		"[+*?]+", "[[:digit:]]{1,3}", "(ab){2}(cd){3}", "x{64}y{64}",
		"[]+]+", "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		regex_t re;

		if (pl_regex_lint(ok[i]))
			fail_msg("refused '%s': %s", ok[i], pl_regex_lint(ok[i]));
		assert_int_equal(regcomp(&re, ok[i], REG_EXTENDED), 0);
		regfree(&re);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stacked_quantifiers_and_huge_repeats_are_refused),
		cmocka_unit_test(console_patterns_pass),
	};

	return cmocka_run_group_tests_name("/pl/common/regex-lint", tests,
					   NULL, NULL);
}
