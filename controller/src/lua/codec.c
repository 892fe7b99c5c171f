/* SPDX-License-Identifier: MIT */
/*
 * The sandbox's `codec` table: byte-string encodings and checksums a Lua
 * update module needs to speak a device's protocol (base64 or hex lines,
 * a CRC-32 per block, a SHA-256 of the image). Each is the library's
 * routine (libcrypto, zlib), not our own: only the padding rules of
 * base64 are checked here, because EVP_DecodeBlock() takes '=' anywhere
 * as a zero digit and reports padding bytes as data.
 *
 * Results are built in Lua buffers, so their memory is charged to the
 * run (a run cannot encode past its memory budget). Wrong argument types
 * raise; text that does not decode returns nil and a message, for the
 * script to handle. The sandbox makes the tables read-only proxies.
 * docs/scenario-api.md ("codec") is the user's page.
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "luahost_internal.h"

/* ---------------------------------------------------------------- base64 */

static int b64_encode(lua_State *L)
{
	size_t n, outlen;
	const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	char *out;
	int w;

	/* EVP_EncodeBlock takes an int length; strings that long do not fit
	 * a run's budget anyway */
	if (n > (size_t)INT_MAX / 4 * 3 - 3)
		return luaL_error(L, "codec.base64.encode: input too long");
	outlen = 4 * ((n + 2) / 3);
	out = luaL_buffinitsize(L, &b, outlen + 1); /* + its NUL */
	w = EVP_EncodeBlock((unsigned char *)out, s, (int)n);
	luaL_pushresultsize(&b, (size_t)w);
	return 1;
}

static int decode_failed(lua_State *L, const char *fn, const char *why)
{
	lua_pushnil(L);
	lua_pushfstring(L, "codec.%s: %s", fn, why);
	return 2;
}

/* ASCII only, whatever the locale says isalnum() is */
static bool b64_digit(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int b64_decode(lua_State *L)
{
	size_t n, pad = 0, outlen;
	const char *s = luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	char *out;
	int w;

	if (n % 4)
		return decode_failed(L, "base64.decode",
				     "length is not a multiple of 4");
	if (n > (size_t)INT_MAX)
		return decode_failed(L, "base64.decode", "input too long");
	while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_digit((unsigned char)s[i]))
			return decode_failed(L, "base64.decode",
					     s[i] == '=' ? "'=' before the end"
							 : "not a base64 digit");
	outlen = n / 4 * 3;
	out = luaL_buffinitsize(L, &b, outlen + 1);
	w = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s,
			    (int)n);
	if (w < 0 || (size_t)w != outlen)
		return decode_failed(L, "base64.decode", "invalid input");
	/* EVP_DecodeBlock counts the padding as zero bytes of data */
	luaL_pushresultsize(&b, outlen - pad);
	return 1;
}

/* ------------------------------------------------------------------- hex */

static int hex_encode(lua_State *L)
{
	size_t n, outlen;
	const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	char *out;

	if (n > (SIZE_MAX - 1) / 2)
		return luaL_error(L, "codec.hex.encode: input too long");
	out = luaL_buffinitsize(L, &b, 2 * n + 1);
	if (!OPENSSL_buf2hexstr_ex(out, 2 * n + 1, &outlen, s, n, '\0'))
		return luaL_error(L, "codec.hex.encode: libcrypto failed");
	/* libcrypto writes upper case; digests are written in lower case
	 * everywhere else (sha256sum, the results), so hex is too */
	for (size_t i = 0; i < 2 * n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	luaL_pushresultsize(&b, 2 * n);
	return 1;
}

static int hex_decode(lua_State *L)
{
	size_t n, outlen = 0;
	const char *s = luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	char *out;

	if (n % 2)
		return decode_failed(L, "hex.decode", "odd number of digits");
	/* libcrypto reads a C string: a NUL inside would end it early */
	if (memchr(s, '\0', n))
		return decode_failed(L, "hex.decode", "not a hex digit");
	out = luaL_buffinitsize(L, &b, n / 2 + 1);
	if (n && !OPENSSL_hexstr2buf_ex((unsigned char *)out, n / 2 + 1,
					&outlen, s, '\0')) {
		ERR_clear_error(); /* leave no stale error to other users */
		return decode_failed(L, "hex.decode", "not a hex digit");
	}
	luaL_pushresultsize(&b, outlen);
	return 1;
}

/* ----------------------------------------------------------------- crc32 */

/* codec.crc32(s [, init]): zlib's CRC-32 (IEEE 802.3, reflected, as in
 * gzip, PNG, Ethernet); init continues an earlier value, so
 * crc32(b, crc32(a)) == crc32(a .. b). */
static int l_crc32(lua_State *L)
{
	size_t n;
	const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
	lua_Integer init = luaL_optinteger(L, 2, 0);

	luaL_argcheck(L, init >= 0 && init <= 0xffffffff, 2,
		      "a CRC-32 is in 0 .. 0xffffffff");
	lua_pushinteger(L, (lua_Integer)crc32_z((uLong)init, s, n));
	return 1;
}

/* ---------------------------------------------------------------- sha256 */

/* codec.sha256(s [, "raw"]): the digest in lower-case hex (64 digits),
 * or its 32 bytes with "raw". */
static int l_sha256(lua_State *L)
{
	static const char *const forms[] = { "hex", "raw", NULL };
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	int form = luaL_checkoption(L, 2, "hex", forms);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL))
		return luaL_error(L, "codec.sha256: libcrypto failed");
	if (form == 1) {
		lua_pushlstring(L, (const char *)md, mdlen);
		return 1;
	}
	lua_pushcfunction(L, hex_encode);
	lua_pushlstring(L, (const char *)md, mdlen);
	lua_call(L, 1, 1);
	return 1;
}

/* ------------------------------------------------------------- the table */

static const luaL_Reg base64_fns[] = {
	{ "encode", b64_encode },
	{ "decode", b64_decode },
	{ NULL, NULL },
};

static const luaL_Reg hex_fns[] = {
	{ "encode", hex_encode },
	{ "decode", hex_decode },
	{ NULL, NULL },
};

static const luaL_Reg codec_fns[] = {
	{ "crc32", l_crc32 },
	{ "sha256", l_sha256 },
	{ NULL, NULL },
};

void pl_lua__push_codec(lua_State *L)
{
	luaL_newlib(L, codec_fns);
	luaL_newlib(L, base64_fns);
	lua_setfield(L, -2, "base64");
	luaL_newlib(L, hex_fns);
	lua_setfield(L, -2, "hex");
}
