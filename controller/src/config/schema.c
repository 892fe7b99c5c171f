/* SPDX-License-Identifier: MIT */
/*
 * Schema helpers: read a value tree into typed C fields, adding one
 * diagnostic per mistake that says what was expected. Also the value-tree
 * accessors, the unit parsers (durations, sizes) and ${VAR} expansion.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "patchlab/error.h"
#include "patchlab/strbuf.h"
#include "config_internal.h"

/* ------------------------------------------------------------ the context */

void pl_cfg_init(struct pl_cfg *c, struct pl_cfg_priv *priv,
		 const struct pl_config_opts *opts, struct pl_diags *d,
		 const char *file)
{
	static const struct pl_config_opts no_opts;
	char *slash;

	memset(c, 0, sizeof(*c));
	c->d = d;
	c->priv = priv;
	c->a = &priv->arena;
	c->opts = opts ? opts : &no_opts;
	c->errors_at_start = pl_diags_total(d);
	c->file = pl_arena_strdup(c->a, file);
	c->dir = pl_arena_strdup(c->a, file);
	if (!c->file || !c->dir) {
		c->oom = true;
		c->file = file;
		c->dir = ".";
		return;
	}
	slash = strrchr(c->dir, '/');
	if (!slash)
		c->dir = ".";
	else if (slash == c->dir)
		c->dir = "/";
	else
		*slash = '\0';
}

size_t pl_cfg_errors(const struct pl_cfg *c)
{
	return pl_diags_total(c->d) - c->errors_at_start;
}

int pl_cfg_status(const struct pl_cfg *c)
{
	if (c->oom)
		return -ENOMEM;
	return pl_cfg_errors(c) ? -PL_ECONFIG : 0;
}

int pl_cfg_load_file(const char *path, const struct pl_config_opts *opts,
		     struct pl_diags *diags, struct pl_cfg_priv *priv,
		     pl_cfg_build_fn build, void **obj)
{
	const struct pl_value *root;
	struct pl_cfg c;
	char *buf;
	size_t len;
	void *o;
	int rc;

	*obj = NULL;
	rc = pl_config_read_file(path, diags, &buf, &len);
	if (rc)
		return rc;
	pl_cfg_init(&c, priv, opts, diags, path);
	/* without its directory every relative path would resolve against
	 * "." and be reported missing: stop at the real cause */
	rc = c.oom ? -ENOMEM
		   : pl_yaml_parse(c.a, c.file, buf, len, diags, &root);
	if (rc)
		goto err_release;
	o = build(&c, root);
	rc = pl_cfg_status(&c);
	if (rc || !o) {
		rc = rc ? rc : -PL_ECONFIG;
		goto err_release;
	}
	*obj = o;
	free(buf);
	return 0;

err_release:
	pl_cfg_priv_release(priv);
	free(buf);
	return rc;
}

void pl_cfg_err(struct pl_cfg *c, const struct pl_srcpos *pos,
		const char *fmt, ...)
{
	char *msg;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		c->oom = true;
		return;
	}
	pl_diags_add(c->d, pos, "%s", msg);
	free(msg);
}

void *pl_cfg_oom(struct pl_cfg *c)
{
	c->oom = true;
	return NULL;
}

/* ------------------------------------------------------------- did you mean */

unsigned pl_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[65];

	if (la > 64 || lb > 64)
		return 255;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (tolower((unsigned char)a[i - 1]) !=
						tolower((unsigned char)b[j - 1]));

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb] > 255 ? 255 : row[lb];
}

const char *pl_closest(const char *s, const char *const *cands, size_t n)
{
	const char *best = NULL;
	unsigned best_d = 255;
	size_t len = strlen(s);
	/* One edit per three characters, at least one, at most three: close
	 * enough to be a typo, far enough not to suggest nonsense. */
	unsigned limit = len < 3 ? 1 : len / 3 > 3 ? 3 : (unsigned)(len / 3);

	if (limit < 2 && len >= 4)
		limit = 2;
	for (size_t i = 0; i < n && cands[i]; i++) {
		unsigned d = pl_edit_distance(s, cands[i]);

		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

/* ------------------------------------------------------------- the schema */

bool pl_cfg_expect_map(struct pl_cfg *c, const struct pl_value *v,
		       const char *what)
{
	if (v && v->kind == PL_VALUE_MAP)
		return true;
	pl_cfg_err(c, v ? &v->pos : NULL, "%s must be a mapping (key: value), got %s",
		   what, pl_value_kind_name(v));
	return false;
}

void pl_cfg_check_keys(struct pl_cfg *c, const struct pl_value *map,
		       const char *const *allowed, const char *what)
{
	size_t nallowed = 0;

	if (!map || map->kind != PL_VALUE_MAP)
		return;
	while (allowed[nallowed])
		nallowed++;
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i];
		const char *near;
		char list[512];
		size_t used = 0;
		bool known = false;

		for (size_t j = 0; j < nallowed; j++)
			known |= strcmp(k, allowed[j]) == 0;
		if (known)
			continue;
		near = pl_closest(k, allowed, nallowed);
		if (near && c->ntypos < sizeof(c->typos) / sizeof(c->typos[0])) {
			c->typos[c->ntypos].map = map;
			c->typos[c->ntypos++].suggested = near;
		}
		if (near) {
			pl_cfg_err(c, &map->key_pos[i],
				   "unknown key '%s' in %s (did you mean '%s'?)",
				   k, what, near);
			continue;
		}
		list[0] = '\0';
		for (size_t j = 0; j < nallowed && used < sizeof(list); j++)
			used += (size_t)snprintf(list + used, sizeof(list) - used,
						 "%s%s", j ? ", " : "", allowed[j]);
		pl_cfg_err(c, &map->key_pos[i],
			   "unknown key '%s' in %s (expected one of: %s)", k,
			   what, list);
	}
}

bool pl_cfg_was_typo(const struct pl_cfg *c, const struct pl_value *map,
		     const char *key)
{
	for (size_t i = 0; i < c->ntypos; i++)
		if (c->typos[i].map == map && strcmp(c->typos[i].suggested, key) == 0)
			return true;
	return false;
}

const struct pl_value *pl_cfg_get(struct pl_cfg *c, const struct pl_value *map,
				  const char *key, bool required,
				  const char *what)
{
	const struct pl_value *v = pl_value_get(map, key);

	if (v && pl_value_is_null(v)) {
		if (required)
			pl_cfg_err(c, &v->pos, "'%s' in %s has no value", key, what);
		return NULL;
	}
	if (!v && required && map && map->kind == PL_VALUE_MAP &&
	    !pl_cfg_was_typo(c, map, key))
		pl_cfg_err(c, &map->pos, "missing required key '%s' in %s", key,
			   what);
	return v;
}

static const char *scalar(struct pl_cfg *c, const struct pl_value *v,
			  const char *key, const char *what,
			  const char *expected)
{
	if (v->kind == PL_VALUE_SCALAR)
		return v->str;
	pl_cfg_err(c, &v->pos, "'%s' in %s must be %s, got %s", key, what,
		   expected, pl_value_kind_name(v));
	return NULL;
}

const char *pl_cfg_str(struct pl_cfg *c, const struct pl_value *map,
		       const char *key, bool required, const char *what,
		       const char *dflt)
{
	const struct pl_value *v = pl_cfg_get(c, map, key, required, what);

	if (!v)
		return dflt;
	return scalar(c, v, key, what, "a string");
}

const char *pl_cfg_str_expand(struct pl_cfg *c, const struct pl_value *map,
			      const char *key, bool required, const char *what)
{
	const struct pl_value *v = pl_cfg_get(c, map, key, required, what);

	if (!v || !scalar(c, v, key, what, "a string"))
		return NULL;
	return pl_cfg_expand(c, v);
}

/* The scalar text of name in a vars map, or NULL. */
static const char *var_in(const struct pl_value *vars, const char *name)
{
	const struct pl_value *v = vars ? pl_value_get(vars, name) : NULL;

	return v && v->kind == PL_VALUE_SCALAR && !pl_value_is_null(v) ?
	       v->str : NULL;
}

const char *pl_board_cfg_var(const struct pl_board_cfg *b, const char *name)
{
	const char *v = var_in(b->vars, name);

	return v ? v : var_in(b->lab_vars, name);
}

char *pl_board_cfg_subst(const struct pl_board_cfg *b, const char *s,
			 char *err, size_t nerr)
{
	return pl_board_cfg_subst_image(b, s, false, NULL, err, nerr);
}

char *pl_board_cfg_subst_image(const struct pl_board_cfg *b, const char *s,
			       bool with_image, const char *image, char *err,
			       size_t nerr)
{
	struct pl_strbuf sb = { 0 };
	const char *p = s;

	while (*p) {
		const char *open = strstr(p, "%{"), *close, *val;
		char name[128];

		if (!open) {
			pl_strbuf_puts(&sb, p);
			break;
		}
		pl_strbuf_printf(&sb, "%.*s", (int)(open - p), p);
		close = strchr(open + 2, '}');
		if (!close || (size_t)(close - open - 2) >= sizeof(name)) {
			snprintf(err, nerr, "bad '%%{' in '%s'", s);
			goto err_free;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(close - open - 2),
			 open + 2);
		if (strcmp(name, "board") == 0)
			val = b->id;
		else if (strcmp(name, "type") == 0)
			val = b->type ? b->type->name : NULL;
		else if (with_image && strcmp(name, "image") == 0)
			val = image;
		else
			val = pl_board_cfg_var(b, name);
		if (!val) {
			snprintf(err, nerr, "%%{%s} is not known for board %s "
				 "(board, type, %sor a var of the board or the "
				 "lab)", name, b->id, with_image ? "image, " : "");
			goto err_free;
		}
		pl_strbuf_puts(&sb, val);
		p = close + 1;
	}
	if (sb.s)
		return sb.s;
	sb.s = strdup("");
	if (sb.s)
		return sb.s;
	snprintf(err, nerr, "out of memory");
err_free:
	pl_strbuf_free(&sb);
	return NULL;
}

/* ${NAME}: the lab's vars (the one being loaded, or opts->lab), then the
 * environment. */
static const char *lookup_env(struct pl_cfg *c, const char *name)
{
	const char *v = var_in(c->vars, name);

	if (!v && c->opts->lab)
		v = var_in(c->opts->lab->vars, name);
	if (v)
		return v;
	if (c->opts->getenv)
		return c->opts->getenv(c->opts->env_user_data, name);
	return getenv(name);
}

/* Column of byte `off` of a one-line scalar (quoted ones start 1 later). */
static struct pl_srcpos pos_in_scalar(const struct pl_value *v, size_t off)
{
	struct pl_srcpos pos = v->pos;

	if (!strchr(v->str, '\n'))
		pos.col += (unsigned)off + (v->plain ? 0 : 1);
	return pos;
}

const char *pl_cfg_expand(struct pl_cfg *c, const struct pl_value *v)
{
	const char *s = v->str, *p;
	const char *res = NULL;
	char *buf = NULL;
	size_t len = 0;
	bool bad = false;
	FILE *out;

	if (!strstr(s, "${"))
		return s;
	out = open_memstream(&buf, &len);
	if (!out) {
		c->oom = true;
		return NULL;
	}
	for (p = s; *p;) {
		const char *open = strstr(p, "${"), *close, *val;
		size_t chunk = open ? (size_t)(open - p) : strlen(p);
		char name[128];

		fwrite(p, 1, chunk, out);
		if (!open)
			break;
		close = strchr(open + 2, '}');
		if (!close) {
			struct pl_srcpos pos = pos_in_scalar(v, (size_t)(open - s));

			pl_cfg_err(c, &pos, "unterminated '${' (expected ${NAME})");
			goto out_free;
		}
		if (close == open + 2 || (size_t)(close - open - 2) >= sizeof(name)) {
			struct pl_srcpos pos = pos_in_scalar(v, (size_t)(open - s));

			pl_cfg_err(c, &pos, "bad variable reference '%.*s' (expected ${NAME})",
				   (int)(close - open + 1), open);
			goto out_free;
		}
		memcpy(name, open + 2, (size_t)(close - open - 2));
		name[close - open - 2] = '\0';
		val = lookup_env(c, name);
		if (!val) {
			struct pl_srcpos pos = pos_in_scalar(v, (size_t)(open - s));

			pl_cfg_err(c, &pos, "undefined environment variable '%s' in '%s'",
				   name, s);
			bad = true;
			val = "";
		}
		fputs(val, out);
		p = close + 1;
	}
	if (fclose(out) != 0) {
		out = NULL;
		c->oom = true;
		goto out_free;
	}
	out = NULL;
	if (!bad) {
		res = pl_arena_strdup(c->a, buf ? buf : "");
		if (!res)
			c->oom = true;
	}
out_free:
	if (out)
		fclose(out);
	free(buf);
	return res;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, pl_cfg_hex_prefix(s) ? 16 : 10);
	if (errno || *end || end == s)
		return false;
	*out = v;
	return true;
}

bool pl_cfg_uint(struct pl_cfg *c, const struct pl_value *map, const char *key,
		 bool required, const char *what, uint64_t min, uint64_t max,
		 uint64_t *out)
{
	const struct pl_value *v = pl_cfg_get(c, map, key, required, what);
	uint64_t u;

	if (!v)
		return !required;
	if (!scalar(c, v, key, what, "a whole number"))
		return false;
	if (!parse_u64(v->str, &u)) {
		pl_cfg_err(c, &v->pos, "'%s' in %s must be a whole number, got '%s'",
			   key, what, v->str);
		return false;
	}
	if (u < min || u > max) {
		pl_cfg_err(c, &v->pos, "'%s' in %s must be between %llu and %llu, got %s",
			   key, what, (unsigned long long)min,
			   (unsigned long long)max, v->str);
		return false;
	}
	*out = u;
	return true;
}

/* A scalar read by parse (0 or negative), or a message naming what was
 * expected: durations and sizes. kind is "a duration", "a size": the
 * message says "bad duration" with its article skipped. */
static bool parsed_u64(struct pl_cfg *c, const struct pl_value *map,
		       const char *key, bool required, const char *what,
		       const char *kind, int (*parse)(const char *, uint64_t *),
		       const char *expected, uint64_t *out)
{
	const struct pl_value *v = pl_cfg_get(c, map, key, required, what);

	if (!v)
		return !required;
	if (!scalar(c, v, key, what, kind))
		return false;
	if (parse(v->str, out) < 0) {
		pl_cfg_err(c, &v->pos, "bad %s '%s' for '%s' (expected %s)",
			   kind + 2, v->str, key, expected);
		return false;
	}
	return true;
}

bool pl_cfg_duration(struct pl_cfg *c, const struct pl_value *map,
		     const char *key, bool required, const char *what,
		     uint64_t *out)
{
	return parsed_u64(c, map, key, required, what, "a duration",
			  pl_parse_duration_ms,
			  "a number and a unit: ms, s, m or h, as in 500ms, 5s, 2m",
			  out);
}

bool pl_cfg_timeout(struct pl_cfg *c, const struct pl_value *map,
		    const char *key, bool required, const char *what,
		    uint64_t *out)
{
	const struct pl_value *v = pl_value_get(map, key);
	uint64_t ms = *out;

	if (!pl_cfg_duration(c, map, key, required, what, &ms))
		return false;
	if (v && ms == 0) {
		pl_cfg_err(c, &v->pos,
			   "'%s' must be longer than 0 (a timeout of 0 ends every wait at once)",
			   key);
		return false;
	}
	*out = ms;
	return true;
}

bool pl_cfg_size(struct pl_cfg *c, const struct pl_value *map, const char *key,
		 bool required, const char *what, uint64_t *out)
{
	return parsed_u64(c, map, key, required, what, "a size", pl_parse_size,
			  "bytes, 0x hex, or a number with KiB, MiB or GiB, as in 4KiB",
			  out);
}

bool pl_cfg_double(struct pl_cfg *c, const struct pl_value *map,
		   const char *key, bool required, const char *what,
		   double min, double max, double *out)
{
	const struct pl_value *v = pl_cfg_get(c, map, key, required, what);
	double d;

	if (!v)
		return !required;
	if (!scalar(c, v, key, what, "a number"))
		return false;
	if (pl_value_number(v, &d, NULL) < 0) {
		pl_cfg_err(c, &v->pos, "'%s' in %s must be a number, got '%s'", key,
			   what, v->str);
		return false;
	}
	if (d < min || d > max) {
		pl_cfg_err(c, &v->pos, "'%s' in %s must be between %g and %g, got %s",
			   key, what, min, max, v->str);
		return false;
	}
	*out = d;
	return true;
}

bool pl_cfg_bool(struct pl_cfg *c, const struct pl_value *map, const char *key,
		 bool required, const char *what, bool *out)
{
	const struct pl_value *v = pl_cfg_get(c, map, key, required, what);

	if (!v)
		return !required;
	if (!scalar(c, v, key, what, "true or false"))
		return false;
	if (pl_parse_bool(v->str, out) < 0) {
		pl_cfg_err(c, &v->pos, "'%s' in %s must be true or false, got '%s'",
			   key, what, v->str);
		return false;
	}
	return true;
}

bool pl_cfg_enum(struct pl_cfg *c, const struct pl_value *map, const char *key,
		 bool required, const char *what, const char *const *words,
		 int *out)
{
	const struct pl_value *v = pl_cfg_get(c, map, key, required, what);
	char list[256];
	size_t used = 0, n = 0;
	const char *near;

	if (!v)
		return !required;
	if (!scalar(c, v, key, what, "a word"))
		return false;
	for (; words[n]; n++) {
		if (strcmp(words[n], v->str) == 0) {
			*out = (int)n;
			return true;
		}
		used += (size_t)snprintf(list + used, used < sizeof(list) ? sizeof(list) - used : 0,
					 "%s%s", n ? ", " : "", words[n]);
		if (used >= sizeof(list))
			used = sizeof(list) - 1;
	}
	list[used] = '\0';
	near = pl_closest(v->str, words, n);
	if (near)
		pl_cfg_err(c, &v->pos, "unknown value '%s' for '%s' (did you mean '%s'?)",
			   v->str, key, near);
	else
		pl_cfg_err(c, &v->pos, "unknown value '%s' for '%s' (expected one of: %s)",
			   v->str, key, list);
	return false;
}

bool pl_cfg_str_list(struct pl_cfg *c, const struct pl_value *v,
		     const char *what, const char *const **out, size_t *n)
{
	const char **items;
	bool ok = true;

	*out = NULL;
	*n = 0;
	if (!v || pl_value_is_null(v))
		return true;
	if (v->kind == PL_VALUE_MAP) {
		pl_cfg_err(c, &v->pos, "%s must be a list, got a mapping", what);
		return false;
	}
	if (v->kind == PL_VALUE_SCALAR) {
		items = pl_arena_alloc(c->a, 2 * sizeof(*items));
		if (!items)
			return pl_cfg_oom(c);
		items[0] = v->str;
		*out = items;
		*n = 1;
		return true;
	}
	items = pl_arena_alloc(c->a, (v->n + 1) * sizeof(*items));
	if (!items)
		return pl_cfg_oom(c);
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i]->kind != PL_VALUE_SCALAR) {
			pl_cfg_err(c, &v->items[i]->pos,
				   "items of %s must be scalars, got %s", what,
				   pl_value_kind_name(v->items[i]));
			ok = false;
			continue;
		}
		items[i] = v->items[i]->str;
	}
	if (!ok)
		return false;
	*out = items;
	*n = v->n;
	return true;
}

const char **pl_cfg_dir_list(struct pl_cfg *c, const struct pl_value *v,
			     const char *what, size_t *n)
{
	const char *const *items;
	const char **out;

	*n = 0;
	if (!pl_cfg_str_list(c, v, what, &items, n) || !*n)
		return NULL;
	out = pl_arena_alloc(c->a, (*n + 1) * sizeof(*out));
	if (!out) {
		pl_cfg_oom(c);
		return NULL;
	}
	for (size_t i = 0; i < *n; i++) {
		const struct pl_value *item = v->kind == PL_VALUE_LIST ?
						      v->items[i] : v;
		const char *e = pl_cfg_expand(c, item);

		out[i] = e ? pl_cfg_join(c, c->dir, e) : "";
		if (!out[i])
			return NULL;
	}
	out[*n] = NULL;
	return out;
}

const char *pl_cfg_join(struct pl_cfg *c, const char *dir, const char *path)
{
	char *p;

	if (path[0] == '/' || !dir || !*dir)
		return path;
	p = pl_arena_printf(c->a, "%s/%s", dir, path);
	if (!p)
		return pl_cfg_oom(c);
	return p;
}

/* ----------------------------------------------------------------- units */

int pl_parse_duration_ms(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	char *end;
	double v;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double ms = v * units[i].ms;

			if (ms > 1e15)
				return -EINVAL;
			*out = (uint64_t)(ms + 0.5);
			return 0;
		}
	}
	return -EINVAL;
}

int pl_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		unsigned shift;
	} units[] = {
		{ "", 0 }, { "B", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 },
	};
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, pl_cfg_hex_prefix(s) ? 16 : 10);
	if (errno || end == s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > (UINT64_MAX >> units[i].shift))
				return -EINVAL;
			*out = (uint64_t)v << units[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}
