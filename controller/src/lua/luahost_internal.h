/* SPDX-License-Identifier: MIT */
/* Internals shared by the Lua host's files (host.c, sandbox.c, run.c,
 * class.c). Never installed; see patchlab/luahost.h for the contracts. */
#ifndef PATCHLAB_LUAHOST_INTERNAL_H
#define PATCHLAB_LUAHOST_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "patchlab/luahost.h"

/*
 * Memory accounts. Every block carries a header naming the account it is
 * charged to: 0 is the host, the others belong to runs. An account
 * outlives its run until the last block charged to it is freed (Lua's GC
 * frees a run's garbage whenever it likes), then its slot is reused.
 */
struct pl_lua_acct {
	size_t used;
	size_t peak;
	struct pl_lua_run *run; /* NULL once the run is freed */
	uint32_t next_free;     /* free list link when unused */
	bool in_use;
};

struct pl_lua_host {
	lua_State *L;
	struct pl_log log;
	char *root;         /* realpath of the scenarios root, or NULL */
	char *root_display;
	char *lib_root;     /* realpath of the library root, or NULL */
	char **path_roots;  /* realpaths of module_path, NULL-terminated */
	char **path_display;/* as given, for chunk names */
	size_t host_mem_limit;
	size_t run_mem_limit;
	uint64_t run_instr_limit;

	size_t mem_total;
	size_t mem_peak;
	struct pl_lua_acct *accts;
	uint32_t nacct, acct_cap, acct_free; /* acct_free: 0 = none */

	struct pl_lua_run *current; /* the run executing now, or NULL */
	int depth;                  /* lua_resume calls in progress */
	struct pl_lua_run *runs;    /* every run not freed (list) */
	struct pl_lua_run *ready_head, *ready_tail; /* queued resumes */
	int env_mt_ref;             /* metatable of every run's _ENV */
	int globals_ref;            /* the shared (real) globals table */
	int string_mt_ref;          /* the locked metatable of strings */
	unsigned long stop_mark;    /* stop requests seen at open (stop.c) */
};

/* Kinds of the run's single wait slot. */
enum pl_lua_wait_state {
	PL_WAIT_NONE,
	PL_WAIT_ARMED,   /* begun, operation in flight */
	PL_WAIT_DONE,    /* completed (results or error) before yield */
	PL_WAIT_YIELDED, /* coroutine suspended on it */
};

struct pl_lua_run {
	struct pl_lua_host *host;
	struct pl_lua_run *next, *prev;   /* host->runs */
	struct pl_lua_run *ready_next;    /* host->ready queue */
	bool queued;
	int queued_nargs;

	enum pl_lua_run_state state;
	lua_State *co;
	int co_ref, env_ref, loaded_ref;
	uint32_t acct;

	char *path, *chunkname, *id, *board;
	char *source;            /* the chunk's text, or NULL: path */
	uint64_t seed, deadline_ns;
	uint64_t instr_limit, instr_used;
	size_t mem_limit;
	struct pl_lua_run_config cfg;    /* callbacks, params, log */
	uint64_t prng[4];                /* xoshiro256** state */

	/* the wait slot */
	enum pl_lua_wait_state wstate;
	struct pl_lua_wait wait;
	int wait_nres;
	int wait_code;     /* != 0: the wait failed with this code */
	int fail_code;     /* code of the last failure raised in the script */
	char *fail_msg;    /* its message, to recognise it at the end */

	/* killing: budget, stop request or self-cancel */
	bool killed;
	bool stop_exempt;  /* already stopped or timed out once, or
			    * cancelled: a stop request or the deadline no
			    * longer kills it */
	int kill_code;
	char *kill_msg;
	/* memory refusal tracking (see alloc in host.c) */
	const void *refused_ptr;
	size_t refused_osize, refused_nsize;
	bool refused_pending;
	char mem_where[160]; /* "file:line" of the last refused growth */

	/* outcome */
	int status;
	char *message, *traceback;
};

/* host.c */
void pl_lua__acct_release(struct pl_lua_host *h, uint32_t slot);
int pl_lua__acct_new(struct pl_lua_host *h, struct pl_lua_run *run,
		     uint32_t *out);
/* "file:line" of the innermost Lua frame of L into buf ("?" if none). */
void pl_lua__where(lua_State *L, char *buf, size_t len);

/* sandbox.c: build the sandbox on h->L (called once by host open). */
int pl_lua__sandbox_open(struct pl_lua_host *h);
/* Push a fresh _ENV for a run onto L. */
void pl_lua__push_env(struct pl_lua_host *h, lua_State *L);
/* Load a text chunk from path; chunkname starts with '@'. Returns the
 * lua_load status with the chunk or a message on L; *err is 0, -errno for
 * the file, -PL_ESCRIPT for a syntax error or -ENOMEM. */
int pl_lua__load_file(lua_State *L, const char *path, const char *chunkname,
		      int *err);

/* budget.c: killing a run, the count hook */
void pl_lua__run_kill(struct pl_lua_run *run, int code, const char *msg);
/* Raise the kill message of run on L. */
int pl_lua__raise_kill(lua_State *L, struct pl_lua_run *run);
void pl_lua__count_hook(lua_State *L, lua_Debug *ar);
/* Charge n instructions to the run executing on L (a coroutine's
 * creation); raises if that exceeds the budget, a stop was requested or
 * the run is killed. */
void pl_lua__charge(lua_State *L, struct pl_lua_run *run, uint64_t n);

/* run.c */
uint64_t pl_lua__random(struct pl_lua_run *run);
/* Seed the run's PRNG (prng.c). */
void pl_lua__seed(struct pl_lua_run *run, uint64_t seed);
/* stop.c: the stop counter as the host notes it at open; whether a stop
 * was requested since (and by which signal); a signal's name. */
unsigned long pl_lua__stop_mark(void);
bool pl_lua__stop_requested(const struct pl_lua_host *h, int *signum);
const char *pl_lua__signame(int signum);
/* codec.c: push the `codec` table (base64, hex, crc32, sha256), with its
 * sub-tables base64 and hex; writable: the sandbox makes them read-only. */
void pl_lua__push_codec(lua_State *L);
/* The state's allocator; ud is the host (budget.c). */
void *pl_lua__alloc(void *ud, void *ptr, size_t osize, size_t nsize);

#endif
