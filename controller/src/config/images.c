/* SPDX-License-Identifier: MIT */
/*
 * `images:` maps, a suite's and a lab board's (config_internal.h
 * pl_cfg_images): NAME: PATH or {path, version}, ${VAR} expanded, relative
 * to the file, each a non-empty regular file; a suite's take the --image
 * overrides. See docs/configuration.md.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config_internal.h"

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* An image file must be a non-empty regular file (a FIFO would block the
 * controller, an empty image makes every run wait out its timeout): its
 * size into *size, or an error at pos naming shown. */
static bool image_file_ok(struct pl_cfg *c, const struct pl_srcpos *pos,
			  const char *what, const char *shown,
			  const char *path, uint64_t *size)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			pl_cfg_err(c, pos, "%s: no such file '%s'", what, shown);
		else
			pl_cfg_err(c, pos, "%s: cannot read '%s': %s", what,
				   shown, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		pl_cfg_err(c, pos, "%s: '%s' is %s, not an image file", what,
			   shown, file_kind(st.st_mode));
		return false;
	}
	if (st.st_size == 0) {
		pl_cfg_err(c, pos, "%s: '%s' is empty", what, shown);
		return false;
	}
	*size = (uint64_t)st.st_size;
	return true;
}

static bool valid_name(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
			     strlen(s);
}

/* ----------------------------------------------------------------- images */

static const char *override_for(const struct pl_config_opts *o, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; o->image_overrides && o->image_overrides[i]; i++) {
		const char *ov = o->image_overrides[i];

		if (strncmp(ov, name, len) == 0 && ov[len] == '=')
			return ov + len + 1;
	}
	return NULL;
}

/* An `images:` map (a suite's, or a board's in a lab: overrides only
 * with_overrides) into *out, *nout. */
void pl_cfg_images(struct pl_cfg *c, const struct pl_value *v,
		   bool with_overrides, const struct pl_image_cfg **out,
		   size_t *nout)
{
	static const char *const keys[] = { "path", "version", NULL };
	struct pl_image_cfg *img;
	size_t n = 0;

	if (!v || !pl_cfg_expect_map(c, v, "images"))
		return;
	img = pl_arena_alloc(c->a, (v->n + 1) * sizeof(*img));
	if (!img) {
		pl_cfg_oom(c);
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct pl_value *iv = v->items[i], *pv = iv;
		struct pl_image_cfg *cur = &img[n];
		const char *path, *ov;
		char *what;

		cur->name = v->keys[i];
		cur->pos = v->key_pos[i];
		if (!valid_name(cur->name)) {
			pl_cfg_err(c, &v->key_pos[i],
				   "bad image name '%s' (letters, digits, '-', '_', '.')",
				   cur->name);
			continue;
		}
		what = pl_arena_printf(c->a, "image '%s'", cur->name);
		if (!what) {
			pl_cfg_oom(c);
			return;
		}
		if (iv->kind == PL_VALUE_MAP) {
			pl_cfg_check_keys(c, iv, keys, what);
			cur->version = pl_cfg_str(c, iv, "version", false, what, NULL);
			pv = pl_cfg_get(c, iv, "path", true, what);
			if (!pv)
				continue;
		}
		if (pv->kind != PL_VALUE_SCALAR || pl_value_is_null(pv)) {
			pl_cfg_err(c, &pv->pos,
				   "%s must be a path or {path: ..., version: ...}, got %s",
				   what, pl_value_kind_name(pv));
			continue;
		}
		ov = with_overrides ? override_for(c->opts, cur->name) : NULL;
		if (ov) {
			char *ovwhat = pl_arena_printf(c->a, "--image %s=%s",
						       cur->name, ov);

			if (!ovwhat) {
				pl_cfg_oom(c);
				return;
			}
			cur->path = ov;
			if (!image_file_ok(c, NULL, ovwhat, ov, ov, &cur->size))
				continue;
		} else {
			path = pl_cfg_expand(c, pv);
			if (!path)
				continue;
			cur->path = pl_cfg_join(c, c->dir, path);
			if (!cur->path)
				return;
			if (!image_file_ok(c, &pv->pos, what, path, cur->path,
					   &cur->size))
				continue;
		}
		n++;
	}
	*out = img;
	*nout = n;
}

