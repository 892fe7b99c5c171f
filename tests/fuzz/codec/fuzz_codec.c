/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the sandbox's codec table (controller/src/lua/
 * codec.c), called as a script calls it, on a bare lua_State.
 *
 * Input: any bytes, given whole to each function.
 *
 * Invariants (abort on violation): no call raises; base64.decode and
 * hex.decode return a string, or nil and a message naming the function;
 * what decodes re-encodes to the input (base64: the same length and, with
 * its last digit's unused bits cleared, the same text; hex: the input in
 * lower case); encode then decode gives the input back; crc32 over the
 * input equals crc32 of its second half continued from its first half;
 * sha256 is 64 lower-case hex digits and its raw form 32 bytes that hex
 * to the same.
 */
#include <ctype.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "luahost_internal.h"
#include "fuzz.h"

static lua_State *L;

/* codec[sub][fn](args...) protected: the number of results, or -1. */
static int call(const char *sub, const char *fn, int nargs, int nres)
{
	lua_getglobal(L, "codec");
	if (sub) {
		lua_getfield(L, -1, sub);
		lua_remove(L, -2);
	}
	lua_getfield(L, -1, fn);
	lua_remove(L, -2);
	lua_insert(L, -1 - nargs);
	return lua_pcall(L, nargs, nres, 0) == LUA_OK ? nres : -1;
}

static void check_decode(const char *sub, const uint8_t *data, size_t size)
{
	size_t n, m;
	const char *dec, *enc;

	lua_pushlstring(L, (const char *)data, size);
	CHECK(call(sub, "decode", 1, 2) == 2);
	if (lua_isnil(L, -2)) {
		const char *msg = lua_tostring(L, -1);

		CHECK(msg && !strncmp(msg, "codec.", 6) && strstr(msg, sub));
		lua_pop(L, 2);
		return;
	}
	CHECK(lua_type(L, -2) == LUA_TSTRING && lua_isnil(L, -1));
	lua_pop(L, 1);
	dec = lua_tolstring(L, -1, &n);
	lua_pushlstring(L, dec, n);
	CHECK(call(sub, "encode", 1, 1) == 1);
	enc = lua_tolstring(L, -1, &m);
	CHECK(enc && m == size);
	if (!strcmp(sub, "hex")) {
		for (size_t i = 0; i < size; i++)
			CHECK(enc[i] == tolower(data[i]));
	} else {
		/* equal up to the last digit before the padding, whose low
		 * bits carry nothing when padding follows */
		size_t pad = size && data[size - 1] == '=' ?
			     (size > 1 && data[size - 2] == '=' ? 2 : 1) : 0;
		size_t last = size - pad;

		CHECK(!memcmp(enc, data, pad ? last - 1 : size));
		CHECK(!memcmp(enc + last, data + last, pad));
	}
	lua_pop(L, 2);
}

static void check_roundtrip(const char *sub, const uint8_t *data, size_t size)
{
	size_t n;
	const char *back;

	lua_pushlstring(L, (const char *)data, size);
	CHECK(call(sub, "encode", 1, 1) == 1);
	CHECK(call(sub, "decode", 1, 1) == 1);
	back = lua_tolstring(L, -1, &n);
	CHECK(back && n == size && !memcmp(back, data, size));
	lua_pop(L, 1);
}

static void check_sums(const uint8_t *data, size_t size)
{
	size_t half = size / 2, n;
	lua_Integer whole, cont;
	const char *hex;

	lua_pushlstring(L, (const char *)data, size);
	CHECK(call(NULL, "crc32", 1, 1) == 1);
	whole = lua_tointeger(L, -1);
	CHECK(whole >= 0 && whole <= 0xffffffff);
	lua_pushlstring(L, (const char *)data + half, size - half);
	lua_pushlstring(L, (const char *)data, half);
	CHECK(call(NULL, "crc32", 1, 1) == 1);
	CHECK(call(NULL, "crc32", 2, 1) == 1);
	cont = lua_tointeger(L, -1);
	CHECK(whole == cont);
	lua_pop(L, 2);

	lua_pushlstring(L, (const char *)data, size);
	CHECK(call(NULL, "sha256", 1, 1) == 1);
	hex = lua_tolstring(L, -1, &n);
	CHECK(n == 64 && strspn(hex, "0123456789abcdef") == 64);
	lua_pushlstring(L, (const char *)data, size);
	lua_pushliteral(L, "raw");
	CHECK(call(NULL, "sha256", 2, 1) == 1);
	CHECK(lua_rawlen(L, -1) == 32);
	CHECK(call("hex", "encode", 1, 1) == 1);
	CHECK(!strcmp(lua_tostring(L, -1), hex));
	lua_pop(L, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!L) {
		L = luaL_newstate();
		CHECK(L);
		pl_lua__push_codec(L);
		lua_setglobal(L, "codec");
	}
	check_decode("base64", data, size);
	check_decode("hex", data, size);
	check_roundtrip("base64", data, size);
	check_roundtrip("hex", data, size);
	check_sums(data, size);
	CHECK(lua_gettop(L) == 0);
	lua_gc(L, LUA_GCCOLLECT);
	return 0;
}
