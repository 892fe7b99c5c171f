/* SPDX-License-Identifier: MIT */
/*
 * patchlab image keygen|pack|mutate|verify: make and break firmware images
 * of the virtual boards (format in fixtures/virtual/include/patchlab/vimage.h).
 *
 * Exit codes: 0 done; 64 bad command line; 65 a file could not be read or
 * is not what it should be (the message names it); 1 `verify` refused the
 * image.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/vimage.h"

/* Largest image the tools accept (a slot of the default layout is 496 KiB;
 * larger geometries exist, so leave room). */
#define IMAGE_MAX (64u * 1024u * 1024u)

static const struct pl_log cli_log = { NULL, NULL, "patchlab image",
				       PL_LOG_WARN };

/* --------------------------------------------------------------- helpers */

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "patchlab image: %s: %s\n", path, strerror(errno));
		return PL_EXIT_CONFIG;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			uint8_t *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > IMAGE_MAX + 1)
				cap = IMAGE_MAX + 1;
			nb = n < cap ? realloc(buf, cap) : NULL;
			if (!nb) {
				fprintf(stderr, "patchlab image: %s: larger than "
					"%u bytes\n", path, IMAGE_MAX);
				goto err_free;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "patchlab image: %s: read error\n", path);
		goto err_free;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;

err_free:
	free(buf);
	fclose(f);
	return PL_EXIT_CONFIG;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "patchlab image: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return PL_EXIT_CONFIG;
	}
	return 0;
}

static int load_key(const char *path, bool want_private,
		    struct pl_vimage_key **out)
{
	if (pl_vimage_key_load(out, path, &cli_log) != 0)
		return PL_EXIT_CONFIG; /* the log line named the file */
	if (want_private && !pl_vimage_key_is_private(*out)) {
		fprintf(stderr, "patchlab image: %s: a public key; signing needs "
			"the private key\n", path);
		pl_vimage_key_free(*out);
		*out = NULL;
		return PL_EXIT_CONFIG;
	}
	return 0;
}

/* A decimal count in 1..max, or false. */
static bool parse_count(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v == 0 || v > max)
		return false;
	*out = v;
	return true;
}

static int need(const struct pl_cli_args *a, const char *opt)
{
	if (pl_cli_opt(a, opt))
		return 0;
	return pl_cli_usage_error(a->cmd, "option --%s is required", opt);
}

/* ---------------------------------------------------------------- keygen */

static int keygen_run(const struct pl_cli_args *a)
{
	const char *dir = pl_cli_opt(a, "out");
	char path[4096];
	struct stat st;
	int err;

	if ((err = need(a, "out")))
		return err;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "patchlab image: %s: %s\n", dir, strerror(errno));
		return PL_EXIT_CONFIG;
	}
	snprintf(path, sizeof(path), "%s/private.pem", dir);
	if (stat(path, &st) == 0 && !pl_cli_flag(a, "force")) {
		fprintf(stderr, "patchlab image: %s: exists (use --force to "
			"replace the key pair)\n", path);
		return PL_EXIT_CONFIG;
	}
	if (pl_vimage_keygen(dir, &cli_log) != 0)
		return PL_EXIT_CONFIG;
	printf("%s/private.pem\n%s/public.pem\n", dir, dir);
	return PL_EXIT_OK;
}

static const struct pl_cli_opt keygen_opts[] = {
	{ "out", 'o', "DIR", "directory for private.pem and public.pem", false },
	{ "force", 0, NULL, "replace an existing key pair", false },
	{ NULL },
};

const struct pl_cli_cmd pl_cmd_image_keygen = {
	.name = "image keygen",
	.run = keygen_run,
	.help = "generate an Ed25519 key pair for signing images",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_OFFLINE,
	.options = keygen_opts,
	.details = "Writes DIR/private.pem (PKCS#8, mode 0600) and DIR/public.pem; "
		   "DIR is created when missing.",
};

/* ------------------------------------------------------------------ pack */

static int pack_run(const struct pl_cli_args *a)
{
	const char *version = pl_cli_opt(a, "version");
	const char *board = pl_cli_opt(a, "board");
	struct pl_vimage_key *key = NULL;
	uint8_t *payload = NULL, *img = NULL;
	size_t plen, ilen;
	int rc;

	if ((rc = need(a, "version")) || (rc = need(a, "board")) ||
	    (rc = need(a, "key")) || (rc = need(a, "in")) || (rc = need(a, "out")))
		return rc;
	if (!pl_vimage_version_valid(version))
		return pl_cli_usage_error(a->cmd, "--version '%s' is not "
					  "MAJOR.MINOR.PATCH[-pre]", version);
	if (!*board || strlen(board) >= PL_VIMAGE_BOARD_MAX)
		return pl_cli_usage_error(a->cmd, "--board must be 1 to %u "
					  "characters", PL_VIMAGE_BOARD_MAX - 1);
	if ((rc = load_key(pl_cli_opt(a, "key"), true, &key)))
		return rc;
	if ((rc = read_file(pl_cli_opt(a, "in"), &payload, &plen)))
		goto out_free_key;
	if (pl_vimage_pack(key, version, board, payload, plen, &img, &ilen)) {
		fprintf(stderr, "patchlab image: %s: cannot pack\n",
			pl_cli_opt(a, "in"));
		rc = PL_EXIT_CONFIG;
		goto out_free_payload;
	}
	rc = write_file(pl_cli_opt(a, "out"), img, ilen);
	if (!rc)
		printf("%s: version %s board %s payload %zu bytes\n",
		       pl_cli_opt(a, "out"), version, board, plen);
	free(img);
out_free_payload:
	free(payload);
out_free_key:
	pl_vimage_key_free(key);
	return rc;
}

static const struct pl_cli_opt pack_opts[] = {
	{ "version", 'v', "V", "image version (semver, anti-rollback)", false },
	{ "board", 'b', "COMPAT", "board compatibility string", false },
	{ "key", 'k', "KEY", "private key (PEM) to sign with", false },
	{ "in", 'i', "PAYLOAD", "payload file", false },
	{ "out", 'o', "IMAGE", "image file to write", false },
	{ NULL },
};

const struct pl_cli_cmd pl_cmd_image_pack = {
	.name = "image pack",
	.run = pack_run,
	.help = "wrap a payload into a signed image for the virtual boards",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_OFFLINE,
	.options = pack_opts,
	.details = "All five options are required.",
};

/* ---------------------------------------------------------------- mutate */

static int mutate_run(const struct pl_cli_args *a)
{
	const char *in = pl_cli_opt(a, "in"), *version = pl_cli_opt(a, "version");
	const char *resign = pl_cli_opt(a, "resign");
	const char *corrupt = pl_cli_opt(a, "corrupt");
	const char *truncate = pl_cli_opt(a, "truncate");
	struct pl_vimage_key *key = NULL;
	enum pl_vimage_status st;
	uint64_t n = 0, seed = 1;
	uint8_t *img = NULL;
	size_t len;
	int rc, kinds;

	if ((rc = need(a, "in")) || (rc = need(a, "out")))
		return rc;
	/* --version may come with --resign (a validly signed downgrade) */
	kinds = !!corrupt + !!truncate + !!(resign || version);
	if (kinds != 1)
		return pl_cli_usage_error(a->cmd, "give exactly one of --corrupt, "
					  "--truncate, --resign/--version");
	if (corrupt && !parse_count(corrupt, UINT32_MAX, &n))
		return pl_cli_usage_error(a->cmd, "--corrupt '%s': a count of "
					  "bits >= 1", corrupt);
	if (truncate && !parse_count(truncate, IMAGE_MAX, &n))
		return pl_cli_usage_error(a->cmd, "--truncate '%s': a length in "
					  "bytes >= 1", truncate);
	if (version && !pl_vimage_version_valid(version))
		return pl_cli_usage_error(a->cmd, "--version '%s' is not "
					  "MAJOR.MINOR.PATCH[-pre]", version);
	if (pl_cli_opt(a, "seed") &&
	    !parse_count(pl_cli_opt(a, "seed"), UINT64_MAX, &seed))
		return pl_cli_usage_error(a->cmd, "--seed '%s': a number >= 1",
					  pl_cli_opt(a, "seed"));
	if (resign && (rc = load_key(resign, true, &key)))
		return rc;
	if ((rc = read_file(in, &img, &len)))
		goto out_free_key;
	st = pl_vimage_parse_header(img, len, NULL);
	if (st != PL_VIMAGE_OK) {
		fprintf(stderr, "patchlab image: %s: not a patchlab image (%s)\n",
			in, pl_vimage_status_name(st));
		rc = PL_EXIT_CONFIG;
		goto out_free_img;
	}
	if (corrupt)
		pl_vimage_corrupt(img, len, (unsigned)n, seed);
	if (truncate) {
		if (n >= len) {
			fprintf(stderr, "patchlab image: %s: only %zu bytes, "
				"cannot truncate to %" PRIu64 "\n", in, len, n);
			rc = PL_EXIT_CONFIG;
			goto out_free_img;
		}
		len = (size_t)n;
	}
	if (version)
		(void)pl_vimage_set_version(img, len, version);
	if (key && pl_vimage_resign(key, img, len, false) != 0) {
		fprintf(stderr, "patchlab image: %s: cannot re-sign (truncated "
			"image?)\n", in);
		rc = PL_EXIT_CONFIG;
		goto out_free_img;
	}
	rc = write_file(pl_cli_opt(a, "out"), img, len);
out_free_img:
	free(img);
out_free_key:
	pl_vimage_key_free(key);
	return rc;
}

static const struct pl_cli_opt mutate_opts[] = {
	{ "in", 'i', "IMAGE", "image to start from", false },
	{ "out", 'o', "IMAGE", "mutated image to write", false },
	{ "corrupt", 0, "N", "flip N payload bits (seeded)", false },
	{ "truncate", 0, "N", "keep only the first N bytes", false },
	{ "resign", 0, "KEY", "sign again with another private key", false },
	{ "version", 0, "V", "rewrite the version (with --resign: a validly "
			     "signed downgrade)", false },
	{ "seed", 's', "S", "seed for --corrupt (default 1)", false },
	{ NULL },
};

const struct pl_cli_cmd pl_cmd_image_mutate = {
	.name = "image mutate",
	.run = mutate_run,
	.help = "inject a transfer or signing fault into an image",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_OFFLINE,
	.options = mutate_opts,
	.details = "Exactly one fault: --corrupt N (the board says bad hash), "
		   "--truncate N (bad hash on a board, truncated as a file), "
		   "--resign KEY (bad signature unless KEY is trusted), "
		   "--version V (bad signature; with --resign: downgrade).",
};

/* ---------------------------------------------------------------- verify */

static int verify_run(const struct pl_cli_args *a)
{
	struct pl_vimage_policy pol = { .check_hash = true, .check_sig = true };
	const char *path = a->argv[0];
	struct pl_vimage_key *key = NULL;
	struct pl_vimage_info info;
	enum pl_vimage_status st;
	uint8_t pub[PL_VIMAGE_PUBKEY_LEN];
	uint8_t *img = NULL;
	size_t len;
	int rc;

	if ((rc = need(a, "key")))
		return rc;
	if (pl_cli_opt(a, "min-version") &&
	    !pl_vimage_version_valid(pl_cli_opt(a, "min-version")))
		return pl_cli_usage_error(a->cmd, "--min-version '%s' is not "
					  "MAJOR.MINOR.PATCH[-pre]",
					  pl_cli_opt(a, "min-version"));
	if ((rc = load_key(pl_cli_opt(a, "key"), false, &key)))
		return rc;
	if (pl_vimage_key_public(key, pub) != 0) {
		fprintf(stderr, "patchlab image: %s: no public key\n",
			pl_cli_opt(a, "key"));
		rc = PL_EXIT_CONFIG;
		goto out_free_key;
	}
	if ((rc = read_file(path, &img, &len)))
		goto out_free_key;
	pol.pubkey = pub;
	pol.board = pl_cli_opt(a, "board");
	pol.min_version = pl_cli_opt(a, "min-version");
	st = pl_vimage_verify(img, len, &pol, &info);
	if (st == PL_VIMAGE_OK) {
		printf("%s: ok version %s board %s payload %" PRIu32 " bytes\n",
		       path, info.version, info.board, info.payload_size);
	} else {
		printf("%s: refused: %s\n", path, pl_vimage_status_name(st));
		rc = PL_EXIT_GATE_FAILED;
	}
	free(img);
out_free_key:
	pl_vimage_key_free(key);
	return rc;
}

static const struct pl_cli_opt verify_opts[] = {
	{ "key", 'k', "KEY", "public (or private) key to trust", false },
	{ "board", 'b', "COMPAT", "refuse images for another board", false },
	{ "min-version", 0, "V", "refuse versions below V (anti-rollback)",
	  false },
	{ NULL },
};

const struct pl_cli_cmd pl_cmd_image_verify = {
	.name = "image verify",
	.run = verify_run,
	.help = "check an image as a good bootloader would, and say why not",
	.usage = "IMAGE",
	.min_args = 1,
	.max_args = 1,
	.phase = PL_CLI_OFFLINE,
	.options = verify_opts,
	.details = "Prints 'IMAGE: ok ...' (exit 0) or 'IMAGE: refused: REASON' "
		   "(exit 1) with the reasons a board prints.",
};
