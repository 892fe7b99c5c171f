/* SPDX-License-Identifier: MIT */
/*
 * An image in memory: a suite image read from its file, or a mutation a
 * scenario made of one (image.mutate). Suite images are loaded once per
 * suite, so a transfer never waits on the disk; the engine owns them, the
 * lab API borrows them. Mutations are owned by their Lua object.
 */
#ifndef PATCHLAB_IMAGE_H
#define PATCHLAB_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct pl_image_cfg;

struct pl_image {
	char *name;
	char *path;      /* NULL for a mutation */
	char *version;   /* NULL when unknown */
	uint8_t *data;
	size_t len;
};

/*
 * Read the image a suite names (name, path, version) into memory. Returns 0,
 * -errno of the open or read (-EISDIR for a directory, -EINVAL for a file
 * that is not a regular file), or -ENOMEM. *out must be freed with
 * pl_image_free().
 */
int pl_image_load(const struct pl_image_cfg *ic, struct pl_image **out);

/* Free an image and its data. NULL is fine. */
void pl_image_free(struct pl_image *img);

#endif
