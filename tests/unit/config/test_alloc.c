/* SPDX-License-Identifier: MIT */
/*
 * /pl/config/alloc: the loaders under allocation failure (issue 10). For a
 * lab (with its board types), a board type and a suite, allocation n of
 * the load fails, for n = 1, 2, ... until a load runs through without
 * meeting the failure. Each failed load must return -ENOMEM (never a
 * made-up mistake in the file, never success with a part missing), give
 * back no object, and leave nothing allocated (LeakSanitizer, checked
 * after every failure in build-asan). libyaml's own allocations are not failed (no hook).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "pl_test.h"

/* Under ASan, LeakSanitizer checks every LEAK_EVERY failed operations
 * (a check scans the heap: after each one the sweep would take minutes),
 * so a leak is pinned to the last LEAK_EVERY allocations swept; and at
 * exit. Without ASan there is no leak check. */
#define LEAK_EVERY 64
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAKED(n) ((n) % LEAK_EVERY == 0 && \
		   __lsan_do_recoverable_leak_check() != 0)
#else
#define LEAKED(n) false
#endif

enum what { LAB, BOARD, SUITE };

struct sweep {
	enum what what;
	const char *rel;        /* file under the source tree */
	unsigned long points;   /* allocations swept */
	unsigned long enomem;
};

static const char *env(void *ud, const char *name)
{
	(void)ud;
	if (!strcmp(name, "PL_TEST_RACK"))
		return "/tmp/rack";
	if (!strcmp(name, "PL_TEST_IMAGES"))
		return ud ? (const char *)ud : NULL;
	return NULL;
}

/* One load; returns its result and frees what it gave. */
static int load(enum what w, const char *path, const char *images,
		struct pl_diags *d, bool *got_object)
{
	static char *boards;
	const char *path_list[2] = { NULL, NULL };
	struct pl_config_opts o = { .getenv = env,
				    .env_user_data = (void *)images,
				    .boards_path = path_list };
	struct pl_lab *lab = NULL;
	struct pl_board_type *t = NULL;
	struct pl_suite *s = NULL;
	int rc;

	/* the shipped board types, wherever the tests run from */
	if (!boards)
		boards = pl_test_source_path("boards");
	path_list[0] = boards;
	switch (w) {
	case LAB:
		rc = pl_lab_load(&lab, path, &o, d);
		*got_object = lab != NULL;
		pl_lab_free(lab);
		break;
	case BOARD:
		rc = pl_board_type_load(&t, path, &o, d);
		*got_object = t != NULL;
		pl_board_type_free(t);
		break;
	default:
		rc = pl_suite_load(&s, path, &o, d);
		*got_object = s != NULL;
		pl_suite_free(s);
		break;
	}
	return rc;
}

static void sweep(struct sweep *sw)
{
	char *path = pl_test_source_path(sw->rel);
	char *images = pl_test_source_path("tests/data/good-config/images");
	struct pl_diags *d;
	bool obj;
	int rc;

	/* without failures it loads */
	assert_int_equal(pl_diags_new(&d), 0);
	rc = load(sw->what, path, images, d, &obj);
	if (rc)
		pl_diags_print(d, stderr);
	assert_int_equal(rc, 0);
	pl_diags_free(d);

	for (unsigned long n = 1;; n++) {
		assert_int_equal(pl_diags_new(&d), 0);
		pl_fa_arm(n);
		rc = load(sw->what, path, images, d, &obj);
		pl_fa_disarm();
		if (!pl_fa_failed()) {
			assert_int_equal(rc, 0);
			pl_diags_free(d);
			sw->points = n - 1;
			break;
		}
		/* out of memory is said as such: never as a mistake in the
		 * file ("unknown board type", "must be host:port") */
		if (rc != -ENOMEM) {
			pl_diags_print(d, stderr);
			fail_msg("%s: allocation %lu failed: rc %d", sw->rel, n,
				 rc);
		}
		/* and it says so once, not as a list of follow-on errors */
		if (pl_diags_count(d) > 1) {
			pl_diags_print(d, stderr);
			fail_msg("%s: allocation %lu failed: %zu diagnostics", sw->rel, n, pl_diags_count(d));
		}
		sw->enomem++;
		assert_false(obj);
		pl_diags_free(d);
		if (LEAKED(n))
			fail_msg("%s: allocation %lu failed: memory leaked "
				 "(in the last %d failures)", sw->rel, n,
				 LEAK_EVERY);
		assert_true(n < 1000000);
	}
	printf("%s: %lu allocations swept, each failure -ENOMEM\n", sw->rel,
	       sw->points);
	assert_true(sw->points > 10);
	free(images);
	free(path);
}

static void lab_load_survives_every_allocation_failure(void **state)
{
	struct sweep sw = { .what = LAB,
			    .rel = "tests/data/good-config/lab.yaml" };

	(void)state;
	sweep(&sw);
}

static void board_type_load_survives_every_allocation_failure(void **state)
{
	struct sweep sw = { .what = BOARD, .rel = "boards/virtual-mcu.yaml" };

	(void)state;
	sweep(&sw);
}

static void suite_load_survives_every_allocation_failure(void **state)
{
	struct sweep sw = { .what = SUITE,
			    .rel = "tests/data/good-config/suites/full.yaml" };

	(void)state;
	sweep(&sw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lab_load_survives_every_allocation_failure),
		cmocka_unit_test(board_type_load_survives_every_allocation_failure),
		cmocka_unit_test(suite_load_survives_every_allocation_failure),
	};

	return cmocka_run_group_tests_name("/pl/config/alloc", tests, NULL,
					   NULL);
}
