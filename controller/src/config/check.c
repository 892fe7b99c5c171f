/* SPDX-License-Identifier: MIT */
/*
 * `patchlab check` as a library call: recognise what a file is (by its
 * content first, then by where it lives), load it with the matching loader
 * and throw the result away, keeping only the diagnostics. Lua files get a
 * syntax check (text chunks only, nothing runs).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "patchlab/error.h"
#include "config_internal.h"

const char *pl_config_kind_name(enum pl_config_kind kind)
{
	switch (kind) {
	case PL_CONFIG_LAB:
		return "lab";
	case PL_CONFIG_BOARD:
		return "board type";
	case PL_CONFIG_SUITE:
		return "suite";
	case PL_CONFIG_LUA:
		return "Lua script";
	default:
		return "file";
	}
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The name of the directory holding path ("boards" for x/boards/y.yaml). */
static bool in_dir_named(const char *path, const char *dir)
{
	const char *slash = strrchr(path, '/');
	size_t n = strlen(dir);

	if (!slash || (size_t)(slash - path) < n)
		return false;
	return strncmp(slash - n, dir, n) == 0 &&
	       (slash - n == path || slash[-(long)n - 1] == '/');
}

static enum pl_config_kind guess_kind(const char *name, const struct pl_value *root)
{
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	if (pl_value_get(root, "boards"))
		return PL_CONFIG_LAB;
	if (pl_value_get(root, "runs"))
		return PL_CONFIG_SUITE;
	if (pl_value_get(root, "name") && pl_value_get(root, "console"))
		return PL_CONFIG_BOARD;
	if (in_dir_named(name, "boards"))
		return PL_CONFIG_BOARD;
	if (in_dir_named(name, "suites"))
		return PL_CONFIG_SUITE;
	if (strcmp(base, "lab.yaml") == 0 || in_dir_named(name, "labs"))
		return PL_CONFIG_LAB;
	return PL_CONFIG_AUTO;
}

/* ---------------------------------------------------------------- Lua */

struct lua_buf {
	const char *p;
	size_t len;
};

static const char *lua_reader(lua_State *L, void *ud, size_t *size)
{
	struct lua_buf *b = ud;
	const char *p = b->p;

	(void)L;
	*size = b->len;
	b->p = NULL;
	b->len = 0;
	return *size ? p : NULL;
}

int pl_lua_check(const char *name, const void *buf, size_t len,
		 struct pl_diags *d)
{
	struct lua_buf b = { buf, len };
	char *chunk;
	lua_State *L;
	int rc;

	if (asprintf(&chunk, "@%s", name) < 0)
		return -ENOMEM;
	L = luaL_newstate();
	if (!L) {
		free(chunk);
		return -ENOMEM;
	}
	rc = lua_load(L, lua_reader, &b, chunk, "t");
	if (rc == LUA_OK) {
		rc = 0;
	} else if (rc == LUA_ERRMEM) {
		rc = -ENOMEM;
	} else {
		/* "NAME:LINE: message" -> a positioned diagnostic. */
		const char *msg = lua_tostring(L, -1);
		size_t nlen = strlen(name);
		struct pl_srcpos pos = { name, 0, 0 };
		const char *rest = NULL;
		char *end;

		if (!msg)
			msg = "unknown Lua error";
		/*
		 * Lua shortens a chunk name longer than LUA_IDSIZE to
		 * "...TAIL", TAIL being the end of the name: accept that too,
		 * so a file deep in a tree still gets its line.
		 */
		if (strncmp(msg, name, nlen) == 0 && msg[nlen] == ':') {
			rest = msg + nlen + 1;
		} else if (strncmp(msg, "...", 3) == 0) {
			const char *colon = strchr(msg + 3, ':');
			size_t tlen = colon ? (size_t)(colon - (msg + 3)) : 0;

			if (colon && tlen && tlen <= nlen &&
			    strncmp(name + nlen - tlen, msg + 3, tlen) == 0)
				rest = colon + 1;
		}
		if (rest) {
			unsigned long line = strtoul(rest, &end, 10);

			if (end != rest && *end == ':') {
				pos.line = (unsigned)line;
				msg = end + 1;
				while (*msg == ' ')
					msg++;
			}
		}
		pl_diags_add(d, &pos, "%s", msg);
		rc = -PL_ECONFIG;
	}
	lua_close(L);
	free(chunk);
	return rc;
}

/* -------------------------------------------------------------- checking */

int pl_config_check_buffer(const char *name, const void *buf, size_t len,
			   enum pl_config_kind kind,
			   const struct pl_config_opts *opts,
			   struct pl_diags *diags, enum pl_config_kind *kind_out)
{
	struct pl_cfg_priv priv = { 0 };
	const struct pl_value *root;
	struct pl_cfg c;
	int rc;

	if (kind == PL_CONFIG_AUTO && (ends_with(name, ".lua")))
		kind = PL_CONFIG_LUA;
	if (kind_out)
		*kind_out = kind;
	if (kind == PL_CONFIG_LUA)
		return pl_lua_check(name, buf, len, diags);
	pl_cfg_init(&c, &priv, opts, diags, name);
	rc = pl_yaml_parse(c.a, c.file, buf, len, diags, &root);
	if (rc)
		goto out_release;
	if (kind == PL_CONFIG_AUTO)
		kind = guess_kind(name, root && root->kind == PL_VALUE_MAP ? root : NULL);
	if (kind_out)
		*kind_out = kind;
	switch (kind) {
	case PL_CONFIG_LAB:
		pl_lab_from_tree(&c, root);
		break;
	case PL_CONFIG_BOARD:
		pl_board_type_from_tree(&c, root);
		break;
	case PL_CONFIG_SUITE:
		pl_suite_from_tree(&c, root);
		break;
	default:
		pl_cfg_err(&c, &(struct pl_srcpos){ c.file, 1, 1 },
			   "cannot tell what this file is: expected a lab (boards:), a suite (runs:) or a board type (name: and console:)");
		break;
	}
	rc = pl_cfg_status(&c);
out_release:
	pl_cfg_priv_release(&priv);
	return rc;
}

int pl_config_check_file(const char *path, enum pl_config_kind kind,
			 const struct pl_config_opts *opts,
			 struct pl_diags *diags, enum pl_config_kind *kind_out)
{
	char *buf;
	size_t len;
	int rc;

	if (kind_out)
		*kind_out = kind;
	rc = pl_config_read_file(path, diags, &buf, &len);
	if (rc)
		return rc;
	rc = pl_config_check_buffer(path, buf, len, kind, opts, diags, kind_out);
	free(buf);
	return rc;
}
