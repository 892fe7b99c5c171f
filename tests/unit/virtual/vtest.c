/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pl_test.h"
#include "vtest.h"

int vt_setup(void **state)
{
	struct vt *t = calloc(1, sizeof(*t));
	char *p;

	assert_non_null(t);
	t->dir = pl_test_tmpdir("vmodel");
	assert_non_null(t->dir);
	assert_int_equal(pl_vimage_keygen(t->dir, NULL), 0);
	assert_true(asprintf(&p, "%s/private.pem", t->dir) > 0);
	assert_int_equal(pl_vimage_key_load(&t->priv, p, NULL), 0);
	free(p);
	assert_int_equal(pl_vimage_key_public(t->priv, t->pub), 0);
	assert_true(asprintf(&p, "%s/other", t->dir) > 0);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(pl_vimage_keygen(p, NULL), 0);
	free(p);
	assert_true(asprintf(&p, "%s/other/private.pem", t->dir) > 0);
	assert_int_equal(pl_vimage_key_load(&t->other, p, NULL), 0);
	free(p);
	*state = t;
	return 0;
}

int vt_teardown(void **state)
{
	struct vt *t = *state;

	pl_vimage_key_free(t->priv);
	pl_vimage_key_free(t->other);
	pl_test_rmrf(t->dir);
	free(t->dir);
	free(t);
	return 0;
}

uint8_t *vt_image_for(struct vt *t, const char *version, const char *board,
		      size_t payload_len, int crash, size_t *len)
{
	uint8_t *payload = malloc(payload_len + 1), *img;

	assert_non_null(payload);
	for (size_t i = 0; i < payload_len; i++)
		payload[i] = (uint8_t)(i * 131u + version[0] + 7u * (i >> 8));
	if (crash && payload_len >= 7)
		memcpy(payload, "PLCRASH", 7);
	assert_int_equal(pl_vimage_pack(t->priv, version, board, payload,
					payload_len, &img, len), 0);
	free(payload);
	return img;
}

uint8_t *vt_image(struct vt *t, const char *version, size_t payload_len,
		  int crash, size_t *len)
{
	return vt_image_for(t, version, "virtual-mcu", payload_len, crash, len);
}

struct pl_vsim *vt_board(struct vt *t, const char *profile, uint64_t seed,
			 char **path)
{
	struct pl_vsim *sim;
	char *p;

	assert_true(asprintf(&p, "%s/b%u.flash", t->dir, t->nboards++) > 0);
	assert_int_equal(pl_vsim_open(&sim, p, profile, t->pub, NULL, seed,
				      NULL), 0);
	if (path)
		*path = p;
	else
		free(p);
	return sim;
}

struct pl_vsim *vt_board_a(struct vt *t, const char *profile, uint64_t seed)
{
	struct pl_vsim *sim = vt_board(t, profile, seed, NULL);
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, "1.0.0", 20000, 0, &len);

	assert_int_equal(pl_vsim_provision(sim, img, len), 0);
	free(img);
	assert_int_equal(pl_vsim_power_on(sim, &b), 0);
	assert_true(b.booted);
	assert_int_equal(b.slot, 0);
	return sim;
}

void vt_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

uint8_t *vt_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}
