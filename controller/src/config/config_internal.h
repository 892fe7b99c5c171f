/* SPDX-License-Identifier: MIT */
/*
 * Internals of the configuration loaders (controller/src/config/): the
 * arena every loaded object allocates from, the YAML-to-value-tree parser,
 * and the schema helpers that turn a value tree into checked C fields while
 * adding one diagnostic per mistake. Not installed; not for other areas.
 */
#ifndef PL_CONFIG_INTERNAL_H
#define PL_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patchlab/config.h"

/* ---------------------------------------------------------------- arena */

/*
 * Every allocation of one loaded object is a block on this list, released
 * all at once. One malloc per block (no bump pointer) so ASan still sees
 * every overflow. Start zeroed.
 */
struct pl_arena {
	struct pl_arena_blk *head;
};

/* Zeroed memory or NULL (out of memory). */
void *pl_arena_alloc(struct pl_arena *a, size_t n);
char *pl_arena_strndup(struct pl_arena *a, const char *s, size_t n);
char *pl_arena_strdup(struct pl_arena *a, const char *s);
char *pl_arena_printf(struct pl_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pl_arena_release(struct pl_arena *a);

/* What a loaded object keeps besides its arena: the regexes to regfree. */
struct pl_cfg_priv {
	struct pl_arena arena;
	struct pl_regex_ref *regexes;
};

/* Track a compiled pattern so pl_cfg_priv_release() frees it. */
int pl_cfg_priv_track(struct pl_cfg_priv *p, struct pl_pattern *pat);
void pl_cfg_priv_release(struct pl_cfg_priv *p);

/* ---------------------------------------------------------- diagnostics */

/* Every error ever added, kept or not (the list stops keeping at 500). */
size_t pl_diags_total(const struct pl_diags *d);

/* ----------------------------------------------------------------- YAML */

/* Files larger than this are refused rather than read. */
#define PL_CONFIG_MAX_FILE (16u << 20)
/* Deeper nesting is refused (the tree walkers recurse). */
#define PL_CONFIG_MAX_DEPTH 64

/*
 * Parse one YAML document into a value tree allocated from a. file is
 * stored as given (copy it into a first). Returns 0 with *root set (NULL
 * for an empty document), -PL_ECONFIG after adding the syntax error to d,
 * or -ENOMEM.
 */
int pl_yaml_parse(struct pl_arena *a, const char *file, const void *buf,
		  size_t len, struct pl_diags *d, const struct pl_value **root);

/* Read a whole file (at most PL_CONFIG_MAX_FILE bytes) into a malloc'ed
 * buffer. Adds "cannot read" to d and returns -PL_ECONFIG on failure. */
int pl_config_read_file(const char *path, struct pl_diags *d, char **buf,
			size_t *len);

/* ------------------------------------------------------ loading context */

struct pl_cfg {
	struct pl_diags *d;
	struct pl_cfg_priv *priv;
	struct pl_arena *a;          /* &priv->arena */
	const struct pl_config_opts *opts;
	const char *file;            /* in the arena */
	const char *dir;             /* directory of file, in the arena */
	size_t errors_at_start;
	bool oom;
	/* ${NAME} looks here first: the `vars:` of the lab being loaded */
	const struct pl_value *vars;
	/* Unknown keys reported with a suggestion: a missing required key that
	 * was suggested is not reported again (no cascade). */
	struct {
		const struct pl_value *map;
		const char *suggested;
	} typos[32];
	size_t ntypos;
};

/* Was `key` suggested for a misspelt key of map? */
bool pl_cfg_was_typo(const struct pl_cfg *c, const struct pl_value *map,
		     const char *key);

void pl_cfg_init(struct pl_cfg *c, struct pl_cfg_priv *priv,
		 const struct pl_config_opts *opts, struct pl_diags *d,
		 const char *file);
/* Errors added since pl_cfg_init (or since `mark`). */
size_t pl_cfg_errors(const struct pl_cfg *c);
/* 0, -ENOMEM or -PL_ECONFIG as the loading went. */
int pl_cfg_status(const struct pl_cfg *c);

/* Build the object a file describes from its parsed tree (lab, suite,
 * board type); NULL when it could not. */
typedef void *(*pl_cfg_build_fn)(struct pl_cfg *c, const struct pl_value *root);

/*
 * What every public loader does: read path, parse it into priv's arena and
 * build the object with build(). priv is the caller's, zeroed. Returns 0
 * with *obj set (it lives in priv's arena), or a negative code with
 * priv's contents released (priv itself stays the caller's to free).
 */
int pl_cfg_load_file(const char *path, const struct pl_config_opts *opts,
		     struct pl_diags *diags, struct pl_cfg_priv *priv,
		     pl_cfg_build_fn build, void **obj);

void pl_cfg_err(struct pl_cfg *c, const struct pl_srcpos *pos,
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Record that memory ran out; returns NULL for tail calls. */
void *pl_cfg_oom(struct pl_cfg *c);

/* "a mapping", "a list", "a string" */
const char *pl_value_kind_name(const struct pl_value *v);

/* Edit distance (bounded at 255), for "did you mean". */
unsigned pl_edit_distance(const char *a, const char *b);
/* The closest candidate within a small distance of s, or NULL. */
const char *pl_closest(const char *s, const char *const *cands, size_t n);

/*
 * Schema helpers. `what` names the enclosing thing in messages ("power",
 * "board 'vb0'", "suite"). Each adds its own diagnostic and returns
 * false/NULL on a mistake; required keys that are missing are reported at
 * the enclosing mapping's position.
 */
bool pl_cfg_expect_map(struct pl_cfg *c, const struct pl_value *v,
		       const char *what);
/* Unknown keys of map: "unknown key 'chanel' in power (did you mean
 * 'channel'?)", else "(expected one of: a, b)". allowed is NULL-terminated. */
void pl_cfg_check_keys(struct pl_cfg *c, const struct pl_value *map,
		       const char *const *allowed, const char *what);
const struct pl_value *pl_cfg_get(struct pl_cfg *c, const struct pl_value *map,
				  const char *key, bool required,
				  const char *what);
/* A scalar (not null) or NULL; dflt when absent and not required. */
const char *pl_cfg_str(struct pl_cfg *c, const struct pl_value *map,
		       const char *key, bool required, const char *what,
		       const char *dflt);
/* The same with ${VAR} expanded. */
const char *pl_cfg_str_expand(struct pl_cfg *c, const struct pl_value *map,
			      const char *key, bool required, const char *what);
/* A scalar's text with ${VAR} expanded, or NULL after an error. */
const char *pl_cfg_expand(struct pl_cfg *c, const struct pl_value *v);
/* Typed values; *out untouched when absent. Return false on an error. */
bool pl_cfg_uint(struct pl_cfg *c, const struct pl_value *map, const char *key,
		 bool required, const char *what, uint64_t min, uint64_t max,
		 uint64_t *out);
bool pl_cfg_duration(struct pl_cfg *c, const struct pl_value *map,
		     const char *key, bool required, const char *what,
		     uint64_t *out);
/* A duration that must be longer than 0 (a timeout: 0 would end every wait
 * at once, and the device would be blamed). */
bool pl_cfg_timeout(struct pl_cfg *c, const struct pl_value *map,
		    const char *key, bool required, const char *what,
		    uint64_t *out);
bool pl_cfg_size(struct pl_cfg *c, const struct pl_value *map, const char *key,
		 bool required, const char *what, uint64_t *out);
bool pl_cfg_double(struct pl_cfg *c, const struct pl_value *map,
		   const char *key, bool required, const char *what,
		   double min, double max, double *out);
bool pl_cfg_bool(struct pl_cfg *c, const struct pl_value *map, const char *key,
		 bool required, const char *what, bool *out);
/* One of a NULL-terminated list of words: its index into *out. */
bool pl_cfg_enum(struct pl_cfg *c, const struct pl_value *map, const char *key,
		 bool required, const char *what, const char *const *words,
		 int *out);
/* A list of directories (a lone scalar counts as a list of one), each
 * ${VAR}-expanded and resolved against the file's directory ("" for one
 * whose expansion failed, reported): NULL-terminated, in the arena, *n
 * entries. NULL (n 0) when absent, empty, or not a list (reported). */
const char **pl_cfg_dir_list(struct pl_cfg *c, const struct pl_value *v,
			     const char *what, size_t *n);
/* A list of scalars (a lone scalar counts as a list of one). */
bool pl_cfg_str_list(struct pl_cfg *c, const struct pl_value *v,
		     const char *what, const char *const **out, size_t *n);

/* An `images:` map (NAME: PATH or {path, version}): ${VAR} expanded,
 * relative to the file's directory, each a non-empty regular file; the
 * --image overrides apply when with_overrides (suite.c). */
void pl_cfg_images(struct pl_cfg *c, const struct pl_value *v,
		   bool with_overrides, const struct pl_image_cfg **out,
		   size_t *nout);

/* A path relative to dir (or absolute), in the arena. */
const char *pl_cfg_join(struct pl_cfg *c, const char *dir, const char *path);

/* --------------------------------------------------------------- loaders */

/* Board type from a parsed tree, allocated in c's arena and tracked by its
 * priv. Returns NULL after adding errors. */
struct pl_board_type *pl_board_type_from_tree(struct pl_cfg *c,
					      const struct pl_value *root);
struct pl_lab *pl_lab_from_tree(struct pl_cfg *c, const struct pl_value *root);
struct pl_suite *pl_suite_from_tree(struct pl_cfg *c,
				    const struct pl_value *root);

/* Lua syntax check: errors as FILE:LINE. */
int pl_lua_check(const char *name, const void *buf, size_t len,
		 struct pl_diags *d);

/* "0x..." (after an optional sign): a hex number in YAML 1.2 (value.c). */
bool pl_cfg_hex_prefix(const char *s);

#endif
