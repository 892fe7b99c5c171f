/* SPDX-License-Identifier: MIT */
/* Helpers shared by the /pl/virtual tests: keys, images, boards. */
#ifndef VTEST_H
#define VTEST_H

#include <stddef.h>
#include <stdint.h>

#include "patchlab/vimage.h"
#include "patchlab/vsim.h"

struct vt {
	char *dir;
	struct pl_vimage_key *priv;
	struct pl_vimage_key *other; /* a second key the boards do not trust */
	uint8_t pub[PL_VIMAGE_PUBKEY_LEN];
	unsigned nboards;
};

/* cmocka group setup/teardown: *state becomes a struct vt. */
int vt_setup(void **state);
int vt_teardown(void **state);

/* An image of payload_len bytes (deterministic content; PLCRASH first when
 * crash is set), for board "virtual-mcu" unless board is given. free() it. */
uint8_t *vt_image(struct vt *t, const char *version, size_t payload_len,
		  int crash, size_t *len);
uint8_t *vt_image_for(struct vt *t, const char *version, const char *board,
		      size_t payload_len, int crash, size_t *len);

/* A fresh board (new flash file) running profile; *path gets the flash
 * path (malloc'ed) when path is not NULL. */
struct pl_vsim *vt_board(struct vt *t, const char *profile, uint64_t seed,
			 char **path);
/* A fresh board with 1.0.0 provisioned in slot A, powered on and running. */
struct pl_vsim *vt_board_a(struct vt *t, const char *profile, uint64_t seed);

/* Write a file; read a whole file (malloc'ed). */
void vt_write_file(const char *path, const void *data, size_t len);
uint8_t *vt_read_file(const char *path, size_t *len);

#endif
