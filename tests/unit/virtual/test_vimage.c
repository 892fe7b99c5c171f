/* SPDX-License-Identifier: MIT */
/* /pl/virtual/image: the image format, keys, and the injected faults. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "patchlab/error.h"
#include "vtest.h"

static struct pl_vimage_policy policy(struct vt *t, const char *min)
{
	struct pl_vimage_policy p = {
		.pubkey = t->pub, .board = "virtual-mcu", .min_version = min,
		.check_hash = true, .check_sig = true,
	};
	return p;
}

static enum pl_vimage_status verify(struct vt *t, const uint8_t *img,
				    size_t len, const char *min)
{
	struct pl_vimage_policy p = policy(t, min);

	return pl_vimage_verify(img, len, &p, NULL);
}

static void pack_then_verify_round_trips(void **state)
{
	struct vt *t = *state;
	struct pl_vimage_info info;
	struct pl_vimage_policy p = policy(t, "1.0.0");
	size_t len;
	uint8_t *img = vt_image(t, "1.2.3", 5000, 0, &len);

	assert_int_equal(len, 5256);
	assert_memory_equal(img, "PLVI", 4);
	assert_int_equal(pl_vimage_verify(img, len, &p, &info), PL_VIMAGE_OK);
	assert_string_equal(info.version, "1.2.3");
	assert_string_equal(info.board, "virtual-mcu");
	assert_int_equal(info.payload_size, 5000);
	/* trailing bytes (flash after the image) do not matter */
	{
		uint8_t *big = malloc(len + 4096);

		memcpy(big, img, len);
		memset(big + len, 0xff, 4096);
		assert_int_equal(verify(t, big, len + 4096, NULL), PL_VIMAGE_OK);
		free(big);
	}
	free(img);
}

/* WRITTEN TO FLASH: the header of vimage.h, byte for byte. */
static void image_header_bytes_match_the_documented_layout(void **state)
{
	struct vt *t = *state;
	size_t len;
	uint8_t *img = vt_image(t, "1.2.3-rc.1", 300, 0, &len);

	assert_memory_equal(img, "PLVI", 4);
	assert_int_equal(img[4] | img[5] << 8, 1);       /* header version */
	assert_int_equal(img[6] | img[7] << 8, 256);     /* header size */
	assert_int_equal(img[8] | img[9] << 8, 300);     /* payload size */
	assert_int_equal(img[10] | img[11], 0);
	assert_string_equal((const char *)img + 16, "1.2.3-rc.1");
	assert_string_equal((const char *)img + 48, "virtual-mcu");
	for (int i = 144; i < 192; i++)
		assert_int_equal(img[i], 0);                 /* reserved */
	free(img);
}

static void corrupted_payload_says_bad_hash_and_is_reproducible(void **state)
{
	struct vt *t = *state;
	size_t len;
	uint8_t *a = vt_image(t, "1.1.0", 3000, 0, &len);
	uint8_t *b = malloc(len), *c = malloc(len), *orig = malloc(len);
	size_t diff = 0;

	memcpy(orig, a, len);
	memcpy(b, a, len);
	memcpy(c, a, len);
	pl_vimage_corrupt(a, len, 5, 99);
	pl_vimage_corrupt(b, len, 5, 99);
	pl_vimage_corrupt(c, len, 5, 100);
	assert_memory_equal(a, b, len);
	assert_memory_not_equal(a, c, len);
	for (size_t i = 0; i < len; i++)
		for (int k = 0; k < 8; k++)
			diff += ((a[i] ^ orig[i]) >> k) & 1;
	assert_int_equal(diff, 5);
	assert_memory_equal(a, orig, 256); /* header untouched */
	assert_int_equal(verify(t, a, len, NULL), PL_VIMAGE_BAD_HASH);
	free(a);
	free(b);
	free(c);
	free(orig);
}

static void truncated_image_says_truncated(void **state)
{
	struct vt *t = *state;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", 3000, 0, &len);

	assert_int_equal(verify(t, img, len - 1, NULL), PL_VIMAGE_TRUNCATED);
	assert_int_equal(verify(t, img, 100, NULL), PL_VIMAGE_TRUNCATED);
	assert_int_equal(verify(t, img, 3, NULL), PL_VIMAGE_BAD_MAGIC);
	assert_int_equal(verify(t, img, 0, NULL), PL_VIMAGE_EMPTY);
	free(img);
}

static void image_signed_with_another_key_says_bad_signature(void **state)
{
	struct vt *t = *state;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", 3000, 0, &len);

	assert_int_equal(pl_vimage_resign(t->other, img, len, false), 0);
	assert_int_equal(verify(t, img, len, NULL), PL_VIMAGE_BAD_SIGNATURE);
	/* signing with a public key is a programmer error caught as EINVAL */
	{
		struct pl_vimage_key *pub;
		char *p;

		assert_true(asprintf(&p, "%s/public.pem", t->dir) > 0);
		assert_int_equal(pl_vimage_key_load(&pub, p, NULL), 0);
		assert_false(pl_vimage_key_is_private(pub));
		assert_int_equal(pl_vimage_resign(pub, img, len, false), -EINVAL);
		pl_vimage_key_free(pub);
		free(p);
	}
	free(img);
}

static void changed_version_breaks_signature_until_resigned(void **state)
{
	struct vt *t = *state;
	size_t len;
	uint8_t *img = vt_image(t, "1.1.0", 3000, 0, &len);

	assert_int_equal(pl_vimage_set_version(img, len, "0.9.0"), 0);
	assert_int_equal(verify(t, img, len, NULL), PL_VIMAGE_BAD_SIGNATURE);
	assert_int_equal(pl_vimage_resign(t->priv, img, len, false), 0);
	assert_int_equal(verify(t, img, len, NULL), PL_VIMAGE_OK);
	assert_int_equal(verify(t, img, len, "1.0.0"), PL_VIMAGE_DOWNGRADE);
	assert_int_equal(verify(t, img, len, "0.9.0"), PL_VIMAGE_OK);
	assert_int_equal(pl_vimage_set_version(img, len, "v1"), -EINVAL);
	free(img);
}

static void image_for_another_board_says_wrong_board(void **state)
{
	struct vt *t = *state;
	size_t len;
	uint8_t *img = vt_image_for(t, "1.1.0", "other-mcu", 100, 0, &len);

	assert_int_equal(verify(t, img, len, NULL), PL_VIMAGE_WRONG_BOARD);
	free(img);
}

static void erased_flash_says_empty_and_garbage_says_bad_magic(void **state)
{
	struct vt *t = *state;
	uint8_t buf[1024];

	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(verify(t, buf, sizeof(buf), NULL), PL_VIMAGE_EMPTY);
	buf[3] = 0;
	assert_int_equal(verify(t, buf, sizeof(buf), NULL), PL_VIMAGE_BAD_MAGIC);
	assert_string_equal(pl_vimage_status_name(PL_VIMAGE_BAD_MAGIC),
			    "bad magic");
	assert_string_equal(pl_vimage_status_name(PL_VIMAGE_DOWNGRADE),
			    "downgrade");
}

static void pack_refuses_bad_versions_and_boards(void **state)
{
	struct vt *t = *state;
	uint8_t *img;
	size_t len;
	char board[80];

	memset(board, 'b', sizeof(board) - 1);
	board[sizeof(board) - 1] = '\0';
	assert_int_equal(pl_vimage_pack(t->priv, "1.0", "x", "p", 1, &img, &len),
			 -EINVAL);
	assert_int_equal(pl_vimage_pack(t->priv, "1.0.0", "", "p", 1, &img, &len),
			 -EINVAL);
	assert_int_equal(pl_vimage_pack(t->priv, "1.0.0", board, "p", 1, &img,
					&len), -EINVAL);
}

static void semver_orders_numbers_and_prereleases(void **state)
{
	bool ok;

	(void)state;
	assert_true(pl_vimage_version_cmp("1.10.0", "1.9.9", &ok) > 0);
	assert_true(ok);
	assert_true(pl_vimage_version_cmp("1.0.0-rc.1", "1.0.0", &ok) < 0);
	assert_true(pl_vimage_version_cmp("1.0.0-alpha", "1.0.0-beta", &ok) < 0);
	assert_int_equal(pl_vimage_version_cmp("2.0.0+build", "2.0.0", &ok), 0);
	assert_int_equal(pl_vimage_version_cmp("1.0", "1.0.0", &ok), 0);
	assert_false(ok);
	assert_false(pl_vimage_version_valid("01.0.0"));
	assert_true(pl_vimage_version_valid("0.0.1"));
}

static void key_load_errors_name_the_file(void **state)
{
	struct vt *t = *state;
	struct pl_test_logcap cap;
	struct pl_vimage_key *k = NULL;
	char *p;

	pl_test_logcap_init(&cap, "keys");
	assert_true(asprintf(&p, "%s/nope.pem", t->dir) > 0);
	assert_int_equal(pl_vimage_key_load(&k, p, &cap.log), -ENOENT);
	assert_non_null(strstr(cap.last, p));
	free(p);
	assert_true(asprintf(&p, "%s/junk.pem", t->dir) > 0);
	vt_write_file(p, "not a key\n", 10);
	assert_int_equal(pl_vimage_key_load(&k, p, &cap.log), -PL_ECONFIG);
	assert_non_null(strstr(cap.last, p));
	assert_non_null(strstr(cap.last, "Ed25519"));
	assert_null(k);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pack_then_verify_round_trips),
		cmocka_unit_test(image_header_bytes_match_the_documented_layout),
		cmocka_unit_test(corrupted_payload_says_bad_hash_and_is_reproducible),
		cmocka_unit_test(truncated_image_says_truncated),
		cmocka_unit_test(image_signed_with_another_key_says_bad_signature),
		cmocka_unit_test(changed_version_breaks_signature_until_resigned),
		cmocka_unit_test(image_for_another_board_says_wrong_board),
		cmocka_unit_test(erased_flash_says_empty_and_garbage_says_bad_magic),
		cmocka_unit_test(pack_refuses_bad_versions_and_boards),
		cmocka_unit_test(semver_orders_numbers_and_prereleases),
		cmocka_unit_test(key_load_errors_name_the_file),
	};

	return cmocka_run_group_tests_name("/pl/virtual/image", tests, vt_setup,
					   vt_teardown);
}
