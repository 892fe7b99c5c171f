/* SPDX-License-Identifier: MIT */
/*
 * A/B update of QEMU + U-Boot over the console, as boards/qemu-uboot*.yaml
 * describe it: the image goes into RAM with `loadx` (XMODEM-1K from
 * fixtures/core/xmodem.c), then `erase` + `cp.b` into the inactive slot,
 * checked with `cmp.b` and `crc32`, then the boot order in the environment
 * (ab-env.txt) flips and a reset boots the new slot. A power cut in the
 * middle of `cp.b` into a slot that is already first in the boot order
 * leaves a torn image: the boot script sees its CRC fail and falls back to
 * the other slot.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patchlab/strbuf.h"

#include "uboot_board.h"

#define SLOT_A_OFF 0x100000L
#define SLOT_B_OFF 0x200000L
#define ENV_SIZE "0x40000"

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void run_ok(char *const argv[])
{
	char *err = NULL;
	int rc = pl_test_run_capture(argv, NULL, &err);

	if (rc != 0)
		fprintf(stderr, "%s failed (%d): %s\n", argv[0], rc,
			err ? err : "");
	assert_int_equal(rc, 0);
	free(err);
}

/* A legacy U-Boot script image whose "application" prints its marker,
 * padded with comment lines so that `cp.b` takes a while. */
static uint8_t *make_app(struct ub_board *b, char slot, const char *ver,
			 size_t *len)
{
	struct pl_strbuf sb = { 0 };
	char *txt, *img, name[32];
	FILE *f;
	int i;

	pl_strbuf_printf(&sb, "%s/app-%c-%s.txt", b->dir, slot, ver);
	txt = pl_strbuf_steal(&sb);
	pl_strbuf_printf(&sb, "%s/app-%c-%s.img", b->dir, slot, ver);
	img = pl_strbuf_steal(&sb);
	f = fopen(txt, "w");
	assert_non_null(f);
	fprintf(f, "echo \"APP: slot %c version %s\"\n", slot, ver);
	for (i = 0; i < 1024; i++)
		fprintf(f, "# padding line %04d .................................."
			"...\n", i);
	fclose(f);
	snprintf(name, sizeof(name), "app %s", ver);
	{
		char *argv[] = { "mkimage", "-A", "arm", "-O", "u-boot", "-T",
				 "script", "-C", "none", "-n", name, "-d", txt,
				 img, NULL };
		run_ok(argv);
	}
	free(txt);
	{
		uint8_t *data = slurp(img, len);

		free(img);
		return data;
	}
}

static void provision_env(struct ub_board *b, bool redundant)
{
	char *src = pl_test_source_path("tests/integration/uboot/ab-env.txt");
	struct pl_strbuf sb = { 0 };
	char *out;
	uint8_t *env;
	size_t len;

	pl_strbuf_printf(&sb, "%s/env.bin", b->dir);
	out = pl_strbuf_steal(&sb);
	if (redundant) {
		char *argv[] = { "mkenvimage", "-r", "-s", ENV_SIZE, "-o", out,
				 src, NULL };
		run_ok(argv);
	} else {
		char *argv[] = { "mkenvimage", "-s", ENV_SIZE, "-o", out, src,
				 NULL };
		run_ok(argv);
	}
	env = slurp(out, &len);
	ub_pflash_write(b, 0, env, len);
	if (redundant)
		ub_pflash_write(b, 0x40000, env, len);
	free(env);
	free(out);
	free(src);
}

/* loadx + erase + cp.b + cmp.b + crc32 into the slot at `addr`. When
 * cut_ms is not 0, the power goes that long after `cp.b` started. */
static void update_slot(struct ub_board *b, const char *addr,
			const uint8_t *img, size_t len, unsigned cut_ms)
{
	struct pl_strbuf sb = { 0 };
	char want[16];

	ub_mark(b);
	ub_send(b, "loadx ${loadaddr}\r");
	assert_true(ub_wait(b, "Ready for binary (xmodem) download", 5000));
	assert_int_equal(ub_xmodem_send(b, img, len), 0);
	assert_true(ub_wait(b, "Total Size", 10000));
	assert_true(ub_wait(b, "=> ", 10000));

	pl_strbuf_printf(&sb, "erase %s +${slot_size}", addr);
	ub_cmd(b, sb.s, 10000);
	assert_true(ub_seen(b, "Erased"));
	pl_strbuf_reset(&sb);

	pl_strbuf_printf(&sb, "cp.b ${loadaddr} %s 0x%zx", addr, len);
	if (cut_ms) {
		ub_mark(b);
		ub_arm_cut(b, "Copy to Flash", cut_ms);
		ub_send(b, sb.s);
		ub_send(b, "\r");
		ub_wait_cut(b);
		pl_strbuf_free(&sb);
		return;
	}
	ub_cmd(b, sb.s, 20000);
	assert_true(ub_seen(b, "done"));
	pl_strbuf_reset(&sb);

	pl_strbuf_printf(&sb, "cmp.b ${loadaddr} %s 0x%zx", addr, len);
	ub_cmd(b, sb.s, 10000);
	assert_true(ub_seen(b, "were the same"));
	pl_strbuf_reset(&sb);

	pl_strbuf_printf(&sb, "crc32 %s 0x%zx", addr, len);
	ub_cmd(b, sb.s, 10000);
	snprintf(want, sizeof(want), "==> %08x", crc32_ieee(img, len));
	assert_true(ub_seen(b, want));
	pl_strbuf_free(&sb);
}

static void boot_expect(struct ub_board *b, const char *marker)
{
	ub_mark(b);
	ub_power(b, true);
	assert_true(ub_wait(b, marker, 20000));
	assert_true(ub_wait(b, "=> ", 10000));
}

static void ab_update_and_fallback(struct ub_board *b, const char *variant)
{
	uint8_t *a10, *b11, *b12;
	size_t la, lb, lb2;

	ub_open(b, variant);
	provision_env(b, !strcmp(variant, "redundant"));
	a10 = make_app(b, 'A', "1.0", &la);
	b11 = make_app(b, 'B', "1.1", &lb);
	b12 = make_app(b, 'B', "1.2", &lb2);
	ub_pflash_write(b, SLOT_A_OFF, a10, la); /* the factory image */

	/* Factory state: slot B is empty, A boots. */
	boot_expect(b, "APP: slot A version 1.0");
	assert_true(ub_seen(b, "ab: slot A") || ub_seen(b, "booting slot A"));

	/* Update into B over the console, flip the order, reset. */
	update_slot(b, "${slot_b}", b11, lb, 0);
	ub_cmd(b, "setenv boot_first B; setenv boot_second A", 5000);
	ub_cmd(b, "saveenv", 20000);
	assert_true(ub_seen(b, "OK"));
	ub_mark(b);
	ub_send(b, "reset\r");
	assert_true(ub_wait(b, "APP: slot B version 1.1", 20000));

	/* A defective updater rewrites the slot that boots first; the power
	 * goes in the middle of the copy. The torn image fails its CRC and
	 * the board falls back to A. */
	assert_true(ub_wait(b, "=> ", 10000));
	update_slot(b, "${slot_b}", b12, lb2, 5);
	boot_expect(b, "APP: slot A version 1.0");
	assert_true(ub_seen(b, "ab: slot B is not bootable"));
	ub_power(b, false);

	free(a10);
	free(b11);
	free(b12);
}

static void ab_single(void **state)
{
	(void)state;
	ab_update_and_fallback(*state, "single");
}

static void ab_redundant(void **state)
{
	(void)state;
	ab_update_and_fallback(*state, "redundant");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ab_single, ub_setup,
						ub_teardown),
		cmocka_unit_test_setup_teardown(ab_redundant, ub_setup,
						ub_teardown),
	};

	if (!pl_test_have_program("qemu-system-arm") ||
	    !pl_test_have_program("mkimage") ||
	    !pl_test_have_program("mkenvimage")) {
		pl_test_print_skip("no qemu-system-arm/mkimage/mkenvimage: "
				   "run scripts/install-deps");
		return PL_TEST_SKIP_CODE;
	}
	{
		/* Builds U-Boot on the first run (minutes), reuses it after. */
		char *why, *dir = ub_uboot_dir(&why);

		if (!dir) {
			pl_test_print_skip("U-Boot not built: %s", why);
			free(why);
			return PL_TEST_SKIP_CODE;
		}
		free(dir);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
