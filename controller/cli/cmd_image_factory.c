/* SPDX-License-Identifier: MIT */
/*
 * patchlab image factory: the whole flash of a virtual board as a
 * production line leaves it (an image in slot A, its confirmed trailer, a
 * fresh config block), written as one file a probe can program at the
 * flash base. Scenarios restore this baseline before every run, and the
 * controller recovers a bricked board with it.
 *
 * The layout of metadata depends on the firmware profile (single-metadata
 * keeps both slots' state in one sector), hence --profile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/vflash.h"
#include "patchlab/vfw.h"

static const struct pl_cli_opt factory_options[] = {
	{ "in", 0, "IMAGE", "the image for slot A (a patchlab image pack output)", false },
	{ "out", 0, "FILE", "the flash file to write", false },
	{ "profile", 0, "NAME", "firmware profile of the board (default good)", false },
	{ NULL },
};

static int read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long sz;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EIO;
	}
	*data = malloc(sz ? (size_t)sz : 1);
	if (!*data) {
		fclose(f);
		return -ENOMEM;
	}
	*len = fread(*data, 1, (size_t)sz, f);
	fclose(f);
	return *len == (size_t)sz ? 0 : -EIO;
}

static int factory_run(const struct pl_cli_args *a)
{
	const char *in = pl_cli_opt(a, "in"), *out = pl_cli_opt(a, "out");
	const char *pname = pl_cli_opt(a, "profile");
	const struct pl_vfw_profile *profile;
	struct pl_vflash_geom geom = { PL_VFLASH_DEFAULT_SIZE,
				       PL_VFLASH_DEFAULT_SECTOR,
				       PL_VFLASH_DEFAULT_PAGE };
	uint8_t key[PL_VIMAGE_PUBKEY_LEN] = { 0 };
	struct pl_vflash *flash = NULL;
	struct pl_vfw *fw = NULL;
	uint8_t *img = NULL;
	size_t len = 0;
	char *tmp = NULL;
	int err, rc = PL_EXIT_LAB_ERROR;

	if (!in || !out)
		return pl_cli_usage_error(a->cmd, "--in and --out are required");
	profile = pl_vfw_profile_find(pname ? pname : "good");
	if (!profile)
		return pl_cli_usage_error(a->cmd, "no firmware profile '%s' "
					  "(patchlab vrack profiles lists them)", pname);
	err = read_file(in, &img, &len);
	if (err) {
		fprintf(stderr, "patchlab image factory: %s: %s\n", in,
			pl_strerror(err));
		goto out_free;
	}
	if (asprintf(&tmp, "%s.tmp", out) < 0)
		goto out_free;
	unlink(tmp);
	err = pl_vflash_open(&flash, tmp, &geom, 0, NULL);
	/* The trust key only matters to a booting bootloader, not to
	 * factory programming: a zero key is fine here. */
	if (!err)
		err = pl_vfw_open(&fw, flash, profile, key, NULL, 0, NULL);
	if (!err)
		err = pl_vfw_provision(fw, img, len);
	pl_vfw_close(fw);
	pl_vflash_close(flash);
	/* the model keeps an operation counter beside the flash file */
	{
		char *ops;

		if (asprintf(&ops, "%s.ops", tmp) >= 0) {
			unlink(ops);
			free(ops);
		}
	}
	if (err) {
		fprintf(stderr, "patchlab image factory: %s: %s\n", in,
			pl_strerror(err));
		unlink(tmp);
		goto out_free;
	}
	if (rename(tmp, out)) {
		fprintf(stderr, "patchlab image factory: %s: %s\n", out,
			strerror(errno));
		unlink(tmp);
		goto out_free;
	}
	rc = PL_EXIT_OK;
out_free:
	free(tmp);
	free(img);
	return rc;
}

const struct pl_cli_cmd pl_cmd_image_factory = {
	.name = "image factory",
	.run = factory_run,
	.help = "write a virtual board's whole factory flash for an image",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_OFFLINE,
	.options = factory_options,
};
