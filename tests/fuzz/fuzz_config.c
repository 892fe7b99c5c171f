/* SPDX-License-Identifier: MIT */
/*
 * The body of the three YAML loader targets (config_lab, config_board,
 * config_suite): the input is a whole file, checked in memory by
 * pl_config_check_buffer as `patchlab check` checks a file.
 *
 * The name places the file in the source tree so that what it references
 * resolves as for a real one: a lab next to tests/data/good-config/boards,
 * a suite under tests/data/good-config/suites (scenarios and images there),
 * a board type under boards/. ${FUZZ...} variables are defined, others not.
 *
 * Invariants (abort on violation): the result is 0 or -PL_ECONFIG (never
 * another error: no allocation fails here), errors come with diagnostics
 * and success without errors, every diagnostic has a message, and the kind reported is the kind asked for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_config.h"
#include "patchlab/error.h"

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c))                                                    \
			abort();                                             \
	} while (0)

static const char *fuzz_env(void *ud, const char *name)
{
	(void)ud;
	return strncmp(name, "FUZZ", 4) == 0 ? "fuzz" : NULL;
}

int pl_fuzz_config(const uint8_t *data, size_t size, enum pl_config_kind kind,
		   const char *rel_name)
{
	static char name[4096];
	const struct pl_config_opts opts = { .getenv = fuzz_env };
	enum pl_config_kind got = PL_CONFIG_AUTO;
	struct pl_diags *d;
	size_t n;
	int rc;

	if (!name[0])
		strcpy(name, PL_SOURCE_DIR "/");
	strcpy(name + strlen(PL_SOURCE_DIR "/"), rel_name);
	CHECK(pl_diags_new(&d) == 0);
	rc = pl_config_check_buffer(name, data, size, kind, &opts, d, &got);
	CHECK(rc == 0 || rc == -PL_ECONFIG);
	n = pl_diags_count(d);
	for (size_t i = 0; i < n; i++) {
		const struct pl_diag *g = pl_diags_at(d, i);

		CHECK(g || i >= 500); /* past 500 only counted */
		if (g)
			CHECK(g->msg && g->msg[0]);
	}
	CHECK((rc == 0) == (n == 0));
	CHECK(got == kind);
	pl_diags_free(d);
	return 0;
}
