/* SPDX-License-Identifier: MIT */
/* The arena of a loaded configuration object and its regex list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

struct pl_arena_blk {
	struct pl_arena_blk *next;
	union {
		max_align_t align;
		unsigned char data[1];
	} u;
};

struct pl_regex_ref {
	struct pl_regex_ref *next;
	struct pl_pattern *pat;
};

void *pl_arena_alloc(struct pl_arena *a, size_t n)
{
	struct pl_arena_blk *b;

	if (n > SIZE_MAX - sizeof(*b))
		return NULL;
	b = calloc(1, sizeof(*b) + n);
	if (!b)
		return NULL;
	b->next = a->head;
	a->head = b;
	return b->u.data;
}

char *pl_arena_strndup(struct pl_arena *a, const char *s, size_t n)
{
	char *p = pl_arena_alloc(a, n + 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

char *pl_arena_strdup(struct pl_arena *a, const char *s)
{
	return pl_arena_strndup(a, s, strlen(s));
}

char *pl_arena_printf(struct pl_arena *a, const char *fmt, ...)
{
	va_list ap;
	char *tmp, *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = pl_arena_strndup(a, tmp, (size_t)n);
	free(tmp);
	return p;
}

void pl_arena_release(struct pl_arena *a)
{
	struct pl_arena_blk *b = a->head, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

int pl_cfg_priv_track(struct pl_cfg_priv *p, struct pl_pattern *pat)
{
	struct pl_regex_ref *r = pl_arena_alloc(&p->arena, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->pat = pat;
	r->next = p->regexes;
	p->regexes = r;
	return 0;
}

void pl_cfg_priv_release(struct pl_cfg_priv *p)
{
	if (!p)
		return;
	for (struct pl_regex_ref *r = p->regexes; r; r = r->next)
		regfree(&r->pat->re);
	p->regexes = NULL;
	pl_arena_release(&p->arena);
}
