/* SPDX-License-Identifier: MIT */
/* Suite images in memory (patchlab/image.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "patchlab/config.h"
#include "patchlab/image.h"

void pl_image_free(struct pl_image *img)
{
	if (!img)
		return;
	free(img->name);
	free(img->path);
	free(img->version);
	free(img->data);
	free(img);
}

/* Read the whole of f (st_size bytes) into img. */
static int read_all(FILE *f, const struct stat *st, struct pl_image *img)
{
	img->len = (size_t)st->st_size;
	img->data = malloc(img->len ? img->len : 1);
	if (!img->data)
		return -ENOMEM;
	if (fread(img->data, 1, img->len, f) != img->len)
		return ferror(f) ? -EIO : -ENODATA;
	return 0;
}

int pl_image_load(const struct pl_image_cfg *ic, struct pl_image **out)
{
	struct pl_image *img = calloc(1, sizeof(*img));
	struct stat st;
	FILE *f;
	int err;

	if (!img)
		return -ENOMEM;
	/* stat before open: opening a FIFO would wait for a writer */
	if (stat(ic->path, &st)) {
		err = -errno;
		goto err_free_img;
	}
	if (!S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto err_free_img;
	}
	f = fopen(ic->path, "rb");
	if (!f) {
		err = -errno;
		goto err_free_img;
	}
	err = read_all(f, &st, img);
	if (err)
		goto err_close_file;
	fclose(f);
	img->name = strdup(ic->name);
	img->path = strdup(ic->path);
	img->version = ic->version ? strdup(ic->version) : NULL;
	if (!img->name || !img->path || (ic->version && !img->version)) {
		pl_image_free(img);
		return -ENOMEM;
	}
	*out = img;
	return 0;

err_close_file:
	fclose(f);
err_free_img:
	pl_image_free(img);
	return err;
}
