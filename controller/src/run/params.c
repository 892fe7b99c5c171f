/* SPDX-License-Identifier: MIT */
/* A run's params, from their JSON record to the scenario's Lua table. */
#include "run_internal.h"

/* Deeper params are cut off (nil): a suite's params are a few levels. */
#define PARAMS_MAX_DEPTH 32

void pl_run__push_json(lua_State *L, const json_t *j, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (!j || depth > PARAMS_MAX_DEPTH) {
		lua_pushnil(L);
		return;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		lua_createtable(L, 0, (int)json_object_size(j));
		json_object_foreach((json_t *)j, k, v) {
			pl_run__push_json(L, v, depth + 1);
			lua_setfield(L, -2, k);
		}
		break;
	case JSON_ARRAY:
		lua_createtable(L, (int)json_array_size(j), 0);
		json_array_foreach(j, i, v) {
			pl_run__push_json(L, v, depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(j));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(j));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		lua_pushboolean(L, json_is_true(j));
		break;
	default:
		lua_pushnil(L);
	}
}
