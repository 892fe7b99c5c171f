/* SPDX-License-Identifier: MIT */
/*
 * What every fuzz target of tests/fuzz/ shares: libFuzzer's entry point
 * (also called by replay.c over the corpus, with gcc) and CHECK, which
 * aborts on a broken invariant so the fuzzer (and ctest) see a crash.
 */
#ifndef PL_FUZZ_H
#define PL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c))                                                    \
			abort();                                             \
	} while (0)

#endif
