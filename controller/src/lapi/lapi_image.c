/* SPDX-License-Identifier: MIT */
/*
 * The lab API: image objects (`images.NAME`, img.name/.path/.version/.size,
 * img.sha256/.crc32, img:read(offset, len), img:chunks(size)) and
 * image.mutate{corrupt=, truncate=}. The bytes are what a Lua update module
 * sends in its own dialect (base64 lines, a vendor protocol). Suite images are borrowed from
 * the engine and shared by every run: closing one changes nothing. A
 * mutation belongs to its object: closing it (or collecting it) frees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "lapi_internal.h"

/* One read of an image gives at most this much (a bigger one is a
 * scenario's mistake: read it in chunks). */
#define IMAGE_READ_MAX (16u << 20)

struct image_obj {
	struct pl_image *img;      /* NULL once a mutation was closed */
	bool owned;                /* a mutation */
};

static const struct pl_lua_class image_class;

static void image_close(void *payload)
{
	struct image_obj *o = payload;

	if (!o->owned)
		return;
	pl_image_free(o->img);
	o->img = NULL;
}

struct pl_image *lapi_check_image(lua_State *L, int idx)
{
	struct image_obj *o = pl_lua_object_check(L, idx, &image_class);

	if (!o->img)
		luaL_argerror(L, idx, "image is closed");
	return o->img;
}

void lapi_push_image(lua_State *L, struct pl_image *img)
{
	struct image_obj *o = pl_lua_object_new(L, &image_class);

	o->img = img;
	pl_lua_object_set_open(o);
}

/* img:read(offset, len): the bytes [offset, offset + len), clipped at the
 * end of the image ("" at or past it); offset is 0-based. */
static int l_image_read(lua_State *L)
{
	struct pl_image *img = lapi_check_image(L, 1);
	lua_Integer off = luaL_checkinteger(L, 2);
	lua_Integer len = luaL_checkinteger(L, 3);

	luaL_argcheck(L, off >= 0, 2, "offset must be 0 or more");
	luaL_argcheck(L, len >= 0 && len <= IMAGE_READ_MAX, 3,
		      "len: 0 to 16 MiB (read a big image in chunks)");
	if ((uint64_t)off >= img->len) {
		lua_pushliteral(L, "");
		return 1;
	}
	if ((uint64_t)len > img->len - (uint64_t)off)
		len = (lua_Integer)(img->len - (uint64_t)off);
	lua_pushlstring(L, (const char *)img->data + off, (size_t)len);
	return 1;
}

/* The iterator of img:chunks(size): upvalues image object, size, next
 * offset; returns offset, bytes until the end. */
static int chunks_next(lua_State *L)
{
	struct pl_image *img = lapi_check_image(L, lua_upvalueindex(1));
	lua_Integer size = lua_tointeger(L, lua_upvalueindex(2));
	lua_Integer off = lua_tointeger(L, lua_upvalueindex(3));
	size_t n;

	if ((uint64_t)off >= img->len)
		return 0;
	n = img->len - (size_t)off < (size_t)size ? img->len - (size_t)off :
						   (size_t)size;
	lua_pushinteger(L, off + (lua_Integer)n);
	lua_replace(L, lua_upvalueindex(3));
	lua_pushinteger(L, off);
	lua_pushlstring(L, (const char *)img->data + off, n);
	return 2;
}

/* for offset, bytes in img:chunks(size) do ... end */
static int l_image_chunks(lua_State *L)
{
	lapi_check_image(L, 1);
	lua_Integer size = luaL_checkinteger(L, 2);

	luaL_argcheck(L, size > 0 && size <= IMAGE_READ_MAX, 2,
		      "size: 1 byte to 16 MiB");
	lua_pushvalue(L, 1);
	lua_pushinteger(L, size);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, chunks_next, 3);
	return 1;
}

static void push_sha256(lua_State *L, const struct pl_image *img)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char out[2 * EVP_MAX_MD_SIZE];

	if (!EVP_Digest(img->data, img->len, md, &mdlen, EVP_sha256(), NULL))
		luaL_error(L, "image %s: sha256: libcrypto failed", img->name);
	for (unsigned i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	lua_pushlstring(L, out, 2 * (size_t)mdlen);
}

static const luaL_Reg image_methods[] = {
	{ "read", l_image_read },
	{ "chunks", l_image_chunks },
	{ NULL, NULL },
};

static int l_image_index(lua_State *L)
{
	struct pl_image *img = lapi_check_image(L, 1);
	const char *k = luaL_checkstring(L, 2);

	for (const luaL_Reg *m = image_methods; m->name; m++)
		if (strcmp(k, m->name) == 0) {
			lua_pushcfunction(L, m->func);
			return 1;
		}
	if (strcmp(k, "sha256") == 0)
		push_sha256(L, img);
	else if (strcmp(k, "crc32") == 0)
		lua_pushinteger(L, (lua_Integer)crc32_z(0, img->data, img->len));
	else if (strcmp(k, "name") == 0)
		lua_pushstring(L, img->name);
	else if (strcmp(k, "path") == 0)
		lua_pushstring(L, img->path);
	else if (strcmp(k, "version") == 0)
		lua_pushstring(L, img->version);
	else if (strcmp(k, "size") == 0)
		lua_pushinteger(L, (lua_Integer)img->len);
	else
		lua_pushnil(L);
	return 1;
}

static int l_image_tostring(lua_State *L)
{
	struct pl_image *img = lapi_check_image(L, 1);

	lua_pushfstring(L, "image %s (%d bytes)", img->name, (int)img->len);
	return 1;
}

/* Seeded bit flips: the run's seed decides which bits, so a replay
 * corrupts the same ones. */
static void corrupt_bits(struct pl_image *img, uint64_t seed, lua_Integer n)
{
	uint64_t x = seed ^ 0x5bd1e995u;

	for (lua_Integer i = 0; i < n && img->len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		img->data[(x >> 3) % img->len] ^= (uint8_t)(1u << (x & 7));
	}
}

/*
 * The options of image.mutate{}, as `patchlab check` reads params.mutate:
 * only corrupt (1 to 1048576 bits) and truncate (0 to size - 1 bytes), at
 * least one. A mutation that would return the image unchanged is the
 * scenario's mistake, raised here: a good board must never be judged on
 * an image that was meant to be bad and is not.
 */
static void check_mutation(lua_State *L, const struct pl_image *src,
			   lua_Integer *corrupt, lua_Integer *truncate)
{
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ?
				lua_tostring(L, -2) : NULL;

		if (!k || (strcmp(k, "corrupt") != 0 && strcmp(k, "truncate") != 0))
			luaL_argerror(L, 2, "image.mutate takes corrupt= and "
				      "truncate= only");
		lua_pop(L, 1);
	}
	lua_getfield(L, 2, "corrupt");
	*corrupt = luaL_optinteger(L, -1, 0);
	lua_getfield(L, 2, "truncate");
	*truncate = lua_isnil(L, -1) ? -1 : luaL_checkinteger(L, -1);
	luaL_argcheck(L, lua_isnil(L, -1) ||
		      (*truncate >= 0 && (size_t)*truncate < src->len), 2,
		      "truncate: 0 to fewer bytes than the image has");
	lua_pop(L, 2);
	luaL_argcheck(L, *corrupt >= 0 && *corrupt <= 1 << 20, 2,
		      "corrupt: 1 to 1048576 bits");
	luaL_argcheck(L, *corrupt > 0 || *truncate >= 0, 2,
		      "the mutation changes nothing: give corrupt= or truncate=");
}

static int l_image_mutate(lua_State *L)
{
	struct pl_image *src = lapi_check_image(L, 1);
	lua_Integer corrupt, truncate;
	struct image_obj *o;
	struct lapi_run *a;
	struct pl_image *img;

	check_mutation(L, src, &corrupt, &truncate);
	a = lapi_or_raise(L);
	/* The object first (it may raise), then the memory it will own. */
	o = pl_lua_object_new(L, &image_class);
	o->owned = true;
	pl_lua_object_set_open(o);
	img = calloc(1, sizeof(*img));
	if (!img)
		return luaL_error(L, "out of memory");
	o->img = img;
	img->len = truncate >= 0 && (size_t)truncate < src->len ?
		   (size_t)truncate : src->len;
	img->data = malloc(img->len ? img->len : 1);
	if (!img->data || asprintf(&img->name, "%s~mutated", src->name) < 0)
		return luaL_error(L, "out of memory");
	memcpy(img->data, src->data, img->len);
	if (src->version)
		img->version = strdup(src->version);
	corrupt_bits(img, pl_run_seed(a->run), corrupt);
	return 1;
}

static const luaL_Reg image_metamethods[] = {
	{ "__index", l_image_index },
	{ "__tostring", l_image_tostring },
	{ NULL, NULL },
};

static const struct pl_lua_class image_class = {
	.name = "patchlab.image",
	.kind = "image",
	.size = sizeof(struct image_obj),
	.metamethods = image_metamethods,
	.close = image_close,
};

void lapi_register_image(struct pl_lua_host *h, lua_State *L)
{
	static const luaL_Reg image_fns[] = {
		{ "mutate", l_image_mutate },
		{ NULL, NULL },
	};

	pl_lua_class_register(L, &image_class);
	lapi_set_table_global(h, L, "image", image_fns);
}
