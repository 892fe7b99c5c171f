/* SPDX-License-Identifier: MIT */
/* Console patterns regcomp can take: see patchlab/regex_lint.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/regex_lint.h"

/* Past a bracket list starting at p ('['): ']' first is literal, and
 * [:class:], [.coll.], [=equiv=] nest. */
static const char *skip_bracket(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char *end = strchr(p + 2, p[1]);

			p = end && end[1] == ']' ? end + 2 : p + 1;
		} else {
			p++;
		}
	}
	return *p ? p + 1 : p;
}

const char *pl_regex_lint(const char *re)
{
	unsigned long product = 1;
	bool prev_quant = false;
	const char *p = re;

	if (strlen(re) > PL_REGEX_MAX_LEN)
		return "longer than 512 bytes";
	while (*p) {
		if (*p == '\\') {
			p += p[1] ? 2 : 1;
			prev_quant = false;
		} else if (*p == '[') {
			p = skip_bracket(p);
			prev_quant = false;
		} else if (*p == '*' || *p == '+' || *p == '?' || *p == '{') {
			if (prev_quant)
				return "a quantifier on a quantifier "
				       "(regcomp would take minutes)";
			if (*p == '{') {
				char *end;
				unsigned long m = strtoul(p + 1, &end, 10);

				if (*end == ',' && end[1] != '}')
					m = strtoul(end + 1, &end, 10);
				if (m > 255)
					return "a repetition count over 255";
				product *= m ? m : 1;
				if (product > PL_REGEX_MAX_REPEAT)
					return "nested repetitions over 4096 "
					       "in all (regcomp would take "
					       "minutes)";
				end = strchr(p, '}');
				p = end ? end + 1 : p + strlen(p);
			} else {
				p++;
			}
			prev_quant = true;
		} else {
			p++;
			prev_quant = false;
		}
	}
	return NULL;
}
