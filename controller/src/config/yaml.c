/* SPDX-License-Identifier: MIT */
/*
 * YAML text -> struct pl_value tree, with the position of every node and
 * key. libyaml's event parser drives an explicit stack (no recursion), so
 * any input -- truncated, binary, hostile -- ends in a tree or in one
 * syntax error at libyaml's position, never in a crash.
 *
 * Aliases are refused: they would turn the tree into a graph that every
 * consumer (the Lua host included) would have to handle, and nothing in our
 * files needs them. Duplicate keys are errors, as YAML 1.2 says.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "patchlab/error.h"
#include "config_internal.h"

/* A collection being built: its entries as a list until its END event. */
struct entry {
	struct entry *next;
	const char *key;
	struct pl_srcpos key_pos;
	struct pl_value *value;
};

struct frame {
	struct pl_value *node;
	struct entry *first, *last;
	size_t n;
	/* MAP: the key waiting for its value (NULL: next scalar is a key) */
	const char *key;
	struct pl_srcpos key_pos;
};

struct builder {
	struct pl_arena *a;
	struct pl_diags *d;
	const char *file;
	const unsigned char *buf;
	size_t len;
	struct frame stack[PL_CONFIG_MAX_DEPTH];
	int depth;
	const struct pl_value *root;
	bool oom;
};

static struct pl_srcpos mark_pos(const struct builder *b, yaml_mark_t m)
{
	return (struct pl_srcpos){ b->file, (unsigned)m.line + 1,
				   (unsigned)m.column + 1 };
}

static int add_entry(struct builder *b, struct frame *f, const char *key,
		     struct pl_srcpos key_pos, struct pl_value *v)
{
	struct entry *e = pl_arena_alloc(b->a, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->key = key;
	e->key_pos = key_pos;
	e->value = v;
	if (f->last)
		f->last->next = e;
	else
		f->first = e;
	f->last = e;
	f->n++;
	return 0;
}

/* Attach a finished (scalar) or started (collection) node to its parent. */
static int attach(struct builder *b, struct pl_value *v)
{
	struct frame *f;
	const char *key;

	if (b->depth == 0) {
		b->root = v;
		return 0;
	}
	f = &b->stack[b->depth - 1];
	if (f->node->kind == PL_VALUE_LIST)
		return add_entry(b, f, NULL, (struct pl_srcpos){ 0 }, v);
	if (!f->key) {
		if (v->kind != PL_VALUE_SCALAR) {
			pl_diags_add(b->d, &v->pos,
				     "a mapping key must be a scalar, got %s",
				     pl_value_kind_name(v));
			return -PL_ECONFIG;
		}
		f->key = v->str;
		f->key_pos = v->pos;
		return 0;
	}
	for (struct entry *e = f->first; e; e = e->next) {
		if (strcmp(e->key, f->key) == 0) {
			/* Report, keep the first, and go on parsing. */
			pl_diags_add(b->d, &f->key_pos,
				     "duplicate key '%s' (first given at %u:%u)",
				     f->key, e->key_pos.line, e->key_pos.col);
			f->key = NULL;
			return 0;
		}
	}
	key = f->key;
	f->key = NULL;
	return add_entry(b, f, key, f->key_pos, v);
}

static int finish_collection(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	struct pl_value *v = f->node;
	const struct pl_value **items;
	const char **keys = NULL;
	struct pl_srcpos *kpos = NULL;
	size_t i = 0;

	items = pl_arena_alloc(b->a, (f->n + 1) * sizeof(*items));
	if (!items)
		return -ENOMEM;
	if (v->kind == PL_VALUE_MAP) {
		keys = pl_arena_alloc(b->a, (f->n + 1) * sizeof(*keys));
		kpos = pl_arena_alloc(b->a, (f->n + 1) * sizeof(*kpos));
		if (!keys || !kpos)
			return -ENOMEM;
	}
	for (struct entry *e = f->first; e; e = e->next, i++) {
		items[i] = e->value;
		if (keys) {
			keys[i] = e->key;
			kpos[i] = e->key_pos;
		}
	}
	v->n = f->n;
	v->items = items;
	v->keys = keys;
	v->key_pos = kpos;
	return attach(b, v);
}

static struct pl_value *new_node(struct builder *b, enum pl_value_kind kind,
				 yaml_mark_t m)
{
	struct pl_value *v = pl_arena_alloc(b->a, sizeof(*v));

	if (!v)
		return NULL;
	v->kind = kind;
	v->pos = mark_pos(b, m);
	v->str = "";
	return v;
}

static int start_collection(struct builder *b, enum pl_value_kind kind,
			    yaml_mark_t m)
{
	struct pl_value *v;

	if (b->depth >= PL_CONFIG_MAX_DEPTH) {
		struct pl_srcpos pos = mark_pos(b, m);

		pl_diags_add(b->d, &pos, "nesting deeper than %d levels",
			     PL_CONFIG_MAX_DEPTH);
		return -PL_ECONFIG;
	}
	v = new_node(b, kind, m);
	if (!v)
		return -ENOMEM;
	b->stack[b->depth++] = (struct frame){ .node = v };
	return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	struct pl_value *v = new_node(b, PL_VALUE_SCALAR, ev->start_mark);
	const char *tag = (const char *)ev->data.scalar.tag;

	if (!v)
		return -ENOMEM;
	v->str = pl_arena_strndup(b->a, (const char *)ev->data.scalar.value,
				  ev->data.scalar.length);
	if (!v->str)
		return -ENOMEM;
	if (strlen(v->str) != ev->data.scalar.length) {
		pl_diags_add(b->d, &v->pos, "NUL character in a value");
		return -PL_ECONFIG;
	}
	/* A plain scalar may be read as a number or bool; "!!str 1" may not. */
	v->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		   (!tag || strcmp(tag, "!") != 0) &&
		   (!tag || strcmp(tag, YAML_STR_TAG) != 0);
	return attach(b, v);
}

static void syntax_error(struct builder *b, const yaml_parser_t *p)
{
	struct pl_srcpos pos = mark_pos(b, p->problem_mark);
	const char *problem = p->problem ? p->problem : "malformed YAML";

	if (p->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark: count lines. */
		struct pl_srcpos at = { b->file, 1, 1 };

		for (size_t i = 0; i < p->problem_offset && i < b->len; i++) {
			if (b->buf[i] == '\n') {
				at.line++;
				at.col = 1;
			} else if ((b->buf[i] & 0xc0) != 0x80) {
				at.col++;
			}
		}
		pl_diags_add(b->d, &at, "not valid YAML text: %s", problem);
		return;
	}
	if (p->context)
		pl_diags_add(b->d, &pos, "YAML syntax: %s (%s at %zu:%zu)",
			     problem, p->context, p->context_mark.line + 1,
			     p->context_mark.column + 1);
	else
		pl_diags_add(b->d, &pos, "YAML syntax: %s", problem);
}

static int on_event(struct builder *b, const yaml_event_t *ev, int *docs)
{
	struct pl_srcpos pos = mark_pos(b, ev->start_mark);

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1) {
			pl_diags_add(b->d, &pos,
				     "a second YAML document: one per file");
			return -PL_ECONFIG;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		pl_diags_add(b->d, &pos,
			     "YAML aliases (*%s) are not supported: repeat the value",
			     (const char *)ev->data.alias.anchor);
		return -PL_ECONFIG;
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return start_collection(b, PL_VALUE_LIST, ev->start_mark);
	case YAML_MAPPING_START_EVENT:
		return start_collection(b, PL_VALUE_MAP, ev->start_mark);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth == 0)
			return 0;
		return finish_collection(b);
	default:
		return 0;
	}
}

int pl_yaml_parse(struct pl_arena *a, const char *file, const void *buf,
		  size_t len, struct pl_diags *d, const struct pl_value **root)
{
	struct builder b = { .a = a, .d = d, .file = file, .buf = buf, .len = len };
	yaml_parser_t parser;
	yaml_event_t ev;
	int docs = 0, rc = 0;
	bool done = false;

	*root = NULL;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, buf, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				rc = -ENOMEM;
			} else {
				syntax_error(&b, &parser);
				rc = -PL_ECONFIG;
			}
			break;
		}
		rc = on_event(&b, &ev, &docs);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (rc)
			break;
	}
	yaml_parser_delete(&parser);
	if (rc == 0)
		*root = b.root;
	return rc;
}

int pl_config_read_file(const char *path, struct pl_diags *d, char **buf,
			size_t *len)
{
	struct pl_srcpos pos = { path, 0, 0 };
	struct stat st;
	size_t have = 0;
	char *p = NULL;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pl_diags_add(d, &pos, "cannot read: %s", strerror(errno));
		return -PL_ECONFIG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		pl_diags_add(d, &pos, "cannot read: not a regular file");
		rc = -PL_ECONFIG;
		goto out_close_fd;
	}
	if ((uintmax_t)st.st_size > PL_CONFIG_MAX_FILE) {
		pl_diags_add(d, &pos, "file too large (%jd bytes, at most %u)",
			     (intmax_t)st.st_size, PL_CONFIG_MAX_FILE);
		rc = -PL_ECONFIG;
		goto out_close_fd;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		rc = -ENOMEM;
		goto out_close_fd;
	}
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, p + have, (size_t)st.st_size - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pl_diags_add(d, &pos, "cannot read: %s", strerror(errno));
			rc = -PL_ECONFIG;
			goto out_free_buf;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	p[have] = '\0';
	*buf = p;
	*len = have;
	rc = 0;
	goto out_close_fd;

out_free_buf:
	free(p);
out_close_fd:
	close(fd);
	return rc;
}
