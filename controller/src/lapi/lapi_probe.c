/* SPDX-License-Identifier: MIT */
/*
 * The lab API: board.probe (halt, resume, reset, read, write, flash, erase,
 * compare, monitor). Every call waits for the probe's answer; a probe that
 * fails is a fixture failure (lab-error), never a device verdict.
 */
#include <errno.h>
#include <stdio.h>

#include "lapi_internal.h"
#include "patchlab/error.h"

static void cancel_probe(void *ud)
{
	struct lapi_run *a = ud;

	a->probe_waiting = false;
	a->compare = NULL;
	a->compare_verifying = false;
}

void lapi_probe_begin(lua_State *L, struct lapi_run *a, const char *what)
{
	pl_lua_wait_begin(pl_lua_wait_prepare(L), &(struct pl_lua_wait){
		.what = what, .cancel = cancel_probe, .user_data = a });
	a->probe_waiting = true;
}

/* The probe's verify (a CRC, no read-back) answered. Equal: true. Any
 * other answer: read back to find where, or fail for real. Returns true
 * when it resumed or re-queued, false when status must be reported. */
static bool compare_verified(struct pl_probe *p, struct lapi_run *a,
			     int *status)
{
	struct pl_probe_req rd = {
		.op = PL_PROBE_READ, .addr = a->compare_addr,
		.len = a->compare->len, .cb = lapi_on_probe_done,
		.user_data = a,
	};
	struct pl_lua_run *run = pl_run_lua(a->run);
	int err;

	a->compare_verifying = false;
	if (*status == 0) {
		a->compare = NULL;
		a->probe_waiting = false;
		lua_pushboolean(pl_lua_run_stack(run), 1);
		pl_lua_run_resume(run, 1);
		return true;
	}
	err = pl_probe_submit(p, &rd);
	if (!err)
		return true;
	*status = err;
	return false;
}

/* compare(): true, or false and the offset of the first difference. */
static int push_compare(lua_State *S, const struct pl_image *img,
			const void *data, size_t len)
{
	size_t n = len < img->len ? len : img->len, at = n;

	for (size_t i = 0; i < n; i++) {
		if (((const uint8_t *)data)[i] != img->data[i]) {
			at = i;
			break;
		}
	}
	if (at == n && len >= img->len) {
		lua_pushboolean(S, 1);
		return 1;
	}
	lua_pushboolean(S, 0);
	lua_pushinteger(S, (lua_Integer)at);
	return 2;
}

void lapi_on_probe_done(struct pl_probe *p, int status, const void *data,
			size_t len, void *ud)
{
	struct lapi_run *a = ud;
	struct pl_lua_run *run = pl_run_lua(a->run);
	lua_State *S;
	char msg[160];

	if (!a->probe_waiting)
		return;
	if (a->compare && a->compare_verifying &&
	    compare_verified(p, a, &status))
		return;
	a->probe_waiting = false;
	if (status == -EBUSY) {
		/* the probe refused a request the target's state does not
		 * allow (flash while it runs): the scenario's order of calls,
		 * not a fixture that failed */
		snprintf(msg, sizeof(msg), "probe refused the request: %s "
			 "(halt the target first)", pl_strerror(status));
		pl_lua_run_fail(run, -PL_ESCRIPT, msg);
		return;
	}
	if (status) {
		snprintf(msg, sizeof(msg), "probe fixture failed: %s",
			 pl_strerror(status));
		pl_lua_run_fail(run, -PL_EFIXTURE, msg);
		return;
	}
	S = pl_lua_run_stack(run);
	if (a->compare) {
		const struct pl_image *img = a->compare;

		a->compare = NULL;
		pl_lua_run_resume(run, push_compare(S, img, data, len));
		return;
	}
	if (data)
		lua_pushlstring(S, data, len);
	else
		lua_pushboolean(S, 1);
	pl_lua_run_resume(run, 1);
}

/* Check the arguments of op into req (and *img for flash/compare). */
static void check_args(lua_State *L, enum pl_probe_op op,
		       struct pl_probe_req *req, struct pl_image **img)
{
	switch (op) {
	case PL_PROBE_READ:
		req->addr = (uint64_t)luaL_checkinteger(L, 2);
		req->len = (size_t)luaL_checkinteger(L, 3);
		luaL_argcheck(L, req->len > 0 && req->len <= 1u << 20, 3,
			      "1 to 1048576 bytes");
		break;
	case PL_PROBE_WRITE:
		req->addr = (uint64_t)luaL_checkinteger(L, 2);
		req->data = luaL_checklstring(L, 3, &req->len);
		break;
	case PL_PROBE_FLASH:
	case PL_PROBE_VERIFY:
		*img = lapi_check_image(L, 2);
		if (!lua_isnoneornil(L, 3))
			req->addr = (uint64_t)luaL_checkinteger(L, 3);
		break;
	case PL_PROBE_ERASE:
		req->addr = (uint64_t)luaL_checkinteger(L, 2);
		req->len = (size_t)luaL_checkinteger(L, 3);
		luaL_argcheck(L, req->len > 0, 3, "a positive length");
		break;
	case PL_PROBE_MONITOR:
		req->cmd = luaL_checkstring(L, 2);
		break;
	default:
		break;
	}
}

static bool touches_memory(enum pl_probe_op op)
{
	return op == PL_PROBE_READ || op == PL_PROBE_WRITE ||
	       op == PL_PROBE_ERASE || op == PL_PROBE_FLASH ||
	       op == PL_PROBE_VERIFY;
}

static int probe_common(lua_State *L, enum pl_probe_op op)
{
	struct pl_probe_req req = { .op = op, .cb = lapi_on_probe_done };
	struct pl_image *img = NULL;
	struct pl_probe *probe;
	struct lapi_run *a;
	int err;

	check_args(L, op, &req, &img);
	a = lapi_or_raise(L);
	probe = pl_board_probe(a->board);
	if (!probe)
		return luaL_error(L, "board %s has no probe", pl_board_id(a->board));
	if (img) {
		const struct pl_flash_region *r = a->type->recovery.region;

		if (lua_isnoneornil(L, 3))
			req.addr = a->type->flash.base + (r ? r->offset : 0);
		req.data = img->data;
		req.len = img->len;
	}
	if (op == PL_PROBE_VERIFY) {
		/* compare: the probe verifies (a CRC where it can); when it
		 * says the memory differs, read back and compare here, so a
		 * difference is an answer (false, offset), not a fixture
		 * failure */
		a->compare = img;
		a->compare_verifying = true;
		a->compare_addr = req.addr;
	}
	lapi_probe_begin(L, a, "probe");
	req.user_data = a;
	/* An all-stop debugger serves memory and flash only on a halted
	 * target: halt it first (a no-op when it is halted already). */
	if (touches_memory(op)) {
		struct pl_probe_req h = { .op = PL_PROBE_HALT };

		pl_probe_submit(probe, &h);
	}
	err = pl_probe_submit(probe, &req);
	if (err)
		lapi_on_probe_done(probe, err, NULL, 0, a);
	return pl_lua_wait_yield(L);
}

static int l_probe_halt(lua_State *L) { return probe_common(L, PL_PROBE_HALT); }
static int l_probe_resume(lua_State *L) { return probe_common(L, PL_PROBE_RESUME); }
static int l_probe_reset(lua_State *L) { return probe_common(L, PL_PROBE_RESET); }
static int l_probe_read(lua_State *L) { return probe_common(L, PL_PROBE_READ); }
static int l_probe_write(lua_State *L) { return probe_common(L, PL_PROBE_WRITE); }
static int l_probe_flash(lua_State *L) { return probe_common(L, PL_PROBE_FLASH); }
static int l_probe_erase(lua_State *L) { return probe_common(L, PL_PROBE_ERASE); }
static int l_probe_compare(lua_State *L) { return probe_common(L, PL_PROBE_VERIFY); }
static int l_probe_monitor(lua_State *L) { return probe_common(L, PL_PROBE_MONITOR); }

const luaL_Reg lapi_probe_methods[] = {
	{ "halt", l_probe_halt },
	{ "resume", l_probe_resume },
	{ "reset", l_probe_reset },
	{ "read", l_probe_read },
	{ "write", l_probe_write },
	{ "flash", l_probe_flash },
	{ "erase", l_probe_erase },
	{ "compare", l_probe_compare },
	{ "monitor", l_probe_monitor },
	{ NULL, NULL },
};
