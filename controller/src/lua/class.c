/* SPDX-License-Identifier: MIT */
/*
 * Userdata classes for lab objects (STYLE.md R10, after liolib.c): one
 * metatable per class, methods in __index, and __gc, __close and close()
 * sharing one idempotent close. The userdata is a header (class, open
 * flag) followed by the payload the lab API sees.
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "luahost_internal.h"

struct obj_hdr {
	alignas(max_align_t) const struct pl_lua_class *cls;
	bool open;
};

#define HDR_SIZE                                                          \
	((sizeof(struct obj_hdr) + alignof(max_align_t) - 1) &              \
	 ~(alignof(max_align_t) - 1))

static struct obj_hdr *hdr_of(const void *payload)
{
	return (struct obj_hdr *)((char *)payload - HDR_SIZE);
}

static void *payload_of(struct obj_hdr *hdr)
{
	return (char *)hdr + HDR_SIZE;
}

void pl_lua_object_close(void *payload)
{
	struct obj_hdr *hdr = hdr_of(payload);

	if (!hdr->open)
		return;
	hdr->open = false;
	if (hdr->cls->close)
		hdr->cls->close(payload);
}

/* __gc, __close and close(): the same idempotent close. */
static int obj_close(lua_State *L)
{
	const struct pl_lua_class *cls = lua_touserdata(L, lua_upvalueindex(1));
	struct obj_hdr *hdr = luaL_testudata(L, 1, cls->name);

	if (!hdr)
		return luaL_typeerror(L, 1, cls->kind);
	pl_lua_object_close(payload_of(hdr));
	return 0;
}

static int obj_tostring(lua_State *L)
{
	const struct pl_lua_class *cls = lua_touserdata(L, lua_upvalueindex(1));
	struct obj_hdr *hdr = luaL_checkudata(L, 1, cls->name);

	lua_pushfstring(L, "%s (%s%p)", cls->kind, hdr->open ? "" : "closed ",
			(void *)hdr);
	return 1;
}

static bool has_name(const luaL_Reg *r, const char *name)
{
	for (; r && r->name; r++)
		if (!strcmp(r->name, name))
			return true;
	return false;
}

static int class_build(lua_State *L)
{
	const struct pl_lua_class *cls = lua_touserdata(L, 1);

	if (!luaL_newmetatable(L, cls->name))
		return luaL_error(L, "class %s registered twice", cls->name);
	lua_newtable(L); /* __index */
	if (cls->methods)
		luaL_setfuncs(L, cls->methods, 0);
	if (!has_name(cls->methods, "close")) {
		lua_pushlightuserdata(L, (void *)cls);
		lua_pushcclosure(L, obj_close, 1);
		lua_setfield(L, -2, "close");
	}
	lua_setfield(L, -2, "__index");
	lua_pushlightuserdata(L, (void *)cls);
	lua_pushcclosure(L, obj_close, 1);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "__gc");
	lua_setfield(L, -2, "__close");
	lua_pushlightuserdata(L, (void *)cls);
	lua_pushcclosure(L, obj_tostring, 1);
	lua_setfield(L, -2, "__tostring");
	if (cls->metamethods)
		luaL_setfuncs(L, cls->metamethods, 0);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	return 0;
}

int pl_lua_class_register(lua_State *L, const struct pl_lua_class *cls)
{
	int st;

	lua_pushcfunction(L, class_build);
	lua_pushlightuserdata(L, (void *)cls);
	st = lua_pcall(L, 1, 0, 0);
	if (st != LUA_OK) {
		lua_pop(L, 1);
		return st == LUA_ERRMEM ? -ENOMEM : -EEXIST;
	}
	return 0;
}

void *pl_lua_object_new(lua_State *L, const struct pl_lua_class *cls)
{
	struct obj_hdr *hdr;

	hdr = lua_newuserdatauv(L, HDR_SIZE + cls->size, 0);
	memset(hdr, 0, HDR_SIZE + cls->size);
	hdr->cls = cls;
	hdr->open = false;
	luaL_setmetatable(L, cls->name);
	return payload_of(hdr);
}

void pl_lua_object_set_open(void *payload)
{
	hdr_of(payload)->open = true;
}

bool pl_lua_object_is_open(const void *payload)
{
	return hdr_of(payload)->open;
}

void *pl_lua_object_check(lua_State *L, int idx, const struct pl_lua_class *cls)
{
	struct obj_hdr *hdr = luaL_testudata(L, idx, cls->name);

	if (!hdr)
		luaL_typeerror(L, idx, cls->kind);
	return payload_of(hdr);
}

void *pl_lua_object_check_open(lua_State *L, int idx,
			       const struct pl_lua_class *cls)
{
	void *payload = pl_lua_object_check(L, idx, cls);

	if (!hdr_of(payload)->open)
		luaL_error(L, "%s object is closed", cls->kind);
	return payload;
}
