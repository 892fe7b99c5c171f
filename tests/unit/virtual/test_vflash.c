/* SPDX-License-Identifier: MIT */
/* /pl/virtual/flash: the NOR flash model in a file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pl_test.h"
#include "patchlab/vflash.h"

struct fx {
	char *dir;
	char *path;
	struct pl_vflash *f;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	x->dir = pl_test_tmpdir("vflash");
	assert_true(asprintf(&x->path, "%s/f.flash", x->dir) > 0);
	assert_int_equal(pl_vflash_open(&x->f, x->path, NULL, 42, NULL), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	pl_vflash_close(x->f);
	pl_test_rmrf(x->dir);
	free(x->dir);
	free(x->path);
	free(x);
	return 0;
}

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void new_flash_is_erased_with_default_geometry(void **state)
{
	struct fx *x = *state;
	const struct pl_vflash_geom *g = pl_vflash_geometry(x->f);
	struct stat st;

	assert_int_equal(g->size, 1024 * 1024);
	assert_int_equal(g->sector_size, 4096);
	assert_int_equal(g->page_size, 256);
	assert_true(all(pl_vflash_data(x->f), g->size, 0xff));
	assert_int_equal(stat(x->path, &st), 0);
	assert_int_equal(st.st_size, 1024 * 1024);
	assert_int_equal(pl_vflash_op_count(x->f), 0);
	assert_int_equal(pl_vflash_erase_us(x->f), 45000);
	assert_int_equal(pl_vflash_program_us(x->f, 256), 400);
}

static void program_only_clears_bits(void **state)
{
	struct fx *x = *state;
	const uint8_t *m = pl_vflash_data(x->f);
	uint8_t a[4] = { 0xf0, 0x0f, 0xaa, 0xff }, b[4] = { 0x3c, 0xff, 0x55, 0x00 };

	assert_int_equal(pl_vflash_program(x->f, 0x1000, a, 4), 0);
	assert_memory_equal(m + 0x1000, a, 4);
	assert_int_equal(pl_vflash_program(x->f, 0x1000, b, 4), 0);
	assert_int_equal(m[0x1000], 0x30);
	assert_int_equal(m[0x1001], 0x0f);
	assert_int_equal(m[0x1002], 0x00);
	assert_int_equal(m[0x1003], 0x00);
}

static void erase_sets_one_whole_sector_to_ff(void **state)
{
	struct fx *x = *state;
	const uint8_t *m = pl_vflash_data(x->f);
	uint8_t z[256];

	memset(z, 0, sizeof(z));
	for (uint32_t a = 0x1f00; a < 0x3100; a += 256)
		assert_int_equal(pl_vflash_program(x->f, a, z, 256), 0);
	assert_int_equal(pl_vflash_erase(x->f, 0x2000), 0);
	assert_true(all(m + 0x2000, 4096, 0xff));
	assert_true(all(m + 0x1f00, 256, 0x00));
	assert_true(all(m + 0x3000, 256, 0x00));
}

static void misaligned_or_page_crossing_ops_are_refused(void **state)
{
	struct fx *x = *state;
	uint8_t d[300];
	uint32_t before = pl_vflash_op_count(x->f);

	memset(d, 0, sizeof(d));
	assert_int_equal(pl_vflash_erase(x->f, 0x1001), -EINVAL);
	assert_int_equal(pl_vflash_erase(x->f, 1024 * 1024), -EINVAL);
	assert_int_equal(pl_vflash_program(x->f, 0x10f0, d, 32), -EINVAL);
	assert_int_equal(pl_vflash_program(x->f, 0x1000, d, 300), -EINVAL);
	assert_int_equal(pl_vflash_program(x->f, 0x1000, d, 0), -EINVAL);
	assert_int_equal(pl_vflash_op_count(x->f), before);
	/* a write across pages is one program per page */
	assert_int_equal(pl_vflash_write(x->f, 0x10f0, d, 300), 0);
	assert_int_equal(pl_vflash_op_count(x->f), before + 3);
}

static void operations_are_numbered_and_logged(void **state)
{
	struct fx *x = *state;
	struct pl_vflash_logent log[PL_VFLASH_LOG_LEN];
	uint8_t d[8] = { 0 };
	size_t n;

	assert_int_equal(pl_vflash_next_index(x->f), 1);
	assert_int_equal(pl_vflash_erase(x->f, 0x4000), 0);
	assert_int_equal(pl_vflash_program(x->f, 0x4010, d, 8), 0);
	assert_int_equal(pl_vflash_program_partial(x->f, 0x4100, d, 8, 0.5), 0);
	assert_int_equal(pl_vflash_op_count(x->f), 3);
	pl_vflash_log(x->f, log, PL_VFLASH_LOG_LEN, &n);
	assert_int_equal(n, 3);
	assert_int_equal(log[0].index, 1);
	assert_int_equal(log[0].kind, PL_VFLASH_ERASE);
	assert_int_equal(log[0].addr, 0x4000);
	assert_int_equal(log[0].len, 4096);
	assert_int_equal(log[1].kind, PL_VFLASH_PROGRAM);
	assert_int_equal(log[1].outcome, PL_VFLASH_DONE);
	assert_int_equal(log[2].index, 3);
	assert_int_equal(log[2].outcome, PL_VFLASH_TORN);
	assert_string_equal(pl_vflash_outcome_name(log[2].outcome), "torn");
	/* the ring keeps the last 64 */
	for (int i = 0; i < 100; i++)
		assert_int_equal(pl_vflash_erase(x->f, 0x5000), 0);
	pl_vflash_log(x->f, log, PL_VFLASH_LOG_LEN, &n);
	assert_int_equal(n, 64);
	assert_int_equal(log[0].index, 103 - 63);
	assert_int_equal(log[63].index, 103);
}

static void op_counter_and_log_survive_reopen(void **state)
{
	struct fx *x = *state;
	struct pl_vflash_logent log[4];
	uint8_t d[4] = { 1, 2, 3, 4 };
	size_t n;

	assert_int_equal(pl_vflash_erase(x->f, 0x8000), 0);
	assert_int_equal(pl_vflash_program(x->f, 0x8000, d, 4), 0);
	pl_vflash_close(x->f);
	assert_int_equal(pl_vflash_open(&x->f, x->path, NULL, 42, NULL), 0);
	assert_int_equal(pl_vflash_op_count(x->f), 2);
	assert_memory_equal(pl_vflash_data(x->f) + 0x8000, d, 4);
	pl_vflash_log(x->f, log, 4, &n);
	assert_int_equal(n, 2);
	assert_int_equal(log[1].index, 2);
	assert_int_equal(log[1].addr, 0x8000);
	assert_int_equal(pl_vflash_erase(x->f, 0x8000), 0);
	assert_int_equal(pl_vflash_op_count(x->f), 3);
}

static void reopen_with_another_size_is_refused(void **state)
{
	struct fx *x = *state;
	struct pl_vflash_geom g = { 512 * 1024, 4096, 256 };
	struct pl_test_logcap cap;
	struct pl_vflash *f = NULL;

	pl_test_logcap_init(&cap, "flash");
	assert_int_equal(pl_vflash_open(&f, x->path, &g, 1, &cap.log), -EINVAL);
	assert_null(f);
	assert_int_equal(cap.errors, 1);
	assert_non_null(strstr(cap.last, x->path));
}

/* A sector full of zeros, then a half erase on a fresh flash at index 1. */
static void half_erase(const char *path, uint64_t seed, double phi,
		       uint8_t *out)
{
	struct pl_vflash *f;
	uint8_t z[256];

	remove(path);
	{
		char side[4096];

		snprintf(side, sizeof(side), "%s.ops", path);
		remove(side);
	}
	memset(z, 0, sizeof(z));
	assert_int_equal(pl_vflash_open(&f, path, NULL, seed, NULL), 0);
	for (uint32_t a = 0; a < 4096; a += 256)
		assert_int_equal(pl_vflash_program(f, 0x2000 + a, z, 256), 0);
	assert_int_equal(pl_vflash_erase_partial(f, 0x2000, phi), 0);
	memcpy(out, pl_vflash_data(f) + 0x2000, 4096);
	pl_vflash_close(f);
}

static size_t count_ff(const uint8_t *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == 0xff;
	return c;
}

static void half_erase_is_reproducible_and_grows_with_phi(void **state)
{
	struct fx *x = *state;
	uint8_t a[4096], b[4096], c[4096], d[4096];
	char *p;

	assert_true(asprintf(&p, "%s/h.flash", x->dir) > 0);
	half_erase(p, 7, 0.4, a);
	half_erase(p, 7, 0.4, b);
	assert_memory_equal(a, b, sizeof(a));      /* same seed: same bytes */
	half_erase(p, 8, 0.4, c);
	assert_memory_not_equal(a, c, sizeof(a));  /* another seed differs */
	half_erase(p, 7, 0.8, d);
	/* every byte erased at 0.4 is erased at 0.8, and more are */
	for (size_t i = 0; i < sizeof(a); i++)
		if (a[i] == 0xff)
			assert_int_equal(d[i], 0xff);
	assert_true(count_ff(d, 4096) > count_ff(a, 4096));
	assert_true(count_ff(a, 4096) > 0 && count_ff(a, 4096) < 4096);
	/* only whole bytes erased or untouched: runs, not noise */
	for (size_t i = 0; i < sizeof(a); i++)
		assert_true(a[i] == 0xff || a[i] == 0x00);
	half_erase(p, 7, 0.0, a);
	assert_int_equal(count_ff(a, 4096), 0);
	half_erase(p, 7, 1.0, a);
	assert_int_equal(count_ff(a, 4096), 4096);
	free(p);
}

static void torn_page_programs_a_prefix_and_tears_one_byte(void **state)
{
	struct fx *x = *state;
	const uint8_t *m = pl_vflash_data(x->f);
	uint8_t d[256], first[256];

	memset(d, 0x00, sizeof(d));
	/* 0.5 of 256 bytes: 128 programmed, byte 128 possibly torn */
	assert_int_equal(pl_vflash_program_partial(x->f, 0x3000, d, 256, 0.5), 0);
	assert_true(all(m + 0x3000, 128, 0x00));
	assert_true(all(m + 0x3000 + 129, 127, 0xff));
	memcpy(first, m + 0x3000, 256);
	/* same seed and same op index on a fresh file: same torn byte */
	{
		struct pl_vflash *g;
		char *p;

		assert_true(asprintf(&p, "%s/t.flash", x->dir) > 0);
		assert_int_equal(pl_vflash_open(&g, p, NULL, 42, NULL), 0);
		assert_int_equal(pl_vflash_program_partial(g, 0x3000, d, 256,
							   0.5), 0);
		assert_memory_equal(pl_vflash_data(g) + 0x3000, first, 256);
		/* a different phi moves the tear */
		assert_int_equal(pl_vflash_program_partial(g, 0x3100, d, 256,
							   0.25), 0);
		assert_true(all(pl_vflash_data(g) + 0x3100, 64, 0x00));
		assert_true(all(pl_vflash_data(g) + 0x3100 + 65, 191, 0xff));
		pl_vflash_close(g);
		free(p);
	}
}

static void torn_byte_differs_between_seeds(void **state)
{
	struct fx *x = *state;
	uint8_t d[16];
	unsigned distinct = 0;
	int prev = -1;

	memset(d, 0, sizeof(d));
	/* the half-programmed byte is a function of the seed: over a few
	 * seeds it takes more than one value */
	for (uint64_t seed = 1; seed <= 16; seed++) {
		struct pl_vflash *g;
		char *p;
		int v;

		assert_true(asprintf(&p, "%s/s%llu.flash", x->dir,
				     (unsigned long long)seed) > 0);
		assert_int_equal(pl_vflash_open(&g, p, NULL, seed, NULL), 0);
		assert_int_equal(pl_vflash_program_partial(g, 0, d, 16, 0.5), 0);
		v = pl_vflash_data(g)[8];
		assert_int_equal(pl_vflash_data(g)[7], 0);
		assert_int_equal(pl_vflash_data(g)[9], 0xff);
		if (v != prev)
			distinct++;
		prev = v;
		pl_vflash_close(g);
		free(p);
	}
	assert_true(distinct > 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(new_flash_is_erased_with_default_geometry, setup, teardown),
		cmocka_unit_test_setup_teardown(program_only_clears_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(erase_sets_one_whole_sector_to_ff, setup, teardown),
		cmocka_unit_test_setup_teardown(misaligned_or_page_crossing_ops_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(operations_are_numbered_and_logged, setup, teardown),
		cmocka_unit_test_setup_teardown(op_counter_and_log_survive_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_with_another_size_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(half_erase_is_reproducible_and_grows_with_phi, setup, teardown),
		cmocka_unit_test_setup_teardown(torn_page_programs_a_prefix_and_tears_one_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(torn_byte_differs_between_seeds, setup, teardown),
	};

	return cmocka_run_group_tests_name("/pl/virtual/flash", tests, NULL, NULL);
}
