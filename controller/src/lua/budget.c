/* SPDX-License-Identifier: MIT */
/*
 * The host's accounting allocator and the runs' budgets. Every block starts with a 16-byte
 * header holding the number of the account it is charged to (16 keeps
 * malloc's alignment for Lua). A block is charged to the run executing when it was allocated or grown
 * (h->current), to the host otherwise. Growth past the run's budget or the
 * host's budget is refused; Lua then runs an emergency full GC and asks
 * again with the same arguments. A second refusal of the same request means
 * the run's live data really is over budget: the run is killed (see
 * below), which pcall cannot swallow. Shrinking never fails (Lua relies on
 * it).
 *
 * The allocator's user data is the host, which also knows the run
 * executing: pl_lua_run_from() asks it. A run over its budget is marked
 * killed here; the count hook (below, with the instruction budget and the
 * stop requests of stop.c) raises for it.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luahost_internal.h"
#include "patchlab/clock.h"
#include "patchlab/error.h"

#define BLK_HDR 16u
/* A killed run may still allocate this much over its budget, so that its
 * error message and traceback can be built. */
#define KILL_GRACE (256u * 1024u)

struct blk_hdr {
	uint32_t acct;
};

/* -------------------------------------------------------------- accounts */

int pl_lua__acct_new(struct pl_lua_host *h, struct pl_lua_run *run,
		     uint32_t *out)
{
	uint32_t slot;

	if (h->acct_free) {
		slot = h->acct_free;
		h->acct_free = h->accts[slot].next_free;
	} else {
		if (h->nacct == h->acct_cap) {
			uint32_t cap = h->acct_cap ? h->acct_cap * 2 : 16;
			struct pl_lua_acct *a;

			a = realloc(h->accts, cap * sizeof(*a));
			if (!a)
				return -ENOMEM;
			h->accts = a;
			h->acct_cap = cap;
		}
		slot = h->nacct++;
	}
	h->accts[slot] = (struct pl_lua_acct){ .run = run, .in_use = true };
	*out = slot;
	return 0;
}

static void acct_maybe_free(struct pl_lua_host *h, uint32_t slot)
{
	struct pl_lua_acct *a = &h->accts[slot];

	if (slot == 0 || !a->in_use || a->run || a->used)
		return;
	a->in_use = false;
	a->next_free = h->acct_free;
	h->acct_free = slot;
}

void pl_lua__acct_release(struct pl_lua_host *h, uint32_t slot)
{
	h->accts[slot].run = NULL;
	acct_maybe_free(h, slot);
}

static void charge(struct pl_lua_host *h, uint32_t slot, size_t n)
{
	struct pl_lua_acct *a = &h->accts[slot];

	a->used += n;
	if (a->used > a->peak)
		a->peak = a->used;
	h->mem_total += n;
	if (h->mem_total > h->mem_peak)
		h->mem_peak = h->mem_total;
}

static void uncharge(struct pl_lua_host *h, uint32_t slot, size_t n)
{
	assert(h->accts[slot].used >= n);
	h->accts[slot].used -= n;
	h->mem_total -= n;
	acct_maybe_free(h, slot);
}

/* ------------------------------------------------------------- allocator */

void pl_lua__where(lua_State *L, char *buf, size_t len)
{
	lua_Debug ar;

	for (int level = 0; L && lua_getstack(L, level, &ar); level++) {
		if (!lua_getinfo(L, "Sl", &ar))
			break;
		if (ar.currentline > 0) {
			snprintf(buf, len, "%s:%d", ar.short_src, ar.currentline);
			return;
		}
	}
	snprintf(buf, len, "?");
}

/*
 * A growth request refused for run. The first refusal of a request is
 * Lua's normal attempt; if the identical request comes back (after the
 * emergency GC) and is refused again, the run is over budget for real.
 */
static void refused(struct pl_lua_run *run, const void *ptr, size_t osize,
		    size_t nsize, bool host_limit)
{
	char where[160], msg[256];

	if (run->refused_pending && run->refused_ptr == ptr &&
	    run->refused_osize == osize && run->refused_nsize == nsize) {
		run->refused_pending = false;
		pl_lua__where(run->co, where, sizeof(where));
		if (host_limit)
			snprintf(msg, sizeof(msg),
				 "%s: host memory limit exceeded (%zu bytes)",
				 where, run->host->host_mem_limit);
		else
			snprintf(msg, sizeof(msg),
				 "%s: memory budget exceeded (%zu bytes)",
				 where, run->mem_limit);
		pl_lua__run_kill(run, -PL_EBUDGET, msg);
		return;
	}
	pl_lua__where(run->co, run->mem_where, sizeof(run->mem_where));
	run->refused_pending = true;
	run->refused_ptr = ptr;
	run->refused_osize = osize;
	run->refused_nsize = nsize;
}

static bool admit(struct pl_lua_host *h, struct pl_lua_run *run,
		  const void *ptr, uint32_t old_slot, size_t osize,
		  size_t nsize)
{
	size_t total = h->mem_total - osize + nsize;
	size_t used, limit;

	if (total > h->host_mem_limit) {
		if (run && !run->killed)
			refused(run, ptr, osize, nsize, true);
		return false;
	}
	if (!run)
		return true;
	used = h->accts[run->acct].used + nsize;
	if (ptr && old_slot == run->acct)
		used -= osize;
	limit = run->mem_limit + (run->killed ? KILL_GRACE : 0);
	if (used > limit) {
		if (!run->killed)
			refused(run, ptr, osize, nsize, false);
		return false;
	}
	run->refused_pending = false;
	return true;
}

void *pl_lua__alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct pl_lua_host *h = ud;
	struct pl_lua_run *run = h->current;
	struct blk_hdr *hdr = ptr ? (void *)((char *)ptr - BLK_HDR) : NULL;
	uint32_t old_slot = hdr ? hdr->acct : 0;
	uint32_t slot;
	struct blk_hdr *nb;

	if (!ptr)
		osize = 0; /* osize is then a type tag */
	if (nsize == 0) {
		if (hdr) {
			uncharge(h, old_slot, osize);
			free(hdr);
		}
		return NULL;
	}
	if (nsize > osize) {
		if (!admit(h, run, ptr, old_slot, osize, nsize))
			return NULL;
		slot = run ? run->acct : 0;
	} else {
		slot = old_slot; /* shrinking stays where it was, never fails */
	}
	if (nsize > SIZE_MAX - BLK_HDR)
		return NULL;
	nb = realloc(hdr, nsize + BLK_HDR);
	if (!nb)
		return NULL;
	if (ptr)
		uncharge(h, old_slot, osize);
	nb->acct = slot;
	charge(h, slot, nsize);
	return (char *)nb + BLK_HDR;
}

/* ------------------------------------------------------ the running run */

/* Mark the run killed: its next VM instruction raises (the count hook). */
void pl_lua__run_kill(struct pl_lua_run *run, int code, const char *msg)
{
	if (run->killed)
		return;
	run->killed = true;
	run->kill_code = code;
	run->kill_msg = strdup(msg);
}

struct pl_lua_run *pl_lua_run_from(lua_State *L)
{
	void *ud;

	lua_getallocf(L, &ud);
	return ((struct pl_lua_host *)ud)->current;
}

/* ------------------------------------------------ the instruction budget */


int pl_lua__raise_kill(lua_State *L, struct pl_lua_run *run)
{
	lua_pushstring(L, run->kill_msg ? run->kill_msg : "run killed");
	return lua_error(L);
}

/* Kill the run for its instruction budget, with where L stands. */
static void kill_for_budget(lua_State *L, struct pl_lua_run *run)
{
	char where[160], msg[256];

	pl_lua__where(L, where, sizeof(where));
	snprintf(msg, sizeof(msg),
		 "%s: instruction budget exceeded (%" PRIu64 ")", where,
		 run->instr_limit);
	pl_lua__run_kill(run, -PL_EBUDGET, msg);
}

/* Kill the run because the controller was asked to stop (a signal) or
 * its deadline passed: once per run, so the __close handlers of a later
 * cancel still get their own small budget. */
static void kill_late(lua_State *L, struct pl_lua_run *run, int code,
		      const char *why)
{
	char where[160], msg[160 + 128];

	run->stop_exempt = true;
	pl_lua__where(L, where, sizeof(where));
	snprintf(msg, sizeof(msg), "%s: %s", where, why);
	pl_lua__run_kill(run, code, msg);
}

/* Count n instructions; kill the run if they are over its budget, or a
 * stop was requested, or its deadline passed. true when killed. */
static bool over_limits(lua_State *L, struct pl_lua_run *run, uint64_t n)
{
	char why[96];
	int sig;

	run->instr_used += n;
	if (run->instr_used > run->instr_limit) {
		kill_for_budget(L, run);
	} else if (run->stop_exempt) {
		return false;
	} else if (pl_lua__stop_requested(run->host, &sig)) {
		snprintf(why, sizeof(why),
			 "run stopped: %s (controller stopping)",
			 pl_lua__signame(sig));
		kill_late(L, run, -PL_ECANCELED, why);
	} else if (run->deadline_ns && pl_now_ns() >= run->deadline_ns) {
		kill_late(L, run, -ETIMEDOUT,
			  "run timeout: the scenario ran past its deadline");
	} else {
		return false;
	}
	return true;
}

/* A killed run's threads raise at every instruction: the one that hit
 * the limit and the run's own coroutine, which a script's coroutine
 * returns to (coroutine.resume catches errors like pcall does). */
static void arm_kill(lua_State *L, struct pl_lua_run *run)
{
	lua_sethook(L, pl_lua__count_hook, LUA_MASKCOUNT, 1);
	if (run->co && run->co != L)
		lua_sethook(run->co, pl_lua__count_hook, LUA_MASKCOUNT, 1);
}

void pl_lua__count_hook(lua_State *L, lua_Debug *ar)
{
	struct pl_lua_run *run = pl_lua_run_from(L);

	(void)ar;
	if (!run)
		return;
	if (!run->killed && !over_limits(L, run, PL_LUA_HOOK_STEP))
		return;
	/* From now on every instruction of this thread raises again, so a
	 * pcall in the script only delays the end by one instruction. */
	arm_kill(L, run);
	pl_lua__raise_kill(L, run);
}

void pl_lua__charge(lua_State *L, struct pl_lua_run *run, uint64_t n)
{
	if (!run->killed && !over_limits(L, run, n))
		return;
	arm_kill(L, run);
	pl_lua__raise_kill(L, run);
}
