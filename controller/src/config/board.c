/* SPDX-License-Identifier: MIT */
/*
 * Board types (boards/NAME.yaml): how a kind of board boots, says its
 * version, takes an update and is recovered. The schema is documented in
 * docs/configuration.md; this file checks it and compiles the console
 * patterns (POSIX extended regexes) once, at load.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/error.h"
#include "patchlab/regex_lint.h"
#include "config_internal.h"

/* A board type loaded on its own owns its arena (one allocated with it). */
struct board_type_own {
	struct pl_board_type t;
	struct pl_cfg_priv priv;
};

int pl_pattern_group(const struct pl_pattern *p, const char *name)
{
	if (!p)
		return -1;
	for (size_t i = 0; i < p->ncaptures; i++)
		if (strcmp(p->captures[i].name, name) == 0)
			return (int)p->captures[i].group;
	return -1;
}

/* ------------------------------------------------------------- patterns */

/*
 * A pattern is a regex, or {regex: R, captures: {name: group}}. `caps`
 * lists the capture names this pattern may declare (NULL-terminated).
 */
static const struct pl_pattern *load_pattern(struct pl_cfg *c,
					     const struct pl_value *map,
					     const char *key, bool required,
					     const char *what,
					     const char *const *caps)
{
	static const char *const pattern_keys[] = { "regex", "captures", NULL };
	const struct pl_value *v = pl_cfg_get(c, map, key, required, what);
	const struct pl_value *rv = v, *cv = NULL;
	struct pl_capture *captures = NULL;
	struct pl_pattern *p;
	char *pwhat, errbuf[256];
	const char *why;
	size_t ncap = 0;
	bool ok = true;
	int rc;

	if (!v)
		return NULL;
	pwhat = pl_arena_printf(c->a, "%s.%s", what, key);
	if (!pwhat)
		return pl_cfg_oom(c);
	if (v->kind == PL_VALUE_MAP) {
		pl_cfg_check_keys(c, v, pattern_keys, pwhat);
		rv = pl_cfg_get(c, v, "regex", true, pwhat);
		cv = pl_cfg_get(c, v, "captures", false, pwhat);
		if (!rv)
			return NULL;
	}
	if (rv->kind != PL_VALUE_SCALAR) {
		pl_cfg_err(c, &rv->pos,
			   "%s must be a regex or {regex: ..., captures: {...}}, got %s",
			   pwhat, pl_value_kind_name(rv));
		return NULL;
	}
	p = pl_arena_alloc(c->a, sizeof(*p));
	if (!p)
		return pl_cfg_oom(c);
	p->regex = rv->str;
	p->pos = rv->pos;
	if ((why = pl_regex_lint(p->regex))) {
		pl_cfg_err(c, &rv->pos, "bad regex for %s: %s", pwhat, why);
		return NULL;
	}
	rc = regcomp(&p->re, p->regex, REG_EXTENDED);
	if (rc != 0) {
		regerror(rc, &p->re, errbuf, sizeof(errbuf));
		pl_cfg_err(c, &rv->pos, "bad regex for %s: %s (a POSIX extended regex)",
			   pwhat, errbuf);
		return NULL;
	}
	if (pl_cfg_priv_track(c->priv, p) < 0) {
		regfree(&p->re);
		return pl_cfg_oom(c);
	}
	if (cv && pl_cfg_expect_map(c, cv, "captures")) {
		size_t ncaps = 0;

		while (caps[ncaps])
			ncaps++;
		pl_cfg_check_keys(c, cv, caps, pwhat);
		captures = pl_arena_alloc(c->a, (cv->n + 1) * sizeof(*captures));
		if (!captures)
			return pl_cfg_oom(c);
		for (size_t i = 0; i < cv->n; i++) {
			uint64_t g = 0;
			bool known = false;

			for (size_t j = 0; j < ncaps; j++)
				known |= strcmp(cv->keys[i], caps[j]) == 0;
			if (!known) {
				ok = false;
				continue;
			}
			if (!pl_cfg_uint(c, cv, cv->keys[i], true, pwhat, 1, 9, &g)) {
				ok = false;
				continue;
			}
			if (g > p->re.re_nsub) {
				pl_cfg_err(c, &cv->items[i]->pos,
					   "capture '%s' of %s is group %llu but the regex has %zu group%s",
					   cv->keys[i], pwhat, (unsigned long long)g,
					   p->re.re_nsub, p->re.re_nsub == 1 ? "" : "s");
				ok = false;
				continue;
			}
			captures[ncap++] = (struct pl_capture){ cv->keys[i],
								(unsigned)g };
		}
	}
	p->captures = captures;
	p->ncaptures = ncap;
	return ok ? p : NULL;
}

/* --------------------------------------------------------------- sections */

static const char *const no_caps[] = { NULL };
static const char *const ok_caps[] = { "version", "slot", NULL };
static const char *const fail_caps[] = { "reason", NULL };
static const char *const version_caps[] = { "version", "slot", "state", NULL };
static const char *const slot_caps[] = { "slot", NULL };
static const char *const progress_caps[] = { "percent", "done", "total", NULL };

static void load_console(struct pl_cfg *c, struct pl_board_type *t,
			 const struct pl_value *root)
{
	static const char *const keys[] = { "banner", "prompt", "boot_ok",
					    "boot_fail", "settled", "newline",
					    NULL };
	const struct pl_value *v = pl_cfg_get(c, root, "console", true,
					      "board type");

	if (!v || !pl_cfg_expect_map(c, v, "console"))
		return;
	pl_cfg_check_keys(c, v, keys, "console");
	t->console.banner = load_pattern(c, v, "banner", false, "console", no_caps);
	t->console.prompt = load_pattern(c, v, "prompt", false, "console", no_caps);
	t->console.boot_ok = load_pattern(c, v, "boot_ok", true, "console", ok_caps);
	t->console.boot_fail = load_pattern(c, v, "boot_fail", false, "console",
					    fail_caps);
	t->console.settled = load_pattern(c, v, "settled", false, "console",
					  no_caps);
	t->console.newline = pl_cfg_str(c, v, "newline", false, "console", "\n");
}

static void load_version(struct pl_cfg *c, struct pl_board_type *t,
			 const struct pl_value *root)
{
	static const char *const keys[] = { "command", "pattern", "timeout", NULL };
	const struct pl_value *v = pl_cfg_get(c, root, "version", false, "");

	t->version.timeout_ms = 2000;
	if (!v || !pl_cfg_expect_map(c, v, "version"))
		return;
	pl_cfg_check_keys(c, v, keys, "version");
	t->version.command = pl_cfg_str(c, v, "command", false, "version", NULL);
	t->version.pattern = load_pattern(c, v, "pattern", true, "version",
					  version_caps);
	pl_cfg_timeout(c, v, "timeout", false, "version", &t->version.timeout_ms);
	if (t->version.pattern && pl_pattern_group(t->version.pattern, "version") < 0)
		pl_cfg_err(c, &t->version.pattern->pos,
			   "version.pattern must capture 'version' (captures: {version: N})");
}

static void load_xmodem(struct pl_cfg *c, struct pl_board_type *t,
			const struct pl_value *x)
{
	static const char *const keys[] = { "command", "start", "progress", "done",
					    "error", "block_size", "timeout",
					    NULL };
	const char *w = "update.xmodem";
	uint64_t bs = 1024;

	t->update.method = PL_UPDATE_XMODEM;
	t->update.timeout_ms = 300000;
	if (!pl_cfg_expect_map(c, x, w))
		return;
	pl_cfg_check_keys(c, x, keys, w);
	t->update.command = pl_cfg_str(c, x, "command", true, w, NULL);
	t->update.start = load_pattern(c, x, "start", false, w, slot_caps);
	t->update.progress = load_pattern(c, x, "progress", false, w, progress_caps);
	t->update.done = load_pattern(c, x, "done", true, w, slot_caps);
	t->update.error = load_pattern(c, x, "error", true, w, fail_caps);
	pl_cfg_timeout(c, x, "timeout", false, w, &t->update.timeout_ms);
	if (pl_cfg_uint(c, x, "block_size", false, w, 0, UINT32_MAX, &bs) &&
	    bs != 128 && bs != 1024) {
		pl_cfg_err(c, &pl_value_get(x, "block_size")->pos,
			   "block_size must be 128 (XMODEM) or 1024 (XMODEM-1K), got %llu",
			   (unsigned long long)bs);
	}
	t->update.block_size = (unsigned)bs;
}

static void load_update(struct pl_cfg *c, struct pl_board_type *t,
			const struct pl_value *root)
{
	static const char *const keys[] = { "xmodem", "lua", NULL };
	const struct pl_value *v = pl_cfg_get(c, root, "update", false, "");
	const struct pl_value *x, *l;

	if (!v || !pl_cfg_expect_map(c, v, "update"))
		return;
	pl_cfg_check_keys(c, v, keys, "update");
	x = pl_value_get(v, "xmodem");
	l = pl_value_get(v, "lua");
	if (x && l) {
		pl_cfg_err(c, &v->pos,
			   "update takes one method: 'xmodem' or 'lua', not both");
		return;
	}
	if (!x && !l) {
		pl_cfg_err(c, &v->pos,
			   "update needs a method: 'xmodem: {...}' or 'lua: module.name'");
		return;
	}
	if (x) {
		load_xmodem(c, t, x);
		return;
	}
	t->update.method = PL_UPDATE_LUA;
	t->update.lua_module = pl_cfg_str(c, v, "lua", true, "update", NULL);
	if (pl_value_get(v, "lua"))
		t->update.lua_pos = pl_value_get(v, "lua")->pos;
	if (t->update.lua_module &&
	    strspn(t->update.lua_module,
		   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") !=
		    strlen(t->update.lua_module))
		pl_cfg_err(c, &l->pos,
			   "bad Lua module name '%s' (expected words joined by dots, as in vendor.update)",
			   t->update.lua_module);
}

static void load_confirm(struct pl_cfg *c, struct pl_board_type *t,
			 const struct pl_value *root)
{
	static const char *const keys[] = { "command", "pattern", NULL };
	const struct pl_value *v = pl_cfg_get(c, root, "confirm", false, "");

	if (!v || !pl_cfg_expect_map(c, v, "confirm"))
		return;
	pl_cfg_check_keys(c, v, keys, "confirm");
	t->confirm.command = pl_cfg_str(c, v, "command", true, "confirm", NULL);
	t->confirm.pattern = load_pattern(c, v, "pattern", true, "confirm",
					  slot_caps);
}

static void load_regions(struct pl_cfg *c, struct pl_board_type *t,
			 const struct pl_value *v)
{
	static const char *const keys[] = { "name", "offset", "size", NULL };
	struct pl_flash_region *r;
	size_t n = 0;

	if (v->kind != PL_VALUE_LIST) {
		pl_cfg_err(c, &v->pos, "flash.regions must be a list of {name, offset, size}, got %s",
			   pl_value_kind_name(v));
		return;
	}
	r = pl_arena_alloc(c->a, (v->n + 1) * sizeof(*r));
	if (!r) {
		pl_cfg_oom(c);
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct pl_value *e = v->items[i];
		struct pl_flash_region *cur = &r[n];
		size_t before = pl_cfg_errors(c);

		if (!pl_cfg_expect_map(c, e, "a flash region"))
			continue;
		pl_cfg_check_keys(c, e, keys, "flash region");
		cur->name = pl_cfg_str(c, e, "name", true, "flash region", NULL);
		pl_cfg_size(c, e, "offset", true, "flash region", &cur->offset);
		pl_cfg_size(c, e, "size", true, "flash region", &cur->size);
		cur->pos = e->pos;
		if (pl_cfg_errors(c) != before || !cur->name)
			continue;
		if (cur->size == 0 || cur->offset > t->flash.size ||
		    cur->size > t->flash.size - cur->offset) {
			pl_cfg_err(c, &e->pos,
				   "flash region '%s' (0x%llx + 0x%llx) does not fit in the flash (0x%llx bytes)",
				   cur->name, (unsigned long long)cur->offset,
				   (unsigned long long)cur->size,
				   (unsigned long long)t->flash.size);
			continue;
		}
		if (t->flash.sector &&
		    (cur->offset % t->flash.sector || cur->size % t->flash.sector)) {
			pl_cfg_err(c, &e->pos,
				   "flash region '%s' must start and end on a sector boundary (sector 0x%llx)",
				   cur->name, (unsigned long long)t->flash.sector);
			continue;
		}
		for (size_t j = 0; j < n; j++) {
			if (strcmp(r[j].name, cur->name) == 0) {
				pl_cfg_err(c, &e->pos,
					   "duplicate flash region '%s' (first at %u:%u)",
					   cur->name, r[j].pos.line, r[j].pos.col);
				goto next;
			}
			if (cur->offset < r[j].offset + r[j].size &&
			    r[j].offset < cur->offset + cur->size) {
				pl_cfg_err(c, &e->pos,
					   "flash region '%s' overlaps '%s' (at %u:%u)",
					   cur->name, r[j].name, r[j].pos.line,
					   r[j].pos.col);
				goto next;
			}
		}
		n++;
next:;
	}
	t->flash.regions = r;
	t->flash.nregions = n;
}

/* Returns false when the flash section had errors (so that region
 * look-ups elsewhere do not report a cascade). */
static bool load_flash(struct pl_cfg *c, struct pl_board_type *t,
		       const struct pl_value *root)
{
	static const char *const keys[] = { "base", "size", "sector", "page",
					    "regions", NULL };
	const struct pl_value *v = pl_cfg_get(c, root, "flash", false, "");
	const struct pl_value *regions;
	size_t before = pl_cfg_errors(c);

	if (!v)
		return true;
	if (!pl_cfg_expect_map(c, v, "flash"))
		return false;
	pl_cfg_check_keys(c, v, keys, "flash");
	pl_cfg_size(c, v, "base", false, "flash", &t->flash.base);
	pl_cfg_size(c, v, "size", true, "flash", &t->flash.size);
	pl_cfg_size(c, v, "sector", true, "flash", &t->flash.sector);
	pl_cfg_size(c, v, "page", true, "flash", &t->flash.page);
	if (pl_cfg_errors(c) != before) {
		t->flash.size = 0;
		return false;
	}
	if (!t->flash.sector || t->flash.size % t->flash.sector) {
		pl_cfg_err(c, &pl_value_get(v, "sector")->pos,
			   "flash sector size must divide the flash size (0x%llx)",
			   (unsigned long long)t->flash.size);
		return false;
	}
	if (!t->flash.page || t->flash.sector % t->flash.page) {
		pl_cfg_err(c, &pl_value_get(v, "page")->pos,
			   "flash page size must divide the sector size (0x%llx)",
			   (unsigned long long)t->flash.sector);
		return false;
	}
	regions = pl_cfg_get(c, v, "regions", false, "flash");
	if (regions)
		load_regions(c, t, regions);
	return pl_cfg_errors(c) == before;
}

static void load_addrs(struct pl_cfg *c, const struct pl_value *probe,
		       const char *key, const struct pl_named_addr **out,
		       size_t *nout)
{
	const struct pl_value *v = pl_cfg_get(c, probe, key, false, "probe");
	struct pl_named_addr *a;
	char *what;
	size_t n = 0;

	if (!v)
		return;
	what = pl_arena_printf(c->a, "probe.%s", key);
	if (!what) {
		pl_cfg_oom(c);
		return;
	}
	if (!pl_cfg_expect_map(c, v, what))
		return;
	a = pl_arena_alloc(c->a, (v->n + 1) * sizeof(*a));
	if (!a) {
		pl_cfg_oom(c);
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		uint64_t addr;

		if (!pl_cfg_uint(c, v, v->keys[i], true, what, 0, UINT64_MAX, &addr))
			continue;
		a[n++] = (struct pl_named_addr){ v->keys[i], addr, v->key_pos[i] };
	}
	*out = a;
	*nout = n;
}

static void load_probe(struct pl_cfg *c, struct pl_board_type *t,
		       const struct pl_value *root)
{
	static const char *const keys[] = { "breakpoints", "registers", NULL };
	const struct pl_value *v = pl_cfg_get(c, root, "probe", false, "");

	if (!v || !pl_cfg_expect_map(c, v, "probe"))
		return;
	pl_cfg_check_keys(c, v, keys, "probe");
	load_addrs(c, v, "breakpoints", &t->probe.breakpoints,
		   &t->probe.nbreakpoints);
	load_addrs(c, v, "registers", &t->probe.registers, &t->probe.nregisters);
}

static void load_recovery_region(struct pl_cfg *c, struct pl_board_type *t,
				 const struct pl_value *v, bool flash_ok)
{
	const char *region = pl_cfg_str(c, v, "region", true,
					"recovery (method: probe)", NULL);

	if (!region)
		return;
	t->recovery.region = pl_board_type_region(t, region);
	if (!t->recovery.region && flash_ok) {
		size_t n = t->flash.nregions;
		const char **names = pl_arena_alloc(c->a, (n + 1) * sizeof(*names));
		const char *near;

		if (!names) {
			pl_cfg_oom(c);
			return;
		}
		for (size_t i = 0; i < n; i++)
			names[i] = t->flash.regions[i].name;
		near = pl_closest(region, names, n);
		pl_cfg_err(c, &pl_value_get(v, "region")->pos,
			   "recovery region '%s' is not a flash region%s%s%s", region,
			   near ? " (did you mean '" : "", near ? near : "",
			   near ? "'?)" : "");
	}
}

/* method: exec: a command line, as a list (no shell), and its timeout. */
static void load_recovery_exec(struct pl_cfg *c, struct pl_board_type *t,
			       const struct pl_value *v)
{
	const struct pl_value *cmd = pl_cfg_get(c, v, "command", true,
						"recovery (method: exec)");
	const char *const *argv = NULL;
	size_t n = 0;

	t->recovery.timeout_ms = 60000;
	pl_cfg_timeout(c, v, "timeout", false, "recovery",
		       &t->recovery.timeout_ms);
	t->recovery.image = pl_cfg_str(c, v, "image", false, "recovery", NULL);
	if (!cmd)
		return;
	const char **expanded;

	if (cmd->kind != PL_VALUE_LIST) {
		pl_cfg_err(c, &cmd->pos, "recovery.command must be a list: "
			   "[program, arg, ...] (no shell)");
		return;
	}
	if (!pl_cfg_str_list(c, cmd, "recovery.command", &argv, &n))
		return;
	if (n == 0) {
		pl_cfg_err(c, &cmd->pos, "recovery.command is empty");
		return;
	}
	/* ${VAR} now (the environment, the lab's vars); %{...} per run */
	expanded = pl_arena_alloc(c->a, (n + 1) * sizeof(*expanded));
	if (!expanded) {
		pl_cfg_oom(c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		expanded[i] = pl_cfg_expand(c, cmd->items[i]);
		if (!expanded[i])
			return;
	}
	expanded[n] = NULL;
	t->recovery.command = expanded;
	t->recovery.ncommand = n;
}

/* A Lua module name: words joined by dots ("lib.gateway.update"). */
static bool valid_module(const char *s)
{
	size_t n = strlen(s);

	return n && s[0] != '.' && s[n - 1] != '.' && !strstr(s, "..") &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_.") == n;
}

/* method: lua: the module that carries out the dialog, its timeout, the
 * image it restores. */
static void load_recovery_lua(struct pl_cfg *c, struct pl_board_type *t,
			      const struct pl_value *v)
{
	t->recovery.timeout_ms = 60000;
	pl_cfg_timeout(c, v, "timeout", false, "recovery",
		       &t->recovery.timeout_ms);
	t->recovery.image = pl_cfg_str(c, v, "image", false, "recovery", NULL);
	t->recovery.lua_module = pl_cfg_str(c, v, "module", true,
					    "recovery (method: lua)", NULL);
	if (!t->recovery.lua_module)
		return;
	t->recovery.lua_pos = pl_value_get(v, "module")->pos;
	if (!valid_module(t->recovery.lua_module)) {
		pl_cfg_err(c, &t->recovery.lua_pos, "bad Lua module name '%s' "
			   "(expected words joined by dots, as in "
			   "lib.vendor.recover)", t->recovery.lua_module);
		t->recovery.lua_module = NULL;
	}
}

/*
 * boot_mode: {driver: NAME, OPTION: VALUE...}: a power driver of the
 * registry and its options by name (checked against the driver's; their
 * values are text, ${VAR} expanded now, %{NAME} per board when used).
 */
static void load_boot_mode(struct pl_cfg *c, struct pl_board_type *t,
			   const struct pl_value *root)
{
	const struct pl_value *v = pl_cfg_get(c, root, "boot_mode", false, "");
	const struct pl_value *dv;
	const struct pl_driver_info *d;
	struct pl_boot_mode_opt *opts;
	const char **keys;
	size_t n = 0, nkeys = 0;

	if (!v || !pl_cfg_expect_map(c, v, "boot_mode"))
		return;
	dv = pl_cfg_get(c, v, "driver", true, "boot_mode");
	if (!dv)
		return;
	if (dv->kind != PL_VALUE_SCALAR) {
		pl_cfg_err(c, &dv->pos, "boot_mode.driver must be a power "
			   "driver name, got %s", pl_value_kind_name(dv));
		return;
	}
	d = pl_driver_find(PL_FIXTURE_POWER, dv->str);
	if (!d || d->not_built) {
		pl_cfg_err(c, &dv->pos, "boot_mode: %s power driver '%s'%s%s "
			   "(`patchlab drivers` lists them)",
			   d ? "not built:" : "unknown", dv->str,
			   d ? ": " : "", d ? d->not_built : "");
		return;
	}
	while (d->options && d->options[nkeys].key)
		nkeys++;
	keys = pl_arena_alloc(c->a, (nkeys + 3) * sizeof(*keys));
	opts = pl_arena_alloc(c->a, (v->n + 1) * sizeof(*opts));
	if (!keys || !opts) {
		pl_cfg_oom(c);
		return;
	}
	keys[0] = "driver";
	for (size_t i = 0; i < nkeys; i++)
		keys[i + 1] = d->options[i].key;
	keys[nkeys + 1] = "settle";
	keys[nkeys + 2] = NULL;
	pl_cfg_check_keys(c, v, keys, "boot_mode");
	t->boot_mode.settle_ms = 20;
	pl_cfg_duration(c, v, "settle", false, "boot_mode",
			&t->boot_mode.settle_ms);
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->keys[i], "driver") == 0 ||
		    strcmp(v->keys[i], "settle") == 0 ||
		    !pl_driver_option(d, v->keys[i]))
			continue;
		if (v->items[i]->kind != PL_VALUE_SCALAR) {
			pl_cfg_err(c, &v->items[i]->pos, "boot_mode.%s must be "
				   "a scalar, got %s", v->keys[i],
				   pl_value_kind_name(v->items[i]));
			continue;
		}
		opts[n].key = v->keys[i];
		opts[n].value = pl_cfg_expand(c, v->items[i]);
		opts[n].pos = v->items[i]->pos;
		if (opts[n].value)
			n++;
	}
	for (size_t i = 0; i < nkeys; i++) {
		bool have = false;

		for (size_t k = 0; k < n; k++)
			have |= strcmp(opts[k].key, d->options[i].key) == 0;
		if (d->options[i].required && !have &&
		    !pl_value_get(v, d->options[i].key))
			pl_cfg_err(c, &v->pos, "missing required key '%s' in "
				   "boot_mode (driver %s: %s)",
				   d->options[i].key, d->name,
				   d->options[i].help);
	}
	t->boot_mode.driver = d;
	t->boot_mode.opts = opts;
	t->boot_mode.nopts = n;
	t->boot_mode.pos = v->pos;
}

static void load_recovery(struct pl_cfg *c, struct pl_board_type *t,
			  const struct pl_value *root, bool flash_ok)
{
	static const char *const keys[] = { "method", "image", "region",
					    "command", "timeout", "module",
					    "boot_mode", NULL };
	static const char *const methods[] = { "none", "probe", "exec",
					       "manual", "lua", NULL };
	static const enum pl_recovery_method method_of[] = {
		PL_RECOVERY_NONE, PL_RECOVERY_PROBE, PL_RECOVERY_EXEC,
		PL_RECOVERY_MANUAL, PL_RECOVERY_LUA };
	const struct pl_value *bm;
	const struct pl_value *v = pl_cfg_get(c, root, "recovery", false, "");
	int m = 0;

	if (!v || !pl_cfg_expect_map(c, v, "recovery"))
		return;
	pl_cfg_check_keys(c, v, keys, "recovery");
	if (!pl_cfg_enum(c, v, "method", true, "recovery", methods, &m))
		return;
	t->recovery.method = method_of[m];
	switch (t->recovery.method) {
	case PL_RECOVERY_PROBE:
		t->recovery.image = pl_cfg_str(c, v, "image", true,
					       "recovery (method: probe)", NULL);
		load_recovery_region(c, t, v, flash_ok);
		break;
	case PL_RECOVERY_EXEC:
		load_recovery_exec(c, t, v);
		break;
	case PL_RECOVERY_LUA:
		load_recovery_lua(c, t, v);
		break;
	default:
		break;
	}
	if (pl_value_get(v, "module") && t->recovery.method != PL_RECOVERY_LUA)
		pl_cfg_err(c, &pl_value_get(v, "module")->pos, "recovery.module "
			   "is for method: lua");
	bm = pl_value_get(v, "boot_mode");
	if (!bm)
		return;
	if (t->recovery.method != PL_RECOVERY_EXEC) {
		pl_cfg_err(c, &bm->pos, "recovery.boot_mode is for method: exec "
			   "(a Lua module calls board:boot_mode() itself)");
		return;
	}
	pl_cfg_bool(c, v, "boot_mode", false, "recovery",
		    &t->recovery.boot_mode);
	if (t->recovery.boot_mode && !t->boot_mode.driver)
		pl_cfg_err(c, &bm->pos, "recovery.boot_mode: the board type "
			   "has no boot_mode control (boot_mode: {driver: ..., "
			   "...})");
}

/* --------------------------------------------------------------- the type */

static bool valid_name(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
			     strlen(s);
}

struct pl_board_type *pl_board_type_from_tree(struct pl_cfg *c,
					      const struct pl_value *root)
{
	static const char *const keys[] = { "name", "description", "console",
					    "boot_timeout", "version", "update",
					    "confirm", "flash", "probe",
					    "recovery", "boot_mode",
					    "cut_tolerance", NULL };
	struct pl_board_type *t;
	const char *base, *dot;
	size_t before = pl_cfg_errors(c);
	bool flash_ok;

	if (!root) {
		pl_cfg_err(c, &(struct pl_srcpos){ c->file, 1, 1 },
			   "empty board type (expected name:, console: ...)");
		return NULL;
	}
	if (!pl_cfg_expect_map(c, root, "a board type file"))
		return NULL;
	t = pl_arena_alloc(c->a, sizeof(*t));
	if (!t)
		return pl_cfg_oom(c);
	t->file = c->file;
	t->pos = root->pos;
	pl_cfg_check_keys(c, root, keys, "board type");
	t->name = pl_cfg_str(c, root, "name", true, "board type", NULL);
	t->description = pl_cfg_str(c, root, "description", false, "board type", "");
	if (t->name && !valid_name(t->name)) {
		pl_cfg_err(c, &pl_value_get(root, "name")->pos,
			   "bad board type name '%s' (letters, digits, '-', '_', '.')",
			   t->name);
	} else if (t->name) {
		/* The lab finds a type by its file name: they must agree. */
		base = strrchr(c->file, '/');
		base = base ? base + 1 : c->file;
		dot = strrchr(base, '.');
		if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0) &&
		    (strlen(t->name) != (size_t)(dot - base) ||
		     strncmp(base, t->name, (size_t)(dot - base)) != 0))
			pl_cfg_err(c, &pl_value_get(root, "name")->pos,
				   "board type '%s' is in file '%s': the name must match the file name",
				   t->name, base);
	}
	load_console(c, t, root);
	t->boot_timeout_ms = 10000;
	pl_cfg_timeout(c, root, "boot_timeout", false, "board type",
		       &t->boot_timeout_ms);
	t->cut_tolerance_ms = 1;
	pl_cfg_timeout(c, root, "cut_tolerance", false, "board type",
		       &t->cut_tolerance_ms);
	load_version(c, t, root);
	load_update(c, t, root);
	load_confirm(c, t, root);
	flash_ok = load_flash(c, t, root);
	load_probe(c, t, root);
	load_boot_mode(c, t, root);
	load_recovery(c, t, root, flash_ok);
	return pl_cfg_errors(c) == before && !c->oom ? t : NULL;
}

static void *build_board_type(struct pl_cfg *c, const struct pl_value *root)
{
	return pl_board_type_from_tree(c, root);
}

int pl_board_type_load(struct pl_board_type **out, const char *path,
		       const struct pl_config_opts *opts, struct pl_diags *diags)
{
	struct board_type_own *own = calloc(1, sizeof(*own));
	void *t;
	int rc;

	*out = NULL;
	if (!own)
		return -ENOMEM;
	rc = pl_cfg_load_file(path, opts, diags, &own->priv, build_board_type,
			      &t);
	if (rc) {
		free(own);
		return rc;
	}
	own->t = *(struct pl_board_type *)t;
	*out = &own->t;
	return 0;
}

void pl_board_type_free(struct pl_board_type *t)
{
	struct board_type_own *own = (struct board_type_own *)t;

	if (!t)
		return;
	pl_cfg_priv_release(&own->priv);
	free(own);
}

const struct pl_flash_region *pl_board_type_region(const struct pl_board_type *t,
						   const char *name)
{
	for (size_t i = 0; t && i < t->flash.nregions; i++)
		if (strcmp(t->flash.regions[i].name, name) == 0)
			return &t->flash.regions[i];
	return NULL;
}

static int find_addr(const struct pl_named_addr *a, size_t n, const char *name,
		     uint64_t *addr)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(a[i].name, name) == 0) {
			*addr = a[i].addr;
			return 0;
		}
	}
	return -ENOENT;
}

int pl_board_type_breakpoint(const struct pl_board_type *t, const char *name,
			     uint64_t *addr)
{
	return find_addr(t->probe.breakpoints, t->probe.nbreakpoints, name, addr);
}

int pl_board_type_register(const struct pl_board_type *t, const char *name,
			   uint64_t *addr)
{
	return find_addr(t->probe.registers, t->probe.nregisters, name, addr);
}
