/* SPDX-License-Identifier: MIT */
/*
 * The Lua host: one sandboxed lua_State per controller, one coroutine per
 * board run (ARCHITECTURE.md "Scenarios and the Lua host"; STYLE.md R10-R13).
 *
 *   host  = the lua_State, the sandbox (safe libraries, locked globals, a
 *           require that only sees the scenarios root), the allocator that
 *           accounts memory per run, the userdata classes of the lab API.
 *   run   = one scenario file executing as a coroutine, with its own
 *           environment table, seeded PRNG, instruction and memory budgets,
 *           print() routed to its logger, and at most one pending wait.
 *
 * Life of a run:
 *
 *   pl_lua_run_open()  -> NEW      (nothing executed yet)
 *   pl_lua_run_start() -> RUNNING  (file loaded, chunk called with params)
 *        | a lab call: pl_lua_wait_prepare/begin + return pl_lua_wait_yield
 *        v
 *      WAITING  -- loop callback: pl_lua_run_resume() / pl_lua_run_fail()
 *        |         (results pushed on pl_lua_run_stack() first)
 *        v
 *      RUNNING ... -> DONE: done callback, exactly once per started run
 *
 * Any state -> DONE by pl_lua_run_cancel(): the pending wait's cancel
 * callback runs, the coroutine's to-be-closed variables are closed
 * (lua_resetthread), then the done callback runs, before
 * pl_lua_run_cancel() returns (possibly inside another run's lab call).
 *
 * Threading: everything here runs on the one loop thread that owns the
 * host. Nothing blocks except reading scenario files from disk. The host
 * itself needs no libuv handle: resumes requested while another run is
 * executing (a lab call completing someone else's wait) are queued and run
 * as soon as the outer resume returns, so runs never nest.
 *
 * Sandbox (what a scenario sees):
 *   base:      assert error ipairs next pairs pcall xpcall rawequal rawget
 *              rawlen select tonumber tostring type _VERSION, rawset
 *              (refuses the shared read-only proxies), getmetatable (hands
 *              out only tables' metatables: for strings and host objects
 *              it gives their __metatable or false, as their metatables are
 *              shared by every run), setmetatable (refuses __gc: finalizers would run
 *              outside any run's budget; scenarios use <close>), print
 *              (to the run's logger), load (text only; default
 *              environment = the run's), require
 *   libraries: string (no dump), table, math (random seeded per run,
 *              randomseed raises), utf8, coroutine (yield refuses to yield
 *              the run's own coroutine; lab waits refuse to run inside a
 *              script's coroutine; create and wrap charge the budget),
 *              os.time os.clock os.date, codec (base64, hex, crc32,
 *              sha256 over strings: libcrypto and zlib; codec.c)
 *   absent:    io, os.*, debug, package, dofile, loadfile, collectgarbage,
 *              string.dump, binary chunks
 * Library tables are read-only proxies shared by all runs: empty tables
 * (rawset on them is refused), whose pairs() iterates the target without
 * handing it out and whose metatable is hidden; the string metatable is
 * locked again at every run start. Each run has its
 * own _ENV whose reads and writes of unknown names raise
 * "file:line: nonexistent global 'x'". Writing a known name raises
 * "global 'x' is read-only". require loads a module afresh for each run
 * (cached within the run) with the run's _ENV, so boards share no module
 * state. Run context (id, board, seed, deadline) lives in C (struct
 * pl_lua_run, found from the lua_State through the allocator's user data),
 * never in a script-writable global.
 *
 * Budgets: the instruction budget is counted by a count hook on each run
 * thread and on every coroutine the script creates, every
 * PL_LUA_HOOK_STEP VM instructions. A new thread starts a fresh count and
 * the count a thread holds when it dies is never reported, so creating a
 * coroutine (coroutine.create, coroutine.wrap) is charged a whole step in
 * advance: the budget counts at least every instruction run, and a loop
 * creating coroutines cannot escape it. The memory budget counts live
 * bytes allocated while the run executes (realloc moves a block to the
 * run that grew it). A run over budget is killed: from then on every VM
 * instruction of that run (its own coroutine and the one that hit the
 * limit) raises the kill message, so neither pcall nor coroutine.resume
 * can swallow it; its __close handlers written in C (power off) still
 * run, those written in Lua are killed at their first instruction. Known
 * limit: a single long C call without callbacks (a pathological
 * string.find pattern) is not interrupted: it blocks the loop until it
 * returns, then the budget or a cancel ends the run. C calls that call
 * back into Lua (string.gsub with a function, table.sort with a
 * comparator) are counted in their callbacks.
 *
 * Stopping: a script that never waits never returns to the event loop,
 * so a signal handled through libuv alone would be seen only after it
 * ends. pl_lua_stop_on_signal() chains a handler in front of libuv's that
 * also calls pl_lua_request_stop(); the count hook then kills the
 * executing run within PL_LUA_HOOK_STEP instructions (status
 * -PL_ECANCELED, "file:line: run stopped: SIGTERM ..."), and any run of a
 * host opened before the request at its first hook. The same hook ends a
 * run past its deadline_ns (-ETIMEDOUT), which a loop timer alone could
 * not do either.
 *
 * Error messages: whatever a script raises (error(nil), a table, an
 * object with __tostring, a string without position) ends the run with
 * one text that carries "file:line:" where the error was raised, or the
 * scenario file where no line is known (an error raised by a __close
 * handler while the stack unwinds). pl_lua_run_message() is at most
 * PL_LUA_MESSAGE_MAX bytes, the traceback at most PL_LUA_TRACEBACK_MAX.
 */
#ifndef PATCHLAB_LUAHOST_H
#define PATCHLAB_LUAHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

#include "patchlab/log.h"

struct pl_lua_host;
struct pl_lua_run;

/* VM instructions between two budget checks (the budget's granularity). */
#define PL_LUA_HOOK_STEP 1000

/* Longest run message and traceback kept, in bytes with the NUL; longer
 * ones are cut at a character boundary and end "[... message truncated]". */
#define PL_LUA_MESSAGE_MAX 1024
#define PL_LUA_TRACEBACK_MAX 8192

/* ------------------------------------------------------------------ stop */

/*
 * Ask every Lua host of the process to stop its scripts: the run
 * executing now (a runaway loop included) is killed within
 * PL_LUA_HOOK_STEP VM instructions with status -PL_ECANCELED and the
 * message "file:line: run stopped: SIGTERM (controller stopping)", and
 * every run of a host opened before this call is killed likewise at its
 * first hook (a run is stopped once: the __close handlers that a later
 * pl_lua_run_cancel() runs keep their own budget). Hosts opened after the
 * call are not affected. signum only names the reason. Async-signal-safe.
 */
void pl_lua_request_stop(int signum);

/*
 * Make signum call pl_lua_request_stop(signum) from the signal handler,
 * then the handler installed before (libuv's, which queues the
 * uv_signal_t callback as usual; SIG_DFL: the default action; SIG_IGN:
 * nothing more). Call it on the loop thread right after
 * uv_signal_start() for that signal: libuv installs its handler then, and
 * a later uv_signal_start() of the first handle of a signal replaces
 * this one (stopping the last uv_signal_t of a signal restores SIG_DFL,
 * removing both). Calling it again while it is installed does nothing.
 * Returns 0, -EINVAL (not a signal) or -errno from sigaction().
 */
int pl_lua_stop_on_signal(int signum);

/* ------------------------------------------------------------------ host */

struct pl_lua_host_config {
	/*
	 * Directory that `require "a.b"` resolves in: <root>/a/b.lua. Only
	 * names made of [A-Za-z0-9_] separated by dots are accepted, and the
	 * resolved file must stay inside the root after symlinks. NULL: no
	 * module can be required. Copied.
	 */
	const char *scenarios_root;
	/* Name used for the root in chunk names ("scenarios" by default), so
	 * errors read "scenarios/lib/util.lua:3: ...". Copied. */
	const char *root_display;
	/*
	 * A second directory `require` looks in when the scenarios root has
	 * no such module: the scenario library shipped with patchlab
	 * (patchlab/datadir.h), so a lab repository's scenarios can use
	 * lib.oracle without a copy. Same rules; named "patchlab" in chunk
	 * names. NULL or missing: none. Copied.
	 */
	const char *library_root;
	/*
	 * More directories `require` looks in, after the scenarios root and
	 * before the library (a suite's scenario_path). Same rules; each is
	 * named by its path in chunk names. NULL-terminated, or NULL: none.
	 * A directory that is not there is an error. Copied.
	 */
	const char *const *module_path;
	size_t host_mem_limit;    /* all runs + host; 0: 256 MiB */
	size_t run_mem_limit;     /* default per run; 0: 32 MiB */
	uint64_t run_instr_limit; /* default per run; 0: 200 million */
	struct pl_log log;        /* host messages; ctx borrowed */
};

/*
 * Create a host with its sandbox. Returns 0, -ENOMEM, or -EINVAL (root
 * not a directory). *out must be freed with pl_lua_host_free().
 */
int pl_lua_host_open(struct pl_lua_host **out,
		     const struct pl_lua_host_config *cfg);

/*
 * Cancel every live run (code -PL_ECANCELED, "controller stopping"; their
 * done callbacks fire and may free them), free the runs nobody freed, close
 * the state (running __gc of remaining objects) and free the host.
 * Accepts NULL. Must not be called from inside a run or a done callback.
 */
void pl_lua_host_free(struct pl_lua_host *h);

/*
 * The host's main state, for setting up the lab API before any run starts:
 * registering classes (pl_lua_class_register) and globals
 * (pl_lua_host_setglobal). Do not run scripts on it.
 */
lua_State *pl_lua_host_state(struct pl_lua_host *h);

/*
 * Pop the value on top of pl_lua_host_state(h) and publish it as a global
 * visible (read-only) to every run, e.g. a `lab` table of C functions.
 * Tables are published as-is: wrap them with pl_lua_readonly() first if
 * scripts must not modify them. Returns 0 or -ENOMEM.
 */
int pl_lua_host_setglobal(struct pl_lua_host *h, const char *name);

/*
 * Replace the table at idx of L by a read-only proxy of it (reads pass
 * through, pairs() and # work, writes raise "table is read-only", also
 * through the sandbox's rawset; no script can reach the table itself).
 */
void pl_lua_readonly(lua_State *L, int idx);

/* Bytes currently allocated by the state (all runs, and garbage not yet
 * collected), and the most it ever held. */
size_t pl_lua_host_mem(const struct pl_lua_host *h);
size_t pl_lua_host_mem_peak(const struct pl_lua_host *h);

/* ------------------------------------------------------------ parameters */

/*
 * A small value tree to pass scenario parameters from C (the params table
 * a scenario receives as `...`). A TABLE's items with key == NULL form the
 * array part (1, 2, ...); items with a key are fields. Strings may hold
 * NULs (len); str.len == 0 with a non-empty s means strlen(s).
 */
enum pl_lua_vtype {
	PL_LUA_VNIL,
	PL_LUA_VBOOL,
	PL_LUA_VINT,
	PL_LUA_VNUM,
	PL_LUA_VSTR,
	PL_LUA_VTABLE,
};

struct pl_lua_value {
	enum pl_lua_vtype type;
	const char *key; /* field name inside a table, NULL for array items */
	union {
		bool b;
		int64_t i;
		double n;
		struct {
			const char *s;
			size_t len;
		} str;
		struct {
			const struct pl_lua_value *items;
			size_t n;
		} table;
	} u;
};

/*
 * Push v onto L (depth at most 32). Raises a Lua error on memory
 * exhaustion like any lua_push*; call only where that is allowed.
 */
void pl_lua_push_value(lua_State *L, const struct pl_lua_value *v);

/*
 * Alternative to a value tree: push exactly one value (the params) onto L
 * (the run's coroutine, in a protected call: lua_push* may raise) and
 * return 0, or return a negative code (the run does not start).
 */
typedef int (*pl_lua_params_fn)(lua_State *L, void *user_data);

/* ------------------------------------------------------------------- run */

/* Called once when a started run ends (ok, error, budget or cancel). The
 * run stays valid until pl_lua_run_free(), which the callback may call. */
typedef void (*pl_lua_done_fn)(struct pl_lua_run *run, void *user_data);

struct pl_lua_run_config {
	const char *path;      /* scenario file on disk (text only) */
	/* Or the chunk's text itself (path then unused, chunkname
	 * required): a few lines that require a module and call it, say.
	 * Copied. */
	const char *source;
	const char *chunkname; /* name in messages; NULL: path. Copied. */
	const char *id;        /* run id for logs; copied; may be NULL */
	const char *board;     /* board name; copied; may be NULL */
	uint64_t seed;         /* math.random seed, reported back */
	/* pl_now_ns() after which the script is killed at its next hook
	 * (within PL_LUA_HOOK_STEP instructions): status -ETIMEDOUT,
	 * "file:line: run timeout: ...". It holds where a loop timer cannot:
	 * a script that never waits never lets the loop run. 0: none. */
	uint64_t deadline_ns;
	uint64_t instr_limit;  /* 0: the host default */
	size_t mem_limit;      /* 0: the host default */
	/* params: params_fn if set, else the value tree, else {} */
	const struct pl_lua_value *params;
	pl_lua_params_fn params_fn;
	void *params_ud;
	struct pl_log log;     /* where print() goes (INFO); ctx borrowed */
	pl_lua_done_fn done;   /* may be NULL */
	void *user_data;       /* for done and pl_lua_run_user_data() */
};

enum pl_lua_run_state {
	PL_LUA_RUN_NEW,
	PL_LUA_RUN_RUNNING, /* executing, or queued to execute */
	PL_LUA_RUN_WAITING,
	PL_LUA_RUN_DONE,
};

/*
 * Create a run (nothing is loaded or executed). Returns 0 or -ENOMEM.
 * *out must be freed with pl_lua_run_free().
 */
int pl_lua_run_open(struct pl_lua_host *h, struct pl_lua_run **out,
		    const struct pl_lua_run_config *cfg);

/*
 * Load the scenario file (text mode, chunk named after cfg->chunkname),
 * build the params and call the chunk with them inside a coroutine.
 * Returns 0 when the run started: done will be called exactly once,
 * possibly before pl_lua_run_start() returns (a scenario that never
 * waits). Returns a negative code when it could not start (-ENOENT and
 * other errnos from opening the file, -PL_ESCRIPT for a syntax error,
 * -ENOMEM, or the params callback's code): pl_lua_run_message() says why
 * ("scenarios/x.lua:3: unexpected symbol near ..."), done is not called.
 */
int pl_lua_run_start(struct pl_lua_run *run);

/*
 * End the run now: if it waits, the wait's cancel callback runs first; the
 * coroutine's pending to-be-closed variables are closed (their __close
 * metamethods get a fresh small instruction budget), the result becomes
 * (code, "board: msg"), and done is called. If the run is executing (it
 * cancels itself from a lab call), it is killed and ends at its next VM
 * instruction instead. No effect on a DONE or NEW run (NEW becomes DONE
 * without done). code is negative (-PL_ECANCELED, -ETIMEDOUT, ...).
 */
void pl_lua_run_cancel(struct pl_lua_run *run, int code, const char *msg);

/* Cancel silently (no done callback) if live, then free. Accepts NULL.
 * Not on the run that is executing (from its own lab call). */
void pl_lua_run_free(struct pl_lua_run *run);

enum pl_lua_run_state pl_lua_run_get_state(const struct pl_lua_run *run);

/*
 * Outcome of a DONE run: 0 (the chunk returned), -PL_ESCRIPT (error
 * raised), -PL_EBUDGET (instruction or memory budget), -PL_ECANCELED
 * (stopped by pl_lua_request_stop()), -ETIMEDOUT (past deadline_ns), the
 * code given to pl_lua_run_fail() when that error was not caught by the script, or the
 * cancel code.
 */
int pl_lua_run_status(const struct pl_lua_run *run);

/* First line of the error ("scenarios/x.lua:12: instruction budget
 * exceeded (1000000)"), with a position (see "Error messages" above), at
 * most PL_LUA_MESSAGE_MAX bytes; NULL if the run succeeded. Owned by the
 * run. */
const char *pl_lua_run_message(const struct pl_lua_run *run);
/* The message with the Lua traceback appended (or just the message), at
 * most PL_LUA_TRACEBACK_MAX bytes. */
const char *pl_lua_run_traceback(const struct pl_lua_run *run);

uint64_t pl_lua_run_seed(const struct pl_lua_run *run);
const char *pl_lua_run_id(const struct pl_lua_run *run);
const char *pl_lua_run_board(const struct pl_lua_run *run);
uint64_t pl_lua_run_deadline(const struct pl_lua_run *run);
/* Set (or move, or with 0 remove) the run's deadline_ns, e.g. where the
 * run's timeout timer is armed; takes effect at the next hook. */
void pl_lua_run_set_deadline(struct pl_lua_run *run, uint64_t deadline_ns);
void *pl_lua_run_user_data(const struct pl_lua_run *run);
/* VM instructions counted so far (multiple of PL_LUA_HOOK_STEP). */
uint64_t pl_lua_run_instructions(const struct pl_lua_run *run);
/* Bytes attributed to the run now, and at most so far. */
size_t pl_lua_run_mem(const struct pl_lua_run *run);
size_t pl_lua_run_mem_peak(const struct pl_lua_run *run);

/*
 * The run's coroutine. While WAITING, push a wait's results here before
 * pl_lua_run_resume() (lua_checkstack for more than LUA_MINSTACK values).
 * When DONE with status 0, the chunk's return values are on it (a verdict
 * table, say) until pl_lua_run_free().
 */
lua_State *pl_lua_run_stack(struct pl_lua_run *run);

/*
 * The run executing L (its coroutine or a coroutine the script created),
 * for lab C functions. NULL when L is not executing a run (host setup).
 */
struct pl_lua_run *pl_lua_run_from(lua_State *L);

/* ------------------------------------------------------------------ waits */

/*
 * Cancel the operation behind a wait (stop a timer, disarm an expect).
 * Called at most once, on the loop thread, only while the run still
 * waits; after it returns, the operation must not resume or fail the run.
 */
typedef void (*pl_lua_cancel_fn)(void *user_data);

struct pl_lua_wait {
	const char *what;        /* "sleep 100 ms", for logs; borrowed */
	pl_lua_cancel_fn cancel; /* may be NULL */
	void *user_data;
};

/*
 * A waiting lab call, in a lua_CFunction of the lab API:
 *
 *   static int l_sleep(lua_State *L)
 *   {
 *           lua_Integer ms = luaL_checkinteger(L, 1);   // may raise
 *           struct pl_lua_run *run = pl_lua_wait_prepare(L); // may raise
 *           struct my_sleep *s = calloc(...);           // nothing raises
 *           ...                                          // from here on
 *           pl_lua_wait_begin(run, &(struct pl_lua_wait){
 *                   .what = "sleep", .cancel = my_cancel, .user_data = s });
 *           uv_timer_start(&s->timer, my_timer_cb, ms, 0); // may complete
 *           return pl_lua_wait_yield(L);                    // now or later
 *   }
 *   static void my_timer_cb(uv_timer_t *t)
 *   {
 *           lua_pushinteger(pl_lua_run_stack(s->run), 1);
 *           pl_lua_run_resume(s->run, 1);
 *   }
 *
 * pl_lua_wait_prepare() returns the calling run, or raises a Lua error
 * when L cannot wait: not inside a run, inside a coroutine the script
 * created ("cannot wait inside a coroutine"), or the run was killed. Call
 * it with the argument checks, before acquiring anything (R11).
 *
 * pl_lua_wait_begin() arms the run's one wait slot (*w is copied; it never
 * raises). Between it and pl_lua_wait_yield() push nothing onto L. If the
 * operation fails to start, complete it at once with pl_lua_run_fail().
 *
 * If the operation completes synchronously (its callback calls
 * pl_lua_run_resume/fail before pl_lua_wait_yield), pl_lua_wait_yield()
 * returns the results at once without yielding. Otherwise it yields to the
 * loop; the results pushed by the completion become the call's return
 * values. Must be used as `return pl_lua_wait_yield(L);`.
 */
struct pl_lua_run *pl_lua_wait_prepare(lua_State *L);
void pl_lua_wait_begin(struct pl_lua_run *run, const struct pl_lua_wait *w);
int pl_lua_wait_yield(lua_State *L);

/*
 * Complete the run's wait with the nresults values pushed on
 * pl_lua_run_stack(run). From a loop callback the run resumes before this
 * returns (and may end: done may be called from here); from inside
 * another run's execution it is queued. On a run without a pending wait
 * (the wait was cancelled and its cancel callback did not stop the
 * operation: a bug) the values are popped, a warning is logged and
 * nothing else happens.
 */
void pl_lua_run_resume(struct pl_lua_run *run, int nresults);

/*
 * Complete the run's wait with an error: the waiting call raises
 * "file:line: msg" in the script (pcall can catch it). If the script does
 * not catch it, the run ends with status code (e.g. -PL_EFIXTURE, so the
 * engine reports lab-error, or -ETIMEDOUT). Nothing may be pushed for it.
 */
void pl_lua_run_fail(struct pl_lua_run *run, int code, const char *msg);

/* ------------------------------------------------------ userdata classes */

/*
 * A lab object class (R10): one metatable registered under name, methods
 * in __index, __gc and __close (and a close() method unless methods has
 * one) sharing one idempotent close. Objects start closed; mark them open
 * with pl_lua_object_set_open() once their resource is acquired. The
 * struct must outlive the host (make it static const).
 */
struct pl_lua_class {
	const char *name;            /* registry name, "patchlab.power" */
	const char *kind;            /* for messages: "power" */
	size_t size;                 /* payload bytes (zeroed on creation) */
	const luaL_Reg *methods;     /* NULL-terminated; may be NULL */
	const luaL_Reg *metamethods; /* extra (__tostring ...); may be NULL */
	/* Release the payload's resource (power: off). Called at most once
	 * per object, only if it was set open; must not raise or yield. */
	void (*close)(void *payload);
};

/* Create the class's metatable in L's registry. Returns 0 or -EEXIST. */
int pl_lua_class_register(lua_State *L, const struct pl_lua_class *cls);

/*
 * Push a new object of the class, closed, with a zeroed payload, and
 * return the payload. Raises on memory exhaustion (do it before
 * acquiring a resource).
 */
void *pl_lua_object_new(lua_State *L, const struct pl_lua_class *cls);

/* Mark the object (payload from pl_lua_object_new) open. */
void pl_lua_object_set_open(void *payload);

/* The payload of the object at idx; raises "bad argument #idx (power
 * expected, got x)" otherwise. _open also raises "power object is
 * closed" for a closed one. */
void *pl_lua_object_check(lua_State *L, int idx, const struct pl_lua_class *cls);
void *pl_lua_object_check_open(lua_State *L, int idx,
			       const struct pl_lua_class *cls);

bool pl_lua_object_is_open(const void *payload);

/* Close the object now (idempotent), as __close would. */
void pl_lua_object_close(void *payload);

#endif
