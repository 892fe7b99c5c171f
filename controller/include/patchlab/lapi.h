/* SPDX-License-Identifier: MIT */
/*
 * The lab API: what a scenario sees (docs/scenario-api.md is its reference;
 * keep the two in step).
 *
 * Globals are published once per host and are the same objects for every
 * run: `board`, `params`, `fault`, `verdict`, ... Per-run state is found
 * through the calling coroutine (pl_run_of(L)), never through a global a
 * script could overwrite: `board` and `params` are read-only proxies that
 * resolve the run when indexed.
 */
#ifndef PATCHLAB_LAPI_H
#define PATCHLAB_LAPI_H

#include <stddef.h>

struct pl_image;
struct pl_lua_host;
struct pl_run_api;

/* Register the lab API in the host. images: the suite's, borrowed until
 * the host is freed. Returns 0 or -ENOMEM. */
int pl_lapi_register(struct pl_lua_host *h, struct pl_image *const *images,
		     size_t nimages);

/* The API's per-run state hooks, for struct pl_run_env.api. */
extern const struct pl_run_api pl_lapi_run_api;

#endif
