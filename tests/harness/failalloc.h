/* SPDX-License-Identifier: MIT */
/*
 * Allocation-failure injection for tests: a counting allocator that fails
 * the n-th allocation, to sweep n over an operation until it succeeds.
 *
 * Linking pl_test_failalloc wraps (ld --wrap) malloc, calloc, realloc,
 * strdup, strndup, asprintf and vasprintf in every object of the test
 * program, our static libraries included. Libraries loaded as shared
 * objects allocate on their own unless routed here: SQLite through
 * sqlite3_config(SQLITE_CONFIG_MALLOC) and jansson through
 * json_set_alloc_funcs with pl_fa_malloc/pl_fa_free (libyaml has no hook,
 * so its own allocations are not failed).
 *
 *   for (n = 1; ; n++) {
 *           pl_fa_arm(n);
 *           rc = operation();
 *           pl_fa_disarm();
 *           if (!pl_fa_failed()) break;   // ran to the end: n covered all
 *           ...check rc, state, no leak...
 *   }
 */
#ifndef PL_TEST_FAILALLOC_H
#define PL_TEST_FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Fail the n-th allocation from now on (n >= 1), that one only: the code
 * goes on with working memory after it, so a failure ignored or half
 * handled shows (a crash, a leak, a wrong result). */
void pl_fa_arm(unsigned long n);
/* Stop failing; returns how many allocations were counted since arming. */
unsigned long pl_fa_disarm(void);
/* Whether an allocation was failed since the last pl_fa_arm(). */
bool pl_fa_failed(void);

/* Counted allocations for hooks of shared libraries (SQLite, jansson). */
void *pl_fa_malloc(size_t n);
void *pl_fa_realloc(void *p, size_t n);
void pl_fa_free(void *p);

#endif
