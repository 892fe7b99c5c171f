/* SPDX-License-Identifier: MIT */
/*
 * /pl/lua/codec: the sandbox's `codec` table (issue #11 item 3), run from
 * scenarios as a Lua update module would use it:
 *   - base64 and hex against RFC 4648's vectors and every byte value,
 *     malformed input (padding in the middle, missing or extra padding,
 *     odd hex) returns nil and a message;
 *   - crc32 is zlib's (check value 0xCBF43926) and continues from init;
 *   - sha256 is FIPS 180-2's, in lower-case hex or raw bytes;
 *   - encodings are charged to the run's memory budget;
 *   - codec is read-only: a run that tries to replace its functions
 *     changes nothing for itself or the next run.
 * Scripts: tests/data/lua/codec*.lua.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "patchlab/error.h"
#include "patchlab/luahost.h"

struct fx {
	uv_loop_t loop;
	struct pl_lua_host *h;
	struct pl_test_logcap cap;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct pl_lua_host_config cfg = {
		.run_instr_limit = 20000000,
		.run_mem_limit = 4u << 20,
	};

	assert_non_null(fx);
	pl_test_logcap_init(&fx->cap, "lua");
	cfg.log = fx->cap.log;
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	assert_int_equal(pl_lua_host_open(&fx->h, &cfg), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	pl_lua_host_free(fx->h);
	pl_test_loop_drain(&fx->loop);
	assert_int_equal(fx->cap.errors, 0);
	free(fx);
	return 0;
}

static bool run_done(void *ud)
{
	return pl_lua_run_get_state(ud) == PL_LUA_RUN_DONE;
}

static struct pl_lua_run *run_script(struct fx *fx, const char *name)
{
	char rel[256];
	char *path;
	struct pl_lua_run *run;
	struct pl_lua_run_config cfg = {
		.chunkname = rel,
		.id = name,
		.log = fx->cap.log,
	};

	snprintf(rel, sizeof(rel), "tests/data/lua/%s", name);
	path = pl_test_source_path(rel);
	cfg.path = path;
	assert_int_equal(pl_lua_run_open(fx->h, &run, &cfg), 0);
	free(path);
	assert_int_equal(pl_lua_run_start(run), 0);
	assert_int_equal(pl_test_loop_until(&fx->loop, run_done, run, 10000),
			 0);
	return run;
}

/* codec.lua passes its asserts and returns what C checks again. */
static void check_vectors(struct fx *fx)
{
	struct pl_lua_run *run = run_script(fx, "codec.lua");
	lua_State *co = pl_lua_run_stack(run);
	size_t len;
	const char *b64;

	if (pl_lua_run_status(run))
		fail_msg("%s", pl_lua_run_traceback(run));
	assert_int_equal(lua_gettop(co), 4);
	assert_string_equal(lua_tostring(co, 1), "base64,crc32,hex,sha256");
	assert_string_equal(lua_tostring(co, 2),
			    "ba7816bf8f01cfea414140de5dae2223"
			    "b00361a396177a9cb410ff61f20015ad");
	assert_true(lua_isinteger(co, 3));
	assert_int_equal(lua_tointeger(co, 3), 0xCBF43926);
	b64 = lua_tolstring(co, 4, &len);
	assert_int_equal(len, 8);
	assert_string_equal(b64, "AAEC/w==");
	pl_lua_run_free(run);
}

static void codecs_match_the_standard_vectors(void **state)
{
	check_vectors(*state);
}

static void encoding_is_charged_to_the_memory_budget(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = run_script(fx, "codec_bomb.lua");
	const char *msg = pl_lua_run_message(run);

	assert_int_equal(pl_lua_run_status(run), -PL_EBUDGET);
	if (!strstr(msg, "tests/data/lua/codec_bomb.lua:"))
		fail_msg("no position: %s", msg);
	pl_lua_run_free(run);
	check_vectors(fx); /* and the host is fine */
}

static void codec_cannot_be_replaced(void **state)
{
	struct fx *fx = *state;
	struct pl_lua_run *run = run_script(fx, "codec_tamper.lua");
	lua_State *co = pl_lua_run_stack(run);

	if (pl_lua_run_status(run))
		fail_msg("%s", pl_lua_run_traceback(run));
	assert_string_equal(lua_tostring(co, 1),
			    "ba7816bf8f01cfea414140de5dae2223"
			    "b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(lua_tostring(co, 2), "61");
	pl_lua_run_free(run);
	check_vectors(fx); /* the next run sees the real codec */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(codecs_match_the_standard_vectors),
		T(encoding_is_charged_to_the_memory_budget),
		T(codec_cannot_be_replaced),
#undef T
	};

	return cmocka_run_group_tests_name("/pl/lua/codec", tests, NULL, NULL);
}
