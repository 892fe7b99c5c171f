/* SPDX-License-Identifier: MIT */
/*
 * The lab inventory (lab.yaml): boards, their fixtures validated against
 * the driver registry, the board types they reference, and the lab-wide
 * fixture defaults. See docs/configuration.md.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "patchlab/datadir.h"
#include "patchlab/error.h"
#include "patchlab/strbuf.h"
#include "config_internal.h"


/* A board type as the lab resolved it (t NULL: not found or broken). */
struct type_slot {
	const char *name;
	struct pl_board_type *t;
};

/* Per-class defaults, validated once. */
struct class_defaults {
	const char *driver;
	const struct pl_value *driver_v;
	struct pl_opt *opts;
	size_t n;
};

struct lab_load {
	struct pl_cfg *c;
	struct pl_lab *lab;
	const char *const *lab_paths;  /* lab.boards_path, resolved */
	struct type_slot *types;
	size_t ntypes;
	struct class_defaults defaults[PL_FIXTURE_NCLASSES];
};

/* ------------------------------------------------------------ board types */

static const char *env(const struct pl_config_opts *o, const char *name)
{
	if (o && o->getenv)
		return o->getenv(o->env_user_data, name);
	return getenv(name);
}

/* Call fn(dir, ud) for each directory of the board-type search path until it
 * returns non-zero; returns that value. */
static int each_board_dir(const struct pl_config_opts *opts,
			  const char *const *extra,
			  int (*fn)(const char *dir, void *ud), void *ud)
{
	const char *envp = env(opts, "PL_BOARDS_PATH");
	char shipped[PATH_MAX];
	int rc;

	for (size_t i = 0; opts && opts->boards_path && opts->boards_path[i]; i++)
		if ((rc = fn(opts->boards_path[i], ud)))
			return rc;
	for (size_t i = 0; extra && extra[i]; i++)
		if ((rc = fn(extra[i], ud)))
			return rc;
	if (envp && *envp) {
		char *copy = strdup(envp), *save = NULL;

		if (!copy)
			return -ENOMEM;
		for (char *d = strtok_r(copy, ":", &save); d;
		     d = strtok_r(NULL, ":", &save)) {
			if ((rc = fn(d, ud))) {
				free(copy);
				return rc;
			}
		}
		free(copy);
	}
	/* last, the board types shipped with patchlab (patchlab/datadir.h) */
	if (pl_data_path(shipped, sizeof(shipped), "boards") == 0)
		return fn(shipped, ud);
	return 0;
}

struct find_ud {
	const char *name;
	char *found;
};

static int try_dir(const char *dir, void *ud)
{
	struct find_ud *f = ud;
	char *p;

	if (asprintf(&p, "%s/%s.yaml", dir, f->name) < 0)
		return -ENOMEM;
	if (access(p, R_OK) == 0) {
		f->found = p;
		return 1;
	}
	free(p);
	return 0;
}

/* NULL with errno ENOMEM when memory ran out, ENOENT when not found. */
char *pl_board_type_find(const char *name, const struct pl_config_opts *opts,
			 const char *const *extra)
{
	struct find_ud f = { name, NULL };

	errno = ENOENT;
	if (!*name || strchr(name, '/') || name[0] == '.')
		return NULL;
	if (each_board_dir(opts, extra, try_dir, &f) == -ENOMEM)
		errno = ENOMEM;
	return f.found;
}

struct known_ud {
	struct pl_cfg *c;
	const char **names;
	size_t n, cap;
};

/* Collect NAME of every NAME.yaml (first occurrence wins). */
static int list_dir(const char *dir, void *ud)
{
	struct known_ud *k = ud;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		bool dup = false;
		char *name;

		if (len <= 5 || strcmp(de->d_name + len - 5, ".yaml") != 0 ||
		    de->d_name[0] == '.')
			continue;
		name = pl_arena_strndup(k->c->a, de->d_name, len - 5);
		if (!name)
			break;
		for (size_t i = 0; i < k->n; i++)
			dup |= strcmp(k->names[i], name) == 0;
		if (dup)
			continue;
		if (k->n + 1 >= k->cap) {
			size_t cap = k->cap ? k->cap * 2 : 16;
			const char **v = pl_arena_alloc(k->c->a, cap * sizeof(*v));

			if (!v)
				break;
			if (k->n)
				memcpy(v, k->names, k->n * sizeof(*v));
			k->names = v;
			k->cap = cap;
		}
		k->names[k->n++] = name;
	}
	closedir(d);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void unknown_type(struct lab_load *l, const struct pl_value *v)
{
	struct known_ud k = { .c = l->c };
	const char *near;
	char list[512];
	size_t used = 0;

	each_board_dir(l->c->opts, l->lab_paths, list_dir, &k);
	near = pl_closest(v->str, k.names, k.n);
	if (near) {
		pl_cfg_err(l->c, &v->pos,
			   "unknown board type '%s' (did you mean '%s'?)", v->str,
			   near);
		return;
	}
	if (k.n)
		qsort(k.names, k.n, sizeof(*k.names), cmp_str);
	list[0] = '\0';
	for (size_t i = 0; i < k.n && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
					 i ? ", " : "", k.names[i]);
	pl_cfg_err(l->c, &v->pos, "unknown board type '%s' (known: %s)", v->str,
		   k.n ? list : "none found on the board path");
}

static const struct pl_board_type *resolve_type(struct lab_load *l,
						const struct pl_value *v,
						bool *broken)
{
	struct type_slot *slot;
	const struct pl_value *root;
	struct pl_cfg tc;
	char *path, *buf;
	size_t len;
	int rc;

	*broken = false;
	for (size_t i = 0; i < l->ntypes; i++) {
		if (strcmp(l->types[i].name, v->str) == 0) {
			*broken = !l->types[i].t;
			return l->types[i].t;
		}
	}
	slot = &l->types[l->ntypes++];
	slot->name = v->str;
	slot->t = NULL;
	*broken = true;
	path = pl_board_type_find(v->str, l->c->opts, l->lab_paths);
	if (!path) {
		if (errno == ENOMEM)
			l->c->oom = true; /* not "unknown": we could not look */
		else
			unknown_type(l, v);
		return NULL;
	}
	pl_cfg_init(&tc, l->c->priv, l->c->opts, l->c->d, path);
	if (tc.oom) {
		/* tc.file is path itself then: nothing to read it with */
		l->c->oom = true;
		free(path);
		return NULL;
	}
	free(path);
	rc = pl_config_read_file(tc.file, tc.d, &buf, &len);
	if (rc) {
		if (rc == -ENOMEM)
			l->c->oom = true;
		return NULL;
	}
	rc = pl_yaml_parse(tc.a, tc.file, buf, len, tc.d, &root);
	if (rc == 0)
		slot->t = pl_board_type_from_tree(&tc, root);
	else if (rc == -ENOMEM)
		tc.oom = true;
	free(buf);
	if (tc.oom)
		l->c->oom = true;
	*broken = !slot->t;
	return slot->t;
}

/* --------------------------------------------------------------- fixtures */

static const char *const opt_type_names[] = {
	[PL_OPT_STRING] = "a string",   [PL_OPT_INT] = "an integer",
	[PL_OPT_BOOL] = "true or false", [PL_OPT_PATH] = "a path",
	[PL_OPT_ADDRESS] = "host:port", [PL_OPT_LIST] = "a list of strings",
};

/* Check one option value against its spec (and driver d's ranges) and
 * fill *o. */
static bool opt_from_value(struct pl_cfg *c, const struct pl_driver_info *d,
			   const struct pl_opt_spec *spec, const char *key, const struct pl_value *v,
			   const char *what, struct pl_opt *o)
{
	long lv;
	bool bv;
	char *host;
	unsigned port;

	memset(o, 0, sizeof(*o));
	o->key = key;
	o->pos = v->pos;
	if (spec->type == PL_OPT_LIST) {
		if (v->kind == PL_VALUE_SCALAR && !pl_value_is_null(v)) {
			pl_cfg_err(c, &v->pos,
				   "'%s' in %s must be a list of strings (as in [prog, arg]), got a scalar",
				   key, what);
			return false;
		}
		return pl_cfg_str_list(c, v, key, &o->list, &o->list_len);
	}
	if (v->kind != PL_VALUE_SCALAR) {
		pl_cfg_err(c, &v->pos, "'%s' in %s must be %s, got %s", key, what,
			   opt_type_names[spec->type], pl_value_kind_name(v));
		return false;
	}
	o->value = v->str;
	switch (spec->type) {
	case PL_OPT_INT:
		if (pl_parse_long(v->str, &lv) < 0) {
			pl_cfg_err(c, &v->pos, "'%s' in %s must be an integer, got '%s'",
				   key, what, v->str);
			return false;
		}
		for (const struct pl_opt_range *r = d->ranges; r && r->key;
		     r++) {
			if (strcmp(r->key, key) || (lv >= r->min && lv <= r->max))
				continue;
			pl_cfg_err(c, &v->pos,
				   "'%s' in %s must be %ld to %ld for driver %s, got %s",
				   key, what, r->min, r->max, d->name, v->str);
			return false;
		}
		return true;
	case PL_OPT_BOOL:
		if (pl_parse_bool(v->str, &bv) < 0) {
			pl_cfg_err(c, &v->pos, "'%s' in %s must be true or false, got '%s'",
				   key, what, v->str);
			return false;
		}
		return true;
	case PL_OPT_PATH:
		o->value = pl_cfg_expand(c, v);
		if (!o->value)
			return false;
		if (!*o->value) {
			pl_cfg_err(c, &v->pos, "'%s' in %s must be a path, got nothing",
				   key, what);
			return false;
		}
		o->value = pl_cfg_join(c, c->dir, o->value);
		return o->value != NULL;
	case PL_OPT_ADDRESS:
		switch (pl_parse_address(v->str, &host, &port)) {
		case 0:
			break;
		case -ENOMEM:
			c->oom = true;
			return false;
		default:
			pl_cfg_err(c, &v->pos,
				   "'%s' in %s must be host:port (as in 127.0.0.1:3333), got '%s'",
				   key, what, v->str);
			return false;
		}
		free(host);
		return true;
	default:
		return true;
	}
}

static const char **driver_names(struct pl_cfg *c, enum pl_fixture_class cls,
				 size_t *n, char *list, size_t listlen)
{
	const struct pl_driver_info *d;
	const char **names;
	size_t count = 0, used = 0;

	while (pl_driver_at(cls, count))
		count++;
	names = pl_arena_alloc(c->a, (count + 1) * sizeof(*names));
	if (!names)
		return pl_cfg_oom(c);
	list[0] = '\0';
	for (size_t i = 0; (d = pl_driver_at(cls, i)) != NULL; i++) {
		names[i] = d->name;
		if (used < listlen)
			used += (size_t)snprintf(list + used, listlen - used,
						 "%s%s", i ? ", " : "", d->name);
	}
	*n = count;
	return names;
}

static const struct pl_driver_info *find_driver(struct pl_cfg *c,
						enum pl_fixture_class cls,
						const struct pl_value *v)
{
	const struct pl_driver_info *d;
	const char **names, *near;
	char list[512];
	size_t n = 0;

	if (v->kind != PL_VALUE_SCALAR) {
		pl_cfg_err(c, &v->pos, "'driver' must be a driver name, got %s",
			   pl_value_kind_name(v));
		return NULL;
	}
	d = pl_driver_find(cls, v->str);
	if (d && d->not_built) {
		pl_cfg_err(c, &v->pos, "%s driver '%s' is not built into this "
			   "patchlab: %s", pl_fixture_class_name(cls), v->str,
			   d->not_built);
		return NULL;
	}
	if (d)
		return d;
	names = driver_names(c, cls, &n, list, sizeof(list));
	if (!names)
		return NULL;
	near = pl_closest(v->str, names, n);
	if (near)
		pl_cfg_err(c, &v->pos,
			   "unknown %s driver '%s' (did you mean '%s'? known %s drivers: %s)",
			   pl_fixture_class_name(cls), v->str, near,
			   pl_fixture_class_name(cls), list);
	else
		pl_cfg_err(c, &v->pos, "unknown %s driver '%s' (known %s drivers: %s)",
			   pl_fixture_class_name(cls), v->str,
			   pl_fixture_class_name(cls), list);
	return NULL;
}

/* The keys a driver accepts, "driver" first, for check_keys. */
static const char **driver_keys(struct pl_cfg *c, const struct pl_driver_info *d)
{
	size_t n = 0;
	const char **keys;

	while (d->options && d->options[n].key)
		n++;
	keys = pl_arena_alloc(c->a, (n + 2) * sizeof(*keys));
	if (!keys)
		return pl_cfg_oom(c);
	keys[0] = "driver";
	for (size_t i = 0; i < n; i++)
		keys[i + 1] = d->options[i].key;
	return keys;
}

/* Does the fixture name a resource (a path, an address) that two boards
 * cannot share? A virtual driver with no options names none. */
static bool names_resource(const struct pl_fixture_cfg *f)
{
	for (size_t i = 0; i < f->opts.n; i++) {
		const struct pl_opt_spec *s = pl_driver_option(f->driver,
							       f->opts.v[i].key);

		if (s && (s->type == PL_OPT_PATH || s->type == PL_OPT_ADDRESS))
			return true;
	}
	return false;
}

static const struct pl_fixture_cfg *load_fixture(struct lab_load *l,
						 const struct pl_value *board,
						 enum pl_fixture_class cls,
						 bool required,
						 const char *board_what)
{
	struct pl_cfg *c = l->c;
	const char *cname = pl_fixture_class_name(cls);
	const struct class_defaults *def = &l->defaults[cls];
	const struct pl_value *v = pl_cfg_get(c, board, cname, required, board_what);
	const struct pl_value *dv;
	const struct pl_driver_info *d;
	struct pl_fixture_cfg *f;
	struct pl_opt *opts;
	const char **keys;
	size_t n = 0, before = pl_cfg_errors(c), cap;

	if (!v || !pl_cfg_expect_map(c, v, cname))
		return NULL;
	dv = pl_value_get(v, "driver");
	if (!dv && def->driver_v)
		dv = def->driver_v;
	if (!dv) {
		pl_cfg_err(c, &v->pos, "missing required key 'driver' in %s", cname);
		return NULL;
	}
	d = find_driver(c, cls, dv);
	if (!d)
		return NULL;
	keys = driver_keys(c, d);
	if (!keys)
		return NULL;
	pl_cfg_check_keys(c, v, keys, cname);
	cap = v->n + def->n + 1;
	opts = pl_arena_alloc(c->a, cap * sizeof(*opts));
	f = pl_arena_alloc(c->a, sizeof(*f));
	if (!opts || !f)
		return pl_cfg_oom(c);
	for (size_t i = 0; i < v->n; i++) {
		const struct pl_opt_spec *s = pl_driver_option(d, v->keys[i]);

		if (!s || pl_value_is_null(v->items[i]))
			continue;
		if (opt_from_value(c, d, s, v->keys[i], v->items[i], cname,
				   &opts[n]))
			n++;
	}
	/* Lab defaults fill what the board leaves out, for options this
	 * driver takes (a console default baud means nothing to a pty). */
	for (size_t i = 0; i < def->n; i++) {
		if (pl_value_get(v, def->opts[i].key) ||
		    !pl_driver_option(d, def->opts[i].key))
			continue;
		opts[n++] = def->opts[i];
	}
	for (const struct pl_opt_spec *s = d->options; s && s->key; s++) {
		bool have = false;

		for (size_t i = 0; i < n; i++)
			have |= strcmp(opts[i].key, s->key) == 0;
		if (s->required && !have && !pl_value_get(v, s->key) &&
		    !pl_cfg_was_typo(c, v, s->key))
			pl_cfg_err(c, &v->pos,
				   "missing required key '%s' in %s (driver %s: %s)",
				   s->key, cname, d->name, s->help);
	}
	if (pl_cfg_errors(c) != before)
		return NULL;
	f->cls = cls;
	f->driver = d;
	f->opts.v = opts;
	f->opts.n = n;
	f->pos = v->pos;
	return f;
}

/* -------------------------------------------------------------- defaults */

static void load_defaults(struct lab_load *l, const struct pl_value *root)
{
	static const char *const keys[] = { "power", "console", "probe", NULL };
	struct pl_cfg *c = l->c;
	const struct pl_value *v = pl_cfg_get(c, root, "defaults", false, "lab");

	if (!v || !pl_cfg_expect_map(c, v, "defaults"))
		return;
	pl_cfg_check_keys(c, v, keys, "defaults");
	for (int cls = 0; cls < PL_FIXTURE_NCLASSES; cls++) {
		const char *cname = pl_fixture_class_name(cls);
		const struct pl_value *m = pl_cfg_get(c, v, cname, false, "defaults");
		struct class_defaults *def = &l->defaults[cls];
		const struct pl_driver_info *d;
		char *what;

		if (!m)
			continue;
		what = pl_arena_printf(c->a, "defaults.%s", cname);
		if (!what) {
			pl_cfg_oom(c);
			return;
		}
		if (!pl_cfg_expect_map(c, m, what))
			continue;
		def->opts = pl_arena_alloc(c->a, (m->n + 1) * sizeof(*def->opts));
		if (!def->opts) {
			pl_cfg_oom(c);
			return;
		}
		for (size_t i = 0; i < m->n; i++) {
			const struct pl_opt_spec *s = NULL;
			const struct pl_driver_info *sd = NULL;
			const char *key = m->keys[i];
			const char **all = NULL, *near;
			size_t nall = 0;

			if (strcmp(key, "driver") == 0) {
				if (find_driver(c, cls, m->items[i])) {
					def->driver = m->items[i]->str;
					def->driver_v = m->items[i];
				}
				continue;
			}
			/* Any driver of the class that takes the key decides
			 * its type; collect all keys for the suggestion. */
			for (size_t j = 0; (d = pl_driver_at(cls, j)) != NULL; j++) {
				for (const struct pl_opt_spec *o = d->options;
				     o && o->key; o++) {
					if (!s && strcmp(o->key, key) == 0) {
						s = o;
						sd = d;
					}
					nall++;
				}
			}
			if (s) {
				if (opt_from_value(c, sd, s, key, m->items[i], what,
						   &def->opts[def->n]))
					def->n++;
				continue;
			}
			all = pl_arena_alloc(c->a, (nall + 1) * sizeof(*all));
			if (!all) {
				pl_cfg_oom(c);
				return;
			}
			nall = 0;
			for (size_t j = 0; (d = pl_driver_at(cls, j)) != NULL; j++)
				for (const struct pl_opt_spec *o = d->options;
				     o && o->key; o++)
					all[nall++] = o->key;
			near = pl_closest(key, all, nall);
			if (near)
				pl_cfg_err(c, &m->key_pos[i],
					   "unknown key '%s' in %s (did you mean '%s'?)",
					   key, what, near);
			else
				pl_cfg_err(c, &m->key_pos[i],
					   "unknown key '%s' in %s: no %s driver takes it",
					   key, what, cname);
		}
	}
}

/* ----------------------------------------------------------------- boards */

static bool valid_id(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
			     strlen(s);
}

/* ------------------------------------------------- shared ids, fixtures */

/*
 * Two boards with one id, or on one relay channel or console, are found by
 * sorting (key, board index) pairs: n log n, where comparing every pair
 * took minutes for a lab of 60,000 boards. Each later board of a group is
 * reported against the group's first, in board order.
 */
struct dup_key {
	const char *key;
	size_t idx;
};

static int cmp_dup_key(const void *a, const void *b)
{
	const struct dup_key *x = a, *y = b;
	int d = strcmp(x->key, y->key);

	if (d)
		return d;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* first[i] = index of the first board with the same key as board i, or
 * SIZE_MAX (also for boards with no key). keys[k].key NULL: no key. */
static void first_of_groups(struct dup_key *keys, size_t n, size_t *first)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		first[i] = SIZE_MAX;
		if (keys[i].key)
			keys[m++] = keys[i];
	}
	qsort(keys, m, sizeof(*keys), cmp_dup_key);
	for (size_t i = 1; i < m; i++) {
		if (strcmp(keys[i].key, keys[i - 1].key) == 0)
			first[keys[i].idx] = first[keys[i - 1].idx] != SIZE_MAX
						     ? first[keys[i - 1].idx]
						     : keys[i - 1].idx;
	}
}

static int cmp_opt_key(const void *a, const void *b)
{
	return strcmp((*(const struct pl_opt *const *)a)->key,
		      (*(const struct pl_opt *const *)b)->key);
}

/* The fixture as a string, equal for two fixtures exactly when they have
 * one driver and the same options (driver, then options in key order,
 * every part prefixed by its length), in the arena; NULL when out of
 * memory. */
static const char *fixture_key(struct pl_cfg *c, const struct pl_fixture_cfg *f)
{
	const struct pl_opt **o = malloc((f->opts.n + 1) * sizeof(*o));
	struct pl_strbuf sb = { 0 };
	const char *key = NULL;
	int rc;

	if (!o)
		return pl_cfg_oom(c);
	for (size_t i = 0; i < f->opts.n; i++)
		o[i] = &f->opts.v[i];
	qsort(o, f->opts.n, sizeof(*o), cmp_opt_key);
	rc = pl_strbuf_puts(&sb, f->driver->name);
	for (size_t i = 0; !rc && i < f->opts.n; i++) {
		const char *v = o[i]->value ? o[i]->value : "";

		rc = pl_strbuf_printf(&sb, " %zu:%s%zu:%s%zu", strlen(o[i]->key),
				      o[i]->key, strlen(v), v, o[i]->list_len);
		for (size_t j = 0; !rc && j < o[i]->list_len; j++)
			rc = pl_strbuf_printf(&sb, " %zu:%s",
					      strlen(o[i]->list[j]),
					      o[i]->list[j]);
	}
	if (!rc)
		key = pl_arena_strdup(c->a, sb.s);
	pl_strbuf_free(&sb);
	free(o);
	return key ? key : pl_cfg_oom(c);
}

static void check_shared(struct lab_load *l, const struct pl_value *boards)
{
	struct pl_cfg *c = l->c;
	const struct pl_board_cfg *bv = l->lab->boards;
	size_t n = boards->n;
	struct dup_key *keys = malloc((n + 1) * sizeof(*keys));
	size_t *first = malloc((n + 1) * sizeof(*first));

	if (!keys || !first) {
		pl_cfg_oom(c);
		goto out_free;
	}
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct dup_key){ bv[i].id, i };
	first_of_groups(keys, n, first);
	for (size_t i = 0; i < n; i++) {
		const struct pl_board_cfg *o;

		if (first[i] == SIZE_MAX)
			continue;
		o = &bv[first[i]];
		pl_cfg_err(c, &pl_value_get(boards->items[i], "id")->pos,
			   "duplicate board id '%s' (first at %u:%u)", bv[i].id,
			   o->pos.line, o->pos.col);
	}
	/* Two boards on one relay channel or console would cut each other. */
	for (int cls = 0; cls < PL_FIXTURE_NCLASSES; cls++) {
		for (size_t i = 0; i < n; i++) {
			const struct pl_fixture_cfg *f = bv[i].fixture[cls];

			keys[i] = (struct dup_key){ NULL, i };
			if (f && names_resource(f)) {
				keys[i].key = fixture_key(c, f);
				if (!keys[i].key)
					goto out_free;
			}
		}
		first_of_groups(keys, n, first);
		for (size_t i = 0; i < n; i++) {
			const struct pl_board_cfg *o;

			if (first[i] == SIZE_MAX)
				continue;
			o = &bv[first[i]];
			pl_cfg_err(c, &bv[i].fixture[cls]->pos,
				   "%s is the same fixture as board '%s''s (at %u:%u): boards cannot share one",
				   pl_fixture_class_name(cls), o->id ? o->id : "?",
				   o->fixture[cls]->pos.line,
				   o->fixture[cls]->pos.col);
		}
	}
out_free:
	free(keys);
	free(first);
}

/* `vars:` of map (the lab's or a board's): a map of scalars, or NULL. */
static const struct pl_value *load_vars(struct pl_cfg *c,
					const struct pl_value *map,
					const char *key)
{
	const struct pl_value *vars = pl_value_get(map, key);
	bool ok = true;

	if (!vars || pl_value_is_null(vars) ||
	    !pl_cfg_expect_map(c, vars, "vars"))
		return NULL;
	for (size_t i = 0; i < vars->n; i++) {
		if (vars->items[i]->kind != PL_VALUE_SCALAR) {
			pl_cfg_err(c, &vars->items[i]->pos,
				   "vars.%s must be a scalar (number, string, "
				   "bool), got %s", vars->keys[i],
				   pl_value_kind_name(vars->items[i]));
			ok = false;
		}
	}
	return ok ? vars : NULL;
}

static void load_board(struct lab_load *l, const struct pl_value *bv,
		       struct pl_board_cfg *b)
{
	static const char *const keys[] = { "id", "type", "tags", "power",
					    "console", "probe", "vars", "images",
					    NULL };
	struct pl_cfg *c = l->c;
	const struct pl_value *tv;
	const char *what = "board";
	bool broken;

	b->pos = bv->pos;
	pl_cfg_check_keys(c, bv, keys, "board");
	b->id = pl_cfg_str(c, bv, "id", true, "board", NULL);
	if (b->id) {
		const struct pl_value *idv = pl_value_get(bv, "id");

		what = pl_arena_printf(c->a, "board '%s'", b->id);
		if (!what) {
			pl_cfg_oom(c);
			return;
		}
		if (strlen(b->id) > PL_BOARD_ID_MAX) {
			/* it names files and log lines: keep it short */
			pl_cfg_err(c, &idv->pos,
				   "board id '%.16s...' is too long (%zu characters, at most %d)",
				   b->id, strlen(b->id), PL_BOARD_ID_MAX);
			b->id = NULL;
		} else if (!valid_id(b->id)) {
			pl_cfg_err(c, &idv->pos,
				   "bad board id '%s' (letters, digits, '-', '_', '.')",
				   b->id);
			b->id = NULL;
		}
	}
	tv = pl_cfg_get(c, bv, "type", true, what);
	if (tv && tv->kind != PL_VALUE_SCALAR)
		pl_cfg_err(c, &tv->pos, "'type' in %s must be a board type name, got %s",
			   what, pl_value_kind_name(tv));
	else if (tv)
		b->type = resolve_type(l, tv, &broken);
	pl_cfg_str_list(c, pl_value_get(bv, "tags"), "tags", &b->tags, &b->ntags);
	for (int cls = 0; cls < PL_FIXTURE_NCLASSES; cls++)
		b->fixture[cls] = load_fixture(l, bv, cls, cls != PL_FIXTURE_PROBE,
					       what);
	b->vars = load_vars(c, bv, "vars");
	b->lab_vars = l->lab->vars;
	pl_cfg_images(c, pl_value_get(bv, "images"), false, &b->images,
		      &b->nimages);
}

static void load_lab_section(struct lab_load *l, const struct pl_value *root)
{
	static const char *const keys[] = { "name", "boards_path", "vars",
					    NULL };
	struct pl_cfg *c = l->c;
	const struct pl_value *v = pl_cfg_get(c, root, "lab", false, "");
	const struct pl_value *bp;
	const char **out;
	size_t n;

	l->lab->name = "";
	if (!v || !pl_cfg_expect_map(c, v, "lab"))
		return;
	pl_cfg_check_keys(c, v, keys, "lab");
	/* first: the rest of the file may use them as ${NAME} */
	l->lab->vars = load_vars(c, v, "vars");
	c->vars = l->lab->vars;
	l->lab->name = pl_cfg_str(c, v, "name", false, "lab", "");
	if (!l->lab->name)
		l->lab->name = "";
	bp = pl_value_get(v, "boards_path");
	out = pl_cfg_dir_list(c, bp, "boards_path", &n);
	if (!out)
		return;
	l->lab_paths = out;
}

struct pl_lab *pl_lab_from_tree(struct pl_cfg *c, const struct pl_value *root)
{
	static const char *const keys[] = { "lab", "defaults", "boards", NULL };
	struct lab_load l = { .c = c };
	const struct pl_value *boards;
	struct pl_board_cfg *bv;
	const struct pl_board_type **types;
	size_t before = pl_cfg_errors(c);

	if (!root) {
		pl_cfg_err(c, &(struct pl_srcpos){ c->file, 1, 1 },
			   "empty lab file (expected boards: [...])");
		return NULL;
	}
	if (!pl_cfg_expect_map(c, root, "a lab file"))
		return NULL;
	l.lab = pl_arena_alloc(c->a, sizeof(*l.lab));
	if (!l.lab)
		return pl_cfg_oom(c);
	l.lab->file = c->file;
	pl_cfg_check_keys(c, root, keys, "lab file");
	load_lab_section(&l, root);
	load_defaults(&l, root);
	boards = pl_cfg_get(c, root, "boards", true, "lab file");
	if (!boards)
		return NULL;
	if (boards->kind != PL_VALUE_LIST) {
		pl_cfg_err(c, &boards->pos, "boards must be a list (- id: ...), got %s",
			   pl_value_kind_name(boards));
		return NULL;
	}
	bv = pl_arena_alloc(c->a, (boards->n + 1) * sizeof(*bv));
	l.types = pl_arena_alloc(c->a, (boards->n + 1) * sizeof(*l.types));
	if (!bv || !l.types)
		return pl_cfg_oom(c);
	l.lab->boards = bv;
	for (size_t i = 0; i < boards->n; i++) {
		if (!pl_cfg_expect_map(c, boards->items[i], "a board"))
			continue;
		load_board(&l, boards->items[i], &bv[i]);
		if (c->oom)
			return NULL;
	}
	check_shared(&l, boards);
	if (c->oom)
		return NULL;
	if (boards->n == 0)
		pl_cfg_err(c, &boards->pos, "the lab has no boards");
	l.lab->nboards = boards->n;
	types = pl_arena_alloc(c->a, (l.ntypes + 1) * sizeof(*types));
	if (!types)
		return pl_cfg_oom(c);
	for (size_t i = 0; i < l.ntypes; i++)
		if (l.types[i].t)
			types[l.lab->ntypes++] = l.types[i].t;
	l.lab->types = types;
	return pl_cfg_errors(c) == before ? l.lab : NULL;
}

/* --------------------------------------------------------------- public */

static void *build_lab(struct pl_cfg *c, const struct pl_value *root)
{
	return pl_lab_from_tree(c, root);
}

int pl_lab_load(struct pl_lab **out, const char *path,
		const struct pl_config_opts *opts, struct pl_diags *diags)
{
	struct pl_cfg_priv *priv = calloc(1, sizeof(*priv));
	void *lab;
	int rc;

	*out = NULL;
	if (!priv)
		return -ENOMEM;
	rc = pl_cfg_load_file(path, opts, diags, priv, build_lab, &lab);
	if (rc) {
		free(priv);
		return rc;
	}
	*out = lab;
	(*out)->priv = priv;
	return 0;
}

void pl_lab_free(struct pl_lab *lab)
{
	struct pl_cfg_priv *priv;

	if (!lab)
		return;
	/* The lab itself lives in its arena: take priv out first. */
	priv = lab->priv;
	pl_cfg_priv_release(priv);
	free(priv);
}

const struct pl_board_cfg *pl_lab_board(const struct pl_lab *lab,
					const char *id)
{
	for (size_t i = 0; lab && i < lab->nboards; i++)
		if (strcmp(lab->boards[i].id, id) == 0)
			return &lab->boards[i];
	return NULL;
}

const struct pl_board_type *pl_lab_board_type(const struct pl_lab *lab,
					      const char *name)
{
	for (size_t i = 0; lab && i < lab->ntypes; i++)
		if (strcmp(lab->types[i]->name, name) == 0)
			return lab->types[i];
	return NULL;
}

bool pl_board_has_tag(const struct pl_board_cfg *b, const char *tag)
{
	for (size_t i = 0; i < b->ntags; i++)
		if (strcmp(b->tags[i], tag) == 0)
			return true;
	return false;
}
