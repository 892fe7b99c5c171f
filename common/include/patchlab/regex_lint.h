/* SPDX-License-Identifier: MIT */
/*
 * A check before regcomp(3) of a console pattern. glibc's regcomp expands
 * repetitions and stacked quantifiers into automaton states: "a++++...+"
 * or "((a{255}){255}){255}" take seconds to minutes and gigabytes before it
 * gives up (tests/fuzz/linematch found the first within a minute). Console
 * patterns need neither, so they are refused up front: no quantifier
 * directly on a quantifier, {m,n} bounds at most 255 whose product is at
 * most PL_REGEX_MAX_REPEAT, and at most PL_REGEX_MAX_LEN bytes.
 */
#ifndef PATCHLAB_REGEX_LINT_H
#define PATCHLAB_REGEX_LINT_H

#define PL_REGEX_MAX_LEN 512
#define PL_REGEX_MAX_REPEAT 4096

/* NULL when re may go to regcomp, else why not (a static string). */
const char *pl_regex_lint(const char *re);

#endif
